//! Customer lifetime value through the UDAFs and the driver's fit: the summary SQL on
//! hand-made purchases, and the recovery of known BG/NBD and Gamma-Gamma parameters from
//! customers simulated in plain Rust (seeded), bit-identical for any partitioning.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::Float64Type;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rfmseg::config::Config;
use rfmseg::exec::local_context;
use rfmseg::stages::clv::{ClvModel, ClvParams, clv_summary, fit_clv, predict_customers};

/// Standard normal (Box-Muller).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(1e-300);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// Gamma(shape, scale 1) by Marsaglia & Tsang (2000), with the boost U^(1/k) below 1.
fn gamma(rng: &mut ChaCha8Rng, shape: f64) -> f64 {
    if shape < 1.0 {
        let u: f64 = rng.random::<f64>().max(1e-300);
        return gamma(rng, shape + 1.0) * u.powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let z = normal(rng);
        let v = (1.0 + c * z).powi(3);
        if v <= 0.0 {
            continue;
        }
        let u: f64 = rng.random::<f64>().max(1e-300);
        if u.ln() < 0.5 * z * z + d - d * v + d * v.ln() {
            return d * v;
        }
    }
}

fn exponential(rng: &mut ChaCha8Rng, rate: f64) -> f64 {
    let u: f64 = rng.random::<f64>().max(1e-300);
    -u.ln() / rate
}

/// One simulated customer: x, t_x, T (weeks), m (mean repeat amount, 0 when x = 0).
struct Summary {
    x: f64,
    t_x: f64,
    big_t: f64,
    m: f64,
}

/// Customers from BG/NBD (λ ~ Gamma(r, rate α), p ~ Beta(a, b); after each repeat
/// purchase the customer drops out with probability p) with T an integer number of weeks
/// in 30..=60, and amounts from Gamma-Gamma (ν ~ Gamma(q, rate γ), each amount ~
/// Gamma(p, rate ν)).
fn simulate(n: usize, bg: [f64; 4], gg: [f64; 3], seed: u64) -> Vec<Summary> {
    let [r, alpha, a, b] = bg;
    let [p, q, g] = gg;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let big_t = f64::from(rng.random_range(30u32..=60));
            let lambda = gamma(&mut rng, r) / alpha;
            let ga = gamma(&mut rng, a);
            let drop = ga / (ga + gamma(&mut rng, b));
            let nu = gamma(&mut rng, q) / g;
            let (mut x, mut t_x, mut now, mut spent) = (0.0, 0.0, 0.0, 0.0);
            loop {
                now += exponential(&mut rng, lambda);
                if now >= big_t {
                    break;
                }
                x += 1.0;
                t_x = now;
                spent += gamma(&mut rng, p) / nu;
                if rng.random::<f64>() < drop {
                    break;
                }
            }
            Summary {
                x,
                t_x,
                big_t,
                m: if x > 0.0 { spent / x } else { 0.0 },
            }
        })
        .collect()
}

/// A session whose `clv_summary` holds the customers in `partitions` partitions.
fn session(customers: &[Summary], partitions: usize) -> SessionContext {
    let ctx = local_context(&Config::default());
    let n = customers.len();
    let per = n.div_ceil(partitions);
    let parts: Vec<Vec<RecordBatch>> = customers
        .chunks(per)
        .enumerate()
        .map(|(k, chunk)| {
            let col = |f: fn(&Summary) -> f64| -> ArrayRef {
                Arc::new(Float64Array::from(chunk.iter().map(f).collect::<Vec<_>>()))
            };
            let m: Float64Array = chunk.iter().map(|c| (c.x > 0.0).then_some(c.m)).collect();
            let ids: StringArray = (0..chunk.len())
                .map(|i| Some(format!("C{:06}", k * per + i)))
                .collect();
            vec![
                RecordBatch::try_from_iter(vec![
                    ("customer_id", Arc::new(ids) as ArrayRef),
                    ("x", col(|c| c.x)),
                    ("t_x", col(|c| c.t_x)),
                    ("t_cal", col(|c| c.big_t)),
                    ("m", Arc::new(m) as ArrayRef),
                ])
                .expect("batch"),
            ]
        })
        .collect();
    let schema = parts[0][0].schema();
    ctx.register_table(
        "clv_summary",
        Arc::new(MemTable::try_new(schema, parts).expect("table")),
    )
    .expect("register");
    ctx
}

const BG: [f64; 4] = [0.25, 4.0, 0.8, 2.5];
const GG: [f64; 3] = [6.0, 4.0, 15.0];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_parameters_are_recovered_within_three_standard_errors() {
    let customers = simulate(20_000, BG, GG, 2026);
    let repeat = customers.iter().filter(|c| c.x > 0.0).count();
    let fit = fit_clv(&session(&customers, 4), 7.0).await.expect("fit");
    eprintln!("{fit:#?}");
    assert!(fit.converged, "{fit:?}");
    assert_eq!(fit.customers, 20_000);
    assert_eq!(fit.repeat_customers, repeat as u64);
    let bg_se = fit.bgnbd_std_errors.expect("BG/NBD standard errors");
    let gg_se = fit
        .gamma_gamma_std_errors
        .expect("Gamma-Gamma standard errors");
    let estimates = fit.bgnbd.iter().chain(&fit.gamma_gamma);
    let truth = BG.iter().chain(&GG);
    let errors = bg_se.iter().chain(&gg_se);
    for (name, ((est, truth), se)) in ["r", "alpha", "a", "b", "p", "q", "gamma"]
        .iter()
        .zip(estimates.zip(truth).zip(errors))
    {
        eprintln!("{name}: {est:.4} ± {se:.4} (true {truth})");
        assert!(
            (est - truth).abs() <= 3.0 * se,
            "{name}: {est} is more than 3 standard errors ({se}) from {truth}"
        );
        assert!(*se < 0.35 * truth, "{name}: standard error {se} too large");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fit_is_bit_identical_for_one_and_four_partitions() {
    let customers = simulate(3_000, BG, GG, 7);
    let one: ClvParams = fit_clv(&session(&customers, 1), 7.0).await.expect("fit");
    let four = fit_clv(&session(&customers, 4), 7.0).await.expect("fit");
    let bits = |p: &ClvParams| {
        let se = |v: Option<Vec<f64>>| v.unwrap_or_default();
        let mut all: Vec<f64> = p.bgnbd.iter().chain(&p.gamma_gamma).copied().collect();
        all.extend([p.bgnbd_loglik, p.gamma_gamma_loglik]);
        all.extend(se(p.bgnbd_std_errors.map(|a| a.to_vec())));
        all.extend(se(p.gamma_gamma_std_errors.map(|a| a.to_vec())));
        all.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    };
    assert_eq!(bits(&one), bits(&four));
    assert_eq!(one, four);
    // And ClvParams round-trips through JSON, as model.json will hold it.
    // (serde_json's default float parser may be 1 ulp off, hence the tolerance.)
    let back: ClvParams =
        serde_json::from_str(&serde_json::to_string(&one).expect("json")).expect("parse");
    for (b, o) in back.bgnbd.iter().zip(&one.bgnbd) {
        assert!((b - o).abs() <= 1e-15 * o.abs());
    }
    assert_eq!(
        back.bgnbd_std_errors.is_some(),
        one.bgnbd_std_errors.is_some()
    );
    assert_eq!(
        (back.customers, back.converged),
        (one.customers, one.converged)
    );
}

/// Purchases grouped by day, the window and min_amount of RFM, weeks or days, and the mean
/// amount of the repeat days, on a handful of purchases worked out by hand.
#[tokio::test]
async fn the_summary_groups_purchases_by_day_within_the_rfm_window() {
    let ctx = local_context(&Config::default());
    // (customer, day, amount); as-of day 1000, window 365 days: days 636..=1000.
    let rows: [(&str, i64, Option<f64>); 11] = [
        ("a", 900, Some(10.0)),
        ("a", 900, Some(5.0)), // same day: one purchase day of 15
        ("a", 914, Some(30.0)),
        ("a", 942, Some(20.0)),
        ("a", 1001, Some(99.0)), // after the as-of day
        ("b", 990, Some(12.0)),
        ("b", 500, Some(50.0)), // before the window
        ("c", 700, Some(0.10)), // not above min_amount (0.25)
        ("c", 735, Some(8.0)),
        ("c", 1000, None), // no price
        ("d", 600, Some(3.0)),
    ];
    let batch = RecordBatch::try_from_iter(vec![
        (
            "customer_id",
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))) as ArrayRef,
        ),
        (
            "day",
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
        ),
        (
            "amount",
            Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.2))),
        ),
    ])
    .expect("batch");
    let table = MemTable::try_new(batch.schema(), vec![vec![batch]]).expect("table");
    ctx.register_table("purchases", Arc::new(table))
        .expect("register");
    let customers = clv_summary(&ctx, &Config::default(), 1000, 7.0)
        .await
        .expect("summary");
    assert_eq!(customers, 3, "d has no purchase in the window");
    let batches = ctx
        .sql("SELECT customer_id, x, t_x, t_cal, m FROM clv_summary ORDER BY customer_id")
        .await
        .expect("sql")
        .collect()
        .await
        .expect("collect");
    let batch = arrow::compute::concat_batches(&batches[0].schema(), &batches).expect("concat");
    let f = |i: usize| batch.column(i).as_primitive::<Float64Type>().clone();
    let (x, t_x, t_cal, m) = (f(1), f(2), f(3), f(4));
    // a: days 900 (15), 914 (30), 942 (20): x = 2, t_x = 42/7, T = 100/7, m = 25.
    assert_eq!(
        (x.value(0), t_x.value(0), t_cal.value(0)),
        (2.0, 6.0, 100.0 / 7.0)
    );
    assert_eq!(m.value(0), 25.0);
    // b: one day in the window.
    assert_eq!(
        (x.value(1), t_x.value(1), t_cal.value(1)),
        (0.0, 0.0, 10.0 / 7.0)
    );
    assert!(m.is_null(1));
    // c: day 735 only (700 is too cheap, 1000 has no price).
    assert_eq!(
        (x.value(2), t_x.value(2), t_cal.value(2)),
        (0.0, 0.0, 265.0 / 7.0)
    );

    // In days.
    clv_summary(&ctx, &Config::default(), 1000, 1.0)
        .await
        .expect("summary");
    let batches = ctx
        .sql("SELECT t_x, t_cal FROM clv_summary WHERE customer_id = 'a'")
        .await
        .expect("sql")
        .collect()
        .await
        .expect("collect");
    let t = batches[0].column(1).as_primitive::<Float64Type>().value(0);
    assert_eq!(t, 100.0);
}

/// The time unit only rescales alpha (a rate parameter) and the Gamma-Gamma fit not at
/// all: the same customers in days fit r, a, b as in weeks and alpha times 7.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn days_instead_of_weeks_rescale_alpha_only() {
    let weeks = simulate(3_000, BG, GG, 11);
    let days: Vec<Summary> = weeks
        .iter()
        .map(|c| Summary {
            x: c.x,
            t_x: 7.0 * c.t_x,
            big_t: 7.0 * c.big_t,
            m: c.m,
        })
        .collect();
    let w = fit_clv(&session(&weeks, 2), 7.0).await.expect("fit");
    let d = fit_clv(&session(&days, 2), 1.0).await.expect("fit");
    assert!(w.converged && d.converged, "{w:?} {d:?}");
    let scaled = [d.bgnbd[0], d.bgnbd[1] / 7.0, d.bgnbd[2], d.bgnbd[3]];
    for (s, w) in scaled.iter().zip(&w.bgnbd) {
        assert!((s / w - 1.0).abs() < 1e-4, "{:?} vs {:?}", d.bgnbd, w);
    }
    // LL in days = LL in weeks - (Σ x) ln 7: the density of each repeat time shrinks by 7.
    let repeats: f64 = weeks.iter().map(|c| c.x).sum();
    assert!(
        (d.bgnbd_loglik - (w.bgnbd_loglik - repeats * 7f64.ln())).abs()
            < 1e-6 * w.bgnbd_loglik.abs(),
        "{} vs {}",
        d.bgnbd_loglik,
        w.bgnbd_loglik
    );
    assert_eq!(d.gamma_gamma, w.gamma_gamma);
}

/// Without a repeat purchase there is no proper maximum (the rates run to 0): the BG/NBD
/// fit still ends cleanly inside the parameter bounds, not converged, and the Gamma-Gamma fit, with no
/// customer to fit, is an error saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_repeat_purchases_the_fit_ends_cleanly_or_says_why() {
    let customers: Vec<Summary> = (0..500)
        .map(|i| Summary {
            x: 0.0,
            t_x: 0.0,
            big_t: f64::from(30 + i % 31),
            m: 0.0,
        })
        .collect();
    let ctx = session(&customers, 2);
    let err = fit_clv(&ctx, 7.0).await.unwrap_err().to_string();
    assert!(
        err.contains("no customers to fit the Gamma-Gamma model on"),
        "{err}"
    );
    // Each evaluation must sum every customer: a partial result is an error, not a fit.
    let err = rfmseg::stages::clv::fit_bgnbd(&ctx, "clv_triples", Some(499))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("the likelihood summed 500 customers of 499"),
        "{err}"
    );
    let bg = rfmseg::stages::clv::fit_bgnbd(&ctx, "clv_triples", Some(500))
        .await
        .expect("BG/NBD ends");
    eprintln!("{bg:?}");
    assert!(
        bg.params.iter().all(|p| p.is_finite() && *p > 0.0),
        "{bg:?}"
    );
    assert!(bg.loglik.is_finite() && bg.loglik <= 0.0, "{bg:?}");
}

/// The as-of day of the purchase tests (2023-09-13).
const AS_OF: i64 = 19_613;

/// (customer, day, amount) for `n` customers: a first purchase day in the year before
/// AS_OF (or before it), then a random number of further purchases a few days to weeks
/// apart, some on the same day, some cheaper than rfm.min_amount.
fn purchases(n: usize, seed: u64) -> Vec<(String, i64, f64)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut rows = Vec::new();
    for c in 0..n {
        let id = format!("U{c:05}");
        let mut day = AS_OF - rng.random_range(0..420);
        let gap = rng.random_range(3..60);
        let stop = rng.random_range(0.05..0.6);
        loop {
            let cents: u32 = rng.random_range(10..40_000);
            rows.push((id.clone(), day, f64::from(cents) / 100.0));
            if rng.random::<f64>() < 0.1 {
                rows.push((id.clone(), day, 7.5)); // the same day again
            }
            day += rng.random_range(1..=gap);
            if day > AS_OF || rng.random::<f64>() < stop {
                break;
            }
        }
    }
    rows
}

/// A session with `purchases` (customer_id, day, amount) in 3 partitions.
fn purchase_session(rows: &[(String, i64, f64)]) -> SessionContext {
    let ctx = local_context(&Config::default());
    let per = rows.len().div_ceil(3);
    let parts: Vec<Vec<RecordBatch>> = rows
        .chunks(per)
        .map(|chunk| {
            vec![
                RecordBatch::try_from_iter(vec![
                    (
                        "customer_id",
                        Arc::new(StringArray::from_iter_values(chunk.iter().map(|r| &r.0)))
                            as ArrayRef,
                    ),
                    (
                        "day",
                        Arc::new(Int64Array::from_iter_values(chunk.iter().map(|r| r.1))),
                    ),
                    (
                        "amount",
                        Arc::new(Float64Array::from_iter_values(chunk.iter().map(|r| r.2))),
                    ),
                ])
                .expect("batch"),
            ]
        })
        .collect();
    let table = MemTable::try_new(parts[0][0].schema(), parts).expect("table");
    ctx.register_table("purchases", Arc::new(table))
        .expect("register");
    ctx
}

/// Per customer with a counted purchase in [last - days + 1, last]: purchase day -> amount.
fn days_by_customer(
    rows: &[(String, i64, f64)],
    last: i64,
    days: i64,
) -> BTreeMap<String, BTreeMap<i64, f64>> {
    let mut out: BTreeMap<String, BTreeMap<i64, f64>> = BTreeMap::new();
    for (id, day, amount) in rows {
        if *day > last - days && *day <= last && *amount > 0.25 {
            *out.entry(id.clone()).or_default().entry(*day).or_default() += amount;
        }
    }
    out
}

/// (x, t_x, T, m) in weeks of one customer's purchase days, as DESIGN §8 defines them.
fn plain_summary(days: &BTreeMap<i64, f64>, last: i64) -> (f64, f64, f64, f64) {
    let first = *days.keys().next().unwrap();
    let newest = *days.keys().last().unwrap();
    let x = (days.len() - 1) as f64;
    let repeat: f64 = days.values().sum::<f64>() - days[&first];
    let m = if x > 0.0 { repeat / x } else { 0.0 };
    (
        x,
        (newest - first) as f64 / 7.0,
        (last - first) as f64 / 7.0,
        m,
    )
}

/// P(alive) by FHL (2005) eq. 13 as printed.
fn plain_p_alive(p: &[f64; 4], x: f64, t_x: f64, big_t: f64) -> f64 {
    let [r, alpha, a, b] = *p;
    if x == 0.0 {
        return 1.0;
    }
    1.0 / (1.0 + a / (b + x - 1.0) * ((alpha + big_t) / (alpha + t_x)).powf(r + x))
}

/// 2F1(a, b; c; z) by its Gauss series, term by term (all terms positive here).
fn plain_hyp2f1(a: f64, b: f64, c: f64, z: f64) -> f64 {
    let (mut term, mut sum) = (1.0, 1.0);
    for n in 0..200_000 {
        let n = f64::from(n);
        term *= (a + n) * (b + n) / ((c + n) * (n + 1.0)) * z;
        sum += term;
        if term < 1e-17 * sum {
            break;
        }
    }
    sum
}

/// E[purchases in (T, T + t]] by FHL (2005) eq. 10 as printed.
fn plain_expected(p: &[f64; 4], x: f64, t_x: f64, big_t: f64, t: f64) -> f64 {
    let [r, alpha, a, b] = *p;
    let z = t / (alpha + big_t + t);
    let bracket = 1.0
        - ((alpha + big_t) / (alpha + big_t + t)).powf(r + x)
            * plain_hyp2f1(r + x, b + x, a + b + x - 1.0, z);
    let d = if x > 0.0 {
        a / (b + x - 1.0) * ((alpha + big_t) / (alpha + t_x)).powf(r + x)
    } else {
        0.0
    };
    (a + b + x - 1.0) / (a - 1.0) * bracket / (1.0 + d)
}

fn close(got: f64, want: f64, rel: f64) -> bool {
    (got - want).abs() <= rel * want.abs().max(1e-3)
}

/// Every customer's predictions in `customers` (summary SQL, the fitted parameters, the
/// UDF and the join) equal the textbook formulas over a plain Rust summary of the same
/// purchases.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predictions_equal_the_formulas_over_a_plain_summary() {
    let rows = purchases(1_500, 5);
    let ctx = purchase_session(&rows);
    let config = Config::default();
    clv_summary(&ctx, &config, AS_OF, 7.0)
        .await
        .expect("summary");
    // Uniform amounts are no Gamma-Gamma data (q and gamma run off together), so the
    // fit need not converge: the predictions must still be the formulas at its parameters.
    let fit = fit_clv(&ctx, 7.0).await.expect("fit");
    let customers = ctx
        .sql("SELECT customer_id, 1 AS other FROM clv_summary")
        .await
        .expect("sql");
    ctx.register_table("customers", customers.into_view())
        .expect("register");
    let model = ClvModel::new(fit.clone(), &config.clv);
    predict_customers(&ctx, &model).await.expect("predict");
    let batches = ctx
        .sql("SELECT customer_id, other, p_alive, expected_purchases, expected_value, clv, revenue_at_risk FROM customers")
        .await
        .expect("sql")
        .collect()
        .await
        .expect("collect");
    let plain = days_by_customer(&rows, AS_OF, 365);
    let (bg, [p, q, gamma]) = (fit.bgnbd, fit.gamma_gamma);
    let per_period = 52.0 / 12.0;
    let discount = 1.1f64.powf(52.0 * 7.0 / 365.25 / 12.0) - 1.0;
    let mut at_risk = 0u64;
    let mut seen = 0;
    for b in &batches {
        let ids = b.column(0).as_string_view_opt().map_or_else(
            || {
                b.column(0)
                    .as_string::<i32>()
                    .iter()
                    .map(|v| v.unwrap().to_string())
                    .collect::<Vec<_>>()
            },
            |v| v.iter().map(|v| v.unwrap().to_string()).collect(),
        );
        let col = |i: usize| b.column(i).as_primitive::<Float64Type>().clone();
        let (alive, purchases, value, clv, risk) = (col(2), col(3), col(4), col(5), col(6));
        for (i, id) in ids.iter().enumerate() {
            seen += 1;
            let (x, t_x, big_t, m) = plain_summary(&plain[id], AS_OF);
            let want_alive = plain_p_alive(&bg, x, t_x, big_t);
            assert!(close(alive.value(i), want_alive, 1e-12), "{id} P(alive)");
            let e = |t: f64| plain_expected(&bg, x, t_x, big_t, t);
            assert!(
                close(purchases.value(i), e(52.0), 1e-8),
                "{id}: {} vs {}",
                purchases.value(i),
                e(52.0)
            );
            let want_value = p * (gamma + m * x) / (p * x + q - 1.0);
            assert!(close(value.value(i), want_value, 1e-12), "{id} value");
            let want_clv: f64 = (1..=12)
                .map(|k| {
                    let k = f64::from(k);
                    want_value * (e(k * per_period) - e((k - 1.0) * per_period))
                        / (1.0 + discount).powf(k)
                })
                .sum();
            assert!(
                close(clv.value(i), want_clv, 1e-7),
                "{id}: {} vs {want_clv}",
                clv.value(i)
            );
            // Revenue at risk: (1 - P(alive)) x the CLV if alive; none for x = 0.
            let want_risk = (1.0 - want_alive) * want_clv / want_alive;
            assert!(
                close(risk.value(i), want_risk, 1e-7) || (x == 0.0 && risk.value(i) == 0.0),
                "{id}: risk {} vs {want_risk}",
                risk.value(i)
            );
            at_risk += u64::from(risk.value(i) > 0.0);
        }
    }
    assert!(at_risk > 100, "{at_risk} customers with revenue at risk");
    assert_eq!(seen, plain.len());
    assert_eq!(fit.customers as usize, plain.len());
}

/// The holdout check: customers by calibration repeat purchases, their actual purchase
/// days after the calibration end counted in plain Rust, and the expected ones from the
/// calibration fit by the textbook formula.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_holdout_check_counts_what_happened_after_calibration() {
    let rows = purchases(1_500, 9);
    let ctx = purchase_session(&rows);
    let mut config = Config::default();
    config.clv.holdout_days = 56;
    let window = rfmseg::stages::rfm::RfmWindow {
        newest_day: String::new(),
        as_of: String::new(),
        first_day: String::new(),
        as_of_day: AS_OF,
        window_days: 365,
        purchases: 0,
        in_window: 0,
        priced_in_window: 0,
        counted: 0,
    };
    let h = rfmseg::stages::clv::holdout::holdout(&ctx, &config, &window)
        .await
        .expect("holdout");
    assert_eq!(h.calibration_end, "2023-07-19");
    let end = AS_OF - 56;
    let calibration = days_by_customer(&rows, end, 365 - 56);
    let after = days_by_customer(&rows, AS_OF, 56);
    let mut want: BTreeMap<i64, (u64, u64, f64)> = BTreeMap::new();
    for (id, days) in &calibration {
        let (x, t_x, big_t, _) = plain_summary(days, end);
        let row = want.entry((x as i64).min(7)).or_default();
        row.0 += 1;
        row.1 += after.get(id).map_or(0, |d| d.len() as u64);
        row.2 += plain_expected(&h.fit.bgnbd, x, t_x, big_t, 8.0);
    }
    let got: BTreeMap<i64, (u64, u64, f64)> = h
        .rows
        .iter()
        .map(|r| {
            assert_eq!(r.predicted, r.customers);
            let n = r.customers as f64;
            (
                r.repeat_purchases,
                (
                    r.customers,
                    (r.mean_actual * n).round() as u64,
                    r.mean_expected * n,
                ),
            )
        })
        .collect();
    assert_eq!(
        got.iter().map(|(k, v)| (*k, v.0, v.1)).collect::<Vec<_>>(),
        want.iter().map(|(k, v)| (*k, v.0, v.1)).collect::<Vec<_>>()
    );
    for (k, (_, _, e)) in &want {
        assert!(close(got[k].2, *e, 1e-8), "x = {k}: {} vs {e}", got[k].2);
    }
    assert_eq!(h.actual, want.values().map(|v| v.1).sum::<u64>());
    assert!(h.actual > 100, "{h:?}");
}

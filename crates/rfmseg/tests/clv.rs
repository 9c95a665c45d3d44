//! Customer lifetime value through the UDAFs and the driver's fit: the summary SQL on
//! hand-made purchases, and the recovery of known BG/NBD and Gamma-Gamma parameters from
//! customers simulated in plain Rust (seeded), bit-identical for any partitioning.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::Float64Type;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rfmseg::config::Config;
use rfmseg::exec::local_context;
use rfmseg::stages::clv::{ClvParams, clv_summary, fit_clv};

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
    let bg = rfmseg::stages::clv::fit_bgnbd(&ctx, "clv_triples")
        .await
        .expect("BG/NBD ends");
    eprintln!("{bg:?}");
    assert!(
        bg.params.iter().all(|p| p.is_finite() && *p > 0.0),
        "{bg:?}"
    );
    assert!(bg.loglik.is_finite() && bg.loglik <= 0.0, "{bg:?}");
}

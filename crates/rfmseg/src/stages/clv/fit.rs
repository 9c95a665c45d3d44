//! The per-customer summary at the calibration end (sql/clv_summary.sql) and the
//! maximum-likelihood fit of the BG/NBD and Gamma-Gamma models in the driver. Each function-and-gradient evaluation is one aggregate query
//! (sql/clv_loglik.sql, the UDAFs `bgnbd_ll` and `gamma_gamma_ll`) returning a handful of
//! numbers; the sums are exact, so the fit is the same bits for any partitioning,
//! embedded or on a cluster.
//!
//! The optimiser is BFGS on the log parameters with a backtracking (Armijo) line search,
//! deterministic; standard errors come from the inverse of the Hessian of -LL in the
//! natural parameters, by central differences of the analytic gradient.

// The small K x K matrix algebra reads best with the indices of its formulas.
#![allow(clippy::needless_range_loop)]

use datafusion::prelude::SessionContext;
use rfmseg_udfs::format_centroids;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::exec::query::{f64_list, get_i64, materialize, one_row, one_row_checked};
use crate::exec::{render, sql_f64, sql_string};

pub const CLV_SUMMARY_SQL: &str = include_str!("../../../../../sql/clv_summary.sql");
pub const CLV_TRIPLES_SQL: &str = include_str!("../../../../../sql/clv_triples.sql");
pub const CLV_PAIRS_SQL: &str = include_str!("../../../../../sql/clv_pairs.sql");
pub const CLV_LOGLIK_SQL: &str = include_str!("../../../../../sql/clv_loglik.sql");

/// Days per time unit: weeks, as `lifetimes` is usually run.
pub const WEEKS: f64 = 7.0;
/// Days per time unit: days.
pub const DAYS: f64 = 1.0;

/// The fitted CLV models.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClvParams {
    /// Days per time unit of x, t_x, T and of the BG/NBD rates (7 = weeks).
    pub time_unit_days: f64,
    /// BG/NBD `[r, alpha, a, b]`.
    pub bgnbd: [f64; 4],
    /// Gamma-Gamma `[p, q, gamma]`.
    pub gamma_gamma: [f64; 3],
    /// The maximised BG/NBD log-likelihood, summed over the customers.
    pub bgnbd_loglik: f64,
    /// The maximised Gamma-Gamma log-likelihood, summed over the repeat customers.
    pub gamma_gamma_loglik: f64,
    /// Standard errors of `bgnbd` (inverse Hessian of -LL); `None` if the Hessian is not
    /// positive definite (no proper maximum).
    pub bgnbd_std_errors: Option<[f64; 4]>,
    /// Standard errors of `gamma_gamma`, likewise.
    pub gamma_gamma_std_errors: Option<[f64; 3]>,
    /// Customers in the BG/NBD fit.
    pub customers: u64,
    /// Customers with x >= 1 (the Gamma-Gamma fit).
    pub repeat_customers: u64,
    /// Both fits met the gradient tolerance.
    pub converged: bool,
    /// BFGS iterations of both fits.
    pub iterations: u32,
}

/// One maximum-likelihood fit of K parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MlFit<const K: usize> {
    #[serde(with = "serde_array")]
    pub params: [f64; K],
    pub loglik: f64,
    /// Σ n: the (weighted) rows the likelihood summed.
    pub rows: f64,
    #[serde(with = "serde_option_array")]
    pub std_errors: Option<[f64; K]>,
    /// The gradient tolerance was met inside the parameter bounds.
    pub converged: bool,
    pub iterations: u32,
    /// Likelihood evaluations (queries), the Hessian's included.
    pub evaluations: u32,
}

/// Registers `clv_summary` (customer_id, x, t_x, t_cal, m) for the as-of day, with the
/// purchases RFM counts (rfm.window_days, rfm.min_amount) and `time_unit_days` days per
/// time unit ([`WEEKS`] or [`DAYS`]). Returns the customers.
pub async fn clv_summary(
    ctx: &SessionContext,
    config: &Config,
    as_of_day: i64,
    time_unit_days: f64,
) -> Result<u64> {
    clv_summary_over(
        ctx,
        config,
        as_of_day,
        config.rfm.window_days,
        time_unit_days,
    )
    .await
}

/// The table [`clv_summary_over`] computes the RFM of its period into.
pub const PERIOD_RFM: &str = "clv_period_rfm";

/// [`clv_summary`] over the `window_days` days ending on `end_day` (the calibration
/// period of a holdout check): the period's RFM first (registered as [`PERIOD_RFM`]).
pub async fn clv_summary_over(
    ctx: &SessionContext,
    config: &Config,
    end_day: i64,
    window_days: u32,
    time_unit_days: f64,
) -> Result<u64> {
    crate::stages::rfm::rfm_over(ctx, config, end_day, window_days, PERIOD_RFM).await?;
    clv_summary_of(ctx, PERIOD_RFM, end_day, time_unit_days).await
}

/// Registers `clv_summary` from `rfm_table`, a table of sql/rfm.sql ending on `as_of_day`
/// (the run's `rfm`: its purchase_days column is the summary's input, so the purchases
/// are not read again).
pub async fn clv_summary_of(
    ctx: &SessionContext,
    rfm_table: &str,
    as_of_day: i64,
    time_unit_days: f64,
) -> Result<u64> {
    if !(time_unit_days.is_finite() && time_unit_days > 0.0) {
        return Err(Error::Config {
            key: "clv time unit".into(),
            message: format!("must be a number of days > 0, got {time_unit_days}"),
        });
    }
    let sql = render(
        "clv_summary",
        CLV_SUMMARY_SQL,
        &[
            ("rfm", rfm_table.to_string()),
            ("as_of", as_of_day.to_string()),
            ("time_unit", sql_f64(time_unit_days)),
        ],
    )?;
    materialize(ctx, "clv_summary", &sql, "clv_summary").await
}

/// Fits both models on the registered `clv_summary` (registering `clv_triples` and
/// `clv_pairs`, its distinct BG/NBD and Gamma-Gamma summaries with their counts).
pub async fn fit_clv(ctx: &SessionContext, time_unit_days: f64) -> Result<ClvParams> {
    register_triples(ctx).await?;
    materialize(ctx, "clv_pairs", CLV_PAIRS_SQL, "clv_pairs").await?;
    let counts = one_row(
        ctx,
        "clv_counts",
        "SELECT count(*) AS customers, count(m) AS repeat_customers FROM clv_summary",
    )
    .await?;
    let count = |name: &str| get_i64(&counts, name).map(|v| v.map(|n| n as u64));
    // The two fits are independent, and each evaluation is a small query whose latency
    // leaves a core idle: run side by side. Their errors in a fixed order (BG/NBD's
    // first), so a run that cannot fit either always says the same.
    let (bg, gg) = futures::join!(
        fit_bgnbd(ctx, "clv_triples", count("customers")?),
        fit_gamma_gamma(ctx, "clv_pairs", count("repeat_customers")?),
    );
    let (bg, gg) = (bg?, gg?);
    Ok(ClvParams {
        time_unit_days,
        bgnbd: bg.params,
        gamma_gamma: gg.params,
        bgnbd_loglik: bg.loglik,
        gamma_gamma_loglik: gg.loglik,
        bgnbd_std_errors: bg.std_errors,
        gamma_gamma_std_errors: gg.std_errors,
        customers: bg.rows.round() as u64,
        repeat_customers: gg.rows.round() as u64,
        converged: bg.converged && gg.converged,
        iterations: bg.iterations + gg.iterations,
    })
}

/// Registers `clv_triples`: the distinct (x, t_x, t_cal) of the registered `clv_summary`
/// with their counts, which the BG/NBD fit and the predictions read.
pub async fn register_triples(ctx: &SessionContext) -> Result<u64> {
    materialize(ctx, "clv_triples", CLV_TRIPLES_SQL, "clv_triples").await
}

/// The BG/NBD fit over `table` (x, t_x, t_cal, n), from r = alpha = a = b = 1. With
/// `customers` (Σ n) known, every evaluation must have summed exactly them (see
/// [`evaluate`]).
pub async fn fit_bgnbd(
    ctx: &SessionContext,
    table: &str,
    customers: Option<u64>,
) -> Result<MlFit<4>> {
    let eval = |p: [f64; 4]| {
        let aggregate = format!(
            "bgnbd_ll({}, x, t_x, t_cal, n)",
            sql_string(&format_centroids(&p))
        );
        evaluate::<4>(ctx, "clv_bgnbd", aggregate, table.to_string(), customers)
    };
    maximise(eval, [1.0; 4], "BG/NBD", table).await
}

/// The Gamma-Gamma fit over `table` (x, m, n; rows with x = 0 or a NULL m are skipped),
/// from p = q = 1 and gamma = 1; `customers`: Σ n over those with x >= 1, when known.
pub async fn fit_gamma_gamma(
    ctx: &SessionContext,
    table: &str,
    customers: Option<u64>,
) -> Result<MlFit<3>> {
    let eval = |p: [f64; 3]| {
        let aggregate = format!(
            "gamma_gamma_ll({}, x, m, n)",
            sql_string(&format_centroids(&p))
        );
        evaluate::<3>(
            ctx,
            "clv_gamma_gamma",
            aggregate,
            table.to_string(),
            customers,
        )
    };
    maximise(eval, [1.0; 3], "Gamma-Gamma", table).await
}

/// One value of the likelihood: Σ LL, the gradient in the natural parameters, Σ n.
#[derive(Debug, Clone, Copy)]
struct Value<const K: usize> {
    ll: f64,
    grad: [f64; K],
    rows: f64,
}

/// One query: the likelihood UDAF's list. With `customers`, its Σ n must be exactly
/// them: a partial sum lost or read twice after an executor died would otherwise move the
/// fit without a word (on a cluster the query is then resubmitted, as a k-means round).
async fn evaluate<const K: usize>(
    ctx: &SessionContext,
    stage: &str,
    aggregate: String,
    input: String,
    customers: Option<u64>,
) -> Result<Value<K>> {
    let sql = render(
        stage,
        CLV_LOGLIK_SQL,
        &[("aggregate", aggregate), ("input", input)],
    )?;
    let row = one_row_checked(ctx, stage, &sql, |row| {
        let Some(want) = customers else {
            return Ok(());
        };
        let got = f64_list(row.column(0), stage, K + 2)
            .map_err(|e| e.to_string())?
            .map_or(0.0, |v| v[K + 1]);
        if got == want as f64 {
            Ok(())
        } else {
            Err(format!("the likelihood summed {got} customers of {want}"))
        }
    })
    .await?;
    crate::exec::query_count::counted_as_fit(ctx);
    let Some(values) = f64_list(row.column(0), stage, K + 2)? else {
        return Ok(Value {
            ll: 0.0,
            grad: [0.0; K],
            rows: 0.0,
        });
    };
    Ok(Value {
        ll: values[0],
        grad: std::array::from_fn(|i| values[1 + i]),
        rows: values[K + 1],
    })
}

/// The optimiser's settings.
const MAX_ITERATIONS: u32 = 200;
/// Converged when every component of the gradient of -LL/N in the log parameters is below
/// this (the sums are exact to about 1e-12 per row).
const GRADIENT_TOLERANCE: f64 = 1e-7;
/// The log parameters stay within ±this (parameters in [6e-6, 1.6e5]), where the
/// likelihoods are finite for any summary.
const LOG_BOUND: f64 = 12.0;
/// The longest step in any log parameter per iteration.
const MAX_STEP: f64 = 2.0;

/// Maximises the likelihood `eval` (natural parameters -> value) by BFGS on the log
/// parameters, from `start`; then the standard errors.
async fn maximise<const K: usize, F, Fut>(
    mut eval: F,
    start: [f64; K],
    model: &str,
    table: &str,
) -> Result<MlFit<K>>
where
    F: FnMut([f64; K]) -> Fut,
    Fut: std::future::Future<Output = Result<Value<K>>>,
{
    let mut evaluations = 0u32;
    let natural = |theta: &[f64; K]| -> [f64; K] { std::array::from_fn(|i| theta[i].exp()) };
    // f(θ) = -LL/N, ∇f = -(p ⊙ ∂LL/∂p)/N.
    let objective = |v: &Value<K>, p: &[f64; K], n: f64| -> (f64, [f64; K]) {
        (-v.ll / n, std::array::from_fn(|i| -p[i] * v.grad[i] / n))
    };
    let mut theta: [f64; K] = std::array::from_fn(|i| start[i].ln());
    let first = eval(natural(&theta)).await?;
    evaluations += 1;
    let n = first.rows;
    if n.is_nan() || n <= 0.0 {
        return Err(Error::NothingToFit {
            table: table.into(),
            model: model.into(),
            hint: if model == "Gamma-Gamma" {
                "the Gamma-Gamma model needs customers with a repeat purchase (x >= 1)".into()
            } else {
                "no purchase is counted in the window".into()
            },
        });
    }
    let (mut f, mut g) = objective(&first, &natural(&theta), n);
    // The value at θ: the likelihood reported is the one the optimiser last accepted.
    let mut at_theta = first;
    let mut h = identity::<K>();
    let mut converged = false;
    let mut iterations = 0u32;
    while iterations < MAX_ITERATIONS {
        if max_abs(&g) < GRADIENT_TOLERANCE {
            converged = true;
            break;
        }
        iterations += 1;
        let mut d = mat_vec(&h, &g).map(|v| -v);
        if dot(&d, &g) >= 0.0 {
            h = identity::<K>();
            d = g.map(|v| -v);
        }
        let longest = max_abs(&d);
        if longest > MAX_STEP {
            d = d.map(|v| v * MAX_STEP / longest);
        }
        // The largest step in (0, 1] that keeps θ within the bounds.
        let mut step = 1.0f64;
        for i in 0..K {
            let to = theta[i] + d[i];
            if to.abs() > LOG_BOUND {
                let room = (LOG_BOUND * d[i].signum() - theta[i]) / d[i];
                step = step.min(room.max(0.0));
            }
        }
        let slope = dot(&g, &d);
        let mut accepted = None;
        for _ in 0..50 {
            if step <= 0.0 {
                break;
            }
            let trial: [f64; K] = std::array::from_fn(|i| theta[i] + step * d[i]);
            let v = eval(natural(&trial)).await?;
            evaluations += 1;
            let (ft, gt) = objective(&v, &natural(&trial), n);
            if ft <= f + 1e-4 * step * slope {
                accepted = Some((trial, ft, gt, v));
                break;
            }
            step *= 0.5;
        }
        let Some((next, f_next, g_next, v_next)) = accepted else {
            // No decrease to be found: at the optimum to the precision of the sums.
            converged = max_abs(&g) < 1e3 * GRADIENT_TOLERANCE;
            break;
        };
        let s: [f64; K] = std::array::from_fn(|i| next[i] - theta[i]);
        let y: [f64; K] = std::array::from_fn(|i| g_next[i] - g[i]);
        let sy = dot(&s, &y);
        if sy > 1e-12 * norm(&s) * norm(&y) {
            if iterations == 1 {
                // Scale the first inverse Hessian to the curvature seen (Nocedal & Wright 6.20).
                let scale = sy / dot(&y, &y);
                h = identity::<K>().map(|row| row.map(|v| v * scale));
            }
            h = bfgs_update(&h, &s, &y, sy);
        }
        let small_change = (f - f_next).abs() <= 1e-15 * f.abs().max(1.0);
        theta = next;
        f = f_next;
        g = g_next;
        at_theta = v_next;
        if small_change && max_abs(&g) < 1e3 * GRADIENT_TOLERANCE {
            converged = true;
            break;
        }
    }
    // A parameter at its bound is no maximum, however flat the likelihood is there (no
    // repeat purchase at all: the rates run to 0).
    if theta.iter().any(|t| t.abs() >= LOG_BOUND - 1e-6) {
        converged = false;
    }
    let params = natural(&theta);
    // The Hessian of -LL in the natural parameters, by central differences of the
    // gradient at a relative step of 1e-4. Its 2K evaluations are independent: they run
    // side by side (one query's latency instead of 2K), each exact, so the same bits.
    let steps: [f64; K] = std::array::from_fn(|j| 1e-4 * params[j]);
    let points: Vec<[f64; K]> = (0..K)
        .flat_map(|j| {
            let (mut up, mut down) = (params, params);
            up[j] += steps[j];
            down[j] -= steps[j];
            [up, down]
        })
        .collect();
    // All of them awaited, the first error in their order: the same error every time.
    let values = futures::future::join_all(points.iter().map(|p| eval(*p)))
        .await
        .into_iter()
        .collect::<Result<Vec<_>>>()?;
    evaluations += values.len() as u32;
    let mut hess = [[0.0; K]; K];
    for (j, pair) in values.chunks(2).enumerate() {
        let (gu, gd) = (&pair[0], &pair[1]);
        for i in 0..K {
            hess[i][j] = -(gu.grad[i] - gd.grad[i]) / (2.0 * steps[j]);
        }
    }
    for i in 0..K {
        for j in 0..i {
            let mean = 0.5 * (hess[i][j] + hess[j][i]);
            hess[i][j] = mean;
            hess[j][i] = mean;
        }
    }
    let std_errors = inverse_spd(&hess).map(|inv| std::array::from_fn(|i| inv[i][i].sqrt()));
    tracing::debug!(
        model,
        ?params,
        loglik = at_theta.ll,
        iterations,
        evaluations,
        converged,
        "CLV fit"
    );
    Ok(MlFit {
        params,
        loglik: at_theta.ll,
        rows: at_theta.rows,
        std_errors,
        converged,
        iterations,
        evaluations,
    })
}

fn identity<const K: usize>() -> [[f64; K]; K] {
    std::array::from_fn(|i| std::array::from_fn(|j| if i == j { 1.0 } else { 0.0 }))
}

fn dot<const K: usize>(u: &[f64; K], v: &[f64; K]) -> f64 {
    u.iter().zip(v).map(|(a, b)| a * b).sum()
}

fn norm<const K: usize>(u: &[f64; K]) -> f64 {
    dot(u, u).sqrt()
}

fn max_abs<const K: usize>(u: &[f64; K]) -> f64 {
    u.iter().fold(0.0, |m, v| m.max(v.abs()))
}

fn mat_vec<const K: usize>(m: &[[f64; K]; K], v: &[f64; K]) -> [f64; K] {
    std::array::from_fn(|i| dot(&m[i], v))
}

/// The BFGS update of the inverse Hessian H with step s and gradient change y (s'y > 0):
/// H' = (I - ρ s y') H (I - ρ y s') + ρ s s', ρ = 1/(s'y).
fn bfgs_update<const K: usize>(
    h: &[[f64; K]; K],
    s: &[f64; K],
    y: &[f64; K],
    sy: f64,
) -> [[f64; K]; K] {
    let rho = 1.0 / sy;
    let hy = mat_vec(h, y);
    let yhy = dot(y, &hy);
    std::array::from_fn(|i| {
        std::array::from_fn(|j| {
            h[i][j] - rho * (hy[i] * s[j] + s[i] * hy[j]) + (rho * rho * yhy + rho) * s[i] * s[j]
        })
    })
}

/// The inverse of a symmetric positive definite matrix by Cholesky; `None` if it is not
/// positive definite.
fn inverse_spd<const K: usize>(a: &[[f64; K]; K]) -> Option<[[f64; K]; K]> {
    let mut l = [[0.0; K]; K];
    for i in 0..K {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i][k] * l[j][k]).sum();
            if i == j {
                let d = a[i][i] - s;
                if !(d > 0.0 && d.is_finite()) {
                    return None;
                }
                l[i][i] = d.sqrt();
            } else {
                l[i][j] = (a[i][j] - s) / l[j][j];
            }
        }
    }
    // Solve L L' X = I column by column.
    let mut inv = [[0.0; K]; K];
    for c in 0..K {
        let mut z = [0.0; K];
        for i in 0..K {
            let rhs = if i == c { 1.0 } else { 0.0 };
            let s: f64 = (0..i).map(|k| l[i][k] * z[k]).sum();
            z[i] = (rhs - s) / l[i][i];
        }
        let mut x = [0.0; K];
        for i in (0..K).rev() {
            let s: f64 = (i + 1..K).map(|k| l[k][i] * x[k]).sum();
            x[i] = (z[i] - s) / l[i][i];
        }
        for i in 0..K {
            inv[i][c] = x[i];
        }
    }
    Some(inv)
}

/// Serde for `[f64; K]` of any K (serde derives arrays only up to 32, and not for a
/// const generic K).
mod serde_array {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer, const K: usize>(v: &[f64; K], s: S) -> Result<S::Ok, S::Error> {
        v.as_slice().serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>, const K: usize>(
        d: D,
    ) -> Result<[f64; K], D::Error> {
        let v = Vec::<f64>::deserialize(d)?;
        v.try_into().map_err(|v: Vec<f64>| {
            serde::de::Error::custom(format!("expected {K} numbers, got {}", v.len()))
        })
    }
}

mod serde_option_array {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer, const K: usize>(
        v: &Option<[f64; K]>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        v.as_ref().map(|a| a.as_slice()).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>, const K: usize>(
        d: D,
    ) -> Result<Option<[f64; K]>, D::Error> {
        let v = Option::<Vec<f64>>::deserialize(d)?;
        v.map(|v| {
            v.try_into().map_err(|v: Vec<f64>| {
                serde::de::Error::custom(format!("expected {K} numbers, got {}", v.len()))
            })
        })
        .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_spd_inverts_and_refuses_indefinite_matrices() {
        let a = [[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]];
        let inv = inverse_spd(&a).expect("positive definite");
        for i in 0..3 {
            for j in 0..3 {
                let v: f64 = (0..3).map(|k| a[i][k] * inv[k][j]).sum();
                assert!(
                    (v - if i == j { 1.0 } else { 0.0 }).abs() < 1e-14,
                    "{i} {j}: {v}"
                );
            }
        }
        assert!(inverse_spd(&[[1.0, 2.0], [2.0, 1.0]]).is_none());
    }

    /// BFGS on a quadratic in the log parameters finds its minimum.
    #[tokio::test]
    async fn maximise_finds_the_maximum_of_a_concave_function() -> Result<()> {
        // LL(p) = -Σ w_i (ln p_i - ln c_i)^2 with a coupling, maximum at p = c.
        let c: [f64; 3] = [0.25, 4.0, 0.8];
        let eval = |p: [f64; 3]| async move {
            let u: [f64; 3] = std::array::from_fn(|i| p[i].ln() - c[i].ln());
            let ll = -(u[0] * u[0] + 2.0 * u[1] * u[1] + 3.0 * u[2] * u[2] + u[0] * u[1]);
            let du = [-(2.0 * u[0] + u[1]), -(4.0 * u[1] + u[0]), -6.0 * u[2]];
            Ok(Value {
                ll: 100.0 * ll,
                grad: std::array::from_fn(|i| 100.0 * du[i] / p[i]),
                rows: 100.0,
            })
        };
        let fit = maximise(eval, [1.0; 3], "test", "t").await?;
        assert!(fit.converged, "{fit:?}");
        for i in 0..3 {
            assert!((fit.params[i] / c[i] - 1.0).abs() < 1e-6, "{fit:?}");
        }
        assert!(fit.std_errors.is_some());
        let json = serde_json::to_string(&fit).expect("serialises");
        let back: MlFit<3> = serde_json::from_str(&json).expect("deserialises");
        // serde_json's default float parser may be 1 ulp off.
        for (b, f) in back
            .params
            .iter()
            .chain(&back.std_errors.unwrap())
            .zip(fit.params.iter().chain(&fit.std_errors.unwrap()))
        {
            assert!((b - f).abs() <= 1e-15 * f.abs(), "{back:?} vs {fit:?}");
        }
        assert_eq!(
            (back.converged, back.iterations),
            (fit.converged, fit.iterations)
        );
        Ok(())
    }
}

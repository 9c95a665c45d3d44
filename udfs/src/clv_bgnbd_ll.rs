//! `bgnbd_ll(params, x, t_x, T[, n])`: the BG/NBD log-likelihood (Fader, Hardie & Lee
//! 2005) of the customers' summaries and its gradient, summed over rows, for the
//! maximum-likelihood fit the driver runs (one query per evaluation).
//!
//! ```sql
//! SELECT bgnbd_ll('0.243,4.414,0.793,2.426', x, t_x, t, n) FROM clv_triples;
//! -- [Σ n·LL, Σ n·∂LL/∂r, Σ n·∂LL/∂alpha, Σ n·∂LL/∂a, Σ n·∂LL/∂b, Σ n]
//! ```
//!
//! `params` is a string literal 'r,alpha,a,b' (each a finite number > 0, written with
//! `{:?}` so it round-trips); x (repeat purchases), t_x (time of the last, from the first)
//! and T (time observed, from the first) are numeric columns in one time unit; the optional
//! n weights a row (customers sharing the summary). Per row LL and its gradient are
//! [`crate::clv_math::bgnbd_ll_grad`] (through [`BgNbdTerms`], which
//! computes the log-gamma terms once per distinct x). A row with a NULL is skipped; a row that is not a
//! summary (x < 0, t_x < 0, t_x > T, x = 0 with t_x > 0, n < 0, a non-finite value) or
//! whose likelihood is not finite at these parameters is an execution error naming it.
//!
//! # State
//!
//! The `ExactSums` of the generic UDAF with 6 sums (the result list, in units of 2^-40)
//! and no count; merge adds, so any partitioning gives the same bits.

use std::sync::LazyLock;

use datafusion::common::Result;
use datafusion::logical_expr::Documentation;

use crate::clv_math::BgNbdTerms;
use crate::clv_udaf::{Likelihood, likelihood_udaf};
use crate::documentation::doc;

const NAME: &str = "bgnbd_ll";
const USAGE: &str = "bgnbd_ll(params, x, t_x, T[, n])";
const PARAMS: [&str; 4] = ["r", "alpha", "a", "b"];

likelihood_udaf!(BgNbdLl, bgnbd_ll_udaf, BgNbd, 4);

/// The model `bgnbd_ll` sums.
pub(crate) struct BgNbd;

impl Likelihood<4> for BgNbd {
    const NAME: &'static str = NAME;
    const USAGE: &'static str = USAGE;
    const PARAMS: [&'static str; 4] = PARAMS;
    const COLUMNS: usize = 3;

    fn check(row: &[f64], n: f64) -> Result<bool, String> {
        let (x, t_x, big_t) = (row[0], row[1], row[2]);
        let valid = [x, t_x, big_t, n].iter().all(|v| v.is_finite())
            && x >= 0.0
            && t_x >= 0.0
            && t_x <= big_t
            && (x > 0.0 || t_x == 0.0)
            && n >= 0.0;
        if valid {
            Ok(true)
        } else {
            Err(
                "is not a customer summary: expected finite x >= 0, 0 <= t_x <= T (t_x = 0 \
                 when x = 0) and a weight n >= 0"
                    .into(),
            )
        }
    }

    fn describe(row: &[f64], n: f64) -> String {
        format!(
            "row (x = {:?}, t_x = {:?}, T = {:?}, n = {n:?})",
            row[0], row[1], row[2]
        )
    }

    type Terms = BgNbdTerms;

    fn terms(p: &[f64; 4]) -> BgNbdTerms {
        BgNbdTerms::new(p)
    }

    fn ll_grad(terms: &mut BgNbdTerms, row: &[f64]) -> (f64, [f64; 4]) {
        terms.ll_grad(row[0], row[1], row[2])
    }

    fn documentation() -> &'static Documentation {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            doc(
                "The BG/NBD log-likelihood (Fader, Hardie & Lee 2005) of customer summaries \
                 and its gradient, summed over the rows, for a maximum-likelihood fit: a list \
                 of 6 Float64, the sum of n*LL, the sums of n*dLL/dr, n*dLL/dalpha, n*dLL/da, \
                 n*dLL/db, then the sum of n. Exact (fixed point at 2^-40), so any \
                 partitioning gives the same bits; NULL without rows. A row that is not a \
                 summary, or whose likelihood is not finite, is an error naming it.",
                USAGE,
                &[
                    (
                        "params",
                        "string literal 'r,alpha,a,b': the four parameters, each a finite \
                         number > 0, the same for every row",
                    ),
                    (
                        "x",
                        "repeat purchases (purchase days after the first), >= 0",
                    ),
                    (
                        "t_x",
                        "time from the first to the last purchase, in the time unit (0 when \
                         x = 0)",
                    ),
                    (
                        "T",
                        "time from the first purchase to the end of calibration, >= t_x",
                    ),
                    (
                        "n",
                        "optional weight: the number of customers with this summary (1 \
                         without it)",
                    ),
                ],
                "> SELECT bgnbd_ll('0.243,4.414,0.793,2.426', x, t_x, t, n)\n  \
                 FROM (VALUES (0, 0.0, 38.86, 2), (2, 30.43, 38.86, 1)) s(x, t_x, t, n);\n\
                 [Σ n·LL, Σ n·dLL/dr, Σ n·dLL/dalpha, Σ n·dLL/da, Σ n·dLL/db, 3.0]",
            )
        });
        &DOC
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clv_math::bgnbd_ll_grad;

    use crate::test_data::list_query as query;

    #[tokio::test]
    async fn sums_weighted_rows_and_equals_repeated_rows() -> Result<()> {
        let p = [0.243, 4.414, 0.793, 2.426];
        let weighted = query(
            "SELECT bgnbd_ll('0.243,4.414,0.793,2.426', x, t_x, t, n) \
             FROM (VALUES (0, 0.0, 38.86, 2), (2, 30.43, 38.86, 1)) s(x, t_x, t, n)",
        )
        .await?
        .expect("rows");
        let repeated = query(
            "SELECT bgnbd_ll('0.243,4.414,0.793,2.426', x, t_x, t) \
             FROM (VALUES (0, 0.0, 38.86), (2, 30.43, 38.86), (0, 0.0, 38.86)) s(x, t_x, t)",
        )
        .await?
        .expect("rows");
        // Equal up to the 2^-40 truncation of each summed term (2g vs g + g).
        for (w, r) in weighted.iter().zip(&repeated) {
            assert!((w - r).abs() <= 4e-12, "{weighted:?} vs {repeated:?}");
        }
        let (l0, g0) = bgnbd_ll_grad(&p, 0.0, 0.0, 38.86);
        let (l2, g2) = bgnbd_ll_grad(&p, 2.0, 30.43, 38.86);
        let mut want = vec![2.0 * l0 + l2];
        want.extend((0..4).map(|i| 2.0 * g0[i] + g2[i]));
        want.push(3.0);
        for (g, w) in weighted.iter().zip(&want) {
            assert!(
                (g - w).abs() < 1e-11 * w.abs().max(1.0),
                "{weighted:?} vs {want:?}"
            );
        }
        Ok(())
    }

    #[tokio::test]
    async fn bad_rows_and_parameters_are_errors_naming_them() -> Result<()> {
        for (sql, needle) in [
            (
                "SELECT bgnbd_ll('0.2,4,0.8,2.5', x, t_x, t) FROM (VALUES (2, 50.0, 40.0)) s(x, t_x, t)",
                "bgnbd_ll: row (x = 2.0, t_x = 50.0, T = 40.0, n = 1.0) is not a customer summary",
            ),
            (
                "SELECT bgnbd_ll('0.2,4,0.8,2.5', x, t_x, t, n) FROM (VALUES (2, 5.0, 40.0, -1)) s(x, t_x, t, n)",
                "n = -1.0) is not a customer summary",
            ),
            (
                "SELECT bgnbd_ll('0.2,4,-0.8,2.5', x, t_x, t) FROM (VALUES (2, 5.0, 40.0)) s(x, t_x, t)",
                "bgnbd_ll: params \"0.2,4,-0.8,2.5\": a = -0.8 must be a finite number > 0",
            ),
            (
                "SELECT bgnbd_ll('0.2,4,0.8', x, t_x, t) FROM (VALUES (2, 5.0, 40.0)) s(x, t_x, t)",
                "has 3 values, expected 4: 'r,alpha,a,b'",
            ),
            (
                "SELECT bgnbd_ll('0.2,4,0.8,2.5', x, t_x) FROM (VALUES (2, 5.0)) s(x, t_x)",
                "bgnbd_ll: expects bgnbd_ll(params, x, t_x, T[, n])",
            ),
            (
                "SELECT bgnbd_ll('0.2,4,0.8,2.5', x, t_x, t, n) FROM (VALUES (2, 5.0, 40.0, 1e300)) s(x, t_x, t, n)",
                "bgnbd_ll: the weighted log-likelihood -7.818039129187421e300 of row (x = 2.0, t_x = 5.0, \
                 T = 40.0, n = 1e300) at r,alpha,a,b = [0.2, 4.0, 0.8, 2.5] cannot be summed exactly",
            ),
        ] {
            let err = query(sql).await.unwrap_err().to_string();
            assert!(err.contains(needle), "{sql}: {err}");
        }
        Ok(())
    }
}

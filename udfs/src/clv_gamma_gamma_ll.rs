//! `gamma_gamma_ll(params, x, m[, n])`: the Gamma-Gamma log-likelihood (Fader & Hardie
//! 2013) of the customers' mean amounts per repeat purchase and its gradient, summed over
//! rows, for the maximum-likelihood fit the driver runs (one query per evaluation).
//!
//! ```sql
//! SELECT gamma_gamma_ll('6.25,3.74,15.44', x, m) FROM clv_summary WHERE x >= 1;
//! -- [Σ n·LL, Σ n·∂LL/∂p, Σ n·∂LL/∂q, Σ n·∂LL/∂gamma, Σ n]
//! ```
//!
//! `params` is a string literal 'p,q,gamma' (each a finite number > 0); x (repeat
//! purchases) and m (their mean amount) are numeric columns; the optional n weights a row.
//! Per row LL and its gradient are [`crate::clv_math::gamma_gamma_ll_grad`] (through [`GammaGammaTerms`]). A row with a
//! NULL, or with x = 0 (no repeat purchase, no mean amount), is skipped; a row with x < 0,
//! m <= 0, n < 0 or a non-finite value, or whose likelihood is not finite at these
//! parameters, is an execution error naming it.
//!
//! # State
//!
//! The `ExactSums` of the generic UDAF with 5 sums (the result list, in units of 2^-40)
//! and no count; merge adds, so any partitioning gives the same bits.

use std::sync::LazyLock;

use datafusion::common::Result;
use datafusion::logical_expr::Documentation;

use crate::clv_math::GammaGammaTerms;
use crate::clv_udaf::{Likelihood, likelihood_udaf};
use crate::documentation::doc;

const NAME: &str = "gamma_gamma_ll";
const USAGE: &str = "gamma_gamma_ll(params, x, m[, n])";
const PARAMS: [&str; 3] = ["p", "q", "gamma"];

likelihood_udaf!(GammaGammaLl, gamma_gamma_ll_udaf, GammaGamma, 3);

/// The model `gamma_gamma_ll` sums.
pub(crate) struct GammaGamma;

impl Likelihood<3> for GammaGamma {
    const NAME: &'static str = NAME;
    const USAGE: &'static str = USAGE;
    const PARAMS: [&'static str; 3] = PARAMS;
    const COLUMNS: usize = 2;

    fn check(row: &[f64], n: f64) -> Result<bool, String> {
        let (x, m) = (row[0], row[1]);
        if x == 0.0 && m.is_finite() && n.is_finite() && n >= 0.0 {
            return Ok(false);
        }
        if [x, m, n].iter().all(|v| v.is_finite()) && x > 0.0 && m > 0.0 && n >= 0.0 {
            Ok(true)
        } else {
            Err(
                "is not a spend summary: expected finite x >= 0 (rows with x = 0 are \
                 skipped), a mean amount m > 0 and a weight n >= 0"
                    .into(),
            )
        }
    }

    fn describe(row: &[f64], n: f64) -> String {
        format!("row (x = {:?}, m = {:?}, n = {n:?})", row[0], row[1])
    }

    type Terms = GammaGammaTerms;

    fn terms(p: &[f64; 3]) -> GammaGammaTerms {
        GammaGammaTerms::new(p)
    }

    fn ll_grad(terms: &mut GammaGammaTerms, row: &[f64]) -> (f64, [f64; 3]) {
        terms.ll_grad(row[0], row[1])
    }

    fn documentation() -> &'static Documentation {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            doc(
                "The Gamma-Gamma log-likelihood (Fader & Hardie 2013) of customers' mean \
                 amounts per repeat purchase and its gradient, summed over the rows, for a \
                 maximum-likelihood fit: a list of 5 Float64, the sum of n*LL, the sums of \
                 n*dLL/dp, n*dLL/dq, n*dLL/dgamma, then the sum of n. Rows with x = 0 are \
                 skipped. Exact (fixed point at 2^-40), so any partitioning gives the same \
                 bits; NULL without rows. A row that is not a summary, or whose likelihood \
                 is not finite, is an error naming it.",
                USAGE,
                &[
                    (
                        "params",
                        "string literal 'p,q,gamma': the three parameters, each a finite \
                         number > 0, the same for every row",
                    ),
                    (
                        "x",
                        "repeat purchases (purchase days after the first), >= 1 to count",
                    ),
                    ("m", "the mean amount of the repeat purchase days, > 0"),
                    (
                        "n",
                        "optional weight: the number of customers with this summary (1 \
                         without it)",
                    ),
                ],
                "> SELECT gamma_gamma_ll('6.25,3.74,15.44', x, m)\n  \
                 FROM (VALUES (1, 20.0), (3, 35.5), (0, 0.0)) s(x, m);\n\
                 [Σ LL, Σ dLL/dp, Σ dLL/dq, Σ dLL/dgamma, 2.0]",
            )
        });
        &DOC
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clv_math::gamma_gamma_ll_grad;
    use crate::clv_udaf::{add_row, shape};
    use crate::exact_sum::ExactSums;

    use crate::test_data::list_query as query;

    #[tokio::test]
    async fn skips_rows_without_repeat_purchases_and_weights_the_others() -> Result<()> {
        let p = [6.25, 3.74, 15.44];
        let got = query(
            "SELECT gamma_gamma_ll('6.25,3.74,15.44', x, m, n) \
             FROM (VALUES (1, 20.0, 2), (3, 35.5, 1), (0, 0.0, 7)) s(x, m, n)",
        )
        .await?
        .expect("rows");
        let (l1, g1) = gamma_gamma_ll_grad(&p, 1.0, 20.0);
        let (l3, g3) = gamma_gamma_ll_grad(&p, 3.0, 35.5);
        let mut want = vec![2.0 * l1 + l3];
        want.extend((0..3).map(|i| 2.0 * g1[i] + g3[i]));
        want.push(3.0);
        for (g, w) in got.iter().zip(&want) {
            assert!(
                (g - w).abs() < 1e-11 * w.abs().max(1.0),
                "{got:?} vs {want:?}"
            );
        }
        Ok(())
    }

    #[tokio::test]
    async fn bad_rows_are_errors_naming_them() -> Result<()> {
        for (sql, needle) in [
            (
                "SELECT gamma_gamma_ll('6,4,15', x, m) FROM (VALUES (2, -5.0)) s(x, m)",
                "gamma_gamma_ll: row (x = 2.0, m = -5.0, n = 1.0) is not a spend summary",
            ),
            (
                "SELECT gamma_gamma_ll('6,4,15', x) FROM (VALUES (2)) s(x)",
                "gamma_gamma_ll: expects gamma_gamma_ll(params, x, m[, n])",
            ),
        ] {
            let err = query(sql).await.unwrap_err().to_string();
            assert!(err.contains(needle), "{sql}: {err}");
        }
        Ok(())
    }

    #[test]
    fn a_non_finite_term_is_an_error_not_a_nan() {
        let mut sums = ExactSums::default();
        sums.learn_shape(NAME, shape(3)).expect("shape");
        let err = add_row(NAME, &PARAMS, &mut sums, 1.0, f64::NAN, &[0.0; 3], || {
            "row (x = 1.0)".into()
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("gamma_gamma_ll: the log-likelihood of row (x = 1.0) is NaN"),
            "{err}"
        );
        let err = add_row(
            NAME,
            &PARAMS,
            &mut sums,
            1.0,
            0.0,
            &[0.0, f64::INFINITY, 0.0],
            || "row (x = 1.0)".into(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("the gradient dLL/dq of row (x = 1.0) is inf"),
            "{err}"
        );
    }
}

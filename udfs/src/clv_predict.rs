//! `clv_predict(model, x, t_x, T, m)`: a customer's lifetime-value predictions under fitted
//! BG/NBD and Gamma-Gamma models, for `customers.parquet` (`rfmseg run` and `score`) and
//! the calibration/holdout check.
//!
//! ```sql
//! SELECT v['p_alive'], v['expected_purchases'], v['expected_value'], v['clv']
//! FROM (SELECT clv_predict('0.243,4.414,0.793,2.426,6.25,3.74,15.44,52,12,0.008',
//!                          x, t_x, t_cal, coalesce(m, 0)) AS v FROM clv_summary);
//! ```
//!
//! `model` is a string literal of ten numbers: the BG/NBD `r,alpha,a,b`, the Gamma-Gamma
//! `p,q,gamma` (each > 0), then the horizon t (time units, >= 0), the periods it is
//! discounted in (an integer >= 1) and the discount rate per period (>= 0). The result is a
//! struct of four Float64 ([`crate::clv_math`]):
//! - `p_alive`: P(alive | x, t_x, T);
//! - `expected_purchases`: E[purchases in (T, T + t]];
//! - `expected_value`: E[value of a purchase | x, m] (the population mean at x = 0, where m
//!   is not used);
//! - `clv`: Σ over the periods of value · purchases in the period / (1 + discount)^period;
//! - `discounted_purchases`: that sum without the value, which depends on (x, t_x, T)
//!   only: sql/clv_predict.sql computes it once per distinct summary and multiplies.
//!
//! A part that cannot be computed accurately (a series that does not converge, a
//! Gamma-Gamma mean that does not exist) is NULL rather than a wrong number; a row with a
//! NULL argument is a NULL struct; a row that is not a summary is an error naming it. Each
//! row is a pure function of its values, so every executor computes the same bits.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{ArrayRef, Float64Array, StructArray};
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::{Result, exec_datafusion_err, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

use crate::clv_math::{discounted_purchases, expected_purchases, expected_value, p_alive};
use crate::documentation::doc;
use crate::literal::constant_text;
use crate::rows::{feature_columns, for_each_valid_row};

const NAME: &str = "clv_predict";
const USAGE: &str = "clv_predict(model, x, t_x, T, m)";
const MODEL: [&str; 10] = [
    "r", "alpha", "a", "b", "p", "q", "gamma", "horizon", "periods", "discount",
];
/// The result's fields, in order.
pub const FIELDS: [&str; 5] = [
    "p_alive",
    "expected_purchases",
    "expected_value",
    "clv",
    "discounted_purchases",
];

/// What the literal says.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PredictModel {
    pub bgnbd: [f64; 4],
    pub gamma_gamma: [f64; 3],
    /// Time units ahead.
    pub horizon: f64,
    /// Periods the horizon is discounted in.
    pub periods: u32,
    /// Discount rate per period.
    pub discount: f64,
}

impl PredictModel {
    /// The literal `clv_predict` reads: every number with `{:?}`, which round-trips.
    pub fn literal(&self) -> String {
        let numbers: Vec<String> = self
            .bgnbd
            .iter()
            .chain(&self.gamma_gamma)
            .chain(&[self.horizon, f64::from(self.periods), self.discount])
            .map(|v| format!("{v:?}"))
            .collect();
        numbers.join(",")
    }

    /// Parses and checks the literal.
    pub fn parse(text: &str) -> std::result::Result<PredictModel, String> {
        let parts: Vec<&str> = text.split(',').map(str::trim).collect();
        if parts.len() != MODEL.len() {
            return Err(format!(
                "model {text:?} has {} values, expected {}: '{}'",
                parts.len(),
                MODEL.len(),
                MODEL.join(",")
            ));
        }
        let mut v = [0.0f64; 10];
        for (i, part) in parts.iter().enumerate() {
            v[i] = part
                .parse()
                .map_err(|_| format!("model {text:?}: {} = {part:?} is not a number", MODEL[i]))?;
            let ok = match i {
                0..=6 => v[i].is_finite() && v[i] > 0.0,
                8 => v[i] >= 1.0 && v[i] <= 100_000.0 && v[i].fract() == 0.0,
                _ => v[i].is_finite() && v[i] >= 0.0,
            };
            if !ok {
                let want = match i {
                    0..=6 => "a finite number > 0",
                    8 => "an integer from 1 to 100000",
                    _ => "a finite number >= 0",
                };
                return Err(format!(
                    "model {text:?}: {} = {:?} must be {want}",
                    MODEL[i], v[i]
                ));
            }
        }
        Ok(PredictModel {
            bgnbd: [v[0], v[1], v[2], v[3]],
            gamma_gamma: [v[4], v[5], v[6]],
            horizon: v[7],
            periods: v[8] as u32,
            discount: v[9],
        })
    }

    /// The five predictions for one customer (see the module doc).
    pub fn predict(&self, x: f64, t_x: f64, big_t: f64, m: f64) -> [Option<f64>; 5] {
        let b = &self.bgnbd;
        let value = expected_value(&self.gamma_gamma, x, m);
        let discounted = discounted_purchases(
            b,
            x,
            t_x,
            big_t,
            self.periods,
            self.horizon / f64::from(self.periods),
            self.discount,
        );
        [
            Some(p_alive(b, x, t_x, big_t)),
            expected_purchases(b, x, t_x, big_t, self.horizon),
            value,
            value.zip(discounted).map(|(v, d)| v * d),
            discounted,
        ]
    }
}

/// Whether (x, t_x, T, m) is a customer summary the models take.
fn is_summary(x: f64, t_x: f64, big_t: f64, m: f64) -> bool {
    [x, t_x, big_t, m].iter().all(|v| v.is_finite())
        && x >= 0.0
        && t_x >= 0.0
        && t_x <= big_t
        && (x > 0.0 || t_x == 0.0)
        && m >= 0.0
}

fn fields() -> Fields {
    FIELDS
        .iter()
        .map(|name| Field::new(*name, DataType::Float64, true))
        .collect()
}

/// The UDF struct holds only its signature: the model arrives as a SQL literal, so it
/// travels to Ballista executors with the plan.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ClvPredictUdf {
    signature: Signature,
}

impl Default for ClvPredictUdf {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for ClvPredictUdf {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() != 5 {
            return plan_err!(
                "{NAME} expects {USAGE}, got {} argument(s)",
                arg_types.len()
            );
        }
        if !matches!(
            arg_types[0],
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null
        ) {
            return plan_err!(
                "{NAME}: argument model must be a string literal, got {}",
                arg_types[0]
            );
        }
        let mut out = vec![arg_types[0].clone()];
        for (i, t) in arg_types.iter().enumerate().skip(1) {
            if !(t.is_numeric() || t.is_null()) {
                return plan_err!(
                    "{NAME}: argument {} must be numeric, got {t}",
                    ["model", "x", "t_x", "T", "m"][i]
                );
            }
            out.push(DataType::Float64);
        }
        Ok(out)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(fields()))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if args.args.len() != 5 {
            return exec_err!(
                "{NAME} expects {USAGE}, got {} argument(s)",
                args.args.len()
            );
        }
        let text = constant_text(NAME, "model", &args.args[0])?;
        let n = args.number_rows;
        let model = if n == 0 {
            None
        } else {
            Some(PredictModel::parse(&text).map_err(|e| exec_datafusion_err!("{NAME}: {e}"))?)
        };
        let (columns, nulls) = feature_columns(NAME, &args.args[1..], n)?;
        let mut out: [Vec<Option<f64>>; 5] = std::array::from_fn(|_| vec![None; n]);
        if let Some(model) = model {
            let mut bad = None;
            for_each_valid_row(NAME, &columns, &mut |i, row: &[f64]| {
                let (x, t_x, big_t, m) = (row[0], row[1], row[2], row[3]);
                if !is_summary(x, t_x, big_t, m) {
                    bad = Some(format!(
                        "x = {x:?}, t_x = {t_x:?}, T = {big_t:?}, m = {m:?}"
                    ));
                    return Err(i);
                }
                for (column, v) in out.iter_mut().zip(model.predict(x, t_x, big_t, m)) {
                    column[i] = v.filter(|v| v.is_finite());
                }
                Ok(())
            })?
            .or_else(|row| {
                exec_err!(
                    "{NAME}: row {row} ({}) is not a customer summary: expected finite \
                     x >= 0, 0 <= t_x <= T (t_x = 0 when x = 0) and m >= 0",
                    bad.unwrap_or_default()
                )
            })?;
        }
        let arrays: Vec<ArrayRef> = out
            .into_iter()
            .map(|c| Arc::new(Float64Array::from(c)) as ArrayRef)
            .collect();
        let array = StructArray::try_new(fields(), arrays, nulls)
            .map_err(|e| exec_datafusion_err!("{NAME}: {e}"))?;
        Ok(ColumnarValue::Array(Arc::new(array)))
    }
}

/// What `SHOW FUNCTIONS` and the docs API say about `clv_predict`.
static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    doc(
        "A customer's lifetime-value predictions under fitted BG/NBD and Gamma-Gamma models: \
         a struct of p_alive, expected_purchases (over the horizon), expected_value (per \
         purchase), clv (discounted over the horizon) and discounted_purchases (clv without \
         the value). A part that cannot be computed accurately is NULL; a NULL argument \
         gives a NULL struct.",
        USAGE,
        &[
            (
                "model",
                "string literal 'r,alpha,a,b,p,q,gamma,horizon,periods,discount': the fitted \
                 parameters (> 0), the horizon in time units, the periods it is discounted in \
                 and the discount rate per period",
            ),
            ("x", "repeat purchases (purchase days after the first)"),
            ("t_x", "time from the first purchase to the last"),
            (
                "T",
                "time from the first purchase to the end of calibration",
            ),
            ("m", "mean amount per repeat purchase (not used when x = 0)"),
        ],
        "> SELECT clv_predict('0.25,4,0.8,2.5,6,4,15,52,12,0.008', 2, 30, 38, 20.5)['p_alive'];",
    )
});

/// The SQL function, ready to register.
pub fn clv_predict_udf() -> ScalarUDF {
    ScalarUDF::from(ClvPredictUdf::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::Float64Type;
    use datafusion::prelude::SessionContext;

    const MODEL_TEXT: &str = "0.243,4.414,0.793,2.426,6.25,3.74,15.44,52.0,12.0,0.008";

    async fn predict(sql: &str) -> Result<Vec<[Option<f64>; 5]>> {
        let ctx = SessionContext::new();
        ctx.register_udf(clv_predict_udf());
        let batches = ctx.sql(sql).await?.collect().await?;
        let mut out = Vec::new();
        for b in &batches {
            let s = b.column(0).as_struct();
            for i in 0..s.len() {
                out.push(std::array::from_fn(|f| {
                    let c = s.column(f).as_primitive::<Float64Type>();
                    (s.is_valid(i) && c.is_valid(i)).then(|| c.value(i))
                }));
            }
        }
        Ok(out)
    }

    /// The SQL function returns, bit for bit, what the model computes for each row; NULL
    /// rows stay NULL; the literal round-trips.
    #[tokio::test]
    async fn sql_predictions_are_the_models_and_nulls_stay_null() -> Result<()> {
        let model = PredictModel::parse(MODEL_TEXT).expect("valid");
        assert_eq!(PredictModel::parse(&model.literal()), Ok(model));
        let rows = [
            (0.0, 0.0, 38.86, 0.0),
            (2.0, 30.43, 38.86, 22.5),
            (5.0, 20.0, 52.0, 9.99),
        ];
        let values: Vec<String> = rows
            .iter()
            .map(|(x, t, big_t, m)| format!("({x:?}, {t:?}, {big_t:?}, {m:?})"))
            .chain(["(NULL, 1.0, 2.0, 3.0)".to_string()])
            .collect();
        let got = predict(&format!(
            "SELECT clv_predict('{MODEL_TEXT}', x, t_x, big_t, m) FROM (VALUES {}) v(x, t_x, big_t, m)",
            values.join(", ")
        ))
        .await?;
        assert_eq!(got.len(), 4);
        for (g, (x, t, big_t, m)) in got.iter().zip(rows) {
            assert_eq!(*g, model.predict(x, t, big_t, m));
            assert!(g.iter().all(Option::is_some), "{g:?}");
        }
        assert_eq!(got[3], [None; 5]);
        // A customer with no repeat purchase has P(alive) 1 and the population mean value
        // p gamma / (q - 1).
        assert_eq!(got[0][0], Some(1.0));
        let mean = 6.25 * 15.44 / (3.74 - 1.0);
        assert!((got[0][2].unwrap() - mean).abs() < 1e-12 * mean);
        Ok(())
    }

    /// The discounted CLV of one period with no discount is the expected value times the
    /// expected purchases.
    #[test]
    fn one_undiscounted_period_is_value_times_purchases() {
        let mut model = PredictModel::parse(MODEL_TEXT).expect("valid");
        model.periods = 1;
        model.discount = 0.0;
        let [_, purchases, value, clv, discounted] = model.predict(3.0, 20.0, 30.0, 12.0);
        let want = purchases.unwrap() * value.unwrap();
        assert!((clv.unwrap() - want).abs() <= 1e-12 * want);
        assert!((discounted.unwrap() - purchases.unwrap()).abs() <= 1e-12 * want);
    }

    #[tokio::test]
    async fn bad_literals_and_rows_are_errors_naming_them() {
        for (model, want) in [
            ("1,2,3", "has 3 values, expected 10"),
            (
                "0.2,4,0.8,2.4,6,3.7,15,52,1.5,0",
                "periods = 1.5 must be an integer",
            ),
            (
                "0.2,4,0.8,-2.4,6,3.7,15,52,12,0",
                "b = -2.4 must be a finite number > 0",
            ),
        ] {
            let err = predict(&format!("SELECT clv_predict('{model}', 1, 1, 2, 3)"))
                .await
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{model}: {err}");
        }
        let err = predict(&format!("SELECT clv_predict('{MODEL_TEXT}', 2, 5, 3, 10)"))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("row 0 (x = 2.0, t_x = 5.0, T = 3.0, m = 10.0) is not a customer summary"),
            "{err}"
        );
        let err = predict(&format!(
            "SELECT clv_predict('{MODEL_TEXT}', 2, 'a', 3, 10)"
        ))
        .await
        .unwrap_err()
        .to_string();
        assert!(err.contains("argument t_x must be numeric"), "{err}");
    }
}

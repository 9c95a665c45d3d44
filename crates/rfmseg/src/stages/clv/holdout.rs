//! The calibration/holdout check (`--holdout-days N`): the models fitted on the window's
//! purchases up to N days before the as-of day, then their expected purchases in those N
//! days against the actual ones, by repeat purchases in calibration (sql/clv_holdout.sql).
//! It tells a user how far to trust the predictions on their data.

use datafusion::prelude::SessionContext;
use serde::{Deserialize, Serialize};

use super::fit::{ClvParams, clv_summary_over, fit_clv};
use super::predict::ClvModel;
use crate::config::{Config, format_day};
use crate::error::{Error, Result};
use crate::exec::query::{collect, f64_column, i64_column};
use crate::exec::{render, sql_f64, sql_string};
use crate::stages::rfm::RfmWindow;

pub const CLV_HOLDOUT_SQL: &str = include_str!("../../../../../sql/clv_holdout.sql");

/// Calibration repeat purchases from this on are one row of the check.
pub const MAX_REPEAT_GROUP: i64 = 7;

/// The check's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Holdout {
    pub holdout_days: u32,
    /// The last day of calibration (YYYY-MM-DD).
    pub calibration_end: String,
    /// The fit on the calibration period.
    pub fit: ClvParams,
    /// One row per number of repeat purchases in calibration (the last: that many or more).
    pub rows: Vec<HoldoutRow>,
    /// Σ expected and Σ actual purchases over the customers with a prediction.
    pub expected: f64,
    pub actual: u64,
}

/// Customers with `repeat_purchases` repeat purchase days in calibration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HoldoutRow {
    pub repeat_purchases: i64,
    pub customers: u64,
    /// ... of which the model could predict.
    pub predicted: u64,
    /// Mean expected purchase days in the holdout (over the predicted customers).
    pub mean_expected: f64,
    /// Mean actual purchase days in the holdout (the same customers).
    pub mean_actual: f64,
}

/// Fits on the calibration period and compares with the holdout days. Leaves
/// `clv_summary` and `clv_triples` of the calibration period registered.
pub async fn holdout(ctx: &SessionContext, config: &Config, window: &RfmWindow) -> Result<Holdout> {
    let days = config.clv.holdout_days;
    let unit = config.clv.unit_days();
    if days >= window.window_days {
        return Err(Error::Config {
            key: "clv.holdout_days (--holdout-days)".into(),
            message: format!(
                "{days} leaves no calibration days in the window of {} days ({} .. {})",
                window.window_days, window.first_day, window.as_of
            ),
        });
    }
    let calibration_end = window.as_of_day - i64::from(days);
    clv_summary_over(
        ctx,
        config,
        calibration_end,
        window.window_days - days,
        unit,
    )
    .await?;
    let fit = fit_clv(ctx, unit).await?;
    let model = ClvModel::new(fit.clone(), &config.clv);
    // Only the expected purchases are read: one period, so the discounted sum costs one
    // series, not one per period.
    let mut predict = model.predict_model(f64::from(days) / unit);
    predict.periods = 1;
    let literal = predict.literal();
    let sql = render(
        "clv_holdout",
        CLV_HOLDOUT_SQL,
        &[
            ("model", sql_string(&literal)),
            ("calibration_end", calibration_end.to_string()),
            ("as_of", window.as_of_day.to_string()),
            ("min_amount", sql_f64(config.rfm.min_amount)),
            ("max_x", MAX_REPEAT_GROUP.to_string()),
        ],
    )?;
    let mut rows = Vec::new();
    let (mut expected, mut actual) = (0.0, 0u64);
    for b in collect(ctx, "clv_holdout", &sql).await? {
        let (x, n, p) = (
            i64_column(&b, "repeat_purchases")?,
            i64_column(&b, "customers")?,
            i64_column(&b, "predicted")?,
        );
        let (e, a) = (f64_column(&b, "expected")?, i64_column(&b, "actual")?);
        for i in 0..b.num_rows() {
            let predicted = p[i].max(0) as u64;
            let per = |v: f64| {
                if predicted > 0 {
                    v / predicted as f64
                } else {
                    f64::NAN
                }
            };
            // A NULL sum (no prediction in the group) reads as NaN.
            expected += if predicted > 0 { e[i] } else { 0.0 };
            actual += a[i].max(0) as u64;
            rows.push(HoldoutRow {
                repeat_purchases: x[i],
                customers: n[i].max(0) as u64,
                predicted,
                mean_expected: per(e[i]),
                mean_actual: per(a[i] as f64),
            });
        }
    }
    Ok(Holdout {
        holdout_days: days,
        calibration_end: format_day(calibration_end),
        fit,
        rows,
        expected,
        actual,
    })
}

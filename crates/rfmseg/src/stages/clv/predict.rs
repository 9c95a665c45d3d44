//! The per-customer predictions of a fitted CLV model, added to `customers`
//! (sql/clv_triple_predict.sql through the scalar UDF `clv_predict`, once per distinct
//! summary; sql/clv_predict.sql joins the results to the customers).

use datafusion::prelude::SessionContext;
use rfmseg_udfs::PredictModel;
use serde::{Deserialize, Serialize};

use super::fit::ClvParams;
use crate::config::{ClvConfig, TimeUnit};
use crate::error::{Error, Result};
use crate::exec::query::{materialize, release};
use crate::exec::{render, sql_f64, sql_string};

pub const CLV_PREDICT_SQL: &str = include_str!("../../../../../sql/clv_predict.sql");
pub const CLV_TRIPLE_PREDICT_SQL: &str = include_str!("../../../../../sql/clv_triple_predict.sql");

/// A fitted CLV model as model.json keeps it: what `score` needs to predict for new
/// customers without refitting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClvModel {
    pub fit: ClvParams,
    pub time_unit: TimeUnit,
    /// Time units ahead of the as-of day.
    pub horizon: f64,
    pub periods: u32,
    pub discount_per_period: f64,
    /// The parameters, horizon, periods and discount exactly as `clv_predict` reads
    /// them (shortest round-trip digits): `score` predicts from this text, so its numbers
    /// are the run's to the bit even where a JSON reader rounds a number differently.
    pub predict_literal: String,
}

impl ClvModel {
    pub fn new(fit: ClvParams, config: &ClvConfig) -> ClvModel {
        let mut model = ClvModel {
            time_unit: config.time_unit,
            horizon: config.horizon,
            periods: config.periods,
            discount_per_period: config.discount_per_period(),
            predict_literal: String::new(),
            fit,
        };
        model.predict_literal = model.predict_model(model.horizon).literal();
        model
    }

    /// The `clv_predict` model for a horizon of `horizon` time units.
    pub fn predict_model(&self, horizon: f64) -> PredictModel {
        PredictModel {
            bgnbd: self.fit.bgnbd,
            gamma_gamma: self.fit.gamma_gamma,
            horizon,
            periods: self.periods,
            discount: self.discount_per_period,
        }
    }

    /// The saved literal, checked: Err(what is wrong) for a model.json edited by hand.
    pub fn checked_literal(&self) -> std::result::Result<String, String> {
        PredictModel::parse(&self.predict_literal)?;
        Ok(self.predict_literal.clone())
    }
}

/// Replaces `customers` by the customers with their predictions (p_alive,
/// expected_purchases, expected_value, clv) from `literal` (a `clv_predict` model), the
/// registered `clv_summary` and its `clv_triples` ([`super::fit::register_triples`]; the
/// fit registers them).
pub async fn predict_customers_with(ctx: &SessionContext, literal: &str) -> Result<u64> {
    let model = PredictModel::parse(literal).map_err(|message| Error::Config {
        key: "clv.predict_literal".into(),
        message,
    })?;
    let [p, q, gamma] = model.gamma_gamma;
    let per_triple = render(
        "clv_triple_predict",
        CLV_TRIPLE_PREDICT_SQL,
        &[("model", sql_string(literal))],
    )?;
    materialize(
        ctx,
        "clv_triple_predict",
        &per_triple,
        "clv_triple_predictions",
    )
    .await?;
    let sql = render(
        "clv_predict",
        CLV_PREDICT_SQL,
        &[
            ("p", sql_f64(p)),
            ("q", sql_f64(q)),
            ("gamma", sql_f64(gamma)),
        ],
    )?;
    let rows = materialize(ctx, "clv_predict", &sql, "customers").await?;
    release(ctx, &["clv_triple_predictions"])?;
    Ok(rows)
}

/// [`predict_customers_with`] the model's own literal.
pub async fn predict_customers(ctx: &SessionContext, model: &ClvModel) -> Result<u64> {
    predict_customers_with(ctx, &model.predict_literal).await
}

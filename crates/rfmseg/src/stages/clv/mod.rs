//! Customer lifetime value (DESIGN.md §8): what each customer is worth and whether they are
//! still active, from the BG/NBD and Gamma-Gamma models fitted where the data lives.
//!
//! - [`fit`]: the per-customer summary (sql/clv_summary.sql) and the maximum-likelihood
//!   fits, one aggregate query per evaluation of the likelihood;
//! - [`predict`]: P(alive), expected purchases, expected value and CLV added to
//!   `customers` (sql/clv_predict.sql), in `run` and, with a saved model, in `score`;
//! - [`holdout`]: the calibration/holdout check (sql/clv_holdout.sql);
//! - [`report`]: the report's numbers (sql/clv_groups.sql, sql/clv_histograms.sql).
//!
//! Place in the flow: labelled customers -> **clv** -> report data.

pub mod fit;
pub mod holdout;
pub mod predict;
pub mod report;

use datafusion::prelude::SessionContext;
use serde::{Deserialize, Serialize};

pub use fit::{
    ClvParams, DAYS, MlFit, WEEKS, clv_summary, clv_summary_of, clv_summary_over, fit_bgnbd,
    fit_clv, fit_gamma_gamma,
};
pub use holdout::{Holdout, HoldoutRow};
pub use predict::{ClvModel, predict_customers};
pub use report::{AtRisk, ClvGroup, ClvReport};

use super::rfm::RfmWindow;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::exec::query::release;

/// What the CLV stage of a run did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum ClvSection {
    /// `--clv off`.
    #[default]
    Off,
    /// The data cannot support a fit (no repeat purchase, say): the run goes on without
    /// CLV, and the report says why.
    Skipped {
        reason: String,
    },
    Fitted(Box<ClvReport>),
}

impl ClvSection {
    /// The saved model of a fit, for model.json.
    pub fn model(&self) -> Option<ClvModel> {
        match self {
            ClvSection::Fitted(r) => Some(r.model.clone()),
            _ => None,
        }
    }
}

/// The CLV stage of `run`: the optional holdout check, the fit at the as-of day, the
/// predictions added to `customers` (which must hold `cluster_label` and `rfm_segment`)
/// and the report's numbers. Unless `keep_rfm` (a later step reads the run's `rfm`), `rfm`
/// is released once the summary is built from it, before the predictions build a second
/// table of customers beside the first.
pub async fn clv(
    ctx: &SessionContext,
    config: &Config,
    window: &RfmWindow,
    keep_rfm: bool,
) -> Result<ClvSection> {
    if !config.clv.enabled {
        return Ok(ClvSection::Off);
    }
    let unit = config.clv.unit_days();
    let holdout = if config.clv.holdout_days > 0 {
        match holdout::holdout(ctx, config, window).await {
            Ok(h) => Some(h),
            Err(e) if is_data_limit(&e) => {
                return Ok(ClvSection::Skipped {
                    reason: format!("the holdout check cannot be fitted: {e}"),
                });
            }
            Err(e) => return Err(e),
        }
    } else {
        None
    };
    clv_summary_of(ctx, "rfm", window.as_of_day, unit).await?;
    if !keep_rfm {
        release(ctx, &["rfm"])?;
    }
    let params = match fit_clv(ctx, unit).await {
        Ok(p) => p,
        Err(e) if is_data_limit(&e) => {
            return Ok(ClvSection::Skipped {
                reason: e.to_string(),
            });
        }
        Err(e) => return Err(e),
    };
    let model = ClvModel::new(params, &config.clv);
    predict_customers(ctx, &model).await?;
    let report = report::clv_report(ctx, model, holdout).await?;
    Ok(ClvSection::Fitted(Box::new(report)))
}

/// A fit the data cannot support (no customer, no repeat purchase): not a failure of
/// the run.
fn is_data_limit(e: &Error) -> bool {
    matches!(e, Error::NothingToFit { .. })
}

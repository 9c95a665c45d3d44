//! `rfmseg score`: customers of a (new) lake assigned to a saved model's clusters and
//! segments, without refitting: the lake is cleaned and windowed with the model's
//! configuration, scaled with the model's scaler, scored with its R/F/M thresholds, and
//! each customer goes to the nearest saved centre; with a saved CLV model, the customers'
//! lifetime-value predictions come from its parameters (no refit).
//!
//! Place in the flow: lake + model -> scored customers.

use std::path::{Path, PathBuf};

use datafusion::prelude::SessionContext;

use crate::error::Result;
use crate::exec::{Engine, Session, open_lake, write_table_parquet};
use crate::model::Model;
use crate::stages::labels::{assign_clusters, register_labels};
use crate::stages::rfm::RfmWindow;
use crate::stages::{self, scores};
use crate::storage::{Output, OutputKind, write_json};
use crate::text::group_thousands;

/// What `score` wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ScoreSummary {
    pub customers: u64,
    pub window: RfmWindow,
    pub out: PathBuf,
}

impl std::fmt::Display for ScoreSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} customers scored (window {} .. {}) into {}",
            group_thousands(self.customers),
            self.window.first_day,
            self.window.as_of,
            self.out.join("customers.parquet").display()
        )
    }
}

/// Scores the customers of `lake` with `model`, registering `customers` on `ctx`.
pub async fn score_on(
    ctx: &SessionContext,
    model: &Model,
    lake: &Path,
) -> Result<(u64, RfmWindow)> {
    let config = &model.config;
    open_lake(ctx, lake).await?;
    stages::clean(ctx, config).await?;
    stages::purchases::purchases(ctx, config).await?;
    let window = stages::rfm::rfm_window(ctx, config).await?;
    let customers = stages::rfm::rfm(ctx, config, &window).await?;
    stages::rfm::apply_scaler(ctx, config, &model.scaler).await?;
    scores::apply_thresholds(ctx, &model.score_thresholds).await?;
    let centroids: Vec<f64> = model.centroids_z.iter().flatten().copied().collect();
    assign_clusters(ctx, &centroids).await?;
    register_labels(ctx, &model.labels).await?;
    if let Some(clv) = &model.clv {
        stages::clv::clv_summary_of(ctx, "rfm", window.as_of_day, clv.time_unit.days()).await?;
        stages::clv::fit::register_triples(ctx).await?;
        stages::clv::predict_customers(ctx, clv).await?;
    }
    Ok((customers, window))
}

/// Scores `lake` with the model at `model_path`; writes `<out>/customers.parquet` and
/// `<out>/score.json` atomically.
pub async fn score(
    model_path: &Path,
    lake: &Path,
    out: &Path,
    engine: &Engine,
) -> Result<ScoreSummary> {
    let model = Model::read_from(model_path).await?;
    model.config.validate()?;
    let output = Output::create(out, OutputKind::Score).await?;
    let session = Session::open(engine, &model.config, out).await?;
    let ctx = &session.ctx;
    let (customers, window) = score_on(ctx, &model, lake).await?;
    let tmp = output.path();
    write_table_parquet(
        ctx,
        "customers",
        "customer_id",
        &tmp.join("customers.parquet"),
    )
    .await?;
    let summary = ScoreSummary {
        customers,
        window,
        out: out.to_path_buf(),
    };
    write_json(&tmp.join("score.json"), &summary)?;
    output.commit().await?;
    Ok(summary)
}

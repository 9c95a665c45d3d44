//! `rfmseg score`: customers of a (new) lake assigned to a saved model's clusters and
//! segments, without refitting: the lake is cleaned and windowed with the model's
//! configuration, scaled with the model's scaler, scored with its R/F/M thresholds, and
//! each customer goes to the nearest saved centre.
//!
//! Place in the flow: lake + model -> scored customers.

use std::path::{Path, PathBuf};

use datafusion::prelude::SessionContext;

use crate::context::{Engine, Session, register_lake};
use crate::error::Result;
use crate::model::Model;
use crate::output::write_table_parquet;
use crate::pipeline::{assign_clusters, register_labels};
use crate::stages::rfm::{RFM_SEGMENTS_SQL, RfmWindow};
use crate::stages::{self, materialize, register_view, render, sql_f64};
use crate::storage::{OutputDir, OutputKind, write_json};

pub const SCORE_RFM_SQL: &str = include_str!("../../../sql/score_rfm.sql");

/// What `score` wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ScoreSummary {
    pub customers: u64,
    pub window: RfmWindow,
    pub out: PathBuf,
}

/// Scores the customers of `lake` with `model`, registering `customers` on `ctx`.
pub async fn score_on(
    ctx: &SessionContext,
    model: &Model,
    lake: &Path,
) -> Result<(u64, RfmWindow)> {
    let config = &model.config;
    register_lake(ctx, lake).await?;
    stages::clean(ctx, config).await?;
    stages::rfm::purchases(ctx, config).await?;
    let window = stages::rfm::rfm_window(ctx, config).await?;
    let customers = stages::rfm::rfm(ctx, config, &window).await?;
    stages::rfm::apply_scaler(ctx, config, &model.scaler).await?;
    let t = &model.score_thresholds;
    const NAMES: [[&str; 4]; 3] = [
        ["r_t2", "r_t3", "r_t4", "r_t5"],
        ["f_t2", "f_t3", "f_t4", "f_t5"],
        ["m_t2", "m_t3", "m_t4", "m_t5"],
    ];
    let params: Vec<(&str, String)> = NAMES
        .iter()
        .zip([&t.r, &t.f, &t.m])
        .flat_map(|(names, values)| {
            names
                .iter()
                .zip(values.iter())
                .map(|(n, v)| (*n, sql_f64(*v)))
        })
        .collect();
    let sql = render("score_rfm", SCORE_RFM_SQL, &params)?;
    register_view(ctx, "score_rfm", &sql, "scored").await?;
    materialize(ctx, "rfm_segments", RFM_SEGMENTS_SQL, "customers").await?;
    let centroids: Vec<f64> = model.centroids_z.iter().flatten().copied().collect();
    assign_clusters(ctx, &centroids).await?;
    register_labels(ctx, &model.labels).await?;
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
    let model = Model::read(model_path)?;
    model.config.validate()?;
    let output = OutputDir::create(out, OutputKind::Score)?;
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
    output.commit()?;
    Ok(summary)
}

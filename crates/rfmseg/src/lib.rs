//! rfmseg: RFM customer segmentation at data-lake scale.
//!
//! Data flows one way: raw JSONL -> lake (Parquet) -> cleaned -> features -> model -> report.
//! Each step is a module named for it: [`generate`] (synthetic raw data), [`ingest`]
//! (raw -> lake), [`stages`] (the SQL stages, cleaning first), [`quality`] (the
//! data-quality table), with [`config`] holding every knob and [`context`] the session.

pub mod cluster;
pub mod config;
pub mod context;
pub mod demo;
pub mod error;
pub mod generate;
pub mod ingest;
pub mod kmeans;
pub mod model;
pub mod output;
pub mod pipeline;
pub mod quality;
pub mod report;
pub mod score;
pub mod segments;
pub mod sql;
pub mod stages;
pub mod storage;

pub use config::Config;
pub use error::{Error, Result};

use std::path::Path;

/// Cleans a lake: registers its tables in a new embedded session, runs the cleaning
/// stages, and returns the session (holding `clean_reviews`, `clean_items`) and the
/// data-quality table.
pub async fn clean_lake(
    lake: &Path,
    config: &Config,
) -> Result<(datafusion::prelude::SessionContext, quality::DataQuality)> {
    config.validate()?;
    let ctx = context::local_context(config);
    context::register_lake(&ctx, lake).await?;
    let quality = stages::clean(&ctx, config).await?;
    Ok((ctx, quality))
}

/// Cleans a lake and computes the RFM features: the session then also holds
/// `purchases`, `rfm`, `features` and `customers`.
pub async fn lake_features(
    lake: &Path,
    config: &Config,
) -> Result<(
    datafusion::prelude::SessionContext,
    quality::DataQuality,
    stages::rfm::FeaturesSummary,
)> {
    let (ctx, quality) = clean_lake(lake, config).await?;
    let summary = stages::rfm::features(&ctx, config).await?;
    Ok((ctx, quality, summary))
}

/// What [`features_to_dir`] wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FeaturesOutput {
    pub quality: quality::DataQuality,
    pub features: stages::rfm::FeaturesSummary,
}

/// Cleans a lake, computes the features and writes `customers.parquet` and
/// `features.json` as the folder `out` (replacing only an earlier `features` output).
pub async fn features_to_dir(lake: &Path, out: &Path, config: &Config) -> Result<FeaturesOutput> {
    let output = storage::OutputDir::create(out, storage::OutputKind::Features)?;
    let (ctx, quality, features) = lake_features(lake, config).await?;
    output::write_table_parquet(
        &ctx,
        "customers",
        "customer_id",
        &output.path().join("customers.parquet"),
    )
    .await?;
    let result = FeaturesOutput { quality, features };
    storage::write_json(&output.path().join("features.json"), &result)?;
    output.commit()?;
    Ok(result)
}

//! The report of a run: `report.json` (this struct, serialized), `report.html` (one
//! self-contained page rendered from it, see [`html`]) and `segments.csv` ([`csv`]). The
//! numbers come from [`crate::stages::report_data`]; this module only renders them.
//!
//! Place in the flow: model -> **report**.

pub mod clv;
mod cohorts;
mod colors;
pub mod csv;
mod format;
pub mod html;
mod migration;
pub mod svg;

use crate::stages::cohorts::Cohorts;
use crate::stages::migration::Migration;
use serde::{Deserialize, Serialize};

pub use crate::stages::report_data::{Bin, Distributions, GridCell, GroupSummary, Lift};
use std::path::Path;

use crate::config::Config;
use crate::quality::DataQuality;
use crate::stages::clv::ClvSection;
use crate::stages::kmeans::{Clustering, KMeansFit, KSelection};
use crate::stages::report_data::ReportData;
use crate::stages::rfm::{FeaturesSummary, RfmWindow, Scaler};

/// Everything a run found, in the order the report presents it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub rfmseg_version: String,
    /// The lake the run read.
    pub lake: String,
    /// The resolved configuration, as TOML, so the run can be repeated.
    pub config_toml: String,
    pub data_quality: DataQuality,
    pub window: RfmWindow,
    pub scaler: Scaler,
    /// Customers with at least one counted purchase in the window.
    pub customers: u64,
    /// Revenue in the window (sum of monetary), USD.
    pub revenue: f64,
    /// The k sweep; None when k was fixed with --k.
    pub k_selection: Option<KSelection>,
    /// The final model.
    pub model: KMeansFit,
    /// One entry per cluster, in cluster index order.
    pub clusters: Vec<GroupSummary>,
    /// One entry per RFM score segment present, largest first.
    pub rfm_segments: Vec<GroupSummary>,
    /// Customers per (R score, F score), 25 cells, with the most common segment.
    pub rf_grid: Vec<GridCell>,
    pub distributions: Distributions,
    /// Customer lifetime value: fitted, skipped (and why) or off.
    #[serde(default)]
    pub clv: ClvSection,
    /// Segment migration since `--compare-as-of`; None without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migration: Option<Migration>,
    /// Acquisition cohorts (`--cohorts`); None without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cohorts: Option<Cohorts>,
    /// Per-stage wall time, rows and peak memory.
    pub timings: Vec<StageTiming>,
}

impl Report {
    /// The report of a run: its inputs, what each stage found and what it cost.
    pub fn new(
        lake: &Path,
        config: &Config,
        data_quality: DataQuality,
        features: &FeaturesSummary,
        clustering: &Clustering,
        data: ReportData,
        timings: Vec<StageTiming>,
    ) -> Report {
        Report {
            rfmseg_version: env!("CARGO_PKG_VERSION").into(),
            lake: lake.display().to_string(),
            config_toml: config.to_toml(),
            data_quality,
            window: features.window.clone(),
            scaler: features.scaler.clone(),
            customers: features.customers,
            revenue: data.revenue,
            k_selection: clustering.selection.clone(),
            model: clustering.model.clone(),
            clusters: data.clusters,
            rfm_segments: data.rfm_segments,
            rf_grid: data.rf_grid,
            distributions: data.distributions,
            clv: data.clv,
            migration: None,
            cohorts: None,
            timings,
        }
    }
}

/// What one stage of the run cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageTiming {
    pub stage: String,
    pub seconds: f64,
    pub rows_in: u64,
    pub rows_out: u64,
    /// Peak resident memory of the process during the stage, MiB (Linux; 0 elsewhere).
    pub peak_rss_mib: f64,
    /// Queries the stage submitted: on a cluster, Ballista jobs, each with a fixed cost.
    #[serde(default)]
    pub queries: u64,
    /// Their summed time (more than `seconds` where a stage runs queries at once).
    #[serde(default)]
    pub query_seconds: f64,
    /// Of `queries`, the evaluations of the lifetime-value fits, as many as their
    /// iterations need (counted apart from the plan's fixed number of queries).
    #[serde(default)]
    pub fit_queries: u64,
}

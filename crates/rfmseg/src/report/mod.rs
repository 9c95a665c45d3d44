//! The report of a run: `report.json` (this struct, serialized) and `report.html` (one
//! self-contained page rendered from it, see [`html`]).
//!
//! Place in the flow: model -> **report**.

pub mod html;
pub mod svg;

use serde::{Deserialize, Serialize};

use crate::kmeans::{KMeansFit, KSelection};
use crate::quality::DataQuality;
use crate::stages::rfm::{RfmWindow, Scaler};

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
    /// Per-stage wall time, rows and peak memory.
    pub timings: Vec<StageTiming>,
}

/// A cluster or an RFM segment, with its evidence and the recommended action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupSummary {
    /// "cluster" or "rfm_segment".
    pub kind: String,
    /// The cluster label ("Loyal Customer") or segment name ("Champions").
    pub name: String,
    /// Cluster index; None for RFM segments.
    pub cluster: Option<u32>,
    pub customers: u64,
    /// Share of all customers, 0..1.
    pub share_customers: f64,
    /// Share of all revenue in the window, 0..1.
    pub share_revenue: f64,
    pub mean_recency: f64,
    pub mean_frequency: f64,
    pub mean_monetary: f64,
    /// Centre in scaled units (recency_z, frequency_z, monetary_z); clusters only.
    pub centroid_z: Option<[f64; 3]>,
    /// Typical price of a purchase: 25th percentile, median, 75th percentile (USD).
    pub price_band: [f64; 3],
    /// Categories most over-represented in this group's purchases.
    pub top_categories: Vec<Lift>,
    /// Stores most over-represented in this group's purchases.
    pub top_stores: Vec<Lift>,
    /// What to do with these customers.
    pub action: String,
}

/// A category or store and how much more often this group buys it than all customers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lift {
    pub name: String,
    /// Share of the group's purchases, 0..1.
    pub share: f64,
    /// share / (share among all customers' purchases); 1 = no difference.
    pub lift: f64,
    pub purchases: u64,
}

/// One cell of the R x F grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridCell {
    pub r_score: u8,
    pub f_score: u8,
    pub customers: u64,
    /// The most common RFM segment in the cell (empty if no customers).
    pub segment: String,
}

/// Histograms of recency (days), frequency (purchases) and monetary (USD, log-spaced bins).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Distributions {
    pub recency: Vec<Bin>,
    pub frequency: Vec<Bin>,
    pub monetary: Vec<Bin>,
}

/// Customers with lo <= value < hi (the last bin includes hi).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bin {
    pub lo: f64,
    pub hi: f64,
    pub count: u64,
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
}

//! `rfmseg run`: lake -> cleaning -> purchases -> RFM -> scaling -> choice of k -> final
//! model -> labels -> segments and recommendations -> outputs, one stage after another.
//!
//! Every output is written into a temporary folder beside `--out` and renamed into place
//! at the end, so a failed or interrupted run leaves the previous output untouched and
//! no half-written one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use datafusion::prelude::SessionContext;

use crate::config::Config;
use crate::context::{Engine, Session, register_lake};
use crate::error::{Error, Result};
use crate::kmeans::{self, Clustering, D};
use crate::model::{Model, ScoreThresholds, unscale};
use crate::output::write_table_parquet;
use crate::report::{Bin, Distributions, GridCell, GroupSummary, Lift, Report, StageTiming, html};
use crate::segments::{action, cluster_labels};
use crate::stages::{self, collect, materialize, register_view, render, sql_f64, sql_string};
use crate::storage::{OutputDir, OutputKind, write_file, write_json};

pub const LABEL_CUSTOMERS_SQL: &str = include_str!("../../../sql/label_customers.sql");
pub const SEGMENT_PURCHASES_SQL: &str = include_str!("../../../sql/segment_purchases.sql");
pub const GROUP_SUMMARY_SQL: &str = include_str!("../../../sql/group_summary.sql");
pub const GROUP_PRICES_SQL: &str = include_str!("../../../sql/group_prices.sql");
pub const GROUP_LIFT_SQL: &str = include_str!("../../../sql/group_lift.sql");
pub const RF_GRID_SQL: &str = include_str!("../../../sql/rf_grid.sql");
pub const HISTOGRAMS_SQL: &str = include_str!("../../../sql/histograms.sql");
pub const SCORE_THRESHOLDS_SQL: &str = include_str!("../../../sql/score_thresholds.sql");

/// The run's report data, beside report.html.
pub const REPORT_JSON: &str = "report.json";

/// What `run` needs.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub lake: PathBuf,
    pub out: PathBuf,
    pub config: Config,
    /// Print a line per stage on stderr.
    pub progress: bool,
    /// Embedded, or on a Ballista cluster.
    pub engine: Engine,
}

/// What `run` produced.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub report: Report,
    pub model: Model,
    pub out: PathBuf,
}

/// Times stages: wall time, rows, and the process's peak resident memory during each.
struct Timer {
    progress: bool,
    total: usize,
    done: Vec<StageTiming>,
    current: Option<(String, Instant)>,
}

impl Timer {
    fn start(&mut self, stage: &str) {
        reset_peak_rss();
        if self.progress {
            eprint!("[{}/{}] {stage} ...", self.done.len() + 1, self.total);
        }
        self.current = Some((stage.to_string(), Instant::now()));
    }

    fn finish(&mut self, rows_in: u64, rows_out: u64) {
        if let Some((stage, t)) = self.current.take() {
            let seconds = t.elapsed().as_secs_f64();
            if self.progress {
                eprintln!(" {seconds:.2} s");
            }
            self.done.push(StageTiming {
                stage,
                seconds,
                rows_in,
                rows_out,
                peak_rss_mib: peak_rss_mib(),
            });
        }
    }
}

/// Resets the kernel's peak-RSS counter (Linux), so each stage reports its own peak.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// VmHWM of this process in MiB (0 where /proc is unavailable).
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// Runs the whole job and writes its outputs to `opts.out`.
pub async fn run(opts: &RunOptions) -> Result<RunSummary> {
    let config = &opts.config;
    config.validate()?;
    let output = OutputDir::create(&opts.out, OutputKind::Run)?;
    let tmp = output.path().to_path_buf();

    let session = Session::open(&opts.engine, config, &opts.out).await?;
    let ctx = session.ctx.clone();
    let mut timer = Timer {
        progress: opts.progress,
        total: 6,
        done: Vec::new(),
        current: None,
    };

    timer.start("clean");
    register_lake(&ctx, &opts.lake).await?;
    let quality = stages::clean(&ctx, config).await?;
    timer.finish(
        quality.rows("reviews", "lake rows"),
        quality.kept("reviews"),
    );

    timer.start("features");
    let features = stages::rfm::features(&ctx, config).await?;
    timer.finish(quality.kept("reviews"), features.customers);

    timer.start("kmeans");
    kmeans::use_input(&ctx, "customers").await?;
    let clustering = kmeans::cluster(&ctx, config, features.customers).await?;
    timer.finish(features.customers, clustering.model.k as u64);

    timer.start("labels");
    let labels = label_customers(&ctx, &clustering).await?;
    timer.finish(features.customers, features.customers);

    timer.start("segments");
    let window = &features.window;
    let sql = render(
        "segment_purchases",
        SEGMENT_PURCHASES_SQL,
        &[
            ("as_of", window.as_of_day.to_string()),
            ("window_days", config.rfm.window_days.to_string()),
            ("min_amount", sql_f64(config.rfm.min_amount)),
        ],
    )?;
    materialize(&ctx, "segment_purchases", &sql, "segment_purchases").await?;
    // The report's queries are independent reads: run together, so on a cluster their
    // per-job latency overlaps.
    let (mut cluster_groups, (rfm_segments, _), rf_grid, distributions, thresholds) = futures::try_join!(
        group_summaries(&ctx, "cluster_label", features.customers),
        group_summaries(&ctx, "rfm_segment", features.customers),
        rf_grid(&ctx),
        histograms(&ctx, &HISTOGRAM_BINS),
        score_thresholds(&ctx),
    )?;
    let revenue = cluster_groups.1;
    // In cluster index order, with the centres.
    cluster_groups.0.sort_by_key(|g| g.cluster);
    for g in &mut cluster_groups.0 {
        if let Some(c) = g.cluster {
            let c = c as usize;
            let z = &clustering.model.centroids[c * D..(c + 1) * D];
            g.centroid_z = Some([z[0], z[1], z[2]]);
        }
    }
    let clusters = cluster_groups.0;
    timer.finish(
        features.customers,
        (clusters.len() + rfm_segments.len()) as u64,
    );

    timer.start("write");
    let model = Model {
        rfmseg_version: env!("CARGO_PKG_VERSION").into(),
        features: features.scaler.features.clone(),
        transform: "recency (days), ln(1 + frequency), ln(1 + monetary); each standard-scaled \
                    with the mean and sample standard deviation"
            .into(),
        scaler: features.scaler.clone(),
        k: clustering.model.k,
        centroids_z: centres_z(&clustering),
        centroids: centres_z(&clustering)
            .into_iter()
            .map(|z| unscale(z, &features.scaler))
            .collect(),
        labels: labels.clone(),
        wcss: clustering.model.wcss,
        silhouette: clustering.model.silhouette,
        silhouette_sample: clustering.model.silhouette_sample,
        window: features.window.clone(),
        seed: config.kmeans.seed,
        score_method: config.features.score_method,
        score_thresholds: thresholds,
        config: config.clone(),
    };
    let customers_written = write_table_parquet(
        &ctx,
        "customers",
        "customer_id",
        &tmp.join("customers.parquet"),
    )
    .await?;
    write_json(&tmp.join("model.json"), &model)?;
    let selection_csv = match &clustering.selection {
        Some(sel) => kmeans::to_csv(sel),
        None => kmeans::to_csv(&kmeans::KSelection {
            fits: vec![clustering.model.clone()],
            elbow_k: clustering.model.k,
            best_silhouette_k: clustering.model.k,
            chosen_k: clustering.model.k,
            reason: String::new(),
        }),
    };
    write_text(&tmp.join("k_selection.csv"), &selection_csv)?;
    write_text(
        &tmp.join("segments.csv"),
        &segments_csv(&clusters, &rfm_segments),
    )?;
    timer.finish(features.customers, customers_written);

    let report = Report {
        rfmseg_version: env!("CARGO_PKG_VERSION").into(),
        lake: opts.lake.display().to_string(),
        config_toml: config.to_toml(),
        data_quality: quality,
        window: features.window.clone(),
        scaler: features.scaler.clone(),
        customers: features.customers,
        revenue,
        k_selection: clustering.selection.clone(),
        model: clustering.model.clone(),
        clusters,
        rfm_segments,
        rf_grid,
        distributions,
        timings: timer.done.clone(),
    };
    write_json(&tmp.join(REPORT_JSON), &report)?;
    write_text(&tmp.join("report.html"), &html::render(&report))?;
    output.commit()?;
    Ok(RunSummary {
        report,
        model,
        out: opts.out.clone(),
    })
}

fn centres_z(c: &Clustering) -> Vec<[f64; 3]> {
    c.model
        .centroids
        .chunks_exact(D)
        .map(|z| [z[0], z[1], z[2]])
        .collect()
}

fn write_text(path: &Path, text: &str) -> Result<()> {
    write_file(path, text.as_bytes())
}

/// Assigns every customer its cluster, names the clusters from their centres, and
/// registers the labelled `customers`. Returns the labels by cluster index.
async fn label_customers(ctx: &SessionContext, clustering: &Clustering) -> Result<Vec<String>> {
    let model = &clustering.model;
    assign_clusters(ctx, &model.centroids).await?;
    let sql = render(
        "group_summary",
        GROUP_SUMMARY_SQL,
        &[("group", "cluster".into()), ("table", "clustered".into())],
    )?;
    let rows = collect(ctx, "group_summary", &sql).await?;
    let mut recency = vec![f64::NAN; model.k];
    let mut frequency = vec![f64::NAN; model.k];
    for b in &rows {
        let cluster = cast(b.column_by_name("name").expect("name"), &DataType::Int64)
            .map_err(|e| Error::Internal(e.to_string()))?;
        let cluster = cluster.as_primitive::<Int64Type>();
        let r = f64_column(b, "mean_recency")?;
        let f = f64_column(b, "mean_frequency")?;
        for i in 0..b.num_rows() {
            let c = cluster.value(i) as usize;
            if c < model.k {
                recency[c] = r[i];
                frequency[c] = f[i];
            }
        }
    }
    // A cluster with no customers (possible for a saved model on new data) sorts last.
    let labels = cluster_labels(
        &centres_z(clustering),
        &recency
            .iter()
            .map(|v| if v.is_nan() { f64::MIN } else { *v })
            .collect::<Vec<_>>(),
        &frequency
            .iter()
            .map(|v| if v.is_nan() { f64::MIN } else { *v })
            .collect::<Vec<_>>(),
    );
    register_labels(ctx, &labels).await?;
    Ok(labels)
}

/// Registers `clustered`: customers with the index of their nearest centre.
pub(crate) async fn assign_clusters(ctx: &SessionContext, centroids: &[f64]) -> Result<()> {
    let sql = render(
        "kmeans_assign",
        kmeans::queries::KMEANS_ASSIGN_SQL,
        &[("centroids", kmeans::queries::centroids_literal(centroids))],
    )?;
    materialize(ctx, "kmeans_assign", &sql, "clustered").await?;
    Ok(())
}

/// Registers `cluster_labels` and replaces `customers` by the labelled customers.
pub(crate) async fn register_labels(ctx: &SessionContext, labels: &[String]) -> Result<()> {
    // A VALUES list, not an in-memory table: it travels inside the plan to executors.
    let rows: Vec<String> = labels
        .iter()
        .enumerate()
        .map(|(i, label)| format!("({i}, {})", sql_string(label)))
        .collect();
    let sql = format!(
        "SELECT CAST(column1 AS INT) AS cluster, CAST(column2 AS VARCHAR) AS cluster_label \
         FROM (VALUES {})",
        rows.join(", ")
    );
    register_view(ctx, "cluster_labels", &sql, "cluster_labels").await?;
    materialize(ctx, "label_customers", LABEL_CUSTOMERS_SQL, "customers").await?;
    Ok(())
}

fn f64_column(b: &RecordBatch, name: &str) -> Result<Vec<f64>> {
    let c = b
        .column_by_name(name)
        .ok_or_else(|| Error::Internal(format!("no column {name}")))?;
    let c = cast(c, &DataType::Float64).map_err(|e| Error::Internal(e.to_string()))?;
    let a = c.as_primitive::<Float64Type>();
    Ok((0..a.len())
        .map(|i| if a.is_null(i) { f64::NAN } else { a.value(i) })
        .collect())
}

fn i64_column(b: &RecordBatch, name: &str) -> Result<Vec<i64>> {
    let c = b
        .column_by_name(name)
        .ok_or_else(|| Error::Internal(format!("no column {name}")))?;
    let c = cast(c, &DataType::Int64).map_err(|e| Error::Internal(e.to_string()))?;
    let a = c.as_primitive::<Int64Type>();
    Ok((0..a.len())
        .map(|i| if a.is_null(i) { 0 } else { a.value(i) })
        .collect())
}

fn str_column(b: &RecordBatch, name: &str) -> Result<Vec<String>> {
    let c = b
        .column_by_name(name)
        .ok_or_else(|| Error::Internal(format!("no column {name}")))?;
    let c = cast(c, &DataType::Utf8).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(c.as_string::<i32>()
        .iter()
        .map(|v| v.unwrap_or_default().to_string())
        .collect())
}

/// Summaries of every cluster label or RFM segment, with price bands, lifts and the
/// action; and the total revenue.
async fn group_summaries(
    ctx: &SessionContext,
    group: &str,
    customers: u64,
) -> Result<(Vec<GroupSummary>, f64)> {
    let sql = render(
        "group_summary",
        GROUP_SUMMARY_SQL,
        &[("group", group.into()), ("table", "customers".into())],
    )?;
    let prices_sql = render("group_prices", GROUP_PRICES_SQL, &[("group", group.into())])?;
    let (summary, price_rows, categories, stores) = futures::try_join!(
        collect(ctx, "group_summary", &sql),
        collect(ctx, "group_prices", &prices_sql),
        lifts(ctx, group, "main_category"),
        lifts(ctx, group, "store"),
    )?;
    let mut prices: BTreeMap<String, [f64; 3]> = BTreeMap::new();
    for b in price_rows {
        let (names, p25, p50, p75) = (
            str_column(&b, "name")?,
            f64_column(&b, "p25")?,
            f64_column(&b, "p50")?,
            f64_column(&b, "p75")?,
        );
        for i in 0..b.num_rows() {
            prices.insert(names[i].clone(), [p25[i], p50[i], p75[i]]);
        }
    }
    let mut out = Vec::new();
    let mut revenue = 0.0;
    let mut rows = Vec::new();
    for b in &summary {
        let names = str_column(b, "name")?;
        let clusters = i64_column(b, "cluster")?;
        let n = i64_column(b, "customers")?;
        let rev = f64_column(b, "revenue")?;
        let (r, f, m) = (
            f64_column(b, "mean_recency")?,
            f64_column(b, "mean_frequency")?,
            f64_column(b, "mean_monetary")?,
        );
        for i in 0..b.num_rows() {
            revenue += rev[i];
            rows.push((
                names[i].clone(),
                clusters[i],
                n[i],
                rev[i],
                r[i],
                f[i],
                m[i],
            ));
        }
    }
    for (name, cluster, n, rev, r, f, m) in rows {
        out.push(GroupSummary {
            kind: if group == "cluster_label" {
                "cluster"
            } else {
                "rfm_segment"
            }
            .into(),
            cluster: (group == "cluster_label").then_some(cluster as u32),
            customers: n as u64,
            share_customers: n as f64 / customers.max(1) as f64,
            share_revenue: if revenue > 0.0 { rev / revenue } else { 0.0 },
            mean_recency: r,
            mean_frequency: f,
            mean_monetary: m,
            centroid_z: None,
            price_band: prices.get(&name).copied().unwrap_or([f64::NAN; 3]),
            top_categories: categories.get(&name).cloned().unwrap_or_default(),
            top_stores: stores.get(&name).cloned().unwrap_or_default(),
            action: action(&name).into(),
            name,
        });
    }
    Ok((out, revenue))
}

/// The top 3 values of `dimension` by lift per group, with at least 20 purchases each.
async fn lifts(
    ctx: &SessionContext,
    group: &str,
    dimension: &str,
) -> Result<BTreeMap<String, Vec<Lift>>> {
    let sql = render(
        "group_lift",
        GROUP_LIFT_SQL,
        &[
            ("group", group.into()),
            ("dimension", dimension.into()),
            ("min_purchases", "20".into()),
            ("top", "3".into()),
        ],
    )?;
    let mut out: BTreeMap<String, Vec<Lift>> = BTreeMap::new();
    for b in collect(ctx, "group_lift", &sql).await? {
        let (names, values, n, share, lift) = (
            str_column(&b, "name")?,
            str_column(&b, "value")?,
            i64_column(&b, "n")?,
            f64_column(&b, "share")?,
            f64_column(&b, "lift")?,
        );
        for i in 0..b.num_rows() {
            out.entry(names[i].clone()).or_default().push(Lift {
                name: values[i].clone(),
                share: share[i],
                lift: lift[i],
                purchases: n[i] as u64,
            });
        }
    }
    Ok(out)
}

async fn rf_grid(ctx: &SessionContext) -> Result<Vec<GridCell>> {
    let mut cells: BTreeMap<(u8, u8), GridCell> = BTreeMap::new();
    for r in 1..=5u8 {
        for f in 1..=5u8 {
            cells.insert(
                (r, f),
                GridCell {
                    r_score: r,
                    f_score: f,
                    customers: 0,
                    segment: String::new(),
                },
            );
        }
    }
    for b in collect(ctx, "rf_grid", RF_GRID_SQL).await? {
        let (r, f, n, seg) = (
            i64_column(&b, "r_score")?,
            i64_column(&b, "f_score")?,
            i64_column(&b, "customers")?,
            str_column(&b, "rfm_segment")?,
        );
        for i in 0..b.num_rows() {
            if let Some(cell) = cells.get_mut(&(r[i] as u8, f[i] as u8)) {
                cell.customers = n[i] as u64;
                cell.segment = seg[i].clone();
            }
        }
    }
    Ok(cells.into_values().collect())
}

/// How the report's histograms bin recency, frequency and monetary: the one place the
/// widths live. sql/histograms.sql takes them as parameters and the bin edges are
/// computed from them here, so the counts and the edges they are drawn at cannot drift
/// apart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HistogramBins {
    /// Days per recency bin: bin b holds 1 + w*b <= recency < 1 + w*(b+1).
    pub recency_days: u32,
    /// Frequency bins per doubling: bin b holds 2^(b/n) <= frequency < 2^((b+1)/n).
    pub frequency_per_doubling: u32,
    /// Monetary bins per decade: bin b holds 10^(b/n) <= monetary < 10^((b+1)/n) USD.
    pub monetary_per_decade: u32,
}

/// The report's bins: half-month recency (24 bins over the 365-day window), frequency
/// 1, 2-3, 4-7, ..., and four monetary bins per decade (about x1.8 each), fine enough to
/// show the long tail of spend without empty bins on small data.
pub const HISTOGRAM_BINS: HistogramBins = HistogramBins {
    recency_days: 15,
    frequency_per_doubling: 1,
    monetary_per_decade: 4,
};

impl HistogramBins {
    fn params(&self) -> Vec<(&'static str, String)> {
        vec![
            ("recency_bin_days", self.recency_days.to_string()),
            (
                "frequency_bins_per_doubling",
                self.frequency_per_doubling.to_string(),
            ),
            (
                "monetary_bins_per_decade",
                self.monetary_per_decade.to_string(),
            ),
        ]
    }

    /// The lower edge of bin `b` of `measure` (the upper edge is that of `b + 1`).
    pub fn edge(&self, measure: &str, b: i64) -> f64 {
        match measure {
            "recency" => (1 + i64::from(self.recency_days) * b) as f64,
            "frequency" => 2f64.powf(b as f64 / f64::from(self.frequency_per_doubling)),
            _ => 10f64.powf(b as f64 / f64::from(self.monetary_per_decade)),
        }
    }
}

async fn histograms(ctx: &SessionContext, spec: &HistogramBins) -> Result<Distributions> {
    let sql = render("histograms", HISTOGRAMS_SQL, &spec.params())?;
    let mut bins: BTreeMap<String, BTreeMap<i64, u64>> = BTreeMap::new();
    for b in collect(ctx, "histograms", &sql).await? {
        let (m, bin, n) = (
            str_column(&b, "measure")?,
            i64_column(&b, "bin")?,
            i64_column(&b, "customers")?,
        );
        for i in 0..b.num_rows() {
            *bins
                .entry(m[i].clone())
                .or_default()
                .entry(bin[i])
                .or_default() += n[i] as u64;
        }
    }
    let dense = |measure: &str| -> Vec<Bin> {
        let Some(map) = bins.get(measure) else {
            return Vec::new();
        };
        let (Some(lo), Some(hi)) = (map.keys().next(), map.keys().last()) else {
            return Vec::new();
        };
        (*lo..=*hi)
            .map(|b| Bin {
                lo: spec.edge(measure, b),
                hi: spec.edge(measure, b + 1),
                count: map.get(&b).copied().unwrap_or(0),
            })
            .collect()
    };
    Ok(Distributions {
        recency: dense("recency"),
        frequency: dense("frequency"),
        monetary: dense("monetary"),
    })
}

async fn score_thresholds(ctx: &SessionContext) -> Result<ScoreThresholds> {
    let mut rows = Vec::new();
    for b in collect(ctx, "score_thresholds", SCORE_THRESHOLDS_SQL).await? {
        let (m, s, lo, hi) = (
            str_column(&b, "measure")?,
            i64_column(&b, "score")?,
            f64_column(&b, "lo")?,
            f64_column(&b, "hi")?,
        );
        for i in 0..b.num_rows() {
            rows.push((m[i].clone(), s[i] as u8, lo[i], hi[i]));
        }
    }
    Ok(ScoreThresholds::from_ranges(&rows))
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// segments.csv: one line per cluster and per RFM segment.
fn segments_csv(clusters: &[GroupSummary], segments: &[GroupSummary]) -> String {
    let mut out = String::from(
        "kind,name,cluster,customers,share_customers,share_revenue,mean_recency,mean_frequency,\
         mean_monetary,price_p25,price_median,price_p75,top_categories,top_stores,action\n",
    );
    let lifts = |l: &[Lift]| {
        l.iter()
            .map(|x| format!("{} (x{:.2})", x.name, x.lift))
            .collect::<Vec<_>>()
            .join("; ")
    };
    for g in clusters.iter().chain(segments) {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            g.kind,
            csv_field(&g.name),
            g.cluster.map(|c| c.to_string()).unwrap_or_default(),
            g.customers,
            g.share_customers,
            g.share_revenue,
            g.mean_recency,
            g.mean_frequency,
            g.mean_monetary,
            g.price_band[0],
            g.price_band[1],
            g.price_band[2],
            csv_field(&lifts(&g.top_categories)),
            csv_field(&lifts(&g.top_stores)),
            csv_field(&g.action),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use arrow::array::StringArray;
    use datafusion::datasource::MemTable;

    use super::*;

    /// Every customer is counted in the bin whose edges hold its value, for the report's
    /// bins and for other widths: the SQL bins and the Rust edges come from one
    /// `HistogramBins`, so changing a width (or either formula alone) cannot draw counts
    /// at the wrong edges.
    #[tokio::test]
    async fn histogram_counts_fall_between_their_bin_edges() {
        use arrow::array::{Float64Array, Int64Array};
        let recency: Vec<i64> = (1..=365).collect();
        let frequency: Vec<i64> = (1..=365).map(|i| 1 + (i * 7) % 40).collect();
        // Exact powers of ten sit on an edge for every width; the rest are well away
        // from the irrational edges, so float rounding cannot move them.
        let amounts = [
            0.26, 0.5, 1.0, 2.0, 5.0, 10.0, 17.0, 30.0, 99.99, 100.0, 1000.0, 1299.99, 1e5,
        ];
        let monetary: Vec<f64> = (0..365).map(|i| amounts[i % amounts.len()]).collect();
        let batch = RecordBatch::try_from_iter(vec![
            ("recency", Arc::new(Int64Array::from(recency.clone())) as _),
            (
                "frequency",
                Arc::new(Int64Array::from(frequency.clone())) as _,
            ),
            (
                "monetary",
                Arc::new(Float64Array::from(monetary.clone())) as _,
            ),
        ])
        .unwrap();
        let ctx = SessionContext::new();
        let table = MemTable::try_new(batch.schema(), vec![vec![batch]]).unwrap();
        ctx.register_table("customers", Arc::new(table)).unwrap();
        let other = HistogramBins {
            recency_days: 7,
            frequency_per_doubling: 2,
            monetary_per_decade: 3,
        };
        for spec in [HISTOGRAM_BINS, other] {
            let got = histograms(&ctx, &spec).await.unwrap();
            let values: [(&str, &Vec<Bin>, Vec<f64>); 3] = [
                (
                    "recency",
                    &got.recency,
                    recency.iter().map(|&v| v as f64).collect(),
                ),
                (
                    "frequency",
                    &got.frequency,
                    frequency.iter().map(|&v| v as f64).collect(),
                ),
                ("monetary", &got.monetary, monetary.clone()),
            ];
            for (measure, bins, values) in values {
                for pair in bins.windows(2) {
                    assert_eq!(pair[0].hi, pair[1].lo, "{measure} {spec:?}: contiguous");
                }
                let want: Vec<u64> = bins
                    .iter()
                    .map(|bin| {
                        values
                            .iter()
                            .filter(|&&v| bin.lo <= v && v < bin.hi)
                            .count() as u64
                    })
                    .collect();
                let counts: Vec<u64> = bins.iter().map(|bin| bin.count).collect();
                assert_eq!(counts, want, "{measure} {spec:?}");
                assert_eq!(counts.iter().sum::<u64>(), 365, "{measure} {spec:?}");
            }
        }
        // The report's bins as the report describes them.
        let got = histograms(&ctx, &HISTOGRAM_BINS).await.unwrap();
        assert_eq!((got.recency[0].lo, got.recency[0].hi), (1.0, 16.0));
        assert_eq!(got.recency.len(), 25);
        assert_eq!((got.frequency[2].lo, got.frequency[2].hi), (4.0, 8.0));
        assert_eq!(got.monetary.last().unwrap().lo, 1e5);
    }

    /// group_lift.sql against the plain definition: per group, share = n / group total,
    /// lift = share / (value's purchases / all purchases), values with at least 20
    /// purchases in the group, the 3 highest lifts (ties by value).
    #[tokio::test]
    async fn lifts_equal_a_plain_count_over_the_same_purchases() {
        let (mut groups, mut values) = (Vec::new(), Vec::new());
        let mut s = 7u64;
        for _ in 0..5000 {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let g = (s >> 33) % 3;
            let v = ((s >> 40) % 7 + g * (s >> 50) % 3) % 8;
            groups.push(Some(format!("group {g}")));
            // Value 9 is rare and only in group 0 (about 17 purchases): its lift would be
            // the highest, but it is below the support of 20. It still counts in the totals.
            let v = if g == 0 && (s >> 20).is_multiple_of(100) {
                9
            } else {
                v
            };
            values.push((v != 7).then(|| format!("value {v}")));
        }
        let batch = RecordBatch::try_from_iter(vec![
            (
                "cluster_label",
                Arc::new(StringArray::from(groups.clone())) as _,
            ),
            (
                "main_category",
                Arc::new(StringArray::from(values.clone())) as _,
            ),
        ])
        .unwrap();
        let ctx = SessionContext::new();
        let table = MemTable::try_new(batch.schema(), vec![vec![batch]]).unwrap();
        ctx.register_table("segment_purchases", Arc::new(table))
            .unwrap();
        let got = lifts(&ctx, "cluster_label", "main_category").await.unwrap();

        let mut n: HashMap<(String, String), u64> = HashMap::new();
        for (g, v) in groups.iter().zip(&values) {
            if let (Some(g), Some(v)) = (g, v) {
                *n.entry((g.clone(), v.clone())).or_default() += 1;
            }
        }
        let total_all: u64 = n.values().sum();
        let mut want: BTreeMap<String, Vec<(String, u64, f64, f64)>> = BTreeMap::new();
        for ((g, v), &c) in &n {
            let group_total: u64 = n.iter().filter(|((h, _), _)| h == g).map(|(_, c)| c).sum();
            let n_all: u64 = n.iter().filter(|((_, w), _)| w == v).map(|(_, c)| c).sum();
            if c >= 20 {
                let share = c as f64 / group_total as f64;
                let lift = share / (n_all as f64 / total_all as f64);
                want.entry(g.clone())
                    .or_default()
                    .push((v.clone(), c, share, lift));
            }
        }
        for list in want.values_mut() {
            list.sort_by(|a, b| b.3.total_cmp(&a.3).then(a.0.cmp(&b.0)));
            list.truncate(3);
        }
        assert_eq!(got.len(), 3);
        let rare = n
            .iter()
            .filter(|((_, v), c)| v == "value 9" && **c < 20)
            .count();
        assert!(rare > 0, "the data should hold a value below the support");
        for (g, list) in &want {
            let rows: Vec<(String, u64, f64, f64)> = got[g]
                .iter()
                .map(|l| (l.name.clone(), l.purchases, l.share, l.lift))
                .collect();
            assert_eq!(rows.len(), list.len(), "{g}");
            for (r, w) in rows.iter().zip(list) {
                assert_eq!((&r.0, r.1), (&w.0, w.1), "{g}");
                assert!(
                    (r.2 - w.2).abs() < 1e-12 && (r.3 - w.3).abs() < 1e-12,
                    "{g}: {r:?} {w:?}"
                );
            }
        }
    }
}

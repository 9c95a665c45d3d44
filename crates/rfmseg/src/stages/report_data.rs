//! The report's data: per cluster and per RFM segment the customers, revenue, means, price
//! band, top categories and stores by lift and the action; the R x F grid; the R, F and M
//! histograms. Each is one SQL file (sql/segment_purchases.sql, sql/group_summary.sql,
//! sql/group_prices.sql, sql/group_lift.sql, sql/rf_grid.sql, sql/histograms.sql) over the
//! labelled `customers`; a new chart's numbers go here, as a new file and a field of
//! [`ReportData`].
//!
//! Place in the flow: labelled customers -> **report data** -> report.

use std::collections::BTreeMap;

use datafusion::prelude::SessionContext;
use serde::{Deserialize, Serialize};

use super::clv::ClvSection;
use super::kmeans::{Clustering, D};
use super::price_bands::price_bands;
use super::rfm::RfmWindow;
use super::segments::action;
use crate::config::Config;
use crate::error::Result;
use arrow::array::RecordBatch;

use crate::exec::query::{
    collect, collect_together, f64_column, i64_column, materialize, register_view, str_column,
};
use crate::exec::render;

pub const SEGMENT_PURCHASES_SQL: &str = include_str!("../../../../sql/segment_purchases.sql");
/// sql/segment_purchases_view.sql
pub const SEGMENT_PURCHASES_VIEW_SQL: &str =
    include_str!("../../../../sql/segment_purchases_view.sql");
pub const GROUP_SUMMARY_SQL: &str = include_str!("../../../../sql/group_summary.sql");
pub const GROUP_PRICES_SQL: &str = include_str!("../../../../sql/group_prices.sql");
pub const GROUP_LIFT_SQL: &str = include_str!("../../../../sql/group_lift.sql");
pub const RF_GRID_SQL: &str = include_str!("../../../../sql/rf_grid.sql");
pub const HISTOGRAMS_SQL: &str = include_str!("../../../../sql/histograms.sql");

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

/// Every number the report shows beyond the model and the data-quality table.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportData {
    /// Clusters in index order, with their centres.
    pub clusters: Vec<GroupSummary>,
    pub rfm_segments: Vec<GroupSummary>,
    /// Total revenue of the counted purchases.
    pub revenue: f64,
    pub rf_grid: Vec<GridCell>,
    pub distributions: Distributions,
    /// Lifetime value, from the CLV stage ([`super::clv`]); off until the run sets it.
    pub clv: ClvSection,
}

/// Registers `segment_purchases`: the counted purchases of `window` with each customer's
/// cluster and segment, which [`report_data`] reads. Once it is built, the report reads
/// no purchases, so a run can release the clean reviews and items here.
pub async fn segment_purchases(
    ctx: &SessionContext,
    config: &Config,
    window: &RfmWindow,
) -> Result<()> {
    let sql = render(
        "segment_purchases",
        SEGMENT_PURCHASES_SQL,
        &super::rfm::known_window_params(config, window),
    )?;
    materialize(ctx, "segment_purchases", &sql, SEGMENT_PURCHASES_STORED).await?;
    register_view(
        ctx,
        "segment_purchases",
        SEGMENT_PURCHASES_VIEW_SQL,
        "segment_purchases",
    )
    .await
}

/// The tables [`segment_purchases`] registers: released once the report data is read.
pub const SEGMENT_PURCHASES_TABLES: [&str; 2] = ["segment_purchases", SEGMENT_PURCHASES_STORED];
const SEGMENT_PURCHASES_STORED: &str = "segment_purchases_stored";

/// Computes the report data over the labelled `customers` and the `segment_purchases`
/// ([`segment_purchases`]) of a window.
pub async fn report_data(
    ctx: &SessionContext,
    clustering: &Clustering,
    customers: u64,
) -> Result<ReportData> {
    // Independent reads: run together, so on a cluster their per-job latency overlaps.
    let (groups, rf_grid, distributions) = futures::try_join!(
        group_summaries(ctx, customers),
        rf_grid(ctx),
        histograms(ctx, &HISTOGRAM_BINS),
    )?;
    let [(mut clusters, revenue), (rfm_segments, _)] = groups;
    clusters.sort_by_key(|g| g.cluster);
    for g in &mut clusters {
        if let Some(c) = g.cluster {
            let c = c as usize;
            let z = &clustering.model.centroids[c * D..(c + 1) * D];
            g.centroid_z = Some([z[0], z[1], z[2]]);
        }
    }
    Ok(ReportData {
        clusters,
        rfm_segments,
        revenue,
        rf_grid,
        distributions,
        clv: ClvSection::Off,
    })
}

/// What the report groups customers by: the cluster labels, then the RFM segments.
const GROUPS: [&str; 2] = ["cluster_label", "rfm_segment"];

/// What the report ranks by lift within each group.
const LIFT_DIMENSIONS: [&str; 2] = ["main_category", "store"];

/// Summaries of every cluster label and of every RFM segment, with price bands, lifts and
/// the action; and the total revenue. Each query runs for all groups at once (on a
/// cluster, one job per query rather than per group and dimension).
async fn group_summaries(
    ctx: &SessionContext,
    customers: u64,
) -> Result<[(Vec<GroupSummary>, f64); 2]> {
    let mut summaries = Vec::new();
    let mut prices = Vec::new();
    let mut lifts = Vec::new();
    for group in GROUPS {
        summaries.push(render(
            "group_summary",
            GROUP_SUMMARY_SQL,
            &[("group", group.into()), ("table", "customers".into())],
        )?);
        prices.push(render(
            "group_prices",
            GROUP_PRICES_SQL,
            &[("group", group.into())],
        )?);
        for dimension in LIFT_DIMENSIONS {
            lifts.push(lift_sql(group, dimension)?);
        }
    }
    let (summaries, prices, lifts) = futures::try_join!(
        collect_together(ctx, "group_summary", &summaries, "customers DESC, name"),
        collect_together(ctx, "group_prices", &prices, "name, amount"),
        collect_together(ctx, "group_lift", &lifts, "name, rn"),
    )?;
    // One result per query, in the order they were built: group by group, and within a
    // group one lift query per dimension.
    let kind = |i: usize| {
        group_summary(
            GROUPS[i],
            customers,
            &summaries[i],
            &prices[i],
            parse_lifts(&lifts[LIFT_DIMENSIONS.len() * i])?,
            parse_lifts(&lifts[LIFT_DIMENSIONS.len() * i + 1])?,
        )
    };
    Ok([kind(0)?, kind(1)?])
}

/// One group kind's summaries from its rows of the summary, price and lift queries.
fn group_summary(
    group: &str,
    customers: u64,
    summary: &[RecordBatch],
    price_rows: &[RecordBatch],
    categories: BTreeMap<String, Vec<Lift>>,
    stores: BTreeMap<String, Vec<Lift>>,
) -> Result<(Vec<GroupSummary>, f64)> {
    let mut counts: BTreeMap<String, Vec<(f64, u64)>> = BTreeMap::new();
    for b in price_rows {
        let (names, amounts, n) = (
            str_column(b, "name")?,
            f64_column(b, "amount")?,
            i64_column(b, "n")?,
        );
        for ((name, amount), n) in names.into_iter().zip(amounts).zip(n) {
            counts.entry(name).or_default().push((amount, n as u64));
        }
    }
    let prices = price_bands(counts);
    let mut out = Vec::new();
    let mut revenue = 0.0;
    let mut rows = Vec::new();
    for b in summary {
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

/// sql/group_lift.sql for the top 3 values of `dimension` by lift per `group`, with at
/// least 20 purchases each.
fn lift_sql(group: &str, dimension: &str) -> Result<String> {
    render(
        "group_lift",
        GROUP_LIFT_SQL,
        &[
            ("group", group.into()),
            ("dimension", dimension.into()),
            ("min_purchases", "20".into()),
            ("top", "3".into()),
        ],
    )
}

/// The rows of sql/group_lift.sql (the top values of a dimension by lift per group, in
/// rank order) per group name.
fn parse_lifts(batches: &[RecordBatch]) -> Result<BTreeMap<String, Vec<Lift>>> {
    let mut out: BTreeMap<String, Vec<Lift>> = BTreeMap::new();
    for b in batches {
        let (names, values, n, share, lift) = (
            str_column(b, "name")?,
            str_column(b, "value")?,
            i64_column(b, "n")?,
            f64_column(b, "share")?,
            f64_column(b, "lift")?,
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
    let mut bins = dense_bins(&collect(ctx, "histograms", &sql).await?, &|m, b| {
        spec.edge(m, b)
    })?;
    let mut take = |m: &str| bins.remove(m).unwrap_or_default();
    Ok(Distributions {
        recency: take("recency"),
        frequency: take("frequency"),
        monetary: take("monetary"),
    })
}

/// The bins of a histogram query's (measure, bin, customers) rows, per measure: every
/// bin from the lowest to the highest seen (empty ones at 0), with edges from `edge`
/// (the lower edge of bin b; the upper is that of b + 1).
pub(crate) fn dense_bins(
    batches: &[arrow::array::RecordBatch],
    edge: &dyn Fn(&str, i64) -> f64,
) -> Result<BTreeMap<String, Vec<Bin>>> {
    let mut counts: BTreeMap<String, BTreeMap<i64, u64>> = BTreeMap::new();
    for b in batches {
        let (m, bin, n) = (
            str_column(b, "measure")?,
            i64_column(b, "bin")?,
            i64_column(b, "customers")?,
        );
        for i in 0..b.num_rows() {
            *counts
                .entry(m[i].clone())
                .or_default()
                .entry(bin[i])
                .or_default() += n[i] as u64;
        }
    }
    Ok(counts
        .into_iter()
        .filter_map(|(measure, map)| {
            let (lo, hi) = (*map.keys().next()?, *map.keys().last()?);
            let bins = (lo..=hi)
                .map(|b| Bin {
                    lo: edge(&measure, b),
                    hi: edge(&measure, b + 1),
                    count: map.get(&b).copied().unwrap_or(0),
                })
                .collect();
            Some((measure, bins))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use arrow::array::StringArray;
    use datafusion::datasource::MemTable;

    use super::*;
    use arrow::array::RecordBatch;

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
        // Through the merged query the report runs, twice, as for two group kinds.
        let sql = lift_sql("cluster_label", "main_category").unwrap();
        let rows = collect_together(&ctx, "group_lift", &[sql.clone(), sql], "name, rn")
            .await
            .unwrap();
        assert_eq!(rows.len(), 2);
        let got = parse_lifts(&rows[0]).unwrap();
        assert_eq!(got, parse_lifts(&rows[1]).unwrap());

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

//! The report's CLV numbers: lifetime value and P(alive) per cluster and per RFM segment
//! (sql/clv_groups.sql), and their distributions (sql/clv_histograms.sql).

use datafusion::prelude::SessionContext;
use serde::{Deserialize, Serialize};

use super::holdout::Holdout;
use super::predict::ClvModel;
use crate::error::Result;
use crate::exec::query::{collect, collect_together, f64_column, i64_column, str_column};
use crate::exec::{render, sql_f64};
use crate::stages::report_data::{Bin, dense_bins};

pub const CLV_GROUPS_SQL: &str = include_str!("../../../../../sql/clv_groups.sql");
pub const CLV_AT_RISK_SQL: &str = include_str!("../../../../../sql/clv_at_risk.sql");
pub const CLV_HISTOGRAMS_SQL: &str = include_str!("../../../../../sql/clv_histograms.sql");

/// Everything the report shows of CLV.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClvReport {
    pub model: ClvModel,
    pub customers: u64,
    /// Customers with every prediction (the rest: a series the model could not sum).
    pub predicted: u64,
    /// Σ expected purchases and Σ CLV over the horizon, over all customers.
    pub expected_purchases: f64,
    pub clv: f64,
    pub mean_p_alive: f64,
    pub p_alive_bins: Vec<Bin>,
    pub clv_bins: Vec<Bin>,
    /// Per cluster label, largest CLV first.
    pub by_cluster: Vec<ClvGroup>,
    /// Per RFM segment, largest CLV first.
    pub by_segment: Vec<ClvGroup>,
    /// Σ revenue at risk over all customers ([`ClvGroup::revenue_at_risk`]).
    #[serde(default)]
    pub revenue_at_risk: f64,
    /// The customers with the most revenue at risk, most first.
    #[serde(default)]
    pub top_at_risk: Vec<AtRisk>,
    pub holdout: Option<Holdout>,
}

/// Customers the report names for their revenue at risk.
pub const TOP_AT_RISK: usize = 10;

/// A customer with revenue at risk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AtRisk {
    pub customer_id: String,
    pub rfm_segment: String,
    pub cluster_label: String,
    pub p_alive: f64,
    pub clv: f64,
    pub revenue_at_risk: f64,
}

/// CLV of a cluster or an RFM segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClvGroup {
    pub name: String,
    pub customers: u64,
    pub predicted: u64,
    pub mean_p_alive: f64,
    pub expected_purchases: f64,
    pub clv: f64,
    /// Share of all customers' CLV, 0..1.
    pub share_clv: f64,
    /// Σ (1 - P(alive)) x the CLV if alive (sql/clv_predict.sql): what the customers
    /// who have already stopped would have been worth.
    #[serde(default)]
    pub revenue_at_risk: f64,
}

/// How the report bins P(alive) and CLV: the one place the widths live (the SQL takes
/// them as parameters, the edges are computed here).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClvBins {
    /// P(alive) bins of equal width over [0, 1].
    pub p_alive: u32,
    /// CLV bins per decade.
    pub clv_per_decade: u32,
    /// CLV below this is counted in its bin.
    pub clv_floor: f64,
}

/// Twenty P(alive) bins of 0.05; CLV in four bins per decade from 1 cent.
pub const CLV_BINS: ClvBins = ClvBins {
    p_alive: 20,
    clv_per_decade: 4,
    clv_floor: 0.01,
};

impl ClvBins {
    fn edge(&self, measure: &str, b: i64) -> f64 {
        match measure {
            "p_alive" => b as f64 / f64::from(self.p_alive),
            _ => 10f64.powf(b as f64 / f64::from(self.clv_per_decade)),
        }
    }
}

/// The report's CLV numbers over the predicted `customers`.
pub async fn clv_report(
    ctx: &SessionContext,
    model: ClvModel,
    holdout: Option<Holdout>,
) -> Result<ClvReport> {
    let ([by_cluster, by_segment], bins, top_at_risk) =
        futures::try_join!(groups(ctx), histograms(ctx, &CLV_BINS), at_risk(ctx),)?;
    let total = |f: fn(&ClvGroup) -> f64| by_segment.iter().map(f).sum::<f64>();
    let customers = by_segment.iter().map(|g| g.customers).sum::<u64>();
    let predicted = by_segment.iter().map(|g| g.predicted).sum::<u64>();
    let clv = total(|g| g.clv);
    let alive = total(|g| g.mean_p_alive * g.customers as f64);
    let share = |mut groups: Vec<ClvGroup>| {
        for g in &mut groups {
            g.share_clv = if clv > 0.0 { g.clv / clv } else { 0.0 };
        }
        groups
    };
    let (p_alive_bins, clv_bins) = bins;
    Ok(ClvReport {
        model,
        customers,
        predicted,
        expected_purchases: total(|g| g.expected_purchases),
        revenue_at_risk: total(|g| g.revenue_at_risk),
        top_at_risk,
        clv,
        mean_p_alive: if customers > 0 {
            alive / customers as f64
        } else {
            f64::NAN
        },
        p_alive_bins,
        clv_bins,
        by_cluster: share(by_cluster),
        by_segment: share(by_segment),
        holdout,
    })
}

/// The CLV totals per cluster label and per RFM segment, in one query (on a cluster, one
/// job).
async fn groups(ctx: &SessionContext) -> Result<[Vec<ClvGroup>; 2]> {
    let mut sql = Vec::new();
    for group in ["cluster_label", "rfm_segment"] {
        sql.push(render(
            "clv_groups",
            CLV_GROUPS_SQL,
            &[("group", group.into())],
        )?);
    }
    // One result per query, in order.
    let rows = collect_together(ctx, "clv_groups", &sql, "clv DESC NULLS LAST, name").await?;
    Ok([parse_groups(&rows[0])?, parse_groups(&rows[1])?])
}

fn parse_groups(batches: &[arrow::array::RecordBatch]) -> Result<Vec<ClvGroup>> {
    let mut out = Vec::new();
    for b in batches {
        let (name, n, p) = (
            str_column(b, "name")?,
            i64_column(b, "customers")?,
            i64_column(b, "predicted")?,
        );
        let (alive, purchases, clv) = (
            f64_column(b, "mean_p_alive")?,
            f64_column(b, "expected_purchases")?,
            f64_column(b, "clv")?,
        );
        let risk = f64_column(b, "revenue_at_risk")?;
        let zero_if_null = |v: f64| if v.is_nan() { 0.0 } else { v };
        for i in 0..b.num_rows() {
            out.push(ClvGroup {
                name: name[i].clone(),
                customers: n[i].max(0) as u64,
                predicted: p[i].max(0) as u64,
                mean_p_alive: alive[i],
                expected_purchases: zero_if_null(purchases[i]),
                clv: zero_if_null(clv[i]),
                share_clv: 0.0,
                revenue_at_risk: zero_if_null(risk[i]),
            });
        }
    }
    Ok(out)
}

async fn at_risk(ctx: &SessionContext) -> Result<Vec<AtRisk>> {
    let sql = render(
        "clv_at_risk",
        CLV_AT_RISK_SQL,
        &[("top", TOP_AT_RISK.to_string())],
    )?;
    let mut out = Vec::new();
    for b in collect(ctx, "clv_at_risk", &sql).await? {
        let (id, seg, label) = (
            str_column(&b, "customer_id")?,
            str_column(&b, "rfm_segment")?,
            str_column(&b, "cluster_label")?,
        );
        let (p, clv, risk) = (
            f64_column(&b, "p_alive")?,
            f64_column(&b, "clv")?,
            f64_column(&b, "revenue_at_risk")?,
        );
        for i in 0..b.num_rows() {
            out.push(AtRisk {
                customer_id: id[i].clone(),
                rfm_segment: seg[i].clone(),
                cluster_label: label[i].clone(),
                p_alive: p[i],
                clv: clv[i],
                revenue_at_risk: risk[i],
            });
        }
    }
    Ok(out)
}

async fn histograms(ctx: &SessionContext, spec: &ClvBins) -> Result<(Vec<Bin>, Vec<Bin>)> {
    let sql = render(
        "clv_histograms",
        CLV_HISTOGRAMS_SQL,
        &[
            ("p_alive_bins", spec.p_alive.to_string()),
            ("clv_bins_per_decade", spec.clv_per_decade.to_string()),
            ("clv_floor", sql_f64(spec.clv_floor)),
        ],
    )?;
    let mut bins = dense_bins(&collect(ctx, "clv_histograms", &sql).await?, &|m, b| {
        spec.edge(m, b)
    })?;
    Ok((
        bins.remove("p_alive").unwrap_or_default(),
        bins.remove("clv").unwrap_or_default(),
    ))
}

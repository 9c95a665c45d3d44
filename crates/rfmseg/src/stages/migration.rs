//! Segment migration: the run's customers against the customers of an earlier as-of day
//! (`run --compare-as-of`), both scored with the run's model, so a customer's two
//! segments and clusters mean the same thing (sql/migration.sql,
//! sql/migration_downgraded.sql).
//!
//! Place in the flow: labels and segments of the run -> **migration** -> outputs. The
//! earlier customers come from the stages `score` runs (RFM over the earlier window, the
//! run's scaler, score thresholds, centres and labels), on the same session: the tables
//! they replace (`rfm`, `features`, `scored`, `clustered`, `customers`)
//! are put back afterwards, whatever happens.

use std::sync::Arc;

use datafusion::catalog::TableProvider;
use datafusion::prelude::SessionContext;
use serde::{Deserialize, Serialize};

use super::labels::{assign_clusters, register_labels};
use super::rfm::{RfmWindow, Scaler, apply_scaler, rfm_over};
use super::scores::{ScoreThresholds, apply_thresholds};
use crate::config::{Config, format_day, parse_day};
use crate::error::{Error, Result};
use crate::exec::query::{collect, f64_column, i64_column, materialize, str_column};
use crate::exec::{render, sql_string};
use crate::quality::group_thousands;

pub const MIGRATION_SQL: &str = include_str!("../../../../sql/migration.sql");
pub const MIGRATION_DOWNGRADED_SQL: &str = include_str!("../../../../sql/migration_downgraded.sql");

/// The table of the downgraded customers (written as downgraded.parquet).
pub const DOWNGRADED: &str = "migration_downgraded";

/// The group of a customer absent at the earlier day, and at the run's.
pub const NEW: &str = "new";
pub const GONE: &str = "gone";

/// What the earlier customers are scored with: the run's model.
pub struct ModelParts<'a> {
    pub scaler: &'a Scaler,
    pub thresholds: &'a ScoreThresholds,
    /// Centres in scaled units, k x 3 row-major.
    pub centroids_z: &'a [f64],
    pub labels: &'a [String],
}

/// One cell of a transition matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MigrationCell {
    pub from: String,
    pub to: String,
    pub customers: u64,
    /// Of the customers of `from` (new included): the share that went to `to`.
    pub share_of_origin: f64,
    /// Their revenue in the earlier window, and in the run's.
    pub revenue_before: f64,
    pub revenue_now: f64,
}

/// The transition matrix of one dimension (RFM segment or cluster label).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MigrationMatrix {
    /// Rows: the groups of the earlier day in order, then "new".
    pub from: Vec<String>,
    /// Columns: the groups of the run in order, then "gone".
    pub to: Vec<String>,
    /// The non-empty cells, in row then column order.
    pub cells: Vec<MigrationCell>,
}

impl MigrationMatrix {
    /// The largest movements (cells off the diagonal), largest first.
    pub fn largest_moves(&self, n: usize) -> Vec<&MigrationCell> {
        let mut moves: Vec<&MigrationCell> = self.cells.iter().filter(|c| c.from != c.to).collect();
        moves.sort_by(|a, b| b.customers.cmp(&a.customers).then(a.from.cmp(&b.from)));
        moves.truncate(n);
        moves
    }
}

/// A movement in words: "1,234 customers (12.0% of Champions) moved from Champions to At
/// Risk".
pub fn describe(c: &MigrationCell) -> String {
    let n = group_thousands(c.customers);
    let share = format!("{:.1}%", 100.0 * c.share_of_origin);
    match (c.from.as_str(), c.to.as_str()) {
        (NEW, to) => format!("{n} new customers arrived in {to}"),
        (from, GONE) => {
            format!("{n} customers ({share} of {from}) made no purchase in the later window")
        }
        (from, to) => format!("{n} customers ({share} of {from}) moved from {from} to {to}"),
    }
}

/// The migration section of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Migration {
    /// The earlier as-of day, and the run's.
    pub compare_as_of: String,
    pub as_of: String,
    pub window_days: u32,
    pub customers_before: u64,
    pub segments: MigrationMatrix,
    pub clusters: MigrationMatrix,
    /// Customers who moved down the segment order (gone included), and their revenue in
    /// the earlier window.
    pub downgraded: u64,
    pub downgraded_revenue_before: f64,
    /// The segment order used (most valuable first).
    pub segment_order: Vec<String>,
}

/// Computes the migration from `config.migration.compare_as_of` to the run's as-of day;
/// registers `customers_before` and [`DOWNGRADED`]. None without a comparison day.
pub async fn migration(
    ctx: &SessionContext,
    config: &Config,
    window: &RfmWindow,
    model: &ModelParts<'_>,
) -> Result<Option<Migration>> {
    let Some(text) = &config.migration.compare_as_of else {
        return Ok(None);
    };
    let key = "migration.compare_as_of (--compare-as-of)";
    let day = parse_day(text).map_err(|message| Error::Config {
        key: key.into(),
        message,
    })?;
    if day >= window.as_of_day {
        return Err(Error::Config {
            key: key.into(),
            message: format!(
                "{} is not before the run's as-of day {}",
                format_day(day),
                window.as_of
            ),
        });
    }
    let customers_before = customers_before(ctx, config, day, window.window_days, model).await?;
    let order = &config.migration.segment_order;
    let segments = matrix(ctx, "rfm_segment", order).await?;
    let clusters = matrix(ctx, "cluster_label", model.labels).await?;
    let rows: Vec<String> = order
        .iter()
        .enumerate()
        .map(|(i, s)| format!("({}, {})", sql_string(s), i + 1))
        .collect();
    let sql = render(
        "migration_downgraded",
        MIGRATION_DOWNGRADED_SQL,
        &[("order", rows.join(", "))],
    )?;
    let downgraded = materialize(ctx, "migration_downgraded", &sql, DOWNGRADED).await?;
    let total = collect(
        ctx,
        "migration_downgraded",
        &format!(
            "SELECT CAST(coalesce(sum(CAST(revenue_before AS DECIMAL(18, 6))), 0) AS DOUBLE) \
             AS revenue FROM {DOWNGRADED}"
        ),
    )
    .await?;
    let downgraded_revenue_before = total
        .iter()
        .map(|b| f64_column(b, "revenue").map(|v| v.iter().sum::<f64>()))
        .sum::<Result<f64>>()?;
    Ok(Some(Migration {
        compare_as_of: format_day(day),
        as_of: window.as_of.clone(),
        window_days: window.window_days,
        customers_before,
        segments,
        clusters,
        downgraded,
        downgraded_revenue_before,
        segment_order: order.clone(),
    }))
}

/// The tables the scoring stages replace, put back after the earlier customers are made.
const REPLACED: [&str; 5] = ["rfm", "features", "scored", "clustered", "customers"];

/// Registers `customers_before`: the customers of the `window_days` days ending on
/// `day`, scored with the run's model. The run's tables are restored even on an error.
async fn customers_before(
    ctx: &SessionContext,
    config: &Config,
    day: i64,
    window_days: u32,
    model: &ModelParts<'_>,
) -> Result<u64> {
    let saved: Vec<(&str, Option<Arc<dyn TableProvider>>)> = REPLACED
        .iter()
        .map(|name| {
            Ok((
                *name,
                ctx.deregister_table(*name)
                    .map_err(|e| Error::stage("migration", e))?,
            ))
        })
        .collect::<Result<_>>()?;
    let scored = score_before(ctx, config, day, window_days, model).await;
    let before = ctx
        .deregister_table("customers")
        .map_err(|e| Error::stage("migration", e));
    for (name, provider) in saved {
        ctx.deregister_table(name)
            .map_err(|e| Error::stage("migration", e))?;
        if let Some(p) = provider {
            ctx.register_table(name, p)
                .map_err(|e| Error::stage("migration", e))?;
        }
    }
    let customers = scored?;
    let Some(before) = before? else {
        return Err(Error::Internal(
            "the earlier customers were not registered".into(),
        ));
    };
    ctx.deregister_table("customers_before")
        .map_err(|e| Error::stage("migration", e))?;
    ctx.register_table("customers_before", before)
        .map_err(|e| Error::stage("migration", e))?;
    Ok(customers)
}

/// The scoring stages of `rfmseg score` over the earlier window.
async fn score_before(
    ctx: &SessionContext,
    config: &Config,
    day: i64,
    window_days: u32,
    model: &ModelParts<'_>,
) -> Result<u64> {
    let customers = rfm_over(ctx, config, day, window_days, "rfm").await?;
    if customers == 0 {
        return Err(Error::BadInput {
            path: "purchases".into(),
            message: format!(
                "no customers in the window of {window_days} days ending on {}",
                format_day(day)
            ),
            hint: "pick a --compare-as-of day inside the data".into(),
        });
    }
    apply_scaler(ctx, config, model.scaler).await?;
    apply_thresholds(ctx, model.thresholds).await?;
    assign_clusters(ctx, model.centroids_z).await?;
    register_labels(ctx, model.labels).await?;
    Ok(customers)
}

/// The transition matrix of `dimension`, its groups in `order` (then new / gone).
async fn matrix(
    ctx: &SessionContext,
    dimension: &str,
    order: &[String],
) -> Result<MigrationMatrix> {
    let sql = render(
        "migration",
        MIGRATION_SQL,
        &[("dimension", dimension.to_string())],
    )?;
    let mut cells = Vec::new();
    for b in collect(ctx, "migration", &sql).await? {
        let (from, to) = (
            str_column(&b, "group_before")?,
            str_column(&b, "group_now")?,
        );
        let n = i64_column(&b, "customers")?;
        let (rb, rn) = (
            f64_column(&b, "revenue_before")?,
            f64_column(&b, "revenue_now")?,
        );
        for i in 0..b.num_rows() {
            cells.push(MigrationCell {
                from: from[i].clone(),
                to: to[i].clone(),
                customers: n[i] as u64,
                share_of_origin: 0.0,
                revenue_before: rb[i],
                revenue_now: rn[i],
            });
        }
    }
    let rank = |names: &[String], g: &str| names.iter().position(|n| n == g).unwrap_or(names.len());
    let mut from: Vec<String> = order.to_vec();
    from.push(NEW.into());
    let mut to: Vec<String> = order.to_vec();
    to.push(GONE.into());
    // Groups the order does not name (none for segments; labels are the run's) go last.
    for c in &cells {
        if !from.contains(&c.from) {
            from.push(c.from.clone());
        }
        if !to.contains(&c.to) {
            to.push(c.to.clone());
        }
    }
    cells.sort_by_key(|c| (rank(&from, &c.from), rank(&to, &c.to)));
    for i in 0..cells.len() {
        let origin: u64 = cells
            .iter()
            .filter(|c| c.from == cells[i].from)
            .map(|c| c.customers)
            .sum();
        cells[i].share_of_origin = cells[i].customers as f64 / origin.max(1) as f64;
    }
    // Only the groups that occur.
    from.retain(|g| cells.iter().any(|c| &c.from == g));
    to.retain(|g| cells.iter().any(|c| &c.to == g));
    Ok(MigrationMatrix { from, to, cells })
}

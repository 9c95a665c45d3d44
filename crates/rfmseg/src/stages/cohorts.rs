//! Acquisition cohorts (`run --cohorts week|month|quarter`): customers by the period of
//! their first counted purchase, and per later period how many of them purchased and what
//! they spent (sql/cohorts.sql).
//!
//! Place in the flow: purchases -> **cohorts** -> outputs (cohorts.csv, the report's
//! retention triangle). It reads the purchases, not the RFM window: a cohort is followed
//! from its first period to the as-of day.

use datafusion::prelude::SessionContext;
use serde::{Deserialize, Serialize};

use super::rfm::RfmWindow;
use crate::config::{CohortPeriod, Config};
use crate::error::Result;
use crate::exec::query::{collect, f64_column, i64_column, str_column};
use crate::exec::{render, sql_f64};

pub const COHORTS_SQL: &str = include_str!("../../../../sql/cohorts.sql");

/// One period of a cohort's life.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CohortCell {
    /// Periods since the cohort's own (0).
    pub index: i64,
    /// Customers of the cohort who purchased in the period.
    pub active: u64,
    /// `active` over the cohort's customers.
    pub share: f64,
    pub revenue: f64,
}

/// The customers first seen in one period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cohort {
    /// The first day of the period (YYYY-MM-DD).
    pub start: String,
    pub customers: u64,
    /// The index of the as-of day's period: the cohort's periods so far are 0..=observed.
    pub observed: i64,
    /// The periods with a purchase, in order (periods without one are absent).
    pub cells: Vec<CohortCell>,
}

/// The cohorts of a run, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cohorts {
    pub period: CohortPeriod,
    pub cohorts: Vec<Cohort>,
}

/// The period number of `day` (days since 1970-01-01) as SQL: consecutive periods differ by
/// one.
fn period_number(period: CohortPeriod) -> &'static str {
    match period {
        // 1970-01-01 was a Thursday: day + 3 counts from a Monday.
        CohortPeriod::Week | CohortPeriod::Off => "CAST(floor((day + 3) / 7.0) AS BIGINT)",
        CohortPeriod::Month => {
            "CAST(extract(year FROM to_timestamp_seconds(day * 86400)) * 12 \
             + extract(month FROM to_timestamp_seconds(day * 86400)) - 1 AS BIGINT)"
        }
        CohortPeriod::Quarter => {
            "CAST(extract(year FROM to_timestamp_seconds(day * 86400)) * 4 \
             + floor((extract(month FROM to_timestamp_seconds(day * 86400)) - 1) / 3) AS BIGINT)"
        }
    }
}

/// The cohorts up to the window's as-of day; None when `cohorts.period` is off.
pub async fn cohorts(
    ctx: &SessionContext,
    config: &Config,
    window: &RfmWindow,
) -> Result<Option<Cohorts>> {
    let period = config.cohorts.period;
    if period == CohortPeriod::Off {
        return Ok(None);
    }
    let sql = render(
        "cohorts",
        COHORTS_SQL,
        &[
            ("as_of", window.as_of_day.to_string()),
            ("min_amount", sql_f64(config.rfm.min_amount)),
            ("period", period.name().to_string()),
            ("period_number", period_number(period).to_string()),
        ],
    )?;
    let mut cohorts: Vec<Cohort> = Vec::new();
    for b in collect(ctx, "cohorts", &sql).await? {
        let (start, index) = (str_column(&b, "cohort")?, i64_column(&b, "period_index")?);
        let (active, revenue) = (i64_column(&b, "active")?, f64_column(&b, "revenue")?);
        let observed = i64_column(&b, "observed")?;
        for i in 0..b.num_rows() {
            if cohorts.last().is_none_or(|c| c.start != start[i]) {
                cohorts.push(Cohort {
                    start: start[i].clone(),
                    customers: 0,
                    observed: observed[i],
                    cells: Vec::new(),
                });
            }
            let c = cohorts.last_mut().expect("pushed");
            c.cells.push(CohortCell {
                index: index[i],
                active: active[i].max(0) as u64,
                share: 0.0,
                revenue: revenue[i],
            });
        }
    }
    for c in &mut cohorts {
        // Every customer purchased in the cohort's own period.
        c.customers = c
            .cells
            .iter()
            .find(|p| p.index == 0)
            .map_or(0, |p| p.active);
        for p in &mut c.cells {
            p.share = p.active as f64 / c.customers.max(1) as f64;
        }
    }
    Ok(Some(Cohorts { period, cohorts }))
}

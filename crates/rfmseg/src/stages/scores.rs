//! R/F/M scores 1-5 and the RFM segment of every customer: by quantile or ntile over the
//! customers (sql/rfm_quantile.sql, sql/rfm_ntile.sql), the thresholds that scoring put
//! between the scores (sql/score_thresholds.sql, saved in model.json), and scores for new
//! customers from saved thresholds (sql/score_rfm.sql, for `score`), so a saved model
//! scores new data exactly as it scored its own; then the segment (sql/rfm_segments.sql).
//!
//! Place in the flow: features -> **scores** -> segments.

use datafusion::prelude::SessionContext;

use crate::config::{Config, ScoreMethod};
use crate::error::Result;
use crate::exec::query::{collect, f64_column, i64_column, materialize, register_view, str_column};
use crate::exec::{render, sql_f64};
use serde::{Deserialize, Serialize};

pub const RFM_QUANTILE_SQL: &str = include_str!("../../../../sql/rfm_quantile.sql");
pub const RFM_NTILE_SQL: &str = include_str!("../../../../sql/rfm_ntile.sql");
pub const RFM_SEGMENTS_SQL: &str = include_str!("../../../../sql/rfm_segments.sql");
pub const SCORE_THRESHOLDS_SQL: &str = include_str!("../../../../sql/score_thresholds.sql");
pub const SCORE_RFM_SQL: &str = include_str!("../../../../sql/score_rfm.sql");

/// R, F, M score thresholds. `r[i]`: the largest recency that earns score i + 2 or more;
/// `f[i]`, `m[i]`: the smallest frequency or monetary value that earns score i + 2 or
/// more. A score no customer reached has an unreachable threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreThresholds {
    pub r: [f64; 4],
    pub f: [f64; 4],
    pub m: [f64; 4],
}

impl ScoreThresholds {
    /// From (measure, score, lo, hi) rows: the values each score covered.
    pub fn from_ranges(rows: &[(String, u8, f64, f64)]) -> ScoreThresholds {
        let mut t = ScoreThresholds {
            r: [-1.0; 4],
            f: [f64::MAX; 4],
            m: [f64::MAX; 4],
        };
        for s in 2..=5u8 {
            let i = (s - 2) as usize;
            let at_least = |m: &'static str| rows.iter().filter(move |r| r.0 == m && r.1 >= s);
            if let Some(v) = at_least("r").map(|r| r.3).reduce(f64::max) {
                t.r[i] = v;
            }
            if let Some(v) = at_least("f").map(|r| r.2).reduce(f64::min) {
                t.f[i] = v;
            }
            if let Some(v) = at_least("m").map(|r| r.2).reduce(f64::min) {
                t.m[i] = v;
            }
        }
        t
    }
}

/// Registers `customers`: features plus r_score, f_score, m_score and rfm_segment.
pub async fn scores(ctx: &SessionContext, config: &Config) -> Result<u64> {
    let (stage, sql) = match config.features.score_method {
        ScoreMethod::Quantile => ("rfm_quantile", RFM_QUANTILE_SQL),
        ScoreMethod::Ntile => ("rfm_ntile", RFM_NTILE_SQL),
    };
    register_view(ctx, stage, sql, "scored").await?;
    materialize(ctx, "rfm_segments", RFM_SEGMENTS_SQL, "customers").await
}

/// The score thresholds of the scored `customers`.
pub async fn score_thresholds(ctx: &SessionContext) -> Result<ScoreThresholds> {
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

/// Scores the scaled customers (`features`) with saved thresholds and registers them,
/// with their RFM segments, as `customers`.
pub async fn apply_thresholds(ctx: &SessionContext, thresholds: &ScoreThresholds) -> Result<()> {
    let t = thresholds;
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_cover_missing_scores() {
        // F: 70% have 1 purchase (score 1), 2 purchases got score 4, 3+ got 5.
        let rows = vec![
            ("f".to_string(), 1, 1.0, 1.0),
            ("f".to_string(), 4, 2.0, 2.0),
            ("f".to_string(), 5, 3.0, 9.0),
            ("r".to_string(), 1, 300.0, 365.0),
            ("r".to_string(), 3, 100.0, 299.0),
            ("r".to_string(), 5, 1.0, 99.0),
            ("m".to_string(), 1, 1.0, 9.0),
        ];
        let t = ScoreThresholds::from_ranges(&rows);
        assert_eq!(t.f, [2.0, 2.0, 2.0, 3.0]);
        assert_eq!(t.r, [299.0, 299.0, 99.0, 99.0]);
        assert_eq!(t.m, [f64::MAX; 4]);
        let score_f = |v: f64| 1 + t.f.iter().filter(|&&x| v >= x).count();
        assert_eq!([score_f(1.0), score_f(2.0), score_f(7.0)], [1, 4, 5]);
        let score_r = |v: f64| 1 + t.r.iter().filter(|&&x| v <= x).count();
        assert_eq!([score_r(365.0), score_r(150.0), score_r(3.0)], [1, 3, 5]);
    }
}

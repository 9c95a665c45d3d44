//! The k-means queries: each is a file in sql/, run over `kmeans_input`, returning only
//! k x d numbers (or a small sample) to the driver. Nothing here reads customer rows one
//! by one, so the same driver runs embedded or against a Ballista cluster.

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type};
use datafusion::prelude::SessionContext;
use rfmseg_udfs::format_centroids;

use crate::error::{Error, Result};
use crate::stages::{collect, one_row, render, sql_f64, sql_string};

pub const KMEANS_STEP_SQL: &str = include_str!("../../../../sql/kmeans_step.sql");
pub const KMEANS_COST_SQL: &str = include_str!("../../../../sql/kmeans_cost.sql");
pub const KMEANS_FIRST_CENTRE_SQL: &str = include_str!("../../../../sql/kmeans_first_centre.sql");
pub const KMEANS_SAMPLE_SQL: &str = include_str!("../../../../sql/kmeans_sample.sql");
pub const KMEANS_DISTINCT_POINTS_SQL: &str =
    include_str!("../../../../sql/kmeans_distinct_points.sql");
pub const SILHOUETTE_SQL: &str = include_str!("../../../../sql/silhouette.sql");
pub const SILHOUETTE_SAMPLE_SQL: &str = include_str!("../../../../sql/silhouette_sample.sql");
pub const KMEANS_ASSIGN_SQL: &str = include_str!("../../../../sql/kmeans_assign.sql");

/// The number of model inputs (recency, ln1p frequency, ln1p monetary).
pub const D: usize = 3;

/// The result of one `kmeans_step` pass.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// k x D coordinate sums, row-major.
    pub sums: Vec<f64>,
    pub counts: Vec<f64>,
    /// Per centre, the sum of squared norms of its rows.
    pub sumsq: Vec<f64>,
    pub cost: f64,
}

impl Step {
    /// The per-cluster statistics the silhouette needs: count, sums, sum of squares.
    pub fn stats(&self) -> Vec<f64> {
        let k = self.counts.len();
        let mut out = Vec::with_capacity(k * (D + 2));
        for c in 0..k {
            out.push(self.counts[c]);
            out.extend_from_slice(&self.sums[c * D..(c + 1) * D]);
            out.push(self.sumsq[c]);
        }
        out
    }

    pub fn rows(&self) -> f64 {
        self.counts.iter().sum()
    }
}

/// The centres as the SQL literal the UDFs parse.
pub fn centroids_literal(centres: &[f64]) -> String {
    sql_string(&format_centroids(centres))
}

/// Runs the k-means queries on one session.
pub struct Queries<'a> {
    pub ctx: &'a SessionContext,
}

impl Queries<'_> {
    async fn rows(&self, stage: &str, sql: &str) -> Result<Vec<RecordBatch>> {
        collect(self.ctx, stage, sql).await
    }

    /// One pass of `kmeans_step` over the mini-batches `lo..=hi`.
    pub async fn step(&self, centres: &[f64], lo: u32, hi: u32) -> Result<Step> {
        let k = centres.len() / D;
        let sql = render(
            "kmeans_step",
            KMEANS_STEP_SQL,
            &[
                ("centroids", centroids_literal(centres)),
                ("batch_lo", lo.to_string()),
                ("batch_hi", hi.to_string()),
            ],
        )?;
        let row = one_row(self.ctx, "kmeans_step", &sql).await?;
        let list = row.column(0).as_list::<i32>();
        if list.is_null(0) {
            return Ok(Step {
                sums: vec![0.0; k * D],
                counts: vec![0.0; k],
                sumsq: vec![0.0; k],
                cost: 0.0,
            });
        }
        let values = list.value(0);
        let v = values.as_primitive::<Float64Type>().values();
        if v.len() != k * D + 2 * k + 1 {
            return Err(Error::Internal(format!(
                "kmeans_step returned {} values, expected {}",
                v.len(),
                k * D + 2 * k + 1
            )));
        }
        Ok(Step {
            sums: v[..k * D].to_vec(),
            counts: v[k * D..k * D + k].to_vec(),
            sumsq: v[k * D + k..k * D + 2 * k].to_vec(),
            cost: v[k * D + 2 * k],
        })
    }

    /// WCSS of all rows for `centres`.
    pub async fn cost(&self, centres: &[f64]) -> Result<f64> {
        let sql = render(
            "kmeans_cost",
            KMEANS_COST_SQL,
            &[("centroids", centroids_literal(centres))],
        )?;
        let row = one_row(self.ctx, "kmeans_cost", &sql).await?;
        Ok(row.column(0).as_primitive::<Float64Type>().value(0))
    }

    /// The seeded first k-means|| centre.
    pub async fn first_centre(&self, seed: u64) -> Result<Vec<f64>> {
        let sql = render(
            "kmeans_first_centre",
            KMEANS_FIRST_CENTRE_SQL,
            &[("seed", seed.to_string())],
        )?;
        let pts = points(&self.rows("kmeans_first_centre", &sql).await?)?;
        if pts.is_empty() {
            return Err(Error::BadInput {
                path: "kmeans_input".into(),
                message: "no customers to cluster".into(),
                hint: "see the data-quality table and the RFM window".into(),
            });
        }
        Ok(pts)
    }

    /// One k-means|| sampling round; returns the sampled points, row-major.
    pub async fn sample(
        &self,
        centres: &[f64],
        seed: u64,
        round: u32,
        l: f64,
        cost: f64,
    ) -> Result<Vec<f64>> {
        let sql = render(
            "kmeans_sample",
            KMEANS_SAMPLE_SQL,
            &[
                ("centroids", centroids_literal(centres)),
                ("seed", (seed as i64).to_string()),
                ("round", round.to_string()),
                ("l", sql_f64(l)),
                ("cost", sql_f64(cost)),
            ],
        )?;
        points(&self.rows("kmeans_sample", &sql).await?)
    }

    /// Up to `limit` distinct points, row-major, in a fixed order.
    pub async fn distinct_points(&self, limit: usize) -> Result<Vec<f64>> {
        let sql = render(
            "kmeans_distinct_points",
            KMEANS_DISTINCT_POINTS_SQL,
            &[("limit", limit.to_string())],
        )?;
        points(&self.rows("kmeans_distinct_points", &sql).await?)
    }

    /// Spark's squared-Euclidean silhouette over all rows.
    pub async fn silhouette(&self, centres: &[f64], stats: &[f64]) -> Result<f64> {
        let sql = render(
            "silhouette",
            SILHOUETTE_SQL,
            &[
                ("centroids", centroids_literal(centres)),
                ("stats", sql_string(&format_centroids(stats))),
            ],
        )?;
        let row = one_row(self.ctx, "silhouette", &sql).await?;
        Ok(row.column(0).as_primitive::<Float64Type>().value(0))
    }

    /// The seeded silhouette sample, row-major.
    pub async fn silhouette_sample(&self, seed: u64, size: u32) -> Result<Vec<f64>> {
        let sql = render(
            "silhouette_sample",
            SILHOUETTE_SAMPLE_SQL,
            &[("seed", seed.to_string()), ("size", size.to_string())],
        )?;
        points(&self.rows("silhouette_sample", &sql).await?)
    }
}

/// Rows of (recency_z, frequency_z, monetary_z) as one row-major vector.
fn points(batches: &[RecordBatch]) -> Result<Vec<f64>> {
    let mut out = Vec::new();
    for b in batches {
        let cols: Vec<_> = (0..D)
            .map(|c| arrow::compute::cast(b.column(c), &DataType::Float64))
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| Error::Internal(e.to_string()))?;
        for i in 0..b.num_rows() {
            for c in &cols {
                let a = c.as_primitive::<Float64Type>();
                if a.is_null(i) {
                    return Err(Error::Internal("a feature value is NULL".into()));
                }
                out.push(a.value(i));
            }
        }
    }
    Ok(out)
}

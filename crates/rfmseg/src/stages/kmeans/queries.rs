//! The k-means queries: each is a file in sql/, run over `kmeans_input`, returning only
//! k x d numbers (or a small sample) to the driver. Nothing here reads customer rows one
//! by one, so the same driver runs embedded or against a Ballista cluster.
//!
//! The aggregates (a Lloyd step, a cost, a silhouette) that concurrent fits ask for at the
//! same time are gathered into one query, `sql/kmeans_round.sql`: on a cluster each query
//! is a job with a fixed cost of tens of milliseconds, and a k sweep would otherwise be
//! ~200 of them. Every aggregate is exact whatever else shares its query, so gathering
//! never changes a result.

use std::sync::{Arc, Mutex};

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type};
use datafusion::prelude::SessionContext;
use rfmseg_udfs::format_centroids;
use tokio::sync::oneshot;

use crate::error::{Error, Result};
use crate::exec::query::{
    collect, f64_column, f64_list, get_i64, i64_column, one_row_checked, str_column,
};
use crate::exec::{render, sql_f64, sql_string};

pub const KMEANS_ROUND_SQL: &str = include_str!("../../../../../sql/kmeans_round.sql");
pub const KMEANS_START_SQL: &str = include_str!("../../../../../sql/kmeans_start.sql");
pub const KMEANS_SAMPLE_SQL: &str = include_str!("../../../../../sql/kmeans_sample.sql");
pub const KMEANS_DISTINCT_POINTS_SQL: &str =
    include_str!("../../../../../sql/kmeans_distinct_points.sql");

/// The number of model inputs (recency, ln1p frequency, ln1p monetary).
pub const D: usize = 3;

/// What k-means starts from (sql/kmeans_start.sql).
#[derive(Debug, Clone, PartialEq)]
pub struct Start {
    /// The seeded first k-means|| centre.
    pub first_centre: Vec<f64>,
    /// The seeded sample, row-major: its first `silhouette_sample` rows are the
    /// silhouette sample, all of it the init sample.
    pub sample: Vec<f64>,
    /// Distinct feature vectors, counted up to the limit asked for (exact below it).
    pub distinct: u64,
}

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

/// The model inputs, in the order the UDFs take them.
const FEATURES: &str = "recency_z, frequency_z, monetary_z";

/// Runs the k-means queries on one session.
pub struct Queries<'a> {
    pub ctx: &'a SessionContext,
    round: Round,
    /// Rows of `kmeans_input`, when known: every round checks that it saw exactly these.
    rows: Option<u64>,
}

/// The aggregates asked for and not yet taken by a query. In lockstep (a k sweep), a
/// round runs when every fit still running has asked: the last asker runs it for all, so
/// a sweep costs as many queries as its longest fit has steps. Otherwise the first asker
/// leads: it lets other askers (polled by the same task) add theirs, then runs them.
#[derive(Default)]
struct Round {
    pending: Mutex<Pending>,
}

#[derive(Default)]
struct Pending {
    aggregates: Vec<(String, oneshot::Sender<Answer>)>,
    leader: bool,
    /// Fits in lockstep that have not finished; 0 when not in lockstep.
    running: usize,
}

/// One aggregate's column of the round's row, or the round's error, shared.
type Answer = std::result::Result<ArrayRef, Arc<Error>>;

/// How often a round's leader yields before it runs the query: enough for every fit
/// woken by the previous round to reach its next aggregate.
const GATHER_YIELDS: usize = 4;

impl<'a> Queries<'a> {
    pub fn new(ctx: &'a SessionContext) -> Self {
        Queries {
            ctx,
            round: Round::default(),
            rows: None,
        }
    }

    /// Every round also counts its rows and fails (on a cluster: is resubmitted) unless
    /// they are `rows`, the size of `kmeans_input`.
    pub fn expecting_rows(mut self, rows: u64) -> Self {
        self.rows = Some(rows);
        self
    }

    /// Puts the next `fits` fits in lockstep: each round waits until all of them have
    /// asked for their aggregate, and each fit calls [`Self::finished`] when it is done.
    /// A fit may run another query meanwhile (the round then waits for it), but must not
    /// wait for anything that waits for the round.
    pub fn lockstep(&self, fits: usize) {
        self.round
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .running = fits;
    }

    /// A fit in lockstep is done (or failed): the rounds stop waiting for it, and if the
    /// others have all asked, the round they are waiting for runs now.
    pub async fn finished(&self) {
        let taken = {
            let mut p = self.round.pending.lock().unwrap_or_else(|e| e.into_inner());
            p.running = p.running.saturating_sub(1);
            if p.running > 0 && p.aggregates.len() >= p.running {
                std::mem::take(&mut p.aggregates)
            } else {
                Vec::new()
            }
        };
        if !taken.is_empty() {
            self.run_round(taken).await;
        }
    }

    async fn rows(&self, stage: &str, sql: &str) -> Result<Vec<RecordBatch>> {
        collect(self.ctx, stage, sql).await
    }

    /// The value of one aggregate expression over `kmeans_input`, computed in the next
    /// round with whatever the other fits ask for meanwhile.
    async fn aggregate(&self, expression: String) -> Result<ArrayRef> {
        let (tx, rx) = oneshot::channel();
        let (lead, all) = {
            let mut p = self.round.pending.lock().unwrap_or_else(|e| e.into_inner());
            p.aggregates.push((expression, tx));
            if p.running > 0 {
                let all = p.aggregates.len() >= p.running;
                (false, all.then(|| std::mem::take(&mut p.aggregates)))
            } else {
                (!std::mem::replace(&mut p.leader, true), None)
            }
        };
        if let Some(taken) = all {
            self.run_round(taken).await;
        } else if lead {
            for _ in 0..GATHER_YIELDS {
                tokio::task::yield_now().await;
            }
            let taken = {
                let mut p = self.round.pending.lock().unwrap_or_else(|e| e.into_inner());
                p.leader = false;
                std::mem::take(&mut p.aggregates)
            };
            self.run_round(taken).await;
        }
        match rx.await {
            Ok(Ok(column)) => Ok(column),
            Ok(Err(e)) => Err(Arc::try_unwrap(e).unwrap_or_else(Error::Shared)),
            Err(_) => Err(Error::Internal(
                "a k-means round ended without an answer".into(),
            )),
        }
    }

    /// [`Self::aggregate`] for an aggregate that returns one Float64.
    async fn aggregate_f64(&self, expression: String) -> Result<f64> {
        let column = self.aggregate(expression).await?;
        Ok(column.as_primitive::<Float64Type>().value(0))
    }

    /// One query for the gathered aggregates; identical ones (fits of different k start
    /// from the same first centre) are computed once.
    async fn run_round(&self, taken: Vec<(String, oneshot::Sender<Answer>)>) {
        let mut unique: Vec<&str> = Vec::new();
        let mut column = Vec::with_capacity(taken.len());
        for (expression, _) in &taken {
            let i = match unique.iter().position(|u| u == expression) {
                Some(i) => i,
                None => {
                    unique.push(expression);
                    unique.len() - 1
                }
            };
            column.push(i);
        }
        let list = unique
            .iter()
            .enumerate()
            .map(|(i, e)| format!("{e} AS a{i}"))
            .collect::<Vec<_>>()
            .join(",\n       ");
        tracing::debug!(
            aggregates = taken.len(),
            distinct = unique.len(),
            "k-means round"
        );
        let row: std::result::Result<RecordBatch, Arc<Error>> = async {
            let list = format!("{list},\n       count(*) AS round_rows");
            let sql = render("kmeans_round", KMEANS_ROUND_SQL, &[("aggregates", list)])?;
            one_row_checked(self.ctx, "kmeans_round", &sql, |row| {
                let seen = get_i64(row, "round_rows")
                    .map_err(|e| e.to_string())?
                    .unwrap_or(0);
                match self.rows {
                    Some(rows) if seen as u64 != rows => Err(format!(
                        "a k-means round saw {seen} customers, kmeans_input has {rows}"
                    )),
                    _ => Ok(()),
                }
            })
            .await
        }
        .await
        .map_err(Arc::new);
        for ((_, tx), i) in taken.into_iter().zip(column) {
            let answer = match &row {
                Ok(row) => Ok(Arc::clone(row.column(i))),
                Err(e) => Err(Arc::clone(e)),
            };
            // The asker may be gone (its sweep failed elsewhere); nothing to tell it then.
            let _ = tx.send(answer);
        }
    }

    /// One pass of `kmeans_step` over the mini-batches `lo..=hi`.
    pub async fn step(&self, centres: &[f64], lo: u32, hi: u32) -> Result<Step> {
        let k = centres.len() / D;
        let filter = if lo == 0 && hi == u32::MAX {
            String::new()
        } else {
            format!(" FILTER (WHERE batch BETWEEN {lo} AND {hi})")
        };
        let column = self
            .aggregate(format!(
                "kmeans_step({}, {FEATURES}){filter}",
                centroids_literal(centres)
            ))
            .await?;
        let Some(v) = f64_list(&column, "kmeans_step", k * D + 2 * k + 1)? else {
            return Ok(Step {
                sums: vec![0.0; k * D],
                counts: vec![0.0; k],
                sumsq: vec![0.0; k],
                cost: 0.0,
            });
        };
        Ok(Step {
            sums: v[..k * D].to_vec(),
            counts: v[k * D..k * D + k].to_vec(),
            sumsq: v[k * D + k..k * D + 2 * k].to_vec(),
            cost: v[k * D + 2 * k],
        })
    }

    /// WCSS of all rows for `centres`.
    pub async fn cost(&self, centres: &[f64]) -> Result<f64> {
        self.aggregate_f64(format!(
            "kmeans_cost({}, {FEATURES})",
            centroids_literal(centres)
        ))
        .await
    }

    /// What k-means needs before its first round, in one query (sql/kmeans_start.sql).
    pub async fn start(&self, seed: u64, sample_size: u32, distinct_limit: usize) -> Result<Start> {
        const STAGE: &str = "kmeans_start";
        let sql = render(
            STAGE,
            KMEANS_START_SQL,
            &[
                ("seed", seed.to_string()),
                ("size", sample_size.to_string()),
                ("limit", distinct_limit.to_string()),
            ],
        )?;
        let mut rows: Vec<(i64, i64, String, [f64; D])> = Vec::new();
        for b in self.rows(STAGE, &sql).await? {
            let part = i64_column(&b, "part")?;
            let h = i64_column(&b, "h")?;
            let id = str_column(&b, "customer_id")?;
            let z: Vec<Vec<f64>> = ["recency_z", "frequency_z", "monetary_z"]
                .iter()
                .map(|c| f64_column(&b, c))
                .collect::<Result<_>>()?;
            for i in 0..b.num_rows() {
                rows.push((part[i], h[i], id[i].clone(), [z[0][i], z[1][i], z[2][i]]));
            }
        }
        rows.sort_by(|a, b| (a.0, a.1, &a.2).cmp(&(b.0, b.1, &b.2)));
        let points = |part: i64| -> Result<Vec<f64>> {
            let mut out = Vec::new();
            for (_, _, _, p) in rows.iter().filter(|r| r.0 == part) {
                if p.iter().any(|v| v.is_nan()) {
                    return Err(Error::Internal("a feature value is NULL".into()));
                }
                out.extend_from_slice(p);
            }
            Ok(out)
        };
        let first_centre = points(0)?;
        if first_centre.is_empty() {
            return Err(Error::BadInput {
                path: "kmeans_input".into(),
                message: "no customers to cluster".into(),
                hint: "see the data-quality table and the RFM window".into(),
            });
        }
        let distinct = rows
            .iter()
            .find(|r| r.0 == 2)
            .map_or(0, |r| r.1.max(0) as u64);
        Ok(Start {
            first_centre,
            sample: points(1)?,
            distinct,
        })
    }

    /// One k-means|| sampling round; returns the sampled points, row-major. An aggregate
    /// of the round, so a sweep's fits sample in one query.
    pub async fn sample(
        &self,
        centres: &[f64],
        seed: u64,
        round: u32,
        l: f64,
        cost: f64,
    ) -> Result<Vec<f64>> {
        let expression = render(
            "kmeans_sample",
            &sql_body(KMEANS_SAMPLE_SQL),
            &[
                ("centroids", centroids_literal(centres)),
                ("seed", (seed as i64).to_string()),
                ("round", round.to_string()),
                ("l", sql_f64(l)),
                ("cost", sql_f64(cost)),
            ],
        )?;
        let column = self.aggregate(expression).await?;
        let bad = |what: &str| Error::Internal(format!("stage kmeans_sample: {what}"));
        let list = column
            .as_list_opt::<i32>()
            .ok_or_else(|| bad("the result is not a list"))?;
        if list.is_null(0) {
            return Ok(Vec::new());
        }
        let drawn = list.value(0);
        let drawn = drawn
            .as_struct_opt()
            .filter(|s| s.num_columns() == D + 1)
            .ok_or_else(|| bad("a drawn row is not (customer_id, point)"))?;
        let ids = arrow::compute::cast(drawn.column(0), &DataType::Utf8)
            .map_err(|e| bad(&e.to_string()))?;
        let ids = ids.as_string::<i32>();
        let coords: Vec<ArrayRef> = (1..=D)
            .map(|c| arrow::compute::cast(drawn.column(c), &DataType::Float64))
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| bad(&e.to_string()))?;
        let mut rows: Vec<(&str, [f64; D])> = Vec::with_capacity(drawn.len());
        for i in 0..drawn.len() {
            let mut p = [0.0; D];
            for (t, c) in coords.iter().enumerate() {
                if c.is_null(i) {
                    return Err(bad("a feature value is NULL"));
                }
                p[t] = c.as_primitive::<Float64Type>().value(i);
            }
            rows.push((ids.value(i), p));
        }
        rows.sort_by(|a, b| a.0.cmp(b.0));
        Ok(rows.into_iter().flat_map(|(_, p)| p).collect())
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
        self.aggregate_f64(format!(
            "kmeans_silhouette({}, {}, {FEATURES})",
            centroids_literal(centres),
            centroids_literal(stats)
        ))
        .await
    }
}

/// A SQL fragment file without its comment lines, to splice into a round's SELECT list.
fn sql_body(file: &str) -> String {
    file.lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n")
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

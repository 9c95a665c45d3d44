//! The pipeline's SQL stages. Each stage is a file in `sql/`, loaded with `include_str!`,
//! its `{{parameters}}` bound from [`Config`](crate::Config), its result registered under
//! the stage's name. One module per step: [`clean`] (lake -> cleaned, with the
//! data-quality table), [`rfm`] (cleaned -> purchases -> RFM -> scaled features and
//! score segments).

pub mod clean;
pub mod rfm;

pub use clean::{ITEM_DROP_REASONS, REVIEW_DROP_REASONS, clean, clean_items, clean_reviews};

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Array, AsArray, BooleanArray, RecordBatch};
use arrow::compute::{cast, filter_record_batch, is_null};
use arrow::datatypes::{DataType, SchemaRef};
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::datasource::MemTable;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use futures::StreamExt;

use crate::cluster::client::{SharedWorkDir, shared_work_dir};

use crate::error::{Error, Result};

/// Replaces each `{{name}}` with its value; every placeholder must be bound.
pub fn render(stage: &str, template: &str, params: &[(&str, String)]) -> Result<String> {
    let mut sql = template.to_string();
    for (name, value) in params {
        sql = sql.replace(&format!("{{{{{name}}}}}"), value);
    }
    if let Some(at) = sql.find("{{") {
        let rest = &sql[at..];
        let end = rest.find("}}").map_or(rest.len(), |e| e + 2);
        return Err(Error::Internal(format!(
            "stage {stage}: parameter {} is not bound",
            &rest[..end]
        )));
    }
    Ok(sql)
}

/// A SQL string literal: 'it''s'.
pub fn sql_string(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A comma-separated list of string literals, for `IN (...)`. An empty list becomes one
/// NULL, which matches nothing (SQL does not allow `IN ()`).
pub fn sql_string_list<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> String {
    let list: Vec<String> = items.into_iter().map(|s| sql_string(s.as_ref())).collect();
    if list.is_empty() {
        "NULL".to_string()
    } else {
        list.join(", ")
    }
}

/// A float literal that SQL reads back to the same f64.
pub fn sql_f64(v: f64) -> String {
    let s = format!("{v:?}");
    if s.contains(['.', 'e', 'E']) {
        s
    } else {
        format!("{s}.0")
    }
}

pub(crate) async fn count_rows(ctx: &SessionContext, stage: &str, table: &str) -> Result<u64> {
    on_cluster(ctx, stage, || async {
        let df = ctx.table(table).await.map_err(|e| Error::stage(stage, e))?;
        df.count()
            .await
            .map(|n| n as u64)
            .map_err(|e| Error::stage(stage, e))
    })
    .await
}

/// Runs one query (`attempt`) with the cluster's deadline. Ballista 55 can leave a job
/// running forever when an executor is lost at the wrong moment (a stage rolled back
/// while a retried task reports in); every rfmseg query is idempotent (a materialized
/// table goes to a fresh folder each attempt), so a query past its deadline is dropped
/// and resubmitted once, and the command fails with an error if that one also stalls.
/// Embedded, the query just runs.
pub async fn on_cluster<T, Fut>(
    ctx: &SessionContext,
    stage: &str,
    mut attempt: impl FnMut() -> Fut,
) -> Result<T>
where
    Fut: std::future::Future<Output = Result<T>>,
{
    let Some(work) = shared_work_dir(ctx) else {
        return attempt().await;
    };
    let limit = work.query_timeout();
    let mut lost = String::new();
    for n in 1..=2 {
        match tokio::time::timeout(limit, attempt()).await {
            Ok(Err(e)) if executor_lost(&e) => {
                tracing::warn!(stage, attempt = n, error = %e, "an executor was lost during the query");
                lost = e.to_string();
            }
            Ok(result) => return result,
            Err(_) => {
                tracing::warn!(
                    stage,
                    attempt = n,
                    seconds = limit.as_secs(),
                    "query did not finish on the cluster in time"
                );
                lost.clear();
            }
        }
    }
    let message = if lost.is_empty() {
        format!(
            "the query did not finish within {} s, twice; nothing was written",
            limit.as_secs()
        )
    } else {
        format!("an executor could not be reached, twice; nothing was written ({lost})")
    };
    Err(Error::Cluster {
        url: format!("stage {stage}"),
        message,
        hint: "an executor was probably lost and the scheduler could not recover the job: \
               check the executors and rerun; if the query is only slow, raise --query-timeout"
            .into(),
    })
}

/// An error that says an executor went away (its results or shuffle files could not be
/// fetched), not that the query is wrong: worth one resubmission.
fn executor_lost(e: &Error) -> bool {
    let text = e.to_string();
    [
        "GrpcConnectionError",
        "tcp connect error",
        "Shuffle fetch partition error",
        RERUN_LEFTOVERS,
    ]
    .iter()
    .any(|s| text.contains(s))
}

/// The output of a flagging query: the kept rows (drop_reason NULL), per partition, and
/// the counts of every reason and flag.
pub(crate) struct Flagged {
    pub(crate) rows: u64,
    kept_rows: Kept,
    /// (column, value) -> rows, over all rows.
    all: BTreeMap<(String, String), u64>,
    /// (column, value) -> rows, over the kept rows.
    kept: BTreeMap<(String, String), u64>,
}

impl Flagged {
    pub(crate) fn reason(&self, reason: &str) -> u64 {
        self.all
            .get(&("drop_reason".to_string(), reason.to_string()))
            .copied()
            .unwrap_or(0)
    }
    pub(crate) fn flag(&self, column: &str) -> u64 {
        self.all
            .get(&(column.to_string(), "true".to_string()))
            .copied()
            .unwrap_or(0)
    }
    pub(crate) fn kept_value(&self, column: &str, value: &str) -> u64 {
        self.kept
            .get(&(column.to_string(), value.to_string()))
            .copied()
            .unwrap_or(0)
    }
    /// Registers the kept rows under `stage` and returns their number.
    pub(crate) async fn register(self, ctx: &SessionContext, stage: &str) -> Result<u64> {
        match self.kept_rows {
            Kept::Memory { schema, partitions } => {
                let kept: u64 = partitions
                    .iter()
                    .flatten()
                    .map(|b| b.num_rows() as u64)
                    .sum();
                let table =
                    MemTable::try_new(schema, partitions).map_err(|e| Error::stage(stage, e))?;
                ctx.deregister_table(stage)
                    .map_err(|e| Error::stage(stage, e))?;
                ctx.register_table(stage, Arc::new(table))
                    .map_err(|e| Error::stage(stage, e))?;
                Ok(kept)
            }
            Kept::Shared { view, rows } => {
                register_view(ctx, stage, &view, stage).await?;
                Ok(rows)
            }
        }
    }
}

/// Where the kept rows of a flagging query are: in memory (embedded), or in the
/// flagged table on the shared work folder, behind a filtering view (cluster).
enum Kept {
    Memory {
        schema: SchemaRef,
        partitions: Vec<Vec<RecordBatch>>,
    },
    Shared {
        view: String,
        rows: u64,
    },
}

/// Runs a query whose rows carry `drop_reason` (and boolean `*_fixed` flags), counting
/// reasons and flags over all rows and `kept_counts` columns over the kept rows, and
/// keeping the rows with no drop reason, projected to `keep`. One pass: the query (and
/// its DISTINCT) runs once, each partition in its own task.
pub(crate) async fn flag_and_keep(
    ctx: &SessionContext,
    stage: &str,
    sql: &str,
    keep: &[&str],
    kept_counts: &[&str],
) -> Result<Flagged> {
    if shared_work_dir(ctx).is_some() {
        return flag_and_keep_shared(ctx, stage, sql, keep, kept_counts).await;
    }
    let df = ctx.sql(sql).await.map_err(|e| Error::stage(stage, e))?;
    let schema = df.schema().as_arrow().clone();
    let indices: Vec<usize> = keep
        .iter()
        .map(|c| {
            schema
                .index_of(c)
                .map_err(|_| Error::Internal(format!("stage {stage}: no column {c}")))
        })
        .collect::<Result<_>>()?;
    let out_schema = Arc::new(
        schema
            .project(&indices)
            .map_err(|e| Error::Internal(e.to_string()))?,
    );
    let streams = df
        .execute_stream_partitioned()
        .await
        .map_err(|e| Error::stage(stage, e))?;
    let mut tasks = tokio::task::JoinSet::new();
    for (i, stream) in streams.into_iter().enumerate() {
        let indices = indices.clone();
        let kept_counts: Vec<String> = kept_counts.iter().map(|s| s.to_string()).collect();
        tasks.spawn(async move { (i, tally_partition(stream, &indices, &kept_counts).await) });
    }
    let mut parts = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (i, res) = joined.map_err(|e| Error::Internal(format!("stage {stage}: {e}")))?;
        parts.push((i, res.map_err(|e| Error::stage(stage, e))?));
    }
    parts.sort_by_key(|(i, _)| *i);
    let mut flagged = Flagged {
        rows: 0,
        kept_rows: Kept::Memory {
            schema: out_schema,
            partitions: Vec::new(),
        },
        all: BTreeMap::new(),
        kept: BTreeMap::new(),
    };
    let mut partitions = Vec::new();
    for (_, p) in parts {
        flagged.rows += p.rows;
        for (k, v) in p.all {
            *flagged.all.entry(k).or_default() += v;
        }
        for (k, v) in p.kept {
            *flagged.kept.entry(k).or_default() += v;
        }
        partitions.push(p.batches);
    }
    if let Kept::Memory { partitions: p, .. } = &mut flagged.kept_rows {
        *p = partitions;
    }
    Ok(flagged)
}

/// [`flag_and_keep`] on a cluster: the executors write every flagged row to the shared
/// work folder, one GROUP BY counts the reasons and flags there, and the kept rows are a
/// view over that table. Nothing but the counts comes back to the client.
async fn flag_and_keep_shared(
    ctx: &SessionContext,
    stage: &str,
    sql: &str,
    keep: &[&str],
    kept_counts: &[&str],
) -> Result<Flagged> {
    let flagged_table = format!("{stage}_flagged");
    materialize(ctx, stage, sql, &flagged_table).await?;
    let schema = ctx
        .table(flagged_table.as_str())
        .await
        .map_err(|e| Error::stage(stage, e))?
        .schema()
        .as_arrow()
        .clone();
    let fixed: Vec<String> = schema
        .fields()
        .iter()
        .filter(|f| f.name().ends_with("_fixed"))
        .map(|f| f.name().clone())
        .collect();
    let group: Vec<String> = std::iter::once("drop_reason")
        .chain(kept_counts.iter().copied())
        .map(|c| format!("CAST({c} AS VARCHAR) AS {c}"))
        .collect();
    let sums: Vec<String> = fixed
        .iter()
        .map(|f| format!(", SUM(CASE WHEN {f} THEN 1 ELSE 0 END) AS {f}"))
        .collect();
    let count_sql = format!(
        "SELECT {}, COUNT(*) AS n{} FROM {flagged_table} GROUP BY {}",
        group.join(", "),
        sums.concat(),
        (1..=group.len())
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut flagged = Flagged {
        rows: 0,
        kept_rows: Kept::Shared {
            view: format!(
                "SELECT {} FROM {flagged_table} WHERE drop_reason IS NULL",
                keep.join(", ")
            ),
            rows: 0,
        },
        all: BTreeMap::new(),
        kept: BTreeMap::new(),
    };
    let mut kept_rows = 0;
    for batch in collect(ctx, stage, &count_sql).await? {
        let n = int_column(&batch, "n")?;
        let reason = batch
            .column_by_name("drop_reason")
            .map(|c| c.as_string::<i32>().clone());
        let reason =
            reason.ok_or_else(|| Error::Internal(format!("stage {stage}: no drop_reason")))?;
        for (i, &rows) in n.iter().enumerate() {
            flagged.rows += rows;
            if reason.is_null(i) {
                kept_rows += rows;
                for c in kept_counts {
                    let values = batch
                        .column_by_name(c)
                        .ok_or_else(|| Error::Internal(format!("stage {stage}: no {c}")))?
                        .as_string::<i32>();
                    if !values.is_null(i) {
                        *flagged
                            .kept
                            .entry((c.to_string(), values.value(i).to_string()))
                            .or_default() += rows;
                    }
                }
            } else {
                *flagged
                    .all
                    .entry(("drop_reason".into(), reason.value(i).to_string()))
                    .or_default() += rows;
            }
        }
        for f in &fixed {
            let sums = int_column(&batch, f)?;
            *flagged.all.entry((f.clone(), "true".into())).or_default() += sums.iter().sum::<u64>();
        }
    }
    if let Kept::Shared { rows, .. } = &mut flagged.kept_rows {
        *rows = kept_rows;
    }
    Ok(flagged)
}

/// A count column (any integer type) as u64s; NULL counts as 0.
fn int_column(batch: &RecordBatch, name: &str) -> Result<Vec<u64>> {
    let col = batch
        .column_by_name(name)
        .ok_or_else(|| Error::Internal(format!("no column {name}")))?;
    let col = cast(col, &DataType::Int64).map_err(|e| Error::Internal(e.to_string()))?;
    let a = col.as_primitive::<arrow::datatypes::Int64Type>();
    Ok((0..a.len())
        .map(|i| if a.is_null(i) { 0 } else { a.value(i) as u64 })
        .collect())
}

struct PartitionTally {
    rows: u64,
    batches: Vec<RecordBatch>,
    all: BTreeMap<(String, String), u64>,
    kept: BTreeMap<(String, String), u64>,
}

async fn tally_partition(
    mut stream: SendableRecordBatchStream,
    keep: &[usize],
    kept_counts: &[String],
) -> datafusion::error::Result<PartitionTally> {
    let mut t = PartitionTally {
        rows: 0,
        batches: Vec::new(),
        all: BTreeMap::new(),
        kept: BTreeMap::new(),
    };
    while let Some(batch) = stream.next().await.transpose()? {
        t.rows += batch.num_rows() as u64;
        let schema = batch.schema();
        let reason = batch.column(schema.index_of("drop_reason")?);
        count_values(&mut t.all, "drop_reason", reason)?;
        for (i, field) in schema.fields().iter().enumerate() {
            if field.name().ends_with("_fixed") {
                count_values(&mut t.all, field.name(), batch.column(i))?;
            }
        }
        let keep_mask: BooleanArray = is_null(reason)?;
        let kept = filter_record_batch(&batch, &keep_mask)?;
        for c in kept_counts {
            count_values(&mut t.kept, c, kept.column(schema.index_of(c)?))?;
        }
        if kept.num_rows() > 0 {
            t.batches.push(kept.project(keep)?);
        }
    }
    Ok(t)
}

/// Adds the non-null values of a string or boolean column to `counts`.
fn count_values(
    counts: &mut BTreeMap<(String, String), u64>,
    column: &str,
    array: &dyn Array,
) -> datafusion::error::Result<()> {
    if let DataType::Boolean = array.data_type() {
        let n = array.as_boolean().true_count() as u64;
        *counts
            .entry((column.to_string(), "true".to_string()))
            .or_default() += n;
        return Ok(());
    }
    let strings = cast(array, &DataType::Utf8)?;
    for v in strings.as_string::<i32>().iter().flatten() {
        *counts
            .entry((column.to_string(), v.to_string()))
            .or_default() += 1;
    }
    Ok(())
}

/// Runs a stage's SQL and registers its result, in memory and in its partitions, under
/// `name`; returns the rows. Later stages read it without re-running the query.
pub(crate) async fn materialize(
    ctx: &SessionContext,
    stage: &str,
    sql: &str,
    name: &str,
) -> Result<u64> {
    let started = std::time::Instant::now();
    if let Some(work) = shared_work_dir(ctx) {
        let rows = on_cluster(ctx, stage, || write_shared(ctx, stage, sql, name, &work)).await?;
        tracing::debug!(
            stage,
            seconds = started.elapsed().as_secs_f64(),
            "materialized on the cluster"
        );
        return Ok(rows);
    }
    let df = ctx.sql(sql).await.map_err(|e| Error::stage(stage, e))?;
    let schema = df.schema().as_arrow().clone();
    let partitions = df
        .collect_partitioned()
        .await
        .map_err(|e| Error::stage(stage, e))?;
    tracing::debug!(
        stage,
        seconds = started.elapsed().as_secs_f64(),
        "materialized"
    );
    let rows = partitions
        .iter()
        .flatten()
        .map(|b| b.num_rows() as u64)
        .sum();
    let table =
        MemTable::try_new(Arc::new(schema), partitions).map_err(|e| Error::stage(stage, e))?;
    ctx.deregister_table(name)
        .map_err(|e| Error::stage(stage, e))?;
    ctx.register_table(name, Arc::new(table))
        .map_err(|e| Error::stage(stage, e))?;
    Ok(rows)
}

/// Materializes on a cluster: the executors write the result as Parquet into a new
/// folder of the shared work folder, which is then registered under `name`.
async fn write_shared(
    ctx: &SessionContext,
    stage: &str,
    sql: &str,
    name: &str,
    work: &SharedWorkDir,
) -> Result<u64> {
    let df = ctx.sql(sql).await.map_err(|e| Error::stage(stage, e))?;
    let dir = work.table_dir(name);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let schema = df.schema().as_arrow().clone();
    let url = format!("{}/", dir.display());
    let written = df
        .write_parquet(&url, DataFrameWriteOptions::new(), None)
        .await
        .map_err(|e| Error::stage(stage, e))?;
    let rows = written
        .iter()
        .map(|b| int_column(b, "count").map(|v| v.iter().sum::<u64>()))
        .sum::<Result<u64>>()?;
    // A write task rerun after its executor was lost leaves the first attempt's files
    // beside the rerun's: the folder must hold exactly the rows the write reported.
    match rows_on_disk(&dir) {
        Some(n) if n == rows => {}
        found => {
            return Err(Error::Cluster {
                url: format!("stage {stage}"),
                message: format!(
                    "{} holds {} rows but the write reported {rows}: {RERUN_LEFTOVERS}",
                    dir.display(),
                    found.map_or("unreadable".to_string(), |n| n.to_string())
                ),
                hint: "rerun; if it happens without lost executors, report it".into(),
            });
        }
    }
    ctx.deregister_table(name)
        .map_err(|e| Error::stage(stage, e))?;
    ctx.register_parquet(name, &url, ParquetReadOptions::default().schema(&schema))
        .await
        .map_err(|e| Error::stage(stage, e))?;
    Ok(rows)
}

const RERUN_LEFTOVERS: &str = "a write task was rerun after an executor was lost";

/// Rows in the Parquet files of `dir`, from their footers; None if a file is unreadable
/// (for example cut short when its writer was killed).
fn rows_on_disk(dir: &std::path::Path) -> Option<u64> {
    let mut rows = 0u64;
    for entry in std::fs::read_dir(dir).ok()? {
        let path = entry.ok()?.path();
        if path.extension().is_none_or(|x| x != "parquet") {
            continue;
        }
        let file = std::fs::File::open(&path).ok()?;
        let reader = parquet::file::reader::SerializedFileReader::new(file).ok()?;
        use parquet::file::reader::FileReader;
        rows += reader.metadata().file_metadata().num_rows() as u64;
    }
    Some(rows)
}

/// Registers a stage's SQL as a view (re-planned by each query that reads it).
pub(crate) async fn register_view(
    ctx: &SessionContext,
    stage: &str,
    sql: &str,
    name: &str,
) -> Result<()> {
    let view = ctx
        .sql(sql)
        .await
        .map_err(|e| Error::stage(stage, e))?
        .into_view();
    ctx.deregister_table(name)
        .map_err(|e| Error::stage(stage, e))?;
    ctx.register_table(name, view)
        .map_err(|e| Error::stage(stage, e))?;
    Ok(())
}

/// Runs a stage's SQL and collects its rows (timed at debug level: `RFMSEG_LOG=rfmseg=debug`).
pub(crate) async fn collect(
    ctx: &SessionContext,
    stage: &str,
    sql: &str,
) -> Result<Vec<RecordBatch>> {
    let started = std::time::Instant::now();
    let batches = on_cluster(ctx, stage, || async {
        ctx.sql(sql)
            .await
            .map_err(|e| Error::stage(stage, e))?
            .collect()
            .await
            .map_err(|e| Error::stage(stage, e))
    })
    .await?;
    tracing::debug!(stage, seconds = started.elapsed().as_secs_f64(), "query");
    Ok(batches)
}

/// Runs a stage's SQL that returns exactly one row.
pub(crate) async fn one_row(ctx: &SessionContext, stage: &str, sql: &str) -> Result<RecordBatch> {
    let batches = collect(ctx, stage, sql).await?;
    let schema = batches
        .first()
        .map(|b| b.schema())
        .ok_or_else(|| Error::Internal(format!("stage {stage}: no result")))?;
    let batch = arrow::compute::concat_batches(&schema, &batches)
        .map_err(|e| Error::Internal(format!("stage {stage}: {e}")))?;
    if batch.num_rows() != 1 {
        return Err(Error::Internal(format!(
            "stage {stage}: expected one row, got {}",
            batch.num_rows()
        )));
    }
    Ok(batch)
}

/// Column `name` of a one-row result as i64 (NULL -> None).
pub(crate) fn get_i64(batch: &RecordBatch, name: &str) -> Result<Option<i64>> {
    let col = batch
        .column_by_name(name)
        .ok_or_else(|| Error::Internal(format!("no column {name}")))?;
    let col = cast(col, &DataType::Int64).map_err(|e| Error::Internal(e.to_string()))?;
    let a = col.as_primitive::<arrow::datatypes::Int64Type>();
    Ok((!a.is_null(0)).then(|| a.value(0)))
}

/// Column `name` of a one-row result as f64, through its exact value (a DECIMAL sum is
/// rounded to f64 once, here).
pub(crate) fn get_f64(batch: &RecordBatch, name: &str) -> Result<Option<f64>> {
    let col = batch
        .column_by_name(name)
        .ok_or_else(|| Error::Internal(format!("no column {name}")))?;
    if let DataType::Decimal128(_, scale) = col.data_type() {
        let a = col.as_primitive::<arrow::datatypes::Decimal128Type>();
        return Ok((!a.is_null(0)).then(|| decimal_to_f64(a.value(0), *scale)));
    }
    let col = cast(col, &DataType::Float64).map_err(|e| Error::Internal(e.to_string()))?;
    let a = col.as_primitive::<arrow::datatypes::Float64Type>();
    Ok((!a.is_null(0)).then(|| a.value(0)))
}

/// An i128 fixed-point value with `scale` decimals, correctly rounded to f64 through its
/// decimal text (so the result is the nearest f64, not a product of two roundings).
pub(crate) fn decimal_to_f64(v: i128, scale: i8) -> f64 {
    let text = if scale > 0 {
        let digits = v.unsigned_abs().to_string();
        let s = scale as usize;
        let padded = format!("{digits:0>width$}", width = s + 1);
        let (int, frac) = padded.split_at(padded.len() - s);
        format!("{}{int}.{frac}", if v < 0 { "-" } else { "" })
    } else {
        format!("{v}e{}", -i32::from(scale))
    };
    text.parse().unwrap_or(f64::NAN)
}

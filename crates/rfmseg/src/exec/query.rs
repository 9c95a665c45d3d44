//! Running a stage's SQL: collecting its rows, materialising its result under a name
//! (in memory embedded; as Parquet on the shared work folder on a cluster), registering a
//! view, and reading one-row results. Every query goes through [`on_cluster`], so a stage
//! never knows which engine runs it.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::datasource::MemTable;
use datafusion::error::DataFusionError;
use datafusion::prelude::{DataFrame, ParquetReadOptions, SessionContext, col};
use futures::StreamExt;

use super::query_count::counted;
use super::work_dir::{SharedWorkDir, shared_work_dir};
use crate::error::{Error, Result};
use crate::storage::{self, Location, S3Url, parquet_file::ParquetFile};

/// Rows of a registered table: from its exact statistics where the table has them (a
/// lake's Parquet footers, read here), so no query runs (on a cluster, no job); by a
/// COUNT(*) query otherwise.
pub async fn count_rows(ctx: &SessionContext, stage: &str, table: &str) -> Result<u64> {
    if let Some(n) = exact_rows(ctx, table).await {
        return Ok(n);
    }
    on_cluster(ctx, stage, || async {
        let df = ctx.table(table).await.map_err(|e| Error::stage(stage, e))?;
        df.count()
            .await
            .map(|n| n as u64)
            .map_err(|e| Error::stage(stage, e))
    })
    .await
}

/// The exact row count of `table` from the statistics of its scan, if it has one.
pub(crate) async fn exact_rows(ctx: &SessionContext, table: &str) -> Option<u64> {
    use datafusion::common::stats::Precision;
    use datafusion::physical_plan::{StatisticsArgs, StatisticsContext};
    let provider = ctx.table_provider(table).await.ok()?;
    let state = ctx.state();
    let plan = provider.scan(&state, None, &[], None).await.ok()?;
    let stats = StatisticsContext::new()
        .compute(plan.as_ref(), &StatisticsArgs::new())
        .ok()?;
    match stats.num_rows {
        Precision::Exact(n) => Some(n as u64),
        _ => None,
    }
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
        let started = std::time::Instant::now();
        let result = attempt().await;
        counted(ctx, started);
        return result;
    };
    let limit = work.query_timeout();
    let mut lost = String::new();
    for n in 1..=2 {
        let started = std::time::Instant::now();
        let result = tokio::time::timeout(limit, attempt()).await;
        counted(ctx, started);
        match result {
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
/// fetched, or the stream of them broke off when it died mid-transfer: Ballista 55
/// reports that as an IPC error of the reading task, not as a fetch failure, so the
/// scheduler fails the job instead of rerunning the stage), not that the query is wrong:
/// worth one resubmission.
fn executor_lost(e: &Error) -> bool {
    let text = e.to_string();
    [
        "GrpcConnectionError",
        "tcp connect error",
        "Shuffle fetch partition error",
        "h2 protocol error",
        "error reading a body from connection",
        "Connection reset by peer",
        RERUN_LEFTOVERS,
        DID_NOT_ADD_UP,
    ]
    .iter()
    .any(|s| text.contains(s))
}

/// `DataFrame::collect_partitioned`, each batch handed back its buffers' slack
/// ([`super::memory::shrink_batch`]) as it arrives rather than once all are in.
async fn collect_shrunk(df: DataFrame) -> datafusion::error::Result<Vec<Vec<RecordBatch>>> {
    let streams = df.execute_stream_partitioned().await?;
    let mut partitions = vec![Vec::new(); streams.len()];
    // A task per partition, as DataFusion's own collect: the partitions run in parallel.
    let mut tasks = tokio::task::JoinSet::new();
    for (i, mut stream) in streams.into_iter().enumerate() {
        tasks.spawn(async move {
            let mut batches = Vec::new();
            while let Some(batch) = stream.next().await {
                batches.push(super::memory::shrink_batch(batch?)?);
            }
            Ok::<_, DataFusionError>((i, batches))
        });
    }
    while let Some(done) = tasks.join_next().await {
        let (i, batches) = done.map_err(|e| DataFusionError::External(Box::new(e)))??;
        partitions[i] = batches;
    }
    Ok(partitions)
}

/// Runs a stage's SQL and registers its result, in memory and in its partitions, under
/// `name`; returns the rows. Later stages read it without re-running the query.
pub async fn materialize(ctx: &SessionContext, stage: &str, sql: &str, name: &str) -> Result<u64> {
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
    let partitions = collect_shrunk(df).await;
    counted(ctx, started);
    let partitions = partitions.map_err(|e| Error::stage(stage, e))?;
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
    let url = match &dir {
        Location::Local(d) => {
            std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
            format!("{}/", d.display())
        }
        Location::S3(u) => u.folder_url(),
    };
    let schema = df.schema().as_arrow().clone();
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
    let found = match &dir {
        Location::Local(d) => rows_on_disk(d),
        Location::S3(u) => rows_in_objects(u).await?,
    };
    match found {
        Some(n) if n == rows => {}
        found => {
            return Err(Error::Cluster {
                url: format!("stage {stage}"),
                message: format!(
                    "{url} holds {} rows but the write reported {rows}: {RERUN_LEFTOVERS}",
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

const DID_NOT_ADD_UP: &str = "a result did not add up (partial results lost or counted twice)";

/// The first value of column `key` in `batch` that equals the one before it (`last`:
/// the previous batch's last value, updated), in sorted batches: a table written by key
/// has each key once.
fn repeated_key(
    batch: &RecordBatch,
    key: &str,
    last: &mut Option<String>,
) -> Result<Option<String>> {
    let column = batch
        .column_by_name(key)
        .ok_or_else(|| Error::Internal(format!("no column {key} to write by")))?;
    let text = cast(column, &DataType::Utf8).map_err(|e| Error::Internal(e.to_string()))?;
    let mut previous: Option<&str> = None;
    for v in text.as_string::<i32>().iter().flatten() {
        if previous.or(last.as_deref()) == Some(v) {
            return Ok(Some(v.to_string()));
        }
        previous = Some(v);
    }
    if let Some(v) = previous {
        *last = Some(v.to_string());
    }
    Ok(None)
}

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

/// [`rows_on_disk`] for a folder on S3: the footers are fetched, not the files.
async fn rows_in_objects(dir: &S3Url) -> Result<Option<u64>> {
    use object_store::ObjectStoreExt;
    let store = storage::s3::store(&dir.bucket)?;
    let mut rows = 0u64;
    for meta in storage::s3::list(dir).await? {
        if !meta.location.as_ref().ends_with(".parquet") || meta.size < 8 {
            continue;
        }
        let get = |range: std::ops::Range<u64>| store.get_range(&meta.location, range);
        let tail = get(meta.size - 8..meta.size)
            .await
            .map_err(|e| storage::s3::error(dir, &e))?;
        let Ok(footer) = parquet::file::metadata::FooterTail::try_from(tail.as_ref()) else {
            return Ok(None);
        };
        let len = footer.metadata_length() as u64;
        if len + 8 > meta.size {
            return Ok(None);
        }
        let bytes = get(meta.size - 8 - len..meta.size - 8)
            .await
            .map_err(|e| storage::s3::error(dir, &e))?;
        match parquet::file::metadata::ParquetMetaDataReader::decode_metadata(&bytes) {
            Ok(m) => rows += m.file_metadata().num_rows() as u64,
            Err(_) => return Ok(None),
        }
    }
    Ok(Some(rows))
}

/// Registers a stage's SQL as a view (re-planned by each query that reads it).
pub async fn register_view(ctx: &SessionContext, stage: &str, sql: &str, name: &str) -> Result<()> {
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

/// Drops the session's tables `names` (those registered): a run releases an
/// intermediate table once no later step reads it, so its rows are not held through the
/// rest of the run (at 43.9M reviews each table of customers is several hundred MB).
/// A view keeps the tables its plan reads, under whatever name they now have: release
/// the views over a table with it.
pub fn release(ctx: &SessionContext, names: &[&str]) -> Result<()> {
    for name in names {
        ctx.deregister_table(*name)
            .map_err(|e| Error::stage("release", e))?;
    }
    super::memory::return_free_memory();
    Ok(())
}

/// The schema and batches of `name` if it is an in-memory table (None if it is kept on
/// disk, or is a view): the batches are shared with the table, not copied.
pub(crate) async fn in_memory(
    ctx: &SessionContext,
    stage: &str,
    name: &str,
) -> Result<Option<(arrow::datatypes::SchemaRef, Vec<Vec<RecordBatch>>)>> {
    let provider = ctx
        .table_provider(name)
        .await
        .map_err(|e| Error::stage(stage, e))?;
    let any: &dyn std::any::Any = provider.as_ref();
    let Some(table) = any.downcast_ref::<MemTable>() else {
        return Ok(None);
    };
    let mut partitions = Vec::with_capacity(table.batches.len());
    for partition in &table.batches {
        partitions.push(partition.read().await.clone());
    }
    Ok(Some((provider.schema(), partitions)))
}

/// Runs a stage's SQL and collects its rows (timed at debug level: `RFMSEG_LOG=rfmseg=debug`).
pub async fn collect(ctx: &SessionContext, stage: &str, sql: &str) -> Result<Vec<RecordBatch>> {
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

/// Runs several queries with the same columns as one (a UNION ALL, each part tagged), and
/// returns each query's rows, ordered by `order_by` within it. On a cluster that is one
/// job instead of one per query; the parts still plan and run as they would alone.
pub async fn collect_together(
    ctx: &SessionContext,
    stage: &str,
    queries: &[String],
    order_by: &str,
) -> Result<Vec<Vec<RecordBatch>>> {
    const TAG: &str = "rfmseg_query";
    let union = queries
        .iter()
        .enumerate()
        .map(|(i, q)| format!("SELECT {i} AS {TAG}, * FROM (\n{q}\n)"))
        .collect::<Vec<_>>()
        .join("\nUNION ALL\n");
    let sql = format!("{union}\nORDER BY {TAG}, {order_by}");
    let batches = collect(ctx, stage, &sql).await?;
    let mut out = vec![Vec::new(); queries.len()];
    for b in batches {
        let tags = i64_column(&b, TAG)?;
        let b = b
            .project(&(1..b.num_columns()).collect::<Vec<_>>())
            .map_err(|e| Error::Internal(e.to_string()))?;
        let mut start = 0;
        while start < tags.len() {
            let tag = tags[start];
            let end = tags[start..]
                .iter()
                .position(|t| *t != tag)
                .map_or(tags.len(), |n| start + n);
            let part = out.get_mut(tag as usize).ok_or_else(|| {
                Error::Internal(format!("stage {stage}: a row of no query ({tag})"))
            })?;
            part.push(b.slice(start, end - start));
            start = end;
        }
    }
    Ok(out)
}

/// Runs a stage's SQL that returns exactly one row.
pub async fn one_row(ctx: &SessionContext, stage: &str, sql: &str) -> Result<RecordBatch> {
    single_row(stage, &collect(ctx, stage, sql).await?)
}

/// The one row of a result, or an error naming the stage.
fn single_row(stage: &str, batches: &[RecordBatch]) -> Result<RecordBatch> {
    let schema = batches
        .first()
        .map(|b| b.schema())
        .ok_or_else(|| Error::Internal(format!("stage {stage}: no result")))?;
    let batch = arrow::compute::concat_batches(&schema, batches)
        .map_err(|e| Error::Internal(format!("stage {stage}: {e}")))?;
    if batch.num_rows() != 1 {
        return Err(Error::Internal(format!(
            "stage {stage}: expected one row, got {}",
            batch.num_rows()
        )));
    }
    Ok(batch)
}

/// [`one_row`], with `check` run on the row inside the cluster's retry: a row whose
/// totals do not add up (`check` says why) is treated like a lost executor, resubmitted
/// once, and otherwise an error, never an answer. Ballista can lose or double-count a
/// partial aggregate when an executor dies at the wrong moment; a stage whose inputs'
/// count is known checks it here.
pub async fn one_row_checked(
    ctx: &SessionContext,
    stage: &str,
    sql: &str,
    check: impl Fn(&RecordBatch) -> std::result::Result<(), String>,
) -> Result<RecordBatch> {
    on_cluster(ctx, stage, || async {
        let batches = ctx
            .sql(sql)
            .await
            .map_err(|e| Error::stage(stage, e))?
            .collect()
            .await
            .map_err(|e| Error::stage(stage, e))?;
        let batch = single_row(stage, &batches)?;
        check(&batch).map_err(|why| Error::Cluster {
            url: format!("stage {stage}"),
            message: format!("{why}: {DID_NOT_ADD_UP}"),
            hint: "rerun; if it happens without lost executors, report it".into(),
        })?;
        Ok(batch)
    })
    .await
}

/// Column `name` of a one-row result as i64 (NULL -> None).
pub fn get_i64(batch: &RecordBatch, name: &str) -> Result<Option<i64>> {
    Ok(cast_column(batch, name, &DataType::Int64)?
        .as_primitive::<Int64Type>()
        .iter()
        .next()
        .flatten())
}

/// Column `name` of a one-row result as f64, through its exact value (a DECIMAL sum is
/// rounded to f64 once, here).
pub fn get_f64(batch: &RecordBatch, name: &str) -> Result<Option<f64>> {
    let col = column(batch, name)?;
    if let DataType::Decimal128(_, scale) = col.data_type() {
        let a = col.as_primitive::<arrow::datatypes::Decimal128Type>();
        return Ok((!a.is_null(0)).then(|| decimal_to_f64(a.value(0), *scale)));
    }
    Ok(cast_column(batch, name, &DataType::Float64)?
        .as_primitive::<Float64Type>()
        .iter()
        .next()
        .flatten())
}

/// An i128 fixed-point value with `scale` decimals, correctly rounded to f64 through its
/// decimal text (so the result is the nearest f64, not a product of two roundings).
pub fn decimal_to_f64(v: i128, scale: i8) -> f64 {
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

/// A count column (any integer type) as u64s; NULL counts as 0.
pub fn int_column(batch: &RecordBatch, name: &str) -> Result<Vec<u64>> {
    Ok(i64_column(batch, name)?
        .into_iter()
        .map(|v| v as u64)
        .collect())
}

/// Writes a registered table to one Parquet file, sorted by `order_by` so the file's
/// bytes do not depend on partitioning. Returns the rows written.
pub async fn write_table_parquet(
    ctx: &SessionContext,
    table: &str,
    order_by: &str,
    path: &Path,
) -> Result<u64> {
    let stage = format!("write {}", path.display());
    // Streamed into the file as the sort hands its rows out, so the sorted table is never
    // held whole beside the table (600 MB at 3.56M customers). A resubmission on a
    // cluster writes the file again from its start.
    on_cluster(ctx, &stage, || async {
        let df = ctx
            .table(table)
            .await
            .and_then(|df| df.sort(vec![col(order_by).sort(true, false)]))
            .map_err(|e| Error::stage(&stage, e))?;
        let schema = Arc::new(df.schema().as_arrow().clone());
        let mut rows = df
            .execute_stream()
            .await
            .map_err(|e| Error::stage(&stage, e))?;
        let mut file = ParquetFile::create(path, &schema)?;
        let mut last_key = None;
        while let Some(batch) = rows.next().await {
            let batch = batch.map_err(|e| Error::stage(&stage, e))?;
            // A result partition read twice after a lost executor shows as a key twice.
            if let Some(key) = repeated_key(&batch, order_by, &mut last_key)? {
                return Err(Error::Cluster {
                    url: format!("stage {stage}"),
                    message: format!("{order_by} {key:?} appears twice: {DID_NOT_ADD_UP}"),
                    hint: "rerun; if it happens without lost executors, report it".into(),
                });
            }
            file.write(&batch)?;
        }
        file.close()
    })
    .await
}

/// Column `name` of a result as f64s; NULL reads as NaN.
pub fn f64_column(b: &RecordBatch, name: &str) -> Result<Vec<f64>> {
    Ok(cast_column(b, name, &DataType::Float64)?
        .as_primitive::<Float64Type>()
        .iter()
        .map(|v| v.unwrap_or(f64::NAN))
        .collect())
}

/// Column `name` of a result as i64s; NULL reads as 0.
pub fn i64_column(b: &RecordBatch, name: &str) -> Result<Vec<i64>> {
    Ok(cast_column(b, name, &DataType::Int64)?
        .as_primitive::<Int64Type>()
        .iter()
        .map(|v| v.unwrap_or(0))
        .collect())
}

/// Column `name` of a result as strings; NULL reads as "".
pub fn str_column(b: &RecordBatch, name: &str) -> Result<Vec<String>> {
    Ok(cast_column(b, name, &DataType::Utf8)?
        .as_string::<i32>()
        .iter()
        .map(|v| v.unwrap_or_default().to_string())
        .collect())
}

/// The one value of a `List<Float64>` result column (an aggregate such as `kmeans_step`
/// or `bgnbd_ll`): None when it is NULL (the aggregate saw no rows), an error unless it
/// holds `len` values.
pub fn f64_list(column: &ArrayRef, stage: &str, len: usize) -> Result<Option<Vec<f64>>> {
    let list = column
        .as_list_opt::<i32>()
        .ok_or_else(|| Error::Internal(format!("stage {stage}: the result is not a list")))?;
    if list.is_null(0) {
        return Ok(None);
    }
    let values = list.value(0);
    let values = values.as_primitive::<Float64Type>().values();
    if values.len() != len {
        return Err(Error::Internal(format!(
            "stage {stage}: the result has {} values, expected {len}",
            values.len()
        )));
    }
    Ok(Some(values.to_vec()))
}

fn column<'a>(b: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef> {
    b.column_by_name(name)
        .ok_or_else(|| Error::Internal(format!("no column {name}")))
}

/// Column `name` of a result cast to `to`.
fn cast_column(b: &RecordBatch, name: &str, to: &DataType) -> Result<ArrayRef> {
    cast(column(b, name)?, to).map_err(|e| Error::Internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};

    fn batch(name: &str, column: ArrayRef) -> RecordBatch {
        RecordBatch::try_from_iter(vec![(name, column)]).unwrap()
    }
    /// A key repeated inside a batch, across batches, or as a number is found; NULLs and
    /// distinct keys are not repeats.
    #[test]
    fn repeated_key_finds_a_key_twice_in_sorted_batches() {
        /// The first repeat over batches handed one at a time, as the write hands them.
        fn first_repeat(batches: &[RecordBatch], key: &str) -> Result<Option<String>> {
            let mut last = None;
            for b in batches {
                if let Some(k) = repeated_key(b, key, &mut last)? {
                    return Ok(Some(k));
                }
            }
            Ok(None)
        }
        let text = |v: Vec<Option<&str>>| batch("id", Arc::new(StringArray::from(v)));
        let a = text(vec![Some("a"), Some("b")]);
        let b = text(vec![Some("b"), Some("c")]);
        let c = text(vec![Some("c"), None, None]);
        assert_eq!(
            first_repeat(&[a.clone(), b.clone()], "id").unwrap(),
            Some("b".into())
        );
        assert_eq!(first_repeat(&[a.clone(), c.clone()], "id").unwrap(), None);
        assert_eq!(first_repeat(&[b, c], "id").unwrap(), Some("c".into()));
        let numbers = batch("n", Arc::new(Int64Array::from(vec![1, 2, 2])));
        assert_eq!(first_repeat(&[numbers], "n").unwrap(), Some("2".into()));
        assert!(first_repeat(&[a], "missing").is_err());
    }

    /// A shuffle stream that broke off because its executor died (as Ballista 55 reports
    /// it) is a lost executor, worth a resubmission; a wrong query is not.
    #[test]
    fn a_broken_shuffle_stream_is_a_lost_executor_and_a_bad_query_is_not() {
        use datafusion::error::DataFusionError;
        let broken = "Job 038HGHYDBG000 failed: Job failed due to stage 10 failed: Task failed \
                      due to runtime execution error: DataFusionError(Shared(External(\
                      ArrowError(IpcError(\"Arrow error: Ipc error: code: 'Unknown error', \
                      message: \\\"h2 protocol error: error reading a body from connection\\\", \
                      source: hyper::Error(Body, Error { kind: Io(Custom { kind: BrokenPipe, \
                      error: \\\"stream closed because of a broken pipe\\\" }) })\")))))";
        let lost = Error::stage("group_lift", DataFusionError::Execution(broken.into()));
        assert!(executor_lost(&lost), "{lost}");
        let wrong = Error::stage(
            "group_lift",
            DataFusionError::Plan("No field named recency_days".into()),
        );
        assert!(!executor_lost(&wrong), "{wrong}");
    }
}

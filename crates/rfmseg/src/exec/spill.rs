//! A large in-memory table moved to local disk: its batches written as Parquet into a
//! scratch folder and the table registered over those files instead. A run keeps the
//! clean reviews from the cleaning to the report (13.7M rows, 705 MB at the full
//! Electronics size), under every later stage's working memory; on disk they cost a
//! write and a scan per reading query, and the page cache keeps those scans fast while
//! memory allows, without the process holding them. The customers wait there while the
//! lifetime-value predictions are joined to them (a join copies every column it outputs).

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::sync::Arc;

use arrow::array::RecordBatch;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use super::query::in_memory;
use crate::error::{Error, Result};

/// Rows per row group: what one writer buffers before writing it out.
const ROW_GROUP_ROWS: usize = 128 * 1024;

/// Moves the in-memory table `name` to Parquet files in `dir/name` and registers it over
/// them, with the same schema and rows; returns the rows moved, or None if `name` is not
/// an in-memory table (it is left as it is). Files are written `writers` at a time.
pub async fn spill(
    ctx: &SessionContext,
    name: &str,
    dir: &Path,
    writers: usize,
) -> Result<Option<u64>> {
    let stage = "spill";
    let Some((schema, partitions)) = in_memory(ctx, stage, name).await? else {
        return Ok(None);
    };
    let folder = dir.join(name);
    std::fs::create_dir_all(&folder).map_err(|e| Error::io(&folder, e))?;
    // Each writer takes every `writers`-th partition, so the writers share the work and
    // at most `writers` row groups are buffered at once.
    let writers = writers.clamp(1, partitions.len().max(1));
    let mut shares: Vec<Vec<(usize, Vec<RecordBatch>)>> = vec![Vec::new(); writers];
    for (i, p) in partitions.into_iter().enumerate() {
        shares[i % writers].push((i, p));
    }
    let mut tasks = tokio::task::JoinSet::new();
    for share in shares {
        let (folder, schema) = (folder.clone(), schema.clone());
        tasks.spawn_blocking(move || -> Result<u64> {
            let mut rows = 0;
            for (i, batches) in share {
                rows += write_file(
                    &folder.join(format!("part-{i:05}.parquet")),
                    &schema,
                    &batches,
                )?;
            }
            Ok(rows)
        });
    }
    let mut rows = 0;
    while let Some(done) = tasks.join_next().await {
        rows += done.map_err(|e| Error::Internal(format!("{stage} {name}: {e}")))??;
    }
    ctx.deregister_table(name)
        .map_err(|e| Error::stage(stage, e))?;
    let url = format!("{}/", folder.display());
    ctx.register_parquet(name, &url, ParquetReadOptions::default().schema(&schema))
        .await
        .map_err(|e| Error::stage(stage, e))?;
    super::memory::return_free_memory();
    Ok(Some(rows))
}

/// One partition's batches as one Parquet file, written for a fast read back rather than
/// for size: no compression, no dictionaries, no statistics.
fn write_file(
    path: &Path,
    schema: &arrow::datatypes::SchemaRef,
    batches: &[RecordBatch],
) -> Result<u64> {
    let pq = |e| Error::Parquet {
        path: path.to_path_buf(),
        source: e,
    };
    let props = WriterProperties::builder()
        .set_compression(Compression::UNCOMPRESSED)
        .set_dictionary_enabled(false)
        .set_statistics_enabled(EnabledStatistics::None)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .build();
    let file = File::create(path).map_err(|e| Error::io(path, e))?;
    let mut writer =
        ArrowWriter::try_new(BufWriter::new(file), Arc::clone(schema), Some(props)).map_err(pq)?;
    let mut rows = 0;
    for b in batches {
        rows += b.num_rows() as u64;
        writer.write(b).map_err(pq)?;
    }
    writer.close().map_err(pq)?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};
    use datafusion::datasource::MemTable;

    fn batch(from: i64, n: i64) -> RecordBatch {
        let ids: Vec<String> = (from..from + n).map(|i| format!("user{i}")).collect();
        RecordBatch::try_from_iter([
            ("user_id", Arc::new(StringArray::from(ids)) as _),
            (
                "ts",
                Arc::new(Int64Array::from((from..from + n).collect::<Vec<_>>())) as _,
            ),
        ])
        .unwrap()
    }

    async fn rows(ctx: &SessionContext, table: &str) -> Vec<(String, i64)> {
        let df = ctx
            .sql(&format!("SELECT user_id, ts FROM {table} ORDER BY ts"))
            .await
            .unwrap();
        let mut out = Vec::new();
        for b in df.collect().await.unwrap() {
            let ids = crate::exec::query::str_column(&b, "user_id").unwrap();
            let ts = crate::exec::query::i64_column(&b, "ts").unwrap();
            out.extend(ids.into_iter().zip(ts));
        }
        out
    }

    #[tokio::test]
    async fn a_spilled_table_has_the_same_schema_and_rows_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = SessionContext::new();
        // Five partitions for two writers, one of them empty.
        let partitions = vec![
            vec![batch(0, 10), batch(10, 5)],
            vec![batch(15, 7)],
            vec![],
            vec![batch(22, 1)],
            vec![batch(23, 40)],
        ];
        let schema = partitions[0][0].schema();
        let t = MemTable::try_new(schema.clone(), partitions).unwrap();
        ctx.register_table("clean_reviews", Arc::new(t)).unwrap();
        let before = rows(&ctx, "clean_reviews").await;
        assert_eq!(before.len(), 63);

        let moved = spill(&ctx, "clean_reviews", dir.path(), 2).await.unwrap();
        assert_eq!(moved, Some(63));
        let provider = ctx.table_provider("clean_reviews").await.unwrap();
        let any: &dyn std::any::Any = provider.as_ref();
        assert!(any.downcast_ref::<MemTable>().is_none(), "still in memory");
        assert_eq!(provider.schema(), schema);
        assert_eq!(rows(&ctx, "clean_reviews").await, before);
        let files = std::fs::read_dir(dir.path().join("clean_reviews"))
            .unwrap()
            .count();
        assert_eq!(files, 5);

        // A table on disk already is left as it is.
        assert_eq!(
            spill(&ctx, "clean_reviews", dir.path(), 2).await.unwrap(),
            None
        );
        assert_eq!(rows(&ctx, "clean_reviews").await, before);
    }
}

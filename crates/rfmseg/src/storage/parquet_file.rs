//! Parquet files that pandas, polars and DuckDB read as is, with the same bytes embedded
//! and on a cluster: fixed batch sizes and plain string types. Where the file goes (inside
//! an output folder being built, or a new single file) is the rest of [`crate::storage`].

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::error::{Error, Result};

/// Rows per write call: fixed, so the file's pages (and bytes) do not depend on how the
/// engine happened to batch the rows (embedded and on a cluster give the same file).
const WRITE_BATCH_ROWS: usize = 8192;

/// Hands `f` the same rows as `batches`, in batches of exactly `size` rows (the last one
/// shorter), one at a time: each input batch is dropped once its rows are passed on, so
/// a large result is never held twice.
fn rechunk(
    batches: impl IntoIterator<Item = RecordBatch>,
    size: usize,
    mut f: impl FnMut(RecordBatch) -> Result<()>,
) -> Result<()> {
    let mut pending: Vec<RecordBatch> = Vec::new();
    let mut pending_rows = 0;
    let mut flush = |pending: &mut Vec<RecordBatch>| -> Result<()> {
        if let Some(first) = pending.first() {
            let b = arrow::compute::concat_batches(&first.schema(), pending.iter())
                .map_err(|e| Error::Internal(e.to_string()))?;
            pending.clear();
            f(b)?;
        }
        Ok(())
    };
    for b in batches {
        let mut offset = 0;
        while offset < b.num_rows() {
            let take = (size - pending_rows).min(b.num_rows() - offset);
            pending.push(b.slice(offset, take));
            pending_rows += take;
            offset += take;
            if pending_rows == size {
                flush(&mut pending)?;
                pending_rows = 0;
            }
        }
    }
    flush(&mut pending)
}

/// String views become plain strings: every Parquet reader knows those.
fn portable_schema(schema: &SchemaRef) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Utf8View | DataType::LargeUtf8 => {
                f.as_ref().clone().with_data_type(DataType::Utf8)
            }
            _ => f.as_ref().clone(),
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// Writes batches to one zstd Parquet file at `path` (a path from [`crate::storage`]).
/// Returns the rows written.
pub fn write_batches(
    path: &Path,
    schema: &SchemaRef,
    batches: impl IntoIterator<Item = RecordBatch>,
) -> Result<u64> {
    let out_schema = portable_schema(schema);
    let pq = |e| Error::Parquet {
        path: path.to_path_buf(),
        source: e,
    };
    let file = File::create(path).map_err(|e| Error::io(path, e))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap_or_default()))
        .build();
    let mut writer =
        ArrowWriter::try_new(BufWriter::new(file), out_schema.clone(), Some(props)).map_err(pq)?;
    let mut rows = 0u64;
    rechunk(batches, WRITE_BATCH_ROWS, |b| {
        let columns: Vec<ArrayRef> = b
            .columns()
            .iter()
            .zip(out_schema.fields())
            .map(|(c, f)| cast(c, f.data_type()))
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| Error::Internal(e.to_string()))?;
        let batch = RecordBatch::try_new(out_schema.clone(), columns)
            .map_err(|e| Error::Internal(e.to_string()))?;
        rows += batch.num_rows() as u64;
        writer.write(&batch).map_err(pq)
    })?;
    writer.close().map_err(pq)?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Int64Array;

    #[test]
    fn rechunk_keeps_every_row_in_order_in_fixed_batches() {
        let batch = |from: i64, n: i64| {
            RecordBatch::try_from_iter(vec![(
                "x",
                Arc::new(Int64Array::from((from..from + n).collect::<Vec<_>>())) as ArrayRef,
            )])
            .unwrap()
        };
        let input = [batch(0, 3), batch(3, 0), batch(3, 6), batch(9, 1)];
        let mut out = Vec::new();
        rechunk(input, 4, |b| {
            out.push(b);
            Ok(())
        })
        .unwrap();
        let sizes: Vec<usize> = out.iter().map(|b| b.num_rows()).collect();
        assert_eq!(sizes, [4, 4, 2]);
        let values: Vec<i64> = out
            .iter()
            .flat_map(|b| {
                b.column(0)
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .unwrap()
                    .values()
                    .to_vec()
            })
            .collect();
        assert_eq!(values, (0..10).collect::<Vec<_>>());
    }
}

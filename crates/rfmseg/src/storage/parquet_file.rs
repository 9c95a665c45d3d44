//! Parquet files that pandas, polars and DuckDB read as is, with the same bytes embedded
//! and on a cluster: fixed batch sizes and plain string types. Where the file goes (inside
//! an output folder being built, or a new single file) is the rest of [`crate::storage`].

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
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

/// Cuts rows into batches of exactly `size` rows (the last one shorter) as they come, so
/// a large result is never held whole: each input batch is let go once its rows are out.
struct Rechunker {
    size: usize,
    pending: Vec<RecordBatch>,
    pending_rows: usize,
}

impl Rechunker {
    fn new(size: usize) -> Rechunker {
        Rechunker {
            size,
            pending: Vec::new(),
            pending_rows: 0,
        }
    }

    /// Hands `f` every full batch that `b` completes.
    fn push(
        &mut self,
        b: &RecordBatch,
        f: &mut impl FnMut(RecordBatch) -> Result<()>,
    ) -> Result<()> {
        let mut offset = 0;
        while offset < b.num_rows() {
            let take = (self.size - self.pending_rows).min(b.num_rows() - offset);
            self.pending.push(b.slice(offset, take));
            self.pending_rows += take;
            offset += take;
            if self.pending_rows == self.size {
                self.flush(f)?;
            }
        }
        Ok(())
    }

    /// Hands `f` the rows pushed and not yet handed on, if any.
    fn flush(&mut self, f: &mut impl FnMut(RecordBatch) -> Result<()>) -> Result<()> {
        if let Some(first) = self.pending.first() {
            let b = arrow::compute::concat_batches(&first.schema(), self.pending.iter())
                .map_err(|e| Error::Internal(e.to_string()))?;
            self.pending.clear();
            self.pending_rows = 0;
            f(b)?;
        }
        Ok(())
    }
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

/// One zstd Parquet file being written at a path from [`crate::storage`], batch by batch
/// as rows arrive, in fixed-size batches of plain string types.
pub struct ParquetFile {
    chunks: Rechunker,
    sink: Sink,
}

/// What writes the fixed-size batches.
struct Sink {
    path: PathBuf,
    schema: SchemaRef,
    writer: ArrowWriter<BufWriter<File>>,
    rows: u64,
}

impl Sink {
    fn write(&mut self, b: RecordBatch) -> Result<()> {
        let columns: Vec<ArrayRef> = b
            .columns()
            .iter()
            .zip(self.schema.fields())
            .map(|(c, f)| cast(c, f.data_type()))
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| Error::Internal(e.to_string()))?;
        let batch = RecordBatch::try_new(self.schema.clone(), columns)
            .map_err(|e| Error::Internal(e.to_string()))?;
        self.rows += batch.num_rows() as u64;
        self.writer
            .write(&batch)
            .map_err(|e| parquet_error(&self.path, e))
    }
}

impl ParquetFile {
    pub fn create(path: &Path, schema: &SchemaRef) -> Result<ParquetFile> {
        let schema = portable_schema(schema);
        let file = File::create(path).map_err(|e| Error::io(path, e))?;
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap_or_default()))
            .build();
        let writer = ArrowWriter::try_new(BufWriter::new(file), schema.clone(), Some(props))
            .map_err(|e| parquet_error(path, e))?;
        Ok(ParquetFile {
            chunks: Rechunker::new(WRITE_BATCH_ROWS),
            sink: Sink {
                path: path.to_path_buf(),
                schema,
                writer,
                rows: 0,
            },
        })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let sink = &mut self.sink;
        self.chunks.push(batch, &mut |b| sink.write(b))
    }

    /// Writes what is left and the footer; returns the rows written.
    pub fn close(mut self) -> Result<u64> {
        let sink = &mut self.sink;
        self.chunks.flush(&mut |b| sink.write(b))?;
        let Sink {
            path, writer, rows, ..
        } = self.sink;
        writer.close().map_err(|e| parquet_error(&path, e))?;
        Ok(rows)
    }
}

fn parquet_error(path: &Path, source: parquet::errors::ParquetError) -> Error {
    Error::Parquet {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes batches to one zstd Parquet file at `path` (a path from [`crate::storage`]).
/// Returns the rows written.
pub fn write_batches(
    path: &Path,
    schema: &SchemaRef,
    batches: impl IntoIterator<Item = RecordBatch>,
) -> Result<u64> {
    let mut file = ParquetFile::create(path, schema)?;
    for b in batches {
        file.write(&b)?;
    }
    file.close()
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
        let mut sink = |b| {
            out.push(b);
            Ok(())
        };
        let mut chunks = Rechunker::new(4);
        for b in &input {
            chunks.push(b, &mut sink).unwrap();
        }
        chunks.flush(&mut sink).unwrap();
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

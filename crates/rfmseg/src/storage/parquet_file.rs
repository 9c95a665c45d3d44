//! Parquet files that pandas, polars and DuckDB read as is, with the same bytes embedded
//! and on a cluster: fixed batch sizes and plain string types. Where the file goes (inside
//! an output folder being built, or a new single file) is the rest of [`crate::storage`].

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use arrow::array::{ArrayRef, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{
    ArrowColumnWriter, ArrowLeafColumn, ArrowRowGroupWriterFactory, compute_leaves,
};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{DEFAULT_MAX_ROW_GROUP_ROW_COUNT, WriterProperties};
use parquet::file::writer::SerializedFileWriter;

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

/// What writes the fixed-size batches: their columns are encoded side by side, one
/// column per thread at a time, into the same pages [`ArrowWriter`] would write one column
/// after another (the same calls on each column, in the same order, so the same bytes). A
/// single thread encoding the customers (30 columns, zstd) was most of the write stage.
struct Sink {
    path: PathBuf,
    schema: SchemaRef,
    file: SerializedFileWriter<BufWriter<File>>,
    groups: ArrowRowGroupWriterFactory,
    /// The row group being written, and its rows so far.
    group: Option<(Vec<ArrowColumnWriter>, usize)>,
    /// [`ArrowWriter`]'s row group size, so the file's row groups stay where they were.
    group_rows: usize,
    /// Batches waiting to be encoded, and their rows.
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    rows: u64,
}

/// Rows encoded per round of threads: enough work per column to pay for the threads.
const ENCODE_ROWS: usize = 64 * 1024;

impl Sink {
    fn write(&mut self, b: RecordBatch) -> Result<()> {
        let columns: Vec<ArrayRef> = b
            .columns()
            .iter()
            .zip(self.schema.fields())
            .map(|(c, f)| cast(c, f.data_type()))
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| Error::Internal(e.to_string()))?;
        let mut batch = RecordBatch::try_new(self.schema.clone(), columns)
            .map_err(|e| Error::Internal(e.to_string()))?;
        self.rows += batch.num_rows() as u64;
        // Split where ArrowWriter would: a row group holds `group_rows` rows.
        while batch.num_rows() > 0 {
            let in_group = self.group.as_ref().map_or(0, |(_, rows)| *rows) + self.pending_rows;
            let take = batch.num_rows().min(self.group_rows - in_group);
            self.pending.push(batch.slice(0, take));
            self.pending_rows += take;
            batch = batch.slice(take, batch.num_rows() - take);
            if in_group + take == self.group_rows {
                self.finish_group()?;
            } else if self.pending_rows >= ENCODE_ROWS {
                self.encode_pending()?;
            }
        }
        Ok(())
    }

    /// Encodes the pending batches into the row group's column writers, in parallel.
    fn encode_pending(&mut self) -> Result<()> {
        if self.pending_rows == 0 {
            return Ok(());
        }
        let (writers, group_rows) = match &mut self.group {
            Some(g) => g,
            None => {
                let index = self.file.flushed_row_groups().len();
                let writers = self
                    .groups
                    .create_column_writers(index)
                    .map_err(|e| parquet_error(&self.path, e))?;
                self.group.insert((writers, 0))
            }
        };
        // The leaves of each column (one for a flat column), batch after batch.
        let mut leaves: Vec<Vec<ArrowLeafColumn>> = writers.iter().map(|_| Vec::new()).collect();
        for batch in self.pending.drain(..) {
            let mut slot = 0;
            for (field, column) in self.schema.fields().iter().zip(batch.columns()) {
                for leaf in
                    compute_leaves(field, column).map_err(|e| parquet_error(&self.path, e))?
                {
                    let Some(l) = leaves.get_mut(slot) else {
                        return Err(Error::Internal(format!(
                            "{}: more leaf columns than column writers",
                            self.path.display()
                        )));
                    };
                    l.push(leaf);
                    slot += 1;
                }
            }
            // A writer left without its leaf would write a shorter column.
            if slot != leaves.len() {
                return Err(Error::Internal(format!(
                    "{}: {slot} leaf columns for {} column writers",
                    self.path.display(),
                    leaves.len()
                )));
            }
        }
        *group_rows += self.pending_rows;
        self.pending_rows = 0;
        let jobs: Vec<_> = writers.iter_mut().zip(leaves).collect();
        for done in in_parallel(jobs, |(writer, leaves)| {
            leaves.iter().try_for_each(|leaf| writer.write(leaf))
        })? {
            done.map_err(|e| parquet_error(&self.path, e))?;
        }
        Ok(())
    }

    /// Encodes what is pending and appends the row group to the file.
    fn finish_group(&mut self) -> Result<()> {
        self.encode_pending()?;
        let Some((writers, _)) = self.group.take() else {
            return Ok(());
        };
        // Closing a column compresses its last page: side by side too.
        let chunks = in_parallel(writers, ArrowColumnWriter::close)?;
        let mut group = self
            .file
            .next_row_group()
            .map_err(|e| parquet_error(&self.path, e))?;
        for chunk in chunks {
            chunk
                .and_then(|c| c.append_to_row_group(&mut group))
                .map_err(|e| parquet_error(&self.path, e))?;
        }
        group.close().map_err(|e| parquet_error(&self.path, e))?;
        Ok(())
    }
}

/// `f` of every item, in the items' order, computed on as many threads as there are
/// cores, each thread taking the next item when it is done with one (columns differ a
/// lot in cost: a text column against a flag).
fn in_parallel<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Result<Vec<R>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len());
    if threads <= 1 {
        return Ok(items.into_iter().map(f).collect());
    }
    let items: Vec<Mutex<Option<T>>> = items.into_iter().map(|t| Mutex::new(Some(t))).collect();
    let results: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let work = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else { break };
            let taken = item.lock().map(|mut t| t.take()).ok().flatten();
            if let Some(t) = taken {
                let r = f(t);
                if let Ok(mut slot) = results[i].lock() {
                    *slot = Some(r);
                }
            }
        }
    };
    std::thread::scope(|s| {
        for _ in 1..threads {
            s.spawn(work);
        }
        work();
    });
    // Every slot is filled: a thread that panicked has panicked the scope above.
    results
        .into_iter()
        .map(|r| r.into_inner().ok().flatten())
        .collect::<Option<Vec<R>>>()
        .ok_or_else(|| Error::Internal("a column was not encoded".into()))
}

impl ParquetFile {
    pub fn create(path: &Path, schema: &SchemaRef) -> Result<ParquetFile> {
        Self::create_with(path, schema, DEFAULT_MAX_ROW_GROUP_ROW_COUNT)
    }

    fn create_with(path: &Path, schema: &SchemaRef, group_rows: usize) -> Result<ParquetFile> {
        let schema = portable_schema(schema);
        let file = File::create(path).map_err(|e| Error::io(path, e))?;
        let props = properties(group_rows);
        // ArrowWriter sets up the file (the Arrow schema in its metadata, as readers
        // expect) and hands over the parts that write it.
        let (file, groups) =
            ArrowWriter::try_new(BufWriter::new(file), schema.clone(), Some(props))
                .and_then(ArrowWriter::into_serialized_writer)
                .map_err(|e| parquet_error(path, e))?;
        Ok(ParquetFile {
            chunks: Rechunker::new(WRITE_BATCH_ROWS),
            sink: Sink {
                path: path.to_path_buf(),
                schema,
                file,
                groups,
                group: None,
                group_rows: group_rows.max(1),
                pending: Vec::new(),
                pending_rows: 0,
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
        sink.finish_group()?;
        let Sink {
            path, file, rows, ..
        } = self.sink;
        file.close().map_err(|e| parquet_error(&path, e))?;
        Ok(rows)
    }
}

fn properties(group_rows: usize) -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap_or_default()))
        .set_max_row_group_row_count(Some(group_rows))
        .build()
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
    use arrow::array::{
        BooleanArray, Float64Array, Int32Array, Int64Array, StringArray, StructArray,
    };
    use arrow::datatypes::Fields;

    /// Rows of a flat and a nested column (a struct: two leaf columns), nulls included.
    fn mixed_batch(from: i64, n: i64) -> RecordBatch {
        let ids: Vec<i64> = (from..from + n).collect();
        let text = |i: i64| {
            (i % 7 != 3).then(|| format!("customer-{:x}", i.wrapping_mul(2654435761) % 100_003))
        };
        let inner = Fields::from(vec![
            Field::new("a", DataType::Int32, true),
            Field::new("b", DataType::Utf8, true),
        ]);
        let nested = StructArray::new(
            inner,
            vec![
                Arc::new(Int32Array::from_iter(
                    ids.iter()
                        .map(|i| (i % 5 != 0).then_some((*i % 1000) as i32)),
                )) as ArrayRef,
                Arc::new(StringArray::from_iter(ids.iter().map(|i| text(i / 3)))) as ArrayRef,
            ],
            None,
        );
        RecordBatch::try_from_iter(vec![
            ("id", Arc::new(Int64Array::from(ids.clone())) as ArrayRef),
            (
                "name",
                Arc::new(StringArray::from_iter(ids.iter().map(|i| text(*i)))) as ArrayRef,
            ),
            (
                "score",
                Arc::new(Float64Array::from_iter_values(
                    ids.iter().map(|i| (*i as f64).sqrt()),
                )) as ArrayRef,
            ),
            (
                "flag",
                Arc::new(BooleanArray::from_iter(
                    ids.iter().map(|i| Some(i % 3 == 0)),
                )) as ArrayRef,
            ),
            ("nested", Arc::new(nested) as ArrayRef),
        ])
        .unwrap()
    }

    #[test]
    fn columns_encoded_in_parallel_give_arrow_writers_bytes() {
        let dir = tempfile::tempdir().unwrap();
        // Uneven input batches, and a row-group size that is not a multiple of the write
        // batches, so batches are split at row-group ends and rounds of encoding.
        let sizes = [5_000, 0, 70_001, 8_192, 1, 40_000];
        let mut input = Vec::new();
        let mut from = 0;
        for n in sizes {
            input.push(mixed_batch(from, n));
            from += n;
        }
        let schema = input[0].schema();
        let group_rows = 30_000;
        let ours = dir.path().join("ours.parquet");
        let mut file = ParquetFile::create_with(&ours, &schema, group_rows).unwrap();
        for b in &input {
            file.write(b).unwrap();
        }
        assert_eq!(file.close().unwrap(), from as u64);

        // The same rows through ArrowWriter, in the same fixed-size batches.
        let reference = dir.path().join("reference.parquet");
        let all = arrow::compute::concat_batches(&schema, &input).unwrap();
        let mut writer = ArrowWriter::try_new(
            File::create(&reference).unwrap(),
            schema.clone(),
            Some(properties(group_rows)),
        )
        .unwrap();
        let mut offset = 0;
        while offset < all.num_rows() {
            let n = WRITE_BATCH_ROWS.min(all.num_rows() - offset);
            writer.write(&all.slice(offset, n)).unwrap();
            offset += n;
        }
        writer.close().unwrap();
        let (a, b) = (
            std::fs::read(&ours).unwrap(),
            std::fs::read(&reference).unwrap(),
        );
        assert_eq!(a.len(), b.len());
        assert!(a == b, "the files differ");

        // And the rows read back are the rows written, in 5 row groups.
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            File::open(&ours).unwrap(),
        )
        .unwrap();
        assert_eq!(reader.metadata().num_row_groups(), 5);
        let back: Vec<RecordBatch> = reader.build().unwrap().map(|b| b.unwrap()).collect();
        assert_eq!(arrow::compute::concat_batches(&schema, &back).unwrap(), all);
    }

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

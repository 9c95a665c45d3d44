//! Parquet input: the Hugging Face conversion of Amazon Reviews 2023 has the same columns
//! as the JSON Lines files, with types chosen by the converter. Each lake column is taken
//! by name and cast to the lake type (a price of any type becomes its text).

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, Int64Array, RecordBatch, new_null_array};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int64Type, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::FileCounts;
use super::checks::{self, Evidence};
use super::segments::part_writer;
use crate::error::{Error, Result};
use crate::lake::Table;

/// (lake column, source column, required)
fn columns(table: Table) -> &'static [(&'static str, &'static str, bool)] {
    match table {
        Table::Reviews => &[
            ("user_id", "user_id", true),
            ("parent_asin", "parent_asin", true),
            ("asin", "asin", false),
            ("rating", "rating", true),
            ("ts", "timestamp", true),
            ("verified_purchase", "verified_purchase", false),
            ("helpful_vote", "helpful_vote", false),
        ],
        Table::Items => &[
            ("parent_asin", "parent_asin", true),
            ("title", "title", false),
            ("main_category", "main_category", false),
            ("store", "store", false),
            ("categories", "categories", false),
            ("price_raw", "price", false),
        ],
    }
}

pub(crate) fn ingest_parquet(
    table: Table,
    path: &Path,
    file_idx: usize,
    dir: &Path,
) -> Result<FileCounts> {
    let bad = |message: String| Error::BadInput {
        path: path.to_path_buf(),
        message,
        hint: format!(
            "pass the Amazon Reviews 2023 Parquet conversion of the {} file",
            table.dir_name()
        ),
    };
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let bytes = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| bad(format!("not a readable Parquet file: {e}")))?;
    let source_schema = builder.schema().clone();
    for (_, src, required) in columns(table) {
        if *required && source_schema.index_of(src).is_err() {
            return Err(bad(format!("column \"{src}\" missing")));
        }
    }
    let reader = builder
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| bad(format!("not a readable Parquet file: {e}")))?;
    // The columns read; for reviews the lake adds each row's bucket (`buckets`).
    let target = match table {
        Table::Reviews => crate::lake::review_rows_schema(),
        Table::Items => table.schema(),
    };
    let out_path = dir.join(format!("part-{file_idx:03}-00000.parquet"));
    let pq = |e| Error::Parquet {
        path: out_path.clone(),
        source: e,
    };
    let mut writer = part_writer(&out_path, table)?;
    let mut rows = 0u64;
    let mut evidence = Evidence::default();
    // Reviews are written FILE_BATCHES batches at a time, a row group per bucket of them
    // (as JSON input's part files are; `segments::ReviewFiles`).
    let mut held: Vec<crate::lake::buckets::Bucketed> = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| bad(format!("read failed: {e}")))?;
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(target.fields().len());
        for ((lake, src, _), field) in columns(table).iter().zip(target.fields()) {
            let array = match batch.column_by_name(src) {
                None => new_null_array(field.data_type(), batch.num_rows()),
                Some(col) if *lake == "ts" => to_seconds(col, rows, &mut evidence)
                    .map_err(|m| bad(format!("column \"{src}\": {m}")))?,
                Some(col) => cast(col, field.data_type()).map_err(|e| {
                    bad(format!(
                        "column \"{src}\" is {}, cannot be read as {}: {e}",
                        col.data_type(),
                        field.data_type()
                    ))
                })?,
            };
            arrays.push(array);
        }
        let out = RecordBatch::try_new(target.clone(), arrays)
            .map_err(|e| Error::Internal(e.to_string()))?;
        rows += out.num_rows() as u64;
        if table == Table::Reviews {
            held.push(crate::lake::buckets::by_bucket(&out)?);
            if held.len() == FILE_BATCHES {
                crate::lake::buckets::write_by_bucket(&mut writer, &held, pq)?;
                held.clear();
            }
        } else {
            writer.write(&out).map_err(pq)?;
        }
    }
    crate::lake::buckets::write_by_bucket(&mut writer, &held, pq)?;
    writer.close().map_err(pq)?;
    if let Some(e) = checks::seconds_error(path, &evidence, "row") {
        return Err(e);
    }
    Ok(FileCounts {
        bytes,
        lines: rows,
        blank_lines: 0,
        bad_lines: 0,
        rows,
        parquet_files: 1,
    })
}

/// Rows read from the input at a time.
const BATCH_ROWS: usize = 64 * 1024;

/// Batches of reviews whose buckets make one round of row groups: 8 x 64K rows, about
/// 32,000 rows per bucket's row group, like four segments of JSON input.
const FILE_BATCHES: usize = 8;

/// Integer milliseconds (the raw format) or any timestamp type, to UTC seconds, floored
/// as the JSON path does. Each value is also noted in `evidence` (rows numbered from 1,
/// `first_row` rows before this batch), for the seconds-instead-of-milliseconds check; a
/// typed timestamp is checked too, as one cast from integer seconds has the same flaw.
fn to_seconds(col: &ArrayRef, first_row: u64, evidence: &mut Evidence) -> Result<ArrayRef, String> {
    let ms = match col.data_type() {
        DataType::Int64 | DataType::Int32 | DataType::UInt64 => cast(col, &DataType::Int64),
        DataType::Timestamp(_, _) => cast(col, &DataType::Timestamp(TimeUnit::Millisecond, None))
            .and_then(|plain| cast(&plain, &DataType::Int64)),
        other => {
            return Err(format!(
                "is {other}, expected integer milliseconds or a timestamp"
            ));
        }
    }
    .map_err(|e| e.to_string())?;
    let ms = ms.as_primitive::<Int64Type>();
    for (i, v) in ms.iter().enumerate() {
        if let Some(v) = v {
            evidence.timestamp(first_row + i as u64 + 1, v);
        }
    }
    let seconds: Int64Array = ms.unary(|v| v.div_euclid(1000));
    cast(
        &(Arc::new(seconds) as ArrayRef),
        &DataType::Timestamp(TimeUnit::Second, None),
    )
    .map_err(|e| e.to_string())
}

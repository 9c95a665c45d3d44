//! Reviews grouped by customer in the lake, so that cleaning can deduplicate one group of
//! customers at a time.
//!
//! The cleaning's exact DISTINCT over every review held one hash table of all of them
//! (5.5 GB at the full Electronics size, 43.9M reviews). Exact duplicates share their
//! user_id, so they can be found within a group of customers: ingest gives each review a
//! bucket from its user_id, writes each part file's reviews ordered by bucket with one
//! Parquet row group per bucket, and stores the bucket in the `user_bucket` column. A
//! query with `WHERE user_bucket BETWEEN lo AND hi` then reads only those row groups
//! (DataFusion prunes the others by their statistics).
//!
//! The rule is part of the lake format, the same in every version that writes the column:
//! the bucket is FNV-1a of the user_id's bytes ([`rfmseg_udfs::stable_hash`]) modulo
//! [`USER_BUCKETS`]; a NULL user_id, or one that is a placeholder of [`PLACEHOLDERS`]
//! (trimmed, any case), is bucket 0. Cleaning turns placeholders into NULL before it
//! deduplicates, so rows with different placeholders can be duplicates of each other;
//! they all sit in bucket 0. Any other user_id is unchanged by cleaning, so its duplicates
//! have the same bytes and the same bucket. A run whose `clean.missing_values` holds a
//! string outside [`PLACEHOLDERS`] cannot rely on this and cleans in one pass.

use std::ops::Range;
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, Int32Array, RecordBatch, UInt32Array};
use arrow::compute::take_record_batch;
use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::errors::ParquetError;

use crate::error::{Error, Result};

/// Buckets in a lake's reviews.
pub const USER_BUCKETS: i32 = 16;

/// The lake column that holds a review's bucket.
pub const BUCKET_COLUMN: &str = "user_bucket";

/// The placeholder user_ids that go to bucket 0, trimmed and lower-cased: the reference
/// analysis's placeholder strings (DESIGN §3), as `clean.missing_values` has by default.
pub const PLACEHOLDERS: [&str; 4] = ["none", "n/a", "null", ""];

/// The bucket of a review by its user_id.
pub fn user_bucket(user_id: Option<&str>) -> i32 {
    match user_id {
        None => 0,
        Some(id) if is_placeholder(id) => 0,
        Some(id) => (rfmseg_udfs::stable_hash(id) % i64::from(USER_BUCKETS)) as i32,
    }
}

/// Whether `id`, trimmed, is one of [`PLACEHOLDERS`] in any case. A real id is longer
/// than any placeholder, so most ids are decided by their length.
fn is_placeholder(id: &str) -> bool {
    let id = id.trim();
    id.len() <= 4 && PLACEHOLDERS.iter().any(|p| id.eq_ignore_ascii_case(p))
}

/// Whether every string of a run's `clean.missing_values` is one of [`PLACEHOLDERS`]
/// (trimmed, any case): then the rows cleaning turns into a NULL user_id are all in
/// bucket 0, and deduplicating bucket by bucket is exact.
pub fn placeholders_cover(missing_values: &[String]) -> bool {
    missing_values.iter().all(|m| is_placeholder(m))
}

/// Review rows ordered by bucket ([`by_bucket`]), with the bucket column added.
pub(crate) struct Bucketed {
    pub rows: RecordBatch,
    /// The rows of bucket `b` are `rows[ranges[b]]`: one range per bucket, empty for a
    /// bucket with no rows.
    pub ranges: Vec<Range<usize>>,
}

/// A batch of review rows (the columns of [`crate::lake::review_rows_schema`]) ordered by
/// bucket, with the bucket column added. The order within a bucket is the input order.
pub(crate) fn by_bucket(batch: &RecordBatch) -> Result<Bucketed> {
    let users = batch
        .column_by_name("user_id")
        .ok_or_else(|| Error::Internal("review rows without user_id".into()))?
        .as_string::<i32>();
    let buckets: Vec<i32> = users.iter().map(user_bucket).collect();
    // A stable counting sort by bucket.
    let mut starts = [0usize; USER_BUCKETS as usize + 1];
    for b in &buckets {
        starts[*b as usize + 1] += 1;
    }
    for i in 1..starts.len() {
        starts[i] += starts[i - 1];
    }
    let ranges: Vec<Range<usize>> = starts.windows(2).map(|w| w[0]..w[1]).collect();
    let mut next = starts;
    let mut order = vec![0u32; buckets.len()];
    for (row, b) in buckets.iter().enumerate() {
        order[next[*b as usize]] = row as u32;
        next[*b as usize] += 1;
    }
    let order = UInt32Array::from(order);
    let sorted = take_record_batch(batch, &order).map_err(|e| Error::Internal(e.to_string()))?;
    let bucket_column: Int32Array = order
        .values()
        .iter()
        .map(|row| buckets[*row as usize])
        .collect();
    let mut fields: Vec<Arc<Field>> = sorted.schema().fields().iter().cloned().collect();
    fields.push(Arc::new(Field::new(BUCKET_COLUMN, DataType::Int32, false)));
    let mut columns: Vec<ArrayRef> = sorted.columns().to_vec();
    columns.push(Arc::new(bucket_column));
    let rows = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .map_err(|e| Error::Internal(e.to_string()))?;
    Ok(Bucketed { rows, ranges })
}

/// Writes the review rows of `parts` to `writer`, one row group per bucket present (more
/// only past the writer's row-group limit), each holding that bucket's rows of every part
/// in the order of `parts`; `pq` names the file in a Parquet error.
///
/// Several parts make one file because a row group per bucket of one 64 MB segment of
/// JSON was 7,600 rows, and reading the lake pays for each row group's column chunks (a
/// decoder, a dictionary page, statistics): `rfmseg clean` at 10M reviews took 10% longer
/// than over files of four segments.
pub(crate) fn write_by_bucket<W: std::io::Write + Send>(
    writer: &mut ArrowWriter<W>,
    parts: &[Bucketed],
    pq: impl Fn(ParquetError) -> Error,
) -> Result<()> {
    for b in 0..USER_BUCKETS as usize {
        let mut written = false;
        for part in parts {
            let r = &part.ranges[b];
            if !r.is_empty() {
                writer
                    .write(&part.rows.slice(r.start, r.len()))
                    .map_err(&pq)?;
                written = true;
            }
        }
        if written {
            writer.flush().map_err(&pq)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::StringArray;

    #[test]
    fn placeholders_and_nulls_are_bucket_zero_and_ids_hash() {
        for id in [
            None,
            Some("None"),
            Some(" n/A "),
            Some("NULL"),
            Some(""),
            Some("  "),
        ] {
            assert_eq!(user_bucket(id), 0, "{id:?}");
        }
        // FNV-1a, as the lake format states: the same id, the same bucket, in any version.
        let id = "AGBFYI2DDIKXC5Y4FARTYDTQBMFQ";
        assert_eq!(
            user_bucket(Some(id)),
            (rfmseg_udfs::stable_hash(id) % 16) as i32
        );
        // The FNV-1a 64 test vector of "a", 0xaf63dc4c8601ec8c, with its top bit cleared.
        assert_eq!(rfmseg_udfs::stable_hash("a"), 0x2f63_dc4c_8601_ec8c);
        let counts = (0..16_000).fold([0u32; 16], |mut c, i| {
            c[user_bucket(Some(&format!("U{i:08}"))) as usize] += 1;
            c
        });
        assert!(counts.iter().all(|n| (800..1200).contains(n)), "{counts:?}");
    }

    #[test]
    fn a_run_can_rely_on_the_buckets_only_for_placeholders_among_them() {
        let list = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(placeholders_cover(&list(&[
            "None", "none", "N/A", "n/a", "null", "NULL", ""
        ])));
        assert!(placeholders_cover(&list(&[" NONE "])));
        assert!(!placeholders_cover(&list(&["None", "unknown"])));
    }

    #[test]
    fn rows_are_ordered_by_bucket_stably_with_their_bucket() -> Result<()> {
        let ids = ["u1", "u2", "None", "u1", "u3", "u2", "null"];
        let users: ArrayRef = Arc::new(StringArray::from_iter(
            ids.iter().map(|s| Some(*s)).chain([None]),
        ));
        let rows: ArrayRef = Arc::new(Int32Array::from_iter_values(0..8));
        let batch = RecordBatch::try_from_iter([("user_id", users), ("row", rows)])
            .map_err(|e| Error::Internal(e.to_string()))?;
        let Bucketed { rows: out, ranges } = by_bucket(&batch)?;
        let buckets = out.column(2).as_primitive::<arrow::datatypes::Int32Type>();
        let order = out.column(1).as_primitive::<arrow::datatypes::Int32Type>();
        // Ascending buckets; within one, the input order; every row once.
        let pairs: Vec<(i32, i32)> = buckets
            .values()
            .iter()
            .copied()
            .zip(order.values().iter().copied())
            .collect();
        let mut want: Vec<(i32, i32)> = (0..8)
            .map(|r| (user_bucket(ids.get(r as usize).copied()), r))
            .collect();
        want.sort();
        assert_eq!(pairs, want);
        for row in [2, 6, 7] {
            assert!(pairs.contains(&(0, row)), "row {row} in bucket 0");
        }
        // One range per bucket, in order, covering the batch: bucket b's rows.
        assert_eq!(ranges.len(), USER_BUCKETS as usize);
        assert_eq!(ranges.first().map(|r| r.start), Some(0));
        assert_eq!(ranges.last().map(|r| r.end), Some(8));
        for (b, r) in ranges.iter().enumerate() {
            assert!(buckets.values()[r.clone()].iter().all(|x| *x == b as i32));
            let want = pairs.iter().filter(|(x, _)| *x == b as i32).count();
            assert_eq!(r.len(), want, "bucket {b}");
        }
        Ok(())
    }
}

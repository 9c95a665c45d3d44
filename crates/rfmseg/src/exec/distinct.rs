//! `SELECT DISTINCT *` done in Rust over a query's streams, for the cleaning's exact
//! duplicates (of reviews and of items) in an embedded session.
//!
//! DataFusion's DISTINCT over the seven review columns was most of the cleaning: 260 ns a
//! review at 10M (a partial and a final hash aggregation, every string copied into the
//! group table, every row encoded and compared). Here a row is hashed with DataFusion's
//! own column hashes, one table holds (hash, batch, row) of each distinct row seen, and
//! columns are compared only where two hashes are equal (almost only true duplicates); the
//! rows are kept as they come, in the batches they came in. With several partitions, rows
//! are sent by their hash to as many shards, one table and task each (the shuffle
//! DataFusion's DISTINCT does between its two aggregations, without the first).
//!
//! Rows are equal as DataFusion 55's grouping finds them (`GroupValuesColumn`, which this
//! DISTINCT plans to for these column types; with a list column, `GroupValuesRows`, whose
//! row format compares a list's strings the same way): NULL equals NULL, strings by their bytes,
//! numbers by their bits once a float's -0.0 is made 0.0 (so a NaN equals only the same
//! NaN), and the row passed on has 0.0 where DataFusion's output does. Which of two equal
//! rows is passed on does not matter: they are the same values.
//!
//! Not used on a cluster (each executor would see only its own rows) nor under a memory
//! limit (this table is not in DataFusion's memory pool and cannot spill).

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, ListArray, RecordBatch, StringArray, StringViewArray,
    UInt32Array,
};
use arrow::buffer::{NullBuffer, ScalarBuffer};
use arrow::compute::take_record_batch;
use arrow::datatypes::{DataType, Float64Type, Schema};
use datafusion::common::hash_utils::{RandomState, create_hashes};
use datafusion::datasource::MemTable;
use datafusion::error::{DataFusionError, Result};
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use hashbrown::HashTable;
use hashbrown::hash_table::Entry;
use tokio::sync::mpsc::{Receiver, Sender};

/// Whether [`DistinctRows`] can compare every column of `schema`; if not, the caller
/// keeps DataFusion's DISTINCT.
pub fn supports(schema: &Schema) -> bool {
    schema.fields().iter().all(|f| supported(f.data_type()))
}

fn supported(t: &DataType) -> bool {
    match t {
        DataType::Utf8 | DataType::Utf8View | DataType::Boolean => true,
        // An item's categories. Lists of strings only: DataFusion compares a list's
        // elements through its row format, whose floats keep -0.0 apart from 0.0.
        DataType::List(f) => is_text(f.data_type()),
        t => t.primitive_width() == Some(8),
    }
}

fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8)
}

/// One distinct row: where it is among the rows passed on.
struct Seen {
    hash: u64,
    batch: u32,
    row: u32,
}

/// A column of a batch, typed once for the row comparisons.
enum Column {
    View(StringViewArray),
    Utf8(StringArray),
    Bool(BooleanArray),
    /// Any 8-byte primitive (Float64, Int64, timestamps), compared by its bits.
    Bits(ScalarBuffer<u64>, Option<NullBuffer>),
    /// A list of strings, compared element by element (NULL elements equal).
    List(ListArray),
}

impl Column {
    fn new(array: &ArrayRef) -> Result<Column> {
        Ok(match array.data_type() {
            DataType::Utf8View => Column::View(array.as_string_view().clone()),
            DataType::Utf8 => Column::Utf8(array.as_string::<i32>().clone()),
            DataType::Boolean => Column::Bool(array.as_boolean().clone()),
            DataType::List(f) if is_text(f.data_type()) => Column::List(array.as_list().clone()),
            t if t.primitive_width() == Some(8) => {
                let data = array.to_data();
                let values =
                    ScalarBuffer::new(data.buffers()[0].clone(), data.offset(), data.len());
                Column::Bits(values, data.nulls().cloned())
            }
            t => {
                return Err(DataFusionError::Internal(format!(
                    "distinct rows: no comparison for a column of type {t}"
                )));
            }
        })
    }

    fn is_null(&self, i: usize) -> bool {
        match self {
            Column::View(a) => a.is_null(i),
            Column::Utf8(a) => a.is_null(i),
            Column::Bool(a) => a.is_null(i),
            Column::Bits(_, nulls) => nulls.as_ref().is_some_and(|n| n.is_null(i)),
            Column::List(a) => a.is_null(i),
        }
    }

    /// Row `i` of this column equals row `j` of `other` (the same column of another
    /// batch, so of the same type).
    fn eq(&self, i: usize, other: &Column, j: usize) -> bool {
        match (self.is_null(i), other.is_null(j)) {
            (true, true) => return true,
            (false, false) => {}
            _ => return false,
        }
        match (self, other) {
            (Column::View(a), Column::View(b)) => a.value(i) == b.value(j),
            (Column::Utf8(a), Column::Utf8(b)) => a.value(i) == b.value(j),
            (Column::Bool(a), Column::Bool(b)) => a.value(i) == b.value(j),
            (Column::Bits(a, _), Column::Bits(b, _)) => a[i] == b[j],
            // Arrow's logical equality: the same length, NULLs in the same places, the
            // same strings elsewhere.
            (Column::List(a), Column::List(b)) => a.value(i).as_ref() == b.value(j).as_ref(),
            _ => false,
        }
    }
}

fn rows_eq(a: &[Column], i: usize, b: &[Column], j: usize) -> bool {
    a.iter().zip(b).all(|(x, y)| x.eq(i, y, j))
}

/// The distinct rows of one stream of batches, passed on as they are first seen.
#[derive(Default)]
pub struct DistinctRows {
    table: HashTable<Seen>,
    /// The batches passed on, as compared.
    kept: Vec<Vec<Column>>,
}

impl DistinctRows {
    /// Room for `rows` distinct rows from the start: growing the table rehashes every
    /// row seen (3% of the cleaning at 10M reviews).
    pub fn with_capacity(rows: usize) -> Self {
        DistinctRows {
            table: HashTable::with_capacity(rows),
            ..Default::default()
        }
    }

    /// The rows of `batch` not seen before (in this batch or an earlier one), in order;
    /// `None` if there are none.
    pub fn push(&mut self, batch: &RecordBatch) -> Result<Option<RecordBatch>> {
        let (batch, hashes) = hashed(batch)?;
        self.push_hashed(&batch, &hashes, None)
    }

    /// [`DistinctRows::push`] of a batch made by [`hashed`], with its rows' hashes.
    fn push_hashed(
        &mut self,
        batch: &RecordBatch,
        hashes: &[u64],
        only: Option<&[u32]>,
    ) -> Result<Option<RecordBatch>> {
        let rows = batch.num_rows();
        if rows == 0 || only.is_some_and(|o| o.is_empty()) {
            return Ok(None);
        }
        let columns = batch
            .columns()
            .iter()
            .map(Column::new)
            .collect::<Result<Vec<_>>>()?;
        let this = u32::try_from(self.kept.len())
            .map_err(|_| DataFusionError::Internal("distinct rows: too many batches".into()))?;
        // Rows of this batch already passed on: a later row of the same batch may repeat
        // one, and is compared with it here by its place in the batch.
        let mut passed: Vec<u32> = Vec::new();
        let kept = &self.kept;
        let all: Vec<u32>;
        let only = match only {
            Some(o) => o,
            None => {
                all = (0..rows as u32).collect();
                &all
            }
        };
        for &row in only {
            let (row, hash) = (row as usize, hashes[row as usize]);
            let entry = self.table.entry(
                hash,
                |s| {
                    s.hash == hash
                        && if s.batch == this {
                            rows_eq(&columns, passed[s.row as usize] as usize, &columns, row)
                        } else {
                            rows_eq(&kept[s.batch as usize], s.row as usize, &columns, row)
                        }
                },
                |s| s.hash,
            );
            match entry {
                Entry::Occupied(_) => {}
                Entry::Vacant(slot) => {
                    slot.insert(Seen {
                        hash,
                        batch: this,
                        row: passed.len() as u32,
                    });
                    passed.push(row as u32);
                }
            }
        }
        if passed.is_empty() {
            return Ok(None);
        }
        let out = if passed.len() == rows {
            batch.clone()
        } else {
            take_record_batch(batch, &UInt32Array::from(passed))?
        };
        self.kept.push(
            out.columns()
                .iter()
                .map(Column::new)
                .collect::<Result<Vec<_>>>()?,
        );
        Ok(Some(out))
    }
}

/// `batch` as it is compared (see [`canonical_zeros`]) and its rows' hashes: DataFusion's
/// own, which hash a float as its -0.0 made 0.0 too.
fn hashed(batch: &RecordBatch) -> Result<(RecordBatch, Vec<u64>)> {
    let batch = canonical_zeros(batch)?;
    let mut hashes = vec![0; batch.num_rows()];
    create_hashes(batch.columns(), &RandomState::with_seed(0), &mut hashes)?;
    Ok((batch, hashes))
}

/// `batch` with every -0.0 of a Float64 column made 0.0, as DataFusion groups and
/// outputs it; the same batch where there is none.
fn canonical_zeros(batch: &RecordBatch) -> Result<RecordBatch> {
    const NEGATIVE_ZERO: u64 = 1 << 63;
    let has = |c: &ArrayRef| {
        c.as_primitive_opt::<Float64Type>()
            .is_some_and(|a| a.values().iter().any(|v| v.to_bits() == NEGATIVE_ZERO))
    };
    if !batch.columns().iter().any(has) {
        return Ok(batch.clone());
    }
    let columns = batch
        .columns()
        .iter()
        .map(|c| match c.as_primitive_opt::<Float64Type>() {
            Some(a) if has(c) => {
                Arc::new(a.unary::<_, Float64Type>(|v| if v == 0.0 { 0.0 } else { v })) as ArrayRef
            }
            _ => c.clone(),
        })
        .collect();
    Ok(RecordBatch::try_new(batch.schema(), columns)?)
}

/// Which of `shards` a row of hash `hash` goes to: bits 32-47, which neither the bucket
/// (the low bits) nor the tag (the top seven) of a shard's table uses, so each shard's
/// table stays as spread as one over every row.
fn shard_of(hash: u64, shards: usize) -> usize {
    ((((hash >> 32) & 0xffff) * shards as u64) >> 16) as usize
}

/// A batch for a shard: the whole batch and its rows' hashes, shared by every shard, and
/// which rows are this shard's (all when there is one shard). Only the distinct rows are
/// ever copied, by the shard that keeps them.
struct ShardRows {
    batch: RecordBatch,
    hashes: Arc<Vec<u64>>,
    rows: Option<Vec<u32>>,
}

/// Sends each row of `stream` to its shard, with its hash.
async fn split(mut stream: SendableRecordBatchStream, shards: &[Sender<ShardRows>]) -> Result<()> {
    while let Some(batch) = stream.next().await {
        let (batch, hashes) = hashed(&batch?)?;
        let hashes = Arc::new(hashes);
        if shards.len() == 1 {
            let all = ShardRows {
                batch,
                hashes,
                rows: None,
            };
            if shards[0].send(all).await.is_err() {
                break;
            }
            continue;
        }
        let mut rows: Vec<Vec<u32>> = vec![Vec::new(); shards.len()];
        for (row, &hash) in hashes.iter().enumerate() {
            rows[shard_of(hash, shards.len())].push(row as u32);
        }
        for (shard, rows) in shards.iter().zip(rows) {
            if rows.is_empty() {
                continue;
            }
            let part = ShardRows {
                batch: batch.clone(),
                hashes: hashes.clone(),
                rows: Some(rows),
            };
            if shard.send(part).await.is_err() {
                // The shard failed: its error is the one reported.
                return Ok(());
            }
        }
    }
    Ok(())
}

/// The distinct rows of one shard: every row with a hash of that shard, from every
/// input partition.
async fn distinct_shard(mut input: Receiver<ShardRows>, rows: usize) -> Result<Vec<RecordBatch>> {
    let mut distinct = DistinctRows::with_capacity(rows);
    let mut out = Vec::new();
    while let Some(part) = input.recv().await {
        if let Some(rows) = distinct.push_hashed(&part.batch, &part.hashes, part.rows.as_deref())? {
            out.push(rows);
        }
    }
    Ok(out)
}

/// Registers as `table` (in memory) the distinct rows of `query`, made distinct here:
/// each row goes by its hash to one of as many shards as the session has partitions, each
/// shard a task with its own table, so equal rows meet wherever the query read them. False,
/// with nothing registered, where a column has a type [`DistinctRows`] does not compare.
/// `rows`: about how many rows the query gives, for the tables' first size.
pub(crate) async fn register_distinct(
    ctx: &SessionContext,
    stage: &str,
    query: &str,
    rows: u64,
    table: &str,
) -> crate::error::Result<bool> {
    let started = std::time::Instant::now();
    let fail = |e| crate::error::Error::stage(stage, e);
    let df = ctx.sql(query).await.map_err(fail)?;
    let schema = Arc::new(df.schema().as_arrow().clone());
    if !supports(&schema) {
        return Ok(false);
    }
    let shards = ctx.copied_config().target_partitions().max(1);
    let streams = df.execute_stream_partitioned().await.map_err(fail)?;
    let each = (rows as usize).div_ceil(shards);
    let mut shard_tasks = tokio::task::JoinSet::new();
    let mut senders = Vec::new();
    for i in 0..shards {
        // A few batches in flight per shard: enough to keep both sides busy.
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        senders.push(tx);
        shard_tasks.spawn(async move { (i, distinct_shard(rx, each).await) });
    }
    let mut split_tasks = tokio::task::JoinSet::new();
    for stream in streams {
        let senders = senders.clone();
        split_tasks.spawn(async move { split(stream, &senders).await });
    }
    drop(senders);
    let joined =
        |e: tokio::task::JoinError| crate::error::Error::Internal(format!("stage {stage}: {e}"));
    let mut first_error = None;
    while let Some(done) = split_tasks.join_next().await {
        if let Err(e) = done.map_err(joined)?.map_err(fail) {
            first_error.get_or_insert(e);
        }
    }
    let mut parts = Vec::new();
    while let Some(done) = shard_tasks.join_next().await {
        let (i, batches) = done.map_err(joined)?;
        match batches.map_err(fail) {
            Ok(b) => parts.push((i, b)),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    parts.sort_by_key(|(i, _)| *i);
    let parts = parts.into_iter().map(|(_, b)| b).collect();
    let mem = MemTable::try_new(schema, parts).map_err(fail)?;
    ctx.deregister_table(table).map_err(fail)?;
    ctx.register_table(table, Arc::new(mem)).map_err(fail)?;
    super::query_count::counted(ctx, started);
    tracing::debug!(
        stage,
        seconds = started.elapsed().as_secs_f64(),
        "distinct rows"
    );
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float64Array, Int64Array, StringViewArray, TimestampSecondArray};
    use arrow::datatypes::{Field, TimeUnit};
    use arrow::util::display::array_value_to_string;

    fn schema() -> Arc<Schema> {
        Arc::new(Schema::new(vec![
            Field::new("user_id", DataType::Utf8View, true),
            Field::new("asin", DataType::Utf8, true),
            Field::new("rating", DataType::Float64, true),
            Field::new("ts", DataType::Timestamp(TimeUnit::Second, None), true),
            Field::new("verified", DataType::Boolean, true),
            Field::new("votes", DataType::Int64, true),
        ]))
    }

    /// Rows built from small codes, so that many are equal: the strings short (inline
    /// in a view) and long, the floats with -0.0, 0.0 and NaN, every column with NULLs.
    fn batch(seed: u64, rows: usize) -> RecordBatch {
        let mut x = seed;
        let mut next = |n: u64| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) % n
        };
        let mut user = Vec::new();
        let mut asin = Vec::new();
        let mut rating = Vec::new();
        let mut ts = Vec::new();
        let mut verified = Vec::new();
        let mut votes = Vec::new();
        for _ in 0..rows {
            user.push(match next(4) {
                0 => None,
                1 => Some("AE3".to_string()),
                2 => Some("a-user-id-longer-than-twelve-bytes".to_string()),
                _ => Some("a-user-id-longer-than-twelve-bytez".to_string()),
            });
            asin.push(match next(3) {
                0 => None,
                v => Some(format!("B{v}")),
            });
            rating.push(match next(6) {
                0 => None,
                1 => Some(-0.0),
                2 => Some(0.0),
                3 => Some(f64::NAN),
                v => Some(v as f64),
            });
            ts.push(match next(3) {
                0 => None,
                v => Some(v as i64 * 86_400),
            });
            verified.push(match next(3) {
                0 => None,
                v => Some(v == 1),
            });
            votes.push(match next(3) {
                0 => None,
                v => Some(-(v as i64)),
            });
        }
        RecordBatch::try_new(
            schema(),
            vec![
                Arc::new(StringViewArray::from(user)),
                Arc::new(StringArray::from(asin)),
                Arc::new(Float64Array::from(rating)),
                Arc::new(TimestampSecondArray::from(ts)),
                Arc::new(BooleanArray::from(verified)),
                Arc::new(Int64Array::from(votes)),
            ],
        )
        .unwrap()
    }

    /// A row as text with its floats' bits, for comparing sets of rows.
    fn rows_of(batches: &[RecordBatch]) -> Vec<String> {
        let mut rows = Vec::new();
        for b in batches {
            for r in 0..b.num_rows() {
                let cells: Vec<String> = b
                    .columns()
                    .iter()
                    .map(|c| match c.as_any().downcast_ref::<Float64Array>() {
                        Some(f) if f.is_valid(r) => format!("{:#x}", f.value(r).to_bits()),
                        _ => array_value_to_string(c, r).unwrap(),
                    })
                    .collect();
                rows.push(cells.join("|"));
            }
        }
        rows
    }

    /// DataFusion's own `SELECT DISTINCT *` of `batches`.
    async fn datafusion_distinct(
        schema: Arc<Schema>,
        batches: Vec<RecordBatch>,
    ) -> Vec<RecordBatch> {
        let ctx = SessionContext::new();
        let table = MemTable::try_new(schema, vec![batches]).unwrap();
        ctx.register_table("t", Arc::new(table)).unwrap();
        let df = ctx.sql("SELECT DISTINCT * FROM t").await.unwrap();
        df.collect().await.unwrap()
    }

    /// The rows kept are DataFusion's `SELECT DISTINCT *` of the same batches, one row
    /// each, within a batch and across batches (-0.0 and 0.0 one value, written 0.0; NaN
    /// one; NULL equal to NULL), and each is the first of its kind in input order.
    #[tokio::test]
    async fn the_rows_kept_are_datafusions_distinct_rows_first_seen_first() {
        let input: Vec<RecordBatch> = (0..6).map(|i| batch(i, 700)).collect();
        let mut distinct = DistinctRows::default();
        let mut kept = Vec::new();
        for b in &input {
            if let Some(rows) = distinct.push(b).unwrap() {
                kept.push(rows);
            }
        }
        let ours = rows_of(&kept);

        // Independently: the first occurrence of each row's text (floats as bits, -0.0
        // written as 0.0).
        let mut seen = std::collections::HashSet::new();
        let first: Vec<String> = rows_of(&input)
            .into_iter()
            .map(|r| r.replace("|0x8000000000000000|", "|0x0|"))
            .filter(|r| seen.insert(r.clone()))
            .collect();
        assert!(
            rows_of(&input)
                .iter()
                .any(|r| r.contains("|0x8000000000000000|"))
        );
        assert_eq!(ours, first);
        assert!(ours.len() > 100 && ours.len() < 4200 / 2, "{}", ours.len());
        assert!(ours.iter().any(|r| r.contains("|0x7ff8000000000000|")));

        let mut theirs = rows_of(&datafusion_distinct(schema(), input).await);
        let mut ours = ours;
        theirs.sort();
        ours.sort();
        assert_eq!(ours, theirs);
    }

    /// Items with their categories: lists of strings, NULL, empty, with NULL elements,
    /// differing only in order or length. The rows kept are DataFusion's DISTINCT ones.
    #[tokio::test]
    async fn lists_of_strings_are_compared_as_datafusion_compares_them() {
        use arrow::array::{ListBuilder, StringBuilder};
        let lists: [Option<Vec<Option<&str>>>; 8] = [
            None,
            Some(vec![]),
            Some(vec![None]),
            Some(vec![Some("Electronics")]),
            Some(vec![Some("Electronics"), None]),
            Some(vec![Some("Electronics"), Some("Cables and adapters, long")]),
            Some(vec![Some("Cables and adapters, long"), Some("Electronics")]),
            Some(vec![Some("")]),
        ];
        let schema = Arc::new(Schema::new(vec![
            Field::new("parent_asin", DataType::Utf8View, true),
            Field::new(
                "categories",
                DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
                true,
            ),
        ]));
        assert!(supports(&schema));
        // Rows are compared only where their hashes are equal, so the comparison itself
        // is checked apart: each list equals itself and none of the others.
        let append = |b: &mut ListBuilder<StringBuilder>, l: &Option<Vec<Option<&str>>>| match l {
            None => b.append_null(),
            Some(l) => {
                l.iter().for_each(|c| b.values().append_option(*c));
                b.append(true);
            }
        };
        let mut each = ListBuilder::new(StringBuilder::new());
        lists.iter().for_each(|l| append(&mut each, l));
        let each = Column::new(&(Arc::new(each.finish()) as ArrayRef)).unwrap();
        for i in 0..lists.len() {
            for j in 0..lists.len() {
                assert_eq!(
                    each.eq(i, &each, j),
                    i == j,
                    "{:?} = {:?}",
                    lists[i],
                    lists[j]
                );
            }
        }
        let mut x = 7u64;
        let mut next = |n: u64| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) % n
        };
        let input: Vec<RecordBatch> = (0..4)
            .map(|_| {
                let mut asins = Vec::new();
                let mut categories = ListBuilder::new(StringBuilder::new());
                for _ in 0..300 {
                    asins.push(Some(format!("B{}", next(3))));
                    append(&mut categories, &lists[next(lists.len() as u64) as usize]);
                }
                RecordBatch::try_new(
                    schema.clone(),
                    vec![
                        Arc::new(StringViewArray::from(asins)),
                        Arc::new(categories.finish()),
                    ],
                )
                .unwrap()
            })
            .collect();
        // A row as text that tells a NULL list, an empty one and a NULL element apart.
        let rows_of = |batches: &[RecordBatch]| -> Vec<String> {
            let mut rows = Vec::new();
            for b in batches {
                let asins = b.column(0).as_string_view();
                let categories = b.column(1).as_list::<i32>();
                for r in 0..b.num_rows() {
                    let list = categories.is_valid(r).then(|| {
                        let v = categories.value(r);
                        let v = arrow::compute::cast(&v, &DataType::Utf8).unwrap();
                        v.as_string::<i32>()
                            .iter()
                            .map(|c| c.map(str::to_string))
                            .collect::<Vec<_>>()
                    });
                    rows.push(format!("{}|{list:?}", asins.value(r)));
                }
            }
            rows.sort();
            rows
        };
        let mut distinct = DistinctRows::default();
        let mut kept = Vec::new();
        for b in &input {
            kept.extend(distinct.push(b).unwrap());
        }
        let ours = rows_of(&kept);
        let mut all = rows_of(&input);
        all.dedup();
        assert_eq!(ours, all, "each distinct row once");
        assert_eq!(ours.len(), 3 * lists.len());

        let theirs = datafusion_distinct(schema, input).await;
        assert_eq!(ours, rows_of(&theirs));
    }

    /// A query of two partitions with equal rows in both, made distinct in 1, 2 or 3
    /// shards: the same rows.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn equal_rows_from_any_partition_meet_in_their_shard() {
        let input: Vec<RecordBatch> = (10..14).map(|i| batch(i, 500)).collect();
        let mut expected: Vec<String> = rows_of(&input)
            .into_iter()
            .map(|r| r.replace("|0x8000000000000000|", "|0x0|"))
            .collect();
        expected.sort();
        expected.dedup();
        for partitions in [1, 2, 3] {
            let config =
                datafusion::prelude::SessionConfig::new().with_target_partitions(partitions);
            let ctx = SessionContext::new_with_config(config);
            let table = MemTable::try_new(schema(), vec![input[..2].to_vec(), input[2..].to_vec()])
                .unwrap();
            ctx.register_table("t", Arc::new(table)).unwrap();
            let registered = register_distinct(&ctx, "test", "SELECT * FROM t", 2000, "d")
                .await
                .unwrap();
            assert!(registered);
            let out = ctx
                .sql("SELECT * FROM d")
                .await
                .unwrap()
                .collect()
                .await
                .unwrap();
            assert_eq!(out.len().min(1), 1);
            let mut ours = rows_of(&out);
            ours.sort();
            assert_eq!(ours, expected, "{partitions} shards");
        }
    }

    #[tokio::test]
    async fn a_column_it_cannot_compare_leaves_the_distinct_to_datafusion() {
        let config = datafusion::prelude::SessionConfig::new().with_target_partitions(1);
        let ctx = SessionContext::new_with_config(config);
        let registered =
            register_distinct(&ctx, "test", "SELECT CAST(1 AS INT) AS a, 'x' AS b", 1, "d")
                .await
                .unwrap();
        assert!(!registered);
        assert!(!ctx.table_exist("d").unwrap());
    }
}

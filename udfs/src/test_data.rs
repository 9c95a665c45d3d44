//! Seeded test data for the k-means functions (no `rand` dependency): a small RNG, points
//! around blobs, their Arrow columns, random partitionings and in-memory tables.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::common::{Result, ScalarValue};
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};

/// xorshift64*: small, seeded, good enough for test data.
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in [0, n).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    /// Approximately normal (sum of 4 uniforms, centred).
    pub fn normalish(&mut self) -> f64 {
        (self.uniform() + self.uniform() + self.uniform() + self.uniform() - 2.0) * 1.7
    }
}

/// `n` points in `d` dimensions around `blobs` well separated centres, row-major.
pub fn blobs(rng: &mut XorShift, n: usize, d: usize, blobs: usize) -> Vec<f64> {
    let centres: Vec<f64> = (0..blobs * d)
        .map(|_| rng.uniform() * 40.0 - 20.0)
        .collect();
    let mut out = Vec::with_capacity(n * d);
    for _ in 0..n {
        let b = rng.below(blobs);
        for j in 0..d {
            out.push(centres[b * d + j] + rng.normalish());
        }
    }
    out
}

/// Columns x1..xd of rows `lo..hi` of row-major `points`; every `null_every`-th row
/// (by global index, 0 = never) has a NULL in one column.
pub fn columns(points: &[f64], d: usize, lo: usize, hi: usize, null_every: usize) -> Vec<ArrayRef> {
    (0..d)
        .map(|j| {
            let col: Float64Array = (lo..hi)
                .map(|i| {
                    if null_every > 0 && i.is_multiple_of(null_every) && i % d == j {
                        None
                    } else {
                        Some(points[i * d + j])
                    }
                })
                .collect();
            Arc::new(col) as ArrayRef
        })
        .collect()
}

/// A literal broadcast to `n` rows, as DataFusion hands it to `update_batch`.
pub fn literal(text: &str, n: usize) -> ArrayRef {
    // As DataFusion broadcasts a literal: one copy of the text, the same view in every row.
    ScalarValue::Utf8View(Some(text.to_string()))
        .to_array_of_size(n)
        .expect("a Utf8View literal broadcasts")
}

/// Is row `i` one of those [`columns`] made NULL?
pub fn is_null_row(i: usize, null_every: usize) -> bool {
    null_every > 0 && i.is_multiple_of(null_every)
}

/// `parts` partitions of rows 0..n: sorted cut points from 0 to n, possibly equal (empty
/// partitions).
pub fn cuts(rng: &mut XorShift, n: usize, parts: usize) -> Vec<usize> {
    let mut cuts: Vec<usize> = (0..parts - 1).map(|_| rng.below(n + 1)).collect();
    cuts.extend([0, n]);
    cuts.sort_unstable();
    cuts
}

/// 0..len in a random order (Fisher-Yates).
pub fn shuffled(rng: &mut XorShift, len: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    order
}

/// The group of row `i` in [`table`]'s column `g`.
pub fn group_of(i: usize) -> i64 {
    (i % 3) as i64
}

/// A table `t` of row-major `points` with columns `g` (Int64, [`group_of`] the row) and
/// `x1..xd` ([`columns`]' NULLs), one partition per window of `bounds` (equal bounds give
/// an empty partition).
pub fn table(points: &[f64], d: usize, bounds: &[usize], null_every: usize) -> Result<MemTable> {
    let mut fields = vec![Field::new("g", DataType::Int64, false)];
    fields.extend((1..=d).map(|j| Field::new(format!("x{j}"), DataType::Float64, true)));
    let schema = Arc::new(Schema::new(fields));
    let partitions = bounds
        .windows(2)
        .map(|w| {
            let g: Int64Array = (w[0]..w[1]).map(group_of).collect();
            let mut cols = vec![Arc::new(g) as ArrayRef];
            cols.extend(columns(points, d, w[0], w[1], null_every));
            Ok(vec![RecordBatch::try_new(schema.clone(), cols)?])
        })
        .collect::<Result<Vec<_>>>()?;
    MemTable::try_new(schema, partitions)
}

/// A context with every rfmseg function and `target_partitions` (2 or more: the partial
/// and final aggregations run, so `merge_batch` does).
pub fn session(target_partitions: usize) -> SessionContext {
    let ctx = SessionContext::new_with_config(
        SessionConfig::new().with_target_partitions(target_partitions),
    );
    crate::register_all(&ctx);
    ctx
}

/// The plan of `sql` as text.
pub async fn explain(ctx: &SessionContext, sql: &str) -> Result<String> {
    let plan = ctx.sql(&format!("EXPLAIN {sql}")).await?.collect().await?;
    Ok(pretty_format_batches(&plan)?.to_string())
}

/// The one-row list result of `sql` on a 4-partition session, or None when it is NULL.
pub(crate) async fn list_query(sql: &str) -> datafusion::common::Result<Option<Vec<f64>>> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::Float64Type;
    let batches = session(4).sql(sql).await?.collect().await?;
    let list = batches[0].column(0).as_list::<i32>();
    Ok((!list.is_null(0)).then(|| {
        list.value(0)
            .as_primitive::<Float64Type>()
            .values()
            .to_vec()
    }))
}

//! The process's memory between stages: handing freed memory back to the system, and
//! (at debug level, `RFMSEG_LOG=rfmseg=debug`) what the session's in-memory tables hold
//! at each stage's end. The memory a run keeps between stages is its tables; this says
//! which, including those a view still reads after their name was released.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayData, RecordBatch, RecordBatchOptions};
use arrow::error::ArrowError;
use datafusion::catalog::TableProvider;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::datasource::MemTable;
use datafusion::datasource::source_as_provider;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;

use crate::error::{Error, Result};

/// Hands the memory freed so far back to the system. glibc keeps freed memory in its
/// per-thread arenas: a stage's hash tables and batches, or a released table, are freed
/// when they go, yet stay in the process's resident memory through the later stages.
pub fn return_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free pages of the allocator's own arenas.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The batches of a table about to be kept in memory, each column's unused capacity
/// handed back. Some operators build a column in a buffer sized for more than it gets
/// (a CASE over text reserves room for every branch's values: the labelled customers'
/// cluster_label held 5x its text), and a kept table would hold that slack for the rest
/// of the run. A buffer shared with another array is left as it is, so nothing is copied.
pub fn shrink(partitions: Vec<Vec<RecordBatch>>) -> Result<Vec<Vec<RecordBatch>>> {
    partitions
        .into_iter()
        .map(|batches| {
            batches
                .into_iter()
                .map(|b| {
                    shrink_batch(b).map_err(|e| Error::Internal(format!("shrinking a batch: {e}")))
                })
                .collect()
        })
        .collect()
}

/// One batch of [`shrink`]: applied as a query's batches arrive, the slack never adds up
/// (at the full Electronics size, the scored customers' segment names held 200 MB of it
/// until the query ended).
pub fn shrink_batch(batch: RecordBatch) -> std::result::Result<RecordBatch, ArrowError> {
    let (schema, mut columns, rows) = batch.into_parts();
    for c in &mut columns {
        c.shrink_to_fit();
    }
    let options = RecordBatchOptions::new().with_row_count(Some(rows));
    RecordBatch::try_new_with_options(schema, columns, &options)
}

/// An in-memory table's share of the process's memory (a view: of the tables it reads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub table: String,
    pub rows: usize,
    pub bytes: usize,
}

/// What each registered table holds in memory, in name order, and the bytes of all of
/// them together (a buffer shared by tables counted once). Buffers are counted once by
/// their allocation, since batches of one table (and columns of several) share them:
/// `RecordBatch::get_array_memory_size` counts a shared buffer once per batch, 100x too
/// much for a table of string views.
pub async fn held(ctx: &SessionContext) -> (Vec<Held>, usize) {
    let mut tables = Vec::new();
    let mut all = HashMap::new();
    let Some(schema) = ctx.catalog("datafusion").and_then(|c| c.schema("public")) else {
        return (tables, 0);
    };
    let mut names = schema.table_names();
    names.sort();
    for name in names {
        let Ok(Some(provider)) = schema.table(&name).await else {
            continue;
        };
        let (rows, own) = own_buffers(&provider).await;
        tables.push(Held {
            table: name,
            rows,
            bytes: own.values().sum(),
        });
        all.extend(own);
    }
    (tables, all.values().sum())
}

/// The bytes the registered table `name` holds in memory (0 for a table on disk or an
/// unknown name; a view: the tables it reads).
pub async fn table_bytes(ctx: &SessionContext, name: &str) -> usize {
    match ctx.table_provider(name).await {
        Ok(provider) => own_buffers(&provider).await.1.values().sum(),
        Err(_) => 0,
    }
}

/// The rows of the in-memory tables behind `provider` and their buffers, by allocation.
async fn own_buffers(provider: &Arc<dyn TableProvider>) -> (usize, HashMap<usize, usize>) {
    let mut own = HashMap::new();
    let mut rows = 0;
    for provider in mem_tables(provider) {
        let any: &dyn std::any::Any = provider.as_ref();
        let Some(table) = any.downcast_ref::<MemTable>() else {
            continue;
        };
        for partition in &table.batches {
            for batch in partition.read().await.iter() {
                rows += batch.num_rows();
                for column in batch.columns() {
                    buffers(&column.to_data(), &mut own);
                }
            }
        }
    }
    (rows, own)
}

/// Logs [`held`] after `stage`, at debug level.
pub async fn log_held(ctx: &SessionContext, stage: &str) {
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return;
    }
    let (tables, total) = held(ctx).await;
    for t in tables.iter().filter(|t| t.bytes > 0) {
        tracing::debug!(
            stage,
            table = t.table,
            rows = t.rows,
            mib = t.bytes >> 20,
            "held"
        );
    }
    tracing::debug!(stage, mib = total >> 20, "held in all");
}

/// The in-memory tables behind `provider`: itself, or those a view's plan scans.
fn mem_tables(provider: &Arc<dyn TableProvider>) -> Vec<Arc<dyn TableProvider>> {
    let any: &dyn std::any::Any = provider.as_ref();
    if any.downcast_ref::<MemTable>().is_some() {
        return vec![provider.clone()];
    }
    let Some(plan) = provider.get_logical_plan() else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let _ = plan.apply(|node| {
        if let LogicalPlan::TableScan(scan) = node
            && let Ok(p) = source_as_provider(&scan.source)
        {
            found.extend(mem_tables(&p));
        }
        Ok(TreeNodeRecursion::Continue)
    });
    found
}

/// Every buffer under `data` (children and null masks included), by allocation.
fn buffers(data: &ArrayData, seen: &mut HashMap<usize, usize>) {
    for b in data.buffers() {
        seen.insert(b.data_ptr().as_ptr() as usize, b.capacity());
    }
    if let Some(nulls) = data.nulls() {
        let b = nulls.buffer();
        seen.insert(b.data_ptr().as_ptr() as usize, b.capacity());
    }
    for child in data.child_data() {
        buffers(child, seen);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ArrayRef, Int64Array, RecordBatch};

    #[test]
    fn shrink_hands_back_slack_and_leaves_shared_buffers() {
        use arrow::array::{AsArray, StringBuilder};
        let labels = ["Loyal", "Lost", "At Risk", "Loyal"];
        // A column built for far more text than it got, as a CASE over text builds it.
        let mut b = StringBuilder::with_capacity(4, 1 << 20);
        for s in labels {
            b.append_value(s);
        }
        let slack: ArrayRef = Arc::new(b.finish());
        // A column another table also holds.
        let shared: ArrayRef = Arc::new(Int64Array::from(vec![1, 2, 3, 4]));
        let batch = RecordBatch::try_from_iter([("label", slack), ("x", shared.clone())]).unwrap();

        let out = shrink(vec![vec![batch]]).unwrap();
        let shrunk = &out[0][0];
        let text = shrunk.column(0).as_string::<i32>();
        assert_eq!(text.iter().flatten().collect::<Vec<_>>(), labels);
        let capacity = shrunk.column(0).to_data().buffers()[1].capacity();
        assert!(capacity < 1024, "text buffer still {capacity} bytes");
        // Still the very buffer the other holder reads: nothing copied.
        assert!(Arc::ptr_eq(shrunk.column(1), &shared));
    }

    #[tokio::test]
    async fn shared_buffers_count_once_and_a_view_keeps_a_released_table() {
        let values: ArrayRef = Arc::new(Int64Array::from((0..1000).collect::<Vec<i64>>()));
        let whole = RecordBatch::try_from_iter([("x", values)]).unwrap();
        // Two batches over one buffer, as a filter's or a projection's output are.
        let (a, b) = (whole.slice(0, 600), whole.slice(600, 400));
        let bytes = whole.column(0).to_data().buffers()[0].capacity();
        let ctx = SessionContext::new();
        let t = MemTable::try_new(whole.schema(), vec![vec![a], vec![b]]).unwrap();
        ctx.register_table("t", Arc::new(t)).unwrap();
        let view = ctx.sql("SELECT x FROM t WHERE x > 5").await.unwrap();
        ctx.register_table("v", view.into_view()).unwrap();

        let (tables, total) = held(&ctx).await;
        let expected = |table: &str| Held {
            table: table.into(),
            rows: 1000,
            bytes,
        };
        assert_eq!(tables, [expected("t"), expected("v")]);
        assert_eq!(total, bytes);

        ctx.deregister_table("t").unwrap();
        let (tables, total) = held(&ctx).await;
        assert_eq!(tables, [expected("v")]);
        assert_eq!(total, bytes);
        ctx.deregister_table("v").unwrap();
        assert_eq!(held(&ctx).await, (vec![], 0));
    }
}

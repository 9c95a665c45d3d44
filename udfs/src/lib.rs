//! rfmseg-udfs: every scalar UDF and UDAF rfmseg's SQL calls.
//!
//! Functions reach Ballista executors by name only, so the client, the scheduler and the
//! executors must all register the same list: [`scalar_udfs`] and [`aggregate_udfs`] are
//! that one list, and [`register_all`] applies it to a context.

pub mod parse_price;
pub mod stable_hash;

use datafusion::logical_expr::{AggregateUDF, ScalarUDF};
use datafusion::prelude::SessionContext;

pub use parse_price::{parse_price, parse_price_udf};
pub use stable_hash::{stable_hash, stable_hash_udf};

/// Every scalar function rfmseg's SQL calls.
pub fn scalar_udfs() -> Vec<ScalarUDF> {
    vec![parse_price_udf(), stable_hash_udf()]
}

/// Every aggregate function rfmseg's SQL calls.
pub fn aggregate_udfs() -> Vec<AggregateUDF> {
    vec![]
}

/// Registers every rfmseg function on a context.
pub fn register_all(ctx: &SessionContext) {
    for f in scalar_udfs() {
        ctx.register_udf(f);
    }
    for f in aggregate_udfs() {
        ctx.register_udaf(f);
    }
}

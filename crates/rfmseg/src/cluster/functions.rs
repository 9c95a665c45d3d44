//! The one place that hands rfmseg's functions to the Ballista server roles: the
//! scheduler's session builder (it decodes logical plans) and the executors' function
//! registry (they decode physical plans). The client registers the same list
//! ([`rfmseg_udfs::register_all`], in [`crate::exec::client`]).

use std::sync::Arc;

use ballista_core::registry::BallistaFunctionRegistry;
use datafusion::execution::{FunctionRegistry, SessionState, SessionStateBuilder};
use datafusion::prelude::SessionConfig;

/// The scheduler's session builder: Ballista's default state plus rfmseg's functions, its
/// parallel writes ([`super::parallel_write`]), and the object store registry that resolves `s3://` (the scheduler lists a table's files
/// when it plans a job).
pub fn scheduler_session(config: SessionConfig) -> datafusion::error::Result<SessionState> {
    let state = ballista_core::utils::default_session_builder(config)?;
    let mut state = SessionStateBuilder::new_from_existing(state)
        .with_runtime_env(crate::storage::s3::runtime_env(None, None)?)
        .with_physical_optimizer_rule(Arc::new(super::parallel_write::ParallelWrites))
        .build();
    for f in rfmseg_udfs::scalar_udfs() {
        state.register_udf(Arc::new(f))?;
    }
    for f in rfmseg_udfs::aggregate_udfs() {
        state.register_udaf(Arc::new(f))?;
    }
    Ok(state)
}

/// The executors' registry: Ballista's defaults (DataFusion's built-ins) plus rfmseg's.
pub fn executor_registry() -> BallistaFunctionRegistry {
    let mut registry = BallistaFunctionRegistry::default();
    for f in rfmseg_udfs::scalar_udfs() {
        registry
            .scalar_functions
            .insert(f.name().to_string(), Arc::new(f));
    }
    for f in rfmseg_udfs::aggregate_udfs() {
        registry
            .aggregate_functions
            .insert(f.name().to_string(), Arc::new(f));
    }
    registry
}

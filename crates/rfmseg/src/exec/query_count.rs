//! How many queries a session submitted and how long they took. On a cluster each query
//! is a Ballista job with a fixed cost (submission, stage planning, result fetch), so
//! the count per stage, in report.json, is what a faster cluster run has to cut. It rides
//! on the session config, like the shared work folder.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use datafusion::prelude::SessionContext;

/// Queries submitted so far (every attempt, a resubmission too) and their summed time.
#[derive(Debug, Default)]
pub struct QueryCount {
    queries: AtomicU64,
    micros: AtomicU64,
    fit: AtomicU64,
}

/// A reading of a [`QueryCount`]: subtract two to get a stage's share.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Queries {
    pub queries: u64,
    /// Summed time of the queries, which overlaps where a stage runs two at once.
    pub seconds: f64,
    /// Of `queries`, the evaluations of an iterative fit (the lifetime-value likelihoods),
    /// whose number depends on how fast the fit converges, not on the plan.
    pub fit_queries: u64,
}

impl QueryCount {
    pub fn read(&self) -> Queries {
        Queries {
            queries: self.queries.load(Ordering::Relaxed),
            seconds: self.micros.load(Ordering::Relaxed) as f64 / 1e6,
            fit_queries: self.fit.load(Ordering::Relaxed),
        }
    }

    fn add(&self, started: Instant) {
        self.queries.fetch_add(1, Ordering::Relaxed);
        self.micros
            .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
    }
}

impl std::ops::Sub for Queries {
    type Output = Queries;
    fn sub(self, earlier: Queries) -> Queries {
        Queries {
            queries: self.queries - earlier.queries,
            seconds: self.seconds - earlier.seconds,
            fit_queries: self.fit_queries - earlier.fit_queries,
        }
    }
}

/// The session's counter (every session rfmseg opens has one).
pub fn query_count(ctx: &SessionContext) -> Option<Arc<QueryCount>> {
    ctx.state_ref()
        .read()
        .config()
        .get_extension::<QueryCount>()
}

/// Counts one query that started at `started` and has just finished (or failed).
pub(crate) fn counted(ctx: &SessionContext, started: Instant) {
    if let Some(c) = query_count(ctx) {
        c.add(started);
    }
}

/// Marks the query just counted as an evaluation of an iterative fit.
pub(crate) fn counted_as_fit(ctx: &SessionContext) {
    if let Some(c) = query_count(ctx) {
        c.fit.fetch_add(1, Ordering::Relaxed);
    }
}

//! The shared work folder of a cluster session: where executors write the tables a run
//! materialises. It rides on the session config as an extension, so every query helper
//! finds it from the session alone. An embedded session has one only under
//! `engine.memory_limit`, to keep its tables on local disk the same way; otherwise none.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use datafusion::prelude::SessionContext;

use crate::storage::Location;

/// Where a cluster run keeps its intermediate tables. Executors write and read them, so
/// the location must be the same for every executor and the client: an `s3://` prefix,
/// or a path on a shared volume. It is removed with the run's other temporary files.
#[derive(Debug)]
pub struct SharedWorkDir {
    dir: Location,
    next: AtomicU64,
    query_timeout: Duration,
    /// The user left the partitions to rfmseg (no `--partitions`): they are sized to the
    /// lake when it is registered.
    pub size_partitions: bool,
}

impl SharedWorkDir {
    pub fn new(dir: Location, query_timeout: Duration, size_partitions: bool) -> Self {
        SharedWorkDir {
            dir,
            next: AtomicU64::new(0),
            query_timeout,
            size_partitions,
        }
    }

    /// How long one query may take before it is resubmitted.
    pub fn query_timeout(&self) -> Duration {
        self.query_timeout
    }

    /// A new, unused folder for one materialized table.
    pub fn table_dir(&self, name: &str) -> Location {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let name = format!("{n:03}-{name}");
        match &self.dir {
            Location::Local(p) => Location::Local(p.join(name)),
            Location::S3(u) => Location::S3(u.join(&name)),
        }
    }

    pub fn location(&self) -> &Location {
        &self.dir
    }
}

/// The work folder tables are written to: a cluster session's, an embedded session's under
/// a memory limit; None for an embedded session that keeps its tables in memory.
pub fn shared_work_dir(ctx: &SessionContext) -> Option<Arc<SharedWorkDir>> {
    ctx.state_ref()
        .read()
        .config()
        .get_extension::<SharedWorkDir>()
}

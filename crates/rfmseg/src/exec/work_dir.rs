//! The shared work folder of a cluster session: where executors write the tables a run
//! materialises. It rides on the session config as an extension, so every query helper
//! finds it from the session alone (and an embedded session has none).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use datafusion::prelude::SessionContext;

/// Where a cluster run keeps its intermediate tables. Executors write and read them, so
/// the folder must be the same path on every executor and on the client (a shared
/// volume); it is removed with the run's other temporary files.
#[derive(Debug)]
pub struct SharedWorkDir {
    dir: PathBuf,
    next: AtomicU64,
    query_timeout: Duration,
}

impl SharedWorkDir {
    pub fn new(dir: PathBuf, query_timeout: Duration) -> Self {
        SharedWorkDir {
            dir,
            next: AtomicU64::new(0),
            query_timeout,
        }
    }

    /// How long one query may take before it is resubmitted.
    pub fn query_timeout(&self) -> Duration {
        self.query_timeout
    }

    /// A new, unused folder for one materialized table.
    pub fn table_dir(&self, name: &str) -> PathBuf {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        self.dir.join(format!("{n:03}-{name}"))
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }
}

/// The shared work folder of a cluster session, or None for an embedded one.
pub fn shared_work_dir(ctx: &SessionContext) -> Option<Arc<SharedWorkDir>> {
    ctx.state_ref()
        .read()
        .config()
        .get_extension::<SharedWorkDir>()
}

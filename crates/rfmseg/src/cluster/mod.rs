//! Distributed mode on Apache Ballista: the scheduler and executor processes (`rfmseg
//! scheduler`, `rfmseg executor`). The client session that submits a run's queries to them
//! (`--cluster df://host:port`) is part of [`crate::exec`]; this module is only the
//! server roles, behind the `cluster` cargo feature (on by default).
//!
//! Functions travel between Ballista processes by name only, so all three roles register
//! the same list from [`functions`]; nothing in Ballista checks that they match. The
//! driver loops (k-means iterations, the k sweep) stay in the client: each iteration is
//! one distributed aggregate whose result is k x 3 numbers.

pub mod executor;
pub mod functions;
pub mod job_log;
pub mod parallel_write;
pub mod scheduler;

pub use executor::{ExecutorOptions, run_executor};
pub use scheduler::{SchedulerOptions, run_scheduler};

/// Resolves when the process gets SIGINT (Ctrl-C) or SIGTERM, so both roles stop the
/// same way under a terminal, `kill`, docker and Kubernetes.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

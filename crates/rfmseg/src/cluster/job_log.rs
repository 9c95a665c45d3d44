//! The scheduler's record of the jobs it ran: one log line per finished job with its
//! time in the queue and in all, and running totals. Ballista's own collector is either
//! Prometheus (a feature rfmseg leaves out) or nothing; this one lets a user, a test or a
//! benchmark count a run's jobs on the scheduler's side and see where a job's time goes.

use std::sync::atomic::{AtomicU64, Ordering};

use ballista_core::JobId;
use ballista_scheduler::metrics::SchedulerMetricsCollector;

/// Counts jobs by outcome and logs each finished one (target `rfmseg::jobs`).
#[derive(Debug, Default)]
pub struct JobLog {
    submitted: AtomicU64,
    completed: AtomicU64,
    failed: AtomicU64,
}

impl SchedulerMetricsCollector for JobLog {
    fn record_submitted(&self, job_id: &JobId, queued_at: u64, submitted_at: u64) {
        let n = self.submitted.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::debug!(
            target: "rfmseg::jobs",
            job = %job_id,
            planning_ms = submitted_at.saturating_sub(queued_at),
            submitted = n,
            "job submitted"
        );
    }

    fn record_completed(&self, job_id: &JobId, queued_at: u64, completed_at: u64) {
        finished(
            &self.completed,
            "job completed",
            job_id,
            queued_at,
            completed_at,
        );
    }

    fn record_failed(&self, job_id: &JobId, queued_at: u64, failed_at: u64) {
        finished(&self.failed, "job failed", job_id, queued_at, failed_at);
    }

    fn record_cancelled(&self, job_id: &JobId) {
        tracing::info!(target: "rfmseg::jobs", job = %job_id, "job cancelled");
    }

    fn set_pending_tasks_queue_size(&self, _value: u64) {}

    fn gather_metrics(&self) -> ballista_core::error::Result<Option<(Vec<u8>, String)>> {
        let text = format!(
            "{{\"submitted\":{},\"completed\":{},\"failed\":{}}}",
            self.submitted.load(Ordering::Relaxed),
            self.completed.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed)
        );
        Ok(Some((text.into_bytes(), "application/json".into())))
    }
}

/// Counts a finished job in `counter` and logs it with its time from queued to `at`.
fn finished(counter: &AtomicU64, what: &str, job_id: &JobId, queued_at: u64, at: u64) {
    let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
    tracing::info!(
        target: "rfmseg::jobs",
        job = %job_id,
        ms = at.saturating_sub(queued_at),
        count = n,
        "{what}"
    );
}

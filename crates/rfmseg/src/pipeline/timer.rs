//! The run's stage timings (report.json's `timings`, and on a terminal a line per stage):
//! wall time, rows in and out, and the process's peak resident memory during each stage.
//! While a stage runs, a terminal shows it moving: time spent and queries done so far
//! (a stage's SQL reports no rows until it ends, but each finished query is a step).

use std::sync::Arc;
use std::time::Instant;

use datafusion::prelude::SessionContext;

use crate::exec::memory::{log_held, return_free_memory};
use crate::exec::{Queries, QueryCount, query_count};
use crate::report::StageTiming;

/// Times stages: wall time, rows, and the process's peak resident memory during each.
pub struct Timer {
    progress: bool,
    total: usize,
    done: Vec<StageTiming>,
    current: Option<(String, Instant, Queries)>,
    queries: Option<Arc<QueryCount>>,
    bar: Option<indicatif::ProgressBar>,
    /// The session whose tables are logged at each stage's end.
    ctx: SessionContext,
}

impl Timer {
    /// A timer for `total` stages, printing a line per stage on stderr if `progress`,
    /// and reading the session's query counter (if any) at each stage's start and end.
    pub fn new(progress: bool, total: usize, ctx: &SessionContext) -> Timer {
        Timer {
            progress,
            total,
            done: Vec::new(),
            current: None,
            queries: query_count(ctx),
            bar: None,
            ctx: ctx.clone(),
        }
    }

    fn queries(&self) -> Queries {
        self.queries.as_ref().map(|q| q.read()).unwrap_or_default()
    }

    /// The finished stages' timings.
    pub fn into_timings(self) -> Vec<StageTiming> {
        self.done
    }

    pub fn start(&mut self, stage: &str) {
        return_free_memory();
        reset_peak_rss();
        let before = self.queries();
        if self.progress {
            let label = format!("[{}/{}] {stage}", self.done.len() + 1, self.total);
            self.bar = Some(stage_bar(label, self.queries.clone(), before.queries));
        }
        self.current = Some((stage.to_string(), Instant::now(), before));
    }

    /// Ends the current stage; at debug level, logs what the session's tables hold.
    pub async fn finish(&mut self, rows_in: u64, rows_out: u64) {
        if let Some((stage, t, before)) = self.current.take() {
            let seconds = t.elapsed().as_secs_f64();
            let q = self.queries() - before;
            if let Some(bar) = self.bar.take() {
                bar.finish_and_clear();
            }
            if self.progress {
                eprintln!(
                    "[{}/{}] {stage}: {seconds:.2} s, {} queries, {rows_in} rows in, {rows_out} out",
                    self.done.len() + 1,
                    self.total,
                    q.queries
                );
            }
            self.done.push(StageTiming {
                stage,
                seconds,
                rows_in,
                rows_out,
                peak_rss_mib: peak_rss_mib(),
                queries: q.queries,
                query_seconds: q.seconds,
                fit_queries: q.fit_queries,
            });
            if let Some(done) = self.done.last() {
                log_held(&self.ctx, &done.stage).await;
            }
        }
    }
}

/// A spinner for a running stage: its label, the time spent and the queries finished so
/// far, read from the session's counter at every redraw.
fn stage_bar(
    label: String,
    queries: Option<Arc<QueryCount>>,
    before: u64,
) -> indicatif::ProgressBar {
    let bar =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    let done = move |_: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
        if let Some(q) = &queries {
            let _ = write!(w, ", {} queries done", q.read().queries - before);
        }
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template("{msg} {spinner} {elapsed}{queries}")
    {
        bar.set_style(style.with_key("queries", done));
    }
    bar.set_message(label);
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

/// Resets the kernel's peak-RSS counter (Linux), so each stage reports its own peak.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// VmHWM of this process in MiB (0 where /proc is unavailable).
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

//! `rfmseg scheduler`: Ballista's scheduler as a library, with rfmseg's functions in the
//! session builder it decodes plans with.

use std::net::SocketAddr;
use std::sync::Arc;

use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;

use crate::error::{Error, Result};

/// What `rfmseg scheduler` is told on its command line.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// Address to listen on; 127.0.0.1 unless the user asks for more.
    pub bind: SocketAddr,
    /// The host name executors and clients are told to use for this scheduler.
    pub external_host: String,
    /// An executor silent for this long is declared lost and its tasks rescheduled.
    /// Ballista's default (180 s) makes a lost executor stall a job for three minutes;
    /// rfmseg's executors heartbeat every few seconds, so a shorter window is safe.
    pub executor_timeout_seconds: u64,
}

impl SchedulerOptions {
    fn config(&self) -> SchedulerConfig {
        let mut config = SchedulerConfig {
            bind_host: self.bind.ip().to_string(),
            bind_port: self.bind.port(),
            external_host: self.external_host.clone(),
            executor_timeout_seconds: self.executor_timeout_seconds,
            expire_dead_executor_interval_seconds: (self.executor_timeout_seconds / 3).max(1),
            no_executors_grace_period_seconds: self.executor_timeout_seconds,
            ..SchedulerConfig::default()
        };
        config =
            config.with_override_session_builder(Arc::new(super::functions::scheduler_session));
        config
    }
}

/// Runs the scheduler until SIGINT or SIGTERM.
pub async fn run_scheduler(opts: &SchedulerOptions) -> Result<()> {
    let config = opts.config();
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(|e| Error::Internal(format!("scheduler state: {e}")))?;
    // Bind first so a port in use is reported as such, not as a late gRPC error.
    std::net::TcpListener::bind(opts.bind)
        .map_err(|e| Error::Cluster {
            url: opts.bind.to_string(),
            message: format!("cannot listen: {e}"),
            hint: "pick a free port with --bind 127.0.0.1:PORT, or stop the process using it"
                .into(),
        })
        .map(drop)?;
    tracing::info!(bind = %opts.bind, "rfmseg scheduler starting");
    tokio::select! {
        res = start_server(cluster, opts.bind, Arc::new(config)) => res.map_err(|e| Error::Cluster {
            url: opts.bind.to_string(),
            message: format!("scheduler stopped: {e}"),
            hint: "see the log above".into(),
        }),
        _ = super::shutdown_signal() => {
            tracing::info!("rfmseg scheduler stopping on signal");
            Ok(())
        }
    }
}

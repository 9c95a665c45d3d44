//! `rfmseg scheduler`: Ballista's scheduler as a library, with rfmseg's functions in the
//! session builder it decodes plans with.

use std::net::SocketAddr;
use std::sync::Arc;

use ballista_core::serde::{BallistaCodec, BallistaLogicalExtensionCodec};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_grpc_service_with_listener;
use ballista_scheduler::scheduler_server::SchedulerServer;

use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};

use super::job_log::JobLog;
use super::parallel_write::RfmsegCodec;

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
    /// How long the scheduler keeps a finished job's state (its execution graph). Ballista's
    /// default, an hour, grows the scheduler's memory with every job of a busy hour (about
    /// 86 KB each, and a job takes ~10 ms); a run reads a job's result as soon as it ends,
    /// so seconds suffice. (The result files on
    /// the executors keep Ballista's five minutes.) Ballista takes 0 as "never clean", so
    /// 0 is refused.
    pub finished_job_ttl_seconds: u64,
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
            finished_job_state_clean_up_interval_seconds: self.finished_job_ttl_seconds,
            ..SchedulerConfig::default()
        };
        config =
            config.with_override_session_builder(Arc::new(super::functions::scheduler_session));
        config
    }
}

/// Runs the scheduler until SIGINT or SIGTERM.
pub async fn run_scheduler(opts: &SchedulerOptions) -> Result<()> {
    if opts.finished_job_ttl_seconds == 0 {
        return Err(Error::Config {
            key: "--finished-job-ttl".into(),
            message: "0 would keep every finished job forever (Ballista reads 0 as never \
                      clean); give a number of seconds, e.g. 10"
                .into(),
        });
    }
    let config = Arc::new(opts.config());
    let stopped = |e: &dyn std::fmt::Display| Error::Cluster {
        url: opts.bind.to_string(),
        message: format!("scheduler stopped: {e}"),
        hint: "see the log above".into(),
    };
    config.validate().map_err(|e| stopped(&e))?;
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(|e| Error::Internal(format!("scheduler state: {e}")))?;
    // Bound here, before the scheduler starts, so a port in use is reported as such, not
    // as a late gRPC error.
    let cannot_listen = |e: std::io::Error| Error::Cluster {
        url: opts.bind.to_string(),
        message: format!("cannot listen: {e}"),
        hint: "pick a free port with --bind 127.0.0.1:PORT, or stop the process using it".into(),
    };
    let listener = std::net::TcpListener::bind(opts.bind).map_err(cannot_listen)?;
    no_delay(&listener).map_err(cannot_listen)?;
    listener.set_nonblocking(true).map_err(cannot_listen)?;
    // Ballista's start_server, with rfmseg's job log as the metrics collector.
    let mut scheduler: SchedulerServer<LogicalPlanNode, PhysicalPlanNode> = SchedulerServer::new(
        config.scheduler_endpoint(),
        cluster,
        BallistaCodec::new(
            Arc::new(BallistaLogicalExtensionCodec::default()),
            Arc::new(RfmsegCodec::default()),
        ),
        config.clone(),
        Arc::new(JobLog::default()),
    );
    scheduler.init().await.map_err(|e| stopped(&e))?;
    tracing::info!(bind = %opts.bind, "rfmseg scheduler starting");
    let listener = tokio::net::TcpListener::from_std(listener).map_err(cannot_listen)?;
    tokio::select! {
        res = start_grpc_service_with_listener(listener, scheduler) => res.map_err(|e| stopped(&e)),
        _ = super::shutdown_signal() => {
            tracing::info!("rfmseg scheduler stopping on signal");
            Ok(())
        }
    }
}

/// Sets TCP_NODELAY on the listening socket; Linux gives it to every accepted connection.
/// Ballista 55 serves the scheduler's gRPC with `axum::serve`, which leaves Nagle's
/// algorithm on: each job's status updates, small HTTP/2 frames, then wait for the
/// client's delayed ACK, about 40 ms per job (measured: a one-row job took 44 ms at the
/// client and 7 ms in the scheduler). Its executors already set it.
fn no_delay(listener: &std::net::TcpListener) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    // SAFETY: a valid socket descriptor owned by `listener`, and a pointer to a c_int
    // that lives across the call, with its size.
    let rc = unsafe {
        libc::setsockopt(
            listener.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scheduler's connections are accepted with Nagle off (inherited from the
    /// listening socket), so a job's small status frames are not held back.
    #[test]
    fn connections_to_the_scheduler_socket_have_no_delay() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let plain = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        no_delay(&listener).unwrap();
        for (l, want) in [(&listener, true), (&plain, false)] {
            let _client = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
            let (accepted, _) = l.accept().unwrap();
            assert_eq!(accepted.nodelay().unwrap(), want);
        }
    }

    /// Ballista reads a clean-up interval of 0 as "never": the flag refuses it before
    /// anything is started, naming itself.
    #[tokio::test]
    async fn a_finished_job_ttl_of_zero_is_refused() {
        let opts = SchedulerOptions {
            bind: "127.0.0.1:0".parse().unwrap(),
            external_host: "127.0.0.1".into(),
            executor_timeout_seconds: 30,
            finished_job_ttl_seconds: 0,
        };
        let err = run_scheduler(&opts).await.unwrap_err().to_string();
        assert!(err.contains("--finished-job-ttl"), "{err}");
        assert!(err.contains("never"), "{err}");
        assert_eq!(
            opts.config().finished_job_state_clean_up_interval_seconds,
            0
        );
        let opts = SchedulerOptions {
            finished_job_ttl_seconds: 7,
            ..opts
        };
        assert_eq!(
            opts.config().finished_job_state_clean_up_interval_seconds,
            7
        );
    }
}

//! `rfmseg executor`: Ballista's executor as a library, with rfmseg's functions in the
//! registry it decodes physical plans with.

use std::path::PathBuf;
use std::sync::Arc;

use ballista_core::RuntimeProducer;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use datafusion::execution::object_store::ObjectStoreRegistry;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;

use super::parallel_write::RfmsegCodec;
use crate::error::{Error, Result};
use crate::storage::s3::S3Registry;

/// What `rfmseg executor` is told on its command line.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// The scheduler's host and gRPC port.
    pub scheduler_host: String,
    pub scheduler_port: u16,
    /// Address to listen on (Arrow Flight, for shuffle reads and results).
    pub bind_host: String,
    /// The host name other processes reach this executor by.
    pub external_host: String,
    /// Arrow Flight port (0 = any free port).
    pub port: u16,
    /// gRPC port the scheduler pushes tasks to (0 = any free port).
    pub grpc_port: u16,
    /// Tasks run at once; 0 means one per core.
    pub concurrent_tasks: usize,
    /// Where shuffle files and spills go.
    pub work_dir: Option<PathBuf>,
    /// How often the executor tells the scheduler it is alive; must be well under the
    /// scheduler's executor timeout.
    pub heartbeat_seconds: u64,
}

/// Runs an executor until SIGINT or SIGTERM (Ballista handles both and deregisters
/// from the scheduler before stopping).
pub async fn run_executor(opts: &ExecutorOptions) -> Result<()> {
    let port = if opts.port == 0 {
        free_port(&opts.bind_host)?
    } else {
        opts.port
    };
    let grpc_port = if opts.grpc_port == 0 {
        free_port(&opts.bind_host)?
    } else {
        opts.grpc_port
    };
    if let Some(dir) = &opts.work_dir {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    // One object store registry for every task of this executor: `s3://` tables and work
    // prefixes resolve to the process's shared store, built once from the AWS_*
    // environment (never from the job's settings, which carry no secret).
    let registry: Arc<dyn ObjectStoreRegistry> = Arc::new(S3Registry::default());
    let spill_dir = opts.work_dir.as_ref().map(|d| d.display().to_string());
    let runtime_producer: RuntimeProducer = Arc::new(move |_| {
        let mut builder = RuntimeEnvBuilder::new().with_object_store_registry(registry.clone());
        if let Some(dir) = &spill_dir {
            builder = builder.with_temp_file_path(dir);
        }
        builder.build_arc()
    });
    let config = ExecutorProcessConfig {
        bind_host: opts.bind_host.clone(),
        external_host: Some(opts.external_host.clone()),
        port,
        grpc_port,
        scheduler_host: opts.scheduler_host.clone(),
        scheduler_port: opts.scheduler_port,
        scheduler_connect_timeout_seconds: 10,
        vcores: opts.concurrent_tasks,
        work_dir: opts.work_dir.as_ref().map(|d| d.display().to_string()),
        executor_heartbeat_interval_seconds: opts.heartbeat_seconds,
        override_function_registry: Some(Arc::new(super::functions::executor_registry())),
        override_runtime_producer: Some(runtime_producer),
        override_physical_codec: Some(Arc::new(RfmsegCodec::default())),
        ..ExecutorProcessConfig::default()
    };
    tracing::info!(port, grpc_port, scheduler = %format!("{}:{}", opts.scheduler_host, opts.scheduler_port), "rfmseg executor starting");
    start_executor_process(Arc::new(config))
        .await
        .map_err(|e| Error::Cluster {
            url: format!("{}:{}", opts.scheduler_host, opts.scheduler_port),
            message: format!("executor stopped: {e}"),
            hint: "is `rfmseg scheduler` running there? check --scheduler".into(),
        })
}

/// A port that is free now (the OS picks it); used when the user passes 0.
fn free_port(host: &str) -> Result<u16> {
    let listener = std::net::TcpListener::bind((host, 0)).map_err(|e| Error::Cluster {
        url: host.to_string(),
        message: format!("cannot listen: {e}"),
        hint: "check --bind".into(),
    })?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| Error::io(host, e))
}

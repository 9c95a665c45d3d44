//! A local Ballista cluster for the benches: the scheduler and executors are separate
//! processes, the bench binary itself started again with `RFMSEG_BENCH_ROLE` set, so they
//! run exactly the code under test.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rfmseg::cluster::{ExecutorOptions, SchedulerOptions};
use rfmseg::exec::ClusterUrl;

use crate::{data_dir, runtime};

const ROLE: &str = "RFMSEG_BENCH_ROLE";

/// Seconds the benches' scheduler keeps a finished job (`RFMSEG_BENCH_JOB_TTL`, default
/// the `rfmseg scheduler` default).
fn job_ttl() -> u64 {
    std::env::var("RFMSEG_BENCH_JOB_TTL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
}

/// In a bench binary started again as a cluster process (by [`LocalCluster`]), runs that
/// role until killed and returns true; otherwise returns false at once.
pub fn serve_if_asked() -> bool {
    match std::env::var(ROLE) {
        Ok(role) => {
            serve(&role);
            true
        }
        Err(_) => false,
    }
}

/// The child processes: `scheduler:PORT` or `executor:PORT:SLOTS:WORKDIR`.
fn serve(role: &str) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .with_writer(std::io::stderr)
        .try_init();
    let parts: Vec<&str> = role.splitn(4, ':').collect();
    let port: u16 = parts[1].parse().expect("port");
    let rt = runtime();
    let result = match parts[0] {
        "scheduler" => rt.block_on(rfmseg::cluster::run_scheduler(&SchedulerOptions {
            bind: ([127, 0, 0, 1], port).into(),
            external_host: "127.0.0.1".into(),
            executor_timeout_seconds: 30,
            finished_job_ttl_seconds: job_ttl(),
        })),
        _ => rt.block_on(rfmseg::cluster::run_executor(&ExecutorOptions {
            scheduler_host: "127.0.0.1".into(),
            scheduler_port: port,
            bind_host: "127.0.0.1".into(),
            external_host: "127.0.0.1".into(),
            port: 0,
            grpc_port: 0,
            concurrent_tasks: parts[2].parse().expect("slots"),
            work_dir: Some(PathBuf::from(parts[3])),
            heartbeat_seconds: 5,
        })),
    };
    result.expect("cluster role");
}

/// A scheduler and `executors` executors on 127.0.0.1, killed when dropped.
pub struct LocalCluster {
    children: Vec<Child>,
    pub url: ClusterUrl,
}

impl LocalCluster {
    pub fn start(executors: usize, slots: usize) -> LocalCluster {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let logs = data_dir().join("cluster-logs");
        std::fs::create_dir_all(&logs).expect("log folder");
        let exe = std::env::current_exe().expect("bench binary");
        let spawn = |role: String, log: &Path| {
            Command::new(&exe)
                .env(ROLE, role)
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(log).expect("log file"))
                .spawn()
                .expect("start cluster process")
        };
        let mut cluster = LocalCluster {
            children: vec![spawn(
                format!("scheduler:{port}"),
                &logs.join("scheduler.log"),
            )],
            url: ClusterUrl {
                host: "127.0.0.1".into(),
                port,
            },
        };
        wait_for(|| std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
        for i in 0..executors {
            let log = logs.join(format!("executor-{i}.log"));
            let work = data_dir().join(format!("executor-{i}"));
            cluster.children.push(spawn(
                format!("executor:{port}:{slots}:{}", work.display()),
                &log,
            ));
            wait_for(|| {
                std::fs::read_to_string(&log).is_ok_and(|t| t.contains("registration succeed"))
            });
        }
        cluster
    }
}

impl LocalCluster {
    /// The scheduler process.
    pub fn scheduler_pid(&self) -> u32 {
        self.children[0].id()
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        for child in self.children.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn wait_for(mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready() {
        assert!(Instant::now() < deadline, "cluster process did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

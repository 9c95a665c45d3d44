//! The whole job (`rfmseg run`: clean, RFM, k-means with k chosen from 2..10, labels,
//! segments, outputs) on the same lake, embedded and on a local Ballista cluster of 1 and
//! 2 executors. The scheduler and executors are separate processes: this bench binary
//! started again with `RFMSEG_BENCH_ROLE` set, so they run exactly the code under test.
//! Each cluster has as many task slots in all as the machine has cores, like embedded.
//! `RFMSEG_BENCH_CLUSTER=df://host:port` benches an existing cluster instead (the lake
//! and the cache folder must then be on storage its executors share).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use rfmseg::Config;
use rfmseg::cluster::{ExecutorOptions, SchedulerOptions};
use rfmseg::exec::ClusterUrl;
use rfmseg::exec::Engine;
use rfmseg::pipeline::{RunOptions, run};
use rfmseg_benches::{cluster_engine, data_dir, external_cluster, lake, runtime, sizes};

const ROLE: &str = "RFMSEG_BENCH_ROLE";

fn main() {
    if let Ok(role) = std::env::var(ROLE) {
        serve(&role);
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
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
struct LocalCluster {
    children: Vec<Child>,
    url: ClusterUrl,
}

impl LocalCluster {
    fn start(executors: usize, slots: usize) -> LocalCluster {
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

fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

fn bench(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("pipeline");
    group.sample_size(10);
    let external = external_cluster();
    for n in sizes() {
        let lake = lake(n);
        let out = data_dir().join(format!("pipeline-out-{n}"));
        group.throughput(Throughput::Elements(n));
        let mut run_on = |name: String, engine: Engine| {
            let opts = RunOptions {
                lake: lake.clone(),
                out: out.clone(),
                config: Config::default(),
                progress: false,
                engine,
            };
            group.bench_function(format!("{name}/{n}"), |b| {
                b.iter(|| rt.block_on(run(&opts)).expect("run"))
            });
        };
        run_on("embedded".into(), Engine::Embedded);
        match &external {
            Some(engine) => run_on("cluster".into(), engine.clone()),
            None => {
                for executors in [1, 2] {
                    let cluster = LocalCluster::start(executors, (cores() / executors).max(1));
                    run_on(
                        format!("cluster-{executors}"),
                        cluster_engine(cluster.url.clone()),
                    );
                }
            }
        }
    }
    group.finish();
}

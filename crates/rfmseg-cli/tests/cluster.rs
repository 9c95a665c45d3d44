//! Distributed mode with real processes: a scheduler and two executors started by
//! deploy/local-cluster.sh on 127.0.0.1 (free ports), `rfmseg run`, `score` and `sql` with
//! `--cluster`, compared with the same commands embedded.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use arrow::array::{Array, RecordBatch};
use arrow::compute::concat_batches;

mod common;
use common::{RUN_FILES, run_args};

/// One cluster at a time: each test starts three processes on a 2-core machine.
static SERIAL: Mutex<()> = Mutex::new(());

const BIN: &str = env!("CARGO_BIN_EXE_rfmseg");

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/local-cluster.sh")
}

fn rfmseg(args: &[&str], dir: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run rfmseg")
}

fn ok(out: Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "rfmseg failed: {stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A scheduler and executors as separate processes, stopped by PID when dropped.
struct LocalCluster {
    dir: PathBuf,
    url: String,
}

impl LocalCluster {
    fn start(dir: &Path, executors: usize) -> LocalCluster {
        Self::start_with(dir, executors, &[])
    }

    /// A cluster whose processes get `env` (an S3 store's settings).
    fn start_with(dir: &Path, executors: usize, env: &[(&str, &str)]) -> LocalCluster {
        let dir = dir.join("cluster");
        let port = free_port().to_string();
        let n = executors.to_string();
        let out = Command::new("bash")
            .arg(script())
            .args(["start", "--executors", &n, "--port", &port, "--bin", BIN])
            // A lost executor is noticed after 10 s (heartbeats every 2 s).
            .args([
                "--concurrent-tasks",
                "2",
                "--executor-timeout",
                "10",
                "--dir",
            ])
            .arg(&dir)
            .envs(env.iter().copied())
            .output()
            .expect("run local-cluster.sh");
        assert!(
            out.status.success(),
            "cluster did not start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let url = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert_eq!(url, format!("df://127.0.0.1:{port}"));
        LocalCluster { dir, url }
    }

    fn pid(&self, role: &str) -> u32 {
        std::fs::read_to_string(self.dir.join("pids").join(format!("{role}.pid")))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    fn log(&self, role: &str) -> String {
        std::fs::read_to_string(self.dir.join("logs").join(format!("{role}.log"))).unwrap()
    }

    /// Tasks an executor ran, from its log (one "Execute task" line per task).
    fn tasks(&self, executor: usize) -> usize {
        self.log(&format!("executor-{executor}"))
            .lines()
            .filter(|l| l.contains("Execute task"))
            .count()
    }

    fn stop(&self) -> String {
        let out = Command::new("bash")
            .arg(script())
            .args(["stop", "--dir"])
            .arg(&self.dir)
            .output()
            .expect("run local-cluster.sh stop");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Jobs the scheduler logged as completed.
fn jobs_completed(cluster: &LocalCluster) -> u64 {
    cluster
        .log("scheduler")
        .lines()
        .filter(|l| l.contains("job completed"))
        .count() as u64
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

fn read_parquet(path: &Path) -> RecordBatch {
    let file = std::fs::File::open(path).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    concat_batches(&batches[0].schema(), &batches).unwrap()
}

/// customers.parquet of two runs: same columns, same rows in the same order, same values
/// (floats compared bit for bit).
fn assert_same_customers(a: &Path, b: &Path) {
    let (a, b) = (read_parquet(a), read_parquet(b));
    assert!(a.num_rows() > 100, "{} customers", a.num_rows());
    assert_eq!(a.num_rows(), b.num_rows());
    let names = |x: &RecordBatch| -> Vec<(String, String)> {
        x.schema()
            .fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().to_string()))
            .collect()
    };
    assert_eq!(names(&a), names(&b));
    for (i, (ca, cb)) in a.columns().iter().zip(b.columns()).enumerate() {
        assert_eq!(
            ca.to_data(),
            cb.to_data(),
            "column {} differs",
            a.schema().field(i).name()
        );
    }
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `embedded/` and `distributed/` hold the same customers and the same model.
fn assert_same_run(dir: &Path) {
    assert_same_customers(
        &dir.join("embedded/customers.parquet"),
        &dir.join("distributed/customers.parquet"),
    );
    assert_eq!(
        json(&dir.join("embedded/model.json")),
        json(&dir.join("distributed/model.json"))
    );
    // The segment migration since --compare-as-of.
    assert_same_customers(
        &dir.join("embedded/downgraded.parquet"),
        &dir.join("distributed/downgraded.parquet"),
    );
    let csv = |run: &str| std::fs::read_to_string(dir.join(run).join("migration.csv")).unwrap();
    assert_eq!(csv("embedded"), csv("distributed"));
    let cohorts = |run: &str| std::fs::read_to_string(dir.join(run).join("cohorts.csv")).unwrap();
    assert_eq!(cohorts("embedded"), cohorts("distributed"));
}

/// A generated lake, its embedded run in `embedded/`, and a running two-executor cluster;
/// one at a time.
struct Fixture {
    cluster: LocalCluster,
    lake: String,
    tmp: tempfile::TempDir,
    _serial: std::sync::MutexGuard<'static, ()>,
}

impl Fixture {
    fn new() -> Fixture {
        let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let lake = common::generated_lake(dir, 30_000)
            .to_str()
            .unwrap()
            .to_string();
        ok(rfmseg(&run_args(&lake, "embedded"), dir));
        Fixture {
            cluster: LocalCluster::start(dir, 2),
            lake,
            tmp,
            _serial: serial,
        }
    }
}

#[test]
fn cluster_run_score_and_sql_equal_embedded_and_run_on_the_executors() {
    let f = Fixture::new();
    let (dir, lake, cluster) = (f.tmp.path(), f.lake.as_str(), &f.cluster);
    let mut args = run_args(lake, "distributed");
    args.extend(["--cluster", &cluster.url]);
    let printed = ok(rfmseg(&args, dir));
    assert!(printed.contains("customers, window"), "{printed}");

    // The same answer: customers, and the model to the last bit of every centre and cost,
    // lifetime-value fit and prediction included.
    assert_same_run(dir);
    let model_json = json(&dir.join("distributed/model.json"));
    assert!(
        model_json["clv"]["fit"]["converged"].as_bool() == Some(true),
        "{}",
        model_json["clv"]
    );
    let customers = read_parquet(&dir.join("distributed/customers.parquet"));
    for column in ["p_alive", "expected_purchases", "expected_value", "clv"] {
        let c = customers.column_by_name(column).expect(column);
        assert_eq!(c.null_count(), 0, "{column}");
    }
    for f in ["segments.csv", "k_selection.csv"] {
        assert_eq!(
            std::fs::read_to_string(dir.join("embedded").join(f)).unwrap(),
            std::fs::read_to_string(dir.join("distributed").join(f)).unwrap(),
            "{f}"
        );
    }
    // No work folder is left beside the output.
    let left: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("distributed."))
        .collect();
    assert!(left.is_empty(), "{left:?}");

    // The queries ran in the executors: both logged tasks of many jobs.
    let (t1, t2) = (cluster.tasks(1), cluster.tasks(2));
    assert!(t1 > 20 && t2 > 20, "tasks per executor: {t1}, {t2}");

    // report.json counts the run's queries per stage; the scheduler, counting on its side,
    // completed exactly as many jobs (the run was its only client so far).
    let report = json(&dir.join("distributed/report.json"));
    let timings = report["timings"].as_array().unwrap();
    let per_stage: Vec<(String, u64)> = timings
        .iter()
        .map(|t| {
            (
                t["stage"].as_str().unwrap().to_string(),
                t["queries"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(per_stage.iter().all(|(_, q)| *q > 0), "{per_stage:?}");
    let queries: u64 = per_stage.iter().map(|(_, q)| q).sum();
    assert_eq!(jobs_completed(cluster), queries, "{per_stage:?}");

    // score with the saved model, on the cluster, equals score embedded.
    let model = dir.join("embedded/model.json");
    let model = model.to_str().unwrap();
    ok(rfmseg(
        &[
            "score", "--model", model, "--lake", lake, "--out", "scored_e",
        ],
        dir,
    ));
    ok(rfmseg(
        &[
            "score",
            "--model",
            model,
            "--lake",
            lake,
            "--out",
            "scored_c",
            "--cluster",
            &cluster.url,
        ],
        dir,
    ));
    assert_same_customers(
        &dir.join("scored_e/customers.parquet"),
        &dir.join("scored_c/customers.parquet"),
    );

    // sql: a pipeline file as it is, with the stages before it, on both engines.
    let rfm_sql = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sql/rfm.sql");
    let rfm_sql = rfm_sql.to_str().unwrap();
    let before = cluster.tasks(1) + cluster.tasks(2);
    for (out, cluster_args) in [
        ("rfm_e.csv", vec![]),
        ("rfm_c.csv", vec!["--cluster", cluster.url.as_str()]),
    ] {
        let mut args = vec![
            "sql", "-f", rfm_sql, "--lake", lake, "--upto", "features", "--out", out,
        ];
        args.extend(cluster_args);
        let printed = ok(rfmseg(&args, dir));
        assert!(printed.contains("rows written to"), "{printed}");
    }
    assert!(cluster.tasks(1) + cluster.tasks(2) > before);
    let sort = |f: &str| {
        let text = std::fs::read_to_string(dir.join(f)).unwrap();
        let mut lines: Vec<String> = text.lines().map(String::from).collect();
        lines[1..].sort();
        lines
    };
    let (e, c) = (sort("rfm_e.csv"), sort("rfm_c.csv"));
    assert_eq!(e, c);
    let customers = read_parquet(&dir.join("embedded/customers.parquet")).num_rows();
    assert_eq!(e.len() - 1, customers, "one rfm row per customer");

    // The CLV likelihoods (exact sums): the same bits on both engines.
    let summary = include_str!("../../../sql/clv_summary.sql");
    std::fs::write(
        dir.join("clv_ll.sql"),
        format!(
            "SELECT bgnbd_ll('0.25,4.0,0.8,2.5', x, t_x, t_cal) AS bgnbd, \
             gamma_gamma_ll('6.0,4.0,15.0', x, m) AS gamma_gamma FROM ({summary}) s"
        ),
    )
    .unwrap();
    for (out, cluster_args) in [
        ("clv_e.parquet", vec![]),
        ("clv_c.parquet", vec!["--cluster", cluster.url.as_str()]),
    ] {
        let mut args = vec![
            "sql",
            "-f",
            "clv_ll.sql",
            "--lake",
            lake,
            "--upto",
            "features",
            "--param",
            "time_unit=7",
            "--out",
            out,
        ];
        args.extend(cluster_args);
        ok(rfmseg(&args, dir));
    }
    let (e, c) = (
        read_parquet(&dir.join("clv_e.parquet")),
        read_parquet(&dir.join("clv_c.parquet")),
    );
    assert_eq!(e.num_rows(), 1);
    assert!(!e.column(0).is_null(0) && !e.column(1).is_null(0));
    assert_eq!(e.column(0).to_data(), c.column(0).to_data(), "bgnbd_ll");
    assert_eq!(
        e.column(1).to_data(),
        c.column(1).to_data(),
        "gamma_gamma_ll"
    );

    // A shop's transactions: the same job on the cluster, the same answer.
    ok(rfmseg(
        &[
            "generate",
            "--transactions",
            "--reviews",
            "8000",
            "--out",
            "shop",
        ],
        dir,
    ));
    ok(rfmseg(
        &[
            "ingest",
            "--transactions",
            "shop/transactions.csv",
            "--out",
            "shop_lake",
            "--customer",
            "CustomerID",
            "--time",
            "InvoiceDate",
            "--time-format",
            "%m/%d/%Y %H:%M",
            "--quantity",
            "Quantity",
            "--unit-price",
            "UnitPrice",
            "--order",
            "InvoiceNo",
            "--cancelled-orders",
            "C%",
        ],
        dir,
    ));
    for (out, cluster_args) in [
        ("shop_e", vec![]),
        ("shop_c", vec!["--cluster", cluster.url.as_str()]),
    ] {
        let mut args = vec![
            "run",
            "--lake",
            "shop_lake",
            "--out",
            out,
            "--k",
            "4",
            "--seed",
            "7",
        ];
        args.extend(cluster_args);
        ok(rfmseg(&args, dir));
    }
    assert_same_customers(
        &dir.join("shop_e/customers.parquet"),
        &dir.join("shop_c/customers.parquet"),
    );
    assert_eq!(
        json(&dir.join("shop_e/model.json")),
        json(&dir.join("shop_c/model.json"))
    );

    // Stopped by PID.
    let pids: Vec<u32> = ["scheduler", "executor-1", "executor-2"]
        .iter()
        .map(|r| cluster.pid(r))
        .collect();
    assert!(cluster.stop().contains("stopped"));
    let deadline = Instant::now() + Duration::from_secs(15);
    while pids.iter().any(|&p| alive(p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(pids.iter().all(|&p| !alive(p)), "still running: {pids:?}");
}

#[test]
fn an_executor_killed_mid_run_never_gives_a_wrong_result() {
    let f = Fixture::new();
    let (dir, lake, cluster) = (f.tmp.path(), f.lake.as_str(), &f.cluster);
    let mut args = run_args(lake, "distributed");
    // Queries here take well under a second: one that stalls for 20 s is stuck.
    args.extend(["--cluster", &cluster.url, "--query-timeout", "20"]);
    let child: Child = Command::new(BIN)
        .args(&args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Kill executor 2 once it has run 40 tasks: the run is under way (a k = 4 run here
    // is about 250 tasks per executor).
    let deadline = Instant::now() + Duration::from_secs(120);
    while cluster.tasks(2) < 40 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        cluster.tasks(2) >= 40,
        "executor 2 ran {} tasks",
        cluster.tasks(2)
    );
    let victim = cluster.pid("executor-2");
    let killed = Command::new("kill")
        .args(["-KILL", &victim.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        // Ballista reran the lost tasks on executor 1: the answer must be the same.
        assert_same_run(dir);
        println!("run survived the lost executor: {}", cluster.tasks(1));
    } else {
        // Or it failed: then with a clear error, exit code 2, and no output at all.
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with("error: run failed: stage ")),
            "{stderr}"
        );
        assert!(stderr.contains("nothing was written"), "{stderr}");
        assert!(
            !dir.join("distributed").exists(),
            "no output after a failed run"
        );
        println!("run failed cleanly: {stderr}");
    }
}

#[test]
fn an_unreachable_scheduler_fails_within_seconds() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("df://127.0.0.1:{}", free_port());
    let started = Instant::now();
    let out = rfmseg(
        &["run", "--lake", "lake", "--out", "out", "--cluster", &url],
        tmp.path(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{url}: cannot reach the Ballista scheduler")),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: start one with `rfmseg scheduler"),
        "{stderr}"
    );
    assert!(std::fs::read_dir(tmp.path()).unwrap().next().is_none());
    let out = rfmseg(
        &["sql", "-c", "SELECT 1", "--cluster", "127.0.0.1:1"],
        tmp.path(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("expected df://host:port"), "{stderr}");
}

/// A cluster that shares nothing but an S3 bucket: the lake, the work prefix and the
/// outputs are on the local S3 server, each executor has its own private folder, and the
/// answer is the one the embedded run gives on local folders.
#[test]
fn a_cluster_sharing_only_an_s3_bucket_gives_the_embedded_answer() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let Some(s3) = common::S3Server::start(dir, &["rfm"]) else {
        return;
    };
    let env = s3.env();
    let lake = common::generated_lake(dir, 30_000);
    let lake = lake.to_str().unwrap();
    ok(rfmseg(&run_args(lake, "embedded"), dir));
    ok(common::rfmseg_env(
        &common::ingest_raw_to("s3://rfm/lake"),
        dir,
        &env,
    ));
    let cluster = LocalCluster::start_with(dir, 2, &env);
    let mut args = run_args("s3://rfm/lake", "s3://rfm/out");
    args.extend(["--cluster", &cluster.url, "--work-dir", "s3://rfm/work"]);
    ok(common::rfmseg_env(&args, dir, &env));

    let out = s3.output("rfm", "out");
    std::fs::create_dir_all(dir.join("distributed")).unwrap();
    for f in RUN_FILES {
        std::fs::copy(out.join(f), dir.join("distributed").join(f)).unwrap();
    }
    assert_same_run(dir);
    for f in ["segments.csv", "k_selection.csv"] {
        assert_eq!(
            std::fs::read_to_string(dir.join("embedded").join(f)).unwrap(),
            std::fs::read_to_string(dir.join("distributed").join(f)).unwrap(),
            "{f}"
        );
    }
    // The executors did the work, wrote their tables to the bucket (removed after the
    // run) and kept only their own shuffle files in their private folders.
    let (t1, t2) = (cluster.tasks(1), cluster.tasks(2));
    assert!(t1 > 20 && t2 > 20, "tasks per executor: {t1}, {t2}");
    let work = s3.file("rfm", "work/rfmseg-work");
    assert!(
        !work.exists() || std::fs::read_dir(&work).unwrap().next().is_none(),
        "the work prefix was not cleaned: {}",
        work.display()
    );
    for i in [1, 2] {
        let private = dir.join(format!("cluster/executor-{i}"));
        assert!(private.is_dir());
    }
}

//! What the CLI tests share: running the binary, and a small generated lake.
#![allow(dead_code)] // each test file uses its own part of it

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_rfmseg");

/// Runs `rfmseg args` in `dir` with extra environment variables.
pub fn rfmseg_env(args: &[&str], dir: &Path, env: &[(&str, &str)]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        .output()
        .expect("run rfmseg")
}

/// Runs `rfmseg args` in `dir` and asserts that it succeeded; returns stdout.
pub fn ok(args: &[&str], dir: &Path) -> String {
    let out = rfmseg_env(args, dir, &[]);
    assert!(
        out.status.success(),
        "rfmseg {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `reviews` generated review lines in `dir/raw`, ingested into `dir/lake`.
pub fn generated_lake(dir: &Path, reviews: u64) -> PathBuf {
    let n = reviews.to_string();
    ok(&["generate", "--reviews", &n, "--out", "raw"], dir);
    ok(&INGEST_RAW, dir);
    dir.join("lake")
}

/// `rfmseg ingest` of `raw/` (as [`generated_lake`] writes it) into `lake`.
pub const INGEST_RAW: [&str; 7] = [
    "ingest",
    "--reviews",
    "raw/Electronics.jsonl",
    "--items",
    "raw/meta_Electronics.jsonl",
    "--out",
    "lake",
];

/// [`INGEST_RAW`] into another lake (an s3:// URL, say).
pub fn ingest_raw_to(out: &str) -> [&str; 7] {
    let mut args = INGEST_RAW;
    args[6] = out;
    args
}

/// What `run` writes that carries no timing or path: the same bytes wherever written.
pub const RUN_FILES: [&str; 7] = [
    "customers.parquet",
    "model.json",
    "segments.csv",
    "k_selection.csv",
    "migration.csv",
    "downgraded.parquet",
    "cohorts.csv",
];

/// A run with every optional stage: k = 4, seed 7, migration since 2023-03-13, monthly
/// cohorts.
pub fn run_args<'a>(lake: &'a str, out: &'a str) -> Vec<&'a str> {
    vec![
        "run",
        "--lake",
        lake,
        "--out",
        out,
        "--k",
        "4",
        "--seed",
        "7",
        "--compare-as-of",
        "2023-03-13",
        "--cohorts",
        "month",
    ]
}

/// Every file under `dir` with its bytes, by path relative to `dir`.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.insert(
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    files
}

/// Whether `path` is a folder with no file anywhere below it (a file is not empty).
pub fn holds_no_file(path: &Path) -> bool {
    path.is_dir() && snapshot(path).is_empty()
}

/// A local S3-compatible server (deploy/local-s3.sh: s3s-fs on 127.0.0.1, a free port),
/// stopped by PID when dropped. Buckets are folders under `data/`, so a test can place
/// inputs and read back what rfmseg wrote without another client.
pub struct S3Server {
    pub dir: PathBuf,
    pub env: Vec<(String, String)>,
}

fn s3_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/local-s3.sh")
}

impl S3Server {
    /// Starts the server with `buckets`; None (the test is skipped) if s3s-fs is not
    /// installed, except under CI, where .ci/run installs it and its absence fails.
    pub fn start(dir: &Path, buckets: &[&str]) -> Option<S3Server> {
        let dir = dir.join("s3");
        let mut cmd = Command::new("bash");
        cmd.arg(s3_script()).args(["start", "--dir"]).arg(&dir);
        for b in buckets {
            cmd.args(["--bucket", b]);
        }
        // The server's keys come from the script's defaults, not the caller's environment.
        cmd.env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY");
        let out = cmd.output().expect("run local-s3.sh");
        if !out.status.success() {
            let why = String::from_utf8_lossy(&out.stderr);
            if std::env::var_os("CI").is_none() && why.contains("no s3s-fs") {
                eprintln!("skipped: {why}");
                return None;
            }
            panic!("S3 server did not start: {why}");
        }
        let env = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("export "))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Some(S3Server { dir, env })
    }

    /// The environment that points rfmseg at this server.
    pub fn env(&self) -> Vec<(&str, &str)> {
        self.env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// The environment with one variable replaced.
    pub fn env_with<'a>(&'a self, key: &'a str, value: &'a str) -> Vec<(&'a str, &'a str)> {
        let mut env: Vec<(&str, &str)> =
            self.env().into_iter().filter(|(k, _)| *k != key).collect();
        env.push((key, value));
        env
    }

    /// Where the server keeps the object `bucket/key`.
    pub fn file(&self, bucket: &str, key: &str) -> PathBuf {
        self.dir.join("data").join(bucket).join(key)
    }

    /// The folder holding the current generation of the rfmseg output at `bucket/key`, as
    /// its marker object names it.
    pub fn output(&self, bucket: &str, key: &str) -> PathBuf {
        let marker = self.file(bucket, &format!("{key}/.rfmseg-output.json"));
        let text = std::fs::read_to_string(&marker)
            .unwrap_or_else(|e| panic!("{}: {e}", marker.display()));
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        self.file(bucket, key)
            .join(v["generation"].as_str().expect("a generation"))
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(s3_script())
            .args(["stop", "--dir"])
            .arg(&self.dir)
            .output();
    }
}

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

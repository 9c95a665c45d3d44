//! The `rfmseg` binary: errors are printed once with a hint and exit with code 2, and a
//! failed run leaves no output folder.

use std::process::Command;

mod common;

fn rfmseg(args: &[&str], dir: &std::path::Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rfmseg"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run rfmseg");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_input_exits_2_with_the_file_and_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = rfmseg(
        &[
            "ingest",
            "--reviews",
            "missing.jsonl",
            "--items",
            "m.jsonl",
            "--out",
            "lake",
        ],
        dir.path(),
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.starts_with("error: ingest failed: missing.jsonl: does not exist"),
        "{err}"
    );
    assert!(
        err.contains("hint: check the path given to --reviews"),
        "{err}"
    );
    assert!(!dir.path().join("lake").exists());
}

#[test]
fn invalid_config_is_rejected_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    for (args, want) in [
        (
            vec!["run", "--lake", "lake", "--out", "out", "--k", "1"],
            "invalid kmeans.k (--k): must be at least 2, got 1",
        ),
        (
            vec!["run", "--lake", "lake", "--out", "out", "--k-range", "6..2"],
            "the k range 6..2 is empty",
        ),
        (
            vec![
                "run",
                "--lake",
                "lake",
                "--out",
                "out",
                "--as-of",
                "2023-02-30",
            ],
            "rfm.as_of",
        ),
        (
            vec!["run", "--lake", "lake", "--out", "out", "--clv", "yes"],
            "invalid --clv: \"yes\": expected on or off",
        ),
        (
            vec![
                "run",
                "--lake",
                "lake",
                "--out",
                "out",
                "--clv-horizon",
                "0",
            ],
            "invalid clv.horizon (--clv-horizon): must be a number of weeks in (0, 10000], got 0",
        ),
        (
            vec![
                "run",
                "--lake",
                "lake",
                "--out",
                "out",
                "--holdout-days",
                "365",
            ],
            "invalid clv.holdout_days (--holdout-days): 365 leaves no calibration days",
        ),
    ] {
        let (code, _, err) = rfmseg(&args, dir.path());
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(want), "{want}: {err}");
    }
    // The lake does not exist either, but the config is checked first.
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing written"
    );
}

#[test]
fn a_run_on_a_folder_that_is_not_a_lake_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("notalake")).unwrap();
    let (code, _, err) = rfmseg(&["run", "--lake", "notalake", "--out", "out"], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("reviews: has no Parquet files; this is not an rfmseg lake"),
        "{err}"
    );
    assert!(
        err.contains("hint: create the lake with `rfmseg ingest"),
        "{err}"
    );
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["notalake"], "no output or temporary folder left");
}

/// A generated lake of a few hundred reviews in `dir/lake`.
fn small_lake(dir: &std::path::Path) {
    common::generated_lake(dir, 300);
}

#[test]
fn sql_rejects_statements_that_write_and_leaves_the_lake_alone() {
    let dir = tempfile::tempdir().unwrap();
    small_lake(dir.path());
    let lake = dir.path().join("lake");
    let before = common::snapshot(&lake);
    let elsewhere = dir.path().join("copied.parquet");
    let copy_out = format!(
        "COPY (SELECT * FROM lake_items) TO '{}'",
        elsewhere.display()
    );
    for (sql, what) in [
        (
            "INSERT INTO lake_reviews SELECT * FROM lake_reviews LIMIT 1",
            "DML not supported: Insert Into",
        ),
        (
            "COPY lake_reviews TO 'lake/reviews/copy.parquet'",
            "DML not supported: COPY",
        ),
        (copy_out.as_str(), "DML not supported: COPY"),
        (
            "CREATE TABLE t AS SELECT 1 AS x",
            "DDL not supported: CreateMemoryTable",
        ),
        (
            "CREATE VIEW v AS SELECT * FROM lake_items",
            "DDL not supported: CreateView",
        ),
        (
            "CREATE EXTERNAL TABLE e (x INT) STORED AS CSV LOCATION 'lake/reviews/e.csv'",
            "DDL not supported: CreateExternalTable",
        ),
        ("DROP TABLE lake_items", "DDL not supported: DropTable"),
        (
            "SET datafusion.execution.target_partitions = 1",
            "Statement not supported: SetVariable",
        ),
    ] {
        let (code, out, err) = rfmseg(&["sql", "--lake", "lake", "-c", sql], dir.path());
        assert_eq!(code, 2, "{sql}: {out}{err}");
        assert_eq!(
            err,
            format!(
                "error: sql failed: -c: rfmseg sql only reads, and this statement would change \
                 data or settings ({what})\nhint: run a query (SELECT, WITH, DESCRIBE, EXPLAIN); \
                 results are written only with --out FILE (.parquet or .csv)\n"
            ),
            "{sql}"
        );
        assert_eq!(out, "", "{sql}");
    }
    let after = common::snapshot(&lake);
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>(),
        "the lake's files"
    );
    assert!(before == after, "the lake's bytes changed");
    assert!(!elsewhere.exists(), "COPY wrote {}", elsewhere.display());
    // A query still runs.
    let (code, out, err) = rfmseg(
        &[
            "sql",
            "--lake",
            "lake",
            "-c",
            "SELECT count(*) AS n FROM lake_items",
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.ends_with("1 rows\n"), "{out}");
}

#[test]
fn a_closed_stdout_ends_every_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &[
            "sql",
            "--limit",
            "100000",
            "-c",
            "SELECT value, value * 2 AS twice FROM generate_series(1, 100000)",
        ][..],
        &["show-config"],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rfmseg"))
            .args(args)
            .current_dir(dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run rfmseg");
        // The reader goes away before rfmseg writes anything, as `| head -0` would.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert_eq!(err, "", "{args:?}");
    }
}

/// How often `needle` occurs in `text`.
fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

#[test]
fn sql_and_os_errors_are_printed_once() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = rfmseg(
        &["sql", "-c", "SELECT nope FROM generate_series(1, 3)"],
        dir.path(),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.starts_with("error: sql failed: stage -c: "), "{err}");
    assert_eq!(count(&err, "No field named nope"), 1, "{err}");

    let (code, _, err) = rfmseg(
        &["sql", "--config", "missing.toml", "-c", "SELECT 1"],
        dir.path(),
    );
    assert_eq!(code, 2, "{err}");
    assert_eq!(
        err,
        "error: missing.toml: No such file or directory (os error 2)\n"
    );

    let (code, _, err) = rfmseg(&["sql", "-f", "missing.sql"], dir.path());
    assert_eq!(code, 2, "{err}");
    assert_eq!(
        err,
        "error: reading missing.sql: No such file or directory (os error 2)\n"
    );
}

/// A mistyped --lake says so, naming the path, for every command that reads a lake
/// (not "has no Parquet files" about a subfolder of a folder that is not there).
#[test]
fn a_lake_that_does_not_exist_is_named_by_run_features_and_clean() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["run", "--lake", "no-such-lake", "--out", "out"],
        vec!["features", "--lake", "no-such-lake", "--out", "out"],
        vec!["clean", "--lake", "no-such-lake"],
    ] {
        let (code, _, err) = rfmseg(&args, dir.path());
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.contains("no-such-lake: does not exist\n"),
            "{args:?}: {err}"
        );
        assert!(
            err.contains("hint: check the path given to --lake"),
            "{args:?}: {err}"
        );
    }
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing written"
    );
}

/// `rfmseg sql` lists rfmseg's functions with their documentation, from the registry the
/// library registers (`rfmseg_udfs::scalar_udfs()` and `aggregate_udfs()`).
#[test]
fn sql_lists_every_rfmseg_function_with_its_description() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::ok(
        &[
            "sql",
            "-c",
            "SELECT DISTINCT routine_name, description IS NOT NULL AND length(description) > 20 \
             AS documented FROM information_schema.routines \
             WHERE routine_name IN ('parse_price', 'stable_hash', 'kmeans_assign', \
             'kmeans_sample', 'kmeans_step', 'kmeans_cost', 'kmeans_silhouette') \
             ORDER BY routine_name",
        ],
        dir.path(),
    );
    let rows: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("| true") || l.contains("| false"))
        .collect();
    assert_eq!(rows.len(), 7, "{out}");
    assert!(rows.iter().all(|r| r.contains("| true")), "{out}");
    assert!(out.contains("kmeans_silhouette"), "{out}");
}

/// `demo --transactions`: a shop's export generated, ingested with its mapping and run, in
/// one command.
#[test]
fn the_transactions_demo_runs_from_export_to_report() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = rfmseg(
        &[
            "demo",
            "--transactions",
            "--reviews",
            "4000",
            "--dir",
            "shop",
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("transaction lines"), "{out}");
    assert!(out.contains("lifetime value over 52 weeks"), "{out}");
    let report = dir.path().join("shop/out/report.html");
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(
        html.contains("clean transactions"),
        "the data-quality table"
    );
    // Only the advice to ask customers for reviews mentions them.
    let without_advice = html.replace("ask for reviews and referrals", "");
    assert!(
        !without_advice.contains("review"),
        "a shop's report speaks of purchases"
    );
}

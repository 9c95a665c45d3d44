//! s3:// paths against a real S3-compatible server process on 127.0.0.1 (s3s-fs, started
//! by deploy/local-s3.sh): ingest from and to S3, run, score and sql from S3 to S3, each
//! compared byte for byte with the same commands on local folders; and the ways it fails.

use std::path::Path;
use std::process::Output;

mod common;
use common::{RUN_FILES, S3Server, ok, rfmseg_env, run_args};

const BUCKET: &str = "rfm";

fn run_s3(args: &[&str], dir: &Path, s3: &S3Server) -> String {
    let out = rfmseg_env(args, dir, &s3.env());
    assert!(
        out.status.success(),
        "rfmseg {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn failed(out: Output) -> String {
    assert!(!out.status.success(), "expected a failure");
    assert_eq!(out.status.code(), Some(2), "a user error, not a crash");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Entries of a folder in the server's store that hold objects (s3s-fs leaves the
/// folders of deleted objects behind, empty).
fn stored(dir: &Path) -> Vec<String> {
    names(dir)
        .into_iter()
        .filter(|n| !common::holds_no_file(&dir.join(n)))
        .collect()
}

fn same_bytes(a: &Path, b: &Path) {
    let (x, y) = (std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
    assert!(x == y, "{} and {} differ", a.display(), b.display());
}

/// `score` with `model` on the S3 lake into `s3://rfm/scored` gives the customers the
/// local `score` wrote to `scored/`.
fn score_on_s3_equals_local(dir: &Path, s3: &S3Server, model: &str) {
    run_s3(
        &[
            "score",
            "--model",
            model,
            "--lake",
            "s3://rfm/lake",
            "--out",
            "s3://rfm/scored",
        ],
        dir,
        s3,
    );
    same_bytes(
        &dir.join("scored/customers.parquet"),
        &s3.output(BUCKET, "scored").join("customers.parquet"),
    );
}

#[test]
fn ingest_run_score_and_sql_on_s3_equal_the_local_commands() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let Some(s3) = S3Server::start(dir, &[BUCKET]) else {
        return;
    };
    // Raw files generated locally, placed in the bucket as objects.
    ok(&["generate", "--reviews", "6000", "--out", "raw"], dir);
    let raw = s3.file(BUCKET, "raw");
    std::fs::create_dir_all(&raw).unwrap();
    for f in ["Electronics.jsonl", "meta_Electronics.jsonl"] {
        std::fs::copy(dir.join("raw").join(f), raw.join(f)).unwrap();
    }

    // Local: ingest, run, score, sql.
    ok(&common::INGEST_RAW, dir);
    ok(&run_args("lake", "out"), dir);
    ok(
        &[
            "score",
            "--model",
            "out/model.json",
            "--lake",
            "lake",
            "--out",
            "scored",
        ],
        dir,
    );
    let query =
        "SELECT rfm_segment, count(*) AS n FROM c GROUP BY rfm_segment ORDER BY rfm_segment";
    ok(
        &[
            "sql",
            "-c",
            query,
            "--table",
            "c=out/customers.parquet",
            "--out",
            "q.csv",
        ],
        dir,
    );

    // The same on S3: inputs read from the bucket (a prefix of files), lake and outputs
    // written to it.
    let printed = run_s3(
        &[
            "ingest",
            "--reviews",
            "s3://rfm/raw/Electronics.jsonl",
            "--items",
            "s3://rfm/raw/meta_Electronics.jsonl",
            "--out",
            "s3://rfm/lake",
        ],
        dir,
        &s3,
    );
    assert!(printed.contains("s3://rfm/lake"), "{printed}");
    let lake = s3.output(BUCKET, "lake");
    for table in ["reviews", "items"] {
        let (local, remote) = (dir.join("lake").join(table), lake.join(table));
        assert_eq!(names(&local), names(&remote), "{table}");
        for f in names(&local) {
            same_bytes(&local.join(&f), &remote.join(&f));
        }
    }
    let summary = std::fs::read_to_string(lake.join("_ingest.json")).unwrap();
    assert!(
        summary.contains("s3://rfm/raw/Electronics.jsonl"),
        "the summary names the objects, not local copies: {summary}"
    );

    run_s3(&run_args("s3://rfm/lake", "s3://rfm/out"), dir, &s3);
    let out = s3.output(BUCKET, "out");
    for f in RUN_FILES {
        same_bytes(&dir.join("out").join(f), &out.join(f));
    }
    assert!(out.join("report.html").exists());

    score_on_s3_equals_local(dir, &s3, "s3://rfm/out/model.json");
    run_s3(
        &[
            "sql",
            "-c",
            query,
            "--table",
            "c=s3://rfm/out/customers.parquet",
            "--out",
            "s3://rfm/q.csv",
        ],
        dir,
        &s3,
    );
    same_bytes(&dir.join("q.csv"), &s3.file(BUCKET, "q.csv"));
    // A file output never replaces an object.
    let e = failed(rfmseg_env(
        &[
            "sql",
            "-c",
            query,
            "--table",
            "c=s3://rfm/out",
            "--out",
            "s3://rfm/q.csv",
        ],
        dir,
        &s3.env(),
    ));
    assert!(
        e.contains("s3://rfm/q.csv") && e.contains("already exists"),
        "{e}"
    );

    // A second run replaces the first: one generation and the marker remain.
    let first = out.file_name().unwrap().to_owned();
    run_s3(&run_args("s3://rfm/lake", "s3://rfm/out"), dir, &s3);
    let second = s3.output(BUCKET, "out");
    assert_ne!(second.file_name().unwrap(), first);
    let mut expected = vec![
        ".rfmseg-output.json".to_string(),
        second.file_name().unwrap().to_string_lossy().into_owned(),
    ];
    expected.sort();
    assert_eq!(stored(&s3.file(BUCKET, "out")), expected);
    same_bytes(&dir.join("out/model.json"), &second.join("model.json"));

    // A run killed after its upload, before its marker: the old output stays the output
    // (score reads it), and the next run's staging leaves nothing behind locally.
    let killed = rfmseg_env(
        &run_args("s3://rfm/lake", "s3://rfm/out"),
        dir,
        &s3.env_with("RFMSEG_FAULT", "uploaded"),
    );
    assert!(!killed.status.success());
    assert_eq!(s3.output(BUCKET, "out"), second);
    assert_eq!(
        stored(&s3.file(BUCKET, "out")).len(),
        3,
        "the killed upload"
    );
    score_on_s3_equals_local(dir, &s3, "s3://rfm/out");
}

#[test]
fn s3_failures_are_clear_errors_that_name_the_bucket_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let Some(s3) = S3Server::start(dir, &[BUCKET]) else {
        return;
    };
    common::generated_lake(dir, 2000);
    let secret = s3
        .env()
        .into_iter()
        .find(|(k, _)| *k == "AWS_SECRET_ACCESS_KEY")
        .unwrap()
        .1
        .to_string();

    // Wrong credentials: refused, with what to check, and never the secret.
    let wrong = "wrong-secret-value-1234";
    let e = failed(rfmseg_env(
        &run_args("lake", "s3://rfm/out"),
        dir,
        &s3.env_with("AWS_SECRET_ACCESS_KEY", wrong),
    ));
    assert!(
        e.contains("s3://rfm/out") && e.contains("refused") && e.contains("AWS_SECRET_ACCESS_KEY"),
        "{e}"
    );
    assert!(!e.contains(wrong) && !e.contains(&secret), "{e}");

    // A missing bucket.
    let e = failed(rfmseg_env(
        &run_args("lake", "s3://nobucket/out"),
        dir,
        &s3.env(),
    ));
    assert!(e.contains("\"nobucket\" does not exist"), "{e}");

    // An endpoint nothing listens on: a clear error within the retry budget.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let endpoint = format!("http://127.0.0.1:{port}");
    let e = failed(rfmseg_env(
        &run_args("s3://rfm/lake", "out"),
        dir,
        &s3.env_with("AWS_ENDPOINT", &endpoint),
    ));
    assert!(
        e.contains("cannot reach the S3 endpoint") && e.contains(&endpoint),
        "{e}"
    );

    // A prefix that is not a lake, and one holding someone else's objects.
    let theirs = s3.file(BUCKET, "theirs");
    std::fs::create_dir_all(&theirs).unwrap();
    std::fs::write(theirs.join("thesis.txt"), "mine").unwrap();
    let e = failed(rfmseg_env(
        &run_args("s3://rfm/theirs", "out"),
        dir,
        &s3.env(),
    ));
    assert!(
        e.contains("s3://rfm/theirs") && e.contains("not an rfmseg lake"),
        "{e}"
    );
    let e = failed(rfmseg_env(
        &run_args("lake", "s3://rfm/theirs"),
        dir,
        &s3.env(),
    ));
    assert!(e.contains("rfmseg did not write"), "{e}");
    assert_eq!(names(&theirs), ["thesis.txt"]);
    // Another kind of output is not replaced.
    run_s3(&common::ingest_raw_to("s3://rfm/lake"), dir, &s3);
    let e = failed(rfmseg_env(
        &run_args("lake", "s3://rfm/lake"),
        dir,
        &s3.env(),
    ));
    assert!(e.contains("holds an rfmseg lake"), "{e}");

    // Schemes rfmseg does not support are errors, never a local folder named `gs:`.
    for url in ["gs://b/lake", "s3a://rfm/lake"] {
        let e = failed(rfmseg_env(&common::ingest_raw_to(url), dir, &s3.env()));
        assert!(e.contains(url), "{e}");
    }
    assert!(!dir.join("gs:").exists() && !dir.join("s3a:").exists());
    // Nothing was written by the failed runs: only the lake's marker and generation.
    assert_eq!(stored(&s3.file(BUCKET, "")), ["lake", "theirs"]);
    assert_eq!(stored(&s3.file(BUCKET, "lake")).len(), 2);
}

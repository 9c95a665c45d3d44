//! No command destroys a user's file: every command that writes refuses a folder it did
//! not make and a file at its path, and a kill at any point of the final swap leaves the
//! complete old output or the complete new one (the writer's `RFMSEG_FAULT` hook aborts
//! the process there, as `kill -9` would).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod common;
use common::{INGEST_RAW, generated_lake, ok, snapshot};

fn rfmseg_env(args: &[&str], dir: &Path, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let out = common::rfmseg_env(args, dir, env);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A small raw data set, a lake and a run's output in `dir`.
fn fixture(dir: &Path) {
    generated_lake(dir, 3000);
    ok(&["run", "--lake", "lake", "--out", "run", "--k", "3"], dir);
}

#[test]
fn every_writing_command_leaves_a_users_folder_and_file_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fixture(d);
    // A user's folder with a file in it, and a user's file.
    std::fs::create_dir(d.join("mine")).unwrap();
    std::fs::write(d.join("mine/Electronics.jsonl"), "my notes\n").unwrap();
    std::fs::write(d.join("mine.csv"), "a,b\n1,2\n").unwrap();
    let before = snapshot(d);

    let folder_commands: Vec<Vec<&str>> = vec![
        vec!["run", "--lake", "lake", "--k", "3", "--out"],
        vec![
            "score",
            "--model",
            "run/model.json",
            "--lake",
            "lake",
            "--out",
        ],
        vec!["features", "--lake", "lake", "--out"],
        INGEST_RAW[..6].to_vec(),
        vec!["generate", "--reviews", "100", "--out"],
        vec!["demo", "--reviews", "2000", "--dir"],
        vec!["generate", "--transactions", "--reviews", "100", "--out"],
        vec!["demo", "--transactions", "--reviews", "500", "--dir"],
    ];
    for cmd in &folder_commands {
        for target in ["mine", "mine.csv"] {
            let mut args = cmd.clone();
            args.push(target);
            let (code, err) = rfmseg_env(&args, d, &[]);
            assert_eq!(code, Some(2), "{args:?} must refuse: {err}");
            let want = if target == "mine" {
                "was not written by rfmseg"
            } else {
                "is a file, not a folder"
            };
            assert!(err.contains(want), "{args:?}: {err}");
        }
    }
    // features must not overwrite a run's customers.parquet behind its model.json.
    let (code, err) = rfmseg_env(&["features", "--lake", "lake", "--out", "run"], d, &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("holds the output of `rfmseg run`"), "{err}");

    for args in [
        vec!["sql", "-c", "SELECT 1 AS x", "--out", "mine.csv"],
        vec!["clean", "--lake", "lake", "--quality-json", "mine.csv"],
    ] {
        let (code, err) = rfmseg_env(&args, d, &[]);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(
            err.contains("already exists; rfmseg never overwrites a file"),
            "{args:?}: {err}"
        );
    }
    assert_eq!(
        snapshot(d),
        before,
        "no file changed, none added or removed"
    );
}

#[test]
fn a_kill_at_any_point_of_the_swap_leaves_a_complete_output() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(&["generate", "--reviews", "300", "--out", "raw"], d);
    let old = snapshot(&d.join("raw"));
    ok(
        &[
            "generate",
            "--reviews",
            "300",
            "--out",
            "other",
            "--seed",
            "7",
        ],
        d,
    );
    let new = {
        // The same command as the killed ones, run to completion elsewhere.
        let s = snapshot(&d.join("other"));
        let summary = String::from_utf8(s[Path::new("generate_summary.json")].clone()).unwrap();
        assert!(summary.contains("\"seed\": 7"), "{summary}");
        s
    };
    assert_ne!(old, new);
    for point in ["written", "synced", "swapped", "cleaned"] {
        let (code, err) = rfmseg_env(
            &[
                "generate",
                "--reviews",
                "300",
                "--out",
                "raw",
                "--seed",
                "7",
            ],
            d,
            &[("RFMSEG_FAULT", point)],
        );
        assert_eq!(code, None, "killed by SIGABRT at {point}: {err}");
        let now = snapshot(&d.join("raw"));
        // Paths inside generate_summary.json name the output folder, so compare the rest
        // of the files by bytes and the summary by its seed.
        let seed_of = |s: &BTreeMap<PathBuf, Vec<u8>>| {
            String::from_utf8(s[Path::new("generate_summary.json")].clone())
                .unwrap()
                .contains("\"seed\": 7")
        };
        let strip = |mut s: BTreeMap<PathBuf, Vec<u8>>| {
            s.remove(Path::new("generate_summary.json"));
            s
        };
        let is_new = seed_of(&now);
        let want = if is_new { &new } else { &old };
        assert_eq!(
            strip(now.clone()),
            strip(want.clone()),
            "complete output after a kill at {point}"
        );
        // Before the swap the old output is in place, from the swap on the new one.
        assert_eq!(is_new, matches!(point, "swapped" | "cleaned"), "at {point}");
        // Put the old one back for the next point.
        if is_new {
            ok(&["generate", "--reviews", "300", "--out", "raw"], d);
        }
    }
    // The next run cleans up every leftover of the killed ones.
    ok(&["generate", "--reviews", "300", "--out", "raw"], d);
    assert_eq!(names(d), ["other", "raw"]);
    assert_eq!(snapshot(&d.join("raw")), old);
}

#[test]
fn a_stale_temporary_lake_is_deleted_not_merged() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(&["generate", "--reviews", "500", "--out", "raw"], d);
    // A killed ingest's temporary lake, with a part file of other data, and its unheld lock.
    let stale = d.join(".lake.rfmseg-1-0-0");
    std::fs::create_dir_all(stale.join("reviews")).unwrap();
    std::fs::copy(
        d.join("raw/Electronics.jsonl"),
        stale.join("reviews/part-99999.parquet"),
    )
    .unwrap();
    std::fs::write(d.join(".lake.rfmseg-1-0-0.lock"), "").unwrap();
    ok(&INGEST_RAW, d);
    assert!(
        !names(&d.join("lake/reviews"))
            .iter()
            .any(|n| n.contains("99999"))
    );
    assert_eq!(names(d), ["lake", "raw"]);
    // And the lake reads: a run over it succeeds.
    ok(&["run", "--lake", "lake", "--out", "out", "--k", "2"], d);
}

/// A URL of a scheme rfmseg does not read (only s3:// is) is refused wherever a path
/// goes, before any work, instead of becoming a local folder named `gs:`; and s3:// is
/// refused by the commands that write local paths only.
#[test]
fn urls_are_refused_and_never_become_a_local_folder() {
    let dir = tempfile::tempdir().unwrap();
    let lake = common::generated_lake(dir.path(), 2_000);
    let lake = lake.to_str().unwrap();
    let mut ingest_to_url = INGEST_RAW;
    ingest_to_url[6] = "gs://bucket/lake";
    let mut ingest_from_url = INGEST_RAW;
    ingest_from_url[2] = "s3a://bucket/raw/Electronics.jsonl";
    ingest_from_url[6] = "lake2";
    let unsupported: [&[&str]; 6] = [
        &ingest_to_url,
        &ingest_from_url,
        &["run", "--lake", "hdfs://bucket/lake", "--out", "out"],
        &["features", "--lake", lake, "--out", "gs://bucket/features"],
        &[
            "score",
            "--model",
            "file://bucket/model.json",
            "--lake",
            lake,
            "--out",
            "scored",
        ],
        &["sql", "-c", "SELECT 1", "--out", "gs://bucket/r.csv"],
    ];
    for args in unsupported {
        let out = common::rfmseg_env(args, dir.path(), &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("://bucket/"), "{args:?}: {err}");
        assert!(
            err.contains("local paths and s3:// URLs only"),
            "{args:?}: {err}"
        );
    }
    let local_only: [&[&str]; 2] = [
        &["generate", "--reviews", "100", "--out", "s3://bucket/raw"],
        &["demo", "--dir", "s3://bucket/demo"],
    ];
    for args in local_only {
        let out = common::rfmseg_env(args, dir.path(), &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("s3://bucket/") && err.contains("local paths only"),
            "{args:?}: {err}"
        );
    }
    for name in ["s3:", "gs:", "hdfs:", "file:", "lake2", "out", "scored"] {
        assert!(!dir.path().join(name).exists(), "{name} was created");
    }
}

//! The `rfmseg` binary: errors are printed once with a hint and exit with code 2, and a
//! failed run leaves no output folder.

use std::process::Command;

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

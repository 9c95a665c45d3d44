//! The whole job: `run` on generated data with planted archetypes, `score` reproducing
//! its assignments, and failed runs leaving no output.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use arrow::array::AsArray;
use arrow::datatypes::DataType;
use common::*;
use rfmseg::config::{Config, Overrides};
use rfmseg::ingest::{IngestOptions, ingest};
use rfmseg::pipeline::{RunOptions, run};

fn lake(dir: &Path, reviews: u64, seed: u64) -> (PathBuf, PathBuf) {
    let g = generated(&dir.join("raw"), reviews, seed, false, 0.0);
    let lake = dir.join("lake");
    ingest(&IngestOptions::new(&g.reviews_path, &g.items_path, &lake)).unwrap();
    (lake, g.truth_path)
}

/// customer_id -> (cluster, cluster_label, r, f, m, rfm_segment) from a customers.parquet.
fn assignments(path: &Path) -> BTreeMap<String, (i64, String, i64, i64, i64, String)> {
    let mut out = BTreeMap::new();
    for b in read_parquet_dir(path) {
        let s = |name: &str| {
            let c = arrow::compute::cast(b.column_by_name(name).unwrap(), &DataType::Utf8).unwrap();
            c.as_string::<i32>()
                .iter()
                .map(|v| v.unwrap().to_string())
                .collect::<Vec<_>>()
        };
        let i = |name: &str| {
            let c =
                arrow::compute::cast(b.column_by_name(name).unwrap(), &DataType::Int64).unwrap();
            c.as_primitive::<arrow::datatypes::Int64Type>()
                .values()
                .to_vec()
        };
        let (ids, cl, lab, r, f, m, seg) = (
            s("customer_id"),
            i("cluster"),
            s("cluster_label"),
            i("r_score"),
            i("f_score"),
            i("m_score"),
            s("rfm_segment"),
        );
        for k in 0..b.num_rows() {
            out.insert(
                ids[k].clone(),
                (cl[k], lab[k].clone(), r[k], f[k], m[k], seg[k].clone()),
            );
        }
    }
    out
}

fn truth(path: &Path) -> HashMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(','))
        .map(|(u, a)| (u.to_string(), a.to_string()))
        .collect()
}

#[tokio::test]
async fn run_labels_planted_archetypes_and_score_reproduces_it() {
    let dir = tempfile::tempdir().unwrap();
    let (lake, truth_path) = lake(dir.path(), 60_000, 42);
    let out = dir.path().join("out");
    let s = run_with(
        &lake,
        &out,
        &Overrides {
            k: Some("4".into()),
            ..Overrides::default()
        },
    )
    .await
    .unwrap();
    for f in [
        "customers.parquet",
        "model.json",
        "k_selection.csv",
        "segments.csv",
        "report.json",
        "report.html",
    ] {
        assert!(out.join(f).is_file(), "{f} written");
    }
    assert_eq!(s.model.k, 4);
    let mut labels = s.model.labels.clone();
    labels.sort();
    assert_eq!(
        labels,
        [
            "Churned",
            "Loyal Customer",
            "New Customer",
            "One Time Big Spender"
        ]
    );

    // Agreement with the planted archetypes, where R/F/M can tell them apart.
    let got = assignments(&out.join("customers.parquet"));
    assert_eq!(got.len() as u64, s.report.customers);
    let truth = truth(&truth_path);
    let mut table: BTreeMap<(String, String), u64> = BTreeMap::new();
    for (id, a) in &got {
        if let Some(arch) = truth.get(id) {
            *table.entry((arch.clone(), a.1.clone())).or_default() += 1;
        }
    }
    let agreement = |arch: &str, label: &str| common::agreement(&table, arch, label);
    let loyal = agreement("loyal", "Loyal Customer");
    let new = agreement("new", "New Customer");
    let big = agreement("one_time_big_spender", "One Time Big Spender");
    eprintln!(
        "agreement: loyal {loyal:.3}, new {new:.3}, one-time big spender {big:.3}; table {table:?}"
    );
    assert!(loyal >= 0.95, "loyal {loyal}");
    assert!(new >= 0.95, "new {new}");
    assert!(big >= 0.70, "one-time big spender {big}");

    // Shares in the report add up and match the file.
    let share: f64 = s.report.clusters.iter().map(|c| c.share_customers).sum();
    assert!((share - 1.0).abs() < 1e-9);
    for c in &s.report.clusters {
        let n = got.values().filter(|a| a.1 == c.name).count() as u64;
        assert_eq!(n, c.customers, "{}", c.name);
    }

    // score with the saved model on the same lake gives back every assignment.
    let scored = dir.path().join("scored");
    let sc = rfmseg::score::score(&out.join("model.json"), &lake, &scored, &Default::default())
        .await
        .unwrap();
    assert_eq!(sc.customers, s.report.customers);
    let again = assignments(&scored.join("customers.parquet"));
    assert!(again == got, "score differs from run");

    // Lifetime value: score applies the saved models, to the bit; the report's totals are
    // the file's.
    let clv = clv_columns(&out.join("customers.parquet"));
    assert_eq!(clv.len() as u64, s.report.customers);
    assert_eq!(clv_columns(&scored.join("customers.parquet")), clv);
    let rfmseg::stages::clv::ClvSection::Fitted(report) = &s.report.clv else {
        panic!("CLV not fitted: {:?}", s.report.clv);
    };
    assert_eq!(report.predicted, clv.len() as u64);
    let total: f64 = clv.values().map(|v| f64::from_bits(v[3])).sum();
    assert!(
        (report.clv - total).abs() <= 1e-9 * total,
        "{} vs {total}",
        report.clv
    );
    let alive = |bits: u64| f64::from_bits(bits);
    let loyal = report
        .by_cluster
        .iter()
        .find(|g| g.name == "Loyal Customer")
        .unwrap();
    let churned = report
        .by_cluster
        .iter()
        .find(|g| g.name == "Churned")
        .unwrap();
    assert!(
        loyal.mean_p_alive > churned.mean_p_alive
            && loyal.clv / loyal.customers as f64 > churned.clv / churned.customers as f64,
        "{loyal:?} {churned:?}"
    );
    assert!(clv.values().all(|v| (0.0..=1.0).contains(&alive(v[0]))));

    // score reads the saved literal, not a refit: with one undiscounted period, CLV is
    // the expected value times the expected purchases, and P(alive) does not change.
    let mut model: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("model.json")).unwrap()).unwrap();
    let literal = model["clv"]["predict_literal"]
        .as_str()
        .unwrap()
        .to_string();
    let mut parts: Vec<&str> = literal.split(',').collect();
    parts[8] = "1.0";
    parts[9] = "0.0";
    model["clv"]["predict_literal"] = parts.join(",").into();
    let edited = dir.path().join("edited.json");
    std::fs::write(&edited, serde_json::to_vec(&model).unwrap()).unwrap();
    let rescored = dir.path().join("rescored");
    rfmseg::score::score(&edited, &lake, &rescored, &Default::default())
        .await
        .unwrap();
    let undiscounted = clv_columns(&rescored.join("customers.parquet"));
    for (id, v) in &undiscounted {
        let [p, purchases, value, c] = v.map(f64::from_bits);
        assert_eq!(v[0], clv[id][0], "{id}: P(alive)");
        assert!(
            (c - value * purchases).abs() <= 1e-9 * c.max(1.0),
            "{id}: {v:?}"
        );
        assert!(
            c > f64::from_bits(clv[id][3]),
            "{id}: no discount, more value"
        );
        assert!((0.0..=1.0).contains(&p));
    }
    // A literal that is not a model is refused, naming the key.
    parts[0] = "-1";
    model["clv"]["predict_literal"] = parts.join(",").into();
    std::fs::write(&edited, serde_json::to_vec(&model).unwrap()).unwrap();
    let err = rfmseg::score::score(&edited, &lake, &dir.path().join("x"), &Default::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("clv.predict_literal") && err.contains("r = -1.0"),
        "{err}"
    );
}

/// customer_id -> the bits of (p_alive, expected_purchases, expected_value, clv).
fn clv_columns(path: &Path) -> BTreeMap<String, [u64; 4]> {
    use arrow::array::Array;
    let mut out = BTreeMap::new();
    for b in read_parquet_dir(path) {
        let ids = arrow::compute::cast(b.column_by_name("customer_id").unwrap(), &DataType::Utf8)
            .unwrap();
        let cols: Vec<_> = ["p_alive", "expected_purchases", "expected_value", "clv"]
            .iter()
            .map(|n| {
                b.column_by_name(n)
                    .unwrap()
                    .as_primitive::<arrow::datatypes::Float64Type>()
                    .clone()
            })
            .collect();
        for i in 0..b.num_rows() {
            let v = std::array::from_fn(|j| {
                assert!(cols[j].is_valid(i), "a NULL prediction");
                cols[j].value(i).to_bits()
            });
            out.insert(ids.as_string::<i32>().value(i).to_string(), v);
        }
    }
    out
}

#[tokio::test]
async fn the_k_sweep_chooses_k_and_explains_why() {
    let dir = tempfile::tempdir().unwrap();
    let (lake, _) = lake(dir.path(), 30_000, 7);
    let out = dir.path().join("out");
    let s = run_with(
        &lake,
        &out,
        &Overrides {
            k_range: Some("2..6".into()),
            ..Overrides::default()
        },
    )
    .await
    .unwrap();
    let sel = s.report.k_selection.as_ref().unwrap();
    assert_eq!(
        sel.fits.iter().map(|f| f.k).collect::<Vec<_>>(),
        [2, 3, 4, 5, 6]
    );
    assert_eq!(s.model.k, sel.chosen_k);
    assert!(
        sel.reason.contains(&format!("k = {}", sel.chosen_k)),
        "{}",
        sel.reason
    );
    let csv = std::fs::read_to_string(out.join("k_selection.csv")).unwrap();
    assert_eq!(csv.lines().count(), 6);
    assert_eq!(csv.lines().filter(|l| l.ends_with(",true")).count(), 1);
    let chosen = sel.fits.iter().find(|f| f.k == sel.chosen_k).unwrap();
    let best = sel
        .fits
        .iter()
        .map(|f| f.silhouette)
        .fold(f64::MIN, f64::max);
    assert!(chosen.silhouette >= best - Config::default().kmeans.silhouette_tolerance);
    let stages: Vec<&str> = s.report.timings.iter().map(|t| t.stage.as_str()).collect();
    assert_eq!(
        stages,
        [
            "clean", "features", "kmeans", "labels", "clv", "segments", "write"
        ]
    );
    assert!(
        s.report
            .timings
            .iter()
            .all(|t| t.seconds >= 0.0 && t.peak_rss_mib > 0.0 && t.queries > 0)
    );
}

#[tokio::test]
async fn failed_runs_leave_no_new_output_and_keep_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let (lake, _) = lake(dir.path(), 10_000, 3);
    let out = dir.path().join("out");
    let mut config = Config::default();
    config.kmeans.k = Some(3);
    run(&RunOptions {
        lake: lake.clone(),
        out: out.clone(),
        config: config.clone(),
        progress: false,
        engine: Default::default(),
    })
    .await
    .unwrap();
    let before = std::fs::read(out.join("model.json")).unwrap();

    // A stage error half way: the window pinned before the data.
    let mut bad = config.clone();
    bad.rfm.as_of = Some("2001-01-01".into());
    let err = run(&RunOptions {
        lake: lake.clone(),
        out: out.clone(),
        config: bad,
        progress: false,
        engine: Default::default(),
    })
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("no customers for RFM"), "{err}");
    assert_eq!(
        std::fs::read(out.join("model.json")).unwrap(),
        before,
        "old output untouched"
    );

    // Invalid config values are rejected before any work.
    for (flags, want) in [
        (
            Overrides {
                k: Some("1".into()),
                ..Overrides::default()
            },
            "kmeans.k",
        ),
        (
            Overrides {
                k_range: Some("6..2".into()),
                ..Overrides::default()
            },
            "is empty",
        ),
    ] {
        let err = Config::resolve(None, &flags).unwrap_err().to_string();
        assert!(err.contains(want), "{err}");
    }
    let mut negative = config.clone();
    negative.rfm.min_amount = -1.0;
    let err = run(&RunOptions {
        lake: lake.clone(),
        out: dir.path().join("never"),
        config: negative,
        progress: false,
        engine: Default::default(),
    })
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("rfm.min_amount"), "{err}");

    // Unwritable output: the parent is a file.
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let err = run(&RunOptions {
        lake,
        out: file.join("out"),
        config,
        progress: false,
        engine: Default::default(),
    })
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("a-file"), "{err}");

    let mut names = entries(dir.path());
    names.retain(|n| n != "raw" && n != "lake");
    assert_eq!(
        names,
        ["a-file", "out"],
        "no temporary or half-written folders"
    );
}

/// A lake of five customers, each with a different R/F/M: days before 2023-09-13 and
/// prices of their purchases.
fn five_customer_lake(dir: &Path) -> PathBuf {
    let as_of = 19_613i64 * 86_400;
    let purchases: [(&str, i64, &str); 8] = [
        ("C1", 0, "B1"),
        ("C2", 30, "B2"),
        ("C2", 40, "B1"),
        ("C3", 100, "B3"),
        ("C4", 200, "B1"),
        ("C4", 210, "B1"),
        ("C4", 220, "B1"),
        ("C5", 300, "B2"),
    ];
    let purchases = purchases.map(|(u, days, a)| (u, as_of - days * 86_400, a));
    tiny_lake(
        dir,
        &purchases,
        &[("B1", 10.0), ("B2", 50.0), ("B3", 200.0)],
    )
}

/// Fewer customers than the top of the default k range (10): the run caps the range to
/// what k-means can fit and report.json says so; a `--k-range` or `--k` the user gave that
/// cannot fit fails naming the flag, and writes nothing.
#[tokio::test]
async fn fewer_customers_than_the_default_k_range_cap_it_and_the_report_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let lake = five_customer_lake(dir.path());
    let out = dir.path().join("out");
    let run_with = |flags: Overrides, out: PathBuf| {
        let lake = lake.clone();
        async move {
            run(&RunOptions {
                lake,
                out,
                config: Config::resolve(None, &flags)?,
                progress: false,
                engine: Default::default(),
            })
            .await
        }
    };
    let s = run_with(Overrides::default(), out.clone()).await.unwrap();
    assert_eq!(s.report.customers, 5);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let sel = &report["k_selection"];
    let ks: Vec<u64> = sel["fits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["k"].as_u64().unwrap())
        .collect();
    assert_eq!(ks, [2, 3, 4]);
    let reason = sel["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(
            "the default k range 2..10 was capped to 2..4: there are only 5 customers, and \
             k-means can fit and compare at most k = 4. "
        ),
        "{reason}"
    );
    assert_eq!(s.model.k as u64, sel["chosen_k"].as_u64().unwrap());

    for (flags, want) in [
        (
            Overrides {
                k_range: Some("2..10".into()),
                ..Overrides::default()
            },
            "invalid --k-range: the k range 2..10 does not fit the data: there are only 5 \
             customers, so k-means can fit and compare at most k = 4",
        ),
        (
            Overrides {
                k: Some("6".into()),
                ..Overrides::default()
            },
            "invalid kmeans.k (--k): k = 6 but there are only 5 customers",
        ),
    ] {
        let err = run_with(flags, dir.path().join("never"))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(want), "{err}");
    }
    let mut names = entries(dir.path());
    names.retain(|n| !n.ends_with(".jsonl"));
    assert_eq!(names, ["lake", "out"], "nothing written by the failed runs");
}

/// `--clv off` leaves CLV out of every output; a lake without any repeat purchase cannot
/// support the Gamma-Gamma fit, and the run goes on without CLV, saying why.
#[tokio::test]
async fn clv_off_or_unfittable_leaves_it_out_and_the_report_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let lake = five_customer_lake(dir.path());
    let columns = |out: &Path| -> Vec<String> {
        read_parquet_dir(&out.join("customers.parquet"))[0]
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    };
    let off = Config::resolve(
        None,
        &Overrides {
            clv: Some("off".into()),
            ..Overrides::default()
        },
    )
    .unwrap();
    let out = dir.path().join("off");
    let s = run(&RunOptions {
        lake,
        out: out.clone(),
        config: off,
        progress: false,
        engine: Default::default(),
    })
    .await
    .unwrap();
    assert_eq!(s.report.clv, rfmseg::stages::clv::ClvSection::Off);
    assert_eq!(s.model.clv, None);
    assert!(!columns(&out).contains(&"clv".to_string()));
    assert!(
        !std::fs::read_to_string(out.join("report.html"))
            .unwrap()
            .contains("id=\"clv\"")
    );

    let as_of = 19_613i64 * 86_400;
    let single = [("C1", 0), ("C2", 30), ("C3", 100), ("C4", 200)]
        .map(|(u, days)| (u, as_of - days * 86_400, "B1"));
    std::fs::create_dir_all(dir.path().join("once")).unwrap();
    let once = tiny_lake(&dir.path().join("once"), &single, &[("B1", 10.0)]);
    let out = dir.path().join("once_out");
    let s = run(&RunOptions {
        lake: once,
        out: out.clone(),
        config: Config::default(),
        progress: false,
        engine: Default::default(),
    })
    .await
    .unwrap();
    let rfmseg::stages::clv::ClvSection::Skipped { reason } = &s.report.clv else {
        panic!("{:?}", s.report.clv);
    };
    assert!(
        reason.contains("no customers to fit the Gamma-Gamma model on"),
        "{reason}"
    );
    assert_eq!(s.model.clv, None);
    assert!(!columns(&out).contains(&"clv".to_string()));
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("Not fitted: "), "the report says why");
    assert!(s.to_string().contains("lifetime value skipped: "), "{s}");
}

/// `engine.memory_limit` bounds what the operators hold and keeps the run's tables on
/// disk between stages (Parquet in a scratch folder): a run with a limit gives the same
/// outputs, bit for bit; a limit below the floor is refused before any work, naming the
/// key, and leaves no output; no run leaves its scratch folder behind.
#[tokio::test]
async fn a_memory_limit_changes_no_output_and_one_below_the_floor_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (lake, _) = lake(dir.path(), 20_000, 3);
    let runs = dir.path().join("runs");
    std::fs::create_dir(&runs).unwrap();
    let mut config = Config::default();
    config.kmeans.k = Some(3);
    let run_to = |name: &str, limit: Option<&str>| {
        let mut config = config.clone();
        config.engine.memory_limit = limit.map(str::to_string);
        let out = runs.join(name);
        let lake = lake.clone();
        async move {
            let result = run(&RunOptions {
                lake,
                out: out.clone(),
                config,
                progress: false,
                engine: Default::default(),
            })
            .await;
            (out, result)
        }
    };
    let (free, r) = run_to("free", None).await;
    r.unwrap();
    let (limited, r) = run_to("limited", Some("256MB")).await;
    r.unwrap();
    for file in ["customers.parquet", "segments.csv"] {
        let same =
            std::fs::read(free.join(file)).unwrap() == std::fs::read(limited.join(file)).unwrap();
        assert!(same, "{file} differs");
    }
    // model.json also records the config, limit included: the rest must be equal.
    let model = |dir: &Path| {
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("model.json")).unwrap()).unwrap();
        v["config"]["engine"]["memory_limit"] = serde_json::Value::Null;
        v
    };
    assert_eq!(model(&free), model(&limited));
    let (small, r) = run_to("small", Some("100MB")).await;
    let err = r.unwrap_err().to_string();
    assert!(
        err.contains("engine.memory_limit (--memory-limit)"),
        "{err}"
    );
    assert!(err.contains("give 256MB or more"), "{err}");
    assert!(!small.exists(), "a refused run leaves no output");
    assert_eq!(
        entries(&runs),
        ["free", "limited"],
        "no scratch folder left"
    );
}

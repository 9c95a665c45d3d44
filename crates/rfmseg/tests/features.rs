//! RFM features: recency, frequency, monetary, the scaler and the scores against a plain
//! Rust computation over the same cleaned rows; window boundaries; the segment rules.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Float64Type, Int32Type, Int64Type, TimestampSecondType};
use common::*;
use datafusion::prelude::SessionContext;
use rfmseg::config::{Config, ScoreMethod};
use rfmseg::ingest::{IngestOptions, ingest};
use rfmseg_udfs::stable_hash;

async fn collect(ctx: &SessionContext, table: &str) -> Vec<RecordBatch> {
    ctx.table(table).await.unwrap().collect().await.unwrap()
}

fn strings(b: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let c = arrow::compute::cast(
        b.column_by_name(name).unwrap(),
        &arrow::datatypes::DataType::Utf8,
    )
    .unwrap();
    c.as_string::<i32>()
        .iter()
        .map(|v| v.map(str::to_string))
        .collect()
}

fn f64s(b: &RecordBatch, name: &str) -> Vec<Option<f64>> {
    let c = b
        .column_by_name(name)
        .unwrap()
        .as_primitive::<Float64Type>();
    (0..c.len())
        .map(|i| (!c.is_null(i)).then(|| c.value(i)))
        .collect()
}

fn i64s(b: &RecordBatch, name: &str) -> Vec<i64> {
    let c = arrow::compute::cast(
        b.column_by_name(name).unwrap(),
        &arrow::datatypes::DataType::Int64,
    )
    .unwrap();
    c.as_primitive::<Int64Type>().values().to_vec()
}

/// One customer's row of `customers`.
#[derive(Debug, Clone, PartialEq)]
struct Customer {
    recency: i64,
    frequency: i64,
    monetary: f64,
    z: [f64; 3],
    batch: i64,
    scores: [i32; 3],
    segment: String,
}

async fn customers(ctx: &SessionContext) -> BTreeMap<String, Customer> {
    let mut out = BTreeMap::new();
    for b in collect(ctx, "customers").await {
        let ids = strings(&b, "customer_id");
        let rec = i64s(&b, "recency");
        let freq = i64s(&b, "frequency");
        let mon = f64s(&b, "monetary");
        let z: Vec<Vec<Option<f64>>> = ["recency_z", "frequency_z", "monetary_z"]
            .iter()
            .map(|c| f64s(&b, c))
            .collect();
        let batch = i64s(&b, "batch");
        let sc: Vec<&arrow::array::PrimitiveArray<Int32Type>> = ["r_score", "f_score", "m_score"]
            .iter()
            .map(|c| b.column_by_name(c).unwrap().as_primitive::<Int32Type>())
            .collect();
        let seg = strings(&b, "rfm_segment");
        for i in 0..b.num_rows() {
            out.insert(
                ids[i].clone().unwrap(),
                Customer {
                    recency: rec[i],
                    frequency: freq[i],
                    monetary: mon[i].unwrap(),
                    z: [z[0][i].unwrap(), z[1][i].unwrap(), z[2][i].unwrap()],
                    batch: batch[i],
                    scores: [sc[0].value(i), sc[1].value(i), sc[2].value(i)],
                    segment: seg[i].clone().unwrap(),
                },
            );
        }
    }
    out
}

async fn lake_with_generated(dir: &Path, reviews: u64, seed: u64) -> std::path::PathBuf {
    let g = generated(&dir.join("raw"), reviews, seed, false, 0.0);
    let lake = dir.join("lake");
    ingest(&IngestOptions::new(&g.reviews_path, &g.items_path, &lake)).unwrap();
    lake
}

fn sample_std(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

#[tokio::test]
async fn rfm_and_scaler_equal_a_plain_rust_computation() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake_with_generated(dir.path(), 40_000, 13).await;
    let mut config = Config::default();
    config.engine.target_partitions = 4;
    let (ctx, _, summary) = rfmseg::lake_features(&lake, &config).await.unwrap();

    // Plain Rust over the cleaned rows: items priced by their highest price.
    let mut price: HashMap<String, Option<f64>> = HashMap::new();
    for b in collect(&ctx, "clean_items").await {
        for (a, p) in strings(&b, "parent_asin")
            .into_iter()
            .zip(f64s(&b, "price"))
        {
            let e = price.entry(a.unwrap()).or_insert(None);
            *e = match (*e, p) {
                (Some(x), Some(y)) => Some(x.max(y)),
                (x, y) => x.or(y),
            };
        }
    }
    let mut purchases: Vec<(String, i64, Option<f64>)> = Vec::new();
    for b in collect(&ctx, "clean_reviews").await {
        let ts = b
            .column_by_name("ts")
            .unwrap()
            .as_primitive::<TimestampSecondType>();
        for (i, (u, a)) in strings(&b, "user_id")
            .into_iter()
            .zip(strings(&b, "parent_asin"))
            .enumerate()
        {
            let amount = price.get(a.as_deref().unwrap()).copied().flatten();
            purchases.push((u.unwrap(), ts.value(i).div_euclid(86_400), amount));
        }
    }
    let as_of = purchases.iter().map(|p| p.1).max().unwrap();
    assert_eq!(summary.window.as_of_day, as_of);
    let mut want: BTreeMap<String, (i64, i64, i64)> = BTreeMap::new(); // last day, count, micro-dollars
    for (u, day, amount) in &purchases {
        if *day < as_of - 364 || *day > as_of || !amount.is_some_and(|a| a > 0.25) {
            continue;
        }
        let e = want.entry(u.clone()).or_insert((i64::MIN, 0, 0));
        e.0 = e.0.max(*day);
        e.1 += 1;
        e.2 += (amount.unwrap() * 1e6).round() as i64;
    }
    let got = customers(&ctx).await;
    assert_eq!(got.len(), want.len());
    assert!(got.len() > 1000, "{} customers", got.len());
    for (id, (last, count, micros)) in &want {
        let c = &got[id];
        assert_eq!(c.recency, as_of + 1 - last, "{id} recency");
        assert_eq!(c.frequency, *count, "{id} frequency");
        assert_eq!(c.monetary, *micros as f64 / 1e6, "{id} monetary");
        assert_eq!(c.batch, stable_hash(id) % 16, "{id} batch");
    }

    // The scaler: mean and sample std of recency, ln(1+f), ln(1+m), two-pass f64.
    let cols: [Vec<f64>; 3] = [
        got.values().map(|c| c.recency as f64).collect(),
        got.values()
            .map(|c| (1.0 + c.frequency as f64).ln())
            .collect(),
        got.values().map(|c| (1.0 + c.monetary).ln()).collect(),
    ];
    for (k, xs) in cols.iter().enumerate() {
        let (mean, std) = sample_std(xs);
        assert!((summary.scaler.mean[k] - mean).abs() < 1e-12, "mean {k}");
        assert!((summary.scaler.std[k] - std).abs() < 1e-12, "std {k}");
        for (c, x) in got.values().zip(xs) {
            let z = (x - summary.scaler.mean[k]) / summary.scaler.std[k];
            assert_eq!(
                c.z[k], z,
                "z {k} is (x - mean) / std with the reported scaler"
            );
        }
    }
}

/// R, F, M scores by the quantile formula, computed by counting directly.
#[tokio::test]
async fn quantile_scores_follow_the_formula_and_ties_share_a_score() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake_with_generated(dir.path(), 30_000, 17).await;
    let mut config = Config::default();
    config.engine.target_partitions = 3;
    let (ctx, _, _) = rfmseg::lake_features(&lake, &config).await.unwrap();
    let got = customers(&ctx).await;
    let n = got.len() as i64;
    let score = |worse: i64| (1 + 5 * worse / n).min(5) as i32;
    let rec: Vec<i64> = got.values().map(|c| c.recency).collect();
    let freq: Vec<i64> = got.values().map(|c| c.frequency).collect();
    let mon: Vec<f64> = got.values().map(|c| c.monetary).collect();
    let mut by_value: [HashMap<u64, i32>; 3] = Default::default();
    for c in got.values() {
        let r_worse = rec.iter().filter(|&&r| r > c.recency).count() as i64;
        let f_worse = freq.iter().filter(|&&f| f < c.frequency).count() as i64;
        let m_worse = mon.iter().filter(|&&m| m < c.monetary).count() as i64;
        assert_eq!(c.scores, [score(r_worse), score(f_worse), score(m_worse)]);
        for (k, v) in [c.recency as u64, c.frequency as u64, c.monetary.to_bits()]
            .into_iter()
            .enumerate()
        {
            let s = *by_value[k].entry(v).or_insert(c.scores[k]);
            assert_eq!(s, c.scores[k], "equal values, equal scores");
        }
    }
    // Every score is used for R and M on this data.
    for k in [0, 2] {
        let mut used: Vec<i32> = got.values().map(|c| c.scores[k]).collect();
        used.sort();
        used.dedup();
        assert_eq!(used, [1, 2, 3, 4, 5], "score {k}");
    }
}

#[tokio::test]
async fn ntile_gives_the_same_customers_for_1_and_8_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake_with_generated(dir.path(), 30_000, 19).await;
    let mut results = Vec::new();
    for partitions in [1, 8] {
        let mut config = Config::default();
        config.engine.target_partitions = partitions;
        config.features.score_method = ScoreMethod::Ntile;
        let (ctx, _, summary) = rfmseg::lake_features(&lake, &config).await.unwrap();
        results.push((customers(&ctx).await, summary));
    }
    assert_eq!(
        results[0].1, results[1].1,
        "window and scaler bit-identical"
    );
    assert!(
        results[0].0 == results[1].0,
        "customers differ between 1 and 8 partitions"
    );
    // ntile(5): tile sizes differ by at most one.
    let n = results[0].0.len();
    for k in 0..3 {
        let mut sizes = [0usize; 5];
        for c in results[0].0.values() {
            sizes[(c.scores[k] - 1) as usize] += 1;
        }
        assert!(
            sizes.iter().all(|&s| s == n / 5 || s == n / 5 + 1),
            "{sizes:?}"
        );
    }
}

/// The segment rules of DESIGN §5, first match wins, written out independently.
fn segment(r: i32, f: i32, m: i32) -> &'static str {
    type Rule = fn(i32, i32, i32) -> bool;
    let rules: [(&str, Rule); 10] = [
        ("Champions", |r, f, m| r >= 4 && f >= 4 && m >= 4),
        ("Loyal Customers", |r, f, m| r >= 3 && f >= 4 && m >= 3),
        ("Potential Loyalists", |r, f, m| r >= 4 && f >= 2 && m >= 2),
        ("New Customers", |r, f, m| r == 5 && f <= 2 && m <= 2),
        ("Promising", |r, f, m| r >= 4 && f <= 2 && m <= 2),
        ("About to Sleep", |r, f, m| r <= 2 && f <= 2 && m >= 3),
        ("Hibernating", |r, f, m| r <= 2 && f <= 2 && m <= 2),
        ("Can't Lose Them", |r, f, m| r <= 2 && f >= 4 && m >= 4),
        ("At Risk", |r, f, m| r <= 2 && f >= 3 && m >= 3),
        ("Needs Attention", |r, f, m| r <= 3 && f <= 3 && m <= 3),
    ];
    rules
        .iter()
        .find(|(_, rule)| rule(r, f, m))
        .map_or("Lost", |(name, _)| name)
}

#[tokio::test]
async fn all_125_score_combinations_get_the_designed_segment() {
    use arrow::array::Int32Array;
    use std::sync::Arc;
    let (mut r, mut f, mut m) = (Vec::new(), Vec::new(), Vec::new());
    for a in 1..=5 {
        for b in 1..=5 {
            for c in 1..=5 {
                r.push(a);
                f.push(b);
                m.push(c);
            }
        }
    }
    let batch = RecordBatch::try_from_iter(vec![
        ("r_score", Arc::new(Int32Array::from(r.clone())) as _),
        ("f_score", Arc::new(Int32Array::from(f.clone())) as _),
        ("m_score", Arc::new(Int32Array::from(m.clone())) as _),
    ])
    .unwrap();
    let ctx = SessionContext::new();
    ctx.register_batch("scored", batch).unwrap();
    let out = ctx
        .sql(rfmseg::stages::scores::RFM_SEGMENTS_SQL)
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let mut seen = 0;
    let mut names = std::collections::BTreeSet::new();
    for b in &out {
        let segs = strings(b, "rfm_segment");
        let rs = b
            .column_by_name("r_score")
            .unwrap()
            .as_primitive::<Int32Type>();
        let fs = b
            .column_by_name("f_score")
            .unwrap()
            .as_primitive::<Int32Type>();
        let ms = b
            .column_by_name("m_score")
            .unwrap()
            .as_primitive::<Int32Type>();
        for (i, seg) in segs.iter().enumerate() {
            let want = segment(rs.value(i), fs.value(i), ms.value(i));
            assert_eq!(
                seg.as_deref(),
                Some(want),
                "R{} F{} M{}",
                rs.value(i),
                fs.value(i),
                ms.value(i)
            );
            names.insert(want);
            seen += 1;
        }
    }
    assert_eq!(seen, 125);
    assert_eq!(names.len(), 11, "every segment is reachable: {names:?}");
}

const DAY: i64 = 86_400;
/// 2023-09-13 00:00:00 UTC.
const AS_OF: i64 = 19_613 * DAY;

#[tokio::test]
async fn window_boundaries_land_where_the_definition_says() {
    let dir = tempfile::tempdir().unwrap();
    let first = AS_OF - 364 * DAY; // 2022-09-14 00:00:00, the window's first second
    let lake = tiny_lake(
        dir.path(),
        &[
            ("last_day", AS_OF + DAY - 1, "B1"), // 23:59:59 on the as-of day
            ("first_day", first, "B1"),          // the first second of the window
            ("first_day", first - 1, "B1"),      // one second before: not counted
            ("before", first - 1, "B1"),         // only before the window: no customer
            ("cheap", AS_OF, "B2"),              // 0.25 is not above 0.25
            ("cheap_and_ok", AS_OF - 10 * DAY, "B3"), // 0.26 counts
            ("cheap_and_ok", AS_OF, "B2"),
        ],
        &[("B1", 10.0), ("B2", 0.25), ("B3", 0.26)],
    );
    let (ctx, _, s) = rfmseg::lake_features(&lake, &Config::default())
        .await
        .unwrap();
    assert_eq!(s.window.as_of, "2023-09-13");
    assert_eq!(s.window.first_day, "2022-09-14");
    let got = customers(&ctx).await;
    let summary: Vec<(&str, i64, i64, f64)> = got
        .iter()
        .map(|(k, c)| (k.as_str(), c.recency, c.frequency, c.monetary))
        .collect();
    assert_eq!(
        summary,
        [
            ("cheap_and_ok", 11, 1, 0.26),
            ("first_day", 365, 1, 10.0),
            ("last_day", 1, 1, 10.0),
        ]
    );

    // --as-of pins the window: one day earlier, the last day's purchase is outside.
    let mut config = Config::default();
    config.rfm.as_of = Some("2023-09-12".into());
    let (ctx, _, s) = rfmseg::lake_features(&lake, &config).await.unwrap();
    assert_eq!(
        (s.window.first_day.as_str(), s.window.newest_day.as_str()),
        ("2022-09-13", "2023-09-13")
    );
    let got = customers(&ctx).await;
    let ids: Vec<(&str, i64, i64)> = got
        .iter()
        .map(|(k, c)| (k.as_str(), c.recency, c.frequency))
        .collect();
    assert_eq!(
        ids,
        [
            ("before", 365, 1),
            ("cheap_and_ok", 10, 1),
            ("first_day", 364, 2)
        ]
    );
}

#[tokio::test]
async fn days_are_taken_in_the_configured_time_zone() {
    let dir = tempfile::tempdir().unwrap();
    // 23:30 UTC on 2023-09-12 is 01:30 on 2023-09-13 in UTC+02:00.
    let lake = tiny_lake(
        dir.path(),
        &[
            ("late", AS_OF - 30 * 60, "B1"),
            ("early", AS_OF - 5 * DAY, "B1"),
        ],
        &[("B1", 10.0)],
    );
    let (ctx, _, s) = rfmseg::lake_features(&lake, &Config::default())
        .await
        .unwrap();
    assert_eq!(s.window.as_of, "2023-09-12");
    assert_eq!(customers(&ctx).await["early"].recency, 5);
    for tz in ["+02:00", "Europe/Berlin"] {
        let mut config = Config::default();
        config.rfm.timezone = tz.into();
        let (ctx, _, s) = rfmseg::lake_features(&lake, &config).await.unwrap();
        assert_eq!(s.window.as_of, "2023-09-13", "{tz}");
        assert_eq!(customers(&ctx).await["early"].recency, 6, "{tz}");
    }
    let mut config = Config::default();
    config.rfm.timezone = "Mars/Olympus".into();
    let err = rfmseg::lake_features(&lake, &config)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("rfm.timezone") && err.contains("Mars/Olympus"),
        "{err}"
    );
}

#[tokio::test]
async fn an_empty_window_names_the_filter_and_the_newest_day() {
    let dir = tempfile::tempdir().unwrap();
    let lake = tiny_lake(
        dir.path(),
        &[("u", AS_OF, "B1"), ("v", AS_OF - DAY, "B2")],
        &[("B1", 0.2), ("B2", 0.1)],
    );
    let err = rfmseg::lake_features(&lake, &Config::default())
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("none of the 2 priced purchases in the window is above rfm.min_amount = 0.25")
            && err.contains("the newest purchase is on 2023-09-13"),
        "{err}"
    );
    let mut config = Config::default();
    config.rfm.as_of = Some("2020-01-01".into());
    let err = rfmseg::lake_features(&lake, &config)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("none of the 2 purchases falls in the window 2019-01-02 .. 2020-01-01"),
        "{err}"
    );
}

#[tokio::test]
async fn customers_parquet_is_written_sorted_with_plain_types() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake_with_generated(dir.path(), 10_000, 23).await;
    let out = dir.path().join("out");
    let s = rfmseg::features_to_dir(&lake, &out, &Config::default())
        .await
        .unwrap();
    let batches = read_parquet_dir(&out);
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows as u64, s.features.customers);
    let schema = batches[0].schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(
        names,
        [
            "customer_id",
            "recency",
            "frequency",
            "monetary",
            "recency_z",
            "frequency_z",
            "monetary_z",
            "batch",
            "r_score",
            "f_score",
            "m_score",
            "rfm_segment"
        ]
    );
    assert_eq!(
        schema.field(0).data_type(),
        &arrow::datatypes::DataType::Utf8
    );
    let ids: Vec<String> = batches
        .iter()
        .flat_map(|b| strings(b, "customer_id"))
        .map(Option::unwrap)
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("features.json")).unwrap()).unwrap();
    assert_eq!(json["features"]["customers"], s.features.customers);
}

//! Segment migration (`run --compare-as-of`) against a plain computation: each customer's
//! segment at the earlier day is scored independently (`score` with the run's model and
//! the earlier as-of day), the two photographs are joined in plain Rust, and the matrix
//! cells and the downgraded list must equal the run's migration.csv and
//! downgraded.parquet. The lake has planted moves: frequent buyers who lapse, buyers who
//! stop altogether, and newcomers. Acquisition cohorts (`run --cohorts`) against a direct
//! count of the same purchases.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use arrow::array::AsArray;
use arrow::datatypes::DataType;
use common::*;
use rfmseg::config::{Config, Overrides, SEGMENT_VALUE_ORDER};
use rfmseg::exec::local_context;
use rfmseg::model::Model;
use rfmseg::score::score_on;

const DAY: i64 = 86_400;
/// 2023-09-13, the newest purchase.
const END: i64 = 19_613;

/// customer_id -> (rfm_segment, cluster_label, monetary).
fn photograph(batches: &[arrow::array::RecordBatch]) -> Photograph {
    let mut out = BTreeMap::new();
    for b in batches {
        let s = |name: &str| {
            let c = arrow::compute::cast(b.column_by_name(name).unwrap(), &DataType::Utf8).unwrap();
            c.as_string::<i32>()
                .iter()
                .map(|v| v.unwrap().to_string())
                .collect::<Vec<_>>()
        };
        let m = b
            .column_by_name("monetary")
            .unwrap()
            .as_primitive::<arrow::datatypes::Float64Type>()
            .clone();
        let (ids, seg, lab) = (s("customer_id"), s("rfm_segment"), s("cluster_label"));
        for k in 0..b.num_rows() {
            out.insert(ids[k].clone(), (seg[k].clone(), lab[k].clone(), m.value(k)));
        }
    }
    out
}

type Photograph = BTreeMap<String, (String, String, f64)>;
type Cells = BTreeMap<(String, String), (u64, String, String, String)>;

/// The transition matrix by a plain join: (from, to) -> customers, share of the origin,
/// revenue before and now, formatted as migration.csv writes them.
fn plain_matrix(
    before: &Photograph,
    now: &Photograph,
    group: fn(&(String, String, f64)) -> &String,
) -> Cells {
    let ids: BTreeSet<&String> = before.keys().chain(now.keys()).collect();
    let mut cells: BTreeMap<(String, String), (u64, f64, f64)> = BTreeMap::new();
    for id in &ids {
        let (b, n) = (before.get(*id), now.get(*id));
        let key = (
            b.map_or("new".to_string(), |v| group(v).clone()),
            n.map_or("gone".to_string(), |v| group(v).clone()),
        );
        let e = cells.entry(key).or_default();
        e.0 += 1;
        e.1 += b.map_or(0.0, |v| v.2);
        e.2 += n.map_or(0.0, |v| v.2);
    }
    let mut origin: BTreeMap<String, u64> = BTreeMap::new();
    for ((from, _), v) in &cells {
        *origin.entry(from.clone()).or_default() += v.0;
    }
    cells
        .iter()
        .map(|(k, v)| {
            let share = v.0 as f64 / origin[&k.0] as f64;
            (
                k.clone(),
                (
                    v.0,
                    format!("{share:.6}"),
                    format!("{:.2}", v.1),
                    format!("{:.2}", v.2),
                ),
            )
        })
        .collect()
}

/// The cells of one dimension of migration.csv (no name holds a comma).
fn csv_matrix(csv: &str, dimension: &str) -> Cells {
    csv.lines()
        .skip(1)
        .filter(|l| l.starts_with(&format!("{dimension},")))
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            (
                (f[1].to_string(), f[2].to_string()),
                (
                    f[3].parse().unwrap(),
                    f[4].to_string(),
                    f[5].to_string(),
                    f[6].to_string(),
                ),
            )
        })
        .collect()
}

const ITEMS: [(&str, f64); 4] = [("A", 19.99), ("B", 149.0), ("C", 4.5), ("D", 899.0)];

/// A lake with planted moves.
fn planted(dir: &Path) -> std::path::PathBuf {
    let purchases = planted_purchases();
    let rows: Vec<(&str, i64, &str)> = purchases
        .iter()
        .map(|(u, t, a)| (u.as_str(), *t, *a))
        .collect();
    tiny_lake(dir, &rows, &ITEMS)
}

/// The planted purchases as (user, unix seconds, item).
fn planted_purchases() -> Vec<(String, i64, &'static str)> {
    let mut purchases: Vec<(String, i64, &'static str)> = Vec::new();
    let items = ITEMS;
    let at = |day: i64| day * DAY + 12 * 3600;
    // Steady: every 20..60 days over two years, all kinds of baskets.
    for c in 0..60i64 {
        let step = 20 + (c * 7) % 41;
        let mut d = END - 700 + c % 17;
        while d <= END {
            purchases.push((
                format!("steady{c:02}"),
                at(d),
                items[(c + d) as usize % 4].0,
            ));
            d += step;
        }
    }
    // Lapsed: frequent and big until a few days before the comparison day (180 days
    // before the end), then nothing: among the best then, slipping by the end.
    for c in 0..12i64 {
        for k in 0..14 {
            purchases.push((format!("lapsed{c:02}"), at(END - 182 - 9 * k - c / 4), "D"));
        }
    }
    // Gone: bought only before the run's window (more than 365 days before the end).
    for c in 0..8i64 {
        for k in 0..3 {
            purchases.push((format!("gone{c:02}"), at(END - 380 - 30 * k - c), "B"));
        }
    }
    // New: first purchase after the comparison day.
    for c in 0..10i64 {
        purchases.push((format!("new{c:02}"), at(END - 100 + c), "A"));
        purchases.push((format!("new{c:02}"), at(END - 10 + c / 2), "C"));
    }
    purchases.push(("steady00".into(), at(END), "A"));
    purchases
}

/// `run` on the planted lake in `dir` (k = 3, no CLV) with `overrides` on top; the lake and
/// the output folder.
async fn run_planted(
    dir: &Path,
    overrides: Overrides,
) -> (
    std::path::PathBuf,
    std::path::PathBuf,
    rfmseg::error::Result<rfmseg::pipeline::RunSummary>,
) {
    let lake = planted(dir);
    let out = dir.join("out");
    let overrides = Overrides {
        k: Some("3".into()),
        clv: Some("off".into()),
        ..overrides
    };
    let summary = run_with(&lake, &out, &overrides).await;
    (lake, out, summary)
}

#[tokio::test]
async fn the_matrix_and_the_downgraded_list_equal_a_plain_join_of_two_scorings() {
    let dir = tempfile::tempdir().unwrap();
    let compare = "2023-03-17"; // END - 180
    let (lake, out, summary) = run_planted(
        dir.path(),
        Overrides {
            compare_as_of: Some(compare.into()),
            ..Overrides::default()
        },
    )
    .await;
    let summary = summary.unwrap();
    let m = summary.report.migration.as_ref().expect("a migration");
    assert_eq!(
        (m.compare_as_of.as_str(), m.as_of.as_str()),
        (compare, "2023-09-13")
    );

    // The earlier photograph, independently: `score` with the run's model at the day.
    let mut model = Model::read(&out.join("model.json")).unwrap();
    model.config.rfm.as_of = Some(compare.into());
    let ctx = local_context(&model.config);
    score_on(&ctx, &model, &lake).await.unwrap();
    let before = photograph(
        &ctx.table("customers")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap(),
    );
    let now = photograph(&read_parquet_dir(&out.join("customers.parquet")));
    assert_eq!(m.customers_before, before.len() as u64);

    // Planted: the gone customers are in the earlier photograph only, the new ones in
    // this one only.
    for c in 0..8 {
        let id = format!("gone{c:02}");
        assert!(before.contains_key(&id) && !now.contains_key(&id), "{id}");
    }
    for c in 0..10 {
        let id = format!("new{c:02}");
        assert!(!before.contains_key(&id) && now.contains_key(&id), "{id}");
    }

    // Both matrices, plainly, against migration.csv.
    let csv = std::fs::read_to_string(out.join("migration.csv")).unwrap();
    let segments = plain_matrix(&before, &now, |v| &v.0);
    assert_eq!(csv_matrix(&csv, "rfm_segment"), segments);
    assert_eq!(
        csv_matrix(&csv, "cluster"),
        plain_matrix(&before, &now, |v| &v.1)
    );
    assert!(
        segments.keys().any(|(f, _)| f == "new") && segments.keys().any(|(_, t)| t == "gone"),
        "{segments:?}"
    );

    // The downgraded customers, plainly: down the default order, or gone.
    let rank = |s: &str| SEGMENT_VALUE_ORDER.iter().position(|n| *n == s).unwrap();
    let want_down: BTreeMap<String, (String, String)> = before
        .iter()
        .filter_map(|(id, b)| match now.get(id) {
            None => Some((id.clone(), (b.0.clone(), "gone".to_string()))),
            Some(n) if rank(&n.0) > rank(&b.0) => Some((id.clone(), (b.0.clone(), n.0.clone()))),
            Some(_) => None,
        })
        .collect();
    let mut got_down = BTreeMap::new();
    let mut got_order = Vec::new();
    for b in read_parquet_dir(&out.join("downgraded.parquet")) {
        let s = |name: &str| {
            b.column_by_name(name)
                .unwrap()
                .as_string::<i32>()
                .iter()
                .map(|v| v.unwrap().to_string())
                .collect::<Vec<_>>()
        };
        let (ids, sb, sn) = (s("customer_id"), s("segment_before"), s("segment_now"));
        let rev = b
            .column_by_name("revenue_before")
            .unwrap()
            .as_primitive::<arrow::datatypes::Float64Type>()
            .clone();
        for k in 0..b.num_rows() {
            got_down.insert(ids[k].clone(), (sb[k].clone(), sn[k].clone()));
            got_order.push(ids[k].clone());
            assert!(rev.value(k) > 0.0);
        }
    }
    assert_eq!(got_down, want_down);
    assert_eq!(m.downgraded, want_down.len() as u64);
    assert!(
        got_order.windows(2).all(|w| w[0] < w[1]),
        "sorted by customer_id"
    );
    // Planted: every lapsed buyer moved down, every gone one is listed as gone.
    for c in 0..12 {
        let id = format!("lapsed{c:02}");
        assert!(
            got_down.contains_key(&id),
            "{id} moved down: {:?} -> {:?}",
            before.get(&id),
            now.get(&id)
        );
    }
    for c in 0..8 {
        assert_eq!(got_down[&format!("gone{c:02}")].1, "gone");
    }
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(report.contains("<section id=\"migration\">"));
}

#[tokio::test]
async fn a_comparison_day_not_before_the_as_of_day_is_refused_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_, out, result) = run_planted(
        dir.path(),
        Overrides {
            compare_as_of: Some("2023-09-13".into()),
            ..Overrides::default()
        },
    )
    .await;
    let err = result.unwrap_err().to_string();
    assert!(
        err.contains("--compare-as-of")
            && err.contains("2023-09-13 is not before the run's as-of day 2023-09-13"),
        "{err}"
    );
    assert!(!out.exists());
    let bad = Config::resolve(
        None,
        &Overrides {
            compare_as_of: Some("13/03/2023".into()),
            ..Overrides::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(
        bad.contains("migration.compare_as_of (--compare-as-of)"),
        "{bad}"
    );
}

#[tokio::test]
async fn cohorts_equal_a_direct_count_of_the_purchases() {
    use chrono::Datelike;
    let dir = tempfile::tempdir().unwrap();
    let (_, out, summary) = run_planted(
        dir.path(),
        Overrides {
            cohorts: Some("month".into()),
            ..Overrides::default()
        },
    )
    .await;
    summary.unwrap();
    // Plainly: each purchase's month as year * 12 + month - 1, each customer's first month,
    // then per (cohort, months since) the customers who bought and what they spent.
    let price: BTreeMap<&str, f64> = ITEMS.iter().copied().collect();
    let month = |secs: i64| {
        let d = chrono::DateTime::from_timestamp(secs, 0)
            .unwrap()
            .date_naive();
        i64::from(d.year()) * 12 + i64::from(d.month0())
    };
    let purchases = planted_purchases();
    let mut first: BTreeMap<&str, i64> = BTreeMap::new();
    for (u, t, _) in &purchases {
        let m = month(*t);
        first.entry(u).and_modify(|f| *f = (*f).min(m)).or_insert(m);
    }
    let mut cells: BTreeMap<(i64, i64), (BTreeSet<&str>, f64)> = BTreeMap::new();
    for (u, t, a) in &purchases {
        let c = first[u.as_str()];
        let e = cells.entry((c, month(*t) - c)).or_default();
        e.0.insert(u);
        e.1 += price[a];
    }
    let label = |c: i64| format!("{}-{:02}-01", c / 12, c % 12 + 1);
    let want: Vec<String> = cells
        .iter()
        .map(|((c, i), (who, revenue))| {
            let size = cells[&(*c, 0)].0.len();
            format!(
                "{},{size},{i},{},{:.6},{revenue:.2}",
                label(*c),
                who.len(),
                who.len() as f64 / size as f64
            )
        })
        .collect();
    let csv = std::fs::read_to_string(out.join("cohorts.csv")).unwrap();
    let got: Vec<String> = csv.lines().skip(1).map(String::from).collect();
    assert_eq!(got, want);
    // Planted: the ten newcomers (first purchase 100 days before the end) are in the
    // cohort of that month, which nobody else joins.
    let newcomers = label(month((END - 100) * DAY));
    let cohort: Vec<&String> = got
        .iter()
        .filter(|l| l.starts_with(&format!("{newcomers},10,")))
        .collect();
    assert!(!cohort.is_empty(), "{newcomers}: {got:?}");
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(report.contains("<section id=\"cohorts\">"));
}

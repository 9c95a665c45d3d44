//! Cleaning: each step's count in the data-quality table equals a plain Rust computation
//! of the same rules over the same generated raw rows (read with serde_json).

mod common;

use std::collections::{BTreeMap, HashSet};

use arrow::array::AsArray;
use common::*;
use rfmseg::Config;
use rfmseg::ingest::{IngestOptions, ingest};
use rfmseg_udfs::parse_price;

fn placeholder(s: &str) -> bool {
    matches!(
        s.trim().to_lowercase().as_str(),
        "none" | "n/a" | "null" | ""
    )
}

fn norm(v: &serde_json::Value) -> Option<String> {
    v.as_str().filter(|s| !placeholder(s)).map(str::to_string)
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct Review {
    user_id: Option<String>,
    parent_asin: Option<String>,
    asin: Option<String>,
    rating: Option<u64>,
    ts: Option<i64>,
    verified: Option<bool>,
    helpful: Option<i64>,
}

#[tokio::test]
async fn every_cleaning_count_equals_a_plain_rust_computation() {
    let dir = tempfile::tempdir().unwrap();
    let g = generated(&dir.path().join("raw"), 40_000, 21, false, 0.0);
    let lake = dir.path().join("lake");
    ingest(&IngestOptions::new(&g.reviews_path, &g.items_path, &lake)).unwrap();
    let mut config = Config::default();
    config.engine.target_partitions = 4;
    let (ctx, q) = rfmseg::clean_lake(&lake, &config).await.unwrap();

    // ---- reviews, by hand ----
    let raw: Vec<Review> = raw_lines(&g.reviews_path)
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            Review {
                user_id: norm(&v["user_id"]),
                parent_asin: norm(&v["parent_asin"]),
                asin: norm(&v["asin"]),
                rating: v["rating"].as_f64().map(f64::to_bits),
                ts: v["timestamp"].as_i64().map(|ms| ms.div_euclid(1000)),
                verified: v["verified_purchase"].as_bool(),
                helpful: v["helpful_vote"].as_i64(),
            }
        })
        .collect();
    let mut seen = HashSet::new();
    let distinct: Vec<Review> = raw
        .iter()
        .filter(|r| seen.insert((*r).clone()))
        .cloned()
        .collect();
    assert!(
        raw.len() > distinct.len(),
        "the generator plants duplicates"
    );
    let rating_fixed = distinct
        .iter()
        .filter(|r| r.rating == Some(0f64.to_bits()))
        .count();
    let helpful_fixed = distinct
        .iter()
        .filter(|r| r.helpful.is_some_and(|h| h < 0))
        .count();
    let invalid = |r: &Review| -> Option<&'static str> {
        let rating = r
            .rating
            .map(f64::from_bits)
            .map(|x| if x == 0.0 { 1.0 } else { x });
        if r.user_id.is_none() {
            Some("missing user_id")
        } else if r.parent_asin.is_none() {
            Some("missing parent_asin")
        } else if r.ts.is_none() {
            Some("missing timestamp")
        } else if rating.is_none() {
            Some("missing rating")
        } else if !(1.0..=5.0).contains(&rating.unwrap()) {
            Some("rating outside 1..5")
        } else {
            None
        }
    };
    let newest = distinct
        .iter()
        .filter(|r| invalid(r).is_none())
        .filter_map(|r| r.ts)
        .max()
        .unwrap();
    let cutoff = newest - 730 * 86_400;
    let mut reasons: BTreeMap<&str, u64> = BTreeMap::new();
    let mut kept = 0u64;
    for r in &distinct {
        let reason = invalid(r).or(if r.verified != Some(true) {
            Some("not a verified purchase")
        } else if r.ts.unwrap() < cutoff {
            Some("older than clean.history_days")
        } else {
            None
        });
        match reason {
            Some(x) => *reasons.entry(x).or_default() += 1,
            None => kept += 1,
        }
    }
    assert_eq!(q.rows("reviews", "lake rows"), raw.len() as u64);
    assert_eq!(
        q.rows("reviews", "exact duplicate"),
        (raw.len() - distinct.len()) as u64
    );
    assert_eq!(q.rows("reviews", "rating 0 set to 1"), rating_fixed as u64);
    assert_eq!(
        q.rows("reviews", "negative helpful_vote set to 0"),
        helpful_fixed as u64
    );
    for reason in rfmseg::stages::REVIEW_DROP_REASONS {
        assert_eq!(
            q.rows("reviews", reason),
            reasons.get(reason).copied().unwrap_or(0),
            "{reason}"
        );
    }
    assert!(reasons["not a verified purchase"] > 0 && reasons["older than clean.history_days"] > 0);
    assert_eq!(q.kept("reviews"), kept);
    let n = ctx
        .table("clean_reviews")
        .await
        .unwrap()
        .count()
        .await
        .unwrap();
    assert_eq!(n as u64, kept);

    // ---- items, by hand ----
    let items: Vec<serde_json::Value> = raw_lines(&g.items_path)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let excluded: HashSet<&str> = config
        .clean
        .excluded_categories
        .iter()
        .map(String::as_str)
        .collect();
    let mut item_seen = HashSet::new();
    let mut dups = 0u64;
    let mut item_reasons: BTreeMap<&str, u64> = BTreeMap::new();
    let mut price_status: BTreeMap<&str, u64> = BTreeMap::new();
    let mut kept_items = 0u64;
    for v in &items {
        let price_raw = match &v["price"] {
            serde_json::Value::Null => None,
            serde_json::Value::String(s) => Some(s.clone()).filter(|s| !placeholder(s)),
            other => Some(other.to_string()),
        };
        let cats: Vec<String> = v["categories"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| c.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let key = (
            norm(&v["parent_asin"]),
            norm(&v["title"]),
            norm(&v["main_category"]),
            norm(&v["store"]),
            cats,
            price_raw.clone(),
        );
        if !item_seen.insert(key) {
            dups += 1;
            continue;
        }
        let category = norm(&v["main_category"]);
        let reason = if norm(&v["parent_asin"]).is_none() {
            Some("missing parent_asin")
        } else if category.is_none() {
            Some("missing main_category")
        } else if excluded.contains(category.as_deref().unwrap()) {
            Some("excluded main_category")
        } else {
            None
        };
        if let Some(r) = reason {
            *item_reasons.entry(r).or_default() += 1;
            continue;
        }
        kept_items += 1;
        let status = match price_raw.as_deref().map(parse_price) {
            None => "missing",
            Some(None) => "unparseable",
            Some(Some(p)) if p <= 0.0 || p > 100_000.0 => "out of range",
            Some(Some(_)) => "ok",
        };
        *price_status.entry(status).or_default() += 1;
    }
    assert_eq!(q.rows("items", "lake rows"), items.len() as u64);
    assert_eq!(q.rows("items", "exact duplicate"), dups);
    for reason in rfmseg::stages::ITEM_DROP_REASONS {
        assert_eq!(
            q.rows("items", reason),
            item_reasons.get(reason).copied().unwrap_or(0),
            "{reason}"
        );
    }
    assert!(
        item_reasons["excluded main_category"] > 0 && item_reasons["missing main_category"] > 0
    );
    assert_eq!(
        q.rows("items", "price missing (kept, price NULL)"),
        price_status.get("missing").copied().unwrap_or(0)
    );
    assert_eq!(
        q.rows("items", "price unparseable (kept, price NULL)"),
        price_status.get("unparseable").copied().unwrap_or(0)
    );
    assert_eq!(
        q.rows(
            "items",
            "price <= 0 or > clean.max_price (kept, price NULL)"
        ),
        price_status.get("out of range").copied().unwrap_or(0)
    );
    assert!(price_status["unparseable"] > 0 && price_status["ok"] > 0);
    assert_eq!(q.kept("items"), kept_items);
}

#[tokio::test]
async fn a_filter_that_removes_everything_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.jsonl");
    std::fs::write(
        &path,
        r#"{"rating": 5.0, "asin": "B1", "parent_asin": "B1", "user_id": "U1", "timestamp": 1600000000000, "helpful_vote": 0, "verified_purchase": false}"#.to_string() + "\n",
    )
    .unwrap();
    let meta = dir.path().join("m.jsonl");
    std::fs::write(
        &meta,
        r#"{"main_category": "Computers", "price": 5.0, "parent_asin": "B1"}"#.to_string() + "\n",
    )
    .unwrap();
    let lake = dir.path().join("lake");
    ingest(&IngestOptions::new(&path, &meta, &lake)).unwrap();
    let err = rfmseg::clean_lake(&lake, &Config::default())
        .await
        .err()
        .expect("nothing left is an error")
        .to_string();
    assert!(
        err.contains("no reviews left after cleaning: the step \"not a verified purchase\" removed the last 1 rows"),
        "{err}"
    );
}

#[tokio::test]
async fn a_folder_that_is_not_a_lake_is_named_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let err = rfmseg::clean_lake(dir.path(), &Config::default())
        .await
        .err()
        .expect("error")
        .to_string();
    assert!(err.contains("reviews: has no Parquet files"), "{err}");
    assert!(err.contains("rfmseg ingest"), "{err}");
}

#[tokio::test]
async fn a_lake_that_does_not_exist_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-lake");
    let clean = rfmseg::clean_lake(&missing, &Config::default()).await.err();
    let features = rfmseg::lake_features(&missing, &Config::default())
        .await
        .err();
    for err in [
        clean.expect("clean fails"),
        features.expect("features fail"),
    ] {
        assert_eq!(
            err.to_string(),
            format!(
                "{}: does not exist\nhint: check the path given to --lake: a lake is the \
                 folder that `rfmseg ingest --out <lake>` wrote",
                missing.display()
            )
        );
    }
    assert!(!missing.exists());
}

/// The kept reviews of a session, as sorted text rows (order-free comparison).
async fn kept_rows(ctx: &datafusion::prelude::SessionContext) -> Vec<String> {
    let batches = ctx
        .sql("SELECT * FROM clean_reviews")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
        .unwrap()
        .to_string();
    let mut rows: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with("| "))
        .skip(1)
        .map(str::to_string)
        .collect();
    rows.sort();
    rows
}

/// A large lake is cleaned a range of customer buckets at a time (its exact DISTINCT then
/// holds one range's reviews, not all), and ranges run side by side on one partition
/// each: in 3, 5 or 16 ranges one after another, or 2, 6 or 4 ranges 2 or 3 at a time,
/// the data-quality table and the kept reviews are those of one query over the same lake,
/// with the generator's duplicates, placeholders (in several spellings, all in bucket 0)
/// and invalid rows. Side by side on one partition each, a range's duplicates are found
/// in Rust (`exec::distinct`), otherwise by DataFusion's DISTINCT: the same again.
#[tokio::test]
async fn cleaning_in_ranges_of_customer_buckets_equals_one_pass() {
    use rfmseg::exec::{local_context, open_lake};
    use rfmseg::quality::DataQuality;
    use rfmseg::stages::{ReviewPasses, clean_reviews_in};

    let dir = tempfile::tempdir().unwrap();
    let g = generated(&dir.path().join("raw"), 30_000, 5, false, 0.0);
    // Reviews whose user_id is a placeholder in other spellings, or missing: after
    // cleaning they are one review with a NULL user_id, repeated. Each spelling is its own
    // raw value, and all must meet in one pass to be found duplicates.
    let mut extra = String::new();
    for line in raw_lines(&g.reviews_path).iter().take(50) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        for user in [
            Some("None"),
            Some(" null "),
            Some("N/A"),
            Some(""),
            Some("NONE"),
            None,
        ] {
            let mut v = v.clone();
            match user {
                Some(u) => v["user_id"] = serde_json::Value::from(u),
                None => {
                    v.as_object_mut().unwrap().remove("user_id");
                }
            }
            extra.push_str(&format!("{v}\n"));
        }
    }
    // A rating of 0 written 0.0 and -0.0, otherwise the same review: DataFusion's
    // DISTINCT takes them for one (it groups -0.0 as 0.0), and so must the cleaning
    // in Rust of the ranges side by side.
    for line in raw_lines(&g.reviews_path).iter().skip(100).take(20) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        for rating in [0.0, -0.0, -0.0] {
            let mut v = v.clone();
            v["rating"] = serde_json::Value::from(rating);
            extra.push_str(&format!("{v}\n"));
        }
    }
    assert!(extra.contains("\"rating\":-0.0"));
    // One review 200 days newer than any other: rule 6's cutoff moves with it, and only
    // one range holds it, so every range must drop by the whole lake's cutoff, not by its
    // own newest review.
    let newest = raw_lines(&g.reviews_path)
        .iter()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["timestamp"]
                .as_i64()
                .unwrap_or(0)
        })
        .max()
        .unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&raw_lines(&g.reviews_path)[0]).unwrap();
    v["user_id"] = serde_json::Value::from("AFUTUREBUYERNOONEELSEHASTHISID");
    v["timestamp"] = serde_json::Value::from(newest + 200 * 86_400_000);
    v["rating"] = serde_json::Value::from(5.0);
    v["verified_purchase"] = serde_json::Value::from(true);
    extra.push_str(&format!("{v}\n"));
    let mut raw = std::fs::read_to_string(&g.reviews_path).unwrap();
    raw.push_str(&extra);
    std::fs::write(&g.reviews_path, raw).unwrap();
    let lake = dir.path().join("lake");
    ingest(&IngestOptions::new(&g.reviews_path, &g.items_path, &lake)).unwrap();
    // Three partitions: one pass (or ranges one after another) uses DataFusion's DISTINCT
    // over them, ranges side by side a partition each drop duplicates in Rust.
    let mut config = Config::default();
    config.engine.target_partitions = 3;

    let mut results = Vec::new();
    for (ranges, side_by_side) in [(1, 1), (3, 1), (5, 1), (16, 1), (2, 2), (6, 3), (4, 2)] {
        let passes = ReviewPasses {
            ranges,
            side_by_side,
        };
        let ctx = local_context(&config);
        open_lake(&ctx, &lake).await.unwrap();
        let mut q = DataQuality::default();
        let kept = clean_reviews_in(&ctx, &config, &mut q, Some(passes))
            .await
            .unwrap();
        let rows = kept_rows(&ctx).await;
        assert_eq!(rows.len() as u64, kept, "{passes:?}");
        results.push((passes, q, rows));
    }
    let (_, one_q, one_rows) = &results[0];
    let step = |q: &DataQuality, name: &str| {
        q.steps
            .iter()
            .find(|s| s.step == name)
            .map_or(0, |s| s.rows)
    };
    // The lake has what the passes must agree on.
    assert!(step(one_q, "exact duplicate") > 0);
    // The 300 planted rows are 50 reviews with a NULL user_id (their other values come
    // from 50 distinct lines), 250 duplicates.
    assert!(step(one_q, "missing user_id") >= 50);
    assert!(step(one_q, "older than clean.history_days") > 0);
    assert!(step(one_q, "rating 0 set to 1") >= 20);
    for (passes, q, rows) in &results[1..] {
        assert_eq!(q, one_q, "{passes:?}: data-quality table");
        assert_eq!(rows, one_rows, "{passes:?}: kept reviews");
    }

    // The same file run as it is (`rfmseg sql`), its DISTINCT DataFusion's: the same
    // distinct reviews, reasons and fixes as the cleaning's, whose duplicates were found
    // in Rust.
    let sql = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sql/clean_reviews.sql"),
    )
    .unwrap();
    assert!(sql.contains("SELECT {{distinct}} * FROM normalized"));
    let counted = format!(
        "SELECT coalesce(drop_reason, 'kept') AS reason, count(*) AS n, \
         sum(CAST(rating_fixed AS INT)) AS rating_fixed FROM ({sql}) GROUP BY 1"
    );
    let out = rfmseg::sql::run_sql(&rfmseg::sql::SqlOptions {
        sql: counted,
        source: "clean_reviews.sql".into(),
        lake: Some(lake.clone()),
        tables: Vec::new(),
        upto: None,
        params: Vec::new(),
        config: config.clone(),
        engine: Default::default(),
        out: None,
    })
    .await
    .unwrap();
    let mut by_reason = BTreeMap::new();
    let mut rating_fixed = 0;
    for b in &out.batches {
        let reasons = b.column(0).as_string_view_opt().map_or_else(
            || {
                let a = b.column(0).as_string::<i32>();
                (0..b.num_rows())
                    .map(|r| a.value(r).to_string())
                    .collect::<Vec<_>>()
            },
            |a| (0..b.num_rows()).map(|r| a.value(r).to_string()).collect(),
        );
        let n = b.column(1).as_primitive::<arrow::datatypes::Int64Type>();
        let fixed = b.column(2).as_primitive::<arrow::datatypes::Int64Type>();
        for (r, reason) in reasons.into_iter().enumerate() {
            by_reason.insert(reason, n.value(r) as u64);
            rating_fixed += fixed.value(r) as u64;
        }
    }
    let distinct: u64 = by_reason.values().sum();
    assert_eq!(
        distinct,
        step(one_q, "lake rows") - step(one_q, "exact duplicate")
    );
    assert_eq!(by_reason["kept"], step(one_q, "clean reviews"));
    assert_eq!(rating_fixed, step(one_q, "rating 0 set to 1"));
    for reason in rfmseg::stages::clean::REVIEW_DROP_REASONS {
        assert_eq!(
            by_reason.get(reason).copied().unwrap_or(0),
            step(one_q, reason),
            "{reason}"
        );
    }
}

/// When `clean.missing_values` has a placeholder the customer buckets do not know, its
/// rows may sit in any bucket: the cleaning then takes one query, whatever the size.
/// Otherwise passes bound the memory as the lake grows, and each is cut in as many ranges
/// as the session has partitions, run side by side, while the 16 buckets allow.
#[tokio::test]
async fn an_unknown_placeholder_is_cleaned_in_one_query_a_large_lake_in_passes() {
    use rfmseg::exec::{local_context, open_lake};
    use rfmseg::stages::{REVIEWS_PER_PASS, ReviewPasses, review_passes};

    let dir = tempfile::tempdir().unwrap();
    let g = generated(&dir.path().join("raw"), 2_000, 3, false, 0.0);
    let lake = dir.path().join("lake");
    ingest(&IngestOptions::new(&g.reviews_path, &g.items_path, &lake)).unwrap();
    let mut config = Config::default();
    config.engine.target_partitions = 2;
    let ctx = local_context(&config);
    open_lake(&ctx, &lake).await.unwrap();
    let passes = |ranges, side_by_side| ReviewPasses {
        ranges,
        side_by_side,
    };
    // A small lake: one pass, in two ranges side by side (one per partition). Passes split
    // the 16 buckets evenly: 3 or 4 passes' worth -> 4 passes of 4 buckets, each two
    // ranges of 2; 15 (the full Electronics size) -> 16 passes, not 15 with a last pass of
    // 2 buckets, and no bucket left to split them: one after another.
    for (reviews, (ranges, side_by_side)) in [
        (2_000, (2, 2)),
        (REVIEWS_PER_PASS, (2, 2)),
        (REVIEWS_PER_PASS * 3, (8, 2)),
        (REVIEWS_PER_PASS * 4, (8, 2)),
        (REVIEWS_PER_PASS * 4 + 1, (16, 2)),
        (REVIEWS_PER_PASS * 15, (16, 1)),
        (REVIEWS_PER_PASS * 100, (16, 1)),
    ] {
        assert_eq!(
            review_passes(&ctx, &config, reviews).await,
            passes(ranges, side_by_side),
            "{reviews} reviews"
        );
    }
    // Three partitions: ranges side by side stay a power of two.
    config.engine.target_partitions = 3;
    let three = local_context(&config);
    open_lake(&three, &lake).await.unwrap();
    assert_eq!(review_passes(&three, &config, 2_000).await, passes(2, 2));
    config.engine.target_partitions = 2;
    config.clean.missing_values.push("unknown".into());
    assert_eq!(
        review_passes(&ctx, &config, REVIEWS_PER_PASS * 3).await,
        ReviewPasses::ONE
    );
}

/// A run's cleaning keeps the columns the purchases read: the same rows as the full
/// cleaning's, those columns only, and the same data-quality table.
#[tokio::test]
async fn the_run_cleaning_keeps_the_purchase_columns_of_the_same_rows() {
    use rfmseg::exec::{local_context, open_lake};
    use rfmseg::stages::clean::{PURCHASE_COLUMNS, clean_keeping};

    let dir = tempfile::tempdir().unwrap();
    let g = generated(&dir.path().join("raw"), 3_000, 5, false, 0.0);
    let lake = dir.path().join("lake");
    ingest(&IngestOptions::new(&g.reviews_path, &g.items_path, &lake)).unwrap();
    let config = Config::default();
    let rows = |ctx: datafusion::prelude::SessionContext| async move {
        let df = ctx
            .sql("SELECT user_id, parent_asin, CAST(ts AS BIGINT) AS ts FROM clean_reviews")
            .await
            .unwrap();
        let mut out = Vec::new();
        for b in df.collect().await.unwrap() {
            let u = rfmseg::exec::query::str_column(&b, "user_id").unwrap();
            let p = rfmseg::exec::query::str_column(&b, "parent_asin").unwrap();
            let t = rfmseg::exec::query::i64_column(&b, "ts").unwrap();
            out.extend(u.into_iter().zip(p).zip(t));
        }
        out.sort();
        out
    };
    let full = local_context(&config);
    open_lake(&full, &lake).await.unwrap();
    let full_quality = rfmseg::stages::clean(&full, &config).await.unwrap();
    let narrow = local_context(&config);
    open_lake(&narrow, &lake).await.unwrap();
    let narrow_quality = clean_keeping(&narrow, &config, &PURCHASE_COLUMNS)
        .await
        .unwrap();
    assert_eq!(
        format!("{narrow_quality}"),
        format!("{full_quality}"),
        "data-quality tables"
    );
    for (table, want) in [
        ("clean_reviews", PURCHASE_COLUMNS.reviews),
        ("clean_items", PURCHASE_COLUMNS.items),
    ] {
        let columns: Vec<String> = narrow
            .table(table)
            .await
            .unwrap()
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(columns, want, "{table}");
    }
    let items = |ctx: datafusion::prelude::SessionContext| async move {
        let sql = "SELECT concat_ws('|', parent_asin, CAST(price AS VARCHAR), main_category, \
                   store) AS row FROM clean_items ORDER BY row";
        let mut out = Vec::new();
        for b in ctx.sql(sql).await.unwrap().collect().await.unwrap() {
            out.extend(rfmseg::exec::query::str_column(&b, "row").unwrap());
        }
        out
    };
    let (a, b) = (items(full.clone()).await, items(narrow.clone()).await);
    assert!(a.len() > 50, "{} clean items", a.len());
    assert_eq!(a, b);
    let (a, b) = (rows(full).await, rows(narrow).await);
    assert!(a.len() > 500, "{} clean reviews", a.len());
    assert_eq!(a, b);
}

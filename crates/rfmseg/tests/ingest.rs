//! `rfmseg ingest`: every row kept, the lake independent of compression and threads, bad
//! lines handled per mode with file and line, bad inputs rejected leaving no lake.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Float64Type, Int64Type, TimestampSecondType};
use common::*;
use rfmseg::Error;
use rfmseg::ingest::{IngestOptions, OnBadLine, ingest};
use rfmseg::lake::buckets::user_bucket;

/// One review as the lake holds it: (user_id, parent_asin, asin, rating bits, ts s,
/// verified, helpful_vote).
type ReviewRow = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<u64>,
    Option<i64>,
    Option<bool>,
    Option<i64>,
);

fn lake_reviews(batches: &[RecordBatch]) -> Vec<ReviewRow> {
    let mut rows = Vec::new();
    for b in batches {
        let s = |c: usize, i: usize| {
            let a = b.column(c).as_string::<i32>();
            (!a.is_null(i)).then(|| a.value(i).to_string())
        };
        let rating = b.column(3).as_primitive::<Float64Type>();
        let ts = b.column(4).as_primitive::<TimestampSecondType>();
        let ver = b.column(5).as_boolean();
        let hv = b.column(6).as_primitive::<Int64Type>();
        let bucket = b.column(7).as_primitive::<arrow::datatypes::Int32Type>();
        for i in 0..b.num_rows() {
            assert_eq!(
                bucket.value(i),
                user_bucket(s(0, i).as_deref()),
                "each review's customer bucket"
            );
            rows.push((
                s(0, i),
                s(1, i),
                s(2, i),
                (!rating.is_null(i)).then(|| rating.value(i).to_bits()),
                (!ts.is_null(i)).then(|| ts.value(i)),
                (!ver.is_null(i)).then(|| ver.value(i)),
                (!hv.is_null(i)).then(|| hv.value(i)),
            ));
        }
    }
    rows
}

/// Rows in the order the lake keeps them from one segment of input: by customer bucket,
/// in input order within a bucket.
fn by_bucket(mut rows: Vec<ReviewRow>) -> Vec<ReviewRow> {
    rows.sort_by_key(|r| user_bucket(r.0.as_deref()));
    rows
}

/// The same rows read with serde_json, as a plain independent reading of the raw file.
fn raw_reviews(path: &Path) -> Vec<ReviewRow> {
    raw_lines(path)
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("generated line parses");
            let s = |k: &str| v[k].as_str().map(str::to_string);
            (
                s("user_id"),
                s("parent_asin"),
                s("asin"),
                v["rating"].as_f64().map(f64::to_bits),
                v["timestamp"].as_i64().map(|ms| ms.div_euclid(1000)),
                v["verified_purchase"].as_bool(),
                v["helpful_vote"].as_i64(),
            )
        })
        .collect()
}

#[test]
fn ingest_keeps_every_generated_row_with_its_values() {
    let dir = tempfile::tempdir().unwrap();
    let g = generated(&dir.path().join("raw"), 20_000, 7, false, 0.0);
    let lake = dir.path().join("lake");
    let s = ingest(&IngestOptions::new(&g.reviews_path, &g.items_path, &lake)).unwrap();
    assert_eq!(s.reviews.rows, g.review_lines);
    assert_eq!(s.reviews.lines, g.review_lines);
    assert_eq!(s.reviews.bad_lines, 0);
    assert_eq!(s.items.rows, g.meta_lines);

    let got = lake_reviews(&read_parquet_dir(&lake.join("reviews")));
    let want = by_bucket(raw_reviews(&g.reviews_path));
    assert_eq!(
        got, want,
        "the lake holds the raw rows, by customer bucket, in file order within one"
    );

    // Items: parent_asin and the price's raw text, whatever its JSON type.
    let items = read_parquet_dir(&lake.join("items"));
    let mut got_items = Vec::new();
    for b in &items {
        let asin = b.column(0).as_string::<i32>();
        let price = b.column(5).as_string::<i32>();
        for i in 0..b.num_rows() {
            got_items.push((
                asin.value(i).to_string(),
                (!price.is_null(i)).then(|| price.value(i).to_string()),
            ));
        }
    }
    let want_items: Vec<(String, Option<String>)> = raw_lines(&g.items_path)
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let price = match &v["price"] {
                serde_json::Value::Null => None,
                serde_json::Value::String(s) => Some(s.clone()),
                other => Some(other.to_string()),
            };
            (v["parent_asin"].as_str().unwrap().to_string(), price)
        })
        .collect();
    assert_eq!(got_items.len(), want_items.len());
    for (g, w) in got_items.iter().zip(&want_items) {
        assert_eq!(g.0, w.0);
        // A JSON number's text as written vs as serde_json re-prints it: compare values.
        match (&g.1, &w.1) {
            (Some(a), Some(b)) if a != b => {
                assert_eq!(a.parse::<f64>().ok(), b.parse::<f64>().ok(), "{a} vs {b}")
            }
            (a, b) => assert_eq!(a, b),
        }
    }
}

#[test]
fn gzip_plain_and_thread_count_give_identical_lakes() {
    let dir = tempfile::tempdir().unwrap();
    let plain = generated(&dir.path().join("plain"), 30_000, 11, false, 0.0);
    let gz = generated(&dir.path().join("gz"), 30_000, 11, true, 0.0);
    let mut lakes = Vec::new();
    for (name, g, threads) in [("a", &plain, 1), ("b", &gz, 2), ("c", &plain, 3)] {
        let lake = dir.path().join(name);
        let mut opts = IngestOptions::new(&g.reviews_path, &g.items_path, &lake);
        opts.threads = threads;
        // Small segments, so the files are cut into several part files.
        opts.segment_bytes = 1 << 20;
        let s = ingest(&opts).unwrap();
        assert!(
            s.reviews.parquet_files >= 3,
            "{} part files",
            s.reviews.parquet_files
        );
        lakes.push((
            parquet_bytes(&lake.join("reviews")),
            parquet_bytes(&lake.join("items")),
        ));
    }
    assert!(lakes[0] == lakes[1], "gzip and plain input differ");
    assert!(lakes[0] == lakes[2], "1 and 3 threads differ");
}

/// Segments `k * per_file ..` make part file k: its row group of each bucket holds that
/// bucket's rows of those segments, in input order, and the last file the segments left.
/// The segments are cut here independently: at the first newline at or after
/// `segment_bytes` from a segment's start.
#[test]
fn part_files_hold_their_segments_rows_a_row_group_per_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let g = generated(&dir.path().join("raw"), 30_000, 12, false, 0.0);
    let raw = raw_reviews(&g.reviews_path);
    let bytes = std::fs::read(&g.reviews_path).unwrap();
    let segment_bytes = 1 << 20;
    let mut lines_per_segment = Vec::new();
    let mut start = 0;
    while start < bytes.len() {
        let from = (start + segment_bytes - 1).min(bytes.len());
        let end = bytes[from..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(bytes.len(), |i| from + i + 1);
        lines_per_segment.push(bytes[start..end].iter().filter(|b| **b == b'\n').count());
        start = end;
    }
    assert!(lines_per_segment.len() >= 9, "{lines_per_segment:?}");
    assert_eq!(lines_per_segment.iter().sum::<usize>(), raw.len());

    for per_file in [1, 4, 5] {
        let lake = dir.path().join(format!("lake-{per_file}"));
        let mut opts = IngestOptions::new(&g.reviews_path, &g.items_path, &lake);
        opts.segment_bytes = segment_bytes;
        opts.segments_per_file = per_file;
        opts.threads = 2;
        let s = ingest(&opts).unwrap();

        let mut want_files = Vec::new();
        let mut first_line = 0;
        for group in lines_per_segment.chunks(per_file) {
            let lines: usize = group.iter().sum();
            want_files.push(by_bucket(raw[first_line..first_line + lines].to_vec()));
            first_line += lines;
        }
        let reviews = lake.join("reviews");
        let mut files: Vec<_> = std::fs::read_dir(&reviews)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert_eq!(files.len(), want_files.len(), "{per_file} segments a file");
        assert_eq!(s.reviews.parquet_files, files.len() as u64);
        for (file, want) in files.iter().zip(&want_files) {
            assert_eq!(&lake_reviews(&read_parquet_dir(file)), want, "{file:?}");
            let meta = parquet::file::reader::SerializedFileReader::new(
                std::fs::File::open(file).unwrap(),
            )
            .unwrap();
            let groups: Vec<i64> = parquet::file::reader::FileReader::metadata(&meta)
                .row_groups()
                .iter()
                .map(|g| g.num_rows())
                .collect();
            let mut per_bucket = BTreeMap::new();
            for r in want {
                *per_bucket
                    .entry(user_bucket(r.0.as_deref()))
                    .or_insert(0i64) += 1;
            }
            let want_groups: Vec<i64> = per_bucket.into_values().collect();
            assert_eq!(groups, want_groups, "a row group per bucket in {file:?}");
        }
    }
}

/// A reviews file with one bad line of each kind, at known lines (2, 4, 8), and a line
/// without user_id (6), which is not a bad line but a row with a NULL user_id.
fn file_with_bad_lines(dir: &Path) -> std::path::PathBuf {
    let good = |u: &str, ts: i64| {
        format!(
            r#"{{"rating": 5.0, "title": "t", "text": "x", "images": [], "asin": "B1", "parent_asin": "B1", "user_id": "{u}", "timestamp": {ts}, "helpful_vote": 0, "verified_purchase": true}}"#
        )
    };
    let lines = [
        good("U1", 1_600_000_000_000),
        r#"{"rating": 5.0, "asin": "B1", "parent_asin": "B1", "user_id": "U2", "timest"#.to_string(),
        good("U3", 1_600_000_001_000),
        r#"{"rating": 4.0, "asin": "B1", "parent_asin": "B1", "user_id": "U4", "timestamp": "2023-01-05", "verified_purchase": true}"#.to_string(),
        String::new(),
        r#"{"rating": 4.0, "asin": "B1", "parent_asin": "B1", "timestamp": 1600000000000, "verified_purchase": true}"#.to_string(),
        good("U6", 1_600_000_002_000),
        r#"[{"rating": 4.0, "parent_asin": "B1", "user_id": "U8", "timestamp": 1600000000000}]"#.to_string(),
    ];
    let path = dir.join("reviews.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

fn items_file(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("meta.jsonl");
    std::fs::write(
        &path,
        r#"{"main_category": "Computers", "title": "Hub", "price": 29.99, "store": "A", "categories": [], "details": {}, "parent_asin": "B1"}"#
            .to_string()
            + "\n",
    )
    .unwrap();
    path
}

#[test]
fn fail_mode_stops_at_the_first_bad_line_with_file_line_and_hint() {
    let dir = tempfile::tempdir().unwrap();
    let reviews = file_with_bad_lines(dir.path());
    let lake = dir.path().join("lake");
    let err = ingest(&IngestOptions::new(&reviews, items_file(dir.path()), &lake)).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(&err, Error::BadLine { line: 2, .. }),
        "first bad line is line 2: {msg}"
    );
    assert!(msg.contains("reviews.jsonl:2: truncated JSON"), "{msg}");
    assert!(msg.contains("--on-bad-line skip"), "{msg}");
    assert!(!lake.exists(), "no lake after a failed ingest");
    assert_eq!(entries(dir.path()), vec!["meta.jsonl", "reviews.jsonl"]);
}

#[test]
fn fail_mode_names_wrong_types_and_non_objects() {
    let dir = tempfile::tempdir().unwrap();
    let items = items_file(dir.path());
    let cases = [
        (
            r#"{"rating": 4.0, "parent_asin": "B1", "user_id": "U4", "timestamp": "2023-01-05"}"#,
            r#"bad.jsonl:1: "timestamp" is a string, expected integer milliseconds"#,
        ),
        (
            r#"{"rating": 4.0, "parent_asin": "B1", "user_id": null, "timestamp": true}"#,
            r#"bad.jsonl:1: "timestamp" is a boolean, expected integer milliseconds"#,
        ),
        (
            r#"["U4", 4.0]"#,
            r#"bad.jsonl:1: invalid JSON at byte 1: found '[', expected '{' (each line must be one JSON object)"#,
        ),
    ];
    for (line, want) in cases {
        let path = dir.path().join("bad.jsonl");
        std::fs::write(&path, format!("{line}\n")).unwrap();
        let err = ingest(&IngestOptions::new(&path, &items, dir.path().join("lake")))
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{err}");
    }
}

#[test]
fn skip_mode_counts_bad_lines_and_keeps_the_good_ones() {
    let dir = tempfile::tempdir().unwrap();
    let reviews = file_with_bad_lines(dir.path());
    let lake = dir.path().join("lake");
    let mut opts = IngestOptions::new(&reviews, items_file(dir.path()), &lake);
    opts.on_bad_line = OnBadLine::Skip;
    let s = ingest(&opts).unwrap();
    assert_eq!(s.reviews.lines, 8);
    assert_eq!(s.reviews.blank_lines, 1);
    assert_eq!(s.reviews.bad_lines, 3);
    assert_eq!(s.reviews.rows, 4);
    let users: Vec<_> = lake_reviews(&read_parquet_dir(&lake.join("reviews")))
        .into_iter()
        .map(|r| r.0)
        .collect();
    let mut want: Vec<Option<String>> = vec![
        Some("U1".into()),
        Some("U3".into()),
        None,
        Some("U6".into()),
    ];
    want.sort_by_key(|u| user_bucket(u.as_deref()));
    assert_eq!(
        users, want,
        "the line without user_id is a row with a NULL user_id"
    );
    assert!(!lake.join("quarantine").exists());
}

#[test]
fn quarantine_mode_keeps_each_bad_line_with_its_number_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let reviews = file_with_bad_lines(dir.path());
    let raw = std::fs::read_to_string(&reviews).unwrap();
    let raw: Vec<&str> = raw.lines().collect();
    let lake = dir.path().join("lake");
    let mut opts = IngestOptions::new(&reviews, items_file(dir.path()), &lake);
    opts.on_bad_line = OnBadLine::Quarantine;
    let s = ingest(&opts).unwrap();
    assert_eq!(s.reviews.rows, 4);
    let q = std::fs::read_to_string(lake.join("quarantine/reviews.jsonl")).unwrap();
    let q: Vec<serde_json::Value> = q
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let lines: Vec<u64> = q.iter().map(|v| v["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [2, 4, 8]);
    for v in &q {
        let n = v["line"].as_u64().unwrap() as usize;
        assert_eq!(
            v["raw"].as_str().unwrap(),
            raw[n - 1],
            "raw text kept as is"
        );
        assert!(v["file"].as_str().unwrap().ends_with("reviews.jsonl"));
    }
    assert!(
        q[0]["error"]
            .as_str()
            .unwrap()
            .starts_with("truncated JSON")
    );
    assert!(
        q[1]["error"]
            .as_str()
            .unwrap()
            .contains("\"timestamp\" is a string")
    );
    assert_eq!(
        q[2]["error"],
        "invalid JSON at byte 1: found '[', expected '{' (each line must be one JSON object)"
    );
}

/// Segments are parsed apart and number their own lines; the numbers reported are the
/// file's, in every segment. A segment without rows is handed on like any other.
#[test]
fn line_numbers_are_the_files_across_segments() {
    let dir = tempfile::tempdir().unwrap();
    let meta = fixture("meta_Electronics.sample.jsonl");
    let good = raw_lines(&fixture("Electronics.sample.jsonl"));
    let bad_at = [1usize, 700, 1333, 2000];
    let lines: Vec<String> = (1..=2000)
        .map(|n| {
            if bad_at.contains(&n) {
                format!(r#"{{"user_id": "U{n}", "timestamp": "#)
            } else {
                good[n % good.len()].clone()
            }
        })
        .collect();
    let path = dir.path().join("reviews.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    assert!(
        std::fs::metadata(&path).unwrap().len() > 4 << 16,
        "several segments"
    );
    let lake = dir.path().join("lake");
    let mut opts = IngestOptions::new(&path, &meta, &lake);
    opts.on_bad_line = OnBadLine::Quarantine;
    opts.segment_bytes = 1 << 16;
    opts.threads = 2;
    let s = ingest(&opts).unwrap();
    assert_eq!((s.reviews.lines, s.reviews.bad_lines), (2000, 4));
    let q = std::fs::read_to_string(lake.join("quarantine/reviews.jsonl")).unwrap();
    let q: Vec<serde_json::Value> = q
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let got: Vec<(u64, &str)> = q
        .iter()
        .map(|v| (v["line"].as_u64().unwrap(), v["raw"].as_str().unwrap()))
        .collect();
    let want: Vec<(u64, &str)> = bad_at
        .iter()
        .map(|n| (*n as u64, lines[n - 1].as_str()))
        .collect();
    assert_eq!(got, want);

    // Fail mode names the first, here in a later segment; a later segment's evidence names
    // the file's line too:
    // 70,000 blank lines (a segment and more) before reviews in seconds.
    opts.on_bad_line = OnBadLine::Fail;
    opts.out = dir.path().join("failed");
    let mut later = lines.clone();
    later[0] = good[0].clone();
    later[699] = good[0].clone();
    std::fs::write(&path, later.join("\n") + "\n").unwrap();
    let err = ingest(&opts).unwrap_err();
    assert!(matches!(err, Error::BadLine { line: 1333, .. }), "{err}");
    let blank = "\n".repeat(70_000);
    std::fs::write(
        &path,
        format!("{blank}{}\n", reviews_in_seconds().join("\n")),
    )
    .unwrap();
    let err = ingest(&opts).unwrap_err();
    assert!(matches!(err, Error::BadLine { line: 70_001, .. }), "{err}");
    assert!(!opts.out.exists());

    // A segment of blank lines alone makes no part file.
    std::fs::write(&path, format!("{blank}{}\n", good.join("\n"))).unwrap();
    opts.segments_per_file = 1;
    let s = ingest(&opts).unwrap();
    assert_eq!(
        (s.reviews.rows, s.reviews.parquet_files),
        (good.len() as u64, 1)
    );
    assert_eq!(
        std::fs::read_dir(opts.out.join("reviews")).unwrap().count(),
        1
    );
}

/// The generator's truncated and wrong-type lines are bad lines; its lines without user_id
/// are rows with a NULL user_id (DESIGN §3).
#[test]
fn generated_malformed_lines_are_counted_exactly_in_skip_mode() {
    let dir = tempfile::tempdir().unwrap();
    let g = generated(&dir.path().join("raw"), 20_000, 3, false, 0.05);
    let bad = g.malformed_truncated + g.malformed_wrong_type;
    assert!(bad > 300, "{bad} bad lines");
    assert!(g.missing_user_id_lines > 150, "{}", g.missing_user_id_lines);
    let lake = dir.path().join("lake");
    let mut opts = IngestOptions::new(&g.reviews_path, &g.items_path, &lake);
    opts.on_bad_line = OnBadLine::Skip;
    let s = ingest(&opts).unwrap();
    assert_eq!(s.reviews.bad_lines, bad);
    assert_eq!(s.reviews.rows, g.review_lines - bad);
    let null_users = lake_reviews(&read_parquet_dir(&lake.join("reviews")))
        .iter()
        .filter(|r| r.0.is_none())
        .count() as u64;
    assert_eq!(null_users, g.missing_user_id_lines);
}

#[test]
fn unusable_inputs_get_one_clear_message_and_leave_no_lake() {
    let dir = tempfile::tempdir().unwrap();
    let items = items_file(dir.path());
    let lake = dir.path().join("lake");
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let no_data = dir.path().join("nodata");
    std::fs::create_dir(&no_data).unwrap();
    std::fs::write(no_data.join("notes.txt"), "hello").unwrap();
    let csv = dir.path().join("orders.jsonl");
    std::fs::write(&csv, "customer,ts,amount\nc1,2023-01-01,5.0\n").unwrap();
    let cases = [
        (dir.path().join("missing.jsonl"), "does not exist"),
        (empty, "is empty"),
        (no_data, "is a folder with no data files"),
        (csv, "orders.jsonl:1: invalid JSON at byte 1"),
    ];
    for (input, want) in cases {
        let err = ingest(&IngestOptions::new(&input, &items, &lake))
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{}: {err}", input.display());
        assert!(err.contains(&*input.display().to_string()), "{err}");
        assert!(!lake.exists());
    }
    // A file that is not the format, in skip mode: no rows at all is an error too.
    let mut opts = IngestOptions::new(dir.path().join("orders.jsonl"), &items, &lake);
    opts.on_bad_line = OnBadLine::Skip;
    let err = ingest(&opts).unwrap_err().to_string();
    assert!(
        err.contains("no readable reviews rows: all 2 lines were bad"),
        "{err}"
    );
    assert!(!lake.exists());
    let leftovers: Vec<String> = entries(dir.path())
        .into_iter()
        .filter(|n| n.contains(".rfmseg-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_folder_that_is_not_a_lake_is_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let reviews = file_with_bad_lines(dir.path());
    let out = dir.path().join("precious");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("thesis.tex"), "...").unwrap();
    let mut opts = IngestOptions::new(&reviews, items_file(dir.path()), &out);
    opts.on_bad_line = OnBadLine::Skip;
    let err = ingest(&opts).unwrap_err().to_string();
    assert!(
        err.contains("was not written by rfmseg (no .rfmseg-output.json); refusing to replace it"),
        "{err}"
    );
    assert_eq!(entries(&out), ["thesis.tex"]);
    // An existing lake is replaced whole.
    let lake = dir.path().join("lake");
    opts.out = lake.clone();
    ingest(&opts).unwrap();
    std::fs::write(lake.join("reviews/stale.parquet"), "x").unwrap();
    ingest(&opts).unwrap();
    assert!(!lake.join("reviews/stale.parquet").exists());
}

#[test]
fn parquet_input_gives_the_same_lake_as_jsonl() {
    use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let jsonl = fixtures.join("Electronics.sample.jsonl");
    let meta = fixtures.join("meta_Electronics.sample.jsonl");
    let lake_a = dir.path().join("a");
    ingest(&IngestOptions::new(&jsonl, &meta, &lake_a)).unwrap();

    // The Hugging Face conversion: same columns, timestamp as int64 milliseconds.
    let rows: Vec<serde_json::Value> = raw_lines(&jsonl)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let strs = |k: &str| -> ArrayRef {
        Arc::new(StringArray::from(
            rows.iter()
                .map(|r| r[k].as_str().map(str::to_string))
                .collect::<Vec<_>>(),
        ))
    };
    let batch = RecordBatch::try_from_iter(vec![
        (
            "rating",
            Arc::new(Float64Array::from(
                rows.iter()
                    .map(|r| r["rating"].as_f64())
                    .collect::<Vec<_>>(),
            )) as ArrayRef,
        ),
        ("title", strs("title")),
        ("asin", strs("asin")),
        ("parent_asin", strs("parent_asin")),
        ("user_id", strs("user_id")),
        (
            "timestamp",
            Arc::new(Int64Array::from(
                rows.iter()
                    .map(|r| r["timestamp"].as_i64())
                    .collect::<Vec<_>>(),
            )),
        ),
        (
            "helpful_vote",
            Arc::new(Int64Array::from(
                rows.iter()
                    .map(|r| r["helpful_vote"].as_i64())
                    .collect::<Vec<_>>(),
            )),
        ),
        (
            "verified_purchase",
            Arc::new(BooleanArray::from(
                rows.iter()
                    .map(|r| r["verified_purchase"].as_bool())
                    .collect::<Vec<_>>(),
            )),
        ),
    ])
    .unwrap();
    let pq = dir.path().join("reviews.parquet");
    write_parquet(&pq, &batch);
    let lake_b = dir.path().join("b");
    ingest(&IngestOptions::new(&pq, &meta, &lake_b)).unwrap();
    assert_eq!(
        lake_reviews(&read_parquet_dir(&lake_a.join("reviews"))),
        lake_reviews(&read_parquet_dir(&lake_b.join("reviews")))
    );

    // A Parquet file without a required column is named.
    let no_user = batch.project(&[0, 1, 2, 3, 5]).unwrap();
    let pq2 = dir.path().join("no_user.parquet");
    write_parquet(&pq2, &no_user);
    let err = ingest(&IngestOptions::new(&pq2, &meta, dir.path().join("c")))
        .unwrap_err()
        .to_string();
    assert!(err.contains("column \"user_id\" missing"), "{err}");
}

#[test]
fn review_counts_per_user_match_the_raw_file() {
    // A cheap cross-check over more rows: reviews per user, from the lake and from serde_json.
    let dir = tempfile::tempdir().unwrap();
    let g = generated(&dir.path().join("raw"), 10_000, 5, true, 0.0);
    let lake = dir.path().join("lake");
    ingest(&IngestOptions::new(&g.reviews_path, &g.items_path, &lake)).unwrap();
    let mut from_lake: BTreeMap<String, u64> = BTreeMap::new();
    for r in lake_reviews(&read_parquet_dir(&lake.join("reviews"))) {
        *from_lake.entry(r.0.unwrap()).or_default() += 1;
    }
    let mut from_raw: BTreeMap<String, u64> = BTreeMap::new();
    for r in raw_reviews(&g.reviews_path) {
        *from_raw.entry(r.0.unwrap()).or_default() += 1;
    }
    assert_eq!(from_lake, from_raw);
    assert_eq!(from_lake.len() as u64, g.users);
}

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// DESIGN §3: a key missing from a line is NULL, as Spark, DuckDB and arrow-json read it;
/// the default `--on-bad-line fail` accepts the file, and cleaning drops and counts each
/// row whose required field is missing.
#[tokio::test]
async fn missing_keys_are_null_rows_that_cleaning_drops_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let reviews = dir.path().join("reviews.jsonl");
    std::fs::write(
        &reviews,
        [
            r#"{"rating": 5.0, "asin": "B1", "parent_asin": "B1", "user_id": "U1", "timestamp": 1694563200000, "helpful_vote": 2, "verified_purchase": true}"#,
            r#"{"rating": 5.0, "asin": "B1", "parent_asin": "B1", "timestamp": 1694563201000, "helpful_vote": 0, "verified_purchase": true}"#,
            r#"{"rating": 4.0, "asin": "B1", "user_id": "U3", "timestamp": 1694563202000, "helpful_vote": 0, "verified_purchase": true}"#,
            r#"{"rating": 3.0, "asin": "B1", "parent_asin": "B1", "user_id": "U4", "helpful_vote": 0, "verified_purchase": true}"#,
            r#"{"asin": "B1", "parent_asin": "B1", "user_id": "U5", "timestamp": 1694563204000, "helpful_vote": 0, "verified_purchase": true}"#,
            r#"{"rating": 2.0, "parent_asin": "B4", "user_id": "U6", "timestamp": 1694563205000}"#,
        ]
        .join("\n")
            + "\n",
    )
    .unwrap();
    let items = dir.path().join("meta.jsonl");
    std::fs::write(
        &items,
        [
            r#"{"main_category": "Computers", "title": "Hub", "price": 29.99, "store": "A", "categories": ["X"], "parent_asin": "B1"}"#,
            r#"{"main_category": "Computers", "title": "No id", "price": 9.99, "store": "A", "categories": []}"#,
            r#"{"title": "No category", "price": 5.0, "store": "A", "categories": [], "parent_asin": "B3"}"#,
            r#"{"main_category": "Computers", "parent_asin": "B4"}"#,
        ]
        .join("\n")
            + "\n",
    )
    .unwrap();
    let lake = dir.path().join("lake");
    let s = ingest(&IngestOptions::new(&reviews, &items, &lake)).unwrap();
    assert_eq!((s.reviews.rows, s.reviews.bad_lines), (6, 0));
    assert_eq!((s.items.rows, s.items.bad_lines), (4, 0));
    assert_eq!(
        lake_reviews(&read_parquet_dir(&lake.join("reviews"))),
        by_bucket(vec![
            (
                Some("U1".into()),
                Some("B1".into()),
                Some("B1".into()),
                Some(5f64.to_bits()),
                Some(1_694_563_200),
                Some(true),
                Some(2)
            ),
            (
                None,
                Some("B1".into()),
                Some("B1".into()),
                Some(5f64.to_bits()),
                Some(1_694_563_201),
                Some(true),
                Some(0)
            ),
            (
                Some("U3".into()),
                None,
                Some("B1".into()),
                Some(4f64.to_bits()),
                Some(1_694_563_202),
                Some(true),
                Some(0)
            ),
            (
                Some("U4".into()),
                Some("B1".into()),
                Some("B1".into()),
                Some(3f64.to_bits()),
                None,
                Some(true),
                Some(0)
            ),
            (
                Some("U5".into()),
                Some("B1".into()),
                Some("B1".into()),
                None,
                Some(1_694_563_204),
                Some(true),
                Some(0)
            ),
            (
                Some("U6".into()),
                Some("B4".into()),
                None,
                Some(2f64.to_bits()),
                Some(1_694_563_205),
                None,
                None
            ),
        ])
    );
    let item_rows = read_parquet_dir(&lake.join("items"));
    let b = &item_rows[0];
    let nulls: Vec<Vec<bool>> = (0..b.num_columns())
        .map(|c| (0..b.num_rows()).map(|r| b.column(c).is_null(r)).collect())
        .collect();
    assert_eq!(
        nulls,
        vec![
            vec![false, true, false, false], // parent_asin
            vec![false, false, false, true], // title
            vec![false, false, true, false], // main_category
            vec![false, false, false, true], // store
            vec![false, false, false, true], // categories
            vec![false, false, false, true], // price_raw
        ]
    );

    let (_ctx, q) = rfmseg::clean_lake(&lake, &rfmseg::Config::default())
        .await
        .unwrap();
    let reviews_steps: Vec<(&str, u64)> = [
        "lake rows",
        "missing user_id",
        "missing parent_asin",
        "missing timestamp",
        "missing rating",
        "not a verified purchase",
        "clean reviews",
    ]
    .into_iter()
    .map(|step| (step, q.rows("reviews", step)))
    .collect();
    assert_eq!(
        reviews_steps,
        [
            ("lake rows", 6),
            ("missing user_id", 1),
            ("missing parent_asin", 1),
            ("missing timestamp", 1),
            ("missing rating", 1),
            ("not a verified purchase", 1),
            ("clean reviews", 1),
        ]
    );
    let items_steps: Vec<(&str, u64)> = [
        "lake rows",
        "missing parent_asin",
        "missing main_category",
        "price missing (kept, price NULL)",
        "clean items",
    ]
    .into_iter()
    .map(|step| (step, q.rows("items", step)))
    .collect();
    assert_eq!(
        items_steps,
        [
            ("lake rows", 4),
            ("missing parent_asin", 1),
            ("missing main_category", 1),
            ("price missing (kept, price NULL)", 1),
            ("clean items", 2),
        ]
    );
}

/// A key missing from one line is NULL, but a key no line has means the file is not that
/// table's: the usual cause is --reviews and --items swapped.
#[test]
fn a_file_of_the_other_table_is_rejected_naming_the_keys() {
    let dir = tempfile::tempdir().unwrap();
    let reviews = fixture("Electronics.sample.jsonl");
    let meta = fixture("meta_Electronics.sample.jsonl");
    let lake = dir.path().join("lake");
    let err = ingest(&IngestOptions::new(&meta, &meta, &lake))
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!(
            "{}: no line has the keys \"user_id\", \"rating\", \"timestamp\" (5 lines read), \
             which every reviews file has\nhint: this looks like a meta_* file: item metadata \
             goes to --items, reviews to --reviews",
            meta.display()
        )
    );
    let err = ingest(&IngestOptions::new(&reviews, &reviews, &lake))
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!(
            "{}: is not a meta_* file: all 4 lines have \"user_id\", a reviews key\nhint: this \
             looks like a reviews file (every line has \"user_id\"): reviews go to --reviews, \
             item metadata (meta_*) to --items",
            reviews.display()
        )
    );
    assert!(!lake.exists());
}

/// A UTF-8 byte-order mark (as Windows tools write) starts the first line of a file; it is
/// skipped, in plain and gzipped files, reviews and items alike, and the lake is the one
/// the same files give without it.
#[test]
fn a_utf8_bom_at_the_start_of_a_file_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let reviews = fixture("Electronics.sample.jsonl");
    let meta = fixture("meta_Electronics.sample.jsonl");
    let want_lake = dir.path().join("want");
    ingest(&IngestOptions::new(&reviews, &meta, &want_lake)).unwrap();
    let with_bom = |p: &Path| [&b"\xEF\xBB\xBF"[..], &std::fs::read(p).unwrap()].concat();
    for gz in [false, true] {
        let ext = if gz { "jsonl.gz" } else { "jsonl" };
        let (r, m) = (
            dir.path().join(format!("bom_reviews.{ext}")),
            dir.path().join(format!("bom_meta.{ext}")),
        );
        for (src, dst) in [(&reviews, &r), (&meta, &m)] {
            let bytes = with_bom(src);
            std::fs::write(dst, if gz { gzip(&bytes) } else { bytes }).unwrap();
        }
        let lake = dir.path().join(format!("lake_{gz}"));
        let s = ingest(&IngestOptions::new(&r, &m, &lake)).unwrap_or_else(|e| panic!("{ext}: {e}"));
        assert_eq!((s.reviews.rows, s.items.rows), (4, 5), "{ext}");
        for t in ["reviews", "items"] {
            assert!(
                parquet_bytes(&lake.join(t)) == parquet_bytes(&want_lake.join(t)),
                "{ext} {t}: the lake differs from the one without a BOM"
            );
        }
    }
    // Only at the start of a file: elsewhere it is not JSON, and the line is named.
    let mid = dir.path().join("mid.jsonl");
    let text = std::fs::read_to_string(&reviews).unwrap();
    let (first, rest) = text.split_once('\n').unwrap();
    std::fs::write(&mid, format!("{first}\n\u{feff}{rest}")).unwrap();
    let err = ingest(&IngestOptions::new(&mid, &meta, dir.path().join("l")))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "mid.jsonl:2: invalid JSON at byte 1: found a UTF-8 byte-order mark (files joined \
             with their BOMs?), expected '{'"
        ),
        "{err}"
    );
}

/// The sample reviews with their timestamps divided by 1000 (seconds).
fn reviews_in_seconds() -> Vec<String> {
    raw_lines(&fixture("Electronics.sample.jsonl"))
        .iter()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            let ms = v["timestamp"].as_i64().unwrap();
            v["timestamp"] = (ms / 1000).into();
            v.to_string()
        })
        .collect()
}

/// Timestamps in seconds read as milliseconds would put every review in January 1970
/// and give a segmentation of nothing; ingest refuses them, naming the file and a line.
#[test]
fn timestamps_in_seconds_are_rejected_naming_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let meta = fixture("meta_Electronics.sample.jsonl");
    let lake = dir.path().join("lake");
    let path = dir.path().join("reviews_seconds.jsonl");
    // A blank first line: the line named is the file's line 2, the first with such a value.
    std::fs::write(&path, format!("\n{}\n", reviews_in_seconds().join("\n"))).unwrap();
    for mode in [OnBadLine::Fail, OnBadLine::Skip] {
        let mut opts = IngestOptions::new(&path, &meta, &lake);
        opts.on_bad_line = mode;
        let err = ingest(&opts).unwrap_err();
        assert!(matches!(err, Error::BadLine { line: 2, .. }), "{err}");
        assert_eq!(
            err.to_string(),
            format!(
                "{}:2: the timestamps look like Unix seconds, not milliseconds: 4 of 4 are \
                 below 100000000000 (before 1973 as milliseconds), e.g. 1588687728 on line 2 \
                 (1970-01-19 as milliseconds, 2020-05-05 as seconds)\nhint: the Amazon Reviews \
                 2023 format has Unix milliseconds: multiply the timestamps by 1000 (e.g. jq -c \
                 '.timestamp *= 1000' reviews.jsonl > fixed.jsonl), or convert them to \
                 milliseconds where the file is made",
                path.display()
            )
        );
        assert!(!lake.exists());
    }

    // The same in the Parquet conversion's shape (an int64 column), naming the row.
    use arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
    use std::sync::Arc;
    let rows: Vec<serde_json::Value> = reviews_in_seconds()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let strs = |k: &str| -> ArrayRef {
        Arc::new(StringArray::from(
            rows.iter()
                .map(|r| r[k].as_str().map(str::to_string))
                .collect::<Vec<_>>(),
        ))
    };
    let batch = RecordBatch::try_from_iter(vec![
        ("user_id", strs("user_id")),
        ("parent_asin", strs("parent_asin")),
        (
            "rating",
            Arc::new(Float64Array::from(
                rows.iter()
                    .map(|r| r["rating"].as_f64())
                    .collect::<Vec<_>>(),
            )) as ArrayRef,
        ),
        (
            "timestamp",
            Arc::new(Int64Array::from(
                rows.iter()
                    .map(|r| r["timestamp"].as_i64())
                    .collect::<Vec<_>>(),
            )),
        ),
    ])
    .unwrap();
    let pq = dir.path().join("reviews_seconds.parquet");
    write_parquet(&pq, &batch);
    let err = ingest(&IngestOptions::new(&pq, &meta, &lake))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!(
            "{}: the timestamps look like Unix seconds, not milliseconds: 4 of 4 are below \
             100000000000 (before 1973 as milliseconds), e.g. 1588687728 on row 1",
            pq.display()
        )),
        "{err}"
    );
    assert!(err.contains("multiply the timestamps by 1000"), "{err}");
    assert!(!lake.exists());
}

/// `--reviews /dev/stdin`, `<(zcat ...)` or a FIFO: read once, as a stream (gzip and a BOM
/// sniffed from the stream, not by opening the file again), giving the lake a regular
/// file gives. A Parquet stream cannot be read (its footer is at the end) and says so.
#[test]
fn pipes_and_fifos_are_streamed_like_files() {
    use std::io::Write;
    use std::os::fd::AsRawFd;
    let dir = tempfile::tempdir().unwrap();
    let g = generated(&dir.path().join("raw"), 6_000, 9, true, 0.0);
    let raw_gz = std::fs::read(&g.reviews_path).unwrap();
    let ingest_from = |reviews: &Path, lake: &Path| {
        let mut opts = IngestOptions::new(reviews, &g.items_path, lake);
        // Several segments, so the stream is cut and parsed in parallel like a file.
        opts.segment_bytes = 1 << 16;
        opts.threads = 2;
        ingest(&opts)
    };
    let want = dir.path().join("want");
    let s = ingest_from(&g.reviews_path, &want).unwrap();
    assert!(s.reviews.parquet_files >= 3, "{}", s.reviews.parquet_files);

    // A FIFO, as made by mkfifo.
    let fifo = dir.path().join("reviews.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let writer = {
        let (fifo, bytes) = (fifo.clone(), raw_gz.clone());
        std::thread::spawn(move || {
            // Opening blocks until ingest opens the other end.
            let _ = std::fs::OpenOptions::new()
                .write(true)
                .open(&fifo)
                .and_then(|mut f| f.write_all(&bytes));
        })
    };
    let lake = dir.path().join("from_fifo");
    let s = ingest_from(&fifo, &lake).unwrap();
    writer.join().unwrap();
    assert_eq!(s.reviews.rows, g.review_lines);
    assert!(parquet_bytes(&lake.join("reviews")) == parquet_bytes(&want.join("reviews")));

    // An anonymous pipe by its /dev/fd path, as `<(...)` and /dev/stdin are, plain text
    // with a BOM this time.
    let plain = [
        &b"\xEF\xBB\xBF"[..],
        raw_lines(&g.reviews_path).join("\n").as_bytes(),
        b"\n",
    ]
    .concat();
    // The same bytes as a regular file, which is read through a memory map instead.
    let mapped = dir.path().join("bom.jsonl");
    std::fs::write(&mapped, &plain).unwrap();
    let lake = dir.path().join("from_map");
    let s = ingest_from(&mapped, &lake).unwrap();
    assert_eq!(s.reviews.rows, g.review_lines);
    assert_eq!(s.reviews.bytes, plain.len() as u64);
    assert!(parquet_bytes(&lake.join("reviews")) == parquet_bytes(&want.join("reviews")));
    let (reader, mut pipe_writer) = std::io::pipe().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = pipe_writer.write_all(&plain);
    });
    let lake = dir.path().join("from_pipe");
    let dev_fd = Path::new("/dev/fd").join(reader.as_raw_fd().to_string());
    let s = ingest_from(&dev_fd, &lake).unwrap();
    writer.join().unwrap();
    drop(reader);
    assert_eq!(s.reviews.rows, g.review_lines);
    assert!(parquet_bytes(&lake.join("reviews")) == parquet_bytes(&want.join("reviews")));

    // A pipe that is closed at once: no data, said as such.
    let (reader, pipe_writer) = std::io::pipe().unwrap();
    drop(pipe_writer);
    let dev_fd = Path::new("/dev/fd").join(reader.as_raw_fd().to_string());
    let err = ingest_from(&dev_fd, &dir.path().join("l"))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!("{}: has no data lines", dev_fd.display())),
        "{err}"
    );
    drop(reader);

    // A Parquet file through a pipe.
    let pq_bytes = {
        let batch = RecordBatch::try_from_iter(vec![(
            "user_id",
            std::sync::Arc::new(arrow::array::StringArray::from(vec!["U1"])) as _,
        )])
        .unwrap();
        let mut buf = Vec::new();
        let mut w = parquet::arrow::ArrowWriter::try_new(&mut buf, batch.schema(), None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        buf
    };
    let (reader, mut pipe_writer) = std::io::pipe().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = pipe_writer.write_all(&pq_bytes);
    });
    let dev_fd = Path::new("/dev/fd").join(reader.as_raw_fd().to_string());
    let err = ingest_from(&dev_fd, &dir.path().join("l"))
        .unwrap_err()
        .to_string();
    drop(reader);
    writer.join().unwrap();
    assert_eq!(
        err,
        format!(
            "{}: is a Parquet stream, and Parquet cannot be read from a pipe (its schema is in \
             a footer at the end of the file)\nhint: save it to a regular file and pass that \
             path",
            dev_fd.display()
        )
    );
}

/// One Parquet file holding `batch`.
fn write_parquet(path: &Path, batch: &arrow::array::RecordBatch) {
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(path).unwrap(),
        batch.schema(),
        None,
    )
    .unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
}

//! Shared fixtures for the command tests: generated data (fixed seeds, small sizes) and
//! plain readers of the raw files, independent of the code under test.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use rfmseg::config::{Config, Overrides};
use rfmseg::generate::{GenerateOptions, GenerateSummary, generate};
use rfmseg::ingest::{IngestOptions, ingest};
use rfmseg::pipeline::{RunOptions, RunSummary, run};

/// Generates `reviews` lines with `seed` into `dir`.
pub fn generated(
    dir: &Path,
    reviews: u64,
    seed: u64,
    gzip: bool,
    malformed: f64,
) -> GenerateSummary {
    generate(&GenerateOptions {
        reviews,
        seed,
        out: dir.to_path_buf(),
        gzip,
        malformed_rate: malformed,
    })
    .expect("generate")
}

/// Every line of a (possibly gzipped) JSONL file.
pub fn raw_lines(path: &Path) -> Vec<String> {
    let f = std::fs::File::open(path).expect("open raw file");
    let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::MultiGzDecoder::new(f))
    } else {
        Box::new(f)
    };
    BufReader::new(reader)
        .lines()
        .map(|l| l.expect("utf-8 line"))
        .collect()
}

/// All rows of a Parquet file, or of all Parquet files in a folder in file-name order.
pub fn read_parquet_dir(dir: &Path) -> Vec<RecordBatch> {
    let mut files: Vec<PathBuf> = if dir.is_file() {
        vec![dir.to_path_buf()]
    } else {
        std::fs::read_dir(dir)
            .expect("read lake dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
            .collect()
    };
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(&f).expect("open parquet"),
        )
        .expect("parquet reader")
        .build()
        .expect("build reader");
        for b in reader {
            out.push(b.expect("batch"));
        }
    }
    out
}

/// The Parquet files of a lake table, name -> bytes.
pub fn parquet_bytes(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("read lake dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

/// Names in a folder (to check that a failed command left nothing behind).
pub fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Writes a tiny lake: purchases (user, unix seconds, item) and items (asin, price).
pub fn tiny_lake(dir: &Path, purchases: &[(&str, i64, &str)], items: &[(&str, f64)]) -> PathBuf {
    let reviews: String = purchases
        .iter()
        .map(|(u, s, a)| {
            format!(
                r#"{{"rating": 5.0, "asin": "{a}", "parent_asin": "{a}", "user_id": "{u}", "timestamp": {}, "helpful_vote": 0, "verified_purchase": true}}"#,
                s * 1000
            ) + "\n"
        })
        .collect();
    let meta: String = items
        .iter()
        .map(|(a, p)| {
            format!(r#"{{"main_category": "Computers", "price": {p}, "parent_asin": "{a}"}}"#)
                + "\n"
        })
        .collect();
    std::fs::write(dir.join("r.jsonl"), reviews).unwrap();
    std::fs::write(dir.join("m.jsonl"), meta).unwrap();
    let lake = dir.join("lake");
    ingest(&IngestOptions::new(
        dir.join("r.jsonl"),
        dir.join("m.jsonl"),
        &lake,
    ))
    .unwrap();
    lake
}

/// The share of the customers planted as `archetype` whose label is `label`, from a
/// (archetype, label) -> customers table.
pub fn agreement(
    table: &std::collections::BTreeMap<(String, String), u64>,
    archetype: &str,
    label: &str,
) -> f64 {
    let total: u64 = table
        .iter()
        .filter(|((a, _), _)| a == archetype)
        .map(|(_, n)| n)
        .sum();
    table
        .get(&(archetype.to_string(), label.to_string()))
        .copied()
        .unwrap_or(0) as f64
        / total as f64
}

/// `run` embedded and quiet on `lake` into `out`, configured by the flags `overrides` (as
/// the command line would).
pub async fn run_with(
    lake: &Path,
    out: &Path,
    overrides: &Overrides,
) -> rfmseg::Result<RunSummary> {
    let config = Config::resolve(None, overrides)?;
    run(&RunOptions {
        lake: lake.to_path_buf(),
        out: out.to_path_buf(),
        config,
        progress: false,
        engine: Default::default(),
    })
    .await
}

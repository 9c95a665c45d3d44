//! Shared set-up for the benches: sizes from `RFMSEG_BENCH_REVIEWS` (comma-separated,
//! default 200000 so `cargo bench` finishes in minutes), and generated data cached in
//! `RFMSEG_BENCH_DATA` (default `target/bench-data`) so each size is generated once.

pub mod cluster;

use std::path::PathBuf;

use rfmseg::exec::ClusterUrl;
use rfmseg::exec::{DEFAULT_QUERY_TIMEOUT, Engine};
use rfmseg::generate::{GenerateOptions, GenerateSummary, generate};
use rfmseg::ingest::{IngestOptions, ingest};

/// Review counts to bench, e.g. `RFMSEG_BENCH_REVIEWS=1000000,10000000`.
pub fn sizes() -> Vec<u64> {
    std::env::var("RFMSEG_BENCH_REVIEWS")
        .ok()
        .map(|s| {
            s.split(',')
                .filter_map(|t| t.trim().replace('_', "").parse().ok())
                .collect()
        })
        .filter(|v: &Vec<u64>| !v.is_empty())
        .unwrap_or_else(|| vec![200_000])
}

/// The cache folder, created if missing (`rfmseg generate` writes into an existing
/// folder only, and with CARGO_TARGET_DIR set elsewhere the repository has no target/).
pub fn data_dir() -> PathBuf {
    let dir = std::env::var("RFMSEG_BENCH_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-data"));
    std::fs::create_dir_all(&dir).expect("create the bench data folder");
    dir
}

/// Raw files for `reviews` generated reviews (seed 42), generated once.
pub fn raw(reviews: u64) -> GenerateSummary {
    let dir = data_dir().join(format!("raw-{reviews}"));
    let summary = dir.join("generate_summary.json");
    if let Ok(bytes) = std::fs::read(&summary)
        && let Ok(s) = serde_json::from_slice::<GenerateSummary>(&bytes)
    {
        return s;
    }
    generate(&GenerateOptions {
        reviews,
        seed: 42,
        out: dir,
        gzip: false,
        malformed_rate: 0.0,
    })
    .expect("generate bench data")
}

/// The lake for `reviews` generated reviews, ingested once.
pub fn lake(reviews: u64) -> PathBuf {
    let lake = data_dir().join(format!("lake-{reviews}"));
    if lake.join(rfmseg::ingest::SUMMARY_FILE).exists() {
        return lake;
    }
    let g = raw(reviews);
    ingest(&IngestOptions::new(&g.reviews_path, &g.items_path, &lake)).expect("ingest bench data");
    lake
}

/// A multi-threaded runtime for async benches.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// The engine of a cluster at `url`, with the default work folder and query deadline.
pub fn cluster_engine(url: ClusterUrl) -> Engine {
    Engine::Cluster {
        url,
        work_dir: None,
        query_timeout: DEFAULT_QUERY_TIMEOUT,
    }
}

/// A running cluster to bench against instead of the embedded engine or the benches' own
/// local cluster: `RFMSEG_BENCH_CLUSTER=df://host:port`. Its executors must see the bench
/// data folder (`RFMSEG_BENCH_DATA`) at the same path, as for `rfmseg run --cluster`.
pub fn external_cluster() -> Option<Engine> {
    let url = std::env::var("RFMSEG_BENCH_CLUSTER").ok()?;
    let url = ClusterUrl::parse(&url).unwrap_or_else(|e| panic!("RFMSEG_BENCH_CLUSTER={url}: {e}"));
    Some(cluster_engine(url))
}

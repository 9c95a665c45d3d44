//! `rfmseg demo`: generate sample data, ingest it, and run the pipeline on it, in one
//! folder (`raw/`, `lake/`, `out/`), so a newcomer sees every step on one machine.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::generate::{GenerateOptions, GenerateSummary, generate};
use crate::ingest::{IngestOptions, IngestSummary, ingest};
use crate::quality::DataQuality;

/// What the demo did, for the summary it prints.
#[derive(Debug)]
pub struct DemoSummary {
    pub generated: GenerateSummary,
    pub ingested: IngestSummary,
    pub quality: DataQuality,
    pub quality_path: PathBuf,
    pub seconds: f64,
}

/// Runs the demo in `dir` with `reviews` generated reviews.
pub async fn run_demo(dir: &Path, reviews: u64, seed: u64, progress: bool) -> Result<DemoSummary> {
    let started = Instant::now();
    let raw = dir.join("raw");
    let generated = generate(&GenerateOptions {
        reviews,
        seed,
        out: raw.clone(),
        gzip: false,
        malformed_rate: 0.0,
    })?;
    let lake = dir.join("lake");
    let mut opts = IngestOptions::new(&generated.reviews_path, &generated.items_path, &lake);
    opts.progress = progress;
    let ingested = ingest(&opts)?;
    let config = Config::default();
    let (_ctx, quality) = crate::clean_lake(&lake, &config).await?;
    let out = dir.join("out");
    std::fs::create_dir_all(&out).map_err(|e| Error::io(&out, e))?;
    let quality_path = out.join("data_quality.json");
    crate::output::write_json(&quality_path, &quality)?;
    Ok(DemoSummary {
        generated,
        ingested,
        quality,
        quality_path,
        seconds: started.elapsed().as_secs_f64(),
    })
}

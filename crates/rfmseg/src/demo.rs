//! `rfmseg demo`: generate sample data, ingest it and run the whole job on it, in one
//! folder (`raw/`, `lake/`, `out/`), so a newcomer sees every step on one machine.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::config::Config;
use crate::error::Result;
use crate::generate::{GenerateOptions, GenerateSummary, generate};
use crate::ingest::{IngestOptions, IngestSummary, ingest};
use crate::pipeline::{RunOptions, RunSummary, run};
use crate::storage::{OutputKind, ensure_container};
use crate::text::group_thousands;

/// What the demo did, for the summary it prints.
#[derive(Debug)]
pub struct DemoSummary {
    pub dir: PathBuf,
    pub generated: GenerateSummary,
    pub ingested: IngestSummary,
    pub run: RunSummary,
    pub seconds: f64,
}

impl std::fmt::Display for DemoSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "generated {} review lines ({} users, {} items) in {}",
            group_thousands(self.generated.review_lines),
            group_thousands(self.generated.users),
            group_thousands(self.generated.items),
            self.dir.join("raw").display()
        )?;
        writeln!(
            f,
            "ingested {} reviews and {} items into {}",
            group_thousands(self.ingested.reviews.rows),
            group_thousands(self.ingested.items.rows),
            self.dir.join("lake").display()
        )?;
        write!(f, "{}", self.run)?;
        writeln!(f, "demo finished in {:.1} s", self.seconds)
    }
}

/// Runs the demo in `dir` with `reviews` generated reviews.
pub async fn run_demo(
    dir: &Path,
    reviews: u64,
    config: &Config,
    progress: bool,
) -> Result<DemoSummary> {
    let started = Instant::now();
    // Each of raw/, lake/ and out/ is swapped in whole by its own writer; the folder
    // around them is marked as the demo's, so a user's folder is never filled.
    ensure_container(dir, OutputKind::Demo)?;
    let generated = generate(&GenerateOptions {
        reviews,
        seed: config.kmeans.seed,
        out: dir.join("raw"),
        gzip: false,
        malformed_rate: 0.0,
    })?;
    let lake = dir.join("lake");
    let mut opts = IngestOptions::new(&generated.reviews_path, &generated.items_path, &lake);
    opts.progress = progress;
    let ingested = ingest(&opts)?;
    let run = run(&RunOptions {
        lake,
        out: dir.join("out"),
        config: config.clone(),
        progress,
        engine: Default::default(),
    })
    .await?;
    Ok(DemoSummary {
        dir: dir.to_path_buf(),
        generated,
        ingested,
        run,
        seconds: started.elapsed().as_secs_f64(),
    })
}

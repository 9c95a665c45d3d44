//! `rfmseg demo`: generate sample data, ingest it and run the whole job on it, in one
//! folder (`raw/`, `lake/`, `out/`), so a newcomer sees every step on one machine.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::config::Config;
use crate::error::Result;
use crate::generate::shop::{ShopOptions, ShopSummary, generate_transactions};
use crate::generate::{GenerateOptions, GenerateSummary, generate};
use crate::ingest::transactions::{TransactionsOptions, ingest_transactions};
use crate::ingest::{IngestOptions, IngestSummary, OnBadLine, ingest};
use crate::pipeline::{RunOptions, RunSummary, run};
use crate::storage::{OutputKind, ensure_container};
use crate::text::group_thousands;

/// What the demo generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoData {
    /// Amazon reviews and items.
    Reviews { reviews: u64 },
    /// A shop's transaction export.
    Transactions { lines: u64 },
}

/// What the demo generated.
#[derive(Debug)]
pub enum Generated {
    Reviews(GenerateSummary),
    Transactions(ShopSummary),
}

/// What the demo did, for the summary it prints.
#[derive(Debug)]
pub struct DemoSummary {
    pub dir: PathBuf,
    pub generated: Generated,
    pub ingested: IngestSummary,
    pub run: RunSummary,
    pub seconds: f64,
}

impl std::fmt::Display for DemoSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let raw = self.dir.join("raw");
        let lake = self.dir.join("lake");
        match &self.generated {
            Generated::Reviews(g) => {
                writeln!(
                    f,
                    "generated {} review lines ({} users, {} items) in {}",
                    group_thousands(g.review_lines),
                    group_thousands(g.users),
                    group_thousands(g.items),
                    raw.display()
                )?;
                writeln!(
                    f,
                    "ingested {} reviews and {} items into {}",
                    group_thousands(self.ingested.reviews.rows),
                    group_thousands(self.ingested.items.rows),
                    lake.display()
                )?;
            }
            Generated::Transactions(g) => {
                writeln!(
                    f,
                    "generated {} transaction lines ({} invoices) in {}",
                    group_thousands(g.lines),
                    group_thousands(g.invoices),
                    raw.display()
                )?;
                writeln!(
                    f,
                    "ingested {} transaction lines into {}",
                    group_thousands(self.ingested.transactions.as_ref().map_or(0, |t| t.rows)),
                    lake.display()
                )?;
            }
        }
        write!(f, "{}", self.run)?;
        writeln!(f, "demo finished in {:.1} s", self.seconds)
    }
}

/// Runs the demo in `dir` on generated `data`.
pub async fn run_demo(
    dir: &Path,
    data: DemoData,
    config: &Config,
    progress: bool,
) -> Result<DemoSummary> {
    let started = Instant::now();
    // Each of raw/, lake/ and out/ is swapped in whole by its own writer; the folder
    // around them is marked as the demo's, so a user's folder is never filled.
    ensure_container(dir, OutputKind::Demo)?;
    let lake = dir.join("lake");
    let (generated, ingested) = match data {
        DemoData::Reviews { reviews } => {
            let g = generate(&GenerateOptions {
                reviews,
                seed: config.kmeans.seed,
                out: dir.join("raw"),
                gzip: false,
                malformed_rate: 0.0,
            })?;
            let mut opts = IngestOptions::new(&g.reviews_path, &g.items_path, &lake);
            opts.progress = progress;
            let ingested = ingest(&opts)?;
            (Generated::Reviews(g), ingested)
        }
        DemoData::Transactions { lines } => {
            let g = generate_transactions(&ShopOptions {
                lines,
                seed: config.kmeans.seed,
                out: dir.join("raw"),
                malformed_rate: 0.0,
            })?;
            let ingested = ingest_transactions(&TransactionsOptions {
                inputs: vec![g.transactions_path.clone()],
                out: lake.clone(),
                source: g.mapping.clone(),
                on_bad_line: OnBadLine::Fail,
            })?;
            (Generated::Transactions(g), ingested)
        }
    };
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

//! `rfmseg ingest`: raw Amazon Reviews 2023 files (JSONL, JSONL.gz, or the Parquet
//! conversion) into the lake: Parquet, zstd, only the columns the pipeline needs.
//!
//! Place in the flow: raw -> **lake** -> cleaned -> features -> model -> report.
//!
//! Streaming with bounded memory: a reader thread cuts the (decompressed) input into
//! segments of whole lines, workers parse a segment each and write it as one Parquet part
//! file. Segment boundaries depend only on the decompressed bytes, so a file and its gzip
//! give byte-identical lakes, whatever the number of threads. The lake is written under a
//! temporary name beside `--out` and renamed at the end: a failed ingest leaves no lake.

mod checks;
mod json_scan;
mod parquet_input;
mod segments;
pub mod tables;
pub mod transactions;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
pub use crate::lake::{Table, items_schema, reviews_schema};
use crate::storage::{Location, Output, OutputKind, S3Url, ScratchDir, s3, write_json};
use crate::text::group_thousands;

/// What to do with a line that cannot be read, in the spirit of Spark's FAILFAST,
/// DROPMALFORMED and PERMISSIVE (with the bad records kept aside).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnBadLine {
    /// Stop at the first bad line, naming the file and line.
    #[default]
    Fail,
    /// Drop bad lines and count them.
    Skip,
    /// Drop bad lines, and write each with its file, line number and reason to
    /// `<lake>/quarantine/<table>.jsonl`, so nothing is lost.
    Quarantine,
}

impl std::str::FromStr for OnBadLine {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "fail" => Ok(OnBadLine::Fail),
            "skip" => Ok(OnBadLine::Skip),
            "quarantine" => Ok(OnBadLine::Quarantine),
            other => Err(Error::Config {
                key: "--on-bad-line".into(),
                message: format!("{other:?}: expected fail, skip or quarantine"),
            }),
        }
    }
}

/// Everything `ingest` needs.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Reviews: a file or a folder of `.jsonl`, `.jsonl.gz`, `.json(.gz)`, `.parquet` files,
    /// or a pipe of JSON Lines (plain or gzip), read once as a stream.
    pub reviews: PathBuf,
    /// Item metadata (the `meta_*` files), same forms.
    pub items: PathBuf,
    /// The lake folder to write; replaced whole if it is already an rfmseg lake.
    pub out: PathBuf,
    pub on_bad_line: OnBadLine,
    /// Parsing threads; 0 means one per core.
    pub threads: usize,
    /// Decompressed bytes per segment, the unit of parallel parsing. 64 MiB keeps memory
    /// near (threads + 3) segments.
    pub segment_bytes: usize,
    /// Consecutive segments of reviews per Parquet part file. A file holds a row group per
    /// customer bucket, so this sets the row groups' size: 4 makes them about 30,000 rows
    /// (from 7,600 at one), for the parsed rows of at most a few files held at once.
    pub segments_per_file: usize,
    /// Draw a progress bar on stderr (only shown when stderr is a terminal).
    pub progress: bool,
}

impl IngestOptions {
    pub fn new(
        reviews: impl Into<PathBuf>,
        items: impl Into<PathBuf>,
        out: impl Into<PathBuf>,
    ) -> Self {
        IngestOptions {
            reviews: reviews.into(),
            items: items.into(),
            out: out.into(),
            on_bad_line: OnBadLine::Fail,
            threads: 0,
            segment_bytes: 64 << 20,
            segments_per_file: 4,
            progress: false,
        }
    }
}

/// Counts for one table, kept in `<lake>/_ingest.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TableSummary {
    pub files: Vec<PathBuf>,
    /// Input bytes as stored (compressed size for .gz).
    pub bytes: u64,
    /// Lines read (for Parquet input: rows read).
    pub lines: u64,
    pub blank_lines: u64,
    pub bad_lines: u64,
    /// Rows written to the lake.
    pub rows: u64,
    pub parquet_files: u64,
}

/// What `ingest` did; written to `<lake>/_ingest.json` and returned.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IngestSummary {
    pub reviews: TableSummary,
    pub items: TableSummary,
    /// A shop's transactions (`ingest --transactions`), with the mapping used; then the
    /// reviews and items are empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transactions: Option<TableSummary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<crate::config::SourceConfig>,
    pub on_bad_line: OnBadLine,
    pub seconds: f64,
    /// The lake folder (not saved: the summary lives inside it).
    #[serde(skip)]
    pub lake: PathBuf,
}

impl std::fmt::Display for IngestSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tables: Vec<(&str, &TableSummary)> = match &self.transactions {
            Some(t) => vec![("transactions", t)],
            None => vec![("reviews", &self.reviews), ("items", &self.items)],
        };
        for (name, t) in tables {
            writeln!(
                f,
                "{name}: {} rows from {} lines ({} bad, {} blank), {} MB in {} file(s)",
                group_thousands(t.rows),
                group_thousands(t.lines),
                group_thousands(t.bad_lines),
                group_thousands(t.blank_lines),
                t.bytes / 1_000_000,
                t.files.len()
            )?;
        }
        let bad = self.reviews.bad_lines
            + self.items.bad_lines
            + self.transactions.as_ref().map_or(0, |t| t.bad_lines);
        if self.on_bad_line == OnBadLine::Quarantine && bad > 0 {
            writeln!(
                f,
                "bad lines kept in {}",
                self.lake.join("quarantine").display()
            )?;
        }
        writeln!(
            f,
            "lake written to {} in {:.1} s",
            self.lake.display(),
            self.seconds
        )
    }
}

/// What the ingest read and wrote, kept in the lake.
pub const SUMMARY_FILE: &str = "_ingest.json";

/// Ingests reviews and items into a new lake at `opts.out`.
pub fn ingest(opts: &IngestOptions) -> Result<IngestSummary> {
    let stage = InputStage::default();
    ingest_staged(opts, &stage).map_err(|e| stage.rename(e))
}

fn ingest_staged(opts: &IngestOptions, stage: &InputStage) -> Result<IngestSummary> {
    let started = Instant::now();
    let review_files = input_files(&opts.reviews, "--reviews", &DATA_SUFFIXES, stage)?;
    let item_files = input_files(&opts.items, "--items", &DATA_SUFFIXES, stage)?;
    let output = Output::create_blocking(&opts.out, OutputKind::Lake)?;
    let tmp = output.path();

    let mut reviews = ingest_table(Table::Reviews, &review_files, tmp, opts)?;
    let mut items = ingest_table(Table::Items, &item_files, tmp, opts)?;
    for t in [&mut reviews, &mut items] {
        t.files = t.files.iter().map(|f| stage.shown(f)).collect();
    }
    let summary = IngestSummary {
        reviews,
        items,
        on_bad_line: opts.on_bad_line,
        seconds: started.elapsed().as_secs_f64(),
        lake: opts.out.clone(),
        ..IngestSummary::default()
    };
    write_json(&tmp.join(SUMMARY_FILE), &summary)?;
    output.commit_blocking()?;
    Ok(summary)
}

/// Reads a lake's `_ingest.json`.
pub fn read_summary(lake: &Path) -> Result<IngestSummary> {
    let path = lake.join(SUMMARY_FILE);
    let bytes = fs::read(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::BadInput {
            path: lake.to_path_buf(),
            message: "is not an rfmseg lake (no _ingest.json)".into(),
            hint: "create it with `rfmseg ingest --reviews ... --items ... --out <lake>`".into(),
        },
        _ => Error::io(&path, e),
    })?;
    let summary: IngestSummary = serde_json::from_slice(&bytes).map_err(|e| Error::BadInput {
        path,
        message: format!("unreadable: {e}"),
        hint: "re-run `rfmseg ingest`".into(),
    })?;
    Ok(IngestSummary {
        lake: lake.to_path_buf(),
        ..summary
    })
}

fn ingest_table(
    table: Table,
    files: &[PathBuf],
    lake: &Path,
    opts: &IngestOptions,
) -> Result<TableSummary> {
    let dir = lake.join(table.dir_name());
    fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let mut summary = TableSummary::default();
    let mut quarantine = Vec::new();
    for (file_idx, file) in files.iter().enumerate() {
        let counts = if is_parquet(file)? {
            parquet_input::ingest_parquet(table, file, file_idx, &dir)?
        } else {
            segments::ingest_jsonl(table, file, file_idx, &dir, opts, &mut quarantine)?
        };
        if counts.rows == 0 {
            let what = if counts.lines == counts.blank_lines {
                "has no data lines".to_string()
            } else {
                format!(
                    "has no readable {} rows: all {} lines were bad",
                    table.dir_name(),
                    counts.bad_lines
                )
            };
            return Err(Error::BadInput {
                path: file.clone(),
                message: what,
                hint: format!(
                    "pass an Amazon Reviews 2023 {} file (JSON Lines, one object per line)",
                    match table {
                        Table::Reviews => "reviews",
                        Table::Items => "meta_*",
                    }
                ),
            });
        }
        summary.files.push(file.clone());
        summary.bytes += counts.bytes;
        summary.lines += counts.lines;
        summary.blank_lines += counts.blank_lines;
        summary.bad_lines += counts.bad_lines;
        summary.rows += counts.rows;
        summary.parquet_files += counts.parquet_files;
    }
    if opts.on_bad_line == OnBadLine::Quarantine && !quarantine.is_empty() {
        segments::write_quarantine(&lake.join("quarantine"), table, &quarantine)?;
    }
    Ok(summary)
}

/// Counts for one input file.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FileCounts {
    pub bytes: u64,
    pub lines: u64,
    pub blank_lines: u64,
    pub bad_lines: u64,
    pub rows: u64,
    pub parquet_files: u64,
}

const DATA_SUFFIXES: [&str; 7] = [
    ".jsonl",
    ".jsonl.gz",
    ".json",
    ".json.gz",
    ".ndjson",
    ".ndjson.gz",
    ".parquet",
];

/// Local copies of inputs given as `s3://` URLs, made before the ingest reads them and
/// deleted after: the readers need files they can seek (Parquet) and read at disk speed.
/// Messages and the summary name the objects, not the copies.
#[derive(Default)]
pub(crate) struct InputStage {
    dir: std::cell::RefCell<Option<ScratchDir>>,
}

impl InputStage {
    /// Downloads the object at `url`, or the objects below it whose names end in one of
    /// `suffixes`, in name order.
    fn fetch(&self, url: &S3Url, flag: &str, suffixes: &[&str]) -> Result<Vec<PathBuf>> {
        let root = {
            let mut dir = self.dir.borrow_mut();
            if dir.is_none() {
                *dir = Some(ScratchDir::create(
                    &std::env::temp_dir().join("rfmseg-s3-input"),
                )?);
            }
            dir.as_ref()
                .map(|d| d.path().to_path_buf())
                .unwrap_or_default()
        };
        let listed = {
            let url = url.clone();
            s3::block_on(async move { s3::list(&url).await })?
        };
        let mut keys: Vec<String> = listed
            .into_iter()
            .map(|o| o.location.to_string())
            .filter(|k| suffixes.iter().any(|s| k.ends_with(s)))
            .collect();
        keys.sort();
        if keys.is_empty() {
            keys.push(url.key.clone());
        }
        let mut files = Vec::new();
        for key in keys {
            let from = S3Url {
                bucket: url.bucket.clone(),
                key,
            };
            let to = root.join(&from.bucket).join(&from.key);
            if let Some(parent) = to.parent() {
                fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
            }
            let shown = from.to_path();
            let (src, dst) = (from.clone(), to.clone());
            let fetched = s3::block_on(async move { s3::download_file(&src, &dst).await });
            match fetched {
                Ok(0) => {
                    return Err(Error::BadInput {
                        path: shown,
                        message: "is empty".into(),
                        hint: format!("check the object given to {flag}"),
                    });
                }
                Ok(_) => files.push(to),
                Err(Error::S3 { message, .. }) if message.contains("not found") => {
                    return Err(Error::BadInput {
                        path: shown,
                        message: "no such object, and no data files below it".into(),
                        hint: format!(
                            "check the URL given to {flag}: a file, or a prefix of {}",
                            suffixes.join(", ")
                        ),
                    });
                }
                Err(e) => return Err(e),
            }
        }
        Ok(files)
    }

    /// How `path` is named to the user: a local copy by the object it came from.
    pub(crate) fn shown(&self, path: &Path) -> PathBuf {
        let dir = self.dir.borrow();
        match dir.as_ref().and_then(|d| path.strip_prefix(d.path()).ok()) {
            Some(rest) => PathBuf::from(format!("s3://{}", rest.to_string_lossy())),
            None => path.to_path_buf(),
        }
    }

    /// `e` naming objects instead of their local copies.
    pub(crate) fn rename(&self, e: Error) -> Error {
        e.map_paths(|p| self.shown(p))
    }
}

/// The data files behind a `--reviews`/`--items`/`--transactions` argument: the file, or
/// the files of the folder whose names end in one of `suffixes`, in name order. Objects
/// on S3 are copied to local files first (see [`InputStage`]).
pub(crate) fn input_files(
    path: &Path,
    flag: &str,
    suffixes: &[&str],
    stage: &InputStage,
) -> Result<Vec<PathBuf>> {
    if let Location::S3(url) = Location::of(path)? {
        return stage.fetch(&url, flag, suffixes);
    }
    let meta = fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::BadInput {
            path: path.to_path_buf(),
            message: "does not exist".into(),
            hint: format!("check the path given to {flag}"),
        },
        _ => Error::io(path, e),
    })?;
    let files = if meta.is_dir() {
        let mut files: Vec<PathBuf> = fs::read_dir(path)
            .map_err(|e| Error::io(path, e))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_file()
                    && p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| suffixes.iter().any(|s| n.ends_with(s)))
            })
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(Error::BadInput {
                path: path.to_path_buf(),
                message: "is a folder with no data files".into(),
                hint: format!(
                    "{flag} takes a file, or a folder of {}",
                    suffixes.join(", ")
                ),
            });
        }
        files
    } else {
        vec![path.to_path_buf()]
    };
    for f in &files {
        // A pipe or FIFO (`/dev/stdin`, `<(zcat ...)`) reports no length; it is streamed,
        // and one that yields nothing is reported as having no data lines.
        let meta = fs::metadata(f).map_err(|e| Error::io(f, e))?;
        if meta.is_file() && meta.len() == 0 {
            return Err(Error::BadInput {
                path: f.clone(),
                message: "is empty".into(),
                hint: format!("check the file given to {flag}"),
            });
        }
    }
    Ok(files)
}

/// Whether a regular file starts with the Parquet magic. A pipe is never opened here: what
/// is read from it is gone, so it is sniffed once, by the JSON Lines reader.
fn is_parquet(path: &Path) -> Result<bool> {
    use std::io::Read;
    if !fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .is_file()
    {
        return Ok(false);
    }
    let mut magic = [0u8; 4];
    let mut f = fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let n = f.read(&mut magic).map_err(|e| Error::io(path, e))?;
    Ok(n == 4 && &magic == b"PAR1")
}

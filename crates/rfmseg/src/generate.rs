//! `rfmseg generate`: synthetic data in the exact raw format of Amazon Reviews 2023
//! (Electronics), the first step of raw → lake → features → model → report.
//!
//! It writes `Electronics.jsonl` and `meta_Electronics.jsonl` (optionally gzipped), a
//! `truth.csv` of the customers planted with a known behaviour in the last two years
//! (loyal, new, churned, one-time big spender, occasional), and `generate_summary.json`.
//! Tests and benches use it as their fixture source, so it is:
//!
//! - deterministic: the same options give byte-identical files, on any number of threads;
//! - streaming: memory does not grow with the number of reviews (blocks of users, item
//!   attributes recomputed from (seed, index) instead of stored);
//! - realistic where readers trip: prices as numbers, `"None"`, `"$1,299.99"`, `"—"` or
//!   null; irregular `details`; duplicates; ratings of 0; negative helpful votes; escapes
//!   and raw UTF-8 in text; optional malformed lines.
//!
//! Submodules: `catalogue` (items and the meta file), `reviews` (users and review lines),
//! `pipeline` (ordered parallel writing, parallel gzip), `vocab`, `bytes`, `rng`; and
//! `shop`, a shop's transaction export for `ingest --transactions`.

mod bytes;
mod catalogue;
mod pipeline;
mod reviews;
mod rng;
pub mod shop;
mod vocab;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::storage::{OutputDir, OutputKind, write_json};
use crate::text::group_thousands;
use catalogue::{Catalogue, MetaTally};
use pipeline::{Sink, deflate_part, ordered_parallel};
use reviews::{Archetype, Pools, ReviewSource, Tally, USERS_PER_BLOCK};

/// Reviews per catalogue item, as in the real Electronics data (43.9M / 1.6M).
const REVIEWS_PER_ITEM: u64 = 27;
/// The smallest catalogue, so tiny runs still have a few items to choose from.
const MIN_ITEMS: u64 = 10;
/// Items per meta block handed between threads.
const ITEMS_PER_BLOCK: u64 = 2048;
/// The largest `--reviews` accepted: 10 billion lines is about 5 TB of JSON, far past any
/// real use, and it keeps item indices inside the 41-bit ASIN code.
pub const MAX_REVIEWS: u64 = 10_000_000_000;

/// What to generate and where.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateOptions {
    /// Lines in the reviews file, exactly (duplicates and malformed lines included).
    pub reviews: u64,
    /// Seed for every random choice; the same seed gives the same bytes.
    pub seed: u64,
    /// Output directory, created if missing.
    pub out: PathBuf,
    /// Write `.jsonl.gz` (gzip, fast level) instead of `.jsonl`.
    pub gzip: bool,
    /// Probability in [0, 1) that a review line is replaced by an irregular one: a third
    /// each truncated or with a wrong type (bad lines for `--on-bad-line`), and without the
    /// user_id key (data with a NULL user_id, dropped by cleaning).
    pub malformed_rate: f64,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            reviews: 200_000,
            seed: 42,
            out: PathBuf::from("data"),
            gzip: false,
            malformed_rate: 0.0,
        }
    }
}

/// What was written, also saved as `generate_summary.json`. Counts of lines are counts in
/// the reviews file; counts described as "well-formed" leave the bad lines (truncated,
/// wrong type) out and include the lines without user_id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerateSummary {
    pub seed: u64,
    /// Every line of the reviews file: exactly `GenerateOptions::reviews`.
    pub review_lines: u64,
    /// Lines that are an exact byte copy of the line before.
    pub duplicate_lines: u64,
    /// Lines cut in the middle (not valid JSON).
    pub malformed_truncated: u64,
    /// Lines with `"timestamp"` as a date string or `"rating"` as a word.
    pub malformed_wrong_type: u64,
    /// Well-formed lines without the `"user_id"` key. Not bad lines: ingest keeps them with
    /// a NULL user_id (a missing key is NULL, DESIGN §3) and cleaning drops them as
    /// "missing user_id", after removing the exact duplicates among them.
    pub missing_user_id_lines: u64,
    /// Distinct users with at least one line written.
    pub users: u64,
    /// Catalogue size (items that reviews may refer to).
    pub items: u64,
    /// Items with a line in the meta file (about 3% of the catalogue is left out on purpose).
    pub meta_lines: u64,
    /// Users in truth.csv by archetype (every archetype listed, even with 0 users).
    pub planted: BTreeMap<String, u64>,
    pub reviews_path: PathBuf,
    pub items_path: PathBuf,
    pub truth_path: PathBuf,
    /// Well-formed lines with `"verified_purchase": true`.
    pub verified_lines: u64,
    /// Well-formed lines with `"rating": 0.0`.
    pub rating_zero_lines: u64,
    /// Well-formed lines with a negative `"helpful_vote"`.
    pub negative_helpful_lines: u64,
    /// The newest review timestamp (Unix ms); always on 2023-09-13 UTC.
    pub newest_timestamp_ms: i64,
    /// Meta lines whose price is `null` or `"None"`.
    pub meta_price_missing: u64,
    /// Meta lines whose price is a string no parser should accept (`"—"`, `"n/a"`).
    pub meta_price_unparseable: u64,
    /// Meta lines whose price is corrupt (0, or above 100,000).
    pub meta_price_corrupt: u64,
    /// Meta lines whose main_category is on the pipeline's exclusion list.
    pub meta_excluded_category: u64,
    /// Meta lines whose main_category is null.
    pub meta_null_category: u64,
}

impl std::fmt::Display for GenerateSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "wrote {} review lines ({} users) to {}, {} items to {}, truth in {}",
            group_thousands(self.review_lines),
            group_thousands(self.users),
            self.reviews_path.display(),
            group_thousands(self.meta_lines),
            self.items_path.display(),
            self.truth_path.display()
        )
    }
}

/// Generates the files described in the module docs into `opts.out`.
pub fn generate(opts: &GenerateOptions) -> Result<GenerateSummary> {
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 8);
    generate_with_workers(opts, workers)
}

fn validate(opts: &GenerateOptions) -> Result<()> {
    if opts.reviews == 0 || opts.reviews > MAX_REVIEWS {
        return Err(Error::Config {
            key: "--reviews".into(),
            message: format!("must be between 1 and {MAX_REVIEWS}, got {}", opts.reviews),
        });
    }
    if !(0.0..1.0).contains(&opts.malformed_rate) {
        return Err(Error::Config {
            key: "--malformed-rate".into(),
            message: format!(
                "must be in [0, 1) (a probability per review line), got {}",
                opts.malformed_rate
            ),
        });
    }
    Ok(())
}

/// `generate` on exactly `workers` generator threads (the output does not depend on it).
fn generate_with_workers(opts: &GenerateOptions, workers: usize) -> Result<GenerateSummary> {
    validate(opts)?;
    let output = OutputDir::create(&opts.out, OutputKind::Generated)?;
    let ext = if opts.gzip { ".jsonl.gz" } else { ".jsonl" };
    let reviews_name = format!("Electronics{ext}");
    let items_name = format!("meta_Electronics{ext}");
    let truth_name = "truth.csv";
    let tmp = output.path();

    let cat = Catalogue::new(opts.seed, (opts.reviews / REVIEWS_PER_ITEM).max(MIN_ITEMS));
    let meta = write_meta(&cat, &tmp.join(&items_name), opts.gzip, workers)?;
    let pools = Pools::scan(&cat);
    let source = ReviewSource::new(opts.seed, &cat, &pools, opts.malformed_rate);
    let tally = write_reviews(
        &source,
        opts.reviews,
        &tmp.join(&reviews_name),
        &tmp.join(truth_name),
        opts.gzip,
        workers,
    )?;

    let planted = Archetype::ALL
        .iter()
        .map(|&a| (a.name().to_string(), tally.planted[a as usize - 1]))
        .collect();
    let summary = GenerateSummary {
        seed: opts.seed,
        review_lines: tally.lines,
        duplicate_lines: tally.duplicate_lines,
        malformed_truncated: tally.truncated,
        malformed_wrong_type: tally.wrong_type,
        missing_user_id_lines: tally.missing_user,
        users: tally.users,
        items: cat.len(),
        meta_lines: meta.lines,
        planted,
        // Where they are once the folder is in place.
        reviews_path: opts.out.join(reviews_name),
        items_path: opts.out.join(items_name),
        truth_path: opts.out.join(truth_name),
        verified_lines: tally.verified,
        rating_zero_lines: tally.rating_zero,
        negative_helpful_lines: tally.negative_helpful,
        newest_timestamp_ms: reviews::NEWEST_MS,
        meta_price_missing: meta.price_missing,
        meta_price_unparseable: meta.price_unparseable,
        meta_price_corrupt: meta.price_corrupt,
        meta_excluded_category: meta.excluded_category,
        meta_null_category: meta.null_category,
    };
    write_json(&tmp.join("generate_summary.json"), &summary)?;
    output.commit()?;
    Ok(summary)
}

/// Writes the meta file by walking item indices in blocks.
fn write_meta(cat: &Catalogue, path: &Path, gzip: bool, workers: usize) -> Result<MetaTally> {
    let mut sink = Sink::create(path, gzip)?;
    let mut total = MetaTally::default();
    let blocks = cat.len().div_ceil(ITEMS_PER_BLOCK);
    ordered_parallel(
        workers,
        Some(blocks),
        |b| -> Result<_> {
            let mut raw = Vec::with_capacity(ITEMS_PER_BLOCK as usize * 900);
            let mut tally = MetaTally::default();
            let end = ((b + 1) * ITEMS_PER_BLOCK).min(cat.len());
            for i in b * ITEMS_PER_BLOCK..end {
                cat.write_meta_line(&mut raw, i, &mut tally);
            }
            let part = if gzip {
                Some(deflate_part(&raw)?)
            } else {
                None
            };
            Ok((raw, tally, part))
        },
        |block| {
            let (raw, tally, part) = block?;
            sink.write(&raw, part.as_ref())?;
            total.add(&tally);
            Ok(true)
        },
    )?;
    sink.finish()?;
    Ok(total)
}

/// Writes review blocks in order until exactly `lines` lines are out. The last block is
/// cut mid-way (even mid-user); a planted user cut short is left out of truth.csv.
fn write_reviews(
    source: &ReviewSource<'_>,
    lines: u64,
    reviews_path: &Path,
    truth_path: &Path,
    gzip: bool,
    workers: usize,
) -> Result<Tally> {
    let mut sink = Sink::create(reviews_path, gzip)?;
    let truth_file = File::create(truth_path).map_err(|e| Error::io(truth_path, e))?;
    let mut truth = BufWriter::with_capacity(1 << 16, truth_file);
    truth
        .write_all(b"user_id,archetype\n")
        .map_err(|e| Error::io(truth_path, e))?;
    let mut total = Tally::default();
    let mut remaining = lines;
    // Every user writes at least one line, so no more blocks than this are ever needed;
    // the bound keeps small runs from generating blocks nobody reads.
    let max_blocks = lines.div_ceil(USERS_PER_BLOCK);
    ordered_parallel(
        workers,
        Some(max_blocks),
        |b| -> Result<_> {
            let block = source.block(b);
            let part = if gzip {
                Some(deflate_part(&block.raw)?)
            } else {
                None
            };
            Ok((block, part))
        },
        |generated| {
            let (block, part) = generated?;
            let n = block.lines.len() as u64;
            let (bytes, tally, truth_rows) = if n <= remaining {
                let t = Tally::of(&block.lines);
                (&block.raw[..], t, block.truth_ends.len())
            } else {
                let k = remaining as usize;
                let end = block.lines[k - 1].end;
                let t = Tally::of(&block.lines[..k]);
                // Users are written in order, so the completed planted users of a prefix
                // are the first ones of the block.
                (&block.raw[..end], t, t.planted_users() as usize)
            };
            sink.write(bytes, part.as_ref())?;
            let truth_end = truth_rows.checked_sub(1).map_or(0, |r| block.truth_ends[r]);
            truth
                .write_all(&block.truth[..truth_end])
                .map_err(|e| Error::io(truth_path, e))?;
            total.add(&tally);
            remaining -= tally.lines;
            Ok(remaining > 0)
        },
    )?;
    sink.finish()?;
    truth.flush().map_err(|e| Error::io(truth_path, e))?;
    if total.lines != lines {
        return Err(Error::Internal(format!(
            "wrote {} review lines instead of {lines}",
            total.lines
        )));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::collections::{HashMap, HashSet};

    const REVIEW_KEYS: [&str; 10] = [
        "rating",
        "title",
        "text",
        "images",
        "asin",
        "parent_asin",
        "user_id",
        "timestamp",
        "helpful_vote",
        "verified_purchase",
    ];
    const META_KEYS: [&str; 14] = [
        "main_category",
        "title",
        "average_rating",
        "rating_number",
        "features",
        "description",
        "price",
        "images",
        "videos",
        "store",
        "categories",
        "details",
        "parent_asin",
        "bought_together",
    ];
    /// 2023-09-13T00:00Z, 2023-09-14T00:00Z and 1996-01-01T00:00Z in Unix ms.
    const DAY_2023_09_13: i64 = 1_694_563_200_000;
    const DAY_2023_09_14: i64 = 1_694_649_600_000;
    const DAY_1996_01_01: i64 = 820_454_400_000;

    fn run(reviews: u64, seed: u64, rate: f64) -> (tempfile::TempDir, GenerateSummary) {
        let dir = tempfile::tempdir().unwrap();
        let opts = GenerateOptions {
            reviews,
            seed,
            out: dir.path().join("data"),
            gzip: false,
            malformed_rate: rate,
        };
        let summary = generate(&opts).unwrap();
        (dir, summary)
    }

    fn lines(path: &Path) -> Vec<Vec<u8>> {
        let bytes = std::fs::read(path).unwrap();
        assert!(
            bytes.ends_with(b"\n"),
            "{} must end with a newline",
            path.display()
        );
        bytes[..bytes.len() - 1]
            .split(|&b| b == b'\n')
            .map(<[u8]>::to_vec)
            .collect()
    }

    fn parse(line: &[u8]) -> serde_json::Map<String, Value> {
        match serde_json::from_slice::<Value>(line) {
            Ok(Value::Object(m)) => m,
            other => panic!(
                "not a JSON object ({other:?}): {}",
                String::from_utf8_lossy(line)
            ),
        }
    }

    fn truth(path: &Path) -> Vec<(String, String)> {
        let text = std::fs::read_to_string(path).unwrap();
        let mut rows = text.lines();
        assert_eq!(rows.next(), Some("user_id,archetype"));
        rows.map(|r| {
            let (u, a) = r.split_once(',').unwrap();
            (u.to_string(), a.to_string())
        })
        .collect()
    }

    /// The price the pipeline's parse_price would give, for checking planted purchases.
    fn usable_price(v: &Value) -> Option<f64> {
        let p = match v {
            Value::Number(n) => n.as_f64()?,
            Value::String(s) => s.trim_start_matches('$').replace(',', "").parse().ok()?,
            _ => return None,
        };
        (p > 0.0 && p <= 100_000.0).then_some(p)
    }

    fn is_user_id(s: &str) -> bool {
        s.len() == 28
            && s.starts_with('A')
            && s.bytes()
                .all(|c| c.is_ascii_uppercase() || (b'2'..=b'7').contains(&c))
    }

    fn is_asin(s: &str) -> bool {
        s.len() == 10
            && s.starts_with("B0")
            && s.bytes()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    }

    #[test]
    fn same_seed_gives_identical_files_and_another_seed_differs() {
        let (a, _) = run(6_000, 7, 0.0);
        let (b, _) = run(6_000, 7, 0.0);
        let (c, _) = run(6_000, 8, 0.0);
        for f in ["Electronics.jsonl", "meta_Electronics.jsonl", "truth.csv"] {
            let read =
                |d: &tempfile::TempDir| std::fs::read(d.path().join("data").join(f)).unwrap();
            assert!(
                read(&a) == read(&b),
                "{f} differs between two runs with seed 7"
            );
            assert!(read(&a) != read(&c), "{f} is the same for seeds 7 and 8");
        }
    }

    #[test]
    fn output_does_not_depend_on_the_number_of_threads() {
        let dirs: Vec<_> = [1, 3]
            .into_iter()
            .map(|workers| {
                let dir = tempfile::tempdir().unwrap();
                let opts = GenerateOptions {
                    reviews: 25_000,
                    seed: 3,
                    out: dir.path().to_path_buf(),
                    malformed_rate: 0.02,
                    ..GenerateOptions::default()
                };
                generate_with_workers(&opts, workers).unwrap();
                dir
            })
            .collect();
        for f in ["Electronics.jsonl", "meta_Electronics.jsonl", "truth.csv"] {
            let a = std::fs::read(dirs[0].path().join(f)).unwrap();
            let b = std::fs::read(dirs[1].path().join(f)).unwrap();
            assert!(a == b, "{f} differs between 1 and 3 workers");
        }
    }

    /// The line count is exact even when it ends inside a block or inside a user, and a
    /// planted user cut short is not in truth.csv.
    #[test]
    fn writes_exactly_the_requested_number_of_lines() {
        let user_of = |l: &[u8]| parse(l)["user_id"].as_str().unwrap().to_string();
        for n in [1, 2, 37, 9_833, 12_001] {
            let (_dir, s) = run(n, 11, 0.0);
            let reviews = lines(&s.reviews_path);
            assert_eq!(reviews.len() as u64, n);
            assert_eq!(s.review_lines, n);
            let mut written: HashMap<String, usize> = HashMap::new();
            for l in &reviews {
                *written.entry(user_of(l)).or_default() += 1;
            }
            assert_eq!(s.users, written.len() as u64);

            // Regenerate the blocks whole: truth.csv must hold exactly the planted users
            // whose every line made it into the file, in order.
            let cat = Catalogue::new(11, (n / REVIEWS_PER_ITEM).max(MIN_ITEMS));
            let pools = Pools::scan(&cat);
            let source = ReviewSource::new(11, &cat, &pools, 0.0);
            let mut whole: HashMap<String, usize> = HashMap::new();
            let mut planted = Vec::new();
            for b in 0..n.div_ceil(USERS_PER_BLOCK) {
                let block = source.block(b);
                for l in block.raw.split(|&c| c == b'\n').filter(|l| !l.is_empty()) {
                    *whole.entry(user_of(l)).or_default() += 1;
                }
                let text = String::from_utf8(block.truth).unwrap();
                planted.extend(
                    text.lines()
                        .map(|r| r.split_once(',').unwrap().0.to_string()),
                );
            }
            let expected: Vec<String> = planted
                .into_iter()
                .filter(|u| written.get(u) == whole.get(u))
                .collect();
            let rows: Vec<String> = truth(&s.truth_path).into_iter().map(|r| r.0).collect();
            assert_eq!(rows, expected);
            assert_eq!(rows.len() as u64, s.planted.values().sum::<u64>());
        }
    }

    #[test]
    fn every_line_is_json_with_the_raw_keys_in_order_and_types() {
        let (_dir, s) = run(20_000, 5, 0.0);
        for line in lines(&s.reviews_path) {
            let text = std::str::from_utf8(&line).unwrap();
            let m = parse(&line);
            assert_eq!(m.len(), REVIEW_KEYS.len(), "{text}");
            let positions: Vec<usize> = REVIEW_KEYS
                .iter()
                .map(|k| text.find(&format!("\"{k}\": ")).unwrap())
                .collect();
            assert!(positions.is_sorted(), "keys out of order: {text}");
            let rating = m["rating"].as_f64().unwrap();
            assert!(
                m["rating"].is_f64() && (0.0..=5.0).contains(&rating),
                "{text}"
            );
            assert!(m["title"].is_string() && m["text"].is_string());
            let len = m["text"].as_str().unwrap().len();
            assert!((20..=1100).contains(&len), "text of {len} bytes");
            assert!(m["images"].is_array());
            assert!(is_asin(m["asin"].as_str().unwrap()));
            assert!(is_asin(m["parent_asin"].as_str().unwrap()));
            assert!(is_user_id(m["user_id"].as_str().unwrap()), "{text}");
            assert!(m["timestamp"].is_i64());
            assert!(m["helpful_vote"].is_i64());
            assert!(m["verified_purchase"].is_boolean());
        }
        for line in lines(&s.items_path) {
            let text = std::str::from_utf8(&line).unwrap();
            let m = parse(&line);
            let positions: Vec<usize> = META_KEYS
                .iter()
                .map(|k| text.find(&format!("\"{k}\": ")).unwrap())
                .collect();
            assert!(positions.is_sorted(), "keys out of order: {text}");
            assert_eq!(m.len(), META_KEYS.len());
            assert!(m["main_category"].is_string() || m["main_category"].is_null());
            assert!(m["title"].is_string());
            assert!(m["average_rating"].is_f64());
            assert!(m["rating_number"].is_i64());
            for k in ["features", "description", "categories"] {
                assert!(m[k].as_array().unwrap().iter().all(Value::is_string), "{k}");
            }
            let p = &m["price"];
            assert!(p.is_null() || p.is_number() || p.is_string(), "{text}");
            assert!(m["images"].as_array().unwrap().iter().all(Value::is_object));
            assert!(m["videos"].as_array().unwrap().iter().all(Value::is_object));
            assert!(m["store"].is_string() || m["store"].is_null());
            assert!(m["details"].is_object());
            assert!(is_asin(m["parent_asin"].as_str().unwrap()));
            assert!(m["bought_together"].is_null());
        }
    }

    #[test]
    fn shares_match_the_real_data_and_the_design() {
        let (_dir, s) = run(50_000, 42, 0.0);
        let reviews = lines(&s.reviews_path);
        let n = reviews.len() as f64;

        let dups = reviews.windows(2).filter(|w| w[0] == w[1]).count() as u64;
        assert_eq!(dups, s.duplicate_lines);
        assert!(
            (0.005..0.015).contains(&(dups as f64 / n)),
            "duplicate share {}",
            dups as f64 / n
        );

        let parsed: Vec<_> = reviews.iter().map(|l| parse(l)).collect();
        let verified = parsed
            .iter()
            .filter(|m| m["verified_purchase"] == true)
            .count();
        assert_eq!(verified as u64, s.verified_lines);
        assert!(
            (0.89..0.95).contains(&(verified as f64 / n)),
            "verified share {}",
            verified as f64 / n
        );
        let zero = parsed
            .iter()
            .filter(|m| m["rating"].as_f64() == Some(0.0))
            .count();
        assert_eq!(zero as u64, s.rating_zero_lines);
        let negative = parsed
            .iter()
            .filter(|m| m["helpful_vote"].as_i64().is_some_and(|h| h < 0))
            .count();
        assert_eq!(negative as u64, s.negative_helpful_lines);
        let five = parsed
            .iter()
            .filter(|m| m["rating"].as_f64() == Some(5.0))
            .count();
        assert!(
            (0.59..0.67).contains(&(five as f64 / n)),
            "5-star share {}",
            five as f64 / n
        );
        let same_asin = parsed
            .iter()
            .filter(|m| m["asin"] == m["parent_asin"])
            .count();
        assert!((0.77..0.83).contains(&(same_asin as f64 / n)));

        let per_user = n / s.users as f64;
        assert!(
            (2.0..2.8).contains(&per_user),
            "reviews per user {per_user}"
        );
        let mean_len = reviews.iter().map(Vec::len).sum::<usize>() as f64 / n;
        assert!(
            (300.0..650.0).contains(&mean_len),
            "mean line length {mean_len}"
        );

        let rows = truth(&s.truth_path);
        let planted = rows.len() as f64;
        assert!(
            (0.17..0.23).contains(&(planted / s.users as f64)),
            "planted share"
        );
        for a in Archetype::ALL {
            let share = rows.iter().filter(|(_, x)| x == a.name()).count() as f64 / planted;
            assert!((share - a.share()).abs() < 0.03, "{}: {share}", a.name());
            assert_eq!(
                s.planted[a.name()],
                rows.iter().filter(|(_, x)| x == a.name()).count() as u64
            );
        }

        let meta: Vec<_> = lines(&s.items_path).iter().map(|l| parse(l)).collect();
        assert_eq!(meta.len() as u64, s.meta_lines);
        let in_meta = s.meta_lines as f64 / s.items as f64;
        assert!((0.95..0.99).contains(&in_meta), "meta share {in_meta}");
        let missing = meta
            .iter()
            .filter(|m| m["price"].is_null() || m["price"] == "None")
            .count();
        assert_eq!(missing as u64, s.meta_price_missing);
        let missing = missing as f64 / meta.len() as f64;
        assert!(
            (missing - 2.0 / 3.0).abs() < 0.05,
            "price missing share {missing}"
        );
        let mut prices: Vec<f64> = meta
            .iter()
            .filter_map(|m| usable_price(&m["price"]))
            .collect();
        prices.sort_by(f64::total_cmp);
        let median = prices[prices.len() / 2];
        assert!((20.0..45.0).contains(&median), "median price {median}");
    }

    #[test]
    fn timestamps_span_1996_to_the_newest_day_2023_09_13() {
        let (_dir, s) = run(30_000, 9, 0.0);
        let ts: Vec<i64> = lines(&s.reviews_path)
            .iter()
            .map(|l| parse(l)["timestamp"].as_i64().unwrap())
            .collect();
        let max = *ts.iter().max().unwrap();
        assert_eq!(max, s.newest_timestamp_ms);
        assert!((DAY_2023_09_13..DAY_2023_09_14).contains(&max));
        assert!(
            ts.iter()
                .all(|&t| (DAY_1996_01_01..DAY_2023_09_14).contains(&t))
        );
        // Volume grows over time: more reviews in 2016-2021 than in 1996-2016.
        let y2016 = 1_451_606_400_000;
        let recent = ts.iter().filter(|&&t| t >= y2016).count();
        assert!(recent > ts.len() / 2, "{recent} of {} after 2016", ts.len());
        // Even one line holds the newest review.
        let (_d, one) = run(1, 9, 0.0);
        let line = &lines(&one.reviews_path)[0];
        assert_eq!(
            parse(line)["timestamp"].as_i64(),
            Some(s.newest_timestamp_ms)
        );
    }

    /// Planted users buy what their archetype says, when the design says, from items that
    /// survive cleaning (a usable price, a non-null category, a meta line).
    #[test]
    fn planted_users_behave_as_their_archetype() {
        let (_dir, s) = run(30_000, 21, 0.0);
        let meta: HashMap<String, serde_json::Map<String, Value>> = lines(&s.items_path)
            .iter()
            .map(|l| {
                let m = parse(l);
                (m["parent_asin"].as_str().unwrap().to_string(), m)
            })
            .collect();
        let mut by_user: HashMap<String, Vec<(f64, f64)>> = HashMap::new();
        for l in lines(&s.reviews_path) {
            let m = parse(&l);
            let item = meta.get(m["parent_asin"].as_str().unwrap());
            let price = item.and_then(|i| usable_price(&i["price"])).unwrap_or(-1.0);
            let days_back =
                (DAY_2023_09_14 - m["timestamp"].as_i64().unwrap()) as f64 / 86_400_000.0;
            by_user
                .entry(m["user_id"].as_str().unwrap().to_string())
                .or_default()
                .push((price, days_back));
        }
        let duplicates_removed = |v: &Vec<(f64, f64)>| {
            let mut v = v.clone();
            v.dedup_by(|a, b| a == b);
            v
        };
        let rows = truth(&s.truth_path);
        for (user, archetype) in &rows {
            let buys = duplicates_removed(&by_user[user]);
            assert!(
                buys.iter().all(|&(p, _)| p > 0.0),
                "{user} bought an unpriced item"
            );
            let n = buys.len();
            let days = |lo: f64, hi: f64| buys.iter().all(|&(_, d)| d > lo && d <= hi);
            let ok = match archetype.as_str() {
                "loyal" => {
                    (6..=25).contains(&n) && days(0.0, 365.0) && buys.iter().all(|b| b.0 >= 20.0)
                }
                "new" => (1..=3).contains(&n) && days(0.0, 90.0),
                "churned" => (1..=6).contains(&n) && days(240.0, 700.0),
                "one_time_big_spender" => n == 1 && days(0.0, 365.0) && buys[0].0 >= 500.0,
                "occasional" => {
                    (1..=3).contains(&n) && days(0.0, 365.0) && buys.iter().all(|b| b.0 < 25.0)
                }
                other => panic!("unknown archetype {other}"),
            };
            assert!(ok, "{user} ({archetype}) bought {buys:?}");
        }
        // Background users stay out of the last two years (731 days back from 2023-09-14);
        // only a planted user cut short by the line count can be recent and not in truth.csv.
        let truth_users: HashSet<&String> = rows.iter().map(|r| &r.0).collect();
        let recent_unplanted = by_user
            .iter()
            .filter(|(u, buys)| !truth_users.contains(u) && buys.iter().any(|&(_, d)| d <= 731.0))
            .count();
        assert!(
            recent_unplanted <= 1,
            "{recent_unplanted} background users are recent"
        );
    }

    /// Every irregular kind counted in the summary is what a reader finds, the other lines
    /// are exactly the lines of a run without irregular lines, and the per-line counts
    /// (verified, rating 0, negative votes) include the lines without user_id, which a
    /// reader keeps, and leave the bad lines out.
    #[test]
    fn malformed_lines_are_counted_and_replace_good_lines_in_place() {
        let (_clean_dir, clean) = run(20_000, 4, 0.0);
        let (_dir, s) = run(20_000, 4, 0.05);
        let good = lines(&clean.reviews_path);
        let all = lines(&s.reviews_path);
        assert_eq!(good.len(), all.len());
        let (mut truncated, mut wrong, mut missing) = (0u64, 0u64, 0u64);
        let (mut verified, mut zero, mut negative) = (0u64, 0u64, 0u64);
        for (g, l) in good.iter().zip(&all) {
            let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(l) else {
                assert!(
                    g.starts_with(l),
                    "a truncated line is a prefix of the good one"
                );
                truncated += 1;
                continue;
            };
            if !m["timestamp"].is_i64() || !m["rating"].is_f64() {
                wrong += 1;
                continue;
            }
            if !m.contains_key("user_id") {
                missing += 1;
                let mut with_user = parse(g);
                with_user.remove("user_id");
                assert_eq!(m, with_user, "only the user_id key is gone");
            } else {
                assert_eq!(g, l, "a well-formed line differs from the clean run");
            }
            verified += u64::from(m["verified_purchase"] == true);
            zero += u64::from(m["rating"].as_f64() == Some(0.0));
            negative += u64::from(m["helpful_vote"].as_i64().is_some_and(|h| h < 0));
        }
        assert_eq!(truncated, s.malformed_truncated);
        assert_eq!(wrong, s.malformed_wrong_type);
        assert_eq!(missing, s.missing_user_id_lines);
        assert_eq!(
            (verified, zero, negative),
            (
                s.verified_lines,
                s.rating_zero_lines,
                s.negative_helpful_lines
            )
        );
        let share = (truncated + wrong + missing) as f64 / all.len() as f64;
        assert!((0.04..0.06).contains(&share), "irregular share {share}");
        assert!(truncated > 0 && wrong > 0 && missing > 0);
    }

    #[test]
    fn gzip_output_decodes_to_the_plain_output() {
        let (plain_dir, plain) = run(15_001, 13, 0.01);
        let gz_dir = tempfile::tempdir().unwrap();
        let opts = GenerateOptions {
            reviews: 15_001,
            seed: 13,
            out: gz_dir.path().to_path_buf(),
            gzip: true,
            malformed_rate: 0.01,
        };
        let gz = generate(&opts).unwrap();
        assert!(gz.reviews_path.ends_with("Electronics.jsonl.gz"));
        assert!(gz.items_path.ends_with("meta_Electronics.jsonl.gz"));
        for (p, g) in [
            (&plain.reviews_path, &gz.reviews_path),
            (&plain.items_path, &gz.items_path),
        ] {
            let mut decoded = Vec::new();
            std::io::Read::read_to_end(
                &mut flate2::read::GzDecoder::new(File::open(g).unwrap()),
                &mut decoded,
            )
            .unwrap();
            assert!(
                decoded == std::fs::read(p).unwrap(),
                "{} decodes differently",
                g.display()
            );
        }
        drop(plain_dir);
    }

    #[test]
    fn bad_options_are_rejected_naming_the_flag() {
        let dir = tempfile::tempdir().unwrap();
        let base = GenerateOptions {
            out: dir.path().to_path_buf(),
            ..GenerateOptions::default()
        };
        let cases = [
            (
                GenerateOptions {
                    reviews: 0,
                    ..base.clone()
                },
                "--reviews",
            ),
            (
                GenerateOptions {
                    reviews: MAX_REVIEWS + 1,
                    ..base.clone()
                },
                "--reviews",
            ),
            (
                GenerateOptions {
                    malformed_rate: 1.0,
                    ..base.clone()
                },
                "--malformed-rate",
            ),
            (
                GenerateOptions {
                    malformed_rate: -0.1,
                    ..base.clone()
                },
                "--malformed-rate",
            ),
            (
                GenerateOptions {
                    malformed_rate: f64::NAN,
                    ..base.clone()
                },
                "--malformed-rate",
            ),
        ];
        for (opts, flag) in cases {
            match generate(&opts) {
                Err(e @ Error::Config { .. }) => assert!(e.to_string().contains(flag), "{e}"),
                other => panic!("expected a config error naming {flag}, got {other:?}"),
            }
        }
        assert!(
            std::fs::read_dir(dir.path()).unwrap().next().is_none(),
            "nothing written"
        );
    }

    #[test]
    fn summary_file_round_trips() {
        let (_dir, s) = run(3_000, 1, 0.0);
        let text = std::fs::read_to_string(s.reviews_path.with_file_name("generate_summary.json"))
            .unwrap();
        let back: GenerateSummary = serde_json::from_str(&text).unwrap();
        assert_eq!(back, s);
        assert_eq!(s.planted.len(), 5);
    }
}

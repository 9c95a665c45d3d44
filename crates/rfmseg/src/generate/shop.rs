//! `rfmseg generate --transactions`: a shop's order export as real retail systems write it,
//! in the columns of the UCI Online Retail data (InvoiceNo, StockCode, Description,
//! Quantity, InvoiceDate as "%m/%d/%Y %H:%M", UnitPrice, CustomerID, Country): invoices
//! of several lines, returns and cancelled invoices ('C' + number, negative quantities),
//! about a quarter of the lines without a customer id (walk-in sales), descriptions with
//! commas, quotes and line breaks, and, on request, malformed rows. The customers are
//! planted with the same behaviours as the review generator (truth.csv), over the two
//! years up to 2023-12-09.
//!
//! Deterministic: the same options give the same bytes. One thread: a million lines take a
//! few seconds.

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use chrono::{NaiveDate, TimeDelta};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::config::SourceConfig;
use crate::error::{Error, Result};
use crate::storage::{OutputDir, OutputKind, write_json};
use crate::text::group_thousands;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct ShopOptions {
    /// Lines of the export, at least (the last invoice is written whole).
    pub lines: u64,
    pub seed: u64,
    pub out: PathBuf,
    /// Probability in [0, 1) that a line gets a date or a price no parser accepts.
    pub malformed_rate: f64,
}

/// What was written, also saved as `generate_summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShopSummary {
    pub seed: u64,
    pub lines: u64,
    pub invoices: u64,
    /// Lines of 'C' invoices (cancellations).
    pub cancelled_lines: u64,
    /// Lines with a negative quantity outside a 'C' invoice (returns).
    pub return_lines: u64,
    /// Lines without a customer id.
    pub anonymous_lines: u64,
    pub malformed_lines: u64,
    /// Customers in truth.csv by archetype.
    pub planted: BTreeMap<String, u64>,
    pub transactions_path: PathBuf,
    pub truth_path: PathBuf,
    /// The mapping that reads the export: `ingest --transactions` with these flags.
    pub mapping: SourceConfig,
}

impl std::fmt::Display for ShopSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "wrote {} transaction lines ({} invoices, {} customers) to {}, truth in {}",
            group_thousands(self.lines),
            group_thousands(self.invoices),
            group_thousands(self.planted.values().sum()),
            self.transactions_path.display(),
            self.truth_path.display()
        )?;
        writeln!(
            f,
            "read it with: rfmseg ingest --transactions {} --customer CustomerID --time \
             InvoiceDate --time-format \"%m/%d/%Y %H:%M\" --quantity Quantity --unit-price \
             UnitPrice --order InvoiceNo --item StockCode --store Country \
             --cancelled-orders \"C%\" --out lake",
            self.transactions_path.display()
        )
    }
}

/// The mapping of the export's columns.
pub fn shop_mapping() -> SourceConfig {
    SourceConfig {
        customer: Some("CustomerID".into()),
        time: Some("InvoiceDate".into()),
        quantity: Some("Quantity".into()),
        unit_price: Some("UnitPrice".into()),
        order: Some("InvoiceNo".into()),
        item: Some("StockCode".into()),
        store: Some("Country".into()),
        time_format: Some("%m/%d/%Y %H:%M".into()),
        cancelled_orders: Some("C%".into()),
        ..SourceConfig::default()
    }
}

/// Planted behaviours, as in the review generator's truth.csv, with their shares.
const ARCHETYPES: [(&str, f64); 5] = [
    ("churned", 0.30),
    ("new", 0.25),
    ("one_time_big_spender", 0.15),
    ("loyal", 0.12),
    ("occasional", 0.18),
];

const COUNTRIES: [(&str, f64); 5] = [
    ("United Kingdom", 0.82),
    ("Germany", 0.05),
    ("France", 0.05),
    ("EIRE", 0.04),
    ("Spain", 0.04),
];

const PRODUCTS: [&str; 12] = [
    "WHITE HANGING HEART T-LIGHT HOLDER",
    "REGENCY CAKESTAND 3 TIER",
    "JUMBO BAG RED RETROSPOT",
    "PARTY BUNTING",
    "LUNCH BAG, BLACK SKULL",
    "SET OF 3 \"CAKE\" TINS",
    "ASSORTED COLOUR BIRD ORNAMENT",
    "PACK OF 72 RETROSPOT CAKE CASES",
    "NATURAL SLATE HEART CHALKBOARD",
    "HAND WARMER; UNION JACK",
    "GIFT WRAP\nVINTAGE",
    "PAPER CHAIN KIT 50'S CHRISTMAS",
];

/// The last day of the export.
fn last_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2023, 12, 9).unwrap_or_default()
}

/// Days before the last day of each invoice of a customer of `archetype`.
fn invoice_days(rng: &mut ChaCha8Rng, archetype: &str) -> Vec<i64> {
    let mut days: Vec<i64> = match archetype {
        "loyal" => {
            let n = rng.random_range(10..25);
            (0..n).map(|_| rng.random_range(0..360)).collect()
        }
        "new" => {
            let n = rng.random_range(1..3);
            (0..n).map(|_| rng.random_range(0..45)).collect()
        }
        "churned" => {
            let n = rng.random_range(1..4);
            (0..n).map(|_| rng.random_range(250..700)).collect()
        }
        "one_time_big_spender" => vec![rng.random_range(60..300)],
        _ => {
            let n = rng.random_range(2..5);
            (0..n).map(|_| rng.random_range(30..700)).collect()
        }
    };
    days.sort_unstable_by(|a, b| b.cmp(a));
    days
}

fn pick<'a>(rng: &mut ChaCha8Rng, table: &[(&'a str, f64)]) -> &'a str {
    let mut u: f64 = rng.random();
    for (name, share) in table {
        if u < *share {
            return name;
        }
        u -= share;
    }
    table[table.len() - 1].0
}

fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n', ';']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Writes the export, truth.csv and generate_summary.json into `opts.out`.
pub fn generate_transactions(opts: &ShopOptions) -> Result<ShopSummary> {
    if opts.lines == 0 || opts.lines > 1_000_000_000 {
        return Err(Error::Config {
            key: "--lines".into(),
            message: format!("must be between 1 and 10^9, got {}", opts.lines),
        });
    }
    if !(0.0..1.0).contains(&opts.malformed_rate) {
        return Err(Error::Config {
            key: "--malformed-rate".into(),
            message: format!("must be in [0, 1), got {}", opts.malformed_rate),
        });
    }
    let output = OutputDir::create(&opts.out, OutputKind::Generated)?;
    let dir = output.path();
    let path = dir.join("transactions.csv");
    let file = std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
    let mut w = BufWriter::new(file);
    let mut truth = String::from("customer_id,archetype\n");
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut s = ShopSummary {
        seed: opts.seed,
        lines: 0,
        invoices: 0,
        cancelled_lines: 0,
        return_lines: 0,
        anonymous_lines: 0,
        malformed_lines: 0,
        planted: ARCHETYPES.iter().map(|(a, _)| (a.to_string(), 0)).collect(),
        transactions_path: opts.out.join("transactions.csv"),
        truth_path: opts.out.join("truth.csv"),
        mapping: shop_mapping(),
    };
    let io = |e| Error::io(&path, e);
    writeln!(
        w,
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
    )
    .map_err(io)?;
    let mut invoice_no = 536_365u64;
    let mut customer_no = 12_346u64;
    while s.lines < opts.lines {
        // Walk-in sales without a customer id: one invoice each, against about 3.7 per
        // planted customer, so 55% of draws make about a quarter of the lines.
        let anonymous = rng.random::<f64>() < 0.55;
        let (customer, archetype, days) = if anonymous {
            (String::new(), "", vec![rng.random_range(0..700)])
        } else {
            let archetype = pick(&mut rng, &ARCHETYPES);
            customer_no += 1;
            let id = customer_no.to_string();
            *s.planted.entry(archetype.to_string()).or_default() += 1;
            truth.push_str(&format!("{id},{archetype}\n"));
            (id, archetype, invoice_days(&mut rng, archetype))
        };
        let country = pick(&mut rng, &COUNTRIES);
        for day in days {
            invoice_no += 1;
            s.invoices += 1;
            let time = (last_day() - TimeDelta::days(day))
                .and_hms_opt(rng.random_range(8..19), rng.random_range(0..60), 0)
                .unwrap_or_default();
            let cancelled = rng.random::<f64>() < 0.02;
            let invoice = if cancelled {
                format!("C{invoice_no}")
            } else {
                invoice_no.to_string()
            };
            let big = archetype == "one_time_big_spender";
            let lines = rng.random_range(1..7);
            let mut written: Vec<(u32, i64, u32)> = Vec::new();
            for _ in 0..lines {
                let product = rng.random_range(0..PRODUCTS.len() as u32);
                let mut quantity: i64 = if big {
                    rng.random_range(12..60)
                } else {
                    rng.random_range(1..13)
                };
                let cents: u32 = if big {
                    rng.random_range(800..4_000)
                } else {
                    rng.random_range(29..900)
                };
                if cancelled {
                    quantity = -quantity;
                    s.cancelled_lines += 1;
                }
                written.push((product, quantity, cents));
            }
            // A return of one line a few days later, on its own negative line.
            if !cancelled && rng.random::<f64>() < 0.04 {
                let (product, quantity, cents) = written[0];
                written.push((product, -quantity.min(3), cents));
                s.return_lines += 1;
            }
            for (product, quantity, cents) in written {
                let malformed = rng.random::<f64>() < opts.malformed_rate;
                let (date, price) = if malformed {
                    s.malformed_lines += 1;
                    if rng.random::<bool>() {
                        (
                            "31/31/2023 25:61".to_string(),
                            format!("{}.{:02}", cents / 100, cents % 100),
                        )
                    } else {
                        (
                            time.format("%m/%d/%Y %H:%M").to_string(),
                            "12..5".to_string(),
                        )
                    }
                } else {
                    (
                        time.format("%m/%d/%Y %-H:%M").to_string(),
                        format!("{}.{:02}", cents / 100, cents % 100),
                    )
                };
                if anonymous {
                    s.anonymous_lines += 1;
                }
                writeln!(
                    w,
                    "{invoice},{},{},{quantity},{date},{price},{customer},{}",
                    10_000 + product * 7,
                    quote(PRODUCTS[product as usize]),
                    quote(country)
                )
                .map_err(io)?;
                s.lines += 1;
            }
        }
    }
    w.flush().map_err(io)?;
    drop(w);
    let truth_path = dir.join("truth.csv");
    std::fs::write(&truth_path, truth).map_err(|e| Error::io(&truth_path, e))?;
    write_json(&dir.join("generate_summary.json"), &s)?;
    output.commit()?;
    Ok(s)
}

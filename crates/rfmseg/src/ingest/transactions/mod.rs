//! `rfmseg ingest --transactions`: a shop's export (CSV, JSON Lines or Parquet; DESIGN
//! §3b) into the lake's `transactions/` table, with the columns mapped by `[source]` or
//! flags, times and amounts parsed once ([`parse`]), rows read by [`read`]. Everything after
//! the lake is the pipeline's usual path: cleaning (sql/clean_transactions.sql), purchases,
//! RFM, k-means, CLV, the report.
//!
//! The lake is written under a temporary name beside `--out` and swapped in at the end, as
//! for the Amazon files: a failed ingest leaves no lake.

pub mod parse;
pub(crate) mod read;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, StringArray, TimestampSecondArray};
use arrow::record_batch::RecordBatch;

use super::InputStage;
use super::segments::{BadLine, write_quarantine_named};
use super::{IngestSummary, OnBadLine, SUMMARY_FILE, TableSummary};
use crate::config::SourceConfig;
use crate::error::{Error, Result};
use crate::lake::{TRANSACTIONS_DIR, transactions_schema};
use crate::storage::{Output, OutputKind, write_batches, write_json};
use parse::{TimeFormat, parse_amount, parse_time};

/// Rows per lake part file.
const PART_ROWS: usize = 1 << 20;

/// What `ingest --transactions` needs.
#[derive(Debug, Clone)]
pub struct TransactionsOptions {
    /// Files, or folders of files.
    pub inputs: Vec<PathBuf>,
    pub out: PathBuf,
    /// The column mapping and formats (`[source]` overridden by the flags).
    pub source: SourceConfig,
    pub on_bad_line: OnBadLine,
}

/// The mapping, checked: which input column feeds each lake column.
#[derive(Debug, Clone)]
struct Mapping {
    /// (flag, column) in [`Field`] order; optional columns that are not mapped are absent.
    wanted: Vec<(String, String)>,
    fields: Vec<Field>,
    time_format: TimeFormat,
    decimal_comma: bool,
    delimiter: Option<u8>,
    cancelled: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Customer,
    Time,
    Amount,
    Quantity,
    UnitPrice,
    Order,
    Item,
    Category,
    Store,
}

impl Mapping {
    fn new(s: &SourceConfig) -> Result<Mapping> {
        let missing = |flag: &str, key: &str, what: &str| Error::Config {
            key: format!("{flag} (source.{key})"),
            message: format!("{what} is required: name the column of the export that holds it"),
        };
        let mut wanted = Vec::new();
        let mut fields = Vec::new();
        let mut add = |field: Field, flag: &str, column: &Option<String>| {
            if let Some(c) = column.as_ref().map(|c| c.trim()).filter(|c| !c.is_empty()) {
                wanted.push((flag.to_string(), c.to_string()));
                fields.push(field);
            }
        };
        add(Field::Customer, "--customer", &s.customer);
        add(Field::Time, "--time", &s.time);
        add(Field::Amount, "--amount", &s.amount);
        add(Field::Quantity, "--quantity", &s.quantity);
        add(Field::UnitPrice, "--unit-price", &s.unit_price);
        add(Field::Order, "--order", &s.order);
        add(Field::Item, "--item", &s.item);
        add(Field::Category, "--category", &s.category);
        add(Field::Store, "--store", &s.store);
        let has = |f: Field| fields.contains(&f);
        if !has(Field::Customer) {
            return Err(missing("--customer", "customer", "the customer id column"));
        }
        if !has(Field::Time) {
            return Err(missing("--time", "time", "the time column"));
        }
        match (
            has(Field::Amount),
            has(Field::Quantity),
            has(Field::UnitPrice),
        ) {
            (true, false, false) | (false, true, true) => {}
            (true, _, _) => {
                return Err(Error::Config {
                    key: "--amount (source.amount)".into(),
                    message: "give either --amount, or --quantity with --unit-price, not both"
                        .into(),
                });
            }
            _ => {
                return Err(Error::Config {
                    key: "--amount (source.amount)".into(),
                    message: "the amount is required: --amount COLUMN (the line's total), or \
                              --quantity COLUMN with --unit-price COLUMN"
                        .into(),
                });
            }
        }
        let delimiter = match s.delimiter.as_deref() {
            None | Some("") => None,
            Some("\\t") | Some("tab") => Some(b'\t'),
            Some(d) if d.len() == 1 && d.is_ascii() => Some(d.as_bytes()[0]),
            Some(d) => {
                return Err(Error::Config {
                    key: "--delimiter (source.delimiter)".into(),
                    message: format!("{d:?}: expected one ASCII character, or \\t for tab"),
                });
            }
        };
        let time_format = match s.time_format.as_deref().map(str::trim) {
            None | Some("") => TimeFormat::Auto,
            Some(f) => {
                let broken = chrono::format::StrftimeItems::new(f)
                    .any(|i| matches!(i, chrono::format::Item::Error));
                if broken || !f.contains('%') {
                    return Err(Error::Config {
                        key: "--time-format (source.time_format)".into(),
                        message: format!(
                            "{f:?} is not a strftime format such as \"%d/%m/%Y %H:%M\""
                        ),
                    });
                }
                TimeFormat::Custom(f.to_string())
            }
        };
        Ok(Mapping {
            wanted,
            fields,
            time_format,
            decimal_comma: s.decimal_comma,
            delimiter,
            cancelled: s
                .cancelled_orders
                .as_ref()
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty()),
        })
    }

    fn value<'a>(&self, row: &'a read::Row, field: Field) -> Option<&'a str> {
        let i = self.fields.iter().position(|f| *f == field)?;
        row.values[i].as_deref()
    }

    fn column(&self, field: Field) -> (&str, &str) {
        let i = self.fields.iter().position(|f| *f == field).unwrap_or(0);
        (&self.wanted[i].0, &self.wanted[i].1)
    }
}

/// Whether `text` matches the SQL LIKE `pattern` (% any run, _ one character).
pub fn like(text: &str, pattern: &str) -> bool {
    let t: Vec<char> = text.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    // match[i][j]: t[..i] matches p[..j]; one row at a time.
    let mut prev = vec![false; p.len() + 1];
    prev[0] = true;
    for j in 1..=p.len() {
        prev[j] = prev[j - 1] && p[j - 1] == '%';
    }
    for i in 1..=t.len() {
        let mut cur = vec![false; p.len() + 1];
        for j in 1..=p.len() {
            cur[j] = match p[j - 1] {
                '%' => cur[j - 1] || prev[j],
                '_' => prev[j - 1],
                c => prev[j - 1] && c == t[i - 1],
            };
        }
        prev = cur;
    }
    prev[p.len()]
}

/// One lake row being built.
#[derive(Default)]
struct Columns {
    customer: Vec<Option<String>>,
    ts: Vec<Option<i64>>,
    amount: Vec<Option<f64>>,
    quantity: Vec<Option<f64>>,
    order: Vec<Option<String>>,
    item: Vec<Option<String>>,
    category: Vec<Option<String>>,
    store: Vec<Option<String>>,
    cancelled: Vec<bool>,
}

impl Columns {
    fn len(&self) -> usize {
        self.customer.len()
    }

    fn batch(&mut self) -> Result<RecordBatch> {
        let c = std::mem::take(self);
        let text = |v: Vec<Option<String>>| Arc::new(StringArray::from(v)) as ArrayRef;
        RecordBatch::try_new(
            transactions_schema(),
            vec![
                text(c.customer),
                Arc::new(TimestampSecondArray::from(c.ts)),
                Arc::new(Float64Array::from(c.amount)),
                Arc::new(Float64Array::from(c.quantity)),
                text(c.order),
                text(c.item),
                text(c.category),
                text(c.store),
                Arc::new(BooleanArray::from(c.cancelled)),
            ],
        )
        .map_err(|e| Error::Internal(format!("transactions batch: {e}")))
    }
}

/// A value of a row that does not parse: which column, which flag fixes it.
fn bad_value(m: &Mapping, field: Field, value: &str, why: &str) -> String {
    let (flag, column) = m.column(field);
    format!("column \"{column}\" ({flag}): {value:?} {why}")
}

/// Parses one row into the lake columns, or says why it cannot be.
fn parse_row(m: &Mapping, row: &read::Row, out: &mut Columns) -> std::result::Result<(), String> {
    let ts = match m.value(row, Field::Time) {
        None => None,
        Some(v) => {
            Some(parse_time(v, &m.time_format).map_err(|e| bad_value(m, Field::Time, v, &e))?)
        }
    };
    let number = |field: Field| -> std::result::Result<Option<f64>, String> {
        match m.value(row, field) {
            None => Ok(None),
            Some(v) => parse_amount(v, m.decimal_comma)
                .map(Some)
                .map_err(|e| bad_value(m, field, v, &e)),
        }
    };
    let (amount, quantity) = if m.fields.contains(&Field::Amount) {
        (number(Field::Amount)?, None)
    } else {
        let q = number(Field::Quantity)?;
        let p = number(Field::UnitPrice)?;
        let amount = q.zip(p).map(|(q, p)| ((q * p) * 1e6).round() / 1e6);
        (amount, q)
    };
    let order = m.value(row, Field::Order).map(str::to_string);
    let cancelled = match (&m.cancelled, &order) {
        (Some(p), Some(o)) => like(o, p),
        _ => false,
    };
    out.customer
        .push(m.value(row, Field::Customer).map(str::to_string));
    out.ts.push(ts);
    out.amount.push(amount);
    out.quantity.push(quantity);
    out.order.push(order);
    out.item.push(m.value(row, Field::Item).map(str::to_string));
    out.category
        .push(m.value(row, Field::Category).map(str::to_string));
    out.store
        .push(m.value(row, Field::Store).map(str::to_string));
    out.cancelled.push(cancelled);
    Ok(())
}

/// Ingests a shop's transactions into a new lake at `opts.out`.
pub fn ingest_transactions(opts: &TransactionsOptions) -> Result<IngestSummary> {
    let stage = InputStage::default();
    ingest_staged(opts, &stage).map_err(|e| stage.rename(e))
}

fn ingest_staged(opts: &TransactionsOptions, stage: &InputStage) -> Result<IngestSummary> {
    let started = Instant::now();
    let mapping = Mapping::new(&opts.source)?;
    let files = read::input_files(&opts.inputs, stage)?;
    let output = Output::create_blocking(&opts.out, OutputKind::Lake)?;
    let dir = output.path().join(TRANSACTIONS_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let mut summary = TableSummary::default();
    let mut quarantine: Vec<BadLine> = Vec::new();
    let mut columns = Columns::default();
    let mut parts = 0u64;
    let hint = "fix the value, map another column, or pass --on-bad-line skip (or quarantine) \
                to set such rows aside";
    for file in &files {
        summary.bytes += std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
        let mut set_aside = |line: u64, error: String, raw: String| -> Result<()> {
            match opts.on_bad_line {
                OnBadLine::Fail => Err(Error::BadLine {
                    path: file.clone(),
                    line,
                    message: error,
                    hint: hint.into(),
                }),
                OnBadLine::Skip => Ok(()),
                OnBadLine::Quarantine => {
                    quarantine.push(BadLine {
                        file: file.clone(),
                        line,
                        error,
                        raw,
                    });
                    Ok(())
                }
            }
        };
        let mut bad_lines = 0u64;
        let mut lines = 0u64;
        let mut written = 0u64;
        read::read_rows(file, &mapping.wanted, mapping.delimiter, &mut |item| {
            lines += 1;
            let (line, error, raw) = match item {
                Ok(row) => match parse_row(&mapping, &row, &mut columns) {
                    Ok(()) => {
                        written += 1;
                        if columns.len() >= PART_ROWS {
                            write_part(&dir, &mut columns, &mut parts)?;
                        }
                        return Ok(());
                    }
                    Err(e) => {
                        let raw = row
                            .values
                            .iter()
                            .map(|v| v.clone().unwrap_or_default())
                            .collect::<Vec<_>>()
                            .join(",");
                        (row.line, e, raw)
                    }
                },
                Err(u) => (u.line, u.error, u.raw),
            };
            bad_lines += 1;
            set_aside(line, error, raw)
        })?;
        if written == 0 {
            return Err(Error::BadInput {
                path: file.clone(),
                message: format!("has no readable rows: all {bad_lines} were bad"),
                hint: "check the mapping flags and the file's format".into(),
            });
        }
        summary.files.push(stage.shown(file));
        summary.lines += lines;
        summary.bad_lines += bad_lines;
        summary.rows += written;
    }
    if columns.len() > 0 {
        write_part(&dir, &mut columns, &mut parts)?;
    }
    summary.parquet_files = parts;
    if opts.on_bad_line == OnBadLine::Quarantine && !quarantine.is_empty() {
        write_quarantine_named(
            &output.path().join("quarantine"),
            TRANSACTIONS_DIR,
            &quarantine,
        )?;
    }
    let result = IngestSummary {
        transactions: Some(summary),
        source: Some(opts.source.clone()),
        on_bad_line: opts.on_bad_line,
        seconds: started.elapsed().as_secs_f64(),
        lake: opts.out.clone(),
        ..IngestSummary::default()
    };
    write_json(&output.path().join(SUMMARY_FILE), &result)?;
    output.commit_blocking()?;
    Ok(result)
}

fn write_part(dir: &Path, columns: &mut Columns, parts: &mut u64) -> Result<()> {
    let batch = columns.batch()?;
    let path = dir.join(format!("part-{:05}.parquet", *parts));
    write_batches(&path, &transactions_schema(), [batch])?;
    *parts += 1;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_matches_sql_patterns() {
        assert!(like("C536379", "C%"));
        assert!(!like("536379", "C%"));
        assert!(like("A-1", "_-_"));
        assert!(!like("A-12", "_-_"));
        assert!(like("x", "%"));
        assert!(like("", "%"));
        assert!(like("cancel-7", "%cancel%"));
    }
}

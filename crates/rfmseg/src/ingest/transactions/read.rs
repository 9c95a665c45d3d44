//! The rows of one export file, whatever its format (CSV with any delimiter and a header
//! row, JSON Lines, Parquet; `.gz` for the text formats), as the text of the columns the
//! mapping names, with where each row came from. Values are text here so that one parser
//! ([`super::parse`]) reads times and amounts the same way from every format.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::{Error, Result};

/// A data row: the mapped columns' values (None: empty or absent) and its place.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Row {
    /// 1-based line of the file where the row starts (Parquet: the row number).
    pub line: u64,
    pub values: Vec<Option<String>>,
}

/// A row that cannot be read at all (wrong number of fields, not a JSON object, not
/// UTF-8): its line, why, and its raw text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Unreadable {
    pub line: u64,
    pub error: String,
    pub raw: String,
}

/// The file formats an export comes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Csv,
    Jsonl,
    Parquet,
}

/// Suffixes of the files a folder given to `--transactions` contributes.
pub(crate) const SUFFIXES: [&str; 10] = [
    ".csv",
    ".csv.gz",
    ".tsv",
    ".tsv.gz",
    ".txt",
    ".txt.gz",
    ".jsonl",
    ".jsonl.gz",
    ".ndjson",
    ".parquet",
];

/// The format of a file: Parquet by its magic bytes, JSON Lines by its name, else CSV.
pub(crate) fn format_of(path: &Path) -> Result<Format> {
    let mut magic = [0u8; 4];
    let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
    let n = f.read(&mut magic).map_err(|e| Error::io(path, e))?;
    if n == 4 && &magic == b"PAR1" {
        return Ok(Format::Parquet);
    }
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    Ok(
        if [".jsonl", ".ndjson", ".json"]
            .iter()
            .any(|s| name.ends_with(s))
        {
            Format::Jsonl
        } else {
            Format::Csv
        },
    )
}

/// Opens a text file, through gzip when its name ends in `.gz`.
fn text_reader(path: &Path) -> Result<Box<dyn BufRead>> {
    let f = File::open(path).map_err(|e| Error::io(path, e))?;
    let gz = path
        .extension()
        .is_some_and(|x| x.eq_ignore_ascii_case("gz"));
    Ok(if gz {
        Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(f)))
    } else {
        Box::new(BufReader::new(f))
    })
}

/// Where each mapped column is in the file, or the error naming the columns it has.
fn positions(path: &Path, header: &[String], wanted: &[(String, String)]) -> Result<Vec<usize>> {
    wanted
        .iter()
        .map(|(flag, name)| {
            header.iter().position(|h| h == name).ok_or_else(|| {
                let close = header
                    .iter()
                    .find(|h| h.eq_ignore_ascii_case(name) || h.trim() == name.trim());
                Error::BadInput {
                    path: path.to_path_buf(),
                    message: format!(
                        "has no column \"{name}\" (given to {flag}); its columns are: {}",
                        header
                            .iter()
                            .map(|h| format!("\"{h}\""))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    hint: match close {
                        Some(c) => format!("did you mean {flag} \"{c}\"?"),
                        None => format!("pass {flag} with one of the columns above"),
                    },
                }
            })
        })
        .collect()
}

/// What the reader hands on: a readable row, or an unreadable one.
pub(crate) type Item = std::result::Result<Row, Unreadable>;

/// Reads every row of `path`, calling `each` with each readable or unreadable row (it may
/// stop the read by returning an error). `wanted` is the mapped columns as (flag, column
/// name), in the order of [`Row::values`].
pub(crate) fn read_rows(
    path: &Path,
    wanted: &[(String, String)],
    delimiter: Option<u8>,
    each: &mut dyn FnMut(Item) -> Result<()>,
) -> Result<()> {
    match format_of(path)? {
        Format::Csv => read_csv(path, wanted, delimiter, each),
        Format::Jsonl => read_jsonl(path, wanted, each),
        Format::Parquet => read_parquet(path, wanted, each),
    }
}

/// The delimiter of a CSV header line: the most frequent of , ; tab | outside quotes
/// (ties: the earlier in that list).
pub(crate) fn detect_delimiter(header: &str) -> u8 {
    let mut counts = [0usize; 4];
    let candidates = [b',', b';', b'\t', b'|'];
    let mut quoted = false;
    for b in header.bytes() {
        if b == b'"' {
            quoted = !quoted;
        } else if !quoted && let Some(i) = candidates.iter().position(|c| *c == b) {
            counts[i] += 1;
        }
    }
    let best = (0..4).max_by_key(|&i| (counts[i], 3 - i)).unwrap_or(0);
    candidates[best]
}

fn empty_file(path: &Path, what: &str) -> Error {
    Error::BadInput {
        path: path.to_path_buf(),
        message: what.into(),
        hint: "pass an export with a header row and at least one data row".into(),
    }
}

fn read_csv(
    path: &Path,
    wanted: &[(String, String)],
    delimiter: Option<u8>,
    each: &mut dyn FnMut(Item) -> Result<()>,
) -> Result<()> {
    let mut input = text_reader(path)?;
    let delimiter = match delimiter {
        Some(d) => d,
        None => {
            let buf = input.fill_buf().map_err(|e| Error::io(path, e))?;
            let first = buf.split(|b| *b == b'\n').next().unwrap_or_default();
            detect_delimiter(&String::from_utf8_lossy(first))
        }
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        .flexible(true)
        .from_reader(input);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| csv_error(path, &e))?
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let h = if i == 0 {
                h.trim_start_matches('\u{feff}')
            } else {
                h
            };
            h.trim().to_string()
        })
        .collect();
    if header.is_empty() || header.iter().all(String::is_empty) {
        return Err(empty_file(path, "is empty: no header row"));
    }
    let at = positions(path, &header, wanted)?;
    let mut record = csv::ByteRecord::new();
    let mut rows = 0u64;
    loop {
        let line = reader.position().line();
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                each(Err(Unreadable {
                    line,
                    error: format!("is not a CSV row: {e}"),
                    raw: String::new(),
                }))?;
                continue;
            }
        }
        let line = record.position().map_or(line, |p| p.line());
        let raw = || {
            record
                .iter()
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect::<Vec<_>>()
                .join(&char::from(delimiter).to_string())
        };
        if record.len() == 1 && record[0].is_empty() {
            continue; // a blank line
        }
        if record.len() != header.len() {
            each(Err(Unreadable {
                line,
                error: format!(
                    "has {} fields, the header has {} (a delimiter inside an unquoted value?)",
                    record.len(),
                    header.len()
                ),
                raw: raw(),
            }))?;
            continue;
        }
        let mut values = Vec::with_capacity(at.len());
        let mut utf8 = true;
        for &i in &at {
            match std::str::from_utf8(&record[i]) {
                Ok(v) => values.push(non_empty(v)),
                Err(_) => utf8 = false,
            }
        }
        if !utf8 {
            each(Err(Unreadable {
                line,
                error: "is not UTF-8 text".into(),
                raw: raw(),
            }))?;
            continue;
        }
        rows += 1;
        each(Ok(Row { line, values }))?;
    }
    if rows == 0 {
        return Err(empty_file(path, "has a header row but no data rows"));
    }
    Ok(())
}

fn csv_error(path: &Path, e: &csv::Error) -> Error {
    match e.kind() {
        csv::ErrorKind::Io(io) => Error::BadInput {
            path: path.to_path_buf(),
            message: format!("cannot be read: {io}"),
            hint: "a .gz file must be gzip; otherwise check the file".into(),
        },
        _ => Error::BadInput {
            path: path.to_path_buf(),
            message: format!("is not CSV: {e}"),
            hint: "pass CSV with a header row, JSON Lines or Parquet".into(),
        },
    }
}

fn non_empty(v: &str) -> Option<String> {
    let t = v.trim();
    (!t.is_empty()).then(|| t.to_string())
}

fn read_jsonl(
    path: &Path,
    wanted: &[(String, String)],
    each: &mut dyn FnMut(Item) -> Result<()>,
) -> Result<()> {
    let input = text_reader(path)?;
    let mut seen_keys: Vec<String> = Vec::new();
    let mut found = vec![false; wanted.len()];
    let mut rows = 0u64;
    for (n, text) in input.split(b'\n').enumerate() {
        let line = n as u64 + 1;
        let bytes = text.map_err(|e| Error::io(path, e))?;
        let text = String::from_utf8_lossy(&bytes);
        let text = text.trim_start_matches('\u{feff}').trim();
        if text.is_empty() {
            continue;
        }
        let object = match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Object(o)) => o,
            Ok(_) => {
                each(Err(Unreadable {
                    line,
                    error: "is not a JSON object".into(),
                    raw: text.to_string(),
                }))?;
                continue;
            }
            Err(e) => {
                each(Err(Unreadable {
                    line,
                    error: format!("is not JSON: {e}"),
                    raw: text.to_string(),
                }))?;
                continue;
            }
        };
        if seen_keys.len() < 200 {
            for k in object.keys() {
                if !seen_keys.contains(k) {
                    seen_keys.push(k.clone());
                }
            }
        }
        let values = wanted
            .iter()
            .enumerate()
            .map(|(i, (_, name))| {
                let v = object.get(name);
                found[i] |= v.is_some();
                match v {
                    None | Some(serde_json::Value::Null) => None,
                    Some(serde_json::Value::String(s)) => non_empty(s),
                    Some(other) => Some(other.to_string()),
                }
            })
            .collect();
        rows += 1;
        each(Ok(Row { line, values }))?;
    }
    if rows == 0 {
        return Err(empty_file(path, "has no JSON objects"));
    }
    // A mapped key that no object has is a wrong mapping, not missing values.
    if let Some(i) = found.iter().position(|f| !f) {
        positions(path, &seen_keys, &wanted[i..=i])?;
    }
    Ok(())
}

fn read_parquet(
    path: &Path,
    wanted: &[(String, String)],
    each: &mut dyn FnMut(Item) -> Result<()>,
) -> Result<()> {
    let pq = |e: parquet::errors::ParquetError| Error::BadInput {
        path: path.to_path_buf(),
        message: format!("is not a readable Parquet file: {e}"),
        hint: "check the file".into(),
    };
    let f = File::open(path).map_err(|e| Error::io(path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(f).map_err(pq)?;
    let header: Vec<String> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let at = positions(path, &header, wanted)?;
    let reader = builder.with_batch_size(8192).build().map_err(pq)?;
    let mut line = 0u64;
    for batch in reader {
        let batch = batch.map_err(|e| Error::BadInput {
            path: path.to_path_buf(),
            message: format!("cannot be read: {e}"),
            hint: "check the file".into(),
        })?;
        let columns = at
            .iter()
            .map(|&i| {
                let c = batch.column(i);
                // Timestamps with a zone print their offset; without one they are UTC.
                cast(c, &DataType::Utf8).map_err(|e| Error::BadInput {
                    path: path.to_path_buf(),
                    message: format!("column \"{}\" cannot be read as text: {e}", header[i]),
                    hint: "map a column of numbers, text, dates or timestamps".into(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        for r in 0..batch.num_rows() {
            line += 1;
            let values = columns
                .iter()
                .map(|c| {
                    let s = c.as_string::<i32>();
                    if s.is_null(r) {
                        None
                    } else {
                        non_empty(s.value(r))
                    }
                })
                .collect();
            each(Ok(Row { line, values }))?;
        }
    }
    if line == 0 {
        return Err(empty_file(path, "has no rows"));
    }
    Ok(())
}

/// The data files behind `--transactions` arguments (files, or folders of files with the
/// [`SUFFIXES`]), in the order given, each folder's in name order.
pub(crate) fn input_files(
    paths: &[PathBuf],
    stage: &super::super::InputStage,
) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for path in paths {
        out.extend(super::super::input_files(
            path,
            "--transactions",
            &SUFFIXES,
            stage,
        )?);
    }
    Ok(out)
}

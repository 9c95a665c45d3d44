//! How one raw JSON line becomes one row of each lake table (their schemas are in
//! [`crate::lake`]).
//!
//! A line is parsed completely into a small row struct before anything is appended, so a
//! bad line never leaves a half-appended row behind.

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, ListBuilder, RecordBatch,
    StringBuilder, TimestampSecondBuilder,
};
use arrow::datatypes::{DataType, Field};

use super::checks::{Evidence, foreign_key};
use super::json_scan::{Cursor, Kind, ScanResult, wrong_type};
use crate::lake::{Table, items_schema, review_rows_schema};

/// A row builder for `table`'s lake schema.
pub(crate) fn row_builder(table: Table) -> Box<dyn RowBuilder> {
    match table {
        Table::Reviews => Box::new(ReviewsBuilder::default()),
        Table::Items => Box::new(ItemsBuilder::default()),
    }
}

/// Appends parsed lines to Arrow builders.
pub(crate) trait RowBuilder: Send {
    /// Parses one line and appends it as a row, or appends nothing and says why. A key
    /// the line lacks is NULL; only a line that is not a JSON object, or a field of the
    /// wrong type, is refused (DESIGN §3). `line_no` is kept for the file-level checks.
    fn push_line(&mut self, line: &[u8], line_no: u64) -> ScanResult<()>;
    /// What the rows pushed so far showed, for the checks on the whole file (see
    /// `checks`); the builder starts afresh.
    fn take_evidence(&mut self) -> Evidence;
    fn len(&self) -> usize;
    /// The rows so far as a batch; the builder is empty afterwards.
    fn finish(&mut self) -> RecordBatch;
}

fn opt_string<'a>(c: &mut Cursor<'a>, key: &str) -> ScanResult<Option<Cow<'a, str>>> {
    match c.kind()? {
        Kind::String => c.string().map(Some),
        Kind::Null => c.null().map(|_| None),
        other => Err(wrong_type(key, other, "a string")),
    }
}

fn opt_f64(c: &mut Cursor<'_>, key: &str) -> ScanResult<Option<f64>> {
    match c.kind()? {
        Kind::Number => {
            if let Some(v) = c.plain_f64() {
                return Ok(Some(v));
            }
            let text = c.number()?;
            text.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .map(Some)
                .ok_or_else(|| format!("\"{key}\" is not a valid number: {text}"))
        }
        Kind::Null => c.null().map(|_| None),
        other => Err(wrong_type(key, other, "a number")),
    }
}

fn opt_i64(c: &mut Cursor<'_>, key: &str, expected: &str) -> ScanResult<Option<i64>> {
    match c.kind()? {
        Kind::Number => {
            if let Some(v) = c.plain_i64() {
                return Ok(Some(v));
            }
            let text = c.number()?;
            if let Ok(v) = text.parse::<i64>() {
                return Ok(Some(v));
            }
            // 1.5e12 is an integer written as a float; 1.5 is not.
            match text.parse::<f64>() {
                Ok(v) if v.fract() == 0.0 && v.abs() < 9.0e18 => Ok(Some(v as i64)),
                _ => Err(format!("\"{key}\" is {text}, expected {expected}")),
            }
        }
        Kind::Null => c.null().map(|_| None),
        other => Err(wrong_type(key, other, expected)),
    }
}

fn opt_bool(c: &mut Cursor<'_>, key: &str) -> ScanResult<Option<bool>> {
    match c.kind()? {
        Kind::Bool => c.boolean().map(Some),
        Kind::Null => c.null().map(|_| None),
        other => Err(wrong_type(key, other, "true or false")),
    }
}

#[derive(Default)]
struct ReviewsBuilder {
    user_id: StringBuilder,
    parent_asin: StringBuilder,
    asin: StringBuilder,
    rating: Float64Builder,
    ts: TimestampSecondBuilder,
    verified: BooleanBuilder,
    helpful: Int64Builder,
    rows: usize,
    evidence: Evidence,
}

impl RowBuilder for ReviewsBuilder {
    fn push_line(&mut self, line: &[u8], line_no: u64) -> ScanResult<()> {
        // A key that is absent stays None and becomes NULL, like JSON null; `seen` notes
        // which of `checks::required_keys` (user_id, parent_asin, rating, timestamp) were
        // there, for the file-level checks.
        let mut user_id = None;
        let mut parent_asin = None;
        let mut asin = None;
        let mut rating = None;
        let mut ts_ms = None;
        let mut verified = None;
        let mut helpful = None;
        let mut seen = [false; 4];
        let mut foreign = false;
        Cursor::new(line).object(|key, c| {
            match key {
                b"user_id" => {
                    seen[0] = true;
                    user_id = opt_string(c, "user_id")?;
                }
                b"parent_asin" => {
                    seen[1] = true;
                    parent_asin = opt_string(c, "parent_asin")?;
                }
                b"asin" => asin = opt_string(c, "asin")?,
                b"rating" => {
                    seen[2] = true;
                    rating = opt_f64(c, "rating")?;
                }
                b"timestamp" => {
                    seen[3] = true;
                    ts_ms = opt_i64(c, "timestamp", "integer milliseconds")?;
                }
                b"verified_purchase" => verified = opt_bool(c, "verified_purchase")?,
                b"helpful_vote" => helpful = opt_i64(c, "helpful_vote", "an integer")?,
                other => {
                    foreign |= other == foreign_key(Table::Reviews).as_bytes();
                    c.skip_value()?;
                }
            }
            Ok(())
        })?;
        self.evidence.note_row(seen, foreign);
        if let Some(ms) = ts_ms {
            self.evidence.timestamp(line_no, ms);
        }
        self.user_id.append_option(user_id);
        self.parent_asin.append_option(parent_asin);
        self.asin.append_option(asin);
        self.rating.append_option(rating);
        self.ts.append_option(ts_ms.map(|ms| ms.div_euclid(1000)));
        self.verified.append_option(verified);
        self.helpful.append_option(helpful);
        self.rows += 1;
        Ok(())
    }

    fn take_evidence(&mut self) -> Evidence {
        std::mem::take(&mut self.evidence)
    }

    fn len(&self) -> usize {
        self.rows
    }

    fn finish(&mut self) -> RecordBatch {
        self.rows = 0;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.user_id.finish()),
            Arc::new(self.parent_asin.finish()),
            Arc::new(self.asin.finish()),
            Arc::new(self.rating.finish()),
            Arc::new(self.ts.finish()),
            Arc::new(self.verified.finish()),
            Arc::new(self.helpful.finish()),
        ];
        RecordBatch::try_new(review_rows_schema(), columns)
            .expect("builders match review_rows_schema by construction")
    }
}

struct ItemsBuilder {
    parent_asin: StringBuilder,
    title: StringBuilder,
    main_category: StringBuilder,
    store: StringBuilder,
    categories: ListBuilder<StringBuilder>,
    price_raw: StringBuilder,
    rows: usize,
    evidence: Evidence,
}

impl Default for ItemsBuilder {
    fn default() -> Self {
        ItemsBuilder {
            parent_asin: StringBuilder::new(),
            title: StringBuilder::new(),
            main_category: StringBuilder::new(),
            store: StringBuilder::new(),
            categories: ListBuilder::new(StringBuilder::new())
                .with_field(Arc::new(Field::new_list_field(DataType::Utf8, true))),
            price_raw: StringBuilder::new(),
            rows: 0,
            evidence: Evidence::default(),
        }
    }
}

impl RowBuilder for ItemsBuilder {
    fn push_line(&mut self, line: &[u8], _line_no: u64) -> ScanResult<()> {
        let mut parent_asin = None;
        let mut title = None;
        let mut main_category = None;
        let mut store = None;
        let mut categories = None;
        let mut price: Option<Cow<'_, str>> = None;
        // As for reviews; the one required key here is parent_asin.
        let mut seen = [false; 4];
        let mut foreign = false;
        Cursor::new(line).object(|key, c| {
            match key {
                b"parent_asin" => {
                    seen[0] = true;
                    parent_asin = opt_string(c, "parent_asin")?;
                }
                b"title" => title = opt_string(c, "title")?,
                b"main_category" => main_category = opt_string(c, "main_category")?,
                b"store" => store = opt_string(c, "store")?,
                b"categories" => categories = c.string_list("categories")?,
                // Whatever its type: a number's own text, a string's content, or NULL.
                b"price" => {
                    price = match c.kind()? {
                        Kind::String => Some(c.string()?),
                        Kind::Null => {
                            c.null()?;
                            None
                        }
                        Kind::Number => Some(Cow::Borrowed(c.number()?)),
                        _ => Some(String::from_utf8_lossy(c.skip_value()?)),
                    }
                }
                other => {
                    foreign |= other == foreign_key(Table::Items).as_bytes();
                    c.skip_value()?;
                }
            }
            Ok(())
        })?;
        self.evidence.note_row(seen, foreign);
        self.parent_asin.append_option(parent_asin);
        self.title.append_option(title);
        self.main_category.append_option(main_category);
        self.store.append_option(store);
        match categories {
            Some(list) => {
                for c in list {
                    self.categories.values().append_value(c);
                }
                self.categories.append(true);
            }
            None => self.categories.append(false),
        }
        self.price_raw.append_option(price);
        self.rows += 1;
        Ok(())
    }

    fn take_evidence(&mut self) -> Evidence {
        std::mem::take(&mut self.evidence)
    }

    fn len(&self) -> usize {
        self.rows
    }

    fn finish(&mut self) -> RecordBatch {
        self.rows = 0;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.parent_asin.finish()),
            Arc::new(self.title.finish()),
            Arc::new(self.main_category.finish()),
            Arc::new(self.store.finish()),
            Arc::new(self.categories.finish()),
            Arc::new(self.price_raw.finish()),
        ];
        RecordBatch::try_new(items_schema(), columns)
            .expect("builders match items_schema by construction")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Float64Type, Int64Type, TimestampSecondType};

    const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

    fn read(path: &str) -> Vec<String> {
        std::fs::read_to_string(format!("{SAMPLES}/{path}"))
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Every field of every sample line, against serde_json's reading of the same line.
    #[test]
    fn review_rows_match_serde_json() {
        let lines = read("Electronics.sample.jsonl");
        let mut b = row_builder(Table::Reviews);
        for (i, l) in lines.iter().enumerate() {
            b.push_line(l.as_bytes(), i as u64 + 1).unwrap();
        }
        let batch = b.finish();
        assert_eq!(batch.num_rows(), lines.len());
        for (i, l) in lines.iter().enumerate() {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let s = |c: usize| batch.column(c).as_string::<i32>().value(i).to_string();
            assert_eq!(s(0), v["user_id"].as_str().unwrap());
            assert_eq!(s(1), v["parent_asin"].as_str().unwrap());
            assert_eq!(s(2), v["asin"].as_str().unwrap());
            assert_eq!(
                batch.column(3).as_primitive::<Float64Type>().value(i),
                v["rating"].as_f64().unwrap()
            );
            assert_eq!(
                batch
                    .column(4)
                    .as_primitive::<TimestampSecondType>()
                    .value(i),
                v["timestamp"].as_i64().unwrap() / 1000
            );
            assert_eq!(
                batch.column(5).as_boolean().value(i),
                v["verified_purchase"].as_bool().unwrap()
            );
            assert_eq!(
                batch.column(6).as_primitive::<Int64Type>().value(i),
                v["helpful_vote"].as_i64().unwrap()
            );
        }
    }

    #[test]
    fn item_price_is_kept_as_raw_text_whatever_its_json_type() {
        let lines = read("meta_Electronics.sample.jsonl");
        let mut b = row_builder(Table::Items);
        for (i, l) in lines.iter().enumerate() {
            b.push_line(l.as_bytes(), i as u64 + 1).unwrap();
        }
        let batch = b.finish();
        let price = batch.column(5).as_string::<i32>();
        let got: Vec<Option<&str>> = price.iter().collect();
        assert_eq!(
            got,
            vec![
                None,
                Some("29.99"),
                Some("None"),
                Some("$1,299.99"),
                Some("—")
            ]
        );
        let store = batch.column(3).as_string::<i32>();
        assert!(store.is_null(2), "JSON null store stays NULL");
        let cats = batch.column(4).as_list::<i32>();
        assert_eq!(cats.value(0).len(), 3);
        assert_eq!(cats.value(2).len(), 0);
    }

    #[test]
    fn wrong_types_name_the_key() {
        let mut b = row_builder(Table::Reviews);
        let cases = [
            (
                r#"{"rating": 5.0, "parent_asin": "B1", "user_id": "U", "timestamp": "2023-01-05"}"#,
                r#""timestamp" is a string, expected integer milliseconds"#,
            ),
            (
                r#"{"rating": "five", "parent_asin": "B1", "user_id": "U", "timestamp": 1}"#,
                r#""rating" is a string, expected a number"#,
            ),
            (
                r#"{"rating": 5.0, "parent_asin": "B1", "user_id": 7, "timestamp": 1}"#,
                r#""user_id" is a number, expected a string"#,
            ),
            (
                r#"{"rating": 5.0, "parent_asin": "B1", "user_id": "U", "timestamp": 1.5}"#,
                r#""timestamp" is 1.5, expected integer milliseconds"#,
            ),
        ];
        for (line, want) in cases {
            assert_eq!(b.push_line(line.as_bytes(), 1).unwrap_err(), want);
        }
        assert_eq!(b.len(), 0, "a rejected line appends nothing");
        let err = row_builder(Table::Items)
            .push_line(br#"{"parent_asin": ["B1"], "title": "x"}"#, 1)
            .unwrap_err();
        assert_eq!(err, r#""parent_asin" is an array, expected a string"#);
    }

    /// DESIGN §3: a key missing from an object reads as NULL, as in Spark, DuckDB and
    /// arrow-json; the line is data, not a bad line.
    #[test]
    fn missing_keys_are_null_not_bad_lines() {
        let mut b = row_builder(Table::Reviews);
        for (i, line) in [
            r#"{"rating": 5.0, "parent_asin": "B1", "timestamp": 1600000000000}"#,
            r#"{"user_id": "U2", "rating": 4.0, "timestamp": 1600000001000}"#,
            r#"{"user_id": "U3", "parent_asin": "B3", "timestamp": 1600000002000}"#,
            r#"{"user_id": "U4", "parent_asin": "B4", "rating": 3.0}"#,
            r#"{}"#,
        ]
        .iter()
        .enumerate()
        {
            b.push_line(line.as_bytes(), i as u64 + 1).unwrap();
        }
        let ev = b.take_evidence();
        assert_eq!(ev.rows, 5);
        assert_eq!(
            ev.keys_present,
            [3, 3, 3, 3],
            "user_id, parent_asin, rating, timestamp"
        );
        assert_eq!(ev.timestamps, 3);
        let batch = b.finish();
        let nulls: Vec<Vec<bool>> = (0..batch.num_columns())
            .map(|c| (0..5).map(|r| batch.column(c).is_null(r)).collect())
            .collect();
        assert_eq!(
            nulls,
            vec![
                vec![true, false, false, false, true], // user_id
                vec![false, true, false, false, true], // parent_asin
                vec![true, true, true, true, true],    // asin
                vec![false, false, true, false, true], // rating
                vec![false, false, false, true, true], // ts
                vec![true, true, true, true, true],    // verified_purchase
                vec![true, true, true, true, true],    // helpful_vote
            ]
        );

        let mut b = row_builder(Table::Items);
        b.push_line(br#"{"title": "Hub", "main_category": "Computers"}"#, 1)
            .unwrap();
        let batch = b.finish();
        assert!(batch.column(0).is_null(0), "parent_asin");
        assert_eq!(batch.column(1).as_string::<i32>().value(0), "Hub");
        assert!(batch.column(4).is_null(0) && batch.column(5).is_null(0));
    }
}

//! Checks on a whole input file that no single line can make: a key that no line has
//! (the file belongs to the other table, or is not the format) and timestamps written in
//! seconds instead of milliseconds.
//!
//! A missing key on one line is NULL, as Spark, DuckDB and arrow-json read it (DESIGN §3),
//! and cleaning counts and drops the row. The same key missing from every line says
//! something else: the file is not what the flag expects, and ingesting it would only end,
//! much later, in "no reviews left after cleaning". So that case fails at ingest.

use std::path::Path;

use crate::error::Error;
use crate::lake::Table;

/// Unix milliseconds below 1e11 are before 1973-03-03T09:46:40Z. No review is that old
/// (the Amazon dump starts in May 1996), while Unix seconds stay below 1e11 until the year
/// 5138: a value below it is a time in seconds, or garbage.
pub(crate) const SECONDS_LIKE_BELOW_MS: i64 = 100_000_000_000;

/// What the lines of one file showed, gathered while parsing, merged over its segments in
/// file order.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Evidence {
    /// Rows read (lines that were not blank and not bad).
    pub rows: u64,
    /// Rows in which each of [`required_keys`] was present, even as null, in that order.
    pub keys_present: [u64; 4],
    /// Rows holding the key that only the other table has (see [`foreign_key`]).
    pub foreign_key_rows: u64,
    /// Rows with a non-null timestamp.
    pub timestamps: u64,
    /// Rows whose timestamp is below [`SECONDS_LIKE_BELOW_MS`].
    pub seconds_like: u64,
    /// The first of those: (line or row number, value).
    pub first_seconds_like: Option<(u64, i64)>,
}

impl Evidence {
    /// Adds a later part of the same file.
    pub(crate) fn merge(&mut self, later: &Evidence) {
        self.rows += later.rows;
        for (a, b) in self.keys_present.iter_mut().zip(later.keys_present) {
            *a += b;
        }
        self.foreign_key_rows += later.foreign_key_rows;
        self.timestamps += later.timestamps;
        self.seconds_like += later.seconds_like;
        if self.first_seconds_like.is_none() {
            self.first_seconds_like = later.first_seconds_like;
        }
    }

    /// Renumbers a segment's lines, counted from its start, for the `before` lines of the
    /// file ahead of it.
    pub(crate) fn lines_after(&mut self, before: u64) {
        if let Some((line, _)) = &mut self.first_seconds_like {
            *line += before;
        }
    }

    /// Counts one row: which required keys it had, and whether it had the foreign key.
    pub(crate) fn note_row(&mut self, seen: [bool; 4], foreign: bool) {
        self.rows += 1;
        for (n, s) in self.keys_present.iter_mut().zip(seen) {
            *n += u64::from(s);
        }
        self.foreign_key_rows += u64::from(foreign);
    }

    /// Counts one timestamp (milliseconds) found at `at`.
    pub(crate) fn timestamp(&mut self, at: u64, ms: i64) {
        self.timestamps += 1;
        if ms < SECONDS_LIKE_BELOW_MS {
            self.seconds_like += 1;
            self.first_seconds_like.get_or_insert((at, ms));
        }
    }
}

/// The keys every file of a table has on some line; a lake column is NULL where a line
/// lacks one, but no line having it means the file is not that table's.
pub(crate) fn required_keys(table: Table) -> &'static [&'static str] {
    match table {
        Table::Reviews => &["user_id", "parent_asin", "rating", "timestamp"],
        Table::Items => &["parent_asin"],
    }
}

/// A key only the other table's lines have: `main_category` (meta) or `user_id` (reviews).
pub(crate) fn foreign_key(table: Table) -> &'static str {
    match table {
        Table::Reviews => "main_category",
        Table::Items => "user_id",
    }
}

/// The file-level verdict on a JSON Lines file; `None` if it is fine.
pub(crate) fn check_jsonl(table: Table, path: &Path, ev: &Evidence) -> Option<Error> {
    if ev.rows == 0 {
        // Nothing was read; the caller reports a file without data.
        return None;
    }
    let kind = match table {
        Table::Reviews => "reviews",
        Table::Items => "meta_*",
    };
    let missing: Vec<String> = required_keys(table)
        .iter()
        .zip(ev.keys_present)
        .filter(|(_, n)| *n == 0)
        .map(|(k, _)| format!("\"{k}\""))
        .collect();
    // A meta line has main_category; a reviews line never does. A reviews line has
    // user_id; a meta line never does, and meta files have no other key of their own
    // that every line carries, so there it takes every line having it.
    let swapped = match table {
        Table::Reviews => ev.foreign_key_rows > 0,
        Table::Items => ev.foreign_key_rows == ev.rows,
    };
    let message = if !missing.is_empty() {
        format!(
            "no line has the key{} {} ({} lines read), which every {kind} file has",
            if missing.len() > 1 { "s" } else { "" },
            missing.join(", "),
            ev.rows,
        )
    } else if table == Table::Items && swapped {
        format!(
            "is not a meta_* file: all {} lines have \"user_id\", a reviews key",
            ev.rows
        )
    } else {
        return seconds_error(path, ev, "line");
    };
    let hint = match (table, swapped) {
        (Table::Reviews, true) => {
            "this looks like a meta_* file: item metadata goes to --items, reviews to --reviews"
                .to_string()
        }
        (Table::Items, true) => "this looks like a reviews file (every line has \"user_id\"): \
                                 reviews go to --reviews, item metadata (meta_*) to --items"
            .to_string(),
        (_, false) => format!(
            "pass an Amazon Reviews 2023 {kind} file; a key missing from some lines only is \
             read as NULL and counted by cleaning"
        ),
    };
    Some(Error::BadInput {
        path: path.to_path_buf(),
        message,
        hint,
    })
}

/// Timestamps in seconds read as milliseconds put every review in January 1970, and the
/// segmentation is silently wrong. The rule is a majority of the file's timestamps below
/// [`SECONDS_LIKE_BELOW_MS`]: a file in seconds has all of them there, and a file in
/// milliseconds has none, or a few corrupt values (0, -1) that should not abort a
/// 40-million-line ingest; those rows become 1970 dates, which cleaning drops and counts
/// as older than `clean.history_days`.
/// `unit` names what the position in `first_seconds_like` counts ("line" or "row").
pub(crate) fn seconds_error(path: &Path, ev: &Evidence, unit: &str) -> Option<Error> {
    if ev.seconds_like * 2 <= ev.timestamps {
        return None;
    }
    let (at, value) = ev.first_seconds_like?;
    let as_ms = date_of(value.div_euclid(1000));
    let as_s = date_of(value);
    let message = format!(
        "the timestamps look like Unix seconds, not milliseconds: {} of {} are below \
         {SECONDS_LIKE_BELOW_MS} (before 1973 as milliseconds), e.g. {value} on {unit} {at} \
         ({as_ms} as milliseconds, {as_s} as seconds)",
        ev.seconds_like, ev.timestamps,
    );
    let hint = "the Amazon Reviews 2023 format has Unix milliseconds: multiply the timestamps \
                by 1000 (e.g. jq -c '.timestamp *= 1000' reviews.jsonl > fixed.jsonl), or \
                convert them to milliseconds where the file is made"
        .to_string();
    Some(match unit {
        "line" => Error::BadLine {
            path: path.to_path_buf(),
            line: at,
            message,
            hint,
        },
        _ => Error::BadInput {
            path: path.to_path_buf(),
            message,
            hint,
        },
    })
}

/// `2020-05-05`, or `out of range` for a value chrono cannot place.
fn date_of(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0).map_or_else(
        || "out of range".to_string(),
        |d| d.date_naive().to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_timestamps(values: &[i64]) -> Evidence {
        let mut ev = Evidence {
            rows: values.len() as u64,
            keys_present: [values.len() as u64; 4],
            ..Evidence::default()
        };
        for (i, &v) in values.iter().enumerate() {
            ev.timestamp(i as u64 + 1, v);
        }
        ev
    }

    #[test]
    fn a_majority_of_pre_1973_timestamps_means_seconds() {
        let path = Path::new("r.jsonl");
        // Seconds: all of them.
        let err = check_jsonl(
            Table::Reviews,
            path,
            &with_timestamps(&[1_694_563_200_000, 1_588_687_728, 1_290_278_495]),
        )
        .unwrap()
        .to_string();
        assert_eq!(
            err,
            "r.jsonl:2: the timestamps look like Unix seconds, not milliseconds: 2 of 3 are \
             below 100000000000 (before 1973 as milliseconds), e.g. 1588687728 on line 2 \
             (1970-01-19 as milliseconds, 2020-05-05 as seconds)\nhint: the Amazon Reviews \
             2023 format has Unix milliseconds: multiply the timestamps by 1000 (e.g. jq -c \
             '.timestamp *= 1000' reviews.jsonl > fixed.jsonl), or convert them to \
             milliseconds where the file is made"
        );
        // One corrupt value among milliseconds, or exactly half: kept.
        for values in [
            &[1_694_563_200_000, 0, 1_290_278_495_000][..],
            &[1_694_563_200_000, 1_588_687_728][..],
        ] {
            assert!(check_jsonl(Table::Reviews, path, &with_timestamps(values)).is_none());
        }
        // 1e11 itself is 1973-03-03 as milliseconds: not seconds-like.
        assert!(check_jsonl(Table::Reviews, path, &with_timestamps(&[100_000_000_000])).is_none());
    }

    #[test]
    fn merged_segments_keep_the_first_seconds_like_line() {
        let mut a = with_timestamps(&[1_694_563_200_000]);
        let mut b = Evidence::default();
        b.timestamp(7, 5);
        b.timestamp(9, 6);
        a.merge(&b);
        assert_eq!((a.timestamps, a.seconds_like), (3, 2));
        assert_eq!(a.first_seconds_like, Some((7, 5)));
    }
}

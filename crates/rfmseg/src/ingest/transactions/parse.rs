//! Times and amounts as shop exports write them, parsed once at ingest so that every later
//! stage reads plain UTC seconds and numbers. A value that does not parse is an error that
//! says which flag fixes it; an empty value is NULL (cleaning counts and drops the row).

use chrono::{DateTime, NaiveDate, NaiveDateTime};

/// How the time column is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeFormat {
    /// ISO dates and datetimes (with or without offset; `T` or a space), `YYYYMMDD`, or
    /// epoch seconds / milliseconds (told apart by size: from 10^11 on it is
    /// milliseconds, i.e. after 1973-03-03 in ms, before 5138 in s).
    Auto,
    /// A chrono strftime format (`--time-format "%d/%m/%Y %H:%M"`); with %z the offset is
    /// applied, without one the time is UTC.
    Custom(String),
}

/// Seconds since 1970-01-01 UTC. A time without an offset is taken as UTC; its day is then
/// taken in rfm.timezone like every other time.
pub fn parse_time(text: &str, format: &TimeFormat) -> Result<i64, String> {
    let t = text.trim();
    match format {
        TimeFormat::Custom(f) => {
            if let Ok(dt) = DateTime::parse_from_str(t, f) {
                return Ok(dt.timestamp());
            }
            if let Ok(dt) = NaiveDateTime::parse_from_str(t, f) {
                return Ok(dt.and_utc().timestamp());
            }
            NaiveDate::parse_from_str(t, f)
                .map(|d| {
                    d.and_hms_opt(0, 0, 0)
                        .unwrap_or_default()
                        .and_utc()
                        .timestamp()
                })
                .map_err(|e| format!("does not match --time-format {f:?} ({e})"))
        }
        TimeFormat::Auto => auto_time(t).ok_or_else(|| {
            "is not a time rfmseg recognises (ISO date or datetime, YYYYMMDD, epoch seconds \
             or milliseconds)"
                .to_string()
        }),
    }
}

fn auto_time(t: &str) -> Option<i64> {
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        if t.len() == 8 {
            let d = NaiveDate::parse_from_str(t, "%Y%m%d").ok()?;
            return d.and_hms_opt(0, 0, 0).map(|d| d.and_utc().timestamp());
        }
        let n: i64 = t.parse().ok()?;
        return Some(if n >= 100_000_000_000 {
            n.div_euclid(1000)
        } else {
            n
        });
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Some(dt.timestamp());
    }
    // A space instead of the T, fractional seconds, an offset as +hh:mm, +hhmm or Z.
    for f in [
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S%.fZ",
    ] {
        if let Ok(dt) = DateTime::parse_from_str(t, f) {
            return Some(dt.timestamp());
        }
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(t, f) {
            return Some(dt.and_utc().timestamp());
        }
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc().timestamp())
}

/// An amount: a number, or text with a currency sign or code, thousands separators, a
/// sign or accounting parentheses ("(12.50)" is -12.50). With `decimal_comma`, "1.299,99"
/// is 1299.99; without, "1,299.99" is. Rounded to micro-units, so that sums are exact
/// whatever the source wrote.
pub fn parse_amount(text: &str, decimal_comma: bool) -> Result<f64, String> {
    let t = text.trim();
    let (negative, body) = match t.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
        Some(inner) => (true, inner.trim()),
        None => (false, t),
    };
    let mut digits = String::with_capacity(body.len());
    let mut sign = 1.0;
    let (decimal, group) = if decimal_comma {
        (',', '.')
    } else {
        ('.', ',')
    };
    for c in body.chars() {
        match c {
            '0'..='9' => digits.push(c),
            c if c == decimal => digits.push('.'),
            // A group separator after the decimal point: the other convention.
            c if c == group && digits.contains('.') => return Err(bad_amount(decimal_comma)),
            c if c == group || c == ' ' || c == '\u{a0}' || c == '\'' || c == '_' => {}
            '-' | '\u{2212}' if digits.is_empty() => sign = -1.0,
            '+' if digits.is_empty() => {}
            c if c.is_alphabetic() || "$€£¥₹₩¤".contains(c) => {}
            _ => return Err(bad_amount(decimal_comma)),
        }
    }
    // A currency code between digits ("12USD50") is not an amount.
    let letters_inside = body
        .trim_matches(|c: char| !c.is_ascii_digit())
        .chars()
        .any(char::is_alphabetic);
    if digits.is_empty() || digits == "." || digits.matches('.').count() > 1 || letters_inside {
        return Err(bad_amount(decimal_comma));
    }
    let v: f64 = digits.parse().map_err(|_| bad_amount(decimal_comma))?;
    let v = if negative { -v } else { sign * v };
    if !v.is_finite() || v.abs() >= 1e12 {
        return Err("is not an amount below 10^12".into());
    }
    Ok((v * 1e6).round() / 1e6)
}

fn bad_amount(decimal_comma: bool) -> String {
    if decimal_comma {
        "is not an amount (read with a decimal comma: drop --decimal-comma if the file \
         writes 1,299.99)"
            .into()
    } else {
        "is not an amount (if the file writes 1.299,99, pass --decimal-comma)".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(y: i32, m: u32, d: u32, h: u32, mi: u32, s: u32) -> i64 {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, mi, s)
            .unwrap()
            .and_utc()
            .timestamp()
    }

    #[test]
    fn times_in_the_forms_exports_write() {
        let noon = utc(2023, 9, 13, 12, 0, 0);
        let midnight = utc(2023, 9, 13, 0, 0, 0);
        for (text, want) in [
            ("2023-09-13", midnight),
            ("20230913", midnight),
            ("2023-09-13T12:00:00", noon),
            ("2023-09-13 12:00:00", noon),
            ("2023-09-13 12:00", noon),
            ("2023-09-13T12:00:00.250", noon),
            ("2023-09-13T12:00:00Z", noon),
            ("2023-09-13T14:00:00+02:00", noon),
            ("2023-09-13 07:00:00-0500", noon),
            (" 2023-09-13T12:00:00.5+00:00 ", noon),
            ("1694606400", noon),
            ("1694606400000", noon),
            ("1694606400999", noon),
        ] {
            assert_eq!(parse_time(text, &TimeFormat::Auto), Ok(want), "{text}");
        }
        for bad in ["13/09/2023", "yesterday", "2023-13-01", "", "12:00"] {
            assert!(parse_time(bad, &TimeFormat::Auto).is_err(), "{bad}");
        }
        let uci = TimeFormat::Custom("%m/%d/%Y %H:%M".into());
        assert_eq!(
            parse_time("12/1/2010 8:26", &uci),
            Ok(utc(2010, 12, 1, 8, 26, 0))
        );
        let day_first = TimeFormat::Custom("%d.%m.%Y".into());
        assert_eq!(parse_time("13.09.2023", &day_first), Ok(midnight));
        let err = parse_time("2023-09-13", &uci).unwrap_err();
        assert!(err.contains("does not match --time-format"), "{err}");
    }

    #[test]
    fn amounts_with_signs_separators_and_decimal_commas() {
        for (text, comma, want) in [
            ("12.5", false, 12.5),
            ("1,299.99", false, 1299.99),
            ("$1,299.99", false, 1299.99),
            ("USD 7", false, 7.0),
            ("-3.20", false, -3.2),
            ("(12.50)", false, -12.5),
            ("€ -4,75", true, -4.75),
            ("1.299,99 €", true, 1299.99),
            ("1 299,99", true, 1299.99),
            ("£0.10", false, 0.1),
            ("+8", false, 8.0),
            ("0.1234567", false, 0.123457),
        ] {
            assert_eq!(parse_amount(text, comma), Ok(want), "{text}");
        }
        for (bad, comma) in [
            ("", false),
            ("n/a", false),
            ("12.5.3", false),
            ("1,299.99", true),
            ("12USD50", false),
            ("1e400", false),
            ("3 - 4", false),
        ] {
            assert!(parse_amount(bad, comma).is_err(), "{bad}");
        }
        assert!(
            parse_amount("1.299,99", false)
                .unwrap_err()
                .contains("--decimal-comma")
        );
    }
}

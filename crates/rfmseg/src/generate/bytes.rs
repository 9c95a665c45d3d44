//! Number and date formatting straight into a byte buffer.
//!
//! The generator writes hundreds of megabytes of JSON; going through `serde_json` or
//! `format!` for every field would cost more than generating the data. These helpers write
//! the exact text Python's `json.dumps` gives for the same values (the raw files were made
//! with Python), e.g. prices `29.99`, `30.0`, `9.5`.

/// Appends a non-negative integer in decimal.
pub(crate) fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Appends a signed integer in decimal.
pub(crate) fn push_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    push_u64(out, v.unsigned_abs());
}

/// Appends an amount in cents as Python prints the float: `29.99`, `30.0`, `9.5`.
pub(crate) fn push_cents_float(out: &mut Vec<u8>, cents: u64) {
    push_u64(out, cents / 100);
    out.push(b'.');
    let frac = cents % 100;
    out.push(b'0' + (frac / 10) as u8);
    if !frac.is_multiple_of(10) {
        out.push(b'0' + (frac % 10) as u8);
    }
}

/// Appends an amount in cents as a plain two-decimal string body: `19.99`, `30.00`.
pub(crate) fn push_cents_plain(out: &mut Vec<u8>, cents: u64) {
    push_u64(out, cents / 100);
    out.push(b'.');
    let frac = cents % 100;
    out.push(b'0' + (frac / 10) as u8);
    out.push(b'0' + (frac % 10) as u8);
}

/// Appends an amount in cents as a shop shows it: `$1,299.99`.
pub(crate) fn push_cents_dollars(out: &mut Vec<u8>, cents: u64) {
    out.push(b'$');
    let whole = cents / 100;
    let mut digits = Vec::with_capacity(20);
    push_u64(&mut digits, whole);
    for (k, d) in digits.iter().enumerate() {
        if k > 0 && (digits.len() - k) % 3 == 0 {
            out.push(b',');
        }
        out.push(*d);
    }
    out.push(b'.');
    let frac = cents % 100;
    out.push(b'0' + (frac / 10) as u8);
    out.push(b'0' + (frac % 10) as u8);
}

/// Appends a one-decimal number given in tenths: 44 -> `4.4`, 50 -> `5.0`.
pub(crate) fn push_tenths(out: &mut Vec<u8>, tenths: u64) {
    push_u64(out, tenths / 10);
    out.push(b'.');
    out.push(b'0' + (tenths % 10) as u8);
}

/// Appends the UTC calendar date of a Unix millisecond timestamp as `YYYY-MM-DD`.
pub(crate) fn push_iso_date(out: &mut Vec<u8>, ts_ms: i64) {
    let (y, m, d) = civil_from_days(ts_ms.div_euclid(86_400_000));
    push_u64(out, y as u64);
    out.push(b'-');
    out.push(b'0' + (m / 10) as u8);
    out.push(b'0' + (m % 10) as u8);
    out.push(b'-');
    out.push(b'0' + (d / 10) as u8);
    out.push(b'0' + (d % 10) as u8);
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Hinnant's
/// `civil_from_days`). Only used for years after 1970, where the year is positive.
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut v = Vec::new();
        f(&mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn prices_print_like_python_floats_and_shop_strings() {
        assert_eq!(s(|o| push_cents_float(o, 2999)), "29.99");
        assert_eq!(s(|o| push_cents_float(o, 3000)), "30.0");
        assert_eq!(s(|o| push_cents_float(o, 950)), "9.5");
        assert_eq!(s(|o| push_cents_float(o, 99_999_900)), "999999.0");
        assert_eq!(s(|o| push_cents_plain(o, 1999)), "19.99");
        assert_eq!(s(|o| push_cents_dollars(o, 129_999)), "$1,299.99");
        assert_eq!(s(|o| push_cents_dollars(o, 99)), "$0.99");
        assert_eq!(s(|o| push_cents_dollars(o, 123_456_700)), "$1,234,567.00");
        assert_eq!(s(|o| push_tenths(o, 44)), "4.4");
        assert_eq!(s(|o| push_i64(o, -1)), "-1");
        assert_eq!(s(|o| push_u64(o, 0)), "0");
    }

    #[test]
    fn dates_are_utc_calendar_days() {
        // 1694625903417 is 2023-09-13T17:25:03.417Z; 830908800000 is 1996-05-01T00:00Z.
        assert_eq!(s(|o| push_iso_date(o, 1_694_625_903_417)), "2023-09-13");
        assert_eq!(s(|o| push_iso_date(o, 830_908_800_000)), "1996-05-01");
        assert_eq!(s(|o| push_iso_date(o, 830_908_799_999)), "1996-04-30");
        assert_eq!(s(|o| push_iso_date(o, 951_782_400_000)), "2000-02-29");
    }
}

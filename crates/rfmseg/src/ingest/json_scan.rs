//! A JSON Lines field scanner that decodes only the keys the lake needs and skips the rest.
//!
//! A review line is ~500 bytes, of which the lake keeps five short fields; the review text,
//! images and the meta file's `details` are most of the bytes. Building a full JSON tree
//! (serde_json::Value, arrow-json) spends most of its time on those. This scanner walks the
//! top-level object once: a wanted key's value is decoded and type-checked, any other value
//! is skipped by matching brackets and string quotes (strings found with memchr), so a
//! skipped value is never decoded. Skipped values are checked for balance, not for full
//! JSON validity; a line that ends before its object closes is always reported.

use std::borrow::Cow;

/// Why a line could not be read; becomes `file:line: message` at the caller.
pub(crate) type ScanResult<T> = Result<T, String>;

/// The JSON type of a value, for "is a string, expected …" messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
}

impl Kind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool => "a boolean",
            Kind::Number => "a number",
            Kind::String => "a string",
            Kind::Array => "an array",
            Kind::Object => "an object",
        }
    }
}

/// A plainly written number: `digits` / 10^`scale`, ending before byte `end`.
struct Plain {
    digits: u64,
    scale: u32,
    negative: bool,
    end: usize,
}

/// A position in one line.
pub(crate) struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(b: &'a [u8]) -> Self {
        Cursor { b, i: 0 }
    }

    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if matches!(c, b' ' | b'\t' | b'\r' | b'\n') {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    fn truncated(&self, inside: &str) -> String {
        format!(
            "truncated JSON: the line ends inside {inside} (after {} bytes)",
            self.b.len()
        )
    }

    fn unexpected(&self, expected: &str) -> String {
        let rest = &self.b[self.i.min(self.b.len())..];
        let found = if rest.is_empty() {
            return self.truncated("the object");
        } else if rest.starts_with("\u{feff}".as_bytes()) {
            // A file's leading BOM is dropped before parsing; one further on usually comes
            // from files joined with `cat`.
            "a UTF-8 byte-order mark (files joined with their BOMs?)".to_string()
        } else {
            // The character, not its first byte read as Latin-1.
            let head = &rest[..rest.len().min(4)];
            let c = String::from_utf8_lossy(head).chars().next().unwrap_or('?');
            format!("{c:?}")
        };
        format!(
            "invalid JSON at byte {}: found {found}, expected {expected}",
            self.i + 1
        )
    }

    fn expect(&mut self, c: u8, what: &str) -> ScanResult<()> {
        self.ws();
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.unexpected(what))
        }
    }

    /// Walks the top-level object, calling `f(key, cursor)` for each key with the cursor on
    /// its value; `f` must consume the value (decode it or call [`Cursor::skip_value`]).
    pub(crate) fn object(
        &mut self,
        mut f: impl FnMut(&[u8], &mut Cursor<'a>) -> ScanResult<()>,
    ) -> ScanResult<()> {
        self.expect(b'{', "'{' (each line must be one JSON object)")?;
        self.ws();
        if self.b.get(self.i) == Some(&b'}') {
            self.i += 1;
        } else {
            loop {
                self.ws();
                if self.b.get(self.i) != Some(&b'"') {
                    return Err(self.unexpected("a quoted key"));
                }
                let (key, _) = self.raw_string()?;
                self.expect(b':', "':' after a key")?;
                self.ws();
                f(key, self)?;
                self.ws();
                match self.b.get(self.i) {
                    Some(b',') => self.i += 1,
                    Some(b'}') => {
                        self.i += 1;
                        break;
                    }
                    _ => return Err(self.unexpected("',' or '}'")),
                }
            }
        }
        self.ws();
        if self.i < self.b.len() {
            return Err(self.unexpected("the end of the line after the object"));
        }
        Ok(())
    }

    /// The JSON type of the value under the cursor.
    pub(crate) fn kind(&self) -> ScanResult<Kind> {
        match self.b.get(self.i) {
            Some(b'"') => Ok(Kind::String),
            Some(b'{') => Ok(Kind::Object),
            Some(b'[') => Ok(Kind::Array),
            Some(b't' | b'f') => Ok(Kind::Bool),
            Some(b'n') => Ok(Kind::Null),
            Some(b'-' | b'0'..=b'9') => Ok(Kind::Number),
            None => Err(self.truncated("a value")),
            Some(_) => Err(self.unexpected("a JSON value")),
        }
    }

    /// The bytes between the quotes of a string, and whether they hold escapes.
    fn raw_string(&mut self) -> ScanResult<(&'a [u8], bool)> {
        let start = self.i + 1;
        let mut j = start;
        let mut escaped = false;
        loop {
            match quote_or_backslash(&self.b[j..]) {
                None => return Err(self.truncated("a string")),
                Some(off) => {
                    let at = j + off;
                    if self.b[at] == b'"' {
                        self.i = at + 1;
                        return Ok((&self.b[start..at], escaped));
                    }
                    escaped = true;
                    j = at + 2;
                    if j > self.b.len() {
                        return Err(self.truncated("a string"));
                    }
                }
            }
        }
    }

    /// A string value, unescaped and checked to be UTF-8.
    pub(crate) fn string(&mut self) -> ScanResult<Cow<'a, str>> {
        let (raw, escaped) = self.raw_string()?;
        let text =
            std::str::from_utf8(raw).map_err(|_| "a string is not valid UTF-8".to_string())?;
        if escaped {
            unescape(text).map(Cow::Owned)
        } else {
            Ok(Cow::Borrowed(text))
        }
    }

    /// The text of a number (validated later by whoever parses it).
    pub(crate) fn number(&mut self) -> ScanResult<&'a str> {
        let start = self.i;
        while let Some(&c) = self.b.get(self.i) {
            if matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') {
                self.i += 1;
            } else {
                break;
            }
        }
        // Only ASCII bytes were taken, so this cannot fail.
        std::str::from_utf8(&self.b[start..self.i]).map_err(|_| "invalid number".to_string())
    }

    /// A number written plainly (an optional '-', 1 to 18 digits with at most one '.'
    /// between two of them, no exponent) as an integer when it has no '.', without going
    /// through text: a review's timestamp and vote count. None leaves the cursor where it
    /// was, for [`Cursor::number`] and the text parse, which then give the same value or
    /// the same error.
    pub(crate) fn plain_i64(&mut self) -> Option<i64> {
        let p = self.plain()?;
        if p.scale != 0 {
            return None;
        }
        // At most 18 digits: below i64::MAX.
        let v = p.digits as i64;
        self.i = p.end;
        Some(if p.negative { -v } else { v })
    }

    /// As [`Cursor::plain_i64`], a plain number as the nearest f64 (a review's rating). The
    /// digits as an integer below 2^53 and the power of ten up to 10^22 are both exact in
    /// an f64, and a division is correctly rounded, so the quotient is the f64 nearest the
    /// decimal, as the text parse gives (Clinger's fast path). None otherwise.
    pub(crate) fn plain_f64(&mut self) -> Option<f64> {
        const POWERS: [f64; 23] = [
            1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
            1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
        ];
        let p = self.plain()?;
        if p.digits >= 1 << 53 {
            return None;
        }
        let v = p.digits as f64 / *POWERS.get(p.scale as usize)?;
        self.i = p.end;
        Some(if p.negative { -v } else { v })
    }

    fn plain(&self) -> Option<Plain> {
        let b = self.b;
        let mut j = self.i;
        let negative = b.get(j) == Some(&b'-');
        j += usize::from(negative);
        let (mut digits, mut count, mut scale) = (0u64, 0u32, None::<u32>);
        loop {
            match b.get(j) {
                Some(&c @ b'0'..=b'9') => {
                    count += 1;
                    if count > 18 {
                        return None;
                    }
                    digits = digits * 10 + u64::from(c - b'0');
                    if let Some(s) = scale.as_mut() {
                        *s += 1;
                    }
                }
                Some(b'.') if scale.is_none() && count > 0 => scale = Some(0),
                Some(b'.' | b'e' | b'E' | b'+' | b'-') => return None,
                _ => break,
            }
            j += 1;
        }
        // A digit on both sides of a '.'; "5." and "-" are the text parse's to judge.
        if count == 0 || scale == Some(0) {
            return None;
        }
        Some(Plain {
            digits,
            scale: scale.unwrap_or(0),
            negative,
            end: j,
        })
    }

    fn literal(&mut self, word: &[u8]) -> ScanResult<()> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else if word.starts_with(&self.b[self.i..]) {
            Err(self.truncated("a literal"))
        } else {
            Err(self.unexpected("true, false or null"))
        }
    }

    pub(crate) fn null(&mut self) -> ScanResult<()> {
        self.literal(b"null")
    }

    pub(crate) fn boolean(&mut self) -> ScanResult<bool> {
        if self.b.get(self.i) == Some(&b't') {
            self.literal(b"true").map(|_| true)
        } else {
            self.literal(b"false").map(|_| false)
        }
    }

    /// Skips one value of any type without decoding it; returns its raw text.
    pub(crate) fn skip_value(&mut self) -> ScanResult<&'a [u8]> {
        let start = self.i;
        match self.kind()? {
            Kind::String => {
                self.raw_string()?;
            }
            Kind::Number => {
                self.number()?;
            }
            Kind::Null => self.null()?,
            Kind::Bool => {
                self.boolean()?;
            }
            Kind::Array | Kind::Object => {
                let mut depth = 0usize;
                loop {
                    match self.b.get(self.i) {
                        None => return Err(self.truncated("an array or object")),
                        Some(b'"') => {
                            self.raw_string()?;
                            continue;
                        }
                        Some(b'[' | b'{') => depth += 1,
                        Some(b']' | b'}') => {
                            depth -= 1;
                            if depth == 0 {
                                self.i += 1;
                                break;
                            }
                        }
                        Some(_) => {}
                    }
                    self.i += 1;
                }
            }
        }
        Ok(&self.b[start..self.i])
    }

    /// An array of strings (nulls inside are dropped), or `None` for JSON null.
    pub(crate) fn string_list(&mut self, key: &str) -> ScanResult<Option<Vec<Cow<'a, str>>>> {
        match self.kind()? {
            Kind::Null => {
                self.null()?;
                return Ok(None);
            }
            Kind::Array => {}
            other => return Err(wrong_type(key, other, "an array of strings")),
        }
        self.i += 1;
        let mut out = Vec::new();
        self.ws();
        if self.b.get(self.i) == Some(&b']') {
            self.i += 1;
            return Ok(Some(out));
        }
        loop {
            self.ws();
            match self.kind()? {
                Kind::String => out.push(self.string()?),
                Kind::Null => self.null()?,
                other => return Err(wrong_type(key, other, "an array of strings")),
            }
            self.ws();
            match self.b.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(Some(out));
                }
                _ => return Err(self.unexpected("',' or ']' in an array")),
            }
        }
    }
}

/// The first '"' or '\\' in `h`: memchr2, after a look at the first 32 bytes a word at a
/// time. Keys and identifiers are shorter than that, and for them memchr's vector set-up
/// cost more than the search (a review line has ~17 strings; memchr2 was 12% of the
/// ingest's CPU).
fn quote_or_backslash(h: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    // A byte of `x` that is zero sets its high bit in `zero(x)`; bits above the lowest zero
    // byte may be set falsely (borrows), so only the lowest set bit is trusted.
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let mut k = 0;
    while k < 32 {
        let Some(word) = h.get(k..k + 8) else { break };
        let w = u64::from_le_bytes(word.try_into().unwrap_or([0; 8]));
        let found = zero(w ^ (ONES * u64::from(b'"'))) | zero(w ^ (ONES * u64::from(b'\\')));
        if found != 0 {
            return Some(k + (found.trailing_zeros() / 8) as usize);
        }
        k += 8;
    }
    memchr::memchr2(b'"', b'\\', &h[k..]).map(|at| k + at)
}

/// `"key" is a string, expected integer milliseconds`.
pub(crate) fn wrong_type(key: &str, found: Kind, expected: &str) -> String {
    format!("\"{key}\" is {}, expected {expected}", found.name())
}

fn unescape(s: &str) -> ScanResult<String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('"') => out.push('"'),
            Some('\\') => out.push('\\'),
            Some('/') => out.push('/'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('u') => {
                let hi = hex4(&mut chars)?;
                let code = if (0xD800..0xDC00).contains(&hi) {
                    if chars.next() != Some('\\') || chars.next() != Some('u') {
                        return Err("invalid JSON string: unpaired surrogate escape".into());
                    }
                    let lo = hex4(&mut chars)?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return Err("invalid JSON string: unpaired surrogate escape".into());
                    }
                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                } else {
                    hi
                };
                out.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            _ => return Err("invalid JSON string: bad escape".into()),
        }
    }
    Ok(out)
}

fn hex4(chars: &mut std::str::Chars<'_>) -> ScanResult<u32> {
    let mut v = 0u32;
    for _ in 0..4 {
        let d = chars
            .next()
            .and_then(|c| c.to_digit(16))
            .ok_or_else(|| "invalid JSON string: bad \\u escape".to_string())?;
        v = v * 16 + d;
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys_and_skips(line: &str) -> ScanResult<Vec<(String, String)>> {
        let mut out = Vec::new();
        Cursor::new(line.as_bytes()).object(|k, c| {
            let raw = c.skip_value()?;
            out.push((
                String::from_utf8_lossy(k).into_owned(),
                String::from_utf8_lossy(raw).into_owned(),
            ));
            Ok(())
        })?;
        Ok(out)
    }

    /// The word-at-a-time search finds what memchr2 finds, at every length and position,
    /// on bytes next to '"' and '\\' in value (a borrow from a zero byte, high bits).
    #[test]
    fn quote_or_backslash_finds_what_memchr2_finds() {
        const BYTES: [u8; 12] = [
            b'"', b'\\', 0x00, 0x01, 0x21, 0x23, 0x5b, 0x5d, 0x80, 0xa2, 0xdc, b'a',
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as usize
        };
        let mut found = 0;
        for len in 0..80 {
            for _ in 0..400 {
                // Mostly plain letters, so the first match falls at every position.
                let h: Vec<u8> = (0..len)
                    .map(|_| match next() % 16 {
                        0..=11 => BYTES[2 + next() % 10],
                        _ => BYTES[next() % 12],
                    })
                    .collect();
                let want = memchr::memchr2(b'"', b'\\', &h);
                assert_eq!(quote_or_backslash(&h), want, "{h:?}");
                found += usize::from(want.is_some());
            }
        }
        // Both outcomes were tried, many times.
        assert!(found > 10_000 && found < 31_000, "{found}");
    }

    #[test]
    fn skips_nested_values_with_quotes_and_brackets_in_strings() {
        let got = keys_and_skips(
            r#"{"a": {"x": ["}", "\"]", {"y": null}]}, "b": [1, 2.5e3, true], "c": "q\\"}"#,
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                ("a".into(), r#"{"x": ["}", "\"]", {"y": null}]}"#.into()),
                ("b".into(), "[1, 2.5e3, true]".into()),
                ("c".into(), r#""q\\""#.into()),
            ]
        );
    }

    #[test]
    fn truncated_lines_are_reported_as_truncated() {
        for line in [
            r#"{"a": "abc"#,
            r#"{"a": [1, 2"#,
            r#"{"a": 1,"#,
            r#"{"a": tr"#,
            r#"{"a": "x\"#,
        ] {
            let err = keys_and_skips(line).unwrap_err();
            assert!(err.contains("truncated JSON"), "{line}: {err}");
        }
    }

    #[test]
    fn garbage_is_rejected_with_a_position() {
        let err = keys_and_skips("not json").unwrap_err();
        assert!(err.contains("expected '{'"), "{err}");
        let err = keys_and_skips(r#"{"a": 1} trailing"#).unwrap_err();
        assert!(err.contains("end of the line"), "{err}");
        let err = keys_and_skips(r#"{"a" 1}"#).unwrap_err();
        assert!(err.contains("':'"), "{err}");
    }

    /// The fast path against the text parse it stands in for: the same value to the bit,
    /// or None and the cursor unmoved. Whether the fast path took it.
    fn plain_agrees(text: &str) -> (bool, bool) {
        let line = format!("{text},");
        let as_text = Cursor::new(line.as_bytes()).number().unwrap();
        let mut c = Cursor::new(line.as_bytes());
        let f = c.plain_f64();
        match f {
            Some(v) => {
                let want: f64 = as_text.parse().unwrap();
                assert_eq!(v.to_bits(), want.to_bits(), "{text}");
                assert_eq!(c.i, as_text.len(), "{text}");
            }
            None => assert_eq!(c.i, 0, "{text}"),
        }
        let mut c = Cursor::new(line.as_bytes());
        let i = c.plain_i64();
        match i {
            Some(v) => {
                assert_eq!(Ok(v), as_text.parse::<i64>(), "{text}");
                assert_eq!(c.i, as_text.len(), "{text}");
            }
            None => assert_eq!(c.i, 0, "{text}"),
        }
        (f.is_some(), i.is_some())
    }

    #[test]
    fn plain_numbers_read_as_the_text_parse_reads_them() {
        for text in [
            "0",
            "-0",
            "5.0",
            "4.5",
            "-3.25",
            "0.1",
            "0.3",
            "1694625903417",
            "007",
            "-0.0",
            "123456789012345678",
            "1234567890123456789",
            "999999999999999999",
            "9007199254740993",
            "9007199254740992",
            "0.000000000000000001",
            "1.5e3",
            "1E2",
            "2.",
            ".5",
            "-",
            "1.2.3",
            "12-3",
            "+1",
            "-.5",
            "3.14159265358979",
        ] {
            plain_agrees(text);
        }
        // What the reviews hold takes the fast path; what it cannot read exactly does not.
        assert_eq!(plain_agrees("5.0"), (true, false));
        assert_eq!(plain_agrees("1694625903417"), (true, true));
        assert_eq!(plain_agrees("-12"), (true, true));
        assert_eq!(plain_agrees("9007199254740993"), (false, true));
        assert_eq!(plain_agrees("1.5e3"), (false, false));
        assert_eq!(plain_agrees("1234567890123456789"), (false, false));
        // A seeded sweep of decimals up to 18 digits and 22 decimals.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let digits = x % 10u64.pow(1 + (x >> 58) as u32 % 18);
            let scale = ((x >> 40) % 23) as usize;
            let mut text = digits.to_string();
            if scale > 0 {
                if text.len() <= scale {
                    text = format!("{}{text}", "0".repeat(scale + 1 - text.len()));
                }
                text.insert(text.len() - scale, '.');
            }
            if x & 1 == 1 {
                text.insert(0, '-');
            }
            plain_agrees(&text);
        }
    }

    #[test]
    fn strings_are_unescaped_like_serde_json() {
        let line = r#"{"s": "a\"b\\c\/d\n\u00e9\ud83d\ude00 ★"}"#;
        let mut got = String::new();
        Cursor::new(line.as_bytes())
            .object(|_, c| {
                got = c.string()?.into_owned();
                Ok(())
            })
            .unwrap();
        let want: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(got, want["s"].as_str().unwrap());
    }
}

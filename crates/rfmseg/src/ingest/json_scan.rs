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
            match memchr::memchr2(b'"', b'\\', &self.b[j..]) {
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

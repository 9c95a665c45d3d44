//! `null_if_placeholder(value, placeholder, ...)`: a string, or NULL where it is one of the
//! placeholders that mean "missing" in the raw data.
//!
//! ```sql
//! SELECT null_if_placeholder(user_id, 'none', 'n/a', 'null', '') AS user_id FROM lake_reviews;
//! ```
//!
//! The same result as `CASE WHEN lower(trim(value)) IN (placeholder, ...) THEN NULL ELSE
//! value END`, which the cleaning wrote for every identifier of every row: `lower` and
//! `trim` each copy every string, 0.4 s of CPU for the three identifiers of 10M reviews,
//! to find a handful of placeholders. Here a value longer than any placeholder can be is
//! rejected by its length, and the values are never copied: only their NULL mask changes.
//! Exactly DataFusion's rules: `trim` removes spaces (not tabs), `lower` is Unicode
//! lowercasing, and a placeholder matches only as written (an upper-case one never does,
//! as in the CASE).

use std::sync::LazyLock;

use datafusion::arrow::array::{Array, ArrayAccessor, ArrayRef, AsArray, BooleanArray};
use datafusion::arrow::buffer::BooleanBuffer;
use datafusion::arrow::compute::nullif;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

use crate::documentation::doc;
use crate::string_arg::scalar_text;

/// The UDF struct holds only its signature: functions travel to Ballista executors by
/// name, so the placeholders are arguments, not configuration.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct NullIfPlaceholderUdf {
    signature: Signature,
}

impl Default for NullIfPlaceholderUdf {
    fn default() -> Self {
        Self {
            signature: Signature::variadic_any(Volatility::Immutable),
        }
    }
}

const NAME: &str = "null_if_placeholder";

impl ScalarUDFImpl for NullIfPlaceholderUdf {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        let Some((value, placeholders)) = arg_types.split_first() else {
            return plan_err!("{NAME} expects a string and then its placeholders");
        };
        if !is_text(value) && *value != DataType::Null {
            return plan_err!("{NAME} expects a string as its first argument, got {value}");
        }
        if let Some(other) = placeholders
            .iter()
            .find(|t| !is_text(t) && **t != DataType::Null)
        {
            return plan_err!("{NAME}: a placeholder must be a string literal, got {other}");
        }
        Ok(value.clone())
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let Some((value, rest)) = args.args.split_first() else {
            return exec_err!("{NAME} expects a string and then its placeholders");
        };
        let placeholders = Placeholders::new(rest)?;
        match value {
            ColumnarValue::Scalar(s) => {
                if scalar_text(NAME, s)?.is_some_and(|t| placeholders.matches(t)) {
                    Ok(ColumnarValue::Scalar(ScalarValue::try_from(
                        &s.data_type(),
                    )?))
                } else {
                    Ok(ColumnarValue::Scalar(s.clone()))
                }
            }
            ColumnarValue::Array(array) => {
                let mask = placeholders.mask(array)?;
                Ok(ColumnarValue::Array(nullif(array, &mask)? as ArrayRef))
            }
        }
    }
}

fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

/// The placeholder literals, and the longest a value can be, in bytes, and still match.
struct Placeholders {
    list: Vec<String>,
    /// Lowercasing can shrink a string to a third of its bytes (the Kelvin sign, three
    /// bytes, becomes `k`), so a trimmed value longer than three times the longest
    /// placeholder cannot match.
    longest_match: usize,
}

impl Placeholders {
    fn new(args: &[ColumnarValue]) -> Result<Self> {
        let mut list = Vec::with_capacity(args.len());
        for a in args {
            match a {
                ColumnarValue::Scalar(
                    ScalarValue::Utf8(v) | ScalarValue::LargeUtf8(v) | ScalarValue::Utf8View(v),
                ) => list.extend(v.clone()),
                // `value IN (NULL)` is never true: the empty list of placeholders.
                ColumnarValue::Scalar(ScalarValue::Null) => {}
                _ => return exec_err!("{NAME}: a placeholder must be a string literal"),
            }
        }
        let longest_match = list.iter().map(String::len).max().unwrap_or(0) * 3;
        Ok(Placeholders {
            list,
            longest_match,
        })
    }

    /// Whether `lower(trim(value))` is one of the placeholders.
    fn matches(&self, value: &str) -> bool {
        // Most values are identifiers longer than any placeholder and not padded: their
        // ends decide it, without trimming (which was 3% of the cleaning's CPU).
        let b = value.as_bytes();
        if b.len() > self.longest_match && b[0] != b' ' && b[b.len() - 1] != b' ' {
            return false;
        }
        let t = value.trim_matches(' ');
        if t.len() > self.longest_match || self.list.is_empty() {
            return false;
        }
        if t.is_ascii() {
            self.list.iter().any(|p| {
                p.len() == t.len()
                    && t.bytes()
                        .zip(p.bytes())
                        .all(|(a, b)| a.to_ascii_lowercase() == b)
            })
        } else {
            let lower = t.to_lowercase();
            self.list.contains(&lower)
        }
    }

    /// True where a value is a placeholder (NULL values are left as they are).
    fn mask(&self, array: &ArrayRef) -> Result<BooleanArray> {
        // A mask without NULLs: a NULL value is no placeholder.
        let bits = match array.data_type() {
            DataType::Utf8 => self.bits(array.as_string::<i32>()),
            DataType::LargeUtf8 => self.bits(array.as_string::<i64>()),
            DataType::Utf8View => self.bits(array.as_string_view()),
            DataType::Null => BooleanBuffer::new_unset(array.len()),
            other => return exec_err!("{NAME} expects a string, got {other}"),
        };
        Ok(BooleanArray::new(bits, None))
    }

    /// The mask's bits over any of the string arrays.
    fn bits<'a>(&self, a: impl ArrayAccessor<Item = &'a str>) -> BooleanBuffer {
        BooleanBuffer::collect_bool(a.len(), |i| a.is_valid(i) && self.matches(a.value(i)))
    }
}

/// What `SHOW FUNCTIONS` and the docs API say about `null_if_placeholder`.
static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    doc(
        "The string, or NULL where its lower-cased, space-trimmed text is one of the \
         placeholders: `CASE WHEN lower(trim(value)) IN (placeholder, ...) THEN NULL ELSE \
         value END` without copying the strings. The placeholders are string literals; a \
         NULL among them matches nothing.",
        "null_if_placeholder(value, placeholder, ...)",
        &[
            ("value", "a string expression"),
            (
                "placeholder",
                "a string literal meaning \"missing\", lower-case",
            ),
        ],
        "> SELECT null_if_placeholder(' None ', 'none', 'n/a'), null_if_placeholder('A1', 'none');\nNULL | A1",
    )
});

/// The SQL function, ready to register.
pub fn null_if_placeholder_udf() -> ScalarUDF {
    ScalarUDF::from(NullIfPlaceholderUdf::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{LargeStringArray, RecordBatch, StringArray, StringViewArray};
    use datafusion::arrow::datatypes::{Field, Schema};
    use datafusion::prelude::SessionContext;
    use std::sync::Arc;

    /// Values that probe every rule: spaces and tabs, case, Unicode lowercasing that
    /// changes a string's length, placeholders inside longer text, NULL.
    const VALUES: [Option<&str>; 23] = [
        Some("none"),
        Some("None"),
        Some("  NONE  "),
        Some("\tnone"),
        Some("none\n"),
        Some("n/a"),
        Some(" N/A"),
        Some("null"),
        Some("NULL "),
        Some(""),
        Some("   "),
        Some("nonE x"),
        Some("AGKHLEW2SOWHNMFQIJGBECAF7INQ"),
        Some("\u{212a}"),     // KELVIN SIGN: lower-cases to 'k'
        Some("NO\u{039d}E"),  // GREEK CAPITAL NU: not an ASCII N
        Some("\u{0130}"),     // İ: lower-cases to two characters
        Some("\u{00a0}none"), // a no-break space is not trimmed
        Some("B00X"),
        None,
        Some("ǅ"),
        // Longer than any placeholder could be (3 x 4 bytes) but for the padding: on
        // both sides, only before, only after.
        Some("      none      "),
        Some("            NULL"),
        Some("n/a             "),
    ];

    /// Each placeholder list against the CASE expression the function replaces, run by
    /// DataFusion itself on the same rows, for each string type a lake column can have.
    #[tokio::test]
    async fn equals_the_case_expression_it_replaces() -> Result<()> {
        let lists = [
            "'none', 'n/a', 'null', ''",
            "'k'",
            "'i\u{0307}', 'nu'",
            "'NONE', 'b00x'",
            "NULL",
        ];
        let columns: [(DataType, ArrayRef); 3] = [
            (DataType::Utf8, Arc::new(StringArray::from(VALUES.to_vec()))),
            (
                DataType::LargeUtf8,
                Arc::new(LargeStringArray::from(VALUES.to_vec())),
            ),
            (
                DataType::Utf8View,
                Arc::new(StringViewArray::from(VALUES.to_vec())),
            ),
        ];
        for (data_type, column) in columns {
            let ctx = SessionContext::new();
            ctx.register_udf(null_if_placeholder_udf());
            let schema = Arc::new(Schema::new(vec![Field::new("v", data_type.clone(), true)]));
            ctx.register_batch("t", RecordBatch::try_new(schema, vec![column])?)?;
            for list in lists {
                let sql = format!(
                    "SELECT null_if_placeholder(v, {list}) AS f, \
                     CASE WHEN lower(trim(v)) IN ({list}) THEN NULL ELSE v END AS c FROM t"
                );
                let batches = ctx.sql(&sql).await?.collect().await?;
                let batch = &batches[0];
                assert_eq!(batch.num_rows(), VALUES.len());
                assert_eq!(batch.column(0).data_type(), &data_type, "{list}");
                let f = datafusion::arrow::compute::cast(batch.column(0), &DataType::Utf8)?;
                let c = datafusion::arrow::compute::cast(batch.column(1), &DataType::Utf8)?;
                let f: Vec<Option<&str>> = f.as_string::<i32>().iter().collect();
                let c: Vec<Option<&str>> = c.as_string::<i32>().iter().collect();
                assert_eq!(f, c, "{data_type} with placeholders {list}");
            }
        }
        Ok(())
    }

    /// The default placeholders make NULL exactly these of the values, and keep the rest.
    #[test]
    fn the_default_placeholders_catch_their_spellings_only() -> Result<()> {
        let args: Vec<ColumnarValue> = ["none", "n/a", "null", ""]
            .iter()
            .map(|p| ColumnarValue::Scalar(ScalarValue::Utf8(Some(p.to_string()))))
            .collect();
        let p = Placeholders::new(&args)?;
        let caught: Vec<usize> = VALUES
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_some_and(|v| p.matches(v)))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(caught, vec![0, 1, 2, 5, 6, 7, 8, 9, 10, 20, 21, 22]);
        Ok(())
    }

    #[tokio::test]
    async fn a_number_is_refused_with_the_functions_name() {
        let ctx = SessionContext::new();
        ctx.register_udf(null_if_placeholder_udf());
        let err = match ctx.sql("SELECT null_if_placeholder(1, 'none')").await {
            Ok(df) => df.collect().await.map(|_| ()),
            Err(e) => Err(e),
        }
        .expect_err("a number is not a string");
        assert!(
            err.to_string()
                .contains("null_if_placeholder expects a string as its first argument"),
            "{err}"
        );
    }
}

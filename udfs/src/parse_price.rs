//! `parse_price(raw)`: the raw `price` text of an item, as the meta files carry it, to f64.
//!
//! ```sql
//! SELECT parse_price('$1,299.99');   -- 1299.99
//! SELECT parse_price('None');        -- NULL
//! ```
//!
//! The Amazon meta files hold prices as JSON numbers, as strings of a number ("19.99"),
//! as formatted amounts ("$1,299.99"), and as placeholders ("None", "—", "n/a") or ranges
//! ("$10.99 - $19.99"). A price is a single amount or nothing: anything that is not one
//! well-formed amount becomes NULL, never an error, so one odd item cannot stop a run.
//! The range check (`> 0`, `<= max_price`) is the cleaning SQL's job, so the data-quality
//! table can count "unparseable" apart from "out of range".

use std::sync::LazyLock;

use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

use crate::documentation::doc;
use crate::string_arg::map_string;

/// The UDF struct holds only its signature: functions travel to Ballista executors by
/// name, so nothing configurable may live here.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ParsePriceUdf {
    signature: Signature,
}

impl Default for ParsePriceUdf {
    fn default() -> Self {
        Self {
            signature: Signature::string(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for ParsePriceUdf {
    fn name(&self) -> &str {
        "parse_price"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        map_string::<Float64Type>("parse_price", &args.args, parse_price)
    }
}

/// What `SHOW FUNCTIONS` and the docs API say about `parse_price`.
static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    doc(
        "The raw price text of an item as a Float64: a number (\"19.99\", \"1e3\") or a \
         formatted amount (\"$1,299.99\", \"US$12.50\"). Anything that is not one \
         well-formed amount (\"None\", \"n/a\", ranges, other currencies, NaN) is NULL, \
         never an error.",
        "parse_price(raw)",
        &[("raw", "the price text, a string expression")],
        "> SELECT parse_price('$1,299.99'), parse_price('None');\n1299.99 | NULL",
    )
});

/// The SQL function, ready to register.
pub fn parse_price_udf() -> ScalarUDF {
    ScalarUDF::from(ParsePriceUdf::default())
}

/// One amount, or `None`. Accepts an optional `$` or `US$` (before or after a minus sign),
/// surrounding spaces, thousands separators in groups of three, and a decimal part:
/// "19.99", "$1,299.99", " 5 ", "1e3" (a JSON number's own text). Rejects placeholders,
/// ranges, other currencies, NaN and infinities.
pub fn parse_price(raw: &str) -> Option<f64> {
    let s = raw.trim();
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, s),
    };
    let s = s
        .strip_prefix("US$")
        .or_else(|| s.strip_prefix('$'))
        .unwrap_or(s)
        .trim_start();
    if s.is_empty() || !s.as_bytes()[0].is_ascii_digit() && !s.starts_with('.') {
        return None;
    }
    let plain = strip_thousands(s)?;
    let value: f64 = plain.parse().ok()?;
    if !value.is_finite() {
        return None;
    }
    Some(if negative { -value } else { value })
}

/// Removes thousands separators, but only where they are well placed ("1,299.99",
/// "12,345,678"); "1,2,3" or "12,34" is not an amount.
fn strip_thousands(s: &str) -> Option<std::borrow::Cow<'_, str>> {
    if !s.contains(',') {
        return Some(std::borrow::Cow::Borrowed(s));
    }
    let (int_part, rest) = match s.find(['.', 'e', 'E']) {
        Some(i) => s.split_at(i),
        None => (s, ""),
    };
    let mut groups = int_part.split(',');
    let first = groups.next()?;
    if first.is_empty() || first.len() > 3 || !first.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut out = String::with_capacity(s.len());
    out.push_str(first);
    for g in groups {
        if g.len() != 3 || !g.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        out.push_str(g);
    }
    out.push_str(rest);
    Some(std::borrow::Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Array, Float64Array};

    /// Forms seen in the Amazon Reviews 2023 meta files, and near misses.
    #[test]
    fn parses_real_world_price_texts() {
        let cases: &[(&str, Option<f64>)] = &[
            ("19.99", Some(19.99)),
            ("29.99", Some(29.99)),
            ("$1,299.99", Some(1299.99)),
            ("$ 5", Some(5.0)),
            ("US$12.50", Some(12.5)),
            ("  7.00 ", Some(7.0)),
            ("12,345,678.5", Some(12_345_678.5)),
            ("1e3", Some(1000.0)),
            (".99", Some(0.99)),
            ("0", Some(0.0)),
            ("-5.00", Some(-5.0)),
            ("999999.0", Some(999_999.0)),
            ("None", None),
            ("none", None),
            ("—", None),
            ("n/a", None),
            ("N/A", None),
            ("", None),
            ("   ", None),
            ("null", None),
            ("$10.99 - $19.99", None),
            ("10.99-19.99", None),
            ("1,2,3", None),
            ("12,34", None),
            (",999", None),
            ("€5", None),
            ("NaN", None),
            ("inf", None),
            ("infinity", None),
            ("$", None),
            ("5 dollars", None),
        ];
        for (raw, want) in cases {
            assert_eq!(parse_price(raw), *want, "parse_price({raw:?})");
        }
    }

    #[tokio::test]
    async fn sql_parses_a_column_and_keeps_nulls() -> Result<()> {
        use datafusion::prelude::SessionContext;
        let ctx = SessionContext::new();
        ctx.register_udf(parse_price_udf());
        let batches = ctx
            .sql(
                "SELECT parse_price(p) AS v FROM (VALUES ('$1,299.99'), ('None'), (NULL), ('19.99')) t(p)",
            )
            .await?
            .collect()
            .await?;
        let col = batches[0]
            .column(0)
            .as_any()
            .downcast_ref::<Float64Array>()
            .cloned()
            .expect("Float64 result");
        let got: Vec<Option<f64>> = col.iter().collect();
        assert_eq!(got, vec![Some(1299.99), None, None, Some(19.99)]);
        let scalar = ctx.sql("SELECT parse_price('$5')").await?.collect().await?;
        let v = scalar[0]
            .column(0)
            .as_any()
            .downcast_ref::<Float64Array>()
            .map(|a| a.value(0));
        assert_eq!(v, Some(5.0));
        Ok(())
    }
}

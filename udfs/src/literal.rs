//! Checks that a leading argument is one constant literal for the whole query.
//!
//! DataFusion broadcasts a literal argument to a batch-sized array, and nothing stops a user
//! from passing a column instead: these helpers read the literal once and turn a
//! non-constant or NULL value into an error naming the function and the argument.

use std::borrow::Cow;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringViewArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{ArrowPrimitiveType, DataType, Float64Type, Int64Type};
use datafusion::common::{Result, ScalarValue, exec_datafusion_err, exec_err};
use datafusion::logical_expr::ColumnarValue;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Literal;

/// A long literal shortened for an error message.
fn abbreviate(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() <= MAX {
        format!("'{s}'")
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("'{head}…'")
    }
}

/// A leading string argument of a UDAF that must be the same literal on every row of the
/// query. The accumulator keeps the first text it sees and checks every later batch
/// against it (for a broadcast `Utf8View` literal: one comparison of the 16-byte views per
/// row, and one string comparison per batch), unless the plan shows it is a literal.
#[derive(Debug, Default)]
pub(crate) struct ConstantText {
    text: Option<String>,
    /// The argument's value when the physical plan has it as a literal: then each row holds
    /// it by construction and no batch is scanned (the scan was about 5% of a Lloyd
    /// iteration's time, `perf` at 1.2M customers).
    literal: Option<String>,
}

impl ConstantText {
    /// A text argument the plan has as the literal `expr`, if it is a non-NULL string
    /// literal; else one checked batch by batch.
    pub fn planned(expr: &Arc<dyn PhysicalExpr>) -> Self {
        let literal = expr
            .downcast_ref::<Literal>()
            .and_then(|l| match l.value() {
                ScalarValue::Utf8(Some(s))
                | ScalarValue::LargeUtf8(Some(s))
                | ScalarValue::Utf8View(Some(s)) => Some(s.clone()),
                _ => None,
            });
        Self {
            text: None,
            literal,
        }
    }

    /// Checks `array` (one value per row). Returns `Some(text)` the first time a text is
    /// seen (the caller parses it), `None` when it equals the known text or the batch is
    /// empty; errors on NULL or a value that differs from the others.
    pub fn observe(&mut self, func: &str, name: &str, array: &ArrayRef) -> Result<Option<&str>> {
        if array.is_empty() {
            return Ok(None);
        }
        if let Some(literal) = &self.literal {
            return Ok(match self.text {
                Some(_) => None,
                None => Some(self.text.insert(literal.clone())),
            });
        }
        let casted;
        let views: &StringViewArray = match array.as_string_view_opt() {
            Some(v) => v,
            None => {
                casted = cast(array, &DataType::Utf8View)
                    .map_err(|e| exec_datafusion_err!("{func}: argument {name}: {e}"))?;
                casted.as_string_view()
            }
        };
        if views.null_count() > 0 {
            return exec_err!("{func}: argument {name} is NULL; expected a string literal");
        }
        let first = views.value(0);
        let raw = views.views();
        let v0 = raw[0];
        if raw.iter().any(|v| *v != v0) {
            // Equal texts may still have different views (different buffers): compare text.
            for i in 1..views.len() {
                let other = views.value(i);
                if other != first {
                    return exec_err!(
                        "{func}: argument {name} must be one constant literal for the whole \
                         query, but it is both {} and {}",
                        abbreviate(first),
                        abbreviate(other)
                    );
                }
            }
        }
        match &self.text {
            Some(known) if known == first => Ok(None),
            Some(known) => exec_err!(
                "{func}: argument {name} must be one constant literal for the whole query, \
                 but it is both {} and {}",
                abbreviate(known),
                abbreviate(first)
            ),
            None => Ok(Some(self.text.insert(first.to_owned()))),
        }
    }

    /// The known text, if any.
    pub fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }

    /// Forgets the known text (after it failed to parse), so the next batch re-checks it.
    pub fn forget(&mut self) {
        self.text = None;
    }

    /// Bytes held, for `Accumulator::size`.
    pub fn size(&self) -> usize {
        [&self.text, &self.literal]
            .iter()
            .filter_map(|t| t.as_ref())
            .map(String::capacity)
            .sum()
    }
}

/// A leading string argument of a scalar UDF as one constant text: a scalar, or an array
/// whose rows are all the same non-null text.
pub(crate) fn constant_text<'a>(
    func: &str,
    name: &str,
    value: &'a ColumnarValue,
) -> Result<Cow<'a, str>> {
    match value {
        ColumnarValue::Scalar(
            ScalarValue::Utf8(Some(s))
            | ScalarValue::LargeUtf8(Some(s))
            | ScalarValue::Utf8View(Some(s)),
        ) => Ok(Cow::Borrowed(s.as_str())),
        ColumnarValue::Scalar(ScalarValue::Dictionary(_, inner)) => match inner.as_ref() {
            ScalarValue::Utf8(Some(s))
            | ScalarValue::LargeUtf8(Some(s))
            | ScalarValue::Utf8View(Some(s)) => Ok(Cow::Owned(s.clone())),
            _ => exec_err!(
                "{func}: argument {name} is NULL or not a string; expected a string literal"
            ),
        },
        ColumnarValue::Scalar(other) if other.is_null() => {
            exec_err!("{func}: argument {name} is NULL; expected a string literal")
        }
        ColumnarValue::Scalar(other) => exec_err!(
            "{func}: argument {name} must be a string literal, got {}",
            other.data_type()
        ),
        ColumnarValue::Array(array) => {
            let mut seen = ConstantText::default();
            seen.observe(func, name, array)?;
            match seen.text {
                Some(t) => Ok(Cow::Owned(t)),
                // An empty batch: no row will use the text.
                None => Ok(Cow::Borrowed("")),
            }
        }
    }
}

/// A leading Int64 argument of a scalar UDF as one constant: a scalar, or an array whose
/// rows are all the same non-null value. `None` for an empty array.
pub(crate) fn constant_i64(func: &str, name: &str, value: &ColumnarValue) -> Result<Option<i64>> {
    constant_number::<Int64Type>(func, name, value, "an integer", |x, y| x == y)
}

/// A leading Float64 argument of a scalar UDF as one constant (compared bit for bit).
pub(crate) fn constant_f64(func: &str, name: &str, value: &ColumnarValue) -> Result<Option<f64>> {
    constant_number::<Float64Type>(func, name, value, "a numeric", |x, y| {
        x.to_bits() == y.to_bits()
    })
}

/// A leading argument of primitive type `T` as one constant (`kind` says what literal is
/// expected, "an integer"); `None` for an empty array.
fn constant_number<T: ArrowPrimitiveType>(
    func: &str,
    name: &str,
    value: &ColumnarValue,
    kind: &str,
    same: impl Fn(T::Native, T::Native) -> bool,
) -> Result<Option<T::Native>> {
    let array = match value {
        ColumnarValue::Scalar(s) if s.is_null() => {
            return exec_err!("{func}: argument {name} is NULL; expected {kind} literal");
        }
        ColumnarValue::Scalar(s) if s.data_type() == T::DATA_TYPE => s.to_array()?,
        ColumnarValue::Scalar(s) => {
            return exec_err!(
                "{func}: argument {name} must be a {} literal, got {}",
                T::DATA_TYPE,
                s.data_type()
            );
        }
        ColumnarValue::Array(a) => a.clone(),
    };
    let Some(a) = array.as_primitive_opt::<T>() else {
        return exec_err!(
            "{func}: argument {name} must be {}, got {}",
            T::DATA_TYPE,
            array.data_type()
        );
    };
    constant_of(func, name, a.null_count(), a.values(), same)
}

fn constant_of<T: Copy + std::fmt::Debug>(
    func: &str,
    name: &str,
    null_count: usize,
    values: &[T],
    same: impl Fn(T, T) -> bool,
) -> Result<Option<T>> {
    if null_count > 0 {
        return exec_err!("{func}: argument {name} is NULL; expected a literal");
    }
    let Some(&first) = values.first() else {
        return Ok(None);
    };
    if let Some(other) = values.iter().find(|v| !same(**v, first)) {
        return exec_err!(
            "{func}: argument {name} must be one constant literal, but it is both {first:?} \
             and {other:?}"
        );
    }
    Ok(Some(first))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// A literal DataFusion broadcasts has one view; the same text written row by row has
    /// a view per row (texts past 12 bytes point into the buffer at different offsets).
    /// Both are one constant; a single other row is not.
    #[test]
    fn equal_texts_in_different_views_are_one_constant() -> Result<()> {
        let text = "0.5,1.25,-3.0,2.0";
        let row_by_row: ArrayRef = Arc::new(StringViewArray::from_iter_values(
            std::iter::repeat_n(text, 5),
        ));
        let views = row_by_row.as_string_view().views();
        assert_ne!(views[0], views[1], "the test needs different views");
        let mut seen = ConstantText::default();
        assert_eq!(seen.observe("f", "centroids", &row_by_row)?, Some(text));
        let broadcast = ScalarValue::Utf8View(Some(text.into())).to_array_of_size(3)?;
        assert_eq!(seen.observe("f", "centroids", &broadcast)?, None);

        let mixed: ArrayRef = Arc::new(StringViewArray::from_iter_values([
            text,
            text,
            "0.5,1.25,-3.0,2.5",
        ]));
        let err = ConstantText::default()
            .observe("f", "centroids", &mixed)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("f: argument centroids must be one constant literal for the whole query, but it is both '0.5,1.25,-3.0,2.0' and '0.5,1.25,-3.0,2.5'"),
            "{err}"
        );
        Ok(())
    }

    /// A text the plan has as a literal is taken from the plan: the batch is not read
    /// (here it holds other text, which no broadcast literal can). A column argument is
    /// still checked row by row.
    #[test]
    fn a_planned_literal_is_read_once_from_the_plan() -> Result<()> {
        use datafusion::arrow::datatypes::{DataType, Field, Schema};
        use datafusion::physical_expr::expressions::{col, lit};

        let text = "0.5,1.25";
        let batch: ArrayRef = Arc::new(StringViewArray::from_iter_values(["x", "y"]));
        let mut planned = ConstantText::planned(&lit(text));
        assert_eq!(planned.observe("f", "centroids", &batch)?, Some(text));
        assert_eq!(planned.observe("f", "centroids", &batch)?, None);
        assert_eq!(planned.text(), Some(text));
        let empty: ArrayRef = Arc::new(StringViewArray::from_iter_values(Vec::<&str>::new()));
        assert_eq!(
            ConstantText::planned(&lit(text)).observe("f", "c", &empty)?,
            None
        );

        let schema = Schema::new(vec![Field::new("c", DataType::Utf8View, false)]);
        let mut column = ConstantText::planned(&col("c", &schema)?);
        let err = column
            .observe("f", "centroids", &batch)
            .unwrap_err()
            .to_string();
        assert!(err.contains("both 'x' and 'y'"), "{err}");
        // A NULL literal is no text: checked as before, and refused.
        let mut null = ConstantText::planned(&lit(ScalarValue::Utf8(None)));
        let nulls = ScalarValue::Utf8View(None).to_array_of_size(2)?;
        let err = null
            .observe("f", "centroids", &nulls)
            .unwrap_err()
            .to_string();
        assert!(err.contains("is NULL"), "{err}");
        Ok(())
    }
}

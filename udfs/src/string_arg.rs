//! The shared body of the scalar UDFs that map one string argument to one number
//! (`parse_price`, `stable_hash`): scalar or array input, NULL in NULL out; and the text of
//! a string scalar, which `null_if_placeholder` reads too.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, PrimitiveArray, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{ArrowPrimitiveType, DataType};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::ColumnarValue;

/// Applies `f` to every value of the single string argument of function `name`.
pub(crate) fn map_string<P: ArrowPrimitiveType>(
    name: &str,
    args: &[ColumnarValue],
    f: impl Fn(&str) -> Option<P::Native>,
) -> Result<ColumnarValue> {
    let [value] = args else {
        return exec_err!("{name} expects one argument, got {}", args.len());
    };
    match value {
        ColumnarValue::Scalar(s) => {
            let text = scalar_text(name, s)?;
            Ok(ColumnarValue::Scalar(ScalarValue::new_primitive::<P>(
                text.and_then(f),
                &P::DATA_TYPE,
            )?))
        }
        ColumnarValue::Array(array) => {
            let utf8 = cast(array, &DataType::Utf8)?;
            let Some(strings) = utf8.as_any().downcast_ref::<StringArray>() else {
                return exec_err!("{name}: cast to Utf8 did not give a string array");
            };
            let out: PrimitiveArray<P> = strings.iter().map(|v| v.and_then(&f)).collect();
            Ok(ColumnarValue::Array(Arc::new(out) as ArrayRef))
        }
    }
}

/// The text of a string scalar argument of function `name` (None for NULL).
pub(crate) fn scalar_text<'a>(name: &str, s: &'a ScalarValue) -> Result<Option<&'a str>> {
    match s {
        ScalarValue::Utf8(v) | ScalarValue::LargeUtf8(v) | ScalarValue::Utf8View(v) => {
            Ok(v.as_deref())
        }
        ScalarValue::Null => Ok(None),
        other => exec_err!("{name} expects a string, got {}", other.data_type()),
    }
}

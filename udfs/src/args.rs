//! Argument coercion of the k-means functions: the leading literals, then d >= 1 numeric
//! feature columns cast to Float64, with plan errors that name the function and argument.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, plan_err};

/// The kind of a leading (literal) argument, for [`coerce_args`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum Leading {
    /// A string literal read once per accumulator (centroids, stats): cast to `Utf8View`,
    /// so that DataFusion's broadcast of the literal to a batch-sized array stores the
    /// text once instead of once per row.
    ConstText,
    /// A string that stays as it is (Utf8, LargeUtf8 or Utf8View); dictionaries → Utf8.
    Text,
    Int64,
    Float64,
}

/// `coerce_types` for a k-means function: the leading arguments as `leading` says, then
/// d >= 1 numeric feature columns, all cast to Float64. `usage` is the call shape for the
/// error message, e.g. "kmeans_step(centroids, x1, ..., xd)".
pub(crate) fn coerce_args(
    func: &str,
    usage: &str,
    leading: &[(&str, Leading)],
    arg_types: &[DataType],
) -> Result<Vec<DataType>> {
    if arg_types.len() <= leading.len() {
        return plan_err!(
            "{func} expects {usage} with at least one feature column, got {} argument(s)",
            arg_types.len()
        );
    }
    let mut out = Vec::with_capacity(arg_types.len());
    for (i, t) in arg_types.iter().enumerate() {
        let target = match leading.get(i) {
            Some((name, kind)) => coerce_leading(func, name, *kind, t)?,
            None => {
                if t.is_numeric() || t.is_null() {
                    DataType::Float64
                } else {
                    return plan_err!(
                        "{func}: feature argument x{} must be numeric, got {t}",
                        i - leading.len() + 1
                    );
                }
            }
        };
        out.push(target);
    }
    Ok(out)
}

fn coerce_leading(func: &str, name: &str, kind: Leading, t: &DataType) -> Result<DataType> {
    let is_text = |t: &DataType| {
        matches!(
            t,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null
        )
    };
    let text_like = is_text(t) || matches!(t, DataType::Dictionary(_, v) if is_text(v));
    match kind {
        Leading::ConstText if text_like => Ok(DataType::Utf8View),
        Leading::Text if text_like => Ok(match t {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => t.clone(),
            _ => DataType::Utf8,
        }),
        Leading::Int64 if t.is_integer() || t.is_null() => Ok(DataType::Int64),
        Leading::Float64 if t.is_numeric() || t.is_null() => Ok(DataType::Float64),
        Leading::ConstText | Leading::Text => {
            plan_err!("{func}: argument {name} must be a string, got {t}")
        }
        Leading::Int64 => plan_err!("{func}: argument {name} must be an integer, got {t}"),
        Leading::Float64 => plan_err!("{func}: argument {name} must be a number, got {t}"),
    }
}

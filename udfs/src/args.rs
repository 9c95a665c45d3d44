//! The argument list every k-means function shares, and the one reader of it: named
//! leading literals (the first is always the centroids), then d >= 1 numeric feature
//! columns cast to Float64.
//!
//! [`KmeansArgs`] holds a function's name and leading arguments; from it come the
//! `coerce_types` of the function (plan errors naming the function and argument), the
//! split of a call into literals and features, and the parsed centroids, for the UDAFs
//! ([`crate::kmeans_udaf`]) and the scalar UDFs ([`KmeansArgs::read_scalar`]) alike.

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, exec_datafusion_err, exec_err, plan_err};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs};

use crate::centroids::parse_centroids;
use crate::literal::constant_text;
use crate::rows::feature_columns;

/// The kind of a leading (literal) argument, for [`KmeansArgs`].
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

/// A k-means function's name and its leading arguments, in order; the feature columns
/// x1, ..., xd follow them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KmeansArgs {
    pub func: &'static str,
    pub leading: &'static [(&'static str, Leading)],
}

/// A scalar k-means call of at least one row, read by [`KmeansArgs::read_scalar`].
pub(crate) struct ScalarCall<'a> {
    /// The leading arguments, centroids first, as they came.
    pub leading: &'a [ColumnarValue],
    /// The centroids, k*d row-major.
    pub centres: Vec<f64>,
    /// The d feature columns as Float64 arrays of the call's row count.
    pub features: Vec<ArrayRef>,
    /// The rows with a NULL feature.
    pub nulls: Option<NullBuffer>,
}

impl KmeansArgs {
    /// The call shape, for error messages: "kmeans_step(centroids, x1, ..., xd)".
    pub fn usage(&self) -> String {
        let mut out = format!("{}(", self.func);
        for (name, _) in self.leading {
            out.push_str(name);
            out.push_str(", ");
        }
        out.push_str("x1, ..., xd)");
        out
    }

    /// `coerce_types`: the leading arguments as [`Leading`] says, then d >= 1 numeric
    /// feature columns, all cast to Float64.
    pub fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let (func, leading) = (self.func, self.leading);
        if arg_types.len() <= leading.len() {
            return plan_err!(
                "{func} expects {} with at least one feature column, got {} argument(s)",
                self.usage(),
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

    /// Splits a call's arguments (arrays for a UDAF, values for a scalar UDF) into the
    /// leading ones and the d >= 1 feature columns.
    pub fn split<'a, T>(&self, args: &'a [T]) -> Result<(&'a [T], &'a [T])> {
        if args.len() <= self.leading.len() {
            return exec_err!(
                "{} expects {} with at least one feature column, got {} argument(s)",
                self.func,
                self.usage(),
                args.len()
            );
        }
        Ok(args.split_at(self.leading.len()))
    }

    /// The centroids text parsed for d features; the error names the function.
    pub fn centroids(&self, text: &str, d: usize) -> Result<Vec<f64>> {
        parse_centroids(text, d).map_err(|msg| exec_datafusion_err!("{}: {msg}", self.func))
    }

    /// Reads a scalar call: checks that the centroids are one constant text, then, unless
    /// the batch has no row (`None`), parses them and casts the features.
    pub fn read_scalar<'a>(&self, args: &'a ScalarFunctionArgs) -> Result<Option<ScalarCall<'a>>> {
        let (leading, features) = self.split(&args.args)?;
        let text = constant_text(self.func, self.leading[0].0, &leading[0])?;
        let n = args.number_rows;
        if n == 0 {
            return Ok(None);
        }
        let centres = self.centroids(&text, features.len())?;
        let (features, nulls) = feature_columns(self.func, features, n)?;
        Ok(Some(ScalarCall {
            leading,
            centres,
            features,
            nulls,
        }))
    }
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

//! What the five k-means functions share: the centroid text format, the nearest-centre rule,
//! the exact fixed-point sums, the k-means|| sampling draw, argument coercion, and the
//! checks that a leading argument is one constant literal.
//!
//! The driver in `crates/rfmseg` re-uses the plain-Rust helpers ([`parse_centroids`],
//! [`format_centroids`], [`nearest`], [`sample_uniform`]) so that it does exactly the same
//! arithmetic as the SQL functions.
//!
//! # Exact sums
//!
//! Every sum the UDAFs return (coordinate sums, squared norms, costs, silhouette values) is
//! accumulated in fixed point: each f64 is quantised once, by truncation toward zero, to an
//! integer multiple of 2^-40 (≈ 9.1e-13, [`RESOLUTION`]), and added in `i128`. Integer
//! addition is associative and commutative, so any split of the rows into partitions and any
//! merge order give the same bits; `evaluate` converts back with `sum as f64 / 2^40`, a
//! single correctly rounded conversion of the exact sum.
//!
//! Range: values with |v| < 2^23 (8.4e6) take the fast path (one multiply, one f64 → i64
//! conversion); larger values up to |v| < 2^52 (4.5e15, [`MAX_MAGNITUDE`]) are converted
//! exactly to `i128` on a slower path. At most 2^92 per value, so the `i128` sums cannot
//! overflow before 2^35 (34 billion) rows at the largest magnitude. A value at or beyond
//! 2^52, an infinity or a NaN is an execution error naming the value, never wrapped or
//! saturated silently; so is a sum that would leave the `i128` range, in `update` (via
//! [`add_exact`]) as in `merge` (via [`add_i128s`]).

use std::borrow::Cow;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, StringViewArray};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::{Result, ScalarValue, exec_datafusion_err, exec_err, plan_err};
use datafusion::logical_expr::ColumnarValue;

/// Number of fractional bits of the fixed-point sums.
pub const FRAC_BITS: i32 = 40;

/// 2^40, the fixed-point scale.
const SCALE: f64 = (1u64 << FRAC_BITS) as f64;

/// The resolution of the exact sums: 2^-40 ≈ 9.1e-13.
pub const RESOLUTION: f64 = 1.0 / SCALE;

/// Largest magnitude (exclusive) a summed value may have: 2^52 ≈ 4.5e15.
pub const MAX_MAGNITUDE: f64 = (1u64 << 52) as f64;

/// 2^63: below it, `v * 2^40` converts to `i64` without saturating.
const FAST_LIMIT: f64 = 9_223_372_036_854_775_808.0;

/// `v` as a multiple of 2^-40, truncated toward zero; `None` if `v` is not finite or
/// |v| >= 2^52. A pure function of `v`'s bits, the same on every machine.
#[inline(always)]
pub(crate) fn quantise(v: f64) -> Option<i128> {
    let s = v * SCALE;
    if s.abs() < FAST_LIMIT {
        // SAFETY: `s.abs() < 2^63` is false for NaN and infinities, so `s` is finite and
        // its truncation lies in (-2^63, 2^63), inside i64. This is `s as i64` without the
        // saturation checks the compiler cannot prove away (one cvttsd2si; about 15% of
        // kmeans_step's time per row).
        Some(unsafe { s.to_int_unchecked::<i64>() } as i128)
    } else {
        quantise_wide(v)
    }
}

/// The slow path of [`quantise`]: |v * 2^40| >= 2^63 is already an integer, so the
/// conversion to `i128` is exact.
#[cold]
#[inline(never)]
fn quantise_wide(v: f64) -> Option<i128> {
    if v.abs() < MAX_MAGNITUDE {
        Some((v * SCALE) as i128)
    } else {
        None
    }
}

/// The f64 nearest to an exact fixed-point sum (one rounding; the division is exact).
#[inline]
pub(crate) fn dequantise(sum: i128) -> f64 {
    sum as f64 / SCALE
}

/// A value that [`quantise`] refused, and what it was ("coordinate", "squared norm", ...).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Unsummable {
    pub what: &'static str,
    pub value: f64,
    /// The value was fine but adding it overflowed the `i128` sum: only past about 2^35
    /// rows at the largest magnitude, far beyond any real input, yet an error rather than
    /// a silent wrap in a release build (as merge's `checked_add` already was).
    pub overflow: bool,
}

impl Unsummable {
    /// The execution error, naming the function and the value.
    pub fn into_error(self, func: &str) -> datafusion::error::DataFusionError {
        if self.overflow {
            return exec_datafusion_err!(
                "{func}: adding {} {:?} overflows the exact sum (i128 at 2^-40 resolution: \
                 at most 2^87 in total, about 2^35 rows of values near 2^52); split the input \
                 into smaller groups",
                self.what,
                self.value
            );
        }
        exec_datafusion_err!(
            "{func}: {} {:?} cannot be summed exactly: every summed value must be finite with \
             magnitude below 2^52 (4.5e15); are the features NaN, infinite or unscaled?",
            self.what,
            self.value
        )
    }
}

/// [`quantise`], or the [`Unsummable`] value.
#[inline(always)]
pub(crate) fn quantise_or(what: &'static str, v: f64) -> Result<i128, Unsummable> {
    match quantise(v) {
        Some(q) => Ok(q),
        None => Err(Unsummable {
            what,
            value: v,
            overflow: false,
        }),
    }
}

/// Adds `v`, quantised, to the exact sum `target`; checked like merge, so an update can
/// never wrap where a merge of the same rows would fail.
#[inline(always)]
pub(crate) fn add_exact(target: &mut i128, what: &'static str, v: f64) -> Result<(), Unsummable> {
    let q = quantise_or(what, v)?;
    match target.checked_add(q) {
        Some(sum) => {
            *target = sum;
            Ok(())
        }
        None => Err(Unsummable {
            what,
            value: v,
            overflow: true,
        }),
    }
}

/// Parses the `centroids` text: k*d comma-separated f64 values, row-major (centre 0's d
/// values, then centre 1's, ...). Spaces around values are allowed. Errors (without the
/// function name, which the caller adds): an empty list (k = 0), a length not a multiple
/// of `d`, a value that is not a finite number.
pub fn parse_centroids(text: &str, d: usize) -> Result<Vec<f64>, String> {
    let values = parse_f64_list("centroids", text)?;
    if d == 0 {
        return Err("d = 0: at least one feature column is needed".to_string());
    }
    if values.is_empty() {
        return Err("centroids is empty (k = 0); at least one centre is needed".to_string());
    }
    if !values.len().is_multiple_of(d) {
        return Err(format!(
            "centroids has {} values, not a multiple of d = {d}",
            values.len()
        ));
    }
    Ok(values)
}

/// A comma-separated list of finite f64 (`what` names it in errors). An empty or
/// all-blank text is the empty list.
pub(crate) fn parse_f64_list(what: &str, text: &str) -> Result<Vec<f64>, String> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    text.split(',')
        .enumerate()
        .map(|(i, raw)| {
            let s = raw.trim();
            match s.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(v),
                Ok(v) => Err(format!("{what} value {i} is {v}, not a finite number")),
                Err(_) => Err(format!("{what} value {i} ({s:?}) is not a number")),
            }
        })
        .collect()
}

/// The `centroids` text for a flat row-major list of values: each written with `{:?}`,
/// which round-trips exactly through [`parse_centroids`], joined with commas.
pub fn format_centroids(values: &[f64]) -> String {
    let mut out = String::with_capacity(values.len() * 20);
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!("{v:?}"));
    }
    out
}

/// The centre nearest to `x` and its squared Euclidean distance. `centroids` is k*d
/// values row-major and `x` has d values. The distance is `Σ_j (x_j − c_j)²` summed in f64
/// in the order j = 0..d (no fused multiply-add, so the same bits on every machine); ties
/// go to the lowest index. With d = 0 or no centre, `(0, +inf)`. A NaN distance never
/// wins, so a NaN in `x` gives `(0, +inf)`.
#[inline(always)]
pub fn nearest(centroids: &[f64], d: usize, x: &[f64]) -> (usize, f64) {
    let mut best = 0;
    let mut best_dist = f64::INFINITY;
    if d == 0 {
        return (best, best_dist);
    }
    for (c, centre) in centroids.chunks_exact(d).enumerate() {
        let mut dist = 0.0;
        for (a, b) in x.iter().zip(centre) {
            let t = a - b;
            dist += t * t;
        }
        if dist < best_dist {
            best_dist = dist;
            best = c;
        }
    }
    (best, best_dist)
}

/// `||x||²` summed in f64 in the order j = 0..d.
#[inline(always)]
pub(crate) fn squared_norm(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for v in x {
        s += v * v;
    }
    s
}

/// The uniform draw u ∈ [0, 1) of k-means|| for one customer in one round: a pure
/// function of (seed, round, key), the same on every machine and partitioning. The key's
/// UTF-8 bytes are hashed with [`crate::stable_hash`] (FNV-1a), then seed, round and hash
/// are folded in with the SplitMix64 finaliser; u is the top 53 bits times 2^-53.
pub fn sample_uniform(seed: i64, round: i64, key: &str) -> f64 {
    let mut z = splitmix64(seed as u64);
    z = splitmix64(z ^ round as u64);
    z = splitmix64(z ^ crate::stable_hash::stable_hash(key) as u64);
    (z >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// SplitMix64 (Steele, Lea and Flood 2014): add the golden gamma, then the finaliser.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

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
/// row, and one string comparison per batch).
#[derive(Debug, Default)]
pub(crate) struct ConstantText {
    text: Option<String>,
}

impl ConstantText {
    /// Checks `array` (one value per row). Returns `Some(text)` the first time a text is
    /// seen (the caller parses it), `None` when it equals the known text or the batch is
    /// empty; errors on NULL or a value that differs from the others.
    pub fn observe(&mut self, func: &str, name: &str, array: &ArrayRef) -> Result<Option<&str>> {
        if array.is_empty() {
            return Ok(None);
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
        self.text.as_ref().map_or(0, String::capacity)
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
    match value {
        ColumnarValue::Scalar(ScalarValue::Int64(Some(v))) => Ok(Some(*v)),
        ColumnarValue::Scalar(s) if s.is_null() => {
            exec_err!("{func}: argument {name} is NULL; expected an integer literal")
        }
        ColumnarValue::Scalar(s) => exec_err!(
            "{func}: argument {name} must be an Int64 literal, got {}",
            s.data_type()
        ),
        ColumnarValue::Array(a) => {
            let Some(a) = a.as_primitive_opt::<datafusion::arrow::datatypes::Int64Type>() else {
                return exec_err!(
                    "{func}: argument {name} must be Int64, got {}",
                    a.data_type()
                );
            };
            constant_of(func, name, a.null_count(), a.values(), |x, y| x == y)
        }
    }
}

/// A leading Float64 argument of a scalar UDF as one constant (compared bit for bit).
pub(crate) fn constant_f64(func: &str, name: &str, value: &ColumnarValue) -> Result<Option<f64>> {
    match value {
        ColumnarValue::Scalar(ScalarValue::Float64(Some(v))) => Ok(Some(*v)),
        ColumnarValue::Scalar(s) if s.is_null() => {
            exec_err!("{func}: argument {name} is NULL; expected a numeric literal")
        }
        ColumnarValue::Scalar(s) => exec_err!(
            "{func}: argument {name} must be a Float64 literal, got {}",
            s.data_type()
        ),
        ColumnarValue::Array(a) => {
            let Some(a) = a.as_primitive_opt::<datafusion::arrow::datatypes::Float64Type>() else {
                return exec_err!(
                    "{func}: argument {name} must be Float64, got {}",
                    a.data_type()
                );
            };
            constant_of(func, name, a.null_count(), a.values(), |x, y| {
                x.to_bits() == y.to_bits()
            })
        }
    }
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

/// The feature columns of a batch as Float64 arrays (cast if a caller bypassed coercion).
pub(crate) fn feature_arrays(func: &str, columns: &[ArrayRef]) -> Result<Vec<ArrayRef>> {
    columns
        .iter()
        .enumerate()
        .map(|(j, a)| {
            if a.data_type() == &DataType::Float64 {
                Ok(a.clone())
            } else if a.data_type().is_numeric() || a.data_type().is_null() {
                cast(a, &DataType::Float64)
                    .map_err(|e| exec_datafusion_err!("{func}: feature x{}: {e}", j + 1))
            } else {
                exec_err!(
                    "{func}: feature x{} must be numeric, got {}",
                    j + 1,
                    a.data_type()
                )
            }
        })
        .collect()
}

/// What [`for_each_valid_row`] feeds each row to. Implement it on a small struct with
/// `#[inline(always)]` for a hot loop: the row function is then compiled into the loop
/// for each d, so its inner loops over x unroll (a closure may stay an out-of-line call,
/// which measured 2-3 times slower). Closures implement it too, for cold paths.
pub(crate) trait RowSink {
    type Error;
    /// Row `i` of the batch, with its d feature values.
    fn row(&mut self, i: usize, x: &[f64]) -> Result<(), Self::Error>;
}

impl<E, F: FnMut(usize, &[f64]) -> Result<(), E>> RowSink for F {
    type Error = E;
    #[inline(always)]
    fn row(&mut self, i: usize, x: &[f64]) -> Result<(), E> {
        self(i, x)
    }
}

/// Feeds `sink` the index and the feature vector x (d values) of every row of the batch
/// that has no NULL feature, in row order. The columns are downcast once; rows are read
/// from the raw value slices (no per-row allocation): all rows when there is no NULL, else
/// the rows set in the union of the validity bitmaps. For d <= 8 the loop is compiled for
/// the exact d. The outer `Result` is an argument error, the inner one the sink's.
#[inline(always)]
pub(crate) fn for_each_valid_row<S: RowSink>(
    func: &str,
    features: &[ArrayRef],
    sink: &mut S,
) -> Result<Result<(), S::Error>> {
    let Some(n) = features.first().map(|a| a.len()) else {
        return exec_err!("{func} expects at least one feature column, got none");
    };
    if features.iter().any(|a| a.len() != n) {
        return exec_err!("{func}: feature arrays of different lengths");
    }
    let features = feature_arrays(func, features)?;
    let arrays: Vec<&Float64Array> = features
        .iter()
        .map(|a| a.as_primitive::<Float64Type>())
        .collect();
    let cols: Vec<&[f64]> = arrays.iter().map(|a| a.values().as_ref()).collect();
    Ok(
        match NullBuffer::union_many(arrays.iter().map(|a| a.nulls())) {
            None => for_each_row(&cols, 0..n, sink),
            Some(valid) => for_each_row(&cols, valid.valid_indices(), sink),
        },
    )
}

#[inline(always)]
fn for_each_row<S: RowSink>(
    cols: &[&[f64]],
    rows: impl Iterator<Item = usize>,
    sink: &mut S,
) -> Result<(), S::Error> {
    match cols.len() {
        1 => rows_fixed::<1, S>(cols, rows, sink),
        2 => rows_fixed::<2, S>(cols, rows, sink),
        3 => rows_fixed::<3, S>(cols, rows, sink),
        4 => rows_fixed::<4, S>(cols, rows, sink),
        5 => rows_fixed::<5, S>(cols, rows, sink),
        6 => rows_fixed::<6, S>(cols, rows, sink),
        7 => rows_fixed::<7, S>(cols, rows, sink),
        8 => rows_fixed::<8, S>(cols, rows, sink),
        _ => rows_any(cols, rows, sink),
    }
}

fn rows_fixed<const D: usize, S: RowSink>(
    cols: &[&[f64]],
    rows: impl Iterator<Item = usize>,
    sink: &mut S,
) -> Result<(), S::Error> {
    let cols: [&[f64]; D] = std::array::from_fn(|j| cols[j]);
    for i in rows {
        let x: [f64; D] = std::array::from_fn(|j| cols[j][i]);
        sink.row(i, &x)?;
    }
    Ok(())
}

fn rows_any<S: RowSink>(
    cols: &[&[f64]],
    rows: impl Iterator<Item = usize>,
    sink: &mut S,
) -> Result<(), S::Error> {
    let mut x = vec![0.0; cols.len()];
    for i in rows {
        for (v, c) in x.iter_mut().zip(cols) {
            *v = c[i];
        }
        sink.row(i, &x)?;
    }
    Ok(())
}

/// The feature arguments of a scalar UDF as `n`-row Float64 arrays (scalars broadcast),
/// and the union of their NULLs (a row with any NULL feature is NULL).
pub(crate) fn feature_columns(
    func: &str,
    features: &[ColumnarValue],
    n: usize,
) -> Result<(Vec<ArrayRef>, Option<NullBuffer>)> {
    let arrays = features
        .iter()
        .map(|f| f.to_array(n))
        .collect::<Result<Vec<_>>>()?;
    let arrays = feature_arrays(func, &arrays)?;
    let nulls = NullBuffer::union_many(arrays.iter().map(|a| a.nulls()));
    Ok((arrays, nulls))
}

/// Appends `values` as little-endian bytes.
pub(crate) fn put_i128s(out: &mut Vec<u8>, values: &[i128]) {
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// Appends `values` as little-endian bytes.
pub(crate) fn put_i64s(out: &mut Vec<u8>, values: &[i64]) {
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// Adds the little-endian `i128`s in `bytes` to `target` (same length), failing on
/// overflow (only a corrupt state can overflow).
pub(crate) fn add_i128s(target: &mut [i128], bytes: &[u8]) -> Option<()> {
    if bytes.len() != target.len() * 16 {
        return None;
    }
    for (t, chunk) in target.iter_mut().zip(bytes.chunks_exact(16)) {
        let v = i128::from_le_bytes(chunk.try_into().ok()?);
        *t = t.checked_add(v)?;
    }
    Some(())
}

/// Adds the little-endian `i64`s in `bytes` to `target` (same length), failing on overflow.
pub(crate) fn add_i64s(target: &mut [i64], bytes: &[u8]) -> Option<()> {
    if bytes.len() != target.len() * 8 {
        return None;
    }
    for (t, chunk) in target.iter_mut().zip(bytes.chunks_exact(8)) {
        let v = i64::from_le_bytes(chunk.try_into().ok()?);
        *t = t.checked_add(v)?;
    }
    Some(())
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Seeded random data for the tests of the k-means functions (no `rand` dependency).

    use std::sync::Arc;

    use datafusion::arrow::array::{ArrayRef, Float64Array, StringViewArray};

    /// xorshift64*: small, seeded, good enough for test data.
    pub struct XorShift(u64);

    impl XorShift {
        pub fn new(seed: u64) -> Self {
            Self(seed.max(1))
        }
        pub fn next_u64(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            self.0 = x;
            x.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        /// Uniform in [0, 1).
        pub fn uniform(&mut self) -> f64 {
            (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
        }
        /// Uniform in [0, n).
        pub fn below(&mut self, n: usize) -> usize {
            (self.next_u64() % n as u64) as usize
        }
        /// Approximately normal (sum of 4 uniforms, centred).
        pub fn normalish(&mut self) -> f64 {
            (self.uniform() + self.uniform() + self.uniform() + self.uniform() - 2.0) * 1.7
        }
    }

    /// `n` points in `d` dimensions around `blobs` well separated centres, row-major.
    pub fn blobs(rng: &mut XorShift, n: usize, d: usize, blobs: usize) -> Vec<f64> {
        let centres: Vec<f64> = (0..blobs * d)
            .map(|_| rng.uniform() * 40.0 - 20.0)
            .collect();
        let mut out = Vec::with_capacity(n * d);
        for _ in 0..n {
            let b = rng.below(blobs);
            for j in 0..d {
                out.push(centres[b * d + j] + rng.normalish());
            }
        }
        out
    }

    /// Columns x1..xd of rows `lo..hi` of row-major `points`; every `null_every`-th row
    /// (by global index, 0 = never) has a NULL in one column.
    pub fn columns(
        points: &[f64],
        d: usize,
        lo: usize,
        hi: usize,
        null_every: usize,
    ) -> Vec<ArrayRef> {
        (0..d)
            .map(|j| {
                let col: Float64Array = (lo..hi)
                    .map(|i| {
                        if null_every > 0 && i.is_multiple_of(null_every) && i % d == j {
                            None
                        } else {
                            Some(points[i * d + j])
                        }
                    })
                    .collect();
                Arc::new(col) as ArrayRef
            })
            .collect()
    }

    /// A literal broadcast to `n` rows, as DataFusion hands it to `update_batch`.
    pub fn literal(text: &str, n: usize) -> ArrayRef {
        Arc::new(StringViewArray::from_iter_values(std::iter::repeat_n(
            text, n,
        )))
    }

    /// Is row `i` one of those [`columns`] made NULL?
    pub fn is_null_row(i: usize, null_every: usize) -> bool {
        null_every > 0 && i.is_multiple_of(null_every)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn centroids_round_trip_exactly() {
        let values = [
            0.5,
            -1.25,
            3.0,
            1e-7,
            2.0,
            0.0,
            0.1 + 0.2,
            f64::MIN_POSITIVE,
            -1e300,
        ];
        let text = format_centroids(&values);
        let back = parse_centroids(&text, 3).expect("parses");
        assert_eq!(
            back.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            values.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        assert_eq!(format_centroids(&[0.5, -1.25, 3.0]), "0.5,-1.25,3.0");
    }

    #[test]
    fn bad_centroid_texts_are_errors() {
        assert_eq!(
            parse_centroids("1,2,3,4,5,6,7", 3).unwrap_err(),
            "centroids has 7 values, not a multiple of d = 3"
        );
        assert!(parse_centroids("", 3).unwrap_err().contains("k = 0"));
        assert!(parse_centroids("1,x,3", 3).unwrap_err().contains("\"x\""));
        assert!(
            parse_centroids("1,NaN,3", 3)
                .unwrap_err()
                .contains("finite")
        );
        assert!(parse_centroids("1,,3", 3).is_err());
        assert_eq!(parse_centroids(" 1, 2 ,3 ", 3), Ok(vec![1.0, 2.0, 3.0]));
    }

    #[test]
    fn nearest_breaks_ties_by_lowest_index() {
        // x = 0 is at squared distance 1 from both centres 1 and 2.
        let c = [5.0, 5.0, 1.0, 0.0, 0.0, 1.0];
        assert_eq!(nearest(&c, 2, &[0.0, 0.0]), (1, 1.0));
        assert_eq!(nearest(&c, 2, &[5.0, 4.0]), (0, 1.0));
        assert_eq!(nearest(&c, 2, &[f64::NAN, 0.0]), (0, f64::INFINITY));
    }

    #[test]
    fn quantise_is_exact_where_it_can_be_and_refuses_beyond_range() {
        // Multiples of 2^-40 quantise exactly, on both paths.
        assert_eq!(quantise(1.5), Some(3 << 39));
        assert_eq!(quantise(-0.25), Some(-(1 << 38)));
        assert_eq!(quantise(2f64.powi(30)), Some(1i128 << 70));
        assert_eq!(
            quantise(-(2f64.powi(51) + 1.0)),
            Some(-((1i128 << 91) + (1 << 40)))
        );
        // Truncation toward zero below the resolution.
        assert_eq!(quantise(RESOLUTION * 0.75), Some(0));
        assert_eq!(quantise(-RESOLUTION * 1.5), Some(-1));
        // The edges of the fast path: 2^23 * 2^40 = 2^63 no longer fits i64.
        assert_eq!(quantise(2f64.powi(23)), Some(1i128 << 63));
        assert_eq!(quantise(-(2f64.powi(23))), Some(-(1i128 << 63)));
        let below = 2f64.powi(23) - 2f64.powi(-30); // the f64 just below 2^23
        assert_eq!(quantise(below), Some((1i128 << 63) - (1 << 10)));
        assert_eq!(quantise(MAX_MAGNITUDE), None);
        assert_eq!(quantise(f64::NAN), None);
        assert_eq!(quantise(f64::NEG_INFINITY), None);
        assert_eq!(dequantise(quantise(1234.5678).expect("in range")), {
            // 1234.5678 truncated to a multiple of 2^-40, which f64 holds exactly.
            (1234.5678f64 * SCALE).trunc() / SCALE
        });
    }

    #[test]
    fn sample_uniform_is_a_pinned_pure_function() {
        let u = sample_uniform(42, 1, "AGKHLEW2SOWHNMFQIJGBECAF7INQ");
        // Pinned: a changed draw would change every seeded model.
        assert_eq!(u.to_bits(), 4_603_705_930_916_750_196, "{u}");
        assert_eq!(u, sample_uniform(42, 1, "AGKHLEW2SOWHNMFQIJGBECAF7INQ"));
        assert!((0.0..1.0).contains(&u));
        assert_ne!(u, sample_uniform(42, 2, "AGKHLEW2SOWHNMFQIJGBECAF7INQ"));
        assert_ne!(u, sample_uniform(43, 1, "AGKHLEW2SOWHNMFQIJGBECAF7INQ"));
        // Uniform enough: the mean of many draws is near 1/2.
        let n = 20_000;
        let mean: f64 = (0..n)
            .map(|i| sample_uniform(7, 0, &format!("c{i}")))
            .sum::<f64>()
            / n as f64;
        assert!((mean - 0.5).abs() < 0.01, "mean {mean}");
    }
}

//! Row iteration over the Float64 feature columns: the hot loop of every k-means function,
//! without per-row allocation, compiled for the exact d up to 8.

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::{Result, exec_datafusion_err, exec_err};
use datafusion::logical_expr::ColumnarValue;

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

//! Row iteration over the Float64 feature columns: the hot loop of every k-means function,
//! without per-row allocation, compiled for the exact d up to 8.

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::{Result, exec_datafusion_err, exec_err};
use datafusion::logical_expr::ColumnarValue;

use crate::centroids::{nearest, nearest_lanes};

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
    /// Called once per batch before its rows, with every row's columns (NULL rows
    /// included): for work done column-wise over the whole batch first.
    #[inline(always)]
    fn begin(&mut self, _cols: &[&[f64]]) {}
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
    sink.begin(&cols);
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

/// What [`Nearest`] feeds each row to: the row with its nearest centre and the squared
/// distance to it, as [`nearest`] finds them.
pub(crate) trait NearestSink {
    type Error;
    fn row(&mut self, i: usize, x: &[f64], best: usize, dist: f64) -> Result<(), Self::Error>;
}

impl<E, F: FnMut(usize, &[f64], usize, f64) -> Result<(), E>> NearestSink for F {
    type Error = E;
    #[inline(always)]
    fn row(&mut self, i: usize, x: &[f64], best: usize, dist: f64) -> Result<(), E> {
        self(i, x, best, dist)
    }
}

/// A [`RowSink`] that hands `sink` each row with its nearest centre. The search runs
/// first, over the whole batch, several rows side by side ([`nearest_lanes`]: the same
/// bits and winners as [`nearest`]): one row's search is a chain of compare-and-select,
/// each step waiting on the last, while several rows' distances to one centre are
/// independent and share the SIMD registers.
pub(crate) struct Nearest<'a, S> {
    centroids: &'a [f64],
    sink: S,
    best: Vec<u32>,
    dist: Vec<f64>,
}

impl<'a, S> Nearest<'a, S> {
    pub fn new(centroids: &'a [f64], sink: S) -> Self {
        Self {
            centroids,
            sink,
            best: Vec::new(),
            dist: Vec::new(),
        }
    }

    pub fn sink(&mut self) -> &mut S {
        &mut self.sink
    }
}

/// The nearest centre of every row of the batch into `best` and `dist`: with AVX2 where
/// the CPU has it (the same IEEE operations on wider registers, so the same bits; Rust
/// never fuses a multiply and an add on its own), else with the x86-64 baseline's SSE2.
fn nearest_all<const D: usize>(
    centroids: &[f64],
    cols: &[&[f64]],
    best: &mut [u32],
    dist: &mut [f64],
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        return unsafe { nearest_all_avx2::<D>(centroids, cols, best, dist) };
    }
    nearest_all_lanes::<D, 4>(centroids, cols, best, dist);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn nearest_all_avx2<const D: usize>(
    centroids: &[f64],
    cols: &[&[f64]],
    best: &mut [u32],
    dist: &mut [f64],
) {
    nearest_all_lanes::<D, 8>(centroids, cols, best, dist);
}

/// [`nearest_lanes`] over the rows L at a time, the last few rows one at a time. L = 4
/// fills two SSE2 registers and measured faster than 2, 8 or 16 there; with AVX2, 8 (two
/// of its registers) measured the same as 4 and well ahead of 16 (`update_batch` alone,
/// k = 3 to 10: 1.6-2.9x the plain loop, against 0.9-1.8x).
#[inline(always)]
fn nearest_all_lanes<const D: usize, const L: usize>(
    centroids: &[f64],
    cols: &[&[f64]],
    best: &mut [u32],
    dist: &mut [f64],
) {
    let n = best.len();
    let cols: [&[f64]; D] = std::array::from_fn(|j| &cols[j][..n]);
    let full = n / L * L;
    for start in (0..full).step_by(L) {
        let xs: [[f64; L]; D] =
            std::array::from_fn(|j| std::array::from_fn(|l| cols[j][start + l]));
        let (b, d) = nearest_lanes(centroids, &xs);
        for l in 0..L {
            best[start + l] = b[l] as u32;
            dist[start + l] = d[l];
        }
    }
    for i in full..n {
        let x: [f64; D] = std::array::from_fn(|j| cols[j][i]);
        let (b, d) = nearest(centroids, D, &x);
        best[i] = b as u32;
        dist[i] = d;
    }
}

/// The nearest centre of every row and its squared distance, exactly as [`nearest`] finds
/// them row by row (the same bits, the same winner on ties), several rows side by side.
/// The rows are given by column: `cols[j][i]` is feature j of row i, and `best` and
/// `dist` hold one value per row (the rows are the first `best.len()` of each column).
pub fn nearest_columns(centroids: &[f64], cols: &[&[f64]], best: &mut [u32], dist: &mut [f64]) {
    let n = best.len().min(dist.len());
    let (best, dist) = (&mut best[..n], &mut dist[..n]);
    match cols.len() {
        1 => nearest_all::<1>(centroids, cols, best, dist),
        2 => nearest_all::<2>(centroids, cols, best, dist),
        3 => nearest_all::<3>(centroids, cols, best, dist),
        4 => nearest_all::<4>(centroids, cols, best, dist),
        5 => nearest_all::<5>(centroids, cols, best, dist),
        6 => nearest_all::<6>(centroids, cols, best, dist),
        7 => nearest_all::<7>(centroids, cols, best, dist),
        8 => nearest_all::<8>(centroids, cols, best, dist),
        _ => {
            let mut x = vec![0.0; cols.len()];
            for i in 0..n {
                for (v, col) in x.iter_mut().zip(cols) {
                    *v = col[i];
                }
                let (b, d) = nearest(centroids, x.len(), &x);
                best[i] = b as u32;
                dist[i] = d;
            }
        }
    }
}

impl<S: NearestSink> RowSink for Nearest<'_, S> {
    type Error = S::Error;

    fn begin(&mut self, cols: &[&[f64]]) {
        let n = cols.first().map_or(0, |c| c.len());
        self.best.resize(n, 0);
        self.dist.resize(n, 0.0);
        nearest_columns(self.centroids, cols, &mut self.best, &mut self.dist);
    }

    #[inline(always)]
    fn row(&mut self, i: usize, x: &[f64]) -> Result<(), S::Error> {
        self.sink.row(i, x, self.best[i] as usize, self.dist[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The batch-wide search (AVX2 where this CPU has it, else SSE2) finds what the search
    /// one row at a time finds, bit for bit: rows on a grid of centres (ties of two and four
    /// centres), NaN and infinite features, random rows, and a row count that leaves a
    /// remainder for both lane widths.
    #[test]
    fn the_batch_search_equals_nearest_row_by_row() {
        let centres: Vec<f64> = (0..9)
            .flat_map(|i| [f64::from(i % 3), f64::from(i / 3), 0.5])
            .collect();
        let mut rows: Vec<[f64; 3]> = Vec::new();
        for a in 0..9 {
            for b in 0..9 {
                rows.push([f64::from(a) * 0.5, f64::from(b) * 0.5, 0.5]);
            }
        }
        rows.extend([
            [f64::NAN, 0.0, 0.0],
            [f64::INFINITY, 1.0, 0.5],
            [-0.0, -0.0, -0.0],
        ]);
        let mut s = 0x2545_f491_4f6c_dd1du64;
        while rows.len() < 1_003 {
            rows.push(std::array::from_fn(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 11) as f64 / (1u64 << 53) as f64 * 4.0 - 1.0
            }));
        }
        let cols: Vec<Vec<f64>> = (0..3)
            .map(|j| rows.iter().map(|r| r[j]).collect())
            .collect();
        let cols: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
        let n = rows.len();
        let (mut best, mut dist) = (vec![0; n], vec![0.0; n]);
        nearest_all::<3>(&centres, &cols, &mut best, &mut dist);
        let (mut best4, mut dist4) = (vec![0; n], vec![0.0; n]);
        nearest_all_lanes::<3, 4>(&centres, &cols, &mut best4, &mut dist4);
        for (i, x) in rows.iter().enumerate() {
            let (b, d) = nearest(&centres, 3, x);
            assert_eq!(
                (best[i] as usize, dist[i].to_bits()),
                (b, d.to_bits()),
                "{x:?}"
            );
            assert_eq!(
                (best4[i] as usize, dist4[i].to_bits()),
                (b, d.to_bits()),
                "{x:?}"
            );
        }
        // (0.5, 0.5, 0.5) is 0.5 from centres 0, 1, 3 and 4: the lowest index wins.
        assert_eq!((best[10], dist[10]), (0, 0.5));
    }

    /// The public search by columns gives `nearest`'s answer for every width it
    /// dispatches on, the compiled ones (d = 1..8) and the general one beyond, and fills
    /// only as many rows as `best` has.
    #[test]
    fn the_search_by_columns_equals_nearest_at_every_width() {
        for d in [1, 3, 8, 9] {
            let k = 5;
            let centres: Vec<f64> = (0..k * d).map(|v| ((v * 7) % 11) as f64 - 5.0).collect();
            let n = 37;
            let rows: Vec<Vec<f64>> = (0..n)
                .map(|i| {
                    (0..d)
                        .map(|j| ((i * 13 + j * 5) % 17) as f64 * 0.75 - 6.0)
                        .collect()
                })
                .collect();
            let cols: Vec<Vec<f64>> = (0..d)
                .map(|j| rows.iter().map(|r| r[j]).collect())
                .collect();
            let cols: Vec<&[f64]> = cols.iter().map(|c| &c[..]).collect();
            let (mut best, mut dist) = (vec![u32::MAX; n - 2], vec![f64::NAN; n - 2]);
            nearest_columns(&centres, &cols, &mut best, &mut dist);
            for (i, row) in rows.iter().take(n - 2).enumerate() {
                let (b, dd) = nearest(&centres, d, row);
                assert_eq!(
                    (best[i] as usize, dist[i].to_bits()),
                    (b, dd.to_bits()),
                    "d = {d}, row {i}"
                );
            }
        }
    }
}

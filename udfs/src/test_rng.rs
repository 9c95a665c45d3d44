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
pub fn columns(points: &[f64], d: usize, lo: usize, hi: usize, null_every: usize) -> Vec<ArrayRef> {
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

//! Exact fixed-point sums: why every sum a k-means UDAF returns is the same bits for any
//! split of the rows into partitions and any merge order.
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
//! saturated silently; so is a sum that would leave the `i128` range, in `update` as in
//! `merge`: both go through the one state type of every k-means UDAF, `ExactSums`.

use datafusion::common::{Result, exec_datafusion_err, exec_err};

use crate::state_bytes;

/// Number of fractional bits of the fixed-point sums.
///
/// # The feature range limit
///
/// The scale sets the range of the features. A summed value must stay below
/// [`MAX_MAGNITUDE`] = 2^52, so that its fixed-point form (below 2^92) leaves room in an
/// `i128` for 2^35 rows. The largest values summed are the squared norms ‖x‖² of
/// `kmeans_step` (and the squared distances of `kmeans_step` and `kmeans_cost`), so a row of
/// d features is summable while every |x_j| < 2^26/√d ([`feature_limit`]): about 6.7e7 at
/// d = 1 and 3.9e7 at d = 3. Standardised or log-scaled RFM features are far below it;
/// raw monetary values in cents may not be. A row past it is an execution error naming
/// this limit, never a wrapped or saturated sum.
pub const FRAC_BITS: i32 = 40;

/// 2^40, the fixed-point scale.
const SCALE: f64 = (1u64 << FRAC_BITS) as f64;

/// The resolution of the exact sums: 2^-40 ≈ 9.1e-13.
pub const RESOLUTION: f64 = 1.0 / SCALE;

/// Largest magnitude (exclusive) a summed value may have: 2^52 ≈ 4.5e15.
pub const MAX_MAGNITUDE: f64 = (1u64 << 52) as f64;

/// The feature range limit (see [`FRAC_BITS`]) for rows of d features: 2^26/√d, below
/// which every |x_j| keeps ‖x‖² (and a per-coordinate difference keeps ‖x − c‖²) below
/// 2^52.
pub fn feature_limit(d: usize) -> f64 {
    (MAX_MAGNITUDE / d.max(1) as f64).sqrt()
}

/// What an exact sum can hold, for the errors of an update or a merge past it.
const SUM_LIMIT: &str = "the exact sum (i128 at 2^-40 resolution: at most 2^87 in total, \
     about 2^35 rows of values near 2^52); split the input into smaller groups";

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

/// What a summed value is, for the error that names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Summed {
    /// One feature value of a row.
    Coordinate,
    /// ‖x‖² of a row of d features.
    SquaredNorm { d: usize },
    /// min_c ‖x − c‖² of a row of d features.
    SquaredDistance { d: usize },
    /// s(x) of a row, in [−1, 1].
    Silhouette,
}

impl std::fmt::Display for Summed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Coordinate => "coordinate",
            Self::SquaredNorm { .. } => "squared norm",
            Self::SquaredDistance { .. } => "squared distance",
            Self::Silhouette => "silhouette",
        })
    }
}

/// A value that [`quantise`] refused, or whose addition overflowed, and what it was.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Unsummable {
    pub what: Summed,
    pub value: f64,
    /// The value was fine but adding it overflowed the `i128` sum: only past about 2^35
    /// rows at the largest magnitude, far beyond any real input, yet an error rather than
    /// a silent wrap in a release build (as merge's `checked_add` is).
    pub overflow: bool,
}

impl Unsummable {
    /// The execution error, naming the function, the value and the limit it passed.
    pub fn into_error(self, func: &str) -> datafusion::error::DataFusionError {
        let (what, value) = (self.what, self.value);
        if self.overflow {
            return exec_datafusion_err!("{func}: adding {what} {value:?} overflows {SUM_LIMIT}");
        }
        let limit = match what {
            Summed::SquaredNorm { d } => format!(
                " (the feature range limit: with d = {d} features every |x_j| must stay below \
                 2^26/√d ≈ {:.1e})",
                feature_limit(d)
            ),
            Summed::SquaredDistance { d } => format!(
                " (the feature range limit: with d = {d} features a row must be within \
                 2^26/√d ≈ {:.1e} of its nearest centre in every coordinate)",
                feature_limit(d)
            ),
            Summed::Coordinate | Summed::Silhouette => String::new(),
        };
        exec_datafusion_err!(
            "{func}: {what} {value:?} cannot be summed exactly: every summed value must be \
             finite with magnitude below 2^52 (4.5e15){limit}; are the features NaN, infinite \
             or unscaled?"
        )
    }
}

/// [`quantise`], or the [`Unsummable`] value.
#[inline(always)]
fn quantise_or(what: Summed, v: f64) -> Result<i128, Unsummable> {
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
fn add_exact(target: &mut i128, what: Summed, v: f64) -> Result<(), Unsummable> {
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

/// How many exact sums and counts a state holds; what each position means is the UDAF's
/// own business (its module docs have the table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shape {
    pub sums: usize,
    pub counts: usize,
}

/// The state of every k-means UDAF: exact fixed-point sums (`i128` in units of 2^-40) and
/// row counts (`i64`), of a shape learned from the function's literals or from the first
/// non-empty state merged. One type, so that update and merge are checked the same way for
/// all of them: an `i128` (or count) overflow is an error naming the limit, never a wrap.
///
/// While the shape is unknown (no literal and no state seen) both vectors are empty: the
/// empty state, the identity of [`ExactSums::merge_bytes`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct ExactSums {
    sums: Vec<i128>,
    counts: Vec<i64>,
}

impl ExactSums {
    /// The shape, or `None` while it is unknown.
    pub fn shape(&self) -> Option<Shape> {
        let shape = Shape {
            sums: self.sums.len(),
            counts: self.counts.len(),
        };
        (shape.sums + shape.counts > 0).then_some(shape)
    }

    /// Sets the shape (all zeros) if unknown; errors if a different shape is known. An
    /// empty shape is no shape: it leaves the sums unknown.
    pub fn learn_shape(&mut self, func: &str, shape: Shape) -> Result<()> {
        match self.shape() {
            None => {
                self.sums = vec![0; shape.sums];
                self.counts = vec![0; shape.counts];
                Ok(())
            }
            Some(known) if known == shape => Ok(()),
            Some(known) => exec_err!(
                "{func}: cannot combine a state of {} exact sums and {} counts with one of {} \
                 and {} (different centroids or feature counts in one query?)",
                shape.sums,
                shape.counts,
                known.sums,
                known.counts
            ),
        }
    }

    /// Adds `v`, quantised, to sum `i`.
    #[inline(always)]
    pub fn add(&mut self, i: usize, what: Summed, v: f64) -> Result<(), Unsummable> {
        add_exact(&mut self.sums[i], what, v)
    }

    /// Counts one row in count `i` (2^63 rows are out of reach of one accumulator's
    /// updates; merge, which adds counts of many, is checked).
    #[inline(always)]
    pub fn count(&mut self, i: usize) {
        self.counts[i] += 1;
    }

    /// Sum `i` as the nearest f64 (see [`dequantise`]).
    pub fn value(&self, i: usize) -> f64 {
        dequantise(self.sums[i])
    }

    /// The exact sums, in units of 2^-40, for tests.
    #[cfg(test)]
    pub fn sums(&self) -> &[i128] {
        &self.sums
    }

    /// The counts.
    pub fn counts(&self) -> &[i64] {
        &self.counts
    }

    /// The sums, writable, for tests that set up an overflow.
    #[cfg(test)]
    pub fn sums_mut(&mut self) -> &mut [i128] {
        &mut self.sums
    }

    /// The serialized state (see [`crate::state_bytes`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        state_bytes::encode(&self.sums, &self.counts)
    }

    /// Adds a state produced by [`ExactSums::to_bytes`]; an empty state (no bytes, or a
    /// state of unknown shape) is the identity. Errors: another format version, a malformed
    /// or differently shaped state, a sum past the `i128` range (naming the limit).
    pub fn merge_bytes(&mut self, func: &str, bytes: &[u8]) -> Result<()> {
        let Some(state) = state_bytes::decode(func, bytes)? else {
            return Ok(());
        };
        let shape = Shape {
            sums: state.n_sums(),
            counts: state.n_counts(),
        };
        if shape.sums + shape.counts == 0 {
            return Ok(());
        }
        self.learn_shape(func, shape)?;
        for (t, v) in self.sums.iter_mut().zip(state.sums()) {
            let Some(sum) = t.checked_add(v) else {
                return exec_err!("{func}: merging two partial states overflows {SUM_LIMIT}");
            };
            *t = sum;
        }
        for (t, v) in self.counts.iter_mut().zip(state.counts()) {
            let Some(sum) = t.checked_add(v) else {
                return exec_err!(
                    "{func}: merging two partial states overflows a row count (i64: at most \
                     2^63 - 1 rows)"
                );
            };
            *t = sum;
        }
        Ok(())
    }

    /// Bytes held, for `Accumulator::size`.
    pub fn size(&self) -> usize {
        self.sums.capacity() * 16 + self.counts.capacity() * 8
    }
}

/// Rows per block of [`Lanes`]: with at most one add per lane per row, each of magnitude
/// below 2^53 (in units of 2^-40), a lane stays below 2^10 * 2^53 = 2^63.
const BLOCK_ROWS: u32 = 1 << 10;

/// 2^53: the largest magnitude (exclusive) of a quantised value a lane takes; |v| < 2^13.
const LANE_LIMIT: f64 = 9_007_199_254_740_992.0;

/// A block of rows' sums in `i64`, added to the `i128` sums of an [`ExactSums`] once per
/// [`BLOCK_ROWS`] rows: the hot loop of `kmeans_step` adds d + 2 values per row, and an
/// `i128` add with its overflow check for each was a fifth of a Lloyd iteration's time.
/// The result is the same integers (integer addition is exact in any grouping); a value of
/// magnitude 2^13 or more skips the lane and goes straight to its `i128` sum.
///
/// The contract of a caller: at most one add per lane between two [`Lanes::end_row`], and
/// [`Lanes::flush`] before the sums are read.
pub(crate) struct Lanes {
    lanes: Vec<i64>,
    /// What each sum is, for the error of a flush that overflows.
    kinds: Vec<Summed>,
    rows: u32,
}

impl Lanes {
    /// Lanes for the sums of `sums`, of the kinds given (one per sum).
    pub fn new(kinds: Vec<Summed>) -> Self {
        Self {
            lanes: vec![0; kinds.len()],
            kinds,
            rows: 0,
        }
    }

    /// Adds `v`, quantised, to sum `i`.
    #[inline(always)]
    pub fn add(
        &mut self,
        sums: &mut ExactSums,
        i: usize,
        what: Summed,
        v: f64,
    ) -> Result<(), Unsummable> {
        let s = v * SCALE;
        if s.abs() < LANE_LIMIT {
            // SAFETY: `s.abs() < 2^53` is false for NaN and infinities, so `s` is finite
            // and its truncation fits an i64.
            self.lanes[i] += unsafe { s.to_int_unchecked::<i64>() };
            Ok(())
        } else {
            add_exact(&mut sums.sums[i], what, v)
        }
    }

    /// Adds `values`, quantised, to the sums from position `start` on, in order.
    #[inline(always)]
    pub fn add_all(
        &mut self,
        sums: &mut ExactSums,
        start: usize,
        what: Summed,
        values: &[f64],
    ) -> Result<(), Unsummable> {
        for (j, v) in values.iter().enumerate() {
            self.add(sums, start + j, what, *v)?;
        }
        Ok(())
    }

    /// Ends a row; every [`BLOCK_ROWS`] rows the lanes join the sums.
    #[inline(always)]
    pub fn end_row(&mut self, sums: &mut ExactSums) -> Result<(), Unsummable> {
        self.rows += 1;
        if self.rows == BLOCK_ROWS {
            self.flush(sums)
        } else {
            Ok(())
        }
    }

    /// Adds the lanes to the sums (checked, as a merge) and clears them.
    pub fn flush(&mut self, sums: &mut ExactSums) -> Result<(), Unsummable> {
        for ((sum, lane), what) in sums.sums.iter_mut().zip(&mut self.lanes).zip(&self.kinds) {
            let Some(total) = sum.checked_add(i128::from(*lane)) else {
                return Err(Unsummable {
                    what: *what,
                    value: dequantise(i128::from(*lane)),
                    overflow: true,
                });
            };
            *sum = total;
            *lane = 0;
        }
        self.rows = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn the_feature_range_limit_is_about_3_9e7_at_d_3() {
        assert_eq!(format!("{:.1e}", feature_limit(3)), "3.9e7");
        assert_eq!(format!("{:.1e}", feature_limit(1)), "6.7e7");
        // At the limit in every coordinate, ‖x‖² is 2^52 (not summable); just below, it is.
        let below = feature_limit(3) * (1.0 - 1e-9);
        assert!(quantise(3.0 * below * below).is_some());
        assert!(quantise(3.0 * feature_limit(3).powi(2)).is_none());
    }

    #[test]
    fn update_and_merge_overflows_are_errors_naming_the_limit() -> Result<()> {
        let shape = Shape { sums: 1, counts: 1 };
        let mut a = ExactSums::default();
        a.learn_shape("f", shape)?;
        a.sums_mut()[0] = i128::MAX - 10;
        // Update: checked, and the sum is left as it was.
        let err = a
            .add(0, Summed::Coordinate, 1.0)
            .unwrap_err()
            .into_error("f");
        assert!(
            err.to_string().contains(
                "f: adding coordinate 1.0 overflows the exact sum (i128 at 2^-40 resolution: \
                 at most 2^87 in total"
            ),
            "{err}"
        );
        assert_eq!(a.sums()[0], i128::MAX - 10);
        // Merge: the same limit.
        let mut b = a.clone();
        let err = b.merge_bytes("f", &a.to_bytes()).unwrap_err().to_string();
        assert!(
            err.contains("f: merging two partial states overflows the exact sum (i128 at 2^-40"),
            "{err}"
        );
        Ok(())
    }

    #[test]
    fn a_squared_norm_past_the_range_names_the_feature_limit() {
        let err = quantise_or(Summed::SquaredNorm { d: 3 }, 4.8e15)
            .unwrap_err()
            .into_error("kmeans_step")
            .to_string();
        assert!(
            err.contains("kmeans_step: squared norm 4800000000000000.0 cannot be summed exactly")
                && err.contains("with d = 3 features every |x_j| must stay below 2^26/√d ≈ 3.9e7"),
            "{err}"
        );
    }

    #[test]
    fn the_empty_state_is_the_identity_and_shapes_must_match() -> Result<()> {
        let mut a = ExactSums::default();
        assert_eq!(a.shape(), None);
        a.learn_shape("f", Shape { sums: 2, counts: 1 })?;
        for (i, v) in [1.5, -2.25].into_iter().enumerate() {
            a.add(i, Summed::Coordinate, v)
                .map_err(|e| e.into_error("f"))?;
        }
        a.count(0);
        let bytes = a.to_bytes();
        for empty in [ExactSums::default().to_bytes(), Vec::new()] {
            let mut b = a.clone();
            b.merge_bytes("f", &empty)?;
            assert_eq!(b, a);
            let mut c = ExactSums::default();
            c.merge_bytes("f", &empty)?;
            c.merge_bytes("f", &bytes)?;
            assert_eq!(c, a);
        }
        let mut other = ExactSums::default();
        other.learn_shape("f", Shape { sums: 1, counts: 1 })?;
        let err = other.merge_bytes("f", &bytes).unwrap_err().to_string();
        assert!(err.contains("f: cannot combine"), "{err}");
        Ok(())
    }

    /// Rows added through the lanes, over several blocks and with values on both sides of
    /// the lane limit (2^13), give the same integers as adding each value to its i128 sum.
    #[test]
    fn lanes_give_the_same_sums_as_direct_adds() -> Result<()> {
        let shape = Shape { sums: 3, counts: 0 };
        let (mut direct, mut laned) = (ExactSums::default(), ExactSums::default());
        direct.learn_shape("f", shape)?;
        laned.learn_shape("f", shape)?;
        let mut lanes = Lanes::new(vec![Summed::Coordinate; 3]);
        let mut s = 0x853c_49e6_748f_ea9bu64;
        let rows = 3 * BLOCK_ROWS as usize + 17;
        let mut large = 0;
        for row in 0..rows {
            // Every row adds to 2 of the 3 sums, once each.
            for i in [row % 3, (row + 1) % 3] {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                let unit = (s >> 11) as f64 / (1u64 << 53) as f64;
                let v = if s.is_multiple_of(5) {
                    large += 1;
                    (unit - 0.5) * 2e6 + 8192.0_f64.copysign(unit - 0.5)
                } else {
                    (unit - 0.5) * 16_000.0
                };
                direct
                    .add(i, Summed::Coordinate, v)
                    .map_err(|e| e.into_error("f"))?;
                lanes
                    .add(&mut laned, i, Summed::Coordinate, v)
                    .map_err(|e| e.into_error("f"))?;
            }
            lanes.end_row(&mut laned).map_err(|e| e.into_error("f"))?;
        }
        lanes.flush(&mut laned).map_err(|e| e.into_error("f"))?;
        assert!(large > 1000, "{large} values past the lane limit");
        assert_eq!(laned.sums(), direct.sums());
        assert!(direct.sums().iter().all(|v| *v != 0));
        Ok(())
    }

    /// A flush that would leave the i128 range is an error naming the kind of the sum.
    #[test]
    fn a_flush_past_the_i128_range_is_an_error_naming_the_sum() -> Result<()> {
        let mut sums = ExactSums::default();
        sums.learn_shape("f", Shape { sums: 2, counts: 0 })?;
        sums.sums_mut()[1] = i128::MAX - 1;
        let mut lanes = Lanes::new(vec![Summed::Coordinate, Summed::SquaredNorm { d: 2 }]);
        lanes
            .add(&mut sums, 1, Summed::SquaredNorm { d: 2 }, 0.5)
            .map_err(|e| e.into_error("f"))?;
        let err = lanes
            .flush(&mut sums)
            .unwrap_err()
            .into_error("f")
            .to_string();
        assert!(
            err.contains("f: adding squared norm 0.5 overflows the exact sum"),
            "{err}"
        );
        assert_eq!(sums.sums()[1], i128::MAX - 1);
        Ok(())
    }
}

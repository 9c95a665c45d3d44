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
//! saturated silently; so is a sum that would leave the `i128` range, in `update` (via
//! [`add_exact`]) as in `merge`.

use datafusion::common::exec_datafusion_err;

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
}

//! Deterministic random draws for the generator.
//!
//! Every draw is built from raw `u64`s with integer arithmetic (and `ln`/`exp`/`sqrt` for
//! the continuous shapes), never from a library distribution whose algorithm could change
//! between crate versions: the same seed must give the same bytes next year too.

use rand::RngCore;
use rand_chacha::ChaCha8Rng;

/// The SplitMix64 finaliser (Steele, Lea, Flood 2014): a bijection on `u64` that mixes
/// every input bit into every output bit. Used to derive independent seeds and keys.
pub(crate) const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A key derived from the seed and a tag, so that each use of the seed (users, items,
/// ASINs, malformed lines) draws from its own unrelated stream.
pub(crate) const fn derive(seed: u64, tag: u64) -> u64 {
    mix64(seed ^ mix64(tag.wrapping_add(0x9e37_79b9_7f4a_7c15)))
}

/// SplitMix64: tiny and fast, for the per-item attribute streams. An item's attributes are
/// a pure function of (seed, item index), so reviews can look an item up without a table.
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub(crate) const fn new(state: u64) -> Self {
        SplitMix64(state)
    }
}

/// Uniform and shaped draws on top of a raw `u64` source.
pub(crate) trait Draw {
    fn next(&mut self) -> u64;

    /// Uniform in [0, 1), 53 bits.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in (0, 1], for logarithms and negative powers.
    fn unit_open(&mut self) -> f64 {
        ((self.next() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in [0, n) by multiply-shift (Lemire); the bias is below 2^-40 for
    /// every n used here, far under anything a test could see. `n == 0` gives 0.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform integer in [lo, hi], both inclusive.
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `p`.
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// A standard normal draw by the inverse CDF, so it always takes exactly one `u64`.
    fn normal(&mut self) -> f64 {
        normal_quantile(self.unit_open().min(1.0 - 1e-16))
    }

    /// Picks an index from cumulative weights (last entry is the total).
    fn pick_cumulative(&mut self, cumulative: &[f64]) -> usize {
        let total = cumulative.last().copied().unwrap_or(0.0);
        let x = self.unit() * total;
        cumulative
            .iter()
            .position(|&c| x < c)
            .unwrap_or(cumulative.len().saturating_sub(1))
    }

    /// One element of a non-empty slice.
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

impl Draw for SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix64(self.0)
    }
}

impl Draw for ChaCha8Rng {
    fn next(&mut self) -> u64 {
        self.next_u64()
    }
}

/// The standard normal quantile, Acklam's rational approximation (relative error below
/// 1.2e-9): plenty for prices and ratings, and it needs one uniform per draw.
pub(crate) fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const P_LOW: f64 = 0.02425;
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < P_LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p <= 1.0 - P_LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_quantile_matches_known_values() {
        // Textbook quantiles of the standard normal.
        assert!((normal_quantile(0.5)).abs() < 1e-9);
        assert!((normal_quantile(0.975) - 1.959_963_985).abs() < 1e-6);
        assert!((normal_quantile(0.01) + 2.326_347_874).abs() < 1e-6);
        assert!((normal_quantile(0.999) - 3.090_232_306).abs() < 1e-6);
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut r = SplitMix64::new(1);
        let mut seen = [false; 7];
        for _ in 0..1000 {
            let x = r.below(7);
            assert!(x < 7);
            seen[x as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }
}

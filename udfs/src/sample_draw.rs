//! The k-means|| draw: the one source of randomness of the initialisation, a pure function
//! of (seed, round, customer) so that a customer is drawn the same way on every machine,
//! partitioning and batch size, by `kmeans_sample` and by the driver alike.

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

#[cfg(test)]
mod tests {
    use super::*;

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

//! The typical price of a group's purchases (the report's price band): the 25th
//! percentile, median and 75th percentile of their amounts, from the count of purchases
//! at each amount (sql/group_prices.sql). The same numbers, to the bit, as DataFusion's
//! `percentile_cont` over every amount, whose arithmetic this follows.

use std::collections::BTreeMap;

/// The percentiles of a price band.
pub const BAND: [f64; 3] = [0.25, 0.5, 0.75];

/// `percentile_cont`'s interpolation weight is quantized to this many steps.
const INTERPOLATION_PRECISION: f64 = 1_000_000.0;

/// Each group's band from its (amount, purchases) counts, given in any order. A group
/// with no purchase has no band.
pub fn price_bands(counts: BTreeMap<String, Vec<(f64, u64)>>) -> BTreeMap<String, [f64; 3]> {
    counts
        .into_iter()
        .filter_map(|(name, mut amounts)| {
            amounts.retain(|&(_, n)| n > 0);
            amounts.sort_by(|a, b| a.0.total_cmp(&b.0));
            let n: u64 = amounts.iter().map(|&(_, n)| n).sum();
            (n > 0).then(|| (name, BAND.map(|p| percentile(&amounts, n, p))))
        })
        .collect()
}

/// The `p` percentile of `n` values given as sorted (value, count) runs.
fn percentile(sorted: &[(f64, u64)], n: u64, p: f64) -> f64 {
    if n == 1 || p == 0.0 {
        return sorted[0].0;
    }
    if p == 1.0 {
        return sorted[sorted.len() - 1].0;
    }
    let index = p * ((n - 1) as f64);
    let (lower, upper) = (index.floor() as u64, index.ceil() as u64);
    let lower_value = value_at(sorted, lower);
    if lower == upper {
        return lower_value;
    }
    let upper_value = value_at(sorted, upper);
    let fraction = index - lower as f64;
    let weight = ((fraction * INTERPOLATION_PRECISION) as u64) as f64 / INTERPOLATION_PRECISION;
    lower_value + (upper_value - lower_value) * weight
}

/// The value at position `k` (from 0) of the values the sorted runs stand for.
fn value_at(sorted: &[(f64, u64)], k: u64) -> f64 {
    let mut seen = 0;
    for &(value, n) in sorted {
        seen += n;
        if k < seen {
            return value;
        }
    }
    sorted[sorted.len() - 1].0
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float64Array, RecordBatch, StringArray};
    use datafusion::datasource::MemTable;
    use datafusion::prelude::SessionContext;
    use rand::{Rng, SeedableRng};
    use std::sync::Arc;

    /// Against DataFusion's own percentile_cont over every amount: groups of 1, 2 and many
    /// purchases, repeated prices (as items' prices repeat), bit for bit.
    #[tokio::test]
    async fn bands_equal_percentile_cont_over_every_amount() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let prices: Vec<f64> = (0..300)
            .map(|_| (rng.random_range(100..50_000) as f64) / 100.0)
            .collect();
        let mut names = Vec::new();
        let mut amounts = Vec::new();
        for (group, size) in [("one", 1), ("two", 2), ("some", 37), ("many", 20_000)] {
            for _ in 0..size {
                names.push(group.to_string());
                amounts.push(prices[rng.random_range(0..prices.len())]);
            }
        }
        // The group of two: known values, interpolated between them.
        (amounts[1], amounts[2]) = (10.0, 30.0);
        let batch = RecordBatch::try_from_iter([
            ("name", Arc::new(StringArray::from(names.clone())) as _),
            ("amount", Arc::new(Float64Array::from(amounts.clone())) as _),
        ])
        .unwrap();
        let ctx = SessionContext::new();
        let t = MemTable::try_new(batch.schema(), vec![vec![batch]]).unwrap();
        ctx.register_table("p", Arc::new(t)).unwrap();
        let sql = "SELECT name, \
            percentile_cont(0.25) WITHIN GROUP (ORDER BY amount) AS p25, \
            percentile_cont(0.5) WITHIN GROUP (ORDER BY amount) AS p50, \
            percentile_cont(0.75) WITHIN GROUP (ORDER BY amount) AS p75 \
            FROM p GROUP BY name";
        let mut expected = BTreeMap::new();
        for b in ctx.sql(sql).await.unwrap().collect().await.unwrap() {
            let names = crate::exec::query::str_column(&b, "name").unwrap();
            let cols =
                ["p25", "p50", "p75"].map(|c| crate::exec::query::f64_column(&b, c).unwrap());
            for (i, name) in names.into_iter().enumerate() {
                expected.insert(name, [cols[0][i], cols[1][i], cols[2][i]]);
            }
        }

        let mut counts: BTreeMap<String, BTreeMap<u64, u64>> = BTreeMap::new();
        for (name, amount) in names.into_iter().zip(amounts) {
            *counts
                .entry(name)
                .or_default()
                .entry(amount.to_bits())
                .or_default() += 1;
        }
        let counts = counts
            .into_iter()
            .map(|(k, v)| {
                (
                    k,
                    v.into_iter().map(|(a, n)| (f64::from_bits(a), n)).collect(),
                )
            })
            .collect();
        let bands = price_bands(counts);
        assert_eq!(bands.len(), 4);
        for (name, band) in &expected {
            assert_eq!(
                band.map(f64::to_bits),
                bands[name].map(f64::to_bits),
                "{name}: {band:?} vs {:?}",
                bands[name]
            );
        }
        assert_eq!(bands["two"], [15.0, 20.0, 25.0]);
    }
}

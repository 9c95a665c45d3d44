//! Where a fit starts. Two ways:
//!
//! **The best of several starts on a sample** (the default, [`best_of_sample`]): on a
//! seeded uniform sample of the customers, `n_init` seeded k-means++ starts, each run by
//! Lloyd until no point changes cluster; the one with the lowest WCSS on the sample is
//! where Lloyd on all customers starts. This is scikit-learn's n_init = 10 done where it
//! is cheap: one start of k-means on 3.5M customers is ~20 passes over them, the ten
//! starts on 20,000 customers are less than one. A single start, even a k-means|| one,
//! ends in a local optimum often enough to matter (on generated data of the reference's
//! shape, 10M reviews, k-means|| left k = 2 15% and k = 10 6.5% above the best of
//! scikit-learn and MLlib; benches/RESULTS.md); and a start already at the sample's
//! optimum skips the k-means|| rounds (fewer jobs on a cluster).
//!
//! **k-means||** (Bahmani et al. 2012, `init = "k-means||"`), as Spark MLlib's default: a
//! seeded first centre, `init_steps` rounds of sampling about `oversampling * k` points with
//! probability proportional to their squared distance to the candidates (one SQL pass
//! each), the candidates weighted by how many customers are nearest to them (one
//! `kmeans_step` pass), then k-means++ and Lloyd on the weighted candidates here in the
//! driver.
//!
//! Unlike Spark, the result is always k distinct centres: candidates are de-duplicated,
//! k-means++ only picks a candidate at a positive distance from those chosen, and if the
//! rounds found fewer than k distinct candidates, distinct points are fetched from the
//! data. Only data with fewer than k distinct points is an error.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::queries::{D, Queries};
use crate::config::KMeansConfig;
use crate::error::{Error, Result};

/// k distinct initial centres, row-major, from the seeded first centre `first`.
pub async fn kmeans_parallel(
    q: &Queries<'_>,
    k: usize,
    cfg: &KMeansConfig,
    first: &[f64],
) -> Result<Vec<f64>> {
    let mut candidates = first.to_vec();
    let l = cfg.oversampling * k as f64;
    for round in 0..cfg.init_steps {
        let cost = q.cost(&candidates).await?;
        if cost <= 0.0 {
            break;
        }
        let sampled = q.sample(&candidates, cfg.seed, round, l, cost).await?;
        add_distinct(&mut candidates, &sampled);
    }
    if candidates.len() / D < k {
        let extra = q.distinct_points(k * 4).await?;
        add_distinct(&mut candidates, &extra);
        if candidates.len() / D < k {
            return Err(Error::Config {
                key: "kmeans.k (--k)".into(),
                message: format!(
                    "k = {k} but the customers have only {} distinct feature vectors",
                    candidates.len() / D
                ),
            });
        }
    }
    let weights: Vec<f64> = q.step(&candidates, 0, u32::MAX).await?.counts;
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut centres = kmeans_plus_plus(&candidates, &weights, k, &mut rng);
    weighted_lloyd(&candidates, &weights, &mut centres, 30);
    make_distinct(&candidates, &mut centres);
    Ok(centres)
}

/// The best of `n_init` seeded k-means++ starts, each run to convergence by Lloyd on
/// `sample` (row-major); None when the sample has fewer than k distinct points (the
/// caller then starts by k-means||, which fetches distinct points from all the data).
/// The starts' generators depend only on (seed, k, start), and ties go to the earlier
/// start, so the choice is the same on any machine.
pub fn best_of_sample(sample: &[f64], k: usize, cfg: &KMeansConfig) -> Option<Vec<f64>> {
    if distinct_up_to(sample, k) < k {
        return None;
    }
    let weights = vec![1.0; sample.len() / D];
    let mut best: Option<(f64, Vec<f64>)> = None;
    for start in 0..cfg.n_init {
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        rng.set_stream(((k as u64) << 32) | u64::from(start));
        let mut centres = kmeans_plus_plus(sample, &weights, k, &mut rng);
        weighted_lloyd(sample, &weights, &mut centres, SAMPLE_MAX_ITER);
        make_distinct(sample, &mut centres);
        let cost = total_cost(sample, &centres);
        if best.as_ref().is_none_or(|(b, _)| cost < *b) {
            best = Some((cost, centres));
        }
    }
    best.map(|(_, c)| c)
}

/// The sum of the points' squared distances to their nearest centres, added in the
/// points' order.
fn total_cost(points: &[f64], centres: &[f64]) -> f64 {
    let cols = columns(points);
    let cols: [&[f64]; D] = std::array::from_fn(|j| &cols[j][..]);
    let n = points.len() / D;
    let (mut best, mut dist) = (vec![0u32; n], vec![0.0; n]);
    rfmseg_udfs::nearest_columns(centres, &cols, &mut best, &mut dist);
    dist.iter().sum()
}

/// Lloyd iterations on the sample at most; it usually stops well before, when no point
/// changes cluster (scikit-learn's max_iter is 300, but on a few thousand points per
/// cluster the last hundred barely move a centre).
const SAMPLE_MAX_ITER: usize = 100;

/// Distinct rows of `points`, counted up to `limit`.
fn distinct_up_to(points: &[f64], limit: usize) -> usize {
    let mut seen: Vec<&[f64]> = Vec::with_capacity(limit);
    for p in points.chunks_exact(D) {
        if seen.len() >= limit {
            break;
        }
        if !seen.contains(&p) {
            seen.push(p);
        }
    }
    seen.len()
}

/// Appends the points of `new` that are not already in `points` (exact comparison).
fn add_distinct(points: &mut Vec<f64>, new: &[f64]) {
    for p in new.chunks_exact(D) {
        if !points.chunks_exact(D).any(|q| q == p) {
            points.extend_from_slice(p);
        }
    }
}

fn dist2(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// The nearest centre and its squared distance, exactly as the UDFs compute it.
fn nearest(centres: &[f64], p: &[f64]) -> (usize, f64) {
    rfmseg_udfs::nearest(centres, D, p)
}

/// Greedy weighted k-means++ (Arthur & Vassilvitskii 2007, with scikit-learn's
/// `2 + ln k` local trials): the first centre by weight; each next one is the best, by
/// the weighted cost it leaves, of `2 + ln k` candidates drawn with probability
/// proportional to weight x squared distance to the chosen ones. Plain k-means++ (one
/// trial) on a few dozen candidates lands in a poor local optimum often enough to split
/// a planted group; the trials cost nothing next to a pass over the customers. A point at
/// distance 0 is never picked, so centres are distinct.
pub fn kmeans_plus_plus(
    points: &[f64],
    weights: &[f64],
    k: usize,
    rng: &mut ChaCha8Rng,
) -> Vec<f64> {
    let n = points.len() / D;
    let trials = 2 + (k as f64).ln().floor() as usize;
    let pick = |scores: &[f64], rng: &mut ChaCha8Rng| -> usize {
        let total: f64 = scores.iter().sum();
        if total <= 0.0 {
            // All remaining mass is zero (weights of 0): the first unused positive-distance
            // point is taken by the caller's fallback.
            return usize::MAX;
        }
        let r = rng.random::<f64>() * total;
        let mut acc = 0.0;
        let mut last_positive = usize::MAX;
        for (j, s) in scores.iter().enumerate() {
            if *s > 0.0 {
                acc += s;
                last_positive = j;
                if acc > r {
                    return j;
                }
            }
        }
        last_positive
    };
    let mut centres = Vec::with_capacity(k * D);
    let first = pick(weights, rng);
    let first = if first == usize::MAX { 0 } else { first };
    centres.extend_from_slice(&points[first * D..(first + 1) * D]);
    let mut cost: Vec<f64> = points
        .chunks_exact(D)
        .map(|p| dist2(p, &centres[..D]))
        .collect();
    for _ in 1..k {
        let scores: Vec<f64> = cost.iter().zip(weights).map(|(c, w)| c * w).collect();
        let mut best: Option<(f64, Vec<f64>)> = None;
        for _ in 0..trials {
            let j = pick(&scores, rng);
            if j == usize::MAX {
                break;
            }
            let c = &points[j * D..(j + 1) * D];
            let next: Vec<f64> = points
                .chunks_exact(D)
                .zip(&cost)
                .map(|(p, &old)| old.min(dist2(p, c)))
                .collect();
            let left: f64 = next.iter().zip(weights).map(|(d, w)| d * w).sum();
            if best.as_ref().is_none_or(|(b, _)| left < *b) {
                best = Some((left, c.to_vec()));
            }
        }
        let c = match best {
            Some((_, c)) => c,
            None => {
                // No weighted mass left: the farthest point not yet chosen.
                let j = (0..n)
                    .filter(|&i| cost[i] > 0.0)
                    .max_by(|&a, &b| cost[a].total_cmp(&cost[b]).then(b.cmp(&a)))
                    .unwrap_or(0);
                points[j * D..(j + 1) * D].to_vec()
            }
        };
        for (i, p) in points.chunks_exact(D).enumerate() {
            cost[i] = cost[i].min(dist2(p, &c));
        }
        centres.extend_from_slice(&c);
    }
    centres
}

/// The points (row-major) by column, for [`rfmseg_udfs::nearest_columns`].
fn columns(points: &[f64]) -> [Vec<f64>; D] {
    std::array::from_fn(|j| points.chunks_exact(D).map(|p| p[j]).collect())
}

/// Weighted Lloyd on the candidates; an empty cluster keeps its centre. Each iteration
/// searches every point's nearest centre first, several points side by side (the same
/// winners as [`nearest`] point by point), then sums in the points' order: the centres
/// are the bits the point-by-point loop gave. The search was most of the best-of-sample
/// start's time (10 starts at every k on 20,000 points).
fn weighted_lloyd(points: &[f64], weights: &[f64], centres: &mut [f64], max_iter: usize) {
    let k = centres.len() / D;
    let n = points.len() / D;
    let cols = columns(points);
    let cols: [&[f64]; D] = std::array::from_fn(|j| &cols[j][..]);
    let mut best = vec![0u32; n];
    let mut dist = vec![0.0; n];
    let mut assign = vec![usize::MAX; n];
    for _ in 0..max_iter {
        let mut changed = false;
        let mut sums = vec![0.0; k * D];
        let mut totals = vec![0.0; k];
        rfmseg_udfs::nearest_columns(centres, &cols, &mut best, &mut dist);
        for (i, p) in points.chunks_exact(D).enumerate() {
            let c = best[i] as usize;
            if assign[i] != c {
                assign[i] = c;
                changed = true;
            }
            for t in 0..D {
                sums[c * D + t] += weights[i] * p[t];
            }
            totals[c] += weights[i];
        }
        if !changed {
            break;
        }
        for c in 0..k {
            if totals[c] > 0.0 {
                for t in 0..D {
                    centres[c * D + t] = sums[c * D + t] / totals[c];
                }
            }
        }
    }
}

/// Replaces any centre equal to an earlier one by the candidate farthest from all
/// centres, so the k centres are distinct.
fn make_distinct(points: &[f64], centres: &mut [f64]) {
    let k = centres.len() / D;
    for c in 1..k {
        let dup = (0..c).any(|o| centres[o * D..(o + 1) * D] == centres[c * D..(c + 1) * D]);
        if dup {
            let far = points
                .chunks_exact(D)
                .map(|p| nearest(centres, p).1)
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
                .map_or(0, |(i, _)| i);
            centres[c * D..(c + 1) * D].copy_from_slice(&points[far * D..(far + 1) * D]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kmeans_plus_plus_picks_k_distinct_points_even_with_zero_weights() {
        let pts: Vec<f64> = (0..6).flat_map(|i| [i as f64, 0.0, 0.0]).collect();
        let weights = [5.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let c = kmeans_plus_plus(&pts, &weights, 4, &mut rng);
        let mut xs: Vec<f64> = c.chunks_exact(D).map(|p| p[0]).collect();
        xs.sort_by(f64::total_cmp);
        xs.dedup();
        assert_eq!(xs.len(), 4, "{c:?}");
    }

    /// 25 groups of 30 points on a 5 x 5 grid, 2 apart, each spread over 1.2: many
    /// groups alike, so one k-means++ start now and then puts two centres in one group
    /// and one between two.
    fn grid_groups() -> (Vec<f64>, Vec<usize>) {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let (mut pts, mut truth) = (Vec::new(), Vec::new());
        for g in 0..25 {
            let (x, y) = ((g % 5) as f64 * 2.0, (g / 5) as f64 * 2.0);
            for _ in 0..30 {
                let mut jitter = || (rng.random::<f64>() - 0.5) * 1.2;
                pts.extend_from_slice(&[x + jitter(), y + jitter(), jitter() * 0.1]);
                truth.push(g);
            }
        }
        (pts, truth)
    }

    /// The WCSS of a partition, by plain means.
    fn partition_wcss(pts: &[f64], labels: &[usize], k: usize) -> f64 {
        let mut sums = vec![[0.0; D]; k];
        let mut n = vec![0.0; k];
        for (p, &l) in pts.chunks_exact(D).zip(labels) {
            for t in 0..D {
                sums[l][t] += p[t];
            }
            n[l] += 1.0;
        }
        pts.chunks_exact(D)
            .zip(labels)
            .map(|(p, &l)| {
                (0..D)
                    .map(|t| (p[t] - sums[l][t] / n[l]).powi(2))
                    .sum::<f64>()
            })
            .sum()
    }

    fn sample_wcss(pts: &[f64], centres: &[f64]) -> f64 {
        pts.chunks_exact(D).map(|p| nearest(centres, p).1).sum()
    }

    #[test]
    fn the_best_of_ten_starts_finds_the_planted_groups_that_one_start_can_miss() {
        let (pts, truth) = grid_groups();
        let optimum = partition_wcss(&pts, &truth, 25);
        let cfg = KMeansConfig::default();
        let best = best_of_sample(&pts, 25, &cfg).unwrap();
        assert!(
            (sample_wcss(&pts, &best) - optimum).abs() <= optimum * 1e-12,
            "{} vs {optimum}",
            sample_wcss(&pts, &best)
        );
        // The same call gives the same centres, bit for bit.
        assert_eq!(best_of_sample(&pts, 25, &cfg).unwrap(), best);
        // Single starts: at least one of the ten ends above the optimum (two centres in one
        // group), which is why one is not enough.
        let worse = (0..10u64)
            .filter(|&s| {
                let one = KMeansConfig {
                    n_init: 1,
                    seed: cfg.seed + s,
                    ..cfg.clone()
                };
                sample_wcss(&pts, &best_of_sample(&pts, 25, &one).unwrap()) > optimum * 1.01
            })
            .count();
        assert!(worse >= 1, "every single start found the optimum");
    }

    #[test]
    fn a_sample_with_fewer_than_k_distinct_points_gives_no_start() {
        let pts: Vec<f64> = (0..30).flat_map(|i| [(i % 3) as f64, 0.0, 1.0]).collect();
        let cfg = KMeansConfig::default();
        assert_eq!(best_of_sample(&pts, 4, &cfg), None);
        let c = best_of_sample(&pts, 3, &cfg).unwrap();
        let mut xs: Vec<f64> = c.chunks_exact(D).map(|p| p[0]).collect();
        xs.sort_by(f64::total_cmp);
        assert_eq!(xs, [0.0, 1.0, 2.0]);
    }

    #[test]
    fn weighted_lloyd_moves_centres_to_weighted_means() {
        let pts = [0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 10.0, 0.0, 0.0];
        let w = [1.0, 3.0, 1.0];
        let mut c = vec![0.0, 0.0, 0.0, 10.0, 0.0, 0.0];
        weighted_lloyd(&pts, &w, &mut c, 10);
        assert_eq!(c, [1.5, 0.0, 0.0, 10.0, 0.0, 0.0]);
    }
}

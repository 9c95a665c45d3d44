//! Independent plain computations the k-means UDAFs are checked against: the textbook
//! loops in f64, without fixed point, partitions or Arrow, written as a person would.

use crate::centroids::{format_centroids, nearest};
use crate::test_data::is_null_row;

/// The cost the plain way: Σ over the rows not made NULL of the squared distance to the
/// nearest centre, in f64 in row order.
pub fn plain_cost(points: &[f64], d: usize, centroids: &[f64], null_every: usize) -> f64 {
    (0..points.len() / d)
        .filter(|i| !is_null_row(*i, null_every))
        .map(|i| {
            let x = &points[i * d..i * d + d];
            (0..centroids.len() / d)
                .map(|c| {
                    (0..d)
                        .map(|j| (x[j] - centroids[c * d + j]).powi(2))
                        .sum::<f64>()
                })
                .fold(f64::INFINITY, f64::min)
        })
        .sum()
}

/// One Lloyd step the plain way, over the rows not made NULL: f64 sums in row order.
pub fn plain_lloyd_step(
    points: &[f64],
    d: usize,
    centroids: &[f64],
    null_every: usize,
) -> Vec<f64> {
    let k = centroids.len() / d;
    let mut sums = vec![0.0; k * d];
    let mut counts = vec![0.0; k];
    let mut ssq = vec![0.0; k];
    let mut cost = 0.0;
    for i in (0..points.len() / d).filter(|i| !is_null_row(*i, null_every)) {
        let x = &points[i * d..i * d + d];
        let mut best = 0;
        let mut best_dist = f64::INFINITY;
        for c in 0..k {
            let dist: f64 = (0..d).map(|j| (x[j] - centroids[c * d + j]).powi(2)).sum();
            if dist < best_dist {
                best = c;
                best_dist = dist;
            }
        }
        for j in 0..d {
            sums[best * d + j] += x[j];
        }
        counts[best] += 1.0;
        ssq[best] += x.iter().map(|v| v * v).sum::<f64>();
        cost += best_dist;
    }
    let mut out = sums;
    out.extend(&counts);
    out.extend(&ssq);
    out.push(cost);
    out
}

/// `got` equals the plain f64 values to 1e-9 relative (the UDAF sums exactly at 2^-40).
pub fn assert_close(got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-9 * w.abs().max(1.0),
            "position {i}: got {g}, plain loop {w}"
        );
    }
}

/// The stats literal from per-cluster (count, sums, ssq) computed by a plain loop over
/// the non-NULL rows.
pub fn stats_text(points: &[f64], d: usize, centroids: &[f64], null_every: usize) -> String {
    let k = centroids.len() / d;
    let mut stats = vec![0.0; k * (d + 2)];
    for i in (0..points.len() / d).filter(|i| !is_null_row(*i, null_every)) {
        let x = &points[i * d..i * d + d];
        let (c, _) = nearest(centroids, d, x);
        let block = &mut stats[c * (d + 2)..(c + 1) * (d + 2)];
        block[0] += 1.0;
        for j in 0..d {
            block[1 + j] += x[j];
        }
        block[d + 1] += x.iter().map(|v| v * v).sum::<f64>();
    }
    format_centroids(&stats)
}

/// The O(n²) definition: squared Euclidean distances, a(i) the mean over the other rows
/// of i's cluster, b(i) the smallest mean over another non-empty cluster.
pub fn direct_silhouette(points: &[f64], d: usize, centroids: &[f64]) -> f64 {
    let n = points.len() / d;
    let row = |i: usize| &points[i * d..i * d + d];
    let label: Vec<usize> = (0..n).map(|i| nearest(centroids, d, row(i)).0).collect();
    let k = centroids.len() / d;
    let mut total = 0.0;
    for i in 0..n {
        let mut sum = vec![0.0; k];
        let mut cnt = vec![0usize; k];
        for j in 0..n {
            if j == i {
                continue;
            }
            let dist: f64 = row(i)
                .iter()
                .zip(row(j))
                .map(|(a, b)| (a - b) * (a - b))
                .sum();
            sum[label[j]] += dist;
            cnt[label[j]] += 1;
        }
        let own = label[i];
        if cnt[own] == 0 {
            continue; // a singleton: s = 0
        }
        let a = sum[own] / cnt[own] as f64;
        let b = (0..k)
            .filter(|c| *c != own && cnt[*c] > 0)
            .map(|c| sum[c] / cnt[c] as f64)
            .fold(f64::INFINITY, f64::min);
        total += (b - a) / a.max(b);
    }
    total / n as f64
}

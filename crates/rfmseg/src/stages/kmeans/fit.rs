//! Fitting one k: Lloyd (Spark's defaults) or mini-batch (Sculley 2010, as scikit-learn's
//! MiniBatchKMeans), each iteration one SQL pass returning k x d numbers; then the final
//! WCSS and both silhouettes.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::init::kmeans_parallel;
use super::queries::{D, Queries, Step};
use crate::config::{Algorithm, KMeansConfig};
use crate::error::{Error, Result};

/// One fitted k.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KMeansFit {
    pub k: usize,
    /// k x 3 centres in scaled units, row-major.
    pub centroids: Vec<f64>,
    /// Customers per cluster.
    pub sizes: Vec<u64>,
    /// Within-cluster sum of squares for the final centres.
    pub wcss: f64,
    /// Mean silhouette, squared Euclidean, all customers (Spark's ClusteringEvaluator).
    pub silhouette: f64,
    /// Mean silhouette, Euclidean, on the seeded sample (scikit-learn's silhouette_score).
    pub silhouette_sample: f64,
    /// `lloyd` or `minibatch`.
    pub algorithm: String,
    /// Lloyd iterations (full passes), or mini-batch steps plus final Lloyd passes.
    pub iterations: u32,
    /// Lloyd: every centre moved at most `tol` in the last iteration. Mini-batch: the
    /// smoothed cost stopped improving before `minibatch_max_steps`.
    pub converged: bool,
}

impl KMeansFit {
    /// The centres as rows of D values, the shape model.json and the labels take.
    pub fn centroid_rows(&self) -> Vec<[f64; D]> {
        self.centroids
            .chunks_exact(D)
            .map(|z| [z[0], z[1], z[2]])
            .collect()
    }
}

/// Which driver `auto` picks for `customers`.
pub fn resolve_algorithm(cfg: &KMeansConfig, customers: u64) -> Algorithm {
    match cfg.algorithm {
        Algorithm::Auto if customers >= cfg.minibatch_threshold => Algorithm::Minibatch,
        Algorithm::Auto => Algorithm::Lloyd,
        a => a,
    }
}

/// New centres from a step: the mean of each cluster's rows. An empty cluster keeps its
/// centre, as Spark does (its points all went elsewhere; the centre stays a valid,
/// distinct candidate).
fn means(step: &Step, old: &[f64]) -> Vec<f64> {
    let mut out = old.to_vec();
    for (c, &n) in step.counts.iter().enumerate() {
        if n > 0.0 {
            for t in 0..D {
                out[c * D + t] = step.sums[c * D + t] / n;
            }
        }
    }
    out
}

fn max_move(a: &[f64], b: &[f64]) -> f64 {
    a.chunks_exact(D)
        .zip(b.chunks_exact(D))
        .map(|(x, y)| {
            x.iter()
                .zip(y)
                .map(|(p, q)| (p - q) * (p - q))
                .sum::<f64>()
                .sqrt()
        })
        .fold(0.0, f64::max)
}

/// Full Lloyd iterations from `centres`; returns (centres, iterations, converged).
pub async fn lloyd(
    q: &Queries<'_>,
    mut centres: Vec<f64>,
    max_iter: u32,
    tol: f64,
) -> Result<(Vec<f64>, u32, bool)> {
    for it in 1..=max_iter {
        let step = q.step(&centres, 0, u32::MAX).await?;
        let next = means(&step, &centres);
        let moved = max_move(&centres, &next);
        centres = next;
        if moved <= tol {
            return Ok((centres, it, true));
        }
    }
    Ok((centres, max_iter, false))
}

/// Mini-batch k-means over the `batch` column: each step reads one mini-batch and moves
/// every centre toward the mean of its rows there with the per-centre learning rate
/// n_b / (v_c + n_b), v_c the rows the centre has seen so far (Sculley 2010; the
/// batch-wise form of scikit-learn's MiniBatchKMeans). Stops when the exponentially
/// smoothed per-row cost has not improved for `minibatch_max_no_improvement` steps, as
/// scikit-learn does; returns (centres, steps, stopped early).
pub async fn minibatch(
    q: &Queries<'_>,
    mut centres: Vec<f64>,
    cfg: &KMeansConfig,
    minibatches: u32,
    customers: u64,
) -> Result<(Vec<f64>, u32, bool)> {
    let k = centres.len() / D;
    let mut seen = vec![0.0f64; k];
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x6d69_6e69_6261_7463);
    let mut order: Vec<u32> = Vec::new();
    let mut ewa: Option<f64> = None;
    let mut best = f64::INFINITY;
    let mut no_improvement = 0;
    let mut steps = 0;
    while steps < cfg.minibatch_max_steps {
        if order.is_empty() {
            order = (0..minibatches).collect();
            order.shuffle(&mut rng);
        }
        let b = order.pop().unwrap_or(0);
        let step = q.step(&centres, b, b).await?;
        steps += 1;
        let rows = step.rows();
        if rows == 0.0 {
            continue;
        }
        for c in 0..k {
            let n = step.counts[c];
            if n > 0.0 {
                let rate = n / (seen[c] + n);
                for t in 0..D {
                    let mean = step.sums[c * D + t] / n;
                    centres[c * D + t] += rate * (mean - centres[c * D + t]);
                }
                seen[c] += n;
            }
        }
        // scikit-learn: alpha = batch_size * 2 / (n_samples + 1), on the mean batch cost.
        let alpha = (rows * 2.0 / (customers as f64 + 1.0)).min(1.0);
        let cost = step.cost / rows;
        let smoothed = match ewa {
            None => cost,
            Some(prev) => prev * (1.0 - alpha) + cost * alpha,
        };
        ewa = Some(smoothed);
        if smoothed < best {
            best = smoothed;
            no_improvement = 0;
        } else {
            no_improvement += 1;
            if no_improvement >= cfg.minibatch_max_no_improvement {
                return Ok((centres, steps, true));
            }
        }
    }
    Ok((centres, steps, false))
}

/// Fits k clusters and measures them: WCSS and both silhouettes. `sample` is the seeded
/// silhouette sample (row-major) and `first_centre` the seeded first k-means|| centre,
/// both the same for every k; `start` the centres to start from, if they were found on
/// the init sample (k-means|| otherwise).
#[allow(clippy::too_many_arguments)]
pub async fn fit_k(
    q: &Queries<'_>,
    k: usize,
    cfg: &KMeansConfig,
    algorithm: Algorithm,
    minibatches: u32,
    customers: u64,
    sample: &[f64],
    first_centre: &[f64],
    start: Option<Vec<f64>>,
) -> Result<KMeansFit> {
    let init = match start {
        Some(centres) => centres,
        None => kmeans_parallel(q, k, cfg, first_centre).await?,
    };
    let (centres, iterations, converged, name) = match algorithm {
        Algorithm::Minibatch => {
            let (c, steps, early) = minibatch(q, init, cfg, minibatches, customers).await?;
            let (c, its, _) = lloyd(q, c, cfg.minibatch_final_lloyd, cfg.tol).await?;
            (c, steps + its, early, "minibatch")
        }
        _ => {
            let (c, its, conv) = lloyd(q, init, cfg.max_iter, cfg.tol).await?;
            (c, its, conv, "lloyd")
        }
    };
    // The sample's silhouette (O(n^2) in Rust, 20-60 ms at 3,000 points) on a blocking
    // thread while the last two rounds run: computed on this task, it held back the
    // rounds of every other fit of the sweep, which wait for this one's next aggregate.
    let sample_silhouette = {
        let (sample, centres) = (sample.to_vec(), centres.clone());
        tokio::task::spawn_blocking(move || euclidean_silhouette(&sample, &centres))
    };
    let final_step = q.step(&centres, 0, u32::MAX).await?;
    let silhouette = q.silhouette(&centres, &final_step.stats()).await?;
    let silhouette_sample = sample_silhouette
        .await
        .map_err(|e| Error::Internal(format!("the sample silhouette of k = {k}: {e}")))?;
    Ok(KMeansFit {
        k,
        sizes: final_step.counts.iter().map(|&c| c as u64).collect(),
        wcss: final_step.cost,
        silhouette,
        silhouette_sample,
        centroids: centres,
        algorithm: name.into(),
        iterations,
        converged,
    })
}

/// Mean silhouette with plain Euclidean distance over the sample, each point in the
/// cluster of its nearest centre, computed directly in O(n^2) as scikit-learn's
/// silhouette_score: a = mean distance to the rest of its cluster, b = the smallest mean
/// distance to another cluster, s = (b - a) / max(a, b), and 0 for a point alone in its
/// cluster.
pub fn euclidean_silhouette(sample: &[f64], centres: &[f64]) -> f64 {
    let n = sample.len() / D;
    let k = centres.len() / D;
    if n < 2 || k < 2 {
        return 0.0;
    }
    let label: Vec<usize> = sample
        .chunks_exact(D)
        .map(|p| rfmseg_udfs::nearest(centres, D, p).0)
        .collect();
    let mut size = vec![0usize; k];
    for &l in &label {
        size[l] += 1;
    }
    if size.iter().filter(|&&s| s > 0).count() < 2 {
        return 0.0;
    }
    let mut total = 0.0;
    let mut dist_sum = vec![0.0; k];
    for i in 0..n {
        dist_sum.iter_mut().for_each(|d| *d = 0.0);
        let p = &sample[i * D..(i + 1) * D];
        for j in 0..n {
            if i != j {
                let q = &sample[j * D..(j + 1) * D];
                let d: f64 = p.iter().zip(q).map(|(a, b)| (a - b) * (a - b)).sum();
                dist_sum[label[j]] += d.sqrt();
            }
        }
        let own = label[i];
        if size[own] < 2 {
            continue;
        }
        let a = dist_sum[own] / (size[own] - 1) as f64;
        let b = (0..k)
            .filter(|&c| c != own && size[c] > 0)
            .map(|c| dist_sum[c] / size[c] as f64)
            .fold(f64::INFINITY, f64::min);
        let m = a.max(b);
        if m > 0.0 {
            total += (b - a) / m;
        }
    }
    total / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two pairs on a line, at 0, 1 and 10, 11: every a is 1; b is 10.5 for the outer
    /// points and 9.5 for the inner ones.
    #[test]
    fn euclidean_silhouette_of_two_pairs() {
        let pts = [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 10.0, 0.0, 0.0, 11.0, 0.0, 0.0];
        let centres = [0.5, 0.0, 0.0, 10.5, 0.0, 0.0];
        let s = 1.0 - (1.0 / 10.5 + 1.0 / 9.5) / 2.0;
        assert!((euclidean_silhouette(&pts, &centres) - s).abs() < 1e-15);
    }
}

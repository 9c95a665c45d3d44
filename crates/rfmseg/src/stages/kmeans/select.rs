//! Choosing k: fit every k of the range, record WCSS and both silhouettes, find the elbow
//! of the WCSS curve with Kneedle (Satopää et al. 2011), and keep the elbow unless its
//! silhouette is more than `silhouette_tolerance` below the best k's, the reference
//! analysis's reasoning ("the elbow, as long as the clusters stay well separated").

use serde::{Deserialize, Serialize};

use super::fit::KMeansFit;

/// The sweep and the choice, written to k_selection.csv and the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KSelection {
    pub fits: Vec<KMeansFit>,
    pub elbow_k: usize,
    pub best_silhouette_k: usize,
    pub chosen_k: usize,
    /// The choice in words.
    pub reason: String,
}

/// The Kneedle elbow of a decreasing, convex curve: both axes normalised to [0, 1], the
/// point farthest below the straight line from the first point to the last; of points
/// within `tolerance` (in the normalised height) of the farthest, the smallest k. With
/// fewer than three points, or no point below the line, the first k.
///
/// Why the tolerance: on RFM data the curve often bends over two ks almost equally, and
/// which of them is farthest then turns on a fraction of a percent of WCSS, less than the
/// difference between two k-means runs of the same k. Two bends that close cannot be told
/// apart on the elbow plot, and the smaller k is the simpler segmentation to act on.
pub fn kneedle_elbow(ks: &[usize], wcss: &[f64], tolerance: f64) -> usize {
    let n = ks.len();
    if n < 3 {
        return ks.first().copied().unwrap_or(0);
    }
    let (x0, x1) = (ks[0] as f64, ks[n - 1] as f64);
    let ymax = wcss.iter().copied().fold(f64::MIN, f64::max);
    let ymin = wcss.iter().copied().fold(f64::MAX, f64::min);
    if ymax <= ymin || x1 <= x0 {
        return ks[0];
    }
    let below: Vec<f64> = ks
        .iter()
        .zip(wcss)
        .map(|(k, y)| (1.0 - (*k as f64 - x0) / (x1 - x0)) - (y - ymin) / (ymax - ymin))
        .collect();
    let farthest = below.iter().copied().fold(0.0, f64::max);
    if farthest <= 0.0 {
        return ks[0];
    }
    ks.iter()
        .zip(&below)
        .find(|(_, b)| **b > 0.0 && **b >= farthest - tolerance)
        .map_or(ks[0], |(k, _)| *k)
}

/// Picks k from the fits of a sweep: the elbow (within `elbow_tolerance`, see
/// [`kneedle_elbow`]) unless its silhouette is more than `tolerance` below the best.
pub fn choose_k(fits: Vec<KMeansFit>, elbow_tolerance: f64, tolerance: f64) -> KSelection {
    let ks: Vec<usize> = fits.iter().map(|f| f.k).collect();
    let wcss: Vec<f64> = fits.iter().map(|f| f.wcss).collect();
    let elbow_k = kneedle_elbow(&ks, &wcss, elbow_tolerance);
    let sil = |k: usize| {
        fits.iter()
            .find(|f| f.k == k)
            .map_or(f64::NAN, |f| f.silhouette)
    };
    let best = fits
        .iter()
        .max_by(|a, b| a.silhouette.total_cmp(&b.silhouette).then(b.k.cmp(&a.k)))
        .map_or(elbow_k, |f| f.k);
    let (chosen_k, reason) = if sil(elbow_k) >= sil(best) - tolerance {
        (
            elbow_k,
            format!(
                "k = {elbow_k} is the elbow of the WCSS curve (Kneedle) and its silhouette \
                 {:.3} is within {tolerance} of the best ({:.3} at k = {best}), so the elbow is kept",
                sil(elbow_k),
                sil(best)
            ),
        )
    } else {
        (
            best,
            format!(
                "the elbow of the WCSS curve is k = {elbow_k}, but its silhouette {:.3} is more \
                 than {tolerance} below the best ({:.3} at k = {best}), so k = {best} is taken",
                sil(elbow_k),
                sil(best)
            ),
        )
    };
    KSelection {
        fits,
        elbow_k,
        best_silhouette_k: best,
        chosen_k,
        reason,
    }
}

/// k_selection.csv: one line per k.
pub fn to_csv(sel: &KSelection) -> String {
    let mut out = String::from(
        "k,wcss,silhouette,silhouette_euclidean_sample,algorithm,iterations,converged,chosen\n",
    );
    for f in &sel.fits {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{}\n",
            f.k,
            f.wcss,
            f.silhouette,
            f.silhouette_sample,
            f.algorithm,
            f.iterations,
            f.converged,
            f.k == sel.chosen_k
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kneedle_finds_the_bend_of_a_convex_decreasing_curve() {
        // Sharp drop to k = 4, then nearly flat: the elbow is 4.
        let ks = [2, 3, 4, 5, 6, 7, 8];
        let wcss = [1000.0, 600.0, 200.0, 180.0, 165.0, 150.0, 140.0];
        assert_eq!(kneedle_elbow(&ks, &wcss, 0.01), 4);
        // A straight line has no elbow: the first k.
        assert_eq!(kneedle_elbow(&[2, 3, 4], &[3.0, 2.0, 1.0], 0.01), 2);
        assert_eq!(kneedle_elbow(&[2, 3], &[3.0, 1.0], 0.01), 2);
    }

    /// The sweep of the 1M-review generated data (k_selection.csv, rounded): below the
    /// chord k = 3 is 0.3596, k = 4 0.4192, k = 5 0.4257. k = 5 is the farthest by 0.0065;
    /// within a tolerance of 0.01 the smaller k = 4 is the elbow, without it k = 5.
    #[test]
    fn of_two_bends_within_the_tolerance_the_smaller_k_is_the_elbow() {
        let ks = [2, 3, 4, 5, 6, 7, 8, 9, 10];
        let wcss = [
            151454.1, 89436.7, 65816.1, 48987.4, 39134.2, 32904.0, 29602.9, 26510.5, 23489.1,
        ];
        assert_eq!(kneedle_elbow(&ks, &wcss, 0.0), 5);
        assert_eq!(kneedle_elbow(&ks, &wcss, 0.01), 4);
        assert_eq!(kneedle_elbow(&ks, &wcss, 0.005), 5);
    }

    fn fit(k: usize, wcss: f64, silhouette: f64) -> KMeansFit {
        KMeansFit {
            k,
            centroids: vec![],
            sizes: vec![],
            wcss,
            silhouette,
            silhouette_sample: silhouette,
            algorithm: "lloyd".into(),
            iterations: 1,
            converged: true,
        }
    }

    #[test]
    fn the_elbow_is_kept_unless_its_silhouette_is_far_below_the_best() {
        let fits = vec![
            fit(2, 1000.0, 0.60),
            fit(3, 400.0, 0.50),
            fit(4, 350.0, 0.45),
            fit(5, 330.0, 0.40),
        ];
        let sel = choose_k(fits.clone(), 0.01, 0.05);
        assert_eq!(
            (sel.elbow_k, sel.best_silhouette_k, sel.chosen_k),
            (3, 2, 2)
        );
        assert!(sel.reason.contains("k = 2 is taken"), "{}", sel.reason);
        let sel = choose_k(fits, 0.01, 0.2);
        assert_eq!(sel.chosen_k, 3);
        assert!(sel.reason.contains("the elbow is kept"), "{}", sel.reason);
        let csv = to_csv(&sel);
        assert_eq!(csv.lines().count(), 5);
        assert!(csv.lines().nth(2).unwrap().ends_with(",true"));
    }
}

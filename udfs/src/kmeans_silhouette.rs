//! `kmeans_silhouette(centroids, stats, x1, ..., xd)`: the mean silhouette of a k-means
//! clustering with squared Euclidean distance, exact in O(n·k), as Spark ML's
//! `ClusteringEvaluator` computes it (`SquaredEuclideanSilhouette`).
//!
//! ```sql
//! SELECT kmeans_silhouette('0.0,0.0,10.0,0.0', '2.0,1.0,0.0,1.0,...', x, y) FROM features;
//! ```
//!
//! Each row is assigned to its nearest centre ([`crate::nearest`]). `stats` is a string
//! literal of k*(d+2) comma-separated f64: per cluster, in cluster order, its row count n_C,
//! its d coordinate sums Sum_C and its sum of squared norms Ssq_C — exactly what
//! `kmeans_step` returns for the same centroids, regrouped. The mean squared distance from x
//! to the rows of cluster C is
//!
//! D(x, C) = ‖x‖² + Ssq_C/n_C − 2·(x·Sum_C)/n_C = ‖x − μ_C‖² + (Ssq_C/n_C − ‖μ_C‖²),
//!
//! with μ_C = Sum_C/n_C; the second form, used here, is the same number without the
//! cancellation between ‖x‖² and 2·x·Sum_C/n_C when the features are far from the origin.
//! A tiny negative D from rounding is clamped to 0. For x in cluster A:
//! a(x) = D(x, A)·n_A/(n_A − 1) (x itself removed from its cluster, as Spark does),
//! b(x) = min over C ≠ A with n_C > 0 of D(x, C), and s(x) = (b − a)/max(a, b), with
//! s = 0 when n_A = 1 or a = b = 0. The result is Σ s(x) / n over rows without a NULL
//! feature; 0.0 with no rows or fewer than two non-empty clusters.
//!
//! # State
//!
//! The `ExactSums` of every k-means UDAF (see `state_bytes`) with one sum,
//! Σ s(x) in units of 2^-40 (the silhouette values, in [−1, 1], are summed in exact fixed
//! point, see [`crate::exact_sum`]), and one count, the rows scored. Merge rule: integer
//! addition of both, associative and commutative, so any split into partitions and any
//! merge order give the same bits; a partition without rows emits the empty state or
//! (0, 0), the identity.

use std::sync::LazyLock;

use datafusion::arrow::array::ArrayRef;
use datafusion::common::{Result, ScalarValue, exec_datafusion_err};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::Documentation;

use crate::args::Leading;
use crate::centroids::{nearest, parse_centroids, parse_f64_list};
use crate::documentation::{CENTROIDS, kmeans_doc};
use crate::exact_sum::{ExactSums, Shape, Summed, Unsummable};
use crate::kmeans_udaf::{KmeansAggregate, Literals, kmeans_udaf};
use crate::rows::{RowSink, for_each_valid_row};

const NAME: &str = "kmeans_silhouette";

kmeans_udaf!(Silhouette, kmeans_silhouette_udaf);

impl KmeansAggregate for Silhouette {
    const NAME: &'static str = NAME;

    type Model = Clusters;

    fn shape(_clusters: &Clusters, _d: usize) -> Shape {
        Shape { sums: 1, counts: 1 }
    }

    fn update(clusters: &Clusters, sums: &mut ExactSums, features: &[ArrayRef]) -> Result<()> {
        let mut rows = SilhouetteRows { clusters, sums };
        for_each_valid_row(NAME, features, &mut rows)?.map_err(RowError::into_error)
    }

    /// Σ s(x) / n, or 0.0 without rows.
    fn evaluate(sums: &ExactSums) -> ScalarValue {
        let n = sums.counts().first().copied().unwrap_or(0);
        let mean = if n == 0 {
            0.0
        } else {
            sums.value(0) / n as f64
        };
        ScalarValue::Float64(Some(mean))
    }

    // Never NULL: no rows give 0.0 (the default `empty_value`).

    fn documentation() -> &'static Documentation {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            kmeans_doc(
                &Silhouette::ARGS,
                "The mean silhouette of a k-means clustering with squared Euclidean distance, \
                 exact in O(n*k) as Spark ML's ClusteringEvaluator computes it: each row is \
                 scored against its nearest centre's cluster and the nearest other cluster \
                 from per-cluster statistics. 0.0 without rows or with fewer than two \
                 non-empty clusters.",
                &[
                    CENTROIDS,
                    "string literal of k*(d+2) numbers: per cluster, in centre order, its row \
                     count, its d coordinate sums and its sum of squared norms (kmeans_step's \
                     result for the same centroids and rows, regrouped)",
                ],
                "> SELECT kmeans_silhouette('1.0,10.0', '2.0,2.0,4.0,1.0,10.0,100.0', x)\n  \
                 FROM (VALUES (0.0), (2.0), (10.0)) t(x);\n\
                 0.6325",
            )
        });
        &DOC
    }
}

/// The clustering the rows are scored against, parsed once per accumulator.
#[derive(Debug, Default)]
pub(crate) struct Clusters {
    /// k*d, row-major.
    centroids: Vec<f64>,
    /// n_C per cluster.
    counts: Vec<f64>,
    /// μ_C = Sum_C / n_C, k*d row-major (0 for empty clusters).
    means: Vec<f64>,
    /// Ssq_C / n_C − ‖μ_C‖², the mean squared distance of C's rows to μ_C.
    spread: Vec<f64>,
    /// At least two clusters have rows; else every s is 0.
    scorable: bool,
}

impl Literals for Clusters {
    const LEADING: &'static [(&'static str, Leading)] = &[
        ("centroids", Leading::ConstText),
        ("stats", Leading::ConstText),
    ];

    /// Parses the centroids and the stats.
    fn parse(texts: &[&str], d: usize) -> Result<Self, String> {
        let centroids = parse_centroids(texts[0], d)?;
        let k = centroids.len() / d;
        let stats = parse_f64_list("stats", texts[1])?;
        if stats.len() != k * (d + 2) {
            return Err(format!(
                "stats has {} values, expected k*(d+2) = {k}*({d}+2) = {} (per cluster: \
                 count, {d} coordinate sums, sum of squared norms)",
                stats.len(),
                k * (d + 2)
            ));
        }
        let mut counts = Vec::with_capacity(k);
        let mut means = vec![0.0; k * d];
        let mut spread = vec![0.0; k];
        for (c, block) in stats.chunks_exact(d + 2).enumerate() {
            let n = block[0];
            if n < 0.0 {
                return Err(format!("stats: cluster {c} has a negative count {n}"));
            }
            counts.push(n);
            if n > 0.0 {
                let mean = &mut means[c * d..c * d + d];
                let mut mean_sq = 0.0;
                for (m, s) in mean.iter_mut().zip(&block[1..=d]) {
                    *m = s / n;
                    mean_sq += *m * *m;
                }
                spread[c] = block[d + 1] / n - mean_sq;
            }
        }
        let scorable = counts.iter().filter(|n| **n > 0.0).count() >= 2;
        Ok(Self {
            centroids,
            counts,
            means,
            spread,
            scorable,
        })
    }

    fn size(&self) -> usize {
        (self.centroids.capacity()
            + self.counts.capacity()
            + self.means.capacity()
            + self.spread.capacity())
            * 8
    }
}

impl Clusters {
    /// D(x, C), clamped at 0.
    #[inline(always)]
    fn mean_sq_dist(&self, c: usize, x: &[f64]) -> f64 {
        let d = x.len();
        let mean = &self.means[c * d..c * d + d];
        let mut dist = 0.0;
        for (a, m) in x.iter().zip(mean) {
            let t = a - m;
            dist += t * t;
        }
        (dist + self.spread[c]).max(0.0)
    }

    /// s(x), or the index of x's centre when the stats say that centre has no rows.
    #[inline(always)]
    fn silhouette(&self, x: &[f64]) -> Result<f64, RowError> {
        if !self.scorable {
            return Ok(0.0);
        }
        let (own, _) = nearest(&self.centroids, x.len(), x);
        let n_own = self.counts[own];
        if n_own < 1.0 {
            return Err(RowError::EmptyOwnCluster(own));
        }
        if n_own == 1.0 {
            return Ok(0.0);
        }
        let a = self.mean_sq_dist(own, x) * n_own / (n_own - 1.0);
        let mut b = f64::INFINITY;
        for (c, n) in self.counts.iter().enumerate() {
            if c != own && *n > 0.0 {
                b = b.min(self.mean_sq_dist(c, x));
            }
        }
        if a == 0.0 && b == 0.0 {
            return Ok(0.0);
        }
        Ok((b - a) / a.max(b))
    }
}

/// Why a row could not be scored.
enum RowError {
    Unsummable(Unsummable),
    EmptyOwnCluster(usize),
}

impl From<Unsummable> for RowError {
    fn from(e: Unsummable) -> Self {
        Self::Unsummable(e)
    }
}

impl RowError {
    fn into_error(self) -> DataFusionError {
        match self {
            Self::Unsummable(e) => e.into_error(NAME),
            Self::EmptyOwnCluster(c) => exec_datafusion_err!(
                "{NAME}: a row is nearest to centre {c}, whose count in stats is 0; stats \
                 must be kmeans_step's result for the same centroids and rows"
            ),
        }
    }
}

/// The per-row work of `update_batch`: add s(x) and count the row.
struct SilhouetteRows<'a> {
    clusters: &'a Clusters,
    sums: &'a mut ExactSums,
}

impl RowSink for SilhouetteRows<'_> {
    type Error = RowError;

    #[inline(always)]
    fn row(&mut self, _i: usize, x: &[f64]) -> Result<(), RowError> {
        let s = self.clusters.silhouette(x)?;
        self.sums.add(0, Summed::Silhouette, s)?;
        self.sums.count(0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::centroids::format_centroids;
    use crate::kmeans_udaf::{KmeansAccumulator, merge_all};
    use crate::test_data::{XorShift, blobs, columns, cuts, literal, session, shuffled, table};
    use crate::test_plain::{direct_silhouette, stats_text};
    use datafusion::arrow::array::{AsArray, Float64Array};
    use datafusion::logical_expr::Accumulator;
    use std::sync::Arc;

    type KmeansSilhouetteAccumulator = KmeansAccumulator<Silhouette>;

    #[allow(clippy::too_many_arguments)]
    fn update(
        acc: &mut KmeansSilhouetteAccumulator,
        c: &str,
        s: &str,
        points: &[f64],
        d: usize,
        lo: usize,
        hi: usize,
        null_every: usize,
    ) -> Result<()> {
        let mut args = vec![literal(c, hi - lo), literal(s, hi - lo)];
        args.extend(columns(points, d, lo, hi, null_every));
        acc.update_batch(&args)
    }

    fn value(acc: &mut KmeansSilhouetteAccumulator) -> f64 {
        match acc.evaluate() {
            Ok(ScalarValue::Float64(Some(v))) => v,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn silhouette_equals_direct_o_n2_computation() -> Result<()> {
        let mut rng = XorShift::new(42);
        for (n, d, k) in [(200, 2, 3), (150, 3, 4), (60, 1, 2)] {
            let points = blobs(&mut rng, n, d, 3);
            // Centroids: k of the points, so every cluster is non-empty.
            let centroids: Vec<f64> = (0..k)
                .flat_map(|c| points[c * 7 * d..c * 7 * d + d].to_vec())
                .collect();
            let text = format_centroids(&centroids);
            let stats = stats_text(&points, d, &centroids, 0);
            let mut acc = KmeansSilhouetteAccumulator::default();
            update(&mut acc, &text, &stats, &points, d, 0, n, 0)?;
            let got = value(&mut acc);
            let want = direct_silhouette(&points, d, &centroids);
            assert!(
                (got - want).abs() < 1e-9,
                "n {n}, d {d}, k {k}: {got} vs direct {want}"
            );
            assert!(want.abs() > 0.05, "a meaningful clustering");
        }
        Ok(())
    }

    #[test]
    fn tiny_silhouette_by_hand() -> Result<()> {
        // Clusters {0, 2} around centre 1 and {10} around centre 10 (1-D).
        // Row 0: a = 4, b = 100 → 0.96. Row 2: a = 4, b = 64 → 0.9375. Row 10: singleton → 0.
        let xs: ArrayRef = Arc::new(Float64Array::from(vec![0.0, 2.0, 10.0]));
        let mut acc = KmeansSilhouetteAccumulator::default();
        acc.update_batch(&[
            literal("1.0,10.0", 3),
            literal("2.0,2.0,4.0,1.0,10.0,100.0", 3),
            xs,
        ])?;
        let want = (0.96 + 0.9375 + 0.0) / 3.0;
        assert!((value(&mut acc) - want).abs() < 1e-12);
        Ok(())
    }

    #[test]
    fn merge_of_any_split_equals_single_pass() -> Result<()> {
        let mut rng = XorShift::new(8);
        let (n, d, k) = (1500, 3, 4);
        let points = blobs(&mut rng, n, d, 4);
        let centroids: Vec<f64> = (0..k)
            .flat_map(|c| points[c * 11 * d..c * 11 * d + d].to_vec())
            .collect();
        let text = format_centroids(&centroids);
        let stats = stats_text(&points, d, &centroids, 6);
        let mut single = KmeansSilhouetteAccumulator::default();
        update(&mut single, &text, &stats, &points, d, 0, n, 6)?;
        let want = value(&mut single);
        for trial in 0..20 {
            let parts = 1 + rng.below(16);
            let cuts = cuts(&mut rng, n, parts);
            let mut accs: Vec<_> = (0..parts)
                .map(|_| KmeansSilhouetteAccumulator::default())
                .collect();
            for p in 0..parts {
                update(
                    &mut accs[p],
                    &text,
                    &stats,
                    &points,
                    d,
                    cuts[p],
                    cuts[p + 1],
                    6,
                )?;
            }
            let order = shuffled(&mut rng, parts);
            let got = value(&mut merge_all(&mut accs, &order)?);
            assert_eq!(
                got.to_bits(),
                want.to_bits(),
                "trial {trial}, {parts} partitions"
            );
        }
        Ok(())
    }

    #[test]
    fn empty_partition_is_merge_identity() -> Result<()> {
        let xs: ArrayRef = Arc::new(Float64Array::from(vec![0.0, 2.0, 10.0]));
        let mut full = KmeansSilhouetteAccumulator::default();
        full.update_batch(&[
            literal("1.0,10.0", 3),
            literal("2.0,2.0,4.0,1.0,10.0,100.0", 3),
            xs,
        ])?;
        let want = value(&mut full);
        let mut never = KmeansSilhouetteAccumulator::default();
        assert_eq!(value(&mut never), 0.0);
        let mut zero_rows = KmeansSilhouetteAccumulator::default();
        update(
            &mut zero_rows,
            "1.0,10.0",
            "2.0,2.0,4.0,1.0,10.0,100.0",
            &[],
            1,
            0,
            0,
            0,
        )?;
        let mut accs = [never, full, zero_rows];
        for order in [[0, 1, 2], [2, 1, 0], [1, 0, 2]] {
            assert_eq!(
                value(&mut merge_all(&mut accs, &order)?).to_bits(),
                want.to_bits()
            );
        }
        Ok(())
    }

    #[test]
    fn fewer_than_two_clusters_score_zero() -> Result<()> {
        let xs: ArrayRef = Arc::new(Float64Array::from(vec![0.0, 2.0]));
        let mut acc = KmeansSilhouetteAccumulator::default();
        acc.update_batch(&[
            literal("1.0,10.0", 2),
            literal("2.0,2.0,4.0,0.0,0.0,0.0", 2),
            xs,
        ])?;
        assert_eq!(value(&mut acc), 0.0);
        Ok(())
    }

    #[test]
    fn wrong_stats_length_is_an_error() {
        let xs: ArrayRef = Arc::new(Float64Array::from(vec![0.0]));
        let err = KmeansSilhouetteAccumulator::default()
            .update_batch(&[
                literal("1.0,10.0", 1),
                literal("2.0,2.0,4.0,1.0,10.0", 1),
                xs.clone(),
            ])
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("kmeans_silhouette: stats has 5 values, expected k*(d+2) = 2*(1+2) = 6"),
            "{err}"
        );
        let err = KmeansSilhouetteAccumulator::default()
            .update_batch(&[literal("1.0,10.0,3.0", 1), literal("", 1), xs.clone()])
            .unwrap_err();
        assert!(err.to_string().contains("stats has 0 values"), "{err}");
        // A row whose centre has no rows in stats: stats from other centroids.
        let err = KmeansSilhouetteAccumulator::default()
            .update_batch(&[
                literal("1.0,10.0,20.0", 1),
                literal("0.0,0.0,0.0,1.0,10.0,100.0,1.0,20.0,400.0", 1),
                xs,
            ])
            .unwrap_err();
        assert!(err.to_string().contains("count in stats is 0"), "{err}");
    }

    #[test]
    fn wrong_centroid_length_is_an_error() {
        let xs: ArrayRef = Arc::new(Float64Array::from(vec![0.0]));
        let ys: ArrayRef = Arc::new(Float64Array::from(vec![0.0]));
        let err = KmeansSilhouetteAccumulator::default()
            .update_batch(&[literal("1.0,10.0,3.0", 1), literal("", 1), xs, ys])
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("kmeans_silhouette: centroids has 3 values, not a multiple of d = 2"),
            "{err}"
        );
    }

    #[test]
    fn non_constant_stats_are_an_error() {
        let xs: ArrayRef = Arc::new(Float64Array::from(vec![0.0, 2.0]));
        let stats: ArrayRef = Arc::new(datafusion::arrow::array::StringViewArray::from(vec![
            "2.0,2.0,4.0,1.0,10.0,100.0",
            "2.0,2.0,4.0,1.0,10.0,101.0",
        ]));
        let err = KmeansSilhouetteAccumulator::default()
            .update_batch(&[literal("1.0,10.0", 2), stats, xs])
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("stats must be one constant literal"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn sql_silhouette_is_the_same_for_any_partitioning() -> Result<()> {
        use datafusion::arrow::datatypes::Float64Type;

        let mut rng = XorShift::new(1234);
        let (n, d) = (1200, 2);
        let points = blobs(&mut rng, n, d, 3);
        let centroids: Vec<f64> = (0..3)
            .flat_map(|c| points[c * 5 * d..c * 5 * d + d].to_vec())
            .collect();
        let text = format_centroids(&centroids);
        let stats = stats_text(&points, d, &centroids, 10);
        let t = Arc::new(table(&points, d, &[0, 300, 301, 900, n], 10)?);
        let mut got = Vec::new();
        for target in [4, 1] {
            let ctx = session(target);
            ctx.register_table("t", t.clone())?;
            let sql = format!("SELECT kmeans_silhouette('{text}', '{stats}', x1, x2) FROM t");
            let batches = ctx.sql(&sql).await?.collect().await?;
            got.push(batches[0].column(0).as_primitive::<Float64Type>().value(0));
        }
        assert_eq!(got[0].to_bits(), got[1].to_bits());
        let mut acc = KmeansSilhouetteAccumulator::default();
        update(&mut acc, &text, &stats, &points, d, 0, n, 10)?;
        assert_eq!(got[0].to_bits(), value(&mut acc).to_bits());
        Ok(())
    }
}

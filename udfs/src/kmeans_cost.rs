//! `kmeans_cost(centroids, x1, ..., xd)`: the k-means cost (within-cluster sum of squares,
//! WCSS) of fixed centroids, Σ over rows of min_c ‖x − c‖², for the elbow curve.
//!
//! ```sql
//! SELECT kmeans_cost('0.0,0.0,10.0,0.0', x, y) FROM features;   -- e.g. 29.0
//! ```
//!
//! `centroids` is a string literal of k*d comma-separated f64, row-major
//! ([`crate::format_centroids`]); d is the number of trailing Float64 feature columns. Rows
//! with a NULL feature are skipped; no row gives 0.0. The distance of a row is that of
//! [`crate::nearest`], so the cost equals the last value of `kmeans_step` for the same
//! centroids, bit for bit.
//!
//! # State
//!
//! The `ExactSums` of every k-means UDAF (see `state_bytes`) with one sum,
//! Σ min_c ‖x − c‖² in units of 2^-40, and no count. Merge rule: integer addition of the
//! exact fixed-point sums (see [`crate::exact_sum`]), associative and commutative, so any
//! split into partitions and any merge order give the same bits. A partition without rows
//! emits the empty state or 0 (an empty binary is accepted too): the identity.

use std::sync::LazyLock;

use datafusion::arrow::array::ArrayRef;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::Documentation;

use crate::documentation::{CENTROIDS, kmeans_doc};
use crate::exact_sum::{ExactSums, Shape, Summed, Unsummable};
use crate::kmeans_udaf::{KmeansAggregate, kmeans_udaf};
use crate::rows::{Nearest, NearestSink, for_each_valid_row};

const NAME: &str = "kmeans_cost";

kmeans_udaf!(Cost, kmeans_cost_udaf);

impl KmeansAggregate for Cost {
    const NAME: &'static str = NAME;

    /// The centroids, k*d row-major.
    type Model = Vec<f64>;

    fn shape(_centroids: &Self::Model, _d: usize) -> Shape {
        Shape { sums: 1, counts: 0 }
    }

    fn update(centroids: &Self::Model, sums: &mut ExactSums, features: &[ArrayRef]) -> Result<()> {
        let mut rows = Nearest::new(centroids, CostRows { sums });
        for_each_valid_row(NAME, features, &mut rows)?.map_err(|e| e.into_error(NAME))
    }

    fn evaluate(sums: &ExactSums) -> ScalarValue {
        ScalarValue::Float64(Some(sums.shape().map_or(0.0, |_| sums.value(0))))
    }

    // Never NULL: no rows cost 0.0 (the default `empty_value`).

    fn documentation() -> &'static Documentation {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            kmeans_doc(
                &Cost::ARGS,
                "The k-means cost (within-cluster sum of squares, WCSS) of fixed centroids: \
                 the sum over the rows of the squared Euclidean distance to the nearest \
                 centre, for the elbow curve. Exact (fixed point at 2^-40) and equal, bit for \
                 bit, to the last value of kmeans_step for the same centroids; 0.0 without \
                 rows.",
                &[CENTROIDS],
                "> SELECT kmeans_cost('0.0,0.0,10.0,0.0', x, y)\n  \
                 FROM (VALUES (1.0, 1.0), (-1.0, 0.0), (9.0, 0.0), (5.0, 0.0)) t(x, y);\n\
                 29.0",
            )
        });
        &DOC
    }
}

/// The per-row work of `update_batch`: add the squared distance to the nearest centre.
struct CostRows<'a> {
    sums: &'a mut ExactSums,
}

impl NearestSink for CostRows<'_> {
    type Error = Unsummable;

    #[inline(always)]
    fn row(&mut self, _i: usize, x: &[f64], _best: usize, dist: f64) -> Result<(), Unsummable> {
        let d = x.len();
        self.sums.add(0, Summed::SquaredDistance { d }, dist)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::centroids::format_centroids;
    use crate::kmeans_udaf::{KmeansAccumulator, merge_all};
    use crate::test_data::{XorShift, blobs, columns, cuts, literal, session, shuffled, table};
    use crate::test_plain::plain_cost;
    use datafusion::arrow::array::{AsArray, Float64Array};
    use datafusion::logical_expr::Accumulator;
    use std::sync::Arc;

    type KmeansCostAccumulator = KmeansAccumulator<Cost>;

    fn update(
        acc: &mut KmeansCostAccumulator,
        text: &str,
        points: &[f64],
        d: usize,
        lo: usize,
        hi: usize,
    ) -> Result<()> {
        let mut args = vec![literal(text, hi - lo)];
        args.extend(columns(points, d, lo, hi, 9));
        acc.update_batch(&args)
    }

    fn value(acc: &mut KmeansCostAccumulator) -> f64 {
        match acc.evaluate() {
            Ok(ScalarValue::Float64(Some(v))) => v,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn merge_of_any_split_equals_single_pass() -> Result<()> {
        let mut rng = XorShift::new(3);
        let (n, d, k) = (2500, 2, 4);
        let points = blobs(&mut rng, n, d, 3);
        let text = format_centroids(
            &(0..k * d)
                .map(|_| rng.uniform() * 20.0 - 10.0)
                .collect::<Vec<_>>(),
        );
        let mut single = KmeansCostAccumulator::default();
        update(&mut single, &text, &points, d, 0, n)?;
        let want = value(&mut single);
        for trial in 0..20 {
            let parts = 1 + rng.below(16);
            let cuts = cuts(&mut rng, n, parts);
            let mut accs: Vec<_> = (0..parts)
                .map(|_| KmeansCostAccumulator::default())
                .collect();
            for p in 0..parts {
                update(&mut accs[p], &text, &points, d, cuts[p], cuts[p + 1])?;
            }
            let order = shuffled(&mut rng, parts);
            let got = value(&mut merge_all(&mut accs, &order)?);
            assert_eq!(
                got.to_bits(),
                want.to_bits(),
                "trial {trial}, {parts} partitions"
            );
        }
        // And the plain f64 cost agrees to the fixed-point resolution.
        let centroids = crate::parse_centroids(&text, d).expect("valid");
        let plain = plain_cost(&points, d, &centroids, 9);
        assert!((want - plain).abs() <= 1e-9 * plain, "{want} vs {plain}");
        Ok(())
    }

    #[test]
    fn empty_partition_is_merge_identity() -> Result<()> {
        let mut full = KmeansCostAccumulator::default();
        let xs: ArrayRef = Arc::new(Float64Array::from(vec![Some(1.0), None, Some(12.0)]));
        let ys: ArrayRef = Arc::new(Float64Array::from(vec![Some(1.0), Some(3.0), Some(0.0)]));
        full.update_batch(&[literal("0.0,0.0,10.0,0.0", 3), xs, ys])?;
        // (1,1) → 2 from centre 0; (12,0) → 4 from centre 1; the NULL row is skipped.
        assert_eq!(value(&mut full), 6.0);
        let mut never = KmeansCostAccumulator::default();
        assert_eq!(value(&mut never), 0.0);
        let mut zero_rows = KmeansCostAccumulator::default();
        update(&mut zero_rows, "0.0,0.0", &[], 2, 0, 0)?;
        let mut accs = [never, full, zero_rows];
        for order in [[0, 1, 2], [1, 2, 0], [2, 0, 1]] {
            assert_eq!(value(&mut merge_all(&mut accs, &order)?), 6.0);
        }
        // An empty binary state is accepted as the identity too.
        let mut fin = KmeansCostAccumulator::default();
        fin.merge_batch(&[ScalarValue::Binary(Some(vec![])).to_array()?])?;
        assert_eq!(value(&mut fin), 0.0);
        Ok(())
    }

    #[test]
    fn wrong_centroid_length_is_an_error() {
        let mut acc = KmeansCostAccumulator::default();
        let err = update(&mut acc, "1,2,3", &[0.0; 4], 2, 0, 2).unwrap_err();
        assert!(
            err.to_string()
                .contains("kmeans_cost: centroids has 3 values, not a multiple of d = 2"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn sql_cost_equals_step_cost_for_any_partitioning() -> Result<()> {
        use datafusion::arrow::datatypes::Float64Type;

        let mut rng = XorShift::new(77);
        let (n, d) = (3000, 2);
        let points = blobs(&mut rng, n, d, 3);
        let t = Arc::new(table(&points, d, &[0, 1000, 1001, 2500, n], 9)?);
        let text = "-5.0,5.0,0.0,0.0,7.5,-2.0";
        let mut got = Vec::new();
        for target in [3, 1] {
            let ctx = session(target);
            ctx.register_table("t", t.clone())?;
            let sql = format!(
                "SELECT kmeans_cost('{text}', x1, x2), kmeans_step('{text}', x1, x2) FROM t"
            );
            let batches = ctx.sql(&sql).await?.collect().await?;
            let cost = batches[0].column(0).as_primitive::<Float64Type>().value(0);
            let step = batches[0].column(1).as_list::<i32>().value(0);
            let step_cost = *step
                .as_primitive::<Float64Type>()
                .values()
                .last()
                .expect("non-empty");
            assert_eq!(cost.to_bits(), step_cost.to_bits());
            got.push(cost);
            // No rows: 0.0.
            let empty = ctx
                .sql(&format!(
                    "SELECT kmeans_cost('{text}', x1, x2) FROM t WHERE x1 > 1e300"
                ))
                .await?
                .collect()
                .await?;
            assert_eq!(
                empty[0].column(0).as_primitive::<Float64Type>().value(0),
                0.0
            );
        }
        assert_eq!(got[0].to_bits(), got[1].to_bits());
        Ok(())
    }
}

//! `kmeans_step(centroids, x1, ..., xd)`: one Lloyd iteration of k-means (Lloyd 1982) as
//! one aggregate pass: for every row the nearest centre, then per centre the sum of its
//! rows, their count and the sum of their squared norms, and the total cost.
//!
//! ```sql
//! SELECT kmeans_step('0.0,0.0,10.0,10.0', x, y) FROM features;
//! -- [sum_x(c0), sum_y(c0), sum_x(c1), sum_y(c1), n(c0), n(c1), ssq(c0), ssq(c1), cost]
//! ```
//!
//! `centroids` is a string literal of k*d comma-separated f64, row-major, each written
//! with `{:?}` ([`crate::format_centroids`]); d is the number of trailing Float64 feature
//! columns. Rows with a NULL feature are skipped. The nearest centre is the one with the
//! smallest squared Euclidean distance ([`crate::nearest`]: f64, natural order, ties to
//! the lowest index).
//!
//! The result is a `List<Float64>` of k*d + 2k + 1 values:
//!
//! | positions | meaning |
//! |---|---|
//! | [0, k*d) | per-centre coordinate sums of the rows nearest to it, row-major |
//! | [k*d, k*d+k) | per-centre row counts (exact as f64) |
//! | [k*d+k, k*d+2k) | per-centre sums of squared norms ‖x‖² |
//! | k*d+2k | the cost Σ min_c ‖x − c‖² (WCSS) |
//!
//! A query that saw no row returns k*d + 2k + 1 zeros if any partition parsed the
//! centroids, else NULL (the driver reads NULL as "no rows").
//!
//! # State
//!
//! The `ExactSums` of every k-means UDAF (one versioned `Binary` field, see
//! `state_bytes`; sums in units of 2^-40, see [`crate::exact_sum`]), of shape
//! k*d + k + 1 sums and k counts:
//!
//! | sums | meaning |
//! |---|---|
//! | [0, k*d) | per-centre coordinate sums, row-major |
//! | [k*d, k*d+k) | per-centre sums of ‖x‖² |
//! | k*d+k | Σ min_c ‖x − c‖² |
//!
//! and the counts are the per-centre row counts. Merge rule: element-wise integer
//! addition, associative and commutative, so any split into partitions and any merge order
//! give the same bits; an empty state (no rows, or k unknown) is the identity, and an
//! accumulator that has not learned k adopts the shape of the first non-empty state.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{ArrayRef, Float64Array};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::Documentation;

use crate::centroids::squared_norm;
use crate::documentation::{CENTROIDS, kmeans_doc};
use crate::exact_sum::{ExactSums, Lanes, Shape, Summed, Unsummable};
use crate::kmeans_udaf::{KmeansAggregate, kmeans_udaf};
use crate::rows::{Nearest, NearestSink, for_each_valid_row};

const NAME: &str = "kmeans_step";

kmeans_udaf!(Step, kmeans_step_udaf);

/// `List(Float64)` with nullable items, the type `evaluate` returns.
fn list_of_f64() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true)))
}

impl KmeansAggregate for Step {
    const NAME: &'static str = NAME;

    /// The centroids, k*d row-major.
    type Model = Vec<f64>;

    fn shape(centroids: &Self::Model, d: usize) -> Shape {
        let k = centroids.len() / d;
        Shape {
            sums: k * d + k + 1,
            counts: k,
        }
    }

    fn update(centroids: &Self::Model, sums: &mut ExactSums, features: &[ArrayRef]) -> Result<()> {
        let (kd, d) = (centroids.len(), features.len());
        let k = kd / d;
        let kinds = std::iter::repeat_n(Summed::Coordinate, kd)
            .chain(std::iter::repeat_n(Summed::SquaredNorm { d }, k))
            .chain([Summed::SquaredDistance { d }])
            .collect();
        // The sink is owned, not borrowed: behind a second reference the lanes' buffer
        // address was reloaded after every add (the compiler cannot tell that the adds do
        // not overwrite it).
        let mut rows = Nearest::new(
            centroids,
            StepRows {
                sq_norms: kd,
                cost: kd + k,
                sums,
                lanes: Lanes::new(kinds),
            },
        );
        for_each_valid_row(NAME, features, &mut rows)?
            .and_then(|()| {
                let rows = rows.sink();
                rows.lanes.flush(rows.sums)
            })
            .map_err(|e| e.into_error(NAME))
    }

    fn return_type() -> DataType {
        list_of_f64()
    }

    /// NULL while no partition read the centroids.
    fn empty_value() -> Option<ScalarValue> {
        None
    }

    /// The result list (see the module docs), or NULL while k is unknown.
    fn evaluate(sums: &ExactSums) -> ScalarValue {
        let Some(shape) = sums.shape() else {
            return ScalarValue::new_null_list(DataType::Float64, true, 1);
        };
        let (k, cost) = (shape.counts, shape.sums - 1);
        let mut out = Vec::with_capacity(shape.sums + k);
        out.extend((0..cost - k).map(|i| sums.value(i)));
        out.extend(sums.counts().iter().map(|n| *n as f64));
        out.extend((cost - k..=cost).map(|i| sums.value(i)));
        let values: ArrayRef = Arc::new(Float64Array::from(out));
        SingleRowListArrayBuilder::new(values).build_list_scalar()
    }

    fn documentation() -> &'static Documentation {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            kmeans_doc(
                &Step::ARGS,
                "One Lloyd iteration of k-means in one aggregate pass. Each row goes to its \
                 nearest centre (squared Euclidean distance, ties to the lowest index); the \
                 result is a list of k*d + 2k + 1 Float64: the per-centre coordinate sums \
                 (row-major), the per-centre row counts, the per-centre sums of squared norms, \
                 then the total cost (WCSS). The sums are exact (fixed point at 2^-40), so any \
                 partitioning gives the same bits; zeros without rows, NULL if no partition \
                 read the centroids.",
                &[CENTROIDS],
                "> SELECT kmeans_step('0.0,0.0,10.0,0.0', x, y)\n  \
                 FROM (VALUES (1.0, 1.0), (-1.0, 0.0), (9.0, 0.0), (5.0, 0.0)) t(x, y);\n\
                 [5.0, 1.0, 9.0, 0.0, 3.0, 1.0, 28.0, 81.0, 29.0]",
            )
        });
        &DOC
    }
}

/// The per-row work of `update_batch`: nearest centre, then add the row to its sums.
struct StepRows<'a> {
    /// Where the sums of squared norms start (k*d) and where the cost is (k*d + k).
    sq_norms: usize,
    cost: usize,
    sums: &'a mut ExactSums,
    /// A row adds to d + 2 distinct sums, each once: the lanes' contract.
    lanes: Lanes,
}

impl NearestSink for StepRows<'_> {
    type Error = Unsummable;

    /// Adds row `x` to the sums of its nearest centre and to the cost.
    #[inline(always)]
    fn row(&mut self, _i: usize, x: &[f64], best: usize, dist: f64) -> Result<(), Unsummable> {
        let d = x.len();
        let (lanes, sums) = (&mut self.lanes, &mut *self.sums);
        lanes.add_all(sums, best * d, Summed::Coordinate, x)?;
        lanes.add(
            sums,
            self.sq_norms + best,
            Summed::SquaredNorm { d },
            squared_norm(x),
        )?;
        sums.count(best);
        lanes.add(sums, self.cost, Summed::SquaredDistance { d }, dist)?;
        lanes.end_row(sums)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::centroids::{format_centroids, nearest};
    use crate::exact_sum::FRAC_BITS;
    use crate::kmeans_udaf::{KmeansAccumulator, merge_all};
    use crate::test_data::{
        XorShift, blobs, columns, cuts, explain, is_null_row, literal, session, shuffled, table,
    };
    use crate::test_plain::{assert_close, plain_lloyd_step};
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::Float64Type;
    use datafusion::logical_expr::Accumulator;

    type KmeansStepAccumulator = KmeansAccumulator<Step>;

    fn new_acc() -> KmeansStepAccumulator {
        KmeansStepAccumulator::default()
    }

    fn update(
        acc: &mut KmeansStepAccumulator,
        text: &str,
        points: &[f64],
        d: usize,
        lo: usize,
        hi: usize,
        null_every: usize,
    ) -> Result<()> {
        let mut args = vec![literal(text, hi - lo)];
        args.extend(columns(points, d, lo, hi, null_every));
        acc.update_batch(&args)
    }

    fn result_values(v: &ScalarValue) -> Option<Vec<f64>> {
        match v {
            ScalarValue::List(list) if !list.is_null(0) => {
                let inner = list.value(0);
                Some(inner.as_primitive::<Float64Type>().values().to_vec())
            }
            _ => None,
        }
    }

    fn bits(v: &[f64]) -> Vec<u64> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// An update past the i128 range is an error, as a merge past it is: debug builds would
    /// panic and release builds wrap silently with an unchecked `+=`.
    #[test]
    fn an_update_that_overflows_the_exact_sums_is_an_error() -> Result<()> {
        let text = format_centroids(&[0.0, 0.0]);
        let mut acc = new_acc();
        update(&mut acc, &text, &[1.0, 1.0], 2, 0, 1, 0)?;
        let before = acc.sums.sums().to_vec();
        acc.sums.sums_mut()[0] = i128::MAX - 1;
        let err = update(&mut acc, &text, &[1.0, 1.0], 2, 0, 1, 0)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("kmeans_step: adding coordinate 1.0 overflows the exact sum"),
            "{err}"
        );
        assert_eq!(acc.sums.sums()[0], i128::MAX - 1, "not wrapped");
        assert_eq!(before[0], 1i128 << FRAC_BITS);
        Ok(())
    }

    #[test]
    fn merge_of_any_split_equals_single_pass() -> Result<()> {
        let mut rng = XorShift::new(11);
        let (n, d, k) = (3000, 3, 5);
        let points = blobs(&mut rng, n, d, 4);
        let centroids: Vec<f64> = (0..k * d).map(|_| rng.uniform() * 30.0 - 15.0).collect();
        let text = format_centroids(&centroids);

        let mut single = new_acc();
        update(&mut single, &text, &points, d, 0, n, 7)?;
        let want = result_values(&single.evaluate()?).expect("rows seen");

        for trial in 0..20 {
            let parts = 1 + rng.below(16);
            // Random cut points, possibly equal (empty partitions).
            let cuts = cuts(&mut rng, n, parts);
            let mut accs: Vec<KmeansStepAccumulator> = (0..parts).map(|_| new_acc()).collect();
            for p in 0..parts {
                let (lo, hi) = (cuts[p], cuts[p + 1]);
                // Several batches per partition.
                let mid = lo + (hi - lo) / 3;
                update(&mut accs[p], &text, &points, d, lo, mid, 7)?;
                update(&mut accs[p], &text, &points, d, mid, hi, 7)?;
            }
            let order = shuffled(&mut rng, parts);
            let got = result_values(&merge_all(&mut accs, &order)?.evaluate()?).expect("rows seen");
            assert_eq!(bits(&got), bits(&want), "trial {trial}, {parts} partitions");
        }
        Ok(())
    }

    #[test]
    fn empty_partition_is_merge_identity() -> Result<()> {
        let mut rng = XorShift::new(5);
        let d = 2;
        let points = blobs(&mut rng, 200, d, 3);
        let text = "0.0,0.0,5.0,5.0,-5.0,2.5";
        let mut full = new_acc();
        update(&mut full, text, &points, d, 0, 200, 0)?;
        let want = full.sums.clone();

        // No batch at all (k unknown), a batch of zero rows, and only NULL rows.
        let mut never = new_acc();
        assert_eq!(
            never.evaluate()?,
            ScalarValue::new_null_list(DataType::Float64, true, 1)
        );
        let mut zero_rows = new_acc();
        update(&mut zero_rows, text, &points, d, 0, 0, 0)?;
        let mut all_null = new_acc();
        update(&mut all_null, text, &points, d, 0, 1, 1)?;
        assert_eq!(
            result_values(&all_null.evaluate()?),
            Some(vec![0.0; 3 * d + 2 * 3 + 1]),
            "k known, no rows: zeros"
        );

        let mut accs = vec![never, full, zero_rows, all_null];
        for order in [[0, 1, 2, 3], [1, 0, 3, 2], [2, 3, 0, 1], [3, 2, 1, 0]] {
            let merged = merge_all(&mut accs, &order)?;
            assert_eq!(merged.sums, want, "order {order:?}");
        }
        // Merging only empties: still no rows.
        let mut empties = vec![new_acc(), new_acc()];
        let mut merged = merge_all(&mut empties, &[0, 1])?;
        assert_eq!(
            merged.evaluate()?,
            ScalarValue::new_null_list(DataType::Float64, true, 1)
        );
        Ok(())
    }

    #[test]
    fn one_step_equals_a_plain_rust_lloyd_step() -> Result<()> {
        let mut rng = XorShift::new(99);
        let (n, d, k) = (5000, 4, 6);
        let points = blobs(&mut rng, n, d, 5);
        let centroids: Vec<f64> = (0..k * d).map(|_| rng.uniform() * 30.0 - 15.0).collect();
        let null_every = 13;

        let want = plain_lloyd_step(&points, d, &centroids, null_every);
        let counts = want[k * d..k * d + k].to_vec();

        let mut acc = new_acc();
        update(
            &mut acc,
            &format_centroids(&centroids),
            &points,
            d,
            0,
            n / 2,
            null_every,
        )?;
        update(
            &mut acc,
            &format_centroids(&centroids),
            &points,
            d,
            n / 2,
            n,
            null_every,
        )?;
        let got = result_values(&acc.evaluate()?).expect("rows seen");
        assert_eq!(got.len(), k * d + 2 * k + 1);
        assert!(
            counts.iter().filter(|c| **c > 0.0).count() >= 3,
            "test data uses several centres"
        );
        assert_close(&got, &want);
        // Counts are exact.
        assert_eq!(&got[k * d..k * d + k], counts.as_slice());
        Ok(())
    }

    #[test]
    fn exact_values_on_a_tiny_example() -> Result<()> {
        // Centres (0,0) and (10,0); rows (1,1), (-1,0), (9,0), (5,0) (a tie: goes to 0).
        // All values are small integers or halves, so every step is exact in f64.
        let mut acc = new_acc();
        let xs: ArrayRef = Arc::new(Float64Array::from(vec![1.0, -1.0, 9.0, 5.0]));
        let ys: ArrayRef = Arc::new(Float64Array::from(vec![1.0, 0.0, 0.0, 0.0]));
        acc.update_batch(&[literal("0.0,0.0,10.0,0.0", 4), xs, ys])?;
        let got = result_values(&acc.evaluate()?).expect("rows seen");
        assert_eq!(
            got,
            vec![
                5.0,
                1.0,
                9.0,
                0.0,
                3.0,
                1.0,
                2.0 + 1.0 + 25.0,
                81.0,
                2.0 + 1.0 + 1.0 + 25.0
            ]
        );
        assert_eq!(nearest(&[0.0, 0.0, 10.0, 0.0], 2, &[5.0, 0.0]), (0, 25.0));
        Ok(())
    }

    #[test]
    fn wrong_centroid_length_is_an_error() {
        let mut acc = new_acc();
        let points = [0.0; 9];
        let err = update(&mut acc, "1,2,3,4,5,6,7", &points, 3, 0, 3, 0).unwrap_err();
        assert!(
            err.to_string()
                .contains("kmeans_step: centroids has 7 values, not a multiple of d = 3"),
            "{err}"
        );
        let err = update(&mut new_acc(), "", &points, 3, 0, 3, 0).unwrap_err();
        assert!(
            err.to_string().contains("kmeans_step: centroids is empty"),
            "{err}"
        );
        let err = update(&mut new_acc(), "1,2,zz", &points, 3, 0, 3, 0).unwrap_err();
        assert!(err.to_string().contains("not a number"), "{err}");
    }

    #[test]
    fn non_constant_centroids_are_an_error() {
        let xs: ArrayRef = Arc::new(Float64Array::from(vec![1.0, 2.0]));
        let texts: ArrayRef = Arc::new(datafusion::arrow::array::StringViewArray::from(vec![
            "0.0,1.0", "0.0,2.0",
        ]));
        let err = new_acc().update_batch(&[texts, xs.clone()]).unwrap_err();
        assert!(err.to_string().contains("one constant literal"), "{err}");

        // The same text in every row of a batch, but another text in the next batch.
        let mut acc = new_acc();
        acc.update_batch(&[literal("0.0,1.0", 2), xs.clone()])
            .expect("first batch");
        let err = acc.update_batch(&[literal("0.0,3.0", 2), xs]).unwrap_err();
        assert!(err.to_string().contains("one constant literal"), "{err}");
    }

    #[test]
    fn out_of_range_values_are_errors_not_wrapped() {
        let xs: ArrayRef = Arc::new(Float64Array::from(vec![1.0, 1e16]));
        let err = new_acc()
            .update_batch(&[literal("0.0", 2), xs])
            .unwrap_err();
        assert!(
            err.to_string().contains("kmeans_step: coordinate 1e16"),
            "{err}"
        );
        let xs: ArrayRef = Arc::new(Float64Array::from(vec![f64::NAN]));
        assert!(new_acc().update_batch(&[literal("0.0", 1), xs]).is_err());
        // Large but in range: exact through the wide path.
        let xs: ArrayRef = Arc::new(Float64Array::from(vec![3e7, 3e7]));
        let mut acc = new_acc();
        acc.update_batch(&[literal("0.0", 2), xs])
            .expect("in range");
        let got = result_values(&acc.evaluate().expect("evaluates")).expect("rows");
        assert_eq!(got, vec![6e7, 2.0, 1.8e15, 1.8e15]);
    }

    /// Features past the range limit of the fixed-point sums (2^26/√d, about 3.9e7 at
    /// d = 3): the squared norm leaves the exact range and the error names the limit.
    #[test]
    fn a_row_past_the_feature_range_limit_is_an_error_naming_it() {
        let row = |v: f64| -> Vec<ArrayRef> {
            let mut args = vec![literal("0.0,0.0,0.0", 1)];
            args.extend((0..3).map(|_| Arc::new(Float64Array::from(vec![v])) as ArrayRef));
            args
        };
        let err = new_acc().update_batch(&row(4e7)).unwrap_err().to_string();
        assert!(
            err.contains("kmeans_step: squared norm 4800000000000000.0 cannot be summed exactly")
                && err.contains("the feature range limit")
                && err.contains("every |x_j| must stay below 2^26/√d ≈ 3.9e7"),
            "{err}"
        );
        // Just inside the limit: summed exactly.
        let mut acc = new_acc();
        acc.update_batch(&row(3.8e7)).expect("in range");
        let got = result_values(&acc.evaluate().expect("evaluates")).expect("rows");
        assert_eq!(got[..4], [3.8e7, 3.8e7, 3.8e7, 1.0]);
        assert_eq!(got[4], 3.0 * 3.8e7 * 3.8e7);
    }

    #[test]
    fn mismatched_shapes_do_not_merge() -> Result<()> {
        let xs: ArrayRef = Arc::new(Float64Array::from(vec![1.0]));
        let mut a = new_acc();
        a.update_batch(&[literal("0.0,1.0", 1), xs.clone()])?;
        let mut b = new_acc();
        b.update_batch(&[literal("0.0", 1), xs])?;
        let err = merge_all(&mut [a, b], &[0, 1]).unwrap_err();
        assert!(err.to_string().contains("cannot combine"), "{err}");
        Ok(())
    }

    /// Rough throughput of `update_batch` against a plain single-threaded f64 Lloyd loop
    /// over the same Arrow arrays (sums, counts, cost; no exactness). Ignored by default:
    /// `cargo test -p rfmseg-udfs --release -- --ignored --nocapture throughput`.
    #[test]
    #[ignore = "a measurement, not a check"]
    #[allow(clippy::needless_range_loop)] // the plain loop is written as a person would
    fn throughput_against_a_plain_f64_loop() -> Result<()> {
        use std::time::Instant;
        let mut rng = XorShift::new(1);
        let (n, batch) = (1 << 20, 8192);
        for (k, d) in [(3, 3), (5, 3), (10, 3), (4, 5)] {
            let points = blobs(&mut rng, n, d, k);
            let centroids: Vec<f64> = (0..k * d).map(|_| rng.uniform() * 30.0 - 15.0).collect();
            let text = format_centroids(&centroids);
            let batches: Vec<Vec<ArrayRef>> = (0..n)
                .step_by(batch)
                .map(|lo| {
                    let mut args = vec![literal(&text, batch)];
                    args.extend(columns(&points, d, lo, lo + batch, 0));
                    args
                })
                .collect();
            let (mut best_udaf, mut best_plain) = (f64::INFINITY, f64::INFINITY);
            for _ in 0..5 {
                let t = Instant::now();
                let mut acc = new_acc();
                for b in &batches {
                    acc.update_batch(b)?;
                }
                std::hint::black_box(acc.evaluate()?);
                best_udaf = best_udaf.min(t.elapsed().as_secs_f64());

                let t = Instant::now();
                let (mut sums, mut counts, mut cost) = (vec![0.0; k * d], vec![0.0; k], 0.0);
                for b in &batches {
                    let cols: Vec<&[f64]> = b[1..]
                        .iter()
                        .map(|a| a.as_primitive::<Float64Type>().values().as_ref())
                        .collect();
                    for i in 0..cols[0].len() {
                        let (mut best, mut best_dist) = (0, f64::INFINITY);
                        for c in 0..k {
                            let mut dist = 0.0;
                            for j in 0..d {
                                let t = cols[j][i] - centroids[c * d + j];
                                dist += t * t;
                            }
                            if dist < best_dist {
                                best_dist = dist;
                                best = c;
                            }
                        }
                        for j in 0..d {
                            sums[best * d + j] += cols[j][i];
                        }
                        counts[best] += 1.0;
                        cost += best_dist;
                    }
                }
                std::hint::black_box((&sums, &counts, cost));
                best_plain = best_plain.min(t.elapsed().as_secs_f64());
            }
            println!(
                "k = {k}, d = {d}: kmeans_step {:.1} Mrows/s, plain f64 loop {:.1} Mrows/s, ratio {:.2}",
                n as f64 / best_udaf / 1e6,
                n as f64 / best_plain / 1e6,
                best_plain / best_udaf
            );
        }
        Ok(())
    }

    /// A SQL run with several input partitions and target_partitions 4 (partial and final
    /// aggregation, so `merge_batch` runs) gives the same bits as target_partitions 1, and
    /// the values of a plain computation.
    #[tokio::test]
    async fn sql_step_is_the_same_for_any_partitioning() -> Result<()> {
        let mut rng = XorShift::new(2024);
        let (n, d) = (4000, 3);
        let points = blobs(&mut rng, n, d, 3);
        let centroids = [-10.0, 0.0, 5.0, 0.0, 0.0, 0.0, 10.0, 10.0, -5.0];
        let t = Arc::new(table(&points, d, &[0, 700, 1500, 1500, 3100, n], 17)?);
        let sql = format!(
            "SELECT kmeans_step('{}', x1, x2, x3) AS s FROM t",
            format_centroids(&centroids)
        );
        let mut results = Vec::new();
        for target in [4, 1] {
            let ctx = session(target);
            ctx.register_table("t", t.clone())?;
            if target > 1 {
                // Partial then final aggregation: merge_batch really runs.
                let text = explain(&ctx, &sql).await?;
                assert!(
                    text.contains("mode=Partial") && text.contains("mode=Final"),
                    "{text}"
                );
            }
            let batches = ctx.sql(&sql).await?.collect().await?;
            let list = batches[0].column(0).as_list::<i32>().value(0);
            results.push(list.as_primitive::<Float64Type>().values().to_vec());
        }
        assert_eq!(bits(&results[0]), bits(&results[1]));

        let mut acc = new_acc();
        update(
            &mut acc,
            &format_centroids(&centroids),
            &points,
            d,
            0,
            n,
            17,
        )?;
        assert_eq!(
            bits(&results[0]),
            bits(&result_values(&acc.evaluate()?).expect("rows"))
        );
        // The plain computation, and counts that add up to the non-NULL rows.
        assert_close(&results[0], &plain_lloyd_step(&points, d, &centroids, 17));
        let counted: f64 = results[0][9..12].iter().sum();
        assert_eq!(
            counted as usize,
            (0..n).filter(|i| !is_null_row(*i, 17)).count()
        );
        Ok(())
    }
}

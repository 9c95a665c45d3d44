//! The laws every registered aggregate function keeps, checked once for all of
//! [`crate::aggregate_udfs`] through DataFusion's public API (`AggregateUDF::accumulator`,
//! SQL), so that a UDAF is checked as soon as it is registered; a new one must add its
//! representative input to [`case`]:
//!
//! (a) any split of the rows into partial accumulators, merged in any order (flat, or as a
//! random tree of intermediate merges), gives the same state bytes and the same value as
//! one accumulator over all rows;
//! (b) the empty state is the identity of merge, on either side;
//! (c) the two-phase plan is used: at target_partitions 4 over a MemTable of several
//! partitions, `EXPLAIN` shows a Partial and a Final aggregate (FinalPartitioned with a
//! GROUP BY), and the query returns the single accumulator's value, overall and per group;
//!
//! and the value agrees with an independent plain computation ([`crate::test_plain`]).
//!
//! `purchase_days` is the exception: its arguments (an integer day, a decimal amount) and
//! its struct result are not the float features and sums this harness builds, so its own
//! module checks the same laws by SQL, over 1, 3 and 8 partitions of small batches, with
//! the partial aggregation run and skipped.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch};
use datafusion::arrow::compute::{concat_batches, filter};
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::AccumulatorArgs;
use datafusion::logical_expr::{Accumulator, AggregateUDF};
use datafusion::prelude::SessionContext;

use crate::aggregate_udfs;
use crate::centroids::format_centroids;
use crate::test_data::{
    XorShift, blobs, columns, cuts, explain, group_of, is_null_row, literal, session, shuffled,
    table,
};
use crate::test_plain::{
    assert_close, direct_silhouette, plain_cost, plain_lloyd_step, stats_text,
};

/// A representative input of one UDAF: its literals and rows, and the value of an
/// independent plain computation over all of them.
struct Case {
    literals: Vec<String>,
    d: usize,
    n: usize,
    /// Row-major, n*d.
    points: Vec<f64>,
    /// Every `null_every`-th row has a NULL feature ([`columns`]).
    null_every: usize,
    /// The plain values of all rows: the list of `kmeans_step`, or the one value.
    plain: Vec<f64>,
}

/// The representative input of the UDAF `name`.
fn case(name: &str) -> Case {
    let mut rng = XorShift::new(crate::stable_hash(name) as u64);
    let (n, d, null_every) = (1500, 3, 11);
    let points = blobs(&mut rng, n, d, 4);
    let random_centres = |rng: &mut XorShift, k: usize| -> Vec<f64> {
        (0..k * d).map(|_| rng.uniform() * 30.0 - 15.0).collect()
    };
    let (literals, plain) = match name {
        "kmeans_step" => {
            let centroids = random_centres(&mut rng, 5);
            let plain = plain_lloyd_step(&points, d, &centroids, null_every);
            (vec![format_centroids(&centroids)], plain)
        }
        "kmeans_cost" => {
            let centroids = random_centres(&mut rng, 4);
            let plain = plain_cost(&points, d, &centroids, null_every);
            (vec![format_centroids(&centroids)], vec![plain])
        }
        "kmeans_silhouette" => {
            // Centres at rows of the data, so that every cluster has rows.
            let centroids: Vec<f64> = (0..3)
                .flat_map(|c| points[c * 13 * d..c * 13 * d + d].to_vec())
                .collect();
            let kept: Vec<f64> = (0..n)
                .filter(|i| !is_null_row(*i, null_every))
                .flat_map(|i| points[i * d..i * d + d].to_vec())
                .collect();
            let stats = stats_text(&points, d, &centroids, null_every);
            let plain = direct_silhouette(&kept, d, &centroids);
            (vec![format_centroids(&centroids), stats], vec![plain])
        }
        "bgnbd_ll" | "gamma_gamma_ll" => return clv_case(name, &mut rng, n, null_every),
        other => panic!("{other}: add a representative input for the new UDAF to `case`"),
    };
    Case {
        literals,
        d,
        n,
        points,
        null_every,
        plain,
    }
}

/// The representative input of a CLV likelihood UDAF: weighted customer summaries
/// (x, t_x, T, n) for `bgnbd_ll`, (x, m, n) for `gamma_gamma_ll` (x = 0 rows included,
/// which it skips), and the plain f64 sums of the per-row values over the rows kept.
fn clv_case(name: &str, rng: &mut XorShift, n: usize, null_every: usize) -> Case {
    let bgnbd = name == "bgnbd_ll";
    let d = if bgnbd { 4 } else { 3 };
    let mut points = Vec::with_capacity(n * d);
    let mut plain = vec![0.0; if bgnbd { 6 } else { 5 }];
    let bg = [0.6, 3.5, 1.3, 2.2];
    let gg = [5.0, 3.0, 12.0];
    for i in 0..n {
        let big_t = 1.0 + (rng.uniform() * 60.0).floor();
        let x = if rng.uniform() < 0.4 {
            0.0
        } else {
            1.0 + rng.below(12) as f64
        };
        let weight = 1.0 + rng.below(5) as f64;
        let kept = !is_null_row(i, null_every);
        let (ll, grad) = if bgnbd {
            let t_x = if x > 0.0 {
                (rng.uniform() * big_t).floor()
            } else {
                0.0
            };
            points.extend([x, t_x, big_t, weight]);
            let (ll, g) = crate::clv_math::bgnbd_ll_grad(&bg, x, t_x, big_t);
            (ll, g.to_vec())
        } else {
            let m = 1.0 + rng.uniform() * 100.0;
            points.extend([x, m, weight]);
            if x == 0.0 {
                continue;
            }
            let (ll, g) = crate::clv_math::gamma_gamma_ll_grad(&gg, x, m);
            (ll, g.to_vec())
        };
        if kept {
            plain[0] += weight * ll;
            for (s, g) in plain[1..].iter_mut().zip(&grad) {
                *s += weight * g;
            }
            *plain.last_mut().expect("Σ n") += weight;
        }
    }
    let literal = if bgnbd {
        format_centroids(&bg)
    } else {
        format_centroids(&gg)
    };
    Case {
        literals: vec![literal],
        d,
        n,
        points,
        null_every,
        plain,
    }
}

impl Case {
    /// A fresh accumulator of `udaf`, made the way DataFusion makes one.
    fn accumulator(&self, udaf: &AggregateUDF) -> Result<Box<dyn Accumulator>> {
        let mut types = vec![DataType::Utf8; self.literals.len()];
        types.extend(std::iter::repeat_n(DataType::Float64, self.d));
        let return_type = udaf.return_type(&udaf.coerce_types(&types)?)?;
        let schema = Schema::empty();
        udaf.accumulator(AccumulatorArgs {
            return_field: Arc::new(Field::new(udaf.name(), return_type, true)),
            schema: &schema,
            ignore_nulls: false,
            order_bys: &[],
            is_reversed: false,
            name: udaf.name(),
            is_distinct: false,
            exprs: &[],
            expr_fields: &[],
        })
    }

    /// The arguments of rows `lo..hi` as DataFusion passes them to `update_batch`.
    fn args(&self, lo: usize, hi: usize) -> Vec<ArrayRef> {
        let mut args: Vec<ArrayRef> = self.literals.iter().map(|t| literal(t, hi - lo)).collect();
        args.extend(columns(&self.points, self.d, lo, hi, self.null_every));
        args
    }

    /// One accumulator over rows `lo..hi` in one batch.
    fn single(&self, udaf: &AggregateUDF, lo: usize, hi: usize) -> Result<Box<dyn Accumulator>> {
        let mut acc = self.accumulator(udaf)?;
        acc.update_batch(&self.args(lo, hi))?;
        Ok(acc)
    }

    /// The SQL call over table `t`.
    fn call(&self, name: &str) -> String {
        let mut args: Vec<String> = self.literals.iter().map(|t| format!("'{t}'")).collect();
        args.extend((1..=self.d).map(|j| format!("x{j}")));
        format!("{name}({})", args.join(", "))
    }
}

/// Adds an accumulator's `state()` to another, as a final aggregation does.
fn merge(into: &mut dyn Accumulator, state: &[ScalarValue]) -> Result<()> {
    let arrays = state
        .iter()
        .map(|s| s.to_array())
        .collect::<Result<Vec<_>>>()?;
    into.merge_batch(&arrays)
}

/// A value's Float64s bit for bit (a list's items, or the one value); `None` for NULL.
fn bits(v: &ScalarValue) -> Option<Vec<u64>> {
    let array = v.to_array().expect("a value converts to an array");
    let values = match array.data_type() {
        DataType::List(_) => {
            let list = array.as_list::<i32>();
            if list.is_null(0) {
                return None;
            }
            list.value(0)
        }
        _ if array.is_null(0) => return None,
        _ => array,
    };
    Some(
        values
            .as_primitive::<Float64Type>()
            .values()
            .iter()
            .map(|x| x.to_bits())
            .collect(),
    )
}

fn floats(bits: &[u64]) -> Vec<f64> {
    bits.iter().map(|b| f64::from_bits(*b)).collect()
}

/// The UDAFs of this harness: every registered one but `purchase_days`.
fn law_udafs() -> Vec<AggregateUDF> {
    aggregate_udfs()
        .into_iter()
        .filter(|u| u.name() != "purchase_days")
        .collect()
}

#[test]
fn every_udaf_has_a_case() {
    let names: Vec<String> = law_udafs().iter().map(|u| u.name().to_string()).collect();
    assert_eq!(
        names,
        [
            "kmeans_step",
            "kmeans_cost",
            "kmeans_silhouette",
            "bgnbd_ll",
            "gamma_gamma_ll"
        ],
        "a new UDAF: add its case"
    );
}

/// Law (a), and the plain computation.
#[test]
fn any_split_and_merge_order_gives_the_single_accumulators_bytes_and_value() -> Result<()> {
    for udaf in law_udafs() {
        let name = udaf.name();
        let case = case(name);
        let n = case.n;
        let mut single = case.single(&udaf, 0, n)?;
        let (want_state, want_value) = (single.state()?, single.evaluate()?);
        let want = bits(&want_value).expect("rows seen");
        assert_close(&floats(&want), &case.plain);

        let mut rng = XorShift::new(7);
        for trial in 0..12 {
            let parts = 1 + rng.below(8);
            let cuts = cuts(&mut rng, n, parts);
            let mut states = Vec::new();
            for p in 0..parts {
                // Two batches per partition.
                let (lo, hi) = (cuts[p], cuts[p + 1]);
                let mid = lo + (hi - lo) / 2;
                let mut acc = case.accumulator(&udaf)?;
                acc.update_batch(&case.args(lo, mid))?;
                acc.update_batch(&case.args(mid, hi))?;
                states.push(acc.state()?);
            }
            let context = format!("{name}, trial {trial}, {parts} partitions");

            // Flat: one final accumulator, the states in a random order.
            let mut flat = case.accumulator(&udaf)?;
            for i in shuffled(&mut rng, parts) {
                merge(flat.as_mut(), &states[i])?;
            }
            assert_eq!(flat.state()?, want_state, "{context}: flat merge state");
            assert_eq!(bits(&flat.evaluate()?), Some(want.clone()), "{context}");

            // A random tree: merge two states into an intermediate accumulator, until one.
            let mut pool = states;
            while pool.len() > 1 {
                let a = pool.swap_remove(rng.below(pool.len()));
                let b = pool.swap_remove(rng.below(pool.len()));
                let mut acc = case.accumulator(&udaf)?;
                merge(acc.as_mut(), &a)?;
                merge(acc.as_mut(), &b)?;
                pool.push(acc.state()?);
            }
            let mut tree = case.accumulator(&udaf)?;
            merge(tree.as_mut(), &pool[0])?;
            assert_eq!(tree.state()?, want_state, "{context}: tree merge state");
            assert_eq!(bits(&tree.evaluate()?), Some(want.clone()), "{context}");
        }
    }
    Ok(())
}

/// Law (b).
#[test]
fn the_empty_state_is_the_identity_of_merge() -> Result<()> {
    for udaf in law_udafs() {
        let name = udaf.name();
        let case = case(name);
        let mut fresh = case.accumulator(&udaf)?;
        let (empty, empty_value) = (fresh.state()?, fresh.evaluate()?);
        // A batch of zero rows leaves the state empty too.
        let mut zero_rows = case.single(&udaf, 0, 0)?;
        assert_eq!(zero_rows.state()?, empty, "{name}: zero rows");
        let mut some = case.single(&udaf, 0, case.n / 3)?;
        let some = (some.state()?, some.evaluate()?);
        for (state, value) in [(empty.clone(), empty_value), some] {
            let mut acc = case.accumulator(&udaf)?;
            merge(acc.as_mut(), &empty)?;
            merge(acc.as_mut(), &state)?;
            merge(acc.as_mut(), &empty)?;
            assert_eq!(acc.state()?, state, "{name}");
            assert_eq!(bits(&acc.evaluate()?), bits(&value), "{name}");
        }
    }
    Ok(())
}

/// Law (c): the plan has both phases, and the query's values are the single
/// accumulator's, overall and per group.
#[tokio::test]
async fn sql_runs_the_partial_and_final_phases_and_returns_the_single_value() -> Result<()> {
    for udaf in law_udafs() {
        let name = udaf.name();
        let case = case(name);
        let n = case.n;
        let ctx = session(4);
        let bounds = [0, n / 4, n / 4, n / 2, 3 * n / 4 + 1, n];
        ctx.register_table(
            "t",
            Arc::new(table(&case.points, case.d, &bounds, case.null_every)?),
        )?;
        let call = case.call(name);

        let overall = format!("SELECT {call} AS v FROM t");
        let batch = two_phase(&ctx, &overall, "mode=Final").await?;
        let got = ScalarValue::try_from_array(batch.column(0), 0)?;
        let want = case.single(&udaf, 0, n)?.evaluate()?;
        assert_eq!(bits(&got), bits(&want), "{name}: overall");

        let grouped = format!("SELECT g, {call} AS v FROM t GROUP BY g ORDER BY g");
        let batch = two_phase(&ctx, &grouped, "mode=FinalPartitioned").await?;
        assert_eq!(batch.num_rows(), 3, "{name}: three groups");
        for row in 0..batch.num_rows() {
            let g = batch.column(0).as_primitive::<Int64Type>().value(row);
            let got = ScalarValue::try_from_array(batch.column(1), row)?;
            let want = group_value(&case, &udaf, g)?;
            assert_eq!(bits(&got), bits(&want), "{name}: group {g}");
        }
    }
    Ok(())
}

/// Runs `sql` after checking that its plan has a Partial aggregate and the `final_mode`
/// one; its result in one batch.
async fn two_phase(ctx: &SessionContext, sql: &str, final_mode: &str) -> Result<RecordBatch> {
    let plan = explain(ctx, sql).await?;
    assert!(
        plan.contains("mode=Partial") && plan.contains(final_mode),
        "{sql}: {plan}"
    );
    let batches = ctx.sql(sql).await?.collect().await?;
    Ok(concat_batches(&batches[0].schema(), &batches)?)
}

/// One accumulator over the rows of group `g` (the rows of [`table`]'s column `g`).
fn group_value(case: &Case, udaf: &AggregateUDF, g: i64) -> Result<ScalarValue> {
    let mask: BooleanArray = (0..case.n).map(|i| Some(group_of(i) == g)).collect();
    let args = case
        .args(0, case.n)
        .iter()
        .map(|a| filter(a, &mask).map_err(Into::into))
        .collect::<Result<Vec<_>>>()?;
    let mut acc = case.accumulator(udaf)?;
    acc.update_batch(&args)?;
    acc.evaluate()
}

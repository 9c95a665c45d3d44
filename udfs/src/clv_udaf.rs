//! What the two CLV likelihood UDAFs (`bgnbd_ll`, `gamma_gamma_ll`) share: their
//! parameter literal, the row checks, the exact sums with errors that name the row, and
//! the result list. They run on the generic k-means UDAF ([`crate::kmeans_udaf`]): the
//! parameters are the one leading literal (a text of K comma-separated numbers, so they
//! reach Ballista executors as SQL), the customer summary columns are the "features".
//!
//! Each returns a `List<Float64>`: the sum over rows of n·LL, the sums of n·∂LL/∂θ for
//! each parameter θ in literal order, then Σ n (n = 1 without a weight column). The sums
//! are exact fixed point ([`crate::exact_sum`]), so any partitioning gives the same bits:
//! an embedded and a cluster fit take the same optimiser steps.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Array};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::common::{DataFusionError, Result, ScalarValue, exec_datafusion_err};
use datafusion::logical_expr::Documentation;

use crate::exact_sum::{ExactSums, Shape, Summed};
use crate::rows::for_each_valid_row;

/// What a likelihood UDAF declares; [`likelihood_udaf!`] makes the aggregate of it.
pub(crate) trait Likelihood<const K: usize> {
    const NAME: &'static str;
    const USAGE: &'static str;
    /// The parameters, in literal order.
    const PARAMS: [&'static str; K];
    /// Summary columns after the parameters, without the optional weight n.
    const COLUMNS: usize;
    /// Whether the row (with weight `n`) counts, or why it is not a valid row.
    fn check(row: &[f64], n: f64) -> std::result::Result<bool, String>;
    /// How an error names the row.
    fn describe(row: &[f64], n: f64) -> String;
    /// What an evaluation keeps between rows (terms of the parameters alone, caches).
    type Terms;
    /// The terms for the parameters `p`, made once per batch.
    fn terms(p: &[f64; K]) -> Self::Terms;
    /// One row's log-likelihood and gradient.
    fn ll_grad(terms: &mut Self::Terms, row: &[f64]) -> (f64, [f64; K]);
    fn documentation() -> &'static Documentation;
}

/// The parameters of a [`Likelihood`] as its leading literal parsed them.
#[derive(Debug)]
pub(crate) struct Params<const K: usize>(pub(crate) [f64; K]);

/// Adds every valid row of `columns` to the sums: n·(LL, gradient) and n.
pub(crate) fn update_rows<L: Likelihood<K>, const K: usize>(
    p: &[f64; K],
    sums: &mut ExactSums,
    columns: &[ArrayRef],
) -> Result<()> {
    let mut terms = L::terms(p);
    let mut sink = |_i: usize, row: &[f64]| -> Result<(), DataFusionError> {
        let n = row.get(L::COLUMNS).copied().unwrap_or(1.0);
        let counts = L::check(row, n)
            .map_err(|why| exec_datafusion_err!("{}: {} {why}", L::NAME, L::describe(row, n)))?;
        if !counts || n == 0.0 {
            return Ok(());
        }
        let (ll, grad) = L::ll_grad(&mut terms, row);
        add_row(L::NAME, &L::PARAMS, sums, n, ll, &grad, || {
            format!("{} at {} = {p:?}", L::describe(row, n), L::PARAMS.join(","))
        })
    };
    for_each_valid_row(L::NAME, columns, &mut sink)?
}

/// The aggregate `$ctor` (marker type `$ty`) of the [`Likelihood`] `$lik` with `$k`
/// parameters: its literal is the parameters, its columns the summary, its result the
/// list of sums.
macro_rules! likelihood_udaf {
    ($ty:ident, $ctor:ident, $lik:ty, $k:literal) => {
        $crate::kmeans_udaf::kmeans_udaf!($ty, $ctor);

        impl $crate::kmeans_udaf::Literals for $crate::clv_udaf::Params<$k> {
            const LEADING: &'static [(&'static str, $crate::args::Leading)] =
                &[("params", $crate::args::Leading::ConstText)];

            fn parse(texts: &[&str], d: usize) -> std::result::Result<Self, String> {
                use $crate::clv_udaf::Likelihood;
                $crate::clv_udaf::check_columns(<$lik>::USAGE, <$lik>::COLUMNS, d)?;
                $crate::clv_udaf::parse_params(texts[0], &<$lik>::PARAMS)
                    .map($crate::clv_udaf::Params)
            }

            fn size(&self) -> usize {
                0
            }
        }

        impl $crate::kmeans_udaf::KmeansAggregate for $ty {
            const NAME: &'static str = <$lik as $crate::clv_udaf::Likelihood<$k>>::NAME;

            type Model = $crate::clv_udaf::Params<$k>;

            fn shape(_params: &Self::Model, _d: usize) -> $crate::exact_sum::Shape {
                $crate::clv_udaf::shape($k)
            }

            fn update(
                params: &Self::Model,
                sums: &mut $crate::exact_sum::ExactSums,
                columns: &[datafusion::arrow::array::ArrayRef],
            ) -> datafusion::common::Result<()> {
                $crate::clv_udaf::update_rows::<$lik, $k>(&params.0, sums, columns)
            }

            fn return_type() -> datafusion::arrow::datatypes::DataType {
                $crate::clv_udaf::list_of_f64()
            }

            /// NULL while no partition read the parameters.
            fn empty_value() -> Option<datafusion::common::ScalarValue> {
                None
            }

            fn evaluate(sums: &$crate::exact_sum::ExactSums) -> datafusion::common::ScalarValue {
                $crate::clv_udaf::evaluate(sums)
            }

            fn documentation() -> &'static datafusion::logical_expr::Documentation {
                <$lik as $crate::clv_udaf::Likelihood<$k>>::documentation()
            }
        }
    };
}
pub(crate) use likelihood_udaf;

/// `List(Float64)` with nullable items, the type both UDAFs return.
pub(crate) fn list_of_f64() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true)))
}

/// Parses the parameter literal: exactly K comma-separated finite numbers > 0 (`names` in
/// order, for the message).
pub(crate) fn parse_params<const K: usize>(
    text: &str,
    names: &[&str; K],
) -> Result<[f64; K], String> {
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    let want = || format!("'{}'", names.join(","));
    if parts.len() != K {
        return Err(format!(
            "params {text:?} has {} values, expected {K}: {}",
            parts.len(),
            want()
        ));
    }
    let mut out = [0.0; K];
    for (i, part) in parts.iter().enumerate() {
        let v: f64 = part
            .parse()
            .map_err(|_| format!("params {text:?}: {} = {part:?} is not a number", names[i]))?;
        if !(v.is_finite() && v > 0.0) {
            return Err(format!(
                "params {text:?}: {} = {v:?} must be a finite number > 0",
                names[i]
            ));
        }
        out[i] = v;
    }
    Ok(out)
}

/// Checks the number of summary columns: `base` (no weight) or `base + 1` (a weight n).
pub(crate) fn check_columns(usage: &str, base: usize, d: usize) -> Result<(), String> {
    if d == base || d == base + 1 {
        Ok(())
    } else {
        Err(format!(
            "expects {usage}: {base} summary columns and an optional weight, got {d} columns \
             after the parameters"
        ))
    }
}

/// The shape of the sums for K parameters: LL, K gradient components, Σ n.
pub(crate) fn shape(k: usize) -> Shape {
    Shape {
        sums: k + 2,
        counts: 0,
    }
}

/// Adds n·(LL, gradient) and n to the sums; `row` describes the row for an error.
pub(crate) fn add_row<const K: usize>(
    func: &str,
    names: &[&str; K],
    sums: &mut ExactSums,
    n: f64,
    ll: f64,
    grad: &[f64; K],
    row: impl Fn() -> String,
) -> Result<(), DataFusionError> {
    // What each sum is, named only for an error: a name per row would cost more than the
    // likelihood.
    let what = |i: usize| match i {
        0 => "log-likelihood".to_string(),
        i => format!("gradient dLL/d{}", names[i - 1]),
    };
    for (i, v) in std::iter::once(ll).chain(grad.iter().copied()).enumerate() {
        let weighted = n * v;
        if !weighted.is_finite() {
            return Err(exec_datafusion_err!(
                "{func}: the {} of {} is {v:?} (weight {n:?}); the parameters are \
                 outside the range where the likelihood can be evaluated",
                what(i),
                row()
            ));
        }
        sums.add(i, Summed::Coordinate, weighted).map_err(|e| {
            let why = if e.overflow {
                "overflows the exact sum (i128 at 2^-40)"
            } else {
                "cannot be summed exactly (|v| must stay below 2^52)"
            };
            exec_datafusion_err!(
                "{func}: the weighted {} {weighted:?} of {} {why}",
                what(i),
                row()
            )
        })?;
    }
    sums.add(K + 1, Summed::Coordinate, n).map_err(|_| {
        exec_datafusion_err!(
            "{func}: the weight {n:?} of {} overflows the exact sum",
            row()
        )
    })
}

/// The result list, or NULL while no partition parsed the parameters.
pub(crate) fn evaluate(sums: &ExactSums) -> ScalarValue {
    let Some(shape) = sums.shape() else {
        return ScalarValue::new_null_list(DataType::Float64, true, 1);
    };
    let values: ArrayRef = Arc::new(Float64Array::from_iter_values(
        (0..shape.sums).map(|i| sums.value(i)),
    ));
    SingleRowListArrayBuilder::new(values).build_list_scalar()
}

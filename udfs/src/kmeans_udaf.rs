//! The one `AggregateUDFImpl` and the one `Accumulator` behind every k-means UDAF.
//!
//! The three UDAFs share everything but their maths: the signature and coercion (leading
//! string literals, then d >= 1 feature columns, [`KmeansArgs`]), the check that each
//! literal is one constant for the whole query ([`ConstantText`]), the state
//! ([`ExactSums`], one versioned `Binary` field, see [`crate::state_bytes`]) and its merge.
//! A UDAF is a type implementing [`KmeansAggregate`]: how its literals parse, the shape of
//! its exact sums, how a batch's rows add to them and what they evaluate to. That is all its
//! own module holds.
//!
//! The UDAF struct holds only its signature: functions travel to Ballista executors by
//! name, so the centroids (and the silhouette's stats) arrive as SQL literal arguments.

use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, Signature, Volatility,
};

use crate::args::{KmeansArgs, Leading};
use crate::centroids::parse_centroids;
use crate::exact_sum::{ExactSums, Shape};
use crate::literal::ConstantText;

/// What the leading literal arguments of a k-means UDAF describe, parsed once per
/// accumulator: the centroids alone (`Vec<f64>`, k*d row-major), or more.
pub(crate) trait Literals: Debug + Send + Sync + Sized {
    /// The leading arguments, all [`Leading::ConstText`].
    const LEADING: &'static [(&'static str, Leading)];

    /// Parses the literal texts (in argument order) for d features; the message is without
    /// the function name, which the caller adds.
    fn parse(texts: &[&str], d: usize) -> Result<Self, String>;

    /// Bytes held, for `Accumulator::size`.
    fn size(&self) -> usize;
}

impl Literals for Vec<f64> {
    const LEADING: &'static [(&'static str, Leading)] = &[("centroids", Leading::ConstText)];

    fn parse(texts: &[&str], d: usize) -> Result<Self, String> {
        parse_centroids(texts[0], d)
    }

    fn size(&self) -> usize {
        self.capacity() * 8
    }
}

/// What makes one k-means UDAF: its arguments and its maths over [`ExactSums`].
pub(crate) trait KmeansAggregate:
    Debug + Default + PartialEq + Eq + Hash + Send + Sync + 'static
{
    /// The SQL name.
    const NAME: &'static str;

    /// What the leading literals describe.
    type Model: Literals;

    /// The argument list: the model's literals, then the features.
    const ARGS: KmeansArgs = KmeansArgs {
        func: Self::NAME,
        leading: <Self::Model as Literals>::LEADING,
    };

    /// The shape of the exact sums for a model of d features.
    fn shape(model: &Self::Model, d: usize) -> Shape;

    /// Adds the rows of one batch (d feature columns, not yet cast) to `sums`.
    fn update(model: &Self::Model, sums: &mut ExactSums, features: &[ArrayRef]) -> Result<()>;

    /// The SQL result type; by default Float64.
    fn return_type() -> DataType {
        DataType::Float64
    }

    /// The result for the exact sums (of unknown shape when nothing was seen).
    fn evaluate(sums: &ExactSums) -> ScalarValue;

    /// The value of a group without rows for a function that is never NULL (by default
    /// 0.0); `None` for a nullable function (DataFusion's default, NULL).
    fn empty_value() -> Option<ScalarValue> {
        Some(ScalarValue::Float64(Some(0.0)))
    }

    /// What `SHOW FUNCTIONS` and the docs API say about the function.
    fn documentation() -> &'static Documentation;
}

/// Declares a k-means UDAF: its [`KmeansAggregate`] marker type and its public
/// constructor, `kmeans_udaf!(Cost, kmeans_cost_udaf)`.
macro_rules! kmeans_udaf {
    ($ty:ident, $ctor:ident) => {
        #[doc = concat!("The [`KmeansAggregate`] of `", stringify!($ctor), "`.")]
        #[derive(Debug, Default, PartialEq, Eq, Hash)]
        pub(crate) struct $ty;

        /// The SQL function, ready to register.
        pub fn $ctor() -> datafusion::logical_expr::AggregateUDF {
            $crate::kmeans_udaf::udaf::<$ty>()
        }
    };
}
pub(crate) use kmeans_udaf;

/// A k-means UDAF: [`KmeansAggregate`] `A` as DataFusion's `AggregateUDFImpl`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct KmeansUdaf<A> {
    signature: Signature,
    /// The marker type, a zero-sized value (compared and hashed with the signature).
    kind: A,
}

impl<A: KmeansAggregate> Default for KmeansUdaf<A> {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
            kind: A::default(),
        }
    }
}

/// The SQL function of `A`, ready to register.
pub(crate) fn udaf<A: KmeansAggregate>() -> AggregateUDF {
    AggregateUDF::from(KmeansUdaf::<A>::default())
}

impl<A: KmeansAggregate> AggregateUDFImpl for KmeansUdaf<A> {
    fn name(&self) -> &str {
        A::ARGS.func
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    /// The literals → Utf8View (stored once per batch, not once per row); x → Float64.
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        A::ARGS.coerce_types(arg_types)
    }

    /// Must match what `evaluate` returns.
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(A::return_type())
    }

    fn is_nullable(&self) -> bool {
        A::empty_value().is_none()
    }

    fn default_value(&self, data_type: &DataType) -> Result<ScalarValue> {
        match A::empty_value() {
            Some(v) => Ok(v),
            None => ScalarValue::try_from(data_type),
        }
    }

    fn accumulator(&self, acc_args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let leading = A::ARGS.leading.len().min(acc_args.exprs.len());
        Ok(Box::new(KmeansAccumulator::<A> {
            texts: acc_args.exprs[..leading]
                .iter()
                .map(ConstantText::planned)
                .collect(),
            ..KmeansAccumulator::default()
        }))
    }

    /// One `Binary` field: the versioned bytes of the [`ExactSums`].
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format_state_name(args.name, "exact_sums"),
            DataType::Binary,
            true,
        ))])
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(A::documentation())
    }
}

/// The accumulator of [`KmeansAggregate`] `A` over the rows of one group.
#[derive(Debug)]
pub(crate) struct KmeansAccumulator<A: KmeansAggregate> {
    /// One per leading literal, in argument order; empty until the first batch.
    texts: Vec<ConstantText>,
    /// The parsed literals and the d they were parsed for.
    model: Option<(A::Model, usize)>,
    pub(crate) sums: ExactSums,
}

impl<A: KmeansAggregate> Default for KmeansAccumulator<A> {
    fn default() -> Self {
        Self {
            texts: Vec::new(),
            model: None,
            sums: ExactSums::default(),
        }
    }
}

impl<A: KmeansAggregate> KmeansAccumulator<A> {
    /// Checks the literals of a batch against the known ones, and parses them when one is
    /// seen for the first time (once all are known).
    fn learn(&mut self, literals: &[ArrayRef], d: usize) -> Result<()> {
        let func = A::ARGS.func;
        if self.texts.len() < literals.len() {
            self.texts
                .resize_with(literals.len(), ConstantText::default);
        }
        let mut new = false;
        for ((text, array), (name, _)) in self.texts.iter_mut().zip(literals).zip(A::ARGS.leading) {
            new |= text.observe(func, name, array)?.is_some();
        }
        if !new {
            return Ok(());
        }
        let texts: Option<Vec<&str>> = self.texts.iter().map(ConstantText::text).collect();
        let Some(parsed) = texts.map(|texts| A::Model::parse(&texts, d)) else {
            return Ok(());
        };
        match parsed {
            Ok(model) => {
                self.sums.learn_shape(func, A::shape(&model, d))?;
                self.model = Some((model, d));
                Ok(())
            }
            Err(msg) => {
                // Re-checked (and the error repeated) on the next batch.
                self.texts.iter_mut().for_each(ConstantText::forget);
                exec_err!("{func}: {msg}")
            }
        }
    }
}

impl<A: KmeansAggregate> Accumulator for KmeansAccumulator<A> {
    /// Called with the argument arrays of each input batch: the leading literals
    /// broadcast to the batch, then the feature columns.
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let func = A::ARGS.func;
        let (literals, features) = A::ARGS.split(values)?;
        let d = features.len();
        self.learn(literals, d)?;
        if literals[0].is_empty() {
            return Ok(());
        }
        let Some((model, model_d)) = &self.model else {
            return exec_err!("{func}: the literal arguments were not read");
        };
        if *model_d != d {
            return exec_err!(
                "{func}: this batch has d = {d} feature columns, earlier ones had d = {model_d}"
            );
        }
        A::update(model, &mut self.sums, features)
    }

    /// The intermediate state, passed between execution stages.
    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Binary(Some(self.sums.to_bytes()))])
    }

    /// Adds the states produced by `state()` of other accumulators, one per row.
    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let func = A::ARGS.func;
        let [state] = states else {
            return exec_err!("{func} expects one state array, got {}", states.len());
        };
        let Some(state) = state.as_binary_opt::<i32>() else {
            return exec_err!(
                "{func} expects a Binary state array, got {}",
                state.data_type()
            );
        };
        for i in 0..state.len() {
            if !state.is_null(i) {
                self.sums.merge_bytes(func, state.value(i))?;
            }
        }
        Ok(())
    }

    /// The final value: must have the type `return_type` declares.
    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(A::evaluate(&self.sums))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self.texts.iter().map(ConstantText::size).sum::<usize>()
            + self.model.as_ref().map_or(0, |(m, _)| m.size())
            + self.sums.size()
    }
}

/// Merges the states of `accs` into a fresh accumulator, in the given order, as a final
/// aggregation does.
#[cfg(test)]
pub(crate) fn merge_all<A: KmeansAggregate>(
    accs: &mut [KmeansAccumulator<A>],
    order: &[usize],
) -> Result<KmeansAccumulator<A>> {
    let mut fin = KmeansAccumulator::default();
    for &i in order {
        let arrays: Vec<ArrayRef> = accs[i]
            .state()?
            .iter()
            .map(|s| s.to_array())
            .collect::<Result<_>>()?;
        fin.merge_batch(&arrays)?;
    }
    Ok(fin)
}

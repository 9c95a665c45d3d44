//! `purchase_days(day, amount)`: one customer's purchases grouped by day, in one pass over
//! the purchases, for the CLV summary (sql/clv_summary.sql).
//!
//! ```sql
//! SELECT customer_id, purchase_days(day, CAST(amount AS DECIMAL(18, 6))) AS d
//! FROM purchases GROUP BY customer_id;
//! -- d: {days, first_day, last_day, first_amount, total}
//! ```
//!
//! The same numbers come from grouping by (customer, day) and then by customer, with the
//! first day's amount from an ordered `first_value`. That costs two hash aggregations over
//! a string key and an ordered aggregate per customer: 2.6 s of the clv stage at 10M
//! reviews. This is one aggregation with a small sorted list of days per customer (most
//! customers buy on a few days).
//!
//! The result is a struct: `days` (distinct purchase days), `first_day`, `last_day`,
//! `first_amount` (the amounts of the first day summed) and `total` (all amounts summed);
//! NULL for a group without rows. Amounts are decimals summed exactly in i128, so the
//! result does not depend on the order or partitioning of the rows. A row with a NULL day
//! or amount is skipped.
//!
//! # State
//!
//! Per group: the first day and its summed amount, the last day, the total, and the days
//! strictly between the first and the last (a list, empty for most customers). A merge
//! adds the amounts and inserts the days.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Decimal128Array, Int64Array, Int64Builder, ListBuilder,
    StructArray,
};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Field, FieldRef, Fields, Int64Type};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, EmitTo, GroupsAccumulator,
    Signature, Volatility,
};

use crate::documentation::doc;

const NAME: &str = "purchase_days";
const USAGE: &str = "purchase_days(day, amount)";

/// The precision of the summed amounts (the widest Decimal128).
const SUM_PRECISION: u8 = 38;

/// The SQL function, ready to register.
pub fn purchase_days_udaf() -> AggregateUDF {
    AggregateUDF::from(PurchaseDays::default())
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct PurchaseDays {
    signature: Signature,
}

impl Default for PurchaseDays {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// The scale of the amount argument, or why the arguments do not fit.
fn amount_scale(arg_types: &[DataType]) -> Result<i8> {
    match arg_types {
        [day, DataType::Decimal128(_, scale)] if day.is_integer() => Ok(*scale),
        [day, amount] if day.is_integer() => plan_err!(
            "{NAME}: amount must be a DECIMAL (e.g. CAST(amount AS DECIMAL(18, 6))) so it \
             sums exactly, got {amount}"
        ),
        [day, _] => plan_err!("{NAME}: day must be an integer (days since 1970-01-01), got {day}"),
        _ => plan_err!("{NAME}: expects {USAGE}, got {} arguments", arg_types.len()),
    }
}

fn sum_type(scale: i8) -> DataType {
    DataType::Decimal128(SUM_PRECISION, scale)
}

fn result_fields(scale: i8) -> Fields {
    Fields::from(vec![
        Field::new("days", DataType::Int64, false),
        Field::new("first_day", DataType::Int64, false),
        Field::new("last_day", DataType::Int64, false),
        Field::new("first_amount", sum_type(scale), false),
        Field::new("total", sum_type(scale), false),
    ])
}

/// The scale of a return type (a struct whose `total` is the summed decimal).
fn return_scale(return_type: &DataType) -> Result<i8> {
    match return_type {
        DataType::Struct(fields) => match fields.find("total").map(|(_, f)| f.data_type()) {
            Some(DataType::Decimal128(_, scale)) => Ok(*scale),
            _ => exec_err!("{NAME}: unexpected return type {return_type}"),
        },
        _ => exec_err!("{NAME}: unexpected return type {return_type}"),
    }
}

impl AggregateUDFImpl for PurchaseDays {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    /// day → Int64; amount keeps its scale, widened to DECIMAL(38, s), the type it sums in.
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let scale = amount_scale(arg_types)?;
        Ok(vec![DataType::Int64, sum_type(scale)])
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(result_fields(amount_scale(arg_types)?)))
    }

    fn is_nullable(&self) -> bool {
        true
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(DaysAccumulator(DaysGroups::new(return_scale(
            args.return_type(),
        )?))))
    }

    /// First day, its amount, last day, total, and the days between (a list).
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let scale = return_scale(args.return_type())?;
        let field = |name: &str, data_type: DataType| {
            Arc::new(Field::new(
                format_state_name(args.name, name),
                data_type,
                true,
            ))
        };
        Ok(vec![
            field("first_day", DataType::Int64),
            field("first_amount", sum_type(scale)),
            field("last_day", DataType::Int64),
            field("total", sum_type(scale)),
            field(
                "middle_days",
                DataType::List(Arc::new(Field::new_list_field(DataType::Int64, true))),
            ),
        ])
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(DaysGroups::new(return_scale(args.return_type())?)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            doc(
                "One group's purchases grouped by day: a struct of days (distinct days), \
                 first_day, last_day, first_amount (the first day's amounts summed) and total \
                 (all amounts summed), the sums exact as DECIMAL(38, s). Rows with a NULL \
                 are skipped; NULL without rows.",
                USAGE,
                &[
                    ("day", "integer day of the purchase (days since 1970-01-01)"),
                    (
                        "amount",
                        "the purchase's amount as a DECIMAL (e.g. CAST(amount AS DECIMAL(18, 6)))",
                    ),
                ],
                "> SELECT purchase_days(day, CAST(amount AS DECIMAL(18, 6)))\n  \
                 FROM (VALUES (3, 1.5), (1, 2.0), (3, 0.25)) s(day, amount);\n\
                 {days: 2, first_day: 1, last_day: 3, first_amount: 2.000000, total: 3.750000}",
            )
        });
        Some(&DOC)
    }
}

/// The `day` no group has: the first day of a group without rows.
const NO_DAY: i64 = i64::MAX;

/// Every group's purchases by day, column by column. A group's distinct days are its first,
/// its last, and the days strictly between them (`middle`, ascending), so a customer who
/// bought on one or two days (most do) allocates nothing.
#[derive(Debug)]
struct DaysGroups {
    first_day: Vec<i64>,
    last_day: Vec<i64>,
    first_amount: Vec<i128>,
    total: Vec<i128>,
    middle: Vec<Vec<i64>>,
    /// Days in all `middle` lists, for the memory accounting DataFusion asks for after
    /// every batch (walking every group each time would be quadratic).
    middle_days: usize,
    scale: i8,
}

/// The taken-out groups of an emit, column by column.
struct Taken {
    first_day: Vec<i64>,
    last_day: Vec<i64>,
    first_amount: Vec<i128>,
    total: Vec<i128>,
    middle: Vec<Vec<i64>>,
}

fn checked_sum(a: i128, b: i128) -> Result<i128> {
    match a.checked_add(b) {
        Some(s) => Ok(s),
        None => exec_err!("{NAME}: the amounts overflow DECIMAL({SUM_PRECISION})"),
    }
}

impl DaysGroups {
    fn new(scale: i8) -> Self {
        Self {
            first_day: Vec::new(),
            last_day: Vec::new(),
            first_amount: Vec::new(),
            total: Vec::new(),
            middle: Vec::new(),
            middle_days: 0,
            scale,
        }
    }

    fn resize(&mut self, groups: usize) {
        self.first_day.resize(groups, NO_DAY);
        self.last_day.resize(groups, NO_DAY);
        self.first_amount.resize(groups, 0);
        self.total.resize(groups, 0);
        self.middle.resize_with(groups, Vec::new);
    }

    /// Adds `amount` spent on `first` (the first day of some rows) to group g's sums.
    fn add_amounts(&mut self, g: usize, first: i64, first_amount: i128, total: i128) -> Result<()> {
        if first < self.first_day[g] {
            self.first_amount[g] = first_amount;
        } else if first == self.first_day[g] {
            self.first_amount[g] = checked_sum(self.first_amount[g], first_amount)?;
        }
        self.total[g] = checked_sum(self.total[g], total)?;
        Ok(())
    }

    /// Adds `day` to group g's distinct days (after [`Self::add_amounts`], which compares
    /// with the first day before it moves).
    fn add_day(&mut self, g: usize, day: i64) {
        let (first, last) = (self.first_day[g], self.last_day[g]);
        let to_middle = if first == NO_DAY {
            self.first_day[g] = day;
            self.last_day[g] = day;
            None
        } else if day < first {
            self.first_day[g] = day;
            (first != last).then_some(first)
        } else if day > last {
            self.last_day[g] = day;
            (first != last).then_some(last)
        } else if day != first && day != last {
            Some(day)
        } else {
            None
        };
        if let Some(m) = to_middle {
            let middle = &mut self.middle[g];
            if let Err(pos) = middle.binary_search(&m) {
                middle.insert(pos, m);
                self.middle_days += 1;
            }
        }
    }

    /// Adds the rows of an input batch (day, amount), the row i to the group
    /// `group_of(i)`; rows filtered out or with a NULL are skipped.
    fn update(
        &mut self,
        values: &[ArrayRef],
        filter: Option<&BooleanArray>,
        group_of: impl Fn(usize) -> usize,
    ) -> Result<()> {
        let [day, amount] = values else {
            return exec_err!("{NAME}: expects {USAGE}");
        };
        let (Some(day), Some(amount)) = (
            day.as_primitive_opt::<Int64Type>(),
            amount.as_primitive_opt::<Decimal128Type>(),
        ) else {
            return exec_err!(
                "{NAME}: expects Int64 and Decimal128 arrays, got {} and {}",
                day.data_type(),
                amount.data_type()
            );
        };
        for i in 0..day.len() {
            if filter.is_some_and(|f| !f.is_valid(i) || !f.value(i))
                || day.is_null(i)
                || amount.is_null(i)
            {
                continue;
            }
            let (g, d, a) = (group_of(i), day.value(i), amount.value(i));
            if d == NO_DAY {
                return exec_err!("{NAME}: day {d} is out of range");
            }
            self.add_amounts(g, d, a, a)?;
            self.add_day(g, d);
        }
        Ok(())
    }

    /// Merges state rows ([`Self::state`]'s arrays), the row i into `group_of(i)`.
    fn merge(&mut self, states: &[ArrayRef], group_of: impl Fn(usize) -> usize) -> Result<()> {
        let [first_day, first_amount, last_day, total, middle] = states else {
            return exec_err!("{NAME} expects five state arrays, got {}", states.len());
        };
        let (Some(first_day), Some(first_amount), Some(last_day), Some(total), Some(middle)) = (
            first_day.as_primitive_opt::<Int64Type>(),
            first_amount.as_primitive_opt::<Decimal128Type>(),
            last_day.as_primitive_opt::<Int64Type>(),
            total.as_primitive_opt::<Decimal128Type>(),
            middle.as_list_opt::<i32>(),
        ) else {
            return exec_err!("{NAME}: state arrays of unexpected types");
        };
        // The list's values and offsets read directly: a slice per row would allocate.
        let Some(middle_days) = middle.values().as_primitive_opt::<Int64Type>() else {
            return exec_err!("{NAME}: a state list of unexpected type");
        };
        let offsets = middle.value_offsets();
        for i in 0..first_day.len() {
            if first_day.is_null(i) {
                continue;
            }
            let g = group_of(i);
            let first = first_day.value(i);
            self.add_amounts(g, first, first_amount.value(i), total.value(i))?;
            self.add_day(g, first);
            self.add_day(g, last_day.value(i));
            for j in offsets[i] as usize..offsets[i + 1] as usize {
                self.add_day(g, middle_days.value(j));
            }
        }
        Ok(())
    }

    fn take(&mut self, emit_to: EmitTo) -> Taken {
        let middle = emit_to.take_needed(&mut self.middle);
        self.middle_days -= middle.iter().map(Vec::len).sum::<usize>();
        Taken {
            first_day: emit_to.take_needed(&mut self.first_day),
            last_day: emit_to.take_needed(&mut self.last_day),
            first_amount: emit_to.take_needed(&mut self.first_amount),
            total: emit_to.take_needed(&mut self.total),
            middle,
        }
    }

    fn decimal(&self, values: Vec<i128>, nulls: Option<NullBuffer>) -> Result<ArrayRef> {
        Ok(Arc::new(
            Decimal128Array::new(values.into(), nulls)
                .with_precision_and_scale(SUM_PRECISION, self.scale)?,
        ))
    }

    /// The result of each taken group: a struct, NULL where the group saw no rows.
    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let t = self.take(emit_to);
        let days: Int64Array = t
            .first_day
            .iter()
            .zip(&t.last_day)
            .zip(&t.middle)
            .map(|((&f, &l), m)| match (f == NO_DAY, f == l) {
                (true, _) => 0,
                (false, true) => 1,
                (false, false) => 2 + m.len() as i64,
            })
            .collect();
        let nulls = NullBuffer::from_iter(t.first_day.iter().map(|&f| f != NO_DAY));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(days),
            Arc::new(Int64Array::from(t.first_day)),
            Arc::new(Int64Array::from(t.last_day)),
            self.decimal(t.first_amount, None)?,
            self.decimal(t.total, None)?,
        ];
        Ok(Arc::new(StructArray::try_new(
            result_fields(self.scale),
            columns,
            Some(nulls),
        )?))
    }

    /// The state of each taken group: first day, its amount, last day, total, the days
    /// between; NULL first day for a group without rows.
    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let t = self.take(emit_to);
        let nulls = NullBuffer::from_iter(t.first_day.iter().map(|&f| f != NO_DAY));
        let mut middle = ListBuilder::new(Int64Builder::new());
        for m in &t.middle {
            middle.values().append_slice(m);
            middle.append(true);
        }
        Ok(vec![
            Arc::new(Int64Array::new(t.first_day.into(), Some(nulls))),
            self.decimal(t.first_amount, None)?,
            Arc::new(Int64Array::from(t.last_day)),
            self.decimal(t.total, None)?,
            Arc::new(middle.finish()),
        ])
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self.first_day.capacity() * (3 * 8 + 2 * 16)
            + self.middle.capacity() * std::mem::size_of::<Vec<i64>>()
            + self.middle_days * 8
    }
}

impl GroupsAccumulator for DaysGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.resize(total_num_groups);
        self.update(values, opt_filter, |i| group_indices[i])
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        DaysGroups::evaluate(self, emit_to)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        DaysGroups::state(self, emit_to)
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.resize(total_num_groups);
        self.merge(values, |i| group_indices[i])
    }

    /// Each input row as a state of its own (DataFusion skips the partial aggregation
    /// when it does not reduce the rows, as with one customer per few purchases).
    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let rows = values.first().map_or(0, |v| v.len());
        let mut each = DaysGroups::new(self.scale);
        each.resize(rows);
        each.update(values, opt_filter, |i| i)?;
        each.state(EmitTo::All)
    }

    fn size(&self) -> usize {
        DaysGroups::size(self)
    }
}

/// The accumulator of an aggregate without GROUP BY: one group.
#[derive(Debug)]
struct DaysAccumulator(DaysGroups);

impl Accumulator for DaysAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.0.resize(1);
        self.0.update(values, None, |_| 0)
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.0.resize(1);
        self.0.merge(states, |_| 0)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.0.resize(1);
        self.0
            .state(EmitTo::All)?
            .iter()
            .map(|a| ScalarValue::try_from_array(a, 0))
            .collect()
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        self.0.resize(1);
        let array = self.0.evaluate(EmitTo::All)?;
        ScalarValue::try_from_array(&array, 0)
    }

    fn size(&self) -> usize {
        self.0.size()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use datafusion::arrow::array::RecordBatch;
    use datafusion::arrow::datatypes::Schema;
    use datafusion::arrow::util::display::array_value_to_string;
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::datasource::MemTable;
    use datafusion::prelude::{SessionConfig, SessionContext};

    use super::*;
    use crate::test_data::XorShift;

    /// Random purchases of `customers` customers in `partitions` partitions of small
    /// batches: (customer, day, amount in cents).
    fn purchases(seed: u64, rows: usize, customers: usize) -> Vec<(i64, i64, i64)> {
        let mut rng = XorShift::new(seed);
        (0..rows)
            .map(|_| {
                let c = rng.below(customers) as i64;
                let day = 19_000 + rng.below(40) as i64;
                let cents = rng.below(100_000) as i64;
                (c, day, cents)
            })
            .collect()
    }

    /// A session over the rows in `partitions` partitions; `skip_partial`: the partial
    /// aggregation gives up at once and passes every row on as a state of its own
    /// (`convert_to_state`), as DataFusion does when it does not reduce the rows.
    async fn context(
        rows: &[(i64, i64, i64)],
        partitions: usize,
        skip_partial: bool,
    ) -> Result<SessionContext> {
        let mut config = SessionConfig::new()
            .with_target_partitions(partitions)
            .with_batch_size(64);
        if skip_partial {
            let options = config.options_mut();
            options
                .execution
                .skip_partial_aggregation_probe_rows_threshold = 1;
            options
                .execution
                .skip_partial_aggregation_probe_ratio_threshold = 0.0;
        }
        let ctx = SessionContext::new_with_config(config);
        ctx.register_udaf(purchase_days_udaf());
        let schema = Arc::new(Schema::new(vec![
            Field::new("customer", DataType::Int64, false),
            Field::new("day", DataType::Int64, true),
            Field::new("amount", DataType::Decimal128(18, 2), false),
        ]));
        let parts: Vec<Vec<RecordBatch>> = rows
            .chunks(rows.len().div_ceil(partitions))
            .map(|chunk| {
                let col = |f: fn(&(i64, i64, i64)) -> i64| -> ArrayRef {
                    Arc::new(Int64Array::from_iter_values(chunk.iter().map(f)))
                };
                // Every 97th row has a NULL day (skipped).
                let days: ArrayRef = Arc::new(Int64Array::from_iter(
                    chunk.iter().map(|r| (r.2 % 97 != 0).then_some(r.1)),
                ));
                let cents =
                    Decimal128Array::from_iter_values(chunk.iter().map(|r| i128::from(r.2)))
                        .with_precision_and_scale(18, 2)?;
                RecordBatch::try_new(schema.clone(), vec![col(|r| r.0), days, Arc::new(cents)])
                    .map(|b| vec![b])
            })
            .collect::<std::result::Result<_, _>>()?;
        ctx.register_table("p", Arc::new(MemTable::try_new(schema, parts)?))?;
        Ok(ctx)
    }

    /// (days, first_day, last_day, first_amount, total) per customer, the amounts in cents,
    /// as two grouping steps compute them.
    fn plain(rows: &[(i64, i64, i64)]) -> BTreeMap<i64, (i64, i64, i64, i64, i64)> {
        let mut per_day: BTreeMap<i64, BTreeMap<i64, i64>> = BTreeMap::new();
        for &(c, d, cents) in rows {
            if cents % 97 != 0 {
                *per_day.entry(c).or_default().entry(d).or_default() += cents;
            }
        }
        per_day
            .into_iter()
            .map(|(c, days)| {
                let (&d0, &a0) = days.first_key_value().expect("a day");
                let (&d1, _) = days.last_key_value().expect("a day");
                (c, (days.len() as i64, d0, d1, a0, days.values().sum()))
            })
            .collect()
    }

    const PER_CUSTOMER: &str = "SELECT customer, s['days'] AS days, s['first_day'] AS f, \
         s['last_day'] AS l, CAST(s['first_amount'] * 100 AS BIGINT) AS fa, \
         CAST(s['total'] * 100 AS BIGINT) AS t \
         FROM (SELECT customer, purchase_days(day, amount) AS s FROM p GROUP BY customer)";

    async fn query(ctx: &SessionContext) -> Result<BTreeMap<i64, (i64, i64, i64, i64, i64)>> {
        let batches = ctx.sql(PER_CUSTOMER).await?.collect().await?;
        let mut out = BTreeMap::new();
        for b in &batches {
            let col = |i: usize| b.column(i).as_primitive::<Int64Type>().clone();
            let cols: Vec<Int64Array> = (0..6).map(col).collect();
            for r in 0..b.num_rows() {
                out.insert(
                    cols[0].value(r),
                    (
                        cols[1].value(r),
                        cols[2].value(r),
                        cols[3].value(r),
                        cols[4].value(r),
                        cols[5].value(r),
                    ),
                );
            }
        }
        Ok(out)
    }

    #[tokio::test]
    async fn equals_grouping_by_day_then_customer_for_any_partitioning() -> Result<()> {
        let rows = purchases(7, 3_000, 400);
        let want = plain(&rows);
        assert!(
            want.values().any(|v| v.0 >= 3),
            "some customers buy on 3+ days"
        );
        for partitions in [1, 3, 8] {
            for skip_partial in [false, true] {
                let ctx = context(&rows, partitions, skip_partial).await?;
                let got = query(&ctx).await?;
                assert_eq!(got, want, "{partitions} partitions, skip {skip_partial}");
                let plan = ctx
                    .sql(&format!("EXPLAIN ANALYZE {PER_CUSTOMER}"))
                    .await?
                    .collect()
                    .await?;
                let plan = format!("{}", pretty_format_batches(&plan)?);
                assert_eq!(plan.contains("mode=Partial"), partitions > 1, "{plan}");
                let skipped = plan.contains("skipped_aggregation_rows=0")
                    || !plan.contains("skipped_aggregation_rows");
                assert_eq!(!skipped, skip_partial && partitions > 1, "{plan}");
            }
        }
        Ok(())
    }

    #[tokio::test]
    async fn without_group_by_null_rows_and_bad_types() -> Result<()> {
        let ctx = SessionContext::new();
        ctx.register_udaf(purchase_days_udaf());
        let one = ctx
            .sql(
                "SELECT purchase_days(day, CAST(amount AS DECIMAL(18, 6))) AS s \
                 FROM (VALUES (3, 1.5), (1, 2.0), (3, 0.25), (NULL, 9.0), (2, NULL)) t(day, amount)",
            )
            .await?
            .collect()
            .await?;
        let text = array_value_to_string(one[0].column(0), 0)?;
        assert_eq!(
            text,
            "{days: 2, first_day: 1, last_day: 3, first_amount: 2.000000, total: 3.750000}"
        );
        let empty = ctx
            .sql(
                "SELECT purchase_days(day, CAST(amount AS DECIMAL(18, 6))) IS NULL \
                 FROM (VALUES (1, 2.0)) t(day, amount) WHERE day > 5",
            )
            .await?
            .collect()
            .await?;
        assert!(empty[0].column(0).as_boolean().value(0));
        let err = ctx
            .sql("SELECT purchase_days(day, amount) FROM (VALUES (1, 2.0)) t(day, amount)")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("purchase_days: amount must be a DECIMAL"),
            "{err}"
        );
        Ok(())
    }
}

//! `kmeans_sample(centroids, seed, round, l, cost, key, x1, ..., xd)`: whether a row is
//! drawn in one round of k-means|| initialisation (Bahmani, Moseley, Vattani, Kumar and
//! Vassilvitskii 2012, "Scalable K-Means++", as Spark MLlib's `initKMeansParallel` does it).
//!
//! ```sql
//! SELECT customer_id, x, y, z FROM features
//! WHERE kmeans_sample('0.5,1.0,2.0', 42, 1, 20.0, 1234.5, customer_id, x, y, z);
//! ```
//!
//! A row is drawn with probability min(1, l · min_c ‖x − c‖² / cost): `centroids` (string
//! literal, k*d values row-major, [`crate::format_centroids`]) are the candidates chosen so
//! far, `l` (Float64) the oversampling factor, `cost` (Float64) their total cost
//! (`kmeans_cost`). The draw u ∈ [0, 1) is [`crate::sample_uniform`]`(seed, round, key)`, a
//! pure function of the Int64 `seed` and `round` and of the row's `key` (the customer id),
//! so a row is drawn the same way on any machine, partitioning and batch size. The row is
//! drawn when u < l · d² / cost. `cost <= 0` draws nothing; a NULL key or feature is never
//! drawn; a NaN or infinite feature is an error. Leading arguments may arrive as scalars or
//! as (constant) arrays.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, StringArrayType};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, exec_datafusion_err, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

use crate::args::{KmeansArgs, Leading};
use crate::documentation::kmeans_doc;
use crate::literal::{constant_f64, constant_i64};
use crate::rows::{Nearest, for_each_valid_row};
use crate::sample_draw::sample_uniform;

const NAME: &str = "kmeans_sample";

const ARGS: KmeansArgs = KmeansArgs {
    func: NAME,
    leading: &[
        ("centroids", Leading::Text),
        ("seed", Leading::Int64),
        ("round", Leading::Int64),
        ("l", Leading::Float64),
        ("cost", Leading::Float64),
        ("key", Leading::Text),
    ],
};

/// The UDF struct holds only its signature: functions travel to Ballista executors by
/// name, so centroids, seed, round, l and cost arrive as SQL literal arguments.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct KmeansSampleUdf {
    signature: Signature,
}

impl Default for KmeansSampleUdf {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for KmeansSampleUdf {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    /// centroids and key stay strings, seed and round → Int64, l, cost and x → Float64.
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        ARGS.coerce_types(arg_types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let no_rows = || ColumnarValue::Array(Arc::new(BooleanArray::from(Vec::<bool>::new())));
        let Some(call) = ARGS.read_scalar(&args)? else {
            return Ok(no_rows());
        };
        let [_, seed, round, l, cost, key] = call.leading else {
            return exec_err!("{NAME}: expected six leading arguments");
        };
        let (Some(seed), Some(round), Some(l), Some(cost)) = (
            constant_i64(NAME, "seed", seed)?,
            constant_i64(NAME, "round", round)?,
            constant_f64(NAME, "l", l)?,
            constant_f64(NAME, "cost", cost)?,
        ) else {
            // Constant arrays of zero rows.
            return Ok(no_rows());
        };
        let n = args.number_rows;
        let mut out = vec![false; n];
        // No cost (every point is a candidate already), or a NaN: nothing to draw.
        if cost > 0.0 {
            let keys = key.to_array(n)?;
            let columns = &call.features;
            let draw = Draw {
                centres: &call.centres,
                seed,
                round,
                l,
                cost,
            };
            match keys.data_type() {
                DataType::Utf8 => draw.rows(keys.as_string::<i32>(), columns, &mut out)?,
                DataType::LargeUtf8 => draw.rows(keys.as_string::<i64>(), columns, &mut out)?,
                DataType::Utf8View => draw.rows(keys.as_string_view(), columns, &mut out)?,
                _ => {
                    let keys = cast(&keys, &DataType::Utf8)
                        .map_err(|e| exec_datafusion_err!("{NAME}: argument key: {e}"))?;
                    draw.rows(keys.as_string::<i32>(), columns, &mut out)?
                }
            }
        }
        Ok(ColumnarValue::Array(
            Arc::new(BooleanArray::from(out)) as ArrayRef
        ))
    }
}

/// What `SHOW FUNCTIONS` and the docs API say about `kmeans_sample`.
static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    kmeans_doc(
        &ARGS,
        "Whether a row is drawn in one round of k-means|| initialisation: with probability \
         min(1, l * dist / cost), dist the squared distance to the nearest candidate so far. \
         The uniform draw is a pure function of (seed, round, key), so a row is drawn the \
         same way on any machine, partitioning and batch size. cost <= 0 draws nothing; a \
         NULL key or feature is never drawn; a NaN or infinite feature is an error.",
        &[
            "string literal of the candidates chosen so far, k*d comma-separated numbers, \
             row-major",
            "Int64 literal: the seed of the run",
            "Int64 literal: the k-means|| round",
            "Float64 literal: the oversampling factor",
            "Float64 literal: the total cost of the candidates (kmeans_cost)",
            "string: the key of the row (the customer id) the draw is a function of",
        ],
        "> SELECT customer_id FROM features\n  \
         WHERE kmeans_sample('0.5,1.0,2.0', 42, 1, 20.0, 1234.5, customer_id, x, y, z);",
    )
});

/// The SQL function, ready to register.
pub fn kmeans_sample_udf() -> ScalarUDF {
    ScalarUDF::from(KmeansSampleUdf::default())
}

/// One round's parameters.
struct Draw<'a> {
    centres: &'a [f64],
    seed: i64,
    round: i64,
    l: f64,
    cost: f64,
}

impl Draw<'_> {
    /// Sets `out[i]` for every row with a key and all features.
    fn rows<'k, S: StringArrayType<'k>>(
        &self,
        keys: S,
        columns: &[ArrayRef],
        out: &mut [bool],
    ) -> Result<()> {
        let mut rows = Nearest::new(self.centres, |i, _: &[f64], _, dist: f64| {
            if keys.is_null(i) {
                return Ok(());
            }
            if !dist.is_finite() {
                return Err(i);
            }
            out[i] =
                sample_uniform(self.seed, self.round, keys.value(i)) < self.l * dist / self.cost;
            Ok(())
        });
        for_each_valid_row(NAME, columns, &mut rows)?
            .or_else(|row| exec_err!("{NAME}: row {row} has a NaN or infinite feature"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::centroids::{format_centroids, nearest};
    use crate::test_data::{XorShift, blobs};
    use datafusion::arrow::array::{Float64Array, StringArray};
    use datafusion::arrow::datatypes::Field;
    use datafusion::common::ScalarValue;

    /// Calls the UDF directly on the rows, with scalar or array leading arguments.
    #[allow(clippy::too_many_arguments)]
    fn sample(
        centroids: &str,
        seed: i64,
        round: i64,
        l: f64,
        cost: f64,
        keys: &[Option<String>],
        points: &[f64],
        d: usize,
        scalars: bool,
    ) -> Result<Vec<bool>> {
        let n = keys.len();
        let lead = |v: ScalarValue| -> Result<ColumnarValue> {
            Ok(if scalars {
                ColumnarValue::Scalar(v)
            } else {
                ColumnarValue::Array(v.to_array_of_size(n)?)
            })
        };
        let mut args = vec![
            lead(ScalarValue::Utf8(Some(centroids.to_string())))?,
            lead(ScalarValue::Int64(Some(seed)))?,
            lead(ScalarValue::Int64(Some(round)))?,
            lead(ScalarValue::Float64(Some(l)))?,
            lead(ScalarValue::Float64(Some(cost)))?,
            ColumnarValue::Array(Arc::new(StringArray::from(keys.to_vec()))),
        ];
        for j in 0..d {
            let col: Float64Array = (0..n).map(|i| Some(points[i * d + j])).collect();
            args.push(ColumnarValue::Array(Arc::new(col)));
        }
        let out = KmeansSampleUdf::default().invoke_with_args(ScalarFunctionArgs {
            args,
            arg_fields: vec![],
            number_rows: n,
            return_field: Arc::new(Field::new("s", DataType::Boolean, true)),
            config_options: Arc::default(),
        })?;
        let ColumnarValue::Array(a) = out else {
            return exec_err!("expected an array");
        };
        Ok(a.as_boolean().iter().map(|v| v.unwrap_or(false)).collect())
    }

    fn keys(n: usize) -> Vec<Option<String>> {
        (0..n).map(|i| Some(format!("CUST{i:06}"))).collect()
    }

    #[test]
    fn sampling_is_deterministic_and_independent_of_batch_split() -> Result<()> {
        let mut rng = XorShift::new(4);
        let (n, d) = (2000, 3);
        let points = blobs(&mut rng, n, d, 3);
        let keys = keys(n);
        let c = format_centroids(&points[..d]);
        let whole = sample(&c, 42, 1, 6.0, 5000.0, &keys, &points, d, true)?;
        assert_eq!(
            whole,
            sample(&c, 42, 1, 6.0, 5000.0, &keys, &points, d, false)?
        );
        // In batches of 333 rows.
        let mut split = Vec::new();
        for lo in (0..n).step_by(333) {
            let hi = (lo + 333).min(n);
            split.extend(sample(
                &c,
                42,
                1,
                6.0,
                5000.0,
                &keys[lo..hi],
                &points[lo * d..hi * d],
                d,
                lo % 2 == 0,
            )?);
        }
        assert_eq!(whole, split);
        // Another round or seed draws other rows.
        assert_ne!(
            whole,
            sample(&c, 42, 2, 6.0, 5000.0, &keys, &points, d, true)?
        );
        assert_ne!(
            whole,
            sample(&c, 43, 1, 6.0, 5000.0, &keys, &points, d, true)?
        );
        Ok(())
    }

    #[test]
    fn sampling_rate_is_l_times_distance_over_cost() -> Result<()> {
        let mut rng = XorShift::new(21);
        let (n, d) = (20_000, 2);
        let points = blobs(&mut rng, n, d, 4);
        let keys = keys(n);
        let centres = points[..2 * d].to_vec();
        let dist: Vec<f64> = (0..n)
            .map(|i| nearest(&centres, d, &points[i * d..i * d + d]).1)
            .collect();
        let total: f64 = dist.iter().sum();
        let l = 50.0;
        let expected: f64 = dist.iter().map(|x| (l * x / total).min(1.0)).sum();
        let got = sample(
            &format_centroids(&centres),
            7,
            1,
            l,
            total,
            &keys,
            &points,
            d,
            true,
        )?;
        let drawn = got.iter().filter(|b| **b).count() as f64;
        // Binomial-like: the standard deviation is below sqrt(expected).
        assert!(
            (drawn - expected).abs() < 4.0 * expected.sqrt(),
            "drawn {drawn}, expected {expected}"
        );
        // Far rows are drawn more often than near ones.
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|a, b| dist[*a].total_cmp(&dist[*b]));
        let near = order[..n / 2].iter().filter(|i| got[**i]).count();
        let far = order[n / 2..].iter().filter(|i| got[**i]).count();
        assert!(far > 2 * near, "far {far}, near {near}");
        // l * d² >= cost: certain.
        assert!(
            sample(
                "100.0",
                1,
                1,
                1.0,
                1.0,
                &keys[..3],
                &[0.0, 1.0, 2.0],
                1,
                true
            )?
            .iter()
            .all(|b| *b)
        );
        Ok(())
    }

    #[test]
    fn zero_cost_and_null_keys_draw_nothing() -> Result<()> {
        let points = [0.0, 5.0, 9.0];
        let k = keys(3);
        assert_eq!(
            sample("100.0", 1, 1, 10.0, 0.0, &k, &points, 1, true)?,
            vec![false; 3]
        );
        assert_eq!(
            sample("100.0", 1, 1, 10.0, -1.0, &k, &points, 1, false)?,
            vec![false; 3]
        );
        let with_null = vec![None, Some("a".to_string()), None];
        assert_eq!(
            sample("100.0", 1, 1, 1e9, 1.0, &with_null, &points, 1, true)?,
            vec![false, true, false]
        );
        Ok(())
    }

    #[tokio::test]
    async fn sql_sample_with_literals_and_null_features() -> Result<()> {
        use datafusion::prelude::SessionContext;
        let ctx = SessionContext::new();
        ctx.register_udf(kmeans_sample_udf());
        let batches = ctx
            .sql(
                "SELECT kmeans_sample('0.0,0.0', 42, 1, 1e9, 1, id, x, y) FROM \
                 (VALUES ('a', 1.0, 1.0), ('b', NULL, 2.0), (NULL, 3.0, 3.0), ('d', 0.0, 0.0)) t(id, x, y)",
            )
            .await?
            .collect()
            .await?;
        let got: Vec<Option<bool>> = batches[0].column(0).as_boolean().iter().collect();
        // d² = 0 for the last row: probability 0.
        assert_eq!(got, vec![Some(true), Some(false), Some(false), Some(false)]);
        let err = ctx
            .sql("SELECT kmeans_sample('0.0,0.0,1.0', 42, 1, 2.0, 1.0, 'k', 1.0, 2.0)")
            .await?
            .collect()
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("kmeans_sample: centroids has 3 values, not a multiple of d = 2"),
            "{err}"
        );
        Ok(())
    }
}

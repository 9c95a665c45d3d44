//! `kmeans_assign(centroids, x1, ..., xd)`: the index (0-based) of the centre nearest to a
//! row, to write each customer's cluster and to score new customers (`rfmseg score`).
//!
//! ```sql
//! SELECT kmeans_assign('0.0,0.0,10.0,0.0', 9.0, 1.0);   -- 1
//! SELECT customer_id, kmeans_assign('...', x, y, z) AS cluster FROM features;
//! ```
//!
//! `centroids` is a string literal of k*d comma-separated f64, row-major
//! ([`crate::format_centroids`]); d is the number of trailing Float64 feature columns. The
//! nearest centre is [`crate::nearest`]'s: smallest squared Euclidean distance in f64, ties
//! to the lowest index, so it is the centre whose sums `kmeans_step` adds the row to. NULL
//! when any feature is NULL; a NaN or infinite feature is an error.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{ArrayRef, Int32Array};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

use crate::args::{KmeansArgs, Leading};
use crate::documentation::{CENTROIDS, kmeans_doc};
use crate::rows::{Nearest, for_each_valid_row};

const NAME: &str = "kmeans_assign";

const ARGS: KmeansArgs = KmeansArgs {
    func: NAME,
    leading: &[("centroids", Leading::Text)],
};

/// The UDF struct holds only its signature: functions travel to Ballista executors by
/// name, so the centroids arrive as a SQL literal argument.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct KmeansAssignUdf {
    signature: Signature,
}

impl Default for KmeansAssignUdf {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for KmeansAssignUdf {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    /// centroids stays a string; x → Float64.
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        ARGS.coerce_types(arg_types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int32)
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let Some(call) = ARGS.read_scalar(&args)? else {
            return Ok(ColumnarValue::Array(Arc::new(Int32Array::from(
                Vec::<i32>::new(),
            ))));
        };
        let centres = call.centres;
        if centres.len() / call.features.len() > i32::MAX as usize {
            return exec_err!("{NAME}: too many centres for an Int32 index");
        }
        let mut out = vec![0i32; args.number_rows];
        let mut rows = Nearest::new(&centres, |i, x: &[f64], best, _| {
            if x.iter().any(|v| !v.is_finite()) {
                return Err(i);
            }
            out[i] = best as i32;
            Ok(())
        });
        for_each_valid_row(NAME, &call.features, &mut rows)?
            .or_else(|row| exec_err!("{NAME}: row {row} has a NaN or infinite feature"))?;
        Ok(ColumnarValue::Array(
            Arc::new(Int32Array::new(out.into(), call.nulls)) as ArrayRef,
        ))
    }
}

/// What `SHOW FUNCTIONS` and the docs API say about `kmeans_assign`.
static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    kmeans_doc(
        &ARGS,
        "The index (0-based, Int32) of the centre nearest to a row: smallest squared \
         Euclidean distance, ties to the lowest index, so the centre whose sums kmeans_step \
         adds the row to. NULL when a feature is NULL; a NaN or infinite feature is an error.",
        &[CENTROIDS],
        "> SELECT kmeans_assign('0.0,0.0,10.0,0.0', 9.0, 1.0);\n1",
    )
});

/// The SQL function, ready to register.
pub fn kmeans_assign_udf() -> ScalarUDF {
    ScalarUDF::from(KmeansAssignUdf::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::datatypes::Int32Type;
    use datafusion::prelude::SessionContext;

    async fn run(ctx: &SessionContext, sql: &str) -> Result<Vec<Option<i32>>> {
        let batches = ctx.sql(sql).await?.collect().await?;
        Ok(batches
            .iter()
            .flat_map(|b| {
                b.column(0)
                    .as_primitive::<Int32Type>()
                    .iter()
                    .collect::<Vec<_>>()
            })
            .collect())
    }

    #[tokio::test]
    async fn sql_assigns_nearest_centre_and_keeps_nulls() -> Result<()> {
        let ctx = SessionContext::new();
        ctx.register_udf(kmeans_assign_udf());
        // (5, 0) is equally far from both centres: the lower index wins.
        let got = run(
            &ctx,
            "SELECT kmeans_assign('0.0,0.0,10.0,0.0', x, y) FROM \
             (VALUES (1.0, 1.0), (9.0, -1.0), (5.0, 0.0), (NULL, 2.0), (12, 0)) t(x, y)",
        )
        .await?;
        assert_eq!(got, vec![Some(0), Some(1), Some(0), None, Some(1)]);
        // All literals: integers coerce to Float64.
        assert_eq!(
            run(&ctx, "SELECT kmeans_assign('0.0,10.0', 9)").await?,
            vec![Some(1)]
        );
        Ok(())
    }

    #[tokio::test]
    async fn wrong_centroid_length_is_an_error() -> Result<()> {
        let ctx = SessionContext::new();
        ctx.register_udf(kmeans_assign_udf());
        let err = run(
            &ctx,
            "SELECT kmeans_assign('0.0,1.0,2.0', x, y) FROM (VALUES (1.0, 1.0)) t(x, y)",
        )
        .await
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("kmeans_assign: centroids has 3 values, not a multiple of d = 2"),
            "{err}"
        );
        let err = run(&ctx, "SELECT kmeans_assign('0.0')").await.unwrap_err();
        assert!(
            err.to_string().contains("at least one feature column"),
            "{err}"
        );
        let err = run(
            &ctx,
            "SELECT kmeans_assign(c, x) FROM (VALUES ('0.0', 1.0), ('1.0', 2.0)) t(c, x)",
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("one constant literal"), "{err}");
        Ok(())
    }

    #[test]
    fn non_finite_features_are_errors() {
        let udf = KmeansAssignUdf::default();
        let xs: ArrayRef = Arc::new(datafusion::arrow::array::Float64Array::from(vec![
            1.0,
            f64::NAN,
        ]));
        let args = ScalarFunctionArgs {
            args: vec![
                ColumnarValue::Scalar(datafusion::common::ScalarValue::Utf8(Some("0.0".into()))),
                ColumnarValue::Array(xs),
            ],
            arg_fields: vec![],
            number_rows: 2,
            return_field: Arc::new(datafusion::arrow::datatypes::Field::new(
                "r",
                DataType::Int32,
                true,
            )),
            config_options: Arc::default(),
        };
        let err = udf.invoke_with_args(args).unwrap_err();
        assert!(err.to_string().contains("row 1 has a NaN"), "{err}");
    }
}

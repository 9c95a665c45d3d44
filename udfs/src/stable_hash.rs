//! `stable_hash(text)`: a 63-bit hash of a string that is the same on every machine,
//! every run and every version of rfmseg.
//!
//! ```sql
//! SELECT stable_hash('AGKHLEW2SOWHNMFQIJGBECAF7INQ') % 16;  -- the customer's mini-batch
//! ```
//!
//! DataFusion's own hashes are seeded per process, so they cannot assign a customer to a
//! mini-batch that embedded and distributed runs agree on. This is FNV-1a (64-bit) over
//! the UTF-8 bytes, with the top bit cleared so the result is a non-negative BIGINT.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, Int64Array, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct StableHashUdf {
    signature: Signature,
}

impl Default for StableHashUdf {
    fn default() -> Self {
        Self {
            signature: Signature::string(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for StableHashUdf {
    fn name(&self) -> &str {
        "stable_hash"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [value] = args.args.as_slice() else {
            return exec_err!("stable_hash expects one argument, got {}", args.args.len());
        };
        match value {
            ColumnarValue::Scalar(s) => {
                let text = match s {
                    ScalarValue::Utf8(v) | ScalarValue::LargeUtf8(v) | ScalarValue::Utf8View(v) => {
                        v.as_deref()
                    }
                    ScalarValue::Null => None,
                    other => {
                        return exec_err!(
                            "stable_hash expects a string, got {}",
                            other.data_type()
                        );
                    }
                };
                Ok(ColumnarValue::Scalar(ScalarValue::Int64(
                    text.map(stable_hash),
                )))
            }
            ColumnarValue::Array(array) => {
                let utf8 = cast(array, &DataType::Utf8)?;
                let Some(strings) = utf8.as_any().downcast_ref::<StringArray>() else {
                    return exec_err!("stable_hash: cast to Utf8 did not give a string array");
                };
                let hashed: Int64Array = strings.iter().map(|v| v.map(stable_hash)).collect();
                Ok(ColumnarValue::Array(Arc::new(hashed) as ArrayRef))
            }
        }
    }
}

/// The SQL function, ready to register.
pub fn stable_hash_udf() -> ScalarUDF {
    ScalarUDF::from(StableHashUdf::default())
}

/// FNV-1a 64 over the bytes, top bit cleared.
pub fn stable_hash(s: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h & (u64::MAX >> 1)) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Published FNV-1a 64 test vectors (top bit cleared): the hash must never change, or
    /// saved models would put customers in other mini-batches.
    #[test]
    fn matches_published_fnv1a_vectors() {
        assert_eq!(
            stable_hash(""),
            (0xcbf2_9ce4_8422_2325u64 & (u64::MAX >> 1)) as i64
        );
        assert_eq!(
            stable_hash("a"),
            (0xaf63_dc4c_8601_ec8cu64 & (u64::MAX >> 1)) as i64
        );
        assert_eq!(
            stable_hash("foobar"),
            (0x8594_4171_f739_67e8u64 & (u64::MAX >> 1)) as i64
        );
    }

    #[tokio::test]
    async fn sql_hash_equals_the_rust_hash() -> Result<()> {
        use datafusion::prelude::SessionContext;
        let ctx = SessionContext::new();
        ctx.register_udf(stable_hash_udf());
        let batches = ctx
            .sql("SELECT stable_hash(s) FROM (VALUES ('foobar'), (NULL), ('a')) t(s)")
            .await?
            .collect()
            .await?;
        let col = batches[0]
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .cloned();
        let got: Vec<Option<i64>> = col.expect("Int64").iter().collect();
        assert_eq!(
            got,
            vec![Some(stable_hash("foobar")), None, Some(stable_hash("a"))]
        );
        Ok(())
    }
}

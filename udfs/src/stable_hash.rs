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

use std::sync::LazyLock;

use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

use crate::documentation::doc;
use crate::string_arg::map_string;

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

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        map_string::<Int64Type>("stable_hash", &args.args, |s| Some(stable_hash(s)))
    }
}

/// What `SHOW FUNCTIONS` and the docs API say about `stable_hash`.
static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    doc(
        "A non-negative 63-bit hash (BIGINT) of a string that is the same on every machine, \
         run and rfmseg version: FNV-1a 64 over the UTF-8 bytes, top bit cleared. \
         DataFusion's own hashes are seeded per process. NULL for NULL.",
        "stable_hash(text)",
        &[("text", "a string expression")],
        "> SELECT stable_hash('AGKHLEW2SOWHNMFQIJGBECAF7INQ') % 16;",
    )
});

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
    use datafusion::arrow::array::{Array, Int64Array};

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

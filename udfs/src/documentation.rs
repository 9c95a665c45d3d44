//! The `Documentation` of every rfmseg function, as DataFusion shows it: in
//! `information_schema.routines` (description, syntax example), in
//! `information_schema.parameters` and `SHOW FUNCTIONS` where the signature allows, and to
//! any caller of `ScalarUDF::documentation` / `AggregateUDF::documentation`.
//!
//! Each function keeps its text next to its code, in a `LazyLock` static built with these
//! helpers, so that all of them share one doc section and the k-means functions describe
//! their shared argument list ([`KmeansArgs`]) the same way.

use datafusion::logical_expr::{DocSection, Documentation};

use crate::args::KmeansArgs;

/// The section every rfmseg function is listed under.
const SECTION: DocSection = DocSection {
    include: true,
    label: "rfmseg functions",
    description: Some("RFM customer segmentation: cleaning, hashing and k-means"),
};

/// What the trailing feature columns of every k-means function are.
const FEATURES: &str = "d >= 1 numeric feature columns (cast to Float64), in the order of \
     the centroids' coordinates; a row with a NULL feature is skipped (NULL for a scalar \
     function)";

/// What the `centroids` argument of every k-means function is.
pub(crate) const CENTROIDS: &str = "string literal of k*d comma-separated numbers, row-major \
     (centre 0's d coordinates, then centre 1's, ...), the same for every row";

/// The documentation of a function: a description, a syntax example, the arguments in
/// order (name, description) and an SQL example.
pub(crate) fn doc(
    description: &str,
    syntax: &str,
    args: &[(&str, &str)],
    sql_example: &str,
) -> Documentation {
    args.iter()
        .fold(
            Documentation::builder(SECTION, description, syntax),
            |b, (name, text)| b.with_argument(*name, *text),
        )
        .with_sql_example(format!("```sql\n{sql_example}\n```"))
        .build()
}

/// The documentation of a k-means function: its syntax is its argument list, and
/// `leading` describes the leading arguments in order (the features are described here).
pub(crate) fn kmeans_doc(
    args: &KmeansArgs,
    description: &str,
    leading: &[&str],
    sql_example: &str,
) -> Documentation {
    debug_assert_eq!(args.leading.len(), leading.len());
    let mut described: Vec<(&str, &str)> = args
        .leading
        .iter()
        .map(|(name, _)| *name)
        .zip(leading.iter().copied())
        .collect();
    described.push(("x1, ..., xd", FEATURES));
    doc(description, &args.usage(), &described, sql_example)
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::common::Result;
    use datafusion::prelude::{SessionConfig, SessionContext};

    use crate::{aggregate_udfs, register_all, scalar_udfs};

    #[test]
    fn every_function_has_a_description_a_syntax_example_and_its_arguments() {
        let docs = scalar_udfs()
            .iter()
            .map(|f| (f.name().to_string(), f.documentation().cloned()))
            .chain(
                aggregate_udfs()
                    .iter()
                    .map(|f| (f.name().to_string(), f.documentation().cloned())),
            )
            .collect::<Vec<_>>();
        assert_eq!(docs.len(), 12);
        for (name, doc) in docs {
            let doc = doc.unwrap_or_else(|| panic!("{name} has no documentation"));
            assert!(!doc.description.trim().is_empty(), "{name}: no description");
            assert!(
                doc.syntax_example.starts_with(&format!("{name}(")),
                "{name}: syntax example {:?}",
                doc.syntax_example
            );
            assert!(
                doc.sql_example
                    .as_deref()
                    .is_some_and(|s| s.contains(&name)),
                "{name}: SQL example {:?}",
                doc.sql_example
            );
            let args = doc.arguments.unwrap_or_default();
            assert!(!args.is_empty(), "{name}: no arguments documented");
            for (arg, text) in args {
                assert!(
                    doc.syntax_example.contains(&arg) && !text.trim().is_empty(),
                    "{name}: argument {arg:?}"
                );
            }
        }
    }

    /// What `rfmseg sql` users see with the information schema on.
    #[tokio::test]
    async fn information_schema_lists_every_function_with_its_description() -> Result<()> {
        let ctx =
            SessionContext::new_with_config(SessionConfig::new().with_information_schema(true));
        register_all(&ctx);
        let batches = ctx
            .sql(
                "SELECT DISTINCT routine_name, description, syntax_example \
                 FROM information_schema.routines \
                 WHERE routine_name LIKE 'kmeans%' OR routine_name IN ('parse_price', \
                 'stable_hash', 'clv_predict', 'bgnbd_ll', 'gamma_gamma_ll') \
                 ORDER BY routine_name",
            )
            .await?
            .collect()
            .await?;
        let mut rows = Vec::new();
        for b in &batches {
            let (names, descriptions, syntax) = (
                b.column(0).as_string::<i32>(),
                b.column(1).as_string::<i32>(),
                b.column(2).as_string::<i32>(),
            );
            for i in 0..b.num_rows() {
                assert!(!descriptions.is_null(i) && !syntax.is_null(i));
                assert!(syntax.value(i).starts_with(names.value(i)));
                rows.push(names.value(i).to_string());
            }
        }
        assert_eq!(
            rows,
            [
                "bgnbd_ll",
                "clv_predict",
                "gamma_gamma_ll",
                "kmeans_assign",
                "kmeans_cost",
                "kmeans_sample",
                "kmeans_silhouette",
                "kmeans_step",
                "parse_price",
                "stable_hash"
            ]
        );
        Ok(())
    }
}

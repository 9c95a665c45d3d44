//! Labels: every customer assigned to its nearest centre (sql/kmeans_assign.sql), the
//! clusters named from their centres and mean recency and frequency ([`super::segments`]),
//! and the labelled `customers` (sql/label_customers.sql). `score` runs the same assignment and labelling with a saved
//! model's centres and names.
//!
//! Place in the flow: model -> **labels** -> report data.

use arrow::array::AsArray;
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int64Type};
use datafusion::prelude::SessionContext;

use super::kmeans::Clustering;
use super::kmeans::queries::centroids_literal;
use super::report_data::GROUP_SUMMARY_SQL;
use super::segments::cluster_labels;
use crate::error::{Error, Result};
use crate::exec::query::{collect, f64_column, materialize, register_view};
use crate::exec::{render, sql_string};

pub const KMEANS_ASSIGN_SQL: &str = include_str!("../../../../sql/kmeans_assign.sql");
pub const LABEL_CUSTOMERS_SQL: &str = include_str!("../../../../sql/label_customers.sql");

/// Assigns every customer its cluster, names the clusters from their centres, and
/// registers the labelled `customers`. Returns the labels by cluster index.
pub async fn label_customers(ctx: &SessionContext, clustering: &Clustering) -> Result<Vec<String>> {
    let model = &clustering.model;
    assign_clusters(ctx, &model.centroids).await?;
    let sql = render(
        "group_summary",
        GROUP_SUMMARY_SQL,
        &[("group", "cluster".into()), ("table", "clustered".into())],
    )?;
    let rows = collect(ctx, "group_summary", &sql).await?;
    let mut recency = vec![f64::NAN; model.k];
    let mut frequency = vec![f64::NAN; model.k];
    for b in &rows {
        let cluster = cast(
            b.column_by_name("name")
                .ok_or_else(|| Error::Internal("group_summary: no column name".into()))?,
            &DataType::Int64,
        )
        .map_err(|e| Error::Internal(e.to_string()))?;
        let cluster = cluster.as_primitive::<Int64Type>();
        let r = f64_column(b, "mean_recency")?;
        let f = f64_column(b, "mean_frequency")?;
        for i in 0..b.num_rows() {
            let c = cluster.value(i) as usize;
            if c < model.k {
                recency[c] = r[i];
                frequency[c] = f[i];
            }
        }
    }
    // A cluster with no customers (possible for a saved model on new data) sorts last.
    let labels = cluster_labels(
        &clustering.model.centroid_rows(),
        &recency
            .iter()
            .map(|v| if v.is_nan() { f64::MIN } else { *v })
            .collect::<Vec<_>>(),
        &frequency
            .iter()
            .map(|v| if v.is_nan() { f64::MIN } else { *v })
            .collect::<Vec<_>>(),
    );
    register_labels(ctx, &labels).await?;
    Ok(labels)
}

/// Registers `clustered`: customers with the index of their nearest centre. A view, not a
/// table: its two readers (the cluster means, then the labelled customers) each assign
/// again, which costs less than a query to store it (on a cluster, a job).
pub async fn assign_clusters(ctx: &SessionContext, centroids: &[f64]) -> Result<()> {
    let sql = render(
        "kmeans_assign",
        KMEANS_ASSIGN_SQL,
        &[("centroids", centroids_literal(centroids))],
    )?;
    register_view(ctx, "kmeans_assign", &sql, "clustered").await
}

/// Replaces `customers` by the labelled customers (`labels` by cluster index).
pub async fn register_labels(ctx: &SessionContext, labels: &[String]) -> Result<()> {
    let label = match labels {
        [] => {
            return Err(Error::Internal("no cluster labels to register".into()));
        }
        [only] => sql_string(only),
        [first @ .., last] => {
            let cases: Vec<String> = first
                .iter()
                .enumerate()
                .map(|(i, label)| format!("WHEN {i} THEN {}", sql_string(label)))
                .collect();
            format!(
                "CASE c.cluster {} ELSE {} END",
                cases.join(" "),
                sql_string(last)
            )
        }
    };
    let sql = render("label_customers", LABEL_CUSTOMERS_SQL, &[("label", label)])?;
    materialize(ctx, "label_customers", &sql, "customers").await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int32Array, RecordBatch, StringArray};
    use datafusion::datasource::MemTable;
    use std::sync::Arc;

    /// Registers `clustered` with these clusters, labels it, and returns (cluster, label)
    /// of every labelled customer and whether the label column may be NULL.
    async fn labelled(clusters: Vec<i32>, labels: &[&str]) -> (Vec<(i32, String)>, bool) {
        let ids: Vec<String> = (0..clusters.len()).map(|i| format!("c{i}")).collect();
        let batch = RecordBatch::try_from_iter([
            ("customer_id", Arc::new(StringArray::from(ids)) as _),
            ("cluster", Arc::new(Int32Array::from(clusters)) as _),
        ])
        .unwrap();
        let ctx = crate::exec::local_context(&crate::Config::default());
        let table = MemTable::try_new(batch.schema(), vec![vec![batch]]).unwrap();
        ctx.register_table("clustered", Arc::new(table)).unwrap();
        let labels: Vec<String> = labels.iter().map(|s| s.to_string()).collect();
        register_labels(&ctx, &labels).await.unwrap();
        let df = ctx.table("customers").await.unwrap();
        let nullable = df
            .schema()
            .field_with_unqualified_name("cluster_label")
            .unwrap()
            .is_nullable();
        let mut rows = Vec::new();
        for b in df.collect().await.unwrap() {
            let clusters = crate::exec::query::i64_column(&b, "cluster").unwrap();
            let names = crate::exec::query::str_column(&b, "cluster_label").unwrap();
            rows.extend(clusters.into_iter().map(|c| c as i32).zip(names));
        }
        rows.sort();
        (rows, nullable)
    }

    #[tokio::test]
    async fn every_customer_gets_its_clusters_label_never_null() {
        let (rows, nullable) =
            labelled(vec![2, 0, 1, 2, 0], &["Lost", "Loyal", "Can't 'Lose'"]).await;
        let expected = [
            (0, "Lost"),
            (0, "Lost"),
            (1, "Loyal"),
            (2, "Can't 'Lose'"),
            (2, "Can't 'Lose'"),
        ]
        .map(|(c, l)| (c, l.to_string()));
        assert_eq!(rows, expected);
        // As the join with a table of names gave: customers.parquet keeps a REQUIRED column.
        assert!(!nullable);

        let (rows, nullable) = labelled(vec![0, 0], &["Everyone"]).await;
        assert_eq!(
            rows,
            [(0, "Everyone".to_string()), (0, "Everyone".to_string())]
        );
        assert!(!nullable);
    }
}

//! Labels: every customer assigned to its nearest centre (sql/kmeans_assign.sql), the
//! clusters named from their centres and mean recency and frequency ([`super::segments`]),
//! the names as a table (sql/cluster_labels.sql) and the labelled `customers`
//! (sql/label_customers.sql). `score` runs the same assignment and labelling with a saved
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
pub const CLUSTER_LABELS_SQL: &str = include_str!("../../../../sql/cluster_labels.sql");
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

/// Registers `cluster_labels` and replaces `customers` by the labelled customers.
pub async fn register_labels(ctx: &SessionContext, labels: &[String]) -> Result<()> {
    let rows: Vec<String> = labels
        .iter()
        .enumerate()
        .map(|(i, label)| format!("({i}, {})", sql_string(label)))
        .collect();
    let sql = render(
        "cluster_labels",
        CLUSTER_LABELS_SQL,
        &[("rows", rows.join(", "))],
    )?;
    register_view(ctx, "cluster_labels", &sql, "cluster_labels").await?;
    materialize(ctx, "label_customers", LABEL_CUSTOMERS_SQL, "customers").await?;
    Ok(())
}

//! k-means over the customers' scaled features, as SQL calling the rfmseg-udfs UDAFs:
//! the start of each fit ([`init`]: the best of seeded starts on a sample, or k-means||), Lloyd or mini-batch ([`fit`]), and the choice of
//! k by elbow and silhouette ([`select`]). The driver sees only k x d numbers per query
//! ([`queries`]); all data-parallel work runs where the data is (in-process, or on
//! Ballista executors).
//!
//! Place in the flow: features -> **model** -> report.

pub mod fit;
pub mod init;
pub mod queries;
pub mod select;

use std::sync::Arc;

use datafusion::prelude::SessionContext;
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

pub use fit::{KMeansFit, euclidean_silhouette, resolve_algorithm};
pub use queries::{D, Queries, Start};
pub use select::{KSelection, choose_k, kneedle_elbow, to_csv};

use crate::config::{Config, Init};
use crate::error::{Error, Result};

/// The clustering of one run: the k sweep (if k was chosen) and the final model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Clustering {
    pub selection: Option<KSelection>,
    pub model: KMeansFit,
}

impl Clustering {
    /// The k selection for k_selection.csv: the sweep's, or the one fit of a fixed k.
    pub fn selection_or_fit(&self) -> KSelection {
        self.selection.clone().unwrap_or_else(|| KSelection {
            fits: vec![self.model.clone()],
            elbow_k: self.model.k,
            best_silhouette_k: self.model.k,
            chosen_k: self.model.k,
            reason: String::new(),
        })
    }
}

/// Makes `table` (with recency_z, frequency_z, monetary_z, batch, customer_id) the
/// k-means input.
pub async fn use_input(ctx: &SessionContext, table: &str) -> Result<()> {
    let provider = ctx
        .table_provider(table)
        .await
        .map_err(|e| Error::stage("kmeans_input", e))?;
    ctx.deregister_table("kmeans_input")
        .map_err(|e| Error::stage("kmeans_input", e))?;
    ctx.register_table("kmeans_input", Arc::clone(&provider))
        .map_err(|e| Error::stage("kmeans_input", e))?;
    Ok(())
}

/// Clusters `kmeans_input` (`customers` rows): a fixed k, or the k chosen from the range.
pub async fn cluster(ctx: &SessionContext, config: &Config, customers: u64) -> Result<Clustering> {
    let km = &config.kmeans;
    let q = Queries::new(ctx).expecting_rows(customers);
    let algorithm = resolve_algorithm(km, customers);
    let start = q
        .start(km.seed, km.sample_size(), km.k_max as usize)
        .await?;
    let silhouette_sample =
        &start.sample[..(km.silhouette_sample as usize * D).min(start.sample.len())];
    let (ks, capped): (Vec<usize>, Option<String>) = match km.k {
        Some(k) if k as u64 > customers => {
            return Err(Error::Config {
                key: "kmeans.k (--k)".into(),
                message: format!(
                    "k = {k} but there are only {customers} customers; give --k {customers} \
                     or fewer, or leave --k out to choose k from the range"
                ),
            });
        }
        Some(k) => (vec![k as usize], None),
        None => {
            let (range, note) = sweep_range(start.distinct, km, customers)?;
            (range.collect(), note)
        }
    };
    let starts = match km.init {
        Init::Sample => starts_on_sample(&start.sample, &ks, km),
        Init::Parallel => vec![None; ks.len()],
    };
    // The fits of the sweep are independent (each k has its own seeded initialisation), so
    // they run concurrently and in lockstep: each round of `Queries` is one query holding
    // the aggregate every running fit asks for next. The same result as one fit after
    // another, in as many queries as the longest fit has steps (on a cluster, jobs, each
    // with a fixed cost).
    let concurrent = ks.len().max(1);
    q.lockstep(concurrent);
    let mut fits: Vec<KMeansFit> = futures::stream::iter(ks.into_iter().zip(starts))
        .map(|(k, init)| {
            let (q, start) = (&q, &start);
            async move {
                let fit = fit::fit_k(
                    q,
                    k,
                    km,
                    algorithm,
                    config.features.minibatches,
                    customers,
                    silhouette_sample,
                    &start.first_centre,
                    init,
                )
                .await;
                q.finished().await;
                let fit = fit?;
                tracing::info!(k, wcss = fit.wcss, silhouette = fit.silhouette, "fitted");
                Ok::<_, Error>(fit)
            }
        })
        .buffered(concurrent)
        .try_collect()
        .await?;
    if km.k.is_some() {
        let model = fits.remove(0);
        return Ok(Clustering {
            selection: None,
            model,
        });
    }
    let mut selection = choose_k(fits, km.elbow_tolerance, km.silhouette_tolerance);
    if let Some(note) = capped {
        tracing::warn!("{note}");
        selection.reason = format!("{note}. {}", selection.reason);
    }
    let model = selection
        .fits
        .iter()
        .find(|f| f.k == selection.chosen_k)
        .cloned()
        .ok_or_else(|| Error::Internal("the chosen k has no fit".into()))?;
    Ok(Clustering {
        selection: Some(selection),
        model,
    })
}

/// Each k's start from the sample ([`init::best_of_sample`]), the ks side by side on the
/// machine's cores: the only k-means work done in the driver, a fraction of a second at
/// the default 20,000 customers x 10 starts, and the same whatever the threads' timing.
fn starts_on_sample(
    sample: &[f64],
    ks: &[usize],
    km: &crate::config::KMeansConfig,
) -> Vec<Option<Vec<f64>>> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = ks
            .iter()
            .map(|&k| scope.spawn(move || init::best_of_sample(sample, k, km)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(None))
            .collect()
    })
}

/// The k of a sweep: `k_min..=k_max`, cut to what k-means can fit and compare. k must stay
/// below the number of customers (at k = customers every cluster is one customer and the
/// silhouettes compare nothing) and at most the number of distinct feature vectors
/// (k-means needs k distinct centres). The default range is capped to that, with a note
/// for the report (a small shop, or a short window, has fewer customers than 10); a range
/// the user gave is taken as meant, so one that does not fit is an error naming its flag.
fn sweep_range(
    distinct: u64,
    km: &crate::config::KMeansConfig,
    customers: u64,
) -> Result<(std::ops::RangeInclusive<usize>, Option<String>)> {
    let (lo, hi) = (km.k_min as usize, km.k_max as usize);
    // Counted up to `hi` (sql/kmeans_start.sql): exact whenever it is what limits the range.
    let distinct = distinct as usize;
    let fit = distinct.min(customers.saturating_sub(1) as usize);
    if hi <= fit {
        return Ok((lo..=hi, None));
    }
    let data = if (distinct as u64) < customers {
        let values = if distinct == 1 { "value" } else { "values" };
        format!("the {customers} customers have only {distinct} distinct R/F/M {values}")
    } else {
        format!("there are only {customers} customers")
    };
    if let Some(source) = &km.k_range_from {
        return Err(Error::Config {
            key: source.clone(),
            message: format!(
                "the k range {lo}..{hi} does not fit the data: {data}, so k-means can fit and \
                 compare at most k = {fit}; give a range ending at {fit} or below, or leave the \
                 range out to have the default range capped to the data"
            ),
        });
    }
    if fit < lo {
        return Err(Error::BadInput {
            path: "customers".into(),
            message: format!(
                "{data}: too few to choose k from {lo}..{hi}, whose smallest k needs at least \
                 {} customers and {lo} distinct R/F/M values",
                lo + 1
            ),
            hint: "widen the data (rfm.window_days, the [clean] settings), or fix the number \
                   of clusters with --k"
                .into(),
        });
    }
    let note = format!(
        "the default k range {lo}..{hi} was capped to {lo}..{fit}: {data}, and k-means can \
         fit and compare at most k = {fit}"
    );
    Ok((lo..=fit, Some(note)))
}

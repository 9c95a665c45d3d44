//! model.json: everything `rfmseg score` needs to assign new customers to the same
//! clusters and segments without refitting, and everything a reader needs to know what
//! was fitted (features, transform, scaler, centroids in both units, labels, metrics,
//! data window, seed, version, config).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::{Config, ScoreMethod};
use crate::error::{Error, Result};
use crate::stages::clv::ClvModel;
use crate::stages::kmeans::Clustering;
use crate::stages::rfm::{FeaturesSummary, RfmWindow, Scaler};
pub use crate::stages::scores::ScoreThresholds;

/// The saved model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    pub rfmseg_version: String,
    /// Model inputs, in centroid order.
    pub features: Vec<String>,
    /// How customers' R, F, M become model inputs, in words.
    pub transform: String,
    pub scaler: Scaler,
    pub k: usize,
    /// Centres in scaled units (what `kmeans_assign` compares with).
    pub centroids_z: Vec<[f64; 3]>,
    /// Centres in original units: recency (days), frequency (purchases), monetary (USD).
    pub centroids: Vec<[f64; 3]>,
    /// Label of each cluster, by index.
    pub labels: Vec<String>,
    pub wcss: f64,
    pub silhouette: f64,
    pub silhouette_sample: f64,
    pub window: RfmWindow,
    pub seed: u64,
    pub score_method: ScoreMethod,
    pub score_thresholds: ScoreThresholds,
    /// The fitted lifetime-value models; None with `--clv off`, when the data could not
    /// support a fit, or in a model.json written before CLV existed.
    #[serde(default)]
    pub clv: Option<ClvModel>,
    /// The configuration of the run: `score` cleans and windows new data the same way.
    pub config: Config,
}

/// Original units of a scaled centre: recency as is, frequency and monetary back through
/// exp(.) - 1.
pub fn unscale(z: [f64; 3], scaler: &Scaler) -> [f64; 3] {
    let x = |i: usize| z[i] * scaler.std[i] + scaler.mean[i];
    [x(0), x(1).exp() - 1.0, x(2).exp() - 1.0]
}

impl Model {
    /// The model of a run: its features' scaler and window, the chosen fit, the labels
    /// and score thresholds, and the config that produced them.
    pub fn new(
        features: &FeaturesSummary,
        clustering: &Clustering,
        labels: Vec<String>,
        score_thresholds: ScoreThresholds,
        clv: Option<ClvModel>,
        config: &Config,
    ) -> Model {
        let fit = &clustering.model;
        let centroids_z = fit.centroid_rows();
        Model {
            rfmseg_version: env!("CARGO_PKG_VERSION").into(),
            features: features.scaler.features.clone(),
            transform: "recency (days), ln(1 + frequency), ln(1 + monetary); each standard-scaled \
                        with the mean and sample standard deviation"
                .into(),
            scaler: features.scaler.clone(),
            k: fit.k,
            centroids: centroids_z
                .iter()
                .map(|z| unscale(*z, &features.scaler))
                .collect(),
            centroids_z,
            labels,
            wcss: fit.wcss,
            silhouette: fit.silhouette,
            silhouette_sample: fit.silhouette_sample,
            window: features.window.clone(),
            seed: config.kmeans.seed,
            score_method: config.features.score_method,
            score_thresholds,
            clv,
            config: config.clone(),
        }
    }

    /// Reads a local model.json.
    pub fn read(path: &Path) -> Result<Model> {
        crate::storage::local_path(path)?;
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Model::parse(path, &bytes)
    }

    /// Reads a model.json, local or on S3 (`s3://b/run/model.json`, through the run's
    /// marker, or `s3://b/run` for the run's model).
    pub async fn read_from(path: &Path) -> Result<Model> {
        use crate::storage::{Location, OutputKind, resolve_file, resolve_output, s3};
        let Location::S3(url) = Location::of(path)? else {
            return Model::read(path);
        };
        let at = match resolve_output(&url, OutputKind::Run, "").await {
            Ok(run) => run.join("model.json"),
            Err(_) => resolve_file(&url).await?,
        };
        let bytes = s3::get(&at).await?.ok_or_else(|| Error::BadInput {
            path: path.to_path_buf(),
            message: "does not exist".into(),
            hint: "pass the model.json of an `rfmseg run --out s3://...` (or the run's prefix)"
                .into(),
        })?;
        Model::parse(path, &bytes)
    }

    fn parse(path: &Path, bytes: &[u8]) -> Result<Model> {
        let model: Model = serde_json::from_slice(bytes).map_err(|e| Error::BadInput {
            path: path.to_path_buf(),
            message: format!("is not an rfmseg model: {e}"),
            hint: "pass the model.json written by `rfmseg run`".into(),
        })?;
        if model.centroids_z.len() != model.k || model.labels.len() != model.k || model.k < 1 {
            return Err(Error::BadInput {
                path: path.to_path_buf(),
                message: format!(
                    "k = {} but {} centroids and {} labels",
                    model.k,
                    model.centroids_z.len(),
                    model.labels.len()
                ),
                hint: "pass the model.json written by `rfmseg run`".into(),
            });
        }
        if let Some(clv) = &model.clv {
            clv.checked_literal().map_err(|message| Error::BadInput {
                path: path.to_path_buf(),
                message: format!("clv.predict_literal: {message}"),
                hint: "pass the model.json written by `rfmseg run`, unedited".into(),
            })?;
        }
        Ok(model)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unscale_inverts_the_transform() {
        let s = Scaler {
            features: vec![],
            mean: vec![100.0, 1.0, 4.0],
            std: vec![50.0, 0.5, 1.5],
        };
        let z = [1.0, 2.0, -1.0];
        let x = unscale(z, &s);
        assert_eq!(x[0], 150.0);
        assert!((x[1] - (2.0f64.exp() - 1.0)).abs() < 1e-12);
        assert!((x[2] - (2.5f64.exp() - 1.0)).abs() < 1e-12);
    }
}

//! model.json: everything `rfmseg score` needs to assign new customers to the same
//! clusters and segments without refitting, and everything a reader needs to know what
//! was fitted (features, transform, scaler, centroids in both units, labels, metrics,
//! data window, seed, version, config).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::{Config, ScoreMethod};
use crate::error::{Error, Result};
use crate::stages::rfm::{RfmWindow, Scaler};

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
    /// The configuration of the run: `score` cleans and windows new data the same way.
    pub config: Config,
}

/// R, F, M score thresholds. `r[i]`: the largest recency that earns score i + 2 or more;
/// `f[i]`, `m[i]`: the smallest frequency or monetary value that earns score i + 2 or
/// more. A score no customer reached has an unreachable threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreThresholds {
    pub r: [f64; 4],
    pub f: [f64; 4],
    pub m: [f64; 4],
}

impl ScoreThresholds {
    /// From (measure, score, lo, hi) rows: the values each score covered.
    pub fn from_ranges(rows: &[(String, u8, f64, f64)]) -> ScoreThresholds {
        let mut t = ScoreThresholds {
            r: [-1.0; 4],
            f: [f64::MAX; 4],
            m: [f64::MAX; 4],
        };
        for s in 2..=5u8 {
            let i = (s - 2) as usize;
            let at_least = |m: &'static str| rows.iter().filter(move |r| r.0 == m && r.1 >= s);
            if let Some(v) = at_least("r").map(|r| r.3).reduce(f64::max) {
                t.r[i] = v;
            }
            if let Some(v) = at_least("f").map(|r| r.2).reduce(f64::min) {
                t.f[i] = v;
            }
            if let Some(v) = at_least("m").map(|r| r.2).reduce(f64::min) {
                t.m[i] = v;
            }
        }
        t
    }
}

/// Original units of a scaled centre: recency as is, frequency and monetary back through
/// exp(.) - 1.
pub fn unscale(z: [f64; 3], scaler: &Scaler) -> [f64; 3] {
    let x = |i: usize| z[i] * scaler.std[i] + scaler.mean[i];
    [x(0), x(1).exp() - 1.0, x(2).exp() - 1.0]
}

impl Model {
    pub fn read(path: &Path) -> Result<Model> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let model: Model = serde_json::from_slice(&bytes).map_err(|e| Error::BadInput {
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
        Ok(model)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_cover_missing_scores() {
        // F: 70% have 1 purchase (score 1), 2 purchases got score 4, 3+ got 5.
        let rows = vec![
            ("f".to_string(), 1, 1.0, 1.0),
            ("f".to_string(), 4, 2.0, 2.0),
            ("f".to_string(), 5, 3.0, 9.0),
            ("r".to_string(), 1, 300.0, 365.0),
            ("r".to_string(), 3, 100.0, 299.0),
            ("r".to_string(), 5, 1.0, 99.0),
            ("m".to_string(), 1, 1.0, 9.0),
        ];
        let t = ScoreThresholds::from_ranges(&rows);
        assert_eq!(t.f, [2.0, 2.0, 2.0, 3.0]);
        assert_eq!(t.r, [299.0, 299.0, 99.0, 99.0]);
        assert_eq!(t.m, [f64::MAX; 4]);
        let score_f = |v: f64| 1 + t.f.iter().filter(|&&x| v >= x).count();
        assert_eq!([score_f(1.0), score_f(2.0), score_f(7.0)], [1, 4, 5]);
        let score_r = |v: f64| 1 + t.r.iter().filter(|&&x| v <= x).count();
        assert_eq!([score_r(365.0), score_r(150.0), score_r(3.0)], [1, 3, 5]);
    }

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

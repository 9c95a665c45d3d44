//! rfmseg-udfs: every scalar UDF and UDAF rfmseg's SQL calls.
//!
//! Functions reach Ballista executors by name only, so the client, the scheduler and the
//! executors must all register the same list: [`scalar_udfs`] and [`aggregate_udfs`] are
//! that one list, and [`register_all`] applies it to a context.
//!
//! # Layout
//!
//! One module per SQL function (`kmeans_step`, `kmeans_cost`, `kmeans_silhouette`,
//! `kmeans_assign`, `kmeans_sample`, `parse_price`, `null_if_placeholder`, `stable_hash`, `purchase_days` (the CLV
//! summary's purchases grouped by day), and the CLV likelihoods
//! `bgnbd_ll`, `gamma_gamma_ll` in `clv_bgnbd_ll`, `clv_gamma_gamma_ll`), each holding only what
//! is its own, and what they share, one concern a module:
//!
//! | module | what it does |
//! |---|---|
//! | `centroids` | the centroid text format and the nearest-centre rule (also used by the driver) |
//! | `exact_sum` | fixed-point exact sums, the feature range limit, `ExactSums`: the one UDAF state |
//! | `state_bytes` | the versioned byte encoding of that state |
//! | `kmeans_udaf` | the one `AggregateUDFImpl` and `Accumulator` behind every k-means UDAF |
//! | `args` | the k-means argument list: coercion, and the one reader of centroids + features |
//! | `literal` | checks that a leading argument is one constant literal |
//! | `rows` | the row loop over the Float64 feature columns |
//! | `sample_draw` | the k-means|| draw, a pure function of (seed, round, key) |
//! | `documentation` | the `Documentation` helpers every function's docs are built with |
//! | `string_arg` | the body of the string → number scalar functions, and a string scalar's text |
//! | `clv_math` | customer lifetime value: ln Γ, ψ, 2F1, the BG/NBD and Gamma-Gamma likelihoods and gradients, the predictions (also used by the driver) |
//! | `clv_udaf` | what the likelihood UDAFs `bgnbd_ll` and `gamma_gamma_ll` (modules `clv_bgnbd_ll`, `clv_gamma_gamma_ll`) share |

mod args;
pub mod centroids;
pub mod clv_bgnbd_ll;
pub mod clv_gamma_gamma_ll;
pub mod clv_math;
pub mod clv_predict;
mod clv_udaf;
mod documentation;
pub mod exact_sum;
pub mod kmeans_assign;
pub mod kmeans_cost;
pub mod kmeans_sample;
pub mod kmeans_silhouette;
pub mod kmeans_step;
mod kmeans_udaf;
mod literal;
pub mod null_if_placeholder;
pub mod parse_price;
pub mod purchase_days;
mod rows;
pub mod sample_draw;
pub mod stable_hash;
mod state_bytes;
mod string_arg;
#[cfg(test)]
mod test_data;
#[cfg(test)]
mod test_plain;
#[cfg(test)]
mod udaf_laws;

use datafusion::logical_expr::{AggregateUDF, ScalarUDF};
use datafusion::prelude::SessionContext;

pub use centroids::{format_centroids, nearest, parse_centroids};
pub use clv_bgnbd_ll::bgnbd_ll_udaf;
pub use clv_gamma_gamma_ll::gamma_gamma_ll_udaf;
pub use clv_predict::{PredictModel, clv_predict_udf};
pub use kmeans_assign::kmeans_assign_udf;
pub use kmeans_cost::kmeans_cost_udaf;
pub use kmeans_sample::kmeans_sample_udf;
pub use kmeans_silhouette::kmeans_silhouette_udaf;
pub use kmeans_step::kmeans_step_udaf;
pub use null_if_placeholder::null_if_placeholder_udf;
pub use parse_price::{parse_price, parse_price_udf};
pub use purchase_days::purchase_days_udaf;
pub use rows::nearest_columns;
pub use sample_draw::sample_uniform;
pub use stable_hash::{stable_hash, stable_hash_udf};

/// Every scalar function rfmseg's SQL calls.
pub fn scalar_udfs() -> Vec<ScalarUDF> {
    vec![
        parse_price_udf(),
        null_if_placeholder_udf(),
        stable_hash_udf(),
        kmeans_assign_udf(),
        kmeans_sample_udf(),
        clv_predict_udf(),
    ]
}

/// Every aggregate function rfmseg's SQL calls.
pub fn aggregate_udfs() -> Vec<AggregateUDF> {
    vec![
        kmeans_step_udaf(),
        kmeans_cost_udaf(),
        kmeans_silhouette_udaf(),
        bgnbd_ll_udaf(),
        gamma_gamma_ll_udaf(),
        purchase_days_udaf(),
    ]
}

/// Registers every rfmseg function on a context.
pub fn register_all(ctx: &SessionContext) {
    for f in scalar_udfs() {
        ctx.register_udf(f);
    }
    for f in aggregate_udfs() {
        ctx.register_udaf(f);
    }
}

//! rfmseg: RFM customer segmentation at data-lake scale.
//!
//! Data flows one way: raw -> lake (Parquet) -> cleaned -> purchases -> features -> model
//! -> report. The modules are in layers; **a module uses only its own layer and the layers
//! below it**, so there is no import cycle and each layer reads alone
//! (`tests/layers.rs` checks this on every test run):
//!
//! 1. [`error`], [`config`], [`text`]: typed errors; every knob, resolved once (flags >
//!    TOML > defaults, [`Config::resolve`]); how summaries write numbers.
//! 2. [`storage`]: paths and the one safe output writer (temporary name, crash-safe swap,
//!    refuses what it did not make), and the Parquet encoding of outputs.
//! 3. [`lake`]: the lake's tables, schemas and registration; [`ingest`] writes a lake from
//!    raw files, [`generate`] writes synthetic raw files.
//! 4. [`exec`]: a session (embedded, or a Ballista client) and running one SQL file with
//!    its parameters: collect, materialise, register. Nothing above knows the engine.
//! 5. [`stages`]: one module per pipeline step beside its `sql/*.sql` file (clean,
//!    purchases, rfm, scores, kmeans, labels, report data); [`model`] and [`quality`] are
//!    what stages produce.
//! 6. [`pipeline`] (`run`, `features`), [`score`], [`demo`], [`sql`]: compose stages,
//!    nothing else; [`report`] renders the report data (HTML, SVG, CSV); [`cluster`] holds
//!    the Ballista scheduler and executor roles (cargo feature `cluster`, on by default).
//!
//! Where new things go: a new SQL stage is a file in `sql/` and a module in [`stages`]
//! that [`pipeline`] calls; a new chart's numbers are a query in
//! [`stages::report_data`] and its drawing is in [`report::html`]; a new UDAF is a file
//! in the `rfmseg-udfs` crate, listed in its `aggregate_udfs()`.

// Layer 1
pub mod config;
pub mod error;
pub mod text;
// Layer 2
pub mod storage;
// Layer 3
pub mod generate;
pub mod ingest;
pub mod lake;
// Layer 4
pub mod exec;
// Layer 5
pub mod model;
pub mod quality;
pub mod stages;
// Layer 6
#[cfg(feature = "cluster")]
pub mod cluster;
pub mod demo;
pub mod pipeline;
pub mod report;
pub mod score;
pub mod sql;

pub use config::Config;
pub use error::{Error, Result};
pub use pipeline::{FeaturesOutput, clean_lake, features_to_dir, lake_features};

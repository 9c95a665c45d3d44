//! `rfmseg run` (and `features`): the stages composed top-down, lake -> cleaning ->
//! purchases -> RFM -> scaling -> choice of k -> final model -> labels -> report data ->
//! outputs. Nothing here runs SQL itself: each step is a module of [`crate::stages`].
//!
//! Every output is written into a temporary folder beside `--out` and renamed into place
//! at the end, so a failed or interrupted run leaves the previous output untouched and
//! no half-written one.

pub mod timer;

use std::path::{Path, PathBuf};

use datafusion::prelude::SessionContext;

use crate::config::{CohortPeriod, Config};
use crate::error::Result;
use crate::exec::query::release;
use crate::exec::{Engine, Session, local_context, open_lake, write_table_parquet};
use crate::model::Model;
use crate::quality::DataQuality;
use crate::report::{
    Report,
    csv::{cohorts_csv, migration_csv, segments_csv},
    html,
};
use crate::stages::clv::ClvSection;
use crate::stages::migration::{self, ModelParts};
use crate::stages::{self, kmeans, labels, report_data, rfm::FeaturesSummary, scores};
use crate::storage::{Output, OutputKind, write_file, write_json};
use crate::text::group_thousands;
use timer::Timer;
pub use timer::peak_rss_mib;

/// The run's report data, beside report.html.
pub const REPORT_JSON: &str = "report.json";

/// What `run` needs.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub lake: PathBuf,
    pub out: PathBuf,
    pub config: Config,
    /// Print a line per stage on stderr.
    pub progress: bool,
    /// Embedded, or on a Ballista cluster.
    pub engine: Engine,
}

/// What `run` produced.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub report: Report,
    pub model: Model,
    pub out: PathBuf,
}

/// The short summary of a run: segments, shares, k, silhouette, and where the report is.
impl std::fmt::Display for RunSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = &self.report;
        writeln!(
            f,
            "\n{} customers, window {} .. {}, k = {} (silhouette {:.3})",
            group_thousands(r.customers),
            r.window.first_day,
            r.window.as_of,
            r.model.k,
            r.model.silhouette
        )?;
        if let Some(sel) = &r.k_selection {
            writeln!(f, "{}", sel.reason)?;
        }
        for (title, groups) in [("cluster", &r.clusters), ("RFM segment", &r.rfm_segments)] {
            writeln!(
                f,
                "\n{title:<28} {:>10} {:>8} {:>9}",
                "customers", "share", "revenue"
            )?;
            for g in groups {
                writeln!(
                    f,
                    "{:<28} {:>10} {:>7.1}% {:>8.1}%",
                    g.name,
                    group_thousands(g.customers),
                    100.0 * g.share_customers,
                    100.0 * g.share_revenue
                )?;
            }
        }
        match &r.clv {
            ClvSection::Fitted(c) => writeln!(
                f,
                "\nlifetime value over {} {}: {} expected purchases, {} USD in all; mean \
                 P(alive) {:.3}",
                c.model.horizon,
                c.model.time_unit.name(),
                group_thousands(c.expected_purchases.round() as u64),
                group_thousands(c.clv.round() as u64),
                c.mean_p_alive
            )?,
            ClvSection::Skipped { reason } => writeln!(f, "\nlifetime value skipped: {reason}")?,
            ClvSection::Off => {}
        }
        writeln!(f, "\nreport: {}", self.out.join("report.html").display())
    }
}

/// Runs the whole job and writes its outputs to `opts.out`.
pub async fn run(opts: &RunOptions) -> Result<RunSummary> {
    let config = &opts.config;
    config.validate()?;
    let output = Output::create(&opts.out, OutputKind::Run).await?;
    let tmp = output.path().to_path_buf();

    let mut session = Session::open(&opts.engine, config, &opts.out).await?;
    let ctx = session.ctx.clone();
    let stages_total = 7
        + usize::from(config.migration.compare_as_of.is_some())
        + usize::from(config.cohorts.period != CohortPeriod::Off);
    let mut timer = Timer::new(opts.progress, stages_total, &ctx);

    timer.start("clean");
    open_lake(&ctx, &opts.lake).await?;
    // What the purchases read of the clean reviews and items (sql/purchases.sql); a run
    // has no other reader of them. (A shop's transactions keep theirs: they are few
    // columns already.)
    let quality =
        stages::clean::clean_keeping(&ctx, config, &stages::clean::PURCHASE_COLUMNS).await?;
    if !crate::lake::is_transactions(&ctx) {
        // Read by two queries more (the RFM window and the RFM), and by the report's
        // purchases: at the full Electronics size 705 MB held under all of them.
        session.spill("clean_reviews").await?;
    }
    timer
        .finish(
            quality.rows(quality.purchases_table(), "lake rows"),
            quality.kept(quality.purchases_table()),
        )
        .await;

    timer.start("features");
    let features = stages::rfm::features(&ctx, config).await?;
    // The scaled and scored views were read once, into `customers`; while registered,
    // their plans would keep `rfm` in memory after its own release below.
    release(&ctx, &["features", "scored"])?;
    timer
        .finish(quality.kept(quality.purchases_table()), features.customers)
        .await;

    timer.start("kmeans");
    kmeans::use_input(&ctx, "customers").await?;
    let clustering = kmeans::cluster(&ctx, config, features.customers).await?;
    // The clustered customers: labelling writes a new `customers`, and nothing reads this
    // copy again.
    release(&ctx, &["kmeans_input"])?;
    timer
        .finish(features.customers, clustering.model.k as u64)
        .await;

    timer.start("labels");
    let labels = labels::label_customers(&ctx, &clustering).await?;
    // Read into the labelled `customers`; its plan holds the unlabelled ones.
    release(&ctx, &["clustered"])?;
    timer.finish(features.customers, features.customers).await;

    timer.start("clv");
    if config.clv.enabled {
        // The predictions are joined to the customers, and a join copies every column of
        // its output: the customers read from disk, the copy is the only one in memory
        // (at the full Electronics size, 500 MiB less at the stage's peak).
        session.spill("customers").await?;
    }
    // A migration (another as-of day) reads the run's `rfm` again; CLV releases it
    // otherwise, once it has read it.
    let keep_rfm = config.migration.compare_as_of.is_some();
    let clv = stages::clv::clv(&ctx, config, &features.window, keep_rfm).await?;
    // The lifetime-value inputs are in `customers` now (and `rfm` is unread when CLV is off).
    release(&ctx, &["clv_summary", "clv_pairs", "clv_triples"])?;
    if !keep_rfm {
        release(&ctx, &["rfm"])?;
    }
    timer
        .finish(
            features.customers,
            match &clv {
                ClvSection::Fitted(r) => r.predicted,
                _ => 0,
            },
        )
        .await;

    timer.start("segments");
    report_data::segment_purchases(&ctx, config, &features.window).await?;
    // The report reads its purchases from `segment_purchases` now; a migration or cohorts
    // read the purchases again after the report, the other runs never.
    let purchases_read_later =
        config.migration.compare_as_of.is_some() || config.cohorts.period != CohortPeriod::Off;
    if !purchases_read_later {
        release(&ctx, &stages::clean::PURCHASE_TABLES)?;
    }
    let (mut data, thresholds) = futures::try_join!(
        report_data::report_data(&ctx, &clustering, features.customers),
        scores::score_thresholds(&ctx),
    )?;
    release(&ctx, &report_data::SEGMENT_PURCHASES_TABLES)?;
    timer
        .finish(
            features.customers,
            (data.clusters.len() + data.rfm_segments.len()) as u64,
        )
        .await;

    let model = Model::new(
        &features,
        &clustering,
        labels,
        thresholds,
        clv.model(),
        config,
    );
    data.clv = clv;

    let migration = if config.migration.compare_as_of.is_some() {
        timer.start("migration");
        let centroids_z: Vec<f64> = model.centroids_z.iter().flatten().copied().collect();
        let parts = ModelParts {
            scaler: &model.scaler,
            thresholds: &model.score_thresholds,
            centroids_z: &centroids_z,
            labels: &model.labels,
        };
        let m = migration::migration(&ctx, config, &features.window, &parts).await?;
        timer
            .finish(features.customers, m.as_ref().map_or(0, |m| m.downgraded))
            .await;
        m
    } else {
        None
    };

    let cohorts = if config.cohorts.period != CohortPeriod::Off {
        timer.start("cohorts");
        let c = stages::cohorts::cohorts(&ctx, config, &features.window).await?;
        timer
            .finish(
                quality.kept(quality.purchases_table()),
                c.as_ref().map_or(0, |c| c.cohorts.len() as u64),
            )
            .await;
        c
    } else {
        None
    };

    // The files written next read the customers (and a migration's downgraded ones) only.
    release(&ctx, &stages::clean::PURCHASE_TABLES)?;
    release(&ctx, &["rfm"])?;
    timer.start("write");
    let customers_written = write_table_parquet(
        &ctx,
        "customers",
        "customer_id",
        &tmp.join("customers.parquet"),
    )
    .await?;
    write_json(&tmp.join("model.json"), &model)?;
    write_text(
        &tmp.join("k_selection.csv"),
        &kmeans::to_csv(&clustering.selection_or_fit()),
    )?;
    write_text(
        &tmp.join("segments.csv"),
        &segments_csv(&data.clusters, &data.rfm_segments),
    )?;
    if let Some(m) = &migration {
        write_table_parquet(
            &ctx,
            migration::DOWNGRADED,
            "customer_id",
            &tmp.join("downgraded.parquet"),
        )
        .await?;
        write_text(&tmp.join("migration.csv"), &migration_csv(m))?;
    }
    if let Some(c) = &cohorts {
        write_text(&tmp.join("cohorts.csv"), &cohorts_csv(c))?;
    }
    timer.finish(features.customers, customers_written).await;

    let mut report = Report::new(
        &opts.lake,
        config,
        quality,
        &features,
        &clustering,
        data,
        timer.into_timings(),
    );
    report.migration = migration;
    report.cohorts = cohorts;
    write_json(&tmp.join(REPORT_JSON), &report)?;
    write_text(&tmp.join("report.html"), &html::render(&report))?;
    output.commit().await?;
    Ok(RunSummary {
        report,
        model,
        out: opts.out.clone(),
    })
}

fn write_text(path: &Path, text: &str) -> Result<()> {
    write_file(path, text.as_bytes())
}

/// Cleans a lake: registers its tables in a new embedded session, runs the cleaning
/// stages, and returns the session (holding `clean_reviews`, `clean_items`) and the
/// data-quality table.
pub async fn clean_lake(lake: &Path, config: &Config) -> Result<(SessionContext, DataQuality)> {
    config.validate()?;
    let ctx = local_context(config);
    open_lake(&ctx, lake).await?;
    let quality = stages::clean(&ctx, config).await?;
    Ok((ctx, quality))
}

/// Cleans a lake and computes the RFM features: the session then also holds
/// `purchases`, `rfm`, `features` and `customers`.
pub async fn lake_features(
    lake: &Path,
    config: &Config,
) -> Result<(SessionContext, DataQuality, FeaturesSummary)> {
    let (ctx, quality) = clean_lake(lake, config).await?;
    let summary = stages::rfm::features(&ctx, config).await?;
    Ok((ctx, quality, summary))
}

/// What [`features_to_dir`] wrote (`out` aside, this is features.json).
#[derive(Debug, Clone, serde::Serialize)]
pub struct FeaturesOutput {
    pub quality: DataQuality,
    pub features: FeaturesSummary,
    #[serde(skip)]
    pub out: PathBuf,
}

/// The data-quality table, the RFM window and where the customers went.
impl std::fmt::Display for FeaturesOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.quality)?;
        let w = &self.features.window;
        writeln!(
            f,
            "\nRFM window {} .. {} (newest purchase {}): {} purchases counted",
            w.first_day,
            w.as_of,
            w.newest_day,
            group_thousands(w.counted)
        )?;
        writeln!(
            f,
            "{} customers written to {}",
            group_thousands(self.features.customers),
            self.out.join("customers.parquet").display()
        )
    }
}

/// Cleans a lake, computes the features and writes `customers.parquet` and
/// `features.json` as the folder `out` (replacing only an earlier `features` output).
pub async fn features_to_dir(lake: &Path, out: &Path, config: &Config) -> Result<FeaturesOutput> {
    let output = Output::create(out, OutputKind::Features).await?;
    let (ctx, quality, features) = lake_features(lake, config).await?;
    write_table_parquet(
        &ctx,
        "customers",
        "customer_id",
        &output.path().join("customers.parquet"),
    )
    .await?;
    let result = FeaturesOutput {
        quality,
        features,
        out: out.to_path_buf(),
    };
    write_json(&output.path().join("features.json"), &result)?;
    output.commit().await?;
    Ok(result)
}

//! `rfmseg sql`: one SQL statement, embedded or on the cluster, over a lake and any
//! Parquet tables, with rfmseg's functions. The pipeline's own files in `sql/` run as they
//! are: their `{{parameters}}` are bound from the config (and, with `--upto`, from the
//! window and scaler the earlier stages computed), and `--upto clean|features` first
//! registers the tables those files read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use datafusion::execution::context::SQLOptions;
use datafusion::prelude::{DataFrame, ParquetReadOptions, SessionContext};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::exec::{Engine, Session, open_lake, render};
use crate::stages;
use crate::storage::{self, Location, ScratchDir, s3, write_batches};

/// How far the pipeline runs before the statement, so it can read the stages' tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upto {
    /// `clean_reviews`, `clean_items`.
    Clean,
    /// ... and `purchases`, `rfm`, `features`, `scored`, `customers`.
    Features,
}

impl std::str::FromStr for Upto {
    type Err = Error;
    fn from_str(s: &str) -> Result<Upto> {
        match s {
            "clean" => Ok(Upto::Clean),
            "features" => Ok(Upto::Features),
            _ => Err(Error::Config {
                key: "--upto".into(),
                message: format!("\"{s}\" is not a stage; use clean or features"),
            }),
        }
    }
}

/// What `rfmseg sql` is asked to do.
#[derive(Debug, Clone)]
pub struct SqlOptions {
    /// The statement, and where it came from (a file name, or "-c").
    pub sql: String,
    pub source: String,
    /// Registers `lake_reviews` and `lake_items`.
    pub lake: Option<PathBuf>,
    /// More tables: name -> Parquet file or folder.
    pub tables: Vec<(String, PathBuf)>,
    pub upto: Option<Upto>,
    /// `{{name}}` -> value, over the defaults.
    pub params: Vec<(String, String)>,
    pub config: Config,
    pub engine: Engine,
    /// Write the result here (.parquet or .csv) instead of printing it.
    pub out: Option<PathBuf>,
}

/// The statement's result.
#[derive(Debug)]
pub struct SqlResult {
    pub batches: Vec<RecordBatch>,
    pub rows: u64,
}

/// Runs the statement and writes the result to `opts.out` if set.
pub async fn run_sql(opts: &SqlOptions) -> Result<SqlResult> {
    opts.config.validate()?;
    if let Some(out) = &opts.out {
        result_format(out)?;
        match Location::of(out)? {
            Location::Local(_) => storage::check_new_file(out)?,
            Location::S3(url) => s3::check_new_object(&url).await?,
        }
    }
    let near = match &opts.out {
        Some(out) => out.clone(),
        None => std::env::temp_dir().join("rfmseg-sql"),
    };
    let session = Session::open(&opts.engine, &opts.config, &near).await?;
    let ctx = &session.ctx;
    let mut params: BTreeMap<String, String> = BTreeMap::new();
    let mut bind = |list: Vec<(&'static str, String)>| {
        for (k, v) in list {
            params.insert(k.to_string(), v);
        }
    };
    let config = &opts.config;
    bind(stages::clean::clean_params(config)?);
    bind(vec![
        ("timezone", config.rfm.timezone.trim().to_string()),
        ("seed", config.kmeans.seed.to_string()),
        ("size", config.kmeans.sample_size().to_string()),
        // sql/clv_summary.sql reads the run's own RFM table.
        ("rfm", "rfm".to_string()),
    ]);
    bind(stages::rfm::window_params(
        config,
        stages::rfm::pinned_as_of(config)?,
    ));

    if let Some(lake) = &opts.lake {
        open_lake(ctx, lake).await?;
    }
    bind(vec![stages::rfm::frequency_param(ctx, config)]);
    for (name, path) in &opts.tables {
        register_table(ctx, name, path).await?;
    }
    if let Some(upto) = opts.upto {
        if opts.lake.is_none() {
            return Err(Error::Config {
                key: "--upto".into(),
                message: "needs --lake: the stages start from the lake".into(),
            });
        }
        stages::clean(ctx, config).await?;
        if upto == Upto::Features {
            let f = stages::rfm::features(ctx, config).await?;
            bind(stages::rfm::known_window_params(config, &f.window));
            bind(stages::rfm::scale_params(config, &f.scaler));
        }
    }
    for (k, v) in &opts.params {
        params.insert(k.clone(), v.clone());
    }
    let sql = bind_params(&opts.source, &opts.sql, &params)?;
    let batches = crate::exec::query::on_cluster(ctx, &opts.source, || async {
        plan_read_only(ctx, &opts.source, &sql)
            .await?
            .collect()
            .await
            .map_err(|e| explain(&opts.source, e))
    })
    .await?;
    let rows = batches.iter().map(|b| b.num_rows() as u64).sum();
    if let Some(out) = &opts.out {
        write_result(out, &batches).await?;
    }
    Ok(SqlResult { batches, rows })
}

/// Plans the statement and refuses anything but a query: an INSERT into `lake_reviews`
/// would add a Parquet file to the user's lake, a COPY writes wherever it is told, and
/// CREATE, DROP or SET would change a session nobody else sees. Results leave only through
/// `--out`. The plan is made here, in the client, with `--cluster` as well (the scheduler
/// only receives plans), so this one check covers both engines.
async fn plan_read_only(ctx: &SessionContext, source: &str, sql: &str) -> Result<DataFrame> {
    let plan = ctx
        .state()
        .create_logical_plan(sql)
        .await
        .map_err(|e| explain(source, e))?;
    // COPY counts as DML here (checked in DataFusion 55.2's `BadPlanVisitor`); the check
    // also walks subqueries and EXPLAIN's input, since EXPLAIN ANALYZE runs its statement.
    let read_only = SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false);
    if let Err(e) = read_only.verify_plan(&plan) {
        return Err(Error::BadInput {
            path: source.into(),
            message: format!(
                "rfmseg sql only reads, and this statement would change data or settings ({})",
                e.message()
            ),
            hint: "run a query (SELECT, WITH, DESCRIBE, EXPLAIN); results are written \
                   only with --out FILE (.parquet or .csv)"
                .into(),
        });
    }
    ctx.execute_logical_plan(plan)
        .await
        .map_err(|e| explain(source, e))
}

/// A missing table is the usual mistake with the pipeline's files: say where tables
/// come from.
fn explain(source: &str, e: datafusion::error::DataFusionError) -> Error {
    let text = e.to_string();
    let missing = text
        .split("table '")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .filter(|_| text.contains("not found"))
        .map(|t| t.rsplit('.').next().unwrap_or(t));
    match missing {
        Some(table) => Error::BadInput {
            path: source.into(),
            message: format!("reads table {table}, which is not registered"),
            hint: "--lake registers lake_reviews and lake_items; --upto clean adds clean_reviews \
                   and clean_items; --upto features adds purchases, rfm, features, scored and \
                   customers; --table NAME=PATH adds any Parquet file or folder"
                .into(),
        },
        None => Error::stage(source, e),
    }
}

/// Binds `{{name}}` placeholders; an unbound one is the user's to supply.
fn bind_params(source: &str, sql: &str, params: &BTreeMap<String, String>) -> Result<String> {
    let list: Vec<(&str, String)> = params
        .iter()
        .filter(|(k, _)| sql.contains(&format!("{{{{{k}}}}}")))
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    render(source, sql, &list).map_err(|_| {
        let start = sql.find("{{").unwrap_or(0);
        let rest = &sql[start..];
        let name = &rest[2..rest.find("}}").unwrap_or(rest.len())];
        Error::Config {
            key: "--param".into(),
            message: format!(
                "{source}: parameter {{{{{name}}}}} has no value; pass --param {name}=VALUE \
                 (or --upto features for the window and scaler parameters)"
            ),
        }
    })
}

async fn register_table(ctx: &SessionContext, name: &str, path: &Path) -> Result<()> {
    let url = match Location::of(path)? {
        Location::Local(_) => {
            if !path.exists() {
                return Err(Error::BadInput {
                    path: path.to_path_buf(),
                    message: "does not exist".into(),
                    hint: format!("--table {name}=PATH takes a Parquet file or a folder of them"),
                });
            }
            let mut url = crate::storage::absolute(path)?.display().to_string();
            if path.is_dir() && !url.ends_with('/') {
                url.push('/');
            }
            url
        }
        Location::S3(url) => {
            // An rfmseg output (or a file in one) is read through its marker.
            let at = storage::resolve_any(&url).await?;
            let objects = s3::list(&at).await?;
            if objects.is_empty() {
                at.to_string()
            } else {
                at.folder_url()
            }
        }
    };
    ctx.register_parquet(name, &url, ParquetReadOptions::default())
        .await
        .map_err(|e| Error::BadInput {
            path: path.to_path_buf(),
            message: format!("cannot be read as Parquet: {e}"),
            hint: format!("--table {name}=PATH takes a Parquet file or a folder of them"),
        })
}

/// The result file formats, by extension.
#[derive(Clone, Copy)]
enum ResultFormat {
    Parquet,
    Csv,
}

fn result_format(out: &Path) -> Result<ResultFormat> {
    match out.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "parquet" => Ok(ResultFormat::Parquet),
        "csv" => Ok(ResultFormat::Csv),
        _ => Err(Error::Config {
            key: "--out".into(),
            message: format!("{}: use a .parquet or .csv file name", out.display()),
        }),
    }
}

/// Parquet or CSV by extension, as a new file (never replacing one); on S3, encoded
/// locally and then written as one new object.
async fn write_result(out: &Path, batches: &[RecordBatch]) -> Result<u64> {
    match Location::of(out)? {
        Location::Local(_) => storage::write_new_file(out, |tmp| encode_result(out, tmp, batches)),
        Location::S3(url) => {
            let scratch = ScratchDir::create(&std::env::temp_dir().join("rfmseg-sql-out"))?;
            let tmp = scratch.path().join(url.file_name());
            let rows = encode_result(out, &tmp, batches)?;
            let bytes = std::fs::read(&tmp).map_err(|e| Error::io(&tmp, e))?;
            s3::put_new(&url, bytes).await?;
            Ok(rows)
        }
    }
}

fn encode_result(out: &Path, tmp: &Path, batches: &[RecordBatch]) -> Result<u64> {
    let format = result_format(out)?;
    let schema = match batches.first() {
        Some(b) => b.schema(),
        None => std::sync::Arc::new(arrow::datatypes::Schema::empty()),
    };
    match format {
        ResultFormat::Parquet => write_batches(tmp, &schema, batches.iter().cloned()),
        ResultFormat::Csv => {
            use std::io::Write;
            let file = std::fs::File::create(tmp).map_err(|e| Error::io(tmp, e))?;
            let mut file = std::io::BufWriter::new(file);
            let mut rows = 0;
            // One batch at a time into memory, then to the file: arrow's CSV writer
            // panics if its final flush fails, a Vec's never does.
            for (i, b) in batches.iter().enumerate() {
                let mut buf = Vec::new();
                let mut writer = arrow::csv::WriterBuilder::new()
                    .with_header(i == 0)
                    .build(&mut buf);
                writer
                    .write(b)
                    .map_err(|e| Error::io(tmp, std::io::Error::other(e)))?;
                drop(writer);
                file.write_all(&buf).map_err(|e| Error::io(tmp, e))?;
                rows += b.num_rows() as u64;
            }
            file.flush().map_err(|e| Error::io(tmp, e))?;
            Ok(rows)
        }
    }
}

/// The first `limit` rows as a text table, with a note when rows were left out.
pub fn format_table(batches: &[RecordBatch], limit: usize) -> Result<String> {
    let mut shown = Vec::new();
    let mut left = limit;
    for b in batches {
        if left == 0 {
            break;
        }
        let n = b.num_rows().min(left);
        shown.push(b.slice(0, n));
        left -= n;
    }
    let total: usize = batches.iter().map(|b| b.num_rows()).sum();
    let mut text = arrow::util::pretty::pretty_format_batches(&shown)
        .map_err(|e| Error::Internal(e.to_string()))?
        .to_string();
    text.push('\n');
    if total > limit {
        text.push_str(&format!(
            "(the first {limit} of {total} rows; --limit N shows more)\n"
        ));
    }
    Ok(text)
}

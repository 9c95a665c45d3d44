//! The `rfmseg` binary: parses flags, resolves the config, calls one library function per
//! subcommand, and prints errors once, as a chain. Exit codes: 0 on success (and when the
//! reader of stdout has gone away), 70 (EX_SOFTWARE) for a bug in rfmseg, 2 for every
//! other error.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use rfmseg::Config;
use rfmseg::config::Overrides;
use rfmseg::generate::{GenerateOptions, generate};
use rfmseg::ingest::{IngestOptions, OnBadLine, ingest};
use rfmseg::quality::group_thousands;

/// RFM customer segmentation over Parquet with DataFusion.
#[derive(Parser)]
#[command(name = "rfmseg", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// No progress bars or per-stage lines on stderr (they are shown only on a terminal
    /// anyway); results and errors are still printed.
    #[arg(long, short, global = true)]
    quiet: bool,
}

/// Flags shared by `run` and `demo`; each overrides a config key.
#[derive(clap::Args, Default)]
struct RunFlags {
    /// Config file (TOML); see `rfmseg show-config`.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Number of clusters, or auto to choose it from --k-range (kmeans.k).
    #[arg(long)]
    k: Option<String>,
    /// k range swept when --k auto, e.g. 2..10 (kmeans.k_min, kmeans.k_max). The default
    /// 2..10 is capped to what the data can fit; a range given here is not.
    #[arg(long)]
    k_range: Option<String>,
    /// Pin the as-of day, YYYY-MM-DD (rfm.as_of); default: the newest purchase's day.
    #[arg(long)]
    as_of: Option<String>,
    /// auto, lloyd or minibatch (kmeans.algorithm).
    #[arg(long)]
    algorithm: Option<String>,
    /// Seed of the k-means initialisation (kmeans.seed).
    #[arg(long)]
    seed: Option<u64>,
    /// quantile or ntile (features.score_method).
    #[arg(long)]
    score_method: Option<String>,
    /// DataFusion target partitions (engine.target_partitions); default two per core
    /// embedded, sized to the lake on a cluster; at most max(256, 8 x cores).
    #[arg(long)]
    partitions: Option<usize>,
    /// The most memory the engine's operators may hold, e.g. 1GB (engine.memory_limit);
    /// past it they spill to disk. Default: no limit.
    #[arg(long, value_name = "SIZE")]
    memory_limit: Option<String>,
    /// on or off: fit the lifetime-value models and predict P(alive), expected purchases
    /// and CLV per customer (clv.enabled; default on).
    #[arg(long, value_name = "on|off")]
    clv: Option<String>,
    /// How far ahead expected purchases and CLV look, in clv.time_unit (weeks by
    /// default; clv.horizon, default 52).
    #[arg(long, value_name = "N")]
    clv_horizon: Option<f64>,
    /// Also fit on all but the last N days of the window and compare expected with
    /// actual purchases in those days, in the report (clv.holdout_days).
    #[arg(long, value_name = "N")]
    holdout_days: Option<u32>,
    /// Compare with an earlier as-of day, YYYY-MM-DD: each customer's segment and cluster
    /// then and now, the transition matrices, and the customers who moved down
    /// (migration.csv, downgraded.parquet, the report's migration section).
    #[arg(long, value_name = "DATE")]
    compare_as_of: Option<String>,
    /// Acquisition cohorts by the week, month or quarter of the first purchase: the share
    /// still purchasing and the revenue in each later period (cohorts.csv and the report's
    /// retention triangle; cohorts.period, default off).
    #[arg(long, value_name = "week|month|quarter|off")]
    cohorts: Option<String>,
}

/// The column mapping of `ingest --transactions` (each overrides its [source] key).
#[derive(clap::Args, Default)]
struct SourceFlags {
    /// Config file (TOML) whose [source] section maps the columns.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The customer id column.
    #[arg(long, value_name = "COLUMN")]
    customer: Option<String>,
    /// The time column (ISO date or datetime, YYYYMMDD, epoch seconds or milliseconds).
    #[arg(long, value_name = "COLUMN")]
    time: Option<String>,
    /// The amount column (the line's total; negative for a return).
    #[arg(long, value_name = "COLUMN")]
    amount: Option<String>,
    /// The quantity column (with --unit-price, instead of --amount).
    #[arg(long, value_name = "COLUMN")]
    quantity: Option<String>,
    /// The unit price column (with --quantity).
    #[arg(long, value_name = "COLUMN")]
    unit_price: Option<String>,
    /// The order id column: frequency then counts distinct orders.
    #[arg(long, value_name = "COLUMN")]
    order: Option<String>,
    /// The item id column.
    #[arg(long, value_name = "COLUMN")]
    item: Option<String>,
    /// The category column (the report's category lifts).
    #[arg(long, value_name = "COLUMN")]
    category: Option<String>,
    /// The store column (the report's store lifts).
    #[arg(long, value_name = "COLUMN")]
    store: Option<String>,
    /// A strftime format for the time column, e.g. "%m/%d/%Y %H:%M".
    #[arg(long, value_name = "FORMAT")]
    time_format: Option<String>,
    /// Amounts are written with a decimal comma (1.299,99).
    #[arg(long)]
    decimal_comma: bool,
    /// The CSV delimiter (one character, or \t); default: detected from the header.
    #[arg(long, value_name = "CHAR")]
    delimiter: Option<String>,
    /// Orders whose id matches this SQL LIKE pattern are cancellations, treated as
    /// returns (e.g. "C%" for the UCI Online Retail invoices).
    #[arg(long, value_name = "PATTERN")]
    cancelled_orders: Option<String>,
}

impl SourceFlags {
    /// The [source] section of --config, overridden by the flags.
    fn resolve(&self) -> anyhow::Result<rfmseg::config::SourceConfig> {
        let mut s = Config::load(self.config.as_deref())?.source;
        let set = |slot: &mut Option<String>, flag: &Option<String>| {
            if flag.is_some() {
                slot.clone_from(flag);
            }
        };
        set(&mut s.customer, &self.customer);
        set(&mut s.time, &self.time);
        set(&mut s.amount, &self.amount);
        set(&mut s.quantity, &self.quantity);
        set(&mut s.unit_price, &self.unit_price);
        set(&mut s.order, &self.order);
        set(&mut s.item, &self.item);
        set(&mut s.category, &self.category);
        set(&mut s.store, &self.store);
        set(&mut s.time_format, &self.time_format);
        set(&mut s.delimiter, &self.delimiter);
        set(&mut s.cancelled_orders, &self.cancelled_orders);
        s.decimal_comma |= self.decimal_comma;
        Ok(s)
    }
}

/// Where the queries run: `--cluster df://host:port`, or embedded without it.
#[derive(clap::Args, Default)]
struct ClusterFlags {
    /// Submit every query to this Ballista scheduler (df://host:port) instead of running
    /// them in this process.
    #[arg(long, value_name = "df://HOST:PORT")]
    cluster: Option<String>,
    /// Where the intermediate tables go on a cluster: an s3://bucket/prefix, or a folder
    /// every executor sees at the same path. Default: beside --out.
    #[arg(long, requires = "cluster")]
    work_dir: Option<PathBuf>,
    /// Seconds one query may run on the cluster before it is resubmitted (once); then
    /// the command fails and writes nothing.
    #[arg(long, requires = "cluster")]
    query_timeout: Option<u64>,
}

impl ClusterFlags {
    fn engine(&self) -> anyhow::Result<rfmseg::exec::Engine> {
        Ok(match &self.cluster {
            None => rfmseg::exec::Engine::Embedded,
            Some(url) => rfmseg::exec::Engine::Cluster {
                url: rfmseg::exec::ClusterUrl::parse(url)?,
                work_dir: self.work_dir.clone(),
                query_timeout: self
                    .query_timeout
                    .map_or(rfmseg::exec::DEFAULT_QUERY_TIMEOUT, |s| {
                        std::time::Duration::from_secs(s.max(1))
                    }),
            },
        })
    }
}

/// `host:port` of a scheduler, as the executor flag takes it.
fn host_port(text: &str) -> anyhow::Result<(String, u16)> {
    let (host, port) = text.rsplit_once(':').with_context(|| {
        format!("--scheduler \"{text}\": expected HOST:PORT, e.g. 127.0.0.1:50050")
    })?;
    let port = port
        .parse()
        .with_context(|| format!("--scheduler \"{text}\": the port is not a number"))?;
    Ok((host.to_string(), port))
}

impl RunFlags {
    fn resolve(&self) -> anyhow::Result<Config> {
        let overrides = Overrides {
            k: self.k.clone(),
            k_range: self.k_range.clone(),
            as_of: self.as_of.clone(),
            algorithm: self.algorithm.clone(),
            seed: self.seed,
            score_method: self.score_method.clone(),
            target_partitions: self.partitions,
            memory_limit: self.memory_limit.clone(),
            clv: self.clv.clone(),
            clv_horizon: self.clv_horizon,
            holdout_days: self.holdout_days,
            compare_as_of: self.compare_as_of.clone(),
            cohorts: self.cohorts.clone(),
        };
        Ok(Config::resolve(self.config.as_deref(), &overrides)?)
    }
}

#[derive(Subcommand)]
enum Command {
    /// Generate sample data, ingest it and run the whole job in ./rfmseg-demo (raw/,
    /// lake/, out/); prints the segments and the path of report.html.
    Demo {
        /// Folder for the demo's data and outputs.
        #[arg(long, default_value = "rfmseg-demo")]
        dir: PathBuf,
        /// Reviews to generate (with --transactions: transaction lines).
        #[arg(long, default_value_t = 200_000)]
        reviews: u64,
        /// A shop's transaction export instead of Amazon reviews (`generate
        /// --transactions`, then `ingest --transactions` with its mapping).
        #[arg(long)]
        transactions: bool,
        #[command(flatten)]
        flags: RunFlags,
    },
    /// Segment the customers of a lake: RFM, k-means with k chosen by elbow and
    /// silhouette, labels, recommendations. Writes customers.parquet, model.json,
    /// k_selection.csv, segments.csv, report.json and report.html into --out.
    Run {
        /// Lake folder written by `rfmseg ingest`.
        #[arg(long)]
        lake: PathBuf,
        /// Output folder (replaced atomically at the end of a successful run).
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        flags: RunFlags,
        #[command(flatten)]
        cluster: ClusterFlags,
    },
    /// Assign the customers of a lake to a saved model's clusters and segments, without
    /// refitting. Writes <out>/customers.parquet.
    Score {
        /// model.json written by `rfmseg run`.
        #[arg(long)]
        model: PathBuf,
        #[arg(long)]
        lake: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        cluster: ClusterFlags,
    },
    /// Run one SQL statement over a lake and Parquet tables, with rfmseg's functions,
    /// embedded or on a cluster. Prints the result, or writes it with --out.
    Sql {
        /// SQL file (e.g. sql/rfm.sql); its {{parameters}} are bound from the config.
        #[arg(
            short = 'f',
            long = "file",
            conflicts_with = "command",
            required_unless_present = "command"
        )]
        file: Option<PathBuf>,
        /// SQL text.
        #[arg(short = 'c', long = "command")]
        command: Option<String>,
        /// Lake folder: registers lake_reviews and lake_items.
        #[arg(long)]
        lake: Option<PathBuf>,
        /// More tables, NAME=PATH (a Parquet file or folder); repeatable.
        #[arg(long = "table", value_name = "NAME=PATH")]
        tables: Vec<String>,
        /// Run the pipeline up to clean or features first, so the statement can read
        /// their tables (clean_reviews, purchases, rfm, features, customers, ...).
        #[arg(long)]
        upto: Option<String>,
        /// Bind {{NAME}} to VALUE (over the config's defaults); repeatable.
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
        /// Config file (TOML) the parameters come from.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Write the result to this .parquet or .csv file instead of printing it.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Rows printed at most.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[command(flatten)]
        cluster: ClusterFlags,
    },
    /// Start a Ballista scheduler with rfmseg's functions. Stops on SIGINT/SIGTERM.
    Scheduler {
        /// Address to listen on (127.0.0.1 unless you want other machines to reach it).
        #[arg(long, default_value = "127.0.0.1:50050")]
        bind: std::net::SocketAddr,
        /// Host name executors and clients use for this scheduler.
        #[arg(long)]
        external_host: Option<String>,
        /// Seconds without a heartbeat after which an executor is lost and its tasks rerun.
        #[arg(long, default_value_t = 30)]
        executor_timeout: u64,
        /// Seconds the scheduler keeps a finished job's state before freeing it
        /// (non-zero; Ballista's own default is an hour).
        #[arg(long, default_value_t = 10)]
        finished_job_ttl: u64,
    },
    /// Start a Ballista executor with rfmseg's functions, registered with --scheduler.
    /// Stops on SIGINT/SIGTERM.
    Executor {
        /// The scheduler, HOST:PORT.
        #[arg(long, default_value = "127.0.0.1:50050")]
        scheduler: String,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        bind_host: String,
        /// Host name the scheduler and other executors reach this one by (default: --bind-host).
        #[arg(long)]
        external_host: Option<String>,
        /// Arrow Flight port (0: any free port).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// gRPC port for task launches (0: any free port).
        #[arg(long, default_value_t = 0)]
        grpc_port: u16,
        /// Tasks run at once (0: one per core).
        #[arg(long, default_value_t = 0)]
        concurrent_tasks: usize,
        /// Folder for shuffle files and spills.
        #[arg(long)]
        work_dir: Option<PathBuf>,
        /// Seconds between heartbeats to the scheduler.
        #[arg(long, default_value_t = 5)]
        heartbeat: u64,
    },
    /// Write synthetic data in the Amazon Reviews 2023 raw format (JSONL), deterministic
    /// from --seed, with planted customer archetypes (truth.csv).
    Generate {
        /// Review lines to write (duplicates and irregular lines included).
        #[arg(long, default_value_t = 1_000_000)]
        reviews: u64,
        /// Output folder.
        #[arg(long, default_value = "data")]
        out: PathBuf,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Gzip the JSONL files (.jsonl.gz).
        #[arg(long)]
        gzip: bool,
        /// Share of review lines replaced by irregular ones, for robustness tests: bad lines
        /// (truncated JSON, wrong types) and lines without user_id (read as NULL, dropped
        /// by cleaning).
        #[arg(long, default_value_t = 0.0)]
        malformed_rate: f64,
        /// A shop's transaction export (transactions.csv, UCI Online Retail columns) with
        /// --reviews lines, instead of Amazon reviews.
        #[arg(long, conflicts_with = "gzip")]
        transactions: bool,
    },
    /// Raw reviews and item metadata (JSONL, JSONL.gz or Parquet) into a Parquet lake.
    Ingest {
        /// Reviews file or folder (e.g. Electronics.jsonl.gz); JSON Lines may also come
        /// from a pipe (/dev/stdin, <(curl ...)).
        #[arg(long, required_unless_present = "transactions", requires = "items")]
        reviews: Option<PathBuf>,
        /// Item metadata file or folder (e.g. meta_Electronics.jsonl.gz), or a pipe.
        #[arg(long, requires = "reviews")]
        items: Option<PathBuf>,
        /// A shop's transactions instead: CSV (any delimiter, header row), JSON Lines or
        /// Parquet files, gzipped or not, or folders of them; map the columns with the
        /// flags below or the [source] section of --config.
        #[arg(long, num_args = 1.., conflicts_with_all = ["reviews", "items"])]
        transactions: Vec<PathBuf>,
        #[command(flatten)]
        source: SourceFlags,
        /// Lake folder to write (replaced if it is an rfmseg lake).
        #[arg(long)]
        out: PathBuf,
        /// What to do with a line that cannot be read: fail (stop, naming file and line),
        /// skip (drop and count) or quarantine (drop, keep in <lake>/quarantine/).
        #[arg(long, default_value = "fail")]
        on_bad_line: String,
        /// Parsing threads (0: one per core).
        #[arg(long, default_value_t = 0)]
        threads: usize,
    },
    /// Clean a lake and print the data-quality table.
    Clean {
        /// Lake folder written by `rfmseg ingest`.
        #[arg(long)]
        lake: PathBuf,
        /// Config file (TOML); see `rfmseg show-config`.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Also write the data-quality table as JSON here.
        #[arg(long)]
        quality_json: Option<PathBuf>,
    },
    /// Clean a lake and compute RFM per customer: writes <out>/customers.parquet
    /// (recency, frequency, monetary, scaled inputs, batch, R/F/M scores, rfm_segment)
    /// and <out>/features.json (window, scaler, data quality).
    Features {
        #[arg(long)]
        lake: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        config: Option<PathBuf>,
        /// Pin the as-of day (YYYY-MM-DD); default: the newest purchase's day.
        #[arg(long)]
        as_of: Option<String>,
        /// R/F/M scores: quantile (ties get equal scores) or ntile (the reference's).
        #[arg(long)]
        score_method: Option<String>,
    },
    /// Print the resolved configuration as TOML (defaults, or a --config file).
    ShowConfig {
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The cluster roles are services: their log (registrations, tasks) is their output.
    let default_level = match cli.command {
        Command::Scheduler { .. } | Command::Executor { .. } => "info",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RFMSEG_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // Unix convention, as ripgrep: when the reader of our output has gone away
        // (`rfmseg sql ... | head -1`), it has all it wanted; that is not an error, and
        // there is nobody left to tell.
        Err(e) if e.is::<StdoutClosed>() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", chain_once(&e));
            let bug = e
                .chain()
                .filter_map(|c| c.downcast_ref::<rfmseg::Error>())
                .any(rfmseg::Error::is_bug);
            // 70 is EX_SOFTWARE (sysexits.h): scripts can tell "fix the input" (2) from
            // "report this".
            ExitCode::from(if bug { 70 } else { 2 })
        }
    }
}

/// The error and its causes as one line of text, each piece once. The library's errors
/// show their cause in their own text (so a caller of the library sees all of it) and
/// also return it as `source()`, and DataFusion's errors do the same (a schema error
/// wraps itself, an Arrow error wraps a DataFusion error): printing the whole chain
/// (`{:#}`) repeated an OS or SQL error two to four times. A cause already contained in
/// what is printed is left out; the contexts ("sql failed") and the hints stay.
fn chain_once(e: &anyhow::Error) -> String {
    let mut shown: Vec<String> = Vec::new();
    for cause in e.chain() {
        let text = cause.to_string();
        let text = text.trim();
        if !text.is_empty() && !shown.iter().any(|s| s.contains(text)) {
            shown.push(text.to_string());
        }
    }
    shown.join(": ")
}

/// Stdout was closed by its reader; `main` exits quietly with status 0.
#[derive(Debug)]
struct StdoutClosed;

impl std::fmt::Display for StdoutClosed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("stdout was closed")
    }
}

impl std::error::Error for StdoutClosed {}

/// Writes to stdout, returning an error instead of panicking as `print!` does: Rust
/// ignores SIGPIPE, so writing to a closed pipe fails with EPIPE. Only this broken pipe
/// becomes [`StdoutClosed`]; one from a socket to the cluster stays an error.
fn write_stdout(args: std::fmt::Arguments) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_fmt(args).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(StdoutClosed.into()),
        Err(e) => Err(anyhow::Error::new(e).context("writing to stdout")),
    }
}

/// `print!` for every command's output, through [`write_stdout`].
macro_rules! out {
    ($($arg:tt)*) => {
        write_stdout(format_args!($($arg)*))?
    };
}

/// `println!` for every command's output, through [`write_stdout`].
macro_rules! outln {
    () => {
        write_stdout(format_args!("\n"))?
    };
    ($($arg:tt)*) => {
        write_stdout(format_args!("{}\n", format_args!($($arg)*)))?
    };
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let progress = !cli.quiet && std::io::stderr().is_terminal();
    // Every command resolves its config once, with Config::resolve (flags > TOML >
    // defaults), and prints the summary the library returns.
    let no_flags = Overrides::default();
    match cli.command {
        Command::Demo {
            dir,
            reviews,
            transactions,
            flags,
        } => {
            let config = flags.resolve()?;
            let data = if transactions {
                rfmseg::demo::DemoData::Transactions { lines: reviews }
            } else {
                rfmseg::demo::DemoData::Reviews { reviews }
            };
            let s = runtime
                .block_on(rfmseg::demo::run_demo(&dir, data, &config, progress))
                .context("demo failed")?;
            out!("{s}");
        }
        Command::Run {
            lake,
            out,
            flags,
            cluster,
        } => {
            let opts = rfmseg::pipeline::RunOptions {
                lake,
                out,
                config: flags.resolve()?,
                progress,
                engine: cluster.engine()?,
            };
            let s = runtime
                .block_on(rfmseg::pipeline::run(&opts))
                .context("run failed")?;
            out!("{s}");
        }
        Command::Score {
            model,
            lake,
            out,
            cluster,
        } => {
            let engine = cluster.engine()?;
            let s = runtime
                .block_on(rfmseg::score::score(&model, &lake, &out, &engine))
                .context("score failed")?;
            out!("{s}");
        }
        Command::Generate {
            reviews,
            out,
            seed,
            gzip,
            malformed_rate,
            transactions,
        } => {
            if transactions {
                let s = rfmseg::generate::shop::generate_transactions(
                    &rfmseg::generate::shop::ShopOptions {
                        lines: reviews,
                        seed,
                        out,
                        malformed_rate,
                    },
                )
                .context("generate failed")?;
                out!("{s}");
            } else {
                let s = generate(&GenerateOptions {
                    reviews,
                    seed,
                    out,
                    gzip,
                    malformed_rate,
                })
                .context("generate failed")?;
                out!("{s}");
            }
        }
        Command::Ingest {
            reviews,
            items,
            transactions,
            source,
            out,
            on_bad_line,
            threads,
        } => {
            let on_bad_line = on_bad_line.parse::<OnBadLine>()?;
            let s = match (reviews, items) {
                (Some(reviews), Some(items)) => {
                    let mut opts = IngestOptions::new(reviews, items, &out);
                    opts.on_bad_line = on_bad_line;
                    opts.threads = threads;
                    opts.progress = progress;
                    ingest(&opts).context("ingest failed")?
                }
                _ => {
                    let opts = rfmseg::ingest::transactions::TransactionsOptions {
                        inputs: transactions,
                        out: out.clone(),
                        source: source.resolve()?,
                        on_bad_line,
                    };
                    rfmseg::ingest::transactions::ingest_transactions(&opts)
                        .context("ingest failed")?
                }
            };
            out!("{s}");
        }
        Command::Clean {
            lake,
            config,
            quality_json,
        } => {
            let config = Config::resolve(config.as_deref(), &no_flags)?;
            if let Some(path) = &quality_json {
                rfmseg::storage::check_new_file(path)?;
            }
            let (_, quality) = runtime
                .block_on(rfmseg::clean_lake(&lake, &config))
                .context("clean failed")?;
            // The file first: a reader that closes stdout early must not cost it.
            if let Some(path) = quality_json {
                rfmseg::storage::write_new_file(&path, |tmp| {
                    rfmseg::storage::write_json(tmp, &quality)
                })?;
            }
            out!("{quality}");
        }
        Command::Features {
            lake,
            out,
            config,
            as_of,
            score_method,
        } => {
            let flags = Overrides {
                as_of,
                score_method,
                ..Overrides::default()
            };
            let config = Config::resolve(config.as_deref(), &flags)?;
            let s = runtime.block_on(rfmseg::features_to_dir(&lake, &out, &config))?;
            out!("{s}");
        }
        Command::Sql {
            file,
            command,
            lake,
            tables,
            upto,
            params,
            config,
            out,
            limit,
            cluster,
        } => {
            let (sql, source) = match (file, command) {
                (Some(path), _) => (
                    std::fs::read_to_string(&path)
                        .with_context(|| format!("reading {}", path.display()))?,
                    path.display().to_string(),
                ),
                (None, Some(text)) => (text, "-c".to_string()),
                (None, None) => anyhow::bail!("give the SQL with -f FILE or -c \"SELECT ...\""),
            };
            let pair = |flag: &str, text: &str| -> anyhow::Result<(String, String)> {
                let (k, v) = text
                    .split_once('=')
                    .with_context(|| format!("{flag} \"{text}\": expected NAME=VALUE"))?;
                Ok((k.trim().to_string(), v.to_string()))
            };
            let opts = rfmseg::sql::SqlOptions {
                sql,
                source,
                lake,
                tables: tables
                    .iter()
                    .map(|t| pair("--table", t).map(|(k, v)| (k, PathBuf::from(v))))
                    .collect::<anyhow::Result<_>>()?,
                upto: upto.map(|u| u.parse()).transpose()?,
                params: params
                    .iter()
                    .map(|p| pair("--param", p))
                    .collect::<anyhow::Result<_>>()?,
                config: Config::resolve(config.as_deref(), &no_flags)?,
                engine: cluster.engine()?,
                out: out.clone(),
            };
            let r = runtime
                .block_on(rfmseg::sql::run_sql(&opts))
                .context("sql failed")?;
            match out {
                Some(path) => outln!(
                    "{} rows written to {}",
                    group_thousands(r.rows),
                    path.display()
                ),
                None => {
                    out!("{}", rfmseg::sql::format_table(&r.batches, limit)?);
                    outln!("{} rows", group_thousands(r.rows));
                }
            }
        }
        Command::Scheduler {
            bind,
            external_host,
            executor_timeout,
            finished_job_ttl,
        } => {
            let opts = rfmseg::cluster::SchedulerOptions {
                bind,
                external_host: external_host.unwrap_or_else(|| bind.ip().to_string()),
                executor_timeout_seconds: executor_timeout,
                finished_job_ttl_seconds: finished_job_ttl,
            };
            runtime
                .block_on(rfmseg::cluster::run_scheduler(&opts))
                .context("scheduler failed")?;
        }
        Command::Executor {
            scheduler,
            bind_host,
            external_host,
            port,
            grpc_port,
            concurrent_tasks,
            work_dir,
            heartbeat,
        } => {
            let (scheduler_host, scheduler_port) = host_port(&scheduler)?;
            let opts = rfmseg::cluster::ExecutorOptions {
                scheduler_host,
                scheduler_port,
                external_host: external_host.unwrap_or_else(|| bind_host.clone()),
                bind_host,
                port,
                grpc_port,
                concurrent_tasks,
                work_dir,
                heartbeat_seconds: heartbeat,
            };
            runtime
                .block_on(rfmseg::cluster::run_executor(&opts))
                .context("executor failed")?;
        }
        Command::ShowConfig { config } => {
            out!(
                "{}",
                Config::resolve(config.as_deref(), &no_flags)?.to_toml()
            );
        }
    }
    Ok(())
}

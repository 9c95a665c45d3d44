//! The execution layer: a session (embedded DataFusion, or a client of a Ballista
//! cluster) with rfmseg's functions, and the ways a stage runs its SQL on it ([`params`]
//! binds a file's parameters, [`query`] collects and materialises, [`flagged`] is the
//! cleaning stages' one-pass query). Nothing above this layer knows which engine runs.

pub mod client;
pub mod distinct;
pub mod flagged;
pub mod memory;
pub mod params;
pub mod query;
pub mod query_count;
pub mod spill;
pub mod work_dir;

pub use client::{ClusterUrl, cluster_context};
pub use params::{render, sql_f64, sql_string, sql_string_list};
pub use query::{collect, materialize, one_row, register_view, write_table_parquet};
pub use query_count::{Queries, QueryCount, query_count};
pub use work_dir::{SharedWorkDir, shared_work_dir};

use std::path::{Path, PathBuf};
use std::time::Duration;

use datafusion::prelude::{SessionConfig, SessionContext};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::lake::{LakeKind, register_lake};
use crate::storage::{Location, S3Scratch, ScratchDir, absolute, s3};

/// Where a command's queries run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Engine {
    /// In this process (DataFusion).
    #[default]
    Embedded,
    /// On a Ballista cluster. Intermediate tables go to `work_dir` (default: beside the
    /// output), which every executor must reach at the same location: an `s3://` prefix,
    /// or a shared volume.
    Cluster {
        url: ClusterUrl,
        work_dir: Option<PathBuf>,
        /// A query that has not finished after this long is resubmitted once, then the
        /// command fails (see [`query::on_cluster`]).
        query_timeout: Duration,
    },
}

/// Default of `--query-timeout`: far above any single query of a 44M-review run on a
/// small cluster, well below "forever".
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(1800);

/// A session and, on a cluster, the shared location holding its intermediate tables
/// (removed when the session is dropped, whether the command succeeded or not).
pub struct Session {
    pub ctx: SessionContext,
    _work: Option<Work>,
    /// Where an embedded session's large in-memory tables go ([`Session::spill`]): the
    /// output's folder, a scratch folder made there on first use.
    near: Option<PathBuf>,
    spilled: Option<ScratchDir>,
    /// Tables holding more bytes than this go to disk ([`SPILL_BYTES`]).
    pub(crate) spill_bytes: usize,
}

/// An in-memory table holding more than this is worth moving to disk while the queries
/// that read it run ([`Session::spill`]): at 10M reviews the clean reviews (160 MiB) and
/// the customers (110 MiB) stay in memory, at the full 43.9M (705 and 500 MiB) they go.
pub const SPILL_BYTES: usize = 256 << 20;

/// The scratch space of a cluster session, which deletes itself when dropped (held only
/// for that).
#[allow(dead_code)]
enum Work {
    Local(ScratchDir),
    S3(S3Scratch),
}

impl Session {
    /// Opens a session for a command writing to `out`.
    pub async fn open(engine: &Engine, config: &Config, out: &Path) -> Result<Session> {
        match engine {
            Engine::Embedded if config.engine.memory_limit.is_some() => {
                // With a memory limit, the tables a run keeps between stages go to Parquet
                // in a scratch folder, as on a cluster, instead of staying in memory where
                // the pool cannot see them: the run's memory then follows its operators,
                // not the size of its tables.
                let guard = ScratchDir::create(&scratch_near(out)?)?;
                let tables = SharedWorkDir::new(
                    Location::Local(guard.path().to_path_buf()),
                    EMBEDDED_QUERY_TIMEOUT,
                    false,
                );
                let session = SessionConfig::new().with_extension(std::sync::Arc::new(tables));
                Ok(Session {
                    ctx: context_from(session, config),
                    _work: Some(Work::Local(guard)),
                    near: None,
                    spilled: None,
                    spill_bytes: SPILL_BYTES,
                })
            }
            Engine::Embedded => Ok(Session {
                ctx: local_context(config),
                _work: None,
                near: Some(scratch_near(out)?),
                spilled: None,
                spill_bytes: SPILL_BYTES,
            }),
            Engine::Cluster {
                url,
                work_dir,
                query_timeout,
            } => {
                let near = match work_dir {
                    Some(d) => match Location::of(d)? {
                        Location::Local(d) => {
                            std::fs::create_dir_all(&d).map_err(|e| Error::io(&d, e))?;
                            // Absolute: executors resolve it from their own folders.
                            Location::Local(absolute(&d.join("rfmseg-work"))?)
                        }
                        Location::S3(u) => Location::S3(u.join("rfmseg-work")),
                    },
                    None => match Location::of(out)? {
                        Location::Local(p) => Location::Local(absolute(&p)?),
                        s3 => s3,
                    },
                };
                let (guard, work) = match near {
                    Location::Local(p) => {
                        let g = ScratchDir::create(&p)?;
                        let at = Location::Local(g.path().to_path_buf());
                        (Work::Local(g), at)
                    }
                    Location::S3(u) => {
                        let g = S3Scratch::beside(&u);
                        let at = Location::S3(g.url().clone());
                        (Work::S3(g), at)
                    }
                };
                let ctx = cluster_context(url, config, work, *query_timeout).await?;
                Ok(Session {
                    ctx,
                    _work: Some(guard),
                    near: None,
                    spilled: None,
                    spill_bytes: SPILL_BYTES,
                })
            }
        }
    }

    /// Moves the in-memory table `name` to Parquet in a scratch folder beside the output
    /// if it holds more than [`SPILL_BYTES`] (an embedded session without a memory limit
    /// only: the others keep their tables on disk already). The folder goes with the
    /// session.
    pub async fn spill(&mut self, name: &str) -> Result<()> {
        let Some(near) = &self.near else {
            return Ok(());
        };
        if memory::table_bytes(&self.ctx, name).await <= self.spill_bytes {
            return Ok(());
        }
        let dir = match &self.spilled {
            Some(dir) => dir,
            None => self.spilled.insert(ScratchDir::create(near)?),
        };
        let writers = self.ctx.copied_config().target_partitions();
        spill::spill(&self.ctx, name, dir.path(), writers).await?;
        Ok(())
    }
}

/// Where an embedded session keeps tables on disk: beside a local output, in the
/// system's temporary folder for an output on S3.
fn scratch_near(out: &Path) -> Result<PathBuf> {
    match Location::of(out)? {
        Location::Local(p) => absolute(&p),
        Location::S3(_) => Ok(std::env::temp_dir().join("rfmseg-tables")),
    }
}

/// rfmseg's settings on a session config, the same embedded and on a cluster (so both
/// plan the same queries the same way).
pub fn session_config(mut session: SessionConfig, config: &Config) -> SessionConfig {
    // Plain Utf8 strings, not string views: views that survive filters, joins and
    // in-memory stages keep whole upstream buffers alive, which at 10M reviews made
    // the later stages several times slower and grew memory to gigabytes.
    session
        .options_mut()
        .execution
        .parquet
        .schema_force_view_types = false;
    // `rfmseg sql` users list the functions and their documentation with
    // `SELECT * FROM information_schema.routines`.
    session = session.with_information_schema(true);
    session = session.with_extension(std::sync::Arc::new(QueryCount::default()));
    if config.engine.target_partitions > 0 {
        session = session.with_target_partitions(config.engine.target_partitions);
    }
    if let Ok(Some(limit)) = config.engine.memory_limit_bytes() {
        // Every sort partition sets aside this much for merging its spill files, memory it
        // cannot give back; a stage runs several sorts at once (a window, an ORDER BY, per
        // partition), and at DataFusion's 10 MB each they took a 40 MB pool before any row
        // was sorted. A 64th of the limit, between 256 KB and those 10 MB.
        let reserve = (limit / 64).clamp(256 << 10, 10 << 20);
        session.options_mut().execution.sort_spill_reservation_bytes = reserve;
    }
    session
}

/// An embedded (in-process) session with rfmseg's UDFs, its operators' memory bounded by
/// `engine.memory_limit` if set (the config is validated before a session opens, so an
/// unparsable limit never reaches here).
pub fn local_context(config: &Config) -> SessionContext {
    let mut session = SessionConfig::new();
    // Grouping by customer (the RFM, 3.56M groups from 12.6M purchases at the full
    // Electronics size) reduces the rows too little for the partial aggregation to pay:
    // each partition's hash table held most customers, beside the final one (250 MB).
    // DataFusion skips it when a partition's first rows give more than this many groups
    // per row; the default 0.8 never triggers here. Embedded only: on a cluster the
    // partial aggregation is what shrinks the shuffle.
    session
        .options_mut()
        .execution
        .skip_partial_aggregation_probe_ratio_threshold = 0.1;
    session = session.with_target_partitions(EMBEDDED_PARTITIONS_PER_CORE * crate::config::cores());
    session = session.with_batch_size(EMBEDDED_BATCH_ROWS);
    // An explicit `engine.target_partitions` is set over this in `session_config`.
    context_from(session, config)
}

/// Embedded, two partitions per core unless `engine.target_partitions` says otherwise.
/// With one per core, a core whose partition finished first waited for the other's: a
/// hash repartition of customers or purchases is never even, and a stage's partitions
/// do unequal work. With two, tokio's work stealing keeps both cores busy. On 2 cores,
/// release, 10M reviews: `run` 4-8% faster in the mean (15 of 18 alternated pairs), with
/// a 1 GB memory limit 18.7 s -> 13.5 s (one pair); 1M and the full Electronics size
/// unchanged within the machine's spread, peak memory too (benches/RESULTS.md).
const EMBEDDED_PARTITIONS_PER_CORE: usize = 2;

/// Rows per batch in an embedded session, four times DataFusion's 8,192: each batch
/// pays its allocations, its hashing set-up and its operators' calls once, and a run's
/// stages are CPU-bound on a core each. On 2 cores, release, 10M reviews, alternated:
/// `run` 6.12 -> 5.63 s in the mean of 4 (CPU 9.97 -> 9.06 s), peak memory +5%; 16,384
/// was between, 65,536 no faster and +15% memory. Outputs are byte-identical (no result
/// depends on how rows are batched).
const EMBEDDED_BATCH_ROWS: usize = 32 * 1024;

/// An embedded run's queries are not resubmitted (no executor can be lost), so the
/// timeout that a cluster uses for that is, for tables kept on disk, only a bound no
/// query reaches.
const EMBEDDED_QUERY_TIMEOUT: Duration = Duration::from_secs(365 * 24 * 3600);

fn context_from(session: SessionConfig, config: &Config) -> SessionContext {
    let memory_limit = config.engine.memory_limit_bytes().ok().flatten();
    let session = session_config(session, config);
    let ctx = match s3::runtime_env(None, memory_limit) {
        Ok(runtime) => SessionContext::new_with_config_rt(session, runtime),
        Err(_) => SessionContext::new_with_config(session),
    };
    rfmseg_udfs::register_all(&ctx);
    ctx
}

/// Lake rows per partition of a cluster session. Each partition is a task in every stage
/// of every job, and a task costs milliseconds before it does any work (more when it reads
/// from object storage), while a k sweep runs dozens of jobs over tables far smaller than
/// the lake. Measured at 1M reviews on 2 executors: 16.6 s with Ballista's default of 16
/// partitions, 9.5 s with 2.
const LAKE_ROWS_PER_PARTITION: u64 = 4_000_000;

/// Registers the lake at `lake` on the session ([`register_lake`]) and, on a cluster
/// session whose partitions the user left to rfmseg, sizes them to it
/// ([`size_partitions_to_lake`]). Every command that reads a lake opens it here.
pub async fn open_lake(ctx: &SessionContext, lake: &Path) -> Result<LakeKind> {
    let kind = register_lake(ctx, lake).await?;
    size_partitions_to_lake(ctx).await;
    Ok(kind)
}

/// The partitions of a cluster session over a lake of `rows` rows.
fn partitions_for(rows: u64) -> usize {
    (rows.div_ceil(LAKE_ROWS_PER_PARTITION).div_ceil(2) * 2).clamp(2, 16) as usize
}

/// On a cluster session whose partitions the user left to rfmseg, sets them from the
/// registered lake's size (its Parquet footers, read here): one per
/// [`LAKE_ROWS_PER_PARTITION`] lake rows, rounded up to an even number, at least 2 and at
/// most Ballista's default of 16. Even, because each stage's tasks run in rounds over the
/// task slots, and slots come in pairs on most clusters: at 10M reviews (3 by size) on 2
/// executors, 3 partitions made every stage two rounds with one slot idle in the second
/// (29.1 s against 25.4 s with 4). Embedded sessions keep one partition per core.
async fn size_partitions_to_lake(ctx: &SessionContext) {
    if !shared_work_dir(ctx).is_some_and(|w| w.size_partitions) {
        return;
    }
    let mut rows = 0;
    for table in ["lake_reviews", "lake_items", "lake_transactions"] {
        if ctx.table_exist(table).unwrap_or(false) {
            rows += query::exact_rows(ctx, table).await.unwrap_or(0);
        }
    }
    let partitions = partitions_for(rows);
    tracing::debug!(rows, partitions, "cluster partitions sized to the lake");
    ctx.state_ref()
        .write()
        .config_mut()
        .options_mut()
        .execution
        .target_partitions = partitions;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One partition per 4M lake rows, even, within 2..16.
    #[test]
    fn cluster_partitions_follow_the_lake_size() {
        for (rows, want) in [
            (0, 2),
            (1_000_000, 2),
            (8_000_000, 2),
            (8_000_001, 4),
            (10_359_189, 4),
            (16_000_000, 4),
            (16_000_001, 6),
            (43_886_944, 12),
            (1_000_000_000, 16),
        ] {
            assert_eq!(partitions_for(rows), want, "{rows} rows");
        }
    }

    /// A table over the threshold goes to a scratch folder beside the output, which goes
    /// with the session; one at the threshold stays in memory.
    #[tokio::test]
    async fn an_embedded_session_spills_large_tables_beside_the_output_and_cleans_up() {
        use arrow::array::{Int64Array, RecordBatch};
        use datafusion::datasource::MemTable;
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let mut session = Session::open(&Engine::Embedded, &Config::default(), &out)
            .await
            .unwrap();
        let b = RecordBatch::try_from_iter([(
            "x",
            std::sync::Arc::new(Int64Array::from(vec![3, 1, 2])) as _,
        )])
        .unwrap();
        let t = MemTable::try_new(b.schema(), vec![vec![b]]).unwrap();
        session
            .ctx
            .register_table("t", std::sync::Arc::new(t))
            .unwrap();
        let in_memory = |s: &Session| {
            let ctx = s.ctx.clone();
            async move {
                let p = ctx.table_provider("t").await.unwrap();
                let any: &dyn std::any::Any = p.as_ref();
                any.downcast_ref::<MemTable>().is_some()
            }
        };
        // 3 values of 8 bytes, in a buffer of at least that.
        let bytes = memory::table_bytes(&session.ctx, "t").await;
        assert!((24..=64).contains(&bytes), "{bytes} bytes");
        session.spill_bytes = bytes;
        session.spill("t").await.unwrap();
        assert!(in_memory(&session).await);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

        session.spill_bytes = bytes - 1;
        session.spill("t").await.unwrap();
        assert!(!in_memory(&session).await);
        let entries = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(entries, 2, "one scratch folder and its lock");
        let sum = query::one_row(&session.ctx, "t", "SELECT sum(x) AS s FROM t")
            .await
            .unwrap();
        assert_eq!(query::i64_column(&sum, "s").unwrap(), [6]);
        drop(session);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "scratch left behind"
        );
    }
}

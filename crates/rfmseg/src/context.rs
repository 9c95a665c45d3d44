//! Builds the DataFusion session every stage runs in, with rfmseg's functions registered
//! and the lake's tables in place.

use std::path::{Path, PathBuf};
use std::time::Duration;

use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};

use crate::cluster::{ClusterUrl, cluster_context};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::ingest::Table;
use crate::storage::ScratchDir;

/// Where a command's queries run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Engine {
    /// In this process (DataFusion).
    #[default]
    Embedded,
    /// On a Ballista cluster. Intermediate tables go to `work_dir` (default: a folder
    /// beside the output), which every executor must see at the same path.
    Cluster {
        url: ClusterUrl,
        work_dir: Option<PathBuf>,
        /// A query that has not finished after this long is resubmitted once, then the
        /// command fails (see [`crate::stages::on_cluster`]).
        query_timeout: Duration,
    },
}

/// Default of `--query-timeout`: far above any single query of a 44M-review run on a
/// small cluster, well below "forever".
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(1800);

/// A session and, on a cluster, the shared folder holding its intermediate tables
/// (removed when the session is dropped, whether the command succeeded or not).
pub struct Session {
    pub ctx: SessionContext,
    _work: Option<ScratchDir>,
}

impl Session {
    /// Opens a session for a command writing to `out`.
    pub async fn open(engine: &Engine, config: &Config, out: &Path) -> Result<Session> {
        match engine {
            Engine::Embedded => Ok(Session {
                ctx: local_context(config),
                _work: None,
            }),
            Engine::Cluster {
                url,
                work_dir,
                query_timeout,
            } => {
                // Absolute: executors resolve it from their own folders.
                let near = match work_dir {
                    Some(d) => {
                        std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
                        absolute(&d.join("rfmseg-work"))?
                    }
                    None => absolute(out)?,
                };
                let guard = ScratchDir::create(&near)?;
                let ctx = cluster_context(url, config, guard.path(), *query_timeout).await?;
                Ok(Session {
                    ctx,
                    _work: Some(guard),
                })
            }
        }
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
    if config.engine.target_partitions > 0 {
        session = session.with_target_partitions(config.engine.target_partitions);
    }
    session
}

/// An embedded (in-process) session with rfmseg's UDFs.
pub fn local_context(config: &Config) -> SessionContext {
    let ctx = SessionContext::new_with_config(session_config(SessionConfig::new(), config));
    rfmseg_udfs::register_all(&ctx);
    ctx
}

/// `path` made absolute against this process's folder: every path a cluster session
/// registers or writes is resolved by executors that run elsewhere.
pub fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).map_err(|e| Error::io(path, e))
}

/// Registers `lake_reviews` and `lake_items` from a lake folder, checking that each has
/// the columns `ingest` writes, so a wrong folder fails here with a hint, not mid-query.
pub async fn register_lake(ctx: &SessionContext, lake: &Path) -> Result<()> {
    // Said first, in plain words: a mistyped --lake would otherwise read as a lake
    // without Parquet files.
    if !lake.exists() {
        return Err(Error::BadInput {
            path: lake.to_path_buf(),
            message: "does not exist".into(),
            hint: "check the path given to --lake: a lake is the folder that `rfmseg ingest \
                   --out <lake>` wrote"
                .into(),
        });
    }
    if !lake.is_dir() {
        return Err(Error::BadInput {
            path: lake.to_path_buf(),
            message: "is a file, not a lake folder".into(),
            hint: "give the folder `rfmseg ingest --out <lake>` wrote, not a file in it".into(),
        });
    }
    for table in [Table::Reviews, Table::Items] {
        let dir = lake.join(table.dir_name());
        let has_parquet = std::fs::read_dir(&dir).ok().is_some_and(|entries| {
            entries
                .filter_map(|e| e.ok())
                .any(|e| e.path().extension().is_some_and(|x| x == "parquet"))
        });
        if !has_parquet {
            return Err(Error::BadInput {
                path: dir,
                message: "has no Parquet files; this is not an rfmseg lake".into(),
                hint: "create the lake with `rfmseg ingest --reviews ... --items ... --out <lake>`"
                    .into(),
            });
        }
        let name = format!("lake_{}", table.dir_name());
        // Absolute: on a cluster the executors resolve the path, from their own folder.
        let url = format!("{}/", absolute(&dir)?.display());
        ctx.register_parquet(&name, &url, ParquetReadOptions::default())
            .await
            .map_err(|e| Error::stage(&format!("register {name}"), e))?;
        let found = ctx
            .table(name.as_str())
            .await
            .map_err(|e| Error::stage(&format!("register {name}"), e))?;
        for field in table.schema().fields() {
            if found
                .schema()
                .field_with_unqualified_name(field.name())
                .is_err()
            {
                return Err(Error::BadInput {
                    path: dir.clone(),
                    message: format!("column \"{}\" missing", field.name()),
                    hint: "the lake was written by another version: re-run `rfmseg ingest`".into(),
                });
            }
        }
    }
    Ok(())
}

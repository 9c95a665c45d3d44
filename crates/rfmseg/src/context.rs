//! Builds the DataFusion session every stage runs in, with rfmseg's functions registered
//! and the lake's tables in place.

use std::path::Path;

use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::ingest::Table;

/// An embedded (in-process) session with rfmseg's UDFs.
pub fn local_context(config: &Config) -> SessionContext {
    let mut session = SessionConfig::new();
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
    let ctx = SessionContext::new_with_config(session);
    rfmseg_udfs::register_all(&ctx);
    ctx
}

/// Registers `lake_reviews` and `lake_items` from a lake folder, checking that each has
/// the columns `ingest` writes, so a wrong folder fails here with a hint, not mid-query.
pub async fn register_lake(ctx: &SessionContext, lake: &Path) -> Result<()> {
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
        let url = format!("{}/", dir.display());
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

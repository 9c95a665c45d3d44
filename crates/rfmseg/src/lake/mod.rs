//! The lake: the tables `ingest` writes (DESIGN §3 "Lake": reviews and items from the
//! Amazon files, or one transactions table from a shop's export, §3b), their Arrow
//! schemas, and their registration on a session as `lake_reviews` and `lake_items`, or
//! `lake_transactions`. Every reader of a
//! lake (clean, features, run, score, sql) starts here, so a wrong folder fails the same
//! way everywhere, before any query.

pub mod buckets;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::prelude::{ParquetReadOptions, SessionContext};

use self::buckets::BUCKET_COLUMN;
use crate::error::{Error, Result};
use crate::storage::{Location, OutputKind, S3Url, absolute, resolve_output, s3};

/// A lake table (and the raw files that feed it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Table {
    Reviews,
    Items,
}

impl Table {
    /// The lake sub-folder.
    pub fn dir_name(self) -> &'static str {
        match self {
            Table::Reviews => "reviews",
            Table::Items => "items",
        }
    }

    pub fn schema(self) -> SchemaRef {
        match self {
            Table::Reviews => reviews_schema(),
            Table::Items => items_schema(),
        }
    }
}

/// lake/reviews: one row per review line, and its customer's bucket (`user_bucket`, see
/// [`crate::lake::buckets`]). `ts` is UTC seconds (the raw milliseconds, floored),
/// which is all RFM needs and keeps the column small. Lakes written before the bucket
/// column are still read; they are cleaned in one pass.
pub fn reviews_schema() -> SchemaRef {
    let mut fields: Vec<Field> = review_rows_schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new(BUCKET_COLUMN, DataType::Int32, false));
    Arc::new(Schema::new(fields))
}

/// The columns of a review line, as parsed (the lake's reviews without the bucket).
pub fn review_rows_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("user_id", DataType::Utf8, true),
        Field::new("parent_asin", DataType::Utf8, true),
        Field::new("asin", DataType::Utf8, true),
        Field::new("rating", DataType::Float64, true),
        Field::new("ts", DataType::Timestamp(TimeUnit::Second, None), true),
        Field::new("verified_purchase", DataType::Boolean, true),
        Field::new("helpful_vote", DataType::Int64, true),
    ]))
}

/// Whether the session's `lake_reviews` has the bucket column (a lake written by this
/// version's ingest).
pub async fn reviews_are_bucketed(ctx: &SessionContext) -> bool {
    match ctx.table("lake_reviews").await {
        Ok(t) => t
            .schema()
            .field_with_unqualified_name(BUCKET_COLUMN)
            .is_ok(),
        Err(_) => false,
    }
}

/// lake/items: one row per meta line. `price_raw` is the price's text whatever its JSON
/// type (number, string, null), so cleaning can count what it could not parse.
pub fn items_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("parent_asin", DataType::Utf8, true),
        Field::new("title", DataType::Utf8, true),
        Field::new("main_category", DataType::Utf8, true),
        Field::new("store", DataType::Utf8, true),
        Field::new(
            "categories",
            DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
            true,
        ),
        Field::new("price_raw", DataType::Utf8, true),
    ]))
}

/// The lake folder of a shop's transactions (registered as `lake_transactions`).
pub const TRANSACTIONS_DIR: &str = "transactions";

/// lake/transactions: one row per line of a shop's export, mapped and parsed at ingest.
/// `amount` is the line's total (quantity x unit price when those were mapped), negative
/// for a return, in micro-units; `cancelled` marks lines of an order whose id matched
/// `source.cancelled_orders`.
pub fn transactions_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("customer_id", DataType::Utf8, true),
        Field::new("ts", DataType::Timestamp(TimeUnit::Second, None), true),
        Field::new("amount", DataType::Float64, true),
        Field::new("quantity", DataType::Float64, true),
        Field::new("order_id", DataType::Utf8, true),
        Field::new("item_id", DataType::Utf8, true),
        Field::new("category", DataType::Utf8, true),
        Field::new("store", DataType::Utf8, true),
        Field::new("cancelled", DataType::Boolean, true),
    ]))
}

/// Which data a lake holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LakeKind {
    /// Amazon reviews and items.
    Reviews,
    /// A shop's transactions.
    Transactions,
}

/// Whether the session's lake is a transactions lake (`lake_transactions` registered).
pub fn is_transactions(ctx: &SessionContext) -> bool {
    ctx.table_exist("lake_transactions").unwrap_or(false)
}

/// Registers `lake_reviews` and `lake_items` from a lake folder, checking that each has
/// the columns `ingest` writes, so a wrong folder fails here with a hint, not mid-query.
/// An `s3://` lake is read in place, through the generation its marker names.
pub async fn register_lake(ctx: &SessionContext, lake: &Path) -> Result<LakeKind> {
    let found = match Location::of(lake)? {
        Location::Local(_) => local_lake(lake)?,
        Location::S3(url) => s3_lake(&url).await?,
    };
    let (kind, tables) = found;
    for (dir_name, schema, shown, url) in tables {
        let name = format!("lake_{dir_name}");
        ctx.register_parquet(&name, &url, ParquetReadOptions::default())
            .await
            .map_err(|e| Error::stage(&format!("register {name}"), e))?;
        let found = ctx
            .table(name.as_str())
            .await
            .map_err(|e| Error::stage(&format!("register {name}"), e))?;
        // The bucket column is new: an older lake without it is read, and cleaned in one
        // pass.
        for field in schema.fields().iter().filter(|f| f.name() != BUCKET_COLUMN) {
            if found
                .schema()
                .field_with_unqualified_name(field.name())
                .is_err()
            {
                return Err(Error::BadInput {
                    path: shown.clone(),
                    message: format!("column \"{}\" missing", field.name()),
                    hint: "the lake was written by another version: re-run `rfmseg ingest`".into(),
                });
            }
        }
    }
    Ok(kind)
}

/// A lake's tables: their folder name, schema, the path to name in messages and the URL
/// to register.
type LakeTables = (LakeKind, Vec<(&'static str, SchemaRef, PathBuf, String)>);

fn tables_of(transactions: bool) -> (LakeKind, Vec<(&'static str, SchemaRef)>) {
    if transactions {
        (
            LakeKind::Transactions,
            vec![(TRANSACTIONS_DIR, transactions_schema())],
        )
    } else {
        (
            LakeKind::Reviews,
            [Table::Reviews, Table::Items]
                .map(|t| (t.dir_name(), t.schema()))
                .to_vec(),
        )
    }
}

fn not_a_lake(path: PathBuf) -> Error {
    Error::BadInput {
        path,
        message: "has no Parquet files; this is not an rfmseg lake".into(),
        hint: "create the lake with `rfmseg ingest --reviews ... --items ... --out <lake>` \
               (or `--transactions FILE ...` for a shop's export)"
            .into(),
    }
}

fn local_lake(lake: &Path) -> Result<LakeTables> {
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
    let (kind, tables) = tables_of(lake.join(TRANSACTIONS_DIR).is_dir());
    let mut out = Vec::new();
    for (dir_name, schema) in tables {
        let dir = lake.join(dir_name);
        let has_parquet = std::fs::read_dir(&dir).ok().is_some_and(|entries| {
            entries
                .filter_map(|e| e.ok())
                .any(|e| e.path().extension().is_some_and(|x| x == "parquet"))
        });
        if !has_parquet {
            return Err(not_a_lake(dir));
        }
        // Absolute: on a cluster the executors resolve the path, from their own folder.
        let url = format!("{}/", absolute(&dir)?.display());
        out.push((dir_name, schema, dir, url));
    }
    Ok((kind, out))
}

async fn s3_lake(lake: &S3Url) -> Result<LakeTables> {
    let root = resolve_output(
        lake,
        OutputKind::Lake,
        "give the prefix that `rfmseg ingest --out s3://...` wrote",
    )
    .await?;
    let objects: Vec<String> = s3::list(&root)
        .await?
        .into_iter()
        .map(|o| o.location.to_string())
        .collect();
    let has_parquet = |dir: &S3Url| {
        let prefix = format!("{}/", dir.key);
        objects
            .iter()
            .any(|k| k.starts_with(&prefix) && k.ends_with(".parquet"))
    };
    let (kind, tables) = tables_of(has_parquet(&root.join(TRANSACTIONS_DIR)));
    let mut out = Vec::new();
    for (dir_name, schema) in tables {
        let dir = root.join(dir_name);
        if !has_parquet(&dir) {
            return Err(not_a_lake(lake.join(dir_name).to_path()));
        }
        out.push((
            dir_name,
            schema,
            lake.join(dir_name).to_path(),
            dir.folder_url(),
        ));
    }
    Ok((kind, out))
}

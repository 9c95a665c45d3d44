//! Cleaning: lake -> `clean_reviews` and `clean_items` (or, for a shop's lake,
//! `clean_transactions`), with the data-quality table. The rules are in
//! sql/clean_reviews.sql, sql/clean_items.sql and sql/clean_transactions.sql.
//!
//! Place in the flow: lake -> **cleaned** -> features -> model -> report.

use datafusion::prelude::SessionContext;
use futures::StreamExt;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::exec::distinct::register_distinct;
use crate::exec::flagged::{Flagged, flag_and_keep};
use crate::exec::query::{count_rows, get_i64, one_row};
use crate::exec::work_dir::shared_work_dir;
use crate::exec::{render, sql_f64, sql_string_list};
use crate::lake::buckets::{BUCKET_COLUMN, USER_BUCKETS, placeholders_cover};
use crate::lake::{is_transactions, reviews_are_bucketed};
use crate::quality::{Action, DataQuality};

/// sql/clean_reviews.sql
pub const CLEAN_REVIEWS_SQL: &str = include_str!("../../../../sql/clean_reviews.sql");
/// sql/clean_reviews_normalized.sql
pub const CLEAN_REVIEWS_NORMALIZED_SQL: &str =
    include_str!("../../../../sql/clean_reviews_normalized.sql");
/// sql/clean_reviews_cutoff.sql
pub const CLEAN_REVIEWS_CUTOFF_SQL: &str = include_str!("../../../../sql/clean_reviews_cutoff.sql");
/// sql/clean_items_normalized.sql
pub const CLEAN_ITEMS_NORMALIZED_SQL: &str =
    include_str!("../../../../sql/clean_items_normalized.sql");
/// sql/clean_items.sql
pub const CLEAN_ITEMS_SQL: &str = include_str!("../../../../sql/clean_items.sql");
/// sql/clean_transactions.sql
pub const CLEAN_TRANSACTIONS_SQL: &str = include_str!("../../../../sql/clean_transactions.sql");

/// The parameters of the cleaning's SQL files; sql/clean_reviews.sql's `normalized` is the
/// query of sql/clean_reviews_normalized.sql over every lake review, sql/clean_items.sql's
/// `normalized_items` that of sql/clean_items_normalized.sql.
pub(crate) fn clean_params(config: &Config) -> Result<Vec<(&'static str, String)>> {
    let c = &config.clean;
    let mut params = vec![
        (
            "missing_values",
            sql_string_list(c.missing_values.iter().map(|s| s.trim().to_lowercase())),
        ),
        (
            "excluded_categories",
            sql_string_list(&c.excluded_categories),
        ),
        ("drop_null_category", c.drop_null_category.to_string()),
        ("verified_only", c.verified_only.to_string()),
        ("history_days", c.history_days.to_string()),
        ("max_price", sql_f64(c.max_price)),
        ("reviews", String::new()),
        ("normalized", String::new()),
        ("normalized_items", String::new()),
        ("oldest_kept_ts", "NULL".to_string()),
        ("distinct", "DISTINCT".to_string()),
    ];
    set_reviews(&mut params, "TRUE")?;
    let items = render("clean_items", CLEAN_ITEMS_NORMALIZED_SQL, &params)?;
    set_param(&mut params, "normalized_items", items);
    Ok(params)
}

/// Sets which lake reviews sql/clean_reviews.sql cleans (`reviews`: TRUE, or a range of
/// customer buckets) and its `normalized`, the query of sql/clean_reviews_normalized.sql
/// over those rows, which depends on it.
fn set_reviews(params: &mut [(&'static str, String)], reviews: &str) -> Result<()> {
    set_param(params, "reviews", reviews.to_string());
    let normalized = render("clean_reviews", CLEAN_REVIEWS_NORMALIZED_SQL, params)?;
    set_param(params, "normalized", normalized);
    Ok(())
}

/// Sets parameter `key` of `params` to `value`.
fn set_param(params: &mut [(&'static str, String)], key: &str, value: String) {
    if let Some(p) = params.iter_mut().find(|(k, _)| *k == key) {
        p.1 = value;
    }
}

/// Reviews per cleaning pass: one pass's exact DISTINCT holds about 125 bytes per review
/// (measured at 43.9M), so about 600 MB at this size.
pub const REVIEWS_PER_PASS: u64 = 3_000_000;

/// How the cleaning goes through a lake's reviews: in `ranges` ranges of customer buckets
/// (1: the whole lake in one query), `side_by_side` of them at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReviewPasses {
    pub ranges: u32,
    pub side_by_side: u32,
}

impl ReviewPasses {
    /// One query over the whole lake.
    pub const ONE: ReviewPasses = ReviewPasses {
        ranges: 1,
        side_by_side: 1,
    };
}

/// How the cleaning of `reviews` lake rows goes. Passes: one for a lake of up to
/// [`REVIEWS_PER_PASS`] reviews, else the fewest of at most [`REVIEWS_PER_PASS`] each that
/// split the 16 buckets evenly (a power of two: 15 passes would give the last one two
/// buckets, twice the memory of the others), at most one per bucket. Each pass is then cut
/// in as many ranges as the session has partitions (while the buckets allow), run side by
/// side, each a query on one partition: the rows of a range of buckets are the only ones
/// its exact duplicates can be, so one partition needs no shuffle of every row between
/// two hash aggregations (`rfmseg clean` at 10M reviews on 2 cores, 6 runs each: median
/// 3.96 -> 3.68 s; at 1M no change). The same memory as the pass: its ranges together
/// are its rows. One query over the whole lake, whatever its size,
/// for a lake without customer buckets (written before them) or when
/// `clean.missing_values` has a placeholder the buckets do not know. Ranges one after
/// another on a cluster (its executors share each query's partitions anyway) and under a
/// memory limit (each range then writes its rows to the work folder, and side by side
/// they would split the pool).
pub async fn review_passes(ctx: &SessionContext, config: &Config, reviews: u64) -> ReviewPasses {
    if !placeholders_cover(&config.clean.missing_values) || !reviews_are_bucketed(ctx).await {
        return ReviewPasses::ONE;
    }
    let passes = if reviews <= REVIEWS_PER_PASS {
        1
    } else {
        reviews
            .div_ceil(REVIEWS_PER_PASS)
            .next_power_of_two()
            .min(USER_BUCKETS as u64) as u32
    };
    let side_by_side = if shared_work_dir(ctx).is_some() {
        1
    } else {
        let partitions = ctx.copied_config().target_partitions().max(1) as u32;
        // A power of two, so the ranges still split the buckets evenly.
        let most = partitions.min(USER_BUCKETS as u32 / passes).max(1);
        1 << most.ilog2()
    };
    ReviewPasses {
        ranges: passes * side_by_side,
        side_by_side,
    }
}

/// The customer buckets of pass `i` of `passes`: contiguous, as even as 16 allows.
fn pass_buckets(i: u32, passes: u32) -> (i32, i32) {
    let n = USER_BUCKETS as u32;
    let lo = i * n / passes;
    let hi = (i + 1) * n / passes - 1;
    (lo as i32, hi as i32)
}

/// Cleans reviews and items: registers `clean_reviews` and `clean_items` (in memory) and
/// returns the data-quality table.
pub async fn clean(ctx: &SessionContext, config: &Config) -> Result<DataQuality> {
    clean_keeping(ctx, config, &ALL_COLUMNS).await
}

/// The columns the cleaning keeps of the clean reviews and of the clean items.
#[derive(Debug, Clone, Copy)]
pub struct Columns<'a> {
    pub reviews: &'a [&'a str],
    pub items: &'a [&'a str],
}

/// Every column: `clean_reviews` and `clean_items` as `rfmseg sql` and the tests see them.
pub const ALL_COLUMNS: Columns<'static> = Columns {
    reviews: &[
        "user_id",
        "parent_asin",
        "asin",
        "rating",
        "ts",
        "verified_purchase",
        "helpful_vote",
    ],
    items: &[
        "parent_asin",
        "title",
        "main_category",
        "store",
        "categories",
        "price_raw",
        "price",
    ],
};

/// The columns the purchases read (sql/purchases.sql), all a run reads of them.
pub const PURCHASE_COLUMNS: Columns<'static> = Columns {
    reviews: &["user_id", "parent_asin", "ts"],
    items: &["parent_asin", "price", "main_category", "store"],
};

/// [`clean`], keeping only `columns` of the clean reviews and items (a run keeps
/// [`PURCHASE_COLUMNS`]: the others, kept through every pass, were 40% of the cleaning's
/// memory at 43.9M reviews).
pub async fn clean_keeping(
    ctx: &SessionContext,
    config: &Config,
    columns: &Columns<'_>,
) -> Result<DataQuality> {
    let mut quality = DataQuality::default();
    if is_transactions(ctx) {
        clean_transactions(ctx, config, &mut quality).await?;
        return Ok(quality);
    }
    // The items side by side with the reviews' first pass: each query has stretches on
    // one core (planning, final merges) the other fills. Started before the kept reviews
    // fill memory: the items' exact-duplicate check reads every column of every item
    // (titles, categories: 700 MB at the full Electronics size). Their counts still
    // follow the reviews'.
    let mut items = DataQuality::default();
    futures::try_join!(
        clean_items_with(ctx, config, &mut items, columns.items),
        clean_reviews_with(ctx, config, &mut quality, None, columns.reviews),
    )?;
    quality.steps.extend(items.steps);
    Ok(quality)
}

/// The tables [`clean`] may register (which ones depends on the lake), and the view of
/// the purchases over them ([`super::purchases`]): everything a run reads its purchases
/// from, released together once no later step reads a purchase.
pub const PURCHASE_TABLES: [&str; 4] = [
    "purchases",
    "clean_reviews",
    "clean_items",
    "clean_transactions",
];

/// The review rules of sql/clean_reviews.sql, in the order they apply.
pub const REVIEW_DROP_REASONS: [&str; 7] = [
    "missing user_id",
    "missing parent_asin",
    "missing timestamp",
    "missing rating",
    "rating outside 1..5",
    "not a verified purchase",
    "older than clean.history_days",
];

/// The item rules of sql/clean_items.sql, in the order they apply.
pub const ITEM_DROP_REASONS: [&str; 3] = [
    "missing parent_asin",
    "missing main_category",
    "excluded main_category",
];

/// Registers `clean_reviews`: user_id, parent_asin, asin, rating, ts, verified_purchase,
/// helpful_vote.
pub async fn clean_reviews(
    ctx: &SessionContext,
    config: &Config,
    quality: &mut DataQuality,
) -> Result<u64> {
    clean_reviews_in(ctx, config, quality, None).await
}

/// [`clean_reviews`] in the ranges of customer buckets given, or as [`review_passes`]
/// chooses; the same rows and counts for any number, one after another or side by side.
pub async fn clean_reviews_in(
    ctx: &SessionContext,
    config: &Config,
    quality: &mut DataQuality,
    passes: Option<ReviewPasses>,
) -> Result<u64> {
    clean_reviews_with(ctx, config, quality, passes, ALL_COLUMNS.reviews).await
}

/// [`clean_reviews_in`], keeping `columns` of the clean reviews.
async fn clean_reviews_with(
    ctx: &SessionContext,
    config: &Config,
    quality: &mut DataQuality,
    passes: Option<ReviewPasses>,
    columns: &[&str],
) -> Result<u64> {
    const STAGE: &str = "clean_reviews";
    let input = count_rows(ctx, STAGE, "lake_reviews").await?;
    let passes = match passes {
        Some(n) => n,
        None => review_passes(ctx, config, input).await,
    };
    let out = clean_reviews_in_passes(ctx, config, passes, input, columns).await?;
    let distinct = out.rows;
    quality.push("reviews", "lake rows", Action::Input, input);
    quality.push(
        "reviews",
        "exact duplicate",
        Action::Removed,
        input - distinct,
    );
    quality.push(
        "reviews",
        "rating 0 set to 1",
        Action::Fixed,
        out.flag("rating_fixed"),
    );
    quality.push(
        "reviews",
        "negative helpful_vote set to 0",
        Action::Fixed,
        out.flag("helpful_vote_fixed"),
    );
    for reason in REVIEW_DROP_REASONS {
        quality.push("reviews", reason, Action::Removed, out.reason(reason));
    }
    let kept = out.register(ctx, STAGE).await?;
    quality.push("reviews", "clean reviews", Action::Kept, kept);
    if kept == 0 {
        return Err(nothing_left(quality, "reviews"));
    }
    Ok(kept)
}

/// The rules of sql/clean_reviews.sql over the whole lake, in ranges of customer buckets
/// (1: the whole lake in one query). Every range gets the whole lake's cutoff for rule 6
/// (sql/clean_reviews_cutoff.sql), so the counts and kept rows are those of one query;
/// only their order differs.
async fn clean_reviews_in_passes(
    ctx: &SessionContext,
    config: &Config,
    passes: ReviewPasses,
    reviews: u64,
    kept_columns: &[&str],
) -> Result<Flagged> {
    const STAGE: &str = "clean_reviews";
    let per_range = reviews / u64::from(passes.ranges.max(1));
    let mut params = clean_params(config)?;
    if passes.ranges <= 1 {
        return flag_reviews(ctx, STAGE, params, per_range, kept_columns).await;
    }
    let cutoff_sql = render(STAGE, CLEAN_REVIEWS_CUTOFF_SQL, &params)?;
    let cutoff = get_i64(&one_row(ctx, STAGE, &cutoff_sql).await?, "oldest_kept_ts")?;
    set_param(
        &mut params,
        "oldest_kept_ts",
        cutoff.map_or("NULL".into(), |s| format!("to_timestamp_seconds({s})")),
    );
    let side = passes.side_by_side.clamp(1, passes.ranges) as usize;
    // Ranges side by side share the session's partitions.
    let range_ctx = if side > 1 {
        // A copy of the session's state shares its tables, functions and memory pool.
        let mut state = ctx.state();
        let options = state.config_mut().options_mut();
        options.execution.target_partitions = (options.execution.target_partitions / side).max(1);
        SessionContext::new_with_state(state)
    } else {
        ctx.clone()
    };
    let mut all: Option<Flagged> = None;
    // `side` ranges at a time, the next one starting as soon as any finishes (in waves,
    // each wave waited for its slowest range with a core idle); taken in range order,
    // range i joins the partitions of slot i % side, as it did in waves.
    let range_ctx = &range_ctx;
    let mut parts = futures::stream::iter(0..passes.ranges)
        .map(|i| {
            let (lo, hi) = pass_buckets(i, passes.ranges);
            let mut params = params.clone();
            async move {
                set_reviews(
                    &mut params,
                    &format!("{BUCKET_COLUMN} BETWEEN {lo} AND {hi}"),
                )?;
                // Its own name: on a work folder each part is a table of its own.
                let part = format!("{STAGE}_part{i}");
                flag_reviews(range_ctx, &part, params, per_range, kept_columns).await
            }
        })
        .buffered(side)
        .enumerate();
    while let Some((i, out)) = parts.next().await {
        let out = out?;
        match &mut all {
            None => all = Some(out),
            Some(all) => all.absorb(out, i % side)?,
        }
    }
    all.ok_or_else(|| Error::Internal("cleaning in no pass".into()))
}

/// sql/clean_reviews.sql with `params` through [`flag_and_keep`], registered as `part`.
/// `reviews`: about how many lake reviews the part has.
async fn flag_reviews(
    ctx: &SessionContext,
    part: &str,
    params: Vec<(&'static str, String)>,
    reviews: u64,
    kept_columns: &[&str],
) -> Result<Flagged> {
    let file = CleaningFile {
        sql: CLEAN_REVIEWS_SQL,
        normalized: "normalized",
        rows: reviews,
    };
    flag_distinct(ctx, part, params, &file, kept_columns, &[]).await
}

/// A cleaning file whose rule 1 is a `normalized` parameter its rule 2 makes distinct.
struct CleaningFile {
    sql: &'static str,
    /// The parameter holding the query of rule 1.
    normalized: &'static str,
    /// About how many rows that query gives.
    rows: u64,
}

/// `file` through [`flag_and_keep`], registered as `part`. Embedded without a memory
/// limit, the exact duplicates of rule 2 are dropped in Rust first
/// (`crate::exec::distinct`), and the file reads those rows as its rule 1: at 10M reviews
/// DataFusion's DISTINCT was 2.6 s of the cleaning's 4.2 s of CPU, and over the items
/// (their `categories` lists encoded as rows) most of theirs.
async fn flag_distinct(
    ctx: &SessionContext,
    part: &str,
    mut params: Vec<(&'static str, String)>,
    file: &CleaningFile,
    kept_columns: &[&str],
    kept_counts: &[&str],
) -> Result<Flagged> {
    if shared_work_dir(ctx).is_none() {
        let query = params
            .iter()
            .find(|(k, _)| *k == file.normalized)
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let table = format!("{part}_distinct");
        if register_distinct(ctx, part, &query, file.rows, &table).await? {
            set_param(
                &mut params,
                file.normalized,
                format!("SELECT * FROM {table}"),
            );
            set_param(&mut params, "distinct", "ALL".into());
            let sql = render(part, file.sql, &params)?;
            let out = flag_and_keep(ctx, part, &sql, kept_columns, kept_counts).await;
            ctx.deregister_table(&table)
                .map_err(|e| Error::stage(part, e))?;
            return out;
        }
    }
    let sql = render(part, file.sql, &params)?;
    flag_and_keep(ctx, part, &sql, kept_columns, kept_counts).await
}

/// Registers `clean_items`: parent_asin, title, main_category, store, categories,
/// price_raw, price.
pub async fn clean_items(
    ctx: &SessionContext,
    config: &Config,
    quality: &mut DataQuality,
) -> Result<u64> {
    clean_items_with(ctx, config, quality, ALL_COLUMNS.items).await
}

/// [`clean_items`], keeping `columns` of the clean items.
async fn clean_items_with(
    ctx: &SessionContext,
    config: &Config,
    quality: &mut DataQuality,
    columns: &[&str],
) -> Result<u64> {
    const STAGE: &str = "clean_items";
    let input = count_rows(ctx, STAGE, "lake_items").await?;
    let file = CleaningFile {
        sql: CLEAN_ITEMS_SQL,
        normalized: "normalized_items",
        rows: input,
    };
    let params = clean_params(config)?;
    let out = flag_distinct(ctx, STAGE, params, &file, columns, &["price_status"]).await?;
    quality.push("items", "lake rows", Action::Input, input);
    quality.push(
        "items",
        "exact duplicate",
        Action::Removed,
        input - out.rows,
    );
    for reason in ITEM_DROP_REASONS {
        quality.push("items", reason, Action::Removed, out.reason(reason));
    }
    for (status, step) in [
        ("missing", "price missing (kept, price NULL)"),
        ("unparseable", "price unparseable (kept, price NULL)"),
        (
            "out of range",
            "price <= 0 or > clean.max_price (kept, price NULL)",
        ),
    ] {
        quality.push(
            "items",
            step,
            Action::Counted,
            out.kept_value("price_status", status),
        );
    }
    let kept = out.register(ctx, STAGE).await?;
    quality.push("items", "clean items", Action::Kept, kept);
    if kept == 0 {
        return Err(nothing_left(quality, "items"));
    }
    Ok(kept)
}

/// The transaction rules of sql/clean_transactions.sql, in the order they apply.
pub const TRANSACTION_DROP_REASONS: [&str; 3] =
    ["missing customer id", "missing time", "missing amount"];

/// Registers `clean_transactions`: customer_id, ts, amount (negative for a return),
/// order_id, item_id, category, store.
pub async fn clean_transactions(
    ctx: &SessionContext,
    config: &Config,
    quality: &mut DataQuality,
) -> Result<u64> {
    const STAGE: &str = "clean_transactions";
    const TABLE: &str = "transactions";
    let input = count_rows(ctx, STAGE, "lake_transactions").await?;
    let sql = render(STAGE, CLEAN_TRANSACTIONS_SQL, &clean_params(config)?)?;
    let kept_columns = [
        "customer_id",
        "ts",
        "amount",
        "order_id",
        "item_id",
        "category",
        "store",
    ];
    let out = flag_and_keep(ctx, STAGE, &sql, &kept_columns, &["is_return"]).await?;
    quality.push(TABLE, "lake rows", Action::Input, input);
    quality.push(TABLE, "exact duplicate", Action::Removed, input - out.rows);
    quality.push(
        TABLE,
        "cancelled order, amount made negative (a return)",
        Action::Fixed,
        out.flag("cancelled_fixed"),
    );
    for reason in TRANSACTION_DROP_REASONS {
        quality.push(TABLE, reason, Action::Removed, out.reason(reason));
    }
    quality.push(
        TABLE,
        "returns (netted into monetary, never a purchase)",
        Action::Counted,
        out.kept_value("is_return", "true"),
    );
    let kept = out.register(ctx, STAGE).await?;
    quality.push(TABLE, "clean transactions", Action::Kept, kept);
    if kept == 0 {
        return Err(nothing_left(quality, TABLE));
    }
    Ok(kept)
}

fn nothing_left(quality: &DataQuality, table: &str) -> Error {
    let last = quality
        .steps
        .iter()
        .rfind(|s| s.table == table && s.action == Action::Removed && s.rows > 0);
    let message = match last {
        Some(s) => format!(
            "no {table} left after cleaning: the step \"{}\" removed the last {} rows",
            s.step, s.rows
        ),
        None => format!("no {table} left after cleaning: the lake has no {table}"),
    };
    Error::BadInput {
        path: format!("lake_{table}").into(),
        message,
        hint: "check the [clean] settings (verified_only, history_days, excluded_categories) \
               against the data-quality table above"
            .into(),
    }
}

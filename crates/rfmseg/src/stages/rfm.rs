//! RFM: purchases -> the RFM window -> per-customer recency, frequency, monetary -> scaled
//! model inputs and the `batch` column (sql/rfm_window.sql, sql/rfm.sql,
//! sql/scale_moments.sql, sql/scale.sql). [`features`] runs the whole features step:
//! [`super::purchases`], this, and [`super::scores`], registering `customers`.
//!
//! Place in the flow: cleaned -> **features** -> model -> report.

use serde::{Deserialize, Serialize};

use datafusion::prelude::SessionContext;

use super::purchases::purchases;
use super::scores::scores;
use crate::config::{ALL_HISTORY, Config, format_day, parse_day};
use crate::error::{Error, Result};
use crate::exec::query::{get_f64, get_i64, materialize, one_row, register_view};
use crate::exec::{render, sql_f64};
use crate::lake::is_transactions;

pub const RFM_WINDOW_SQL: &str = include_str!("../../../../sql/rfm_window.sql");
pub const RFM_SQL: &str = include_str!("../../../../sql/rfm.sql");
pub const SCALE_MOMENTS_SQL: &str = include_str!("../../../../sql/scale_moments.sql");
pub const SCALE_SQL: &str = include_str!("../../../../sql/scale.sql");

/// The model inputs, in the order of every centroid and scaler vector.
pub const FEATURE_NAMES: [&str; 3] = ["recency", "ln1p_frequency", "ln1p_monetary"];

/// The scaled columns of `customers`, in [`FEATURE_NAMES`] order.
pub const SCALED_COLUMNS: [&str; 3] = ["recency_z", "frequency_z", "monetary_z"];

/// The RFM window, as days since 1970-01-01, and what each filter left in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RfmWindow {
    /// Day of the newest cleaned purchase.
    pub newest_day: String,
    /// The as-of day (the newest day unless pinned); the reference date is the day after.
    pub as_of: String,
    /// First day of the window.
    pub first_day: String,
    pub as_of_day: i64,
    pub window_days: u32,
    /// Cleaned purchases, all days.
    pub purchases: u64,
    /// ... of which in the window.
    pub in_window: u64,
    /// ... of which with a known price.
    pub priced_in_window: u64,
    /// ... of which priced above rfm.min_amount: the purchases RFM counts.
    pub counted: u64,
}

/// The standard scaler of the model inputs: z = (x - mean) / std.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scaler {
    pub features: Vec<String>,
    pub mean: Vec<f64>,
    /// Sample standard deviations (n - 1), as Spark's StandardScaler.
    pub std: Vec<f64>,
}

/// What the features step produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeaturesSummary {
    pub window: RfmWindow,
    pub scaler: Scaler,
    pub customers: u64,
}

/// Runs every RFM stage on a session holding `clean_reviews` and `clean_items`, and
/// registers `purchases` (view), `rfm`, `features` and `customers` (in memory).
pub async fn features(ctx: &SessionContext, config: &Config) -> Result<FeaturesSummary> {
    purchases(ctx, config).await?;
    let window = rfm_window(ctx, config).await?;
    let customers = rfm(ctx, config, &window).await?;
    // The RFM aggregation's hash tables are freed but kept by the allocator (600 MB at
    // the full Electronics size), under the scores' joins that build the customers next.
    crate::exec::memory::return_free_memory();
    let scaler = scale(ctx, config, customers).await?;
    scores(ctx, config).await?;
    Ok(FeaturesSummary {
        window,
        scaler,
        customers,
    })
}

pub(crate) fn window_params(config: &Config, as_of: String) -> Vec<(&'static str, String)> {
    // Before the window is known, "all" is a window longer than any history.
    let days = match config.rfm.window_days {
        ALL_HISTORY => 1_000_000,
        d => d,
    };
    window_params_days(config, as_of, days.to_string())
}

/// The window's parameters with `window_days` as given (a number, or the expression of
/// sql/rfm_window.sql for the whole history).
fn window_params_days(
    config: &Config,
    as_of: String,
    window_days: String,
) -> Vec<(&'static str, String)> {
    vec![
        ("as_of", as_of),
        ("window_days", window_days),
        ("min_amount", sql_f64(config.rfm.min_amount)),
    ]
}

/// The parameters of the stages after the window: its as-of day and its actual days.
pub(crate) fn known_window_params(
    config: &Config,
    window: &RfmWindow,
) -> Vec<(&'static str, String)> {
    window_params_days(
        config,
        window.as_of_day.to_string(),
        window.window_days.to_string(),
    )
}

/// How sql/rfm.sql counts purchases: reviews one per row; a shop's lines one per distinct
/// order id (a line without one counts alone). Distinct counting costs a set per customer,
/// so reviews, which have no order id, keep the plain count.
pub(crate) fn frequency_param(ctx: &SessionContext, config: &Config) -> (&'static str, String) {
    let min = sql_f64(config.rfm.min_amount);
    let expr = if is_transactions(ctx) {
        format!(
            "count(DISTINCT CASE WHEN amount > {min} THEN order_id END) \
             + count(CASE WHEN amount > {min} AND order_id IS NULL THEN 1 END)"
        )
    } else {
        format!("count(CASE WHEN amount > {min} THEN 1 END)")
    };
    ("frequency", expr)
}

/// `rfm.as_of` as the SQL value of `{{as_of}}`: the pinned day number, or NULL for "the
/// newest purchase's day".
pub(crate) fn pinned_as_of(config: &Config) -> Result<String> {
    match &config.rfm.as_of {
        Some(day) => parse_day(day)
            .map(|d| d.to_string())
            .map_err(|message| Error::Config {
                key: "rfm.as_of (--as-of)".into(),
                message,
            }),
        None => Ok("NULL".to_string()),
    }
}

/// The as-of day and the filter counts; an error naming the filter if nothing is left.
pub async fn rfm_window(ctx: &SessionContext, config: &Config) -> Result<RfmWindow> {
    let days = match config.rfm.window_days {
        ALL_HISTORY => "(b.as_of_day - b.oldest_day + 1)".to_string(),
        d => d.to_string(),
    };
    let sql = render(
        "rfm_window",
        RFM_WINDOW_SQL,
        &window_params_days(config, pinned_as_of(config)?, days),
    )?;
    let row = one_row(ctx, "rfm_window", &sql).await?;
    let count = |name: &str| -> Result<u64> { Ok(get_i64(&row, name)?.unwrap_or(0) as u64) };
    let Some(newest) = get_i64(&row, "newest_day")? else {
        return Err(Error::BadInput {
            path: "purchases".into(),
            message: "no purchases: cleaning left no reviews".into(),
            hint: "see the data-quality table".into(),
        });
    };
    let as_of_day = get_i64(&row, "as_of_day")?.unwrap_or(newest);
    let first_day = get_i64(&row, "first_day")?.unwrap_or(as_of_day);
    let window = RfmWindow {
        newest_day: format_day(newest),
        as_of: format_day(as_of_day),
        first_day: format_day(first_day),
        as_of_day,
        window_days: u32::try_from(count("window_days")?.max(1)).unwrap_or(u32::MAX),
        purchases: count("purchases")?,
        in_window: count("in_window")?,
        priced_in_window: count("priced_in_window")?,
        counted: count("counted")?,
    };
    if window.counted == 0 {
        let (filter, hint) = if window.in_window == 0 {
            (
                format!(
                    "none of the {} purchases falls in the window {} .. {}",
                    window.purchases, window.first_day, window.as_of
                ),
                "pick an --as-of day inside the data, or a longer rfm.window_days",
            )
        } else if window.priced_in_window == 0 {
            (
                format!(
                    "none of the {} purchases in the window has a known price",
                    window.in_window
                ),
                "check clean_items: are the items' prices all missing or excluded?",
            )
        } else {
            (
                format!(
                    "none of the {} priced purchases in the window is above rfm.min_amount = {}",
                    window.priced_in_window, config.rfm.min_amount
                ),
                "lower rfm.min_amount",
            )
        };
        return Err(Error::BadInput {
            path: "purchases".into(),
            message: format!(
                "no customers for RFM: {filter} (the newest purchase is on {})",
                window.newest_day
            ),
            hint: hint.into(),
        });
    }
    Ok(window)
}

/// Registers `rfm`: customer_id, recency, frequency, monetary, and the purchase days the
/// CLV summary reads (sql/rfm.sql). Returns the customers.
pub async fn rfm(ctx: &SessionContext, config: &Config, window: &RfmWindow) -> Result<u64> {
    rfm_over(ctx, config, window.as_of_day, window.window_days, "rfm").await
}

/// Registers `table` as sql/rfm.sql over the `window_days` days ending on `as_of_day`
/// (another period than the run's: the calibration period of a CLV holdout check).
pub async fn rfm_over(
    ctx: &SessionContext,
    config: &Config,
    as_of_day: i64,
    window_days: u32,
    table: &str,
) -> Result<u64> {
    let mut params = window_params_days(config, as_of_day.to_string(), window_days.to_string());
    params.push(frequency_param(ctx, config));
    let sql = render("rfm", RFM_SQL, &params)?;
    materialize(ctx, "rfm", &sql, table).await
}

/// Computes the scaler from the `rfm` customers and registers `features` (scaled inputs
/// and `batch`).
pub async fn scale(ctx: &SessionContext, config: &Config, customers: u64) -> Result<Scaler> {
    let row = one_row(ctx, "scale_moments", SCALE_MOMENTS_SQL).await?;
    let n = get_i64(&row, "n")?.unwrap_or(0) as f64;
    let mut mean = Vec::new();
    let mut std = Vec::new();
    for f in ["r", "f", "m"] {
        let s1 = get_f64(&row, &format!("sum_{f}"))?.unwrap_or(0.0);
        let s2 = get_f64(&row, &format!("sumsq_{f}"))?.unwrap_or(0.0);
        let (m, sd) = mean_and_sample_std(n, s1, s2);
        mean.push(m);
        std.push(sd);
    }
    if n as u64 != customers {
        return Err(Error::Internal(format!(
            "scale_moments counted {n} customers, rfm has {customers}"
        )));
    }
    let scaler = Scaler {
        features: FEATURE_NAMES.iter().map(|s| s.to_string()).collect(),
        mean,
        std,
    };
    apply_scaler(ctx, config, &scaler).await?;
    Ok(scaler)
}

/// The parameters of sql/scale.sql.
pub(crate) fn scale_params(config: &Config, scaler: &Scaler) -> Vec<(&'static str, String)> {
    // A constant input (std 0) scales to 0, as in Spark, instead of dividing by zero.
    let divisor = |sd: f64| if sd > 0.0 { sd } else { 1.0 };
    vec![
        ("mean_r", sql_f64(scaler.mean[0])),
        ("std_r", sql_f64(divisor(scaler.std[0]))),
        ("mean_f", sql_f64(scaler.mean[1])),
        ("std_f", sql_f64(divisor(scaler.std[1]))),
        ("mean_m", sql_f64(scaler.mean[2])),
        ("std_m", sql_f64(divisor(scaler.std[2]))),
        ("minibatches", config.features.minibatches.to_string()),
    ]
}

/// Registers `features`: the `rfm` customers scaled with `scaler` (computed here, or
/// read from a saved model by `rfmseg score`).
pub async fn apply_scaler(ctx: &SessionContext, config: &Config, scaler: &Scaler) -> Result<()> {
    if scaler.mean.len() != 3 || scaler.std.len() != 3 {
        return Err(Error::BadInput {
            path: "model.json".into(),
            message: "the scaler must have 3 means and 3 standard deviations".into(),
            hint: "use a model.json written by `rfmseg run`".into(),
        });
    }
    let sql = render("scale", SCALE_SQL, &scale_params(config, scaler))?;
    register_view(ctx, "scale", &sql, "features").await
}

/// Mean and sample standard deviation from the count, sum and sum of squares.
pub fn mean_and_sample_std(n: f64, sum: f64, sum_sq: f64) -> (f64, f64) {
    if n < 1.0 {
        return (0.0, 0.0);
    }
    let mean = sum / n;
    if n < 2.0 {
        return (mean, 0.0);
    }
    let var = ((sum_sq - sum * sum / n) / (n - 1.0)).max(0.0);
    (mean, var.sqrt())
}

//! Every knob of the pipeline, in one typed struct, read from TOML (`--config`) and
//! overridden by flags. `impl Default` is the only place the default numbers live; they
//! reproduce the reference analysis (PySpark over Amazon Reviews 2023 Electronics).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The whole configuration. Unknown keys are rejected, so a typo never silently falls
/// back to a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub source: SourceConfig,
    pub clean: CleanConfig,
    pub rfm: RfmConfig,
    pub features: FeaturesConfig,
    pub kmeans: KMeansConfig,
    pub clv: ClvConfig,
    pub migration: MigrationConfig,
    pub cohorts: CohortsConfig,
    pub engine: EngineConfig,
}

/// Acquisition cohorts (`run --cohorts week|month|quarter`; sql/cohorts.sql).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct CohortsConfig {
    /// The period customers are grouped by their first purchase in. Default off.
    pub period: CohortPeriod,
}

/// The period of an acquisition cohort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum CohortPeriod {
    #[default]
    Off,
    Week,
    Month,
    Quarter,
}

impl CohortPeriod {
    /// The flag's text.
    pub fn parse(text: &str) -> std::result::Result<CohortPeriod, String> {
        match text.trim() {
            "off" => Ok(CohortPeriod::Off),
            "week" => Ok(CohortPeriod::Week),
            "month" => Ok(CohortPeriod::Month),
            "quarter" => Ok(CohortPeriod::Quarter),
            other => Err(format!("{other:?}: expected week, month, quarter or off")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            CohortPeriod::Off => "off",
            CohortPeriod::Week => "week",
            CohortPeriod::Month => "month",
            CohortPeriod::Quarter => "quarter",
        }
    }
}

/// The RFM segments from the most to the least valuable, the order of the report's
/// segment colours: a customer who moves down it between two dates has been downgraded.
pub const SEGMENT_VALUE_ORDER: [&str; 11] = [
    "Champions",
    "Loyal Customers",
    "Potential Loyalists",
    "New Customers",
    "Promising",
    "Needs Attention",
    "About to Sleep",
    "At Risk",
    "Can't Lose Them",
    "Hibernating",
    "Lost",
];

/// Segment migration between two as-of days (`run --compare-as-of`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MigrationConfig {
    /// The earlier as-of day (YYYY-MM-DD) to compare the run's segments with. Default:
    /// none (no migration).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compare_as_of: Option<String>,
    /// The 11 RFM segments from the most to the least valuable. Default
    /// [`SEGMENT_VALUE_ORDER`].
    pub segment_order: Vec<String>,
}

impl Default for MigrationConfig {
    fn default() -> Self {
        MigrationConfig {
            compare_as_of: None,
            segment_order: SEGMENT_VALUE_ORDER.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// How a shop's transaction table maps onto rfmseg's (`ingest --transactions`, DESIGN
/// §3b): the source's column names, and how its times and amounts are written. The flags
/// of `ingest --transactions` override these keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SourceConfig {
    /// The customer id column (required).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    /// The time column (required): ISO dates or datetimes, YYYYMMDD, epoch seconds or
    /// milliseconds, or whatever `time_format` says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// The amount column (the line's total; negative for a return). Either this, or
    /// `quantity` and `unit_price`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit_price: Option<String>,
    /// Optional: with an order id, frequency counts distinct orders instead of rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    /// A chrono strftime format for the time column, e.g. "%m/%d/%Y %H:%M".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_format: Option<String>,
    /// Amounts are written with a decimal comma (1.299,99).
    pub decimal_comma: bool,
    /// The CSV delimiter, one character; unset: detected from the header line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    /// Orders whose id matches this pattern (SQL LIKE: % any run, _ one character) are
    /// cancellations, treated as returns; e.g. "C%" for the UCI Online Retail invoices.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancelled_orders: Option<String>,
}

/// How raw reviews and items are cleaned (sql/clean_reviews.sql, sql/clean_items.sql).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CleanConfig {
    /// Strings that mean "no value" in every string column, compared trimmed and in any
    /// case (so "None", " n/a " and "NULL" all match). Default: the placeholders DESIGN §3
    /// lists for the raw files, 'None', 'none', 'N/A', 'n/a', 'null', 'NULL' and ''.
    pub missing_values: Vec<String>,
    /// Items whose `main_category` is one of these are dropped. Default: the reference
    /// notebook's list, the 24 non-electronics categories of DESIGN §3 (e.g. 'Amazon Home',
    /// 'Software'); a category outside it, such as 'Movies & TV', is kept. Compared exactly.
    pub excluded_categories: Vec<String>,
    /// Drop items with no `main_category`. Default true: the reference did, through SQL
    /// NULL logic (`NOT IN` is never true for NULL).
    pub drop_null_category: bool,
    /// Keep only verified purchases. Default true, as the reference: a review without a
    /// verified purchase is not evidence of a transaction.
    pub verified_only: bool,
    /// Keep only reviews at most this many days before the newest review. Default 730
    /// ("the last 2 years" of the reference, counted in whole days).
    pub history_days: u32,
    /// Prices above this are corrupt in this data and become NULL. Default 100,000 (USD).
    pub max_price: f64,
}

impl Default for CleanConfig {
    fn default() -> Self {
        CleanConfig {
            missing_values: ["None", "none", "N/A", "n/a", "null", "NULL", ""]
                .map(String::from)
                .to_vec(),
            // The reference notebook's list, in its order (DESIGN §3).
            excluded_categories: [
                "Pet Supplies",
                "Toys & Games",
                "Baby",
                "Grocery",
                "Collectible Coins",
                "Automotive",
                "Handmade",
                "Health & Personal Care",
                "Arts, Crafts & Sewing",
                "All Beauty",
                "AMAZON FASHION",
                "Premium Beauty",
                "Collectibles & Fine Art",
                "Magazine Subscriptions",
                "Digital Music",
                "Tools & Home Improvement",
                "Software",
                "Unique Finds",
                "Audible Audiobooks",
                "Gift Cards",
                "Sports & Outdoors",
                "Amazon Home",
                "Books",
                "Buy a Kindle",
            ]
            .map(String::from)
            .to_vec(),
            drop_null_category: true,
            verified_only: true,
            history_days: 730,
            max_price: 100_000.0,
        }
    }
}

/// The RFM window and what counts as a purchase (sql/rfm_window.sql, sql/rfm.sql).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RfmConfig {
    /// Days in the window, ending on the as-of day (included), or "all" for the whole
    /// history (shop exports often cover more or less than a year; stored as
    /// [`ALL_HISTORY`]). Default 365: the reference's "1 full year back from the last
    /// review".
    #[serde(with = "window_days_serde")]
    pub window_days: u32,
    /// Only purchases with a price above this count (USD). Default 0.25, as the reference:
    /// lower prices are placeholders, not sales.
    pub min_amount: f64,
    /// Time zone in which timestamps become days (an IANA name such as "Europe/Berlin", or
    /// an offset such as "+02:00"). Default "UTC", as the raw timestamps.
    pub timezone: String,
    /// Pin the as-of day (YYYY-MM-DD) to repeat an analysis on a later dump. Default: the
    /// day of the newest cleaned purchase.
    pub as_of: Option<String>,
}

/// `rfm.window_days = "all"`: the window starts at the oldest purchase.
pub const ALL_HISTORY: u32 = 0;

/// `window_days` as a number of days or "all".
mod window_days_serde {
    use super::ALL_HISTORY;
    use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error};

    pub fn serialize<S: Serializer>(v: &u32, s: S) -> Result<S::Ok, S::Error> {
        if *v == ALL_HISTORY {
            "all".serialize(s)
        } else {
            v.serialize(s)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Days {
            Number(i64),
            Text(String),
        }
        match Days::deserialize(d)? {
            Days::Number(n) if n >= 1 && n <= i64::from(u32::MAX) => Ok(n as u32),
            Days::Number(n) => Err(D::Error::custom(format!(
                "window_days = {n}: expected a number of days >= 1, or \"all\""
            ))),
            Days::Text(t) if t.trim() == "all" => Ok(ALL_HISTORY),
            Days::Text(t) => Err(D::Error::custom(format!(
                "window_days = {t:?}: expected a number of days >= 1, or \"all\""
            ))),
        }
    }
}

impl Default for RfmConfig {
    fn default() -> Self {
        RfmConfig {
            window_days: 365,
            min_amount: 0.25,
            timezone: "UTC".into(),
            as_of: None,
        }
    }
}

/// How RFM becomes model inputs and score segments (sql/scale.sql, sql/rfm_scores.sql).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeaturesConfig {
    /// R/F/M scores: "quantile" (default; from the share of customers strictly worse, so
    /// equal values always get equal scores) or "ntile" (the reference's ntile(5), ties
    /// broken by customer_id).
    pub score_method: ScoreMethod,
    /// Mini-batches the customers are split into by a stable hash of customer_id (the
    /// `batch` column), so a mini-batch k-means step reads only its own rows. Default 16.
    pub minibatches: u32,
}

impl Default for FeaturesConfig {
    fn default() -> Self {
        FeaturesConfig {
            score_method: ScoreMethod::Quantile,
            minibatches: 16,
        }
    }
}

/// k-means and the choice of k (crates/rfmseg/src/kmeans, sql/kmeans_*.sql).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KMeansConfig {
    /// A fixed number of clusters (`--k N`); unset means choose it from `k_min..=k_max`.
    pub k: Option<u32>,
    /// The k range swept when choosing k. Default 2..=10 (the reference swept 2..=6). The
    /// default range is capped to what the data can fit (fewer customers than 10, say);
    /// a range given explicitly is not, and fails naming where it came from.
    pub k_min: u32,
    pub k_max: u32,
    /// Where an explicit k range came from (`--k-range`, or the config file's keys), so an
    /// error can name it; None for the default range. Provenance, not a config key.
    #[serde(skip)]
    pub k_range_from: Option<String>,
    /// Seed of the initialisation and of the silhouette sample. Default 42, as the
    /// reference; every k of a sweep uses the same seed, as Spark does.
    pub seed: u64,
    /// Lloyd iterations at most. Default 20, Spark's maxIter.
    pub max_iter: u32,
    /// Converged when no centre moves more than this (Euclidean, scaled units). Default
    /// 1e-4, Spark's tol.
    pub tol: f64,
    /// How each fit starts: `sample` (default), the best of `n_init` seeded k-means++
    /// starts run to convergence on a seeded sample of `init_sample` customers, or
    /// `k-means||`, Spark MLlib's one start (see stages/kmeans/init.rs for why the default
    /// is not Spark's).
    pub init: Init,
    /// Seeded starts per k tried on the init sample. Default 10, scikit-learn's n_init.
    pub n_init: u32,
    /// Customers in the seeded init sample (the same customers for every k, the first
    /// `silhouette_sample` of them also the silhouette sample). Default 20,000.
    pub init_sample: u32,
    /// k-means|| rounds. Default 2, Spark's initSteps.
    pub init_steps: u32,
    /// k-means|| samples about `oversampling * k` points per round. Default 2.0, Spark's.
    pub oversampling: f64,
    /// `lloyd`, `minibatch`, or `auto`: mini-batch at or above `minibatch_threshold`
    /// customers, Lloyd below.
    pub algorithm: Algorithm,
    /// Customers from which `auto` uses mini-batch. Default 4,000,000: below it a full
    /// Lloyd pass over the in-memory features is cheap enough that mini-batch saves little
    /// (see benches/RESULTS.md).
    pub minibatch_threshold: u64,
    /// Mini-batch steps at most (each reads one of `features.minibatches` batches).
    pub minibatch_max_steps: u32,
    /// Stop mini-batch after this many steps without improving the smoothed cost (as
    /// scikit-learn's max_no_improvement). Default 10.
    pub minibatch_max_no_improvement: u32,
    /// Full Lloyd passes after mini-batch, to polish the centres. Default 2.
    pub minibatch_final_lloyd: u32,
    /// Customers in the seeded sample for the plain-Euclidean silhouette (as
    /// scikit-learn's silhouette_score(sample_size=...)). Default 3000.
    pub silhouette_sample: u32,
    /// The elbow is the smallest k whose distance below the chord of the normalised WCSS
    /// curve is within this of the largest (Kneedle; see stages/kmeans/select.rs). Default
    /// 0.01, 1% of the plot's height: bends closer than that are a tie.
    pub elbow_tolerance: f64,
    /// Keep the elbow k unless its silhouette is more than this below the best k's.
    /// Default 0.15: on RFM data the silhouette nearly always peaks at k = 2 (one split by
    /// recency), and the reference kept k = 4 at a silhouette of about 0.49 over smaller
    /// k with higher ones; a tighter tolerance would almost always answer 2.
    pub silhouette_tolerance: f64,
}

impl Default for KMeansConfig {
    fn default() -> Self {
        KMeansConfig {
            k: None,
            k_min: 2,
            k_max: 10,
            k_range_from: None,
            seed: 42,
            max_iter: 20,
            tol: 1e-4,
            init: Init::Sample,
            n_init: 10,
            init_sample: 20_000,
            init_steps: 2,
            oversampling: 2.0,
            algorithm: Algorithm::Auto,
            minibatch_threshold: 4_000_000,
            minibatch_max_steps: 200,
            minibatch_max_no_improvement: 10,
            minibatch_final_lloyd: 2,
            silhouette_sample: 3000,
            elbow_tolerance: 0.01,
            silhouette_tolerance: 0.15,
        }
    }
}

/// Which k-means driver runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    Auto,
    Lloyd,
    Minibatch,
}

impl std::str::FromStr for Algorithm {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(Algorithm::Auto),
            "lloyd" => Ok(Algorithm::Lloyd),
            "minibatch" => Ok(Algorithm::Minibatch),
            other => Err(Error::Config {
                key: "kmeans.algorithm (--algorithm)".into(),
                message: format!("{other:?}: expected auto, lloyd or minibatch"),
            }),
        }
    }
}

impl KMeansConfig {
    /// Customers in the seeded sample of sql/kmeans_start.sql: the silhouette's, and the
    /// init's when fits start from the sample.
    pub fn sample_size(&self) -> u32 {
        match self.init {
            Init::Sample => self.silhouette_sample.max(self.init_sample),
            Init::Parallel => self.silhouette_sample,
        }
    }
}

/// Where each k-means fit starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Init {
    #[serde(rename = "sample")]
    Sample,
    #[serde(rename = "k-means||")]
    Parallel,
}

/// How R, F and M values become scores 1..5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScoreMethod {
    Quantile,
    Ntile,
}

impl std::str::FromStr for ScoreMethod {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "quantile" => Ok(ScoreMethod::Quantile),
            "ntile" => Ok(ScoreMethod::Ntile),
            other => Err(Error::Config {
                key: "features.score_method (--score-method)".into(),
                message: format!("{other:?}: expected quantile or ntile"),
            }),
        }
    }
}

/// Customer lifetime value (BG/NBD and Gamma-Gamma, DESIGN.md §8; sql/clv_*.sql).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClvConfig {
    /// Fit the models and predict per customer in `run` (`--clv on|off`). Default on.
    pub enabled: bool,
    /// The time unit of the models' x, t_x, T and horizon: "weeks" (default, as the BG/NBD
    /// paper and the `lifetimes` examples) or "days".
    pub time_unit: TimeUnit,
    /// How far ahead expected purchases and CLV look, in `time_unit`s (`--clv-horizon`).
    /// Default 52 (a year of weeks).
    pub horizon: f64,
    /// Periods the horizon is discounted in (CLV sums each period's expected value
    /// discounted to today, as `lifetimes`' customer_lifetime_value). Default 12 (months).
    pub periods: u32,
    /// Discount rate per year, spread over the periods: (1 + rate)^(years per period) - 1
    /// per period. Default 0.10.
    pub annual_discount_rate: f64,
    /// With N > 0 (`--holdout-days N`), also fit on the data before the last N days of
    /// the window and compare expected with actual purchases in those days (the report's
    /// calibration/holdout check). Default 0: no check.
    pub holdout_days: u32,
}

impl Default for ClvConfig {
    fn default() -> Self {
        ClvConfig {
            enabled: true,
            time_unit: TimeUnit::Weeks,
            horizon: 52.0,
            periods: 12,
            annual_discount_rate: 0.10,
            holdout_days: 0,
        }
    }
}

impl ClvConfig {
    /// Days per time unit.
    pub fn unit_days(&self) -> f64 {
        self.time_unit.days()
    }

    /// The discount rate per period.
    pub fn discount_per_period(&self) -> f64 {
        let years = self.horizon * self.unit_days() / 365.25 / f64::from(self.periods.max(1));
        (1.0 + self.annual_discount_rate).powf(years) - 1.0
    }
}

/// The CLV models' time unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeUnit {
    Weeks,
    Days,
}

impl TimeUnit {
    pub fn days(self) -> f64 {
        match self {
            TimeUnit::Weeks => 7.0,
            TimeUnit::Days => 1.0,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            TimeUnit::Weeks => "weeks",
            TimeUnit::Days => "days",
        }
    }
}

/// How queries are executed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    /// DataFusion target partitions; 0 (the default) means two per core embedded and, on
    /// a cluster, one per 4M lake rows (2 to 16). At most
    /// [`EngineConfig::max_target_partitions`].
    pub target_partitions: usize,
    /// The most memory the embedded engine's operators (sorts, aggregations, joins) may
    /// hold at once, e.g. "1GB" or "512MB" (`--memory-limit`; powers of 1024). Past it they
    /// spill to temporary files, and the tables a run keeps between stages are written to
    /// Parquet in a scratch folder beside the output instead of held in memory, so a run
    /// on a small machine finishes more slowly instead of being killed; an operator that
    /// cannot spill fails with an error naming this key. Unset (the default): no limit.
    pub memory_limit: Option<String>,
}

/// The cores this process may use (1 if the system cannot say), which the partition
/// counts scale with.
pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl EngineConfig {
    /// The most target partitions a run accepts: max(256, 8 x cores). Every partition of
    /// every operator has its own buffers, hash tables and channels, and a repartition
    /// connects every input partition to every output one, so memory grows faster than the
    /// partitions even on tiny data (on 5,000 reviews: 2 partitions 83 MB, 256 took 0.87 GB,
    /// 1000 took 9.6 GB), while more than a few partitions per core buys no parallelism
    /// embedded. The floor of 256 leaves room for a cluster's shuffle (Spark's default is
    /// 200 partitions), whose executors may have more cores than the machine submitting.
    pub fn max_target_partitions() -> usize {
        (8 * cores()).max(256)
    }

    /// `memory_limit` in bytes, None when unset; at least [`MIN_MEMORY_LIMIT`].
    pub fn memory_limit_bytes(&self) -> Result<Option<usize>> {
        let Some(text) = &self.memory_limit else {
            return Ok(None);
        };
        let error = |message| Error::Config {
            key: "engine.memory_limit (--memory-limit)".into(),
            message,
        };
        let bytes = parse_bytes(text).map_err(error)?;
        if bytes < MIN_MEMORY_LIMIT {
            return Err(error(format!(
                "{text:?} is below the smallest limit rfmseg accepts, 256MB: with 128MB a \
                 run of 10M reviews stalled in DataFusion's join and Parquet write instead of \
                 spilling or failing (benches/RESULTS.md); give 256MB or more"
            )));
        }
        Ok(Some(bytes))
    }
}

/// The smallest `engine.memory_limit`: below it DataFusion 55 was seen to stall rather
/// than spill or fail, and a run that hangs is worse than one that says why it stopped.
pub const MIN_MEMORY_LIMIT: usize = 256 << 20;

/// A size as "1GB", "512 MB", "2.5G", "1073741824" (bytes); K, M, G and T are powers of
/// 1024, with or without a trailing B or iB, in any case.
pub fn parse_bytes(text: &str) -> std::result::Result<usize, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = (&t[..split], t[split..].trim());
    let bad = || format!("{text:?} is not a size: give a number and a unit, e.g. 1GB or 512MB");
    let value: f64 = number.parse().map_err(|_| bad())?;
    let unit = unit.to_ascii_uppercase();
    let unit = unit.trim_end_matches('B').trim_end_matches('I');
    let scale: f64 = match unit {
        "" => 1.0,
        "K" => 1024.0,
        "M" => 1024.0 * 1024.0,
        "G" => 1024.0 * 1024.0 * 1024.0,
        "T" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(bad()),
    };
    let bytes = value * scale;
    if !(bytes.is_finite() && bytes >= 1.0 && bytes < usize::MAX as f64) {
        return Err(format!("{text:?}: the limit must be at least 1 byte"));
    }
    Ok(bytes as usize)
}

impl Config {
    /// Reads a TOML file (missing keys take their defaults) and validates it.
    pub fn from_file(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut config: Config = toml::from_str(&text).map_err(|e| Error::BadInput {
            path: path.to_path_buf(),
            message: e.to_string(),
            hint: "see `rfmseg show-config` for every key and its default".into(),
        })?;
        // Parsed once more as a plain table: only there is a key set to its default value
        // told apart from a key left out.
        let sets_range = toml::from_str::<toml::Table>(&text).is_ok_and(|t| {
            t.get("kmeans")
                .and_then(toml::Value::as_table)
                .is_some_and(|km| km.contains_key("k_min") || km.contains_key("k_max"))
        });
        if sets_range {
            config.kmeans.k_range_from = Some(format!("kmeans.k_min/k_max in {}", path.display()));
        }
        config.validate()?;
        Ok(config)
    }

    /// The config file if given, else the defaults.
    pub fn load(path: Option<&Path>) -> Result<Config> {
        match path {
            Some(p) => Config::from_file(p),
            None => Ok(Config::default()),
        }
    }

    /// Rejects values no run can use, before any work starts.
    pub fn validate(&self) -> Result<()> {
        let c = &self.clean;
        if c.history_days == 0 {
            return Err(Error::Config {
                key: "clean.history_days".into(),
                message: "must be at least 1".into(),
            });
        }
        if !(c.max_price.is_finite() && c.max_price > 0.0) {
            return Err(Error::Config {
                key: "clean.max_price".into(),
                message: format!("must be a positive number, got {}", c.max_price),
            });
        }
        let r = &self.rfm;
        if !(r.min_amount.is_finite() && r.min_amount >= 0.0) {
            return Err(Error::Config {
                key: "rfm.min_amount".into(),
                message: format!("must be a number >= 0, got {}", r.min_amount),
            });
        }
        if let Some(day) = &r.as_of {
            parse_day(day).map_err(|message| Error::Config {
                key: "rfm.as_of (--as-of)".into(),
                message,
            })?;
        }
        if r.timezone.trim().is_empty() {
            return Err(Error::Config {
                key: "rfm.timezone".into(),
                message: "must be a time zone name such as \"UTC\" or an offset such as \"+02:00\""
                    .into(),
            });
        }
        let km = &self.kmeans;
        let bad = |key: &str, message: String| {
            Err(Error::Config {
                key: key.into(),
                message,
            })
        };
        if let Some(k) = km.k
            && k < 2
        {
            return bad("kmeans.k (--k)", format!("must be at least 2, got {k}"));
        }
        if km.k_min < 2 {
            return bad(
                "kmeans.k_min (--k-range)",
                format!("must be at least 2, got {}", km.k_min),
            );
        }
        if km.k_max < km.k_min {
            return bad(
                "kmeans.k_max (--k-range)",
                format!("the k range {}..{} is empty", km.k_min, km.k_max),
            );
        }
        if km.max_iter == 0 {
            return bad("kmeans.max_iter", "must be at least 1".into());
        }
        if !(km.tol.is_finite() && km.tol >= 0.0) {
            return bad(
                "kmeans.tol",
                format!("must be a number >= 0, got {}", km.tol),
            );
        }
        if !(km.oversampling.is_finite() && km.oversampling > 0.0) {
            return bad(
                "kmeans.oversampling",
                format!("must be > 0, got {}", km.oversampling),
            );
        }
        if !(km.elbow_tolerance.is_finite() && km.elbow_tolerance >= 0.0) {
            return bad(
                "kmeans.elbow_tolerance",
                format!("must be a number >= 0, got {}", km.elbow_tolerance),
            );
        }
        if !(km.silhouette_tolerance.is_finite() && km.silhouette_tolerance >= 0.0) {
            return bad(
                "kmeans.silhouette_tolerance",
                format!("must be a number >= 0, got {}", km.silhouette_tolerance),
            );
        }
        if km.n_init == 0 {
            return bad("kmeans.n_init", "must be at least 1".into());
        }
        if km.init_sample < 2 {
            return bad("kmeans.init_sample", "must be at least 2".into());
        }
        if km.silhouette_sample < 2 {
            return bad("kmeans.silhouette_sample", "must be at least 2".into());
        }
        self.engine.memory_limit_bytes()?;
        let max_partitions = EngineConfig::max_target_partitions();
        if self.engine.target_partitions > max_partitions {
            return Err(Error::Config {
                key: "engine.target_partitions (--partitions)".into(),
                message: format!(
                    "{} is above the bound of {max_partitions} (max(256, 8 x cores)): every \
                     partition has its own buffers, so memory grows with the partitions even \
                     on small data; use 0 for the default, or at most {max_partitions}",
                    self.engine.target_partitions
                ),
            });
        }
        let m = &self.migration;
        if let Some(day) = &m.compare_as_of {
            parse_day(day).map_err(|message| Error::Config {
                key: "migration.compare_as_of (--compare-as-of)".into(),
                message,
            })?;
        }
        let mut order: Vec<&str> = m.segment_order.iter().map(String::as_str).collect();
        order.sort_unstable();
        let mut known = SEGMENT_VALUE_ORDER.to_vec();
        known.sort_unstable();
        if order != known {
            return Err(Error::Config {
                key: "migration.segment_order".into(),
                message: format!(
                    "must list each of the 11 RFM segments once ({}), got {:?}",
                    SEGMENT_VALUE_ORDER.join(", "),
                    m.segment_order
                ),
            });
        }
        let clv = &self.clv;
        if !(clv.horizon.is_finite() && clv.horizon > 0.0 && clv.horizon <= 10_000.0) {
            return bad(
                "clv.horizon (--clv-horizon)",
                format!(
                    "must be a number of {} in (0, 10000], got {}",
                    clv.time_unit.name(),
                    clv.horizon
                ),
            );
        }
        if clv.periods == 0 || clv.periods > 10_000 {
            return bad(
                "clv.periods",
                format!("must be from 1 to 10000, got {}", clv.periods),
            );
        }
        if !(clv.annual_discount_rate.is_finite() && clv.annual_discount_rate >= 0.0) {
            return bad(
                "clv.annual_discount_rate",
                format!("must be a number >= 0, got {}", clv.annual_discount_rate),
            );
        }
        if r.window_days != ALL_HISTORY && clv.holdout_days >= r.window_days {
            return bad(
                "clv.holdout_days (--holdout-days)",
                format!(
                    "{} leaves no calibration days in the window of rfm.window_days = {}; \
                     use fewer holdout days than the window has",
                    clv.holdout_days, r.window_days
                ),
            );
        }
        if self.features.minibatches == 0 {
            return Err(Error::Config {
                key: "features.minibatches".into(),
                message: "must be at least 1".into(),
            });
        }
        Ok(())
    }

    /// The configuration of a run: flags override the `--config` file, which overrides the
    /// defaults. The one place the precedence is written.
    pub fn resolve(file: Option<&Path>, flags: &Overrides) -> Result<Config> {
        let mut c = Config::load(file)?;
        if let Some(k) = &flags.k {
            c.kmeans.k = match k.trim() {
                "auto" => None,
                n => Some(n.parse().map_err(|_| Error::Config {
                    key: "--k".into(),
                    message: format!("{n:?}: expected auto or a number of clusters"),
                })?),
            };
        }
        if let Some(range) = &flags.k_range {
            let parts: Vec<&str> = range.split("..").collect();
            let parsed: Option<(u32, u32)> = match parts.as_slice() {
                [a, b] => a
                    .trim()
                    .parse()
                    .ok()
                    .zip(b.trim().trim_start_matches('=').parse().ok()),
                _ => None,
            };
            let (lo, hi) = parsed.ok_or_else(|| Error::Config {
                key: "--k-range".into(),
                message: format!("{range:?}: expected MIN..MAX, e.g. 2..10"),
            })?;
            c.kmeans.k_min = lo;
            c.kmeans.k_max = hi;
            c.kmeans.k_range_from = Some("--k-range".into());
        }
        if let Some(day) = &flags.as_of {
            c.rfm.as_of = Some(day.clone());
        }
        if let Some(a) = &flags.algorithm {
            c.kmeans.algorithm = a.parse()?;
        }
        if let Some(seed) = flags.seed {
            c.kmeans.seed = seed;
        }
        if let Some(m) = &flags.score_method {
            c.features.score_method = m.parse()?;
        }
        if let Some(on) = &flags.clv {
            c.clv.enabled = match on.trim() {
                "on" => true,
                "off" => false,
                other => {
                    return Err(Error::Config {
                        key: "--clv".into(),
                        message: format!("{other:?}: expected on or off"),
                    });
                }
            };
        }
        if let Some(h) = flags.clv_horizon {
            c.clv.horizon = h;
        }
        if let Some(d) = flags.holdout_days {
            c.clv.holdout_days = d;
        }
        if let Some(day) = &flags.compare_as_of {
            c.migration.compare_as_of = Some(day.clone());
        }
        if let Some(p) = &flags.cohorts {
            c.cohorts.period = CohortPeriod::parse(p).map_err(|message| Error::Config {
                key: "--cohorts".into(),
                message,
            })?;
        }
        if let Some(p) = flags.target_partitions {
            c.engine.target_partitions = p;
        }
        if let Some(m) = &flags.memory_limit {
            c.engine.memory_limit = Some(m.clone());
        }
        c.validate()?;
        Ok(c)
    }

    /// The resolved configuration as TOML, for `show-config` and the report.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render config: {e}"))
    }
}

/// Flags that override config keys (None: not given).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--k auto|N` (kmeans.k)
    pub k: Option<String>,
    /// `--k-range MIN..MAX` (kmeans.k_min, kmeans.k_max)
    pub k_range: Option<String>,
    /// `--as-of YYYY-MM-DD` (rfm.as_of)
    pub as_of: Option<String>,
    /// `--algorithm auto|lloyd|minibatch` (kmeans.algorithm)
    pub algorithm: Option<String>,
    /// `--seed N` (kmeans.seed)
    pub seed: Option<u64>,
    /// `--score-method quantile|ntile` (features.score_method)
    pub score_method: Option<String>,
    /// `--partitions N` (engine.target_partitions)
    pub target_partitions: Option<usize>,
    /// `--memory-limit SIZE` (engine.memory_limit)
    pub memory_limit: Option<String>,
    /// `--clv on|off` (clv.enabled)
    pub clv: Option<String>,
    /// `--clv-horizon N` (clv.horizon)
    pub clv_horizon: Option<f64>,
    /// `--holdout-days N` (clv.holdout_days)
    pub holdout_days: Option<u32>,
    /// `--compare-as-of YYYY-MM-DD` (migration.compare_as_of)
    pub compare_as_of: Option<String>,
    /// `--cohorts week|month|quarter|off` (cohorts.period)
    pub cohorts: Option<String>,
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date.
pub fn parse_day(text: &str) -> std::result::Result<i64, String> {
    let date = chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|e| format!("{text:?} is not a date as YYYY-MM-DD ({e})"))?;
    Ok(date
        .signed_duration_since(chrono::NaiveDate::default())
        .num_days())
}

/// `YYYY-MM-DD` of a day number (days since 1970-01-01).
pub fn format_day(day: i64) -> String {
    chrono::NaiveDate::default()
        .checked_add_signed(chrono::TimeDelta::days(day))
        .map_or_else(
            || format!("day {day}"),
            |d| d.format("%Y-%m-%d").to_string(),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_in_powers_of_1024_and_bad_ones_say_what_to_give() {
        assert_eq!(parse_bytes("1GB"), Ok(1 << 30));
        assert_eq!(parse_bytes("512 MB"), Ok(512 << 20));
        assert_eq!(parse_bytes("2.5g"), Ok(5 << 29));
        assert_eq!(parse_bytes("64KiB"), Ok(64 << 10));
        assert_eq!(parse_bytes("4096"), Ok(4096));
        for bad in ["", "GB", "1XB", "-1GB", "0"] {
            assert!(parse_bytes(bad).is_err(), "{bad:?}");
        }
        let mut c = Config::default();
        c.engine.memory_limit = Some("1 parsec".into());
        let err = c.validate().unwrap_err().to_string();
        assert!(
            err.contains("engine.memory_limit (--memory-limit)"),
            "{err}"
        );
        assert!(err.contains("e.g. 1GB"), "{err}");
        c.engine.memory_limit = Some("128MB".into());
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("give 256MB or more"), "{err}");
        c.engine.memory_limit = Some("256MB".into());
        assert_eq!(c.engine.memory_limit_bytes().unwrap(), Some(256 << 20));
    }

    /// A changed default changes results: it must show up in review, here.
    #[test]
    fn defaults_are_the_reference_analysis() {
        let c = Config::default();
        assert_eq!(c.clean.excluded_categories.len(), 24);
        assert_eq!(c.clean.history_days, 730);
        assert_eq!(c.clean.max_price, 100_000.0);
        assert!(c.clean.verified_only && c.clean.drop_null_category);
        assert_eq!(c.rfm.window_days, 365);
        assert_eq!(c.rfm.min_amount, 0.25);
        assert_eq!(c.rfm.timezone, "UTC");
        assert_eq!(c.rfm.as_of, None);
        assert_eq!(c.features.score_method, ScoreMethod::Quantile);
        let back: Config = toml::from_str(&c.to_toml()).unwrap();
        assert_eq!(back, c);
    }

    /// DESIGN §3's placeholders, as listed there; matching is trimmed and in any case
    /// (sql/clean_*.sql), which the reference_traps test checks on real rows.
    #[test]
    fn default_missing_values_are_designs_placeholders() {
        assert_eq!(
            Config::default().clean.missing_values,
            ["None", "none", "N/A", "n/a", "null", "NULL", ""]
        );
    }

    #[test]
    fn partitions_above_the_bound_are_rejected_naming_key_and_bound() {
        let bound = EngineConfig::max_target_partitions();
        assert!(bound >= 256);
        let with = |p: usize| Overrides {
            target_partitions: Some(p),
            ..Overrides::default()
        };
        let c = Config::resolve(None, &with(bound)).unwrap();
        assert_eq!(c.engine.target_partitions, bound);
        let err = Config::resolve(None, &with(1000.max(bound + 1)))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("invalid engine.target_partitions (--partitions): "),
            "{err}"
        );
        assert!(
            err.contains(&format!("above the bound of {bound} (max(256, 8 x cores))")),
            "{err}"
        );
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("rfmseg.toml");
        std::fs::write(&p, "[engine]\ntarget_partitions = 100000\n").unwrap();
        let err = Config::from_file(&p).unwrap_err().to_string();
        assert!(err.contains("engine.target_partitions"), "{err}");
    }

    /// Only a range the user gave fails when the data cannot fit it; the default one is
    /// capped. So the config remembers which it is, whatever the values.
    #[test]
    fn a_k_range_from_the_flag_or_the_file_is_marked_as_given() {
        assert_eq!(Config::default().kmeans.k_range_from, None);
        let flags = Overrides {
            k_range: Some("2..10".into()),
            ..Overrides::default()
        };
        let c = Config::resolve(None, &flags).unwrap();
        assert_eq!(c.kmeans.k_range_from.as_deref(), Some("--k-range"));
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("rfmseg.toml");
        std::fs::write(&p, "[kmeans]\nk_max = 10\n").unwrap();
        let from = Config::from_file(&p).unwrap().kmeans.k_range_from.unwrap();
        assert_eq!(from, format!("kmeans.k_min/k_max in {}", p.display()));
        std::fs::write(&p, "[kmeans]\nseed = 3\n").unwrap();
        assert_eq!(Config::from_file(&p).unwrap().kmeans.k_range_from, None);
        // Not a key: show-config and model.json do not carry it.
        assert!(!c.to_toml().contains("k_range_from"));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("rfmseg.toml");
        std::fs::write(&p, "[clean]\nhistory_dayz = 3\n").unwrap();
        let err = Config::from_file(&p).unwrap_err().to_string();
        assert!(err.contains("history_dayz"), "{err}");
        std::fs::write(&p, "[clean]\nmax_price = -1.0\n").unwrap();
        let err = Config::from_file(&p).unwrap_err().to_string();
        assert!(err.contains("clean.max_price"), "{err}");
        std::fs::write(&p, "[clean]\nhistory_days = 365\n").unwrap();
        assert_eq!(Config::from_file(&p).unwrap().clean.history_days, 365);
        std::fs::write(&p, "[rfm]\nas_of = \"2023-13-01\"\n").unwrap();
        let err = Config::from_file(&p).unwrap_err().to_string();
        assert!(err.contains("rfm.as_of"), "{err}");
    }

    #[test]
    fn flags_override_the_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("rfmseg.toml");
        std::fs::write(&p, "[kmeans]\nk_max = 6\nseed = 7\n").unwrap();
        let c = Config::resolve(Some(&p), &Overrides::default()).unwrap();
        assert_eq!((c.kmeans.k_min, c.kmeans.k_max, c.kmeans.seed), (2, 6, 7));
        let flags = Overrides {
            k_range: Some("3..5".into()),
            seed: Some(9),
            k: Some("4".into()),
            ..Overrides::default()
        };
        let c = Config::resolve(Some(&p), &flags).unwrap();
        assert_eq!(
            (c.kmeans.k_min, c.kmeans.k_max, c.kmeans.seed, c.kmeans.k),
            (3, 5, 9, Some(4))
        );
        for (flags, key) in [
            (
                Overrides {
                    k: Some("1".into()),
                    ..Overrides::default()
                },
                "kmeans.k",
            ),
            (
                Overrides {
                    k_range: Some("5..3".into()),
                    ..Overrides::default()
                },
                "is empty",
            ),
            (
                Overrides {
                    k_range: Some("two..ten".into()),
                    ..Overrides::default()
                },
                "--k-range",
            ),
            (
                Overrides {
                    as_of: Some("yesterday".into()),
                    ..Overrides::default()
                },
                "rfm.as_of",
            ),
        ] {
            let err = Config::resolve(None, &flags).unwrap_err().to_string();
            assert!(err.contains(key), "{key}: {err}");
        }
    }

    /// CLV is on by default, in weeks over a year; the per-period discount compounds to
    /// the annual rate over 365.25 days.
    #[test]
    fn clv_defaults_discount_a_year_at_the_annual_rate() {
        let c = Config::default().clv;
        assert!(c.enabled);
        assert_eq!(
            (c.time_unit, c.horizon, c.periods),
            (TimeUnit::Weeks, 52.0, 12)
        );
        assert_eq!((c.annual_discount_rate, c.holdout_days), (0.10, 0));
        let year = ClvConfig {
            horizon: 365.25,
            time_unit: TimeUnit::Days,
            periods: 4,
            ..c
        };
        let compounded = (1.0 + year.discount_per_period()).powi(4);
        assert!((compounded - 1.10).abs() < 1e-14, "{compounded}");
        let flags = Overrides {
            clv: Some("off".into()),
            clv_horizon: Some(26.0),
            holdout_days: Some(90),
            ..Overrides::default()
        };
        let c = Config::resolve(None, &flags).unwrap().clv;
        assert_eq!((c.enabled, c.horizon, c.holdout_days), (false, 26.0, 90));
    }

    #[test]
    fn days_round_trip_through_text() {
        assert_eq!(parse_day("1970-01-02"), Ok(1));
        assert_eq!(parse_day("2023-09-13"), Ok(19_613));
        assert_eq!(format_day(19_613), "2023-09-13");
    }
}

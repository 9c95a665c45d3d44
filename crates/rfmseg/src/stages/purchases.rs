//! Purchases: the cleaned reviews as purchases (a review of a verified purchase is one
//! bought item), with the item's price and the day in the configured time zone
//! (sql/purchases.sql); or a shop's cleaned transaction lines
//! (sql/transaction_purchases.sql).
//!
//! Place in the flow: cleaned -> **purchases** -> RFM.

use datafusion::prelude::SessionContext;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::exec::query::register_view;
use crate::exec::render;
use crate::lake::is_transactions;

pub const PURCHASES_SQL: &str = include_str!("../../../../sql/purchases.sql");
pub const TRANSACTION_PURCHASES_SQL: &str =
    include_str!("../../../../sql/transaction_purchases.sql");

/// Registers the `purchases` view.
pub async fn purchases(ctx: &SessionContext, config: &Config) -> Result<()> {
    let tz = config.rfm.timezone.trim();
    if tz.contains(['"', '\'']) {
        return Err(Error::Config {
            key: "rfm.timezone".into(),
            message: format!("{tz:?} is not a time zone"),
        });
    }
    let template = if is_transactions(ctx) {
        TRANSACTION_PURCHASES_SQL
    } else {
        PURCHASES_SQL
    };
    let sql = render("purchases", template, &[("timezone", tz.to_string())])?;
    register_view(ctx, "purchases", &sql, "purchases").await?;
    check_timezone(tz).await
}

/// Fails with the key to fix when DataFusion does not know the time zone `tz`. Planning
/// succeeds for any text and an unknown zone only fails when a value is cast, so one
/// value is cast here, in a throwaway local session: no query on the run's session (on a
/// cluster, no job).
async fn check_timezone(tz: &str) -> Result<()> {
    let sql = format!(
        "SELECT to_local_time(arrow_cast(arrow_cast(arrow_cast(0, 'Timestamp(Second, None)'), \
         'Timestamp(Second, Some(\"UTC\"))'), 'Timestamp(Second, Some(\"{tz}\"))')) AS day"
    );
    let local = SessionContext::new();
    let result = match local.sql(&sql).await {
        Ok(df) => df.collect().await.map(drop),
        Err(e) => Err(e),
    };
    result.map_err(|e| Error::Config {
        key: "rfm.timezone".into(),
        message: format!("{tz:?} is not a time zone DataFusion knows: {e}"),
    })
}

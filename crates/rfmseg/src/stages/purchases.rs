//! Purchases: the cleaned reviews as purchases (a review of a verified purchase is one
//! bought item), with the item's price and the day in the configured time zone
//! (sql/purchases.sql); or a shop's cleaned transaction lines
//! (sql/transaction_purchases.sql).
//!
//! Place in the flow: cleaned -> **purchases** -> RFM.

use datafusion::prelude::SessionContext;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::exec::query::{on_cluster, register_view};
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
    // Planning succeeds for any text; an unknown zone only fails when rows are cast.
    on_cluster(ctx, "purchases", || async {
        ctx.table("purchases")
            .await
            .and_then(|df| df.select_columns(&["day"]))
            .and_then(|df| df.limit(0, Some(1)))
            .map_err(|e| Error::stage("purchases", e))?
            .collect()
            .await
            .map_err(|e| Error::Config {
                key: "rfm.timezone".into(),
                message: format!("{tz:?} is not a time zone DataFusion knows: {e}"),
            })
    })
    .await?;
    Ok(())
}

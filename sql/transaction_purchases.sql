-- transaction_purchases: the `purchases` view of a shop's lake: one row per cleaned line
-- (DESIGN.md §3b), in the shape of sql/purchases.sql, so every stage after it is shared.
--
-- Produces customer_id, ts, day, amount, item_id, main_category, store, order_id.
-- `amount` is negative for a return (sql/clean_transactions.sql): sql/rfm.sql nets returns
-- into monetary and counts only lines above rfm.min_amount as purchases, one per distinct
-- order when order ids are mapped.
--
-- Input:      clean_transactions
-- Parameters: rfm.timezone   the zone in which a timestamp's calendar day is taken
SELECT
    customer_id,
    ts,
    CAST(
        floor(
            CASE WHEN '{{timezone}}' = 'UTC'
                -- In UTC the local seconds are the epoch seconds: the planner folds this
                -- CASE away, and the zone lookup of to_local_time (60 ns a row, read
                -- again by every query over this view) is not paid for the default zone.
                THEN CAST(arrow_cast(ts, 'Timestamp(Second, None)') AS BIGINT)
                ELSE CAST(
                    to_local_time(
                        arrow_cast(
                            arrow_cast(ts, 'Timestamp(Second, Some("UTC"))'),
                            'Timestamp(Second, Some("{{timezone}}"))'
                        )
                    ) AS BIGINT
                )
            END / 86400.0
        ) AS BIGINT
    ) AS day,
    amount,
    item_id,
    category AS main_category,
    store,
    order_id
FROM clean_transactions

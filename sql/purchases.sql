-- purchases: one row per cleaned review, priced from its item.
--
-- Produces customer_id, ts, day, amount, item_id, main_category, store, order_id (NULL:
-- a review is one purchase). `amount` is NULL
-- when the item has no usable price or is not in clean_items (LEFT JOIN); RFM ignores
-- such rows. This view is the seam: any shop's transactions (customer, time, amount) can
-- feed the stages after it.
--
-- Input:      clean_reviews, clean_items
-- Parameters: rfm.timezone   the zone in which a timestamp's calendar day is taken
--
-- `day` is the purchase's calendar day in rfm.timezone, as days since 1970-01-01, so
-- windows and recency are whole-day integer arithmetic. An item listed twice with
-- different details (the raw meta files have a few) counts once, with its highest price,
-- so the join never multiplies a review.
WITH items AS (
    SELECT
        parent_asin,
        max(price) AS price,
        min(main_category) AS main_category,
        min(store) AS store
    FROM clean_items
    GROUP BY parent_asin
)
SELECT
    r.user_id AS customer_id,
    r.ts,
    CAST(
        floor(
            CASE WHEN '{{timezone}}' = 'UTC'
                -- In UTC the local seconds are the epoch seconds: the planner folds this
                -- CASE away, and the zone lookup of to_local_time (60 ns a row, read
                -- again by every query over this view) is not paid for the default zone.
                THEN CAST(arrow_cast(r.ts, 'Timestamp(Second, None)') AS BIGINT)
                ELSE CAST(
                    to_local_time(
                        arrow_cast(
                            arrow_cast(r.ts, 'Timestamp(Second, Some("UTC"))'),
                            'Timestamp(Second, Some("{{timezone}}"))'
                        )
                    ) AS BIGINT
                )
            END / 86400.0
        ) AS BIGINT
    ) AS day,
    i.price AS amount,
    r.parent_asin AS item_id,
    i.main_category,
    i.store,
    CAST(NULL AS VARCHAR) AS order_id
FROM clean_reviews r
LEFT JOIN items i ON r.parent_asin = i.parent_asin

-- rfm: Recency, Frequency and Monetary value, one row per customer with a counted
-- purchase in the window.
--
-- Input:      purchases
-- Parameters: rfm.as_of        the as-of day (days since 1970-01-01; from rfm_window.sql
--                              when not pinned with --as-of)
--             rfm.window_days  days in the window: [as_of - window_days + 1, as_of]
--             rfm.min_amount   only purchases priced above this count
--             frequency        how purchases are counted: per row (reviews), or per
--                              distinct order (a shop's lake; crates/rfmseg/src/stages/rfm.rs)
--
-- As the reference analysis defines it ("1 full year back from the last review"), in
-- whole calendar days: the reference date is the day after the as-of day;
--   recency   = reference date - the day of the last purchase (1 = bought on the as-of day)
--   frequency = purchases in the window: rows priced above min_amount; for a shop's lake
--               with order ids, distinct orders among them (a row without one counts
--               alone). Reviews have no order id, so each counts.
--   monetary  = sum of their prices, with returns (negative amounts: a shop's lake only)
--               netted in, and never below 0; summed exactly as DECIMAL(18,6): f64 sums in
--               another order (another partitioning, embedded vs distributed) differ in
--               the last bit, which splits ties in the scores and makes runs disagree.
-- A return never counts as a purchase or sets recency, and a customer with only returns
-- in the window is not a customer of it.
-- Then, for the CLV summary (sql/clv_summary.sql), the counted purchases (the same as
-- frequency's) grouped by calendar day: computed here, in the one aggregation by customer,
-- because a second one over the purchases costs as much again (udfs/src/purchase_days.rs):
--   purchase_days     distinct days with a counted purchase
--   first_day         the first of them, last_day the last
--   first_day_amount  the amounts of the first day, summed
--   counted_amount    the amounts of all counted purchases, summed (no returns)
WITH per_customer AS (
    SELECT
        customer_id,
        ({{as_of}} + 1) - max(CASE WHEN amount > {{min_amount}} THEN day END) AS recency,
        {{frequency}} AS frequency,
        CAST(greatest(sum(CAST(amount AS DECIMAL(18, 6))), 0) AS DOUBLE) AS monetary,
        purchase_days(day, CAST(amount AS DECIMAL(18, 6)))
            FILTER (WHERE amount > {{min_amount}}) AS d
    FROM purchases
    WHERE day BETWEEN {{as_of}} - ({{window_days}} - 1) AND {{as_of}}
      AND (amount > {{min_amount}} OR amount < 0)
    GROUP BY customer_id
    HAVING count(CASE WHEN amount > {{min_amount}} THEN 1 END) > 0
)
SELECT
    customer_id,
    recency,
    frequency,
    monetary,
    d['days'] AS purchase_days,
    d['first_day'] AS first_day,
    d['last_day'] AS last_day,
    d['first_amount'] AS first_day_amount,
    d['total'] AS counted_amount
FROM per_customer

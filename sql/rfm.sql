-- rfm: Recency, Frequency and Monetary value, one row per customer with a counted
-- purchase in the window.
--
-- Input:      purchases
-- Parameters: rfm.as_of        the as-of day (days since 1970-01-01; from rfm_window.sql
--                              when not pinned with --as-of)
--             rfm.window_days  days in the window: [as_of - window_days + 1, as_of]
--             rfm.min_amount   only purchases priced above this count
--
-- As the reference analysis defines it ("1 full year back from the last review"), in
-- whole calendar days: the reference date is the day after the as-of day;
--   recency   = reference date - the day of the last purchase (1 = bought on the as-of day)
--   frequency = purchases in the window
--   monetary  = sum of their prices, summed exactly as DECIMAL(18,6): f64 sums in another
--               order (another partitioning, embedded vs distributed) differ in the last
--               bit, which splits ties in the scores and makes runs disagree.
SELECT
    customer_id,
    ({{as_of}} + 1) - max(day) AS recency,
    count(*) AS frequency,
    CAST(sum(CAST(amount AS DECIMAL(18, 6))) AS DOUBLE) AS monetary
FROM purchases
WHERE day BETWEEN {{as_of}} - ({{window_days}} - 1) AND {{as_of}}
  AND amount > {{min_amount}}
GROUP BY customer_id

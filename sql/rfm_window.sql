-- rfm_window: the facts that fix the RFM window, and what each filter leaves in it.
--
-- Produces one row: the newest purchase day, and how many purchases survive each filter
-- in turn, so an empty window can be explained ("no purchase above rfm.min_amount in the
-- window ending 2023-09-13").
--
-- Input:      purchases
-- Parameters: rfm.as_of        the as-of day (days since 1970-01-01), or NULL for the
--                              day of the newest purchase
--             rfm.window_days  days in the window, ending on the as-of day; for "all" (the
--                              whole history) the expression of the days from the oldest
--                              purchase, (b.as_of_day - b.oldest_day + 1)
--             rfm.min_amount   only purchases priced above this count
--
-- The purchases are read once: counted per day first (one row per day), and the window
-- counts summed from those; read twice (the bounds, then every purchase against them) it
-- cost twice the scan.
WITH per_day AS (
    SELECT
        day,
        count(*) AS purchases,
        count(amount) AS priced,
        count(*) FILTER (WHERE amount > {{min_amount}}) AS counted
    FROM purchases
    WHERE day IS NOT NULL
    GROUP BY day
),
bounds AS (
    SELECT
        max(day) AS newest_day,
        min(day) AS oldest_day,
        coalesce(CAST({{as_of}} AS BIGINT), max(day)) AS as_of_day
    FROM per_day
)
SELECT
    b.newest_day,
    b.as_of_day,
    {{window_days}} AS window_days,
    b.as_of_day - ({{window_days}} - 1) AS first_day,
    coalesce(sum(p.purchases), 0) AS purchases,
    coalesce(sum(p.purchases) FILTER (
        WHERE p.day BETWEEN b.as_of_day - ({{window_days}} - 1) AND b.as_of_day
    ), 0) AS in_window,
    coalesce(sum(p.priced) FILTER (
        WHERE p.day BETWEEN b.as_of_day - ({{window_days}} - 1) AND b.as_of_day
    ), 0) AS priced_in_window,
    coalesce(sum(p.counted) FILTER (
        WHERE p.day BETWEEN b.as_of_day - ({{window_days}} - 1) AND b.as_of_day
    ), 0) AS counted
FROM bounds b
LEFT JOIN per_day p ON true
GROUP BY b.newest_day, b.oldest_day, b.as_of_day

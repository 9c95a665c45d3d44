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
WITH bounds AS (
    SELECT
        max(day) AS newest_day,
        min(day) AS oldest_day,
        coalesce(CAST({{as_of}} AS BIGINT), max(day)) AS as_of_day
    FROM purchases
)
SELECT
    b.newest_day,
    b.as_of_day,
    {{window_days}} AS window_days,
    b.as_of_day - ({{window_days}} - 1) AS first_day,
    count(p.day) AS purchases,
    count(p.day) FILTER (WHERE p.day BETWEEN b.as_of_day - ({{window_days}} - 1) AND b.as_of_day) AS in_window,
    count(p.day) FILTER (
        WHERE p.day BETWEEN b.as_of_day - ({{window_days}} - 1) AND b.as_of_day AND p.amount IS NOT NULL
    ) AS priced_in_window,
    count(p.day) FILTER (
        WHERE p.day BETWEEN b.as_of_day - ({{window_days}} - 1) AND b.as_of_day AND p.amount > {{min_amount}}
    ) AS counted
FROM bounds b
LEFT JOIN purchases p ON true
GROUP BY b.newest_day, b.oldest_day, b.as_of_day

-- cohorts: acquisition cohorts, customers by the period (week, month or quarter) of their
-- first counted purchase, and per later period how many of them purchased and their revenue.
--
-- Input:      purchases
-- Parameters: as_of         the run's as-of day (days since 1970-01-01); later purchases are
--                           left out
--             min_amount    only purchases priced above this count (as sql/rfm.sql)
--             period        week, month or quarter
--             period_number the period as a number of `day` (consecutive periods differ
--                           by 1): weeks from Monday, year * 12 + month, year * 4 + quarter
--
-- The whole history up to the as-of day counts, not only the RFM window: a cohort is
-- followed from its first period. period_index 0 is the cohort's own period; observed is
-- the index of the as-of day's period (later periods have not happened yet). Revenue is
-- summed exactly as DECIMAL(18, 6) (the sums do not depend on the partitioning).
WITH active AS (
    SELECT
        customer_id,
        {{period_number}} AS period_number,
        min(day) AS first_day,
        sum(CAST(amount AS DECIMAL(18, 6))) AS revenue
    FROM purchases
    WHERE amount > {{min_amount}} AND day <= {{as_of}}
    GROUP BY customer_id, {{period_number}}
),
firsts AS (
    SELECT
        customer_id,
        min(period_number) AS cohort_number,
        min(first_day) AS first_day
    FROM active
    GROUP BY customer_id
)
SELECT
    CAST(
        CAST(date_trunc('{{period}}', to_timestamp_seconds(min(f.first_day) * 86400)) AS DATE)
        AS VARCHAR
    ) AS cohort,
    f.cohort_number,
    a.period_number - f.cohort_number AS period_index,
    (SELECT {{period_number}} FROM (VALUES ({{as_of}})) AS t(day)) - f.cohort_number AS observed,
    count(*) AS active,
    CAST(sum(a.revenue) AS DOUBLE) AS revenue
FROM active a
JOIN firsts f ON a.customer_id = f.customer_id
GROUP BY f.cohort_number, a.period_number - f.cohort_number
ORDER BY f.cohort_number, period_index

-- group_lift: per cluster label or RFM segment, the categories (or stores) it buys more
-- often than all customers do: lift = (share of the group's purchases) / (share of all
-- purchases). Only values with at least `min_purchases` purchases in the group, so a
-- lift is never built on a handful of rows; the `top` highest per group.
--
-- Input:      segment_purchases
-- Parameters: group          cluster_label or rfm_segment
--             dimension      main_category or store
--             min_purchases  support needed for a lift to count
--             top            values kept per group
-- The totals are window sums over `by_group` rather than CTEs joined back to it: a CTE read
-- several times is planned and computed that many times, and on a cluster each copy is
-- more stages of the job.
WITH by_group AS (
    SELECT {{group}} AS name, {{dimension}} AS value, count(*) AS n
    FROM segment_purchases
    WHERE {{dimension}} IS NOT NULL
    GROUP BY {{group}}, {{dimension}}
),
totals AS (
    SELECT
        name,
        value,
        n,
        sum(n) OVER (PARTITION BY name) AS group_total,
        sum(n) OVER (PARTITION BY value) AS n_all,
        sum(n) OVER () AS total_all
    FROM by_group
),
lifted AS (
    SELECT
        name,
        value,
        n,
        CAST(n AS DOUBLE) / group_total AS share,
        (CAST(n AS DOUBLE) / group_total) / (CAST(n_all AS DOUBLE) / total_all) AS lift
    FROM totals
    WHERE n >= {{min_purchases}}
),
ranked AS (
    SELECT *, row_number() OVER (PARTITION BY name ORDER BY lift DESC, value) AS rn
    FROM lifted
)
SELECT name, value, n, share, lift, rn
FROM ranked
WHERE rn <= {{top}}
ORDER BY name, rn

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
WITH by_group AS (
    SELECT {{group}} AS name, {{dimension}} AS value, count(*) AS n
    FROM segment_purchases
    WHERE {{dimension}} IS NOT NULL
    GROUP BY {{group}}, {{dimension}}
),
group_total AS (
    SELECT name, sum(n) AS total FROM by_group GROUP BY name
),
overall AS (
    SELECT value, sum(n) AS n_all FROM by_group GROUP BY value
),
all_total AS (
    SELECT sum(n) AS total_all FROM by_group
),
lifted AS (
    SELECT
        b.name,
        b.value,
        b.n,
        CAST(b.n AS DOUBLE) / g.total AS share,
        (CAST(b.n AS DOUBLE) / g.total) / (CAST(o.n_all AS DOUBLE) / a.total_all) AS lift
    FROM by_group b
    JOIN group_total g ON b.name = g.name
    JOIN overall o ON b.value = o.value
    CROSS JOIN all_total a
    WHERE b.n >= {{min_purchases}}
),
ranked AS (
    SELECT *, row_number() OVER (PARTITION BY name ORDER BY lift DESC, value) AS rn
    FROM lifted
)
SELECT name, value, n, share, lift
FROM ranked
WHERE rn <= {{top}}
ORDER BY name, rn

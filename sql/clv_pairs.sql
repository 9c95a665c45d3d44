-- clv_pairs: the distinct Gamma-Gamma summaries (x, m) of the customers with a repeat
-- purchase, and how many customers have each, so that a likelihood evaluation
-- (sql/clv_loglik.sql) reads one row per pair instead of one per customer (many repeat
-- customers bought the same item once more: the same x and m).
--
-- Input:      clv_summary (sql/clv_summary.sql)
-- Parameters: none
SELECT
    x,
    m,
    CAST(count(*) AS DOUBLE) AS n
FROM clv_summary
WHERE x > 0 AND m IS NOT NULL
GROUP BY x, m

-- clv_groups: lifetime value per cluster label or RFM segment, for the report.
--
-- Input:      customers (with the columns of sql/clv_predict.sql)
-- Parameters: group   the column to group by (cluster_label or rfm_segment)
--
-- Sums are exact (each value rounded once to DECIMAL, then added as integers), so they do
-- not depend on the partitioning. Means are over the customers with that prediction.
SELECT
    {{group}} AS name,
    count(*) AS customers,
    count(clv) AS predicted,
    CAST(sum(CAST(p_alive AS DECIMAL(38, 12))) AS DOUBLE) / count(p_alive) AS mean_p_alive,
    CAST(sum(CAST(expected_purchases AS DECIMAL(38, 9))) AS DOUBLE) AS expected_purchases,
    CAST(sum(CAST(clv AS DECIMAL(38, 9))) AS DOUBLE) AS clv,
    CAST(sum(CAST(revenue_at_risk AS DECIMAL(38, 9))) AS DOUBLE) AS revenue_at_risk
FROM customers
GROUP BY {{group}}
ORDER BY clv DESC NULLS LAST, name

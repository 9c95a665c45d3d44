-- group_summary: per cluster label or RFM segment, its customers, revenue and mean R/F/M.
--
-- Input:      table   customers (or clustered, before the labels exist)
-- Parameters: group   the column to group by (cluster, cluster_label or rfm_segment)
-- Sums are exact (integers, and monetary as DECIMAL), so the means do not depend on
-- partitioning.
SELECT
    {{group}} AS name,
    min(cluster) AS cluster,
    count(*) AS customers,
    CAST(sum(CAST(monetary AS DECIMAL(38, 6))) AS DOUBLE) AS revenue,
    CAST(sum(recency) AS DOUBLE) / count(*) AS mean_recency,
    CAST(sum(frequency) AS DOUBLE) / count(*) AS mean_frequency,
    CAST(sum(CAST(monetary AS DECIMAL(38, 6))) AS DOUBLE) / count(*) AS mean_monetary
FROM {{table}}
GROUP BY {{group}}
ORDER BY customers DESC, name

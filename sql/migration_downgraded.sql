-- migration_downgraded: the customers who moved down the segment order between the
-- comparison day and this run's as-of day, ready for a campaign: one row each, with both
-- segments and clusters and both windows' revenue (downgraded.parquet is sorted by
-- customer_id, so its bytes do not depend on the partitioning).
--
-- Input:      customers_before, customers (as sql/migration.sql)
-- Parameters: order  the segment order as SQL rows (segment, rank), rank 1 the most
--                    valuable (migration.segment_order)
--
-- A customer of the earlier window with no counted purchase in this one is "gone", below
-- every segment; a new customer cannot have moved down.
WITH ranks AS (
    SELECT CAST(column1 AS VARCHAR) AS segment, CAST(column2 AS BIGINT) AS rank
    FROM (VALUES {{order}})
)
SELECT
    b.customer_id,
    b.rfm_segment AS segment_before,
    coalesce(n.rfm_segment, 'gone') AS segment_now,
    b.cluster_label AS cluster_before,
    coalesce(n.cluster_label, 'gone') AS cluster_now,
    b.monetary AS revenue_before,
    coalesce(n.monetary, 0.0) AS revenue_now
FROM customers_before b
JOIN ranks rb ON rb.segment = b.rfm_segment
LEFT JOIN customers n ON n.customer_id = b.customer_id
LEFT JOIN ranks rn ON rn.segment = n.rfm_segment
WHERE n.customer_id IS NULL OR rn.rank > rb.rank

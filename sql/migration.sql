-- migration: how the customers moved between two photographs of the same lake, one cell
-- per (group before, group now), for one dimension: the RFM segment or the cluster label.
--
-- Input:      customers_before  the customers of the window ending on the comparison day,
--                               scored with this run's model (crates/rfmseg/src/stages/
--                               migration.rs), customers  this run's customers
-- Parameters: dimension         rfm_segment or cluster_label
--
-- A customer with no counted purchase in the earlier window is "new"; one with none in
-- this run's window is "gone". Revenue is each side's monetary (the window's net
-- spend), summed exactly as DECIMAL(18, 6) so any partitioning gives the same bits.
SELECT
    coalesce(b.{{dimension}}, 'new') AS group_before,
    coalesce(n.{{dimension}}, 'gone') AS group_now,
    count(*) AS customers,
    CAST(coalesce(sum(CAST(b.monetary AS DECIMAL(18, 6))), 0) AS DOUBLE) AS revenue_before,
    CAST(coalesce(sum(CAST(n.monetary AS DECIMAL(18, 6))), 0) AS DOUBLE) AS revenue_now
FROM customers_before b
FULL OUTER JOIN customers n ON b.customer_id = n.customer_id
GROUP BY 1, 2
ORDER BY 1, 2

-- kmeans_step: one Lloyd iteration over the customers of some mini-batches, in one pass.
--
-- Produces one row, `step`: per centre the coordinate sums, counts and sums of squared
-- norms of the rows nearest to it, and the total cost (layout in udfs/src/kmeans_step.rs).
-- The driver turns it into new centres; partial states merge exactly, so any partitioning
-- gives the same bits.
--
-- Input:      kmeans_input (customers with recency_z, frequency_z, monetary_z, batch)
-- Parameters: centroids   the current centres, a literal 'c11,c12,c13,c21,...'
--             batch_lo, batch_hi   the mini-batches read (0 .. features.minibatches - 1
--                                  for a full pass)
SELECT kmeans_step({{centroids}}, recency_z, frequency_z, monetary_z) AS step
FROM kmeans_input
WHERE batch BETWEEN {{batch_lo}} AND {{batch_hi}}

-- kmeans_assign: every customer with its cluster, the index of its nearest centre.
--
-- Input:      customers
-- Parameters: centroids   the model's centres (scaled units)
SELECT
    *,
    kmeans_assign({{centroids}}, recency_z, frequency_z, monetary_z) AS cluster
FROM customers

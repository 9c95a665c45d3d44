-- kmeans_cost: the within-cluster sum of squares (WCSS) of all customers for some centres.
--
-- Input:      kmeans_input
-- Parameters: centroids   a literal 'c11,c12,c13,c21,...'
SELECT kmeans_cost({{centroids}}, recency_z, frequency_z, monetary_z) AS cost
FROM kmeans_input

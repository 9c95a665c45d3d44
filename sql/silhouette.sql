-- silhouette: the mean silhouette of all customers with squared Euclidean distance, as
-- Spark's ClusteringEvaluator computes it, exact in O(n * k) from per-cluster count,
-- coordinate sums and sums of squared norms (from kmeans_step with the same centres).
--
-- Input:      kmeans_input
-- Parameters: centroids   the final centres
--             stats       per cluster: count, d sums, sum of squared norms
SELECT kmeans_silhouette({{centroids}}, {{stats}}, recency_z, frequency_z, monetary_z) AS silhouette
FROM kmeans_input

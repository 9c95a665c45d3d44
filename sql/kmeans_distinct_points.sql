-- kmeans_distinct_points: up to `limit` distinct feature vectors, for the rare case where
-- k-means|| found fewer distinct candidates than k (data with few distinct points).
--
-- Input:      kmeans_input
-- Parameters: limit
SELECT DISTINCT recency_z, frequency_z, monetary_z
FROM kmeans_input
ORDER BY recency_z, frequency_z, monetary_z
LIMIT {{limit}}

-- kmeans_first_centre: the first k-means|| centre, a customer drawn uniformly at random
-- by the seed: the one whose seeded stable hash is smallest (ties by customer_id), the
-- same on any machine and partitioning.
--
-- Input:      kmeans_input
-- Parameters: seed   kmeans.seed
SELECT recency_z, frequency_z, monetary_z
FROM kmeans_input
ORDER BY stable_hash(concat(customer_id, ':', '{{seed}}')), customer_id
LIMIT 1

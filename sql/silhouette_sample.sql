-- silhouette_sample: a seeded sample of customers for the plain-Euclidean silhouette
-- (as scikit-learn's silhouette_score(sample_size=...)), computed in O(sample^2) by the
-- driver. The same customers for every k of a sweep.
--
-- Input:      kmeans_input
-- Parameters: seed, size
SELECT recency_z, frequency_z, monetary_z
FROM kmeans_input
ORDER BY stable_hash(concat(customer_id, ':silhouette:', '{{seed}}')), customer_id
LIMIT {{size}}

-- kmeans_start: what k-means needs before its first round, in one query (on a cluster, one
-- job instead of three), as rows tagged by `part`:
--   part 0  the first k-means|| centre: a customer drawn uniformly at random by the seed,
--           the one whose seeded stable hash is smallest (ties by customer_id), the same
--           on any machine and partitioning; every k of a sweep starts from it;
--   part 1  the silhouette sample: the `size` customers with the smallest hash under a
--           second key, for the plain-Euclidean silhouette the driver computes in
--           O(size^2) (as scikit-learn's silhouette_score(sample_size=...)); the same
--           customers for every k;
--   part 2  in `h`, how many distinct feature vectors the customers have, counted up to
--           `limit` (the top of a k sweep): k-means needs k distinct centres, so a sweep
--           over data with fewer distinct points than its top k is capped to them. The
--           LIMIT lets the engine stop the DISTINCT as soon as it has seen enough.
-- The parts of a UNION ALL may arrive in any order, so each row carries its sort key
-- (h, customer_id) and the driver orders the rows.
--
-- Input:      kmeans_input
-- Parameters: seed    kmeans.seed
--             size    kmeans.silhouette_sample
--             limit   the largest k of the sweep
SELECT 0 AS part, h, customer_id, recency_z, frequency_z, monetary_z
FROM (
    SELECT stable_hash(concat(customer_id, ':', '{{seed}}')) AS h,
           customer_id, recency_z, frequency_z, monetary_z
    FROM kmeans_input
    ORDER BY h, customer_id
    LIMIT 1
)
UNION ALL
SELECT 1 AS part, h, customer_id, recency_z, frequency_z, monetary_z
FROM (
    SELECT stable_hash(concat(customer_id, ':silhouette:', '{{seed}}')) AS h,
           customer_id, recency_z, frequency_z, monetary_z
    FROM kmeans_input
    ORDER BY h, customer_id
    LIMIT {{size}}
)
UNION ALL
SELECT 2 AS part, count(*) AS h, CAST(NULL AS VARCHAR) AS customer_id,
       CAST(NULL AS DOUBLE) AS recency_z, CAST(NULL AS DOUBLE) AS frequency_z,
       CAST(NULL AS DOUBLE) AS monetary_z
FROM (
    SELECT DISTINCT recency_z, frequency_z, monetary_z
    FROM kmeans_input
    LIMIT {{limit}}
)

-- kmeans_start: what k-means needs before its first round, in one query (on a cluster, one
-- job instead of three), as rows tagged by `part`:
--   part 0  the first k-means|| centre: a customer drawn uniformly at random by the seed,
--           the one whose seeded stable hash is smallest (ties by customer_id), the same
--           on any machine and partitioning; every k of a sweep starts from it;
--   part 1  the seeded sample: the `size` customers with the smallest hash under a
--           second key, the same customers for every k. The first
--           kmeans.silhouette_sample of them are the silhouette sample, for the
--           plain-Euclidean silhouette the driver computes in O(n^2) (as scikit-learn's
--           silhouette_score(sample_size=...)); all of them (kmeans.init_sample) are where
--           the driver tries its k-means++ starts (stages/kmeans/init.rs);
--   part 2  in `h`, how many distinct feature vectors the customers have, counted up to
--           `limit` (the top of a k sweep): k-means needs k distinct centres, so a sweep
--           over data with fewer distinct points than its top k is capped to them. The
--           LIMIT lets the engine stop the DISTINCT as soon as it has seen enough.
-- The parts of a UNION ALL may arrive in any order, so each row carries its sort key
-- (h, customer_id) and the driver orders the rows.
--
-- Input:      kmeans_input
-- Parameters: seed    kmeans.seed
--             size    the larger of kmeans.silhouette_sample and kmeans.init_sample
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

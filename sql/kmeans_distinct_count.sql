-- kmeans_distinct_count: how many distinct feature vectors the customers have, counted up
-- to `limit` (the top of a k sweep). k-means needs k distinct centres, so a sweep over
-- data with fewer distinct points than its top k is capped to them. The LIMIT lets the
-- engine stop the DISTINCT as soon as it has seen enough.
--
-- Input:      kmeans_input
-- Parameters: limit   the largest k of the sweep
SELECT count(*) AS n
FROM (
    SELECT DISTINCT recency_z, frequency_z, monetary_z
    FROM kmeans_input
    LIMIT {{limit}}
)

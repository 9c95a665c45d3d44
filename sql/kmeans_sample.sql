-- kmeans_sample: one k-means|| round (Bahmani et al. 2012), as an aggregate of
-- kmeans_round.sql, so the sampling of every k of a sweep shares one query (one job on a
-- cluster) with the other fits' steps. Each customer is drawn with probability
-- min(1, l * d(x)^2 / cost), d(x) its distance to the nearest current candidate, by a
-- uniform that depends only on (seed, round, customer_id). The drawn points come back as
-- one list of (customer_id, point) in no particular order; the driver sorts them by
-- customer, because its k-means++ picks candidates by position and their order must not
-- depend on which partition answered first (sorting a few dozen points there is cheaper
-- than an ordered aggregate, which would sort every customer).
--
-- Parameters: centroids   the current candidates
--             seed, round, l (= kmeans.oversampling * k), cost (the candidates' WCSS)
array_agg(struct(customer_id, recency_z, frequency_z, monetary_z))
    FILTER (WHERE kmeans_sample(
        {{centroids}}, {{seed}}, {{round}}, {{l}}, {{cost}},
        customer_id, recency_z, frequency_z, monetary_z
    ))

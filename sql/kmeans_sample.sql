-- kmeans_sample: one k-means|| round (Bahmani et al. 2012): each customer is drawn with
-- probability min(1, l * d(x)^2 / cost), d(x) its distance to the nearest current
-- candidate, by a uniform that depends only on (seed, round, customer_id). Ordered by
-- customer: the driver's k-means++ picks candidates by position, so their order must not
-- depend on which partition answered first.
--
-- Input:      kmeans_input
-- Parameters: centroids   the current candidates
--             seed, round, l (= kmeans.oversampling * k), cost (the candidates' WCSS)
SELECT recency_z, frequency_z, monetary_z
FROM kmeans_input
WHERE kmeans_sample(
    {{centroids}}, {{seed}}, {{round}}, {{l}}, {{cost}},
    customer_id, recency_z, frequency_z, monetary_z
)
ORDER BY customer_id

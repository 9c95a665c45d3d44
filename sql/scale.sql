-- scale: the model inputs of every customer, standard-scaled, and its mini-batch.
--
-- Produces customer_id, recency, frequency, monetary, recency_z, frequency_z, monetary_z,
-- batch.
--
-- Input:      rfm
-- Parameters: scaler means and sample standard deviations (from scale_moments.sql; a
--             zero deviation is passed as 1, so a constant input scales to 0 as in Spark)
--             features.minibatches   number of mini-batches
--
-- z = (x - mean) / std for x in (recency, ln(1 + frequency), ln(1 + monetary)).
-- batch = stable_hash(customer_id) % minibatches: the same customer lands in the same
-- mini-batch on every machine, so a mini-batch query reads `WHERE batch = b`.
SELECT
    customer_id,
    recency,
    frequency,
    monetary,
    (CAST(recency AS DOUBLE) - {{mean_r}}) / {{std_r}} AS recency_z,
    (ln(1 + CAST(frequency AS DOUBLE)) - {{mean_f}}) / {{std_f}} AS frequency_z,
    (ln(1 + monetary) - {{mean_m}}) / {{std_m}} AS monetary_z,
    stable_hash(customer_id) % {{minibatches}} AS batch
FROM rfm

-- score_rfm: R, F and M scores of new customers from a saved model's thresholds, without
-- re-ranking (rfmseg score). r_t2..r_t5: the largest recency that still earns score 2..5;
-- f_t2..f_t5 and m_t2..m_t5: the smallest frequency or monetary value that earns it.
-- On the data the model was fitted on, this gives back the `quantile` scores exactly.
--
-- Input: features (scaled with the saved scaler). Produces features' columns plus
-- r_score, f_score, m_score.
SELECT
    customer_id, recency, frequency, monetary, recency_z, frequency_z, monetary_z, batch,
    CAST(1
        + CASE WHEN recency <= {{r_t2}} THEN 1 ELSE 0 END
        + CASE WHEN recency <= {{r_t3}} THEN 1 ELSE 0 END
        + CASE WHEN recency <= {{r_t4}} THEN 1 ELSE 0 END
        + CASE WHEN recency <= {{r_t5}} THEN 1 ELSE 0 END AS INT) AS r_score,
    CAST(1
        + CASE WHEN frequency >= {{f_t2}} THEN 1 ELSE 0 END
        + CASE WHEN frequency >= {{f_t3}} THEN 1 ELSE 0 END
        + CASE WHEN frequency >= {{f_t4}} THEN 1 ELSE 0 END
        + CASE WHEN frequency >= {{f_t5}} THEN 1 ELSE 0 END AS INT) AS f_score,
    CAST(1
        + CASE WHEN monetary >= {{m_t2}} THEN 1 ELSE 0 END
        + CASE WHEN monetary >= {{m_t3}} THEN 1 ELSE 0 END
        + CASE WHEN monetary >= {{m_t4}} THEN 1 ELSE 0 END
        + CASE WHEN monetary >= {{m_t5}} THEN 1 ELSE 0 END AS INT) AS m_score
FROM features

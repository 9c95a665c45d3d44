-- rfm_ntile: R, F and M scores 1..5 as the reference analysis computed them, ntile(5).
--
-- R: ntile over recency descending (the least recent get 1); F over ln(1 + frequency)
-- ascending; M over ln(1 + monetary) ascending. Ties are broken by customer_id, so the
-- answer is deterministic (the reference left them to Spark's row order), but equal
-- values can get different scores; `quantile` avoids that.
--
-- Input: features (scale.sql). Produces features' columns plus r_score, f_score, m_score.
WITH logged AS (
    SELECT
        *,
        ln(1 + CAST(frequency AS DOUBLE)) AS ln1p_frequency,
        ln(1 + monetary) AS ln1p_monetary
    FROM features
)
SELECT
    customer_id, recency, frequency, monetary, recency_z, frequency_z, monetary_z, batch,
    CAST(ntile(5) OVER (ORDER BY recency DESC, customer_id) AS INT) AS r_score,
    CAST(ntile(5) OVER (ORDER BY ln1p_frequency ASC, customer_id) AS INT) AS f_score,
    CAST(ntile(5) OVER (ORDER BY ln1p_monetary ASC, customer_id) AS INT) AS m_score
FROM logged

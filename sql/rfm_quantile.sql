-- rfm_quantile: R, F and M scores 1..5 from the share of customers strictly worse.
--
-- score = min(5, 1 + floor(5 * b / N)), N the number of customers, b the number strictly
-- worse: for R a strictly larger recency, for F and M a strictly smaller frequency or
-- monetary value. rank() - 1 is exactly b, so equal values always get equal scores, and
-- the answer does not depend on row order or partitioning.
--
-- Input: features (scale.sql). Produces features' columns plus r_score, f_score, m_score.
WITH ranked AS (
    SELECT
        *,
        rank() OVER (ORDER BY recency DESC) - 1 AS r_worse,
        rank() OVER (ORDER BY frequency ASC) - 1 AS f_worse,
        rank() OVER (ORDER BY monetary ASC) - 1 AS m_worse,
        count(*) OVER () AS n
    FROM features
)
SELECT
    customer_id, recency, frequency, monetary, recency_z, frequency_z, monetary_z, batch,
    CAST(least(5, 1 + (5 * r_worse) / n) AS INT) AS r_score,
    CAST(least(5, 1 + (5 * f_worse) / n) AS INT) AS f_score,
    CAST(least(5, 1 + (5 * m_worse) / n) AS INT) AS m_score
FROM ranked

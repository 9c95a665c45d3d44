-- rfm_quantile: R, F and M scores 1..5 from the share of customers strictly worse.
--
-- score = min(5, 1 + floor(5 * b / N)), N the number of customers, b the number strictly
-- worse: for R a strictly larger recency, for F and M a strictly smaller frequency or
-- monetary value. b is counted per distinct value: the customers of each value, summed
-- over the values before it in the score's order (what rank() - 1 over all customers
-- gives, without sorting every customer's row three times, one core each: at 3.56M
-- customers the features stage went from 6.4 s to 4.8-5.5 s). Equal values always get
-- equal scores, and the answer does not depend on row order or partitioning. The joins
-- back match NULL to NULL, so a customer is never lost (a NULL sorts as rank() would sort
-- it: first in DESC, last in ASC).
--
-- Input: features (scale.sql). Produces features' columns plus r_score, f_score, m_score.
WITH r AS (
    SELECT recency, sum(count(*)) OVER (ORDER BY recency DESC) - count(*) AS r_worse
    FROM features
    GROUP BY recency
),
f AS (
    SELECT frequency, sum(count(*)) OVER (ORDER BY frequency ASC) - count(*) AS f_worse
    FROM features
    GROUP BY frequency
),
m AS (
    SELECT monetary, sum(count(*)) OVER (ORDER BY monetary ASC) - count(*) AS m_worse
    FROM features
    GROUP BY monetary
),
total AS (
    SELECT count(*) AS n FROM features
)
SELECT
    c.customer_id, c.recency, c.frequency, c.monetary,
    c.recency_z, c.frequency_z, c.monetary_z, c.batch,
    CAST(least(5, 1 + (5 * r.r_worse) / total.n) AS INT) AS r_score,
    CAST(least(5, 1 + (5 * f.f_worse) / total.n) AS INT) AS f_score,
    CAST(least(5, 1 + (5 * m.m_worse) / total.n) AS INT) AS m_score
FROM m
RIGHT JOIN (
    f RIGHT JOIN (
        r RIGHT JOIN features c ON c.recency IS NOT DISTINCT FROM r.recency
    ) ON c.frequency IS NOT DISTINCT FROM f.frequency
) ON c.monetary IS NOT DISTINCT FROM m.monetary
CROSS JOIN total

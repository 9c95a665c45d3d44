-- score_thresholds: for each R, F and M score, the range of values that got it, saved in
-- model.json so `rfmseg score` scores new customers without re-ranking: R uses the
-- largest recency of each score and above, F and M the smallest value.
--
-- Input: customers. Produces (measure, score, lo, hi).
SELECT 'r' AS measure, r_score AS score, CAST(min(recency) AS DOUBLE) AS lo, CAST(max(recency) AS DOUBLE) AS hi
FROM customers GROUP BY r_score
UNION ALL
SELECT 'f', f_score, CAST(min(frequency) AS DOUBLE), CAST(max(frequency) AS DOUBLE)
FROM customers GROUP BY f_score
UNION ALL
SELECT 'm', m_score, min(monetary), max(monetary)
FROM customers GROUP BY m_score
ORDER BY 1, 2

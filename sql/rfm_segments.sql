-- rfm_segments: the RFM segment of every customer, from its R, F and M scores.
--
-- Input: scored (rfm_quantile.sql or rfm_ntile.sql). Produces scored's columns plus
-- rfm_segment, one of 11 names; the first rule that matches wins, in this order:
SELECT
    *,
    CASE
        WHEN r_score >= 4 AND f_score >= 4 AND m_score >= 4 THEN 'Champions'
        WHEN r_score >= 3 AND f_score >= 4 AND m_score >= 3 THEN 'Loyal Customers'
        WHEN r_score >= 4 AND f_score >= 2 AND m_score >= 2 THEN 'Potential Loyalists'
        WHEN r_score = 5 AND f_score <= 2 AND m_score <= 2 THEN 'New Customers'
        WHEN r_score >= 4 AND f_score <= 2 AND m_score <= 2 THEN 'Promising'
        WHEN r_score <= 2 AND f_score <= 2 AND m_score >= 3 THEN 'About to Sleep'
        WHEN r_score <= 2 AND f_score <= 2 AND m_score <= 2 THEN 'Hibernating'
        WHEN r_score <= 2 AND f_score >= 4 AND m_score >= 4 THEN 'Can''t Lose Them'
        WHEN r_score <= 2 AND f_score >= 3 AND m_score >= 3 THEN 'At Risk'
        WHEN r_score <= 3 AND f_score <= 3 AND m_score <= 3 THEN 'Needs Attention'
        ELSE 'Lost'
    END AS rfm_segment
FROM scored

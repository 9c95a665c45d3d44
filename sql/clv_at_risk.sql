-- clv_at_risk: the customers who carry the most revenue at risk, for the report: those the
-- model thinks have most likely stopped, weighted by what they would be worth if not.
--
-- Input:      customers (with the columns of sql/clv_predict.sql)
-- Parameters: top   how many customers
SELECT
    customer_id,
    rfm_segment,
    cluster_label,
    p_alive,
    clv,
    revenue_at_risk
FROM customers
WHERE revenue_at_risk IS NOT NULL
ORDER BY revenue_at_risk DESC, customer_id
LIMIT {{top}}

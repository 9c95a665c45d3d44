-- clv_predict: every customer with its lifetime-value predictions (DESIGN.md §8), from
-- the fitted BG/NBD and Gamma-Gamma models; the final `customers` of `run` and `score`.
--
-- Input:      customers (one row per customer of the RFM window), clv_summary
--             (sql/clv_summary.sql: the same customers' x, t_x, t_cal, m)
-- Parameters: model   the clv_predict literal 'r,alpha,a,b,p,q,gamma,horizon,periods,
--                     discount' (udfs/src/clv_predict.rs), horizon in the time unit
--
-- Adds to each customer:
--   p_alive              probability that the customer is still active at the as-of day
--   expected_purchases   expected purchase days over the horizon
--   expected_value       expected amount per purchase (Gamma-Gamma; the population mean
--                        for a customer without a repeat purchase)
--   clv                  expected value over the horizon, discounted per period
-- A prediction the model cannot give accurately is NULL (counted in the report).
WITH predicted AS (
    SELECT
        customer_id,
        clv_predict({{model}}, x, t_x, t_cal, coalesce(m, 0.0)) AS v
    FROM clv_summary
)
SELECT
    c.*,
    p.v['p_alive'] AS p_alive,
    p.v['expected_purchases'] AS expected_purchases,
    p.v['expected_value'] AS expected_value,
    p.v['clv'] AS clv
FROM customers c
LEFT JOIN predicted p ON c.customer_id = p.customer_id

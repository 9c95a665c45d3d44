-- clv_predict: every customer with its lifetime-value predictions (DESIGN.md §8), from
-- the fitted BG/NBD and Gamma-Gamma models; the final `customers` of `run` and `score`.
--
-- Input:      customers (one row per customer of the RFM window), clv_summary
--             (sql/clv_summary.sql: the same customers' x, t_x, t_cal, m),
--             clv_triple_predictions (sql/clv_triple_predict.sql: the BG/NBD predictions
--             of each distinct (x, t_x, t_cal))
-- Parameters: p, q, gamma   the Gamma-Gamma parameters of the model
--
-- Adds to each customer:
--   p_alive              probability that the customer is still active at the as-of day
--   expected_purchases   expected purchase days over the horizon
--   expected_value       expected amount per purchase (Gamma-Gamma; the population mean
--                        for a customer without a repeat purchase)
--   clv                  expected value x the expected purchases of each period
--                        discounted to today
--   revenue_at_risk      (1 - p_alive) x the CLV the customer would have if alive
--                        (clv / p_alive: BG/NBD's expected purchases are P(alive) times
--                        those of a live customer); 0 when p_alive = 1
-- The BG/NBD predictions depend on (x, t_x, t_cal) only, and their series are the costly
-- part, so they are computed once per distinct summary (several customers each) and
-- joined back here. A prediction the model cannot give accurately is NULL (counted in the
-- report).
WITH predicted AS (
    SELECT
        s.customer_id,
        t.v['p_alive'] AS p_alive,
        t.v['expected_purchases'] AS expected_purchases,
        CASE
            WHEN {{p}} * s.x + {{q}} - 1.0 > 0.0 THEN
                {{p}} * ({{gamma}} + coalesce(s.m, 0.0) * s.x) / ({{p}} * s.x + {{q}} - 1.0)
        END AS expected_value,
        t.v['discounted_purchases'] AS discounted_purchases
    FROM clv_summary s
    JOIN clv_triple_predictions t ON s.x = t.x AND s.t_x = t.t_x AND s.t_cal = t.t_cal
)
SELECT
    c.*,
    p.p_alive,
    p.expected_purchases,
    p.expected_value,
    p.expected_value * p.discounted_purchases AS clv,
    CASE
        WHEN p.p_alive > 0.0 THEN
            (1.0 - p.p_alive) * (p.expected_value * p.discounted_purchases / p.p_alive)
    END AS revenue_at_risk
FROM customers c
LEFT JOIN predicted p ON c.customer_id = p.customer_id

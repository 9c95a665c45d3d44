-- clv_summary: the per-customer summary the CLV models (BG/NBD, Gamma-Gamma) take, at the
-- as-of day, one row per customer with a counted purchase (DESIGN.md §8).
--
-- Input:      purchases (customer_id, day, amount)
-- Parameters: as_of          the as-of day (days since 1970-01-01), the calibration end
--             window_days    days in the window: [as_of - window_days + 1, as_of]
--             min_amount     only purchases priced above this count
--             time_unit      days per time unit: 7.0 (weeks) or 1.0 (days)
--
-- The purchases counted are those RFM counts (sql/rfm.sql: the same window and
-- min_amount). As the `lifetimes` and `pymc-marketing` libraries do, purchases are grouped
-- by day first; then per customer, in time units:
--   x      purchase days after the first (repeat purchases)
--   t_x    last purchase day - first purchase day (0 when x = 0)
--   t_cal  as-of day - first purchase day (the model's T)
--   m      the mean amount per repeat purchase day (the first day's amount left out);
--          NULL when x = 0
-- Amounts are summed exactly as DECIMAL(18, 6) (as monetary in sql/rfm.sql), so m does
-- not depend on the partitioning.
WITH days AS (
    SELECT
        customer_id,
        day,
        sum(CAST(amount AS DECIMAL(18, 6))) AS amount
    FROM purchases
    WHERE day BETWEEN {{as_of}} - ({{window_days}} - 1) AND {{as_of}}
      AND amount > {{min_amount}}
    GROUP BY customer_id, day
)
SELECT
    customer_id,
    CAST(count(*) - 1 AS DOUBLE) AS x,
    CAST(max(day) - min(day) AS DOUBLE) / {{time_unit}} AS t_x,
    CAST({{as_of}} - min(day) AS DOUBLE) / {{time_unit}} AS t_cal,
    CASE
        WHEN count(*) > 1 THEN
            CAST(sum(amount) - first_value(amount ORDER BY day) AS DOUBLE) / CAST(count(*) - 1 AS DOUBLE)
    END AS m
FROM days
GROUP BY customer_id

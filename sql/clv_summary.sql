-- clv_summary: the per-customer summary the CLV models (BG/NBD, Gamma-Gamma) take, at the
-- as-of day, one row per customer with a counted purchase (DESIGN.md §8).
--
-- Input:      {{rfm}}: a table of sql/rfm.sql (`rfm`, or the calibration period's), one row
--             per customer with its counted purchases grouped by day (purchase_days,
--             first_day, last_day, first_day_amount, counted_amount)
-- Parameters: as_of          the as-of day of that table (days since 1970-01-01), the
--                            calibration end
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
-- Amounts are summed exactly as DECIMAL (as monetary in sql/rfm.sql), so m does not depend
-- on the partitioning.
SELECT
    customer_id,
    CAST(purchase_days - 1 AS DOUBLE) AS x,
    CAST(last_day - first_day AS DOUBLE) / {{time_unit}} AS t_x,
    CAST({{as_of}} - first_day AS DOUBLE) / {{time_unit}} AS t_cal,
    CASE
        WHEN purchase_days > 1 THEN
            CAST(counted_amount - first_day_amount AS DOUBLE) / CAST(purchase_days - 1 AS DOUBLE)
    END AS m
FROM {{rfm}}

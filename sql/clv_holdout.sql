-- clv_holdout: the calibration/holdout check of the BG/NBD model: fitted on the purchases
-- up to the calibration end, its expected purchases in the holdout days against the
-- actual ones, by the customers' repeat purchases in calibration (as `lifetimes`'
-- plot_calibration_purchases_vs_holdout_purchases).
--
-- Input:      clv_summary (at the calibration end), purchases
-- Parameters: model            the clv_predict literal of the calibration fit, horizon =
--                              the holdout in time units
--             calibration_end  the last day of calibration (days since 1970-01-01)
--             as_of            the last day of the holdout
--             min_amount       only purchases priced above this count (as in RFM)
--             max_x            repeat purchases from this on are one group
--
-- Actual purchases are purchase days, as x counts them. Sums are exact.
WITH actual AS (
    SELECT customer_id, count(DISTINCT day) AS purchases
    FROM purchases
    WHERE day BETWEEN {{calibration_end}} + 1 AND {{as_of}}
      AND amount > {{min_amount}}
    GROUP BY customer_id
),
predicted AS (
    SELECT
        s.customer_id,
        CAST(least(s.x, {{max_x}}) AS BIGINT) AS x,
        clv_predict({{model}}, s.x, s.t_x, s.t_cal, coalesce(s.m, 0.0))['expected_purchases'] AS expected,
        coalesce(a.purchases, 0) AS actual
    FROM clv_summary s
    LEFT JOIN actual a ON s.customer_id = a.customer_id
)
SELECT
    x AS repeat_purchases,
    count(*) AS customers,
    count(expected) AS predicted,
    CAST(sum(CAST(expected AS DECIMAL(38, 9))) AS DOUBLE) AS expected,
    sum(CASE WHEN expected IS NOT NULL THEN actual END) AS actual
FROM predicted
GROUP BY x
ORDER BY x

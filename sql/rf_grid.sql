-- rf_grid: customers per (R score, F score) cell and the most common RFM segment there.
--
-- Input: customers
WITH cells AS (
    SELECT r_score, f_score, rfm_segment, count(*) AS n
    FROM customers
    GROUP BY r_score, f_score, rfm_segment
),
ranked AS (
    SELECT
        *,
        sum(n) OVER (PARTITION BY r_score, f_score) AS customers,
        row_number() OVER (PARTITION BY r_score, f_score ORDER BY n DESC, rfm_segment) AS rn
    FROM cells
)
SELECT r_score, f_score, customers, rfm_segment
FROM ranked
WHERE rn = 1
ORDER BY r_score, f_score

-- clv_histograms: customers per bin of P(alive) and of CLV, for the report.
--
-- Input:      customers (with the columns of sql/clv_predict.sql). Produces (measure,
--             bin, customers).
-- Parameters: (ClvBins in crates/rfmseg/src/stages/clv/report.rs, which also computes
--             the bins' edges from them)
--   p_alive_bins        bin b holds b/n <= p_alive < (b+1)/n (1.0 in the last bin)
--   clv_bins_per_decade bin b holds 10^(b/n) <= clv < 10^((b+1)/n)
--   clv_floor           smaller values (and 0) are counted in the bin of clv_floor
SELECT 'p_alive' AS measure,
       CAST(least(floor(p_alive * {{p_alive_bins}}), {{p_alive_bins}} - 1) AS BIGINT) AS bin,
       count(*) AS customers
FROM customers
WHERE p_alive IS NOT NULL
GROUP BY 2
UNION ALL
SELECT 'clv',
       CAST(floor(log10(greatest(clv, {{clv_floor}})) * {{clv_bins_per_decade}}) AS BIGINT),
       count(*)
FROM customers
WHERE clv IS NOT NULL
GROUP BY 2
ORDER BY 1, 2

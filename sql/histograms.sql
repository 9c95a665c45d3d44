-- histograms: customers per bin of recency (15-day bins), frequency (powers of two:
-- 1, 2-3, 4-7, ...) and monetary (quarter decades of USD: bin b holds
-- 10^(b/4) <= monetary < 10^((b+1)/4)).
--
-- Input: customers. Produces (measure, bin, customers).
SELECT 'recency' AS measure, CAST((recency - 1) / 15 AS BIGINT) AS bin, count(*) AS customers
FROM customers
GROUP BY 2
UNION ALL
SELECT 'frequency', CAST(floor(log2(CAST(frequency AS DOUBLE))) AS BIGINT), count(*)
FROM customers
GROUP BY 2
UNION ALL
SELECT 'monetary', CAST(floor(log10(monetary) * 4) AS BIGINT), count(*)
FROM customers
GROUP BY 2
ORDER BY 1, 2

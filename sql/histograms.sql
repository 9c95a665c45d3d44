-- histograms: customers per bin of recency, frequency and monetary, for the report.
--
-- Input:      customers. Produces (measure, bin, customers).
-- Parameters: the bin widths (HistogramBins in crates/rfmseg/src/stages/report_data.rs, which
--             also computes the bins' edges from them, so edges and bins cannot disagree)
--   recency_bin_days             bin b holds 1 + w*b <= recency < 1 + w*(b+1)
--   frequency_bins_per_doubling  bin b holds 2^(b/n) <= frequency < 2^((b+1)/n)
--   monetary_bins_per_decade     bin b holds 10^(b/n) <= monetary < 10^((b+1)/n) (USD); a
--                                monetary below 1 cent (returns netted it to 0) is counted
--                                in the bin of 1 cent
SELECT 'recency' AS measure, CAST((recency - 1) / {{recency_bin_days}} AS BIGINT) AS bin, count(*) AS customers
FROM customers
GROUP BY 2
UNION ALL
SELECT 'frequency', CAST(floor(log2(CAST(frequency AS DOUBLE)) * {{frequency_bins_per_doubling}}) AS BIGINT), count(*)
FROM customers
GROUP BY 2
UNION ALL
SELECT 'monetary', CAST(floor(log10(greatest(monetary, 0.01)) * {{monetary_bins_per_decade}}) AS BIGINT), count(*)
FROM customers
GROUP BY 2
ORDER BY 1, 2

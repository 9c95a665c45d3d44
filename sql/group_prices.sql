-- group_prices: the typical price of a purchase per cluster label or RFM segment: the
-- exact 25th percentile, median and 75th percentile of the counted purchases' amounts.
--
-- Input:      segment_purchases
-- Parameters: group   cluster_label or rfm_segment
SELECT
    {{group}} AS name,
    percentile_cont(0.25) WITHIN GROUP (ORDER BY amount) AS p25,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY amount) AS p50,
    percentile_cont(0.75) WITHIN GROUP (ORDER BY amount) AS p75
FROM segment_purchases
GROUP BY {{group}}

-- group_prices: the counted purchases per cluster label or RFM segment and price, from
-- which the driver takes each group's typical price: the exact 25th percentile, median
-- and 75th percentile of the amounts, interpolated as percentile_cont interpolates
-- (crates/rfmseg/src/stages/price_bands.rs).
--
-- Input:      segment_purchases
-- Parameters: group   cluster_label or rfm_segment
--
-- Counts rather than percentile_cont: a purchase's amount is an item's price, so there
-- are far fewer distinct amounts than purchases, and percentile_cont holds every amount
-- of every group once per percentile (at the full Electronics size, 12.6M amounts x 3
-- percentiles x 2 group kinds: the report stage's largest memory).
SELECT {{group}} AS name, amount, count(*) AS n
FROM segment_purchases
GROUP BY {{group}}, amount

-- segment_purchases: the purchases RFM counted, with their customer's cluster label and
-- RFM segment: the evidence behind each recommendation. Kept in memory by the driver,
-- since the price bands and lifts read it six times.
--
-- The category, the cluster label and the RFM segment (a few dozen values over millions
-- of rows) are kept dictionary-encoded, as `segment_purchases_stored`;
-- `segment_purchases` is a view that decodes them (sql/segment_purchases_view.sql), so
-- the queries after it read plain text. The store has too many values to gain from it.
--
-- Input:      purchases, customers (labelled)
-- Parameters: rfm.as_of (day number), rfm.window_days, rfm.min_amount, as in rfm.sql
SELECT
    p.amount,
    arrow_cast(p.main_category, 'Dictionary(Int32, Utf8)') AS main_category,
    p.store,
    c.cluster_label,
    c.rfm_segment
FROM purchases p
JOIN (
    -- The filter changes no row (a NULL id never joins); it is what makes DataFusion 55
    -- build the join's hash table on the customers: it picks the side it estimates
    -- smaller, and a filter's estimate is a fifth of its input. Without it, the estimate
    -- after the purchases' own filter made the 12.6M purchases of the full Electronics
    -- data the build side (1.24 GB) instead of the 3.56M customers. The labels are
    -- encoded before the join, so its hash table holds their codes, not their text.
    SELECT
        customer_id,
        arrow_cast(cluster_label, 'Dictionary(Int32, Utf8)') AS cluster_label,
        arrow_cast(rfm_segment, 'Dictionary(Int32, Utf8)') AS rfm_segment
    FROM customers
    WHERE customer_id IS NOT NULL
) c ON p.customer_id = c.customer_id
WHERE p.day BETWEEN {{as_of}} - ({{window_days}} - 1) AND {{as_of}}
  AND p.amount > {{min_amount}}

-- segment_purchases: the purchases RFM counted, with their customer's cluster label and
-- RFM segment: the evidence behind each recommendation. Kept in memory by the driver,
-- since the price bands and lifts read it six times.
--
-- Input:      purchases, customers (labelled)
-- Parameters: rfm.as_of (day number), rfm.window_days, rfm.min_amount, as in rfm.sql
SELECT
    p.amount,
    p.main_category,
    p.store,
    c.cluster_label,
    c.rfm_segment
FROM purchases p
JOIN (
    -- The filter changes no row (a NULL id never joins); it is what makes DataFusion 55
    -- build the join's hash table on the customers: it picks the side it estimates
    -- smaller, and a filter's estimate is a fifth of its input. Without it, the estimate
    -- after the purchases' own filter made the 12.6M purchases of the full Electronics
    -- data the build side (1.24 GB) instead of the 3.56M customers.
    SELECT customer_id, cluster_label, rfm_segment
    FROM customers
    WHERE customer_id IS NOT NULL
) c ON p.customer_id = c.customer_id
WHERE p.day BETWEEN {{as_of}} - ({{window_days}} - 1) AND {{as_of}}
  AND p.amount > {{min_amount}}

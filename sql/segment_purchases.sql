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
JOIN customers c ON p.customer_id = c.customer_id
WHERE p.day BETWEEN {{as_of}} - ({{window_days}} - 1) AND {{as_of}}
  AND p.amount > {{min_amount}}

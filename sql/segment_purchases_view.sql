-- segment_purchases: the stored purchases of sql/segment_purchases.sql with their
-- dictionary-encoded columns decoded. A view: each query over it decodes the batches it
-- reads, and nothing more is held in memory.
--
-- Input: segment_purchases_stored
SELECT
    amount,
    arrow_cast(main_category, 'Utf8') AS main_category,
    store,
    arrow_cast(cluster_label, 'Utf8') AS cluster_label,
    arrow_cast(rfm_segment, 'Utf8') AS rfm_segment
FROM segment_purchases_stored

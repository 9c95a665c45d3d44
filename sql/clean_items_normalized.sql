-- clean_items_normalized: rule 1 of sql/clean_items.sql, the lake's items with their
-- placeholder strings made NULL; the `normalized` rows whose exact duplicates it drops.
--
-- An embedded run makes these rows distinct itself (crates/rfmseg/src/exec/distinct.rs)
-- and hands sql/clean_items.sql the result; otherwise that file runs this query inside it
-- and keeps its own DISTINCT.
--
-- Input:      lake_items (lake/items/*.parquet)
-- Parameters: clean.missing_values   placeholder strings that mean NULL (lower-cased here;
--                                    null_if_placeholder matches them trimmed, any case)
SELECT
    null_if_placeholder(parent_asin, {{missing_values}}) AS parent_asin,
    null_if_placeholder(title, {{missing_values}}) AS title,
    null_if_placeholder(main_category, {{missing_values}}) AS main_category,
    null_if_placeholder(store, {{missing_values}}) AS store,
    categories,
    null_if_placeholder(price_raw, {{missing_values}}) AS price_raw
FROM lake_items

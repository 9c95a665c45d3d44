-- clean_items: every distinct lake item, with its parsed price and why it is dropped.
--
-- Produces one row per distinct item; `drop_reason` is NULL for the items kept. `price` is
-- the parsed price, NULL when missing, unparseable or out of range; `price_status` says
-- which, for the data-quality table (a bad price is counted, never a reason to drop).
--
-- Input:      lake_items (lake/items/*.parquet)
-- Parameters: clean.missing_values        placeholder strings that mean NULL (lower-cased here;
--                                         null_if_placeholder matches them trimmed, any case)
--             clean.excluded_categories   main categories that are not electronics
--             clean.drop_null_category    drop items with no main_category
--             clean.max_price             prices above this are corrupt (USD)
--
-- Rules: placeholder strings become NULL; exact duplicate rows are dropped; items with no
-- parent_asin, a NULL main_category (as the reference's SQL NULL logic did) or an
-- excluded one are dropped; price = parse_price(price_raw) if in (0, max_price].
WITH normalized AS (
    SELECT
        null_if_placeholder(parent_asin, {{missing_values}}) AS parent_asin,
        null_if_placeholder(title, {{missing_values}}) AS title,
        null_if_placeholder(main_category, {{missing_values}}) AS main_category,
        null_if_placeholder(store, {{missing_values}}) AS store,
        categories,
        null_if_placeholder(price_raw, {{missing_values}}) AS price_raw
    FROM lake_items
),
distinct_rows AS (
    SELECT DISTINCT * FROM normalized
),
parsed AS (
    SELECT *, parse_price(price_raw) AS price_parsed FROM distinct_rows
)
SELECT
    parent_asin,
    title,
    main_category,
    store,
    categories,
    price_raw,
    CASE WHEN price_parsed > 0 AND price_parsed <= {{max_price}} THEN price_parsed END AS price,
    CASE
        WHEN price_raw IS NULL THEN 'missing'
        WHEN price_parsed IS NULL THEN 'unparseable'
        WHEN price_parsed <= 0 OR price_parsed > {{max_price}} THEN 'out of range'
        ELSE 'ok'
    END AS price_status,
    CASE
        WHEN parent_asin IS NULL THEN 'missing parent_asin'
        WHEN main_category IS NULL AND {{drop_null_category}} THEN 'missing main_category'
        WHEN main_category IN ({{excluded_categories}}) THEN 'excluded main_category'
    END AS drop_reason
FROM parsed

-- clean_items: every distinct lake item, with its parsed price and why it is dropped.
--
-- Produces one row per distinct item; `drop_reason` is NULL for the items kept. `price` is
-- the parsed price, NULL when missing, unparseable or out of range; `price_status` says
-- which, for the data-quality table (a bad price is counted, never a reason to drop).
--
-- Input:      lake_items (lake/items/*.parquet)
-- Parameters: normalized_items            rule 1: the query of sql/clean_items_normalized.sql
--                                         (with its clean.missing_values), or a SELECT of a
--                                         table of those rows already made distinct
--             distinct                    DISTINCT, or ALL where `normalized_items` is distinct
--             clean.excluded_categories   main categories that are not electronics
--             clean.drop_null_category    drop items with no main_category
--             clean.max_price             prices above this are corrupt (USD)
--
-- Rules: placeholder strings become NULL; exact duplicate rows are dropped; items with no
-- parent_asin, a NULL main_category (as the reference's SQL NULL logic did) or an
-- excluded one are dropped; price = parse_price(price_raw) if in (0, max_price].
WITH normalized AS (
    -- Rule 1: sql/clean_items_normalized.sql, or (embedded) its rows already distinct.
    {{normalized_items}}
),
distinct_rows AS (
    -- Rule 2: DISTINCT, or ALL where `normalized_items` is already distinct.
    SELECT {{distinct}} * FROM normalized
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

-- clean_transactions: every distinct line of a shop's transactions, flagged with why it
-- is dropped (DESIGN.md §3b).
--
-- Produces one row per distinct line; `drop_reason` is NULL for the rows kept, else the
-- first rule that removes it. The caller keeps the NULL rows as `clean_transactions` and
-- counts the rest by reason for the data-quality table.
--
-- Input:      lake_transactions (lake/transactions/*.parquet, written by
--             `rfmseg ingest --transactions`)
-- Parameters: clean.missing_values   placeholder strings that mean NULL (lower-cased here;
--                                    null_if_placeholder matches them trimmed, any case)
--
-- Rules:
--   1. placeholder strings become NULL in the id columns;
--   2. exact duplicate lines are dropped (an export that repeats a line);
--   3. a line of a cancelled order (source.cancelled_orders, flagged at ingest) is a
--      return: its amount is made negative; a negative amount is a return too. Returns are
--      netted into monetary and never count as purchases (sql/rfm.sql);
--   4. lines without a customer id, a time or an amount are dropped.
WITH normalized AS (
    SELECT
        null_if_placeholder(customer_id, {{missing_values}}) AS customer_id,
        ts,
        amount,
        quantity,
        null_if_placeholder(order_id, {{missing_values}}) AS order_id,
        null_if_placeholder(item_id, {{missing_values}}) AS item_id,
        null_if_placeholder(category, {{missing_values}}) AS category,
        null_if_placeholder(store, {{missing_values}}) AS store,
        cancelled
    FROM lake_transactions
),
distinct_rows AS (
    SELECT DISTINCT * FROM normalized
)
SELECT
    customer_id,
    ts,
    CASE WHEN cancelled THEN -abs(amount) ELSE amount END AS amount,
    order_id,
    item_id,
    category,
    store,
    coalesce(cancelled AND amount > 0, false) AS cancelled_fixed,
    coalesce(amount < 0 OR cancelled, false) AS is_return,
    CASE
        WHEN customer_id IS NULL THEN 'missing customer id'
        WHEN ts IS NULL THEN 'missing time'
        WHEN amount IS NULL THEN 'missing amount'
    END AS drop_reason
FROM distinct_rows

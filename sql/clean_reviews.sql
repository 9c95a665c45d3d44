-- clean_reviews: every distinct lake review, flagged with why it is dropped.
--
-- Produces one row per distinct review; `drop_reason` is NULL for the rows kept, else the
-- first rule that removes it. The caller keeps the NULL rows as `clean_reviews` and counts
-- the rest by reason for the data-quality table.
--
-- Input:      lake_reviews (lake/reviews/*.parquet)
-- Parameters: normalized             rule 1: the query of sql/clean_reviews_normalized.sql
--                                    (with its clean.missing_values and `reviews`), or a
--                                    SELECT of a table of those rows already made distinct
--             distinct               DISTINCT, or ALL where `normalized` is distinct
--             clean.verified_only    keep only verified purchases
--             clean.history_days     keep reviews at most this many days before the newest
--             oldest_kept_ts         NULL, or for a range of buckets the cutoff of rule 6
--                                    over the whole lake (sql/clean_reviews_cutoff.sql)
--
-- Rules, in the reference analysis's order:
--   1. placeholder strings ('None', 'n/a', 'null', '', any case, trimmed) become NULL;
--   2. exact duplicate rows are dropped;
--   3. a rating of 0 becomes 1, a negative helpful_vote becomes 0;
--   4. rows with no user_id, no parent_asin, no timestamp or a rating outside 1..5 go;
--   5. only verified purchases;
--   6. only the last `history_days` days before the newest remaining review.
WITH normalized AS (
    -- Rule 1: sql/clean_reviews_normalized.sql, or (embedded) its rows already distinct.
    {{normalized}}
),
distinct_rows AS (
    -- Rule 2: DISTINCT, or ALL where `normalized` is already distinct.
    SELECT {{distinct}} * FROM normalized
),
fixed AS (
    SELECT
        user_id,
        parent_asin,
        asin,
        CASE WHEN rating = 0 THEN 1.0 ELSE rating END AS rating,
        ts,
        verified_purchase,
        CASE WHEN helpful_vote < 0 THEN 0 ELSE helpful_vote END AS helpful_vote,
        coalesce(rating = 0, false) AS rating_fixed,
        coalesce(helpful_vote < 0, false) AS helpful_vote_fixed,
        CASE
            WHEN user_id IS NULL THEN 'missing user_id'
            WHEN parent_asin IS NULL THEN 'missing parent_asin'
            WHEN ts IS NULL THEN 'missing timestamp'
            WHEN rating IS NULL THEN 'missing rating'
            WHEN (CASE WHEN rating = 0 THEN 1.0 ELSE rating END) NOT BETWEEN 1 AND 5
                THEN 'rating outside 1..5'
        END AS invalid_reason
    FROM distinct_rows
),
newest AS (
    -- The newest valid review, and the oldest time kept: `history_days` before it. Read from
    -- `normalized`, not `fixed`: duplicates cannot change a maximum, and a CTE read twice is
    -- planned twice, so reading `fixed` here would run the DISTINCT above a second time (it
    -- doubled the cost of this stage). The interval is subtracted here, once: written in
    -- the CASE below it was computed for every row (0.9 s of compute per 10M reviews).
    -- A range of buckets is given the whole lake's cutoff: its own newest review may be
    -- older.
    SELECT coalesce({{oldest_kept_ts}}, max(ts) - INTERVAL '{{history_days}} days') AS oldest_kept_ts
    FROM normalized
    WHERE user_id IS NOT NULL
      AND parent_asin IS NOT NULL
      AND (CASE WHEN rating = 0 THEN 1.0 ELSE rating END) BETWEEN 1 AND 5
)
SELECT
    user_id,
    parent_asin,
    asin,
    rating,
    ts,
    verified_purchase,
    helpful_vote,
    rating_fixed,
    helpful_vote_fixed,
    CASE
        WHEN invalid_reason IS NOT NULL THEN invalid_reason
        WHEN {{verified_only}} AND verified_purchase IS NOT TRUE THEN 'not a verified purchase'
        WHEN ts < oldest_kept_ts THEN 'older than clean.history_days'
    END AS drop_reason
FROM fixed CROSS JOIN newest

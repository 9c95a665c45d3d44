-- clean_reviews_normalized: rule 1 of sql/clean_reviews.sql, the lake's reviews with their
-- placeholder strings made NULL; the `normalized` rows whose exact duplicates rule 2 drops.
--
-- An embedded run makes these rows distinct itself (crates/rfmseg/src/exec/distinct.rs)
-- and hands sql/clean_reviews.sql the result; otherwise that file runs this query inside
-- it and keeps its own DISTINCT.
--
-- Input:      lake_reviews (lake/reviews/*.parquet)
-- Parameters: clean.missing_values   placeholder strings that mean NULL (lower-cased here;
--                                    null_if_placeholder matches them trimmed, any case)
--             reviews                which lake rows: TRUE, or a range of customer buckets
--                                    (`user_bucket BETWEEN lo AND hi`, see
--                                    crates/rfmseg/src/ingest/buckets.rs): a large lake is
--                                    cleaned a group of customers at a time, since exact
--                                    duplicates share their user_id
SELECT
    null_if_placeholder(user_id, {{missing_values}}) AS user_id,
    null_if_placeholder(parent_asin, {{missing_values}}) AS parent_asin,
    null_if_placeholder(asin, {{missing_values}}) AS asin,
    rating,
    ts,
    verified_purchase,
    helpful_vote
FROM lake_reviews
WHERE {{reviews}}

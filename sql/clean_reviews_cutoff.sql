-- clean_reviews_cutoff: the oldest review time the cleaning keeps (rule 6 of
-- sql/clean_reviews.sql), over the whole lake: `history_days` before the newest valid
-- review. Run first when the cleaning goes a range of customer buckets at a time, so that
-- every range drops by the same cutoff. The validity test is rule 1 and rule 4 of
-- sql/clean_reviews.sql (its `newest` CTE), read here from the lake directly; the test
-- that cleans in ranges and in one pass checks that the two agree.
--
-- Input:      lake_reviews
-- Parameters: clean.missing_values, clean.history_days, as in sql/clean_reviews.sql
SELECT max(ts) - INTERVAL '{{history_days}} days' AS oldest_kept_ts
FROM lake_reviews
WHERE null_if_placeholder(user_id, {{missing_values}}) IS NOT NULL
  AND null_if_placeholder(parent_asin, {{missing_values}}) IS NOT NULL
  AND (CASE WHEN rating = 0 THEN 1.0 ELSE rating END) BETWEEN 1 AND 5

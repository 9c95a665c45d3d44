-- clv_triples: the distinct BG/NBD summaries (x, t_x, t_cal) and how many customers have
-- each, so that a likelihood evaluation (sql/clv_loglik.sql) reads one row per summary
-- instead of one per customer (many customers share x = 0, t_x = 0 and a first day).
--
-- Input:      clv_summary (sql/clv_summary.sql)
-- Parameters: none
SELECT
    x,
    t_x,
    t_cal,
    CAST(count(*) AS DOUBLE) AS n
FROM clv_summary
GROUP BY x, t_x, t_cal

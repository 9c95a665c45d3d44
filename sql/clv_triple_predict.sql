-- clv_triple_predict: the BG/NBD predictions of each distinct customer summary
-- (x, t_x, t_cal), computed once each: sql/clv_predict.sql joins them back to the
-- customers. A query of its own because DataFusion 55 pushes each field read of a UDF's
-- struct (`v['p_alive']`, ...) down into the scan as a separate call of the UDF, so
-- reading three fields in the same query evaluated the costly series three times.
--
-- Input:      clv_triples (sql/clv_triples.sql)
-- Parameters: model   the clv_predict literal 'r,alpha,a,b,p,q,gamma,horizon,periods,
--                     discount' (udfs/src/clv_predict.rs), horizon in the time unit
--
-- Output: x, t_x, t_cal, and v, the struct of clv_predict (p_alive, expected_purchases,
-- discounted_purchases, ...).
SELECT
    x,
    t_x,
    t_cal,
    clv_predict({{model}}, x, t_x, t_cal, 0.0) AS v
FROM clv_triples

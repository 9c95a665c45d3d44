-- scale_moments: count, sum and sum of squares of each model input, summed exactly.
--
-- Produces one row. The driver turns it into the scaler's means and sample standard
-- deviations (as Spark's StandardScaler withMean/withStd). Each value is rounded once to
-- DECIMAL(38,15) and the sums are exact, so the scaler does not depend on partitioning:
-- embedded and distributed runs scale every customer to the same bits.
--
-- Input:      rfm
-- Model inputs: recency, ln(1 + frequency), ln(1 + monetary) (the reference does not log
-- recency).
SELECT
    count(*) AS n,
    sum(CAST(CAST(recency AS DOUBLE) AS DECIMAL(38, 15))) AS sum_r,
    sum(CAST(CAST(recency AS DOUBLE) * CAST(recency AS DOUBLE) AS DECIMAL(38, 15))) AS sumsq_r,
    sum(CAST(ln(1 + CAST(frequency AS DOUBLE)) AS DECIMAL(38, 15))) AS sum_f,
    sum(CAST(ln(1 + CAST(frequency AS DOUBLE)) * ln(1 + CAST(frequency AS DOUBLE)) AS DECIMAL(38, 15))) AS sumsq_f,
    sum(CAST(ln(1 + monetary) AS DECIMAL(38, 15))) AS sum_m,
    sum(CAST(ln(1 + monetary) * ln(1 + monetary) AS DECIMAL(38, 15))) AS sumsq_m
FROM rfm

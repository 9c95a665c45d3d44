-- cluster_labels: the name of each cluster, by its index. A VALUES list rather than an
-- in-memory table, so on a cluster it travels inside the plan to the executors.
--
-- Input:      none
-- Parameters: rows   `(index, 'label'), ...`, one per cluster
SELECT CAST(column1 AS INT) AS cluster, CAST(column2 AS VARCHAR) AS cluster_label
FROM (VALUES {{rows}})

-- label_customers: the final customer table, each customer with its cluster's label.
--
-- Input: clustered (customers with `cluster`, from kmeans_assign.sql), cluster_labels
-- (cluster, cluster_label: one row per cluster, named from the centroids by the driver).
SELECT c.*, l.cluster_label
FROM clustered c
JOIN cluster_labels l ON c.cluster = l.cluster

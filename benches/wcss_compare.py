#!/usr/bin/env python3
"""WCSS per k: rfmseg's sweep against scikit-learn's KMeans and Spark MLlib's KMeans on the
same scaled features (issue 18, "the best clustering at every k"). Not part of CI.

Usage:
    python3 -m venv /tmp/wcss-venv
    /tmp/wcss-venv/bin/pip install scikit-learn pyspark==3.5.3 pyarrow   # Spark needs Java 17
    rfmseg features --lake LAKE --out FEATURES          # customers.parquet with the *_z inputs
    rfmseg run --lake LAKE --out RUN                    # RUN/k_selection.csv
    /tmp/wcss-venv/bin/python benches/wcss_compare.py FEATURES/customers.parquet RUN/k_selection.csv [OTHER/k_selection.csv ...]

scikit-learn: KMeans(n_clusters=k, n_init=10, random_state=42), its best of ten k-means++
starts. MLlib: KMeans(k, seed=42) with its defaults (k-means||, 2 init steps, maxIter 20,
tol 1e-4), on a local[2] session. Both get exactly the rows rfmseg clustered. Prints a
Markdown table: the WCSS of each, and each rfmseg sweep's distance from the better of the
two (more than one sweep: runs of the same features with other settings, named by folder).
"""
import csv
import os
import sys
import time

import numpy as np
import pyarrow.parquet as pq

FEATURES = ["recency_z", "frequency_z", "monetary_z"]


def load(path: str) -> np.ndarray:
    table = pq.read_table(path, columns=FEATURES)
    return np.column_stack([table.column(c).to_numpy() for c in FEATURES]).astype(np.float64)


def rfmseg_sweep(path: str) -> dict[int, float]:
    with open(path, newline="") as f:
        return {int(r["k"]): float(r["wcss"]) for r in csv.DictReader(f)}


def sklearn_wcss(x: np.ndarray, ks: list[int]) -> dict[int, float]:
    from sklearn.cluster import KMeans

    out = {}
    for k in ks:
        t = time.time()
        out[k] = float(KMeans(n_clusters=k, n_init=10, random_state=42).fit(x).inertia_)
        print(f"scikit-learn k={k}: {out[k]:.6g} ({time.time() - t:.1f} s)", file=sys.stderr)
    return out


def mllib_wcss(path: str, ks: list[int]) -> dict[int, float]:
    from pyspark.ml.clustering import KMeans
    from pyspark.ml.feature import VectorAssembler
    from pyspark.sql import SparkSession

    # Loopback only: Spark would otherwise bind to the host's first non-loopback address.
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.memory", "6g")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    df = VectorAssembler(inputCols=FEATURES, outputCol="features").transform(
        spark.read.parquet(path).select(*FEATURES)
    ).cache()
    out = {}
    for k in ks:
        t = time.time()
        model = KMeans(k=k, seed=42, featuresCol="features").fit(df)
        out[k] = float(model.summary.trainingCost)
        print(f"MLlib k={k}: {out[k]:.6g} ({time.time() - t:.1f} s)", file=sys.stderr)
    spark.stop()
    return out


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    features, selections = sys.argv[1], sys.argv[2:]
    sweeps = [(os.path.basename(os.path.dirname(os.path.abspath(p))), rfmseg_sweep(p)) for p in selections]
    ks = sorted(sweeps[0][1])
    x = load(features)
    print(f"{len(x)} customers, k = {ks[0]}..{ks[-1]}", file=sys.stderr)
    sk = sklearn_wcss(x, ks)
    ml = mllib_wcss(features, ks)
    names = " | ".join(f"rfmseg {name} | vs the better" for name, _ in sweeps)
    print(f"| k | scikit-learn (n_init=10) | MLlib (seed 42) | {names} |")
    print("|---|---|---|" + "---|---|" * len(sweeps))
    for k in ks:
        best = min(sk[k], ml[k])
        cells = " | ".join(
            f"{ours[k]:.6g} | {(ours[k] / best - 1) * 100:+.3f}%" for _, ours in sweeps
        )
        print(f"| {k} | {sk[k]:.6g} | {ml[k]:.6g} | {cells} |")


if __name__ == "__main__":
    main()

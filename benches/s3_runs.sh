#!/usr/bin/env bash
# `rfmseg run` with the lake on local disk and on a local S3 server (s3s-fs on 127.0.0.1,
# deploy/local-s3.sh), embedded and on a local cluster of 2 executors, RUNS times each.
# Outputs go where the lake is (a local folder, or s3://), and on the cluster the work
# tables go to the same store (--work-dir). Also times `ingest` to S3 against a local
# ingest. Checks that every run's customers.parquet and model.json equal the local
# embedded run's, byte for byte. The figures in RESULTS.md come from it.
#   benches/s3_runs.sh target/release/rfmseg RAW_DIR RUNS
# RAW_DIR holds Electronics.jsonl and meta_Electronics.jsonl (`rfmseg generate`).
set -u
cores=$(nproc)
here=$(cd "$(dirname "$0")/.." && pwd)
C=$here/deploy/local-cluster.sh; S=$here/deploy/local-s3.sh
B=$(realpath "$1"); RAW=$(realpath "$2"); RUNS=$3
W=${TMPDIR:-/tmp}/rfmseg-s3-runs; rm -rf $W; mkdir -p $W; cd $W
eval "$($S start --dir $W/s3 --bucket bench)"
trap '$C stop --dir $W/cl >/dev/null 2>&1; $S stop --dir $W/s3 >/dev/null' EXIT
secs() { local s=$(date +%s.%N); "$@" > /dev/null 2> err || { echo "FAIL: $*"; tail -3 err; }; echo "$(date +%s.%N) - $s" | bc; }
gen() { python3 -c "import json;print(json.load(open('$1'))['generation'])"; }
echo "ingest local $(secs $B ingest --reviews $RAW/Electronics.jsonl --items $RAW/meta_Electronics.jsonl --out lake)"
echo "ingest s3 $(secs $B ingest --reviews $RAW/Electronics.jsonl --items $RAW/meta_Electronics.jsonl --out s3://bench/lake)"
one() { # label lake out [cluster flags...]
  local label=$1 lake=$2 out=$3; shift 3
  for r in $(seq $RUNS); do
    echo "$label run$r wall=$(secs $B run --lake $lake --out $out "$@")"
  done
}
fetched() { # out -> local folder holding its files
  case $1 in s3://*) local k=${1#s3://bench/}; echo $W/s3/data/bench/$k/$(gen $W/s3/data/bench/$k/.rfmseg-output.json) ;; *) echo $1 ;; esac
}
same() { cmp -s out-local/customers.parquet $(fetched $1)/customers.parquet && cmp -s out-local/model.json $(fetched $1)/model.json && echo "$1 IDENTICAL" || echo "$1 DIFFERS"; }
one local-embedded lake out-local
one s3-embedded s3://bench/lake s3://bench/out-embedded
$C start --executors 2 --concurrent-tasks $(( cores / 2 > 0 ? cores / 2 : 1 )) --port 50093 --dir $W/cl --bin $B >/dev/null
one local-cluster2 $W/lake $W/out-cluster --cluster df://127.0.0.1:50093
one s3-cluster2 s3://bench/lake s3://bench/out-cluster --cluster df://127.0.0.1:50093 --work-dir s3://bench/work
$C stop --dir $W/cl >/dev/null
same out-cluster; same s3://bench/out-embedded; same s3://bench/out-cluster
du -sh $W/s3/data/bench/lake

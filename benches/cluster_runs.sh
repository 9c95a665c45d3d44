#!/usr/bin/env bash
# `rfmseg run` on one lake embedded, then on local Ballista clusters of 1 executor (all
# cores as task slots) and 2 executors (half each), RUNS times each, with the jobs and the
# executors' summed task seconds from their logs (where the time goes), the client's
# stage times and peak memory from report.json, and the cluster processes' peak memory.
# Checks that the outputs are identical. The figures in RESULTS.md come from it.
#   benches/cluster_runs.sh target/release/rfmseg target/bench-data/lake-1000000 3 [run flags]
set -u
cores=$(nproc)
D=$(cd "$(dirname "$0")/.." && pwd)/deploy/local-cluster.sh
B=$(realpath "$1"); LAKE=$(realpath "$2"); RUNS=$3; shift 3; EXTRA="$*"
W=${TMPDIR:-/tmp}/rfmseg-cluster-runs; rm -rf $W; mkdir -p $W; cd $W
strip() { sed 's/\x1b\[[0-9;]*m//g'; }
one() { # label url
  local label=$1 url=$2
  for r in $(seq $RUNS); do
    local s=$(date +%s.%N)
    if [ -n "$url" ]; then $B run --lake $LAKE --out out-$label --cluster $url $EXTRA > /dev/null 2> err-$label || { echo FAIL; cat err-$label | tail -3; }
    else $B run --lake $LAKE --out out-$label $EXTRA > /dev/null 2> err-$label || echo FAIL; fi
    local e=$(date +%s.%N)
    local wall=$(echo "$e - $s" | bc)
    local extra=""
    if [ -n "$url" ]; then
      local jobs=$(cat cl/logs/executor-*.log | strip | grep "Finished task" | sed -E 's/.*TID ([^/]+)\/.*/\1/' | sort -u | wc -l)
      local tasksum=$(cat cl/logs/executor-*.log | strip | grep "Finished task" | sed -E 's/.* in ([0-9.]+)(ms|s|µs)$/\1 \2/' | awk '{ if ($2=="ms") t+=$1/1000; else if ($2=="s") t+=$1; else t+=$1/1e6 } END {printf "%.2f", t}')
      extra="jobs_so_far=$jobs task_seconds_so_far=$tasksum"
    fi
    local peak=$(python3 -c "import json;r=json.load(open('out-$label/report.json'));print(max(t['peak_rss_mib'] for t in r['timings']), ' '.join('%s=%.2f'%(t['stage'],t['seconds']) for t in r['timings']))")
    echo "$label run$r wall=$wall $extra client_peak_mib/stages=$peak"
  done
}
one embedded ""
$D start --executors 1 --concurrent-tasks "$cores" --port 50091 --dir $W/cl --bin $B >/dev/null
one cluster1 df://127.0.0.1:50091
$D stop --dir $W/cl >/dev/null; rm -rf $W/cl
$D start --executors 2 --concurrent-tasks $(( cores / 2 > 0 ? cores / 2 : 1 )) --port 50092 --dir $W/cl --bin $B >/dev/null
one cluster2 df://127.0.0.1:50092
grep -h "VmHWM" /proc/$(cat $W/cl/pids/executor-1.pid)/status /proc/$(cat $W/cl/pids/executor-2.pid)/status /proc/$(cat $W/cl/pids/scheduler.pid)/status
$D stop --dir $W/cl >/dev/null
cmp out-embedded/customers.parquet out-cluster2/customers.parquet && diff -q out-embedded/model.json out-cluster2/model.json && echo IDENTICAL-2
cmp out-embedded/customers.parquet out-cluster1/customers.parquet && diff -q out-embedded/model.json out-cluster1/model.json && echo IDENTICAL-1

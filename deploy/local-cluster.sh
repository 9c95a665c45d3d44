#!/usr/bin/env bash
# A Ballista cluster of local processes on 127.0.0.1: one `rfmseg scheduler` and N
# `rfmseg executor`s, for trying --cluster on one machine and for the tests.
#
#   deploy/local-cluster.sh start  [--executors N] [--port P] [--dir DIR] [--bin PATH]
#                                  [--concurrent-tasks C] [--executor-timeout SECONDS]
#   deploy/local-cluster.sh status [--dir DIR]
#   deploy/local-cluster.sh stop   [--dir DIR]
#
# start waits until the scheduler listens and every executor has registered, then prints
# the cluster URL (df://127.0.0.1:P). PIDs go to DIR/pids/, logs to DIR/logs/. stop sends
# SIGTERM to each PID (SIGKILL after 10 s) and removes the PID files. Only loopback
# addresses are used.
set -euo pipefail

cmd=${1:-}
shift || true
executors=2
port=50050
dir=${RFMSEG_CLUSTER_DIR:-.rfmseg-cluster}
bin=${RFMSEG_BIN:-}
tasks=0
timeout=30
while [ $# -gt 0 ]; do
    case "$1" in
        --executors) executors=$2; shift 2 ;;
        --port) port=$2; shift 2 ;;
        --dir) dir=$2; shift 2 ;;
        --bin) bin=$2; shift 2 ;;
        --concurrent-tasks) tasks=$2; shift 2 ;;
        --executor-timeout) timeout=$2; shift 2 ;;
        *) echo "local-cluster.sh: unknown argument $1 (see the top of this script)" >&2; exit 2 ;;
    esac
done
if [ -z "$bin" ]; then
    here=$(cd "$(dirname "$0")/.." && pwd)
    for candidate in "$here/target/release/rfmseg" "$here/target/debug/rfmseg" "$(command -v rfmseg || true)"; do
        if [ -n "$candidate" ] && [ -x "$candidate" ]; then bin=$candidate; break; fi
    done
fi

pids="$dir/pids"
logs="$dir/logs"

alive() { kill -0 "$1" 2>/dev/null; }

stop() {
    [ -d "$pids" ] || { echo "no cluster in $dir"; return 0; }
    for f in "$pids"/*.pid; do
        [ -e "$f" ] || continue
        pid=$(cat "$f")
        if alive "$pid"; then kill -TERM "$pid" 2>/dev/null || true; fi
    done
    for f in "$pids"/*.pid; do
        [ -e "$f" ] || continue
        pid=$(cat "$f")
        for _ in $(seq 100); do alive "$pid" || break; sleep 0.1; done
        if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
        rm -f "$f"
    done
    echo "stopped the cluster in $dir"
}

status() {
    [ -d "$pids" ] || { echo "no cluster in $dir"; return 1; }
    ok=0
    for f in "$pids"/*.pid; do
        [ -e "$f" ] || continue
        pid=$(cat "$f")
        if alive "$pid"; then echo "$(basename "$f" .pid) pid $pid running"; else echo "$(basename "$f" .pid) pid $pid gone"; ok=1; fi
    done
    return $ok
}

fail_start() {
    echo "local-cluster.sh: $1" >&2
    for f in "$logs"/*.log; do [ -e "$f" ] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }; done
    stop >&2
    exit 1
}

start() {
    [ -n "$bin" ] && [ -x "$bin" ] || { echo "local-cluster.sh: no rfmseg binary; build it (cargo build --release) or pass --bin PATH" >&2; exit 2; }
    bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
    if [ -d "$pids" ] && ls "$pids"/*.pid >/dev/null 2>&1; then
        echo "local-cluster.sh: a cluster is already recorded in $dir; stop it first" >&2; exit 2
    fi
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    pids="$dir/pids"
    logs="$dir/logs"
    mkdir -p "$pids" "$logs"
    # The processes run in $dir, so nothing they write by a relative path lands elsewhere.
    cd "$dir"
    # Heartbeats well inside the timeout, so only a dead executor is declared lost.
    heartbeat=$(( timeout / 5 > 0 ? timeout / 5 : 1 ))
    export RFMSEG_LOG=${RFMSEG_LOG:-info}
    "$bin" scheduler --bind "127.0.0.1:$port" --executor-timeout "$timeout" >"$logs/scheduler.log" 2>&1 &
    echo $! >"$pids/scheduler.pid"
    for _ in $(seq 300); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        alive "$(cat "$pids/scheduler.pid")" || fail_start "the scheduler exited"
        sleep 0.1
    done
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || fail_start "the scheduler does not listen on 127.0.0.1:$port"
    for i in $(seq "$executors"); do
        mkdir -p "$dir/executor-$i"
        "$bin" executor --scheduler "127.0.0.1:$port" --bind-host 127.0.0.1 \
            --concurrent-tasks "$tasks" --work-dir "$dir/executor-$i" --heartbeat "$heartbeat" \
            >"$logs/executor-$i.log" 2>&1 &
        echo $! >"$pids/executor-$i.pid"
    done
    for i in $(seq "$executors"); do
        for _ in $(seq 300); do
            grep -q "registration succeed" "$logs/executor-$i.log" 2>/dev/null && break
            alive "$(cat "$pids/executor-$i.pid")" || fail_start "executor $i exited"
            sleep 0.1
        done
        grep -q "registration succeed" "$logs/executor-$i.log" || fail_start "executor $i did not register within 30 s"
    done
    echo "df://127.0.0.1:$port"
}

case "$cmd" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: local-cluster.sh start|status|stop [--executors N] [--port P] [--dir DIR] [--bin PATH]" >&2; exit 2 ;;
esac

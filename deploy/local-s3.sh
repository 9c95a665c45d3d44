#!/usr/bin/env bash
# A local S3-compatible server on 127.0.0.1 for trying s3:// paths on one machine and for
# the tests: s3s-fs (crates.io), which keeps each bucket as a folder, checks AWS
# signatures (so wrong keys are refused as AWS would) and supports multipart uploads.
#
#   deploy/local-s3.sh install                 install s3s-fs 0.14.1 if missing; print its path
#   deploy/local-s3.sh start --dir DIR [--port P] [--bucket NAME]...
#   deploy/local-s3.sh stop  --dir DIR
#
# start creates the buckets (folders under DIR/data), starts the server, waits until it
# listens and prints lines to `eval`: the AWS_* settings that point rfmseg at it. The
# keys are test keys (override with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY). The PID
# goes to DIR/s3.pid, the log to DIR/s3.log; stop sends SIGTERM to that PID.
set -euo pipefail

version=0.14.1
tools=${RFMSEG_TOOLS:-$HOME/.cache/rfmseg/tools}
cmd=${1:-}
shift || true
dir=
port=
buckets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --dir) dir=$2; shift 2 ;;
        --port) port=$2; shift 2 ;;
        --bucket) buckets+=("$2"); shift 2 ;;
        *) echo "local-s3.sh: unknown argument $1 (see the top of this script)" >&2; exit 2 ;;
    esac
done

server() {
    if command -v s3s-fs >/dev/null 2>&1; then command -v s3s-fs; return; fi
    echo "$tools/bin/s3s-fs"
}

install() {
    local bin
    bin=$(server)
    if [ ! -x "$bin" ]; then
        # s3s-fs 0.15+ needs a newer rustc than this toolchain; 0.14.1 builds with 1.92+.
        cargo install "s3s-fs@$version" --locked --features binary --root "$tools" >&2
        bin="$tools/bin/s3s-fs"
    fi
    echo "$bin"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
    [ -n "$dir" ] || { echo "local-s3.sh: start needs --dir" >&2; exit 2; }
    local bin key secret
    bin=$(server)
    [ -x "$bin" ] || { echo "local-s3.sh: no s3s-fs; run deploy/local-s3.sh install" >&2; exit 2; }
    mkdir -p "$dir/data"
    dir=$(cd "$dir" && pwd)
    for b in "${buckets[@]}"; do mkdir -p "$dir/data/$b"; done
    port=${port:-$(free_port)}
    key=${AWS_ACCESS_KEY_ID:-rfmseg-test}
    secret=${AWS_SECRET_ACCESS_KEY:-rfmseg-test-secret}
    "$bin" --host 127.0.0.1 --port "$port" --access-key "$key" --secret-key "$secret" \
        "$dir/data" >"$dir/s3.log" 2>&1 &
    echo $! >"$dir/s3.pid"
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        kill -0 "$(cat "$dir/s3.pid")" 2>/dev/null || { cat "$dir/s3.log" >&2; echo "local-s3.sh: s3s-fs exited" >&2; exit 1; }
        sleep 0.1
    done
    echo "export AWS_ENDPOINT=http://127.0.0.1:$port"
    echo "export AWS_ALLOW_HTTP=true"
    echo "export AWS_REGION=us-east-1"
    echo "export AWS_ACCESS_KEY_ID=$key"
    echo "export AWS_SECRET_ACCESS_KEY=$secret"
}

stop() {
    [ -n "$dir" ] && [ -f "$dir/s3.pid" ] || { echo "no server in ${dir:-?}"; return 0; }
    local pid
    pid=$(cat "$dir/s3.pid")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$dir/s3.pid"
    echo "stopped the S3 server in $dir"
}

case "$cmd" in
    install) install ;;
    start) start ;;
    stop) stop ;;
    *) echo "usage: local-s3.sh install|start|stop --dir DIR [--port P] [--bucket NAME]" >&2; exit 2 ;;
esac

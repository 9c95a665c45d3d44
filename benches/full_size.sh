#!/usr/bin/env bash
# Raw reviews -> report at one size, on this machine: `rfmseg generate`, `ingest`, then
# `run` without a memory limit and with each limit given, each step timed with its peak
# RSS (GNU time), each run's stages (seconds / peak MiB) from its report.json and the
# run's peak, the highest of its stages' (`run` resets the kernel's high-water mark at
# each stage, so GNU time's figure for it is its last stage's peak only), and every
# limited run's customers.parquet (byte for byte) and model.json (but for the limit its
# config records) compared with the unlimited run's. The raw JSONL is deleted once
# ingested (43.9M reviews are 24 GB); the lake is kept in DIR for reruns. The full-size
# figures in RESULTS.md come from it.
#   benches/full_size.sh target/release/rfmseg REVIEWS DIR [LIMIT ...]
#   benches/full_size.sh target/release/rfmseg 43886944 /data/full 1GB
set -u
B=$(realpath "$1"); N=$2; D=$3; shift 3
mkdir -p "$D"; cd "$D" || exit 1
echo "$(nproc) cores; $(df -h . | tail -1 | awk '{print $4}') free in $D"
# step LABEL CMD...: wall seconds and peak RSS (MiB) of one command.
step() {
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o time.txt "$@" > step.out 2> step.err ||
    { echo "$label FAILED"; tail -5 step.err; return 1; }
  read -r wall kb < time.txt
  echo "$label wall=${wall}s peak=$((kb / 1024))MiB"
}
stages() {
  python3 - "$1/report.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
print("  " + ", ".join(f"{t['stage']} {t['seconds']:.2f}s/{t['peak_rss_mib']:.0f}MiB"
                       for t in r["timings"]))
print(f"  run peak {max(t['peak_rss_mib'] for t in r['timings']):.0f}MiB (highest stage)")
EOF
}
# The models, equal but for the limit their config records.
same_model() {
  python3 - "$1" "$2" <<'EOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
for m in (a, b):
    m["config"]["engine"].pop("memory_limit", None)
print("  model.json " + ("identical but for engine.memory_limit" if a == b else "DIFFERS"))
EOF
}
if [ ! -d lake ]; then
  step generate "$B" generate --reviews "$N" --out raw --seed 42 || exit 1
  du -sh raw
  step ingest "$B" ingest --reviews raw/Electronics.jsonl --items raw/meta_Electronics.jsonl \
    --out lake || exit 1
  rm -rf raw
fi
rm -rf out-none; step "run (no limit)" "$B" run --lake lake --out out-none -q && stages out-none
grep -m1 -i "customers" step.out
for limit in "$@"; do
  rm -rf "out-$limit"
  step "run --memory-limit $limit" "$B" run --lake lake --out "out-$limit" --memory-limit "$limit" -q &&
    stages "out-$limit" &&
    { cmp -s out-none/customers.parquet "out-$limit/customers.parquet" &&
      echo "  customers.parquet identical" || echo "  customers.parquet DIFFERS"; } &&
    same_model out-none/model.json "out-$limit/model.json"
done

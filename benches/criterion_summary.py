#!/usr/bin/env python3
"""Per-iteration time of every criterion bench as median [min-max] over its samples.

Usage: python3 benches/criterion_summary.py [criterion folder]
       (default: $CARGO_TARGET_DIR/criterion, else target/criterion)

Criterion prints a confidence interval of the mean; RESULTS.md reports the median and the
range of the samples themselves, read here from each bench's new/sample.json.
"""
import json
import os
import statistics
import sys
from pathlib import Path


def fmt(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.3f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} us"


def main() -> None:
    if len(sys.argv) > 1:
        root = Path(sys.argv[1])
    else:
        root = Path(os.environ.get("CARGO_TARGET_DIR", "target")) / "criterion"
    for sample in sorted(root.glob("**/new/sample.json")):
        bench = json.loads((sample.parent / "benchmark.json").read_text())
        data = json.loads(sample.read_text())
        per_iter = [t / n / 1e9 for t, n in zip(data["times"], data["iters"])]
        print(
            f"{bench['full_id']}: {fmt(statistics.median(per_iter))} "
            f"[{fmt(min(per_iter))}-{fmt(max(per_iter))}], {len(per_iter)} samples"
        )


if __name__ == "__main__":
    main()

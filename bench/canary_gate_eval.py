"""Time one canary_gate evaluation of 10 latency metrics x 100,000 samples per group, against
scipy.stats.mannwhitneyu called alone on the same data (the reference, measured in this run).

The evaluation is the gate's whole judging work per metric: the rank test against the scaled
baseline, the Hodges-Lehmann shift and its interval, and the p95/p99 tail tests. Reading the
samples (JSON, Prometheus) is left out of both sides. Target: at most 2x the reference.

usage: python bench/canary_gate_eval.py [--samples 100000] [--metrics 10] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import scipy.stats

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "collections"))
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_evaluate import evaluate
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_metrics import parse_metric
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_sources import FileSource

TARGET_RATIO = 2.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--metrics", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    rng = np.random.default_rng(2026)
    data = {}
    for i in range(args.metrics):
        data[(f"m{i}", "baseline")] = rng.lognormal(np.log(0.010), 0.25, args.samples)
        data[(f"m{i}", "canary")] = rng.lognormal(np.log(0.0102), 0.25, args.samples)
    source = FileSource({key: list(value) for key, value in data.items()}, "benchmark")
    metrics = [parse_metric({"name": f"m{i}", "source": "file", "kind": "latency"}, {}) for i in range(args.metrics)]

    def gate() -> None:
        evaluate(metrics, {"file": source}, 0, 0.1)

    def reference() -> None:
        for i in range(args.metrics):
            scipy.stats.mannwhitneyu(data[(f"m{i}", "canary")], data[(f"m{i}", "baseline")], alternative="greater")

    gate(), reference()  # warm caches and imports on both sides
    gate_times, reference_times = [], []
    for _ in range(args.repeat):  # interleaved, so machine noise hits both alike
        started = time.perf_counter()
        gate()
        gate_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        reference()
        reference_times.append(time.perf_counter() - started)
    gate_s, reference_s = statistics.median(gate_times), statistics.median(reference_times)
    ratio = gate_s / reference_s
    print(
        f"canary_gate evaluation: {args.metrics} metrics x {args.samples:,} samples per group, median of {args.repeat}"
    )
    print(f"  gate evaluation               {gate_s * 1000:8.1f} ms")
    print(f"  scipy mannwhitneyu alone      {reference_s * 1000:8.1f} ms  (reference)")
    print(
        f"  ratio gate / reference        {ratio:8.2f} x   target <= {TARGET_RATIO:.1f} x: "
        f"{'met' if ratio <= TARGET_RATIO else 'NOT met'}"
    )


if __name__ == "__main__":
    main()

"""Time one canary_gate evaluation of 10 latency metrics x 100,000 samples per group, against
scipy.stats.mannwhitneyu called alone on the same data (the reference, measured in this run).

The evaluation is the gate's whole judging work per metric: binning the window onto the grid,
adding it to the evidence, placing the thresholds and computing the e-value. It is timed twice:
as a rollout's first judged window (no evidence yet) and as a later one, with the evidence of 20
earlier windows of the same size carried in. Reading the samples (JSON, Prometheus) is left out
of both sides. Target: each at most 2x the reference.

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
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_evaluate import Window, evaluate
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
    source = FileSource(dict(data.items()), "benchmark")
    metrics = [parse_metric({"name": f"m{i}", "source": "file", "kind": "latency"}, {}) for i in range(args.metrics)]
    window = Window(step_index=0, traffic_share=0.1)
    evidence = {}
    for _ in range(20):  # what 20 earlier windows leave behind
        verdicts, evidence, _ = evaluate(metrics, {"file": source}, window, evidence)
    judged = {v.verdict for v in verdicts}
    if not judged <= {"pass", "fail", "inconclusive"}:
        raise SystemExit(f"the gate did not judge the benchmark's data: {verdicts[0].reason}")

    def first() -> None:
        evaluate(metrics, {"file": source}, window, {})

    def later() -> None:
        evaluate(metrics, {"file": source}, window, evidence)

    def reference() -> None:
        for i in range(args.metrics):
            scipy.stats.mannwhitneyu(data[(f"m{i}", "canary")], data[(f"m{i}", "baseline")], alternative="greater")

    first(), later(), reference()  # warm caches and imports on every side
    times = {"first": [], "later": [], "reference": []}
    for _ in range(args.repeat):  # interleaved, so machine noise hits all alike
        for name, call in (("first", first), ("later", later), ("reference", reference)):
            started = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - started)
    median = {name: statistics.median(values) for name, values in times.items()}
    print(
        f"canary_gate evaluation: {args.metrics} metrics x {args.samples:,} samples per group, median of {args.repeat}"
    )
    print(f"  scipy mannwhitneyu alone            {median['reference'] * 1000:8.1f} ms  (reference)")
    for name, label in (("first", "first judged window"), ("later", "with 20 windows of evidence")):
        ratio = median[name] / median["reference"]
        verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
        print(
            f"  gate, {label:28} {median[name] * 1000:8.1f} ms  ratio {ratio:5.2f} x   "
            f"target <= {TARGET_RATIO:.1f} x: {verdict}"
        )


if __name__ == "__main__":
    main()

"""Jitter p99.9 of the fixed-work loop, pinned versus unpinned, with CPU hogs running.

One busy "hog" process per CPU stands for the rest of the machine's work. The pinned run is what
cpu_isolation and bench_agent set up: the loop on the highest CPU, the hogs confined to the other
(housekeeping) CPUs. The unpinned run is a host without isolation: loop and hogs anywhere, so the
loop shares CPUs with them. Rounds alternate in this process, so both see the same machine.
Without isolcpus the kernel may still run other work on the pinned CPU; on an isolated host the
pinned numbers only get better.

usage: python bench/agent_jitter.py [--iterations 200000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys

from perfgate_bench.runner import jitter_samples, jitter_summary


def hog() -> None:
    value = 0
    while True:
        value = (value * 1103515245 + 12345) & 0xFFFFFFFF


def measure(cpus: set[int], hogs: list, hog_cpus: set[int], iterations: int) -> dict:
    for process in hogs:
        os.sched_setaffinity(process.pid, hog_cpus)
    os.sched_setaffinity(0, cpus)
    return jitter_summary(jitter_samples(iterations))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    all_cpus = os.sched_getaffinity(0)
    if len(all_cpus) < 2:
        print("needs at least two CPUs: one for the hog, one for the pinned loop", file=sys.stderr)
        return 1
    agent_cpu = max(all_cpus)
    housekeeping = all_cpus - {agent_cpu}
    jitter_samples(1000)  # compile before any timing
    hogs = [multiprocessing.Process(target=hog, daemon=True) for _ in all_cpus]
    for process in hogs:
        process.start()
    pinned, unpinned = [], []
    try:
        for _ in range(args.rounds):
            pinned.append(measure({agent_cpu}, hogs, housekeeping, args.iterations))
            unpinned.append(measure(all_cpus, hogs, all_cpus, args.iterations))
    finally:
        for process in hogs:
            process.terminate()
            process.join()
        os.sched_setaffinity(0, all_cpus)

    def median(runs: list[dict], key: str) -> float:
        return statistics.median(run[key] for run in runs)

    print(f"fixed-work loop, {args.iterations} iterations x {args.rounds} rounds, {len(hogs)} hogs")
    print(f"{'':10}{'p50 us':>10}{'p99 us':>10}{'p99.9 us':>10}{'max us':>10}")
    for name, runs, cpus in (("pinned", pinned, f"loop on {agent_cpu}, hogs elsewhere"), ("unpinned", unpinned, "any")):
        row = "".join(f"{median(runs, key):10.2f}" for key in ("p50_us", "p99_us", "p999_us", "max_us"))
        print(f"{name:10}{row}   cpus {cpus}")
    ratio = median(unpinned, "p999_us") / median(pinned, "p999_us")
    print(f"p99.9 unpinned / pinned = {ratio:.2f}x (above 1 means pinning removes jitter)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

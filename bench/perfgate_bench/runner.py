"""perfgate-bench run: one kernel, pinned to chosen CPUs, timed after a warm-up."""

from __future__ import annotations

import os
import re
import statistics
import time
from dataclasses import asdict, dataclass

import numpy as np

from perfgate_bench import kernels
from perfgate_bench.cpulist import CpuListError, parse_cpulist

KERNELS = ("checksum", "xor_parity", "triad", "memlat", "jitter")
SIZE_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20, "g": 1 << 30, "gib": 1 << 30}


class BenchError(ValueError):
    """Bad arguments or an impossible request; the message says which."""


def parse_size(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", text)
    unit = match.group(2).lower() if match else None
    if not match or unit not in SIZE_UNITS:
        raise BenchError(f"size {text!r} is not a size like 4096, 64KiB, 256MiB or 1GiB")
    size = int(match.group(1)) * SIZE_UNITS[unit]
    if size <= 0:
        raise BenchError("size must be positive")
    return size


def parse_cpus(text: str) -> set[int]:
    try:
        cpus = set(parse_cpulist(text, "cpus"))
    except CpuListError as error:
        raise BenchError(str(error)) from None
    if not cpus:
        raise BenchError("cpus is empty")
    return cpus


def numa_nodes_of(cpus: set[int], sysfs: str = "/sys/devices/system/node") -> list[int]:
    nodes = set()
    try:
        entries = os.listdir(sysfs)
    except OSError:
        return [0]
    for entry in entries:
        match = re.fullmatch(r"node(\d+)", entry)
        if not match:
            continue
        try:
            with open(os.path.join(sysfs, entry, "cpulist"), encoding="ascii") as handle:
                if parse_cpus(handle.read().strip() or "") & cpus:
                    nodes.add(int(match.group(1)))
        except (OSError, BenchError):
            continue
    return sorted(nodes) or [0]


def pin(cpus: set[int] | None) -> set[int]:
    """Pin this process (all its threads) before any memory is touched, so the kernel's pages are
    first touched, and therefore allocated, on the pinned CPUs' NUMA node."""
    if cpus:
        allowed = os.sched_getaffinity(0) | set(range(os.cpu_count() or 1))
        unknown = cpus - allowed
        if unknown:
            raise BenchError(f"cpus {sorted(unknown)} do not exist on this host (0-{(os.cpu_count() or 1) - 1})")
        try:
            os.sched_setaffinity(0, cpus)
        except OSError as error:
            raise BenchError(f"cannot pin to cpus {sorted(cpus)}: {error.strerror}") from None
    return os.sched_getaffinity(0)


@dataclass
class RunResult:
    kernel: str
    size_bytes: int
    repeat: int
    unit: str
    min: float
    median: float
    max: float
    cpus: list[int]
    numa_nodes: list[int]
    details: dict
    seconds: list[float]  # per repeat, larger is worse: wall time (p99.9 for jitter), what a CI gate judges

    def as_dict(self) -> dict:
        return asdict(self)


def _time(function, repeat: int) -> list[float]:
    function()  # warm-up: compiles (or loads the cache) and faults the pages in, outside the timings
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return times


def run_kernel(kernel: str, size: int, cpus: set[int] | None, repeat: int) -> RunResult:
    if kernel not in KERNELS:
        raise BenchError(f"kernel must be one of {', '.join(KERNELS)}, not {kernel!r}")
    if repeat < 1:
        raise BenchError("repeat must be at least 1")
    pinned = pin(cpus)
    details: dict = {}
    if kernel == "checksum":
        data = np.random.default_rng(1).integers(0, 256, size, dtype=np.uint8)
        times = _time(lambda: kernels.checksum(data), repeat)
        values, unit = [size / t / 1e9 for t in times], "GB/s"
    elif kernel == "xor_parity":
        buffers = np.random.default_rng(2).integers(0, 2**63, (4, max(size // 4 // 8, 1)), dtype=np.uint64)
        times = _time(lambda: kernels.xor_parity(buffers), repeat)
        values, unit = [buffers.nbytes / t / 1e9 for t in times], "GB/s"
        details["buffers"] = 4
    elif kernel == "triad":
        n = max(size // 24, 1)
        a, b, c = np.zeros(n), np.ones(n), np.full(n, 2.0)
        times = _time(lambda: kernels.triad(a, b, c, 3.0), repeat)
        values, unit = [3 * 8 * n / t / 1e9 for t in times], "GB/s"
    elif kernel == "memlat":
        return _memlat(size, repeat, pinned)
    else:
        return _jitter(size, repeat, pinned)
    # Throughput: the best run is the max, so order them so min <= median <= max either way.
    return RunResult(
        kernel,
        size,
        repeat,
        unit,
        min(values),
        statistics.median(values),
        max(values),
        sorted(pinned),
        numa_nodes_of(pinned),
        details,
        times,
    )


def _memlat(size: int, repeat: int, pinned: set[int]) -> RunResult:
    """ns per dependent load at working sets from 32 KiB up to `size`."""
    working_sets, current = [], 32 << 10
    while current < size:
        working_sets.append(current)
        current *= 8
    working_sets.append(size)
    by_size = {}
    steps = 2_000_000
    for working_set in working_sets:
        table = kernels.chase_table(max(working_set // 8, 2))
        times = _time(lambda table=table: kernels.pointer_chase(table, steps), repeat)
        by_size[working_set] = statistics.median(times) / steps * 1e9
    largest = [t / steps * 1e9 for t in times]
    return RunResult(
        "memlat",
        size,
        repeat,
        "ns/load",
        min(largest),
        statistics.median(largest),
        max(largest),
        sorted(pinned),
        numa_nodes_of(pinned),
        {"ns_per_load_by_working_set": by_size},
        times,
    )


def jitter_samples(iterations: int, rounds: int = 2000) -> np.ndarray:
    """Times `iterations` calls of a fixed-work kernel; the spread is what isolation removes."""
    kernels.fixed_work(rounds)
    samples = np.empty(iterations, dtype=np.int64)
    clock = time.perf_counter_ns
    for i in range(iterations):
        started = clock()
        kernels.fixed_work(rounds)
        samples[i] = clock() - started
    return samples


def jitter_summary(samples: np.ndarray) -> dict:
    return {
        q: float(np.percentile(samples, p)) / 1000
        for q, p in (("p50_us", 50), ("p99_us", 99), ("p999_us", 99.9), ("max_us", 100))
    }


def _jitter(size: int, repeat: int, pinned: set[int]) -> RunResult:
    iterations = max(1000, min(size // 1024, 200_000))
    summaries = [jitter_summary(jitter_samples(iterations)) for _ in range(repeat)]
    p999 = [s["p999_us"] for s in summaries]
    return RunResult(
        "jitter",
        size,
        repeat,
        "us (p99.9)",
        min(p999),
        statistics.median(p999),
        max(p999),
        sorted(pinned),
        numa_nodes_of(pinned),
        {"iterations": iterations, "runs": summaries},
        [value / 1e6 for value in p999],  # each repeat's p99.9 iteration time
    )

"""The agent's checksum, single thread, against two references measured in this run on the same
buffer: the memory read bandwidth (numba's sum over the buffer as 64-bit words, which reads every
byte once and does the least work possible) and zlib.adler32.

Targets: checksum >= 0.8 x the read bandwidth, and >= 5 x adler32.

It also prints, without a target, the flag-on side the agent serves behind a feature flag
(kernels.checksum_word_by_word, the definition's word-by-word loop) beside the kernel: per byte
over the buffer, and per call on a 64 KiB request body, the size the demo's load generator sends.

usage: python bench/agent_checksum.py [--size 256MiB] [--repeat 7] [--cpu 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import zlib

import numpy as np
from perfgate_bench import kernels
from perfgate_bench.runner import parse_size

READ_BANDWIDTH_TARGET = 0.8
ADLER32_TARGET = 5.0
REQUEST_BODY = "64KiB"


def best_gbps(function, size: int, repeat: int) -> float:
    function()  # compile or load the cache, and fault the pages in
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return size / statistics.median(times) / 1e9


def per_call_us(function, calls: int = 2000) -> float:
    """The median of 7 rounds' mean time per call, in microseconds."""
    function()
    rounds = []
    for _ in range(7):
        started = time.perf_counter()
        for _ in range(calls):
            function()
        rounds.append((time.perf_counter() - started) / calls)
    return statistics.median(rounds) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="256MiB")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--cpu", type=int, default=max(os.sched_getaffinity(0)))
    args = parser.parse_args()
    os.sched_setaffinity(0, {args.cpu})  # before allocating, as perfgate-bench run does
    size = parse_size(args.size)
    data = np.random.default_rng(7).integers(0, 256, size, dtype=np.uint8)
    words = data.view(np.uint64)

    checksum = best_gbps(lambda: kernels.checksum(data), size, args.repeat)
    read = best_gbps(lambda: kernels.sum_bytes(words), size, args.repeat)
    adler = best_gbps(lambda: zlib.adler32(data), size, args.repeat)

    word_by_word = best_gbps(lambda: kernels.checksum_word_by_word(data), size, args.repeat)
    body = data[: parse_size(REQUEST_BODY)]
    kernel_us = per_call_us(lambda: kernels.checksum(body))
    word_by_word_us = per_call_us(lambda: kernels.checksum_word_by_word(body))

    vs_read, vs_adler = checksum / read, checksum / adler
    print(f"buffer {size / 2**20:.0f} MiB on cpu {args.cpu}, median of {args.repeat} runs")
    print(f"  checksum (fletcher64x8)   {checksum:7.2f} GB/s")
    print(f"  read bandwidth reference  {read:7.2f} GB/s")
    print(f"  zlib.adler32 reference    {adler:7.2f} GB/s")
    print(f"checksum / read bandwidth = {vs_read:.2f}x (target >= {READ_BANDWIDTH_TARGET}x)")
    print(f"checksum / adler32        = {vs_adler:.2f}x (target >= {ADLER32_TARGET}x)")
    print(f"flag-on side (word by word) {word_by_word:7.2f} GB/s, {checksum / word_by_word:.2f}x slower per byte")
    print(
        f"per {REQUEST_BODY} request body: checksum {kernel_us:.1f} us, word by word {word_by_word_us:.1f} us"
        f" (+{word_by_word_us - kernel_us:.1f} us; no target)"
    )
    met = vs_read >= READ_BANDWIDTH_TARGET and vs_adler >= ADLER32_TARGET
    print("targets met" if met else "TARGET MISSED")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())

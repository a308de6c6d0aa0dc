"""POST /checksum with 64 KiB bodies under wrk, beside the raw kernel time for the same size.

Starts `perfgate-bench serve` on a loopback port, drives it with wrk (Debian's package) for
--duration seconds, and prints requests/s, p50 and p99 from wrk, the raw checksum time of one
64 KiB body measured in this run, and the overhead ratios: p50 latency / raw kernel time, and
raw kernel calls per second on one thread / requests per second.

usage: python bench/agent_service.py [--duration 20] [--connections 4] [--threads 1] [--body 64KiB]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import numpy as np
from perfgate_bench import kernels
from perfgate_bench.runner import parse_size

UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def raw_kernel_seconds(size: int) -> float:
    body = np.random.default_rng(1).integers(0, 256, size, dtype=np.uint8).tobytes()
    kernels.checksum(body)
    times = []
    for _ in range(2000):
        started = time.perf_counter()
        kernels.checksum(body)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def parse_wrk(output: str) -> dict:
    def duration(text: str) -> float:
        number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
        return float(number) * UNITS[unit]

    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", output, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)$", output, re.M)
    return {
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50_s": duration(latency["50"]),
        "p99_s": duration(latency["99"]),
        "non_2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "none",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--body", default="64KiB")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is not installed; run make setup", file=sys.stderr)
        return 1
    size = parse_size(args.body)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "perfgate_bench.cli", "serve", "--port", str(port), "--version-label", "bench"],
        env={**os.environ, "NUMBA_CACHE_DIR": os.path.join(tempfile.gettempdir(), "perfgate-bench-numba")},
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the agent did not start") from None
                time.sleep(0.2)
        with tempfile.TemporaryDirectory() as scratch:
            script = os.path.join(scratch, "post.lua")
            with open(script, "w") as handle:
                handle.write(
                    'wrk.method = "POST"\n'
                    f'wrk.body = string.rep("p", {size})\n'
                    'wrk.headers["Content-Type"] = "application/octet-stream"\n'
                )
            output = subprocess.run(
                [
                    "wrk",
                    "--latency",
                    "-t",
                    str(args.threads),
                    "-c",
                    str(args.connections),
                    "-d",
                    f"{args.duration}s",
                    "-s",
                    script,
                    f"http://127.0.0.1:{port}/checksum",
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
    finally:
        server.terminate()
        server.wait(timeout=20)
    result = parse_wrk(output)
    raw = raw_kernel_seconds(size)
    print(
        f"POST /checksum, {size} B bodies, wrk {args.threads} thread(s) x {args.connections} connections, "
        f"{args.duration} s"
    )
    print(f"  requests/s            {result['requests_per_s']:10.0f}")
    print(f"  p50 latency           {result['p50_s'] * 1e3:10.3f} ms")
    print(f"  p99 latency           {result['p99_s'] * 1e3:10.3f} ms")
    print(f"  non-2xx / socket err  {result['non_2xx']} / {result['socket_errors']}")
    print(f"  raw kernel, one body  {raw * 1e6:10.1f} us ({1 / raw:.0f} calls/s on one thread)")
    print(f"overhead: p50 latency / raw kernel time = {result['p50_s'] / raw:.1f}x")
    print(f"overhead: raw kernel calls/s / requests/s = {(1 / raw) / result['requests_per_s']:.1f}x")
    return 0 if result["non_2xx"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

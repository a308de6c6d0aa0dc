"""How fast a bad build loses its traffic, against how soon its errors were visible at all.

On the local environment (run `make demo` once, or playbooks/local/up.yml and site.yml), under
wrk load through every region's HAProxy, rolls out a build with the agent's fault injection and
measures per region:

- time to zero: from the canary's first traffic to weight 0, both read from the gate's decision
  records (weights are read back from HAProxy on every change);
- the reference, measured in the same run: from the first traffic to the first Prometheus
  sample in which the canary's error count is above zero. No gate can act before that moment;
  the ratio time_to_zero / reference says how much the gate adds on top of the data's own delay.

The target is time to zero <= 30 s at a 5 s scrape interval. Optionally (--good) it first rolls
out a good build and prints the load generator's failed requests during it (target 0).

usage: python bench/rollout_reaction.py [--runs 1] [--good] [--interval 5]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "playbooks" / "local"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "collections"))

import demo
from ansible_collections.perfgate.fleet.plugins.module_utils.rollout_summary import first_traffic, timeline

TARGET_S = 30.0


def prometheus_range(query: str, start: float, end: float, step: float = 1.0) -> list[tuple[float, float]]:
    parameters = urllib.parse.urlencode({"query": query, "start": start, "end": end, "step": step})
    url = f"http://127.0.0.1:{demo.ENVIRONMENT['local_env_prometheus_port']}/api/v1/query_range?{parameters}"
    result = json.load(urllib.request.urlopen(url, timeout=10))["data"]["result"]
    return [(float(t), float(v)) for series in result for t, v in series["values"]]


def first_visible_error(region: str, version: str, since: float, until: float) -> float | None:
    """Unix time of the first evaluation at which Prometheus held an error of this (unique)
    canary version in the region."""
    query = f'sum(perfgate_request_errors_total{{group="canary",region="{region}",version="{version}"}})'
    return next((t for t, v in prometheus_range(query, since, until) if v > 0), None)


def one_bad_rollout(log_dir: Path, interval: int, current_stable: str) -> list[dict]:
    rollout_id = f"bench-{datetime.now():%Y%m%d-%H%M%S}-bad"
    # A version of its own, so its error counter is told apart from every earlier run's.
    version = f"1.2.{int(time.time()) % 1_000_000}"
    code, report = demo.rollout(
        rollout_id,
        version,
        current_stable,
        log_dir,
        {"canary_inject_latency_ms": 0.5, "canary_inject_error_ratio": 0.02, "rollout_evaluation_interval": interval},
    )
    rows = []
    # The report holds every part's decision records and time to zero, computed the same way.
    for part, records in (report.get("parts") or {}).items():
        region = part.rsplit("-", 1)[-1]
        seconds = (report.get("time_to_zero_s") or {}).get(part)
        first = first_traffic(timeline(records))
        visible = None
        if first is not None:
            started = datetime.fromisoformat(first["at"].replace("Z", "+00:00")).timestamp()
            visible = first_visible_error(region, version, started, started + 120)
        rows.append(
            {
                "region": region,
                "outcome": report.get("outcome"),
                "time_to_zero_s": seconds,
                "errors_visible_after_s": None if visible is None else visible - started,
                "exit": code,
            }
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--good", action="store_true", help="first roll out a good build and count failed requests")
    parser.add_argument("--interval", type=int, default=demo.EVALUATION_INTERVAL)
    args = parser.parse_args()
    if not demo.environment_is_up():
        print("the local environment is not up: run `make demo` (or up.yml and site.yml) first", file=sys.stderr)
        return 2
    log_dir = Path(tempfile.mkdtemp(prefix="perfgate-bench-rollout-"))
    load = demo.Load(log_dir)
    stable = demo.current_stable_version()
    try:
        return measure(args, load, log_dir, stable)
    finally:
        load.stop()  # never leave wrk running


def measure(args: argparse.Namespace, load: demo.Load, log_dir: Path, stable: str) -> int:
    if args.good:
        load.start()
        time.sleep(15)
        good_id = f"bench-{datetime.now():%Y%m%d-%H%M%S}-good"
        code, report = demo.rollout(good_id, demo.next_version(stable), stable, log_dir, {})
        totals = load.stop()
        failed = sum(t["failed"] for t in totals.values())
        print(
            f"good build: {report.get('outcome')} (exit {code}); load generator "
            f"{sum(t['requests'] for t in totals.values())} requests, {failed} failed (target 0)"
        )
        stable = demo.current_stable_version()
    rows = []
    for _ in range(args.runs):
        load.start()
        time.sleep(10)
        rows += one_bad_rollout(log_dir, args.interval, stable)
        load.stop()
    print(f"{'region':<8}{'outcome':<13}{'time to zero':>14}{'errors visible':>16}{'ratio':>8}{'vs 30 s target':>16}")
    for row in rows:
        zero, visible = row["time_to_zero_s"], row["errors_visible_after_s"]
        ratio = f"{zero / visible:.2f}x" if zero is not None and visible else "-"
        print(
            f"{row['region']:<8}{row['outcome'] or '-':<13}"
            f"{(f'{zero:.1f} s' if zero is not None else 'never'):>14}"
            f"{(f'{visible:.1f} s' if visible is not None else '-'):>16}{ratio:>8}"
            f"{(f'{zero / TARGET_S:.2f}x' if zero is not None else '-'):>16}"
        )
    print(f"logs: {log_dir}")
    return 0 if rows and all(r["time_to_zero_s"] is not None and r["time_to_zero_s"] <= TARGET_S for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

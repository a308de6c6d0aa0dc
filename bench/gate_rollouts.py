"""Whole rollouts replayed offline: perfgate's canary_gate against two reference judges on the same
seeded data, raw samples and Prometheus histograms, many rollouts per scenario.

Every rollout walks steps 10/25/50 % with 2000 requests per evaluation window split by the
canary's weight, for at most --evaluations windows. perfgate runs through the gate itself
(`run_gate`, everything the Ansible module does: state file, lock, decision log, file traffic
backend), one metrics file per window holding only that window's requests. Its settings are the
issue's: advance_after 2, rollback_after 2, max_nodata 6, latency max_increase 0.10 and
confidence 0.98, errors a critical ratio with a 1 % ceiling and confidence 0.99.

The reference judges see the same kind of windows, drawn from the same seeds, and move through
the same steps with the same bake (2 passing windows to advance):
  - Kayenta-style: each window alone; latency fails when a one-sided Mann-Whitney test
    (scipy.stats.mannwhitneyu) is significant at confLevel 0.98 and the canary's mean is at
    least 1.10 x the baseline's; errors fail when a pooled two-proportion z-test is significant
    at 0.98. Two consecutive failing windows roll back. The tolerance of 0.25 (Kayenta's
    allowance around the baseline's location) only widens what passes: a window whose
    Hodges-Lehmann-free location ratio (canary median / baseline median) lies within 1 +/- 0.25
    passes outright.
  - Flagger-style: a check fails when the canary's p99 is above 1.10 x the baseline's
    (histogram_quantile interpolation on histograms) or its error rate is above 1 %; the
    rollout rolls back after 2 failed checks in all (Flagger's threshold).
Histograms reach the references as bucket midpoints (the +Inf bucket at twice the last bound),
which is what a histogram gives a judge that wants samples.

Columns: % rolled back (and of those, at the first step and before 50 %), % promoted, %
undecided after the last window, and the median number of canary requests served before a
rollback. The targets of the issue are checked at the end.

usage: python bench/gate_rollouts.py [--rollouts 500] [--evaluations 40] [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.stats

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "collections"))
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_gate_run import run_gate

STEPS = (10, 25, 50)
REQUESTS_PER_WINDOW = 2000
BAKE = 2
# The bucket grid: 1, 2, 5, 10, 20, 50, 100, 200, 500 ms and +Inf.
BOUNDS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5)
MEDIAN = 0.010


@dataclass(frozen=True)
class Scenario:
    name: str
    good: bool | None  # True: must not be rolled back; False: must be; None: the edge, no target
    factor: float = 1.0
    sigma: float = 0.5
    tail: float = 0.0  # share of canary requests 5x slower
    timeouts: float = 0.0  # share of canary requests that time out
    canary_errors: float = 0.0
    baseline_errors: float = 0.0


SCENARIOS = (
    Scenario("identical, sigma 0.5", True),
    Scenario("identical, sigma 1.0", True, sigma=1.0),
    Scenario("+5 %", True, factor=1.05),
    Scenario("+10 % (the edge)", None, factor=1.10),
    Scenario("+25 %", False, factor=1.25),
    Scenario("+50 %", False, factor=1.50),
    Scenario("tail: 5 % of requests x5", False, tail=0.05),
    Scenario("17 % timeouts", False, timeouts=0.17),
    Scenario("20 % faster", True, factor=0.80),
    Scenario("errors 0.1 % vs 0.1 %", True, canary_errors=0.001, baseline_errors=0.001),
    Scenario("errors 2 % vs 0.1 %", False, canary_errors=0.02, baseline_errors=0.001),
    Scenario("errors 0.5 % vs 0.1 %", False, canary_errors=0.005, baseline_errors=0.001),
)
JUDGES = ("perfgate", "kayenta", "flagger")


@dataclass
class Window:
    canary: np.ndarray  # latencies (inf = timeout)
    baseline: np.ndarray
    canary_errors: int
    baseline_errors: int


def draw(rng, scenario: Scenario, weight: int) -> Window:
    n_c = round(REQUESTS_PER_WINDOW * weight / 100)
    n_b = REQUESTS_PER_WINDOW - n_c
    baseline = rng.lognormal(math.log(MEDIAN), scenario.sigma, n_b)
    canary = rng.lognormal(math.log(MEDIAN), scenario.sigma, n_c) * scenario.factor
    if scenario.tail:
        canary[rng.random(n_c) < scenario.tail] *= 5
    if scenario.timeouts:
        canary[rng.random(n_c) < scenario.timeouts] = math.inf
    return Window(
        canary, baseline, rng.binomial(n_c, scenario.canary_errors), rng.binomial(n_b, scenario.baseline_errors)
    )


def cumulative_buckets(samples: np.ndarray) -> dict:
    counts = {f"{b:g}": int(np.sum(samples <= b)) for b in BOUNDS}
    counts["+Inf"] = int(samples.size)
    return counts


def as_midpoints(samples: np.ndarray) -> np.ndarray:
    """What a sample-wanting judge gets from a histogram: each request at its bucket's midpoint."""
    edges = np.array((0.0, *BOUNDS))
    index = np.searchsorted(BOUNDS, samples, side="left")
    midpoints = np.append((edges[:-1] + edges[1:]) / 2.0, 2 * BOUNDS[-1])
    return midpoints[index]


def p99(samples: np.ndarray, histogram: bool) -> float:
    if not histogram:
        with np.errstate(invalid="ignore"):  # timeouts (inf) make the percentile inf, as they should
            return float(np.percentile(samples, 99))
    counts = [np.sum(samples <= b) for b in BOUNDS]
    rank = 0.99 * samples.size
    lower, below = 0.0, 0
    for bound, count in zip(BOUNDS, counts, strict=True):
        if count >= rank:
            return lower + (bound - lower) * (rank - below) / max(count - below, 1)
        lower, below = bound, count
    return BOUNDS[-1]  # histogram_quantile's answer in the +Inf bucket


# --- the judges ------------------------------------------------------------------------------


class PerfgateJudge:
    """The real gate: one run_gate call per window, the window written to a metrics file."""

    def __init__(self, workdir: Path, histogram: bool):
        self.workdir, self.histogram = workdir, histogram
        self.params = {
            "rollout": "replay",
            "state_dir": str(workdir / "state"),
            "steps": list(STEPS),
            "action": "evaluate",
            "metrics": [
                {"name": "latency", "source": "file", "kind": "latency", "max_increase": 0.10, "confidence": 0.98},
                {
                    "name": "errors",
                    "source": "file",
                    "kind": "ratio",
                    "critical": True,
                    "ceiling": 0.01,
                    "confidence": 0.99,
                },
            ],
            "metrics_file": str(workdir / "window.json"),
            "advance_after": BAKE,
            "rollback_after": 2,
            "max_nodata": 6,
            "traffic": {"file": {"path": str(workdir / "weight.json")}},
            "lock_timeout": 1.0,
        }
        self.clock = 0.0

    def call(self) -> dict:
        self.clock += 10.0
        return run_gate(self.params, False, now=lambda: self.clock, evaluation_id="e", at="2026-12-03T00:00:00+00:00")

    def start(self) -> int:
        return int(self.call()["weight_after"])

    def judge(self, window: Window) -> tuple[str, int]:
        def latency(samples):
            return {"buckets": cumulative_buckets(samples)} if self.histogram else samples.tolist()

        document = {
            "metrics": {
                "latency": {"canary": latency(window.canary), "baseline": latency(window.baseline)},
                "errors": {
                    "canary": {"errors": int(window.canary_errors), "requests": int(window.canary.size)},
                    "baseline": {"errors": int(window.baseline_errors), "requests": int(window.baseline.size)},
                },
            }
        }
        (self.workdir / "window.json").write_text(json.dumps(document))
        result = self.call()
        return result["status"], int(result["step_index"])


class WindowJudge:
    """Kayenta- and Flagger-style: each window judged alone, with their own counting of failures."""

    def __init__(self, style: str, histogram: bool):
        self.style, self.histogram = style, histogram
        self.step, self.passes, self.failures = 0, 0, 0

    def start(self) -> int:
        return STEPS[0]

    def _window_fails(self, window: Window) -> bool:
        canary, baseline = window.canary, window.baseline
        if self.style == "flagger":
            error_rate = window.canary_errors / max(canary.size, 1)
            return p99(canary, self.histogram) > 1.10 * p99(baseline, self.histogram) or error_rate > 0.01
        if self.histogram:
            canary, baseline = as_midpoints(canary), as_midpoints(baseline)
        latency_fails = False
        ratio = np.median(canary) / np.median(baseline)
        if not 0.75 <= ratio <= 1.25:  # outside the tolerance: judge it
            p = scipy.stats.mannwhitneyu(canary, baseline, alternative="greater").pvalue
            with np.errstate(invalid="ignore"):
                mean_ratio = np.mean(canary) / np.mean(baseline)
            latency_fails = p < 0.02 and mean_ratio >= 1.10
        elif scipy.stats.mannwhitneyu(canary, baseline, alternative="greater").pvalue < 0.02:
            with np.errstate(invalid="ignore"):
                latency_fails = np.mean(canary) / np.mean(baseline) >= 1.10
        n_c, n_b = canary.size, baseline.size
        pooled = (window.canary_errors + window.baseline_errors) / (n_c + n_b)
        errors_fail = False
        if pooled > 0:
            z = (window.canary_errors / n_c - window.baseline_errors / n_b) / math.sqrt(
                pooled * (1 - pooled) * (1 / n_c + 1 / n_b)
            )
            errors_fail = z > scipy.stats.norm.ppf(0.98)
        return latency_fails or errors_fail

    def judge(self, window: Window) -> tuple[str, int]:
        if self._window_fails(window):
            self.failures += 1
            self.passes = 0
            if self.failures >= 2:
                return "rolled_back", self.step
            return "progressing", self.step
        if self.style == "kayenta":
            self.failures = 0  # Kayenta counts consecutive failing windows; Flagger counts them all
        self.passes += 1
        if self.passes >= BAKE:
            self.passes = 0
            if self.step + 1 >= len(STEPS):
                return "promoted", self.step
            self.step += 1
        return "progressing", self.step


def replay(task) -> tuple[int, str, str, int, int]:
    """One rollout of one scenario by one judge: (scenario, judge, outcome, step at the end,
    canary requests served)."""
    scenario_index, judge_name, histogram, rollout, evaluations = task
    scenario = SCENARIOS[scenario_index]
    rng = np.random.default_rng([scenario_index, rollout, int(histogram)])
    workdir = Path(tempfile.mkdtemp(prefix="perfgate-replay-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    try:
        judge = PerfgateJudge(workdir, histogram) if judge_name == "perfgate" else WindowJudge(judge_name, histogram)
        weight = judge.start()
        served = 0
        status, step = "progressing", 0
        for _ in range(evaluations):
            window = draw(rng, scenario, weight)
            served += window.canary.size
            status, step = judge.judge(window)
            if status != "progressing":
                break
            weight = STEPS[step]
        return scenario_index, judge_name, status, step, served
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def percent(count: int, total: int) -> str:
    return f"{100.0 * count / total:5.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rollouts", type=int, default=500, help="rollouts per scenario, judge and data kind")
    parser.add_argument("--evaluations", type=int, default=40, help="windows before a rollout counts as undecided")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()

    started = time.monotonic()
    failures = []
    for histogram in (False, True):
        tasks = [
            (s, judge, histogram, r, args.evaluations)
            for s in range(len(SCENARIOS))
            for judge in JUDGES
            for r in range(args.rollouts)
        ]
        with multiprocessing.Pool(args.jobs) as pool:
            outcomes = pool.map(replay, tasks, chunksize=25)
        kind = "Prometheus histograms (1-500 ms buckets)" if histogram else "raw samples"
        print(
            f"\n{kind}, {args.rollouts} rollouts per row, at most {args.evaluations} windows of "
            f"{REQUESTS_PER_WINDOW} requests, steps {'/'.join(map(str, STEPS))} %"
        )
        print(
            f"{'scenario':28} {'judge':9} {'rolled back':>11} {'at 10%':>7} {'<50%':>6} {'promoted':>9} "
            f"{'undecided':>9} {'median canary req. to rollback':>31}"
        )
        table = {}
        for s, scenario in enumerate(SCENARIOS):
            for judge in JUDGES:
                rows = [o for o in outcomes if o[0] == s and o[1] == judge]
                back = [o for o in rows if o[2] == "rolled_back"]
                counts = {
                    "rolled_back": len(back),
                    "first_step": sum(o[3] == 0 for o in back),
                    "before_50": sum(o[3] < 2 for o in back),
                    "promoted": sum(o[2] == "promoted" for o in rows),
                    "undecided": sum(o[2] == "progressing" for o in rows),
                }
                table[(s, judge)] = counts
                median = f"{statistics.median(o[4] for o in back):.0f}" if back else "-"
                label = scenario.name if judge == "perfgate" else ""
                print(
                    f"{label:28} {judge:9} {percent(counts['rolled_back'], len(rows)):>11} "
                    f"{percent(counts['first_step'], len(rows)):>7} {percent(counts['before_50'], len(rows)):>6} "
                    f"{percent(counts['promoted'], len(rows)):>9} {percent(counts['undecided'], len(rows)):>9} "
                    f"{median:>31}"
                )
        failures += check_targets(table, args.rollouts, kind)
    print(f"\nreplayed in {time.monotonic() - started:.0f} s")
    print("targets: all met" if not failures else "targets NOT met:\n  " + "\n  ".join(failures))


def check_targets(table: dict, total: int, kind: str) -> list[str]:
    """The issue's targets; each failure is one line naming the scenario and the number."""
    failures = []
    names = [s.name for s in SCENARIOS]

    def share(scenario: str, judge: str, key: str) -> float:
        return table[(names.index(scenario), judge)][key] / total

    for scenario in ("identical, sigma 0.5", "identical, sigma 1.0", "errors 0.1 % vs 0.1 %"):
        if share(scenario, "perfgate", "rolled_back") > 0.01 or share(scenario, "perfgate", "promoted") < 0.97:
            failures.append(f"{kind}: {scenario}: rolled back at most 1 %, promoted at least 97 %")
    for scenario in ("+25 %", "tail: 5 % of requests x5", "17 % timeouts", "errors 2 % vs 0.1 %"):
        back = share(scenario, "perfgate", "rolled_back")
        if back < 0.99 or share(scenario, "perfgate", "before_50") < back / 2:
            failures.append(f"{kind}: {scenario}: rolled back in at least 99 %, most before 50 %")
    if share("+50 %", "perfgate", "first_step") < 0.95:
        failures.append(f"{kind}: +50 %: rolled back at the first step in at least 95 %")
    if share("20 % faster", "perfgate", "rolled_back") > 0:
        failures.append(f"{kind}: 20 % faster: never rolled back")
    bad = [s.name for s in SCENARIOS if s.good is False]
    good = [s.name for s in SCENARIOS if s.good is True]
    for reference in ("kayenta", "flagger"):
        ours_bad = sum(share(s, "perfgate", "rolled_back") for s in bad)
        theirs_bad = sum(share(s, reference, "rolled_back") for s in bad)
        ours_good = sum(share(s, "perfgate", "rolled_back") for s in good)
        theirs_good = sum(share(s, reference, "rolled_back") for s in good)
        print(
            f"{kind}: bad builds rolled back: perfgate {ours_bad / len(bad):.1%}, {reference} "
            f"{theirs_bad / len(bad):.1%}; good builds rolled back: perfgate {ours_good / len(good):.1%}, "
            f"{reference} {theirs_good / len(good):.1%}"
        )
        if ours_bad <= theirs_bad or ours_good > theirs_good:
            failures.append(f"{kind}: perfgate must roll back more bad builds than {reference} and no more good ones")
    return failures


if __name__ == "__main__":
    main()

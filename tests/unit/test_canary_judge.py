"""The canary judge on seeded synthetic data (the acceptance rates the issue asks for)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_judge import (
    FAIL,
    NODATA,
    PASS,
    Thresholds,
    judge_burn_rate,
    judge_gauge,
    judge_latency,
    judge_ratio,
)
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_stats import WeightedSample

DEFAULT = Thresholds()  # 10% allowed increase at 98% confidence, 50 samples minimum


def latency(rng, n, median=0.010, spread=0.25):
    """Service latencies: log-normal around a median, as request latencies usually are."""
    return rng.lognormal(np.log(median), spread, n)


def judge(canary, baseline, thresholds=DEFAULT):
    return judge_latency(
        "latency", False, WeightedSample.from_samples(canary), WeightedSample.from_samples(baseline), thresholds
    )


def test_identical_distributions_pass_in_at_least_99_percent_of_500_trials():
    rng = np.random.default_rng(20261122)
    verdicts = [judge(latency(rng, 200), latency(rng, 2000)).verdict for _ in range(500)]
    assert verdicts.count(PASS) / 500 >= 0.99, {v: verdicts.count(v) for v in set(verdicts)}


def test_a_20_percent_median_shift_fails_in_at_least_95_percent_of_500_trials():
    rng = np.random.default_rng(7)
    verdicts = [judge(latency(rng, 200, median=0.012), latency(rng, 2000)).verdict for _ in range(500)]
    assert verdicts.count(FAIL) / 500 >= 0.95, {v: verdicts.count(v) for v in set(verdicts)}


def test_sparse_regression_fails():
    """Kayenta's known miss: 7 of 10 canary points at 100x the baseline."""
    rng = np.random.default_rng(3)
    baseline = latency(rng, 1000)
    canary = np.concatenate((latency(rng, 3), latency(rng, 7) * 100))
    result = judge(canary, baseline, Thresholds(min_samples=10))
    assert result.verdict == FAIL, result.reason
    assert result.numbers["p99_ratio"] > 50


@pytest.mark.parametrize("baseline", [[], [float("nan")] * 500, [float("inf")] * 500])
def test_empty_or_non_finite_baseline_never_passes(baseline):
    rng = np.random.default_rng(1)
    result = judge(latency(rng, 500), baseline)
    assert result.verdict == NODATA, result.reason


def test_nan_samples_are_dropped_and_counted():
    rng = np.random.default_rng(2)
    canary = np.concatenate((latency(rng, 300), [np.nan] * 5))
    result = judge(canary, latency(rng, 3000))
    assert result.numbers["canary_dropped_nonfinite"] == 5
    assert result.numbers["canary_n"] == 300


def test_zero_canary_traffic_is_nodata_for_every_kind():
    assert judge([], latency(np.random.default_rng(0), 500)).verdict == NODATA
    assert judge_ratio("errors", True, (0, 0), (12, 10000), DEFAULT).verdict == NODATA
    assert judge_burn_rate("burn", False, (0, 0), (0, 0), 0.1, DEFAULT).verdict == NODATA
    assert judge_burn_rate("burn", False, (1, 1000), (1, 1000), 0.0, DEFAULT).verdict == NODATA


def test_error_rate_1_vs_3_percent_with_1000_canary_requests_fails_in_95_percent():
    rng = np.random.default_rng(11)
    thresholds = Thresholds(ceiling=0.01)
    verdicts = [
        judge_ratio(
            "errors", True, (rng.binomial(1000, 0.03), 1000), (rng.binomial(10000, 0.01), 10000), thresholds
        ).verdict
        for _ in range(500)
    ]
    assert verdicts.count(FAIL) / 500 >= 0.95


def test_equal_error_rates_pass():
    rng = np.random.default_rng(12)
    verdicts = [
        judge_ratio(
            "errors",
            True,
            (rng.binomial(1000, 0.002), 1000),
            (rng.binomial(10000, 0.002), 10000),
            Thresholds(ceiling=0.01),
        ).verdict
        for _ in range(500)
    ]
    assert verdicts.count(PASS) / 500 >= 0.97


def test_invalid_counts_are_an_error_not_a_pass():
    result = judge_ratio("errors", False, (20, 10), (1, 1000), DEFAULT)
    assert result.verdict == "error"


def test_histogram_buckets_are_judged_like_samples():
    rng = np.random.default_rng(5)
    bounds = [0.001, 0.002, 0.005, 0.0075, 0.01, 0.0125, 0.015, 0.02, 0.03, 0.05, 0.1, float("inf")]

    def buckets(samples):
        return WeightedSample.from_histogram(bounds, [np.sum(samples <= b) for b in bounds])

    base = buckets(latency(rng, 5000))
    same = judge_latency("lat", False, buckets(latency(rng, 1000)), base, DEFAULT)
    slower = judge_latency("lat", False, buckets(latency(rng, 1000, median=0.016)), base, DEFAULT)
    assert same.verdict == PASS, same.reason
    assert slower.verdict == FAIL, slower.reason


def test_gauge_bounds():
    bounds = Thresholds(minimum=0.85)
    assert judge_gauge("cache_hit", False, 0.9, bounds).verdict == PASS
    assert judge_gauge("cache_hit", False, 0.8, bounds).verdict == FAIL
    assert judge_gauge("cache_hit", False, float("nan"), bounds).verdict == NODATA
    assert judge_gauge("headroom", False, 0.2, Thresholds(minimum=0.3)).verdict == FAIL


def test_burn_rate_fails_only_when_both_windows_burn_and_scales_with_share():
    slo = Thresholds(slo=0.999, burn_factor=14.4, min_samples=100)
    # 10% canary at 20% errors: 0.2 * 0.1 / 0.001 = 20x in both windows
    assert judge_burn_rate("burn", True, (200, 1000), (200, 1000), 0.10, slo).verdict == FAIL
    # The short window has recovered: no page
    assert judge_burn_rate("burn", True, (200, 1000), (1, 1000), 0.10, slo).verdict == PASS
    # The same error rate on a 5% share burns 10x: under the factor
    assert judge_burn_rate("burn", True, (200, 1000), (200, 1000), 0.05, slo).verdict == PASS


def test_latency_margin_is_an_absolute_slack_on_top_of_the_relative_one():
    """At 0.5 ms a one-bucket move doubles the latency; 1 ms of margin lets that through, while
    a regression beyond baseline x 1.1 + margin still fails."""
    rng = np.random.default_rng(11)
    baseline = latency(rng, 2000, median=0.0005)
    doubled = latency(rng, 400, median=0.001)
    assert judge(doubled, baseline).verdict == FAIL
    within_margin = judge(doubled, baseline, replace(DEFAULT, margin=0.001))
    assert within_margin.verdict == PASS
    # The reason names the margin: "within 10%" alone would be false for a doubled latency.
    assert "plus a 0.001 margin" in within_margin.reason and within_margin.numbers["margin"] == 0.001
    assert "margin" not in judge(doubled, baseline).reason
    slow = latency(rng, 400, median=0.003)  # 6x and 2.5 ms worse: beyond the 1 ms margin
    assert judge(slow, baseline, replace(DEFAULT, margin=0.001)).verdict == FAIL

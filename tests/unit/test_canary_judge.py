"""The canary judge on seeded synthetic data. Each rate test states the rate it checks and the
number of trials; latencies are log-normal around a 10 ms median unless a test says otherwise."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_judge import (
    ERROR,
    FAIL,
    INCONCLUSIVE,
    NODATA,
    PASS,
    Thresholds,
    judge_burn_rate,
    judge_gauge,
    judge_latency,
    judge_memory,
    judge_ratio,
)
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_stats import Histogram

DEFAULT = Thresholds()  # 10% allowed increase at 98% confidence, 50 samples minimum
# The bucket grid (ms): 1, 2, 5, 10, 20, 50, 100, 200, 500, +Inf.
COARSE = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, math.inf]


def latency(rng, n, median=0.010, sigma=0.5):
    return rng.lognormal(np.log(median), sigma, n)


def binned(samples, bounds=COARSE):
    return Histogram.from_cumulative(bounds, [float(np.sum(samples <= b)) for b in bounds])


def raw(samples):
    return Histogram.from_samples(np.asarray(samples, dtype=float))


def judge(canary, baseline, thresholds=DEFAULT, evidence=None):
    return judge_latency("latency", False, canary, baseline, evidence, thresholds)


def windows(rng, count, factor=1.0, to_histogram=raw, canary_n=200, baseline_n=1800, sigma=0.5, **canary_kw):
    """Verdicts of `count` consecutive windows with evidence carried, stopping at a fail."""
    evidence, verdicts = None, []
    for _ in range(count):
        canary = latency(rng, canary_n, sigma=sigma, **canary_kw) * factor
        judgement = judge(to_histogram(canary), to_histogram(latency(rng, baseline_n, sigma=sigma)), evidence=evidence)
        evidence = judgement.evidence
        verdicts.append(judgement.verdict)
        if judgement.verdict.verdict == FAIL:
            break
    return verdicts


@pytest.mark.parametrize("to_histogram", [raw, binned], ids=["raw", "histogram"])
def test_identical_canaries_pass_and_never_fail_over_20_windows_in_300_trials(to_histogram):
    """The anytime bound allows 2 % false fails over the whole rollout; none of 300 occur."""
    rng = np.random.default_rng(20261203)
    runs = [windows(rng, 20, to_histogram=to_histogram) for _ in range(300)]
    assert not any(v.verdict == FAIL for run in runs for v in run)
    passes = sum(v.verdict == PASS for run in runs for v in run)
    assert passes / (20 * 300) >= 0.98


@pytest.mark.parametrize("to_histogram", [raw, binned], ids=["raw", "histogram"])
def test_a_25_percent_slower_canary_fails_within_6_windows_in_at_least_99_percent_of_300(to_histogram):
    """6 windows of 200 canary requests: what the first step of a 10 % canary sees in a minute."""
    rng = np.random.default_rng(25)
    runs = [windows(rng, 6, factor=1.25, to_histogram=to_histogram) for _ in range(300)]
    assert sum(run[-1].verdict == FAIL for run in runs) / 300 >= 0.99


def test_histogram_sees_probability_mass_cross_a_bucket_bound():
    """At +25 % the share under 10 ms falls from 50 % to about 33 %; the judge reports the share
    above the 10 ms bound and fails on it in one window of 2000 canary requests."""
    rng = np.random.default_rng(3)
    verdict = judge(binned(latency(rng, 2000) * 1.25), binned(latency(rng, 2000))).verdict
    assert verdict.verdict == FAIL, verdict.reason
    at_10ms = next(t for t in verdict.numbers["thresholds"] if t["threshold"] == 0.01)
    assert at_10ms["canary_share_above"] == pytest.approx(0.67, abs=0.03)


def test_sparse_regression_fails():
    """Kayenta's known miss: 7 of 10 canary points at 100x the baseline."""
    rng = np.random.default_rng(3)
    canary = np.concatenate((latency(rng, 3), latency(rng, 7) * 100))
    result = judge(raw(canary), raw(latency(rng, 1000)), Thresholds(min_samples=10)).verdict
    assert result.verdict == FAIL, result.reason
    assert result.numbers["p99_ratio"] > 50


@pytest.mark.parametrize(
    ("to_histogram", "within", "rate"), [(raw, 5, 0.99), (binned, 20, 0.95)], ids=["raw", "histogram"]
)
def test_tail_regression_of_5_percent_of_requests_5x_slower_fails(to_histogram, within, rate):
    """On the coarse grid the slow 5 % land in the 20-50 ms and 50-100 ms buckets, where the
    baseline's interpolated tail is far above its true one: binning costs most of the power, so
    it takes more windows (200 canary requests each) than on raw samples."""
    rng = np.random.default_rng(5)
    failed = 0
    for _ in range(200):
        evidence = None
        for _ in range(within):
            canary = latency(rng, 200)
            canary[rng.random(200) < 0.05] *= 5
            judgement = judge(to_histogram(canary), to_histogram(latency(rng, 1800)), evidence=evidence)
            evidence = judgement.evidence
            if judgement.verdict.verdict == FAIL:
                failed += 1
                break
    assert failed / 200 >= rate


def test_timeouts_count_as_the_slowest_requests():
    rng = np.random.default_rng(17)
    canary = latency(rng, 400)
    canary[rng.random(400) < 0.17] = math.inf
    result = judge(raw(canary), raw(latency(rng, 3600))).verdict
    assert result.verdict == FAIL, result.reason
    assert result.numbers["canary_timeouts"] == pytest.approx(np.isinf(canary).sum())
    assert "timeouts" in result.reason


def test_a_canary_that_only_times_out_fails_rather_than_having_no_data():
    rng = np.random.default_rng(18)
    result = judge(raw([math.inf] * 200), raw(latency(rng, 1800))).verdict
    assert result.verdict == FAIL, result.reason
    assert result.numbers["canary_timeouts"] == 200 and result.numbers["canary_p99"] is None


def test_faster_canary_passes():
    rng = np.random.default_rng(8)
    assert all(v.verdict == PASS for v in windows(rng, 10, factor=0.8, to_histogram=binned))


def test_evidence_accumulates_across_windows():
    rng = np.random.default_rng(9)
    first = judge(raw(latency(rng, 200)), raw(latency(rng, 1800)))
    second = judge(raw(latency(rng, 300)), raw(latency(rng, 2700)), evidence=first.evidence)
    assert second.verdict.numbers["canary_n"] == 500 and second.verdict.numbers["baseline_n"] == 4500
    assert second.verdict.numbers["window_canary_n"] == 300
    assert first.evidence["thresholds"] == second.evidence["thresholds"]  # placed once


def test_too_few_samples_so_far_is_inconclusive_and_an_empty_window_is_nodata():
    rng = np.random.default_rng(10)
    few = judge(raw(latency(rng, 20)), raw(latency(rng, 1800)))
    assert few.verdict.verdict == INCONCLUSIVE and "collecting" in few.verdict.reason
    assert judge(raw([]), raw(latency(rng, 1800)), evidence=few.evidence).verdict.verdict == NODATA
    # At 100 % the baseline serves nothing: the canary is judged against the baseline seen so far.
    seen = judge(raw(latency(rng, 200)), raw(latency(rng, 1800)))
    at_full = judge(raw(latency(rng, 2000)), raw([]), evidence=seen.evidence).verdict
    assert at_full.verdict == PASS and at_full.numbers["baseline_n"] == 1800


def test_a_canary_leaning_bad_is_inconclusive_before_it_fails():
    rng = np.random.default_rng(12)
    verdicts = [v.verdict for v in windows(rng, 10, factor=1.18, canary_n=60, baseline_n=540)]
    assert INCONCLUSIVE in verdicts and verdicts[-1] == FAIL


def test_latency_margin_is_an_absolute_slack_on_top_of_the_relative_one():
    """At 0.5 ms, 0.5 ms more doubles the median; 1 ms of margin lets that through, while a
    regression beyond baseline x 1.1 + margin still fails."""
    rng = np.random.default_rng(11)
    baseline = raw(latency(rng, 2000, median=0.0005))
    doubled = raw(latency(rng, 400, median=0.0005) + 0.0005)
    assert judge(doubled, baseline).verdict.verdict == FAIL
    within_margin = judge(doubled, baseline, replace(DEFAULT, margin=0.001)).verdict
    assert within_margin.verdict == PASS, within_margin.reason
    assert "plus 0.001" in within_margin.reason and within_margin.numbers["margin"] == 0.001
    slow = raw(latency(rng, 400, median=0.003))  # 6x and 2.5 ms worse: beyond the 1 ms margin
    assert judge(slow, baseline, replace(DEFAULT, margin=0.001)).verdict.verdict == FAIL


WITH_CEILING = Thresholds(ceiling=0.01)


def ratio_run(rng, canary_rate, baseline_rate, count=20, thresholds=WITH_CEILING, share=0.1):
    evidence, verdicts = None, []
    for _ in range(count):
        n_c = int(2000 * share)
        judgement = judge_ratio(
            "errors",
            True,
            (rng.binomial(n_c, canary_rate), n_c),
            (rng.binomial(2000 - n_c, baseline_rate), 2000 - n_c),
            evidence,
            thresholds,
        )
        evidence = judgement.evidence
        verdicts.append(judgement.verdict.verdict)
        if verdicts[-1] == FAIL:
            break
    return verdicts


def test_one_error_in_200_against_none_in_1800_is_not_a_regression():
    result = judge_ratio("errors", True, (1, 200), (0, 1800), None, Thresholds(ceiling=0.01)).verdict
    assert result.verdict != FAIL, result.reason


def test_equal_error_rates_rarely_fail_over_a_rollout():
    """0.1 % on both sides, 20 windows: at most 2 % of 500 rollouts fail (the anytime bound)."""
    rng = np.random.default_rng(12)
    runs = [ratio_run(rng, 0.001, 0.001) for _ in range(500)]
    assert sum(run[-1] == FAIL for run in runs) / 500 <= 0.02


def test_half_a_percent_against_a_tenth_is_a_regression_under_the_ceiling():
    rng = np.random.default_rng(13)
    runs = [ratio_run(rng, 0.005, 0.001, count=40) for _ in range(200)]
    assert sum(run[-1] == FAIL for run in runs) / 200 >= 0.95


def test_two_percent_errors_fail_within_five_windows():
    """At 10 % of 2000 requests a window holds 4 canary errors on average: 99 % fail by the third."""
    rng = np.random.default_rng(14)
    runs = [ratio_run(rng, 0.02, 0.001, count=5) for _ in range(200)]
    assert all(run[-1] == FAIL for run in runs)


@pytest.mark.parametrize(
    ("canary", "baseline", "message"),
    [
        ((20, 10), (1, 1000), "errors cannot exceed requests"),
        ((-1, 10), (1, 1000), "is not a count"),
        ((1, 10), (1, -5), "is not a count"),
        ((True, 10), (1, 1000), "is not a count"),
    ],
)
def test_impossible_counts_are_an_error_naming_the_value(canary, baseline, message):
    result = judge_ratio("errors", False, canary, baseline, None, DEFAULT).verdict
    assert result.verdict == ERROR and message in result.reason and "errors" in result.reason


@pytest.mark.parametrize(("long_window", "message"), [((20, 10), "cannot exceed"), ((-2, 100), "not a count")])
def test_burn_rate_refuses_impossible_counts(long_window, message):
    result = judge_burn_rate("burn", False, long_window, (1, 100), 0.1, DEFAULT).verdict
    assert result.verdict == ERROR and message in result.reason


def test_zero_canary_traffic_is_nodata_for_every_kind():
    rng = np.random.default_rng(0)
    assert judge(raw([]), raw(latency(rng, 500))).verdict.verdict == NODATA
    assert judge_ratio("errors", True, (0, 0), (12, 10000), None, DEFAULT).verdict.verdict == NODATA
    assert judge_burn_rate("burn", False, (0, 0), (0, 0), 0.1, DEFAULT).verdict.verdict == NODATA
    assert judge_burn_rate("burn", False, (1, 1000), (1, 1000), 0.0, DEFAULT).verdict.verdict == NODATA


def test_gauge_bounds():
    bounds = Thresholds(minimum=0.85)
    assert judge_gauge("cache_hit", False, 0.9, bounds).verdict.verdict == PASS
    assert judge_gauge("cache_hit", False, 0.8, bounds).verdict.verdict == FAIL
    assert judge_gauge("cache_hit", False, float("nan"), bounds).verdict.verdict == NODATA


def test_burn_rate_fails_only_when_both_windows_burn_and_scales_with_share():
    slo = Thresholds(slo=0.999, burn_factor=14.4, min_samples=100)
    # 10% canary at 20% errors: 0.2 * 0.1 / 0.001 = 20x in both windows
    assert judge_burn_rate("burn", True, (200, 1000), (200, 1000), 0.10, slo).verdict.verdict == FAIL
    # The short window has recovered: no page
    assert judge_burn_rate("burn", True, (200, 1000), (1, 1000), 0.10, slo).verdict.verdict == PASS
    # The same error rate on a 5% share burns 10x: under the factor
    assert judge_burn_rate("burn", True, (200, 1000), (200, 1000), 0.05, slo).verdict.verdict == PASS


def memory_run(rng, canary_growth_per_minute, readings=12, margin=1_000_000):
    thresholds = Thresholds(margin=margin, min_samples=5, max_increase=0.10)
    evidence, verdicts = None, []
    for i in range(readings):
        at = 10.0 * i
        baseline = 80e6 + 50_000 * at / 60 + rng.normal(0, 200_000)
        canary = 80e6 + canary_growth_per_minute * at / 60 + rng.normal(0, 200_000)
        judgement = judge_memory("memory", False, at, canary, baseline, evidence, thresholds)
        evidence = judgement.evidence
        verdicts.append(judgement.verdict)
    return verdicts


def test_a_memory_leak_fails_and_steady_memory_passes():
    rng = np.random.default_rng(21)
    leak = memory_run(rng, 20_000_000)  # 20 MB per minute
    assert [v.verdict for v in leak[:4]] == [INCONCLUSIVE] * 4 and leak[-1].verdict == FAIL
    assert leak[-1].numbers["excess_slope_per_minute"] == pytest.approx(20e6 - 50e3, rel=0.1)
    steady = memory_run(rng, 50_000)
    assert steady[-1].verdict == PASS, steady[-1].reason


def test_memory_readings_must_be_numbers():
    assert judge_memory("m", False, 0, None, 1.0, None, Thresholds(margin=1)).verdict.verdict == NODATA
    assert judge_memory("m", False, 0, -5.0, 1.0, None, Thresholds(margin=1)).verdict.verdict == ERROR

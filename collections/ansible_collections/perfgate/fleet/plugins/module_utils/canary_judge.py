"""Judge one metric of one evaluation: pass, fail, nodata or error, with the numbers behind it.

Pure: takes numbers, returns a MetricVerdict. Sources fetch the numbers; the policy decides what
the rollout does with the verdicts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ansible_collections.perfgate.fleet.plugins.module_utils.canary_stats import (
    WeightedSample,
    fisher_greater,
    hodges_lehmann,
    mann_whitney,
    pooled_quantile,
    proportion_greater,
    wilson_lower_bound,
)

PASS, FAIL, NODATA, ERROR = "pass", "fail", "nodata", "error"
KINDS = ("latency", "ratio", "gauge", "burn_rate")


@dataclass(frozen=True)
class MetricVerdict:
    name: str
    kind: str
    verdict: str
    critical: bool
    reason: str
    numbers: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "verdict": self.verdict,
            "critical": self.critical,
            "reason": self.reason,
            "numbers": self.numbers,
        }


@dataclass(frozen=True)
class Thresholds:
    """The thresholds in force for one metric at the current step."""

    min_samples: int = 50
    confidence: float = 0.98
    max_increase: float = 0.10
    quantiles: tuple[float, ...] = (0.95, 0.99)
    ceiling: float | None = None
    margin: float = 0.0
    minimum: float | None = None
    maximum: float | None = None
    slo: float = 0.999
    burn_factor: float = 14.4


def _round(value: float, digits: int = 6) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


def judge_latency(name: str, critical: bool, canary: WeightedSample, baseline: WeightedSample, t: Thresholds):
    numbers = {
        "canary_n": canary.n,
        "baseline_n": baseline.n,
        "canary_dropped_nonfinite": canary.dropped,
        "baseline_dropped_nonfinite": baseline.dropped,
    }
    if baseline.n < t.min_samples or canary.n < t.min_samples:
        return MetricVerdict(
            name,
            "latency",
            NODATA,
            critical,
            f"{name}: too few samples (canary {canary.n:.0f}, baseline {baseline.n:.0f}, need {t.min_samples} each)",
            numbers,
        )
    alpha = 1.0 - t.confidence
    # A failure can come from the rank test or from any tail test; splitting alpha between them
    # (Bonferroni) keeps the chance of failing a good canary at or below 1 - confidence.
    alpha_each = alpha / (1 + len(t.quantiles))
    limit = 1.0 + t.max_increase
    # One rank test against the baseline scaled by the allowed increase answers both questions:
    # "is the canary worse than that?" (fail) and "is it surely not?" (pass).
    # margin (in the metric's unit, seconds here) is an absolute slack on top of the relative one:
    # at sub-millisecond latencies one histogram bucket is already +40%, which no user notices.
    test = mann_whitney(canary, baseline.scaled(limit, t.margin))
    shift = hodges_lehmann(canary, baseline, t.confidence)
    baseline_median, canary_median = baseline.quantile(0.5), canary.quantile(0.5)
    numbers.update(
        {
            "baseline_median": _round(baseline_median),
            "canary_median": _round(canary_median),
            "shift": _round(shift.estimate),
            "shift_low": _round(shift.low),
            "shift_high": _round(shift.high),
            "relative_shift": _round(shift.estimate / baseline_median) if baseline_median else None,
            "max_increase": t.max_increase,
            "confidence": t.confidence,
            "p_worse": _round(test.p_greater, 8),
            "p_not_worse": _round(test.p_less, 8),
        }
    )
    # Tail check: above the q-quantile of canary and scaled baseline taken together, does the
    # canary hold more than its share? Under "canary no worse than baseline x limit" the two
    # groups are exchangeable, so Fisher's exact test holds its level at any sample size. It
    # catches sparse regressions that move the tail and not the middle.
    scaled_baseline = baseline.scaled(limit, t.margin)
    tail_failures = []
    for q in t.quantiles:
        base_q, canary_q = baseline.quantile(q), canary.quantile(q)
        threshold = pooled_quantile(canary, scaled_baseline, q)
        canary_over = canary.n - float(canary.weight_below([threshold], inclusive=True)[0])
        baseline_over = scaled_baseline.n - float(scaled_baseline.weight_below([threshold], inclusive=True)[0])
        p_tail = fisher_greater(canary_over, canary.n, baseline_over, baseline.n)
        key = f"p{round(q * 100, 1):g}"
        numbers[f"baseline_{key}"] = _round(base_q)
        numbers[f"canary_{key}"] = _round(canary_q)
        numbers[f"{key}_ratio"] = _round(canary_q / base_q) if base_q else None
        numbers[f"{key}_tail_p"] = _round(p_tail, 8)
        if p_tail < alpha_each:
            tail_failures.append(f"{key} {canary_q:.4g} vs baseline {base_q:.4g} ({canary_q / base_q:.2f}x)")
    # Name the absolute margin too: at sub-millisecond latencies it, not the percentage, can be
    # what a canary passes within.
    worse = f"{t.max_increase:.0%}" + (f" plus a {t.margin:.4g} margin" if t.margin else "")
    numbers["margin"] = t.margin
    if test.p_greater < alpha_each or tail_failures:
        details = []
        if test.p_greater < alpha_each:
            details.append(
                f"median {canary_median:.4g} vs {baseline_median:.4g}, shift {shift.estimate:+.4g} "
                f"[{shift.low:+.4g}, {shift.high:+.4g}], p={test.p_greater:.2g}"
            )
        details.extend(tail_failures)
        return MetricVerdict(
            name,
            "latency",
            FAIL,
            critical,
            f"{name}: canary is more than {worse} slower at {t.confidence:.0%} confidence: " + "; ".join(details),
            numbers,
        )
    if test.p_less < alpha:
        return MetricVerdict(
            name,
            "latency",
            PASS,
            critical,
            f"{name}: canary within {worse} of baseline (median {canary_median:.4g} vs {baseline_median:.4g}, "
            f"shift {shift.estimate:+.4g} [{shift.low:+.4g}, {shift.high:+.4g}])",
            numbers,
        )
    numbers["inconclusive"] = True
    return MetricVerdict(
        name,
        "latency",
        NODATA,
        critical,
        f"{name}: inconclusive, neither clearly within nor beyond {worse} of baseline "
        f"(p_worse={test.p_greater:.2g}, p_not_worse={test.p_less:.2g}); more samples needed",
        numbers,
    )


def judge_ratio(name: str, critical: bool, canary: tuple[float, float], baseline: tuple[float, float], t: Thresholds):
    (c_err, c_req), (b_err, b_req) = canary, baseline
    numbers = {"canary_errors": c_err, "canary_requests": c_req, "baseline_errors": b_err, "baseline_requests": b_req}
    counts_are_numbers = all(math.isfinite(v) and v >= 0 for v in (c_err, c_req, b_err, b_req))
    if not counts_are_numbers or c_err > c_req or b_err > b_req:
        hint = (
            " (more errors than requests: usually counters that just started, which PromQL's"
            " increase() extrapolates separately; it passes within a scrape or two)"
            if counts_are_numbers
            else ""
        )
        return MetricVerdict(name, "ratio", ERROR, critical, f"{name}: counts are not valid: {numbers}{hint}", numbers)
    if c_req < t.min_samples or b_req < t.min_samples:
        return MetricVerdict(
            name,
            "ratio",
            NODATA,
            critical,
            f"{name}: too little traffic (canary {c_req:.0f}, baseline {b_req:.0f} requests, need {t.min_samples})",
            numbers,
        )
    alpha = 1.0 - t.confidence
    c_rate, b_rate = c_err / c_req, b_err / b_req
    p_higher = proportion_greater(c_err, c_req, b_err, b_req, t.margin)
    numbers.update({"canary_rate": _round(c_rate), "baseline_rate": _round(b_rate), "p_higher": _round(p_higher, 8)})
    reasons = []
    if p_higher < alpha:
        reasons.append(f"error rate {c_rate:.2%} vs baseline {b_rate:.2%} (p={p_higher:.2g})")
    if t.ceiling is not None:
        lower = wilson_lower_bound(c_err, c_req, t.confidence)
        numbers.update({"ceiling": t.ceiling, "canary_rate_lower_bound": _round(lower)})
        if lower > t.ceiling:
            reasons.append(f"error rate {c_rate:.2%} is above the {t.ceiling:.2%} ceiling (lower bound {lower:.2%})")
    if reasons:
        return MetricVerdict(name, "ratio", FAIL, critical, f"{name}: " + "; ".join(reasons), numbers)
    return MetricVerdict(
        name, "ratio", PASS, critical, f"{name}: error rate {c_rate:.2%} vs baseline {b_rate:.2%}", numbers
    )


def judge_gauge(name: str, critical: bool, value: float | None, t: Thresholds):
    numbers = {"value": _round(value) if value is not None else None, "minimum": t.minimum, "maximum": t.maximum}
    if value is None or not math.isfinite(value):
        return MetricVerdict(name, "gauge", NODATA, critical, f"{name}: no finite value", numbers)
    if t.minimum is not None and value < t.minimum:
        return MetricVerdict(name, "gauge", FAIL, critical, f"{name}: {value:.4g} is below {t.minimum:g}", numbers)
    if t.maximum is not None and value > t.maximum:
        return MetricVerdict(name, "gauge", FAIL, critical, f"{name}: {value:.4g} is above {t.maximum:g}", numbers)
    return MetricVerdict(name, "gauge", PASS, critical, f"{name}: {value:.4g} within bounds", numbers)


def judge_burn_rate(
    name: str,
    critical: bool,
    long_window: tuple[float, float],
    short_window: tuple[float, float],
    traffic_share: float,
    t: Thresholds,
):
    """Multiwindow burn rate (SRE workbook): fail only when both windows burn faster than the factor.
    The canary carries only its share of the traffic, so its errors spend the service's budget at
    rate x share: its own error rate may be budget / share before it burns at 1x."""
    budget = 1.0 - t.slo
    share = min(max(traffic_share, 0.0), 1.0)
    numbers = {"slo": t.slo, "factor": t.burn_factor, "traffic_share": share}
    if share <= 0:
        return MetricVerdict(name, "burn_rate", NODATA, critical, f"{name}: canary has no traffic share", numbers)
    burns = {}
    for label, (errors, requests) in (("long", long_window), ("short", short_window)):
        if not (math.isfinite(errors) and math.isfinite(requests)) or requests < t.min_samples:
            return MetricVerdict(
                name, "burn_rate", NODATA, critical, f"{name}: too little traffic in the {label} window", numbers
            )
        burns[label] = (errors / requests) * share / budget
        numbers[f"{label}_error_rate"] = _round(errors / requests)
        numbers[f"{label}_burn"] = _round(burns[label])
    if burns["long"] > t.burn_factor and burns["short"] > t.burn_factor:
        return MetricVerdict(
            name,
            "burn_rate",
            FAIL,
            critical,
            f"{name}: burning the error budget at {burns['long']:.1f}x (long) and {burns['short']:.1f}x (short), "
            f"over {t.burn_factor:g}x",
            numbers,
        )
    return MetricVerdict(
        name,
        "burn_rate",
        PASS,
        critical,
        f"{name}: burn {burns['long']:.2f}x (long), {burns['short']:.2f}x (short), limit {t.burn_factor:g}x",
        numbers,
    )

"""Judge one metric of one evaluation: pass, fail, inconclusive, nodata or error, with the numbers.

Pure: takes this window's numbers and the evidence kept from earlier windows, returns a
`Judgement` (the verdict and the evidence to keep). Sources fetch the numbers; the policy decides
what the rollout does with the verdicts.

Latency and error ratios are judged sequentially. Each evaluation adds its window to the
evidence and recomputes one e-value per metric from everything seen since the rollout started:
  - fail: the e-value reached 1/alpha (alpha = 1 - confidence). Whatever the number of
    evaluations, a canary no worse than the allowance reaches it with probability at most alpha
    (Ville's inequality), so a fail is final and the policy rolls back at once;
  - inconclusive: the e-value is above 1. It is a Bayes factor (regressions of every size,
    weighted by the mixture, against none), so above 1 the data favour a regression: the
    rollout holds and keeps collecting, and never advances on such evidence;
  - pass: below that. A pass is "no sign of a regression so far", not proof of its absence;
    how much a pass is worth grows with the evidence (`advance_after` passes per step).
Too few requests so far is inconclusive (collecting). Nodata means this window brought nothing:
no requests, an empty or stale series, or a source that could not be asked.

Evidence carries over from step to step. Each group's requests are compared with the other
group's as distributions, so the traffic split of a window changes how many requests it adds,
not what they mean. That assumes a build's latency does not depend on its share; where it does
(a canary that slows under load), the later steps' larger windows soon outweigh the earlier ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

from ansible_collections.perfgate.fleet.plugins.module_utils.canary_stats import (
    ODDS_RATIOS,
    Histogram,
    InputError,
    ceiling_log_evalue,
    error_share_log_lr,
    exceedance_test,
    log_mean_exp,
    log_normal_mixture_evalue,
    nearest_edge,
    theil_sen,
    union_edges,
)
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_verdict import (
    ERROR,
    FAIL,
    INCONCLUSIVE,
    NODATA,
    PASS,
    MetricVerdict,
)

KINDS = ("latency", "ratio", "gauge", "burn_rate", "memory")
SEQUENTIAL_KINDS = ("latency", "ratio")
# Baseline quantile levels that latency thresholds are placed at, besides the metric's quantiles.
CORE_LEVELS = (0.5, 0.75, 0.9)
# Memory: points kept per group (one per evaluation), enough for an hour at 10 s intervals.
MEMORY_POINTS_KEPT = 360
_NORMAL = NormalDist()


@dataclass(frozen=True)
class Judgement:
    verdict: MetricVerdict
    evidence: dict | None = None  # what to keep for the next evaluation; None keeps the old


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


def _round(value, digits: int = 6):
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


def _key(q: float) -> str:
    return f"p{round(q * 100, 1):g}"


def _fmt_seconds(value: float) -> str:
    return "timeout" if math.isinf(value) else f"{value:.4g}"


def _sequential_verdict(name, kind, critical, log_evalue, t: Thresholds, numbers, fail_text, pass_text):
    """The three-way rule on one e-value, shared by latency and ratio."""
    fail_at = math.log(1.0 / (1.0 - t.confidence))
    numbers.update(
        {
            "e_value": _round(math.exp(min(log_evalue, 700.0)), 4),
            "log_e_value": _round(log_evalue, 4),
            "fail_at_e_value": _round(math.exp(fail_at), 4),
            "confidence": t.confidence,
        }
    )
    evidence = f"e-value {math.exp(min(log_evalue, 700.0)):.3g}, rollback at {math.exp(fail_at):.3g}"
    if log_evalue >= fail_at:
        return MetricVerdict(
            name,
            kind,
            FAIL,
            critical,
            f"{name}: {fail_text} ({evidence}, {t.confidence:.0%} over the rollout)",
            numbers,
            sequential=True,
        )
    if log_evalue > 0.0:
        numbers["inconclusive"] = True
        return MetricVerdict(
            name,
            kind,
            INCONCLUSIVE,
            critical,
            f"{name}: inconclusive, the evidence leans towards a regression ({evidence}); collecting more: {fail_text}",
            numbers,
            sequential=True,
        )
    return MetricVerdict(name, kind, PASS, critical, f"{name}: {pass_text} ({evidence})", numbers, sequential=True)


def _inconclusive(name: str, kind: str, critical: bool, why: str, numbers: dict) -> MetricVerdict:
    """Not yet sure, with data: the rollout holds and collects (never counted as no data)."""
    numbers["inconclusive"] = True
    return MetricVerdict(name, kind, INCONCLUSIVE, critical, f"{name}: {why}", numbers, sequential=True)


def _collecting(name: str, kind: str, critical: bool, canary_n: float, baseline_n: float, t, numbers) -> MetricVerdict:
    return _inconclusive(
        name,
        kind,
        critical,
        f"collecting, {canary_n:.0f} canary and {baseline_n:.0f} baseline requests so far, "
        f"{t.min_samples} each before judging",
        numbers,
    )


def _one_shot_verdict(name, critical, tests, t: Thresholds, numbers, fail_text, pass_text):
    """Two result files compared once (the CI judge): no later look to protect, so each
    threshold's z is held to the fixed-sample one-sided bound, Bonferroni over the thresholds."""
    alpha = 1.0 - t.confidence
    bound = _NORMAL.inv_cdf(1.0 - alpha / len(tests))
    worst = max(x.z for x in tests)
    numbers.update({"z": _round(worst, 3), "fail_at_z": _round(bound, 3), "confidence": t.confidence})
    evidence = f"z {worst:.2f}, fail at {bound:.2f}"
    if worst >= bound:
        return MetricVerdict(name, "latency", FAIL, critical, f"{name}: {fail_text} ({evidence})", numbers)
    return MetricVerdict(name, "latency", PASS, critical, f"{name}: {pass_text} ({evidence})", numbers)


def judge_latency(
    name: str,
    critical: bool,
    canary: Histogram,
    baseline: Histogram,
    evidence: dict | None,
    t: Thresholds,
    one_shot: bool = False,
) -> Judgement:
    """canary, baseline: this window's requests. evidence: what earlier windows left. one_shot:
    these are all the requests there will be (two result files), judged at a fixed-sample level."""
    evidence = evidence or {}
    window = {"window_canary_n": _round(canary.n, 3), "window_baseline_n": _round(baseline.n, 3)}
    # At 100 % the baseline serves nothing: the canary's new requests are then judged against
    # the baseline seen so far. A window without canary requests brings nothing.
    if canary.n <= 0 or (baseline.n <= 0 and "baseline" not in evidence):
        empty = " and ".join(g for g, h in (("canary", canary), ("baseline", baseline)) if h.n <= 0)
        return Judgement(
            MetricVerdict(name, "latency", NODATA, critical, f"{name}: no {empty} requests in this window", window)
        )
    try:
        canary_total = Histogram.from_dict(evidence["canary"]).plus(canary) if "canary" in evidence else canary
        baseline_total = (
            Histogram.from_dict(evidence["baseline"]).plus(baseline) if "baseline" in evidence else baseline
        )
    except (InputError, KeyError, TypeError, ValueError):
        return Judgement(
            MetricVerdict(
                name, "latency", ERROR, critical, f"{name}: the stored evidence is damaged; reset the rollout"
            )
        )
    limit = 1.0 + t.max_increase
    numbers = {
        **window,
        "canary_n": _round(canary_total.n, 3),
        "baseline_n": _round(baseline_total.n, 3),
        "canary_timeouts": _round(canary_total.overflow, 3),
        "baseline_timeouts": _round(baseline_total.overflow, 3),
        "max_increase": t.max_increase,
        "margin": t.margin,
    }
    for q in sorted({0.5, *t.quantiles}):
        label = "median" if q == 0.5 else _key(q)
        base_q, canary_q = baseline_total.quantile(q), canary_total.quantile(q)
        numbers[f"baseline_{label}"] = _round(base_q)
        numbers[f"canary_{label}"] = _round(canary_q)
        if base_q and math.isfinite(base_q):
            numbers["relative_shift" if q == 0.5 else f"{label}_ratio"] = _round(
                canary_q / base_q - 1.0 if q == 0.5 else canary_q / base_q
            )
    kept = {"canary": canary_total.as_dict(), "baseline": baseline_total.as_dict(), **_kept_thresholds(evidence)}
    if canary_total.n < t.min_samples or baseline_total.n < t.min_samples:
        return Judgement(_collecting(name, "latency", critical, canary_total.n, baseline_total.n, t, numbers), kept)
    thresholds = evidence.get("thresholds") or _place_thresholds(canary_total, baseline_total, t, limit)
    if not thresholds:
        why = "the baseline has no finite latencies to compare with"
        return Judgement(_inconclusive(name, "latency", critical, why, numbers), kept)
    kept["thresholds"] = thresholds
    tests = [exceedance_test(canary_total, baseline_total, threshold, limit, t.margin) for threshold in thresholds]
    numbers["thresholds"] = [
        {
            "threshold": _round(x.threshold),
            "canary_share_above": _round(x.canary_share),
            "baseline_share_above_scaled": _round(x.baseline_share),
            "z": _round(x.z, 3),
        }
        for x in tests
    ]
    worst = max(tests, key=lambda x: x.log_evalue)
    allowance = f"{t.max_increase:.0%}" + (f" plus {t.margin:.4g}" if t.margin else "")
    median_text = f"median {_fmt_seconds(canary_total.quantile(0.5))} vs {_fmt_seconds(baseline_total.quantile(0.5))}"
    timeouts = f", {canary_total.overflow:.0f} canary timeouts" if canary_total.overflow else ""
    fail_text = (
        f"canary is more than {allowance} slower: {worst.canary_share:.1%} of its requests are slower than "
        f"{worst.threshold:.4g} against {worst.baseline_share:.1%} of the baseline's slower than "
        f"{(worst.threshold - t.margin) / limit:.4g} ({median_text}{timeouts})"
    )
    pass_text = f"no sign of the canary being more than {allowance} slower ({median_text}{timeouts})"
    if one_shot:
        return Judgement(_one_shot_verdict(name, critical, tests, t, numbers, fail_text, pass_text), kept)
    verdict = _sequential_verdict(
        name, "latency", critical, log_mean_exp(x.log_evalue for x in tests), t, numbers, fail_text, pass_text
    )
    return Judgement(verdict, kept)


def _kept_thresholds(evidence: dict) -> dict:
    return {"thresholds": evidence["thresholds"]} if evidence.get("thresholds") else {}


def _place_thresholds(canary: Histogram, baseline: Histogram, t: Thresholds, limit: float) -> list[float]:
    """Canary-side thresholds at the scaled baseline's quantiles, each moved to the nearest bucket
    edge (where the canary's counts are exact), fixed for the rest of the rollout so each one's
    evidence is one running test."""
    edges = union_edges(canary, baseline)
    placed = []
    for level in sorted({*CORE_LEVELS, *t.quantiles}):
        value = baseline.quantile(level)
        if not math.isfinite(value):
            continue
        edge = nearest_edge(edges, limit * value + t.margin)
        if math.isfinite(edge) and edge not in placed:
            placed.append(edge)
    return placed


def _check_counts(name: str, kind: str, critical: bool, pairs: dict) -> MetricVerdict | None:
    """An error verdict naming the first impossible count: negative, not finite, or more errors
    than requests."""
    for group, (errors, requests) in pairs.items():
        for what, value in (("errors", errors), ("requests", requests)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                return MetricVerdict(
                    name, kind, ERROR, critical, f"{name}: the {group} {what} count {value!r} is not a count"
                )
        if errors > requests:
            return MetricVerdict(
                name,
                kind,
                ERROR,
                critical,
                f"{name}: {group} has {errors:g} errors in {requests:g} requests; errors cannot exceed requests "
                "(right after counters start, PromQL's increase() extrapolates each series on its own; "
                "this clears within a scrape or two)",
            )
    return None


def judge_ratio(
    name: str,
    critical: bool,
    canary: tuple[float, float],
    baseline: tuple[float, float],
    evidence: dict | None,
    t: Thresholds,
) -> Judgement:
    """canary, baseline: (errors, requests) of this window."""
    bad = _check_counts(name, "ratio", critical, {"canary": canary, "baseline": baseline})
    if bad:
        return Judgement(bad)
    (c_err, c_req), (b_err, b_req) = canary, baseline
    window = {
        "window_canary_errors": c_err,
        "window_canary_requests": c_req,
        "window_baseline_errors": b_err,
        "window_baseline_requests": b_req,
    }
    evidence = evidence or {}
    totals = evidence.get("totals", [0.0, 0.0, 0.0, 0.0])
    if c_req <= 0 or (b_req <= 0 and totals[3] <= 0):  # as for latency: at 100 % the baseline is what it was
        empty = " and ".join(g for g, n in (("canary", c_req), ("baseline", b_req)) if n <= 0)
        return Judgement(
            MetricVerdict(name, "ratio", NODATA, critical, f"{name}: no {empty} requests in this window", window)
        )
    log_lr = evidence.get("log_lr", [0.0] * len(ODDS_RATIOS))
    totals = [totals[0] + c_err, totals[1] + c_req, totals[2] + b_err, totals[3] + b_req]
    log_lr = [a + b for a, b in zip(log_lr, error_share_log_lr(c_err, c_req, b_err, b_req), strict=True)]
    kept = {"totals": totals, "log_lr": log_lr}
    tc_err, tc_req, tb_err, tb_req = totals
    c_rate, b_rate = tc_err / tc_req, tb_err / tb_req
    numbers = {
        **window,
        "canary_errors": _round(tc_err, 3),
        "canary_requests": _round(tc_req, 3),
        "baseline_errors": _round(tb_err, 3),
        "baseline_requests": _round(tb_req, 3),
        "canary_rate": _round(c_rate),
        "baseline_rate": _round(b_rate),
        "margin": t.margin,
    }
    if tc_req < t.min_samples or tb_req < t.min_samples:
        return Judgement(_collecting(name, "ratio", critical, tc_req, tb_req, t, numbers), kept)
    if t.margin:
        # With an absolute margin the rates are compared directly (normal approximation on the
        # running totals); without one, the exact conditional test on the errors' shares.
        pooled = (tc_err + tb_err + 1.0) / (tc_req + tb_req + 2.0)
        z = (c_rate - b_rate - t.margin) / math.sqrt(pooled * (1 - pooled) * (1 / tc_req + 1 / tb_req))
        versus_baseline = log_normal_mixture_evalue(z, tc_req * tb_req / (tc_req + tb_req))
    else:
        versus_baseline = log_mean_exp(log_lr)
    parts = [versus_baseline]
    if t.ceiling is not None:
        numbers["ceiling"] = t.ceiling
        parts.append(ceiling_log_evalue(tc_err, tc_req, t.ceiling))
    rates = (
        f"error rate {c_rate:.2%} vs baseline {b_rate:.2%} "
        f"({tc_err:.0f} of {tc_req:.0f} vs {tb_err:.0f} of {tb_req:.0f})"
    )
    ceiling = f" or above the {t.ceiling:.2%} ceiling" if t.ceiling is not None else ""
    verdict = _sequential_verdict(
        name,
        "ratio",
        critical,
        log_mean_exp(parts),
        t,
        numbers,
        f"canary errs more than the baseline{ceiling}: {rates}",
        rates,
    )
    return Judgement(verdict, kept)


def judge_gauge(name: str, critical: bool, value: float | None, t: Thresholds) -> Judgement:
    numbers = {"value": _round(value) if value is not None else None, "minimum": t.minimum, "maximum": t.maximum}
    if value is None or not math.isfinite(value):
        return Judgement(MetricVerdict(name, "gauge", NODATA, critical, f"{name}: no finite value", numbers))
    if t.minimum is not None and value < t.minimum:
        return Judgement(
            MetricVerdict(name, "gauge", FAIL, critical, f"{name}: {value:.4g} is below {t.minimum:g}", numbers)
        )
    if t.maximum is not None and value > t.maximum:
        return Judgement(
            MetricVerdict(name, "gauge", FAIL, critical, f"{name}: {value:.4g} is above {t.maximum:g}", numbers)
        )
    return Judgement(MetricVerdict(name, "gauge", PASS, critical, f"{name}: {value:.4g} within bounds", numbers))


def judge_burn_rate(
    name: str,
    critical: bool,
    long_window: tuple[float, float],
    short_window: tuple[float, float],
    traffic_share: float,
    t: Thresholds,
) -> Judgement:
    """Multiwindow burn rate (SRE workbook): fail only when both windows burn faster than the factor.
    The canary carries only its share of the traffic, so its errors spend the service's budget at
    rate x share: its own error rate may be budget / share before it burns at 1x."""
    bad = _check_counts(name, "burn_rate", critical, {"long window": long_window, "short window": short_window})
    if bad:
        return Judgement(bad)
    budget = 1.0 - t.slo
    share = min(max(traffic_share, 0.0), 1.0)
    numbers = {"slo": t.slo, "factor": t.burn_factor, "traffic_share": share}
    if share <= 0:
        return Judgement(
            MetricVerdict(name, "burn_rate", NODATA, critical, f"{name}: canary has no traffic share", numbers)
        )
    burns = {}
    for label, (errors, requests) in (("long", long_window), ("short", short_window)):
        if requests < t.min_samples:
            return Judgement(
                MetricVerdict(
                    name, "burn_rate", NODATA, critical, f"{name}: too little traffic in the {label} window", numbers
                )
            )
        burns[label] = (errors / requests) * share / budget
        numbers[f"{label}_error_rate"] = _round(errors / requests)
        numbers[f"{label}_burn"] = _round(burns[label])
    if burns["long"] > t.burn_factor and burns["short"] > t.burn_factor:
        return Judgement(
            MetricVerdict(
                name,
                "burn_rate",
                FAIL,
                critical,
                f"{name}: burning the error budget at {burns['long']:.1f}x (long) and {burns['short']:.1f}x (short), "
                f"over {t.burn_factor:g}x",
                numbers,
            )
        )
    return Judgement(
        MetricVerdict(
            name,
            "burn_rate",
            PASS,
            critical,
            f"{name}: burn {burns['long']:.2f}x (long), {burns['short']:.2f}x (short), limit {t.burn_factor:g}x",
            numbers,
        )
    )


def judge_memory(
    name: str,
    critical: bool,
    at_seconds: float,
    canary: float | None,
    baseline: float | None,
    evidence: dict | None,
    t: Thresholds,
) -> Judgement:
    """Resident memory of each group, one reading per evaluation. Fails when the canary's growth
    rate (Theil-Sen slope of canary minus baseline, robust to one-off jumps such as a cache
    filling) is surely above the allowance: `margin` bytes per minute, or `max_increase` of the
    baseline's own growth when that is larger. Judged per evaluation, so `rollback_after` applies."""
    for group, value in (("canary", canary), ("baseline", baseline)):
        if value is None or isinstance(value, bool) or not math.isfinite(value):
            return Judgement(MetricVerdict(name, "memory", NODATA, critical, f"{name}: no {group} reading"))
        if value < 0:
            return Judgement(
                MetricVerdict(name, "memory", ERROR, critical, f"{name}: {group} memory {value!r} is negative")
            )
    points = [*(evidence or {}).get("points", []), [float(at_seconds), float(canary), float(baseline)]][
        -MEMORY_POINTS_KEPT:
    ]
    kept = {"points": points}
    numbers = {"points": len(points), "canary_bytes": canary, "baseline_bytes": baseline, "margin_per_minute": t.margin}
    if len(points) < t.min_samples:
        numbers["inconclusive"] = True
        return Judgement(
            MetricVerdict(
                name,
                "memory",
                INCONCLUSIVE,
                critical,
                f"{name}: collecting, {len(points)} readings of {t.min_samples} before judging the growth",
                numbers,
            ),
            kept,
        )
    times = [p[0] for p in points]
    difference = theil_sen(times, [p[1] - p[2] for p in points], t.confidence)
    baseline_slope = theil_sen(times, [p[2] for p in points], t.confidence).estimate * 60.0
    low, estimate = difference.low * 60.0, difference.estimate * 60.0
    allowed = max(t.margin, t.max_increase * abs(baseline_slope))
    numbers.update(
        {
            "excess_slope_per_minute": _round(estimate, 1),
            "excess_slope_low_per_minute": _round(low, 1),
            "baseline_slope_per_minute": _round(baseline_slope, 1),
            "allowed_per_minute": _round(allowed, 1),
        }
    )
    growth = f"canary grows {estimate:+.4g} B/min faster than the baseline (at least {low:+.4g}), allowed {allowed:.4g}"
    if low > allowed:
        return Judgement(MetricVerdict(name, "memory", FAIL, critical, f"{name}: {growth}", numbers), kept)
    if estimate > allowed:
        numbers["inconclusive"] = True
        return Judgement(
            MetricVerdict(name, "memory", INCONCLUSIVE, critical, f"{name}: inconclusive, {growth}", numbers), kept
        )
    return Judgement(MetricVerdict(name, "memory", PASS, critical, f"{name}: {growth}", numbers), kept)

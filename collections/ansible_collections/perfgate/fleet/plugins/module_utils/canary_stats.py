"""Statistics for the canary judge. Pure functions on numbers; numpy and the standard library only.

Everything the judge compares is a `Histogram`: Prometheus histograms arrive as one, and raw
samples are binned onto a fine geometric grid (2 % wide buckets), so both kinds of input share
one implementation and one accumulated state. Requests slower than the last finite bound
(Prometheus' +Inf bucket, or an infinite raw sample: a timeout) are kept as `overflow`: slower
than every finite value, never dropped.

The sequential tests produce e-values: non-negative numbers whose expectation is at most 1 when
the canary is acceptable, at every evaluation. By Ville's inequality the chance that an e-value
ever reaches 1/alpha, however often it is looked at, is at most alpha. See `canary_judge` for how
the judge uses them.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from statistics import NormalDist

try:
    import numpy as np
except ImportError:  # canary_gate reports it with missing_required_lib before anything runs
    np = None

_NORMAL = NormalDist()

# Raw samples go into buckets (r^(k-1), r^k]. 2 % wide buckets move a threshold by at most 2 %,
# a fifth of the smallest allowed increase anyone sets, while 1 ms to 10 s takes 466 buckets.
RAW_GRID_RATIO = 1.02
_LOG_RATIO = math.log(RAW_GRID_RATIO)


class InputError(ValueError):
    """Numbers that cannot be judged; the message names the offending value."""


def _as_number(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InputError(f"{what} must be a number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Histogram:
    """Counts in buckets (edges[i], edges[i+1]], plus `overflow` above the last edge."""

    edges: np.ndarray  # strictly increasing, len(counts) + 1
    counts: np.ndarray  # >= 0 per bucket
    overflow: float = 0.0

    @property
    def n(self) -> float:
        return float(self.counts.sum()) + self.overflow

    @classmethod
    def from_samples(cls, samples) -> Histogram:
        """Raw latencies. Infinity is a timeout (overflow); negative, NaN and non-numbers are refused."""
        if not isinstance(samples, (list, tuple, np.ndarray)):
            raise InputError(f"samples must be a list of numbers, got {type(samples).__name__}")
        if isinstance(samples, np.ndarray):
            if samples.dtype.kind not in "fiu" or samples.ndim != 1:
                raise InputError("samples must be a flat array of numbers")
            values = samples.astype(float)
        else:
            for value in samples:
                if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                    raise InputError(f"samples must be numbers, got {value!r}")
            values = np.asarray(samples, dtype=float)
        if values.size and np.isnan(values).any():
            raise InputError("samples hold NaN, which is not a latency")
        if values.size and (values < 0).any():
            raise InputError(f"samples hold a negative latency, {float(values[values < 0][0])!r}")
        infinite = np.isinf(values)
        finite = values[~infinite]
        overflow = float(infinite.sum())
        if finite.size == 0:
            return cls(np.zeros(1), np.zeros(0), overflow)
        positive = finite[finite > 0]
        zeros = float(finite.size - positive.size)
        if positive.size:
            index = np.ceil(np.log(positive) / _LOG_RATIO - 1e-9).astype(np.int64)
            low, high = int(index.min()), int(index.max())
            counts = np.bincount(index - low, minlength=high - low + 1).astype(float)
            edges = RAW_GRID_RATIO ** np.arange(low - 1, high + 1, dtype=float)
            if zeros:  # exact zeros (a clock's resolution) go below the fastest positive bucket
                edges, counts = np.concatenate(([0.0], edges)), np.concatenate(([zeros], counts))
        else:
            edges, counts = np.array([0.0, 1e-12]), np.array([zeros])
        return cls(edges, counts, overflow)

    @classmethod
    def from_cumulative(cls, bounds, cumulative, tolerance: float = 0.0) -> Histogram:
        """Prometheus-style cumulative buckets (`le`), +Inf included or not. Bounds must increase
        and counts must not decrease; `tolerance` allows dips up to that many requests, as
        PromQL's increase() produces when it extrapolates each bucket series on its own (they
        are levelled, as histogram_quantile does)."""
        bounds = [_as_number(b, "a bucket bound") for b in bounds]
        cumulative = [_as_number(c, "a bucket count") for c in cumulative]
        if len(bounds) != len(cumulative) or not bounds:
            raise InputError("a histogram needs one count per bucket bound")
        if any(math.isnan(v) for v in bounds + cumulative):
            raise InputError("a histogram holds NaN")
        if any(b2 <= b1 for b1, b2 in itertools.pairwise(bounds)):
            raise InputError(f"bucket bounds must increase, got {bounds}")
        if bounds[0] < 0:
            raise InputError(f"a latency bucket bound cannot be negative, got {bounds[0]!r}")
        if any(math.isinf(c) for c in cumulative) or min(cumulative) < 0:
            raise InputError(f"bucket counts must be finite and not negative, got {cumulative}")
        levelled = []
        for bound, count in zip(bounds, cumulative, strict=True):
            if levelled and count < levelled[-1]:
                if levelled[-1] - count > tolerance:
                    raise InputError(
                        f"bucket counts must be cumulative (le): {count:g} at le={bound:g} is below "
                        f"{levelled[-1]:g} at the bound before; per-bucket counts are not cumulative"
                    )
                count = levelled[-1]
            levelled.append(count)
        if math.isinf(bounds[-1]):
            finite_bounds, total = bounds[:-1], levelled[-1]
            levelled = levelled[:-1]
        else:
            finite_bounds, total = bounds, levelled[-1]
        if not finite_bounds:
            return cls(np.zeros(1), np.zeros(0), total)
        lowest = 0.0 if finite_bounds[0] > 0 else -1e-12
        edges = np.array([lowest, *finite_bounds], dtype=float)
        counts = np.diff(np.array([0.0, *levelled], dtype=float))
        return cls(edges, counts, float(total - levelled[-1]))

    def as_dict(self) -> dict:
        return {"edges": self.edges.tolist(), "counts": self.counts.tolist(), "overflow": self.overflow}

    @classmethod
    def from_dict(cls, data: dict) -> Histogram:
        edges, counts = np.asarray(data["edges"], dtype=float), np.asarray(data["counts"], dtype=float)
        if edges.size != counts.size + 1 or np.any(np.diff(edges) <= 0) or np.any(counts < 0):
            raise InputError("stored histogram is inconsistent")
        return cls(edges, counts, float(data.get("overflow", 0.0)))

    def cdf(self, points) -> np.ndarray:
        """Requests at or below each point, linearly interpolated inside a bucket (as PromQL's
        histogram_quantile does). Overflow is above every finite point."""
        points = np.asarray(points, dtype=float)
        cumulative = np.concatenate(([0.0], np.cumsum(self.counts)))
        inside = np.interp(points, self.edges, cumulative, left=0.0, right=cumulative[-1])
        return np.where(np.isposinf(points), cumulative[-1] + self.overflow, inside)

    def quantile(self, q: float) -> float:
        """Interpolated q-quantile; +inf when it falls among the timeouts, nan when empty."""
        total = self.n
        if total <= 0:
            return math.nan
        target = q * total
        cumulative = np.concatenate(([0.0], np.cumsum(self.counts)))
        if target > cumulative[-1]:
            return math.inf
        return float(np.interp(target, cumulative, self.edges))

    def plus(self, other: Histogram) -> Histogram:
        """The two histograms' counts added on the union of their edges. Exact when no edge of
        one falls inside a non-empty bucket of the other (shared Prometheus grids, the raw grid)."""
        if self.counts.size == 0:
            return Histogram(other.edges, other.counts, other.overflow + self.overflow)
        if other.counts.size == 0:
            return Histogram(self.edges, self.counts, self.overflow + other.overflow)
        if self.edges.size == other.edges.size and np.array_equal(self.edges, other.edges):
            return Histogram(self.edges, self.counts + other.counts, self.overflow + other.overflow)
        edges = np.union1d(self.edges, other.edges)
        counts = np.diff(self.cdf(edges)) + np.diff(other.cdf(edges))
        return Histogram(edges, counts, self.overflow + other.overflow)


def union_edges(*histograms: Histogram) -> np.ndarray:
    """Every bucket edge of the histograms, sorted once."""
    return np.unique(np.concatenate([h.edges for h in histograms]))


def nearest_edge(edges: np.ndarray, value: float) -> float:
    """The positive edge closest to value on a log scale (thresholds sit on edges, where the
    canary's counts are exact)."""
    positive = edges[edges > 0]
    if positive.size == 0 or not math.isfinite(value):
        return math.nan
    if value <= 0:
        return float(positive[0])
    return float(positive[np.argmin(np.abs(np.log(positive) - math.log(value)))])


# --- Sequential tests -------------------------------------------------------------------------

# The mixture's precision, in requests (effective sample size). It sets where the boundary is
# tightest: about 25 x (2 log(1/alpha) + log(1 + 2 log(1/alpha))) = 300-400 requests at alpha 0.02,
# the first two windows of a 10 % canary on a busy service.
MIXTURE_PRECISION = 25.0


def log_normal_mixture_evalue(z: float, n_eff: float, precision: float = MIXTURE_PRECISION) -> float:
    """Log of the one-sided normal-mixture e-value for a standardized difference z observed at
    effective sample size n_eff (Robbins' mixture with a half-normal prior on the standardized
    effect, precision `precision` in samples; Howard, Ramdas et al. 2021). Under "no excess" the
    score z*sqrt(n_eff) behaves like Brownian motion in n_eff, so this is a test supermartingale."""
    if n_eff <= 0 or not math.isfinite(z):
        return 0.0
    total = n_eff + precision
    scaled = z * math.sqrt(n_eff / total)
    return math.log(2.0) + 0.5 * math.log(precision / total) + scaled * scaled / 2.0 + _log_normal_cdf(scaled)


def _log_normal_cdf(x: float) -> float:
    if x > -30:
        return math.log(max(_NORMAL.cdf(x), 1e-300))
    return -x * x / 2.0 - math.log(-x) - 0.5 * math.log(2 * math.pi)  # Mills ratio tail


@dataclass(frozen=True)
class Exceedance:
    threshold: float  # canary-side threshold (the baseline is compared at the scaled point)
    canary_share: float  # canary requests above the threshold
    baseline_share: float  # baseline requests above the scaled point
    z: float
    log_evalue: float


def exceedance_test(canary: Histogram, baseline: Histogram, threshold: float, limit: float, margin: float):
    """Is a larger share of the canary slower than `threshold` than of the baseline slower than
    (threshold - margin) / limit? Under "canary no slower than baseline x limit + margin" it is
    not, at every threshold; the pooled two-proportion z with one pseudo-request on each side
    (no zero variances) feeds the normal-mixture e-value."""
    n_c, n_b = canary.n, baseline.n
    over_c = n_c - float(canary.cdf([threshold])[0])
    point = (threshold - margin) / limit
    over_b = n_b - float(baseline.cdf([point])[0]) if point > 0 else n_b
    share_c, share_b = over_c / n_c, over_b / n_b
    pooled = (over_c + over_b + 1.0) / (n_c + n_b + 2.0)
    variance = pooled * (1.0 - pooled) * (1.0 / n_c + 1.0 / n_b)
    z = (share_c - share_b) / math.sqrt(variance)
    n_eff = n_c * n_b / (n_c + n_b)
    return Exceedance(threshold, share_c, share_b, z, log_normal_mixture_evalue(z, n_eff))


def log_mean_exp(values) -> float:
    """log of the mean of exp(values): the average of e-values is an e-value."""
    values = list(values)
    if not values:
        return 0.0
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values) / len(values))


# Odds ratios the error test mixes over, equally weighted: from "half as many errors again" to
# "30 times as many". A canary's true ratio near one of them gains evidence at almost full speed.
ODDS_RATIOS = (1.5, 2.0, 3.0, 5.0, 10.0, 30.0)


def error_share_log_lr(canary_errors: float, canary_requests: float, baseline_errors: float, baseline_requests: float):
    """One window's log likelihood ratios, one per ODDS_RATIOS entry, for "the canary's errors are
    that many times as likely" against "equally likely". Conditional on the window's total
    errors, each error is the canary's with probability equal to the canary's share of the
    requests when the rates are equal (errors as Poisson counts; Lindon and Malek's construction
    for count data), so the product over windows is a test martingale whatever the traffic
    split was in each window."""
    total_errors = canary_errors + baseline_errors
    requests = canary_requests + baseline_requests
    if total_errors <= 0 or canary_requests <= 0 or baseline_requests <= 0:
        return [0.0] * len(ODDS_RATIOS)
    share = canary_requests / requests
    ratios = []
    for odds in ODDS_RATIOS:
        tilted = odds * share / (odds * share + 1.0 - share)
        ratios.append(
            canary_errors * math.log(tilted / share) + baseline_errors * math.log((1.0 - tilted) / (1.0 - share))
        )
    return ratios


def ceiling_log_evalue(errors: float, requests: float, ceiling: float) -> float:
    """Log e-value for "the canary's error rate is above `ceiling`": a mixture of binomial
    likelihood ratios over rates ceiling x ODDS_RATIOS (capped below 1). Depends on the running
    totals only, so it needs no per-window state."""
    if requests <= 0 or ceiling <= 0 or ceiling >= 1:
        return 0.0
    ratios = []
    for odds in ODDS_RATIOS:
        rate = min(ceiling * odds, 0.999999)
        ratios.append(
            errors * math.log(rate / ceiling) + (requests - errors) * math.log((1.0 - rate) / (1.0 - ceiling))
        )
    return log_mean_exp(ratios)


# --- Memory growth -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Slope:
    estimate: float
    low: float
    high: float


def theil_sen(times, values, confidence: float) -> Slope:
    """Theil-Sen slope (median of pairwise slopes) with Sen's distribution-free interval from
    Kendall's tau (the same construction as scipy.stats.theilslopes)."""
    t, y = np.asarray(times, dtype=float), np.asarray(values, dtype=float)
    i, j = np.triu_indices(t.size, k=1)
    dt = t[j] - t[i]
    keep = dt != 0
    slopes = np.sort((y[j] - y[i])[keep] / dt[keep])
    if slopes.size == 0:
        return Slope(math.nan, math.nan, math.nan)
    estimate = float(np.median(slopes))
    z = _NORMAL.inv_cdf(0.5 + confidence / 2.0)
    n = t.size
    variance = (n * (n - 1) * (2 * n + 5) - _tie_term(t) - _tie_term(y)) / 18.0
    spread = z * math.sqrt(max(variance, 0.0))
    pairs = slopes.size
    low_rank = int(np.round((pairs - spread) / 2.0)) - 1
    high_rank = int(np.round((pairs + spread) / 2.0))
    low_rank, high_rank = max(low_rank, 0), min(high_rank, pairs - 1)
    return Slope(estimate, float(slopes[low_rank]), float(slopes[high_rank]))


def _tie_term(values: np.ndarray) -> float:
    counts = np.unique(values, return_counts=True)[1]
    counts = counts[counts > 1].astype(float)
    return float(np.sum(counts * (counts - 1) * (2 * counts + 5)))

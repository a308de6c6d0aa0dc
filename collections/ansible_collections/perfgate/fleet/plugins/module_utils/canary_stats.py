"""Statistics for the canary judge, on weighted samples so raw samples and histogram buckets share
one implementation. Pure functions; numpy and the standard library only.

A WeightedSample holds sorted distinct values and how often each occurs: raw latency samples
become (value, 1) pairs merged on ties, a Prometheus histogram becomes one representative value
per bucket weighted by the bucket's count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from statistics import NormalDist

import numpy as np

_NORMAL = NormalDist()


@dataclass(frozen=True)
class WeightedSample:
    values: np.ndarray  # sorted, distinct, finite
    weights: np.ndarray  # same length, > 0
    dropped: int = 0  # non-finite inputs left out

    @cached_property
    def n(self) -> float:
        return float(self.weights.sum())

    @classmethod
    def from_samples(cls, samples) -> WeightedSample:
        raw = np.asarray(samples, dtype=float).ravel()
        finite = raw[np.isfinite(raw)]
        values, counts = np.unique(finite, return_counts=True)
        return cls(values, counts.astype(float), dropped=int(raw.size - finite.size))

    @classmethod
    def from_histogram(cls, upper_bounds, cumulative_counts) -> WeightedSample:
        """Prometheus-style cumulative buckets (le). Each bucket is represented by its midpoint;
        the +Inf bucket by the last finite bound, the least its samples can be."""
        bounds = np.asarray(upper_bounds, dtype=float)
        cumulative = np.asarray(cumulative_counts, dtype=float)
        order = np.argsort(bounds)
        bounds, cumulative = bounds[order], cumulative[order]
        if not np.all(np.isfinite(cumulative)):
            return cls(np.empty(0), np.empty(0), dropped=int(cumulative.size))
        counts = np.diff(np.concatenate(([0.0], cumulative)))
        counts = np.clip(counts, 0.0, None)  # counter resets can make buckets dip
        finite = np.isfinite(bounds)
        lower = np.concatenate(([0.0], bounds[:-1]))
        last_finite = bounds[finite].max() if finite.any() else 0.0
        values = np.where(finite, (lower + np.where(finite, bounds, 0.0)) / 2.0, last_finite)
        keep = counts > 0
        merged_values, inverse = np.unique(values[keep], return_inverse=True)
        merged_weights = np.bincount(inverse, weights=counts[keep]) if keep.any() else np.empty(0)
        return cls(merged_values, merged_weights)

    def compressed(self, max_points: int) -> WeightedSample:
        """At most max_points values: evenly spaced weighted quantiles, equal weights, same total."""
        if len(self.values) <= max_points:
            return self
        cumulative = np.cumsum(self.weights)
        targets = (np.arange(max_points) + 0.5) / max_points * cumulative[-1]
        picked = self.values[np.searchsorted(cumulative, targets, side="left").clip(0, len(self.values) - 1)]
        values, counts = np.unique(picked, return_counts=True)
        return WeightedSample(values, counts * (cumulative[-1] / max_points), self.dropped)

    def scaled(self, factor: float, offset: float = 0.0) -> WeightedSample:
        """Every value times factor, plus offset (the worst a tolerated canary may be)."""
        return WeightedSample(self.values * factor + offset, self.weights, self.dropped)

    def quantile(self, q: float) -> float:
        """The smallest value with at least q of the weight at or below it."""
        if self.n == 0:
            return math.nan
        cumulative = self._cumulative[1:]
        index = int(np.searchsorted(cumulative, q * cumulative[-1], side="left"))
        return float(self.values[min(index, len(self.values) - 1)])

    @cached_property
    def _cumulative(self) -> np.ndarray:
        """Running total of the weights with a leading 0; computed once, used by every lookup."""
        return np.concatenate(([0.0], np.cumsum(self.weights)))

    def weight_below(self, points: np.ndarray, inclusive: bool) -> np.ndarray:
        """For each point, the total weight of values < point (or <= point)."""
        return self._cumulative[np.searchsorted(self.values, points, side="right" if inclusive else "left")]


def pooled_quantile(a: WeightedSample, b: WeightedSample, q: float) -> float:
    """The q-quantile of a and b taken together, without building the merged sample."""
    total = a.n + b.n
    if total == 0:
        return math.nan
    low = float(min(a.values[0] if a.n else math.inf, b.values[0] if b.n else math.inf))
    high = float(max(a.values[-1] if a.n else -math.inf, b.values[-1] if b.n else -math.inf))
    target = q * total
    for _ in range(100):
        if high - low <= 1e-12 * max(abs(high), 1.0):
            break
        middle = (low + high) / 2.0
        at_or_below = float(a.weight_below([middle], inclusive=True)[0] + b.weight_below([middle], inclusive=True)[0])
        if at_or_below >= target:
            high = middle
        else:
            low = middle
    return high


@dataclass(frozen=True)
class RankTest:
    u: float  # Mann-Whitney U of the canary
    z: float
    p_greater: float  # P-value for "canary tends to be larger"
    p_less: float  # P-value for "canary tends to be smaller"


def mann_whitney(canary: WeightedSample, baseline: WeightedSample) -> RankTest:
    """Mann-Whitney U with tie correction and continuity correction, normal approximation."""
    n_c, n_b = canary.n, baseline.n
    below = baseline.weight_below(canary.values, inclusive=False)
    at_or_below = baseline.weight_below(canary.values, inclusive=True)
    u = float(np.dot(canary.weights, below + 0.5 * (at_or_below - below)))
    # Tie correction: sum of t^3 - t over the multiplicity t of every distinct pooled value. Each
    # sample's own multiplicities are its weights; values present in both samples merge.
    shared_in_baseline = np.searchsorted(baseline.values, canary.values).clip(0, max(len(baseline.values) - 1, 0))
    shared = baseline.values[shared_in_baseline] == canary.values if len(baseline.values) else np.zeros(0, dtype=bool)
    w_c, w_b = canary.weights[shared], baseline.weights[shared_in_baseline[shared]]
    tie_sum = float(
        np.sum(canary.weights**3 - canary.weights) + np.sum(baseline.weights**3 - baseline.weights)
    ) + float(np.sum((w_c + w_b) ** 3 - (w_c + w_b) - (w_c**3 - w_c) - (w_b**3 - w_b)))
    total = n_c + n_b
    tie_term = tie_sum / (total * (total - 1)) if total > 1 else 0.0
    variance = n_c * n_b / 12.0 * ((total + 1) - tie_term)
    mean = n_c * n_b / 2.0
    if variance <= 0:
        return RankTest(u, 0.0, 1.0, 1.0)
    sd = math.sqrt(variance)
    z_greater = (u - mean - 0.5) / sd
    z_less = (u - mean + 0.5) / sd
    return RankTest(u, (u - mean) / sd, 1.0 - _NORMAL.cdf(z_greater), _NORMAL.cdf(z_less))


def _pairs_at_most(canary: WeightedSample, baseline: WeightedSample, shift: float) -> float:
    """Weight of pairs (c, b) with c - b <= shift."""
    return float(np.dot(canary.weights, baseline.n - baseline.weight_below(canary.values - shift, inclusive=False)))


def _shift_at_rank(canary: WeightedSample, baseline: WeightedSample, rank: float) -> float:
    """The smallest shift d with at least `rank` pairs having c - b <= d (an order statistic of
    the pairwise differences), by bisection on the value: the n*m differences are never built."""
    low = float(canary.values[0] - baseline.values[-1])
    high = float(canary.values[-1] - baseline.values[0])
    scale = max(abs(low), abs(high), 1e-12)
    for _ in range(60):
        if high - low <= 1e-7 * scale:
            break
        middle = (low + high) / 2.0
        if _pairs_at_most(canary, baseline, middle) >= rank:
            high = middle
        else:
            low = middle
    return high


@dataclass(frozen=True)
class ShiftEstimate:
    estimate: float
    low: float
    high: float


# Above this many distinct values per sample, the shift is estimated on evenly spaced quantiles
# of each sample: the error is below one quantile step (1/4096 of the distribution), far inside
# the interval, and the cost stays O(4096 log 4096) per bisection step instead of O(n log m).
HL_MAX_POINTS = 4096


def hodges_lehmann(canary: WeightedSample, baseline: WeightedSample, confidence: float) -> ShiftEstimate:
    """Hodges-Lehmann shift (median of canary - baseline differences) and its distribution-free
    confidence interval from the Mann-Whitney critical value."""
    canary, baseline = canary.compressed(HL_MAX_POINTS), baseline.compressed(HL_MAX_POINTS)
    pairs = canary.n * baseline.n
    total = canary.n + baseline.n
    z = _NORMAL.inv_cdf(0.5 + confidence / 2.0)
    half_width = z * math.sqrt(canary.n * baseline.n * (total + 1) / 12.0)
    lower_rank = max(1.0, math.floor(pairs / 2.0 - half_width))
    upper_rank = min(pairs, math.ceil(pairs / 2.0 + half_width) + 1)
    return ShiftEstimate(
        estimate=_shift_at_rank(canary, baseline, pairs / 2.0),
        low=_shift_at_rank(canary, baseline, lower_rank),
        high=_shift_at_rank(canary, baseline, upper_rank),
    )


def proportion_greater(successes_a: float, n_a: float, successes_b: float, n_b: float, margin: float = 0.0) -> float:
    """One-sided p-value for rate_a > rate_b + margin (two-proportion z-test, unpooled when a
    margin is given, pooled otherwise)."""
    rate_a, rate_b = successes_a / n_a, successes_b / n_b
    if margin == 0.0:
        pooled = (successes_a + successes_b) / (n_a + n_b)
        variance = pooled * (1 - pooled) * (1 / n_a + 1 / n_b)
    else:
        variance = rate_a * (1 - rate_a) / n_a + rate_b * (1 - rate_b) / n_b
    if variance <= 0:
        return 0.0 if rate_a > rate_b + margin else 1.0
    return 1.0 - _NORMAL.cdf((rate_a - rate_b - margin) / math.sqrt(variance))


def wilson_lower_bound(successes: float, n: float, confidence: float) -> float:
    """Lower end of the one-sided Wilson score interval for a rate."""
    if n <= 0:
        return 0.0
    z = _NORMAL.inv_cdf(confidence)
    rate = successes / n
    centre = rate + z * z / (2 * n)
    spread = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n))
    return max(0.0, (centre - spread) / (1 + z * z / n))


def _log_choose(n: float, k: float) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


# Above this many exceedances in total, the normal approximation is accurate and much cheaper.
_FISHER_EXACT_LIMIT = 2000


def fisher_greater(over_a: float, n_a: float, over_b: float, n_b: float) -> float:
    """One-sided p-value that sample a has a larger share of exceedances than sample b: Fisher's
    exact test (hypergeometric tail), exact where counts are small, which is where the normal
    approximation is badly anti-conservative."""
    over_a, over_b, n_a, n_b = round(over_a), round(over_b), round(n_a), round(n_b)
    total_over = over_a + over_b
    if total_over == 0:
        return 1.0
    if total_over > _FISHER_EXACT_LIMIT:
        return proportion_greater(over_a, n_a, over_b, n_b)
    population = n_a + n_b
    log_denominator = _log_choose(population, total_over)
    terms = [
        _log_choose(n_a, k) + _log_choose(n_b, total_over - k) - log_denominator
        for k in range(over_a, min(total_over, n_a) + 1)
        if total_over - k <= n_b
    ]
    if not terms:
        return 0.0
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))

"""Metric specifications for the canary gate: parsed and validated once, before anything is
queried, so a typo fails the run with a message instead of half-way through a rollout."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from ansible_collections.perfgate.fleet.plugins.module_utils.canary_judge import KINDS, SEQUENTIAL_KINDS, Thresholds

SOURCES = ("prometheus", "cloudwatch", "file")
GROUP_PLACEHOLDER = re.compile(r"\{\{\s*group\s*\}\}|\$\{group\}")
# Filled with the seconds since the previous evaluation ("37s"), so consecutive windows abut:
# the judge accumulates them, and overlapping windows would count requests twice.
SINCE_PLACEHOLDER = "${since}"
# Readings a memory metric needs before its slope is judged, unless min_samples says otherwise.
MEMORY_MIN_READINGS = 5
THRESHOLD_KEYS = (
    "min_samples",
    "confidence",
    "max_increase",
    "quantiles",
    "ceiling",
    "margin",
    "minimum",
    "maximum",
    "slo",
    "burn_factor",
)
# Thresholds that may tighten per step: give a list, one value per step (the last one repeats).
PER_STEP = ("max_increase", "confidence", "ceiling", "minimum", "maximum", "burn_factor", "margin")


class ConfigError(ValueError):
    """A metric or policy setting that cannot work; the message names the metric and the field."""


@dataclass(frozen=True)
class MetricSpec:
    name: str
    source: str
    kind: str
    queries: dict  # group name ('canary' / 'baseline', or 'canary' only) -> query (str or dict)
    critical: bool = False
    settings: dict = field(default_factory=dict)  # threshold name -> value or per-step list

    def thresholds(self, step_index: int) -> Thresholds:
        values = {}
        for key, value in self.settings.items():
            if isinstance(value, list):
                value = value[min(max(step_index, 0), len(value) - 1)]
            values[key] = tuple(value) if key == "quantiles" else value
        return Thresholds(**values)


def fill_since(query, seconds: int):
    """Put the window length where the query says ${since}."""
    if isinstance(query, str):
        return query.replace(SINCE_PLACEHOLDER, f"{seconds}s")
    if isinstance(query, dict):
        return {k: fill_since(v, seconds) for k, v in query.items()}
    return query


def _strings(query):
    if isinstance(query, str):
        yield query
    elif isinstance(query, dict):
        for value in query.values():
            yield from _strings(value)


def fill_group(query, group: str):
    """Put the group's name where the query says {{ group }} or ${group}."""
    if isinstance(query, str):
        return GROUP_PLACEHOLDER.sub(group, query)
    if isinstance(query, dict):
        return {k: fill_group(v, group) for k, v in query.items()}
    return query


def parse_metric(raw: dict, groups: dict[str, str]) -> MetricSpec:
    if not isinstance(raw, dict):
        raise ConfigError(f"each metric must be a mapping, got {raw!r}")
    raw = {key: value for key, value in raw.items() if value is not None}  # the module's unset sub-options
    name = raw.get("name")
    if not name or not isinstance(name, str):
        raise ConfigError(f"a metric has no name: {raw!r}")
    where = f"metric {name!r}"
    source = raw.get("source", "prometheus")
    if source not in SOURCES:
        raise ConfigError(f"{where}: source must be one of {', '.join(SOURCES)}, not {source!r}")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise ConfigError(f"{where}: kind must be one of {', '.join(KINDS)}, not {kind!r}")
    wanted = ("canary",) if kind in ("gauge", "burn_rate") else ("canary", "baseline")
    if "query" in raw:
        if any(g in raw for g in ("canary", "baseline")):
            raise ConfigError(f"{where}: give either query (a template) or canary/baseline queries, not both")
        template = raw["query"]
        if source == "prometheus" and not _has_placeholder(template) and len(wanted) > 1:
            raise ConfigError(f"{where}: the query template has no {{{{ group }}}} or ${{group}} placeholder")
        queries = {g: fill_group(template, groups[g]) for g in wanted}
    elif source == "file":
        queries = {g: raw.get(g, name) for g in wanted}
    else:
        missing = [g for g in wanted if g not in raw]
        if missing:
            raise ConfigError(f"{where}: missing the {' and '.join(missing)} query (or one query template)")
        queries = {g: raw[g] for g in wanted}
    if kind == "ratio" and source != "file":
        for group, query in queries.items():
            if not (isinstance(query, dict) and {"errors", "requests"} <= set(query)):
                raise ConfigError(f"{where}: a ratio's {group} query must have 'errors' and 'requests'")
    if kind in SEQUENTIAL_KINDS and source == "prometheus":
        for group, query in queries.items():
            if not all(SINCE_PLACEHOLDER in text for text in _strings(query)):
                raise ConfigError(
                    f"{where}: the {group} query must cover the time since the previous evaluation: use "
                    f"{SINCE_PLACEHOLDER} as its range, e.g. increase(...[{SINCE_PLACEHOLDER}]); a fixed range "
                    "would count requests twice when evaluations are closer together than the range"
                )
    if kind in SEQUENTIAL_KINDS and source == "cloudwatch":
        queries = {g: _look_back_since(q) for g, q in queries.items()}
    if kind == "burn_rate" and source != "file":
        query = queries["canary"]
        if not (isinstance(query, dict) and all(isinstance(query.get(w), dict) for w in ("long", "short"))):
            raise ConfigError(f"{where}: a burn_rate query needs long and short windows, each with errors and requests")

    settings = {}
    for key in THRESHOLD_KEYS:
        if raw.get(key) is not None:
            settings[key] = _checked(where, key, raw[key])
    if kind == "gauge" and "minimum" not in settings and "maximum" not in settings:
        raise ConfigError(f"{where}: a gauge needs minimum and/or maximum")
    if kind == "memory":
        if not settings.get("margin"):
            raise ConfigError(f"{where}: a memory metric needs margin, the growth in bytes per minute it may add")
        settings.setdefault("min_samples", MEMORY_MIN_READINGS)
    extra = set(raw) - {"name", "source", "kind", "query", "canary", "baseline", "critical", *THRESHOLD_KEYS}
    if extra:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(sorted(extra))}")
    return MetricSpec(name, source, kind, queries, bool(raw.get("critical", False)), settings)


def _look_back_since(query):
    """CloudWatch queries (mappings with a namespace) look back to the previous evaluation
    unless they name their own minutes."""
    if isinstance(query, dict) and "namespace" in query:
        return query if "minutes" in query else {**query, "minutes": SINCE_PLACEHOLDER}
    if isinstance(query, dict):
        return {k: _look_back_since(v) for k, v in query.items()}
    return query


def _has_placeholder(query) -> bool:
    if isinstance(query, str):
        return bool(GROUP_PLACEHOLDER.search(query))
    if isinstance(query, dict):
        return all(_has_placeholder(v) for v in query.values())
    return False


def _checked(where: str, key: str, value):
    values = value if isinstance(value, list) and key != "quantiles" else [value]
    if isinstance(value, list) and key not in PER_STEP and key != "quantiles":
        raise ConfigError(f"{where}: {key} cannot vary per step")
    for item in values:
        if key == "quantiles":
            if not (isinstance(item, list) and item and all(_number(q) and 0 < q < 1 for q in item)):
                raise ConfigError(f"{where}: quantiles must be a list of numbers between 0 and 1")
            continue
        if not _number(item):
            raise ConfigError(f"{where}: {key} must be a number, got {item!r}")
        if key in ("confidence", "slo") and not 0.5 <= item < 1:
            raise ConfigError(f"{where}: {key} must be at least 0.5 and below 1, got {item}")
        if key in ("max_increase", "margin", "ceiling", "burn_factor") and item < 0:
            raise ConfigError(f"{where}: {key} cannot be negative, got {item}")
        if key == "min_samples" and (item < 1 or item != int(item)):
            raise ConfigError(f"{where}: min_samples must be a whole number of at least 1, got {item}")
    if key == "min_samples":
        return int(value)
    return value


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def parse_steps(steps) -> tuple[int, ...]:
    if not steps or not isinstance(steps, (list, tuple)):
        raise ConfigError("steps must be a non-empty list of canary weights in percent, e.g. [10, 25, 50, 100]")
    for step in steps:
        if not isinstance(step, int) or isinstance(step, bool) or not 0 < step <= 100:
            raise ConfigError(f"steps: each weight must be a whole percentage from 1 to 100, got {step!r}")
    if list(steps) != sorted(set(steps)):
        raise ConfigError(f"steps must increase strictly, got {list(steps)}")
    return tuple(steps)

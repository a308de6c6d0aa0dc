"""One evaluation: ask each metric's source for this window's numbers and have the judge rule on
them with the evidence kept from earlier windows. A source that fails yields an error or nodata
verdict for that metric, with its evidence unchanged; the evaluation goes on."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ansible_collections.perfgate.fleet.plugins.module_utils.canary_judge import (
    Judgement,
    judge_burn_rate,
    judge_gauge,
    judge_latency,
    judge_memory,
    judge_ratio,
)
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_metrics import MetricSpec, fill_since
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_sources import NoData, Source, SourceError
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_stats import InputError
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_verdict import ERROR, NODATA, MetricVerdict


@dataclass(frozen=True)
class Window:
    """Where this evaluation stands: the step, the canary's share, the gate's clock now and when
    the rollout started (for readings judged over time), and, per metric, the clock up to which
    its requests are already in the evidence. A metric's window runs from there to now, so a
    window that brought no data (an outage, a missed scrape) is read again, never skipped."""

    step_index: int
    traffic_share: float
    now: float = 0.0
    started: float = 0.0
    judged_until: dict = field(default_factory=dict)
    one_shot: bool = False  # two result files compared once (the CI judge), not a rollout

    def seconds(self, metric: str) -> int:
        since = self.judged_until.get(metric, self.started)
        return max(1, math.ceil(self.now - since))


def judge_metric(metric: MetricSpec, source: Source, window: Window, evidence: dict | None) -> Judgement:
    t = metric.thresholds(window.step_index)
    q = {group: fill_since(query, window.seconds(metric.name)) for group, query in metric.queries.items()}
    name, critical = metric.name, metric.critical
    try:
        if metric.kind == "latency":
            canary, baseline = source.samples(q["canary"], "canary"), source.samples(q["baseline"], "baseline")
            return judge_latency(name, critical, canary, baseline, evidence, t, window.one_shot)
        if metric.kind == "ratio":
            canary, baseline = source.counts(q["canary"], "canary"), source.counts(q["baseline"], "baseline")
            return judge_ratio(name, critical, canary, baseline, evidence, t)
        if metric.kind == "memory":
            canary, baseline = source.value(q["canary"], "canary"), source.value(q["baseline"], "baseline")
            return judge_memory(name, critical, window.now - window.started, canary, baseline, evidence, t)
        if metric.kind == "gauge":
            return judge_gauge(name, critical, source.value(q["canary"], "canary"), t)
        return judge_burn_rate(
            name,
            critical,
            source.window_counts(q["canary"], "canary", "long"),
            source.window_counts(q["canary"], "canary", "short"),
            window.traffic_share,
            t,
        )
    except NoData as why:
        return Judgement(MetricVerdict(name, metric.kind, NODATA, critical, f"{name}: no data: {why}"))
    except (SourceError, InputError) as why:
        return Judgement(MetricVerdict(name, metric.kind, ERROR, critical, f"{name}: {why}"))
    except Exception as why:  # a bug or a surprise in one metric must not take the gate down
        return Judgement(
            MetricVerdict(name, metric.kind, ERROR, critical, f"{name}: unexpected {type(why).__name__}: {why}")
        )


def evaluate(
    metrics: list[MetricSpec], sources: dict[str, Source], window: Window, evidence: dict | None = None
) -> tuple[list[MetricVerdict], dict, dict]:
    """The verdicts, every metric's evidence after this window, and up to when each metric's
    requests are now in the evidence (unchanged where a metric brought nothing)."""
    evidence, judged_until = dict(evidence or {}), dict(window.judged_until)
    verdicts = []
    for metric in metrics:
        judgement = judge_metric(metric, sources[metric.source], window, evidence.get(metric.name))
        verdicts.append(judgement.verdict)
        if judgement.evidence is not None:
            evidence[metric.name] = judgement.evidence
            judged_until[metric.name] = window.now
    return verdicts, evidence, judged_until


def preflight(metrics: list[MetricSpec], sources: dict[str, Source], seconds: int) -> list[str]:
    """Before the first canary traffic: every metric's baseline query must answer with series.
    Returns the problems, one sentence each; empty when the gate can judge every metric."""
    problems = []
    for metric in metrics:
        group = "baseline" if "baseline" in metric.queries else "canary"
        if group == "canary" and metric.kind in ("gauge", "burn_rate"):
            continue  # a canary-only metric has nothing to show before the canary serves
        try:
            sources[metric.source].preflight(fill_since(metric.queries[group], seconds))
        except (NoData, SourceError) as why:
            problems.append(f"{metric.name}: {why}")
    return problems

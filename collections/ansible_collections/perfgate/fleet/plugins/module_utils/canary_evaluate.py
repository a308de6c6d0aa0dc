"""One evaluation: ask each metric's source for its numbers and have the judge rule on them.
A source that fails yields an error or nodata verdict for that metric; the evaluation goes on."""

from __future__ import annotations

from ansible_collections.perfgate.fleet.plugins.module_utils.canary_judge import (
    ERROR,
    NODATA,
    MetricVerdict,
    judge_burn_rate,
    judge_gauge,
    judge_latency,
    judge_ratio,
)
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_metrics import MetricSpec
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_sources import NoData, Source, SourceError


def judge_metric(metric: MetricSpec, source: Source, step_index: int, traffic_share: float) -> MetricVerdict:
    t = metric.thresholds(step_index)
    q = metric.queries
    try:
        if metric.kind == "latency":
            return judge_latency(
                metric.name,
                metric.critical,
                source.samples(q["canary"], "canary"),
                source.samples(q["baseline"], "baseline"),
                t,
            )
        if metric.kind == "ratio":
            return judge_ratio(
                metric.name,
                metric.critical,
                source.counts(q["canary"], "canary"),
                source.counts(q["baseline"], "baseline"),
                t,
            )
        if metric.kind == "gauge":
            return judge_gauge(metric.name, metric.critical, source.value(q["canary"], "canary"), t)
        return judge_burn_rate(
            metric.name,
            metric.critical,
            source.window_counts(q["canary"], "canary", "long"),
            source.window_counts(q["canary"], "canary", "short"),
            traffic_share,
            t,
        )
    except NoData as why:
        return MetricVerdict(metric.name, metric.kind, NODATA, metric.critical, f"{metric.name}: no data: {why}")
    except SourceError as why:
        return MetricVerdict(metric.name, metric.kind, ERROR, metric.critical, f"{metric.name}: {why}")
    except Exception as why:  # a bug or a surprise in one metric must not take the gate down
        return MetricVerdict(
            metric.name, metric.kind, ERROR, metric.critical, f"{metric.name}: unexpected {type(why).__name__}: {why}"
        )


def evaluate(
    metrics: list[MetricSpec], sources: dict[str, Source], step_index: int, traffic_share: float
) -> list[MetricVerdict]:
    return [judge_metric(m, sources[m.source], step_index, traffic_share) for m in metrics]

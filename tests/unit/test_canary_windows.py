"""Each metric's window runs from where its evidence ends to now: a window that brought nothing
is read again at the next evaluation, so an outage or a missed scrape leaves no gap."""

from __future__ import annotations

from ansible_collections.perfgate.fleet.plugins.module_utils.canary_evaluate import Window, evaluate
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_metrics import parse_metric
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_sources import NoData, Source
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_stats import Histogram


class Recording(Source):
    """Answers latency queries with 100 requests per group, or NoData while `down`."""

    def __init__(self):
        self.asked, self.down = [], False

    def samples(self, query, group):
        self.asked.append(query)
        if self.down:
            raise NoData("Prometheus has no samples in the window")
        return Histogram.from_samples([0.01] * 100)


METRIC = parse_metric(
    {"name": "latency", "kind": "latency", "query": 'sum by (le) (increase(x{group="${group}"}[${since}]))'},
    {"canary": "canary", "baseline": "stable"},
)


def test_a_window_without_data_is_read_again_not_skipped():
    source = Recording()
    _, evidence, until = evaluate([METRIC], {"prometheus": source}, Window(0, 0.1, now=1010.0, started=1000.0))
    assert source.asked[-1].endswith("[10s]))") and until == {"latency": 1010.0}
    source.down = True
    verdicts, evidence, until = evaluate(
        [METRIC], {"prometheus": source}, Window(0, 0.1, 1015.0, 1000.0, until), evidence
    )
    assert verdicts[0].verdict == "nodata" and until == {"latency": 1010.0}
    source.down = False
    verdicts, _, until = evaluate([METRIC], {"prometheus": source}, Window(0, 0.1, 1022.0, 1000.0, until), evidence)
    assert source.asked[-1].endswith("[12s]))")  # 1010 -> 1022: the missed window included
    assert until == {"latency": 1022.0} and verdicts[0].numbers["canary_n"] == 200

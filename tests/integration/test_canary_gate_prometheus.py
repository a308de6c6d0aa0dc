"""canary_gate reading a real Prometheus that scrapes a small exporter with known values."""

from __future__ import annotations

import http.server
import threading
import time

import numpy as np
import pytest
from ansible_run import run_task
from servers import Prometheus, free_port, wait_until

BOUNDS = [0.002, 0.004, 0.006, 0.008, 0.01, 0.012, 0.014, 0.017, 0.02, 0.025, 0.03, 0.05, 0.1]


class Exporter:
    """Serves /metrics with whatever text the test sets."""

    def __init__(self):
        self.text = ""
        self.counters: dict[str, list[int]] = {}
        self.port = free_port()
        exporter = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = exporter.text.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add(self, group: str, samples: np.ndarray) -> None:
        """Count requests the way prometheus_client does: cumulative buckets that only grow."""
        counts = self.counters.setdefault(group, [0] * (len(BOUNDS) + 2))
        for i, bound in enumerate(BOUNDS):
            counts[i] += int(np.sum(samples <= bound))
        counts[-2] += samples.size  # +Inf
        counts[-1] += samples.size  # requests_total
        self.publish()

    def forget(self, group: str) -> None:
        self.counters.pop(group, None)
        self.publish()

    def publish(self) -> None:
        lines = []
        for group, counts in self.counters.items():
            for bound, count in zip([*BOUNDS, "+Inf"], counts, strict=False):
                lines.append(f'demo_latency_seconds_bucket{{group="{group}",le="{bound}"}} {count}')
            lines.append(f'demo_requests_total{{group="{group}"}} {counts[-1]}')
        self.text = "\n".join(lines) + "\n"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def monitored(tmp_path):
    exporter = Exporter()
    exporter.add("baseline", np.random.default_rng(0).lognormal(np.log(0.01), 0.2, 5000))
    exporter.add("canary", np.zeros(0))
    prometheus = Prometheus(tmp_path, f"127.0.0.1:{exporter.port}")
    yield exporter, prometheus
    prometheus.stop()
    exporter.stop()


def wait_for_series(prometheus: Prometheus, group: str, present: bool) -> None:
    import json
    import urllib.parse
    import urllib.request

    query = urllib.parse.quote(f'demo_requests_total{{group="{group}"}}')

    def seen():
        with urllib.request.urlopen(f"{prometheus.url}/api/v1/query?query={query}", timeout=2) as answer:
            return bool(json.load(answer)["data"]["result"]) == present

    wait_until(seen, 30, f"the {group} series to be {'present' if present else 'gone'} in Prometheus")


def gate(tmp_path, prometheus_url, query="demo_latency_seconds_bucket", **extra):
    return {
        "perfgate.fleet.canary_gate": {
            "rollout": "prom-test",
            "state_dir": str(tmp_path / "state"),
            "prometheus_url": prometheus_url,
            "prometheus_timeout": 3,
            "metrics": [
                {
                    "name": "latency",
                    "source": "prometheus",
                    "kind": "latency",
                    "query": f'sum by (le) (increase({query}{{group="${{group}}"}}[${{since}}]))',
                }
            ],
            "traffic": {"file": {"path": str(tmp_path / "weight.json")}},
            **extra,
        }
    }


def serve(exporter: Exporter, seed: int, canary_median: float) -> None:
    """One window of traffic: 1000 canary and 5000 baseline requests, then two scrapes.

    The burst waits for a scrape after the previous evaluation first: increase() over the window
    only sees a jump whose last sample before it lies inside the window, and a burst that lands
    within one scrape interval of the previous evaluation has that sample before the window (found
    when this test failed every time on an idle machine). Real traffic is steady, and
    increase()'s extrapolation to the window's ends counts it."""
    time.sleep(1.5)
    rng = np.random.default_rng(seed)
    exporter.add("baseline", rng.lognormal(np.log(0.01), 0.2, 5000))
    exporter.add("canary", rng.lognormal(np.log(canary_median), 0.2, 1000))
    time.sleep(2.5)  # Prometheus scrapes every second


def test_decisions_follow_what_prometheus_reports(tmp_path, monitored):
    exporter, prometheus = monitored
    wait_for_series(prometheus, "baseline", present=True)
    time.sleep(1.5)
    assert run_task(gate(tmp_path, prometheus.url))["decision"] == "advance"  # pre-flight passed: 10%
    serve(exporter, seed=1, canary_median=0.01)
    good = run_task(gate(tmp_path, prometheus.url))
    assert good["decision"] == "advance", good["reasons"]
    assert good["verdicts"][0]["verdict"] == "pass"
    # increase() over the time since the previous call: this window's 1000 requests, give or take
    # its extrapolation to the window's ends. The exporter adds each window's requests in one
    # burst, the worst case for that extrapolation (steady traffic averages it out).
    assert 750 <= good["verdicts"][0]["numbers"]["window_canary_n"] <= 1250

    serve(exporter, seed=2, canary_median=0.016)
    bad = run_task(gate(tmp_path, prometheus.url))
    assert bad["verdicts"][0]["verdict"] == "fail", bad["reasons"]
    assert bad["decision"] == "rollback"  # an anytime-valid fail needs no second look
    assert 1600 <= bad["verdicts"][0]["numbers"]["canary_n"] <= 2500  # both windows, each once


def test_pre_flight_refuses_a_query_without_series(tmp_path, monitored):
    _, prometheus = monitored
    wait_for_series(prometheus, "baseline", present=True)
    result = run_task(gate(tmp_path, prometheus.url, query="no_such_metric_bucket"))
    assert result.get("failed"), result
    assert "refusing to start the rollout" in result["msg"] and "no series" in result["msg"]
    assert not (tmp_path / "weight.json").exists()


def test_stale_canary_series_is_nodata(tmp_path, monitored):
    exporter, prometheus = monitored
    wait_for_series(prometheus, "baseline", present=True)
    run_task(gate(tmp_path, prometheus.url))
    exporter.forget("canary")  # the canary's series stop being exported
    wait_for_series(prometheus, "canary", present=False)
    result = run_task(gate(tmp_path, prometheus.url))
    assert result["decision"] == "hold"
    assert result["verdicts"][0]["verdict"] == "nodata", result["verdicts"]


def test_prometheus_stopped_mid_rollout_never_advances(tmp_path, monitored):
    _, prometheus = monitored
    wait_for_series(prometheus, "baseline", present=True)
    assert run_task(gate(tmp_path, prometheus.url))["decision"] == "advance"
    state_file = tmp_path / "state" / "prom-test.json"
    prometheus.stop()
    results = [run_task(gate(tmp_path, prometheus.url)) for _ in range(3)]
    assert [r["decision"] for r in results] == ["hold", "hold", "rollback"]
    assert all(r["verdicts"][0]["verdict"] == "error" for r in results)
    assert "cannot reach Prometheus" in results[0]["verdicts"][0]["reason"]
    assert state_file.exists() and '"status": "rolled_back"' in state_file.read_text()

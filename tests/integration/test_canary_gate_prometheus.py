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


def histogram_lines(group: str, samples: np.ndarray) -> list[str]:
    lines = [f'demo_latency_seconds_bucket{{group="{group}",le="{b}"}} {int(np.sum(samples <= b))}' for b in BOUNDS]
    lines.append(f'demo_latency_seconds_bucket{{group="{group}",le="+Inf"}} {samples.size}')
    lines.append(f'demo_requests_total{{group="{group}"}} {samples.size}')
    return lines


class Exporter:
    """Serves /metrics with whatever text the test sets."""

    def __init__(self):
        self.text = ""
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

    def publish(self, canary_median: float | None, seed: int = 1) -> None:
        rng = np.random.default_rng(seed)
        lines = histogram_lines("baseline", rng.lognormal(np.log(0.01), 0.2, 5000))
        if canary_median is not None:
            lines += histogram_lines("canary", rng.lognormal(np.log(canary_median), 0.2, 1000))
        self.text = "\n".join(lines) + "\n"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def monitored(tmp_path):
    exporter = Exporter()
    exporter.publish(canary_median=0.01)
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


def gate(tmp_path, prometheus_url, **extra):
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
                    "query": 'sum by (le) (demo_latency_seconds_bucket{group="${group}"})',
                }
            ],
            "traffic": {"file": {"path": str(tmp_path / "weight.json")}},
            **extra,
        }
    }


def test_decisions_follow_what_prometheus_reports(tmp_path, monitored):
    exporter, prometheus = monitored
    wait_for_series(prometheus, "canary", present=True)
    assert run_task(gate(tmp_path, prometheus.url))["decision"] == "advance"  # start at 10%
    good = run_task(gate(tmp_path, prometheus.url))
    assert good["decision"] == "advance", good["reasons"]
    assert good["verdicts"][0]["verdict"] == "pass"
    assert good["verdicts"][0]["numbers"]["canary_n"] == 1000

    exporter.publish(canary_median=0.016, seed=2)
    time.sleep(2.5)  # let Prometheus scrape the slower canary (1 s interval)
    bad = run_task(gate(tmp_path, prometheus.url))
    assert bad["decision"] == "hold" and bad["verdicts"][0]["verdict"] == "fail", bad["reasons"]
    assert run_task(gate(tmp_path, prometheus.url))["decision"] == "rollback"


def test_stale_canary_series_is_nodata(tmp_path, monitored):
    exporter, prometheus = monitored
    wait_for_series(prometheus, "canary", present=True)
    run_task(gate(tmp_path, prometheus.url))
    exporter.publish(canary_median=None)  # the canary's series stop being exported
    wait_for_series(prometheus, "canary", present=False)
    result = run_task(gate(tmp_path, prometheus.url))
    assert result["decision"] == "hold"
    assert result["verdicts"][0]["verdict"] == "nodata", result["verdicts"]


def test_prometheus_stopped_mid_rollout_never_advances(tmp_path, monitored):
    _, prometheus = monitored
    wait_for_series(prometheus, "canary", present=True)
    assert run_task(gate(tmp_path, prometheus.url))["decision"] == "advance"
    state_file = tmp_path / "state" / "prom-test.json"
    prometheus.stop()
    results = [run_task(gate(tmp_path, prometheus.url)) for _ in range(3)]
    assert [r["decision"] for r in results] == ["hold", "hold", "rollback"]
    assert all(r["verdicts"][0]["verdict"] == "error" for r in results)
    assert "cannot reach Prometheus" in results[0]["verdicts"][0]["reason"]
    assert state_file.exists() and '"status": "rolled_back"' in state_file.read_text()

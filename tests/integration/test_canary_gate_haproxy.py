"""canary_gate against a real HAProxy: weights set through the runtime API, read back, and the
traffic split measured over 2000 real requests at each step."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ansible_run import run_task
from servers import HAProxy, NamedBackend

SERVERS = ["stable1", "stable2", "canary1"]


@pytest.fixture
def haproxy(tmp_path):
    backends = {name: NamedBackend(name) for name in SERVERS}
    proxy = HAProxy(tmp_path, {n: b.port for n, b in backends.items()}, {"stable1": 100, "stable2": 100, "canary1": 0})
    yield proxy
    proxy.stop()
    for backend in backends.values():
        backend.stop()


def good_metrics(path):
    rng = np.random.default_rng(9)
    path.write_text(
        json.dumps(
            {
                "metrics": {
                    "latency": {
                        "baseline": list(rng.lognormal(np.log(0.01), 0.2, 3000)),
                        "canary": list(rng.lognormal(np.log(0.01), 0.2, 500)),
                    }
                }
            }
        )
    )


def gate_task(tmp_path, proxy, socket=None, **extra):
    return {
        "perfgate.fleet.canary_gate": {
            "rollout": "haproxy-test",
            "state_dir": str(tmp_path / "state"),
            "steps": [10, 25, 50, 100],
            "metrics_file": str(tmp_path / "metrics.json"),
            "metrics": [{"name": "latency", "source": "file", "kind": "latency"}],
            "traffic": {
                "haproxy": {
                    "socket": socket or proxy.socket,
                    "backend": "app",
                    "stable_servers": ["stable1", "stable2"],
                    "canary_servers": ["canary1"],
                }
            },
            **extra,
        }
    }


def test_gate_moves_the_real_traffic_split_10_25_50_100_0(tmp_path, haproxy):
    good_metrics(tmp_path / "metrics.json")
    seen = []
    for expected in (10, 25, 50, 100):
        result = run_task(gate_task(tmp_path, haproxy))
        assert not result.get("failed"), result.get("msg")
        assert result["weight_after"] == expected
        counts = haproxy.served_by(2000)
        share = 100.0 * counts.get("canary1", 0) / 2000
        seen.append(share)
        assert abs(share - expected) <= 3, f"canary got {share}% of requests at weight {expected}%: {counts}"
    assert run_task(gate_task(tmp_path, haproxy))["decision"] == "promote"
    result = run_task(gate_task(tmp_path, haproxy, action="rollback"))
    assert result["weight_after"] == 0
    assert haproxy.served_by(2000).get("canary1", 0) == 0
    assert seen[-1] == 100


def test_missing_socket_is_a_clear_error_and_changes_nothing(tmp_path, haproxy):
    good_metrics(tmp_path / "metrics.json")
    assert run_task(gate_task(tmp_path, haproxy))["weight_after"] == 10
    state_before = (tmp_path / "state" / "haproxy-test.json").read_bytes()
    result = run_task(gate_task(tmp_path, haproxy, socket=str(tmp_path / "gone.sock")))
    assert result.get("failed") is True
    assert "cannot reach the HAProxy runtime API" in result["msg"] and "not moved" in result["msg"]
    assert "Traceback" not in result.get("module_stderr", "")
    assert (tmp_path / "state" / "haproxy-test.json").read_bytes() == state_before
    assert 150 <= haproxy.served_by(2000).get("canary1", 0) <= 250  # still at 10%

"""A whole rollout through the gate, with file metrics and the file traffic backend."""

from __future__ import annotations

import json
import multiprocessing
import os

import numpy as np
import pytest
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_gate_run import GateError, run_gate
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_state import StateStore

AT = "2026-11-22T12:00:00+00:00"


def write_metrics(path, canary_median=0.010, canary_errors=2, n=400):
    rng = np.random.default_rng(42)
    document = {
        "metrics": {
            "latency": {
                "baseline": list(rng.lognormal(np.log(0.010), 0.2, 4000)),
                "canary": list(rng.lognormal(np.log(canary_median), 0.2, n)),
            },
            "errors": {
                "baseline": {"errors": 20, "requests": 10000},
                "canary": {"errors": canary_errors, "requests": n},
            },
        }
    }
    path.write_text(json.dumps(document))


def params(tmp_path, **overrides):
    base = {
        "rollout": "r1",
        "state_dir": str(tmp_path / "state"),
        "steps": [10, 25, 50, 100],
        "action": "evaluate",
        "metrics": [
            {"name": "latency", "source": "file", "kind": "latency"},
            {"name": "errors", "source": "file", "kind": "ratio", "critical": True, "ceiling": 0.01},
        ],
        "groups": {"canary": "canary", "baseline": "baseline"},
        "prometheus_url": None,
        "prometheus_timeout": 5,
        "max_sample_age": 120,
        "metrics_file": str(tmp_path / "metrics.json"),
        "aws_region": None,
        "advance_after": 1,
        "rollback_after": 2,
        "max_nodata": 3,
        "apply": True,
        "traffic": {"file": {"path": str(tmp_path / "weight.json")}},
        "reset": False,
        "lock_timeout": 0.2,
    }
    base.update(overrides)
    return base


def run(tmp_path, check_mode=False, **overrides):
    return run_gate(params(tmp_path, **overrides), check_mode, now=lambda: 0.0, evaluation_id="e", at=AT)


def weight_file(tmp_path):
    return json.loads((tmp_path / "weight.json").read_text())["canary_weight"]


def test_good_canary_walks_every_step_and_is_promoted(tmp_path):
    write_metrics(tmp_path / "metrics.json")
    decisions = [run(tmp_path)["decision"] for _ in range(5)]
    assert decisions == ["advance", "advance", "advance", "advance", "promote"]
    assert weight_file(tmp_path) == 100
    last = run(tmp_path)
    assert last["decision"] == "noop" and "reset" in last["reasons"][0]
    log = (tmp_path / "state" / "r1.decisions.jsonl").read_text().splitlines()
    assert len(log) == 6
    assert json.loads(log[1])["verdicts"][0]["numbers"]["canary_n"] == 400


def test_critical_failure_rolls_back_at_once_and_reads_back_zero(tmp_path):
    write_metrics(tmp_path / "metrics.json", canary_errors=40)
    assert run(tmp_path)["decision"] == "advance"
    result = run(tmp_path)
    assert result["decision"] == "rollback"
    assert result["weight_after"] == 0 and weight_file(tmp_path) == 0
    assert any("critical metric failed (errors)" in r for r in result["reasons"])
    assert run(tmp_path)["decision"] == "noop"
    assert run(tmp_path, reset=True)["decision"] == "advance"


def test_latency_regression_holds_once_then_rolls_back(tmp_path):
    write_metrics(tmp_path / "metrics.json", canary_median=0.014)
    run(tmp_path)
    assert [run(tmp_path)["decision"] for _ in range(2)] == ["hold", "rollback"]


def test_missing_data_never_advances_and_rolls_back_after_max_nodata(tmp_path):
    write_metrics(tmp_path / "metrics.json", n=10)
    run(tmp_path)
    results = [run(tmp_path) for _ in range(3)]
    assert [r["decision"] for r in results] == ["hold", "hold", "rollback"]
    assert all(v["verdict"] == "nodata" for r in results for v in r["verdicts"])


def test_check_mode_writes_nothing(tmp_path):
    write_metrics(tmp_path / "metrics.json")
    result = run(tmp_path, check_mode=True)
    assert result["decision"] == "advance" and result["weight_after"] == 10
    assert not (tmp_path / "state").exists() or not os.listdir(tmp_path / "state")
    assert not (tmp_path / "weight.json").exists()


def test_corrupt_state_is_reported_and_left_intact(tmp_path):
    write_metrics(tmp_path / "metrics.json")
    run(tmp_path)
    state_file = tmp_path / "state" / "r1.json"
    state_file.write_text(state_file.read_text()[:40])
    truncated = state_file.read_bytes()
    with pytest.raises(GateError, match=r"is corrupt .* left untouched"):
        run(tmp_path)
    assert state_file.read_bytes() == truncated
    assert weight_file(tmp_path) == 10


def _hold_lock(state_dir, ready, release):
    with StateStore(state_dir, "r1") as store:
        store.lock(1)
        ready.set()
        release.wait(10)


def test_a_second_run_at_once_fails_clearly_and_changes_nothing(tmp_path):
    write_metrics(tmp_path / "metrics.json")
    run(tmp_path)
    before = (tmp_path / "state" / "r1.json").read_bytes()
    ready, release = multiprocessing.Event(), multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold_lock, args=(str(tmp_path / "state"), ready, release))
    holder.start()
    try:
        assert ready.wait(10)
        with pytest.raises(GateError, match=r"another canary_gate run \(pid \d+\) is working on rollout r1"):
            run(tmp_path)
    finally:
        release.set()
        holder.join(10)
    assert (tmp_path / "state" / "r1.json").read_bytes() == before
    assert weight_file(tmp_path) == 10


def test_manual_rollback_and_drift_repair(tmp_path):
    write_metrics(tmp_path / "metrics.json")
    run(tmp_path)
    (tmp_path / "weight.json").write_text('{"canary_weight": 55}')  # someone changed it by hand
    result = run(tmp_path)
    assert result["weight_before"] == 55
    assert any("load balancer had 55%" in r for r in result["reasons"])
    assert run(tmp_path, action="rollback")["weight_after"] == 0
    assert json.loads((tmp_path / "state" / "r1.json").read_text())["status"] == "rolled_back"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"steps": [10, 5]}, "steps must increase"),
        ({"steps": []}, "steps must be a non-empty list"),
        ({"metrics": [{"name": "x", "kind": "latency", "source": "graphite"}]}, "source must be one of"),
        ({"metrics": [{"name": "x", "kind": "speed", "source": "file"}]}, "kind must be one of"),
        ({"metrics": [{"name": "x", "kind": "latency", "source": "prometheus", "query": "up"}]}, "no {{ group }}"),
        ({"metrics": [{"name": "x", "kind": "gauge", "source": "file"}]}, "a gauge needs minimum"),
        ({"metrics": [{"name": "x", "kind": "latency", "source": "file", "confidence": 1.5}]}, "confidence must be"),
        ({"rollout": "../etc/passwd"}, "rollout id"),
        ({"traffic": {"haproxy": {"socket": "/x"}}}, "traffic.haproxy needs backend"),
        ({"traffic": {"nginx": {}}}, "exactly one of haproxy, aws_alb, ingress_nginx, file"),
        ({"rollback_after": 0}, "rollback_after must be at least 1"),
    ],
)
def test_bad_input_gets_a_clear_error(tmp_path, overrides, message):
    write_metrics(tmp_path / "metrics.json")
    with pytest.raises(GateError, match=message.replace("(", r"\(").replace("{", r"\{").replace("}", r"\}")):
        run(tmp_path, **overrides)

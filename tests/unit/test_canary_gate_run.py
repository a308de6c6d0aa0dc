"""A whole rollout through the gate, with file metrics and the file traffic backend."""

from __future__ import annotations

import json
import multiprocessing
import os
import re

import numpy as np
import pytest
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_gate_run import GateError, run_gate
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_state import StateStore

AT = "2026-11-22T12:00:00+00:00"


def write_metrics(path, canary_median=0.010, canary_errors=1, n=400, seed=42):
    """One evaluation window: the requests that arrived since the previous call."""
    rng = np.random.default_rng(seed)
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


def run(tmp_path, check_mode=False, window=None, **overrides):
    """One gate call; `window` (keyword arguments of write_metrics) writes that call's window first."""
    if window is not None:
        write_metrics(tmp_path / "metrics.json", **window)
    return run_gate(params(tmp_path, **overrides), check_mode, now=lambda: 0.0, evaluation_id="e", at=AT)


def weight_file(tmp_path):
    return json.loads((tmp_path / "weight.json").read_text())["canary_weight"]


def test_the_first_call_starts_without_a_metrics_file(tmp_path):
    result = run(tmp_path)
    assert result["decision"] == "advance" and weight_file(tmp_path) == 10


def test_good_canary_walks_every_step_and_is_promoted(tmp_path):
    decisions = [run(tmp_path)["decision"]] + [run(tmp_path, window={"seed": i})["decision"] for i in range(4)]
    assert decisions == ["advance", "advance", "advance", "advance", "promote"]
    assert weight_file(tmp_path) == 100
    last = run(tmp_path)
    assert last["decision"] == "noop" and "reset" in last["reasons"][0]
    log = (tmp_path / "state" / "r1.decisions.jsonl").read_text().splitlines()
    assert len(log) == 6
    # The evidence accumulates: the fourth window's verdict counts all four windows' requests.
    assert json.loads(log[4])["verdicts"][0]["numbers"]["canary_n"] == 1600
    assert json.loads(log[4])["verdicts"][0]["numbers"]["window_canary_n"] == 400


def test_critical_failure_rolls_back_at_once_and_reads_back_zero(tmp_path):
    assert run(tmp_path)["decision"] == "advance"
    result = run(tmp_path, window={"canary_errors": 40})
    assert result["decision"] == "rollback"
    assert result["weight_after"] == 0 and weight_file(tmp_path) == 0
    assert any("failed on the evidence of the whole rollout (errors)" in r for r in result["reasons"])
    assert run(tmp_path)["decision"] == "noop"
    assert run(tmp_path, reset=True)["decision"] == "advance"
    state = json.loads((tmp_path / "state" / "r1.json").read_text())
    assert state["evidence"] == {}  # a reset starts the evidence again


def test_latency_regression_rolls_back_at_once_on_anytime_valid_evidence(tmp_path):
    run(tmp_path)
    result = run(tmp_path, window={"canary_median": 0.014})
    assert result["decision"] == "rollback"
    assert result["verdicts"][0]["verdict"] == "fail" and result["verdicts"][0]["sequential"]


def test_missing_data_never_advances_and_rolls_back_after_max_nodata(tmp_path):
    run(tmp_path)
    results = [run(tmp_path, window={"n": 0, "canary_errors": 0}) for _ in range(3)]
    assert [r["decision"] for r in results] == ["hold", "hold", "rollback"]
    assert all(v["verdict"] == "nodata" for r in results for v in r["verdicts"])


def test_inconclusive_collects_and_never_counts_as_missing_data(tmp_path):
    """20 canary requests a window, 50 needed: inconclusive (collecting) for two windows, then
    judged on the 60 gathered; max_nodata 1 would have rolled back at the first nodata."""
    run(tmp_path, max_nodata=1)
    decisions = [run(tmp_path, max_nodata=1, window={"n": 20, "canary_errors": 0, "seed": i}) for i in range(3)]
    assert [d["decision"] for d in decisions] == ["hold", "hold", "advance"]
    assert [d["verdicts"][0]["verdict"] for d in decisions] == ["inconclusive", "inconclusive", "pass"]


def test_failing_and_inconclusive_evaluations_do_not_reset_each_other(tmp_path):
    """F, I, F with rollback_after 2 rolls back: only a passing evaluation resets the count."""
    gauge = [{"name": "headroom", "source": "file", "kind": "gauge", "minimum": 0.5}]
    run(tmp_path, metrics=gauge)
    decisions = []
    for value in (0.1, None, 0.1):
        (tmp_path / "metrics.json").write_text(json.dumps({"metrics": {"headroom": {"canary": value}}}))
        decisions.append(run(tmp_path, metrics=gauge)["decision"])
    assert decisions == ["hold", "hold", "rollback"]


def test_bad_numbers_in_a_window_are_an_error_verdict_naming_the_metric_and_value(tmp_path):
    run(tmp_path)
    document = {
        "metrics": {
            "latency": {"baseline": [0.01] * 100, "canary": [0.01, -0.5] * 50},
            "errors": {"baseline": {"errors": 1, "requests": 100}, "canary": {"errors": True, "requests": 100}},
        }
    }
    (tmp_path / "metrics.json").write_text(json.dumps(document))
    verdicts = run(tmp_path)["verdicts"]
    assert [v["verdict"] for v in verdicts] == ["error", "error"]
    assert "latency" in verdicts[0]["reason"] and "-0.5" in verdicts[0]["reason"]
    assert "errors" in verdicts[1]["reason"] and "True" in verdicts[1]["reason"]


@pytest.mark.parametrize(
    ("url", "message"),
    [("not a url", "is not an http:// or https:// URL"), ("http://127.0.0.1:9", "cannot reach Prometheus")],
)
def test_the_first_call_refuses_to_start_when_a_source_cannot_answer(tmp_path, url, message):
    metrics = [
        {
            "name": "latency",
            "source": "prometheus",
            "kind": "latency",
            "query": 'sum by (le) (increase(x_bucket{group="${group}"}[${since}]))',
        }
    ]
    with pytest.raises(GateError, match=message):
        run(tmp_path, metrics=metrics, prometheus_url=url, prometheus_timeout=1)
    assert not (tmp_path / "weight.json").exists()
    assert not (tmp_path / "state" / "r1.json").exists()


def test_check_mode_writes_nothing(tmp_path):
    result = run(tmp_path, check_mode=True)
    assert result["decision"] == "advance" and result["weight_after"] == 10
    assert not (tmp_path / "state").exists() or not os.listdir(tmp_path / "state")
    assert not (tmp_path / "weight.json").exists()


def test_corrupt_state_is_reported_and_left_intact(tmp_path):
    run(tmp_path)
    state_file = tmp_path / "state" / "r1.json"
    state_file.write_text(state_file.read_text()[:40])
    truncated = state_file.read_bytes()
    with pytest.raises(GateError, match=r"is corrupt .* left untouched"):
        run(tmp_path, window={})
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
    run(tmp_path)
    (tmp_path / "weight.json").write_text('{"canary_weight": 55}')  # someone changed it by hand
    result = run(tmp_path, window={})
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
        (
            {"metrics": [{"name": "x", "kind": "latency", "source": "prometheus", "query": 'up{g="${group}"}[1m]'}]},
            "use ${since} as its range",
        ),
        ({"metrics": [{"name": "m", "kind": "memory", "source": "file"}]}, "a memory metric needs margin"),
        ({"metrics": [{"name": "x", "kind": "gauge", "source": "file"}]}, "a gauge needs minimum"),
        ({"metrics": [{"name": "x", "kind": "latency", "source": "file", "confidence": 1.5}]}, "confidence must be"),
        ({"rollout": "../etc/passwd"}, "rollout id"),
        ({"traffic": {"haproxy": {"socket": "/x"}}}, "traffic.haproxy needs backend"),
        ({"traffic": {"nginx": {}}}, "exactly one of haproxy, aws_alb, ingress_nginx, gateway_api, unleash, file"),
        ({"rollback_after": 0}, "rollback_after must be a whole number of at least 1"),
    ],
)
def test_bad_input_gets_a_clear_error(tmp_path, overrides, message):
    write_metrics(tmp_path / "metrics.json")
    with pytest.raises(GateError, match=re.escape(message)):
        run(tmp_path, **overrides)


def test_a_weight_that_cannot_be_applied_fails_and_leaves_the_state_as_it_was(tmp_path):
    unwritable = {"file": {"path": str(tmp_path / "no-such-dir" / "weight.json")}}
    with pytest.raises(GateError, match=r"decided advance to 10% but could not apply it: cannot write"):
        run(tmp_path, traffic=unwritable)
    assert not (tmp_path / "state" / "r1.json").exists()
    logged = json.loads((tmp_path / "state" / "r1.decisions.jsonl").read_text())
    assert logged["apply_error"].startswith("cannot write") and logged["weight_target"] == 10

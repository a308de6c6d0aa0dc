"""perfgate.fleet.canary_gate through Ansible: argument errors, check mode and diff mode."""

from __future__ import annotations

import json

import pytest
from ansible_run import run_task


def base(tmp_path, **extra):
    (tmp_path / "m.json").write_text(
        json.dumps({"metrics": {"latency": {"baseline": [0.01] * 100, "canary": [0.01] * 100}}})
    )
    return {
        "perfgate.fleet.canary_gate": {
            "rollout": "r",
            "state_dir": str(tmp_path / "state"),
            "metrics_file": str(tmp_path / "m.json"),
            "metrics": [{"name": "latency", "source": "file", "kind": "latency"}],
            "traffic": {"file": {"path": str(tmp_path / "w.json")}},
            **extra,
        }
    }


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"steps": "ten"}, "steps"),
        ({"action": "explode"}, "value of action must be one of"),
        ({"no_such_option": True}, "Unsupported parameters"),
        ({"steps": [50, 10]}, "steps must increase strictly"),
        (
            {"metrics": [{"name": "p99", "kind": "latency", "query": 'increase(x{group="${group}"}[${since}])'}]},
            "need prometheus_url",
        ),
        ({"metrics": [{"kind": "latency"}]}, "missing required arguments: name found in metrics"),
        # The sub-options are validated by Ansible against the documented ones: a typo fails.
        (
            {"metrics": [{"name": "x", "kind": "latency", "source": "file", "max_incrase": 0.1}]},
            "Unsupported parameters for (perfgate.fleet.canary_gate) module: metrics.max_incrase",
        ),
        (
            {"traffic": {"haproxy": {"socket": "/run/x.sock"}}},
            "missing required arguments: backend, canary_servers, stable_servers found in traffic -> haproxy",
        ),
        ({"rollout": "a/b"}, "rollout id 'a/b' is not valid"),
    ],
)
def test_bad_arguments_get_a_clear_error(tmp_path, extra, message):
    result = run_task(base(tmp_path, **extra))
    assert result.get("failed") is True
    assert message in result["msg"], result["msg"]
    assert "Traceback" not in result.get("module_stderr", "") + result["msg"]


def test_missing_rollout_is_reported_by_ansible(tmp_path):
    task = base(tmp_path)
    del task["perfgate.fleet.canary_gate"]["rollout"]
    result = run_task(task)
    assert result.get("failed") is True and "rollout" in result["msg"]


def test_check_mode_decides_but_writes_nothing_and_diff_shows_the_weight(tmp_path):
    result = run_task(base(tmp_path), check=True, diff=True)
    assert not result.get("failed"), result.get("msg")
    assert result["decision"] == "advance" and result["changed"] is True
    assert result["diff"] == {"before": "canary weight: 0%\n", "after": "canary weight: 10%\n"}
    assert not (tmp_path / "w.json").exists()
    assert not (tmp_path / "state").exists()


def test_missing_boto3_is_reported_with_missing_required_lib(tmp_path):
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "boto3.py").write_text("raise ImportError('boto3 hidden by the test')\n")
    task = base(
        tmp_path,
        traffic={
            "aws_alb": {"listener_arn": "arn:l", "stable_target_group_arn": "arn:s", "canary_target_group_arn": "arn:c"}
        },
    )
    result = run_task(task, extra_env={"PYTHONPATH": str(shadow)})
    assert result.get("failed") is True
    assert "Failed to import the required Python library (boto3)" in result["msg"], result["msg"]

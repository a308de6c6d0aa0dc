"""The CI judge's exit codes and errors, run as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
CONFIG = (
    "metrics:\n  - {name: latency, kind: latency, max_increase: 0.05}\n  - {name: errors, kind: ratio, ceiling: 0.01}\n"
)


def results(path: Path, median: float, errors: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    path.write_text(
        json.dumps(
            {
                "metrics": {
                    "latency": list(rng.lognormal(np.log(median), 0.1, 500)),
                    "errors": {"errors": errors, "requests": 5000},
                }
            }
        )
    )
    return str(path)


def judge(tmp_path, baseline, candidate, config=CONFIG, *extra):
    (tmp_path / "gate.yml").write_text(config)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "ansible_collections.perfgate.fleet.plugins.module_utils.canary_cli",
            "judge",
            "--baseline",
            baseline,
            "--candidate",
            candidate,
            "--config",
            str(tmp_path / "gate.yml"),
            *extra,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO / "collections")},
        check=False,
    )


def test_same_build_passes(tmp_path):
    run = judge(tmp_path, results(tmp_path / "a.json", 0.01, 5, 1), results(tmp_path / "b.json", 0.01, 5, 2))
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip().endswith("PASS")


def test_slower_build_fails_with_numbers(tmp_path):
    run = judge(
        tmp_path, results(tmp_path / "a.json", 0.01, 5, 1), results(tmp_path / "b.json", 0.012, 5, 2), CONFIG, "--json"
    )
    assert run.returncode == 1
    report = json.loads(run.stdout)
    assert report["result"] == "fail"
    assert report["verdicts"][0]["numbers"]["relative_shift"] > 0.15


def test_missing_metric_is_inconclusive(tmp_path):
    candidate = tmp_path / "b.json"
    candidate.write_text(json.dumps({"metrics": {"errors": {"errors": 1, "requests": 5000}}}))
    run = judge(tmp_path, results(tmp_path / "a.json", 0.01, 5, 1), str(candidate))
    assert run.returncode == 2
    assert "no canary data for 'latency'" in run.stdout


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("metrics: []\n", "non-empty 'metrics' list"),
        ("metrics: [{name: x, kind: speed}]\n", "kind must be one of"),
        (": :\n", "not valid YAML"),
    ],
)
def test_bad_config_cannot_run(tmp_path, config, message):
    run = judge(tmp_path, results(tmp_path / "a.json", 0.01, 5, 1), results(tmp_path / "b.json", 0.01, 5, 2), config)
    assert run.returncode == 3
    assert message in run.stderr and "Traceback" not in run.stderr


def test_unreadable_result_file_cannot_run(tmp_path):
    run = judge(tmp_path, str(tmp_path / "missing.json"), results(tmp_path / "b.json", 0.01, 5, 2))
    assert run.returncode == 3 and "cannot read metrics file" in run.stderr

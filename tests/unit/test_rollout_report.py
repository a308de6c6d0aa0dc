"""The rollout report: timeline and time-to-zero from decision records, and the files written."""

from __future__ import annotations

import json

from ansible_collections.perfgate.fleet.plugins.module_utils.rollout_summary import markdown, time_to_zero, timeline
from ansible_run import run_task


def record(second: int, decision: str, before: float, after: float, canary_p99=0.002, errors=0.0) -> dict:
    return {
        "at": f"2026-11-23T10:00:{second:02d}+00:00",
        "decision": decision,
        "status": "rolled_back" if decision == "rollback" else "progressing",
        "weight_before": before,
        "weight_after": after,
        "step_index": 0,
        "verdicts": [
            {
                "name": "latency",
                "kind": "latency",
                "verdict": "pass",
                "numbers": {"canary_p99": canary_p99, "baseline_p99": 0.002},
            },
            {
                "name": "errors",
                "kind": "ratio",
                "verdict": "fail" if errors else "pass",
                "numbers": {"canary_rate": errors, "baseline_rate": 0.0},
            },
        ],
        "reasons": ["errors: error rate 2.00% vs baseline 0.00%"] if errors else [],
    }


BAD_ROLLOUT = [
    record(0, "advance", 0, 10),
    record(5, "hold", 10, 10, errors=0.01),
    record(17, "rollback", 10, 0, canary_p99=0.0031, errors=0.02),
]


def test_timeline_and_time_to_zero():
    rows = timeline(BAD_ROLLOUT)
    assert [row["t"] for row in rows] == [0.0, 5.0, 17.0]
    assert rows[-1]["canary_p99_ms"] == 3.1 and rows[-1]["baseline_p99_ms"] == 2.0
    assert time_to_zero(rows)["seconds"] == 17.0
    assert time_to_zero(timeline([record(0, "advance", 0, 10)])) is None


def test_markdown_names_the_outcome_and_the_time():
    text = markdown("bad", "rolled_back", {"bad-a": timeline(BAD_ROLLOUT)})
    assert text.startswith("# Rollout bad: rolled_back")
    assert "weight 0 (read back): **17.0 s**" in text
    assert "| 17.0 | 0 | rollback | 3.1 | 2 | 2.00% | 0.00% |" in text


def test_module_writes_the_three_files(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (state / "bad-a.decisions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in BAD_ROLLOUT))
    dest = tmp_path / "reports" / "bad"
    result = run_task(
        {
            "perfgate.fleet.rollout_report": {
                "rollout": "bad",
                "parts": ["bad-a", "bad-b"],
                "state_dir": str(state),
                "dest": str(dest),
                "outcome": "rolled_back",
            }
        }
    )
    assert not result.get("failed"), result
    assert result["time_to_zero"] == {"bad-a": 17.0, "bad-b": None}
    assert result["evaluations"] == {"bad-a": 3, "bad-b": 0}
    document = json.loads((dest / "decisions.json").read_text())
    assert document["outcome"] == "rolled_back" and len(document["parts"]["bad-a"]) == 3
    assert (dest / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "No evaluations were recorded." in (dest / "summary.md").read_text()
    assert not [p for p in dest.iterdir() if p.name.startswith((".report-", ".tmp-"))]
    assert result["changed"] is True and len(result["changed_files"]) == 3


def test_an_identical_repeat_run_is_not_a_change_and_new_records_are(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    log = state / "bad-a.decisions.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in BAD_ROLLOUT[:2]))
    task = {
        "perfgate.fleet.rollout_report": {
            "rollout": "bad",
            "parts": ["bad-a"],
            "state_dir": str(state),
            "dest": str(tmp_path / "reports"),
            "outcome": "rolled_back",
        }
    }
    assert run_task(task)["changed"] is True
    repeat = run_task(task)
    assert repeat["changed"] is False and repeat["changed_files"] == []
    log.write_text("".join(json.dumps(r) + "\n" for r in BAD_ROLLOUT))
    assert run_task(task, check=True)["changed"] is True  # check mode says so and writes nothing
    assert len(json.loads((tmp_path / "reports" / "decisions.json").read_text())["parts"]["bad-a"]) == 2
    assert run_task(task)["changed"] is True


def test_module_reports_a_corrupt_log(tmp_path):
    (tmp_path / "x.decisions.jsonl").write_text("{not json\n")
    result = run_task(
        {
            "perfgate.fleet.rollout_report": {
                "rollout": "x",
                "parts": ["x"],
                "state_dir": str(tmp_path),
                "dest": str(tmp_path / "out"),
            }
        }
    )
    assert result.get("failed") is True and "line 1 is not JSON" in result["msg"]


def test_the_stages_after_the_gate_are_recorded_in_both_files(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (state / "flag-x.decisions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in BAD_ROLLOUT))
    dest = tmp_path / "reports" / "flag"
    stages = [
        {"name": "flag off, then recovery watch", "outcome": "not recovered", "seconds": 30.5, "detail": "errors 3%"},
        {"name": "code rollback to 1.0.0", "outcome": "done", "seconds": 12.25},
    ]
    task = {"rollout": "flag", "parts": ["flag-x"], "state_dir": str(state), "dest": str(dest), "stages": stages}
    result = run_task({"perfgate.fleet.rollout_report": {**task, "outcome": "rolled_back"}})
    assert not result.get("failed"), result
    document = json.loads((dest / "decisions.json").read_text())
    assert [s["outcome"] for s in document["stages"]] == ["not recovered", "done"]
    summary = (dest / "summary.md").read_text()
    assert "| flag off, then recovery watch | not recovered | 30.5 | errors 3% |" in summary
    assert "| code rollback to 1.0.0 | done | 12.25 |  |" in summary
    refused = run_task({"perfgate.fleet.rollout_report": {**task, "stages": [{"name": "no outcome"}]}})
    assert refused.get("failed") and "outcome" in refused["msg"], refused

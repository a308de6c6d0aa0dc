"""The phase record make demo leaves for bench/demo_phases.py: written as each phase starts, so a
demo that stops early still shows where its time went, and complete at the end."""

import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "playbooks" / "local"))

import demo  # noqa: E402


def test_each_closed_phase_is_on_disk_before_the_demo_ends(tmp_path, capsys):
    record = tmp_path / "phases.json"
    phases = demo.Phases(record)
    phases.start("up", "1/6 up")
    [running] = json.loads(record.read_text())["phases"]  # the phase under way, not yet timed
    assert running["phase"] == "up" and "seconds" not in running
    time.sleep(0.2)
    phases.start("site", "2/6 site")
    written = json.loads(record.read_text())["phases"]
    assert [p["phase"] for p in written] == ["up", "site"]
    assert written[0]["seconds"] >= 0.2 and "seconds" not in written[1]
    assert "1/6 up" in capsys.readouterr().out


def test_the_finished_record_has_every_phase_and_the_total(tmp_path):
    record = tmp_path / "phases.json"
    phases = demo.Phases(record)
    for key in ("up", "site", "results"):
        phases.start(key, key)
        time.sleep(0.1)
    phases.finish(ok=False)
    data = json.loads(record.read_text())
    assert [p["phase"] for p in data["phases"]] == ["up", "site", "results"]
    assert all(p["seconds"] >= 0.1 for p in data["phases"])
    assert data["ok"] is False
    assert sum(p["seconds"] for p in data["phases"]) <= data["total_s"] + 0.3


def test_the_record_names_the_state_the_demo_started_from_and_its_target(tmp_path):
    record = tmp_path / "phases.json"
    phases = demo.Phases(record)
    phases.state = "running environment"
    phases.start("up", "1/6 up")
    phases.finish(ok=True)
    data = json.loads(record.read_text())
    assert (data["state"], data["target_s"]) == ("running environment", 240)
    assert demo.TARGET_S == {"fresh environment": 360, "running environment": 240}, "the demo-speed issue's targets"

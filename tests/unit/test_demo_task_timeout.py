"""make demo's playbooks run with a task timeout, so a task that never ends (a lost reply inside
mitogen once held a demo run forever) fails with a message instead."""

import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "playbooks" / "local"))

import demo  # noqa: E402


def test_a_task_that_never_ends_fails_after_the_timeout(tmp_path, monkeypatch, capfd):
    monkeypatch.setattr(demo, "TASK_TIMEOUT_S", 2)
    playbook = tmp_path / "hang.yml"
    playbook.write_text(
        yaml.safe_dump(
            [
                {
                    "name": "A task that hangs",
                    "hosts": "localhost",
                    "gather_facts": False,
                    "tasks": [{"name": "Wait forever", "ansible.builtin.command": "sleep 600"}],
                }
            ]
        )
    )
    log = tmp_path / "hang.log"
    started = time.monotonic()
    code = demo.run_playbook(str(playbook), log, inventory=False, interactive=False)
    elapsed = time.monotonic() - started
    assert code != 0
    assert elapsed < 60, elapsed  # the 600 s sleep was cut short
    assert "Timed out after 2 second(s)" in log.read_text()
    # The step's line says it failed (progress.py's own tests cover the failing task's line).
    assert f"hang.yml: exit {code} in" in capfd.readouterr().out

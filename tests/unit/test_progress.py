"""playbooks/local/progress.py on a real ansible-runner run: the lines a non-terminal gets, the
heartbeat during a long task, the counts at the end and the failing task's host and message."""

from __future__ import annotations

import importlib.util
import re
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("progress", REPO / "playbooks/local/progress.py")
progress = importlib.util.module_from_spec(spec)
sys.modules["progress"] = progress  # dataclasses look their module up there
spec.loader.exec_module(progress)


class TimedOutput:
    """A non-terminal that records when each line was written."""

    def __init__(self):
        self.lines: list[tuple[float, str]] = []

    def write(self, text: str) -> None:
        for line in text.splitlines():
            self.lines.append((time.monotonic(), line))

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def playbook(tmp_path: Path, fail: bool) -> Path:
    tasks = [
        {"name": "Say hello", "ansible.builtin.debug": {"msg": "hello"}},
        {"name": "Change something", "ansible.builtin.command": "true", "changed_when": True},
        {"name": "Take a while", "ansible.builtin.pause": {"seconds": 4}},
    ]
    if fail:
        tasks.append({"name": "Break on purpose", "ansible.builtin.fail": {"msg": "the disk is full"}})
    path = tmp_path / "play.yml"
    path.write_text(
        yaml.safe_dump([{"name": "Progress test", "hosts": "localhost", "gather_facts": False, "tasks": tasks}])
    )
    return path


def run(tmp_path: Path, fail: bool) -> tuple[int, TimedOutput, Path]:
    out = TimedOutput()
    log = tmp_path / "logs" / "play.log"
    started = time.monotonic()
    rc = progress.run_with_progress(
        playbook(tmp_path, fail),
        log,
        name="play.yml",
        inventory=f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}",
        out=out,
        heartbeat_s=1.0,
        envvars={"ANSIBLE_CONFIG": str(REPO / "ansible.cfg")},
    )
    out.lines.insert(0, (started, "(start)"))
    return rc, out, log


def test_a_non_terminal_gets_plain_lines_a_heartbeat_and_the_counts(tmp_path):
    rc, out, log = run(tmp_path, fail=False)
    assert rc == 0
    texts = [text for _, text in out.lines]
    assert any("Progress test: Take a while" in t for t in texts)
    gaps = [later - earlier for (earlier, _), (later, _) in zip(out.lines, out.lines[1:], strict=False)]
    assert max(gaps) < 2.5, gaps  # a line at least every heartbeat (1 s here), even in the 4 s pause
    assert sum("Take a while" in t for t in texts) >= 3  # the pause was reported while it ran
    assert texts[-1] == "  play.yml: 3 ok, 1 changed, 0 failed, 0 unreachable"
    assert "TASK [Change something]" in log.read_text()  # the whole output is in the log


def test_a_failure_names_the_host_the_task_and_the_message(tmp_path):
    rc, out, _ = run(tmp_path, fail=True)
    assert rc != 0
    texts = [text for _, text in out.lines]
    assert "  FAILED localhost: Break on purpose: the disk is full" in texts
    assert "1 failed" in texts[-2]


class Terminal(TimedOutput):
    def __init__(self):
        super().__init__()
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text

    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_one_line_per_play_rewritten_in_place():
    clock = iter(range(0, 1000)).__next__
    out = Terminal()
    shown = progress.PlaybookProgress("site.yml", out=out, clock=clock)
    shown.event({"event": "playbook_on_play_start", "event_data": {"play": "Harden every host"}})
    shown.event({"event": "playbook_on_task_start", "event_data": {"task": "Install the packages"}})
    for host in ("a", "b"):
        shown.event({"event": "runner_on_start", "event_data": {"host": host}})
    shown.event({"event": "runner_on_ok", "event_data": {"host": "a"}})
    shown.event({"event": "playbook_on_play_start", "event_data": {"play": "Run Prometheus"}})
    shown.finish()
    lines = out.text.split("\n")
    assert len(lines) == 3 and lines[-1] == ""  # two plays, two lines
    assert re.fullmatch(
        r"  site\.yml \[ +\d+ s\] Harden every host: Install the packages \(1/2 hosts\)",
        lines[0].split("\r")[-1].rstrip(),
    )
    assert re.fullmatch(r"  site\.yml \[ +\d+ s\] Run Prometheus", lines[1].split("\r")[-1].rstrip())

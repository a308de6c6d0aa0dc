"""Runs a playbook through ansible-runner and keeps the terminal informed while it does.

On a terminal: one line per play, rewritten in place, with the task, how many hosts have
finished it and the elapsed time, refreshed at least every HEARTBEAT_S seconds. Anywhere else
(CI, a pipe): the same line printed as a plain line when the play changes and at most every
HEARTBEAT_S seconds. At the end: ok/changed/failed counts; on a failure, the host, task and
message of each failed task. The playbook's whole output still goes to the log file.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

HEARTBEAT_S = 10.0
FINISHED = ("runner_on_ok", "runner_on_failed", "runner_on_skipped", "runner_on_unreachable")


@dataclass
class Failure:
    host: str
    task: str
    message: str


@dataclass
class PlaybookProgress:
    """Turns ansible-runner events into progress lines on `out`."""

    name: str
    out: TextIO = sys.stdout
    interactive: bool | None = None  # None: decide from out.isatty()
    heartbeat_s: float = HEARTBEAT_S
    clock: object = time.monotonic
    play: str = ""
    task: str = ""
    started_hosts: set = field(default_factory=set)
    finished_hosts: set = field(default_factory=set)
    failures: list[Failure] = field(default_factory=list)
    stats: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.interactive is None:
            self.interactive = bool(getattr(self.out, "isatty", lambda: False)())
        self.started = self.clock()
        self.last_output = self.started
        self._lock = threading.Lock()
        self._open_line = False

    # -- what ansible-runner calls ----------------------------------------------------------
    def event(self, event: dict) -> bool:
        kind, data = event.get("event"), event.get("event_data") or {}
        with self._lock:
            if kind == "playbook_on_play_start":
                self._end_line()
                self.play, self.task = data.get("play") or data.get("name") or "play", ""
                self._show(force=True)
            elif kind == "playbook_on_task_start":
                self.task = data.get("task") or data.get("name") or ""
                self.started_hosts, self.finished_hosts = set(), set()
                self._show()
            elif kind == "runner_on_start":
                self.started_hosts.add(data.get("host"))
            elif kind in FINISHED:
                self.finished_hosts.add(data.get("host"))
                if kind in ("runner_on_failed", "runner_on_unreachable") and not data.get("ignore_errors"):
                    result = data.get("res") or {}
                    message = result.get("msg") or result.get("stderr") or result.get("reason") or "failed"
                    self.failures.append(Failure(data.get("host", "?"), data.get("task", self.task), str(message)))
                self._show()
            elif kind == "playbook_on_stats":
                self.stats = {key: sum((data.get(key) or {}).values()) for key in ("ok", "changed", "failures", "dark")}
        return True  # keep the event in ansible-runner's artifacts too

    def tick(self) -> None:
        """The heartbeat: called from a timer so a long task still shows the clock moving."""
        with self._lock:
            if self.clock() - self.last_output >= self.heartbeat_s:
                self._show(force=True)

    # -- output --------------------------------------------------------------------------------
    def line(self) -> str:
        elapsed = self.clock() - self.started
        hosts = f"{len(self.finished_hosts)}/{len(self.started_hosts)} hosts" if self.started_hosts else "starting"
        task = f": {self.task} ({hosts})" if self.task else ""
        return f"  {self.name} [{elapsed:4.0f} s] {self.play}{task}"

    def _show(self, force: bool = False) -> None:
        now = self.clock()
        if self.interactive:
            # A pseudo-terminal without a size (script, some CI runners) reports 0 columns.
            width = shutil.get_terminal_size((120, 24)).columns
            width = width if width >= 40 else 120
            self.out.write("\r" + self.line()[: width - 1].ljust(width - 1))
            self._open_line = True
        elif force or now - self.last_output >= self.heartbeat_s:
            self.out.write(self.line() + "\n")
        else:
            return
        self.out.flush()
        self.last_output = now

    def _end_line(self) -> None:
        if self._open_line:
            self.out.write("\n")
            self._open_line = False

    def summary(self) -> str:
        lines = []
        if self.stats:
            lines.append(
                f"  {self.name}: {self.stats['ok']} ok, {self.stats['changed']} changed, "
                f"{self.stats['failures']} failed, {self.stats['dark']} unreachable"
            )
        for failure in self.failures:
            lines.append(f"  FAILED {failure.host}: {failure.task}: {failure.message}")
        return "\n".join(lines)

    def finish(self) -> None:
        with self._lock:
            self._end_line()
            text = self.summary()
            if text:
                self.out.write(text + "\n")
            self.out.flush()


def run_with_progress(
    playbook: Path,
    log: Path,
    *,
    name: str,
    inventory: str | None = None,
    extravars: dict | None = None,
    envvars: dict | None = None,
    project_dir: Path | None = None,
    out: TextIO = sys.stdout,
    heartbeat_s: float = HEARTBEAT_S,
    interactive: bool | None = None,
) -> int:
    """Runs `playbook` with ansible-runner, its output in `log`, progress on `out`; returns the rc.
    interactive=False forces plain lines, for when other threads print to the same terminal."""
    import ansible_runner

    progress = PlaybookProgress(name, out=out, heartbeat_s=heartbeat_s, interactive=interactive)
    log.parent.mkdir(parents=True, exist_ok=True)
    private_data_dir = log.parent / f".runner-{log.stem}"
    private_data_dir.mkdir(exist_ok=True)
    # The ansible-playbook of the Python that runs this, not whatever PATH finds.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    stop = threading.Event()

    def heartbeat():
        while not stop.wait(min(1.0, heartbeat_s / 2)):
            progress.tick()

    with open(log, "w") as log_file:

        def on_event(event: dict) -> bool:
            if event.get("stdout"):
                log_file.write(event["stdout"] + "\n")
                log_file.flush()
            return progress.event(event)

        ticker = threading.Thread(target=heartbeat, daemon=True)
        ticker.start()
        try:
            runner = ansible_runner.run(
                playbook=str(playbook),
                inventory=inventory,
                extravars=extravars or {},
                envvars={"PATH": path, **(envvars or {})},
                private_data_dir=str(private_data_dir),
                project_dir=str(project_dir or playbook.parent),  # the playbook's working directory
                event_handler=on_event,
                quiet=True,
                # ansible-runner would otherwise keep every run's artifacts; the log is the record.
                rotate_artifacts=1,
            )
        finally:
            stop.set()
            ticker.join()
    progress.finish()
    return runner.rc

"""Run one task through real ansible-playbook on localhost and return its result as a dict."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent


def run_task(task: dict, check: bool = False, diff: bool = False, extra_env: dict | None = None) -> dict:
    """Run `task` on localhost with the local connection; return the task's result."""
    play = [{"hosts": "localhost", "gather_facts": False, "connection": "local", "tasks": [task]}]
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as playbook:
        yaml.safe_dump(play, playbook)
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_LOCALHOST_WARNING="False",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="False",
        **(extra_env or {}),
    )
    # Controller-side tasks run on the Python that runs Ansible, never on whatever discovery finds.
    command = [
        str(Path(sys.executable).with_name("ansible-playbook")),
        "-i",
        "localhost,",
        "-e",
        "ansible_python_interpreter={{ ansible_playbook_python }}",
        playbook.name,
    ]
    if check:
        command.append("--check")
    if diff:
        command.append("--diff")
    try:
        completed = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    finally:
        os.unlink(playbook.name)
    try:
        report = json.loads(completed.stdout)
    except json.JSONDecodeError as error:
        raise AssertionError(f"ansible-playbook gave no JSON:\n{completed.stdout}\n{completed.stderr}") from error
    return report["plays"][0]["tasks"][0]["hosts"]["localhost"]

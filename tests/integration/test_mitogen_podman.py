"""Under mitogen's strategy the podman connection keeps one interpreter per host for the whole run.

mitogen 0.3.54 searches for a container's Python again before every task when the interpreter is
left to discovery (`rediscover_python` for podman and docker), and each search starts `podman exec`
with python3.13 and python3.12 before it finds Debian 12's python3.11: about 0.45 s per task. The
repo's ansible.cfg and the Molecule scenarios name the interpreter to avoid that. These tests count
the real podman's `exec` calls through a logging wrapper on PATH, so they fail if the setting goes
or stops working.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from containers import systemd_host

REPO = Path(__file__).resolve().parents[2]
TASKS = 6


@pytest.fixture(scope="module")
def host():
    with systemd_host("perfgate-test-mitogen") as name:
        yield name


def podman_execs_for(host: str, tmp_path: Path, extra_env: dict[str, str]) -> list[str]:
    """Run TASKS ping tasks on the host with the repo's ansible.cfg; return the `podman exec` calls."""
    real_podman = shutil.which("podman")
    assert real_podman, "podman is not installed"
    calls = tmp_path / "podman-calls"
    shims = tmp_path / "bin"
    shims.mkdir()
    wrapper = shims / "podman"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{calls}"\nexec "{real_podman}" "$@"\n')
    wrapper.chmod(0o755)
    inventory = tmp_path / "inventory.ini"
    inventory.write_text(f"{host} ansible_connection=podman\n")
    playbook = tmp_path / "pings.yml"
    playbook.write_text(
        yaml.safe_dump([{"hosts": "all", "gather_facts": False, "tasks": [{"ansible.builtin.ping": {}}] * TASKS}])
    )
    # The repo's ansible.cfg decides the strategy and the interpreter, whatever the caller exported.
    inherited = {k: v for k, v in os.environ.items() if k not in ("ANSIBLE_STRATEGY", "ANSIBLE_PYTHON_INTERPRETER")}
    env = {
        **inherited,
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "PATH": f"{shims}{os.pathsep}{os.environ['PATH']}",
        **extra_env,
    }
    run = subprocess.run(
        ["ansible-playbook", "-i", str(inventory), str(playbook)], capture_output=True, text=True, env=env, check=False
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    lines = calls.read_text().splitlines() if calls.exists() else []
    return [line for line in lines if " exec " in f" {line} "]


def test_the_repo_config_starts_the_hosts_interpreter_once_for_all_tasks(host, tmp_path) -> None:
    execs = podman_execs_for(host, tmp_path, {})
    assert len(execs) == 1, f"{len(execs)} podman exec calls for {TASKS} tasks:\n" + "\n".join(execs)


def test_discovery_would_start_podman_exec_for_every_task(host, tmp_path) -> None:
    """The counter sees the cost the setting avoids (so the test above can fail)."""
    execs = podman_execs_for(host, tmp_path, {"ANSIBLE_PYTHON_INTERPRETER": "auto_silent"})
    assert len(execs) >= TASKS, f"only {len(execs)} podman exec calls for {TASKS} tasks with discovery"


def test_every_molecule_scenario_under_mitogen_names_the_interpreter() -> None:
    """Molecule writes its own ansible.cfg, so each scenario that loads mitogen sets it again."""
    for scenario in sorted((REPO / "molecule").glob("*/molecule.yml")):
        env = yaml.safe_load(scenario.read_text())["provisioner"].get("env", {})
        if "ANSIBLE_STRATEGY_PLUGINS" in env:
            assert env.get("ANSIBLE_PYTHON_INTERPRETER") == "/usr/bin/python3", scenario

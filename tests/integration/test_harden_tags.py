"""`--tags` on the harden role is honest: a run limited to some areas installs only their
packages and skips the disk-wide SUID scan, on a real Debian 12 container."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from containers import podman, systemd_host

REPO = Path(__file__).resolve().parents[2]
IMAGE = "localhost/perfgate/debian:12"


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory):
    with systemd_host("perfgate-test-tags") as name:
        inventory = tmp_path_factory.mktemp("tags") / "inventory.ini"
        inventory.write_text(f"{name} ansible_connection=podman\n")
        yield name, inventory


def harden(inventory: Path, tags: str) -> list[dict]:
    """Run playbooks/harden.yml with --tags; return every task's result on the one host."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    run = subprocess.run(
        ["ansible-playbook", "-i", str(inventory), str(REPO / "playbooks/harden.yml"), "--tags", tags],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    report = json.loads(run.stdout)
    return [
        {"name": task["task"]["name"], **next(iter(task["hosts"].values()))}
        for play in report["plays"]
        for task in play["tasks"]
    ]


def installed(name: str, package: str) -> bool:
    return podman("exec", name, "dpkg-query", "-W", "-f=${Status}", package).stdout == "install ok installed"


def result_of(results: list[dict], task_name: str) -> dict:
    matches = [r for r in results if r["name"] == f"harden : {task_name}"]
    assert matches, f"no task named {task_name!r} ran; tasks: {[r['name'] for r in results]}"
    return matches[0]


def test_tags_install_only_their_areas_packages_and_skip_the_suid_scan(host) -> None:
    name, inventory = host
    results = harden(inventory, "harden_sshd")
    assert result_of(results, "Find the SUID and SGID files").get("skipped") is True
    for package in ("rkhunter", "fail2ban", "auditd", "aide"):
        assert not installed(name, package), f"--tags harden_sshd installed {package}"
    sshd = podman("exec", name, "sshd", "-T").stdout
    assert "maxsessions 2" in sshd.lower(), "the sshd area itself did not run"

    results = harden(inventory, "harden_rootkit_scanner,harden_auditd")
    assert installed(name, "rkhunter") and installed(name, "auditd")
    assert not installed(name, "fail2ban"), "--tags harden_rootkit_scanner,harden_auditd installed fail2ban"
    assert result_of(results, "Find the SUID and SGID files").get("skipped") is not True, "auditd needs the scan"
    # Recommends stay out unless harden_install_recommends asks for them.
    assert not installed(name, "exim4-daemon-light")

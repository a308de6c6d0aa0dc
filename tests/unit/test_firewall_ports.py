"""The firewall ports harden opens on each host, as Ansible itself resolves them from
playbooks/group_vars for an inventory shaped like the local environment: a host in two groups
(the monitoring host that also runs the flag server) gets both groups' ports. The demo's flag
stage once timed out because the flag server's port was closed on that host."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INVENTORY = """\
all:
  children:
    agents:
      children:
        stable: {hosts: {agent1: {region: a}}}
        canary: {hosts: {canary1: {region: a}}}
    lbs: {hosts: {lb1: {region: a}}}
    monitoring: {hosts: {monitoring1: {}}}
    flags: {hosts: {monitoring1: {}, flags1: {unleash_port: 4343}}}
"""


@pytest.fixture(scope="module")
def open_ports(tmp_path_factory) -> dict[str, list[int]]:
    inventory = tmp_path_factory.mktemp("inventory") / "hosts.yml"
    inventory.write_text(INVENTORY)
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("ansible")),
            "all",
            "-i",
            str(inventory),
            "--playbook-dir",
            str(REPO / "playbooks"),
            "-c",
            "local",
            "-m",
            "ansible.builtin.debug",
            "-a",
            "var=harden_firewall_allowed_tcp_ports",
            "-o",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_STRATEGY": "linear"},
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    ports = {}
    for line in result.stdout.splitlines():
        host, _, answer = line.partition(" | SUCCESS => ")
        ports[host] = json.loads(answer)["harden_firewall_allowed_tcp_ports"]
    return ports


def test_each_group_gets_its_own_ports(open_ports):
    assert open_ports["agent1"] == [8080, 9100]
    assert open_ports["canary1"] == [8080, 9100]
    assert open_ports["lb1"] == [80, 8405, 9100, 9999]


def test_a_host_in_two_groups_gets_both_groups_ports(open_ports):
    assert open_ports["monitoring1"] == [4242, 9090, 9100]


def test_the_flag_servers_own_port_setting_is_opened(open_ports):
    assert open_ports["flags1"] == [4343]

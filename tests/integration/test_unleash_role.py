"""The unleash role on a fresh Debian 12 container: PostgreSQL from Debian, the npm tree from
the controller, the tokens set at start. Checked from outside through the gate's own Unleash
backend (admin token) and the real Python SDK (backend token), and converged twice."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
import uuid
from pathlib import Path

import pytest
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_traffic import TrafficError, build_traffic
from containers import podman, systemd_host
from servers import free_port, wait_until
from UnleashClient import UnleashClient
from UnleashClient.utils import InstanceAllowType

REPO = Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "*:*.role-test-admin"
CLIENT_TOKEN = "*:development.role-test-client"


def converge(inventory: Path, playbook: Path) -> dict:
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    run = subprocess.run(
        ["ansible-playbook", "-i", str(inventory), str(playbook)], capture_output=True, text=True, env=env, check=False
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    return json.loads(run.stdout)["stats"]


@pytest.fixture(scope="module")
def unleash_host(tmp_path_factory):
    port = free_port()
    with systemd_host("perfgate-test-unleash", publish=(f"127.0.0.1:{port}:4242",)) as name:
        work = tmp_path_factory.mktemp("unleash-role")
        inventory = work / "inventory.ini"
        inventory.write_text(f"{name} ansible_connection=podman\n")
        playbook = work / "unleash.yml"
        playbook.write_text(
            json.dumps(
                [
                    {
                        "hosts": "all",
                        "become": True,
                        "roles": [
                            {
                                "role": "unleash",
                                "vars": {"unleash_admin_token": ADMIN_TOKEN, "unleash_backend_tokens": [CLIENT_TOKEN]},
                            }
                        ],
                    }
                ]
            )
        )
        first = converge(inventory, playbook)
        yield {"name": name, "url": f"http://127.0.0.1:{port}", "first": first, "again": (inventory, playbook)}


def test_a_second_converge_changes_nothing(unleash_host):
    assert unleash_host["first"][unleash_host["name"]]["changed"] > 0
    again = converge(*unleash_host["again"])[unleash_host["name"]]
    assert again["changed"] == 0 and again["failures"] == 0, again


def test_the_admin_token_drives_a_flag_and_the_backend_token_reads_it(unleash_host):
    url = unleash_host["url"]
    name = f"checksum-v2-{uuid.uuid4().hex[:8]}"
    options = {"url": url, "token": ADMIN_TOKEN, "feature": name, "environment": "development"}
    flag = build_traffic({"unleash": options}, None)
    flag.admin.call("POST", "/api/admin/projects/default/features", {"name": name})
    flag.set_share(100)

    client = UnleashClient(
        url=f"{url}/api",
        app_name="unleash-role-test",
        instance_id=uuid.uuid4().hex,
        refresh_interval=1,
        custom_headers={"Authorization": CLIENT_TOKEN},
        disable_metrics=True,
        multiple_instance_mode=InstanceAllowType.SILENTLY_ALLOW,
    )
    client.initialize_client()
    try:
        wait_until(lambda: client.is_enabled(name, {"userId": "u1"}), 15, "the SDK seeing the flag on")
    finally:
        client.destroy()

    with pytest.raises(TrafficError, match=r"401|403"):
        build_traffic({"unleash": {**options, "token": CLIENT_TOKEN}}, None).set_share(50)


def test_the_service_runs_as_its_own_user_keeps_its_flags_over_a_restart_and_its_tokens_root_only(unleash_host):
    name, url = unleash_host["name"], unleash_host["url"]
    user = podman("exec", name, "systemctl", "show", "-p", "User", "--value", "unleash.service").stdout.strip()
    assert user == "unleash"
    assert podman("exec", name, "stat", "-c", "%a %U", "/etc/unleash/tokens.env").stdout.split() == ["600", "root"]

    flag_name = f"kept-{uuid.uuid4().hex[:8]}"
    options = {"url": url, "token": ADMIN_TOKEN, "feature": flag_name, "environment": "development"}
    flag = build_traffic({"unleash": options}, None)
    flag.admin.call("POST", "/api/admin/projects/default/features", {"name": flag_name})
    flag.set_share(25)
    assert podman("exec", name, "systemctl", "restart", "unleash.service").returncode == 0
    wait_until(lambda: urllib.request.urlopen(f"{url}/health", timeout=2).status == 200, 90, "Unleash after a restart")
    assert build_traffic({"unleash": options}, None).share() == 25.0

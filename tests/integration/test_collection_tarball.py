"""The collection as a user gets it: `ansible-galaxy collection build`, installed into an empty
collections path, its roles used by their full names with none of the repository around them,
one of them for real in a systemd container."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from containers import podman, systemd_host

REPO = Path(__file__).resolve().parents[2]
COLLECTION = REPO / "collections" / "ansible_collections" / "perfgate" / "fleet"
BIN = Path(sys.executable).parent
ROLES = sorted(p.name for p in (COLLECTION / "roles").iterdir() if (p / "tasks").is_dir())


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    """The built tarball installed into an empty path; an environment that sees only it (no
    repository ansible.cfg, no roles path), so a role can only be found by its full name."""
    where = tmp_path_factory.mktemp("collection")
    build = subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "build", str(COLLECTION), "--output-path", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert build.returncode == 0, build.stderr
    tarball = next(where.glob("perfgate-fleet-*.tar.gz"))
    (where / "ansible.cfg").write_text("[defaults]\nroles_path = /nonexistent\n")
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(where / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(where / "installed"),
        "ANSIBLE_ROLES_PATH": "/nonexistent",
    }
    install = subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "install", str(tarball), "-p", str(where / "installed")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    return {"where": where, "env": env, "root": where / "installed" / "ansible_collections" / "perfgate" / "fleet"}


def test_the_tarball_holds_every_role_with_its_shipped_files(installed):
    root = installed["root"]
    assert sorted(p.name for p in (root / "roles").iterdir()) == ROLES
    # The files a role ships to hosts are the collection's own module_utils, byte for byte.
    for shipped, source in (
        ("roles/haproxy_lb/files/lib/haproxy_client.py", "plugins/module_utils/haproxy_client.py"),
        ("roles/haproxy_lb/files/lib/atomic_write.py", "plugins/module_utils/atomic_write.py"),
        ("roles/cpu_isolation/files/lib/cpulist.py", "plugins/module_utils/cpulist.py"),
    ):
        assert (root / shipped).read_bytes() == (COLLECTION / source).read_bytes(), shipped
    assert (root / "LICENSE").exists() and (root / "meta" / "execution-environment.yml").exists()


def test_a_play_using_the_roles_by_full_name_passes_syntax_check(installed):
    play = [{"hosts": "all", "gather_facts": False, "roles": [f"perfgate.fleet.{role}" for role in ROLES]}]
    path = installed["where"] / "play.yml"
    path.write_text(yaml.safe_dump(play))
    check = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", "localhost,", "--syntax-check", str(path)],
        capture_output=True,
        text=True,
        env=installed["env"],
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_role_runs_by_full_name_from_the_installed_tarball(installed):
    """perfgate.fleet.node_exporter on a fresh Debian 12 host (the test image), through the
    podman connection: the package is installed and the exporter answers on its port."""
    with systemd_host("perfgate-test-tarball") as name:
        play = [
            {
                "hosts": name,
                "gather_facts": True,
                "vars": {
                    "ansible_connection": "containers.podman.podman",
                    "ansible_python_interpreter": "/usr/bin/python3",
                },
                "roles": [{"role": "perfgate.fleet.node_exporter", "vars": {"node_exporter_port": 9100}}],
            }
        ]
        path = installed["where"] / "node_exporter.yml"
        path.write_text(yaml.safe_dump(play))
        # containers.podman comes from the `ansible` package, as it would for a user.
        converge = subprocess.run(
            [str(BIN / "ansible-playbook"), "-i", f"{name},", str(path)],
            capture_output=True,
            text=True,
            env=installed["env"],
            check=False,
        )
        assert converge.returncode == 0, converge.stdout[-3000:] + converge.stderr[-2000:]
        deadline = time.monotonic() + 20
        while "node_" not in podman("exec", name, "python3", "-c", SCRAPE).stdout:
            assert time.monotonic() < deadline, "node_exporter did not answer on 9100"
            time.sleep(0.5)


SCRAPE = "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:9100/metrics').read().decode())"

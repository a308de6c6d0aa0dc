"""The test host images exist, carry their recipe hash, are not rebuilt needlessly, and boot systemd."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IMAGES = {"12": "bookworm", "13": "trixie"}


def podman(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], capture_output=True, text=True, check=False)


@pytest.mark.parametrize("tag", IMAGES)
def test_image_is_current_and_not_rebuilt(tag: str) -> None:
    image = f"localhost/perfgate/debian:{tag}"
    before = podman("image", "inspect", "--format", '{{.Id}} {{index .Labels "perfgate.recipe"}}', image)
    assert before.returncode == 0, f"{image} is missing; run make setup"
    image_id, recipe = before.stdout.split()
    assert len(recipe) == 16

    rebuild = subprocess.run(
        [str(REPO / "molecule/images/build-image.sh"), IMAGES[tag], tag], capture_output=True, text=True, check=False
    )
    assert rebuild.returncode == 0, rebuild.stderr
    assert rebuild.stdout == "", "an unchanged recipe must not rebuild or print anything"
    after = podman("image", "inspect", "--format", "{{.Id}}", image)
    assert after.stdout.strip() == image_id


def test_debian12_boots_systemd_with_sshd() -> None:
    name = f"perfgate-test-boot-{uuid.uuid4().hex[:8]}"
    run = podman(
        "run",
        "-d",
        "--name",
        name,
        "--privileged",
        "--systemd=always",
        "localhost/perfgate/debian:12",
        "/lib/systemd/systemd",
    )
    assert run.returncode == 0, run.stderr
    try:
        deadline = time.monotonic() + 30
        # Right after start, systemd may not have opened its bus yet; ask again until it answers.
        while (state := podman("exec", name, "systemctl", "is-system-running", "--wait")).stdout.strip() == "":
            assert time.monotonic() < deadline, f"systemd did not answer: {state.stderr}"
            time.sleep(0.5)
        assert state.stdout.strip() in {"running", "degraded"}, state.stdout
        deadline = time.monotonic() + 20
        while podman("exec", name, "systemctl", "is-active", "ssh").stdout.strip() != "active":
            assert time.monotonic() < deadline, "sshd did not start"
            time.sleep(0.5)
        keys = podman("exec", name, "sh", "-c", "ls /etc/ssh/ssh_host_*_key.pub")
        assert "ssh_host_ed25519_key.pub" in keys.stdout, "host keys are made on first boot"
        machine_id = podman("exec", name, "cat", "/etc/machine-id").stdout.strip()
        assert len(machine_id) == 32, "each host gets its own machine id"
    finally:
        podman("rm", "-f", name)

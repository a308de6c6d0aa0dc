"""The test host images exist, carry their recipe hash, are not rebuilt needlessly, and boot systemd."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from containers import podman, systemd_host

REPO = Path(__file__).resolve().parents[2]
IMAGES = {"12": "bookworm", "13": "trixie"}


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
    with systemd_host("perfgate-test-boot") as name:
        state = podman("exec", name, "systemctl", "is-system-running")
        assert state.stdout.strip() in {"running", "degraded"}, state.stdout
        deadline = time.monotonic() + 20
        while podman("exec", name, "systemctl", "is-active", "ssh").stdout.strip() != "active":
            assert time.monotonic() < deadline, "sshd did not start"
            time.sleep(0.5)
        keys = podman("exec", name, "sh", "-c", "ls /etc/ssh/ssh_host_*_key.pub")
        assert "ssh_host_ed25519_key.pub" in keys.stdout, "host keys are made on first boot"
        machine_id = podman("exec", name, "cat", "/etc/machine-id").stdout.strip()
        assert len(machine_id) == 32, "each host gets its own machine id"


HOST_IMAGE = REPO / "playbooks/local/host-image.sh"


def host_image(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(HOST_IMAGE), *args], capture_output=True, text=True, check=False)


def test_host_image_carries_its_packages_and_is_rebuilt_only_when_they_change() -> None:
    base, image = "localhost/perfgate/debian:12", "localhost/perfgate/debian:12-pytest"
    layer = "localhost/perfgate/debian:12-pytest-layer"
    try:
        built = host_image(base, image, "less")
        assert built.returncode == 0, built.stderr
        assert built.stdout.strip() == f"built {image}"
        inspect = podman("image", "inspect", "--format", "{{.Id}} {{.Config.Cmd}}", image).stdout.split(maxsplit=1)
        assert inspect[1].strip() == "[/lib/systemd/systemd]", "hosts boot systemd, not the build's shell"
        installed = podman("run", "--rm", image, "dpkg-query", "-W", "-f", "${Status}", "less")
        assert installed.stdout == "install ok installed"

        again = host_image(base, image, "less")
        assert (again.returncode, again.stdout) == (0, ""), "an unchanged package list must not rebuild"

        # A kind's image on the common one: it inherits the packages, and its recipe covers the
        # common image's, so a changed common image rebuilds it.
        layered = host_image(image, layer)
        assert (layered.returncode, layered.stdout.strip()) == (0, f"built {layer}"), layered.stderr
        inherited = podman("run", "--rm", layer, "dpkg-query", "-W", "-f", "${Status}", "less")
        assert inherited.stdout == "install ok installed"
        assert host_image(image, layer).stdout == "", "an unchanged base must not rebuild the layer"

        broken = host_image(base, image, "less", "perfgate-no-such-package")
        assert broken.returncode == 1
        assert "Unable to locate package perfgate-no-such-package" in broken.stderr
        kept = podman("image", "inspect", "--format", "{{.Id}}", image).stdout.strip()
        assert kept == inspect[0], "a failed build keeps the image it would have replaced"

        # Another recipe under the base's name stands for a changed common image (the layer
        # itself, so that cleaning up never touches an image another test uses).
        assert podman("tag", layer, image).returncode == 0
        assert host_image(image, layer).stdout.strip() == f"built {layer}", "a changed base rebuilds the layer"
    finally:
        podman("rmi", "-f", layer, image)


def test_host_image_names_a_missing_base_image() -> None:
    result = host_image("localhost/perfgate/no-such-base:1", "localhost/perfgate/debian:12-pytest", "less")
    assert result.returncode == 1
    assert "the base image localhost/perfgate/no-such-base:1 does not exist" in result.stderr


def test_host_image_refuses_to_build_over_its_base() -> None:
    result = host_image("localhost/perfgate/debian:12", "localhost/perfgate/debian:12", "less")
    assert result.returncode == 2
    assert "the image must not be its own base" in result.stderr


BAKE = """---
- name: Bake a marker
  hosts: all
  gather_facts: false
  tasks:
    - name: Write the marker
      ansible.builtin.copy:
        content: "{{ lookup('ansible.builtin.file', marker_source) }}\\n"
        dest: /etc/perfgate-baked
        mode: "0644"
      vars:
        marker_source: MARKER_SOURCE
"""


def test_host_image_bakes_a_playbook_and_rebuilds_when_its_recipe_files_change(tmp_path: Path) -> None:
    base, image = "localhost/perfgate/debian:12", "localhost/perfgate/debian:12-pytest-bake"
    marker, playbook = tmp_path / "marker.txt", tmp_path / "bake.yml"
    marker.write_text("first")
    playbook.write_text(BAKE.replace("MARKER_SOURCE", str(marker)))
    bake = ["--bake", str(playbook), "--recipe-file", str(marker)]
    try:
        built = host_image(*bake, base, image)
        assert (built.returncode, built.stdout.strip()) == (0, f"built {image}"), built.stderr
        baked = podman("run", "--rm", image, "cat", "/etc/perfgate-baked")
        assert baked.stdout.strip() == "first"

        again = host_image(*bake, base, image)
        assert (again.returncode, again.stdout) == (0, ""), "unchanged recipe files must not rebuild"

        marker.write_text("second")
        rebuilt = host_image(*bake, base, image)
        assert rebuilt.stdout.strip() == f"built {image}", rebuilt.stderr
        assert podman("run", "--rm", image, "cat", "/etc/perfgate-baked").stdout.strip() == "second"

        playbook.write_text(BAKE.replace("MARKER_SOURCE", str(tmp_path / "missing.txt")))
        failed = host_image(*bake, base, image)
        assert failed.returncode == 1
        assert f"baking {playbook} into {image} failed" in failed.stderr
    finally:
        podman("rmi", "-f", image)


def test_host_image_refuses_an_unreadable_recipe_file(tmp_path: Path) -> None:
    absent = str(tmp_path / "absent.yml")
    result = host_image("--recipe-file", absent, "localhost/perfgate/debian:12", "localhost/perfgate/debian:12-pytest")
    assert result.returncode == 2
    assert f"cannot read {tmp_path / 'absent.yml'}" in result.stderr

"""playbooks/local/wait-booted.sh, up.yml's wait for a host's systemd, on real podman containers:
a booting host answers with systemd's state; a host whose container stopped is started once more
and, when it stops again, fails with podman's state and the container's last output."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

from containers import DEBIAN_12, podman, systemd_host

WAIT_BOOTED = Path(__file__).resolve().parents[2] / "playbooks/local/wait-booted.sh"


def wait_booted(name: str, timeout_s: str = "60") -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(WAIT_BOOTED), name, timeout_s], capture_output=True, text=True, check=False)


def test_a_booting_host_reports_systemds_state() -> None:
    with systemd_host("perfgate-test-wait") as name:
        result = wait_booted(name)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() in {"running", "degraded"}
    assert result.stderr == ""


def test_a_host_that_keeps_stopping_is_started_once_more_and_its_reason_printed() -> None:
    name = f"perfgate-test-wait-stops-{uuid.uuid4().hex[:8]}"
    # A container whose command prints a line and exits 3, as systemd does when it cannot start.
    created = podman("create", "--name", name, DEBIAN_12, "sh", "-c", "echo systemd gave up here; exit 3")
    assert created.returncode == 0, created.stderr
    try:
        assert podman("start", name).returncode == 0
        result = wait_booted(name, "20")
        runs = podman("logs", name).stdout.count("systemd gave up here")
    finally:
        podman("rm", "-f", name)
    assert result.returncode == 1
    assert f"{name} stopped while booting: status=exited exit code=3" in result.stderr
    assert "    systemd gave up here" in result.stderr
    assert result.stderr.count("starting") == 1 and runs == 2, "started once more, and only once"


def test_a_missing_container_and_a_bad_timeout_are_named() -> None:
    missing = wait_booted("perfgate-test-no-such-host")
    assert missing.returncode == 1
    assert "no container perfgate-test-no-such-host" in missing.stderr
    bad = wait_booted("perfgate-test-no-such-host", "soon")
    assert bad.returncode == 2
    assert "TIMEOUT_S must be a whole number, not 'soon'" in bad.stderr

"""playbooks/local/wait-booted.sh, up.yml's wait for a host's systemd, on real podman containers:
a booting host answers with systemd's state; a host whose container stopped is started once more
and, when it stops again, fails with podman's state and the container's last output; a host whose
boot hangs is restarted once and fails naming the job that holds it up."""

from __future__ import annotations

import re
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
    # podman says "stopped" until its cleanup process has run and "exited" after; under load the
    # script can look in between (CI did).
    assert re.search(rf"{name} stopped while booting: status=(exited|stopped) exit code=3 ", result.stderr)
    assert "    systemd gave up here" in result.stderr
    assert result.stderr.count(f"starting {name} once more") == 1 and runs == 2, "started once more, only once"


# A unit that never finishes starting holds the boot in "starting", as a hung service would.
HUNG_UNIT = """[Unit]
Description=perfgate test: a start that never ends
[Service]
Type=oneshot
ExecStart=/bin/sleep infinity
TimeoutStartSec=infinity
[Install]
WantedBy=multi-user.target
"""


def test_a_host_still_booting_at_the_deadline_is_restarted_once_and_its_pending_jobs_named() -> None:
    name = f"perfgate-test-wait-hung-{uuid.uuid4().hex[:8]}"
    install_and_boot = (
        f"printf '%s' '{HUNG_UNIT}' > /etc/systemd/system/perfgate-hung.service && "
        "ln -sf /etc/systemd/system/perfgate-hung.service /etc/systemd/system/multi-user.target.wants/ && "
        "exec /lib/systemd/systemd"
    )
    boot = ("--privileged", "--systemd=always", DEBIAN_12, "sh", "-c", install_and_boot)
    run = podman("run", "-d", "--name", name, *boot)
    assert run.returncode == 0, run.stderr
    try:
        result = wait_booted(name, "8")
    finally:
        podman("rm", "-f", name)
    assert result.returncode == 1
    assert result.stderr.count(f"systemd in {name} did not finish booting within 8 s") == 2, result.stderr
    assert result.stderr.count(f"restarting {name} once") == 1
    # Both times, before and after the restart, the unit that holds the boot up is named.
    assert len(re.findall(r"perfgate-hung\.service\s+start\s+running", result.stderr)) == 2, result.stderr


def test_a_missing_container_and_a_bad_timeout_are_named() -> None:
    missing = wait_booted("perfgate-test-no-such-host")
    assert missing.returncode == 1
    assert "no container perfgate-test-no-such-host" in missing.stderr
    bad = wait_booted("perfgate-test-no-such-host", "soon")
    assert bad.returncode == 2
    assert "TIMEOUT_S must be a whole number, not 'soon'" in bad.stderr

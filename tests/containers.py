"""Podman containers booted with systemd, as the tests' hosts."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

DEBIAN_12 = "localhost/perfgate/debian:12"


def podman(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], capture_output=True, text=True, check=False)


@contextmanager
def systemd_host(prefix: str, image: str = DEBIAN_12, publish: tuple[str, ...] = ()) -> Iterator[str]:
    """A container of the test image running systemd, removed afterwards; yields its name once
    systemd answers. `publish` takes podman's -p values, such as 127.0.0.1:18000:4242."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    ports = [arg for value in publish for arg in ("-p", value)]
    run = podman("run", "-d", "--name", name, "--privileged", "--systemd=always", *ports, image, "/lib/systemd/systemd")
    assert run.returncode == 0, f"{run.stderr} (the image comes from make setup)"
    try:
        deadline = time.monotonic() + 30
        # Right after start, systemd may not have opened its bus yet; ask again until it answers.
        while (state := podman("exec", name, "systemctl", "is-system-running", "--wait")).stdout.strip() == "":
            assert time.monotonic() < deadline, f"the container's systemd did not answer: {state.stderr}"
            time.sleep(0.5)
        yield name
    finally:
        podman("rm", "-f", name)

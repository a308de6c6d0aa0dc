"""Fixtures shared by the integration tests."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from servers import free_port, wait_until


@pytest.fixture
def moto_endpoint():
    """A real moto server (AWS APIs) on a free local port."""
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    wait_until(lambda: urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).status == 200, 30, "moto to start")
    yield endpoint
    server.terminate()
    server.wait(10)

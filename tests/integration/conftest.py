"""Fixtures shared by the integration tests."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from servers import PostgreSQL, Unleash, free_port, wait_until


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


@pytest.fixture
def moto_aws_env(moto_endpoint, monkeypatch) -> dict[str, str]:
    """Credentials and endpoint that send boto3 (in this process and in Ansible's) to moto."""
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL": moto_endpoint,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def healthy_canary_counts(tmp_path) -> dict:
    """canary_gate arguments for one error-ratio metric read from a file, in which the canary
    passes (0.05 % errors against the baseline's 0.1 %), so every evaluation advances."""
    counts = {"errors": {"baseline": {"errors": 10, "requests": 10000}, "canary": {"errors": 1, "requests": 2000}}}
    (tmp_path / "metrics.json").write_text(json.dumps({"metrics": counts}))
    return {
        "metrics_file": str(tmp_path / "metrics.json"),
        "metrics": [{"name": "errors", "source": "file", "kind": "ratio", "ceiling": 0.01}],
    }


@pytest.fixture(scope="session")
def postgres():
    """A private PostgreSQL 15 cluster for the whole run; each user creates its own database."""
    server = PostgreSQL()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def unleash(postgres, tmp_path_factory):
    """One real Unleash for every test that only needs flags of its own (they name them uniquely)."""
    server = Unleash(tmp_path_factory.mktemp("unleash"), postgres.create_database("unleash"))
    try:
        yield server
    finally:
        server.stop()

"""The prometheus role's remote write, as the hosts use it for Amazon Managed Prometheus: the
role's own template, checked by promtool and run by the real Prometheus of this machine's
distribution, with credentials in the environment (on EC2, the instance role's).

Whether that Prometheus signs with SigV4 depends on the build: Debian 12's 2.42.0+ds sends the
requests unsigned, Debian 13's 2.53.3+ds1 signs them. The role refuses SigV4 targets on a
Prometheus older than prometheus_sigv4_minimum_version, and the test checks that the role's
verdict matches what this binary really does, whichever it is."""

from __future__ import annotations

import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import yaml
from ansible_run import REPO, run_task
from servers import free_port, wait_until

TEMPLATE = REPO / "roles/prometheus/templates/prometheus.yml.j2"


class RemoteWriteReceiver:
    """Records the headers of each remote-write POST and accepts it, as AMP does (HTTP 200)."""

    def __init__(self):
        self.requests: list[dict[str, str]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append({**self.headers, "path": self.path})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/workspaces/ws-test/api/v1/remote_write"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def render(tmp_path, port: int, remote_write: list[dict]) -> dict:
    return run_task(
        {
            "ansible.builtin.template": {
                "src": str(TEMPLATE),
                "dest": str(tmp_path / "prometheus.yml"),
                "mode": "0644",
                "validate": "promtool check config --syntax-only %s",
            },
            "vars": {
                "prometheus_scrape_interval": "1s",
                "prometheus_agent_scrape_interval": "1s",
                "prometheus_agent_targets": [
                    {"address": f"127.0.0.1:{port}", "group": "canary", "region": "eu-west-1"}
                ],
                "prometheus_haproxy_targets": [],
                "prometheus_node_targets": [],
                "prometheus_remote_write": remote_write,
            },
        }
    )


def test_without_remote_write_the_config_has_none(tmp_path):
    result = render(tmp_path, 9090, [])
    assert not result.get("failed"), result.get("msg")
    assert "remote_write" not in (tmp_path / "prometheus.yml").read_text()


def test_prometheus_signs_remote_writes_with_sigv4(tmp_path):
    receiver = RemoteWriteReceiver()
    port = free_port()
    result = render(tmp_path, port, [{"url": receiver.url, "sigv4_region": "eu-west-1"}])
    assert not result.get("failed"), result.get("msg")
    environment = {
        "AWS_ACCESS_KEY_ID": "AKIDPERFGATETEST",
        "AWS_SECRET_ACCESS_KEY": "perfgate-test-secret",
        "HOME": str(tmp_path),
    }
    process = subprocess.Popen(
        [
            shutil.which("prometheus"),
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",  # it scrapes itself, the one agent target
            "--log.level=warn",
        ],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: bool(receiver.requests), 60, "Prometheus to remote-write")
    finally:
        process.terminate()
        process.wait(10)
        receiver.close()
    request = receiver.requests[0]
    assert request["Content-Encoding"] == "snappy" and request["path"].endswith("/api/v1/remote_write")
    signed = request.get("Authorization", "").startswith("AWS4-HMAC-SHA256 Credential=AKIDPERFGATETEST/")
    if signed:
        assert "/eu-west-1/aps/aws4_request" in request["Authorization"]
    guard = role_guard(tmp_path)
    assert guard.returncode == (0 if signed else 2), guard.stdout
    if not signed:
        version = re.search(
            r"version (\S+)", subprocess.run(["prometheus", "--version"], capture_output=True, text=True).stdout
        )
        assert f"Prometheus {version.group(1).split('+')[0]} on this host does not sign" in guard.stdout


def role_guard(tmp_path: Path) -> subprocess.CompletedProcess:
    """The role's own check (tasks/remote_write_check.yml) on this machine's Prometheus."""
    play = [
        {
            "hosts": "localhost",
            "gather_facts": False,
            "connection": "local",
            "vars": {
                "prometheus_remote_write": [
                    {"url": "https://aps.example/api/v1/remote_write", "sigv4_region": "eu-west-1"}
                ]
            },
            "tasks": [
                {
                    "ansible.builtin.include_role": {
                        "name": "perfgate.fleet.prometheus",
                        "tasks_from": "remote_write_check",
                    }
                }
            ],
        }
    ]
    playbook = tmp_path / "guard.yml"
    playbook.write_text(yaml.safe_dump(play))
    ansible_playbook = str(Path(sys.executable).with_name("ansible-playbook"))
    interpreter = "ansible_python_interpreter={{ ansible_playbook_python }}"
    return subprocess.run(
        [ansible_playbook, "-i", "localhost,", "-e", interpreter, str(playbook)],
        capture_output=True,
        text=True,
        env={**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_LOCALHOST_WARNING": "False"},
        check=False,
    )

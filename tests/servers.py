"""Real servers for integration tests: HAProxy and Prometheus from Debian's packages, and small
local HTTP backends. Each starts on loopback ports of its own and is stopped by the test."""

from __future__ import annotations

import contextlib
import http.server
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with contextlib.closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout} s")
        time.sleep(0.1)


class NamedBackend:
    """An HTTP server that answers every GET with its own name, so a test can count who served."""

    def __init__(self, name: str):
        self.name = name
        self.port = free_port()
        body = name.encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # One write per response and no Nagle: otherwise every request waits ~40 ms for a
            # delayed ACK and a 2000-request measurement takes over a minute.
            wbufsize = 65536
            disable_nagle_algorithm = True

            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class HAProxy:
    def __init__(self, workdir: Path, backends: dict[str, int], initial_weights: dict[str, int]):
        if not shutil.which("haproxy"):
            raise RuntimeError("haproxy is not installed; run make setup")
        self.port = free_port()
        self.socket = str(workdir / "haproxy.sock")
        servers = "\n".join(
            f"    server {name} 127.0.0.1:{port} weight {initial_weights[name]}" for name, port in backends.items()
        )
        config = workdir / "haproxy.cfg"
        config.write_text(f"""global
    stats socket {self.socket} mode 600 level admin
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend web
    bind 127.0.0.1:{self.port}
    default_backend app
backend app
    balance roundrobin
{servers}
""")
        check = subprocess.run(["haproxy", "-c", "-f", str(config)], capture_output=True, text=True, check=False)
        if check.returncode:
            raise RuntimeError(f"bad test haproxy config: {check.stdout}{check.stderr}")
        self.process = subprocess.Popen(
            ["haproxy", "-db", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        wait_until(lambda: Path(self.socket).exists(), 10, "haproxy's runtime socket to appear")

    def served_by(self, requests: int) -> dict[str, int]:
        """Send requests over one keep-alive connection; count which backend answered each."""
        import http.client

        counts: dict[str, int] = {}
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            for _ in range(requests):
                connection.request("GET", "/")
                name = connection.getresponse().read().decode()
                counts[name] = counts.get(name, 0) + 1
        finally:
            connection.close()
        return counts

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


class Prometheus:
    """A real Prometheus scraping one target. With `web_config` (the text of a --web.config.file:
    TLS, basic auth) it serves HTTPS and readiness is checked with `ready_context` and `ready_auth`."""

    def __init__(
        self,
        workdir: Path,
        scrape_target: str,
        interval: str = "1s",
        web_config: str | None = None,
        ready_context=None,
        ready_auth: str | None = None,
    ):
        binary = shutil.which("prometheus")
        if not binary:
            raise RuntimeError("prometheus is not installed; run make setup")
        self.port = free_port()
        self.url = f"{'https' if web_config else 'http'}://127.0.0.1:{self.port}"
        config = workdir / "prometheus.yml"
        config.write_text(f"""global:
  scrape_interval: {interval}
  evaluation_interval: {interval}
scrape_configs:
  - job_name: exporter
    static_configs:
      - targets: ["{scrape_target}"]
""")
        extra = []
        if web_config:
            (workdir / "web.yml").write_text(web_config)
            extra.append(f"--web.config.file={workdir / 'web.yml'}")
        self.process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
                *extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        headers = {"Authorization": ready_auth} if ready_auth else {}

        def ready() -> bool:
            request = urllib.request.Request(f"{self.url}/-/ready", headers=headers)
            return urllib.request.urlopen(request, timeout=1, context=ready_context).status == 200

        wait_until(ready, 30, "Prometheus to become ready")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

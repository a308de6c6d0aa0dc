"""The gate's Prometheus source against a real Prometheus behind TLS, client certificates and
basic auth (Debian's prometheus with --web.config.file), and its SigV4 signing against botocore's
own signature check of the request as it arrived."""

from __future__ import annotations

import base64
import http.server
import ssl
import subprocess
import threading
import urllib.parse
import urllib.request
from pathlib import Path

import bcrypt
import pytest
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_sources import (
    PrometheusSource,
    SourceError,
    prometheus_access,
)
from ansible_run import run_task
from servers import Prometheus, wait_until

QUERY = 'up{job="exporter"}'
WINDOWED = {"errors": "count_over_time(up[${since}])", "requests": "count_over_time(up[${since}])"}


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Path:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, both signed by the CA."""
    where = tmp_path_factory.mktemp("pki")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=perfgate test CA",
            "-keyout", "ca.key", "-out", "ca.pem", cwd=where)  # fmt: skip
    for name, extension in (("server", "subjectAltName=IP:127.0.0.1"), ("client", "extendedKeyUsage=clientAuth")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", f"{name}.key",
                "-out", f"{name}.csr", cwd=where)  # fmt: skip
        (where / f"{name}.ext").write_text(extension + "\n")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-days", "1", "-extfile", f"{name}.ext", "-out", f"{name}.pem", cwd=where)  # fmt: skip
    return where


@pytest.fixture(scope="module")
def secured(pki, tmp_path_factory):
    """Prometheus serving HTTPS only, asking for a client certificate signed by the CA and for
    the user gate's password."""
    password_hash = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode()
    web_config = f"""tls_server_config:
  cert_file: {pki / "server.pem"}
  key_file: {pki / "server.key"}
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: {pki / "ca.pem"}
basic_auth_users:
  gate: {password_hash}
"""
    context = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    context.load_cert_chain(str(pki / "client.pem"), str(pki / "client.key"))
    auth = "Basic " + base64.b64encode(b"gate:s3cret").decode()
    workdir = tmp_path_factory.mktemp("prometheus")
    # It scrapes itself, so `up` has a series; the scrape fails (TLS), which `up` reports as 0.
    prometheus = Prometheus(workdir, "127.0.0.1:1", web_config=web_config, ready_context=context, ready_auth=auth)

    def scraped() -> bool:  # the first scrape (every second) gives `up` its series
        request = urllib.request.Request(f"{prometheus.url}/api/v1/query?query=up", headers={"Authorization": auth})
        return '"result":[{' in urllib.request.urlopen(request, timeout=2, context=context).read().decode()

    wait_until(scraped, 30, "Prometheus to scrape its target once")
    yield prometheus
    prometheus.stop()


def access(pki: Path, **overrides):
    options = {
        "type": "basic",
        "username": "gate",
        "password": "s3cret",
        "ca_path": str(pki / "ca.pem"),
        "client_cert": str(pki / "client.pem"),
        "client_key": str(pki / "client.key"),
    }
    options.update(overrides)
    return prometheus_access(options)


def query(secured, pki, **overrides):
    return PrometheusSource(secured.url, timeout=5, access=access(pki, **overrides))._query(QUERY)


def test_tls_client_certificate_and_basic_auth_reach_prometheus(secured, pki):
    assert query(secured, pki)  # the series of `up`


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"password": "wrong"}, "HTTP 401 (check prometheus_auth)"),
        ({"type": "none"}, "HTTP 401 (check prometheus_auth)"),
        ({"ca_path": None}, "certificate verify failed"),
        ({"client_cert": None, "client_key": None}, "cannot reach Prometheus"),
    ],
    ids=["wrong password", "no credentials", "unknown CA", "no client certificate"],
)
def test_each_missing_piece_is_a_clear_source_error(secured, pki, overrides, message):
    with pytest.raises(SourceError, match=message.replace("(", r"\(").replace(")", r"\)")):
        query(secured, pki, **overrides)


def test_the_module_passes_the_pre_flight_through_prometheus_auth(secured, pki, tmp_path):
    task = {
        "perfgate.fleet.canary_gate": {
            "rollout": "tls",
            "state_dir": str(tmp_path / "state"),
            "prometheus_url": secured.url,
            "prometheus_auth": {
                "type": "basic",
                "username": "gate",
                "password": "s3cret",
                "ca_path": str(pki / "ca.pem"),
                "client_cert": str(pki / "client.pem"),
                "client_key": str(pki / "client.key"),
            },
            # The pre-flight asks the baseline's queries; Prometheus has `up` for its one target.
            "metrics": [{"name": "up", "kind": "ratio", "canary": WINDOWED, "baseline": WINDOWED}],
            "traffic": {"file": {"path": str(tmp_path / "weight.json")}},
        }
    }
    result = run_task(task)
    assert result.get("decision") == "advance", result
    assert "s3cret" not in str(result)  # no_log
    task["perfgate.fleet.canary_gate"]["prometheus_auth"]["password"] = "wrong"
    task["perfgate.fleet.canary_gate"]["rollout"] = "tls-wrong"
    refused = run_task(task)
    assert refused.get("failed") and "refusing to start" in refused["msg"] and "HTTP 401" in refused["msg"]


SEEN: list = []


class Recorder(http.server.BaseHTTPRequestHandler):
    """Keeps each request's path and headers in SEEN and answers like Prometheus."""

    def do_GET(self):
        SEEN.append((self.path, self.headers))  # header names compare case-insensitively, as in HTTP
        body = b'{"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "1"]}]}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def recorder():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    SEEN.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_bearer_token_and_headers_are_sent(recorder):
    source = PrometheusSource(
        recorder, access=prometheus_access({"type": "bearer", "token": "t0ken", "headers": {"X-Scope-OrgID": "team"}})
    )
    source._query(QUERY)
    _, headers = SEEN[-1]
    assert headers["Authorization"] == "Bearer t0ken" and headers["X-Scope-OrgID"] == "team"


def test_sigv4_signature_verifies_for_the_request_as_it_arrived(recorder, monkeypatch):
    """botocore recomputes the signature from what the server received (method, path, query
    string, host and date headers) with the same credentials: a request whose query was encoded
    differently from what was signed would not match."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    source = PrometheusSource(recorder, access=prometheus_access({"type": "sigv4", "region": "eu-west-1"}))
    source._query('sum by (le) (rate(x{group="canary"}[5m]))')
    path, headers = SEEN[-1]
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/aps/aws4_request" in headers["Authorization"]

    received = AWSRequest(method="GET", url=f"{recorder}{path}", headers={"X-Amz-Date": headers["X-Amz-Date"]})
    signer = SigV4Auth(Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"), "aps", "eu-west-1")
    received.context["timestamp"] = headers["X-Amz-Date"]
    canonical = signer.canonical_request(received)
    expected = signer.signature(signer.string_to_sign(received, canonical), received)
    assert headers["Authorization"].endswith(f"Signature={expected}")
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)["query"] == [
        'sum by (le) (rate(x{group="canary"}[5m]))'
    ]

"""perfgate-bench serve: endpoints, bad requests, metrics, fault injection, config and SIGTERM."""

import json
import signal
import socket
import subprocess
import sys
import time

import pytest
from agent_http import metric_families, request
from perfgate_bench import kernels
from perfgate_bench.cli import main
from perfgate_bench.runner import BenchError
from perfgate_bench.service import LATENCY_BUCKETS, ServiceConfig
from servers import free_port, wait_until


def raw_request(port, text: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(text)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_checksum_endpoint_returns_the_defined_checksum(start_service):
    port = start_service(version="1.2.3")
    body = bytes(range(256)) * 257
    status, _, reply = request(port, "POST", "/checksum", body)
    assert status == 200
    assert json.loads(reply) == {
        "checksum": f"{kernels.checksum_reference(body):016x}",
        "length": len(body),
        "version": "1.2.3",
        "variant": "off",
    }


def test_healthz_names_the_version(start_service):
    port = start_service(version="9.9")
    status, _, reply = request(port, "GET", "/healthz")
    assert status == 200 and json.loads(reply) == {"status": "ok", "version": "9.9"}


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("POST", "/checksum", b"", 400, "body is empty"),
        ("POST", "/checksum", b"x" * 2048, 413, "the limit is 1024"),
        ("GET", "/checksum", None, 405, "use POST"),
        ("PUT", "/checksum", b"x", 405, "use POST"),
        ("POST", "/metrics", b"x", 405, "use GET"),
        ("DELETE", "/healthz", None, 405, "use GET"),
        ("GET", "/nowhere", None, 404, "no such path /nowhere"),
        ("POST", "/nowhere", b"x", 404, "no such path /nowhere"),
    ],
)
def test_bad_requests_get_a_4xx_with_a_message(start_service, method, path, body, status, message):
    port = start_service(max_body_bytes=1024)
    got, headers, reply = request(port, method, path, body)
    assert got == status
    assert message in json.loads(reply)["error"]
    if status == 405:
        assert dict(headers)["Allow"] in ("GET", "POST")


def test_post_without_content_length_gets_411(start_service):
    port = start_service()
    reply = raw_request(port, b"POST /checksum HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 411")
    assert b"needs a Content-Length" in reply


def test_metrics_parse_and_count_requests_by_version_and_code(start_service):
    port = start_service(version="2.0")
    for _ in range(3):
        assert request(port, "POST", "/checksum", b"abc")[0] == 200
    request(port, "POST", "/checksum", b"")
    families = metric_families(port)
    counts = {
        (s.labels["version"], s.labels["variant"], s.labels["code"]): s.value
        for s in families["perfgate_requests"].samples
        if s.name == "perfgate_requests_total"
    }
    # Without a feature flag every request is served by the flag-off implementation.
    assert counts == {("2.0", "off", "200"): 3.0, ("2.0", "off", "400"): 1.0}
    latency = families["perfgate_request_duration_seconds"]
    buckets = [s for s in latency.samples if s.name.endswith("_bucket")]
    assert {(s.labels["version"], s.labels["variant"]) for s in buckets} == {("2.0", "on"), ("2.0", "off")}
    assert len(buckets) == 2 * (len(LATENCY_BUCKETS) + 1)  # and +Inf, for each variant
    assert min(LATENCY_BUCKETS) == 0.0001 and max(LATENCY_BUCKETS) == 2.0
    counts = {s.labels["variant"]: s.value for s in latency.samples if s.name.endswith("_count")}
    assert counts == {"off": 4.0, "on": 0.0}
    build = families["perfgate_build_info"].samples[0]
    assert build.labels == {"version": "2.0"} and build.value == 1.0
    errors = families["perfgate_request_errors"].samples
    assert sorted((s.labels["variant"], s.value) for s in errors if s.name.endswith("_total")) == [
        ("off", 0.0),
        ("on", 0.0),
    ]
    # The gate's memory kind reads the agent's resident memory, as /proc tells it.
    resident = families["process_resident_memory_bytes"].samples[0].value
    assert 10e6 < resident < 2e9


def test_injected_errors_are_counted_as_5xx(start_service):
    port = start_service(version="bad", inject_error_ratio=1.0)
    status, _, reply = request(port, "POST", "/checksum", b"abc")
    assert status == 500 and "injected" in json.loads(reply)["error"]
    errors = metric_families(port)["perfgate_request_errors"].samples
    assert {s.labels["variant"]: s.value for s in errors if s.name.endswith("_total")} == {"off": 1.0, "on": 0.0}


def test_injected_latency_delays_every_request(start_service):
    port = start_service(inject_latency_ms=150)
    started = time.monotonic()
    assert request(port, "POST", "/checksum", b"abc")[0] == 200
    assert time.monotonic() - started >= 0.15


def test_periodic_kernels_publish_gauges_and_jitter(start_service):
    port = start_service(periodic_kernels=["checksum", "jitter"], periodic_interval=0.2)

    def published():
        families = metric_families(port)
        gauges = {s.labels["kernel"]: s.value for s in families["perfgate_kernel_result"].samples}
        jitter = next(s.value for s in families["perfgate_jitter_seconds"].samples if s.name.endswith("_count"))
        return gauges.get("checksum", 0) > 0 and gauges.get("jitter_p999", 0) > 0 and jitter >= 5000

    wait_until(published, 60, "periodic kernel results in /metrics")


@pytest.mark.parametrize(
    ("config_text", "message"),
    [
        ("port = 0\n", "is not a TCP port"),
        ("port = 'http'\n", "wrong type"),
        ("colour = 'blue'\n", "unknown setting(s) colour"),
        ("inject_error_ratio = 1.5\n", "between 0 and 1"),
        ("periodic_kernels = ['triad']\n", "may hold checksum and jitter"),
        ("periodic_kernels = 'checksum'\n", "must be a list"),
        ("cpus = 'a-b'\n", "is not a CPU number"),
        ("port = = 1\n", "is not valid TOML"),
        ("flag_name = 'v2'\n", "flag_url, flag_token not set"),
        ("flag_url = 'unleash:4242'\nflag_token = 't'\nflag_name = 'v2'\n", "is not an http(s) URL"),
        ("flag_url = 'http://u/api'\nflag_token = 't'\nflag_name = 'v2'\nflag_stale_after = 1\n", "longer than"),
        ("inject_flag_on_error_ratio = 2\n", "inject_flag_on_error_ratio must be between 0 and 1"),
    ],
)
def test_bad_config_exits_2_with_a_message(tmp_path, capsys, config_text, message):
    config = tmp_path / "agent.toml"
    config.write_text(config_text)
    assert main(["serve", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_missing_config_file_is_named(capsys, tmp_path):
    assert main(["serve", "--config", str(tmp_path / "absent.toml")]) == 2
    assert "cannot read config" in capsys.readouterr().err


def test_cli_flags_override_the_config_file(tmp_path):
    config = tmp_path / "agent.toml"
    config.write_text("port = 8081\nversion = 'from-file'\ninject_latency_ms = 5.0\n")
    loaded = ServiceConfig.load(str(config), {"port": 9000, "version": None})
    assert (loaded.port, loaded.version, loaded.inject_latency_ms) == (9000, "from-file", 5.0)


def test_sigterm_stops_the_service_cleanly(tmp_path):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "perfgate_bench.cli", "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: request(port, "GET", "/healthz")[0] == 200, 60, "the service answering")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        assert "Traceback" not in process.stderr.read()
        with pytest.raises(OSError):
            request(port, "GET", "/healthz")
    finally:
        process.kill()
        process.wait()


def test_the_flag_token_comes_from_the_environment_unless_the_config_sets_it(monkeypatch):
    settings = {"flag_url": "http://127.0.0.1:9/api", "flag_name": "v2"}
    monkeypatch.setenv("PERFGATE_FLAG_TOKEN", "*:development.secret\n")
    assert ServiceConfig.load(None, settings).flag_token == "*:development.secret"
    assert ServiceConfig.load(None, {**settings, "flag_token": "from-config"}).flag_token == "from-config"
    monkeypatch.delenv("PERFGATE_FLAG_TOKEN")
    with pytest.raises(BenchError, match="flag_token not set"):
        ServiceConfig.load(None, settings)

"""perfgate-bench serve: the checksum service a canary rollout moves traffic to.

Threads serve requests; the checksum kernel releases the GIL (numba nogil), so every core works.
Fault injection (inject_latency_ms, inject_error_ratio) exists for rehearsals: it lets a rollout
be practised against a deliberately bad build. Both are off unless configured.

With a feature flag configured (flag_url, flag_token, flag_name), each request is served by the
numba kernel (flag off) or by its second implementation (flag on; checksum_word_by_word, as free
of the GIL and a small part of a request's time, so a good flag is an equal build), as
Unleash decides for the user in the flag_user_header; every request metric carries variant="on"
or "off". inject_flag_on_latency_ms and inject_flag_on_error_ratio add faults to flag-on requests
only, on top of the others, so a flag rollout of a bad variant can be rehearsed on a good build.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import threading
import time
import tomllib
from dataclasses import dataclass, field, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from perfgate_bench import __version__, kernels
from perfgate_bench.flag import FeatureFlag
from perfgate_bench.runner import BenchError, jitter_samples, parse_cpus, pin

# Fine enough around 1-20 ms that p50/p95/p99 interpolate within a few percent.
LATENCY_BUCKETS = (
    0.0001,
    0.0002,
    0.0003,
    0.0005,
    0.00075,
    0.001,
    0.0015,
    0.002,
    0.003,
    0.004,
    0.005,
    0.0065,
    0.008,
    0.01,
    0.0125,
    0.015,
    0.0175,
    0.02,
    0.025,
    0.03,
    0.04,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.3,
    0.5,
    0.75,
    1.0,
    1.5,
    2.0,
)
JITTER_BUCKETS = (1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 5e-2)


@dataclass
class ServiceConfig:
    listen: str = "127.0.0.1"
    port: int = 8080
    cpus: str = ""
    version: str = __version__
    max_body_bytes: int = 16 << 20
    periodic_kernels: list[str] = field(default_factory=list)
    periodic_interval: float = 60.0
    inject_latency_ms: float = 0.0
    inject_error_ratio: float = 0.0
    inject_flag_on_latency_ms: float = 0.0
    inject_flag_on_error_ratio: float = 0.0
    flag_url: str = ""
    # Unset here, the token comes from the environment's PERFGATE_FLAG_TOKEN: the systemd unit
    # reads it from a root-only EnvironmentFile, so no file the service's user reads holds it.
    flag_token: str = ""
    flag_name: str = ""
    flag_app_name: str = "perfgate-bench"
    flag_user_header: str = "X-User-Id"
    flag_refresh_interval: int = 1
    flag_stale_after: float = 5.0

    @classmethod
    def load(cls, path: str | None, overrides: dict) -> ServiceConfig:
        values: dict = {}
        if path:
            try:
                with open(path, "rb") as handle:
                    values = tomllib.load(handle)
            except OSError as error:
                raise BenchError(f"cannot read config {path}: {error.strerror}") from None
            except tomllib.TOMLDecodeError as error:
                raise BenchError(f"config {path} is not valid TOML: {error}") from None
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise BenchError(f"config {path}: unknown setting(s) {', '.join(sorted(unknown))}")
        values.update({k: v for k, v in overrides.items() if v is not None})
        values.setdefault("flag_token", os.environ.get("PERFGATE_FLAG_TOKEN", "").strip())
        config = cls(**values)
        try:
            config.check()
        except (TypeError, ValueError) as error:
            if isinstance(error, BenchError):
                raise
            raise BenchError(f"config {path or '(flags)'}: a setting has the wrong type: {error}") from None
        return config

    def check(self) -> None:
        if not isinstance(self.periodic_kernels, list):
            raise BenchError('periodic_kernels must be a list such as ["checksum", "jitter"]')
        if not 0 < int(self.port) < 65536:
            raise BenchError(f"port {self.port} is not a TCP port")
        if not 0.0 <= float(self.inject_error_ratio) <= 1.0:
            raise BenchError("inject_error_ratio must be between 0 and 1")
        if float(self.inject_latency_ms) < 0 or float(self.periodic_interval) <= 0 or int(self.max_body_bytes) < 1:
            raise BenchError("inject_latency_ms must be >= 0, periodic_interval and max_body_bytes > 0")
        unknown = set(self.periodic_kernels) - {"checksum", "jitter"}
        if unknown:
            raise BenchError(f"periodic_kernels may hold checksum and jitter, not {sorted(unknown)}")
        if self.cpus:
            parse_cpus(self.cpus)
        flag_settings = {"flag_url": self.flag_url, "flag_token": self.flag_token, "flag_name": self.flag_name}
        if any(flag_settings.values()) and not all(flag_settings.values()):
            missing = ", ".join(name for name, value in flag_settings.items() if not value)
            raise BenchError(
                f"a feature flag needs flag_url, flag_token (or PERFGATE_FLAG_TOKEN) and flag_name; {missing} not set"
            )
        if self.flag_url and not self.flag_url.startswith(("http://", "https://")):
            raise BenchError(f"flag_url {self.flag_url!r} is not an http(s) URL such as http://unleash:4242/api")
        if int(self.flag_refresh_interval) < 1 or float(self.flag_stale_after) <= int(self.flag_refresh_interval):
            raise BenchError("flag_refresh_interval must be >= 1 s and flag_stale_after longer than it")
        if not 0.0 <= float(self.inject_flag_on_error_ratio) <= 1.0 or float(self.inject_flag_on_latency_ms) < 0:
            raise BenchError("inject_flag_on_error_ratio must be between 0 and 1, inject_flag_on_latency_ms >= 0")


class Metrics:
    def __init__(self, version: str):
        self.registry = CollectorRegistry()
        # process_resident_memory_bytes and the other process_* series: the gate's memory kind
        # compares their growth. A registry of our own does not get them unless asked.
        ProcessCollector(registry=self.registry)
        self.version = version
        # variant: "on" for requests the feature flag sent to the second implementation, "off"
        # for the rest (all of them when no flag is configured).
        self.latency = Histogram(
            "perfgate_request_duration_seconds",
            "POST /checksum latency",
            ["version", "variant"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.requests = Counter(
            "perfgate_requests_total", "Requests served", ["version", "variant", "code"], registry=self.registry
        )
        self.errors = Counter(
            "perfgate_request_errors_total",
            "Requests answered with 5xx",
            ["version", "variant"],
            registry=self.registry,
        )
        self.flag_fallbacks = Counter(
            "perfgate_flag_fallback_requests_total",
            "Requests served flag-off because the flag server had not answered within flag_stale_after",
            registry=self.registry,
        )
        self.flag_server_up = Gauge(
            "perfgate_flag_server_up",
            "1 while the flag server answers the agent's refreshes, 0 when it does not",
            registry=self.registry,
        )
        self.kernel = Gauge(
            "perfgate_kernel_result", "Latest periodic kernel result", ["kernel", "unit"], registry=self.registry
        )
        self.jitter = Histogram(
            "perfgate_jitter_seconds",
            "Per-iteration time of the fixed-work loop",
            buckets=JITTER_BUCKETS,
            registry=self.registry,
        )
        Gauge("perfgate_build_info", "Build of this agent", ["version"], registry=self.registry).labels(version).set(1)
        # Expose zero-valued series up front so the gate's queries find both groups from the start.
        for variant in ("on", "off"):
            self.errors.labels(version, variant)
            self.latency.labels(version, variant)


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that hangs up mid-request (load generators do at the end of a run) is normal
        # traffic, not a server fault; anything else still gets the standard report.
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class Service:
    def __init__(self, config: ServiceConfig):
        self.config = config
        self.metrics = Metrics(config.version)
        self.flag = None
        if config.flag_name:
            self.flag = FeatureFlag(
                config.flag_url,
                config.flag_token,
                config.flag_name,
                config.flag_app_name,
                int(config.flag_refresh_interval),
                float(config.flag_stale_after),
            )
            self.metrics.flag_server_up.set_function(lambda: float(self.flag.answering()))
        self.stopping = threading.Event()
        self.server = QuietServer((config.listen, int(config.port)), self._handler())
        self._periodic = threading.Thread(target=self._periodic_loop, daemon=True)

    def _handler(self):
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = f"perfgate-bench/{__version__}"
            wbufsize = 65536
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def _reply(
                self,
                status: int,
                payload: dict | bytes,
                content_type: str = "application/json",
                extra_headers: dict | None = None,
            ):
                body = payload if isinstance(payload, bytes) else (json.dumps(payload) + "\n").encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in (extra_headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def _not_allowed(self, allowed: str):
                self._reply(
                    405,
                    {"error": f"{self.command} is not allowed on {self.path}; use {allowed}"},
                    extra_headers={"Allow": allowed},
                )

            def do_GET(self):
                if self.path == "/healthz":
                    self._reply(200, {"status": "ok", "version": service.config.version})
                elif self.path == "/metrics":
                    self._reply(200, generate_latest(service.metrics.registry), CONTENT_TYPE_LATEST)
                elif self.path == "/checksum":
                    self._not_allowed("POST")
                else:
                    self._reply(404, {"error": f"no such path {self.path}; try POST /checksum"})

            def do_POST(self):
                if self.path != "/checksum":
                    if self.path in ("/healthz", "/metrics"):
                        self._not_allowed("GET")
                    else:
                        self._reply(404, {"error": f"no such path {self.path}; try POST /checksum"})
                    return
                started = time.perf_counter()
                flag_on = service.flag_decision(self.headers.get(service.config.flag_user_header))
                status = service.checksum(self, flag_on)
                elapsed = time.perf_counter() - started
                version, variant = service.config.version, "on" if flag_on else "off"
                service.metrics.latency.labels(version, variant).observe(elapsed)
                service.metrics.requests.labels(version, variant, str(status)).inc()
                if status >= 500:
                    service.metrics.errors.labels(version, variant).inc()

            do_PUT = do_DELETE = do_PATCH = lambda self: self._not_allowed(
                "POST" if self.path == "/checksum" else "GET"
            )

        return Handler

    def flag_decision(self, user_id: str | None) -> bool:
        if self.flag is None:
            return False
        decision = self.flag.is_on(user_id)
        if decision is None:
            self.metrics.flag_fallbacks.inc()
            return False
        return decision

    def checksum(self, handler, flag_on: bool = False) -> int:
        length_header = handler.headers.get("Content-Length")
        if length_header is None or not length_header.isdigit():
            handler._reply(411, {"error": "POST /checksum needs a Content-Length"})
            return 411
        length = int(length_header)
        if length == 0:
            handler._reply(400, {"error": "the body is empty; send the bytes to checksum"})
            return 400
        if length > self.config.max_body_bytes:
            handler._reply(413, {"error": f"the body is {length} bytes; the limit is {self.config.max_body_bytes}"})
            handler.close_connection = True
            return 413
        body = handler.rfile.read(length)
        latency_ms, error_ratio = self.config.inject_latency_ms, self.config.inject_error_ratio
        if flag_on:
            latency_ms += self.config.inject_flag_on_latency_ms
            error_ratio = 1 - (1 - error_ratio) * (1 - self.config.inject_flag_on_error_ratio)
        if latency_ms:
            time.sleep(latency_ms / 1000.0)
        if error_ratio and random.random() < error_ratio:
            handler._reply(500, {"error": "injected error (rehearsal fault injection is on)"})
            return 500
        value = kernels.checksum_word_by_word(body) if flag_on else kernels.checksum(body)
        handler._reply(
            200,
            {
                "checksum": f"{value:016x}",
                "length": length,
                "version": self.config.version,
                "variant": "on" if flag_on else "off",
            },
        )
        return 200

    def _periodic_loop(self) -> None:
        data = np.random.default_rng(3).integers(0, 256, 16 << 20, dtype=np.uint8)
        while not self.stopping.is_set():
            if "checksum" in self.config.periodic_kernels:
                kernels.checksum(data[:4096])
                started = time.perf_counter()
                kernels.checksum(data)
                self.metrics.kernel.labels("checksum", "GB/s").set(data.size / (time.perf_counter() - started) / 1e9)
            if "jitter" in self.config.periodic_kernels:
                samples = jitter_samples(5000)
                for sample in samples:
                    self.metrics.jitter.observe(sample / 1e9)
                self.metrics.kernel.labels("jitter_p999", "us").set(float(np.percentile(samples, 99.9)) / 1000)
            self.stopping.wait(self.config.periodic_interval)

    def serve(self) -> None:
        if self.config.cpus:
            pin(parse_cpus(self.config.cpus))
        # Compile or load the cache before the first request; the flag-on side only when a flag
        # can send requests to it.
        kernels.checksum(b"warm-up")
        if self.flag is not None:
            kernels.checksum_word_by_word(b"warm-up")
        if threading.current_thread() is threading.main_thread():
            # shutdown() waits for serve_forever's loop, so it must run outside the signal handler.
            signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=self.shutdown, daemon=True).start())
        if self.config.periodic_kernels:
            self._periodic.start()
        if self.flag is not None:
            self.flag.start()
        self.server.serve_forever()
        self.server.server_close()

    def shutdown(self) -> None:
        self.stopping.set()
        if self.flag is not None:
            self.flag.stop()
        self.server.shutdown()

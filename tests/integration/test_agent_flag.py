"""The agent's flag-guarded code path against a real Unleash 7.5.1 on PostgreSQL 15: the SDK
decides each request by its X-User-Id, the metrics carry the variant, a rollback reaches the
agent, and an unreachable server means flag-off, counted."""

from __future__ import annotations

import json
import time
import uuid

from agent_http import metric_families, request
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_traffic import build_traffic
from perfgate_bench import kernels
from servers import Unleash, wait_until

ENVIRONMENT = "development"


def new_flag(server: Unleash):
    """A fresh flag and the gate's own backend for it, which sets its rollout."""
    name = f"checksum-v2-{uuid.uuid4().hex[:8]}"
    flag = build_traffic(
        {"unleash": {"url": server.url, "token": Unleash.ADMIN_TOKEN, "feature": name, "environment": ENVIRONMENT}},
        None,
    )
    flag.admin.call("POST", "/api/admin/projects/default/features", {"name": name})
    return name, flag


def agent_settings(server: Unleash, flag: str, **extra) -> dict:
    return {
        "flag_url": f"{server.url}/api",
        "flag_token": Unleash.CLIENT_TOKEN,
        "flag_name": flag,
        "flag_refresh_interval": 1,
        **extra,
    }


def variant_of(port: int, user: str, body: bytes = b"perfgate") -> str:
    status, _, reply = request(port, "POST", "/checksum", body, {"X-User-Id": user})
    assert status == 200, reply
    return json.loads(reply)["variant"]


def served(port: int) -> dict[str, float]:
    samples = metric_families(port)["perfgate_requests"].samples
    totals = {"on": 0.0, "off": 0.0}
    for sample in samples:
        if sample.name == "perfgate_requests_total":
            totals[sample.labels["variant"]] += sample.value
    return totals


def test_the_flag_splits_users_stably_and_both_sides_give_the_same_checksum(unleash, start_service):
    name, flag = new_flag(unleash)
    port = start_service(**agent_settings(unleash, name))
    wait_until(lambda: metric_families(port)["perfgate_flag_server_up"].samples[0].value == 1.0, 30, "the SDK's fetch")
    users = [f"user-{i}" for i in range(400)]
    assert {variant_of(port, user) for user in users} == {"off"}  # the flag is off until the gate turns it on

    flag.set_share(50)
    wait_until(lambda: variant_of(port, "probe-" + uuid.uuid4().hex) == "on", 15, "the agent seeing the rollout")
    time.sleep(1.5)  # one more refresh, so every evaluation below sees the same state
    first = {user: variant_of(port, user) for user in users}
    on = [user for user, variant in first.items() if variant == "on"]
    # Binomial(400, 0.5): 160-240 holds with probability 1 - 6e-5 for a fair hash.
    assert 160 <= len(on) <= 240, len(on)
    assert {user: variant_of(port, user) for user in users} == first  # a user stays on one side

    body = bytes(range(256)) * 41 + b"tail"
    answers = {}
    for user in (on[0], next(u for u, v in first.items() if v == "off")):
        status, _, reply = request(port, "POST", "/checksum", body, {"X-User-Id": user})
        assert status == 200
        answers[json.loads(reply)["variant"]] = json.loads(reply)["checksum"]
    expected = f"{kernels.checksum_reference(body):016x}"
    assert answers == {"on": expected, "off": expected}

    before = served(port)
    for user in users:
        variant_of(port, user)
    after = served(port)
    assert after["on"] - before["on"] == len(on) and after["off"] - before["off"] == len(users) - len(on)


def test_fault_injection_can_hit_the_flag_on_side_only(unleash, start_service):
    name, flag = new_flag(unleash)
    flag.set_share(100)
    port = start_service(**agent_settings(unleash, name, inject_flag_on_error_ratio=1.0))
    user = "user-injected"
    wait_until(
        lambda: request(port, "POST", "/checksum", b"x", {"X-User-Id": user})[0] == 500, 30, "the flag-on side failing"
    )
    flag.set_share(0)
    wait_until(
        lambda: request(port, "POST", "/checksum", b"x", {"X-User-Id": user})[0] == 200, 15, "the rollback reaching it"
    )
    errors = metric_families(port)["perfgate_request_errors"].samples
    by_variant = {s.labels["variant"]: s.value for s in errors if s.name.endswith("_total")}
    assert by_variant["on"] >= 1 and by_variant["off"] == 0


def test_an_unanswering_server_means_flag_off_counted_until_it_answers_again(postgres, tmp_path, start_service):
    database = postgres.create_database("unleash_outage")
    server = Unleash(tmp_path, database)
    try:
        name, flag = new_flag(server)
        flag.set_share(100)
        port = start_service(**agent_settings(server, name, flag_stale_after=3))
        wait_until(lambda: variant_of(port, "u1") == "on", 30, "the agent serving flag-on")
        # Requests before the SDK's first fetch were served flag-off and counted; none after it.
        started = metric_families(port)["perfgate_flag_fallback_requests"].samples[0].value
        assert {variant_of(port, f"user-{i}") for i in range(20)} == {"on"}
        assert metric_families(port)["perfgate_flag_fallback_requests"].samples[0].value == started

        server.stop()
        # The SDK keeps its last state; the agent must stop trusting it after flag_stale_after.
        wait_until(lambda: variant_of(port, "u1") == "off", 15, "the agent falling back to flag-off")
        families = metric_families(port)
        assert families["perfgate_flag_server_up"].samples[0].value == 0.0
        fallbacks = families["perfgate_flag_fallback_requests"].samples[0].value
        assert fallbacks >= 1
        variant_of(port, "u2")
        assert metric_families(port)["perfgate_flag_fallback_requests"].samples[0].value == fallbacks + 1

        server = Unleash(tmp_path, database, port=server.port)
        wait_until(lambda: variant_of(port, "u1") == "on", 30, "the agent trusting the flag again")
        assert metric_families(port)["perfgate_flag_server_up"].samples[0].value == 1.0
    finally:
        server.stop()


def test_an_agent_that_never_reached_the_server_serves_flag_off(start_service):
    port = start_service(flag_url="http://127.0.0.1:9/api", flag_token="t", flag_name="checksum-v2")
    assert {variant_of(port, f"user-{i}") for i in range(20)} == {"off"}
    families = metric_families(port)
    assert families["perfgate_flag_server_up"].samples[0].value == 0.0
    assert families["perfgate_flag_fallback_requests"].samples[0].value == 20

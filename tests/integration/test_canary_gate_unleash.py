"""canary_gate's unleash backend against a real Unleash 7.5.1 on a real PostgreSQL 15: every
operation read back through the Admin API, the errors a user can act on, a concurrent edit,
and what the real Python SDK makes of the percentages the gate sets."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import numpy as np
import pytest
from ansible_collections.perfgate.fleet.plugins.module_utils.canary_traffic import TrafficError, build_traffic
from ansible_run import run_task
from servers import Unleash, free_port, wait_until

ENVIRONMENT = "development"


def new_flag(server: Unleash) -> str:
    name = f"checksum-v2-{uuid.uuid4().hex[:8]}"
    server.admin("POST", "/api/admin/projects/default/features", {"name": name})
    return name


def environment_of(server: Unleash, flag: str) -> dict:
    feature = server.admin("GET", f"/api/admin/projects/default/features/{flag}")
    return next(e for e in feature["environments"] if e["name"] == ENVIRONMENT)


def traffic(server: Unleash, flag: str, **overrides) -> dict:
    options = {"url": server.url, "token": Unleash.ADMIN_TOKEN, "feature": flag, "environment": ENVIRONMENT}
    return {"unleash": {**options, **overrides}}


def good_metrics(path):
    rng = np.random.default_rng(17)
    samples = {
        "baseline": list(rng.lognormal(np.log(0.01), 0.2, 3000)),
        "canary": list(rng.lognormal(np.log(0.01), 0.2, 500)),
    }
    path.write_text(json.dumps({"metrics": {"latency": samples}}))


def gate_task(tmp_path, server, flag, **extra) -> dict:
    return {
        "perfgate.fleet.canary_gate": {
            "rollout": flag,
            "state_dir": str(tmp_path / "state"),
            "steps": [10, 25, 50, 100],
            "metrics_file": str(tmp_path / "metrics.json"),
            "metrics": [{"name": "latency", "source": "file", "kind": "latency"}],
            "traffic": traffic(server, flag),
            **extra,
        }
    }


def test_gate_walks_a_flag_through_its_steps_and_rolls_it_back_off(tmp_path, unleash):
    flag = new_flag(unleash)
    # Someone's own strategy in the same environment: the gate must never touch it.
    theirs = unleash.admin(
        "POST",
        f"/api/admin/projects/default/features/{flag}/environments/{ENVIRONMENT}/strategies",
        {"name": "default", "title": "beta testers", "disabled": True},
    )
    good_metrics(tmp_path / "metrics.json")
    for expected in (10, 25, 50, 100):
        result = run_task(gate_task(tmp_path, unleash, flag))
        assert not result.get("failed"), result.get("msg")
        assert result["weight_after"] == expected
        environment = environment_of(unleash, flag)
        assert environment["enabled"] is True
        owned = [s for s in environment["strategies"] if s.get("title") == "perfgate canary_gate"]
        assert len(owned) == 1, environment["strategies"]
        assert owned[0]["name"] == "flexibleRollout"
        assert owned[0]["parameters"] == {"rollout": str(expected), "stickiness": "default", "groupId": flag}
        untouched = next(s for s in environment["strategies"] if s["id"] == theirs["id"])
        assert untouched["title"] == "beta testers" and untouched["disabled"] is True

    result = run_task(gate_task(tmp_path, unleash, flag, action="rollback"))
    assert not result.get("failed"), result.get("msg")
    assert result["weight_after"] == 0
    environment = environment_of(unleash, flag)
    assert environment["enabled"] is False
    owned = next(s for s in environment["strategies"] if s.get("title") == "perfgate canary_gate")
    assert owned["parameters"]["rollout"] == "0"


def test_a_concurrent_edit_is_reported_and_the_expected_rollout_applied_again(tmp_path, unleash):
    flag = new_flag(unleash)
    good_metrics(tmp_path / "metrics.json")
    assert run_task(gate_task(tmp_path, unleash, flag))["weight_after"] == 10
    owned = next(s for s in environment_of(unleash, flag)["strategies"] if s["title"] == "perfgate canary_gate")
    unleash.admin(
        "PUT",
        f"/api/admin/projects/default/features/{flag}/environments/{ENVIRONMENT}/strategies/{owned['id']}",
        {"name": "flexibleRollout", "title": owned["title"], "parameters": {**owned["parameters"], "rollout": "40"}},
    )
    result = run_task(gate_task(tmp_path, unleash, flag))
    assert not result.get("failed"), result.get("msg")
    assert any("the Unleash flag had 40% for the canary" in r for r in result["reasons"]), result["reasons"]
    # The gate judged the step it expected (10 %) and applied its own next one over the edit.
    assert result["weight_after"] == 25
    assert environment_of(unleash, flag)["strategies"][0]["parameters"]["rollout"] == "25"


@pytest.mark.parametrize("weight", [12.5, 101, -1, True])
def test_a_weight_that_is_not_a_whole_percentage_is_refused(unleash, weight):
    # The modules' argument specs already take whole numbers only; the backend checks again
    # because Unleash itself stores a rollout of 101 or 12.5 without complaint.
    flag = new_flag(unleash)
    with pytest.raises(TrafficError, match="whole percentage from 0 to 100"):
        build_traffic(traffic(unleash, flag), None).set_share(weight)
    environment = environment_of(unleash, flag)
    assert environment["enabled"] is False and environment["strategies"] == []


def test_errors_say_what_to_fix_and_change_nothing(tmp_path, unleash):
    flag = new_flag(unleash)
    closed = free_port()
    cases = {
        "unreachable": (traffic(unleash, flag, url=f"http://127.0.0.1:{closed}"), "cannot reach Unleash"),
        "bad token": (traffic(unleash, flag, token="*:*.not-a-token"), "HTTP 401"),
        "client token": (traffic(unleash, flag, token=Unleash.CLIENT_TOKEN), "use an admin token"),
        "unknown flag": (traffic(unleash, "no-such-flag"), 'no feature named "no-such-flag"'),
        "unknown environment": (traffic(unleash, flag, environment="staging"), "no environment 'staging'"),
        "unknown project": (traffic(unleash, flag, project="nope"), 'in project "nope"'),
        "not a url": (traffic(unleash, flag, url="unleash:4242"), "not an http:// or https:// URL"),
    }
    for case, (options, expected) in cases.items():
        result = run_task({"perfgate.fleet.canary_share": {"traffic": options, "percent": 10}})
        assert result.get("failed") is True, case
        assert expected in result["msg"], f"{case}: {result['msg']}"
        assert "Traceback" not in result.get("module_stderr", ""), case
        assert Unleash.ADMIN_TOKEN not in json.dumps(result), f"{case}: the token leaked into the result"
    environment = environment_of(unleash, flag)
    assert environment["enabled"] is False and environment["strategies"] == []


def rollout_of(features: list[dict], flag: str) -> str | None:
    """The flexibleRollout percentage a client API feature list gives the flag, None when it is off."""
    for feature in features:
        if feature["name"] == flag and feature["enabled"]:
            return next(
                (s["parameters"]["rollout"] for s in feature["strategies"] if s["name"] == "flexibleRollout"), None
            )
    return None


def sdk_enabled(server: Unleash, flag: str, expected: str, keys: list[str], cache: Path) -> set[str]:
    """The keys a fresh client of the real Unleash Python SDK enables, once a state it fetched
    gives the flag the expected rollout. The SDK's own fetch is what is waited on: the server may
    answer the SDK's request (its headers, its ETag) from another cached copy than a plain
    request's, and a fresh-clone make test once saw a fresh client at 25 % after a plain request
    had shown 50 %."""
    from UnleashClient import UnleashClient
    from UnleashClient.events import UnleashFetchedEvent

    fetched: list[str | None] = []

    def on_event(event) -> None:
        # The SDK emits FETCHED after its engine has loaded the new state, so a count taken once
        # this rollout shows is a count of that state.
        if isinstance(event, UnleashFetchedEvent):
            fetched.append(rollout_of(event.features, flag))

    client = UnleashClient(
        url=f"{server.url}/api",
        app_name="perfgate-test",
        instance_id=uuid.uuid4().hex,
        refresh_interval=1,
        disable_metrics=True,
        disable_registration=True,
        custom_headers={"Authorization": Unleash.CLIENT_TOKEN},
        cache_directory=str(cache),
        event_callback=on_event,
    )
    client.initialize_client()
    try:
        wait_until(lambda: fetched[-1:] == [expected], 15, f"the SDK to fetch {flag} at {expected}%")
        return {key for key in keys if client.is_enabled(flag, {"userId": key})}
    finally:
        client.destroy()


def test_the_sdk_splits_users_as_the_gate_set_and_keeps_them_on_when_it_grows(tmp_path, unleash):
    flag = new_flag(unleash)
    keys = [f"user-{n}" for n in range(10_000)]
    share = lambda weight: run_task(  # noqa: E731
        {"perfgate.fleet.canary_share": {"traffic": traffic(unleash, flag), "percent": weight}}
    )
    assert not share(25).get("failed")
    at_25 = sdk_enabled(unleash, flag, "25", keys, tmp_path / "cache-25")
    # Unleash hashes each user id (murmur3) into 100 buckets: 10,000 ids land within 2 points of
    # 25 % with probability above 0.9999 (binomial sd 0.43 points).
    assert 2300 <= len(at_25) <= 2700, len(at_25)
    assert not share(50).get("failed")
    at_50 = sdk_enabled(unleash, flag, "50", keys, tmp_path / "cache-50")
    assert 4700 <= len(at_50) <= 5300, len(at_50)
    assert at_25 <= at_50, f"{len(at_25 - at_50)} users enabled at 25% were dropped at 50%"

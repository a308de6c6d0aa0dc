"""perfgate.fleet.haproxy_server and perfgate.fleet.canary_share against a real HAProxy."""

from __future__ import annotations

import pytest
from ansible_run import run_task
from servers import HAProxy, NamedBackend

SERVERS = ["stable1", "stable2", "canary1"]


@pytest.fixture
def haproxy(tmp_path):
    backends = {name: NamedBackend(name) for name in SERVERS}
    proxy = HAProxy(tmp_path, {n: b.port for n, b in backends.items()}, {"stable1": 100, "stable2": 100, "canary1": 0})
    yield proxy
    proxy.stop()
    for backend in backends.values():
        backend.stop()


def server_task(haproxy, **args):
    return {"perfgate.fleet.haproxy_server": {"socket": haproxy.socket, "backend": "app", "timeout": 10, **args}}


def share_task(haproxy, percent):
    traffic = {"socket": haproxy.socket, "backend": "app", "stable_servers": SERVERS[:2], "canary_servers": SERVERS[2:]}
    return {"perfgate.fleet.canary_share": {"percent": percent, "traffic": {"haproxy": traffic}}}


def test_maint_takes_a_server_out_and_ready_brings_it_back(haproxy):
    result = run_task(server_task(haproxy, server="stable1", state="maint"))
    assert result["changed"] is True and result["status"]["status"] == "MAINT", result
    assert set(haproxy.served_by(50)) == {"stable2"}

    again = run_task(server_task(haproxy, server="stable1", state="maint"))
    assert again["changed"] is False

    back = run_task(server_task(haproxy, server="stable1", state="ready"))
    assert back["changed"] is True and back["previous"]["status"] == "MAINT"
    assert set(haproxy.served_by(50)) == {"stable1", "stable2"}


def test_drain_and_check_mode(haproxy):
    checked = run_task(server_task(haproxy, server="stable2", state="drain"), check=True)
    assert checked["changed"] is True
    assert set(haproxy.served_by(20)) == {"stable1", "stable2"}  # check mode changed nothing
    drained = run_task(server_task(haproxy, server="stable2", state="drain"))
    assert drained["status"]["status"].startswith(("DRAIN", "NOLB")), drained
    assert set(haproxy.served_by(20)) == {"stable1"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"server": "nope", "state": "maint"}, "HAProxy has no server app/nope"),
        ({"server": "stable1", "state": "asleep"}, "value of state must be one of"),
        (
            {"server": "stable1", "state": "maint", "socket": "/nonexistent.sock"},
            "cannot reach the HAProxy runtime API",
        ),
    ],
)
def test_bad_input_is_named(haproxy, args, message):
    result = run_task(server_task(haproxy, **args))
    assert result.get("failed") is True and message in result["msg"], result


def test_canary_share_sets_and_reads_back(haproxy):
    raised = run_task(share_task(haproxy, 50))
    assert (
        raised["changed"] is True
        and raised["percent_before"] == 0
        and raised["percent_after"] == pytest.approx(50, abs=1)
    )
    served = haproxy.served_by(400)
    assert 150 <= served.get("canary1", 0) <= 250
    reset = run_task(share_task(haproxy, 0))
    assert reset["percent_after"] == 0 and "canary1" not in haproxy.served_by(50)
    assert run_task(share_task(haproxy, 0))["changed"] is False


def test_canary_share_refuses_bad_percent(haproxy):
    result = run_task(share_task(haproxy, 150))
    assert result.get("failed") is True and "between 0 and 100" in result["msg"]

"""playbooks/rollout_flag.yml against real servers: Unleash 7.5.1 on PostgreSQL 15, the agent
(perfgate-bench serve) deciding each request with the Unleash SDK, and Prometheus scraping it,
under load from random users. A good flag reaches 100 %; a bad flag (faults on its flag-on side)
is turned off, the hosts recover, and the report records both stages. The code-rollback stage
needs agent hosts and is covered by test_local_rollout.py."""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import subprocess
import threading
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

from servers import Prometheus, Unleash, wait_until

REPO = Path(__file__).resolve().parents[2]


class Users(threading.Thread):
    """Posts checksums from random user ids until stopped; counts the answers by status."""

    def __init__(self, port: int):
        super().__init__(daemon=True)
        self.port, self.stopping, self.statuses = port, threading.Event(), {}

    def run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        while not self.stopping.wait(0.004):
            connection.request("POST", "/checksum", b"perfgate" * 512, {"X-User-Id": str(random.randrange(10**6))})
            response = connection.getresponse()
            response.read()
            self.statuses[response.status] = self.statuses.get(response.status, 0) + 1


def flag_rollout(tmp_path, unleash, start_service, rollout_id: str, settings: dict | None = None, **faults):
    """Starts an agent on a new flag, Prometheus and the users, then runs rollout_flag.yml with the
    gate's default allowances (and `settings` on top); returns the playbook's exit status, the
    flag's state in Unleash and the report."""
    flag = f"checksum-v2-{uuid.uuid4().hex[:8]}"
    unleash.admin("POST", "/api/admin/projects/default/features", {"name": flag})
    port = start_service(
        flag_url=f"{unleash.url}/api", flag_token=Unleash.CLIENT_TOKEN, flag_name=flag, version="flagged", **faults
    )
    prometheus = Prometheus(tmp_path, f"127.0.0.1:{port}")
    users = Users(port)
    users.start()
    try:
        # The gate refuses to start before Prometheus holds the flag-off side's series.
        query = urllib.parse.urlencode({"query": 'perfgate_request_errors_total{variant="off"}'})
        wait_until(
            lambda: json.load(urllib.request.urlopen(f"{prometheus.url}/api/v1/query?{query}"))["data"]["result"],
            30,
            "Prometheus scraping the agent",
        )
        extravars = {
            "perfgate_unleash_url": unleash.url,
            "perfgate_unleash_admin_token": Unleash.ADMIN_TOKEN,
            "perfgate_flag_name": flag,
            "perfgate_prometheus_url": prometheus.url,
            "perfgate_state_dir": str(tmp_path / "state"),
            "perfgate_reports_dir": str(tmp_path / "reports"),
            "rollout_id": rollout_id,
            "rollout_steps": [25, 100],
            "rollout_evaluation_interval": 3,
            "rollout_bake_evaluations": 1,
            "rollout_flag_recovery_window": 5,
            **(settings or {}),
        }
        (tmp_path / "extravars.json").write_text(json.dumps(extravars))
        # No agent hosts: the plays on localhost run on Ansible's implicit localhost, this Python.
        inventory = tmp_path / "inventory.ini"
        inventory.write_text("[agents]\n")
        run = subprocess.run(
            [
                "ansible-playbook",
                "-i",
                str(inventory),
                str(REPO / "playbooks" / "rollout_flag.yml"),
                "-e",
                f"@{tmp_path / 'extravars.json'}",
            ],
            capture_output=True,
            text=True,
            env=dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg")),
            check=False,
        )
    finally:
        users.stopping.set()
        users.join(10)
        prometheus.stop()
    feature = unleash.admin("GET", f"/api/admin/projects/default/features/{flag}")
    environment = next(e for e in feature["environments"] if e["name"] == "development")
    report_file = tmp_path / "reports" / rollout_id / "decisions.json"
    report = json.loads(report_file.read_text()) if report_file.exists() else {}
    return run, environment, report, users.statuses


def owned_rollout(environment: dict) -> str:
    return next(s for s in environment["strategies"] if s["title"] == "perfgate canary_gate")["parameters"]["rollout"]


def test_a_good_flag_reaches_100_percent(tmp_path, unleash, start_service):
    # With the gate's default allowances: the flag-on side is a second numba implementation,
    # free of the GIL like the kernel. (Its numpy predecessor held the GIL while it computed and was
    # rolled back on its tail by these defaults, in this test and in CI's end-to-end one.)
    run, environment, report, statuses = flag_rollout(tmp_path, unleash, start_service, "good-flag")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert environment["enabled"] and owned_rollout(environment) == "100"
    advances = [r["weight_after"] for r in report["parts"]["good-flag-flag"] if r["decision"] == "advance"]
    assert advances == [25.0, 100.0] and report["outcome"] == "promoted" and report["stages"] == []
    assert set(statuses) == {200}, statuses


def test_a_bad_flag_is_turned_off_and_the_hosts_recover(tmp_path, unleash, start_service):
    run, environment, report, statuses = flag_rollout(
        tmp_path, unleash, start_service, "bad-flag", inject_flag_on_error_ratio=0.2
    )
    assert run.returncode != 0 and "was rolled back and the flag is off" in run.stdout, run.stdout[-3000:]
    assert not environment["enabled"] and owned_rollout(environment) == "0"
    assert report["outcome"] == "rolled_back"
    [stage] = report["stages"]
    assert stage["name"] == "flag off, then recovery watch" and stage["outcome"] == "recovered", stage
    assert stage["detail"].startswith("last 5 s: 0 flag-on of"), stage
    # The level to return to is the flag-off side's p99 over the rollout, read from Prometheus.
    assert re.search(r"\(flag-off p99 during the rollout: \d+\.\d\d ms\)$", stage["detail"]), stage
    assert statuses.get(500, 0) > 0  # the injected flag-on errors reached users before the flag-off


def test_hosts_that_stay_broken_after_the_flag_off_end_the_watch_not_recovered(tmp_path, unleash, start_service):
    # 5 % errors on every request, flag on or off: the flag-off cannot bring the error rate under
    # the 1 % ceiling, so the watch checks at 5, 8 and 11 s after the flag-off and then gives up.
    run, environment, report, _ = flag_rollout(
        tmp_path,
        unleash,
        start_service,
        "broken-hosts",
        settings={"rollout_flag_recovery_timeout": 11},
        inject_flag_on_error_ratio=0.2,
        inject_error_ratio=0.05,
    )
    assert run.returncode != 0, run.stdout[-3000:]
    assert "was rolled back and the flag is off (not recovered" in run.stdout, run.stdout[-3000:]
    assert not environment["enabled"]
    watch = report["stages"][0]
    assert watch["name"] == "flag off, then recovery watch" and watch["outcome"] == "not recovered", watch
    # The detail is the last check's window, with its error rate over the ceiling.
    rate = float(re.search(r"error rate (\d+\.\d\d) %", watch["detail"]).group(1))
    assert watch["detail"].startswith("last 5 s: 0 flag-on of") and rate > 1.0, watch
    # Three checks, 3 s apart after the 5 s window: the watch neither stopped early nor overran.
    assert 11 <= watch["seconds"] < 25, watch

"""How fast a flag rollback empties the flag-on side, and what the flag changes cost the traffic.

Starts a real Unleash 7.5.1 on a private PostgreSQL 15 (as the tests do; `make setup` installs
both) and the agent, `perfgate-bench serve`, as its own process with the flag configured as the
bench_agent role configures it. A load generator keeps posting checksums, each from a random
user id in X-User-Id. Then, each round, the gate's own Unleash backend walks the flag through
10, 25, 50 and 100 % (holding each for --hold seconds) and rolls it back to 0. It measures:

- reaction: from the moment the rollback starts (the gate's flag-off decision) to the last
  flag-on response the load generator received;
- the reference, in the same round: the same time for a bare Unleash SDK client polling the
  flag with the agent's refresh interval. No agent that asks the SDK can react sooner, so
  reaction / reference is what the agent adds; the refresh interval is printed beside it;
- failed requests: responses other than 200 over the whole run. The agent injects no faults
  here, so every failure would be caused by a flag change.

The targets are reaction <= 5 s in every round and 0 failed requests.

usage: python bench/flag_reaction.py [--rounds 5] [--hold 3] [--threads 4] [--refresh 1]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "collections"))

from ansible_collections.perfgate.fleet.plugins.module_utils.canary_traffic import build_traffic
from servers import PostgreSQL, Unleash, free_port, wait_until
from UnleashClient import UnleashClient
from UnleashClient.utils import InstanceAllowType

TARGET_S = 5.0
ENVIRONMENT = "development"
STEPS = (10, 25, 50, 100)


class LoadGenerator:
    """Threads that post checksums from random users and keep (time, variant, status) of each."""

    def __init__(self, port: int, threads: int):
        self.port = port
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.answers: list[tuple[float, str, int]] = []
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        body = bytes(range(256)) * 16
        while not self.stopping.is_set():
            user = f"user-{random.randrange(1_000_000)}"
            try:
                connection.request("POST", "/checksum", body, {"X-User-Id": user})
                response = connection.getresponse()
                reply = response.read()
                variant = json.loads(reply).get("variant", "?") if response.status == 200 else "?"
                answer = (time.monotonic(), variant, response.status)
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                answer = (time.monotonic(), "?", 0)
            with self.lock:
                self.answers.append(answer)

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(15)

    def last_on_after(self, since: float) -> float | None:
        with self.lock:
            return max((t for t, variant, _ in self.answers if t >= since and variant == "on"), default=None)


def start_agent(work: Path, server: Unleash, flag: str, refresh: int) -> tuple[subprocess.Popen, int]:
    port = free_port()
    config = work / "agent.toml"
    config.write_text(
        f'listen = "127.0.0.1"\nport = {port}\nversion = "bench"\n'
        f'flag_name = "{flag}"\nflag_url = "{server.url}/api"\n'
        f"flag_refresh_interval = {refresh}\n"
    )
    agent = subprocess.Popen(
        [str(Path(sys.executable).with_name("perfgate-bench")), "serve", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=(work / "agent.log").open("wb"),
        env={**os.environ, "PERFGATE_FLAG_TOKEN": Unleash.CLIENT_TOKEN},
    )

    def healthy() -> bool:
        if agent.poll() is not None:
            raise RuntimeError(f"the agent exited: {(work / 'agent.log').read_text()[-1000:]}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            connection.request("GET", "/healthz")
            return connection.getresponse().status == 200
        finally:
            connection.close()

    wait_until(healthy, 60, "the agent answering")
    return agent, port


def bare_client(server: Unleash, refresh: int) -> UnleashClient:
    client = UnleashClient(
        url=f"{server.url}/api",
        app_name="flag-reaction-reference",
        instance_id=uuid.uuid4().hex,
        refresh_interval=refresh,
        custom_headers={"Authorization": Unleash.CLIENT_TOKEN},
        disable_metrics=True,
        multiple_instance_mode=InstanceAllowType.SILENTLY_ALLOW,
    )
    client.initialize_client()
    return client


def one_round(flag, name: str, load: LoadGenerator, reference: UnleashClient, hold: float) -> dict:
    for step in STEPS:
        flag.set_share(step)
        time.sleep(hold)
    # The reference must have seen the flag on before the rollback, or it measures nothing.
    wait_until(lambda: reference.is_enabled(name, {"userId": "probe"}), 10, "the reference client seeing the flag on")
    decided = time.monotonic()
    flag.set_share(0)
    while reference.is_enabled(name, {"userId": "probe"}):
        time.sleep(0.01)
    reference_s = time.monotonic() - decided
    # Wait out two refreshes and the staleness limit, then look for the last flag-on answer.
    time.sleep(max(hold, 6.0))
    last_on = load.last_on_after(decided)
    return {"reaction_s": (last_on - decided) if last_on else 0.0, "reference_s": reference_s}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--hold", type=float, default=3.0, help="seconds at each rollout step")
    parser.add_argument("--threads", type=int, default=4, help="load generator threads")
    parser.add_argument("--refresh", type=int, default=1, help="the agent's and the reference's refresh interval (s)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="perfgate-flag-reaction-"))
    postgres = PostgreSQL()
    server = agent = None
    try:
        server = Unleash(work, postgres.create_database("flag_reaction"))
        name = f"checksum-v2-{uuid.uuid4().hex[:8]}"
        flag = build_traffic(
            {"unleash": {"url": server.url, "token": Unleash.ADMIN_TOKEN, "feature": name, "environment": ENVIRONMENT}},
            None,
        )
        flag.admin.call("POST", "/api/admin/projects/default/features", {"name": name})
        agent, port = start_agent(work, server, name, args.refresh)
        reference = bare_client(server, args.refresh)
        load = LoadGenerator(port, args.threads)
        load.start()
        rounds = [one_round(flag, name, load, reference, args.hold) for _ in range(args.rounds)]
        load.stop()
        reference.destroy()
    finally:
        if agent is not None:
            agent.terminate()
            agent.wait(20)
        if server is not None:
            server.stop()
        postgres.stop()

    failed = sum(1 for _, _, status in load.answers if status != 200)
    steps = "/".join(map(str, STEPS))
    print(f"flag reaction: {args.rounds} rounds of {steps} % then 0, refresh interval {args.refresh} s")
    print(f"{'round':>5} {'reaction s':>11} {'reference s':>12} {'ratio':>6}")
    for number, result in enumerate(rounds, 1):
        ratio = result["reaction_s"] / result["reference_s"] if result["reference_s"] else float("inf")
        print(f"{number:>5} {result['reaction_s']:>11.2f} {result['reference_s']:>12.2f} {ratio:>6.2f}")
    worst = max(r["reaction_s"] for r in rounds)
    median_ratio = statistics.median(r["reaction_s"] / max(r["reference_s"], 1e-3) for r in rounds)
    print(
        f"worst reaction {worst:.2f} s (target <= {TARGET_S:.0f} s; {worst / args.refresh:.2f}x the refresh interval); "
        f"median ratio to the bare SDK {median_ratio:.2f}"
    )
    print(f"requests: {len(load.answers)}, failed: {failed} (target 0)")
    met = worst <= TARGET_S and failed == 0
    print("targets met" if met else "TARGETS MISSED")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())

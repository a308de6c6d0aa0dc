"""Time the harden role on fresh Debian 12 containers through the podman connection, as the
issue measured it: a first converge, then a second run that must change nothing.

Two configurations run in the same invocation, each on its own fresh container:
  reference  the harden role as the issue measured it (commit REFERENCE_COMMIT, before the issue's
             work, with that commit's ansible.cfg: the linear strategy), extracted from git. The
             issue measured it at 219 s and 93 s on the same kind of machine as dev-sec's os+ssh
             hardening at 232 s and 213 s.
  shipped    this checkout: its ansible.cfg (mitogen's strategy, an explicit interpreter) and the
             role's defaults.
dev-sec's collection cannot be installed here (it is not in the ansible wheel and Galaxy is out
of reach). So dev-sec's time on this machine today is estimated from the reference: its time now
times the issue's dev-sec/reference ratio (232/219 for the first converge, 213/93 for the
second). The targets: the shipped first converge at most 0.5x that estimate, and the shipped
second run at most 60 s with changed=0.

usage: python bench/harden_converge.py [--image localhost/perfgate/debian:12] [--only shipped]
Needs root podman, the repo's .venv (make setup) and the git history (for the reference).
"""

from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONTAINER = "perfgate-bench-harden"
# The last commit before the issue's work on the role (the role still under roles/, linear
# strategy): what the issue measured at ISSUE_REFERENCE_S beside dev-sec's ISSUE_DEVSEC_S.
REFERENCE_COMMIT = "8dac14e"
ISSUE_REFERENCE_S = (219.0, 93.0)
ISSUE_DEVSEC_S = (232.0, 213.0)
FIRST_CONVERGE_TARGET = 0.5  # x dev-sec's first converge
SECOND_RUN_TARGET_S = 60.0


def extract_reference(work: Path) -> Path:
    """The reference commit's role, playbook and ansible.cfg, in a folder of their own."""
    folder = work / "reference"
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", REFERENCE_COMMIT, "ansible.cfg", "playbooks/harden.yml", "roles/harden"],
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        sys.exit(f"cannot read the reference commit {REFERENCE_COMMIT} from git: {archive.stderr.decode().strip()}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def configuration(name: str, work: Path) -> tuple[Path, Path]:
    """The ansible.cfg and the harden playbook a configuration runs with."""
    root = extract_reference(work) if name == "reference" else REPO
    return root / "ansible.cfg", root / "playbooks" / "harden.yml"


CONFIGURATIONS = ("reference", "shipped")


def podman(*args: str, check: bool = True) -> str:
    result = subprocess.run(["podman", *args], capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        sys.exit(f"podman {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def start_host(image: str) -> None:
    podman("rm", "-f", CONTAINER, check=False)
    podman(
        "run",
        "-d",
        "--name",
        CONTAINER,
        "--hostname",
        CONTAINER,
        "--privileged",
        "--systemd=always",
        image,
        "/lib/systemd/systemd",
    )
    deadline = time.monotonic() + 30
    # Right after start systemd may not have opened its bus yet; ask again until it answers.
    while not podman("exec", CONTAINER, "systemctl", "is-system-running", "--wait", check=False):
        if time.monotonic() > deadline:
            sys.exit("the benchmark host's systemd did not come up")
        time.sleep(0.5)


def run_play(playbook: Path, inventory: Path, config: Path) -> tuple[float, int]:
    """Run a playbook; return its wall time and the number of changed tasks."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(config))
    for variable in ("ANSIBLE_ROLES_PATH", "ANSIBLE_COLLECTIONS_PATH", "ANSIBLE_STRATEGY"):
        env.pop(variable, None)  # the configuration's own ansible.cfg decides
    env["ANSIBLE_COLLECTIONS_PATH"] = str(REPO / "collections")
    started = time.perf_counter()
    result = subprocess.run(
        ["ansible-playbook", "-i", str(inventory), str(playbook)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{playbook} failed:\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}")
    changed = sum(int(n) for n in re.findall(r"changed=(\d+)", result.stdout))
    return elapsed, changed


def measure(name: str, image: str, work: Path) -> dict:
    inventory = work / "inventory.ini"
    inventory.write_text(f"{CONTAINER} ansible_connection=podman\n")
    facts_play = work / "facts.yml"
    facts_play.write_text("- hosts: all\n  gather_facts: true\n  tasks: []\n")
    config, playbook = configuration(name, work)
    start_host(image)
    try:
        facts, _ = run_play(facts_play, inventory, config)
        first, first_changed = run_play(playbook, inventory, config)
        second, second_changed = run_play(playbook, inventory, config)
    finally:
        podman("rm", "-f", CONTAINER, check=False)
    return {
        "facts": facts,
        "first": first,
        "first_changed": first_changed,
        "second": second,
        "second_changed": second_changed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="localhost/perfgate/debian:12")
    parser.add_argument("--only", choices=CONFIGURATIONS, help="measure one configuration only (no targets)")
    args = parser.parse_args()
    os.environ.setdefault("CONTAINERS_CONF", str(REPO / "molecule" / "containers.conf"))

    names = [args.only] if args.only else list(CONFIGURATIONS)
    with tempfile.TemporaryDirectory(prefix="perfgate-bench-") as tmp:
        results = {name: measure(name, args.image, Path(tmp)) for name in names}

    print(f"harden on a fresh Debian 12 container through the podman connection ({args.image})")
    print(
        f"  as the issue measured them: reference first {ISSUE_REFERENCE_S[0]:.0f} s, second"
        f" {ISSUE_REFERENCE_S[1]:.0f} s; dev-sec os+ssh hardening first {ISSUE_DEVSEC_S[0]:.0f} s,"
        f" second {ISSUE_DEVSEC_S[1]:.0f} s"
    )
    for name in names:
        r = results[name]
        print(
            f"  {name:<9}  fact play {r['facts']:5.1f} s   first {r['first']:6.1f} s changed={r['first_changed']:<3d}"
            f"   second {r['second']:6.1f} s changed={r['second_changed']}"
        )
    if len(names) < len(CONFIGURATIONS):
        return
    reference, shipped = results["reference"], results["shipped"]
    devsec_first = reference["first"] * ISSUE_DEVSEC_S[0] / ISSUE_REFERENCE_S[0]
    devsec_second = reference["second"] * ISSUE_DEVSEC_S[1] / ISSUE_REFERENCE_S[1]
    print(
        f"  machine today / the issue's, by the reference: first {reference['first'] / ISSUE_REFERENCE_S[0]:4.2f}x"
        f"   second {reference['second'] / ISSUE_REFERENCE_S[1]:4.2f}x"
    )
    print(f"  dev-sec estimated for this machine today: first {devsec_first:6.1f} s   second {devsec_second:6.1f} s")
    print(
        f"  shipped / dev-sec: first {shipped['first'] / devsec_first:4.2f}x (target <= {FIRST_CONVERGE_TARGET}x)"
        f"   second {shipped['second'] / devsec_second:4.2f}x"
    )
    print(
        f"  shipped / reference, same run: first {shipped['first'] / reference['first']:4.2f}x"
        f"   second {shipped['second'] / reference['second']:4.2f}x"
    )
    met = (
        shipped["first"] <= FIRST_CONVERGE_TARGET * devsec_first
        and shipped["second"] <= SECOND_RUN_TARGET_S
        and shipped["second_changed"] == 0
    )
    print(
        f"  targets: first <= {FIRST_CONVERGE_TARGET}x dev-sec ({FIRST_CONVERGE_TARGET * devsec_first:.0f} s), "
        f"second <= {SECOND_RUN_TARGET_S:.0f} s with changed=0: {'met' if met else 'NOT met'}"
    )
    sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()

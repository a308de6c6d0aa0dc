"""Where `make demo`'s time goes: each phase beside two references measured in the same run.

Runs playbooks/local/demo.py (its output passes through, so the terminal stays live), reads the
phase times it records in reports/demo-<run>/phases.json, then measures on the same machine:

- a bare `ansible all -m ping` round over the local environment's hosts, through ansible.cfg
  (the median of three): the cost of one task on every host. phase / ping says how many
  task-rounds a phase is worth;
- one `apt-get install --no-install-recommends` of the packages site.yml's roles put on the
  hosts (every host's installed packages beyond the bare test image), in one fresh container of
  that image, after an untimed `apt-get update`. site.yml / apt says how much more than the
  package work itself site.yml costs.

It also names, per host, the packages site.yml had to install because the host's image
(playbooks/local/host-image.sh, from local_env_host_packages) lacked them: a stale list.

The ratios stay comparable from one machine to the next where absolute times do not. The target
of the demo-speed issue for the state the demo started from (demo.py records both in
phases.json) is printed beside the total: at most 6 minutes for a fresh environment (--fresh
removes the local environment first; images and .venv stay) and at most 4 for a repeat run on a
running environment. The demo's own exit status is this script's.

usage: python bench/demo_phases.py [--fresh]
       python bench/demo_phases.py --phases reports/demo-<run>/phases.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
INVENTORY = REPO / "inventories" / "local" / "hosts.yml"
IMAGE = "localhost/perfgate/debian:12"
# The same environment the Makefile gives make demo: .venv's commands first, the repo's podman config.
ENV = {
    **os.environ,
    "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
    "CONTAINERS_CONF": str(REPO / "molecule" / "containers.conf"),
    # As ansible-runner (the demo's driver) does; the local inventory already tells ssh not to
    # check the host keys, which change whenever up.yml recreates a host.
    "ANSIBLE_HOST_KEY_CHECKING": "False",
}


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, env=ENV, cwd=REPO, text=True, capture_output=True, check=True, **kwargs)


def environment_is_up() -> bool:
    names = run(["podman", "ps", "--format", "{{.Names}}"]).stdout.split()
    return INVENTORY.exists() and any(name.startswith("perfgate-") for name in names)


def run_demo() -> tuple[int, Path | None]:
    """Runs the demo with its output on this terminal; returns its exit status and phases.json."""
    logs = None
    with subprocess.Popen(
        [sys.executable, str(REPO / "playbooks" / "local" / "demo.py")],
        env=ENV,
        cwd=REPO,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    ) as demo:
        for line in demo.stdout:
            print(line, end="", flush=True)
            found = re.search(r"logs in (reports/demo-[0-9-]+)/", line)
            if found and logs is None:
                logs = REPO / found.group(1)
    return demo.returncode, (logs / "phases.json") if logs else None


def ping_round() -> float:
    """Median seconds of three `ansible all -m ping` rounds over the local environment."""
    times = []
    for _ in range(3):
        started = time.monotonic()
        run(["ansible", "all", "-i", str(INVENTORY), "-m", "ansible.builtin.ping", "-o"])
        times.append(time.monotonic() - started)
    return statistics.median(times)


def installed(image_or_container: str, running: bool) -> set[str]:
    """The packages dpkg has installed on a running container, or on a throwaway one of an image."""
    query = ["dpkg-query", "-W", "-f", "${db:Status-Abbrev} ${Package}\\n"]
    command = (
        ["podman", "exec", image_or_container, *query]
        if running
        else ["podman", "run", "--rm", image_or_container, *query]
    )
    return {name for status, name in (line.split() for line in run(command).stdout.splitlines()) if status == "ii"}


def hosts_and_images() -> dict[str, str]:
    listing = run(["podman", "ps", "--format", "{{.Names}} {{.Image}}"]).stdout.split("\n")
    return dict(line.split() for line in listing if line.startswith("perfgate-"))


def site_packages() -> tuple[list[str], dict[str, list[str]]]:
    """The packages site.yml's roles put on the hosts (all hosts' beyond the bare image), and per
    host those its own image lacked, which site.yml had to install (the image's list is stale)."""
    hosts = hosts_and_images()
    on_hosts = {host: installed(host, running=True) for host in hosts}
    images = {image: installed(image, running=False) for image in set(hosts.values())}
    added = set().union(*on_hosts.values()) - installed(IMAGE, running=False)
    missing = {host: sorted(on_hosts[host] - images[image]) for host, image in hosts.items()}
    return sorted(added), {host: names for host, names in missing.items() if names}


def apt_install_seconds(packages: list[str]) -> float:
    """One install of `packages` in one fresh container; the index download is not counted."""
    script = (
        "export DEBIAN_FRONTEND=noninteractive; apt-get update -qq >/dev/null; "
        'start=$(date +%s.%N); apt-get install -y -qq --no-install-recommends "$@" >/dev/null; '
        'echo "$start $(date +%s.%N)"'
    )
    out = run(["podman", "run", "--rm", IMAGE, "sh", "-c", script, "sh", *packages]).stdout.split()
    return float(out[-1]) - float(out[-2])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fresh", action="store_true", help="remove the local environment first")
    parser.add_argument(
        "--phases",
        type=Path,
        metavar="PHASES_JSON",
        help="do not run the demo; measure the references beside this earlier run's phases.json "
        "(its environment must still be up)",
    )
    options = parser.parse_args()

    if options.phases:
        code, phases_file = 0, options.phases.resolve()
    else:
        if options.fresh and environment_is_up():
            print("removing the local environment (playbooks/local/down.yml)", flush=True)
            run(["ansible-playbook", str(REPO / "playbooks" / "local" / "down.yml")])
        code, phases_file = run_demo()
    if phases_file is None or not phases_file.exists():
        print("demo_phases: the demo recorded no phases.json; see its output above", file=sys.stderr)
        return code or 1
    record = json.loads(phases_file.read_text())

    print("measuring the references: ansible ping rounds, one apt-get install in one container", flush=True)
    ping = ping_round()
    packages, missing = site_packages()
    apt = apt_install_seconds(packages) if packages else None

    outcome = "demo ok" if record.get("ok") else "demo FAILED"
    state = record.get("state") or "state not recorded"
    print(f"\ndemo phases ({state}; {outcome}), from {phases_file.relative_to(REPO)}")
    print(f"  reference: ansible ping round over the hosts {ping:.1f} s (median of 3)")
    if apt is not None:
        print(f"  reference: apt-get install of site.yml's {len(packages)} packages in one container {apt:.1f} s")
    print(f"  {'phase':<14} {'seconds':>8} {'/ ping':>8} {'/ apt':>7}")
    for phase in record["phases"]:
        seconds = phase.get("seconds", 0.0)
        versus_apt = f"{seconds / apt:7.1f}" if apt and phase["phase"] == "site" else " " * 7
        print(f"  {phase['phase']:<14} {seconds:8.1f} {seconds / ping:8.1f} {versus_apt}")
    total, target = record.get("total_s", 0.0), record.get("target_s")
    verdict = f"target {target} s for a {state}: {'met' if total <= target else 'missed'}" if target else "no target"
    print(f"  {'total':<14} {total:8.1f} {total / ping:8.1f}   {verdict}")
    for host, names in missing.items():
        print(f"  {host}: site.yml installed {len(names)} packages its image lacks: {' '.join(names)}")
    if not missing:
        print("  every host's image held all the packages site.yml wanted")
    return code


if __name__ == "__main__":
    sys.exit(main())

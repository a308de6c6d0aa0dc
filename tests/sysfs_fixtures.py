"""Generate synthetic sysfs/procfs trees for CPU topology tests (never copied from real machines).

Numbering follows what x86 Linux does: the first thread of every core is numbered first, across
packages, then the second threads (so on 2 x 16 x SMT2, CPU 0's sibling is CPU 32).

python tests/sysfs_fixtures.py OUTDIR   writes every named topology below OUTDIR/<name>/{sys,proc}
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class FakeHost:
    packages: int = 1
    cores_per_package: int = 4
    threads: int = 1
    nodes_per_package: int = 1
    cores_per_l3: int | None = None  # None: one L3 per package
    nics: dict[str, int] = field(default_factory=dict)
    offline: frozenset[int] = frozenset()
    memory_only_nodes: int = 0
    memory_kb_per_node: int = 16 * 1024 * 1024
    cmdline: str = "BOOT_IMAGE=/vmlinuz root=/dev/vda1 ro quiet"

    @property
    def total_cores(self) -> int:
        return self.packages * self.cores_per_package

    def cpu_id(self, package: int, core: int, thread: int) -> int:
        return thread * self.total_cores + package * self.cores_per_package + core

    def node_of(self, package: int, core: int) -> int:
        return package * self.nodes_per_package + core // (self.cores_per_package // self.nodes_per_package)


TOPOLOGIES: dict[str, FakeHost] = {
    "1s4c": FakeHost(cores_per_package=4),
    "1s8c_smt2": FakeHost(cores_per_package=8, threads=2),
    "2s16c_smt2_nic1": FakeHost(packages=2, cores_per_package=16, threads=2, nics={"eth0": 1, "eth1": 0, "lo": -1}),
    "epyc64c_smt2_nps4": FakeHost(cores_per_package=64, threads=2, nodes_per_package=4, cores_per_l3=4),
    "1s8c_smt2_offline": FakeHost(cores_per_package=8, threads=2, offline=frozenset({6, 14, 7})),
    "2s4c_memory_node": FakeHost(packages=2, cores_per_package=4, memory_only_nodes=1, nics={"cxl0": 2}),
}


def _cpulist(cpus: set[int]) -> str:
    ordered, parts = sorted(cpus), []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")


def build_tree(root: Path, host: FakeHost) -> tuple[Path, Path]:
    """Write the host's sys/ and proc/ trees below root; return (sysfs_root, proc_root)."""
    sysfs, proc = root / "sys", root / "proc"
    cpu_dir, node_dir = sysfs / "devices/system/cpu", sysfs / "devices/system/node"
    every = {}
    for package in range(host.packages):
        for core in range(host.cores_per_package):
            threads = {host.cpu_id(package, core, t) for t in range(host.threads)}
            for thread in range(host.threads):
                every[host.cpu_id(package, core, thread)] = (package, core, threads)
    online = set(every) - host.offline
    _write(cpu_dir / "present", _cpulist(set(every)))
    _write(cpu_dir / "possible", _cpulist(set(every)))
    _write(cpu_dir / "online", _cpulist(online))
    _write(cpu_dir / "offline", _cpulist(set(host.offline)))
    _write(cpu_dir / "isolated", "")
    _write(cpu_dir / "nohz_full", "(null)")

    node_cpus: dict[int, set[int]] = {}
    for cpu, (package, core, threads) in every.items():
        base = cpu_dir / f"cpu{cpu}"
        if cpu != 0:
            _write(base / "online", "0" if cpu in host.offline else "1")
        node_cpus.setdefault(host.node_of(package, core), set())
        if cpu in host.offline:
            continue  # the kernel removes topology/ and cache/ of an offline CPU
        node_cpus[host.node_of(package, core)].add(cpu)
        _write(base / "topology/physical_package_id", str(package))
        _write(base / "topology/core_id", str(core))
        _write(base / "topology/thread_siblings_list", _cpulist(threads & online))
        l3_span = host.cores_per_l3 or host.cores_per_package
        first = core // l3_span * l3_span
        l3 = {host.cpu_id(package, c, t) for c in range(first, first + l3_span) for t in range(host.threads)} & online
        _write(base / "cache/index3/level", "3")
        _write(base / "cache/index3/shared_cpu_list", _cpulist(l3))

    cpu_nodes = len(node_cpus)
    for node in range(cpu_nodes + host.memory_only_nodes):
        _write(node_dir / f"node{node}/cpulist", _cpulist(node_cpus.get(node, set())))
        _write(
            node_dir / f"node{node}/meminfo",
            f"Node {node} MemTotal:       {host.memory_kb_per_node} kB\nNode {node} MemFree:        1024 kB",
        )
    _write(node_dir / "online", _cpulist(set(range(cpu_nodes + host.memory_only_nodes))))
    for nic, node in host.nics.items():
        _write(sysfs / f"class/net/{nic}/device/numa_node", str(node))
    _write(proc / "cmdline", host.cmdline)
    return sysfs, proc


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    for name, fake in TOPOLOGIES.items():
        build_tree(Path(sys.argv[1]) / name, fake)
        print(f"wrote {Path(sys.argv[1]) / name}")

"""Read a host's CPU and NUMA topology from sysfs and procfs (roots are parameters, for fixtures)."""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field

from ansible_collections.perfgate.fleet.plugins.module_utils.cpulist import format_cpulist, parse_cpulist


class TopologyError(Exception):
    """The sysfs tree is missing something every Linux host has."""


@dataclass(frozen=True)
class Cpu:
    cpu: int
    package: int
    core: int
    node: int
    siblings: frozenset[int]

    @property
    def core_key(self) -> tuple[int, int]:
        """Core ids repeat across packages, so a physical core is (package, core)."""
        return (self.package, self.core)


@dataclass
class Topology:
    cpus: dict[int, Cpu]
    present: frozenset[int]
    online: frozenset[int]
    node_memory_kb: dict[int, int]
    l3_groups: list[frozenset[int]]
    nic_nodes: dict[str, int]
    isolated: frozenset[int]
    nohz_full: frozenset[int]
    cmdline: str
    nodes: dict[int, frozenset[int]] = field(default_factory=dict)

    def as_facts(self) -> dict:
        """Plain JSON-able facts, with cpulists as strings."""
        return {
            "online_cpus": format_cpulist(self.online),
            "offline_cpus": format_cpulist(self.present - self.online),
            "cpus": [
                {**asdict(c), "siblings": format_cpulist(c.siblings)}
                for c in sorted(self.cpus.values(), key=lambda c: c.cpu)
            ],
            "nodes": {
                str(n): {"cpus": format_cpulist(cpus), "memory_kb": self.node_memory_kb.get(n, 0)}
                for n, cpus in sorted(self.nodes.items())
            },
            "packages": len({c.package for c in self.cpus.values()}),
            "physical_cores": len({c.core_key for c in self.cpus.values()}),
            "threads_per_core": max((len(c.siblings) for c in self.cpus.values()), default=1),
            "l3_groups": [format_cpulist(g) for g in self.l3_groups],
            "nic_numa_nodes": dict(sorted(self.nic_nodes.items())),
            "isolated": format_cpulist(self.isolated),
            "nohz_full": format_cpulist(self.nohz_full),
            "cmdline": self.cmdline,
        }


def _read(path: str, default: str | None = None) -> str:
    try:
        with open(path, encoding="ascii") as handle:
            return handle.read().strip()
    except OSError:
        if default is None:
            raise TopologyError(f"cannot read {path}") from None
        return default


def read_topology(sysfs_root: str = "/sys", proc_root: str = "/proc") -> Topology:
    cpu_dir = os.path.join(sysfs_root, "devices/system/cpu")
    node_dir = os.path.join(sysfs_root, "devices/system/node")
    online = parse_cpulist(_read(os.path.join(cpu_dir, "online")), "online CPUs")
    present = parse_cpulist(_read(os.path.join(cpu_dir, "present"), format_cpulist(online)), "present CPUs")

    cpu_node: dict[int, int] = {}
    nodes: dict[int, frozenset[int]] = {}
    node_memory: dict[int, int] = {}
    if os.path.isdir(node_dir):
        for entry in os.listdir(node_dir):
            match = re.fullmatch(r"node(\d+)", entry)
            if not match:
                continue
            node = int(match.group(1))
            node_cpus = parse_cpulist(_read(os.path.join(node_dir, entry, "cpulist"), ""), f"node{node} cpulist")
            nodes[node] = node_cpus & online
            for cpu in node_cpus:
                cpu_node[cpu] = node
            meminfo = _read(os.path.join(node_dir, entry, "meminfo"), "")
            total = re.search(r"MemTotal:\s+(\d+)\s*kB", meminfo)
            node_memory[node] = int(total.group(1)) if total else 0
    if not nodes:  # kernels built without NUMA show no node directory: one node holds everything
        nodes = {0: online}

    cpus: dict[int, Cpu] = {}
    l3: dict[frozenset[int], None] = {}
    for cpu in sorted(online):
        base = os.path.join(cpu_dir, f"cpu{cpu}")
        topo = os.path.join(base, "topology")
        siblings = parse_cpulist(_read(os.path.join(topo, "thread_siblings_list"), str(cpu)), f"cpu{cpu} siblings")
        cpus[cpu] = Cpu(
            cpu=cpu,
            package=int(_read(os.path.join(topo, "physical_package_id"), "0")),
            core=int(_read(os.path.join(topo, "core_id"), str(cpu))),
            node=cpu_node.get(cpu, 0),
            siblings=siblings & online or frozenset({cpu}),
        )
        shared = _read(os.path.join(base, "cache/index3/shared_cpu_list"), "")
        if shared:
            l3[parse_cpulist(shared, f"cpu{cpu} L3 shared_cpu_list") & online] = None

    nic_nodes: dict[str, int] = {}
    net_dir = os.path.join(sysfs_root, "class/net")
    if os.path.isdir(net_dir):
        for nic in sorted(os.listdir(net_dir)):
            value = _read(os.path.join(net_dir, nic, "device/numa_node"), "")
            if value.lstrip("-").isdigit():
                nic_nodes[nic] = int(value)

    return Topology(
        cpus=cpus,
        present=present | online,
        online=online,
        node_memory_kb=node_memory,
        l3_groups=sorted(l3, key=min),
        nic_nodes=nic_nodes,
        isolated=parse_cpulist(_read(os.path.join(cpu_dir, "isolated"), ""), "isolated CPUs"),
        nohz_full=parse_cpulist(_read(os.path.join(cpu_dir, "nohz_full"), "").replace("(null)", ""), "nohz_full"),
        cmdline=_read(os.path.join(proc_root, "cmdline"), ""),
        nodes=nodes,
    )

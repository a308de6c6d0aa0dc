"""Split a host's CPUs into housekeeping and isolated sets from its topology. Pure: no I/O.

Rules:
- whole physical cores (all their threads) go to one side, unless allow_split_cores;
- CPU 0 is always housekeeping (the kernel keeps timers and some IRQs there regardless);
- by default each NUMA node keeps its lowest-numbered core(s) for housekeeping, so every node
  has a CPU for its kernel threads and the IRQs of its devices;
- a NIC's node must hold housekeeping CPUs, which then take that NIC's IRQs;
- a plan that isolates nothing is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.perfgate.fleet.plugins.module_utils.cpu_topology import Topology
from ansible_collections.perfgate.fleet.plugins.module_utils.cpulist import cpu_mask_hex, format_cpulist, parse_cpulist


class PlanError(ValueError):
    """A request the topology cannot satisfy; the message names the problem."""


@dataclass(frozen=True)
class CpuPlan:
    housekeeping: frozenset[int]
    isolated: frozenset[int]
    isolated_per_node: dict[int, frozenset[int]]
    nic_irq_cpus: frozenset[int]
    notes: tuple[str, ...]

    def as_facts(self) -> dict:
        return {
            "housekeeping_cpus": format_cpulist(self.housekeeping),
            "isolated_cpus": format_cpulist(self.isolated),
            "isolated_mask": cpu_mask_hex(self.isolated),
            "isolated_per_node": {str(n): format_cpulist(c) for n, c in sorted(self.isolated_per_node.items())},
            "nic_irq_cpus": format_cpulist(self.nic_irq_cpus),
            "notes": list(self.notes),
        }


def _core_threads(topology: Topology) -> dict[tuple[int, int], frozenset[int]]:
    cores: dict[tuple[int, int], set[int]] = {}
    for cpu in topology.cpus.values():
        cores.setdefault(cpu.core_key, set()).add(cpu.cpu)
    return {key: frozenset(threads) for key, threads in cores.items()}


def _check_requested(cpus: frozenset[int], topology: Topology, what: str) -> None:
    unknown = cpus - topology.present
    if unknown:
        raise PlanError(
            f"{what} names CPUs this host does not have: {format_cpulist(unknown)} "
            f"(present: {format_cpulist(topology.present)})"
        )
    offline = cpus - topology.online
    if offline:
        raise PlanError(f"{what} names offline CPUs: {format_cpulist(offline)}; bring them online or leave them out")


def plan_isolation(
    topology: Topology,
    housekeeping_cores_per_node: int = 1,
    housekeeping_cpus: str | None = None,
    nic: str | None = None,
    allow_split_cores: bool = False,
) -> CpuPlan:
    if not topology.online:
        raise PlanError("the host reports no online CPUs")
    if 0 not in topology.online:
        raise PlanError("CPU 0 is offline; perfgate keeps CPU 0 for housekeeping and cannot plan without it")
    cores = _core_threads(topology)
    core_of = {cpu: topology.cpus[cpu].core_key for cpu in topology.online}
    notes: list[str] = []

    nic_node = None
    if nic:
        if nic not in topology.nic_nodes:
            known = ", ".join(sorted(topology.nic_nodes)) or "none with a NUMA node"
            raise PlanError(f"NIC {nic!r} not found under class/net (NICs: {known})")
        nic_node = topology.nic_nodes[nic]
        if nic_node < 0:  # single-node hosts report -1: the NIC is local to every CPU
            nic_node = topology.cpus[0].node
        if not topology.nodes.get(nic_node):
            raise PlanError(f"NIC {nic!r} is on NUMA node {nic_node}, which has no online CPUs to take its IRQs")

    if housekeeping_cpus is not None:
        requested = parse_cpulist(housekeeping_cpus, "housekeeping_cpus")
        if not requested:
            raise PlanError("housekeeping_cpus is empty; give at least CPU 0")
        _check_requested(requested, topology, "housekeeping_cpus")
        housekeeping = set(requested)
        if 0 not in housekeeping:
            housekeeping.add(0)
            notes.append("CPU 0 added to housekeeping: it always is")
        split = sorted(
            (key, threads) for key, threads in cores.items() if (threads & housekeeping) and not threads <= housekeeping
        )
        if split:
            if not allow_split_cores:
                (package, core), threads = split[0]
                raise PlanError(
                    f"housekeeping_cpus splits physical core {core} of package {package} "
                    f"(threads {format_cpulist(threads)}): isolated work would share a core with housekeeping. "
                    "Add the sibling threads, or set allow_split_cores: true"
                )
            notes.append(f"{len(split)} physical core(s) split between housekeeping and isolated CPUs")
        if nic_node is not None and not housekeeping & topology.nodes[nic_node]:
            raise PlanError(
                f"NIC {nic!r} is on NUMA node {nic_node}, but no housekeeping CPU is on that node "
                f"(node {nic_node} CPUs: {format_cpulist(topology.nodes[nic_node])})"
            )
    else:
        if housekeeping_cores_per_node < 1:
            raise PlanError("housekeeping_cores_per_node must be at least 1")
        housekeeping = set(cores[core_of[0]])
        for node, node_cpus in sorted(topology.nodes.items()):
            if not node_cpus:
                notes.append(f"NUMA node {node} has no online CPUs (memory-only); nothing to plan there")
                continue
            node_cores = sorted({core_of[c] for c in node_cpus}, key=lambda key: min(cores[key]))
            chosen = [key for key in node_cores if cores[key] & housekeeping]
            for key in node_cores:
                if len(chosen) >= housekeeping_cores_per_node:
                    break
                if key not in chosen:
                    chosen.append(key)
            for key in chosen:
                housekeeping |= cores[key]

    isolated = frozenset(topology.online - housekeeping)
    if not isolated:
        raise PlanError(
            f"the plan isolates nothing: all {len(topology.online)} online CPUs would be housekeeping. "
            "Lower housekeeping_cores_per_node or give fewer housekeeping_cpus"
        )
    per_node = {node: frozenset(cpus & isolated) for node, cpus in topology.nodes.items() if cpus & isolated}
    nic_irq_cpus = (
        frozenset(housekeeping & topology.nodes[nic_node]) if nic_node is not None else frozenset(housekeeping)
    )
    return CpuPlan(
        housekeeping=frozenset(housekeeping),
        isolated=isolated,
        isolated_per_node=per_node,
        nic_irq_cpus=frozenset(nic_irq_cpus),
        notes=tuple(notes),
    )

"""Jinja filters for Linux cpulist strings, so roles can reason about CPU sets without shell."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.perfgate.fleet.plugins.module_utils.cpulist import (
    CpuListError,
    format_cpulist,
    parse_cpulist,
)


def cpulist_expand(text: str) -> list[int]:
    """'0-2,5' -> [0, 1, 2, 5]."""
    try:
        return sorted(parse_cpulist(str(text)))
    except CpuListError as error:
        raise AnsibleFilterError(str(error)) from None


def cpulist_format(cpus) -> str:
    """[0, 1, 2, 5] -> '0-2,5'."""
    try:
        return format_cpulist({int(cpu) for cpu in cpus})
    except (TypeError, ValueError) as error:
        raise AnsibleFilterError(f"cpulist_format needs a list of CPU numbers: {error}") from None


def cpulist_nodes(text: str, topology: dict) -> list[int]:
    """The NUMA nodes of the CPUs in a cpulist, from perfgate_cpu.topology facts. Unknown or
    offline CPUs are an error that names them."""
    node_of = {entry["cpu"]: entry["node"] for entry in topology.get("cpus", [])}
    cpus = cpulist_expand(text)
    unknown = [cpu for cpu in cpus if cpu not in node_of]
    if unknown:
        online = topology.get("online_cpus", "?")
        raise AnsibleFilterError(f"CPUs {format_cpulist(set(unknown))} are not online on this host (online: {online})")
    return sorted({node_of[cpu] for cpu in cpus})


class FilterModule:
    def filters(self):
        return {"cpulist_expand": cpulist_expand, "cpulist_format": cpulist_format, "cpulist_nodes": cpulist_nodes}

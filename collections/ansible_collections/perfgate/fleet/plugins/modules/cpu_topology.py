#!/usr/bin/python
"""Ansible module: read the CPU/NUMA topology and plan housekeeping vs isolated CPUs."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cpu_topology
short_description: Read the CPU and NUMA topology and plan which CPUs to isolate
version_added: "0.1.0"
description:
  - Reads online CPUs, package, core, thread siblings and NUMA node of each CPU, memory per node,
    L3 cache sharing groups, the NUMA node of each NIC, the current C(isolated) and C(nohz_full)
    lists and the kernel command line from sysfs and procfs.
  - Plans a split into housekeeping and isolated CPUs from that topology. Whole physical cores go
    to one side; CPU 0 is always housekeeping; by default each NUMA node keeps one whole core.
  - Read-only; safe in check mode. Results are returned as facts under C(perfgate_cpu).
options:
  sysfs_root:
    description: Root of the sysfs tree to read; point it at a fixture tree in tests.
    type: path
    default: /sys
  proc_root:
    description: Root of the procfs tree to read (for C(cmdline)).
    type: path
    default: /proc
  housekeeping_cores_per_node:
    description:
      - Whole physical cores (with all their threads) each NUMA node keeps for housekeeping.
      - Ignored when O(housekeeping_cpus) is given.
    type: int
    default: 1
  housekeeping_cpus:
    description:
      - An explicit housekeeping cpulist such as C(0-1,32-33). CPU 0 is added if missing.
      - Every CPU must exist and be online.
    type: str
  nic:
    description:
      - A network interface whose NUMA node must hold housekeeping CPUs, which then take its IRQs.
    type: str
  allow_split_cores:
    description: Allow O(housekeeping_cpus) to put threads of one physical core on both sides.
    type: bool
    default: false
  plan:
    description:
      - Plan the isolation. With C(false) only the topology is read and C(perfgate_cpu.plan) is
        null; roles that only need to know which node a CPU is on use this, and it also works
        on hosts too small to isolate anything.
    type: bool
    default: true
attributes:
  check_mode:
    description: Can run in check mode and return the changed status it would have.
    support: full
    details: Only reads sysfs; the same in check mode.
  diff_mode:
    description: Returns details on what changed, in diff mode.
    support: none
  platform:
    description: Target OS and families the module runs on.
    support: full
    platforms: posix
author:
  - perfgate maintainers (@perfgate)
"""

EXAMPLES = r"""
- name: Plan isolation, one housekeeping core per NUMA node
  perfgate.fleet.cpu_topology:

- name: Keep two cores per node and serve eth0's IRQs from its node
  perfgate.fleet.cpu_topology:
    housekeeping_cores_per_node: 2
    nic: eth0

- name: Use an explicit housekeeping list
  perfgate.fleet.cpu_topology:
    housekeeping_cpus: "0-1,32-33"

- name: Read only the topology, without planning
  perfgate.fleet.cpu_topology:
    plan: false

- name: Pin a service to the isolated CPUs
  ansible.builtin.debug:
    msg: "CPUAffinity={{ ansible_facts.perfgate_cpu.plan.isolated_cpus }}"
"""

RETURN = r"""
ansible_facts:
  description: Facts about the host's CPUs and the isolation plan.
  returned: success
  type: complex
  contains:
    perfgate_cpu:
      description: Topology and plan.
      type: complex
      contains:
        topology:
          description:
            - online_cpus, offline_cpus, cpus (cpu, package, core, node, siblings), nodes (cpus, memory_kb),
              packages, physical_cores, threads_per_core, l3_groups, nic_numa_nodes, isolated, nohz_full, cmdline.
          type: dict
          sample: {"online_cpus": "0-15", "packages": 1, "physical_cores": 8, "threads_per_core": 2}
        plan:
          description:
            - housekeeping_cpus, isolated_cpus, isolated_per_node, nic_irq_cpus (cpulist strings), isolated_mask
              (hex mask, for irqbalance before 1.8) and notes.
          type: dict
          sample: {"housekeeping_cpus": "0,8", "isolated_cpus": "1-7,9-15", "isolated_per_node": {"0": "1-7,9-15"}}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.perfgate.fleet.plugins.module_utils.cpu_plan import PlanError, plan_isolation
from ansible_collections.perfgate.fleet.plugins.module_utils.cpu_topology import TopologyError, read_topology
from ansible_collections.perfgate.fleet.plugins.module_utils.cpulist import CpuListError

ARGUMENT_SPEC = {
    "sysfs_root": {"type": "path", "default": "/sys"},
    "proc_root": {"type": "path", "default": "/proc"},
    "housekeeping_cores_per_node": {"type": "int", "default": 1},
    "housekeeping_cpus": {"type": "str"},
    "nic": {"type": "str"},
    "allow_split_cores": {"type": "bool", "default": False},
    "plan": {"type": "bool", "default": True},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    try:
        topology = read_topology(params["sysfs_root"], params["proc_root"])
        plan = None
        if params["plan"]:
            plan = plan_isolation(
                topology,
                housekeeping_cores_per_node=params["housekeeping_cores_per_node"],
                housekeeping_cpus=params["housekeeping_cpus"],
                nic=params["nic"],
                allow_split_cores=params["allow_split_cores"],
            )
    except (TopologyError, PlanError, CpuListError) as error:
        module.fail_json(msg=f"cpu_topology: {error}")
    module.exit_json(
        changed=False,
        ansible_facts={"perfgate_cpu": {"topology": topology.as_facts(), "plan": plan.as_facts() if plan else None}},
    )


if __name__ == "__main__":
    main()

"""The CPU isolation planner on generated sysfs trees."""

from __future__ import annotations

import random

import pytest
from ansible_collections.perfgate.fleet.plugins.module_utils.cpu_plan import PlanError, plan_isolation
from ansible_collections.perfgate.fleet.plugins.module_utils.cpu_topology import read_topology
from ansible_collections.perfgate.fleet.plugins.module_utils.cpulist import (
    CpuListError,
    cpu_mask_hex,
    format_cpulist,
    parse_cpulist,
)
from sysfs_fixtures import TOPOLOGIES, build_tree


@pytest.fixture
def topology(tmp_path, request):
    sysfs, proc = build_tree(tmp_path, TOPOLOGIES[request.param])
    return read_topology(str(sysfs), str(proc))


def plan_facts(topology, **kwargs):
    return plan_isolation(topology, **kwargs).as_facts()


@pytest.mark.parametrize("topology", ["1s4c"], indirect=True)
def test_four_cores_without_smt(topology):
    facts = topology.as_facts()
    assert (facts["packages"], facts["physical_cores"], facts["threads_per_core"]) == (1, 4, 1)
    plan = plan_facts(topology)
    assert plan["housekeeping_cpus"] == "0"
    assert plan["isolated_cpus"] == "1-3"
    assert plan["isolated_per_node"] == {"0": "1-3"}


@pytest.mark.parametrize("topology", ["1s8c_smt2"], indirect=True)
def test_smt_keeps_whole_cores(topology):
    plan = plan_facts(topology)
    assert plan["housekeeping_cpus"] == "0,8"
    assert plan["isolated_cpus"] == "1-7,9-15"
    assert plan_facts(topology, housekeeping_cores_per_node=2)["housekeeping_cpus"] == "0-1,8-9"


@pytest.mark.parametrize("topology", ["2s16c_smt2_nic1"], indirect=True)
def test_two_sockets_keep_a_core_per_node_and_serve_the_nic_from_its_node(topology):
    facts = topology.as_facts()
    assert facts["nodes"]["1"]["cpus"] == "16-31,48-63"
    assert facts["nic_numa_nodes"] == {"eth0": 1, "eth1": 0, "lo": -1}
    plan = plan_facts(topology, nic="eth0")
    assert plan["housekeeping_cpus"] == "0,16,32,48"
    assert plan["isolated_cpus"] == "1-15,17-31,33-47,49-63"
    assert plan["isolated_per_node"] == {"0": "1-15,33-47", "1": "17-31,49-63"}
    assert plan["nic_irq_cpus"] == "16,48"


@pytest.mark.parametrize("topology", ["epyc64c_smt2_nps4"], indirect=True)
def test_epyc_like_socket_with_four_nodes_and_sixteen_l3_groups(topology):
    facts = topology.as_facts()
    assert len(facts["l3_groups"]) == 16
    assert facts["l3_groups"][0] == "0-3,64-67"
    plan = plan_facts(topology)
    assert plan["housekeeping_cpus"] == "0,16,32,48,64,80,96,112"
    assert len(parse_cpulist(plan["isolated_cpus"])) == 128 - 8
    assert sorted(plan["isolated_per_node"]) == ["0", "1", "2", "3"]


@pytest.mark.parametrize("topology", ["1s8c_smt2_offline"], indirect=True)
def test_offline_cpus_are_in_neither_set_and_cannot_be_requested(topology):
    assert topology.as_facts()["offline_cpus"] == "6-7,14"
    plan = plan_facts(topology)
    every = parse_cpulist(plan["housekeeping_cpus"]) | parse_cpulist(plan["isolated_cpus"])
    assert every.isdisjoint({6, 7, 14})
    with pytest.raises(PlanError, match="offline CPUs: 14"):
        plan_isolation(topology, housekeeping_cpus="0,8,14")


@pytest.mark.parametrize("topology", ["1s8c_smt2"], indirect=True)
def test_explicit_housekeeping_must_not_split_cores_unless_allowed(topology):
    with pytest.raises(PlanError, match=r"splits physical core 1 of package 0 \(threads 1,9\)"):
        plan_isolation(topology, housekeeping_cpus="0-1,8")
    plan = plan_facts(topology, housekeeping_cpus="0-1,8", allow_split_cores=True)
    assert plan["isolated_cpus"] == "2-7,9-15"
    assert any("split" in note for note in plan["notes"])


@pytest.mark.parametrize("topology", ["1s8c_smt2"], indirect=True)
def test_cpu0_is_always_housekeeping(topology):
    plan = plan_facts(topology, housekeeping_cpus="1,9", allow_split_cores=True)
    assert 0 in parse_cpulist(plan["housekeeping_cpus"])
    assert "CPU 0 added" in plan["notes"][0]


@pytest.mark.parametrize("topology", ["1s4c"], indirect=True)
def test_bad_requests_name_the_problem(topology):
    with pytest.raises(PlanError, match="isolates nothing"):
        plan_isolation(topology, housekeeping_cpus="0-3")
    with pytest.raises(PlanError, match="isolates nothing"):
        plan_isolation(topology, housekeeping_cores_per_node=4)
    with pytest.raises(PlanError, match="does not have: 7-8"):
        plan_isolation(topology, housekeeping_cpus="0,7-8")
    with pytest.raises(CpuListError, match="'x' is not a CPU number"):
        plan_isolation(topology, housekeeping_cpus="0,x")
    with pytest.raises(CpuListError, match="runs backwards"):
        plan_isolation(topology, housekeeping_cpus="3-1")
    with pytest.raises(PlanError, match="NIC 'eth9' not found"):
        plan_isolation(topology, nic="eth9")


@pytest.mark.parametrize("topology", ["2s4c_memory_node"], indirect=True)
def test_memory_only_node_is_skipped_but_cannot_host_a_nic(topology):
    plan = plan_facts(topology)
    assert plan["housekeeping_cpus"] == "0,4"
    assert any("node 2 has no online CPUs" in note for note in plan["notes"])
    with pytest.raises(PlanError, match="NUMA node 2, which has no online CPUs"):
        plan_isolation(topology, nic="cxl0")


@pytest.mark.parametrize("topology", ["2s16c_smt2_nic1"], indirect=True)
def test_explicit_housekeeping_must_cover_the_nic_node(topology):
    with pytest.raises(PlanError, match="no housekeeping CPU is on that node"):
        plan_isolation(topology, housekeeping_cpus="0,32", nic="eth0")


def test_cpulist_round_trips_random_sets():
    rng = random.Random(7)
    for _ in range(500):
        cpus = frozenset(rng.sample(range(300), rng.randint(0, 60)))
        assert parse_cpulist(format_cpulist(cpus)) == cpus


def test_cpu_mask_groups_32_bit_words():
    assert cpu_mask_hex({0, 1}) == "00000003"
    assert cpu_mask_hex({0, 32, 63}) == "80000001,00000001"

"""The perfgate.fleet cpulist filters, called directly."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.perfgate.fleet.plugins.filter.cpulist import cpulist_expand, cpulist_format, cpulist_nodes
from ansible_collections.perfgate.fleet.plugins.module_utils.cpu_topology import read_topology
from sysfs_fixtures import TOPOLOGIES, build_tree


@pytest.fixture(scope="module")
def two_socket_facts(tmp_path_factory):
    sysfs, proc = build_tree(tmp_path_factory.mktemp("2s"), TOPOLOGIES["2s16c_smt2_nic1"])
    return read_topology(str(sysfs), str(proc)).as_facts()


def test_expand_and_format_round_trip():
    assert cpulist_expand("8,0-3") == [0, 1, 2, 3, 8]
    assert cpulist_format([8, 3, 2, 1, 0]) == "0-3,8"
    assert cpulist_expand("") == []


def test_nodes_of_cpus(two_socket_facts):
    node_of = {entry["cpu"]: entry["node"] for entry in two_socket_facts["cpus"]}
    one_per_node = [min(c for c, n in node_of.items() if n == node) for node in sorted(set(node_of.values()))]
    assert cpulist_nodes(str(one_per_node[0]), two_socket_facts) == [0]
    assert cpulist_nodes(cpulist_format(one_per_node), two_socket_facts) == sorted(set(node_of.values()))


def test_unknown_cpus_are_named(two_socket_facts):
    with pytest.raises(AnsibleFilterError, match="CPUs 200-201 are not online"):
        cpulist_nodes("1,200-201", two_socket_facts)


def test_bad_syntax_is_an_ansible_error():
    with pytest.raises(AnsibleFilterError, match="backwards"):
        cpulist_expand("7-3")

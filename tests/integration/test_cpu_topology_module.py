"""perfgate.fleet.cpu_topology run through Ansible on generated sysfs trees."""

from __future__ import annotations

import pytest
from ansible_run import run_task
from sysfs_fixtures import TOPOLOGIES, build_tree


@pytest.fixture(scope="module")
def two_socket(tmp_path_factory):
    sysfs, proc = build_tree(tmp_path_factory.mktemp("2s"), TOPOLOGIES["2s16c_smt2_nic1"])
    return {"sysfs_root": str(sysfs), "proc_root": str(proc)}


def test_returns_facts_and_changes_nothing_in_check_mode(two_socket):
    result = run_task({"perfgate.fleet.cpu_topology": {**two_socket, "nic": "eth0"}}, check=True)
    assert not result.get("failed"), result
    assert result["changed"] is False
    facts = result["ansible_facts"]["perfgate_cpu"]
    assert facts["plan"]["housekeeping_cpus"] == "0,16,32,48"
    assert facts["topology"]["cmdline"].startswith("BOOT_IMAGE=")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"housekeeping_cpus": "0,zz"}, "'zz' is not a CPU number"),
        ({"housekeeping_cpus": "0,99"}, "does not have: 99"),
        ({"housekeeping_cpus": "0-63"}, "isolates nothing"),
        ({"nic": "wlan7"}, "NIC 'wlan7' not found"),
        ({"housekeeping_cores_per_node": "lots"}, "housekeeping_cores_per_node"),
        ({"no_such_option": 1}, "Unsupported parameters"),
    ],
)
def test_bad_arguments_get_a_clear_error(two_socket, args, message):
    result = run_task({"perfgate.fleet.cpu_topology": {**two_socket, **args}})
    assert result.get("failed") is True
    assert message in result["msg"]
    assert "Traceback" not in result.get("module_stderr", "")


def test_missing_sysfs_is_reported(tmp_path):
    result = run_task({"perfgate.fleet.cpu_topology": {"sysfs_root": str(tmp_path / "nothing")}})
    assert result.get("failed") is True
    assert "cannot read" in result["msg"] and "online" in result["msg"]


def test_plan_false_reads_only_the_topology(two_socket):
    # 0-63 would isolate nothing, which planning refuses; without planning it is ignored.
    result = run_task({"perfgate.fleet.cpu_topology": {**two_socket, "plan": False, "housekeeping_cpus": "0-63"}})
    assert not result.get("failed"), result
    facts = result["ansible_facts"]["perfgate_cpu"]
    assert facts["plan"] is None
    assert facts["topology"]["nodes"]["1"]["cpus"]


def test_cpulist_filters_through_ansible():
    result = run_task({"ansible.builtin.debug": {"msg": "{{ '5,0-2' | perfgate.fleet.cpulist_expand }}"}})
    assert result["msg"] == [0, 1, 2, 5]
    result = run_task({"ansible.builtin.debug": {"msg": "{{ '1-x' | perfgate.fleet.cpulist_expand }}"}})
    assert result.get("failed") is True and "'1-x' is not a CPU number" in result["msg"]

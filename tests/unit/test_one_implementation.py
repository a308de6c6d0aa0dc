"""The HAProxy runtime client, cpulist parsing and atomic writes exist once, in the collection's
module_utils. What runs where the collection is not installed (the agent's package, the files
roles ship to hosts) is that same file, and every caller agrees on the edge cases."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.perfgate.fleet.plugins.filter.cpulist import cpulist_expand
from ansible_collections.perfgate.fleet.plugins.module_utils.cpulist import CpuListError, parse_cpulist
from perfgate_bench.runner import BenchError, parse_cpus

REPO = Path(__file__).resolve().parents[2]
MODULE_UTILS = REPO / "collections/ansible_collections/perfgate/fleet/plugins/module_utils"
SHIPPED = {
    "bench/perfgate_bench/cpulist.py": "cpulist.py",
    "bench/perfgate_bench/atomic_write.py": "atomic_write.py",
    "roles/cpu_isolation/files/lib/cpulist.py": "cpulist.py",
    "roles/haproxy_lb/files/lib/haproxy_client.py": "haproxy_client.py",
    "roles/haproxy_lb/files/lib/atomic_write.py": "atomic_write.py",
}


@pytest.mark.parametrize("shipped", SHIPPED)
def test_shipped_copies_are_the_module_utils_file(shipped):
    path = REPO / shipped
    assert path.is_symlink(), f"{shipped} must be a link to module_utils/{SHIPPED[shipped]}, not a copy"
    assert Path(os.path.realpath(path)) == MODULE_UTILS / SHIPPED[shipped]


@pytest.mark.parametrize("text", ["3-1", "1-", "a", "1-2-3", "-1"])
def test_every_cpulist_caller_refuses_the_same_input(text):
    with pytest.raises(CpuListError):
        parse_cpulist(text)
    with pytest.raises(BenchError):
        parse_cpus(text)
    with pytest.raises(AnsibleFilterError):
        cpulist_expand(text)
    mover = subprocess.run(
        [sys.executable, str(REPO / "roles/cpu_isolation/files/lib/move_irqs.py"), "--check", "0", text],
        capture_output=True,
        text=True,
        check=False,
    )
    assert mover.returncode != 0 and "CpuListError" in mover.stderr


def test_every_cpulist_caller_reads_the_same_set():
    assert sorted(parse_cpulist("0-2,5")) == sorted(parse_cpus("0-2,5")) == cpulist_expand("0-2,5") == [0, 1, 2, 5]

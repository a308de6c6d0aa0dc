"""perfgate-bench run: the JSON it prints and its errors."""

import json
import os
import subprocess
import sys

import pytest
from perfgate_bench.cli import main

SCHEMA = {
    "kernel": str,
    "size_bytes": int,
    "repeat": int,
    "unit": str,
    "min": float,
    "median": float,
    "max": float,
    "cpus": list,
    "numa_nodes": list,
    "details": dict,
    "seconds": list,
}


def run_json(capsys, *args):
    assert main(["run", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    ("kernel", "size", "unit"),
    [
        ("checksum", "1MiB", "GB/s"),
        ("xor_parity", "1MiB", "GB/s"),
        ("triad", "1MiB", "GB/s"),
        ("memlat", "256KiB", "ns/load"),
        ("jitter", "1MiB", "us (p99.9)"),
    ],
)
def test_every_kernel_prints_the_schema(capsys, kernel, size, unit):
    result = run_json(capsys, "--kernel", kernel, "--size", size, "--repeat", "3")
    assert {key: type(value) for key, value in result.items()} == SCHEMA
    assert result["kernel"] == kernel and result["unit"] == unit and result["repeat"] == 3
    assert 0 < result["min"] <= result["median"] <= result["max"]
    assert result["cpus"] == sorted(os.sched_getaffinity(0))
    assert result["numa_nodes"] and all(isinstance(node, int) for node in result["numa_nodes"])
    assert len(result["seconds"]) == 3 and all(s > 0 for s in result["seconds"])  # one per repeat


def test_memlat_reports_each_working_set(capsys):
    result = run_json(capsys, "--kernel", "memlat", "--size", "2MiB", "--repeat", "1")
    sizes = [int(size) for size in result["details"]["ns_per_load_by_working_set"]]
    assert sizes == [32 << 10, 256 << 10, 2 << 20]


def test_jitter_reports_percentiles(capsys):
    result = run_json(capsys, "--kernel", "jitter", "--size", "1MiB", "--repeat", "2")
    for run in result["details"]["runs"]:
        assert 0 < run["p50_us"] <= run["p99_us"] <= run["p999_us"] <= run["max_us"]


def test_run_pins_before_it_allocates():
    # In a child process, so the test run's own affinity is left alone.
    cpu = min(os.sched_getaffinity(0))
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "perfgate_bench.cli",
            "run",
            "--kernel",
            "checksum",
            "--size",
            "64KiB",
            "--cpus",
            str(cpu),
            "--repeat",
            "1",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(out)["cpus"] == [cpu]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kernel", "checksum", "--size", "lots"], "is not a size like"),
        (["--kernel", "checksum", "--size", "0"], "size must be positive"),
        (["--kernel", "checksum", "--size", "1KiB", "--cpus", "1-x"], "is not a CPU number"),
        (["--kernel", "checksum", "--size", "1KiB", "--cpus", "4096"], "do not exist on this host"),
        (["--kernel", "checksum", "--size", "1KiB", "--repeat", "0"], "repeat must be at least 1"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(capsys, args, message):
    assert main(["run", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_unknown_kernel_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--kernel", "nope"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err

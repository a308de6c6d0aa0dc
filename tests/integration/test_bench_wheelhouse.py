"""roles/bench_agent/files/build_wheelhouse.py: builds a version's wheel on the controller."""

import hashlib
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "roles" / "bench_agent" / "files" / "build_wheelhouse.py"
REQUIREMENTS = ["numba==0.68.1"]


def load_script():
    spec = importlib.util.spec_from_file_location("build_wheelhouse", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def wheelhouse(tmp_path):
    # Dependencies are fetched from PyPI only when missing; a pre-made folder keeps this test offline
    # for them, while the agent's own wheel is really built.
    folder = tmp_path / "wheelhouse"
    key = hashlib.sha256("\n".join(sorted(REQUIREMENTS)).encode()).hexdigest()[:12]
    (folder / f"deps-cp311-x86_64-{key}").mkdir(parents=True)
    return folder


@pytest.fixture
def source(tmp_path):
    tree = tmp_path / "src"
    shutil.copytree(REPO / "bench", tree, ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    return tree


def build(wheelhouse, version, source=None, python="3.11", arch="x86_64"):
    args = [
        sys.executable,
        str(SCRIPT),
        "--wheelhouse",
        str(wheelhouse),
        "--version",
        version,
        "--python",
        python,
        "--arch",
        arch,
        *REQUIREMENTS,
    ]
    if source:
        args += ["--source", str(source)]
    return subprocess.run(args, capture_output=True, text=True)


def wheel_version(path: str) -> str:
    with zipfile.ZipFile(path) as wheel:
        init = wheel.read("perfgate_bench/__init__.py").decode()
        metadata = next(n for n in wheel.namelist() if n.endswith("METADATA"))
        declared = re.search(r"^Version: (.+)$", wheel.read(metadata).decode(), re.M).group(1)
    assert f'__version__ = "{declared}"' in init
    return declared


def test_builds_the_version_once_and_again_when_the_source_changes(wheelhouse, source):
    first = build(wheelhouse, "2.3.4", source)
    assert first.returncode == 0, first.stderr
    result = json.loads(first.stdout)
    assert result["changed"] is True and wheel_version(result["wheel"]) == "2.3.4"

    again = json.loads(build(wheelhouse, "2.3.4", source).stdout)
    assert again["changed"] is False and again["wheel_sha256"] == result["wheel_sha256"]

    kernels = source / "perfgate_bench" / "kernels.py"
    kernels.write_text(kernels.read_text() + "\n# changed\n")
    rebuilt = json.loads(build(wheelhouse, "2.3.4", source).stdout)
    assert rebuilt["changed"] is True and rebuilt["wheel_sha256"] != result["wheel_sha256"]
    assert not [p for p in wheelhouse.iterdir() if p.name.startswith("tmp") or p.name.startswith(".deps-")]


def test_the_dependencies_go_to_hosts_as_one_archive_of_roots_files(wheelhouse, source):
    deps = next(wheelhouse.glob("deps-*"))
    (deps / "numba-0.68.1-cp311-none-any.whl").write_bytes(b"wheel bytes")
    (deps / "numba-0.68.1-cp311-none-any.whl").chmod(0o600)  # as a controller with umask 077 leaves it
    first = json.loads(build(wheelhouse, "2.3.5", source).stdout)
    assert first["dependencies_archive"] == str(deps) + ".tar"
    with tarfile.open(first["dependencies_archive"]) as tar:
        members = {m.name: (m.mode, m.uname, m.uid) for m in tar.getmembers()}
        content = tar.extractfile(f"{deps.name}/numba-0.68.1-cp311-none-any.whl").read()
    assert members == {
        deps.name: (0o755, "root", 0),
        f"{deps.name}/numba-0.68.1-cp311-none-any.whl": (0o644, "root", 0),
    }
    assert content == b"wheel bytes"

    again = json.loads(build(wheelhouse, "2.3.5", source).stdout)
    assert again["changed"] is False, "an existing archive is not made again"
    assert not [p for p in wheelhouse.iterdir() if p.name.startswith(".deps-")], "no scratch file is left"


def test_a_wheel_placed_by_hand_is_used_as_is(wheelhouse, source):
    built = json.loads(build(wheelhouse, "3.0.0", source).stdout)
    Path(built["wheel"] + ".source-sha256").unlink()  # as if CI had put it there
    (source / "perfgate_bench" / "kernels.py").write_text("# different\n")
    again = json.loads(build(wheelhouse, "3.0.0", source).stdout)
    assert again["changed"] is False and again["wheel_sha256"] == built["wheel_sha256"]


@pytest.mark.parametrize(
    ("version", "with_source", "python", "arch", "message"),
    [
        ("1.0-bad build", True, "3.11", "x86_64", "is not a PEP 440 version"),
        ("4.0.0", False, "3.11", "x86_64", "building from source is off"),
        ("4.0.0", True, "3.11", "sparc", "no wheels are fetched for architecture 'sparc'"),
        ("4.0.0", True, "three", "x86_64", "is not a version like 3.11"),
    ],
)
def test_bad_input_is_named(wheelhouse, source, version, with_source, python, arch, message):
    result = build(wheelhouse, version, source if with_source else None, python, arch)
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr


def test_role_pins_match_the_lock_file():
    pins = yaml.safe_load((REPO / "roles" / "bench_agent" / "defaults" / "main.yml").read_text())
    lock = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split(";")[0].strip().split("==")
            lock[name.lower().replace("_", "-")] = version.strip()
    for pin in pins["bench_agent_dependencies"]:
        name, version = pin.split("==")
        assert lock[name.lower().replace("_", "-")] == version, pin


def test_script_exposes_the_version_rule():
    rule = load_script().VERSION
    assert rule.match("1.4.0") and rule.match("1.4.0rc1") and rule.match("1.4.0+local.2")
    assert not rule.match("1.4.0-bad") and not rule.match("v1")

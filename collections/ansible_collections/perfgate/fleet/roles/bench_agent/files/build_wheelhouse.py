"""Runs on the controller: make sure the wheelhouse holds perfgate_bench at VERSION and binary
wheels of its dependencies for the host's Python and architecture, so hosts install without PyPI.

A version is built from the source tree when its wheel is missing, or when it was built from
the source before and the source has changed since (a sidecar file keeps the source's hash). A
wheel someone put in the wheelhouse by hand is never rebuilt. Everything is built in a temporary
folder and renamed into place, under a lock, so parallel hosts and interrupted runs never leave a
half-written wheel or dependency folder. Prints one JSON object; exit 1 with a message on error.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

# PEP 440, as pip accepts it (the public part plus an optional local label).
VERSION = re.compile(
    r"^([1-9][0-9]*!)?(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*((a|b|rc)(0|[1-9][0-9]*))?(\.post(0|[1-9][0-9]*))?"
    r"(\.dev(0|[1-9][0-9]*))?(\+[a-z0-9]+(\.[a-z0-9]+)*)?$"
)
PLATFORMS = {
    "x86_64": ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"],
    "aarch64": ["manylinux_2_28_aarch64", "manylinux_2_17_aarch64", "manylinux2014_aarch64"],
}


class BuildError(Exception):
    pass


def wheel_inputs(source: Path) -> list[Path]:
    """The files that go into the wheel; the benchmarks beside the package do not."""
    package = [
        p for p in sorted((source / "perfgate_bench").rglob("*")) if p.is_file() and "__pycache__" not in p.parts
    ]
    return [source / "pyproject.toml", *package]


def source_hash(source: Path) -> str:
    digest = hashlib.sha256()
    for path in wheel_inputs(source):
        digest.update(str(path.relative_to(source)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pip(*args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if "is ignored" not in line]
        raise BuildError(f"pip {args[0]} failed: " + "\n".join(lines[-15:]))


def ensure_agent_wheel(wheelhouse: Path, version: str, source: Path | None) -> tuple[Path, bool]:
    name = f"perfgate_bench-{version}-py3-none-any.whl"
    wheel, sidecar = wheelhouse / name, wheelhouse / (name + ".source-sha256")
    if wheel.exists() and (not sidecar.exists() or source is None):
        return wheel, False
    if source is None:
        raise BuildError(f"{wheel} is missing and building from source is off (bench_agent_build_from_source)")
    if not (source / "pyproject.toml").is_file():
        raise BuildError(f"{source} is not the perfgate_bench source tree (no pyproject.toml)")
    wanted = source_hash(source)
    if wheel.exists() and sidecar.read_text().strip() == wanted:
        return wheel, False
    with tempfile.TemporaryDirectory(dir=wheelhouse) as scratch:
        tree = Path(scratch) / "src"
        for path in wheel_inputs(source):
            target = tree / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        init = tree / "perfgate_bench" / "__init__.py"
        init.write_text(re.sub(r'__version__ = "[^"]*"', f'__version__ = "{version}"', init.read_text()))
        pip("wheel", "--quiet", "--no-deps", "--wheel-dir", str(Path(scratch) / "out"), str(tree))
        built = list((Path(scratch) / "out").glob("perfgate_bench-*.whl"))
        if [w.name for w in built] != [name]:
            raise BuildError(f"expected {name}, pip built {[w.name for w in built]}")
        os.replace(built[0], wheel)
    sidecar_tmp = sidecar.with_suffix(".tmp")
    sidecar_tmp.write_text(wanted + "\n")
    os.replace(sidecar_tmp, sidecar)
    return wheel, True


def ensure_dependencies(wheelhouse: Path, requirements: list[str], python: str, arch: str) -> tuple[Path, bool]:
    if arch not in PLATFORMS:
        raise BuildError(f"no wheels are fetched for architecture {arch!r}; supported: {', '.join(PLATFORMS)}")
    if not re.fullmatch(r"3\.\d+", python):
        raise BuildError(f"host Python {python!r} is not a version like 3.11")
    tag = "cp" + python.replace(".", "")
    key = hashlib.sha256("\n".join(sorted(requirements)).encode()).hexdigest()[:12]
    folder = wheelhouse / f"deps-{tag}-{arch}-{key}"
    if folder.is_dir():
        return folder, False
    scratch = Path(tempfile.mkdtemp(dir=wheelhouse, prefix=".deps-"))
    scratch.chmod(0o755)
    try:
        platform_args = [arg for platform in PLATFORMS[arch] for arg in ("--platform", platform)]
        pip(
            "download",
            "--quiet",
            "--only-binary=:all:",
            "--implementation",
            "cp",
            "--python-version",
            python,
            "--abi",
            tag,
            *platform_args,
            "--dest",
            str(scratch),
            *requirements,
        )
        os.replace(scratch, folder)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return folder, True


def owned_by_root(member: tarfile.TarInfo) -> tarfile.TarInfo:
    """Whatever the controller's user and umask, the host gets root's files, readable by all."""
    member.uid = member.gid = 0
    member.uname = member.gname = "root"
    member.mode = 0o755 if member.isdir() else 0o644
    return member


def ensure_archive(folder: Path) -> tuple[Path, bool]:
    """One uncompressed tar of the dependency folder (the wheels are compressed already): a host
    receives it in one transfer, where copying 20-odd wheels one by one took 38 s through the
    podman connection."""
    archive = folder.with_name(folder.name + ".tar")
    if archive.is_file():
        return archive, False
    handle, scratch = tempfile.mkstemp(dir=folder.parent, prefix=".deps-", suffix=".tar")
    os.close(handle)
    try:
        with tarfile.open(scratch, "w") as tar:
            tar.add(folder, arcname=folder.name, recursive=False, filter=owned_by_root)
            for wheel in sorted(folder.iterdir()):
                tar.add(wheel, arcname=f"{folder.name}/{wheel.name}", filter=owned_by_root)
        os.chmod(scratch, 0o644)
        os.replace(scratch, archive)
    finally:
        if os.path.exists(scratch):
            os.unlink(scratch)
    return archive, True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--wheelhouse", required=True, type=Path)
    parser.add_argument("--version", required=True)
    parser.add_argument("--source", type=Path, help="build a missing version from this source tree")
    parser.add_argument("--python", required=True, help="the host's Python, e.g. 3.11")
    parser.add_argument("--arch", required=True, help="the host's architecture, e.g. x86_64")
    parser.add_argument("requirements", nargs="+")
    args = parser.parse_args()
    try:
        if not VERSION.match(args.version):
            raise BuildError(f"version {args.version!r} is not a PEP 440 version such as 1.4.0 or 1.4.0rc1")
        args.wheelhouse.mkdir(parents=True, exist_ok=True)
        with open(args.wheelhouse / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            wheel, built = ensure_agent_wheel(args.wheelhouse, args.version, args.source)
            deps, fetched = ensure_dependencies(args.wheelhouse, args.requirements, args.python, args.arch)
            archive, archived = ensure_archive(deps)
    except (BuildError, OSError) as error:
        print(f"bench_agent wheelhouse: {error}", file=sys.stderr)
        return 1
    print(
        json.dumps(
            {
                "changed": built or fetched or archived,
                "wheel": str(wheel),
                "wheel_sha256": file_sha256(wheel),
                "dependencies": str(deps),
                "dependencies_archive": str(archive),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

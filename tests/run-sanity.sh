#!/usr/bin/env bash
# ansible-test sanity on the perfgate.fleet collection, offline apart from the package registries.
# ansible-test wants the collection at .../ansible_collections/<namespace>/<name> with nothing
# else of the repository around it, so it runs on a copy of what `ansible-galaxy collection
# build` would ship, outside the repository's git work tree (inside it, ansible-test would list
# the files git knows and skip an ignored copy). Its HOME is a folder of the repository's, so its
# virtual environments and the pip bootstrap are cached there and ~/.ansible is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work=$repo/.cache/sanity
collection=collections/ansible_collections/perfgate/fleet
pip_version=24.2

mkdir -p "$work/home/.ansible/test/cache" "$work/pip"
if ! ls "$work/pip"/pip-$pip_version-*.whl >/dev/null 2>&1; then
    .venv/bin/pip download -q --disable-pip-version-check --no-deps -d "$work/pip" "pip==$pip_version" 2>&1 |
        { grep -v 'is ignored: it is neither a file nor a directory' || true; }
fi
cp tests/sanity/get_pip.py "$work/home/.ansible/test/cache/get_pip_${pip_version//./_}.py"
cp "$work/pip"/pip-$pip_version-*.whl "$work/home/.ansible/test/cache/"

copy=$(mktemp -d "${TMPDIR:-/tmp}/perfgate-sanity.XXXXXX")
trap 'rm -rf "$copy"' EXIT
mkdir -p "$copy/ansible_collections/perfgate"
# -L: the collection's roles are links to the repository's top-level roles.
cp -rL "$collection" "$copy/ansible_collections/perfgate/fleet"
find "$copy/ansible_collections" -name __pycache__ -prune -exec rm -rf {} +

cd "$copy/ansible_collections/perfgate/fleet"
HOME=$work/home "$repo/.venv/bin/ansible-test" sanity --venv --python 3.11 --color no "$@"

#!/usr/bin/env bash
# Builds the image of one kind of local environment host: the test host image plus the Debian
# packages site.yml installs on that kind of host, the way a Packer-built AMI carries a fleet's
# packages. site.yml still runs every role on it and finds the packages present; Molecule keeps
# testing the bare image, where the roles install them.
#
# The image is tagged <base>-<kind> and labelled with the hash of its recipe (this script, the
# base image's recipe and the package list); it is rebuilt only when that hash changes. Prints
# "built <image>" when it built one and nothing when the image was current.
#
# usage: host-image.sh BASE_IMAGE KIND PACKAGE...   e.g. host-image.sh localhost/perfgate/debian:12 lb haproxy
set -euo pipefail

base="${1:?usage: host-image.sh BASE_IMAGE KIND PACKAGE...}"
kind="${2:?usage: host-image.sh BASE_IMAGE KIND PACKAGE...}"
shift 2
image="$base-$kind"

base_recipe=$(podman image inspect --format '{{ index .Labels "perfgate.recipe" }}' "$base" 2>/dev/null) || {
    echo "host-image.sh: the base image $base does not exist (make setup builds it)" >&2
    exit 1
}
recipe=$( { cat "$0"; echo "$base_recipe"; printf '%s\n' "$@" | sort; } | sha256sum | cut -c1-16)
current=$(podman image inspect --format '{{ index .Labels "perfgate.host_recipe" }}' "$image" 2>/dev/null || true)
if [[ "$current" == "$recipe" ]]; then
    exit 0
fi

old_id=$(podman image inspect --format '{{ .Id }}' "$image" 2>/dev/null || true)
builder="perfgate-image-build-$kind"
log=$(mktemp /var/tmp/perfgate-host-image.XXXXXX)
podman rm -f "$builder" >/dev/null 2>&1 || true
trap 'podman rm -f "$builder" >/dev/null 2>&1 || true; rm -f "$log"' EXIT

# No systemd runs in the build container, so the packages' services are enabled but not started;
# they start when a host boots, as they would after the role's own install and enable.
# shellcheck disable=SC2016  # $@ is expanded by the container's shell
podman run --name "$builder" "$base" sh -c '
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq &&
    apt-get install -y -qq -o Acquire::Retries=3 --no-install-recommends "$@" &&
    apt-get clean' sh "$@" >"$log" 2>&1 || {
    echo "host-image.sh: installing the $kind packages into $image failed; last lines:" >&2
    tail -n 20 "$log" >&2
    exit 1
}
podman commit --quiet \
    --change 'CMD ["/lib/systemd/systemd"]' \
    --change "LABEL perfgate.host_recipe=$recipe" \
    "$builder" "$image" >/dev/null
# Drop the image this one replaces, unless a container still uses it.
if [[ -n "$old_id" ]]; then podman rmi "$old_id" >/dev/null 2>&1 || true; fi
echo "built $image"

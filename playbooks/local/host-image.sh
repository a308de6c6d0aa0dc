#!/usr/bin/env bash
# Builds one image for local environment hosts: a base image plus Debian packages, the way a
# Packer-built AMI carries a fleet's packages. up.yml builds a common image on the test host
# image, then each kind of host's image on the common one. site.yml still runs every role on
# such a host and finds the packages present; Molecule keeps testing the bare test image.
#
# With --bake PLAYBOOK, the playbook then runs against the build container (podman connection),
# as Packer runs its provisioners: the agent image gets bench_agent's dependency runtime this way.
# --recipe-file FILE (repeatable) names what else the baked content depends on.
#
# The image is labelled with the hash of its recipe (this script, the base image's own recipe
# labels, the package list, the bake playbook and the recipe files); it is rebuilt only when that
# hash changes, so a change to the common image rebuilds the kinds built on it. Prints
# "built <image>" when it built one and nothing when the image was current. Builds of one image
# name take turns (a lock file), so two checkouts bringing up environments at once build it once.
#
# usage: host-image.sh [--bake PLAYBOOK [--recipe-file FILE]...] BASE_IMAGE IMAGE PACKAGE...
#        e.g. host-image.sh localhost/perfgate/debian:12-common localhost/perfgate/debian:12-lb haproxy
set -euo pipefail

usage="usage: host-image.sh [--bake PLAYBOOK [--recipe-file FILE]...] BASE_IMAGE IMAGE PACKAGE..."
bake="" recipe_files=()
while [[ $# -gt 0 && "$1" == --* ]]; do
    case "$1" in
        --bake) bake="${2:?$usage}"; shift 2 ;;
        --recipe-file) recipe_files+=("${2:?$usage}"); shift 2 ;;
        *) echo "$usage" >&2; exit 2 ;;
    esac
done
base="${1:?$usage}"
image="${2:?$usage}"
shift 2
[[ "$image" != "$base" ]] || { echo "host-image.sh: the image must not be its own base ($base)" >&2; exit 2; }
for file in ${bake:+"$bake"} ${recipe_files[@]+"${recipe_files[@]}"}; do
    [[ -r "$file" ]] || { echo "host-image.sh: cannot read $file" >&2; exit 2; }
done

# The base's recipe: the test image's own label, and the host recipe when the base was built by
# this script too.
base_recipe=$(podman image inspect \
    --format '{{ index .Labels "perfgate.recipe" }} {{ index .Labels "perfgate.host_recipe" }}' "$base" 2>/dev/null) || {
    echo "host-image.sh: the base image $base does not exist (make setup builds it)" >&2
    exit 1
}
recipe=$( {
    cat "$0"; echo "$base_recipe"; printf '%s\n' "$@" | sort
    for file in ${bake:+"$bake"} ${recipe_files[@]+"${recipe_files[@]}"}; do cat "$file"; done
} | sha256sum | cut -c1-16)
current_recipe() { podman image inspect --format '{{ index .Labels "perfgate.host_recipe" }}' "$image" 2>/dev/null || true; }
[[ "$(current_recipe)" != "$recipe" ]] || exit 0

# One name for the image, as a file and container name: localhost/perfgate/debian:12-lb -> debian-12-lb.
slug=$(basename "$image" | tr -c 'a-zA-Z0-9_.\n-' '-')
exec {lock}>"/var/tmp/perfgate-host-image-$slug.lock"
flock "$lock"
# Whoever held the lock may have just built this very recipe.
[[ "$(current_recipe)" != "$recipe" ]] || exit 0

old_id=$(podman image inspect --format '{{ .Id }}' "$image" 2>/dev/null || true)
builder="perfgate-image-build-$slug-$$"
log=$(mktemp /var/tmp/perfgate-host-image.XXXXXX)
trap 'podman rm -f "$builder" >/dev/null 2>&1 || true; rm -f "$log"' EXIT

# No systemd runs in the build container, so the packages' services are enabled but not started;
# they start when a host boots, as they would after the role's own install and enable.
podman run --detach --name "$builder" "$base" sleep infinity >/dev/null
# shellcheck disable=SC2016  # $@ is expanded by the container's shell
podman exec "$builder" sh -c '
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq &&
    apt-get install -y -qq -o Acquire::Retries=3 --no-install-recommends "$@" &&
    apt-get clean' sh "$@" >"$log" 2>&1 || {
    echo "host-image.sh: installing packages into $image failed; last lines:" >&2
    tail -n 20 "$log" >&2
    exit 1
}
if [[ -n "$bake" ]]; then
    # The linear strategy: mitogen's does not drive the podman connection.
    ANSIBLE_STRATEGY=linear ansible-playbook -i "$builder," -c containers.podman.podman "$bake" >"$log" 2>&1 || {
        echo "host-image.sh: baking $bake into $image failed; last lines:" >&2
        tail -n 30 "$log" >&2
        exit 1
    }
fi
podman stop --time 0 "$builder" >/dev/null
podman commit --quiet \
    --change 'CMD ["/lib/systemd/systemd"]' \
    --change "LABEL perfgate.host_recipe=$recipe" \
    "$builder" "$image" >/dev/null
# Drop the image this one replaces, unless a container or another image still uses it.
if [[ -n "$old_id" ]]; then podman rmi "$old_id" >/dev/null 2>&1 || true; fi
echo "built $image"

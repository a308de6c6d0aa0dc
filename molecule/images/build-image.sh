#!/usr/bin/env bash
# Builds a perfgate test host image from Debian packages with debootstrap, because no container
# registry is reachable from our machines. The image carries a label with the hash of its recipe
# (this script plus the suite and package list), and is rebuilt only when that hash changes.
#
# usage: build-image.sh SUITE TAG      e.g. build-image.sh bookworm 12
set -euo pipefail

suite="${1:?usage: build-image.sh SUITE TAG}"
tag="${2:?usage: build-image.sh SUITE TAG}"
image="localhost/perfgate/debian:${tag}"
mirror="${PERFGATE_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

# python3-venv lets the bench_agent role create its virtualenvs without reaching a package mirror.
# python3-apt lets Ansible's apt module run without bootstrapping itself on every fresh host;
# openssh-server and sudo make the container behave like the VMs the roles target.
packages="python3,python3-apt,python3-venv,systemd,systemd-sysv,dbus,sudo,openssh-server,iproute2,procps,ca-certificates"

recipe_hash=$( { cat "$0"; echo "$suite $packages"; } | sha256sum | cut -c1-16)
current=$(podman image inspect --format '{{ index .Labels "perfgate.recipe" }}' "$image" 2>/dev/null || true)
if [[ "$current" == "$recipe_hash" ]]; then
    exit 0
fi

old_id=$(podman image inspect --format '{{ .Id }}' "$image" 2>/dev/null || true)
echo "building $image from Debian $suite (recipe $recipe_hash); this takes about a minute"
rootfs=$(mktemp -d /var/tmp/perfgate-rootfs.XXXXXX)
trap 'rm -rf "$rootfs" "$rootfs.log"' EXIT

debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || {
    echo "debootstrap of $suite failed; last lines of $rootfs.log:" >&2
    tail -n 20 "$rootfs.log" >&2
    exit 1
}
rm -f "$rootfs.log"

# A container has no console to log in on; these units only spin or fail there.
for unit in getty.target console-getty.service systemd-remount-fs.service; do
    ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
done
# Fresh package lists in the image save every converge an 'apt-get update'.
chroot "$rootfs" apt-get update -qq >/dev/null 2>&1
# The image is shared by every test host; each host must get its own machine id and host keys.
: >"$rootfs/etc/machine-id"
rm -f "$rootfs"/etc/ssh/ssh_host_*
cat >"$rootfs/etc/systemd/system/perfgate-hostkeys.service" <<'UNIT'
[Unit]
Description=Generate SSH host keys on first boot
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/perfgate-hostkeys.service "$rootfs/etc/systemd/system/multi-user.target.wants/perfgate-hostkeys.service"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb

tar -C "$rootfs" -c . | podman import \
    --change 'CMD ["/lib/systemd/systemd"]' \
    --change "LABEL perfgate.recipe=$recipe_hash" \
    --change "LABEL perfgate.suite=$suite" \
    - "$image" >/dev/null 2>&1
# Drop the image this one replaces, unless a container still uses it.
if [[ -n "$current" && -n "${old_id:-}" ]]; then podman rmi "$old_id" >/dev/null 2>&1 || true; fi
echo "built $image"

#!/usr/bin/env bash
# Waits until systemd runs in a local environment host (a podman container booting systemd), and
# prints "running" or "degraded" as systemctl does. A host whose container stopped while booting
# is started once more; the reason it stopped (podman's state and the container's last lines of
# output) goes to stderr either way, so that a failure says more than "cannot exec in a stopped
# container".
#
# usage: wait-booted.sh CONTAINER [TIMEOUT_S]     (TIMEOUT_S defaults to 60)
set -uo pipefail

name="${1:?usage: wait-booted.sh CONTAINER [TIMEOUT_S]}"
timeout_s="${2:-60}"
[[ "$timeout_s" =~ ^[1-9][0-9]*$ ]] || { echo "wait-booted.sh: TIMEOUT_S must be a whole number, not '$timeout_s'" >&2; exit 2; }

why_stopped() {
    echo "wait-booted.sh: $name stopped while booting:" \
        "$(podman inspect --format 'status={{.State.Status}} exit code={{.State.ExitCode}} OOM-killed={{.State.OOMKilled}} error={{.State.Error}}' "$name" 2>&1)" >&2
    echo "wait-booted.sh: its last lines of output:" >&2
    podman logs --tail 20 "$name" 2>&1 | sed 's/^/    /' >&2
}

restarted=false
deadline=$((SECONDS + timeout_s))
while ((SECONDS < deadline)); do
    status=$(podman inspect --format '{{.State.Status}}' "$name" 2>&1) || {
        echo "wait-booted.sh: no container $name: $status" >&2
        exit 1
    }
    if [[ "$status" != running ]]; then
        why_stopped
        if $restarted; then
            exit 1
        fi
        echo "wait-booted.sh: starting $name once more" >&2
        podman start "$name" >/dev/null || exit 1
        restarted=true
        continue
    fi
    # --wait returns once boot has finished; right after start systemd may not answer on its
    # bus yet, and then it prints nothing.
    state=$(timeout $((deadline - SECONDS + 1)) podman exec "$name" systemctl is-system-running --wait 2>/dev/null)
    if [[ "$state" == running || "$state" == degraded ]]; then
        echo "$state"
        exit 0
    fi
    sleep 1
done
echo "wait-booted.sh: systemd in $name did not finish booting within $timeout_s s (last state: '${state:-none}')" >&2
exit 1

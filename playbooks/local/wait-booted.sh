#!/usr/bin/env bash
# Waits until systemd runs in a local environment host (a podman container booting systemd), and
# prints "running" or "degraded" as systemctl does. A host gets one more try, with the full time
# again, when its container stopped while booting (it is started) or when its boot has not
# finished at the deadline (it is restarted). Before that try, the reason goes to stderr: for a
# stopped container podman's state and its last lines of output, so that a failure says more than
# "cannot exec in a stopped container"; for a stuck boot systemctl's last answer, the pending jobs
# and the failed units, which name the unit that held the boot up.
#
# usage: wait-booted.sh CONTAINER [TIMEOUT_S]
#   TIMEOUT_S (default 120) is longer than systemd's own 90 s start timeout, so that a hung unit
#   ends the boot as "degraded", which counts as booted, before this script gives up on it.
set -uo pipefail

name="${1:?usage: wait-booted.sh CONTAINER [TIMEOUT_S]}"
timeout_s="${2:-120}"
[[ "$timeout_s" =~ ^[1-9][0-9]*$ ]] || { echo "wait-booted.sh: TIMEOUT_S must be a whole number, not '$timeout_s'" >&2; exit 2; }
# One `systemctl --wait` is bounded, so that an exec that hangs is retried instead of eating the
# whole budget.
attempt_s=15

why_stopped() {
    echo "wait-booted.sh: $name stopped while booting:" \
        "$(podman inspect --format 'status={{.State.Status}} exit code={{.State.ExitCode}} OOM-killed={{.State.OOMKilled}} error={{.State.Error}}' "$name" 2>&1)" >&2
    echo "wait-booted.sh: its last lines of output:" >&2
    podman logs --tail 20 "$name" 2>&1 | sed 's/^/    /' >&2
}

still_booting() {
    echo "wait-booted.sh: systemd in $name did not finish booting within $timeout_s s (last answer: '${answer:-none}')" >&2
    echo "wait-booted.sh: its pending jobs and failed units:" >&2
    timeout 10 podman exec "$name" sh -c 'systemctl list-jobs --no-pager; systemctl --failed --no-pager' 2>&1 | sed 's/^/    /' >&2
}

# The host's one more try: MESSAGE, then the podman command that starts it again, with the full
# time again; a host that has had its try fails instead.
retried=false
answer=""
deadline=$((SECONDS + timeout_s))
try_once_more() {
    $retried && exit 1
    echo "wait-booted.sh: $1" >&2
    shift
    podman "$@" >/dev/null || exit 1
    retried=true answer="" deadline=$((SECONDS + timeout_s))
}

while true; do
    if ((SECONDS >= deadline)); then
        still_booting
        try_once_more "restarting $name once" restart --time 10 "$name"
        continue
    fi
    status=$(podman inspect --format '{{.State.Status}}' "$name" 2>&1) || {
        echo "wait-booted.sh: no container $name: $status" >&2
        exit 1
    }
    if [[ "$status" != running ]]; then
        why_stopped
        try_once_more "starting $name once more" start "$name"
        continue
    fi
    left=$((deadline - SECONDS))
    ((left > attempt_s)) && left=$attempt_s
    ((left < 1)) && left=1
    # --wait returns once boot has finished; right after start systemd may not answer on its bus
    # yet, and then it says so on stderr.
    answer=$(timeout "$left" podman exec "$name" systemctl is-system-running --wait 2>&1)
    case "${answer##*$'\n'}" in
    running | degraded)
        echo "${answer##*$'\n'}"
        exit 0
        ;;
    esac
    [[ -n "$answer" ]] || answer="no answer within $left s"
    sleep 1
done

#!/usr/bin/env bash
# Runs a command and, while it runs, prints "  ... still WHAT (N s)" every 10 seconds
# (PERFGATE_HEARTBEAT_S), so that a long setup step (apt, the virtualenv, npm, debootstrap) never
# leaves the terminal silent. The command's own output and exit status pass through unchanged.
#
# usage: heartbeat.sh WHAT COMMAND [ARG...]
set -uo pipefail

what="${1:?usage: heartbeat.sh WHAT COMMAND [ARG...]}"
shift
[[ $# -gt 0 ]] || { echo "usage: heartbeat.sh WHAT COMMAND [ARG...]" >&2; exit 2; }

interval=${PERFGATE_HEARTBEAT_S:-10}
[[ "$interval" =~ ^[1-9][0-9]*$ ]] || { echo "PERFGATE_HEARTBEAT_S must be a whole number of seconds, not '$interval'" >&2; exit 2; }

"$@" &
command_pid=$!
started=$SECONDS
next=$((started + interval))
# Polled a few times a second rather than slept for the whole interval, so a quick command (an
# image that is already current) returns at once.
while kill -0 "$command_pid" 2>/dev/null; do
    sleep 0.2
    if ((SECONDS >= next)) && kill -0 "$command_pid" 2>/dev/null; then
        echo "  ... still $what ($((SECONDS - started)) s)"
        next=$((SECONDS + interval))
    fi
done
wait "$command_pid"

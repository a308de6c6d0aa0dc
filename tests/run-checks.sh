#!/usr/bin/env bash
# Runs perfgate's checks, then prints one pytest-style summary line. Arguments are the Molecule
# scenarios to run.
#
# The quick static stages (ruff, ansible-lint, sanity) run first, one after another. If they
# pass, the long stages run CHECK_JOBS at a time (default 2): pytest without the end-to-end
# module, the end-to-end module, and each Molecule scenario. They share nothing: each pytest
# gets its own base temp directory, the end-to-end environment and every scenario name their own
# containers and networks, and servers take free ports. On 2 cores (2026-12-06) the long stages'
# own times added up to 1960 s and, two at a time, they finished in 981 s.
#
# Tests marked timing_sensitive time real work and compare the times; a neighbouring stage's load
# made equal builds look different (a 2026-12-06 run), so they are a last stage run alone.
#
# After a failure no new stage starts; the stages already running finish, so Molecule still
# destroys its containers. Each stage's output goes to its own log, printed whole when the stage
# ends, so concurrent stages never interleave their lines.
set -uo pipefail
cd "$(dirname "$0")/.."

jobs=${CHECK_JOBS:-2}
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "CHECK_JOBS must be a positive whole number, not '$jobs'" >&2; exit 2; }

# The end-to-end module alone takes about as long as the rest of pytest, so it is a stage of its
# own that can run beside the others.
end_to_end=tests/integration/test_local_rollout.py

quick=("ruff" "ansible-lint" "sanity")
# The order makes two lanes end close together: the scenarios (cpu_isolation, bench_agent and
# harden: about 2, 4 and 9 min beside another stage on this 2-core kind of machine, 2026-12-07)
# start first, pytest (14-16 min) when the first lane frees up, the end-to-end module (8 min) last.
long=()
for scenario in "$@"; do long+=("molecule:$scenario"); done
long+=("pytest" "pytest:end-to-end")
alone_last=("pytest:timing-sensitive")

logs=reports/checks-$(date -u +%Y%m%d-%H%M%S)
scratch=$(mktemp -d /tmp/perfgate-checks.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$logs"

run_stage() {
    case "$1" in
        ruff) ruff check . && ruff format --check . ;;
        ansible-lint) ansible-lint --profile production ;;
        sanity) tests/run-sanity.sh ;;
        # The slowest tests are listed at the end, so the log shows where the time goes.
        pytest)
            pytest --durations=25 --basetemp="$scratch/pytest" --ignore="$end_to_end" -m "not timing_sensitive" \
                tests/unit tests/integration
            ;;
        pytest:timing-sensitive) pytest --basetemp="$scratch/timing" -m timing_sensitive tests/unit tests/integration ;;
        pytest:end-to-end) pytest --durations=10 --basetemp="$scratch/end-to-end" "$end_to_end" ;;
        molecule:*) molecule test -s "${1#molecule:}" ;;
    esac
}

passed=0 failed=0 skipped=0 failed_stage=""
started=$SECONDS

record() { # stage, exit status, seconds
    if [[ "$2" == 0 ]]; then
        passed=$((passed + 1))
        echo "=== $1 passed in $3 s"
    else
        failed=$((failed + 1))
        [[ -n "$failed_stage" ]] || failed_stage=$1
        echo "=== $1 FAILED after $3 s"
    fi
}

run_one_by_one() {
    for stage in "$@"; do
        if [[ -n "$failed_stage" ]]; then
            skipped=$((skipped + 1))
            continue
        fi
        echo "=== $stage"
        stage_start=$SECONDS
        run_stage "$stage"
        record "$stage" $? $((SECONDS - stage_start))
    done
}

run_one_by_one "${quick[@]}"

declare -A pid_of=() start_of=()
# A stage's name as a file name: its log in $logs, its exit status in $scratch.
file_of() { echo "${1//:/-}"; }
queue=()
[[ -n "$failed_stage" ]] && skipped=$((skipped + ${#long[@]})) || queue=("${long[@]}")
last_heartbeat=$SECONDS
while ((${#queue[@]} + ${#pid_of[@]})); do
    while [[ -z "$failed_stage" ]] && ((${#queue[@]})) && ((${#pid_of[@]} < jobs)); do
        stage=${queue[0]}
        queue=("${queue[@]:1}")
        # The exit status goes to a file: the loop below polls for it rather than blocking in
        # wait, so it can print the heartbeat.
        (
            run_stage "$stage"
            echo $? >"$scratch/$(file_of "$stage").rc"
        ) >"$logs/$(file_of "$stage").log" 2>&1 &
        pid_of[$stage]=$!
        start_of[$stage]=$SECONDS
        echo "=== $stage started (output: $logs/$(file_of "$stage").log, printed when it ends)"
    done
    if [[ -n "$failed_stage" ]] && ((${#queue[@]})); then
        skipped=$((skipped + ${#queue[@]}))
        queue=()
    fi
    sleep 1
    for stage in "${!pid_of[@]}"; do
        rc_file="$scratch/$(file_of "$stage").rc"
        [[ -f "$rc_file" ]] || continue
        wait "${pid_of[$stage]}"
        echo "=== $stage"
        cat "$logs/$(file_of "$stage").log"
        record "$stage" "$(cat "$rc_file")" $((SECONDS - start_of[$stage]))
        unset "pid_of[$stage]"
    done
    if ((${#pid_of[@]})) && ((SECONDS - last_heartbeat >= 60)); then
        running=""
        for stage in "${!pid_of[@]}"; do running+=" $stage ($((SECONDS - start_of[$stage])) s)"; done
        echo "--- $((SECONDS - started)) s: running$running"
        last_heartbeat=$SECONDS
    fi
done

run_one_by_one "${alone_last[@]}"

echo
[[ -n "$failed_stage" ]] && echo "first failing stage: $failed_stage; stages not yet started were not run"
echo "checks took $((SECONDS - started)) s; stage logs in $logs/"
# The last line is the machine-readable summary; keep its form.
echo "stages: $passed passed, $failed failed, $skipped skipped"
[[ -z "$failed_stage" ]]

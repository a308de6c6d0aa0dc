#!/usr/bin/env bash
# Runs perfgate's checks in order and stops at the first stage that fails, then prints one
# pytest-style summary line. Arguments are the Molecule scenarios to run last.
set -uo pipefail
cd "$(dirname "$0")/.."

stages=("ruff" "ansible-lint" "sanity" "pytest")
for scenario in "$@"; do stages+=("molecule:$scenario"); done

run_stage() {
    case "$1" in
        ruff) ruff check . && ruff format --check . ;;
        ansible-lint) ansible-lint --profile production ;;
        sanity) tests/run-sanity.sh ;;
        pytest)
            # The slowest tests are listed at the end, so the log shows where the time goes.
            pytest --durations=25 tests/unit tests/integration
            ;;
        molecule:*) molecule test -s "${1#molecule:}" ;;
    esac
}

passed=0 failed=0 skipped=0 failed_stage=""
started=$SECONDS
for stage in "${stages[@]}"; do
    if [[ -n "$failed_stage" ]]; then
        skipped=$((skipped + 1))
        continue
    fi
    echo "=== $stage"
    stage_start=$SECONDS
    if run_stage "$stage"; then
        passed=$((passed + 1))
        echo "=== $stage passed in $((SECONDS - stage_start)) s"
    else
        failed=$((failed + 1))
        failed_stage=$stage
        echo "=== $stage FAILED after $((SECONDS - stage_start)) s"
    fi
done

echo
[[ -n "$failed_stage" ]] && echo "first failing stage: $failed_stage; later stages were not run"
echo "checks took $((SECONDS - started)) s"
# The last line is the machine-readable summary; keep its form.
echo "stages: $passed passed, $failed failed, $skipped skipped"
[[ -z "$failed_stage" ]]

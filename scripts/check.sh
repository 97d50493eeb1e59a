#!/usr/bin/env bash
# The `make check` driver: test dependencies, unit test binaries, integration tests (the real
# ./monkey over loopback) and, in a traced build, the LTTng tests.
#
# Usage: scripts/check.sh [--unit-only] UNIT_BINARY...
#
#   Each UNIT_BINARY is a C program that prints its own lines and exits non-zero on failure:
#   one pass or fail per binary; its output is shown on failure (always with V=1).
#   Then, unless --unit-only: /usr/bin/python3 tests/integration/run.py (on the epoll loop,
#   then again on the io_uring loop when the build has it), tests/bench/run.py
#   (the benchmark report's arithmetic, no timing), and tests/trace/run.py when config.mk
#   says LINUX_TRACE = 1.  Each runner ends with its own
#   "N passed, M failed" line; they are added up.
#
# The last line is "N passed, M failed"; the exit status is non-zero when M > 0 or nothing ran.
# Environment: V=1 (show every unit binary's output), MONKEY_BIN (server binary for the
# integration tests, default ./monkey), CHECK_ARGS (passed to run.py, e.g. CHECK_ARGS="-k core").
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

PY=/usr/bin/python3
UNIT_TIMEOUT=300         # seconds per unit binary
INTEGRATION_TIMEOUT=2400 # seconds for the whole integration suite (it bounds each test too)
TRACE_TIMEOUT=1800

unit_only=0
bins=()
for arg in "$@"; do
    case $arg in
    --unit-only) unit_only=1 ;;
    -h | --help)
        sed -n '2,/^set -uo/{/^set -uo/d;s/^# \{0,1\}//;p}' "$0"
        exit 0
        ;;
    -*) echo "check.sh: unknown option '$arg'" >&2; exit 2 ;;
    *) bins+=("$arg") ;;
    esac
done

passed=0
failed=0
skipped=0
failures=()

# ---- (a) test dependencies -------------------------------------------------------------------
if ((!unit_only)); then
    if [[ ! -x scripts/have-deps.sh ]]; then
        echo "check.sh: scripts/have-deps.sh is missing; cannot check the test dependencies" >&2
        echo "0 passed, 1 failed"
        exit 1
    fi
    if ! deps_out=$(scripts/have-deps.sh 2>&1); then
        if [[ $(id -u) -eq 0 ]]; then
            echo "check.sh: test dependencies missing ($deps_out); installing them"
            if ! scripts/install-deps.sh || ! scripts/have-deps.sh >/dev/null 2>&1; then
                echo "check.sh: scripts/install-deps.sh failed; test dependencies still missing" >&2
                echo "0 passed, 1 failed"
                exit 1
            fi
        else
            echo "$deps_out" >&2
            echo "check.sh: test dependencies are missing; run: sudo scripts/install-deps.sh" >&2
            echo "0 passed, 1 failed"
            exit 1
        fi
    fi
fi

# ---- (b) unit test binaries ------------------------------------------------------------------
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

for bin in "${bins[@]}"; do
    name=${bin##*/}
    if [[ ! -x $bin ]]; then
        echo "FAIL unit/$name: not found or not executable: $bin"
        failed=$((failed + 1))
        failures+=("unit/$name")
        continue
    fi
    timeout -k 10 "$UNIT_TIMEOUT" "$bin" >"$tmp/out" 2>&1
    rc=$?
    if ((rc == 0)); then
        echo "PASS unit/$name"
        passed=$((passed + 1))
        [[ ${V:-0} == 1 ]] && sed 's/^/    /' "$tmp/out"
    else
        if ((rc == 124 || rc == 137)); then
            echo "FAIL unit/$name: timed out after ${UNIT_TIMEOUT}s"
        else
            echo "FAIL unit/$name: exit status $rc"
        fi
        sed 's/^/    /' "$tmp/out"
        failed=$((failed + 1))
        failures+=("unit/$name")
    fi
done

# Run one Python test runner, stream its output, add its closing "N passed, M failed".
run_suite() { # label timeout script [args...]
    local label=$1 limit=$2 rc line p f s
    shift 2
    echo "== $label: $*"
    timeout -k 20 "$limit" "$PY" "$@" 2>&1 | tee "$tmp/$label.log"
    rc=${PIPESTATUS[0]}
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$tmp/$label.log" | tail -n 1)
    if [[ -z $line ]]; then
        echo "FAIL $label: the runner ended without a summary line (exit status $rc)"
        failed=$((failed + 1))
        failures+=("$label")
        return
    fi
    p=${line%% passed*}
    f=${line#*, }
    f=${f%% failed*}
    s=$(grep -E '^[0-9]+ skipped$' "$tmp/$label.log" | tail -n 1)
    s=${s%% *}
    passed=$((passed + p))
    failed=$((failed + f))
    skipped=$((skipped + ${s:-0}))
    ((f > 0)) && failures+=("$label ($f)")
    if ((rc != 0 && f == 0)); then
        echo "FAIL $label: exit status $rc although it reported no failure"
        failed=$((failed + 1))
        failures+=("$label")
    fi
}

# ---- (c) integration tests -------------------------------------------------------------------
if ((!unit_only)); then
    # shellcheck disable=SC2086  # CHECK_ARGS is a list of words on purpose
    run_suite integration "$INTEGRATION_TIMEOUT" tests/integration/run.py ${CHECK_ARGS:-}

    # The same suite on the io_uring event loop (EventLoop io_uring), when the binary has it.
    uring=0
    grep -q '^#define MK_HAVE_IO_URING 1' src/mk_config.h 2>/dev/null && uring=1
    if ((uring)); then
        # shellcheck disable=SC2086
        MKT_EVENT_LOOP=io_uring run_suite integration-io_uring "$INTEGRATION_TIMEOUT" \
            tests/integration/run.py ${CHECK_ARGS:-}
    fi

    # The benchmark report's judgement of the targets, on made-up runs (nothing is timed).
    run_suite bench-report 120 tests/bench/run.py

    # ---- (d) tracing tests, in a traced build -----------------------------------------------
    if [[ -f config.mk ]] && grep -q 'LINUX_TRACE = 1' config.mk; then
        if [[ -f tests/trace/run.py ]]; then
            run_suite trace "$TRACE_TIMEOUT" tests/trace/run.py
            ((uring)) && MKT_EVENT_LOOP=io_uring run_suite trace-io_uring "$TRACE_TIMEOUT" \
                tests/trace/run.py
        else
            echo "FAIL trace: traced build but tests/trace/run.py is missing"
            failed=$((failed + 1))
            failures+=("trace")
        fi
        # monkey-trace (built when libbabeltrace2 is present) is tested on real traces.
        if grep -q '^HAVE_BT2 = 1' config.mk && [[ -f tests/tools/run.py ]]; then
            run_suite tools "$TRACE_TIMEOUT" tests/tools/run.py
            ((uring)) && MKT_EVENT_LOOP=io_uring run_suite tools-io_uring "$TRACE_TIMEOUT" \
                tests/tools/run.py
        fi
    fi
fi

# ---- (e) summary ------------------------------------------------------------------------------
echo
((${#failures[@]})) && echo "failed: ${failures[*]}"
((skipped)) && echo "$skipped skipped"
echo "$passed passed, $failed failed"
((failed == 0 && passed > 0))

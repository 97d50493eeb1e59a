#!/usr/bin/env bash
# The `make check-stress` driver: attacks, faults and soaks against the real ./monkey on
# loopback (tests/stress/run.py; what each test does and the figures of the last full run are
# in docs/reliability.md).  Bounded: every test has its own time limit, the whole run stops
# after STRESS_TIMEOUT seconds (default 1500); a full run takes about 5 minutes.
#
# Usage: scripts/check-stress.sh [run.py arguments, e.g. -k slowloris -v]
#
# Environment: MONKEY_BIN (server binary, default ./monkey), STRESS_SCALE (e.g. 0.1 for a quick
# dry run of the counts; 1 is the real thing), STRESS_TIMEOUT, STRESS_FIGURES=FILE (the
# figures as Markdown table rows).
# Needs h2load (nghttp2-client), prlimit, valgrind and clang (scripts/install-deps.sh).
# The last line is "N passed, M failed"; the exit status is non-zero when M > 0 or nothing ran.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

PY=/usr/bin/python3
limit=${STRESS_TIMEOUT:-1500}

case ${1:-} in
-h | --help)
    sed -n '2,/^set -uo/{/^set -uo/d;s/^# \{0,1\}//;p}' "$0"
    exit 0
    ;;
esac

missing=()
for tool in h2load prlimit valgrind clang; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]})); then
    echo "check-stress.sh: missing tools: ${missing[*]} (run: sudo scripts/install-deps.sh)" >&2
    echo "0 passed, 1 failed"
    exit 1
fi

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

args=("$@")
[[ -n ${STRESS_FIGURES:-} ]] && args+=(--figures "$STRESS_FIGURES")

start=$SECONDS
timeout -k 30 "$limit" "$PY" tests/stress/run.py "${args[@]}" 2>&1 | tee "$tmp/out"
rc=${PIPESTATUS[0]}
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$tmp/out" | tail -n 1)
echo "check-stress: $((SECONDS - start)) s"
if [[ -z $line ]]; then
    if ((rc == 124 || rc == 137)); then
        echo "FAIL stress: the run exceeded ${limit}s and was stopped"
    else
        echo "FAIL stress: the runner ended without a summary line (exit status $rc)"
    fi
    p=$(grep -c '^PASS ' "$tmp/out")
    f=$(grep -c '^FAIL ' "$tmp/out")
    echo "$p passed, $((f + 1)) failed"
    exit 1
fi
p=${line%% passed*}
f=${line#*, }
f=${f%% failed*}
if ((rc != 0 && f == 0)); then
    echo "FAIL stress: exit status $rc although it reported no failure"
    f=$((f + 1))
fi
echo "$p passed, $f failed"
((f == 0 && p > 0))

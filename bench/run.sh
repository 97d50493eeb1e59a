#!/usr/bin/env bash
# Run the benchmark harness (bench/bench.py); `make bench` and `make bench-smoke` call this.
# Options are passed through: bench/run.sh --help lists them.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for tool in wrk taskset strace valgrind callgrind_control; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]})); then
    echo "bench: missing ${missing[*]}: run scripts/install-deps.sh --bench" >&2
    # wrk and taskset are needed for everything; without the others some rows stay empty.
    if [[ " ${missing[*]} " == *" wrk "* || " ${missing[*]} " == *" taskset "* ]]; then
        exit 1
    fi
fi
if (($(nproc) < 2)); then
    echo "bench: needs 2 CPUs (server on CPU 0, wrk on CPU 1)" >&2
    exit 1
fi
exec /usr/bin/python3 bench/bench.py "$@"

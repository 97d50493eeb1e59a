#!/bin/sh
# Cost of one tracepoint, measured with tp_smoke (see docs/tracing.md, "Cost per event").
#
#   tests/trace/bench.sh [N]        run from the source tree after a traced build
#
# Four situations, each timing N calls of five event shapes on one CPU (taskset -c 1):
#   1. provider not loaded           (MONKEY_TRACE_PROVIDER points nowhere)
#   2. provider loaded, no session enables the events
#   3. enabled, but a filter rejects every event
#   4. enabled and recorded          (8 x 4 MiB sub-buffers so nothing is discarded)
# Needs a session daemon (lttng-sessiond --daemonize) for 3 and 4.
set -eu

n=${1:-1000000}
smoke=build/tests/trace/tp_smoke
provider=$PWD/build/monkey-trace-provider.so
[ -x "$smoke" ] || { echo "bench.sh: $smoke missing (make trace-smoke)" >&2; exit 1; }
export LTTNG_UST_WITHOUT_BADDR_STATEDUMP=1
session=mk-bench-$$
out=$(mktemp -d)
trap 'lttng destroy "$session" >/dev/null 2>&1 || true; rm -rf "$out"' EXIT

pin() { if command -v taskset >/dev/null; then taskset -c 1 "$@"; else "$@"; fi; }

echo "== 1. provider not loaded"
MONKEY_TRACE_PROVIDER=/nonexistent pin "$smoke" bench "$n" 2>/dev/null
echo "== 2. provider loaded, not enabled"
MONKEY_TRACE_PROVIDER=$provider pin "$smoke" bench "$n" 2>/dev/null

echo "== 3. enabled, rejected by a filter"
lttng create "$session" --output="$out/f" >/dev/null
lttng enable-event -u -s "$session" 'monkey:*' --filter 'conn_id == 1 && fd == 1' >/dev/null
lttng start "$session" >/dev/null
MONKEY_TRACE_PROVIDER=$provider pin "$smoke" bench "$n" 2>/dev/null
lttng destroy "$session" >/dev/null

echo "== 4. enabled and recorded"
lttng create "$session" --output="$out/r" >/dev/null
lttng enable-channel -u -s "$session" big --subbuf-size=4M --num-subbuf=8 >/dev/null
lttng enable-event -u -s "$session" -c big 'monkey:*' >/dev/null
lttng start "$session" >/dev/null
MONKEY_TRACE_PROVIDER=$provider pin "$smoke" bench "$n" 2>/dev/null
lttng stop "$session" 2>&1 | grep -i discarded || echo "(no event discarded)"
echo "trace size: $(du -sb "$out/r" | cut -f1) bytes for $((4 * n)) events"

#!/usr/bin/env bash
# Run the libFuzzer targets built by `make fuzz-build` (see docs/fuzzing.md).
#
# Usage: fuzz/run.sh run SECONDS JOBS TARGET...    fuzz each target for SECONDS, JOBS at once
#        fuzz/run.sh regress 0 1 TARGET...          replay each target's corpus once
#
# `run` works in build/fuzz/work/TARGET/: the repository corpus fuzz/corpus/TARGET is copied
# into corpus/ there (new inputs are added to the copy, never to the repository), crashes go
# to artifacts/, libFuzzer's output to log.  One summary line per target, then
# "N passed, M failed"; the exit status is non-zero when a target failed.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

mode=${1:?mode}
seconds=${2:?seconds}
jobs=${3:?jobs}
shift 3
targets=("$@")
B=build/fuzz
DICT=fuzz/http.dict

# Per-target options: inputs larger than libFuzzer's default 4 KiB where the target needs
# them (several pipelined requests, heads near MaxRequestSize).
target_opts() {
    case $1 in
    parser | request) echo "-max_len=16384" ;;
    *) echo "" ;;
    esac
}

summarize() { # target rc log seconds
    local t=$1 rc=$2 log=$3 execs rate cov ft corp rss
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    corp=$(grep -o 'corp: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    if [[ $rc -eq 0 ]]; then
        printf 'PASS fuzz_%-8s %ss  %s execs  %s exec/s  cov %s  ft %s  corpus %s  rss %sMB\n' \
            "$t" "$4" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "${rss:-?}"
    else
        local why artifact
        why=$(grep -m1 -E '^fuzz invariant failed|^SUMMARY: |^==[0-9]+==ERROR: |ALARM: working on the last Unit|out-of-memory|deadly signal' "$log")
        artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
        printf 'FAIL fuzz_%-8s exit %s: %s\n' "$t" "$rc" "${why:-see $log}"
        [[ -n $artifact ]] && printf '     input: %s (replay: %s/fuzz_%s %s)\n' "$artifact" "$B" "$t" "$artifact"
        printf '     log:   %s\n' "$log"
        # The build tree may be gone when the log is read (CI cleans up between stages):
        # the input itself, and what the harness said about it, go into the output too.
        if [[ -n $artifact && -f $artifact ]]; then
            printf '     input (base64, %s bytes): %s\n' "$(wc -c <"$artifact")" \
                "$(head -c 65536 "$artifact" | base64 -w0)"
        fi
        grep -E -m3 -A2 '^fuzz invariant failed|^input \(' "$log" | sed 's/^/     | /' | cut -c1-1200
    fi
}

run_one() { # target
    local t=$1 bin=$B/fuzz_$1 work=$B/work/$1
    mkdir -p "$work/corpus" "$work/artifacts"
    if [[ -d fuzz/corpus/$t ]]; then
        cp -n fuzz/corpus/"$t"/* "$work/corpus/" 2>/dev/null || true
    fi
    # shellcheck disable=SC2046
    "$bin" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -dict="$DICT" \
        -artifact_prefix="$work/artifacts/" -print_final_stats=1 $(target_opts "$t") \
        "$work/corpus" >"$work/log" 2>&1
    echo $? >"$work/rc"
}

regress_one() { # target
    local t=$1 bin=$B/fuzz_$1 work=$B/work/$1
    mkdir -p "$work/artifacts"
    # -runs=0: execute every corpus file once (libFuzzer's INIT pass) and stop.
    # shellcheck disable=SC2046
    "$bin" -runs=0 -timeout=5 -rss_limit_mb=2048 -artifact_prefix="$work/artifacts/" \
        -print_final_stats=1 $(target_opts "$t") "fuzz/corpus/$t" >"$work/regress.log" 2>&1
    echo $? >"$work/rc"
}

passed=0
failed=0
for t in "${targets[@]}"; do
    if [[ ! -x $B/fuzz_$t ]]; then
        echo "fuzz/run.sh: $B/fuzz_$t is missing (make fuzz-build)" >&2
        exit 2
    fi
done

case $mode in
run)
    echo "fuzzing ${#targets[@]} target(s) for ${seconds}s each, $jobs at a time"
    running=0
    for t in "${targets[@]}"; do
        run_one "$t" &
        running=$((running + 1))
        if ((running >= jobs)); then
            wait -n
            running=$((running - 1))
        fi
    done
    wait
    for t in "${targets[@]}"; do
        rc=$(cat "$B/work/$t/rc" 2>/dev/null || echo 1)
        summarize "$t" "$rc" "$B/work/$t/log" "$seconds"
        if [[ $rc -eq 0 ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
    done
    ;;
regress)
    for t in "${targets[@]}"; do
        regress_one "$t"
        rc=$(cat "$B/work/$t/rc")
        n=$(find "fuzz/corpus/$t" -type f 2>/dev/null | wc -l)
        if [[ $rc -eq 0 ]]; then
            printf 'PASS fuzz_%-8s %s corpus inputs\n' "$t" "$n"
            passed=$((passed + 1))
        else
            summarize "$t" "$rc" "$B/work/$t/regress.log" 0
            failed=$((failed + 1))
        fi
    done
    ;;
*)
    echo "fuzz/run.sh: unknown mode '$mode'" >&2
    exit 2
    ;;
esac

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]

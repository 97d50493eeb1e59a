#!/usr/bin/python3
"""Tests of the benchmark report's judgement of the performance targets (bench/bench.py's
target_rows) on made-up runs, and of `bench.py --render` on the committed results.  Nothing
is measured: no server, no wrk, no timing.

    /usr/bin/python3 tests/bench/run.py [-v]

Prints "PASS name" / "FAIL name: why", then "N passed, M failed".
"""

import os
import subprocess
import sys
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import bench  # noqa: E402

COLS = bench.COLUMNS
TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def run(server, scen, rps, cpu, clean=True):
    return {"server": server, "scenario": scen, "rps": rps, "cpu_us_per_req": cpu,
            "clean": clean}


def results(runs, **extra):
    res = {"runs": runs, "memory": {}, "instructions": {}, "syscalls": {}, "tracing": None}
    res.update(extra)
    return res


def rows_of(res, scenarios="abcde"):
    """{label: row} of target_rows."""
    return {r[0]: r for r in bench.target_rows(res, COLS, list(scenarios))}


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


# A scenario-a field: Monkey against two peers and the trivial server, three runs each.
def field_a(monkey_cpu, h2o_cpu=10.0, lighttpd_cpu=12.0, monkey_rps=120000.0):
    runs = []
    for _ in range(3):
        runs += [run("monkey", "a", monkey_rps, monkey_cpu),
                 run("h2o", "a", 110000.0, h2o_cpu),
                 run("lighttpd", "a", 100000.0, lighttpd_cpu),
                 run("trivial", "a", 200000.0, 1.0)]
    return runs


@test
def cpu_bar_is_inclusive_and_exact():
    r = rows_of(results(field_a(8.0)))["a. server CPU µs/request"]
    expect(r[3] == "0.800" and r[-1] == "met", "8.0 / 10.0 should meet 0.8: %r" % (r,))
    r = rows_of(results(field_a(8.01)))["a. server CPU µs/request"]
    expect(r[-1] == "**not met**", "8.01 / 10.0 = 0.801 must not meet 0.8: %r" % (r,))


@test
def best_peer_is_the_least_cpu_and_the_most_requests():
    rows = rows_of(results(field_a(8.0, h2o_cpu=11.0, lighttpd_cpu=10.0)))
    r = rows["a. server CPU µs/request"]
    expect(r[2].startswith("lighttpd "), "CPU is judged against the cheapest peer: %r" % (r,))
    r = rows["a. req/s"]
    expect(r[2].startswith("h2o "), "req/s is judged against the fastest peer: %r" % (r,))


@test
def trivial_server_is_a_floor_not_a_peer():
    rows = rows_of(results(field_a(8.0)))
    expect(rows["a. req/s"][-1] == "met", "the trivial server's 200 k req/s is no bar")
    r = rows["a. floor: trivial server's CPU µs/request"]
    expect(r[3] == "0.100" and r[-1] == "(reference)", "floor row: %r" % (r,))


@test
def requests_per_second_bar():
    rows = rows_of(results(field_a(8.0, monkey_rps=109999.0)))
    expect(rows["a. req/s"][-1] == "**not met**", "below the fastest peer must fail")
    rows = rows_of(results(field_a(8.0, monkey_rps=110000.0)))
    expect(rows["a. req/s"][-1] == "met", "equal to the fastest peer meets the bar")


@test
def medians_of_clean_runs_only():
    runs = field_a(8.0)
    # A slow-host run of Monkey far off must not move the median of the clean ones...
    runs.append(run("monkey", "a", 50000.0, 30.0, clean=False))
    r = rows_of(results(runs))["a. server CPU µs/request"]
    expect(r[1] == "8.00" and r[5] == "3/3" and "noisy" not in r[-1], repr(r))
    # ...and a cell with no clean run is judged from its noisy runs, and says so.
    runs = [x for x in field_a(8.0) if x["server"] != "h2o"]
    runs.append(run("h2o", "a", 110000.0, 9.0, clean=False))
    r = rows_of(results(runs))["a. server CPU µs/request"]
    expect(r[2] == "h2o 9.00" and r[5] == "3/0" and r[-1] == "**not met** (noisy)", repr(r))


@test
def scenario_bars_differ():
    runs = []
    for sc in "ce":
        runs += [run("monkey", sc, 100.0, 8.5), run("h2o", sc, 100.0, 10.0)]
    rows = rows_of(results(runs))
    expect(rows["c. server CPU µs/request"][-1] == "met", "c's bar is 0.9")
    expect(rows["e. server CPU µs/request"][-1] == "**not met**", "e's bar is 0.8")
    expect("c. req/s" not in rows, "c has no req/s target")


@test
def d_is_judged_against_the_fastest_peer():
    runs = [run("monkey", "d", 4600.0, 90.0), run("nginx", "d", 1900.0, 75.0),
            run("lighttpd", "d", 4500.0, 180.0)]
    rows = rows_of(results(runs))
    r = rows["d. server CPU µs/request"]
    expect(r[2].startswith("lighttpd ") and r[-1] == "met", repr(r))
    runs[0] = run("monkey", "d", 4600.0, 180.0)
    r = rows_of(results(runs))["d. server CPU µs/request"]
    expect(r[-1] == "**not met**", "equal CPU is not less CPU: %r" % (r,))
    runs[0] = run("monkey", "d", 4400.0, 90.0)
    expect(rows_of(results(runs))["d. req/s"][-1] == "**not met**", "slower than lighttpd")


@test
def limits():
    def judged(mem, ir, sc):
        res = results(field_a(8.0), memory={"monkey": {"bytes_per_conn": mem}},
                      instructions={"monkey": {"per_req": ir}},
                      syscalls={"monkey": {"per_req": sc}})
        rows = rows_of(res)
        return [rows[label][-1] for label, *_ in bench.LIMITS]
    expect(judged(512, 5000, 3.004) == ["met"] * 3, "at the bars: %r" % judged(512, 5000, 3.004))
    expect(judged(513, 5001, 3.006) == ["**not met**"] * 3,
           "over the bars: %r" % judged(513, 5001, 3.006))


@test
def tracing_costs():
    def judged(ir_traced, info_cpu, all_cpu):
        runs = field_a(8.0)
        runs += [run("trace-info", "a", 1.0, info_cpu), run("trace-all", "a", 1.0, all_cpu)]
        res = results(runs, instructions={"monkey": {"per_req": 2000}},
                      tracing={"instructions": {"per_req": ir_traced}})
        rows = bench.target_rows(res, COLS, ["a"])
        return [r[-1] for r in rows if r[0].startswith("tracing")]
    expect(judged(2020, 8.4, 9.2) == ["met"] * 3, "at the bars: %r" % judged(2020, 8.4, 9.2))
    expect(judged(2021, 8.41, 9.21) == ["**not met**"] * 3,
           "over the bars: %r" % judged(2021, 8.41, 9.21))


@test
def io_uring_column_is_judged_on_its_own():
    runs = field_a(9.0)
    for _ in range(3):
        runs.append(run("monkey-uring", "a", 125000.0, 7.5))
    res = results(runs, memory={"monkey": {"bytes_per_conn": 150.0},
                                "monkey-uring": {"bytes_per_conn": 600.0}})
    m = {r[0]: r for r in bench.target_rows(res, COLS, ["a"], "monkey")}
    u = {r[0]: r for r in bench.target_rows(res, COLS, ["a"], "monkey-uring")}
    expect(m["a. server CPU µs/request"][-1] == "**not met**", "monkey 0.9: %r" % (m,))
    r = u["a. server CPU µs/request"]
    expect(r[1] == "7.50" and r[3] == "0.750" and r[-1] == "met", "monkey-uring 0.75: %r" % (r,))
    lbl = "memory per idle keep-alive connection, bytes"
    expect(m[lbl][-1] == "met" and u[lbl][-1] == "**not met**", "each column's own memory")
    text = "\n".join(bench.render_targets(res, COLS, ["a"]))
    expect("EventLoop io_uring" in text and text.count("| a. server CPU") == 2,
           "two target tables: %s" % text)
    res = results(field_a(9.0))
    expect("EventLoop io_uring" not in "\n".join(bench.render_targets(res, COLS, ["a"])),
           "no io_uring table without its column")


@test
def no_peer_no_rows():
    runs = [run("monkey", "a", 1.0, 1.0), run("trivial", "a", 1.0, 1.0)]
    expect(bench.target_rows(results(runs), COLS, ["a"]) == [], "nothing to judge against")


@test
def render_of_the_committed_results():
    """--render reprints bench/results/latest.md from latest.json (same tables), plus the
    targets, so that the judgement can be read from any saved run."""
    out = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "bench.py"), "--render",
                          os.path.join(ROOT, "bench", "results", "latest.json")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    expect(out.returncode == 0, "exit status %d: %s" % (out.returncode, out.stderr[-500:]))
    with open(os.path.join(ROOT, "bench", "results", "latest.md")) as f:
        saved = f.read()

    def tables(text):
        """The table lines outside the targets section."""
        lines, skip = [], False
        for line in text.splitlines():
            if line.startswith("## "):
                skip = line.startswith("## Targets")
            elif line.startswith("| ") and not skip:
                lines.append(line)
        return lines
    expect("## Targets (issue 5)" in out.stdout, "no targets section")
    expect(len(tables(saved)) > 10, "latest.md has no tables")
    expect(tables(out.stdout) == tables(saved), "the re-rendered tables differ from latest.md")


def main():
    verbose = "-v" in sys.argv[1:]
    passed = failed = 0
    for fn in TESTS:
        try:
            fn()
        except Exception as e:
            failed += 1
            print("FAIL bench/%s: %s" % (fn.__name__, e))
            if verbose:
                traceback.print_exc()
        else:
            passed += 1
            print("PASS bench/%s" % fn.__name__)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

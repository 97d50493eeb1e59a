#!/usr/bin/python3
"""Run Monkey's integration tests: tests/integration/test_*.py, functions named test_*.

    /usr/bin/python3 tests/integration/run.py [-k SUBSTRING]... [-v] [--list] [--timeout S]

Prints "PASS name" or "FAIL name: reason" (with the traceback) per test, then the line
"N passed, M failed".  Exit status 1 when a test failed or none ran.

A module may define setup_module() returning a shared mkt.Server, and teardown_module().
Around such a module the runner checks the server's fd count (same after all connections
are closed as at start) and its exit status, each reported as a test of its own.
A test gets `timeout` seconds (default 60; mkt.timeout(N) raises it), enforced by SIGALRM.
"""

import argparse
import glob
import importlib
import os
import signal
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import mkt  # noqa: E402


class TestTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise TestTimeout("test exceeded its time bound")


def bounded(fn, seconds):
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return fn()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


class Runner:
    def __init__(self, verbose):
        self.passed = self.failed = self.skipped = 0
        self.verbose = verbose
        self.failures = []

    def run(self, name, fn, seconds, servers=(), reap=True):
        live_before = list(mkt.LIVE)
        t0 = time.monotonic()
        try:
            bounded(fn, seconds)
        except mkt.Skip as e:
            self.skipped += 1
            print("SKIP %s: %s" % (name, e), flush=True)
            return True
        except BaseException as e:  # noqa: B902 (KeyboardInterrupt is re-raised below)
            if isinstance(e, KeyboardInterrupt):
                raise
            self.failed += 1
            self.failures.append(name)
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            print("FAIL %s: %s" % (name, reason[:300]), flush=True)
            tb = traceback.format_exc()
            print("    " + tb.rstrip().replace("\n", "\n    "), flush=True)
            shown = [s for s in mkt.LIVE if s not in live_before] + list(servers)
            for s in shown:
                print("    server log (pid %s, %s):\n%s" % (s.pid, s.dir, s.log_tail()),
                      flush=True)
            return False
        finally:
            # A test that left its own server running: stop it (by PID) without judging.
            if reap:
                for s in [s for s in mkt.LIVE if s not in live_before]:
                    s.kill()
        self.passed += 1
        dt = time.monotonic() - t0
        print("PASS %s%s" % (name, " (%.1fs)" % dt if self.verbose else ""), flush=True)
        return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-k", action="append", default=[],
                    help="run only tests whose name (module::function) contains this")
    ap.add_argument("-v", action="store_true", help="show durations")
    ap.add_argument("--list", action="store_true", help="list the tests and exit")
    ap.add_argument("--timeout", type=float, default=60.0, help="default bound per test (s)")
    opts = ap.parse_args()

    runner = Runner(opts.v)
    modules = sorted(glob.glob(os.path.join(HERE, "test_*.py")))
    if not os.access(mkt.MONKEY_BIN, os.X_OK) and not opts.list:
        print("FAIL setup: server binary %s is missing or not executable (run make)"
              % mkt.MONKEY_BIN, flush=True)
        print("0 passed, 1 failed", flush=True)
        return 1

    try:
        for path in modules:
            modname = os.path.basename(path)[:-3]
            try:
                mod = importlib.import_module(modname)
            except Exception:
                runner.run(modname + "::import", lambda: importlib.import_module(modname), 10)
                continue
            tests = [(k, v) for k, v in vars(mod).items()
                     if k.startswith("test_") and callable(v)]
            tests = [(("%s::%s" % (modname, k)), v) for k, v in tests]
            if opts.k:
                tests = [(n, f) for n, f in tests if any(s in n for s in opts.k)]
            if not tests:
                continue
            if opts.list:
                for n, _ in tests:
                    print(n)
                continue
            run_module(runner, mod, modname, tests, opts.timeout)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        runner.failed += 1
    finally:
        mkt.cleanup()

    if opts.list:
        return 0
    if runner.failures:
        print("failed: " + " ".join(runner.failures), flush=True)
    if runner.skipped:
        print("%d skipped" % runner.skipped, flush=True)
    print("%d passed, %d failed" % (runner.passed, runner.failed), flush=True)
    return 1 if runner.failed or not runner.passed else 0


def run_module(runner, mod, modname, tests, default_timeout):
    shared = []

    def setup():
        srv = mod.setup_module()
        if srv is not None:
            shared.append(srv)

    if hasattr(mod, "setup_module"):
        if not runner.run(modname + "::setup_module", setup, 60, reap=False):
            # Every selected test of the module counts as failed: nothing was tested.
            for n, _ in tests:
                runner.failed += 1
                runner.failures.append(n)
                print("FAIL %s: setup_module failed" % n, flush=True)
            if hasattr(mod, "teardown_module"):
                try:
                    bounded(mod.teardown_module, 30)
                except BaseException:
                    pass
            return
    for name, fn in tests:
        runner.run(name, fn, getattr(fn, "timeout", default_timeout), servers=shared)
    for s in shared:
        # Same fd count once every connection of the module is closed.
        runner.run(modname + "::fd_count_unchanged", s.check_fds, 30, servers=shared)
    if hasattr(mod, "teardown_module"):
        runner.run(modname + "::teardown_module (server exit status 0)",
                   mod.teardown_module, 30, servers=shared)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Tests of tools/monkey-trace on real traces (Python standard library only).

    /usr/bin/python3 tests/tools/run.py [-k SUBSTRING]... [-v] [--list]

Needs a traced build (./configure --linux-trace && make; `make check-tools` builds what is
needed and runs this): ./monkey, build/monkey-trace-provider.so, the tool
tools/monkey-trace/monkey-trace and the event generator build/tests/tools/mt_gen.

Traces are recorded here, from the real server under a known load (tests/integration/mkt.py
starts it), from two servers streaming to one lttng-relayd, from a live session, and from
mt_gen (the server's own tracepoints fired in a loop, with --break to make broken traces).
Each command's output is then checked against what was sent.

Every session has a unique name and its own output directory and is destroyed afterwards,
even when a test fails; sessions track only the server's pid (or filter on mt_gen's
procname), so other programs traced at the same time do not leak in.  The session daemon is
shared: started when `lttng list` fails, never stopped.  A relay daemon started here runs on
free loopback ports and is stopped by its pid.

Prints "PASS name" / "FAIL name: why" / "SKIP name: why", then "N passed, M failed".
Environment: MT_BENCH_EVENTS (events for the benchmark, default 5000000), MT_BENCH_MIN
(minimum M events/s that `summary` must reach, default 1.0).
"""

import argparse
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

import mkt  # noqa: E402

TOOL = os.path.join(REPO, "tools", "monkey-trace", "monkey-trace")
GEN = os.path.join(REPO, "build", "tests", "tools", "mt_gen")
PROVIDER = os.path.join(REPO, "build", "monkey-trace-provider.so")

os.environ["LTTNG_UST_WITHOUT_BADDR_STATEDUMP"] = "1"
os.environ["LTTNG_UST_REGISTER_TIMEOUT"] = "5000"

USER_ENV, USER_LTTNGRC = mkt.private_lttng_home()
os.environ.pop("MONKEY_TRACE_PROVIDER", None)

VERBOSE = False
SVG = "{http://www.w3.org/2000/svg}"
XHTML = "{http://www.w3.org/1999/xhtml}"


def note(msg):
    if VERBOSE:
        print("    " + str(msg).replace("\n", "\n    "), flush=True)


def run(argv, timeout=120, check=True, env=None):
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
                       env=env)
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    if check and p.returncode != 0:
        raise AssertionError("`%s` exited %d: %s" % (" ".join(argv), p.returncode,
                                                      (err or out).strip()[:800]))
    return p.returncode, out, err


def tool(*args, timeout=300, check=True):
    rc, out, err = run([TOOL] + [str(a) for a in args], timeout=timeout, check=False)
    note("$ monkey-trace %s -> %d\n%s%s" % (" ".join(map(str, args)), rc, out[:3000], err[:500]))
    if check and rc != 0:
        raise AssertionError("monkey-trace %s exited %d:\n%s%s" % (" ".join(map(str, args)), rc,
                                                                  out[-2000:], err[-1000:]))
    return rc, out, err


def summary_json(*traces, extra=()):
    _, out, _ = tool("summary", "--json", *extra, *traces)
    return json.loads(out)


def ensure_sessiond():
    if subprocess.run(["lttng", "list"], capture_output=True, timeout=30).returncode == 0:
        return
    subprocess.run(["lttng-sessiond", "--daemonize"], capture_output=True, timeout=30,
                   env=USER_ENV)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if subprocess.run(["lttng", "list"], capture_output=True, timeout=30).returncode == 0:
            return
        time.sleep(0.2)
    raise AssertionError("no LTTng session daemon: `lttng-sessiond --daemonize` did not start")


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


# ---------------------------------------------------------------------------------------------
# sessions and the relay daemon

_serial = [0]


class Session:
    """A recording session: its own name and output directory (or relay URL), monkey:*
    events, vpid/vtid contexts, restricted to some pids or to a procname."""

    def __init__(self, hint, pids=(), procname=None, url=None, live_us=None, channel=None,
                 contexts=("vpid", "vtid"), events=("monkey:*",)):
        _serial[0] += 1
        self.name = "mtt-%s-%d-%d" % (hint, os.getpid(), _serial[0])
        self.out = os.path.join(mkt.tmpdir("lttng"), "trace")
        self.pids = list(pids)
        self.procname = procname
        self.url = url
        self.live_us = live_us
        self.channel = channel  # extra enable-channel options, or None
        self.contexts = contexts
        self.events = events
        self.created = False
        self.stop_output = ""

    def lttng(self, *args, timeout=60):
        return run(["lttng"] + [str(a) for a in args], timeout=timeout)

    def create(self):
        args = ["create", self.name]
        if self.live_us:
            args += ["--live=%d" % self.live_us, "--set-url=" + self.url]
        elif self.url:
            args += ["--set-url=" + self.url]
        else:
            args += ["--output=" + self.out]
        self.lttng(*args)
        self.created = True
        ev = ["enable-event", "-u", "-s", self.name, ",".join(self.events)]
        if self.channel is not None:
            self.lttng("enable-channel", "-u", "-s", self.name, *self.channel, "mtch")
            ev += ["-c", "mtch"]
        if self.procname:
            ev += ["--filter", '$ctx.procname == "%s"' % self.procname]
        self.lttng(*ev)
        ctx = ["add-context", "-u", "-s", self.name]
        for t in self.contexts:
            ctx += ["-t", t]
        if self.channel is not None:
            ctx += ["-c", "mtch"]
        if self.contexts:
            self.lttng(*ctx)
        for pid in self.pids:
            self.lttng("track", "-u", "-s", self.name, "--vpid=%d" % pid)
        self.lttng("start", self.name)
        return self

    def stop(self):
        _, out, err = self.lttng("stop", self.name, timeout=120)
        self.stop_output = out + err
        return self

    def destroy(self):
        if self.created:
            self.created = False
            run(["lttng", "destroy", self.name], check=False, timeout=120)

    def __enter__(self):
        return self.create()

    def __exit__(self, *exc):
        self.destroy()
        return False


class Relayd:
    """lttng-relayd on free loopback ports, in the foreground under our control."""

    def __init__(self):
        self.out = mkt.tmpdir("relayd")
        self.ctrl, self.data, self.live = mkt.free_port(), mkt.free_port(), mkt.free_port()
        while len({self.ctrl, self.data, self.live}) < 3:
            self.data, self.live = mkt.free_port(), mkt.free_port()
        self.proc = None

    def start(self):
        self.log = open(self.out + ".log", "wb")
        self.proc = subprocess.Popen(
            ["lttng-relayd", "--control-port=tcp://127.0.0.1:%d" % self.ctrl,
             "--data-port=tcp://127.0.0.1:%d" % self.data,
             "--live-port=tcp://127.0.0.1:%d" % self.live, "--output=" + self.out],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        for port in (self.ctrl, self.data, self.live):
            while True:
                if self.proc.poll() is not None:
                    raise AssertionError("lttng-relayd exited with %s" % self.proc.returncode)
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise AssertionError("lttng-relayd does not listen on %d" % port)
                    time.sleep(0.05)
        return self

    @property
    def url(self):
        return "net://127.0.0.1:%d:%d" % (self.ctrl, self.data)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self.proc = None
        if getattr(self, "log", None):
            self.log.close()
            self.log = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


# ---------------------------------------------------------------------------------------------
# the known load on the real server

SERVER_CONF = {"Workers": "2", "Timeout": "2", "KeepAliveTimeout": "2"}


def get(c, path, head=False):
    r = c.request(mkt.req("HEAD" if head else "GET", path), head=head)
    return r.status


def fresh(srv):
    return mkt.Client(srv.port)


def load(srv):
    """The known load; returns what the trace must show."""
    exp = {"status": {200: 0, 404: 0, 400: 0, 408: 0}, "conns": 0}
    errors = []

    def slow_reader():
        # A client that reads a 3 MiB file slowly: the response stalls in the socket
        # buffers, so its request_end comes late (the slowest request of the load).
        try:
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(("127.0.0.1", srv.port))
            exp["slow_port"] = s.getsockname()[1]
            s.sendall(mkt.req("GET", "/big.bin"))
            time.sleep(0.3)
            got = 0
            s.settimeout(10)
            while got < mkt.BIG_SIZE:
                data = s.recv(16384)
                if not data:
                    break
                got += len(data)
                time.sleep(0.002)
            s.close()
            expect(got > mkt.BIG_SIZE, "slow reader got %d bytes" % got)
        except Exception as e:  # noqa: BLE001
            errors.append("slow reader: %r" % e)

    def timeout_client():
        # Half a request, then silence: the server times it out (req_incomplete) and
        # answers 408, a request like a 400 (request_begin and request_end, status 408).
        try:
            c = fresh(srv)
            exp["timeout_port"] = c.sock.getsockname()[1]
            c.send(b"GET / HTTP/1.1\r\nHost: localhost\r\n")
            data = c.recv_until_close(timeout=10)
            expect(b"408" in data, "expected a 408, got %r" % data[:100])
            c.close()
        except Exception as e:  # noqa: BLE001
            errors.append("timeout client: %r" % e)

    def idle_client():
        # One request, then idle until the keep-alive timeout closes the connection.
        try:
            c = fresh(srv)
            expect(get(c, "/hello.txt") == 200, "idle client: not 200")
            expect(c.is_closed(timeout=10), "idle connection not closed by the server")
            c.close()
        except Exception as e:  # noqa: BLE001
            errors.append("idle client: %r" % e)

    threads = [threading.Thread(target=f) for f in (slow_reader, timeout_client, idle_client)]
    for t in threads:
        t.start()
    exp["status"][200] += 2  # slow reader, idle client
    exp["status"][408] += 1  # timeout client
    exp["conns"] += 3

    # 4 keep-alive connections x 30 requests
    for _ in range(4):
        c = fresh(srv)
        for _ in range(30):
            expect(get(c, "/index.html") == 200, "GET /index.html not 200")
        c.close()
        exp["status"][200] += 30
        exp["conns"] += 1
    # 10 HEAD on one connection
    c = fresh(srv)
    for _ in range(10):
        expect(get(c, "/hello.txt", head=True) == 200, "HEAD not 200")
    c.close()
    exp["status"][200] += 10
    exp["conns"] += 1
    # 25 not found, each on its own connection
    for i in range(25):
        c = fresh(srv)
        expect(get(c, "/nope-%d" % i) == 404, "not 404")
        c.close()
        exp["status"][404] += 1
        exp["conns"] += 1
    # 5 garbage request lines: 400 each
    for _ in range(5):
        c = fresh(srv)
        c.send(b"GARBAGE\r\n\r\n")
        data = c.recv_until_close(timeout=10)
        expect(data.startswith(b"HTTP/1.1 400"), "garbage: %r" % data[:60])
        c.close()
        exp["status"][400] += 1
        exp["conns"] += 1
    for t in threads:
        t.join(30)
    if errors:
        raise AssertionError("; ".join(errors))
    exp["requests"] = sum(exp["status"].values())
    return exp


_fixture = {}


def recorded():
    """One trace of the known load, recorded once and shared by the tests that read it."""
    if "error" in _fixture:
        raise AssertionError("the shared recording failed: " + _fixture["error"])
    if "trace" in _fixture:
        return _fixture
    try:
        ensure_sessiond()
        srv = mkt.Server(conf=SERVER_CONF).start()
        try:
            with Session("load", pids=[srv.pid]) as s:
                time.sleep(0.3)
                exp = load(srv)
                time.sleep(1.5)  # a worker_stats from each worker after the last close
                s.stop()
                _fixture.update(exp)
                _fixture["trace"] = s.out
                _fixture["pid"] = srv.pid
        finally:
            srv.stop(check_fds=False)
        note("recorded %s: %r" % (_fixture["trace"], exp))
    except Exception as e:
        _fixture["error"] = "%s: %s" % (type(e).__name__, e)
        raise
    return _fixture


def gen(hint, *args, channel=None, env_extra=None, events=("monkey:*",)):
    """Run mt_gen under its own session (filtered on its procname); returns (trace, counts)."""
    env = dict(os.environ, MONKEY_TRACE_PROVIDER=PROVIDER)
    env.update(env_extra or {})
    with Session(hint, procname="mt_gen", channel=channel, events=events) as s:
        _, out, _ = run([GEN] + [str(a) for a in args], timeout=600, env=env)
        s.stop()
        counts = {}
        toks = out.split()
        for i in range(0, len(toks) - 1, 2):
            try:
                counts[toks[i]] = float(toks[i + 1])
            except ValueError:
                pass
        counts["stop_output"] = s.stop_output
        return s.out, counts


# ---------------------------------------------------------------------------------------------
# tests

def test_summary_counts_match_the_load():
    f = recorded()
    j = summary_json(f["trace"])
    expect(j["discarded_events"] == 0, "events were discarded: %r" % j["discarded_events"])
    expect(len(j["processes"]) == 1 and j["processes"][0]["vpid"] == f["pid"],
           "processes: %r" % j["processes"])
    r = j["requests"]
    expect(r["end"] == f["requests"] and r["begin"] == f["requests"],
           "requests: trace %r/%r, sent %d" % (r["begin"], r["end"], f["requests"]))
    want = {str(k): v for k, v in f["status"].items() if v}
    expect(r["status_codes"] == want, "status codes %r, sent %r" % (r["status_codes"], want))
    expect(r["status_classes"]["2xx"] == f["status"][200] and
           r["status_classes"]["4xx"] == f["status"][404] + f["status"][400] + f["status"][408],
           "classes %r" % r["status_classes"])
    c = j["connections"]
    expect(c["accepted"] == f["conns"] and c["closed"] == f["conns"],
           "connections accepted %d closed %d, opened %d" % (c["accepted"], c["closed"],
                                                             f["conns"]))
    expect(c["timeouts"] == {"req_incomplete": 1, "keepalive": 1}, "timeouts %r" % c["timeouts"])
    expect(c["close_reasons"].get("timeout") == 2, "close reasons %r" % c["close_reasons"])
    expect(c["requests_per_connection"]["max"] == 30, "requests/conn %r"
           % c["requests_per_connection"])
    expect(j["errors"]["by_site"].get("parse") == 5, "errors %r" % j["errors"])
    ws = [w for w in j["workers"] if w["worker"] >= 0]
    expect(len(ws) == 2, "workers %r" % ws)
    expect(sum(w["requests"] for w in j["workers"]) == f["requests"], "worker requests %r" % ws)
    expect(sum(w["accepted"] for w in ws) == f["conns"], "worker accepts %r" % ws)
    lat = j["latency"]
    expect(lat["count"] == f["requests"], "latency count %r" % lat)
    expect(lat["p50_ns"] <= lat["p90_ns"] <= lat["p99_ns"] <= lat["p99.9_ns"] <= lat["max_ns"],
           "percentiles out of order: %r" % lat)
    # the 408 (its head waited Timeout 2 s from the accept) is the slowest request, its
    # connection the slowest connection; then the slow reader
    top, second = j["slowest_uris"][:2]
    expect(top["uri"] == "/" and top["latency"]["max_ns"] >= 1.9e9, "slowest URI %r" % top)
    expect(lat["max_ns"] == top["latency"]["max_ns"], "overall max is not the 408's")
    expect(second["uri"] == "/big.bin", "second slowest URI %r" % second)
    expect(second["latency"]["max_ns"] > 100e6, "slow reader's request took only %r ns"
           % second["latency"]["max_ns"])
    ranked = sorted(c["slowest"], key=lambda x: -x["slowest_request_ns"])
    expect([x["port"] for x in ranked[:2]] == [f["timeout_port"], f["slow_port"]],
           "connections by their slowest request %r" % ranked[:2])
    expect(ranked[0]["slowest_request_ns"] == lat["max_ns"], "%r" % ranked[0])
    expect(ranked[1]["slowest_request_ns"] == second["latency"]["max_ns"], "%r" % ranked[1])
    ranks = [x["port"] for x in c["slowest"][:2]]
    expect(set(ranks) == {f["slow_port"], f["timeout_port"]}, "slowest two %r" % c["slowest"][:2])
    expect(sum(j["rate"]["requests"]) == f["requests"], "rate series does not add up")


def test_summary_text():
    f = recorded()
    _, out, _ = tool("summary", f["trace"])
    for want in ("Requests", "completed %d" % f["requests"], "p99.9", "Slowest URIs",
                 "/big.bin", "Rate over time", "Connections", "req_incomplete 1", "keepalive 1",
                 "Errors by site", "parse", "Load balance across workers", "imbalance"):
        expect(want in out, "summary text lacks %r:\n%s" % (want, out))
    expect("DISCARDED" not in out, "discard warning without discards")


def text_slowest_conns(out):
    """The conn ids of the text summary's "slowest connections" list, in order."""
    lines = out.splitlines()
    head = [k for k, ln in enumerate(lines) if ln.startswith("  slowest connections")]
    expect(len(head) == 1, "no slowest connections list in the text summary:\n" + out[-3000:])
    ids = []
    for ln in lines[head[0] + 1:]:
        m = re.match(r"^    (?:pid \S+ )?conn (\d+) \(", ln)
        if not m:
            break
        ids.append(int(m.group(1)))
    return ids


def test_summary_text_top_lists_the_connections_json_lists():
    # --top N: the text lists as many slowest connections as --json does, in the same order
    # (default 10, at most 64); the text once stopped at 8 whatever --top said.
    f = recorded()
    for top in (None, 3, 8, 9, 20, 64):
        extra = () if top is None else ("--top", top)
        _, out, _ = tool("summary", *extra, f["trace"])
        ids = text_slowest_conns(out)
        jids = [x["conn_id"] for x in summary_json(f["trace"], extra=extra)
                ["connections"]["slowest"]]
        want = min(10 if top is None else top, f["conns"])
        expect(len(ids) == want and ids == jids,
               "--top %s: the text lists %d connections %r, --json %d %r, expected %d"
               % (top, len(ids), ids, len(jids), jids, want))
    # the cap of 64, on a trace of more connections than that
    trace, _ = gen("top64", "--conns", 200, "--requests", 1)
    for top in (64, 100):
        _, out, _ = tool("summary", "--top", top, trace)
        ids = text_slowest_conns(out)
        jids = [x["conn_id"] for x in summary_json(trace, extra=("--top", top))
                ["connections"]["slowest"]]
        expect(len(ids) == 64 and ids == jids, "--top %d on 200 connections: the text lists %d, "
               "--json %d (the cap is 64)" % (top, len(ids), len(jids)))


def conn_id_of_port(trace, port):
    j = summary_json(trace, extra=("--top", "64"))
    expect(len(j["connections"]["slowest"]) == min(64, j["connections"]["accepted"]),
           "--top 64 lists %d connections" % len(j["connections"]["slowest"]))
    for s in j["connections"]["slowest"]:
        if s["port"] == port:
            return s["conn_id"], s["fd"]
    raise AssertionError("no connection with client port %d among the slowest" % port)


def parse_conn(out):
    ev = []
    for ln in out.splitlines():
        m = re.match(r"^\s+\+(\d+)\.(\d{9})\s+\(\+(\d+)\.(\d{9})\)\s+(\S+)\s+(.*)$", ln)
        if m:
            ev.append((int(m.group(1)) * 10**9 + int(m.group(2)), m.group(5), m.group(6)))
    return ev


def test_conn_follows_the_slow_connection():
    f = recorded()
    cid, fd = conn_id_of_port(f["trace"], f["slow_port"])
    _, out, _ = tool("conn", f["trace"], "--conn-id", cid)
    expect("port %d" % f["slow_port"] in out.splitlines()[0], "header: %s" % out[:300])
    ev = parse_conn(out)
    names = [e[1] for e in ev]
    expect(names[:5] == ["epoll_state", "epoll_state", "scheduler", "scheduler", "conn_accept"],
           "does not start with the accept sequence: %r" % names[:6])
    expect("GET: NOT FOUND" in ev[0][2] and "SET: NEW" in ev[1][2], "accept seeds %r" % ev[:2])
    expect(names[-1] == "scheduler" and "DELETE_CLIENT" in ev[-1][2], "ends with %r" % ev[-1:])
    expect(any(n == "epoll_state" and "DELETE" in t for _, n, t in ev[-4:]), "no DELETE")
    expect(names.count("request_begin") == 1 and names.count("request_end") == 1,
           "requests %r" % names)
    rb = [t for _, n, t in ev if n == "request_begin"][0]
    re_ = [t for _, n, t in ev if n == "request_end"][0]
    expect("GET /big.bin" in rb, rb)
    m = re.search(r"status 200, (\d+) bytes", re_)
    expect(m and mkt.BIG_SIZE < int(m.group(1)) < mkt.BIG_SIZE + 1024, re_)  # + the head
    expect(names.index("request_begin") < names.index("request_end") < names.index("conn_close"),
           "order %r" % names)
    if os.environ.get("MKT_EVENT_LOOP", "epoll") == "epoll":
        # epoll reports every write-space wake-up of the stalled socket (edge-triggered)
        expect(sum(1 for _, n, t in ev if n == "epoll" and "EPOLLOUT" in t) >= 2,
               "the stalled writes (EPOLLOUT) are missing")
    else:
        # io_uring polls for room only after sendfile() said EAGAIN, which the socket's
        # send buffer (autotuned up to 4 MiB) may never make it say for 3 MiB: the
        # request's receive is what is sure to be there.
        expect(any(n == "epoll" and "EPOLLIN" in t for _, n, t in ev),
               "the request's receive (EPOLLIN) is missing")
    times = [t for t, _, _ in ev]
    expect(times == sorted(times) and times[0] == 0, "times not relative and ordered")
    expect(all(("fd %d " % fd) in t for _, n, t in ev if n in ("epoll", "epoll_state",
                                                                "scheduler")),
           "a seed event of another fd was attributed")


def test_conn_by_fd():
    f = recorded()
    cid, fd = conn_id_of_port(f["trace"], f["slow_port"])
    _, out, _ = tool("conn", f["trace"], "--fd", fd)
    blocks = [b for b in out.split("\nconnection ") if b.strip()]
    expect(any(("port %d" % f["slow_port"]) in b.splitlines()[0] for b in blocks),
           "the slow connection is not among the users of fd %d" % fd)
    for b in blocks:
        for _, n, t in parse_conn(b):
            if n in ("epoll", "epoll_state", "scheduler", "conn_accept", "conn_close"):
                expect(("fd %d " % fd) in t or t.endswith("fd %d" % fd), "fd: %s" % t)


def test_conn_timeout_connection():
    f = recorded()
    j = summary_json(f["trace"], extra=("--top", "64"))
    hit = [s for s in j["connections"]["slowest"] if s["port"] == f["timeout_port"]]
    expect(hit, "the timed-out connection is not listed")
    expect(hit[0]["reason"] == "timeout" and hit[0]["requests"] == 1, "%r" % hit[0])
    _, out, _ = tool("conn", f["trace"], "--conn-id", hit[0]["conn_id"], "--pid", f["pid"])
    expect("conn_timeout" in out and "kind req_incomplete" in out, out[-800:])
    expect("TIMEOUT_REQ_INCOMPLETE" in out, "the seed event of the timeout is missing")
    expect("reason timeout" in out, out[-500:])


def test_without_vpid_context_every_command_says_so():
    # docs/monkey-trace.md: without vpid "the tool still works but warns that processes
    # cannot be told apart"; a pid the trace does not hold is shown as "?", not 0.
    ensure_sessiond()
    srv = mkt.Server(conf=SERVER_CONF).start()
    try:
        with Session("novpid", pids=[srv.pid], contexts=("vtid",)) as s:
            time.sleep(0.3)
            c = fresh(srv)
            for _ in range(3):
                expect(get(c, "/") == 200, "GET /")
            port = c.sock.getsockname()[1]
            c.close()
            time.sleep(0.5)
            s.stop()
            trace = s.out
    finally:
        srv.stop(check_fds=False)
    note_re = "note: no vpid context in the trace"
    _, out, _ = tool("summary", trace)
    expect(note_re in out and "pid ?" in out and "pid 0" not in out, out[:1200])
    cid, _ = conn_id_of_port(trace, port)
    _, out, _ = tool("conn", trace, "--conn-id", cid)
    expect(out.startswith("connection %d of pid ? " % cid), out[:300])
    expect(note_re in out, out[-500:])
    _, out, _ = tool("check", trace, check=False)
    expect(note_re in out, out)
    html = os.path.join(mkt.tmpdir("novpid"), "r.html")
    _, _, err = tool("report", trace, "-o", html)
    expect(note_re in err, err)
    j = summary_json(trace)
    expect(j["have_vpid"] is False and j["have_vtid"] is True, "%r" % j["have_vpid"])


def test_empty_uri_and_host_are_empty():
    """A request_begin with an empty URI (a 414) or no Host (HTTP/1.0) right after one with
    both reads empty.  Babeltrace 2.0.4's text output (`lttng view`) prints such a field
    with the previous event's string (docs/tracing.md); the tool, which reads the fields
    through the library, must not."""
    ensure_sessiond()
    srv = mkt.Server(conf={"Workers": "1"}).start()
    try:
        with Session("empty", pids=[srv.pid]) as s:
            time.sleep(0.3)
            ports = []
            for raw in (b"GET /one.txt HTTP/1.1\r\nHost: first.example\r\n\r\n",
                        b"GET /one.txt HTTP/1.0\r\n\r\n",
                        b"GET /one.txt HTTP/1.1\r\nHost: first.example\r\n\r\n",
                        b"GET /" + b"u" * (64 * 1024)):
                c = fresh(srv)
                c.send(raw)
                r = c.recv_response()
                ports.append((c.sock.getsockname()[1], r.status))
                c.close()
            expect([st for _, st in ports] == [200, 200, 200, 414], "statuses %r" % ports)
            time.sleep(0.5)
            s.stop()
            trace = s.out
    finally:
        srv.stop(check_fds=False)
    want = [("/one.txt", "first.example"), ("/one.txt", ""), ("/one.txt", "first.example"),
            ("", "")]
    for (port, _), (uri, host) in zip(ports, want):
        cid, _ = conn_id_of_port(trace, port)
        _, out, _ = tool("conn", trace, "--conn-id", cid)
        begins = [t for _, n, t in parse_conn(out) if n == "request_begin"]
        expect(len(begins) == 1, "request_begin lines of conn %d: %r" % (cid, begins))
        m = re.match(r"^conn \d+ #1 GET (\S*) ?(\S*) host ?(.*)$", begins[0])
        expect(m and (m.group(1), m.group(3)) == (uri, host),
               "conn %d: %r, expected URI %r and host %r" % (cid, begins[0], uri, host))


def test_check_passes_on_the_real_trace():
    f = recorded()
    rc, out, _ = tool("check", f["trace"], check=False)
    expect(rc == 0, "check failed on the server's trace:\n" + out)
    m = re.search(r"judged: (\d+) connections accepted in the trace, (\d+) of their requests, "
                  r"(\d+) fd registrations, (\d+) worker_stats intervals", out)
    expect(m, out)
    expect(int(m.group(1)) == f["conns"] and int(m.group(2)) == f["requests"] and
           int(m.group(3)) == f["conns"], "judged %s" % m.group(0))
    expect(out.count("[ok]") == 5, out)


def test_trace_named_twice_or_through_a_symlink_is_read_once():
    # `T ./T/`, `T T/ust` (a directory below it) and a symlink to T (a `latest` link) name
    # one trace: it is read once, as babeltrace2 does, not counted twice (check would then
    # see every connection accepted twice).
    f = recorded()
    t = f["trace"]
    link = os.path.join(mkt.tmpdir("link"), "latest")
    os.symlink(t, link)
    for args in ([link], [t, "./" + os.path.relpath(t) + "/"], [t, os.path.join(t, "ust")],
                 [t, link]):
        j = summary_json(*args)
        expect(j["trace_dirs"] == 1 and j["requests"]["end"] == f["requests"] and
               j["connections"]["accepted"] == f["conns"],
               "summary %s: %d trace dirs, %d requests, %d connections (sent %d on %d)"
               % (" ".join(args), j["trace_dirs"], j["requests"]["end"],
                  j["connections"]["accepted"], f["requests"], f["conns"]))
        rc, out, _ = tool("check", *args, check=False)
        expect(rc == 0, "check %s:\n%s" % (" ".join(args), out))


def test_check_fails_on_broken_traces():
    good, _ = gen("good", "--conns", 200, "--requests", 3)
    rc, out, _ = tool("check", good, check=False)
    expect(rc == 0, "check failed on mt_gen's unbroken trace:\n" + out)
    cases = {
        "unmatched-begin": ("request_begin has its request_end", "never ended"),
        "after-close": ("after its conn_close", "request_end"),
        "no-delete": ("SET: NEW\" has its \"DELETE\"", "DELETE"),
        "stats": ("worker_stats counters", "requests went up by"),
    }
    for kind, (title, detail) in cases.items():
        trace, _ = gen("brk", "--conns", 200, "--requests", 3, "--break", kind)
        rc, out, _ = tool("check", trace, check=False)
        expect(rc == 1, "--break %s: check exited %d:\n%s" % (kind, rc, out))
        fails = [ln for ln in out.splitlines() if ln.startswith("[FAIL]")]
        expect(len(fails) == 1 and title in fails[0], "--break %s: %r" % (kind, fails))
        expect(detail in out, "--break %s: no %r in\n%s" % (kind, detail, out))


def test_check_judges_only_what_the_trace_holds():
    # A trace started while connections were open and stopped before they closed: keep-alive
    # connections opened before the session, used during it, still open at its end.
    ensure_sessiond()
    srv = mkt.Server(conf=SERVER_CONF).start()
    try:
        early = [fresh(srv) for _ in range(3)]
        for c in early:
            expect(get(c, "/index.html") == 200, "not 200")
        with Session("mid", pids=[srv.pid]) as s:
            time.sleep(0.2)
            for c in early:
                for _ in range(5):
                    expect(get(c, "/one.txt") == 200, "not 200")
            late = fresh(srv)
            late.send(b"GET /index.html HTTP/1.1\r\nHost: x\r\n")  # unfinished at the end
            early[0].close()
            time.sleep(0.3)
            s.stop()
        rc, out, _ = tool("check", s.out, check=False)
        expect(rc == 0, "check judged connections the trace does not hold:\n" + out)
        j = summary_json(s.out)
        expect(j["requests"]["end"] == 15, "requests %r" % j["requests"])
        expect(j["connections"]["closed_accepted_before_trace"] == 1, "%r" % j["connections"])
        late.close()
        for c in early[1:]:
            c.close()
    finally:
        srv.stop(check_fds=False)


def test_report_is_wellformed_xhtml_with_charts():
    f = recorded()
    path = os.path.join(mkt.tmpdir("report"), "report.html")
    tool("report", f["trace"], "-o", path)
    with open(path, "rb") as fh:
        data = fh.read()
    root = ET.fromstring(data)  # raises on anything not well-formed
    expect(root.tag == XHTML + "html", "root element %r" % root.tag)
    svgs = {s.get("id"): s for s in root.iter(SVG + "svg")}
    for want in ("latency-histogram", "rate-per-worker", "status-over-time",
                 "slowest-connections"):
        expect(want in svgs, "chart %s missing (have %r)" % (want, list(svgs)))
    expect(len(list(svgs["latency-histogram"].iter(SVG + "rect"))) >= 3, "empty histogram")
    expect(len(list(svgs["rate-per-worker"].iter(SVG + "polyline"))) == 2,
           "one line per worker expected")
    expect(len(list(svgs["slowest-connections"].iter(SVG + "rect"))) >= 4, "empty timeline")
    for el in root.iter():
        tag = el.tag.split("}")[-1]
        expect(tag not in ("script", "link", "img", "iframe", "object"), "external %s" % tag)
        for k, v in el.attrib.items():
            expect(not (k.split("}")[-1] in ("href", "src") and ":" in v),
                   "external reference %s=%s" % (k, v))
    text = data.decode("utf-8")
    expect("/big.bin" in text and "%d" % f["requests"] in text, "report lacks the figures")
    expect("http://" not in text.replace('xmlns="http://www.w3.org/1999/xhtml"', "")
           .replace('xmlns="http://www.w3.org/2000/svg"', ""), "a URL in the report")


def test_two_servers_one_relayd():
    ensure_sessiond()
    with Relayd() as rd:
        a = mkt.Server(conf=SERVER_CONF).start()
        b = mkt.Server(conf=SERVER_CONF).start()
        try:
            with Session("ra", pids=[a.pid], url=rd.url) as sa, \
                    Session("rb", pids=[b.pid], url=rd.url) as sb:
                time.sleep(0.3)
                ca, cb = fresh(a), fresh(b)
                for i in range(40):
                    expect(get(ca, "/index.html") == 200, "a")
                    if i < 25:
                        expect(get(cb, "/nope") == 404 if i % 5 == 0 else
                               get(cb, "/one.txt") == 200, "b")
                ca.close()
                cb.close()
                time.sleep(1.2)
                sa.stop()
                sb.stop()
        finally:
            a.stop(check_fds=False)
            b.stop(check_fds=False)
    j = summary_json(rd.out)
    procs = {p["vpid"]: p for p in j["processes"]}
    expect(set(procs) == {a.pid, b.pid}, "processes %r, servers %d %d" % (procs, a.pid, b.pid))
    expect(procs[a.pid]["requests"] == 40 and procs[b.pid]["requests"] == 25,
           "per-process requests %r" % procs)
    expect(j["requests"]["status_codes"] == {"200": 60, "404": 5}, "%r" % j["requests"])
    expect(j["trace_dirs"] >= 2, "expected two traces under the relay's output")
    rc, out, _ = tool("check", rd.out, check=False)
    expect(rc == 0, "check on the relay output:\n" + out)
    _, out, _ = tool("summary", "--pid", b.pid, rd.out)
    expect("completed 25 " in out, "--pid filter: " + out[:600])


def test_top_on_a_live_session():
    ensure_sessiond()
    host = socket.gethostname()
    with Relayd() as rd:
        srv = mkt.Server(conf=SERVER_CONF).start()
        top = None
        try:
            with Session("live", pids=[srv.pid], url=rd.url, live_us=100000) as s:
                url = "net://127.0.0.1:%d/host/%s/%s" % (rd.live, host, s.name)
                top = subprocess.Popen([TOOL, "top", url, "--interval", "0.5"],
                                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE)
                time.sleep(1.0)
                # about 200 requests per second for 4 seconds
                c = fresh(srv)
                t0 = time.monotonic()
                sent = 0
                while time.monotonic() - t0 < 4.0:
                    expect(get(c, "/one.txt") == 200, "not 200")
                    sent += 1
                    time.sleep(max(0, t0 + sent / 200.0 - time.monotonic()))
                c.close()
                time.sleep(2.0)
                expect(top.poll() is None, "top ended before the session was destroyed")
                s.destroy()
            try:
                out, err = top.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                top.kill()
                out, err = top.communicate()
                raise AssertionError("top did not end within 30 s of the session's destruction")
        finally:
            if top and top.poll() is None:
                top.kill()
                top.communicate()
            srv.stop(check_fds=False)
    out = out.decode("utf-8", "replace")
    note(out[-3000:])
    expect(top.returncode == 0, "top exited %d: %s" % (top.returncode, err.decode()[-500:]))
    rates = [float(x) for x in re.findall(r"requests/s: ([0-9.]+)", out)]
    expect(rates and max(rates) > 100, "request rate never shown near 200/s: %r" % rates)
    expect(max(rates) < 400, "request rate too high: %r" % rates)
    expect("the live session ended" in out, "no end message:\n" + out[-500:])
    heads = [ln for ln in out.splitlines() if ln.startswith("monkey-trace top ")]
    expect(heads and heads[-1].endswith("[session ended]") and
           not any("[" in h for h in heads[:-1]), "block headers: %r" % heads[-3:])
    m = re.findall(r"total: (\d+) requests", out)
    expect(m and int(m[-1]) == sent, "top counted %s requests, sent %d" % (m[-1:], sent))
    expect(re.search(r"^w[01]\s", out, re.M), "no per-worker line")


def test_top_duration_is_not_the_session_end():
    # --duration S runs out while the session goes on recording: the last block and the last
    # line say so, not "[session ended]" / "the live session ended".
    ensure_sessiond()
    host = socket.gethostname()
    with Relayd() as rd:
        srv = mkt.Server(conf=SERVER_CONF).start()
        top = None
        try:
            with Session("dur", pids=[srv.pid], url=rd.url, live_us=100000) as s:
                url = "net://127.0.0.1:%d/host/%s/%s" % (rd.live, host, s.name)
                top = subprocess.Popen([TOOL, "top", url, "--interval", "0.5", "--duration", "3"],
                                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE)
                t0 = time.monotonic()
                c = fresh(srv)
                while top.poll() is None and time.monotonic() - t0 < 30:
                    expect(get(c, "/one.txt") == 200, "not 200")
                    time.sleep(0.02)
                c.close()
                try:
                    out, err = top.communicate(timeout=30)
                except subprocess.TimeoutExpired:
                    raise AssertionError("top --duration 3 still running after 60 s")
                took = time.monotonic() - t0
                # the session is still there, still recording
                _, listing, _ = s.lttng("list", s.name)
                expect(re.search(r"^Recording session \S+: \[active\]", listing, re.M),
                       "the session is not recording any more:\n" + listing[:500])
                s.destroy()
        finally:
            if top and top.poll() is None:
                top.kill()
                top.communicate()
            srv.stop(check_fds=False)
    out = out.decode("utf-8", "replace")
    note(out[-2000:])
    expect(top.returncode == 0, "top exited %d: %s" % (top.returncode, err.decode()[-500:]))
    expect(2.5 < took < 20, "top --duration 3 ended after %.1f s" % took)
    heads = [ln for ln in out.splitlines() if ln.startswith("monkey-trace top ")]
    expect(heads and heads[-1].endswith("[duration reached]"),
           "last block header %r, expected [duration reached]" % heads[-1:])
    expect("[session ended]" not in out and "the live session ended" not in out,
           "--duration reported as the session's end:\n" + out[-600:])
    last = out.rstrip("\n").splitlines()[-1]
    expect("--duration 3" in last, "last line %r" % last)


def test_discarded_events_are_reported_loudly():
    trace, counts = gen("disc", "--workers", 2, "--conns", 20000, "--requests", 5,
                        channel=["--subbuf-size=4096", "--num-subbuf=2"])
    rc, out, err = tool("summary", trace)
    m = re.search(r"THE TRACER DISCARDED (\d+) EVENTS", out)
    expect(m and int(m.group(1)) > 0, "no discard warning:\n" + out[:1500])
    expect("WARNING" in err, "no warning on stderr")
    n = int(m.group(1))
    total = n + summary_json(trace)["monkey_events"]
    expect(total == counts["events"], "discarded %d + read %d != fired %d"
           % (n, total - n, counts["events"]))
    rc, out, _ = tool("check", trace, check=False)
    expect(rc == 1 and "[FAIL] the trace is complete" in out, "check: %d\n%s" % (rc, out))


def test_lost_packets_are_reported_loudly():
    # A channel in overwrite mode (--overwrite, as in snapshot sessions) loses whole packets:
    # babeltrace2 reports them as discarded packets, not discarded events.  The trace is just
    # as incomplete: summary warns, check fails "the trace is complete" and says so.
    trace, counts = gen("lost", "--workers", 2, "--conns", 20000, "--requests", 3,
                        channel=["--overwrite", "--subbuf-size=4096", "--num-subbuf=2"])
    m = re.search(r"(\d+) packets were lost", counts["stop_output"])
    if not m:
        raise mkt.Skip("the consumer kept up: no packet lost (%r)" % counts["stop_output"][-200:])
    lost = int(m.group(1))
    rc, out, err = tool("summary", trace)
    expect("THE TRACER DISCARDED" in out and "%d PACKETS WERE LOST" % lost in out,
           "no warning for %d lost packets:\n%s" % (lost, out[:1500]))
    expect("WARNING" in err, "no warning on stderr")
    j = summary_json(trace)
    expect(j["discarded_packets"] == lost and j["discarded_gaps"] > 0,
           "json: packets %r gaps %r, lttng lost %d" % (j.get("discarded_packets"),
                                                       j["discarded_gaps"], lost))
    rc, out, _ = tool("check", trace, check=False)
    expect(rc == 1 and "[FAIL] the trace is complete" in out and
           "(%d packets lost)" % lost in out, "check: %d\n%s" % (rc, out[:1500]))


def test_benchmark_summary():
    n_events = int(os.environ.get("MT_BENCH_EVENTS", "5000000"))
    min_rate = float(os.environ.get("MT_BENCH_MIN", "1.0"))
    conns = max(1, n_events // (2 * 84))  # 84 events per connection of 10 requests
    blocking = ["--blocking-timeout=inf", "--subbuf-size=4M", "--num-subbuf=8"]
    env = {"LTTNG_UST_ALLOW_BLOCKING": "1"}  # a benchmark generator, never a server
    small, sc = gen("bench1", "--workers", 2, "--conns", max(1, conns // 5), "--requests", 10,
                    channel=blocking, env_extra=env)
    big, bc = gen("bench5", "--workers", 2, "--conns", conns, "--requests", 10,
                  channel=blocking, env_extra=env)
    results = []
    for trace, c in ((small, sc), (big, bc)):
        j, cpu, wall, rss = measure([TOOL, "summary", "--json", trace], parse=True)
        _, _, _, bt_rss = measure(["babeltrace2", trace, "-o", "dummy"])
        expect(j["discarded_events"] == 0, "discards in the benchmark trace")
        expect(j["events"] == c["events"], "read %d events, fired %d" % (j["events"], c["events"]))
        expect(j["requests"]["end"] == c["requests"], "requests")
        expect(j["requests"]["status_codes"] == {"200": c["status200"],
                                                 "404": c["status404"], "500": c["status500"]},
               "statuses %r" % j["requests"]["status_codes"])
        results.append((j["events"], j["events"] / cpu / 1e6, j["events"] / wall / 1e6, rss,
                        bt_rss))
    for ev, rate, wrate, rss, bt in results:
        print("    benchmark: summary of %d events: %.2f M events/s per CPU second (%.2f M/s "
              "wall clock); max RSS %.1f MiB (babeltrace2 -o dummy alone: %.1f MiB)"
              % (ev, rate, wrate, rss / 1024.0, bt / 1024.0), flush=True)
    expect(results[1][1] >= min_rate, "summary at %.2f M events/s, below %.1f"
           % (results[1][1], min_rate))
    # Our own memory (over what libbabeltrace2 needs to read the same trace) stays flat.
    own_small, own_big = results[0][3] - results[0][4], results[1][3] - results[1][4]
    expect(own_big < own_small + 4096 and own_big < 16 * 1024,
           "memory grows with the events: %d KiB over babeltrace2 for %d events, %d KiB for %d"
           % (own_small, results[0][0], own_big, results[1][0]))


def measure(argv, parse=False):
    """Run argv under /usr/bin/time: (parsed JSON stdout, CPU seconds, wall, max RSS KiB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-f", "%M"] + argv, capture_output=True, timeout=900)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    expect(p.returncode == 0, "%s: %s" % (argv[0], p.stderr.decode()[-500:]))
    rss = int(p.stderr.decode().strip().splitlines()[-1])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return (json.loads(p.stdout) if parse else None), cpu, wall, rss


def test_make_installs_the_tool():
    rc, out, err = run(["make", "-n", "install", "DESTDIR=/nonexistent"], timeout=120,
                       check=False)
    expect("install -m 755 tools/monkey-trace/monkey-trace" in out and
           "/bin/monkey-trace" in out, "make install does not install monkey-trace:\n" + out[-800:])
    rc, out, err = run(["make", "-n", "all"], timeout=120, check=False)
    expect(os.access(TOOL, os.X_OK), "tools/monkey-trace/monkey-trace not built by make")


def test_usage_errors():
    rc, _, err = run([TOOL], check=False)
    expect(rc == 2 and "Usage" in err, "no usage: %d %s" % (rc, err))
    rc, _, err = run([TOOL, "summary", "/nonexistent-trace"], check=False)
    expect(rc == 2 and "nonexistent" in err, "missing trace: %d %s" % (rc, err))
    empty = mkt.tmpdir("empty")
    rc, _, err = run([TOOL, "check", empty], check=False)
    expect(rc == 2 and "no CTF trace" in err, "empty dir: %d %s" % (rc, err))
    rc, _, err = run([TOOL, "conn", empty], check=False)
    expect(rc == 2, "conn without --conn-id: %d" % rc)


def test_bad_numbers_are_usage_errors():
    # Every numeric option is checked: a typo is a usage error (exit 2), not a silent default
    # (`--top abc` used to mean --top 1, `--pid=` pid 0).
    f = recorded()
    for opt in (["--top", "abc"], ["--top", "5x"], ["--pid="], ["--pid", ""], ["--host", "x",
                "--pid", "12a"]):
        rc, out, err = run([TOOL, "summary"] + opt + [f["trace"]], check=False)
        expect(rc == 2 and "bad number" in err,
               "summary %s: exit %d, %s" % (" ".join(opt), rc, (err or out)[:300]))
    j = summary_json(f["trace"], extra=("--top", "3"))
    expect(len(j["slowest_uris"]) == 3, "--top 3: %d URIs" % len(j["slowest_uris"]))


def test_filters_that_match_nothing_say_so():
    # --pid/--host that select nothing: the trace has monkey:* events, none of them match.
    # The tool once said "no monkey:* events in the trace (was the server traced?)".
    trace, _ = gen("nomatch", "--conns", 20, "--requests", 2)
    pid = summary_json(trace)["processes"][0]["vpid"]
    other = pid + 1 if pid + 1 < 4194304 else 1
    for flt in (["--pid", other], ["--host", "no-such-host"]):
        for cmd in ("summary", "check"):
            rc, out, _ = tool(cmd, *flt, trace, check=False)
            expect("was the server traced" not in out and
                   "no monkey:* event matches %s %s" % tuple(flt) in out,
                   "%s %s: %s" % (cmd, flt, out[-800:]))
            expect(rc == (1 if cmd == "check" else 0), "%s %s exited %d" % (cmd, flt, rc))
        j = summary_json(trace, extra=flt)
        expect(j["monkey_events"] == 0 and j["filtered_out_events"] > 0, "%r" % j)
    _, out, _ = tool("summary", "--pid", pid, trace)
    expect("filters: --pid %d (0 monkey:* events" % pid in out, out[:600])


def test_discards_under_filters():
    # A discarded-events message is per ring buffer.  --host: the buffers of another host's
    # trace hold none of the selected events: their discards are not counted (a note says so);
    # --pid on per-user buffers (shared by every process): counted, and the banner says how
    # many of those gaps are in shared buffers.
    trace, _ = gen("discflt", "--workers", 2, "--conns", 20000, "--requests", 5,
                   channel=["--subbuf-size=4096", "--num-subbuf=2"])
    j = summary_json(trace)
    if not j["discarded_gaps"]:
        raise mkt.Skip("nothing was discarded")
    pid = j["processes"][0]["vpid"]
    rc, out, _ = tool("summary", "--host", "no-such-host", trace)
    expect("DISCARDED" not in out, "discards of another host counted:\n" + out[:1500])
    expect("not counted here" in out, "no note of the discards left out:\n" + out[:1500])
    jh = summary_json(trace, extra=("--host", "no-such-host"))
    expect(jh["discarded_events"] == 0 and jh["discarded_excluded_events"] ==
           j["discarded_events"] and jh["discarded_excluded_gaps"] == j["discarded_gaps"],
           "json --host: %r" % {k: v for k, v in jh.items() if k.startswith("discarded")})
    rc, out, _ = tool("check", "--host", "no-such-host", trace, check=False)
    expect("[FAIL] the trace is complete" not in out, out[:1500])
    rc, out, _ = tool("summary", "--pid", pid, trace)
    expect("THE TRACER DISCARDED" in out and "buffers shared by every traced process" in out,
           "--pid on per-user buffers:\n" + out[:1500])
    jp = summary_json(trace, extra=("--pid", pid))
    expect(jp["discarded_events"] == j["discarded_events"] and
           jp["discarded_shared_gaps"] == j["discarded_gaps"], "json --pid: %r" % jp)


def test_conn_id_0_is_no_connection():
    # Refusals over MaxConnections are `error` events with conn_id 0 (no connection):
    # `conn --conn-id 0` printed them as "connection 0", a connection that never was.
    ensure_sessiond()
    conf = dict(SERVER_CONF, Workers="1", MaxConnections="2", KeepAliveTimeout="30",
                Timeout="30")
    srv = mkt.Server(conf=conf).start()
    try:
        with Session("refuse", pids=[srv.pid]) as s:
            time.sleep(0.3)
            busy = []
            for _ in range(2):
                c = fresh(srv)
                c.send(b"GET /one.txt HTTP/1.1\r\n")
                busy.append(c)
            time.sleep(0.3)
            for _ in range(2):
                c = fresh(srv)
                c.send(mkt.req("GET", "/one.txt"))
                expect(c.recv_response(timeout=10).status == 503, "not refused")
                c.close()
            for c in busy:
                expect(c.request(b"Host: localhost\r\n\r\n").status == 200, "not 200")
                c.close()
            time.sleep(0.5)
            s.stop()
            trace = s.out
    finally:
        srv.stop(check_fds=False)
    j = summary_json(trace)
    expect(j["errors"]["by_site"].get("limit") == 2, "refusals: %r" % j["errors"])
    rc, out, err = tool("conn", trace, "--conn-id", 0, check=False)
    expect(rc == 1 and "connection 0" not in out and "no connection with conn_id 0" in err,
           "conn --conn-id 0: exit %d\n%s%s" % (rc, out[:800], err[:300]))


def test_sessions_with_some_events_only():
    # A session that enabled only some monkey events (`lttng enable-event -u 'monkey:conn_*'`):
    # check once compared conn_close.requests with the request_end events it did not record
    # (a false FAIL per connection), and paired request_begin with request_end events that
    # were not recorded; summary said "no request completed" of connections with requests.
    for events, skip in ((["monkey:conn_*"], "monkey:request_begin was not recorded"),
                         (["monkey:conn_*", "monkey:request_begin"],
                          "monkey:request_end was not recorded"),
                         (["monkey:conn_*", "monkey:request_end", "monkey:epoll*",
                           "monkey:scheduler", "monkey:worker_stats"],
                          "monkey:request_begin was not recorded")):
        trace, counts = gen("some", "--conns", 20, "--requests", 3, events=events)
        rc, out, _ = tool("check", trace, check=False)
        expect(rc == 0 and "[FAIL]" not in out and "result: OK" in out,
               "check on a %s session: exit %d\n%s" % (",".join(events), rc, out[:1500]))
        expect(re.search(r"\[skip\] every request_begin has its request_end .*%s" % skip, out),
               "no [skip] (%s):\n%s" % (skip, out[:1500]))
        expect("[ok]   no event for a connection after its conn_close" in out, out[:1500])
        j = summary_json(trace)
        expect(j["connections"]["accepted"] == counts["conns"], "%r" % j["connections"])
        _, out, _ = tool("summary", trace)
        if "monkey:request_end" not in events:
            expect("no request completed" not in out and "request_end not recorded" in out,
                   "summary of a %s session:\n%s" % (",".join(events), out))
    # only request_end: nothing names the connections' accept or close, nor their fd
    trace, _ = gen("endonly", "--conns", 10, "--requests", 2, events=["monkey:request_end"])
    rc, out, _ = tool("check", trace, check=False)
    expect(rc == 0 and "[skip] no event for a connection after its conn_close "
           "(monkey:conn_accept was not recorded)" in out, "exit %d\n%s" % (rc, out[:1500]))
    rc, out, _ = tool("conn", trace, "--conn-id", 1, check=False)
    expect(rc == 0 and "fd -1" not in out and "(fd unknown" in out, out[:600])


def test_slowest_connection_names_its_slowest_request():
    # A keep-alive connection whose slow request (/big.bin, read slowly) is followed by a
    # fast one: its line in "slowest connections" named the URI of the last request begun
    # (/hello.txt) next to the slow request's time.
    ensure_sessiond()
    srv = mkt.Server(conf=SERVER_CONF).start()
    try:
        with Session("slowuri", pids=[srv.pid]) as s:
            time.sleep(0.3)
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.settimeout(10)
            sock.connect(("127.0.0.1", srv.port))
            port = sock.getsockname()[1]
            buf = b""
            for path, size in (("/big.bin", mkt.BIG_SIZE), ("/hello.txt", 13)):
                sock.sendall(mkt.req("GET", path))
                if path == "/big.bin":
                    time.sleep(0.3)  # the response stalls in the socket buffers
                deadline = time.monotonic() + 20
                while b"\r\n\r\n" not in buf or \
                        len(buf) < buf.index(b"\r\n\r\n") + 4 + size:
                    expect(time.monotonic() < deadline, "%s: no full response" % path)
                    data = sock.recv(65536)
                    expect(data, "%s: connection closed" % path)
                    buf += data
                expect(buf.startswith(b"HTTP/1.1 200"), "%s: %r" % (path, buf[:40]))
                buf = buf[buf.index(b"\r\n\r\n") + 4 + size:]
            sock.close()
            time.sleep(0.5)
            s.stop()
            trace = s.out
    finally:
        srv.stop(check_fds=False)
    j = summary_json(trace)
    mine = [c for c in j["connections"]["slowest"] if c["port"] == port]
    expect(len(mine) == 1 and mine[0]["requests"] == 2, "connections %r" % j["connections"])
    expect(mine[0]["slowest_uri"] == "/big.bin" and mine[0]["slowest_request_ns"] > 100e6,
           "the slow connection: %r" % mine[0])
    _, out, _ = tool("summary", trace)
    line = [ln for ln in out.splitlines() if "port %d)" % port in ln]
    expect(len(line) == 1 and re.search(r"slowest \S+ /big\.bin,", line[0]),
           "summary: %r" % line)


def test_empty_session_and_no_trace():
    # A session that recorded no event (here: only conn_timeout enabled, which mt_gen never
    # fires; the application registered, so the trace exists): every command says so; the
    # contexts are in the trace's metadata even without an event, so no command may claim
    # "no vpid context".  A directory without a trace is a read error (exit status 2).
    trace, _ = gen("empty", "--conns", 2, "--requests", 1, events=["monkey:conn_timeout"])
    rc, out, err = tool("summary", trace)
    expect("no monkey:* events in the trace" in out, out)
    j = summary_json(trace)
    expect(j["events"] == 0 and j["monkey_events"] == 0 and j["processes"] == [] and
           j["have_vpid"] and j["have_vtid"], "%r" % j)
    rc, out, err = tool("check", trace, check=False)
    expect(rc == 1 and "nothing was verified" in out and "no vpid context" not in out,
           "check: exit %d\n%s" % (rc, out))
    html = os.path.join(mkt.tmpdir("mt"), "empty.html")
    rc, out, err = tool("report", trace, "-o", html)
    expect("no vpid context" not in out + err, out + err)
    ET.parse(html)
    rc, out, err = tool("conn", trace, "--conn-id", 1, check=False)
    expect(rc == 1 and "no connection with conn_id 1" in err, "conn: exit %d %s" % (rc, err))
    empty_dir = mkt.tmpdir("mt")
    for cmd in ("summary", "check"):
        rc, out, err = tool(cmd, empty_dir, check=False)
        expect(rc == 2 and "no CTF trace here" in err, "%s: exit %d %s" % (cmd, rc, err))


def test_gen_conn_ids_start_at_1():
    # The server numbers its connections from 1 (conn_id 0 is no connection: a refusal's
    # error event); mt_gen numbered them from 0, so its traces held a connection the server
    # never makes (`conn --conn-id 0` showed it).  Every generated connection is judged.
    trace, counts = gen("ids", "--workers", 2, "--conns", 10, "--requests", 2)
    expect(counts["conns"] == 20, "mt_gen: %r" % counts)
    _, out, _ = tool("check", trace)
    m = re.search(r"judged: (\d+) connections accepted in the trace, (\d+) of their requests",
                  out)
    expect(m and (int(m.group(1)), int(m.group(2))) == (20, 40), "check:\n" + out[:1500])
    rc, _, err = tool("conn", trace, "--conn-id", 0, check=False)
    expect(rc == 1 and "no connection with conn_id 0" in err, "conn --conn-id 0: %d %s"
           % (rc, err))
    _, out, _ = tool("conn", trace, "--conn-id", 20)
    expect("conn_accept" in out and "conn_close" in out, "conn --conn-id 20:\n" + out[:800])


def test_check_of_an_empty_trace_says_ok_of_nothing():
    # Nothing recorded: check printed "[ok] the trace is complete" before "result: FAIL
    # (nothing was verified)"; no row may say ok when nothing was verified.
    trace, _ = gen("emptyck", "--conns", 2, "--requests", 1, events=["monkey:conn_timeout"])
    rc, out, _ = tool("check", trace, check=False)
    expect(rc == 1 and "nothing was verified" in out and "[ok]" not in out,
           "check of an empty trace: exit %d\n%s" % (rc, out))
    trace, _ = gen("emptyflt", "--conns", 2, "--requests", 1)
    rc, out, _ = tool("check", "--pid", 1, trace, check=False)
    expect(rc == 1 and "nothing was verified" in out and "[ok]" not in out,
           "check --pid 1: exit %d\n%s" % (rc, out))


def test_headers_say_what_the_filters_matched():
    # Under --pid/--host the headers said "N events (0 monkey)", as if the trace held no
    # monkey:* event: they say how many of the trace's monkey:* events the filters match.
    trace, _ = gen("hdr", "--conns", 5, "--requests", 2)
    j = summary_json(trace)
    pid, total = j["processes"][0]["vpid"], j["monkey_events"]
    other = pid + 1 if pid + 1 < 4194304 else 1
    html = os.path.join(mkt.tmpdir("mt"), "hdr.html")
    for flt, n in ((["--pid", other], 0), (["--host", "no-such-host"], 0), (["--pid", pid], total)):
        want = "events (%d of the %d monkey:* events match %s %s)" % (n, total, flt[0], flt[1])
        for cmd in ("summary", "check"):
            _, out, _ = tool(cmd, *flt, trace, check=False)
            expect(want in out.splitlines()[0], "%s %s:\n%s" % (cmd, flt, out[:600]))
        tool("report", *flt, trace, "-o", html)
        with open(html) as f:
            text = f.read()
        expect(want in text, "report %s: no %r" % (flt, want))
    _, out, _ = tool("summary", trace)
    expect(" events (%d monkey)" % total in out.splitlines()[0], out[:300])


def test_peak_rate_of_a_sub_second_trace():
    # A trace shorter than a second has no whole second: its "peak" was its average scaled
    # up to a second.  Now: no peak (JSON null); a longer trace's peak is a whole second's.
    trace, _ = gen("short", "--conns", 20, "--requests", 3)
    j = summary_json(trace)
    if j["duration_s"] >= 1:
        raise mkt.Skip("mt_gen's trace lasted %.3f s" % j["duration_s"])
    expect(j["requests"]["rate_peak"] is None, "rate_peak %r" % j["requests"]["rate_peak"])
    _, out, _ = tool("summary", trace)
    expect("no peak (the trace is shorter than a second)" in out, out[:1200])


TESTS = [
    test_usage_errors,
    test_bad_numbers_are_usage_errors,
    test_filters_that_match_nothing_say_so,
    test_discards_under_filters,
    test_conn_id_0_is_no_connection,
    test_sessions_with_some_events_only,
    test_slowest_connection_names_its_slowest_request,
    test_empty_session_and_no_trace,
    test_gen_conn_ids_start_at_1,
    test_check_of_an_empty_trace_says_ok_of_nothing,
    test_headers_say_what_the_filters_matched,
    test_peak_rate_of_a_sub_second_trace,
    test_make_installs_the_tool,
    test_summary_counts_match_the_load,
    test_summary_text,
    test_summary_text_top_lists_the_connections_json_lists,
    test_conn_follows_the_slow_connection,
    test_conn_by_fd,
    test_conn_timeout_connection,
    test_without_vpid_context_every_command_says_so,
    test_empty_uri_and_host_are_empty,
    test_check_passes_on_the_real_trace,
    test_trace_named_twice_or_through_a_symlink_is_read_once,
    test_check_fails_on_broken_traces,
    test_check_judges_only_what_the_trace_holds,
    test_report_is_wellformed_xhtml_with_charts,
    test_two_servers_one_relayd,
    test_top_on_a_live_session,
    test_top_duration_is_not_the_session_end,
    test_discarded_events_are_reported_loudly,
    test_lost_packets_are_reported_loudly,
    test_benchmark_summary,
]


def main():
    global VERBOSE
    ap = argparse.ArgumentParser()
    ap.add_argument("-k", action="append", default=[])
    ap.add_argument("-v", action="store_true")
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args()
    VERBOSE = a.v
    tests = [t for t in TESTS if not a.k or any(k in t.__name__ for k in a.k)]
    if a.list:
        for t in tests:
            print(t.__name__[5:])
        return 0
    missing = [p for p in (TOOL, GEN, PROVIDER, mkt.MONKEY_BIN) if not os.access(p, os.R_OK)]
    if missing:
        for t in tests:
            print("FAIL %s: missing %s (a traced build: ./configure --linux-trace && make "
                  "check-tools)" % (t.__name__[5:], ", ".join(missing)))
        print("0 passed, %d failed" % len(tests))
        return 1
    passed = failed = 0
    try:
        for t in tests:
            name = t.__name__[5:]
            t0 = time.monotonic()
            try:
                t()
            except mkt.Skip as e:
                print("SKIP %s: %s" % (name, e), flush=True)
                continue
            except Exception as e:  # noqa: BLE001
                failed += 1
                why = str(e) or type(e).__name__
                print("FAIL %s: %s" % (name, why), flush=True)
                if VERBOSE and not isinstance(e, AssertionError):
                    traceback.print_exc()
                continue
            passed += 1
            print("PASS %s (%.1f s)" % (name, time.monotonic() - t0), flush=True)
    finally:
        mkt.cleanup()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""LTTng-UST tests for Monkey: the real session daemon, lttng and babeltrace2, the real server.

    /usr/bin/python3 tests/trace/run.py [-k SUBSTRING]... [-v] [--list]

Needs a traced build (./configure --linux-trace && make; `make check-trace` builds and runs
this).  Prints "PASS name" or "FAIL name: why" per test, then "N passed, M failed"; exit
status 1 when a test failed.

Every test records into its own session (unique name, its own --output directory), destroyed
afterwards even when the test fails.  The session daemon is shared: started when `lttng list`
fails, never stopped (as root only one can run on the machine).  Other processes of the same
user may be traced at the same moment (other test suites), so every check keeps only the
events whose vpid context is the server's pid.

Environment given to the servers started here (documented in docs/tracing.md):
  LTTNG_UST_WITHOUT_BADDR_STATEDUMP=1  no lttng_ust_statedump:bin_info events per process
  LTTNG_UST_REGISTER_TIMEOUT=5000      start-up waits (at most 5 s, only when a session
                                       daemon exists) until the process is registered, so a
                                       session started after the server is up sees it at once
"""

import argparse
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

import mkt  # noqa: E402  (tests/integration/mkt.py: configs, ports, server start/stop)

MONKEY = mkt.MONKEY_BIN
PROVIDER = os.path.join(REPO, "build", "monkey-trace-provider.so")
SMOKE = os.path.join(REPO, "build", "tests", "trace", "tp_smoke")
ENUMS_H = os.path.join(REPO, "src", "trace", "mk_trace_enums.h")

os.environ["LTTNG_UST_WITHOUT_BADDR_STATEDUMP"] = "1"
os.environ["LTTNG_UST_REGISTER_TIMEOUT"] = "5000"
os.environ.pop("MONKEY_TRACE_PROVIDER", None)

USER_ENV, USER_LTTNGRC = mkt.private_lttng_home()

SEED = ("epoll", "epoll_state", "scheduler")
OPERATOR = ("conn_accept", "conn_close", "conn_timeout", "request_begin", "request_end",
            "error", "worker_stats")
DEBUG_ONLY = ("request_header",)
LEVELS = dict([(e, 13) for e in SEED] + [(e, 6) for e in OPERATOR] + [("request_header", 14)])

VERBOSE = False


def note(msg):
    if VERBOSE:
        print("    " + msg.replace("\n", "\n    "), flush=True)


# ---------------------------------------------------------------------------------------------
# running commands

def run(argv, timeout=30, check=True, env=None):
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
                       env=env)
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    if check and p.returncode != 0:
        raise AssertionError("`%s` exited %d: %s" % (" ".join(argv), p.returncode,
                                                      (err or out).strip()[:500]))
    return p.returncode, out, err


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


# ---------------------------------------------------------------------------------------------
# sessions

_serial = [0]


class Session:
    """One recording session: `with Session("name") as s: ...; s.stop(); s.events()`."""

    def __init__(self, hint, loglevel=None, events="-a", snapshot=False, filter=None):
        _serial[0] += 1
        self.name = "mkt-%s-%d-%d" % (hint, os.getpid(), _serial[0])
        self.out = os.path.join(mkt.tmpdir("lttng"), "trace")
        self.loglevel = loglevel
        self.events = events
        self.snapshot = snapshot
        self.filter = filter
        self.created = False
        self.stop_output = ""

    def lttng(self, *args, timeout=30):
        return run(["lttng"] + list(args), timeout=timeout)

    def create(self, start=True):
        if self.snapshot:
            self.lttng("create", self.name, "--snapshot", "--output=" + self.out)
        else:
            self.lttng("create", self.name, "--output=" + self.out)
        self.created = True
        ev = ["enable-event", "-u", "-s", self.name]
        ev += ["-a"] if self.events == "-a" else [self.events]
        if self.loglevel:
            ev.append("--loglevel=" + self.loglevel)
        if self.filter:
            ev.append("--filter=" + self.filter)
        self.lttng(*ev)
        self.lttng("add-context", "-u", "-s", self.name, "-t", "vpid", "-t", "vtid")
        if start:
            self.start()
        return self

    def start(self):
        self.lttng("start", self.name)

    def stop(self):
        _, out, err = self.lttng("stop", self.name, timeout=60)
        self.stop_output = out + err
        return self

    def destroy(self):
        if self.created:
            self.created = False
            run(["lttng", "destroy", self.name], check=False, timeout=60)

    def view(self):
        """`lttng view` text of the whole session (the spec's command)."""
        _, out, err = self.lttng("view", self.name, timeout=120)
        return out, err

    def read(self):
        """Events from babeltrace2 on the output directory, and its warnings."""
        _, out, err = run(["babeltrace2", self.out], timeout=120)
        return parse(out), err

    def discarded(self, bt_err=""):
        """Events lost: `lttng stop` warns with a total, babeltrace2 with one line per gap."""
        m = re.search(r"(\d+) events? (?:were|was) discarded", self.stop_output)
        stop_n = int(m.group(1)) if m else 0
        bt_n = sum(int(x) for x in re.findall(r"[Dd]iscarded (\d+) events?", bt_err))
        return max(stop_n, bt_n)

    def __enter__(self):
        return self.create()

    def __exit__(self, *exc):
        self.destroy()
        return False


# ---------------------------------------------------------------------------------------------
# babeltrace2 text output

LINE = re.compile(r"^\[([0-9:.]+)\] \(\S+\) (\S+) ([\w.]+):(\w+): (.*)$")
FIELD = re.compile(r'(\w+) = ("(?:[^"\\]|\\.)*"|\( (?:"(?:[^"\\]|\\.)*"|<unknown>) : '
                   r'container = -?\d+ \)|[^,}\s]+)')
ENUM = re.compile(r'^\( (?:"((?:[^"\\]|\\.)*)"|<unknown>) : container = (-?\d+) \)$')


class Event:
    __slots__ = ("time", "provider", "name", "fields", "raw")

    def __init__(self, time_s, provider, name, fields, raw):
        self.time, self.provider, self.name, self.fields, self.raw = (time_s, provider, name,
                                                                      fields, raw)

    def __getitem__(self, k):
        return self.fields[k]

    def get(self, k, d=None):
        return self.fields.get(k, d)

    def __repr__(self):
        return self.raw


def value(text):
    if text.startswith('"'):
        return bytes(text[1:-1], "utf-8").decode("unicode_escape")
    m = ENUM.match(text)
    if m:
        return (m.group(1) if m.group(1) is not None else None, int(m.group(2)))
    try:
        return int(text)
    except ValueError:
        return text


def parse(text):
    out = []
    for ln in text.splitlines():
        m = LINE.match(ln)
        if not m:
            continue
        fields = {k: value(v) for k, v in FIELD.findall(m.group(5))}
        # Babeltrace 2.0.4 (Debian 12) prints a text sequence of length 0 with the previous
        # event's string (fixed upstream, review.lttng.org 4528): the length is the truth.
        for k in list(fields):
            if k.startswith("_") and k.endswith("_length") and fields[k] == 0:
                if k[1:-7] in fields:
                    fields[k[1:-7]] = ""
        out.append(Event(m.group(1), m.group(3), m.group(4), fields, ln))
    return out


def of_pid(events, pid):
    return [e for e in events if e.provider == "monkey" and e.get("vpid") == pid]


def seed_text(e):
    return "%s %s" % (e.name, e.get("event"))


# ---------------------------------------------------------------------------------------------
# servers and requests

def server(conf=None, args=None):
    return mkt.Server(conf=conf, args=args)


def curl_head(port):
    _, out, _ = run(["curl", "-sS", "--head", "http://127.0.0.1:%d/" % port], timeout=20)
    first = out.splitlines()[0] if out else ""
    if not first.startswith("HTTP/1.1 200"):
        raise AssertionError("curl --head: %r" % out[:200])
    return out


def requests(port, n, per_conn=5, path="/index.html", headers=None):
    """n GET requests over keep-alive connections of per_conn requests; returns statuses."""
    statuses = []
    while len(statuses) < n:
        c = mkt.Client(port)
        try:
            for _ in range(min(per_conn, n - len(statuses))):
                r = c.request(mkt.req("GET", path, headers=headers))
                statuses.append(r.status_line)
        finally:
            c.close()
    return statuses


def wait_until(cond, timeout, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return cond()


def subsequence(items, wanted):
    """Index of each wanted item matched in order in items, or the first one missing."""
    pos, at = [], 0
    for w in wanted:
        while at < len(items) and items[at] != w:
            at += 1
        if at == len(items):
            return pos, w
        pos.append(at)
        at += 1
    return pos, None


# ---------------------------------------------------------------------------------------------
# the tests

def test_provider_smoke():
    """tp_smoke fires every event and every enum label; compare with the catalogue."""
    for f in (SMOKE, PROVIDER):
        if not os.access(f, os.R_OK):
            raise AssertionError("%s is missing (make trace-smoke)" % f)
    with Session("smoke") as s:
        env = dict(os.environ, MONKEY_TRACE_PROVIDER=PROVIDER)
        _, out, err = run([SMOKE], env=env, timeout=30)
        s.stop()
        events, bt_err = s.read()
    if "provider loaded" not in out + err:
        raise AssertionError("tp_smoke did not log the provider load: %r" % (out + err))
    ev = [e for e in events if e.provider == "monkey"]
    names = {e.name for e in ev}
    missing = set(LEVELS) - names
    if missing:
        raise AssertionError("events never recorded: %s" % sorted(missing))
    by = {}
    for e in ev:
        by.setdefault(e.name, []).append(e)
    expect_fields = {
        "epoll": ["fd", "event"],
        "conn_accept": ["conn_id", "fd", "worker", "peer", "port"],
        "conn_close": ["conn_id", "fd", "reason", "requests", "bytes_in", "bytes_out",
                       "lifetime_ns"],
        "conn_timeout": ["conn_id", "fd", "kind"],
        "request_begin": ["conn_id", "req_seq", "method", "protocol", "_uri_length", "uri",
                          "_host_length", "host"],
        "request_end": ["conn_id", "req_seq", "status", "bytes_sent", "duration_ns",
                        "keepalive"],
        "request_header": ["conn_id", "req_seq", "_name_length", "name", "_value_length",
                           "value"],
        "error": ["conn_id", "site", "errno", "status"],
        "worker_stats": ["worker", "active", "accepted", "closed", "requests"],
    }
    ctx = {"cpu_id", "vpid", "vtid"}
    for name, fields in expect_fields.items():
        got = [k for k in by[name][0].fields if k not in ctx]
        if got != fields:
            raise AssertionError("%s fields %s, expected %s" % (name, got, fields))
    rb = by["request_begin"][0]
    if (rb["uri"], rb["host"], rb["method"], rb["protocol"]) != (
            "/index.html", "localhost", ("HEAD", 2), ("HTTP/1.1", 2)):
        raise AssertionError("request_begin recorded wrongly: %r" % rb)
    empty = by["request_begin"][1]
    if (empty["uri"], empty["host"], empty["_uri_length"]) != ("", "", 0):
        raise AssertionError("NULL uri not recorded as empty: %r" % empty)
    longv = [e for e in by["request_header"] if e["name"] == "X-Long"][0]
    if longv["_value_length"] != 4096 or len(longv["value"]) != 4096:
        raise AssertionError("long header value not cut to 4096 bytes: %d"
                             % longv["_value_length"])
    # Enum labels, in value order, must be the X-macro lists of mk_trace_enums.h.
    lists = enum_lists()
    seen = {
        "MK_CLOSE_REASONS": [e["reason"] for e in by["conn_close"] if e["conn_id"] >= 1000],
        "MK_TIMEOUT_KINDS": [e["kind"] for e in by["conn_timeout"] if e["conn_id"] >= 1000],
        "MK_ERROR_SITES": [e["site"] for e in by["error"] if e["conn_id"] >= 1000],
        "MK_METHODS": [e["method"] for e in by["request_begin"] if e["conn_id"] == 1000],
        "MK_PROTOCOLS": [e["protocol"] for e in by["request_begin"] if e["conn_id"] == 1001],
    }
    for lst, got in seen.items():
        want = [(label, i) for i, label in enumerate(lists[lst])]
        if got != want:
            raise AssertionError("%s: recorded %s, header says %s" % (lst, got, want))
    # Log levels, as declared in the trace's metadata.
    levels = metadata_levels(s.out)
    for name, lvl in LEVELS.items():
        if levels.get(name) != lvl:
            raise AssertionError("monkey:%s has log level %s, expected %d"
                                 % (name, levels.get(name), lvl))
    d = s.discarded(bt_err)
    if d:
        raise AssertionError("%d events discarded" % d)


def enum_lists():
    text = open(ENUMS_H).read()
    out = {}
    for m in re.finditer(r"#define (MK_\w+)\(X\)((?:.*\\\n)+.*)", text):
        out[m.group(1)] = re.findall(r'X\(\w+, "([^"]*)"\)', m.group(2))
    return out


def metadata_levels(outdir):
    levels = {}
    for root, _, files in os.walk(outdir):
        if "metadata" in files:
            with open(os.path.join(root, "metadata"), "rb") as f:
                meta = f.read().decode("utf-8", "replace")
            for m in re.finditer(r'event \{\s*name = "monkey:(\w+)";(.*?)\};', meta, re.S):
                lv = re.search(r"loglevel = (\d+);", m.group(2))
                levels[m.group(1)] = int(lv.group(1)) if lv else None
    return levels


def test_spec_workflow():
    """The spec: create, enable-event -u -a, start, curl --head, stop, view."""
    srv = server({"Workers": "2"}).start()
    try:
        log = srv.log_text()
        if "provider loaded" not in log:
            raise AssertionError("server did not log the provider load:\n" + srv.log_tail())
        with Session("spec") as s:
            t0 = time.monotonic()
            curl_head(srv.port)
            # curl closed its connection: give the server time to see it, and the workers
            # time for a few timeout checks.
            time.sleep(max(0.0, 3.2 - (time.monotonic() - t0)))
            span = time.monotonic() - t0
            s.stop()
            text, verr = s.view()
            events = of_pid(parse(text), srv.pid)
        check_seed_sequence(events, text, srv.pid)
        # TIMEOUT CHECK from every worker about once a second.
        per = {}
        for e in events:
            if e.name == "epoll" and e["event"] == "TIMEOUT CHECK":
                per[e["vtid"]] = per.get(e["vtid"], 0) + 1
        if len(per) != 2:
            raise AssertionError("TIMEOUT CHECK from %d threads (%s), expected 2 workers"
                                 % (len(per), per))
        lo, hi = int(span) - 1, int(span) + 2
        for vtid, n in per.items():
            if not lo <= n <= hi:
                raise AssertionError("worker vtid %d: %d TIMEOUT CHECK in %.1f s" % (vtid, n,
                                                                                      span))
        note("TIMEOUT CHECK per worker vtid in %.1f s: %s" % (span, per))
        for name in ("conn_accept", "request_begin", "request_end", "conn_close"):
            if not any(e.name == name for e in events):
                raise AssertionError("no monkey:%s for the request" % name)
        rb = [e for e in events if e.name == "request_begin"][0]
        re_ = [e for e in events if e.name == "request_end"][0]
        if rb["method"][0] != "HEAD" or rb["uri"] != "/" or re_["status"] != 200:
            raise AssertionError("request events: %r / %r" % (rb, re_))
        if rb["conn_id"] != re_["conn_id"] or rb["req_seq"] != re_["req_seq"]:
            raise AssertionError("request_begin/end ids differ: %r / %r" % (rb, re_))
    finally:
        srv.stop(check_fds=False)


SPEC_SEQUENCE = ["epoll_state GET: NOT FOUND", "epoll_state SET: NEW",
                 "scheduler ADD_CLIENT_REUSEPORT", "scheduler REGISTERED",
                 "epoll_state GET", "scheduler GET_CONNECTION",
                 # into MK_HTTP_WRITE for the answer, and out of it (kept alive) after it
                 "epoll_state SET: CHANGE", "epoll_state SET: CHANGE",
                 "epoll_state DELETE", "scheduler DELETE_CLIENT"]


def check_seed_sequence(events, text, pid):
    adds = [e for e in events if e.name == "scheduler" and e["event"].startswith("ADD_CLIENT")]
    if len(adds) != 1:
        raise AssertionError("expected one new connection, saw %d ADD_CLIENT events" % len(adds))
    fd, vtid = adds[0]["fd"], adds[0]["vtid"]
    mine = [e for e in events if e["vtid"] == vtid and e.name in SEED]
    conn = [e for e in mine if e["fd"] == fd]
    lines = [seed_text(e) for e in conn]
    # The listener's EPOLLIN precedes the connection's first event, on the same worker.
    first = mine.index(conn[0])
    listener = [e for e in mine[:first] if e.name == "epoll" and e["event"] == "EPOLLIN"
                and e["fd"] != fd]
    shown = "\n".join(e.raw for e in mine if e["fd"] in (fd,) or e in listener[-1:])
    note("seed events of the connection (fd %d, vtid %d):\n%s" % (fd, vtid, shown))
    if not listener:
        raise AssertionError("no listener `epoll EPOLLIN` before fd %d's events:\n%s"
                             % (fd, shown))
    # Readiness is traced for the listener and the connection only: the workers' own
    # descriptors (the tick's timerfd, the wake-up eventfd) are not (the tick is TIMEOUT CHECK).
    flags = ("EPOLLIN", "EPOLLOUT", "EPOLLRDHUP", "EPOLLHUP", "EPOLLERR")
    other = [e.raw for e in events if e.name == "epoll" and e["event"] in flags
             and e["fd"] not in (fd, listener[-1]["fd"])]
    if other:
        raise AssertionError("readiness traced for other descriptors:\n%s" % "\n".join(other[:5]))
    _, miss = subsequence(lines, SPEC_SEQUENCE)
    if miss:
        raise AssertionError("`%s` missing from fd %d's sequence; got:\n%s" % (miss, fd, shown))


def test_request_counts():
    """N requests: exactly N request_begin and N request_end, nothing discarded."""
    n = 300
    srv = server({"Workers": "2"}).start()
    try:
        with Session("count") as s:
            st = requests(srv.port, n, per_conn=7)
            s.stop()
            events, bt_err = s.read()
        check_counts(events, srv.pid, n, st, s, bt_err)
    finally:
        srv.stop(check_fds=False)


def check_counts(events, pid, n, statuses, s, bt_err):
    bad = [x for x in statuses if not x.startswith("HTTP/1.1 200")]
    if bad:
        raise AssertionError("%d of %d requests failed: %s" % (len(bad), n, bad[:3]))
    ev = of_pid(events, pid)
    if not ev:
        raise AssertionError("no monkey event from pid %d (%d events in all)"
                             % (pid, len(events)))
    nb = sum(1 for e in ev if e.name == "request_begin")
    ne = sum(1 for e in ev if e.name == "request_end")
    d = s.discarded(bt_err)
    if (nb, ne, d) != (n, n, 0):
        raise AssertionError("%d requests: %d request_begin, %d request_end, %d discarded"
                             % (n, nb, ne, d))
    pairs = {(e["conn_id"], e["req_seq"]) for e in ev if e.name == "request_begin"}
    ends = {(e["conn_id"], e["req_seq"]) for e in ev if e.name == "request_end"}
    if pairs != ends or len(pairs) != n:
        raise AssertionError("request_begin and request_end (conn_id, req_seq) do not pair up")


def test_daemon_mode():
    """-D: the daemon child (provider loaded after the fork) records every request."""
    d = mkt.tmpdir("daemon")
    pidfile = os.path.join(d, "monkey.pid")
    port = mkt.free_port()
    docroot = os.path.join(d, "www")
    os.makedirs(docroot)
    mkt.make_docroot(docroot)
    confdir = os.path.join(d, "conf")
    items = mkt.merge([("Listen", "127.0.0.1:%d" % port)] + mkt.SERVER_DEFAULTS,
                      {"Workers": "2", "PidFile": pidfile})
    mkt.write_confdir(confdir, items, [("ServerName", "127.0.0.1 localhost"),
                                       ("DocumentRoot", docroot)])
    rc, out, err = run([MONKEY, "-D", "-c", confdir], timeout=30, check=False)
    if rc != 0:
        raise AssertionError("monkey -D exited %d: %s" % (rc, (out + err)[-500:]))
    pid = None
    try:
        if not wait_until(lambda: os.path.exists(pidfile) and open(pidfile).read().strip(), 10):
            raise AssertionError("no pid file %s after monkey -D" % pidfile)
        pid = int(open(pidfile).read().strip())
        if not wait_until(lambda: port_open(port), 10):
            raise AssertionError("daemon (pid %d) does not accept on port %d" % (pid, port))
        n = 100
        with Session("daemon") as s:
            st = requests(port, n, per_conn=4)
            s.stop()
            events, bt_err = s.read()
        check_counts(events, pid, n, st, s, bt_err)
    finally:
        if pid:
            stop_pid(pid)


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def stop_pid(pid):
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if not wait_until(lambda: not os.path.exists("/proc/%d" % pid), 10):
        os.kill(pid, signal.SIGKILL)
        raise AssertionError("daemon pid %d ignored SIGTERM for 10 s; killed" % pid)


def test_loglevel_info():
    """--loglevel=INFO records the operator events and no DEBUG one."""
    srv = server({"Workers": "2"}).start()
    try:
        with Session("info", loglevel="INFO") as s:
            requests(srv.port, 10, per_conn=5, headers=[("X-Secret", "token")])
            time.sleep(1.2)  # one worker_stats at least
            s.stop()
            events, _ = s.read()
        ev = of_pid(events, srv.pid)
        names = {e.name for e in ev}
        debug = names & set(SEED + DEBUG_ONLY)
        if debug:
            raise AssertionError("INFO session recorded DEBUG events: %s" % sorted(debug))
        want = {"conn_accept", "request_begin", "request_end", "conn_close", "worker_stats"}
        if not want <= names:
            raise AssertionError("INFO session lacks %s (got %s)" % (sorted(want - names),
                                                                     sorted(names)))
        if any("token" in e.raw for e in events):
            raise AssertionError("a header value reached an INFO session")
    finally:
        srv.stop(check_fds=False)


def test_io_uring_one_send_per_small_response():
    """EventLoop io_uring: a small response leaves in one queued send whatever buffer it was
    built in (the file's head room, or the worker's shared buffer for HTTP/1.0 and
    Connection: close, which is copied out first), so one EPOLLOUT (the send's completion)
    per response.  Two would mean a split response: an extra send, pass and TCP segment."""
    with open(os.path.join(mkt.REPO, "src", "mk_config.h")) as f:
        have = "#define MK_HAVE_IO_URING 1" in f.read()
    srv = server({"Workers": "1", "EventLoop": "io_uring"}).start()
    try:
        if not have:
            if "using epoll" not in srv.log_text():
                raise AssertionError("built without io_uring and no fallback warning")
            return
        with Session("uring-send", events="monkey:epoll") as s:
            c = mkt.Client(srv.port)
            for _ in range(3):
                eq_status(c.request(mkt.req("GET", "/index.html")))
            eq_status(c.request(mkt.req("GET", "/index.html",
                                        headers=[("Connection", "close")])))
            c.close()
            c = mkt.Client(srv.port)
            eq_status(c.request(mkt.req("GET", "/index.html", version="HTTP/1.0")))
            c.close()
            time.sleep(0.2)
            s.stop()
            events, _ = s.read()
        outs = [e for e in of_pid(events, srv.pid) if e["event"] == "EPOLLOUT"]
        if len(outs) != 5:
            raise AssertionError("5 responses, %d EPOLLOUT (send completions):\n%s"
                                 % (len(outs), "\n".join(e.raw for e in outs)))
    finally:
        srv.stop(check_fds=False)


def eq_status(r):
    if r.status != 200:
        raise AssertionError("status %d" % r.status)


def test_sessions_under_load():
    """10 create/start/stop/destroy cycles while clients keep requesting: no failure."""
    srv = server({"Workers": "2"}).start()
    stop = threading.Event()
    stats = {"ok": 0, "failed": 0, "errors": []}
    lock = threading.Lock()

    def load():
        while not stop.is_set():
            try:
                c = mkt.Client(srv.port, timeout=5)
                try:
                    for _ in range(20):
                        if stop.is_set():
                            break
                        r = c.request(mkt.req("GET", "/hello.txt"))
                        with lock:
                            if r.status_line.startswith("HTTP/1.1 200") and \
                                    r.body == b"hello, world\n":
                                stats["ok"] += 1
                            else:
                                stats["failed"] += 1
                                stats["errors"].append(r.status_line)
                finally:
                    c.close()
            except Exception as e:  # a refused or reset connection is a failure too
                with lock:
                    stats["failed"] += 1
                    stats["errors"].append(repr(e))

    threads = [threading.Thread(target=load, daemon=True) for _ in range(3)]
    for t in threads:
        t.start()
    recorded = []
    try:
        deadline = time.monotonic() + 90
        for _ in range(10):
            if time.monotonic() > deadline:
                raise AssertionError("session cycles took more than 90 s")
            with Session("churn") as s:
                time.sleep(0.3)
                s.stop()
                events, _ = s.read()
            recorded.append(sum(1 for e in of_pid(events, srv.pid)
                                if e.name == "request_end"))
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    note("requests ok %d, failed %d; request_end per session: %s"
         % (stats["ok"], stats["failed"], recorded))
    if stats["failed"]:
        raise AssertionError("%d failed requests (of %d): %s" % (
            stats["failed"], stats["failed"] + stats["ok"], stats["errors"][:3]))
    if stats["ok"] < 100:
        raise AssertionError("load generator made only %d requests" % stats["ok"])
    if sum(1 for r in recorded if r > 0) < 8:
        raise AssertionError("sessions recorded request_end counts %s" % recorded)
    if not srv.alive():
        raise AssertionError("server died")
    srv.stop(check_fds=False)


def test_untraced_build_has_no_lttng():
    """A second, untraced build of the same sources: no LTTng symbol, no LTTng library."""
    d = mkt.tmpdir("untraced")
    for f in ("configure", "Makefile", "VERSION"):
        shutil.copy(os.path.join(REPO, f), d)
    for sub in ("src", "conf"):
        shutil.copytree(os.path.join(REPO, sub), os.path.join(d, sub),
                        ignore=shutil.ignore_patterns("mk_config.h", "*.o", "*.d"))
    p = subprocess.run(["./configure"], cwd=d, capture_output=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError("untraced ./configure failed: %s" % p.stderr.decode()[-800:])
    p = subprocess.run(["make", "-j2", "monkey"], cwd=d, capture_output=True, timeout=600)
    if p.returncode != 0:
        raise AssertionError("untraced build failed: %s" % p.stderr.decode()[-800:])
    binary = os.path.join(d, "monkey")
    _, syms, _ = run(["nm", binary])
    hits = [ln for ln in syms.splitlines() if "lttng" in ln.lower()]
    if hits:
        raise AssertionError("untraced binary has LTTng symbols: %s" % hits[:5])
    _, libs, _ = run(["ldd", binary])
    if "lttng" in libs:
        raise AssertionError("untraced binary links LTTng: %s" % libs)
    if os.path.exists(os.path.join(d, "build", "monkey-trace-provider.so")):
        raise AssertionError("untraced build made a provider")
    rc, out, err = run([binary, "-b"], check=False)
    if "not compiled in" not in out + err:
        raise AssertionError("`monkey -b` of the untraced build does not say tracing is off: %r"
                             % (out + err)[:300])


def test_runs_without_provider():
    """The traced binary serves where the provider or liblttng-ust cannot be loaded."""
    _, libs, _ = run(["ldd", MONKEY])
    if "lttng" in libs:
        raise AssertionError("traced binary links an LTTng library: %s" % libs)
    d = mkt.tmpdir("noprov")
    copy = os.path.join(d, "monkey")
    shutil.copy(MONKEY, copy)
    # A provider whose liblttng-ust "is not installed": its DT_NEEDED renamed.
    broken = os.path.join(d, "broken-provider.so")
    data = open(PROVIDER, "rb").read()
    if b"liblttng-ust.so.1\0" not in data:
        raise AssertionError("provider does not name liblttng-ust.so.1")
    open(broken, "wb").write(data.replace(b"liblttng-ust.so.1\0", b"liblttng-usX.so.1\0"))
    cases = [("nonexistent", "/nonexistent/monkey-trace-provider.so", "not found"),
             ("liblttng-ust missing", broken, "liblttng-usX.so.1")]
    installed = os.path.exists("/usr/local/lib/monkey/monkey-trace-provider.so")
    if not installed:
        cases.append(("copied binary, no env", None, "not found"))
    old_bin = mkt.MONKEY_BIN
    try:
        mkt.MONKEY_BIN = copy
        for label, path, expect in cases:
            if path is None:
                os.environ.pop("MONKEY_TRACE_PROVIDER", None)
            else:
                os.environ["MONKEY_TRACE_PROVIDER"] = path
            srv = server({"Workers": "2"}).start()
            try:
                r = srv.get("/hello.txt")
                if not r.status_line.startswith("HTTP/1.1 200"):
                    raise AssertionError("%s: %r" % (label, r))
                lines = [ln for ln in srv.log_text().splitlines() if "trace:" in ln]
                if len(lines) != 1 or expect not in lines[0] or "warn" not in lines[0]:
                    raise AssertionError("%s: expected one warning about %r, log has %s"
                                         % (label, expect, lines))
                maps = open("/proc/%d/maps" % srv.pid).read()
                if "liblttng-ust.so" in maps:
                    raise AssertionError("%s: liblttng-ust is mapped" % label)
                note("%s: %s" % (label, lines[0]))
            finally:
                srv.stop(check_fds=False)
    finally:
        mkt.MONKEY_BIN = old_bin
        os.environ.pop("MONKEY_TRACE_PROVIDER", None)


def test_unreachable_provider_is_not_reported_missing():
    """A provider that exists but that the server, once it runs as User nobody, cannot
    reach (a private directory) is reported with the reason, not as "not found"."""
    if os.geteuid() != 0:
        note("skipped: needs root to switch to User nobody")
        return
    d = mkt.tmpdir("privprov")
    private = os.path.join(d, "private")
    os.mkdir(private, 0o700)
    prov = os.path.join(private, "monkey-trace-provider.so")
    shutil.copy(PROVIDER, prov)
    os.environ["MONKEY_TRACE_PROVIDER"] = prov
    try:
        srv = server({"Workers": "1", "User": "nobody"}).start()
        try:
            lines = [ln for ln in srv.log_text().splitlines() if "trace:" in ln]
        finally:
            srv.stop(check_fds=False)
    finally:
        os.environ.pop("MONKEY_TRACE_PROVIDER", None)
    if len(lines) != 1 or "not found" in lines[0] or "Permission denied" not in lines[0]:
        raise AssertionError("%s exists but is out of reach of nobody: expected one warning "
                             "saying Permission denied, log has %s" % (prov, lines))


def test_make_trace_smoke_fires_every_event():
    """`make trace-smoke`, as docs/tracing.md says, fires every event once (tp_smoke with
    the provider built here), recorded by a session that enables them."""
    s = Session("mksmoke", events="monkey:*")
    try:
        s.create(start=False)
        s.lttng("add-context", "-u", "-s", s.name, "-t", "procname")
        s.start()
        p = subprocess.run(["make", "-s", "trace-smoke"], cwd=REPO, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=300)
        s.stop()
        events, _ = s.read()
    finally:
        s.destroy()
    if p.returncode != 0:
        raise AssertionError("make trace-smoke exited %d: %r" % (p.returncode, p.stderr[-300:]))
    names = {e.name for e in events if e.provider == "monkey" and e.get("procname") == "tp_smoke"}
    missing = set(SEED + OPERATOR + DEBUG_ONLY) - names
    if missing:
        raise AssertionError("make trace-smoke: no %s recorded from tp_smoke" % sorted(missing))


def test_user_current_session_left_alone():
    """The tests' `lttng create` does not make their session the user's current one
    (~/.lttngrc): the spec's `lttng start`/`stop`/`view`/`destroy`, run without a session
    name while the tests run, must not act on a test's session."""
    if os.geteuid() != 0:
        note("skipped: as another user the tests use the user's LTTNG_HOME")
        return
    with Session("rc") as s:
        rc = open(USER_LTTNGRC).read() if os.path.exists(USER_LTTNGRC) else ""
        if s.name in rc:
            raise AssertionError("%s now says %r: the user's `lttng stop` would stop the "
                                 "test's session" % (USER_LTTNGRC, rc.strip()))


def test_build_info():
    """`monkey -b` says tracing is compiled in and where the provider is looked for."""
    rc, out, err = run([MONKEY, "-b"], check=False)
    text = out + err
    if "compiled in (LTTng-UST)" not in text or "monkey-trace-provider.so" not in text:
        raise AssertionError("`monkey -b` says: %r" % text[-400:])


def test_ids_unique_across_reload():
    """conn_id is unique for the life of the process and worker ids go on across a SIGHUP
    reload (the new workers used to restart both at their first values); a listener poll
    cancelled by the reload is not traced as an EPOLLERR (io_uring)."""
    srv = server({"Workers": "1", "GracePeriod": "1"}).start()
    try:
        with Session("reload") as s:
            requests(srv.port, 6, per_conn=2)
            srv.send_signal(signal.SIGHUP)
            if not wait_until(lambda: "reload: configuration re-read" in srv.log_text(), 10):
                raise AssertionError("no reload: %s" % srv.log_tail())
            time.sleep(0.3)
            requests(srv.port, 6, per_conn=2)
            time.sleep(1.5)  # the old worker's grace period ends
            s.stop()
            events, _ = s.read()
        ev = of_pid(events, srv.pid)
        acc = [e for e in ev if e.name == "conn_accept"]
        ids = [e["conn_id"] for e in acc]
        if len(ids) != 6 or len(set(ids)) != 6 or 0 in ids:
            raise AssertionError("conn_accept ids across a reload: %s" % ids)
        workers = [e["worker"] for e in acc]
        if workers[:3] == workers[3:] or len(set(workers[:3])) != 1 or len(set(workers[3:])) != 1:
            raise AssertionError("worker ids before/after the reload: %s" % workers)
        errs = [e for e in ev if e.name == "epoll" and e["event"] == "EPOLLERR"]
        if errs:
            raise AssertionError("EPOLLERR traced without a socket error: %s" % errs[:2])
        closes = {e["conn_id"]: e["requests"] for e in ev if e.name == "conn_close"}
        if sorted(closes) != sorted(ids) or set(closes.values()) != {2}:
            raise AssertionError("conn_close per connection: %s" % closes)
    finally:
        srv.stop(check_fds=False)


def test_refusals_and_abandoned_requests():
    """INFO session: a connection refused over MaxConnections is an error event (503, site
    limit, conn_id 0); a request the client resets in its middle still has its request_end,
    and its conn_close counts it."""
    srv = server({"Workers": "1", "MaxConnections": "1"}).start()
    size = srv.sparse_file("huge.bin", 64 << 20)
    try:
        with Session("refuse", loglevel="INFO") as s:
            hold = mkt.Client(srv.port)
            hold.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            hold.send(mkt.req("GET", "/huge.bin"))
            hold.recv_head()
            extra = mkt.Client(srv.port)
            extra.sock.settimeout(5)
            got = b""
            try:
                while True:
                    b = extra.sock.recv(4096)
                    if not b:
                        break
                    got += b
            except OSError:
                pass
            extra.close()
            if not got.startswith(b"HTTP/1.1 503"):
                raise AssertionError("over MaxConnections: %r" % got[:100])
            # reset in the middle of the response
            hold.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            hold.close()
            wait_until(lambda: False, 0.5)
            s.stop()
            events, _ = s.read()
        ev = of_pid(events, srv.pid)
        refused = [e for e in ev if e.name == "error" and e["status"] == 503]
        if len(refused) != 1 or refused[0]["conn_id"] != 0 or refused[0]["site"][0] != "limit":
            raise AssertionError("503 refusal events: %s" % refused)
        ends = [e for e in ev if e.name == "request_end"]
        closes = [e for e in ev if e.name == "conn_close"]
        if len(ends) != 1 or ends[0]["keepalive"] != 0 or ends[0]["bytes_sent"] >= size:
            raise AssertionError("request_end of the reset request: %s" % ends)
        if len(closes) != 1 or closes[0]["requests"] != 1 or closes[0]["reason"][0] != "peer_reset":
            raise AssertionError("conn_close of the reset connection: %s" % closes)
    finally:
        srv.stop(check_fds=False)


def test_shutdown_ends_keepalive_response_with_keepalive_0():
    """SIGTERM while a keep-alive response is on its way: once sent, the connection is
    closed at once (reason shutdown), and request_end says keepalive 0, not 1."""
    srv = server({"Workers": "1", "KeepAliveTimeout": "60", "GracePeriod": "60"}).start()
    size = srv.sparse_file("huge.bin", 64 << 20)
    try:
        with Session("term", loglevel="INFO") as s:
            c = mkt.Client(srv.port)
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            c.send(mkt.req("GET", "/huge.bin"))
            c.recv_head()
            time.sleep(0.3)
            srv.send_signal(signal.SIGTERM)
            time.sleep(0.3)
            c._read_exact(size, time.monotonic() + 60)
            if not c.is_closed(10):
                raise AssertionError("connection still open 10 s after its response")
            c.close()
            if srv.wait(10) != 0:
                raise AssertionError("server did not exit 0 within 10 s of SIGTERM")
            s.stop()
            events, _ = s.read()
        ev = of_pid(events, srv.pid)
        ends = [e for e in ev if e.name == "request_end"]
        closes = [e for e in ev if e.name == "conn_close"]
        if len(ends) != 1 or ends[0]["keepalive"] != 0 or ends[0]["bytes_sent"] < size:
            raise AssertionError("request_end: %s" % ends)
        if len(closes) != 1 or closes[0]["reason"][0] != "shutdown":
            raise AssertionError("conn_close: %s" % closes)
    finally:
        srv.stop(check_fds=False)


def test_oversized_head_request_begin():
    """A head past MaxRequestSize: request_begin of the 413 still names the method, URI and
    version (the buffer grew and the parse resumed in between, which used to lose them);
    the 414's names the method with an empty URI; a HEAD's 413 has no body."""
    srv = server({"Workers": "1"}).start()
    limit = 32 * 1024
    try:
        with Session("big", loglevel="INFO") as s:
            line = b"GET /some/where HTTP/1.1\r\nHost: big.example\r\n"
            filler = b"X-Fill: " + b"a" * 1000 + b"\r\n"
            c = mkt.Client(srv.port)
            c.send(line)
            time.sleep(0.05)  # the request line alone in the first read
            for _ in range(limit // len(filler) + 2):
                c.send(filler)
            r = c.recv_response()
            if r.status != 413:
                raise AssertionError("oversized head: %s" % r.status_line)
            c.close()
            c = mkt.Client(srv.port)
            c.send(b"HEAD /h HTTP/1.1\r\nHost: big.example\r\n" + filler * 40)
            r = c.recv_response(head=True)
            if r.status != 413 or c.buf:
                raise AssertionError("HEAD 413: %s, %r after the head" % (r.status_line, c.buf[:40]))
            c.close()
            c = mkt.Client(srv.port)
            c.send(b"GET /" + b"u" * (limit + 100))
            r = c.recv_response()
            if r.status != 414:
                raise AssertionError("oversized request line: %s" % r.status_line)
            c.close()
            s.stop()
            events, _ = s.read()
        ev = of_pid(events, srv.pid)
        begins = [e for e in ev if e.name == "request_begin"]
        got = [(e["method"][0], e["uri"], e["protocol"][0]) for e in begins]
        want = [("GET", "/some/where", "HTTP/1.1"), ("HEAD", "/h", "HTTP/1.1"), ("GET", "", "unknown")]
        if got != want:
            raise AssertionError("request_begin of the 413/414: %s" % got)
        errors = [(e["site"][0], e["status"]) for e in ev if e.name == "error"]
        if errors != [("limit", 413), ("limit", 413), ("limit", 414)]:
            raise AssertionError("error events: %s" % errors)
    finally:
        srv.stop()


def test_timed_out_head_is_a_request():
    """A 408 for a head that did not arrive within Timeout has its access-log line, as a 400
    for a bad head has: it was in no request counter (conn_close.requests, worker_stats
    .requests) and had no request_begin/request_end, so the counters said fewer requests
    than the access log.  It is a request as the 400 is, on a connection's first request and
    after a completed one."""
    srv = server({"Workers": "1", "Timeout": "1"}).start()
    try:
        with Session("timeout408", loglevel="INFO") as s:
            wait_until(lambda: False, 1.2)            # a worker_stats before the requests
            first = mkt.Client(srv.port)              # the 408 is the connection's first
            first.send(b"GET /one.txt HTTP/1.1\r\nHo")
            later = mkt.Client(srv.port)              # a 200, then the 408
            if later.request(mkt.req("GET", "/hello.txt")).status != 200:
                raise AssertionError("the request before the 408")
            later.send(b"GET /two.txt HTTP/1.1\r\n")
            bad = mkt.Client(srv.port)                # a 400 for comparison
            bad.send(b"GARBAGE\r\n\r\n")
            for c in (first, later, bad):
                data = c.recv_until_close(timeout=10)
                if not data.startswith(b"HTTP/1.1 408" if c is not bad else b"HTTP/1.1 400"):
                    raise AssertionError("answer: %r" % data[:60])
                c.close()
            wait_until(lambda: False, 1.2)            # a worker_stats after the closes
            s.stop()
            events, _ = s.read()
        ev = of_pid(events, srv.pid)
        begins = {(e["conn_id"], e["req_seq"]): e for e in ev if e.name == "request_begin"}
        ends = {(e["conn_id"], e["req_seq"]): e for e in ev if e.name == "request_end"}
        if sorted(begins) != sorted(ends):
            raise AssertionError("request_begin %s, request_end %s"
                                 % (sorted(begins), sorted(ends)))
        got = sorted((e["req_seq"], e["status"], begins[k]["uri"]) for k, e in ends.items())
        want = [(1, 200, "/hello.txt"), (1, 400, ""), (1, 408, "/one.txt"), (2, 408, "/two.txt")]
        if got != want:
            raise AssertionError("requests (seq, status, uri): %s" % got)
        for k, e in ends.items():
            if e["status"] == 408 and not 0.9e9 <= e["duration_ns"] <= 5e9:
                raise AssertionError("duration of a 408 (Timeout 1): %s" % e)
        closes = sorted(e["requests"] for e in ev if e.name == "conn_close")
        if closes != [1, 1, 2]:
            raise AssertionError("conn_close.requests: %s" % closes)
        stats = [e["requests"] for e in ev if e.name == "worker_stats" and e["worker"] == 0]
        if len(stats) < 2 or stats[-1] - stats[0] != len(ends):
            raise AssertionError("worker_stats.requests %s, %d request_end" % (stats, len(ends)))
    finally:
        srv.stop(check_fds=False)


def test_failed_event_loop_is_an_error_event():
    """A worker whose epoll_wait fails (made to fail once by an LD_PRELOAD shim) records an
    error event, site epoll with conn_id 0 and the errno, before the server stops with exit
    status 1 (tests/integration/test_event_loop.py checks the stop itself)."""
    from test_event_loop import FAIL_EPOLL_SHIM
    trigger = os.path.join(mkt.tmpdir("failepoll"), "fail-now")
    srv = server({"Workers": "2", "EventLoop": "epoll"})
    srv.env = mkt.preload_env("failepoll", FAIL_EPOLL_SHIM, MK_FAIL_EPOLL=trigger)
    srv.start()
    try:
        with Session("loopfail", loglevel="INFO") as s:
            curl_head(srv.port)
            open(trigger, "w").close()
            rc = srv.wait(20)
            if rc != 1:
                raise AssertionError("exit status %s after a failed worker loop:\n%s"
                                     % (rc, srv.log_tail()))
            s.stop()
            events, _ = s.read()
        ev = of_pid(events, srv.pid)
        errors = [(e["conn_id"], e["site"][0], e["errno"], e["status"])
                  for e in ev if e.name == "error"]
        if errors != [(0, "epoll", 22, 0)]:
            raise AssertionError("error events: %s" % errors)
    finally:
        srv.kill()


def test_peer_filter_on_dual_stack_listener():
    """The bundled configuration's `Listen 2001` is dual-stack: an IPv4 client arrives as
    ::ffff:127.0.0.1.  conn_accept.peer names it 127.0.0.1, as the access log does, so that
    docs/tracing.md's filter `peer == "10.0.*"` matches IPv4 clients (here 127.0.0.*)."""
    port = mkt.free_port()
    srv = mkt.Server(conf={"Listen": str(port), "Workers": "1"}, port=port).start()
    try:
        with Session("peer", events="monkey:conn_accept", filter='peer == "127.0.*"') as s:
            requests(port, 1)
            s.stop()
            events, _ = s.read()
        acc = [e for e in of_pid(events, srv.pid) if e.name == "conn_accept"]
        if [e.get("peer") for e in acc] != ["127.0.0.1"]:
            raise AssertionError("filter 'peer == \"127.0.*\"' kept %r, want one conn_accept "
                                 "with peer 127.0.0.1" % [e.get("peer") for e in acc])
    finally:
        srv.stop(check_fds=False)


PIPELINED = [("GET", "/index.html"), ("GET", "/one.txt"), ("GET", "/hello.txt"),
             ("HEAD", "/style.css"), ("GET", "/empty.txt"), ("GET", "/missing.html"),
             ("GET", "/image.png"), ("GET", "/dir/page.html"), ("GET", "/noext"),
             ("GET", "/range.txt"), ("GET", "/hello.txt"), ("GET", "/dir/"),
             ("GET", "/style.css"), ("GET", "/one.txt"), ("GET", "/index.html"),
             ("GET", "/data.unknownext"), ("GET", "/with%20space.txt"), ("GET", "/noext"),
             ("GET", "/image.png"), ("GET", "/hello.txt")]


def test_pipelined_requests_pair_up():
    """20 requests in one write (a HEAD and a 404 among them): their answers are gathered
    into one send (write_pipelined), yet each request_begin has its request_end, in order,
    with the connection's conn_id, the status and the bytes the client received of it; and
    `monkey-trace check` passes on the trace."""
    srv = server({"Workers": "1"}).start()
    try:
        with Session("pipe", loglevel="INFO") as s:
            c = mkt.Client(srv.port)
            c.send(b"".join(mkt.req(m, p) for m, p in PIPELINED))
            got = []
            for m, p in PIPELINED:
                r = c.recv_response(head=(m == "HEAD"))
                got.append((r.status, len(r.raw_head) + 4 + len(r.body)))
            c.close()
            wait_until(lambda: False, 0.3)
            s.stop()
            events, bt_err = s.read()
        want = [(404 if p == "/missing.html" else 200) for _, p in PIPELINED]
        if [g[0] for g in got] != want:
            raise AssertionError("statuses received: %s" % [g[0] for g in got])
        ev = of_pid(events, srv.pid)
        acc = [e for e in ev if e.name == "conn_accept"]
        if len(acc) != 1:
            raise AssertionError("conn_accept events: %s" % acc)
        cid = acc[0]["conn_id"]
        reqs = [e for e in ev if e.name in ("request_begin", "request_end")]
        n = len(PIPELINED)
        if len(reqs) != 2 * n or s.discarded(bt_err):
            raise AssertionError("%d requests: %d request events, %d discarded"
                                 % (n, len(reqs), s.discarded(bt_err)))
        for i, (m, p) in enumerate(PIPELINED):
            b, e = reqs[2 * i], reqs[2 * i + 1]
            have = (b.name, b["conn_id"], b["req_seq"], b["method"][0], b["uri"],
                    e.name, e["conn_id"], e["req_seq"], e["status"], e["bytes_sent"],
                    e["keepalive"])
            need = ("request_begin", cid, i + 1, m, p, "request_end", cid, i + 1, got[i][0],
                    got[i][1], 1)
            if have != need:
                raise AssertionError("request %d: traced %s, want %s" % (i + 1, have, need))
        rc, out, err = run([os.path.join(REPO, "tools", "monkey-trace", "monkey-trace"),
                            "check", "--pid", str(srv.pid), s.out], check=False, timeout=60)
        if rc != 0:
            raise AssertionError("monkey-trace check exited %d:\n%s%s" % (rc, out, err))
    finally:
        srv.stop(check_fds=False)


TESTS = [test_provider_smoke, test_spec_workflow, test_request_counts, test_daemon_mode,
         test_loglevel_info, test_io_uring_one_send_per_small_response,
         test_sessions_under_load, test_untraced_build_has_no_lttng,
         test_runs_without_provider, test_build_info, test_ids_unique_across_reload,
         test_refusals_and_abandoned_requests,
         test_shutdown_ends_keepalive_response_with_keepalive_0,
         test_oversized_head_request_begin, test_timed_out_head_is_a_request,
         test_peer_filter_on_dual_stack_listener,
         test_unreachable_provider_is_not_reported_missing,
         test_make_trace_smoke_fires_every_event, test_user_current_session_left_alone,
         test_failed_event_loop_is_an_error_event, test_pipelined_requests_pair_up]


# ---------------------------------------------------------------------------------------------

class TestTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise TestTimeout("test exceeded its time bound")


def main():
    global VERBOSE
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-k", action="append", default=[], help="run tests whose name has this")
    ap.add_argument("-v", action="store_true", help="show details (seed event lines...)")
    ap.add_argument("--list", action="store_true")
    opts = ap.parse_args()
    VERBOSE = opts.v
    tests = [t for t in TESTS if not opts.k or any(k in t.__name__ for k in opts.k)]
    if opts.list:
        for t in tests:
            print(t.__name__[5:])
        return 0
    passed = failed = 0
    try:
        if not os.access(PROVIDER, os.R_OK):
            raise AssertionError("%s is missing: ./configure --linux-trace && make" % PROVIDER)
        for tool in ("lttng", "lttng-sessiond", "babeltrace2", "curl", "nm", "ldd"):
            if not shutil.which(tool):
                raise AssertionError("%s is not installed" % tool)
        ensure_sessiond()
    except Exception as e:
        print("FAIL setup: %s" % e, flush=True)
        print("0 passed, 1 failed", flush=True)
        return 1
    signal.signal(signal.SIGALRM, _alarm)
    try:
        for t in tests:
            name = t.__name__[5:]
            t0 = time.monotonic()
            try:
                signal.setitimer(signal.ITIMER_REAL, 900 if "untraced" in name else 180)
                try:
                    t()
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                passed += 1
                print("PASS %s%s" % (name, " (%.1fs)" % (time.monotonic() - t0)
                                     if VERBOSE else ""), flush=True)
            except Exception as e:
                failed += 1
                why = (str(e) or type(e).__name__)
                print("FAIL %s: %s" % (name, why), flush=True)
                if VERBOSE:
                    print("    " + traceback.format_exc().rstrip().replace("\n", "\n    "))
            finally:
                for s in list(mkt.LIVE):
                    s.kill()
    finally:
        mkt.cleanup()
    print("%d passed, %d failed" % (passed, failed), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""mkt: helpers for Monkey's integration tests (Python standard library only).

Starts the real ./monkey binary on a free loopback port with a generated configuration,
and talks to it over raw sockets so that every byte of the answer can be checked.

    srv = mkt.Server(conf={"KeepAlive": "off"}).start()
    c = srv.client()
    c.send(mkt.req("GET", "/"))
    r = c.recv_response()
    assert r.status_line == "HTTP/1.1 200 OK"
    srv.stop()          # closes clients, checks the fd count, SIGTERM, asserts exit 0

Every wait is bounded; nothing here can hang for more than its timeout.
"""

import atexit
import os
import random
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
MONKEY_BIN = os.path.abspath(os.environ.get("MONKEY_BIN") or os.path.join(REPO, "monkey"))
MIME_FILE = os.path.join(REPO, "conf", "monkey.mime")

START_TIMEOUT = float(os.environ.get("MKT_START_TIMEOUT", "15"))
STOP_TIMEOUT = 10.0
IO_TIMEOUT = 10.0


def version():
    with open(os.path.join(REPO, "VERSION")) as f:
        return f.read().strip()


class Skip(Exception):
    """Raise to skip a test (only for a missing machine feature, never for a server bug)."""


def timeout(seconds):
    """Decorator: give a test a longer time bound than run.py's default."""
    def deco(fn):
        fn.timeout = seconds
        return fn
    return deco


# ---------------------------------------------------------------------------------------------
# temporary directories

_tmp_root = None


def tmpdir(prefix="t"):
    """A fresh directory under one per-run root (removed by cleanup())."""
    global _tmp_root
    if _tmp_root is None or not os.path.isdir(_tmp_root):
        _tmp_root = tempfile.mkdtemp(prefix="monkey-it-")
    return tempfile.mkdtemp(prefix=prefix + "-", dir=_tmp_root)


def cleanup():
    global _tmp_root
    for s in list(LIVE):
        s.kill()
    if _tmp_root and not os.environ.get("MKT_KEEP_TMP"):
        shutil.rmtree(_tmp_root, ignore_errors=True)
    _tmp_root = None


# ---------------------------------------------------------------------------------------------
# ports

def free_port(family=socket.AF_INET):
    """A port that is free on 127.0.0.1 (and on ::1 when it exists) right now."""
    for _ in range(50):
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
            port = s.getsockname()[1]
        # The port must be free on the other family too (tests may listen on both).
        other = socket.AF_INET if family == socket.AF_INET6 else socket.AF_INET6
        if other == socket.AF_INET6 and not have_ipv6():
            return port
        try:
            with socket.socket(other, socket.SOCK_STREAM) as s:
                s.bind(("::1" if other == socket.AF_INET6 else "127.0.0.1", port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port found in 50 tries")


_ipv6 = None


def have_ipv6():
    """True when this machine has ::1 (socket.has_ipv6 and binding ::1 works)."""
    global _ipv6
    if _ipv6 is None:
        _ipv6 = False
        if socket.has_ipv6:
            try:
                with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
                    s.bind(("::1", 0))
                _ipv6 = True
            except OSError:
                pass
    return _ipv6


# ---------------------------------------------------------------------------------------------
# document root with known files

INDEX_HTML = b"<html><head><title>Monkey test</title></head><body><h1>It works</h1></body></html>\n"
DIR_INDEX_HTML = b"<html><body>dir index</body></html>\n"
BIG_SIZE = 3 * 1024 * 1024 + 17


def make_docroot(path):
    """Write the known files under path; returns {url path: bytes}."""
    rnd = random.Random(20240501)
    files = {
        "/index.html": INDEX_HTML,
        "/one.txt": b"x",
        "/empty.txt": b"",
        "/hello.txt": b"hello, world\n",
        "/style.css": b"body { color: #333; }\n",
        "/image.png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)),
        "/data.unknownext": b"some data\n",
        "/noext": b"no extension\n",
        "/range.txt": bytes((i * 7 + 3) % 256 for i in range(1000)),
        "/dir/index.html": DIR_INDEX_HTML,
        "/dir/page.html": b"<p>page</p>\n",
        "/noindex/a.txt": b"a\n",
        "/with space.txt": b"space\n",
        "/big.bin": rnd.randbytes(BIG_SIZE),
    }
    for name, data in files.items():
        p = os.path.join(path, name.lstrip("/"))
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
    # Fixed, old modification times so conditional requests have a known answer.
    for name in files:
        os.utime(os.path.join(path, name.lstrip("/")), (1600000000, 1600000000))
    return files


# ---------------------------------------------------------------------------------------------
# configuration

SERVER_DEFAULTS = [
    ("Workers", "2"),
    ("Timeout", "15"),
    ("KeepAlive", "on"),
    ("KeepAliveTimeout", "5"),
    ("MaxKeepAliveRequest", "1000"),
    ("MaxRequestSize", "32"),
    ("MaxConnections", "0"),
    ("Indexfile", "index.html index.htm"),
    ("HideVersion", "off"),
    ("DefaultMimeType", "text/plain"),
    ("SymLink", "off"),
    ("PidFile", "monkey.pid"),
    # The suite runs as root in CI with documents in private temporary directories: say
    # explicitly that the server stays root (test_privileges.py tests the switch).
] + ([("User", "root")] if os.geteuid() == 0 else []) + (
    # MKT_EVENT_LOOP=io_uring runs the whole suite on the io_uring loop (scripts/check.sh
    # does, after the epoll run, when the binary has it).
    [("EventLoop", os.environ["MKT_EVENT_LOOP"])] if os.environ.get("MKT_EVENT_LOOP") else [])

# The same for runs without configuration files (-o DIR).
ROOT_ARGS = ["-u", "root"] if os.geteuid() == 0 else []


def section(name, items):
    """Render one [SECTION] with its indented 'Key value' lines; a list value repeats the key."""
    out = ["[%s]" % name]
    for k, v in items:
        if v is None:
            continue
        for one in (v if isinstance(v, (list, tuple)) else [v]):
            out.append("    %s %s" % (k, one))
    return "\n".join(out) + "\n"


def merge(defaults, overrides):
    """defaults (list of pairs) updated with overrides (dict; None removes a key)."""
    items = list(defaults)
    keys = [k.lower() for k, _ in items]
    for k, v in (overrides or {}).items():
        if k.lower() in keys:
            items[keys.index(k.lower())] = (k, v)
        else:
            items.append((k, v))
            keys.append(k.lower())
    return [(k, v) for k, v in items if v is not None]


def write_confdir(confdir, server_items, host_items, sites=None, main_name="monkey.conf",
                  raw_main=None):
    """Write confdir/monkey.conf, confdir/monkey.mime (copy), confdir/sites/default and extra
    site files (sites: {name: text})."""
    os.makedirs(os.path.join(confdir, "sites"), exist_ok=True)
    with open(os.path.join(confdir, main_name), "w") as f:
        f.write(raw_main if raw_main is not None else
                "# generated by tests/integration/mkt.py\n" + section("SERVER", server_items))
    if os.path.exists(MIME_FILE):
        shutil.copy(MIME_FILE, os.path.join(confdir, "monkey.mime"))
    if host_items is not None:
        with open(os.path.join(confdir, "sites", "default"), "w") as f:
            f.write(section("HOST", host_items))
    for name, text in (sites or {}).items():
        with open(os.path.join(confdir, "sites", name), "w") as f:
            f.write(text)


# ---------------------------------------------------------------------------------------------
# requests and responses

def req(method="GET", path="/", version="HTTP/1.1", headers=None, host="localhost", body=b"",
        eol=b"\r\n"):
    """Build a request.  headers: list of (name, value) or a dict; host=None sends no Host."""
    lines = [("%s %s %s" % (method, path, version)).encode()]
    if host is not None:
        lines.append(b"Host: " + host.encode())
    hs = headers.items() if isinstance(headers, dict) else (headers or [])
    for k, v in hs:
        lines.append(k.encode() + b": " + (v if isinstance(v, bytes) else str(v).encode()))
    if isinstance(body, str):
        body = body.encode()
    return eol.join(lines) + eol + eol + body


class Headers:
    """Response header fields: case-insensitive lookup, every value kept in order."""

    def __init__(self, pairs):
        self.pairs = pairs
        self._d = {}
        for k, v in pairs:
            self._d.setdefault(k.lower(), []).append(v)

    def get(self, name, default=None):
        v = self._d.get(name.lower())
        return v[0] if v else default

    def getall(self, name):
        return list(self._d.get(name.lower(), []))

    def count(self, name):
        return len(self._d.get(name.lower(), []))

    def __getitem__(self, name):
        v = self._d.get(name.lower())
        if not v:
            raise KeyError(name)
        return v[0]

    def __contains__(self, name):
        return name.lower() in self._d

    def names(self):
        return [k for k, _ in self.pairs]

    def __repr__(self):
        return "Headers(%r)" % (self.pairs,)


class Response:
    def __init__(self, status_line, raw_head, headers, body):
        self.status_line = status_line  # str, without CRLF
        self.raw_head = raw_head        # bytes: status line + headers, without the blank line
        self.headers = headers          # Headers
        self.body = body                # bytes
        m = re.match(r"HTTP/(\d\.\d) (\d{3}) (.*)$", status_line)
        self.version = m.group(1) if m else None
        self.status = int(m.group(2)) if m else None
        self.reason = m.group(3) if m else None

    def __repr__(self):
        body = self.body if len(self.body) <= 200 else self.body[:200] + b"..."
        return "<Response %r\n%s\n\n%r>" % (self.status_line,
                                             self.raw_head.decode("latin-1"), body)


class ConnectionClosed(Exception):
    pass


class Client:
    """A raw HTTP client on one TCP connection."""

    def __init__(self, port, host="127.0.0.1", timeout=IO_TIMEOUT, nodelay=True):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        if nodelay:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.connect((host, port))
        self.timeout = timeout
        self.buf = b""          # received and not yet consumed
        self.eof = False        # the peer closed (FIN or RST)
        self.reset = False      # ... by a reset
        self.send_failed = False

    def send(self, data):
        """Send all of data; a peer that already closed is recorded, not raised."""
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            self.send_failed = True

    def send_in_background(self, *parts, pause=0.0):
        """Send parts, `pause` seconds apart, from a thread: for a test that reads while the
        server cannot take all its input yet.  Returns the (daemon) thread; its `done` is
        true once every byte was sent.  A failed send ends it quietly (see send_failed)."""
        def run():
            try:
                for i, p in enumerate(parts):
                    if i and pause:
                        time.sleep(pause)
                    self.send(p)
                    if self.send_failed:
                        return
                t.done = True
            except OSError:
                self.send_failed = True
        t = threading.Thread(target=run, daemon=True)
        t.done = False
        t.start()
        return t

    def send_slowly(self, data, chunk=1, pause=0.002):
        """Send data in pieces of `chunk` bytes, one write each."""
        for i in range(0, len(data), chunk):
            self.send(data[i:i + chunk])
            if self.send_failed:
                return
            if pause:
                time.sleep(pause)

    def _fill(self, deadline):
        """Read once more into buf; False on EOF.  Raises TimeoutError at the deadline."""
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no data within the bound; buffered: %r" % self.buf[:300])
        r, _, _ = select.select([self.sock], [], [], left)
        if not r:
            raise TimeoutError("no data within the bound; buffered: %r" % self.buf[:300])
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            self.eof = self.reset = True
            return False
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _read_exact(self, n, deadline):
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise ConnectionClosed("closed after %d of %d body bytes" % (len(self.buf), n))
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv_head(self, timeout=None):
        """Read one status line + header block; returns (status_line, raw_head, Headers)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > 1 << 20:
                raise AssertionError("response head larger than 1 MiB")
            if not self._fill(deadline):
                raise ConnectionClosed("connection closed before a complete response head; "
                                       "received: %r" % self.buf[:300])
        raw, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = raw.split(b"\r\n")
        status_line = lines[0].decode("latin-1")
        pairs = []
        for ln in lines[1:]:
            if b":" not in ln:
                raise AssertionError("malformed response header line %r in %r" % (ln, raw))
            k, v = ln.split(b":", 1)
            if k != k.strip() or not k:
                raise AssertionError("malformed response header name %r" % k)
            pairs.append((k.decode("latin-1"), v.strip(b" \t").decode("latin-1")))
        return status_line, raw, Headers(pairs)

    def recv_response(self, head=False, timeout=None):
        """Read one response; head=True when it answers a HEAD request (no body)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        status_line, raw, headers = self.recv_head(timeout or self.timeout)
        m = re.match(r"HTTP/\d\.\d (\d{3})", status_line)
        code = int(m.group(1)) if m else 0
        if head or code in (204, 304) or 100 <= code < 200:
            body = b""
        elif headers.count("Content-Length"):
            vals = headers.getall("Content-Length")
            if len(set(vals)) != 1 or not vals[0].isdigit():
                raise AssertionError("bad Content-Length in response: %r" % vals)
            body = self._read_exact(int(vals[0]), deadline)
        elif "chunked" in headers.get("Transfer-Encoding", "").lower():
            body = self._read_chunked(deadline)
        else:
            while self._fill(deadline):
                pass
            body, self.buf = self.buf, b""
        return Response(status_line, raw, headers, body)

    def _read_chunked(self, deadline):
        body = b""
        while True:
            while b"\r\n" not in self.buf:
                if not self._fill(deadline):
                    raise ConnectionClosed("closed inside a chunked body")
            line, self.buf = self.buf.split(b"\r\n", 1)
            size = int(line.split(b";")[0], 16)
            if size == 0:
                while b"\r\n" not in self.buf:
                    if not self._fill(deadline):
                        raise ConnectionClosed("closed inside a chunked trailer")
                # trailers are not expected; consume the final CRLF
                _, self.buf = self.buf.split(b"\r\n", 1)
                return body
            body += self._read_exact(size + 2, deadline)[:-2]

    def recv_until_close(self, timeout=None):
        """Everything until the peer closes (raises TimeoutError at the bound)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while self._fill(deadline):
            pass
        out, self.buf = self.buf, b""
        return out

    def is_closed(self, timeout=5.0):
        """True if the peer closes within timeout; bytes received meanwhile stay in buf."""
        deadline = time.monotonic() + timeout
        try:
            while self._fill(deadline):
                pass
        except TimeoutError:
            return False
        return True

    def request(self, data, head=False):
        self.send(data)
        return self.recv_response(head=head)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---------------------------------------------------------------------------------------------
# the server process

LIVE = []  # servers started and not yet stopped


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def run_monkey(args, cwd=None, timeout=10, env=None):
    """Run the binary to completion (for -v, -h, bad configurations...)."""
    return subprocess.run([MONKEY_BIN] + list(args), cwd=cwd, stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=timeout, env=env)


def private_lttng_home():
    """For the LTTng test runners (tests/trace, tests/tools).  `lttng create` makes the new
    session the current one of $LTTNG_HOME/.lttngrc (default ~/.lttngrc): a user who runs
    `lttng start`, `stop`, `view` or `destroy` without a session name (the spec's
    walk-through) while the tests run would act on a test's session.  The tests name their
    session in every command, so as root their `lttng` gets an LTTNG_HOME of its own (root's
    `lttng` reaches the session daemon by its global socket whatever LTTNG_HOME is; another
    user's finds it under it, so it keeps the user's).  Returns the environment as it was
    (for a session daemon, which outlives the tests) and the user's .lttngrc path."""
    user_env = dict(os.environ)
    user_rc = os.path.join(os.environ.get("LTTNG_HOME") or os.path.expanduser("~"), ".lttngrc")
    if os.geteuid() == 0:
        os.environ["LTTNG_HOME"] = tempfile.mkdtemp(prefix="mkt-lttng-home-")
        atexit.register(shutil.rmtree, os.environ["LTTNG_HOME"], True)
    return user_env, user_rc


class Strace:
    """`with mkt.Strace(pid, "sendfile") as st: ...`, then st.lines: the calls every thread of
    pid made inside the block (strace -f -p, attached to each thread before the block runs,
    detached after it).  For tests that count system calls; Skip without strace."""

    def __init__(self, pid, calls):
        if not shutil.which("strace"):
            raise Skip("strace not installed")
        self.pid, self.calls, self.lines = pid, calls, []
        self.out = os.path.join(tmpdir("strace"), "out")

    def _attached(self):
        for t in os.listdir("/proc/%d/task" % self.pid):
            try:
                with open("/proc/%d/task/%s/status" % (self.pid, t)) as f:
                    if "\nTracerPid:\t0\n" in f.read():
                        return False
            except FileNotFoundError:
                pass  # a thread that just ended
        return True

    def __enter__(self):
        self.proc = subprocess.Popen(["strace", "-f", "-qq", "-o", self.out, "-p",
                                      str(self.pid), "-e", "trace=" + self.calls])
        try:
            wait_until(self._attached, 10, "strace to attach to every thread of %d" % self.pid)
        except BaseException:
            self._stop()
            raise
        return self

    def _stop(self):
        self.proc.send_signal(signal.SIGINT)  # strace detaches and exits
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def __exit__(self, *exc):
        self._stop()
        with open(self.out) as f:
            self.lines = [ln for ln in f.read().splitlines() if "(" in ln]
        return False


def preload_env(name, source, **env):
    """The environment for a server run with an LD_PRELOAD shim built from C source (plus
    the env given).  Skips in sanitizer builds: their runtimes must come first."""
    build = subprocess.run([MONKEY_BIN, "-b"], capture_output=True, text=True).stdout
    if "sanitizers:  none" not in build:
        raise Skip("sanitizer runtimes must come first: no LD_PRELOAD shim")
    d = tmpdir(name)
    src, lib = os.path.join(d, "shim.c"), os.path.join(d, "shim.so")
    with open(src, "w") as f:
        f.write(source)
    p = subprocess.run(["cc", "-shared", "-fPIC", "-o", lib, src, "-ldl"], capture_output=True)
    if p.returncode != 0:
        raise Skip("cannot build the shim: %r" % p.stderr)
    return dict(os.environ, LD_PRELOAD=lib, **env)


class Server:
    """One ./monkey process with its own configuration directory and document root.

    conf:   overrides of [SERVER] keys (None removes a key, a list repeats it).
    host:   overrides of the default site's [HOST] keys.
    sites:  extra files for sites/ ({name: text}).
    args:   extra command-line arguments.
    config: False to write no configuration at all (then pass -o/-p in args).
    """

    def __init__(self, conf=None, host=None, sites=None, args=None, config=True, port=None,
                 wait_addrs=None, raw_main=None, main_name="monkey.conf"):
        self.dir = tmpdir("srv")
        self.docroot = os.path.join(self.dir, "www")
        os.makedirs(self.docroot)
        self.files = make_docroot(self.docroot)
        self.confdir = os.path.join(self.dir, "conf")
        self.port = port or free_port()
        self.args = list(args or [])
        self.proc = None
        self.pid = None
        self.env = None  # the server's environment: None inherits ours
        self.clients = []
        self.baseline_fds = None
        self.returncode = None
        self.log_path = os.path.join(self.dir, "monkey.log")
        server_items = merge([("Listen", "127.0.0.1:%d" % self.port)] + SERVER_DEFAULTS, conf)
        host_items = merge([("ServerName", "127.0.0.1 localhost"),
                            ("DocumentRoot", self.docroot)], host)
        self.workers = workers_of(server_items, self.args)
        if config:
            write_confdir(self.confdir, server_items, host_items, sites, main_name, raw_main)
            self.argv = ["-c", self.confdir] + self.args
        else:
            self.argv = self.args
        if wait_addrs is None:
            wait_addrs = []
            listens = [v for k, v in server_items if k.lower() == "listen"]
            for v in listens:
                for one in (v if isinstance(v, (list, tuple)) else [v]):
                    wait_addrs.append(parse_listen(one))
            if not config:
                wait_addrs = [("127.0.0.1", self.port)]
        self.wait_addrs = wait_addrs

    # -- life cycle ---------------------------------------------------------------------------

    def start(self):
        if not os.access(MONKEY_BIN, os.X_OK):
            raise AssertionError("server binary %s is missing (run make)" % MONKEY_BIN)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([MONKEY_BIN] + self.argv, cwd=self.dir, env=self.env,
                                     stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.pid = self.proc.pid
        LIVE.append(self)
        deadline = time.monotonic() + START_TIMEOUT
        pending = list(self.wait_addrs)
        while pending:
            if self.proc.poll() is not None:
                self._reap()
                raise AssertionError("server exited with status %s at start-up:\n%s"
                                     % (self.returncode, self.log_tail()))
            host, port = pending[0]
            if probe(host, port):
                pending.pop(0)
                continue
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError("server did not accept on %s:%d within %.0f s:\n%s"
                                     % (host, port, START_TIMEOUT, self.log_tail()))
            time.sleep(0.05)
        self.baseline_fds = self.settled_fds()
        return self

    def settled_fds(self, stable=6, bound=3.0):
        """conn_fds() once it has stopped moving (the probe connection closed, every worker
        started): the same value `stable` times in a row, 50 ms apart, within `bound` s."""
        deadline = time.monotonic() + bound
        last, same = None, 0
        while same < stable and time.monotonic() < deadline:
            n = self.conn_fds()
            same = same + 1 if n == last else 1
            last = n
            time.sleep(0.05)
        return last

    def fd_count(self):
        """Every fd the server has open."""
        return fd_count(self.pid)

    def fd_targets(self):
        out = []
        for fd in os.listdir("/proc/%d/fd" % self.pid):
            try:
                out.append(os.readlink("/proc/%d/fd/%s" % (self.pid, fd)))
            except OSError:
                pass
        return out

    def cached_file_fds(self):
        """{path: count} of fds on regular files under the docroot.  The server keeps such
        fds in its per-worker open-file cache (src/http/mk_file.h), so they outlive the
        connections; they are bounded (see check_fds), not counted against the baseline."""
        out = {}
        prefix = self.docroot + "/"
        for t in self.fd_targets():
            if t.startswith(prefix):
                out[t] = out.get(t, 0) + 1
        return out

    def conn_fds(self):
        """fds other than the file cache's: sockets, epoll, pipes, logs...  This count must
        return to its start-up value once every connection is closed."""
        return self.fd_count() - sum(self.cached_file_fds().values())

    def wait_fds(self, target, timeout=5.0):
        """Wait (bounded) until conn_fds() <= target; returns the last count."""
        deadline = time.monotonic() + timeout
        while True:
            n = self.conn_fds()
            if n <= target or time.monotonic() > deadline:
                return n
            time.sleep(0.05)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def close_clients(self):
        for c in self.clients:
            c.close()
        self.clients = []

    def check_fds(self):
        """Close our clients, then require the fd count (file cache aside) to return to the
        start-up count, and the cache to hold at most one fd per file and worker."""
        self.close_clients()
        if not self.alive():
            raise AssertionError("server (pid %s) is not running any more, exit status %s"
                                 % (self.pid, self.proc.poll()))
        n = self.wait_fds(self.baseline_fds)
        if n > self.baseline_fds:
            raise AssertionError("server fd count is %d after all connections closed, was %d "
                                 "at start (file cache aside) (%s)"
                                 % (n, self.baseline_fds, self.fd_list()))
        for path, k in self.cached_file_fds().items():
            if k > self.workers:
                raise AssertionError("%d fds open on %s with %d workers: a leak, not a cache "
                                     "(%s)" % (k, path, self.workers, self.fd_list()))

    def fd_list(self):
        out = []
        try:
            for fd in sorted(os.listdir("/proc/%d/fd" % self.pid), key=int):
                try:
                    out.append("%s->%s" % (fd, os.readlink("/proc/%d/fd/%s" % (self.pid, fd))))
                except OSError:
                    pass
        except OSError:
            pass
        return ", ".join(out)

    def sparse_file(self, name, size):
        """A sparse file of size zero bytes in the docroot (too large to sit in socket
        buffers: a response from it stays in flight); returns its size."""
        with open(os.path.join(self.docroot, name), "wb") as f:
            f.truncate(size)
        return size

    def send_signal(self, sig):
        os.kill(self.pid, sig)

    def reload(self, wait_for="reload: ", bound=10.0):
        """SIGHUP, then wait (bounded) until the server logs wait_for; returns what it logged
        since the signal."""
        before = len(self.log_text())
        self.send_signal(signal.SIGHUP)
        wait_until(lambda: wait_for in self.log_text()[before:], bound,
                   lambda: "%r after SIGHUP:\n%s" % (wait_for, self.log_tail()))
        return self.log_text()[before:]

    def reload_with(self, a, b):
        """Replace a by b in monkey.conf, SIGHUP, and return what the reload logged (with a
        moment for the lines that follow its first)."""
        conf = os.path.join(self.confdir, "monkey.conf")
        text = open(conf).read()
        assert a in text, text
        with open(conf, "w") as f:
            f.write(text.replace(a, b))
        before = len(self.log_text())
        self.reload()
        time.sleep(0.3)
        return self.log_text()[before:]

    def wait(self, timeout=STOP_TIMEOUT):
        """Wait for exit (bounded); returns the exit status or None if still running."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self._reap()
        return self.returncode

    def _reap(self):
        self.returncode = self.proc.returncode
        if self in LIVE:
            LIVE.remove(self)
        try:
            self.log.close()
        except Exception:
            pass

    def stop(self, check_fds=True, sig=signal.SIGTERM):
        """Check fds (optional), stop with sig by PID, then SIGKILL after a bound; the exit
        status must be 0."""
        err = None
        if check_fds and self.alive() and self.baseline_fds is not None:
            try:
                self.check_fds()
            except AssertionError as e:
                err = e
        self.close_clients()
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.send_signal(sig)
            if self.wait() is None:
                self.proc.kill()
                self.wait()
                raise AssertionError("server ignored signal %d for %.0f s; killed:\n%s"
                                     % (sig, STOP_TIMEOUT, self.log_tail()))
        else:
            self._reap()
        if self.returncode != 0:
            raise AssertionError("server exit status %s (expected 0):\n%s"
                                 % (self.returncode, self.log_tail()))
        if err:
            raise err

    def kill(self):
        self.close_clients()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        if self.proc is not None:
            self._reap()

    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.stop()
        else:
            self.kill()
        return False

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, n=30):
        lines = self.log_text().splitlines()
        return "\n".join("    | " + ln for ln in lines[-n:]) or "    | (server log empty)"

    # -- clients ------------------------------------------------------------------------------

    def client(self, host="127.0.0.1", port=None, timeout=IO_TIMEOUT):
        c = Client(port or self.port, host=host, timeout=timeout)
        self.clients.append(c)
        return c

    def request(self, data, head=False, host="127.0.0.1"):
        """One request on a fresh connection; returns the response."""
        c = self.client(host=host)
        try:
            return c.request(data, head=head)
        finally:
            c.close()
            self.clients.remove(c)

    def get(self, path="/", **kw):
        return self.request(req("GET", path, **kw))


def wait_until(cond, bound, what):
    """Poll cond() every 50 ms until it is true; fail with `what` (a string, or a callable
    giving one) after `bound` seconds."""
    deadline = time.monotonic() + bound
    while not cond():
        if time.monotonic() >= deadline:
            raise AssertionError("waited %.1f s for %s" % (bound, what() if callable(what)
                                                           else what))
        time.sleep(0.05)


def workers_of(server_items, args):
    """Worker threads the server runs: -w/--workers, else Workers, 0 meaning one per CPU."""
    n = None
    for k, v in server_items:
        if k.lower() == "workers":
            n = v
    for i, a in enumerate(args):
        if a in ("-w", "--workers") and i + 1 < len(args):
            n = args[i + 1]
        elif a.startswith("--workers="):
            n = a.split("=", 1)[1]
    try:
        n = int(n)
    except (TypeError, ValueError):
        n = 0
    return n if n > 0 else (os.cpu_count() or 1)


def probe(host, port):
    """True when the server answers an HTTP request on host:port (a TCP connect alone only
    shows that the socket listens: the kernel accepts before the workers run)."""
    try:
        with socket.create_connection((host, port), timeout=1) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            return s.recv(16).startswith(b"HTTP/")
    except OSError:
        return False


def parse_listen(v):
    """'2001', '127.0.0.1:2001', '[::1]:2001' -> (host, port) to connect to."""
    v = v.strip()
    if v.startswith("["):
        host, _, port = v[1:].partition("]:")
        return host, int(port)
    if ":" in v:
        host, port = v.rsplit(":", 1)
        return (host if host not in ("0.0.0.0", "*") else "127.0.0.1"), int(port)
    return "127.0.0.1", int(v)


# ---------------------------------------------------------------------------------------------
# assertions

IMF_FIXDATE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d "
                         r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} "
                         r"\d\d:\d\d:\d\d GMT$")


def http_date(ts):
    import email.utils
    return email.utils.formatdate(ts, usegmt=True)


def eq(a, b, what=""):
    if a != b:
        raise AssertionError("%s: expected %r, got %r" % (what or "value", b, a))


def check_error(r, status_line):
    """An error answer: exact status line, a short HTML body whose length matches."""
    if r.status_line != status_line:
        raise AssertionError("expected %r, got %r" % (status_line, r))
    cl = r.headers.get("Content-Length")
    if cl is None or int(cl) != len(r.body):
        raise AssertionError("Content-Length %r does not match the body (%d bytes): %r"
                             % (cl, len(r.body), r))
    if not r.body:
        raise AssertionError("error response without an HTML body: %r" % r)
    if not r.headers.get("Content-Type", "").startswith("text/html"):
        raise AssertionError("error body is not text/html: %r" % r)

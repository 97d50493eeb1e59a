"""Access and error logs ([LOGGER]), SIGUSR1 reopening, and the files' safety rules."""
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import struct
import subprocess
import tempfile
import threading
import time

import mkt
from mkt import req


def eq(a, b, what):
    assert a == b, "%s: got %r, expected %r" % (what, a, b)


def logged_server(access, error, extra_sites=None, conf=None):
    s = mkt.Server()
    site = (mkt.section("HOST", [("ServerName", "127.0.0.1 localhost"),
                                 ("DocumentRoot", s.docroot)]) +
            mkt.section("LOGGER", [("AccessLog", access), ("ErrorLog", error)]))
    sites = {"default": site}
    sites.update(extra_sites or {})
    mkt.write_confdir(s.confdir, mkt.merge([("Listen", "127.0.0.1:%d" % s.port)] +
                                           mkt.SERVER_DEFAULTS, conf), None, sites)
    return s


def two_logged_sites(conf=None):
    """A logged default site and a logged site "two.example" (not started):
    (server, default access, default error, two's access, two's error)."""
    d = mkt.tmpdir("logs")
    a1, e1, a2, e2 = (os.path.join(d, n) for n in ("a1.log", "e1.log", "a2.log", "e2.log"))
    s = mkt.Server()
    two = (mkt.section("HOST", [("ServerName", "two.example"), ("DocumentRoot", s.docroot)]) +
           mkt.section("LOGGER", [("AccessLog", a2), ("ErrorLog", e2)]))
    srv = logged_server(a1, e1, {"two": two}, conf)
    return srv, a1, e1, a2, e2


def wait_for_lines(path, n, bound=5.0):
    """Lines reach the disk at least once a second: wait up to `bound` for n lines."""
    deadline = time.monotonic() + bound
    while True:
        try:
            with open(path, "rb") as f:
                # the harness's start-up probe ("GET / HTTP/1.0") is not part of a test
                lines = [ln for ln in f.read().splitlines() if b'"GET / HTTP/1.0"' not in ln]
        except FileNotFoundError:
            lines = []
        if len(lines) >= n or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)


CLF = re.compile(rb'^127\.0\.0\.1 - - \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000\] '
                 rb'"(?P<line>[^"]*)" (?P<status>\d{3}) (?P<bytes>\d+|-) '
                 rb'"(?P<ref>[^"]*)" "(?P<ua>[^"]*)"$')


def test_access_and_error_log_lines():
    d = mkt.tmpdir("logs")
    access, error = os.path.join(d, "access.log"), os.path.join(d, "error.log")
    with logged_server(access, error).start() as s:
        c = mkt.Client(s.port)
        r = c.request(req("GET", "/one.txt", headers=[("User-Agent", 'ua "quoted" \\x'),
                                                      ("Referer", "http://r.example/")]))
        eq(r.status_line, "HTTP/1.1 200 OK", "status")
        r = c.request(req("GET", "/missing"))
        eq(r.status_line, "HTTP/1.1 404 Not Found", "status")
        r = c.request(req("HEAD", "/one.txt"), head=True)
        c.close()
        lines = wait_for_lines(access, 3)
        eq(len(lines), 3, "access log lines")
        m = [CLF.match(ln) for ln in lines]
        assert all(m), "not Combined Log Format: %r" % lines
        eq(m[0]["line"], b"GET /one.txt HTTP/1.1", "request line")
        eq((m[0]["status"], m[0]["bytes"]), (b"200", b"1"), "status and body bytes")
        eq(m[0]["ref"], b"http://r.example/", "referer")
        # a client cannot forge or break a line: quotes and backslashes are escaped
        eq(m[0]["ua"], b'ua \\x22quoted\\x22 \\x5Cx', "escaped user agent")
        eq((m[1]["status"], m[1]["line"]), (b"404", b"GET /missing HTTP/1.1"), "404 line")
        eq(m[2]["bytes"], b"-", "HEAD sends no body bytes")
        errs = wait_for_lines(error, 1)
        eq(len(errs), 1, "error log lines (only the 404)")
        assert b"404 Not Found" in errs[0] and b"/missing" in errs[0], errs[0]
        for p in (access, error):
            mode = stat.S_IMODE(os.stat(p).st_mode)
            assert mode & 0o007 == 0, "%s is world-accessible (mode %o)" % (p, mode)


def test_sigusr1_reopens_logs():
    d = mkt.tmpdir("logs")
    access, error = os.path.join(d, "access.log"), os.path.join(d, "error.log")
    with logged_server(access, error).start() as s:
        c = mkt.Client(s.port)
        c.request(req("GET", "/one.txt"))
        eq(len(wait_for_lines(access, 1)), 1, "first line")
        os.rename(access, access + ".1")          # what logrotate does
        s.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 5
        while not os.path.exists(access) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert os.path.exists(access), "SIGUSR1 did not create a new access log"
        c.request(req("GET", "/one.txt?second"))
        c.close()
        new = wait_for_lines(access, 1)
        old = wait_for_lines(access + ".1", 1)
        eq(len(old), 1, "rotated file keeps the old line only")
        eq(len(new), 1, "new file gets the new line")
        assert b"?second" in new[0], new


def test_log_file_symlink_refused():
    d = mkt.tmpdir("logs")
    victim = os.path.join(d, "victim")
    with open(victim, "wb") as f:
        f.write(b"precious\n")
    access = os.path.join(d, "access.log")
    os.symlink(victim, access)
    s = logged_server(access, os.path.join(d, "error.log"))
    p = mkt.run_monkey(["-c", s.confdir], timeout=10)
    assert p.returncode != 0, "the server started with a log file that is a symlink"
    assert access.encode() in p.stderr, "the error does not name the file: %r" % p.stderr
    site = os.path.join(s.confdir, "sites", "default")
    assert re.search(re.escape(site).encode() + rb":\d+: AccessLog: ", p.stderr), \
        "the error does not name the site file and line: %r" % p.stderr
    eq(open(victim, "rb").read(), b"precious\n", "the symlink target")


def test_log_file_fifo_refused_without_blocking():
    """A log path that is a FIFO blocked open(2) until a reader came: the server hung at
    start-up (and would on a reload, or in the writer on SIGUSR1)."""
    d = mkt.tmpdir("logs")
    access = os.path.join(d, "access.log")
    os.mkfifo(access)
    s = logged_server(access, os.path.join(d, "error.log"))
    try:
        p = mkt.run_monkey(["-c", s.confdir], timeout=5)
    except subprocess.TimeoutExpired:
        raise AssertionError("the server blocked on a FIFO as AccessLog")
    assert p.returncode != 0, "the server started with a log file that is a FIFO"
    site = os.path.join(s.confdir, "sites", "default")
    assert re.search(re.escape(site).encode() + rb":\d+: AccessLog: ", p.stderr), \
        "the error does not name the site file and line: %r" % p.stderr


def test_log_file_in_missing_directory_names_site_line():
    d = mkt.tmpdir("logs")
    error = os.path.join(d, "no", "such", "dir", "error.log")
    s = logged_server(os.path.join(d, "access.log"), error)
    p = mkt.run_monkey(["-c", s.confdir], timeout=10)
    assert p.returncode != 0, "the server started with an ErrorLog it cannot open"
    site = os.path.join(s.confdir, "sites", "default")
    lines = open(site).read().splitlines()
    line = next(i + 1 for i, l in enumerate(lines) if "ErrorLog" in l)
    want = ("%s:%d: ErrorLog: %s: cannot open log file: " % (site, line, error)).encode()
    assert want in p.stderr, "expected %r in %r" % (want, p.stderr)


def test_daemon_pidfile_removed_and_never_through_symlink():
    s = mkt.Server()
    pidfile = os.path.join(s.confdir, "monkey.pid")
    # 1. a planted symlink: the daemon must not write through it
    victim = os.path.join(s.dir, "victim")
    with open(victim, "wb") as f:
        f.write(b"precious\n")
    os.symlink(victim, pidfile)
    subprocess.run([mkt.MONKEY_BIN, "-c", s.confdir, "-D"], cwd=s.dir,
                   stdin=subprocess.DEVNULL, capture_output=True, timeout=15)
    time.sleep(1.0)
    eq(open(victim, "rb").read(), b"precious\n", "symlink target after -D")
    assert not mkt.probe("127.0.0.1", s.port), "a daemon runs although its pid file is unsafe"
    os.unlink(pidfile)
    # 2. a normal start: pid file written, then removed at exit
    subprocess.run([mkt.MONKEY_BIN, "-c", s.confdir, "-D"], cwd=s.dir,
                   stdin=subprocess.DEVNULL, capture_output=True, timeout=15)
    deadline = time.monotonic() + 10
    while not (os.path.exists(pidfile) and open(pidfile).read().strip()):
        assert time.monotonic() < deadline, "no pid file"
        time.sleep(0.05)
    pid = int(open(pidfile).read())
    try:
        # detached: own session, not a session leader (double fork), stdio on /dev/null
        eq(os.getsid(pid) != os.getsid(0), True, "daemon in its own session")
        assert os.getsid(pid) != pid, "daemon is a session leader (no second fork)"
        for fd in (0, 1, 2):
            eq(os.readlink("/proc/%d/fd/%d" % (pid, fd)), "/dev/null", "daemon fd %d" % fd)
    finally:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while os.path.exists("/proc/%d" % pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(pidfile), "pid file left behind after SIGTERM"


# -- started as root, serving as User nobody -------------------------------------------------

def nobody_logged_server(logdir):
    """User nobody; documents and logs in directories under /tmp that nobody can reach."""
    if os.geteuid() != 0:
        raise mkt.Skip("needs root")
    top = tempfile.mkdtemp(prefix="monkey-logs-", dir="/tmp")
    os.chmod(top, 0o755)
    www = os.path.join(top, "www")
    os.makedirs(www)
    with open(os.path.join(www, "one.txt"), "wb") as f:
        f.write(b"x")
    os.chmod(www, 0o755)
    os.chmod(os.path.join(www, "one.txt"), 0o644)
    d = os.path.join(top, logdir)
    os.makedirs(d)
    os.chmod(d, 0o755)
    access, error = os.path.join(d, "access.log"), os.path.join(d, "error.log")
    s = mkt.Server(conf={"User": "nobody"})
    site = (mkt.section("HOST", [("ServerName", "127.0.0.1 localhost"), ("DocumentRoot", www)]) +
            mkt.section("LOGGER", [("AccessLog", access), ("ErrorLog", error)]))
    mkt.write_confdir(s.confdir, mkt.merge([("Listen", "127.0.0.1:%d" % s.port)] +
                                           mkt.SERVER_DEFAULTS, {"User": "nobody"}),
                      None, {"default": site})
    return s, top, d, access, error


def test_sigusr1_reopen_failure_reported_and_old_file_kept():
    s, top, d, access, error = nobody_logged_server("root-owned")
    try:
        with s.start():
            c = mkt.Client(s.port)
            c.request(req("GET", "/one.txt"))
            eq(len(wait_for_lines(access, 1)), 1, "first line")
            os.rename(access, access + ".1")      # logrotate, in a directory nobody cannot write
            s.send_signal(signal.SIGUSR1)
            deadline = time.monotonic() + 5
            want = "cannot reopen log file '%s': Permission denied" % access
            while want not in s.log_text():
                assert time.monotonic() < deadline, \
                    "no report of the failed reopen on stderr:\n%s" % s.log_tail()
                time.sleep(0.05)
            c.request(req("GET", "/one.txt?second"))
            c.close()
            old = wait_for_lines(access + ".1", 2)
            eq(len(old), 2, "lines in the file opened before (no line lost)")
            assert b"?second" in old[1], old
            assert not os.path.exists(access), "a file was created although the dir is root's"
            # in daemon mode stderr is /dev/null: the error log says it too
            errs = wait_for_lines(error, 1)
            assert any(want.encode() in ln for ln in errs), "not in the error log: %r" % errs
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_log_files_given_to_user_and_recreated_by_sigusr1():
    s, top, d, access, error = nobody_logged_server("nobody-owned")
    nobody = pwd.getpwnam("nobody")
    os.chown(d, nobody.pw_uid, nobody.pw_gid)  # README: the log directory writable by User
    try:
        with s.start():
            for p in (access, error):
                eq(os.stat(p).st_uid, nobody.pw_uid, "owner of " + p)
            c = mkt.Client(s.port)
            c.request(req("GET", "/one.txt"))
            eq(len(wait_for_lines(access, 1)), 1, "first line")
            os.rename(access, access + ".1")
            s.send_signal(signal.SIGUSR1)
            deadline = time.monotonic() + 5
            while not os.path.exists(access):
                assert time.monotonic() < deadline, "SIGUSR1 did not create a new access log"
                time.sleep(0.05)
            c.request(req("GET", "/one.txt?second"))
            c.close()
            new = wait_for_lines(access, 1)
            eq(len(new), 1, "new file gets the new line")
            assert b"?second" in new[0], new
            eq(len(wait_for_lines(access + ".1", 1)), 1, "rotated file keeps the old line")
            time.sleep(0.3)
            assert "cannot reopen" not in s.log_text(), s.log_tail()
    finally:
        shutil.rmtree(top, ignore_errors=True)


@mkt.timeout(60)
def test_access_log_on_a_full_disk_is_reported():
    """The access log on a file system that fills up: the lines that cannot be written were
    dropped without a word (write() failing with ENOSPC was ignored), so an operator had a
    log with holes and nothing telling him.  Now the loss is said on stderr and in the error
    log (at most once every 10 s per file), and the server keeps serving."""
    if os.geteuid() != 0:
        raise mkt.Skip("mounting a small tmpfs needs root")
    full = mkt.tmpdir("full")
    rc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", full],
                        capture_output=True, timeout=10)
    if rc.returncode != 0:
        raise mkt.Skip("cannot mount a tmpfs: %s" % rc.stderr.decode(errors="replace").strip())
    try:
        d = mkt.tmpdir("logs")
        access, error = os.path.join(full, "access.log"), os.path.join(d, "error.log")
        with logged_server(access, error).start() as s:
            eq(s.get("/one.txt").status, 200, "before the disk is full")
            eq(len(wait_for_lines(access, 1)), 1, "a line before the disk is full")
            with open(os.path.join(full, "fill"), "wb") as f:
                try:
                    f.write(b"\0" * (1 << 20))
                except OSError:
                    pass  # ENOSPC: full
            c = mkt.Client(s.port)
            for i in range(40):
                r = c.request(req("GET", "/one.txt?" + "q" * 2000 + str(i)))
                eq(r.status, 200, "request %d on a full disk" % i)
            c.close()
            want = "log file '%s': write failed: No space left on device" % access
            deadline = time.monotonic() + 5
            while want not in s.log_text():
                assert time.monotonic() < deadline, \
                    "no report of the lost access log lines on stderr:\n%s" % s.log_tail()
                time.sleep(0.05)
            errs = wait_for_lines(error, 1)
            assert any(want.encode() in ln for ln in errs), "not in the error log: %r" % errs
            eq(s.log_text().count(want), 1, "reports within 10 s")
            eq(s.get("/one.txt").status, 200, "served after the losses")
    finally:
        subprocess.run(["umount", full], capture_output=True, timeout=10)


def threads(pid):
    return len(os.listdir("/proc/%d/task" % pid))


def test_reload_that_brings_the_first_log_file_starts_the_log_writer():
    """Started without any log file the server runs no log thread; a reload that adds the
    first AccessLog must start it, or the workers write to the disk themselves (and SIGUSR1
    reopens the files under their feet, from the main thread)."""
    d = mkt.tmpdir("logs")
    access = os.path.join(d, "access.log")
    with mkt.Server(conf={"Workers": "1", "GracePeriod": "0"}).start() as s:
        # main and one worker, plus what runtimes add (TSan: one, a traced build's LTTng: two)
        eq(s.get("/one.txt").status, 200, "served before the reload")
        base = threads(s.pid)
        site = os.path.join(s.confdir, "sites", "default")
        with open(site, "a") as f:
            f.write(mkt.section("LOGGER", [("AccessLog", access)]))
        s.reload("configuration re-read")
        deadline = time.monotonic() + 5   # the previous worker leaves (GracePeriod 0)
        while threads(s.pid) != base + 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        eq(threads(s.pid), base + 1, "threads after the reload: one more, the log writer")
        s.baseline_fds = s.settled_fds()  # the access log is one more
        s.get("/one.txt")
        eq(len(wait_for_lines(access, 1)), 1, "access log line")


def test_forty_sites_with_their_own_logs_start():
    """Sites may be many (256); each with an AccessLog and an ErrorLog must not hit a
    smaller limit on log files (it was 64: a 33rd such site stopped the server)."""
    d = mkt.tmpdir("logs")
    s = mkt.Server()
    sites = {}
    for i in range(40):
        sites["site%02d" % i] = (
            mkt.section("HOST", [("ServerName", "s%d.test" % i), ("DocumentRoot", s.docroot)]) +
            mkt.section("LOGGER", [("AccessLog", os.path.join(d, "a%d.log" % i)),
                                   ("ErrorLog", os.path.join(d, "e%d.log" % i))]))
    mkt.write_confdir(s.confdir, mkt.merge([("Listen", "127.0.0.1:%d" % s.port)] +
                                           mkt.SERVER_DEFAULTS, None),
                      [("ServerName", "127.0.0.1 localhost"), ("DocumentRoot", s.docroot)],
                      sites)
    with s.start():
        eq(s.get("/one.txt", host="s39.test").status_line, "HTTP/1.1 200 OK", "last site")
        eq(len(wait_for_lines(os.path.join(d, "a39.log"), 1)), 1, "its access log")


# The log thread's reopen made slow (each log file it creates waits 100 ms), and so the daemon's
# mirror of a refused reload (each error log it writes to waits 250 ms with the descriptor in
# hand): the two then overlap every time, as they can by chance on a busy server.
SLOW_REOPEN_SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static int is_main(void) { return gettid() == getpid(); }

/* Looked up once, before main: dlsym() inside open() would wait for the loader's lock, which
 * a dlopen() in another thread (the tracepoint provider's) may hold while it waits for us. */
static int (*real_open)(const char *, int, ...), (*real_open64)(const char *, int, ...);
static ssize_t (*real_write)(int, const void *, size_t);

__attribute__((constructor)) static void init(void)
{
    real_open = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
    real_open64 = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open64");
    real_write = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
}

static int slow_open(int (*real)(const char *, int, ...), const char *path, int flags,
                     va_list ap)
{
    mode_t mode = (flags & O_CREAT) ? (mode_t)va_arg(ap, int) : 0;
    size_t n = strlen(path);
    if (!is_main() && (flags & O_CREAT) && n > 4 && strcmp(path + n - 4, ".log") == 0)
        usleep(100000);
    return real(path, flags, mode);
}

int open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    int fd = slow_open(real_open, path, flags, ap);
    va_end(ap);
    return fd;
}

int open64(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    int fd = slow_open(real_open64, path, flags, ap);
    va_end(ap);
    return fd;
}

ssize_t write(int fd, const void *p, size_t n)
{
    if (fd > 2 && is_main() && memmem(p, n, "stays in place", 14))
        usleep(250000);
    return real_write(fd, p, n);
}
"""


@mkt.timeout(60)
def test_reopen_never_closes_a_log_under_the_mirror():
    """In daemon mode a refused reload is written to every error log from the main thread
    (mk_logfile_notice, under the lock) while the log thread may be reopening the files after
    a SIGUSR1.  The reopen swapped and closed the descriptors without the lock: the mirror
    wrote to a descriptor just closed (the line lost) or already reused by the next file the
    reopen opened (the line in another site's access log).  TSan reported the race."""
    s = mkt.Server()
    env = mkt.preload_env("slowreopen", SLOW_REOPEN_SHIM)
    d = mkt.tmpdir("logs")
    sites = {}
    for i in range(2):
        names = "127.0.0.1 localhost" if i == 0 else "s%d.test" % i
        sites["site%d" % i] = (
            mkt.section("HOST", [("ServerName", names), ("DocumentRoot", s.docroot)]) +
            mkt.section("LOGGER", [("AccessLog", os.path.join(d, "a%d.log" % i)),
                                   ("ErrorLog", os.path.join(d, "e%d.log" % i))]))
    os.remove(os.path.join(s.confdir, "sites", "default"))
    mkt.write_confdir(s.confdir, mkt.merge([("Listen", "127.0.0.1:%d" % s.port)] +
                                           mkt.SERVER_DEFAULTS, None), None, sites)
    pidfile = os.path.join(s.confdir, "monkey.pid")
    p = subprocess.run([mkt.MONKEY_BIN, "-c", s.confdir, "-D"], cwd=s.dir, env=env,
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=15)
    eq(p.returncode, 0, "launcher exit status (stderr %r)" % p.stderr)
    with open(pidfile) as f:
        pid = int(f.read())
    try:
        with open(os.path.join(s.confdir, "monkey.conf"), "a") as f:
            f.write("    Bogus 1\n")
        for name in os.listdir(d):
            os.rename(os.path.join(d, name), os.path.join(d, name + ".1"))
        os.kill(pid, signal.SIGUSR1)       # the log thread reopens: 100 ms per file
        time.sleep(0.05)
        os.kill(pid, signal.SIGHUP)        # refused: mirrored while the reopen runs
        want = b"the running configuration stays in place"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            time.sleep(0.1)
            if all(os.path.exists(os.path.join(d, "%s%d.log" % (k, i)))
                   for k in "ae" for i in range(2)):
                break
        time.sleep(1)                      # the mirror's last write (250 ms each)
        text = {}
        for name in sorted(os.listdir(d)):
            with open(os.path.join(d, name), "rb") as f:
                text[name] = f.read()
        for i in range(2):
            got = text.get("e%d.log" % i, b"") + text.get("e%d.log.1" % i, b"")
            eq(got.count(want), 1, "the refused reload in error log %d (files %r)" % (i, text))
            got = text.get("a%d.log" % i, b"") + text.get("a%d.log.1" % i, b"")
            assert want not in got, "an error line in access log %d: %r" % (i, text)
    finally:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while os.path.exists("/proc/%d" % pid) and time.monotonic() < deadline:
            time.sleep(0.05)


def test_many_sites_logs_lose_no_line_at_the_tick():
    """Once a second a worker hands over one buffer per log file it wrote to.  The queue to
    the log thread held 256 buffers and dropped the rest, in silence: 250 sites with an
    AccessLog and an ErrorLog, one 404 each, and a third of the lines never reached the
    disk, which was idle.  The queue is bounded in bytes now."""
    d = mkt.tmpdir("logs")
    n = 250
    s = mkt.Server(conf={"Workers": "1"})
    sites = {}
    for i in range(n):
        sites["site%03d" % i] = (
            mkt.section("HOST", [("ServerName", "s%d.test" % i), ("DocumentRoot", s.docroot)]) +
            mkt.section("LOGGER", [("AccessLog", os.path.join(d, "a%03d.log" % i)),
                                   ("ErrorLog", os.path.join(d, "e%03d.log" % i))]))
    mkt.write_confdir(s.confdir, mkt.merge([("Listen", "127.0.0.1:%d" % s.port)] +
                                           mkt.SERVER_DEFAULTS, {"Workers": "1"}),
                      [("ServerName", "127.0.0.1 localhost"), ("DocumentRoot", s.docroot)],
                      sites)
    with s.start():
        c = s.client()
        for i in range(n):
            eq(c.request(req("GET", "/missing", host="s%d.test" % i)).status, 404, "site %d" % i)
        c.close()
        for i in (0, n - 1):
            eq(len(wait_for_lines(os.path.join(d, "a%03d.log" % i), 1)), 1, "access log %d" % i)
        time.sleep(1.5)   # the tick after the last line
        for kind in "ae":
            lost = [i for i in range(n)
                    if len(wait_for_lines(os.path.join(d, "%s%03d.log" % (kind, i)), 1, 0)) != 1]
            eq(lost, [], "sites whose %s log lacks its line" % kind)


# The first write to a file named access.log after the file $MK_STALL_LOG appears takes 4 s
# (a disk that stops keeping up); $MK_STALL_LOG.stalled says the write has begun.
STALL_SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Looked up before main: dlsym() in write() could wait for the loader's lock (see above). */
static ssize_t (*real)(int, const void *, size_t);

__attribute__((constructor)) static void init(void)
{
    real = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
}

ssize_t write(int fd, const void *p, size_t n)
{
    static int done;
    const char *trigger = getenv("MK_STALL_LOG");
    if (trigger && fd > 2 && !__atomic_load_n(&done, __ATOMIC_RELAXED)) {
        char link[64], target[4096], mark[4200];
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        ssize_t k = readlink(link, target, sizeof(target) - 1);
        if (k > 11 && (target[k] = 0, strcmp(target + k - 11, "/access.log") == 0) &&
            unlink(trigger) == 0) {
            __atomic_store_n(&done, 1, __ATOMIC_RELAXED);
            snprintf(mark, sizeof(mark), "%s.stalled", trigger);
            close(open(mark, O_WRONLY | O_CREAT, 0600));
            sleep(4);
        }
    }
    return real(fd, p, n);
}
"""


@mkt.timeout(60)
def test_lines_dropped_behind_a_slow_disk_are_reported():
    """Lines wait for the disk in memory up to 16 MiB; past that, workers drop them rather
    than wait.  Those drops were counted and never said: a log with holes and no word of
    it.  Once the writer is back from the stalled write, the loss is said on stderr and in
    the error log, as for writes the disk refuses."""
    d = mkt.tmpdir("logs")
    access, error = os.path.join(d, "access.log"), os.path.join(d, "error.log")
    trigger = os.path.join(d, "stall")
    s = logged_server(access, error)
    s.env = mkt.preload_env("stall", STALL_SHIM, MK_STALL_LOG=trigger)
    with s.start():
        eq(s.get("/one.txt").status, 200, "before the stall")
        open(trigger, "w").close()
        eq(s.get("/one.txt").status, 200, "the request whose line stalls the writer")
        deadline = time.monotonic() + 5
        while not os.path.exists(trigger + ".stalled"):
            assert time.monotonic() < deadline, "the writer never wrote the access log"
            time.sleep(0.05)
        # ~1.1 KiB of log line each: 20 000 of them are 22 MB, past the 16 MiB that may wait.
        one = req("GET", "/one.txt?" + "q" * 1000)
        n, per_conn = 20000, 1000  # MaxKeepAliveRequest 1000: it closes after the last
        got = 0
        for _ in range(n // per_conn):
            k = socket.create_connection(("127.0.0.1", s.port), timeout=20)
            try:
                sender = threading.Thread(target=k.sendall, args=(one * per_conn,))
                sender.start()
                data = []
                while True:
                    b = k.recv(1 << 20)
                    if not b:
                        break
                    data.append(b)
                got += b"".join(data).count(b"HTTP/1.1 200 OK")
                sender.join(20)
            finally:
                k.close()
        eq(got, n, "answers while the disk is stalled")
        want = "log file '%s': the disk did not keep up" % access
        deadline = time.monotonic() + 15
        while want not in s.log_text():
            assert time.monotonic() < deadline, "no report of the dropped lines:\n" + s.log_tail()
            time.sleep(0.1)
        line = [ln for ln in s.log_text().splitlines() if want in ln][0]
        assert re.search(r"; [1-9][0-9]* buffers? lost since the last report$", line), line
        assert any(want.encode() in ln for ln in wait_for_lines(error, 1)), "not in the error log"
        eq(s.get("/one.txt").status, 200, "served after the stall")


def test_reload_that_drops_a_log_file_stops_reopening_it():
    """Log files are kept open for the whole run (the old workers may still write), but once a
    reload has moved a site's logs elsewhere, SIGUSR1 recreated the old AccessLog and ErrorLog
    after a rotation, and the dropped ErrorLog kept hearing the server's notices.  A later
    reload that names a dropped file again writes to it anew, not to its rotated copy."""
    d = mkt.tmpdir("logs")
    a1, e1 = os.path.join(d, "a1.log"), os.path.join(d, "e1.log")
    a2, e2 = os.path.join(d, "a2.log"), os.path.join(d, "e2.log")
    s = logged_server(a1, e1)
    site = os.path.join(s.confdir, "sites", "default")

    def write_site(access, error):
        with open(site, "w") as f:
            f.write(mkt.section("HOST", [("ServerName", "127.0.0.1 localhost"),
                                         ("DocumentRoot", s.docroot)]) +
                    mkt.section("LOGGER", [("AccessLog", access), ("ErrorLog", error)]))

    with s.start():
        eq(s.get("/one.txt").status, 200, "served with a1")
        eq(len(wait_for_lines(a1, 1)), 1, "line in a1")
        write_site(a2, e2)
        s.reload("configuration re-read")
        s.baseline_fds = s.settled_fds()         # two log files more
        os.rename(a1, a1 + ".1")                  # logrotate of every *.log
        os.rename(e1, e1 + ".1")
        os.rename(a2, a2 + ".1")
        os.mkdir(a2)                              # a2 cannot be reopened: a notice
        want = "cannot reopen log file '%s'" % a2
        before = len(s.log_text())
        s.send_signal(signal.SIGUSR1)
        mkt.wait_until(lambda: want in s.log_text()[before:], 5,
                       lambda: "no report of the failed reopen:\n%s" % s.log_tail())
        errs = wait_for_lines(e2, 1)
        assert any(want.encode() in ln for ln in errs), "not in the new error log: %r" % errs
        time.sleep(0.3)
        assert not os.path.exists(a1), "SIGUSR1 recreated the AccessLog a reload dropped"
        assert not os.path.exists(e1), "SIGUSR1 recreated the ErrorLog a reload dropped"
        with open(e1 + ".1", "rb") as f:
            old = f.read()
        assert want.encode() not in old, "the dropped ErrorLog was told: %r" % old
        os.rmdir(a2)
        write_site(a1, e1)                        # back to a1, rotated meanwhile
        s.reload("configuration re-read")
        eq(s.get("/one.txt?back").status, 200, "served with a1 again")
        lines = wait_for_lines(a1, 1)
        eq(len(lines), 1, "line in the new a1")
        assert b"?back" in lines[0], lines
        with open(a1 + ".1", "rb") as f:
            assert b"?back" not in f.read(), "line written to the rotated a1"


def big_file_server(name):
    """A logged server (not started) with a 64 MiB file `name`: (server, access log, size)."""
    d = mkt.tmpdir("logs")
    access, error = os.path.join(d, "access.log"), os.path.join(d, "error.log")
    srv = logged_server(access, error)
    return srv, access, srv.sparse_file(name, 64 << 20)


def small_window_client(s, request):
    """A client with a 4 KiB receive window (set before connect), the request sent."""
    k = socket.socket()
    k.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    k.settimeout(10)
    k.connect(("127.0.0.1", s.port))
    k.sendall(request)
    return k


def test_response_cut_short_is_logged_with_the_body_bytes_sent():
    """A response that does not reach its end still has its access-log line (as nginx's and
    Apache's), with the status and the body bytes sent, the head not counted: here the file
    shrinks while it is sent, and the client counts every body byte it got before the close."""
    srv, access, size = big_file_server("shrinks.bin")
    with srv.start() as s:
        k = small_window_client(s, req("GET", "/shrinks.bin", headers=[("User-Agent", "cut")]))
        got = b""
        while b"\r\n\r\n" not in got:
            data = k.recv(4096)
            assert data, "closed before the head: %r" % got
            got += data
        head, body = got.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 200 OK\r\n"), head
        assert b"\r\nContent-Length: %d\r\n" % size in head + b"\r\n", head
        time.sleep(0.3)                       # the server waits for room in the socket
        os.truncate(os.path.join(s.docroot, "shrinks.bin"), 0)
        body = len(body)
        while True:                           # the server closes once the file ends
            data = k.recv(1 << 20)
            if not data:
                break
            body += len(data)
        k.close()
        assert 0 < body < size, "body bytes received: %d" % body
        lines = wait_for_lines(access, 1)
        eq(len(lines), 1, "access log lines (the cut response has one)")
        m = CLF.match(lines[0])
        assert m, "not Combined Log Format: %r" % lines
        eq((m["line"], m["status"], m["ua"]), (b"GET /shrinks.bin HTTP/1.1", b"200", b"cut"),
           "request, status and user agent")
        eq(m["bytes"], str(body).encode(), "body bytes sent (the head not counted)")


def test_response_reset_by_the_client_is_logged():
    srv, access, size = big_file_server("huge.bin")
    with srv.start() as s:
        k = small_window_client(s, req("GET", "/huge.bin"))
        assert k.recv(100).startswith(b"HTTP/1.1 200 OK"), "no response"
        time.sleep(0.3)
        k.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        k.close()                             # RST in the middle of the body
        lines = wait_for_lines(access, 1)
        eq(len(lines), 1, "access log lines (the reset response has one)")
        m = CLF.match(lines[0])
        assert m, "not Combined Log Format: %r" % lines
        eq((m["line"], m["status"]), (b"GET /huge.bin HTTP/1.1", b"200"), "request and status")
        assert m["bytes"] != b"-" and 0 < int(m["bytes"]) < size, m["bytes"]


def test_first_user_agent_and_referer_are_logged():
    """Given twice, User-Agent and Referer are logged as nginx logs them: the first one."""
    d = mkt.tmpdir("logs")
    access, error = os.path.join(d, "access.log"), os.path.join(d, "error.log")
    with logged_server(access, error).start() as s:
        c = mkt.Client(s.port)
        r = c.request(req("GET", "/one.txt", headers=[
            ("User-Agent", "first-ua"), ("Referer", "http://first/"),
            ("User-Agent", "second-ua"), ("Referer", "http://second/")]))
        eq(r.status, 200, "status")
        c.close()
        lines = wait_for_lines(access, 1)
        eq(len(lines), 1, "access log lines")
        m = CLF.match(lines[0])
        assert m, "not Combined Log Format: %r" % lines
        eq((m["ref"], m["ua"]), (b"http://first/", b"first-ua"), "referer and user agent")


def test_refused_request_is_logged_under_the_site_its_host_names():
    """A request refused after its Host was read (and found valid) is logged by the site the
    Host names, as nginx logs it; one whose Host is missing, malformed or not read yet goes
    to the default site's logs."""
    srv, a1, e1, a2, e2 = two_logged_sites()
    with srv.start() as s:
        refused = [
            # (request, status, site that logs it)
            (b"GET /bad-field HTTP/1.1\r\nHost: two.example\r\nBad Field: x\r\n\r\n", 400, 2),
            (b"GET /dup-host HTTP/1.1\r\nHost: two.example\r\nHost: two.example\r\n\r\n",
             400, 2),
            (b"POST /big HTTP/1.1\r\nHost: two.example\r\nContent-Length: 99999999\r\n\r\n",
             413, 2),
            (b"POST /no-length HTTP/1.1\r\nHost: two.example\r\n\r\n", 411, 2),
            (b"GET /bad-chunk HTTP/1.1\r\nHost: two.example\r\nTransfer-Encoding: chunked"
             b"\r\n\r\nzz\r\n", 400, 2),
            (b"GET http://two.example/abs HTTP/1.1\r\nHost: x\r\nBad Field: x\r\n\r\n", 400, 2),
            (b"GET /bad-host HTTP/1.1\r\nHost: two..example\r\n\r\n", 400, 1),
            (b"GET /field-first HTTP/1.1\r\nBad Field: x\r\nHost: two.example\r\n\r\n",
             400, 1),
            (b"GET http://two..example/bad-abs HTTP/1.1\r\nHost: two.example\r\n\r\n", 400, 1),
        ]
        for raw, status, _ in refused:
            c = mkt.Client(s.port)
            c.send(raw)
            eq(c.recv_response().status, status, "status of %r" % raw)
            c.close()
        want = {1: [], 2: []}
        for raw, status, site in refused:
            want[site].append((raw.split(b"\r\n")[0], str(status).encode()))
        for site, access, error in ((1, a1, e1), (2, a2, e2)):
            lines = wait_for_lines(access, len(want[site]))
            m = [CLF.match(ln) for ln in lines]
            assert all(m), "not Combined Log Format: %r" % lines
            eq(sorted((x["line"], x["status"]) for x in m), sorted(want[site]),
               "site %d access log" % site)
            errs = wait_for_lines(error, len(want[site]))
            eq(len(errs), len(want[site]), "site %d error log lines: %r" % (site, errs))


@mkt.timeout(40)
def test_request_head_timeout_is_logged_as_408():
    """A request head that does not arrive within Timeout has an access-log line with 408 (and
    an error-log line), under the site its Host names when the head got that far, as nginx
    logs it; a connection that sent nothing, or an idle keep-alive one, has none."""
    srv, a1, e1, a2, e2 = two_logged_sites({"Timeout": "2", "KeepAliveTimeout": "1"})
    with srv.start() as s:
        idle = mkt.Client(s.port)                         # sends nothing
        kept = mkt.Client(s.port)
        eq(kept.request(req("GET", "/one.txt?kept")).status, 200, "kept-alive request")
        partial = mkt.Client(s.port)
        partial.send(b"GET /partial HTTP/1.1\r\nUser-Agent: slow")
        absolute = mkt.Client(s.port)
        absolute.send(b"GET http://two.example/partial2 HTTP/1.1\r\nHost: two.e")
        for c in (partial, absolute):
            r = c.recv_response(timeout=10)
            eq(r.status, 408, "timed out request")
            assert c.is_closed(), "the connection stays open after its 408"
        for c in (idle, kept):
            assert c.is_closed(timeout=10), "an idle connection stays open"
        for c in (idle, kept, partial, absolute):
            c.close()
        time.sleep(1.2)                                   # the writer's next flush
        lines = wait_for_lines(a1, 2)
        m = [CLF.match(ln) for ln in lines]
        assert all(m), "not Combined Log Format: %r" % lines
        eq([(x["line"], x["status"], x["bytes"]) for x in m],
           [(b"GET /one.txt?kept HTTP/1.1", b"200", b"1"),
            (b"GET /partial HTTP/1.1", b"408", b"-")], "default site's access log")
        errs = wait_for_lines(e1, 1)
        eq(len(errs), 1, "default site's error log lines: %r" % errs)
        assert b"408 Request Timeout" in errs[0] and b"/partial" in errs[0], errs
        lines = wait_for_lines(a2, 1)
        eq(len(lines), 1, "two.example's access log lines: %r" % lines)
        m = CLF.match(lines[0])
        assert m, "not Combined Log Format: %r" % lines
        eq((m["line"], m["status"]), (b"GET http://two.example/partial2 HTTP/1.1", b"408"),
           "two.example's 408")


@mkt.timeout(40)
def test_refused_head_in_pieces_is_logged_under_its_absolute_form_site():
    """A request line sent in two reads (a slow client, the usual 408) names its site by an
    absolute-form target as one sent at once does: the resumed parses look only at the new
    bytes, so the authority was never read and the 408, or a 400 found in a later read, went
    to the default site's logs."""
    srv, a1, e1, a2, e2 = two_logged_sites({"Timeout": "2", "KeepAliveTimeout": "1"})
    with srv.start() as s:
        slow = mkt.Client(s.port)
        slow.send(b"GET http://two.exa")
        bad = mkt.Client(s.port)
        bad.send(b"GET http://two.exa")
        time.sleep(0.3)  # each piece its own read
        slow.send(b"mple/slow HTTP/1.1\r\nHost: two.e")
        bad.send(b"mple/bad HTTP/1.1\r\nHost: two.example\r\nX: a\rb")
        eq(bad.recv_response(timeout=10).status, 400, "bare CR in a later read")
        eq(slow.recv_response(timeout=10).status, 408, "timed out request")
        for c in (slow, bad):
            c.close()
        lines = wait_for_lines(a2, 2)
        m = [CLF.match(ln) for ln in lines]
        assert all(m), "not Combined Log Format: %r" % lines
        eq(sorted((x["line"], x["status"]) for x in m),
           [(b"GET http://two.example/bad HTTP/1.1", b"400"),
            (b"GET http://two.example/slow HTTP/1.1", b"408")], "two.example's access log")
        eq(len(wait_for_lines(e2, 2)), 2, "two.example's error log lines")
        time.sleep(1.2)  # the writer's next flush: nothing of theirs in the default logs
        for path in (a1, e1):
            with open(path, "rb") as f:
                text = f.read()
            assert b"/slow" not in text and b"/bad" not in text, "%s: %r" % (path, text)


def test_request_body_cut_or_timed_out_is_logged():
    """A request whose body does not arrive has its access-log line (and error-log line), as
    nginx 1.22 logs it when it reads a body: 408 when it does not come within Timeout, 400
    when the client closes or resets the connection before its end; under the site its Host
    names.  Before, none of the three had any line."""
    srv, a1, e1, a2, e2 = two_logged_sites({"Timeout": "2"})
    with srv.start() as s:
        slow = mkt.Client(s.port)
        slow.send(b"POST /slow HTTP/1.1\r\nHost: two.example\r\nUser-Agent: slow\r\n"
                  b"Content-Length: 100\r\n\r\n0123456789")
        gone = mkt.Client(s.port)
        gone.send(b"POST /gone HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n0123")
        reset = mkt.Client(s.port)
        reset.send(b"PUT /reset HTTP/1.1\r\nHost: two.example\r\nTransfer-Encoding: chunked"
                   b"\r\n\r\n10\r\n0123")
        time.sleep(0.3)                                   # the server reads what was sent
        gone.close()
        reset.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        reset.close()
        eq(slow.recv_response(timeout=10).status, 408, "a body that does not arrive")
        assert slow.is_closed(), "the connection stays open after its 408"
        slow.close()
        lines = wait_for_lines(a1, 1)
        m = [CLF.match(ln) for ln in lines]
        assert all(m), "not Combined Log Format: %r" % lines
        eq([(x["line"], x["status"], x["bytes"]) for x in m],
           [(b"POST /gone HTTP/1.1", b"400", b"-")], "default site's access log")
        errs = wait_for_lines(e1, 1)
        assert len(errs) == 1 and b"400 Bad Request" in errs[0], errs
        lines = wait_for_lines(a2, 2)
        m = [CLF.match(ln) for ln in lines]
        assert all(m), "not Combined Log Format: %r" % lines
        eq(sorted((x["line"], x["status"], x["ua"]) for x in m),
           [(b"POST /slow HTTP/1.1", b"408", b"slow"), (b"PUT /reset HTTP/1.1", b"400", b"-")],
           "two.example's access log")
        errs = wait_for_lines(e2, 2)
        eq(len(errs), 2, "two.example's error log lines: %r" % errs)


def test_long_fields_kept_to_4096_bytes_and_a_cut_is_marked():
    """nginx keeps a request line and headers whole; ours are kept up to 4096 bytes each, and
    a field cut there ends in "..." (before: 1024 bytes, with nothing to tell the cut)."""
    d = mkt.tmpdir("logs")
    access, error = os.path.join(d, "access.log"), os.path.join(d, "error.log")
    with logged_server(access, error).start() as s:
        c = mkt.Client(s.port)
        path = "/" + "a" * 3000
        r = c.request(req("GET", path, headers=[("User-Agent", "u" * 6000),
                                                ("Referer", "r" * 4096)]))
        eq(r.status, 404, "status")
        c.close()
        lines = wait_for_lines(access, 1)
        eq(len(lines), 1, "access log lines")
        m = CLF.match(lines[0])
        assert m, "not Combined Log Format: %r" % lines[0][:200]
        eq(m["line"], b"GET %s HTTP/1.1" % path.encode(), "request line (3014 bytes, whole)")
        eq(m["ref"], b"r" * 4096, "referer of 4096 bytes (whole, no mark)")
        eq(m["ua"], b"u" * 4096 + b"...", "user agent of 6000 bytes (cut, marked)")


@mkt.timeout(50)
def test_connections_refused_at_max_connections_are_reported():
    """The 503 of a connection refused at MaxConnections was in no log.  It is said in the error
    logs (and on stderr), at most once every 10 s, with the number refused: the first refusal
    at once, the rest of a burst within about 10 s.  No access-log line per refusal (no
    request was read; nginx writes none either, only "worker_connections are not enough")."""
    srv, a1, e1, a2, e2 = two_logged_sites({"MaxConnections": "2", "Workers": "1",
                                            "Timeout": "30", "KeepAliveTimeout": "30"})
    with srv.start() as s:
        busy = []
        for _ in range(2):                                # two requests in progress: not idle
            c = mkt.Client(s.port)
            c.send(b"GET /one.txt HTTP/1.1\r\n")
            busy.append(c)
        deadline = time.monotonic() + 5
        while s.conn_fds() < s.baseline_fds + 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        for i in range(3):
            c = mkt.Client(s.port)
            c.send(req("GET", "/one.txt"))
            eq(c.recv_response(timeout=10).status, 503, "refused connection %d" % i)
            c.close()
        first = b"MaxConnections 2 reached: 1 new connection refused with 503"
        for err in (e1, e2):
            errs = wait_for_lines(err, 1)
            assert len(errs) == 1 and b"[warn] " + first in errs[0], (err, errs)
        summary = b"MaxConnections 2 reached: 2 new connections refused with 503"
        errs = wait_for_lines(e1, 2, bound=15.0)          # the 10 s interval, then a tick
        assert len(errs) == 2 and summary in errs[1], errs
        for c in busy:
            eq(c.request(b"Host: localhost\r\n\r\n").status, 200, "a busy connection")
            c.close()
        lines = wait_for_lines(a1, 2)
        eq(len(lines), 2, "access log lines (the two served, none per refusal): %r" % lines)
        eq(wait_for_lines(a2, 1, bound=0.5), [], "two.example's access log")


@mkt.timeout(40)
def test_refusals_held_back_are_reported_at_shutdown():
    """Refusals at MaxConnections held back by the 10 s interval were lost when the server
    stopped before it: the error log said 1 of 3.  Each refusal is said once, the rest of a
    burst by the stop at the latest."""
    srv, a1, e1, a2, e2 = two_logged_sites({"MaxConnections": "1", "Workers": "1",
                                            "Timeout": "30", "KeepAliveTimeout": "30",
                                            "GracePeriod": "1"})
    with srv.start() as s:
        busy = mkt.Client(s.port)
        busy.send(b"GET /one.txt HTTP/1.1\r\n")           # a request in progress: not idle
        mkt.wait_until(lambda: s.conn_fds() >= s.baseline_fds + 1, 5, "the busy connection")
        for i in range(3):
            c = mkt.Client(s.port)
            c.send(req("GET", "/one.txt"))
            eq(c.recv_response(timeout=10).status, 503, "refused connection %d" % i)
            c.close()
        eq(len(wait_for_lines(e1, 1)), 1, "the first refusal's line")
        busy.close()
        s.stop(check_fds=False)
    for err in (e1, e2):
        errs = wait_for_lines(err, 2, bound=1.0)
        eq(len(errs), 2, "error log lines in %s: %r" % (err, errs))
        assert b"MaxConnections 1 reached: 1 new connection refused" in errs[0], errs
        assert b"MaxConnections 1 reached: 2 new connections refused" in errs[1], errs

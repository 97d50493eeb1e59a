"""-D: the launcher's exit status tells whether the daemon serves, and the pid file is safe,
0640, written before the launcher exits, kept for the whole run and gone (or empty) at exit."""
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import time

import mkt
from mkt import req


def eq(a, b, what):
    assert a == b, "%s: got %r, expected %r" % (what, a, b)


def need_root():
    if os.geteuid() != 0:
        raise mkt.Skip("needs root")


def is_monkey(pid):
    try:
        return os.path.realpath("/proc/%d/exe" % pid) == os.path.realpath(mkt.MONKEY_BIN)
    except OSError:
        return False


def gone(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            return any(ln.startswith("State:\tZ") for ln in f)
    except OSError:
        return True


def launch(s, timeout=15):
    """monkey -D, run to the launcher's exit."""
    return subprocess.run([mkt.MONKEY_BIN, "-c", s.confdir, "-D"], cwd=s.dir,
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)


def read_pid(path):
    with open(path) as f:
        return int(f.read())


def stop(pid):
    """SIGTERM by PID, bounded wait (SIGKILL if it does not go)."""
    if pid is None or gone(pid) or not is_monkey(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while not gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if not gone(pid):
        os.kill(pid, signal.SIGKILL)
        raise AssertionError("daemon %d still running 10 s after SIGTERM" % pid)


def stop_named_in(pidfile):
    """Clean-up after a failed assertion: stop the daemon the pid file names, if any."""
    try:
        text = open(pidfile).read().strip()
    except OSError:
        return
    if text.isdigit():
        stop(int(text))


def shared_dir(mode):
    """A directory directly under /tmp (so other users can reach it) with the given mode."""
    d = tempfile.mkdtemp(prefix="monkey-daemon-", dir="/tmp")
    os.chmod(d, mode)
    return d


def world_readable_docroot(parent):
    www = os.path.join(parent, "www")
    os.makedirs(www)
    with open(os.path.join(www, "one.txt"), "wb") as f:
        f.write(b"x")
    os.chmod(www, 0o755)
    os.chmod(os.path.join(www, "one.txt"), 0o644)
    return www


def test_launcher_exits_after_pidfile_is_written():
    s = mkt.Server()
    pidfile = os.path.join(s.confdir, "monkey.pid")
    p = launch(s)
    try:
        eq(p.returncode, 0, "launcher exit status (stderr %r)" % p.stderr)
        # the daemon's start-up messages reach the launcher's stderr, all before it exits
        line = b"listening on http://127.0.0.1:%d/" % s.port
        assert line in p.stderr, "%r not on the launcher's stderr: %r" % (line, p.stderr)
        # no waiting: systemd's Type=forking reads PIDFile= as soon as the launcher exits
        assert os.path.exists(pidfile), "no pid file when the launcher exited"
        pid = read_pid(pidfile)
        assert is_monkey(pid), "pid file names %d, not a monkey process" % pid
        eq(s.client().request(req("GET", "/one.txt")).body, b"x", "served by the daemon")
        eq(os.readlink("/proc/%d/fd/2" % pid), "/dev/null", "daemon stderr once ready")
    finally:
        stop_named_in(pidfile)


def test_launcher_fails_when_pidfile_cannot_be_written():
    s = mkt.Server(conf={"PidFile": os.path.join("/nonexistent-mk", "m.pid")})
    p = launch(s)
    assert p.returncode != 0, "launcher exit 0 although the daemon cannot write its pid file"
    assert b"/nonexistent-mk/m.pid" in p.stderr and b"No such file" in p.stderr, \
        "the daemon's error did not reach the launcher's stderr: %r" % p.stderr
    assert not mkt.probe("127.0.0.1", s.port), "something serves without its pid file"


def test_launcher_fails_for_unknown_user_and_leaves_no_pidfile():
    need_root()
    s = mkt.Server(conf={"User": "no-such-user-mk"})
    pidfile = os.path.join(s.confdir, "monkey.pid")
    p = launch(s)
    assert p.returncode != 0, "launcher exit 0 with an unknown User"
    assert b"no-such-user-mk" in p.stderr, "error not on the launcher's stderr: %r" % p.stderr
    assert not os.path.exists(pidfile), "stale pid file left: %r" % open(pidfile).read()
    assert not mkt.probe("127.0.0.1", s.port), "something serves"


@mkt.timeout(40)
def test_pidfile_fifo_refused_without_blocking():
    s = mkt.Server()
    pidfile = os.path.join(s.confdir, "monkey.pid")
    os.mkfifo(pidfile, 0o600)
    try:
        p = launch(s, timeout=15)
        assert p.returncode != 0, "launcher exit 0 with a FIFO as pid file"
        assert b"not a regular file" in p.stderr, p.stderr
        time.sleep(0.5)
        assert not mkt.probe("127.0.0.1", s.port), "a daemon runs with a FIFO as pid file"
    finally:
        # a daemon blocked in open() (the bug) gets its reader, then fails fstat and exits
        try:
            os.close(os.open(pidfile, os.O_RDONLY | os.O_NONBLOCK))
        except OSError:
            pass


def test_pidfile_hard_link_refused_and_victim_intact():
    s = mkt.Server()
    pidfile = os.path.join(s.confdir, "monkey.pid")
    victim = os.path.join(s.dir, "victim")
    with open(victim, "wb") as f:
        f.write(b"precious\n")
    os.link(victim, pidfile)
    p = launch(s)
    time.sleep(0.5)
    eq(open(victim, "rb").read(), b"precious\n", "hard-linked file after -D")
    assert p.returncode != 0, "launcher exit 0 with a hard-linked pid file"
    assert b"hard link" in p.stderr, p.stderr
    assert not mkt.probe("127.0.0.1", s.port), "a daemon runs with a hard-linked pid file"


def test_pidfile_of_another_user_refused():
    need_root()
    s = mkt.Server()
    pidfile = os.path.join(s.confdir, "monkey.pid")
    with open(pidfile, "w") as f:
        f.write("1\n")
    nobody = pwd.getpwnam("nobody")
    os.chown(pidfile, nobody.pw_uid, nobody.pw_gid)
    p = launch(s)
    try:
        assert p.returncode != 0, "pid file owned by another user accepted (it could rewrite it)"
        assert b"another user" in p.stderr, p.stderr
        eq(open(pidfile).read(), "1\n", "the other user's file")
    finally:
        if open(pidfile).read() != "1\n":
            stop_named_in(pidfile)


def test_stale_pidfile_rewritten_0640():
    s = mkt.Server()
    pidfile = os.path.join(s.confdir, "monkey.pid")
    with open(pidfile, "w") as f:
        f.write("123456789 stale and longer than any pid\n")
    os.chmod(pidfile, 0o666)
    p = launch(s)
    try:
        eq(p.returncode, 0, "launcher exit status (stderr %r)" % p.stderr)
        text = open(pidfile).read()
        pid = int(text)
        eq(text, "%d\n" % pid, "pid file content")
        assert is_monkey(pid), "pid file names %d, not a monkey process" % pid
        eq(oct(stat.S_IMODE(os.stat(pidfile).st_mode)), oct(0o640), "pid file mode")
    finally:
        stop_named_in(pidfile)
    assert not os.path.exists(pidfile), "pid file left after SIGTERM"


def test_pidfile_emptied_when_user_cannot_unlink_it():
    """The bundled configuration: User nobody, PidFile in sticky /tmp, file owned by root."""
    need_root()
    d = shared_dir(0o1777)
    docs = shared_dir(0o755)
    try:
        www = world_readable_docroot(docs)
        pidfile = os.path.join(d, "monkey.pid")
        s = mkt.Server(conf={"User": "nobody", "PidFile": pidfile},
                       host={"DocumentRoot": www})
        p = launch(s)
        eq(p.returncode, 0, "launcher exit status (stderr %r)" % p.stderr)
        pid = read_pid(pidfile)
        try:
            eq(os.stat(pidfile).st_uid, 0, "pid file owner (root: User must not rewrite it)")
            eq(s.client().request(req("GET", "/one.txt")).body, b"x", "served as nobody")
        finally:
            stop(pid)
        stale = open(pidfile).read() if os.path.exists(pidfile) else ""
        eq(stale, "", "pid file content after SIGTERM (must be gone or empty)")
    finally:
        shutil.rmtree(d, ignore_errors=True)
        shutil.rmtree(docs, ignore_errors=True)


def test_reload_keeps_the_startup_pidfile():
    s = mkt.Server()
    pidfile = os.path.join(s.confdir, "monkey.pid")
    other = os.path.join(s.confdir, "other.pid")
    p = launch(s)
    eq(p.returncode, 0, "launcher exit status (stderr %r)" % p.stderr)
    pid = read_pid(pidfile)
    try:
        items = mkt.merge([("Listen", "127.0.0.1:%d" % s.port)] + mkt.SERVER_DEFAULTS,
                          {"PidFile": "other.pid", "HideVersion": "on"})
        mkt.write_confdir(s.confdir, items, [("ServerName", "127.0.0.1 localhost"),
                                             ("DocumentRoot", s.docroot)])
        os.kill(pid, signal.SIGHUP)
        deadline = time.monotonic() + 10
        while s.client().request(req("GET", "/one.txt")).headers.get("Server") != "Monkey":
            assert time.monotonic() < deadline, "the reload did not happen within 10 s"
            time.sleep(0.1)
        eq(read_pid(pidfile), pid, "pid file after the reload")
        assert not os.path.exists(other), "a reload wrote the new PidFile"
    finally:
        stop(pid)
    assert not os.path.exists(pidfile), "the start-up pid file left stale after SIGTERM"
    assert not os.path.exists(other), "new PidFile exists"


def test_first_server_to_stop_leaves_another_servers_pid_file():
    """Two servers given one PidFile (other ports): the second writes its pid over the
    first's, as nginx's does; the pid file then names the second.  The first one's exit used
    to remove it anyway, leaving the running server without a pid file (`kill $(cat ...)`,
    systemd's PIDFile= lost it); it leaves it now, and still removes its own at exit."""
    a, b = mkt.Server(), mkt.Server()
    pidfile = os.path.join(mkt.tmpdir("pid"), "shared.pid")
    for s in (a, b):
        items = mkt.merge([("Listen", "127.0.0.1:%d" % s.port)] + mkt.SERVER_DEFAULTS,
                          {"PidFile": pidfile})
        mkt.write_confdir(s.confdir, items, [("ServerName", "127.0.0.1 localhost"),
                                             ("DocumentRoot", s.docroot)])
    pa = pb = None
    try:
        p = launch(a)
        eq(p.returncode, 0, "first launcher exit status (stderr %r)" % p.stderr)
        pa = read_pid(pidfile)
        p = launch(b)
        eq(p.returncode, 0, "second launcher exit status (stderr %r)" % p.stderr)
        pb = read_pid(pidfile)
        assert pb != pa, "the second server did not write its pid"
        stop(pa)
        assert os.path.exists(pidfile), "the first server's exit removed the second's pid file"
        eq(read_pid(pidfile), pb, "pid file after the first server stopped")
        eq(b.client().request(req("GET", "/one.txt")).status, 200, "the second one serves")
        stop(pb)
        assert not os.path.exists(pidfile), "the second server's own pid file left at exit"
    finally:
        stop(pa)
        stop(pb)


def test_refused_reload_says_why_in_the_error_log():
    """Once the daemon serves, its stderr is /dev/null: a reload refused for a bad file must
    still say why somewhere, in the error logs as a SIGUSR1 failure does (it said nothing)."""
    s = mkt.Server()
    errlog = os.path.join(s.dir, "error.log")
    pidfile = os.path.join(s.confdir, "monkey.pid")
    with open(os.path.join(s.confdir, "sites", "default"), "a") as f:
        f.write(mkt.section("LOGGER", [("ErrorLog", errlog)]))
    p = launch(s)
    eq(p.returncode, 0, "launcher exit status (stderr %r)" % p.stderr)
    pid = read_pid(pidfile)
    try:
        with open(os.path.join(s.confdir, "monkey.conf"), "a") as f:
            f.write("    Bogus 1\n")
        os.kill(pid, signal.SIGHUP)
        deadline = time.monotonic() + 10
        text = b""
        while b"stays in place" not in text and time.monotonic() < deadline:
            time.sleep(0.1)
            with open(errlog, "rb") as f:
                text = f.read()
        assert b"monkey.conf:" in text and b"unknown key 'Bogus'" in text and \
            b"the running configuration stays in place" in text, \
            "the refused reload is not in the error log: %r" % text
        eq(s.client().request(req("GET", "/one.txt")).body, b"x", "still served")
    finally:
        stop(pid)


def test_mirrored_lines_are_dated_as_the_error_log_lines():
    """An error log has one format: "[29/Nov/2026:16:05:31 +0000] [error] ...", in UTC, as
    the lines of requests refused are written.  The daemon's mirror wrote stderr's own line
    there instead, "[2026/11/29 11:05:31] [error] ...", in local time without its zone: two
    formats in one file, and lines that seem hours apart when TZ is not UTC."""
    s = mkt.Server()
    errlog = os.path.join(s.dir, "error.log")
    pidfile = os.path.join(s.confdir, "monkey.pid")
    with open(os.path.join(s.confdir, "sites", "default"), "a") as f:
        f.write(mkt.section("LOGGER", [("ErrorLog", errlog)]))
    p = subprocess.run([mkt.MONKEY_BIN, "-c", s.confdir, "-D"], cwd=s.dir,
                       env=dict(os.environ, TZ="XXX+5"), stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=15)
    eq(p.returncode, 0, "launcher exit status (stderr %r)" % p.stderr)
    pid = read_pid(pidfile)
    try:
        eq(s.client().request(req("GET", "/missing")).status, 404, "a refused request")
        with open(os.path.join(s.confdir, "monkey.conf"), "a") as f:
            f.write("    Bogus 1\n")
        os.kill(pid, signal.SIGHUP)
        deadline = time.monotonic() + 10
        lines = []
        while time.monotonic() < deadline:
            time.sleep(0.1)
            with open(errlog, "rb") as f:
                lines = f.read().splitlines()
            if len(lines) >= 2:   # the 404 reaches the disk within a second
                break
        eq(len(lines), 2, "error log lines %r" % lines)
        fmt = re.compile(rb"^\[(\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d) \+0000\] \[error\] ")
        dates = []
        for ln in lines:
            m = fmt.match(ln)
            assert m, "a line not in the error log's format: %r (all: %r)" % (ln, lines)
            dates.append(time.mktime(time.strptime(m.group(1).decode(), "%d/%b/%Y:%H:%M:%S")))
        assert max(dates) - min(dates) < 30, "lines hours apart: %r" % lines
    finally:
        stop(pid)

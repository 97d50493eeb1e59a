"""Started as root: bind, then become `User` completely (or refuse to serve as root)."""
import os
import pwd
import shutil
import tempfile
import time

import mkt
from mkt import req


def eq(a, b, what):
    assert a == b, "%s: got %r, expected %r" % (what, a, b)


def need_root():
    if os.geteuid() != 0:
        raise mkt.Skip("needs root")


def ids(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("Uid", "Gid", "Groups"):
                out[k] = v.split()
    return out


def world_readable_docroot():
    """A docroot the unprivileged user can read (temporary dirs are private)."""
    d = tempfile.mkdtemp(prefix="monkey-priv-", dir="/tmp")
    www = os.path.join(d, "www")
    os.makedirs(www)
    with open(os.path.join(www, "one.txt"), "wb") as f:
        f.write(b"x")
    for p in (d, www):
        os.chmod(p, 0o755)
    os.chmod(os.path.join(www, "one.txt"), 0o644)
    # every parent must be traversable too
    parent = os.path.dirname(d)
    while parent not in ("/", ""):
        if os.stat(parent).st_mode & 0o001 == 0:
            raise mkt.Skip("%s is not traversable by other users" % parent)
        parent = os.path.dirname(parent)
    return www


def test_switches_to_user_completely():
    need_root()
    nobody = pwd.getpwnam("nobody")
    www = world_readable_docroot()
    s = mkt.Server(conf={"User": "nobody"}, host={"DocumentRoot": www})
    try:
        check_switched(s, nobody)
    finally:
        shutil.rmtree(os.path.dirname(www), ignore_errors=True)


def check_switched(s, nobody):
    with s.start():
        got = ids(s.pid)
        eq(got["Uid"], [str(nobody.pw_uid)] * 4, "real, effective, saved and fs uid")
        eq(got["Gid"], [str(nobody.pw_gid)] * 4, "real, effective, saved and fs gid")
        eq(got.get("Groups", []), [], "supplementary groups")
        # every thread, not only the main one
        for tid in os.listdir("/proc/%d/task" % s.pid):
            eq(ids(int(tid))["Uid"], [str(nobody.pw_uid)] * 4, "uid of thread %s" % tid)
        eq(s.client().request(req("GET", "/one.txt")).body, b"x", "served as nobody")


def test_refuses_root_without_user():
    need_root()
    s = mkt.Server(conf={"User": None})
    p = mkt.run_monkey(["-c", s.confdir], timeout=10)
    assert p.returncode != 0, "started as root without User"
    assert b"refusing to run as root" in p.stderr, p.stderr
    assert not mkt.probe("127.0.0.1", s.port), "something listens on the port"


def test_docroot_mode_needs_user_as_root():
    need_root()
    s = mkt.Server(config=False)
    p = mkt.run_monkey(["-o", s.docroot, "-p", str(s.port)], timeout=10)
    assert p.returncode != 0 and b"refusing to run as root" in p.stderr, p.stderr


def test_unknown_user_fails():
    need_root()
    s = mkt.Server(conf={"User": "no-such-user-mk"})
    p = mkt.run_monkey(["-c", s.confdir], timeout=10)
    assert p.returncode != 0, "started with an unknown User"
    assert b"no-such-user-mk" in p.stderr, p.stderr
    shutil.rmtree(s.dir, ignore_errors=True)


def test_search_only_directory_serves_its_index():
    """A directory that may be searched but not listed (0711), the document root itself or
    one inside it: its index file is served (it was 403, while the same file asked for by
    name was 200), and without its slash it is a 301.  Only a server that is not root
    sees the difference."""
    need_root()
    www = world_readable_docroot()
    xonly = os.path.join(www, "xonly")
    os.makedirs(xonly)
    for d, body in ((www, b"root index\n"), (xonly, b"xonly index\n")):
        with open(os.path.join(d, "index.html"), "wb") as f:
            f.write(body)
        os.chmod(os.path.join(d, "index.html"), 0o644)
    os.chmod(xonly, 0o711)
    os.chmod(www, 0o711)
    s = mkt.Server(conf={"User": "nobody"}, host={"DocumentRoot": www})
    try:
        with s:
            eq(s.get("/xonly/").body, b"xonly index\n", "GET /xonly/")
            eq(s.get("/xonly").status, 301, "GET /xonly")
            eq(s.get("/xonly/index.html").body, b"xonly index\n", "GET /xonly/index.html")
            eq(s.get("/").body, b"root index\n", "GET / with a 0711 root")
            eq(s.get("/one.txt").body, b"x", "GET /one.txt")
            private = os.path.join(www, "private")
            os.makedirs(private)
            os.chmod(private, 0o700)  # root's: nobody may not even enter it
            eq(s.get("/private").status, 403, "GET /private (no search permission)")
            eq(s.get("/private/").status, 403, "GET /private/")
            os.chmod(os.path.join(xonly, "index.html"), 0o600)
            time.sleep(1.1)  # the open-file cache checks again after a second
            eq(s.get("/xonly/").status, 403, "an index nobody may read")
    finally:
        shutil.rmtree(os.path.dirname(www), ignore_errors=True)



def readable_by_nobody(s):
    """A reload re-reads the configuration as User: let nobody read s's."""
    for root, dirs, files in os.walk(os.path.dirname(s.confdir)):
        os.chmod(root, 0o755)
        for f in files:
            os.chmod(os.path.join(root, f), 0o644)
    os.chmod(os.path.dirname(os.path.dirname(s.confdir)), 0o755)

@mkt.timeout(90)
def test_reload_as_user_changes_workers():
    """Sockets opened as root take no SO_REUSEPORT sibling from the switched-to User, so a
    reload to more Workers could not open their sockets and was refused.  The new workers
    now share the sockets there are (EPOLLEXCLUSIVE), and a later shrink keeps them all.
    A new address on the port cannot be opened beside root's sockets: refused, with why."""
    need_root()
    from test_event_loop import listening_sockets
    www = world_readable_docroot()
    s = mkt.Server(conf={"User": "nobody", "Workers": "2"}, host={"DocumentRoot": www})
    readable_by_nobody(s)  # the reload re-reads the configuration as nobody
    try:
        s.start()
        fds = s.settled_fds()
        eq(listening_sockets(s.port), 2, "sockets at start-up")
        log = s.reload_with("Workers 2", "Workers 4")
        assert "reload: configuration re-read, 4 workers" in log, log
        assert "shares a listening socket" in log, log
        eq(listening_sockets(s.port), 2, "sockets with 4 workers")
        clients = [s.client() for _ in range(40)]
        for c in clients:
            c.send(req("GET", "/one.txt"))
        for c in clients:
            eq(c.recv_response().body, b"x", "served by 4 workers")
            c.close()
        log = s.reload_with("Workers 4", "Workers 2")
        assert "reload: configuration re-read, 2 workers" in log, log
        assert "shares" not in log, log
        eq(listening_sockets(s.port), 2, "sockets with 2 workers again")
        eq(s.wait_fds(fds), fds, "descriptors with 2 workers again")
        log = s.reload_with("Listen 127.0.0.1:%d" % s.port, "Listen %d" % s.port)
        assert "restart to apply" in log and "stays in place" in log, log
        eq(s.get("/one.txt").body, b"x", "still served on 127.0.0.1")
        eq(s.wait_fds(fds), fds, "descriptors after the refused reload")
    finally:
        s.stop()
        shutil.rmtree(os.path.dirname(www), ignore_errors=True)


@mkt.timeout(60)
def test_reload_with_another_user_says_it_is_not_applied():
    """The switch happens once, at start-up: a reload that names another User cannot apply
    it, and must say so rather than report the configuration re-read and stay nobody."""
    need_root()
    www = world_readable_docroot()
    s = mkt.Server(conf={"User": "nobody"}, host={"DocumentRoot": www})
    readable_by_nobody(s)
    try:
        s.start()
        nobody = pwd.getpwnam("nobody").pw_uid
        log = s.reload_with("User nobody", "User daemon")
        assert "User changed to 'daemon'" in log and "stays 'nobody'" in log, log
        eq(ids(s.pid)["Uid"], [str(nobody)] * 4, "still nobody")
        eq(s.get("/one.txt").body, b"x", "still served")
        log = s.reload_with("User daemon", "User nobody")
        assert "User changed" not in log, log
    finally:
        s.stop()
        shutil.rmtree(os.path.dirname(www), ignore_errors=True)

"""Command line, configuration errors, signals and daemon mode."""

import os
import re
import signal
import socket
import stat
import subprocess
import time

import mkt
from mkt import eq, req


def out(p):
    return (p.stdout + p.stderr).decode("utf-8", "replace")


# -- informational options ---------------------------------------------------------------------

def test_version():
    for opt in ("-v", "--version"):
        p = mkt.run_monkey([opt])
        eq(p.returncode, 0, "%s exit status (output %r)" % (opt, out(p)[-600:]))
        assert mkt.version() in p.stdout.decode(), "%s output: %r" % (opt, out(p))


def test_help():
    for opt in ("-h", "--help"):
        p = mkt.run_monkey([opt])
        eq(p.returncode, 0, "%s exit status (output %r)" % (opt, out(p)[-600:]))
        text = p.stdout.decode()
        assert re.search("usage", text, re.I), "%s prints no usage on stdout: %r" % (opt, out(p))
        for o in ("--configdir", "--port", "--docroot", "--workers", "--version"):
            assert o in text, "%s does not mention %s: %r" % (opt, o, text)


def test_build_info():
    for opt in ("-b", "--build"):
        p = mkt.run_monkey([opt])
        eq(p.returncode, 0, "%s exit status (output %r)" % (opt, out(p)[-600:]))
        assert re.search("trac", out(p), re.I), "%s does not mention tracing: %r" % (opt, out(p))


def test_unknown_option_fails():
    p = mkt.run_monkey(["--no-such-option"])
    assert p.returncode != 0, "unknown option accepted: %r" % out(p)


def test_numeric_options_take_plain_digits():
    """-p and -w took what strtol takes (" 80", "+80"), which monkey.conf refuses."""
    port = mkt.free_port()
    www = mkt.tmpdir("www")
    for args, what in ((["-p", "+%d" % port], "invalid port"),
                       (["-p", " %d" % port], "invalid port"),
                       (["-p", str(port), "-w", "+1"], "invalid number of workers"),
                       (["-p", str(port), "-w", " 1"], "invalid number of workers")):
        try:
            p = mkt.run_monkey(args + ["-o", www] + mkt.ROOT_ARGS, timeout=5)
        except subprocess.TimeoutExpired:
            raise AssertionError("%r accepted: the server ran" % args)
        eq(p.returncode, 2, "%r exit status (output %r)" % (args, out(p)[-600:]))
        assert what in out(p), "%r: %r" % (args, out(p))


# -- options that change the configuration -----------------------------------------------------

def test_port_option_overrides_listen():
    port = mkt.free_port()
    with mkt.Server(args=["-p", str(port)], wait_addrs=[("127.0.0.1", port)]) as s:
        eq(s.client(port=port).request(req("GET", "/one.txt")).body, b"x", "body on -p port")
    with mkt.Server(args=["--port", str(port)], wait_addrs=[("127.0.0.1", port)]) as s:
        eq(s.client(port=port).request(req("GET", "/one.txt")).body, b"x", "body on --port")


def test_docroot_without_any_configuration():
    s = mkt.Server(config=False)
    assert not os.path.exists(s.confdir)
    s.argv = ["-o", s.docroot, "-p", str(s.port)] + mkt.ROOT_ARGS
    with s:
        r = s.get("/")
        eq(r.status_line, "HTTP/1.1 200 OK", "status with -o")
        eq(r.body, mkt.INDEX_HTML, "body with -o")
        eq(s.get("/hello.txt").body, s.files["/hello.txt"], "file with -o")
        eq(s.get("/missing").status, 404, "missing file with -o")


def test_docroot_long_option():
    s = mkt.Server(config=False)
    s.argv = ["--docroot", s.docroot, "--port", str(s.port)] + mkt.ROOT_ARGS
    with s:
        eq(s.get("/hello.txt").body, s.files["/hello.txt"], "file with --docroot")


def threads(pid):
    return len(os.listdir("/proc/%d/task" % pid))


def test_workers_option():
    # One event-loop thread per worker: -w N runs at least N-1 threads more than Workers 1.
    with mkt.Server(conf={"Workers": "1"}) as s:
        one = threads(s.pid)
        eq(s.get("/one.txt").body, b"x", "body with Workers 1")
    for opt, w in (("-w", 2), ("--workers", 3)):
        with mkt.Server(conf={"Workers": "1"}, args=[opt, str(w)]) as s:
            n = threads(s.pid)
            assert n >= one + w - 1, "%s %d: %d threads, Workers 1: %d" % (opt, w, n, one)
            for _ in range(20):
                eq(s.get("/one.txt").body, b"x", "body")


def test_serverconf_option():
    with mkt.Server(main_name="other.conf", args=["-s", "other.conf"]) as s:
        assert not os.path.exists(os.path.join(s.confdir, "monkey.conf"))
        eq(s.get("/one.txt").body, b"x", "body with -s other.conf")


def test_configdir_long_option():
    s = mkt.Server()
    s.argv = ["--configdir", s.confdir]
    with s:
        eq(s.get("/one.txt").body, b"x", "body with --configdir")


# -- bad configurations ------------------------------------------------------------------------

def bad_config(main_text=None, site_text=None, mime_text=None):
    """mime_text: appended to the copy of conf/monkey.mime."""
    d = mkt.tmpdir("badconf")
    www = os.path.join(d, "www")
    mkt.make_docroot(www)
    port = mkt.free_port()
    main_text = (main_text or "[SERVER]\n    Listen 127.0.0.1:{port}\n").format(port=port)
    if os.geteuid() == 0 and "User" not in main_text:
        main_text += "    User root\n"  # so that only the error under test stops it
    site_text = site_text or "[HOST]\n    ServerName localhost\n    DocumentRoot %s\n" % www
    mkt.write_confdir(d, [], None, {"default": site_text.replace("{www}", www)},
                      raw_main=main_text)
    if mime_text is not None:
        with open(os.path.join(d, "monkey.mime"), "a") as f:
            f.write(mime_text)
    try:
        p = mkt.run_monkey(["-c", d], timeout=10)
    except subprocess.TimeoutExpired:
        raise AssertionError("server started with a bad configuration:\n" + main_text)
    return p


def expect_config_error(p, fname, line, what):
    assert p.returncode != 0, "%s: exit status 0 for a bad configuration" % what
    err = p.stderr.decode("utf-8", "replace")
    assert re.search(re.escape(fname) + ":%d\\b" % line, err), \
        "%s: stderr does not name %s line %d: %r" % (what, fname, line, err)


def test_config_unknown_key():
    p = bad_config("# comment\n[SERVER]\n    Listen 127.0.0.1:{port}\n    NoSuchKey 1\n")
    expect_config_error(p, "monkey.conf", 4, "unknown key")


def test_config_bad_boolean():
    p = bad_config("[SERVER]\n    Listen 127.0.0.1:{port}\n\n    KeepAlive maybe\n")
    expect_config_error(p, "monkey.conf", 4, "KeepAlive maybe")


def test_config_bad_number():
    p = bad_config("[SERVER]\n    Listen 127.0.0.1:{port}\n    Workers abc\n")
    expect_config_error(p, "monkey.conf", 3, "Workers abc")


def test_config_bad_listen():
    p = bad_config("[SERVER]\n    Listen 127.0.0.1:99999\n")
    expect_config_error(p, "monkey.conf", 2, "Listen port 99999")


def test_config_missing_section():
    p = bad_config("# no section header\n    Listen 127.0.0.1:{port}\n")
    expect_config_error(p, "monkey.conf", 2, "key outside of any section")


def test_config_bad_site_file():
    p = bad_config(site_text="[HOST]\n    ServerName localhost\n    Bogus 1\n"
                             "    DocumentRoot {www}\n")
    expect_config_error(p, "sites/default", 3, "unknown key in a site file")


def test_config_repeats_refused():
    """A key set twice (which one wins?), a section opened twice, the same Listen address
    twice: each refused, naming its line (they used to be taken silently, the last one
    winning, and a repeated Indexfile leaked its first list)."""
    p = bad_config("[SERVER]\n    Listen 127.0.0.1:{port}\n    Workers 1\n    Indexfile a\n"
                   "    Workers 3\n")
    expect_config_error(p, "monkey.conf", 5, "Workers twice")
    assert b"line 3" in p.stderr, p.stderr
    p = bad_config("[SERVER]\n    Listen 127.0.0.1:{port}\n[SERVER]\n    Workers 1\n")
    expect_config_error(p, "monkey.conf", 3, "[SERVER] twice")
    p = bad_config("[SERVER]\n    Listen 127.0.0.1:{port}\n    Listen 127.0.0.1:{port}\n")
    expect_config_error(p, "monkey.conf", 3, "the same Listen twice")
    p = bad_config(site_text="[HOST]\n    ServerName localhost\n    DocumentRoot {www}\n"
                             "    DocumentRoot /tmp\n")
    expect_config_error(p, "sites/default", 4, "DocumentRoot twice")
    p = bad_config(site_text="[HOST]\n    ServerName localhost\n    DocumentRoot {www}\n"
                             "[ERROR_PAGES]\n    404 a.html\n    404 b.html\n")
    expect_config_error(p, "sites/default", 6, "an error page twice")


def test_config_mime_repeats_refused():
    """monkey.mime, read like the other files: an extension given twice (in any case) or
    [MIMETYPES] opened twice is refused, naming its line.  It was taken silently, and which
    of the types a .txt file was served with was up to the sort and the binary search (the
    bundled file says text/plain; a later "TXT application/x-dup" won)."""
    with open(mkt.MIME_FILE) as f:
        n = len(f.read().splitlines())
    p = bad_config(mime_text="    TXT application/x-dup\n")
    expect_config_error(p, "monkey.mime", n + 1, "txt twice")
    assert re.search(rb"line \d+", p.stderr), p.stderr
    p = bad_config(mime_text="[MIMETYPES]\n    x-new application/x-new\n")
    expect_config_error(p, "monkey.mime", n + 1, "[MIMETYPES] twice")


def test_config_error_page_with_a_dot_segment_refused():
    """An error page must be a plain path under the document root: "../x" and "a/./b" were
    refused, but a final "." or ".." ("errors/..", "..") was taken and named a directory,
    so the page was never served and nothing said why."""
    for page in ("errors/..", "..", "errors/.", ".", "a/../b.html", "./404.html"):
        p = bad_config(site_text="[HOST]\n    ServerName localhost\n    DocumentRoot {www}\n"
                                 "[ERROR_PAGES]\n    404 %s\n" % page)
        expect_config_error(p, "sites/default", 5, "error page " + page)
        assert b"must be a plain path" in p.stderr, p.stderr


def test_config_values_that_were_taken_wrongly():
    """A DefaultMimeType with a CR in it made every response malformed; "+404" and "+15"
    passed as numbers; a relative path longer than PATH_MAX was cut to a shorter,
    existing one."""
    p = bad_config("[SERVER]\n    Listen 127.0.0.1:{port}\n    DefaultMimeType text/plain\rX-I: 1\n")
    expect_config_error(p, "monkey.conf", 3, "DefaultMimeType with a CR")
    p = bad_config("[SERVER]\n    Listen 127.0.0.1:{port}\n    DefaultMimeType text/a b\n")
    expect_config_error(p, "monkey.conf", 3, "DefaultMimeType with a space")
    # Past 255 bytes a type may not fit a response head or a multipart part header.
    p = bad_config("[SERVER]\n    Listen 127.0.0.1:{port}\n    DefaultMimeType text/x; p=%s\n"
                   % ("a" * 246))
    expect_config_error(p, "monkey.conf", 3, "a 256-byte DefaultMimeType")
    assert b"at most 255 bytes" in p.stderr, p.stderr
    p = bad_config("[SERVER]\n    Listen 127.0.0.1:{port}\n    Timeout +15\n")
    expect_config_error(p, "monkey.conf", 3, "Timeout +15")
    p = bad_config(site_text="[HOST]\n    ServerName localhost\n    DocumentRoot {www}\n"
                             "[ERROR_PAGES]\n    +404 a.html\n")
    expect_config_error(p, "sites/default", 5, "error page +404")
    # www + 4100 slashes + does-not-exist: cut at PATH_MAX it named www, which exists
    p = bad_config(site_text="[HOST]\n    ServerName localhost\n    DocumentRoot www"
                             + "/" * 4100 + "does-not-exist\n")
    expect_config_error(p, "sites/default", 3, "a DocumentRoot past PATH_MAX")


def test_config_server_names_that_could_never_match():
    """A ServerName with a port, a wildcard or a name another site already has was taken
    and never matched (the Host's port and final dot are dropped before the lookup)."""
    site = "[HOST]\n    ServerName %s\n    DocumentRoot {www}\n"
    for name, what in (("example.com:2001", "port"), ("*.example.com", "wildcard"),
                       ("[::1]:80", "port"), ("a/b", "host name")):
        p = bad_config(site_text=site % ("localhost " + name))
        expect_config_error(p, "sites/default", 2, "ServerName " + name)
        assert what.encode() in p.stderr, p.stderr
    d = mkt.tmpdir("dupname")
    www = os.path.join(d, "www")
    mkt.make_docroot(www)
    mkt.write_confdir(d, [], None, {
        "default": site.replace("{www}", www) % "localhost",
        "other": site.replace("{www}", www) % "b.example A.example",
        "third": site.replace("{www}", www) % "a.example",
    }, raw_main="[SERVER]\n    Listen 127.0.0.1:%d\n" % mkt.free_port()
                + ("    User root\n" if os.geteuid() == 0 else ""))
    p = mkt.run_monkey(["-c", d], timeout=10)
    assert p.returncode != 0, "two sites named a.example accepted"
    # both lines named (the message had the two files but neither line)
    assert b"sites/third:2: ServerName 'a.example' is already a name of" in p.stderr and \
        b"sites/other (line 2)" in p.stderr, p.stderr
    # twice in one file, on different lines; an IPv6 literal is compared in canonical form
    for names, dup, line, first in (
            ("localhost\n    ServerName a.example\n    ServerName A.EXAMPLE", "A.EXAMPLE", 4, 3),
            ("localhost [::1]\n    ServerName [0:0::1]", "[::1]", 3, 2)):
        p = bad_config(site_text=site % names)
        expect_config_error(p, "sites/default", line, "ServerName %s twice" % dup)
        assert ("ServerName '%s' is already a name of" % dup).encode() in p.stderr and \
            ("sites/default (line %d)" % first).encode() in p.stderr, p.stderr


def test_config_listen_without_a_port_refused():
    """"Listen [::1]" and "Listen 127.0.0.1" were taken, on the default port 2001 (a guess
    the README did not describe); ":PORT" was taken as every address.  Each is refused,
    naming its line; "*:PORT" stays a synonym of "PORT"."""
    for addr, what in (("[::1]", "has no port"), ("127.0.0.1", "has no port"),
                       (":{port}", "invalid address")):
        p = bad_config("[SERVER]\n    Workers 1\n    Listen %s\n" % addr)
        expect_config_error(p, "monkey.conf", 3, "Listen " + addr)
        assert what.encode() in p.stderr, p.stderr
    port = mkt.free_port()
    with mkt.Server(raw_main="[SERVER]\n    Listen *:%d\n    Workers 1\n" % port
                    + ("    User root\n" if os.geteuid() == 0 else ""), port=port) as s:
        eq(s.get("/one.txt").body, b"x", "served with Listen *:%d" % port)


def test_config_listen_address_with_port_option():
    """-p gives every Listen address its port, so "Listen 127.0.0.1" or "Listen [::1]" with
    -p is not a guess: it listened there on -p's port before addresses needed their port,
    and was then refused ("has no port") although -p named one."""
    port = mkt.free_port()
    with mkt.Server(conf={"Workers": "1", "Listen": ["127.0.0.1", "[::1]"]},
                    args=["-p", str(port)], port=port,
                    wait_addrs=[("127.0.0.1", port)]) as s:
        eq(s.get("/one.txt").body, b"x", "served with Listen 127.0.0.1 and -p")
        log = s.log_text()
        assert "listening on http://127.0.0.1:%d/" % port in log, s.log_tail()
        assert "listening on http://[::1]:%d/" % port in log, s.log_tail()


def test_config_error_page_past_path_max_refused():
    """An [ERROR_PAGES] path longer than PATH_MAX was cut to 4095 bytes without a word, and
    the cut name was the page looked for."""
    page = "e/" * 2100 + "404.html"
    p = bad_config(site_text="[HOST]\n    ServerName localhost\n    DocumentRoot {www}\n"
                             "[ERROR_PAGES]\n    404 %s\n" % page)
    expect_config_error(p, "sites/default", 5, "an error page past PATH_MAX")
    assert b"is longer than 4095 bytes" in p.stderr, p.stderr


def test_config_utf8_bom_refused_clearly():
    """A file saved with a UTF-8 byte order mark was refused as "expected a [SECTION] header
    ..., got '[SERVER]'", the mark invisible in the message."""
    p = bad_config("\ufeff[SERVER]\n    Listen 127.0.0.1:{port}\n")
    expect_config_error(p, "monkey.conf", 1, "monkey.conf with a BOM")
    assert b"starts with a UTF-8 BOM" in p.stderr, p.stderr
    p = bad_config(site_text="\ufeff[HOST]\n    ServerName localhost\n    DocumentRoot {www}\n")
    expect_config_error(p, "sites/default", 1, "a site with a BOM")
    assert b"starts with a UTF-8 BOM" in p.stderr, p.stderr


def test_config_comment_after_a_value_refused():
    """'#' starts a comment only at the start of a line: "AccessLog /x/a.log  # main" created
    a log file named "a.log  # main" and "PidFile # none" one named "#", without a word."""
    logdir = mkt.tmpdir("logs")
    p = bad_config(site_text="[HOST]\n    ServerName localhost\n    DocumentRoot {www}\n"
                             "[LOGGER]\n    AccessLog %s/a.log   # main site\n" % logdir)
    expect_config_error(p, "sites/default", 5, "AccessLog with a comment after it")
    assert b"'#' starts a comment only at the start of a line" in p.stderr, p.stderr
    eq(os.listdir(logdir), [], "files created in the log directory")
    p = bad_config("[SERVER]\n    Listen 127.0.0.1:{port}\n    PidFile # none\n")
    expect_config_error(p, "monkey.conf", 3, "PidFile # none")


def test_config_site_without_server_name_refused():
    """A site other than the first without a ServerName was taken, and no request could ever
    reach it (only the first site answers unknown hosts)."""
    s = mkt.Server()
    with open(os.path.join(s.confdir, "sites", "zz"), "w") as f:
        f.write("# no name\n[HOST]\n    DocumentRoot %s\n" % s.docroot)
    p = mkt.run_monkey(["-c", s.confdir], timeout=10)
    expect_config_error(p, "sites/zz", 2, "a nameless second site")
    assert b"has no ServerName" in p.stderr, p.stderr


def test_reload_with_listen_without_a_port_keeps_serving():
    """SIGHUP with "Listen [::1]" (no port) took it, moved the server to [::1]:2001 and left
    the running address; it is refused and the running configuration stays."""
    with mkt.Server(conf={"Workers": "1"}) as s:
        log = s.reload_with("Listen 127.0.0.1:%d" % s.port, "Listen [::1]")
        assert "has no port" in log and "the running configuration stays" in log, log
        for _ in range(5):
            eq(s.get("/one.txt").body, b"x", "served by the running configuration")


def test_server_name_with_a_final_dot_matches():
    """ServerName other.example. never matched: the Host's final dot is dropped."""
    other_root = mkt.tmpdir("dotwww")
    with open(os.path.join(other_root, "who.txt"), "w") as f:
        f.write("other")
    with mkt.Server(sites={"other": "[HOST]\n    ServerName other.example.\n"
                                    "    DocumentRoot %s\n" % other_root}) as s:
        for host in ("other.example", "other.example.", "OTHER.example:80"):
            r = s.request(req("GET", "/who.txt", host=host))
            eq((r.status, r.body), (200, b"other"), "Host: " + host)


def test_fifo_in_sites_refused_without_blocking():
    """A FIFO in sites/ blocked open(2) until a writer came: at start-up the server hung, and
    on a reload its main thread did, so that it never took SIGTERM again."""
    s = mkt.Server()
    fifo = os.path.join(s.confdir, "sites", "zz")
    os.mkfifo(fifo)
    try:
        p = mkt.run_monkey(["-c", s.confdir], timeout=5)
    except subprocess.TimeoutExpired:
        raise AssertionError("the server blocked on a FIFO in sites/ at start-up")
    eq(p.returncode, 1, "exit status (output %r)" % out(p)[-600:])
    assert "%s: not a regular file" % fifo in out(p), out(p)
    os.unlink(fifo)
    with s.start():
        os.mkfifo(fifo)
        logged = s.reload("reload: ", bound=5)
        assert "%s: not a regular file" % fifo in logged, logged
        eq(s.get("/one.txt").status, 200, "served by the running configuration")


def test_serverconf_absolute_path():
    """-s /abs/file was joined to the configuration directory (DIR//abs/file)."""
    s = mkt.Server(conf={"Workers": "1"})
    main = os.path.join(s.confdir, "monkey.conf")
    moved = os.path.join(s.dir, "elsewhere.conf")
    os.rename(main, moved)
    s.argv += ["-s", moved]
    with s:
        eq(s.get("/one.txt").body, b"x", "served with -s " + moved)


def test_config_dir_missing():
    p = mkt.run_monkey(["-c", "/nonexistent/monkey-conf-dir"])
    assert p.returncode != 0, "missing configuration directory accepted"
    assert b"/nonexistent/monkey-conf-dir" in p.stderr, "stderr: %r" % p.stderr


def test_port_in_use_fails():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        p = bad_config("[SERVER]\n    Listen 127.0.0.1:%d\n" % port)
        assert p.returncode != 0, "started on a port in use: %r" % out(p)
        assert p.stderr, "no message on stderr for a port in use"


def test_second_server_on_the_same_port_fails():
    """Each worker's SO_REUSEPORT socket used to let a second Monkey bind the port of a
    running one and take about half of its connections, silently."""
    with mkt.Server(conf={"Workers": "2"}) as s:
        p = bad_config("[SERVER]\n    Listen 127.0.0.1:%d\n    Workers 2\n" % s.port)
        assert p.returncode != 0, "a second server started on a port in use: %r" % out(p)
        assert b"in use" in p.stderr, "stderr: %r" % p.stderr
        eq(s.get("/one.txt").status, 200, "the first server still serves")


def test_overlapping_listen_addresses_and_port_option():
    """127.0.0.1:P and P (all addresses) in one configuration, and -p making two Listen
    lines the same address: both start (the exclusivity probe met our own sockets)."""
    port = mkt.free_port()
    with mkt.Server(conf={"Workers": "2", "Listen": ["127.0.0.1:%d" % port, str(port)]},
                    port=port) as s:
        eq(s.get("/one.txt").body, b"x", "served")
    port = mkt.free_port()
    with mkt.Server(conf={"Workers": "2", "Listen": ["127.0.0.1:1", "127.0.0.1:2"]},
                    args=["-p", str(port)], port=port,
                    wait_addrs=[("127.0.0.1", port)]) as s:
        eq(s.get("/one.txt").body, b"x", "served with -p")
        eq(s.log_text().count("listening on"), 1, "one listener line:\n" + s.log_tail())


@mkt.timeout(60)
def test_reload_does_not_join_a_strangers_socket():
    """Running on 127.0.0.1:P, a reload that adds 127.0.0.2:P (held by another server)
    must be refused like a fresh start: the first version skipped the probe for any port
    we listen on, and the new SO_REUSEPORT socket joined the stranger's group."""
    port = mkt.free_port()
    with mkt.Server(conf={"Listen": "127.0.0.2:%d" % port, "Workers": "1"}, port=port) as other, \
            mkt.Server(conf={"Workers": "2"}, port=port) as s:
        eq(socket_owners(port), {other.pid: 1, s.pid: 2}, "sockets on port %d" % port)
        conf = os.path.join(s.confdir, "monkey.conf")
        text = open(conf).read()
        for extra in ("127.0.0.2:%d" % port, str(port)):
            with open(conf, "w") as f:
                f.write(text.replace("Listen 127.0.0.1:%d" % port,
                                     "Listen 127.0.0.1:%d\n    Listen %s" % (port, extra)))
            log = s.reload()
            assert "Address already in use" in log and "stays in place" in log, log
            eq(socket_owners(port), {other.pid: 1, s.pid: 2}, "sockets after Listen " + extra)
            eq(s.get("/one.txt").status, 200, "still serves after Listen " + extra)
            c = mkt.Client(port, host="127.0.0.2")
            eq(c.request(req("GET", "/one.txt")).status, 200, "the other one still serves")
            c.close()


def socket_owners(port):
    """{pid: listening sockets on port} over every process, from /proc/net/tcp(6) inodes."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as fh:
            for ln in fh.readlines()[1:]:
                parts = ln.split()
                if parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add("socket:[%s]" % parts[9])
    owners = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        seen = set()
        try:
            for fd in os.listdir("/proc/%s/fd" % pid):
                try:
                    t = os.readlink("/proc/%s/fd/%s" % (pid, fd))
                except OSError:
                    continue
                if t in inodes:
                    seen.add(t)
        except OSError:
            continue
        if seen:
            owners[int(pid)] = len(seen)
    return owners


# -- signals -----------------------------------------------------------------------------------

def stop_with(sig):
    s = mkt.Server().start()
    try:
        c = s.client()
        eq(c.request(req("GET", "/one.txt")).body, b"x", "body")  # an idle keep-alive conn
        s.send_signal(sig)
        rc = s.wait(10)
        assert rc is not None, "server still running 10 s after signal %d" % sig
        eq(rc, 0, "exit status after signal %d" % sig)
    finally:
        s.kill()


def test_sigterm_exit_0():
    stop_with(signal.SIGTERM)


def test_sigint_exit_0():
    stop_with(signal.SIGINT)


def test_sigterm_lets_inflight_response_finish():
    s = mkt.Server().start()
    try:
        c = s.client()
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        c.send(req("GET", "/big.bin"))
        status, _, headers = c.recv_head()
        eq(status, "HTTP/1.1 200 OK", "status")
        s.send_signal(signal.SIGTERM)
        r_body = c._read_exact(mkt.BIG_SIZE, time.monotonic() + 30)
        assert r_body == s.files["/big.bin"], "in-flight body cut or wrong"
        eq(s.wait(10), 0, "exit status after SIGTERM")
    finally:
        s.kill()


def test_sigterm_closes_a_keepalive_connection_once_its_response_is_sent():
    # The response was promised keep-alive before the signal.  Once it is sent the
    # connection is idle and must be closed at once, as idle ones are when the stop begins;
    # it used to be kept until KeepAliveTimeout (or GracePeriod), and the exit with it.
    # 64 MiB (sparse) so the body cannot all sit in socket buffers when the signal comes.
    s = mkt.Server(conf={"KeepAliveTimeout": "60", "GracePeriod": "60"}).start()
    size = s.sparse_file("huge.bin", 64 << 20)
    try:
        c = s.client()
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        c.send(req("GET", "/huge.bin"))
        status, _, headers = c.recv_head()
        eq(status, "HTTP/1.1 200 OK", "status")
        assert "Connection" not in headers, "response not keep-alive: %r" % headers
        time.sleep(0.3)  # the server waits for the client to read
        s.send_signal(signal.SIGTERM)
        time.sleep(0.3)  # and sees the stop while the body is still on its way
        body = c._read_exact(size, time.monotonic() + 60)
        eq((len(body), body.count(0)), (size, size), "in-flight body")
        assert c.is_closed(10), "connection still open 10 s after its response (limit 60 s)"
        eq(s.wait(10), 0, "exit status after SIGTERM (KeepAliveTimeout and GracePeriod 60)")
    finally:
        s.kill()


# -- daemon mode -------------------------------------------------------------------------------

def is_monkey(pid):
    try:
        return os.path.realpath("/proc/%d/exe" % pid) == os.path.realpath(mkt.MONKEY_BIN)
    except OSError:
        return False


def pid_gone(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            return any(ln.startswith("State:\tZ") for ln in f)
    except OSError:
        return True


def test_daemon_mode():
    s = mkt.Server()  # PidFile monkey.pid, relative to the configuration directory
    pidfile = os.path.join(s.confdir, "monkey.pid")
    log = open(os.path.join(s.dir, "daemon.log"), "wb")
    parent = subprocess.Popen([mkt.MONKEY_BIN, "-c", s.confdir, "-D"], cwd=s.dir,
                              stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    pid = None
    try:
        eq(parent.wait(timeout=15), 0, "exit status of the launching process with -D")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (os.path.exists(pidfile)
                                                   and open(pidfile).read().strip()):
            time.sleep(0.05)
        assert os.path.exists(pidfile), "no pid file %s" % pidfile
        pid = int(open(pidfile).read().strip())
        assert pid != parent.pid, "the daemon did not fork"
        assert is_monkey(pid), "pid file names %d, which is not a monkey process" % pid
        mode = stat.S_IMODE(os.stat(pidfile).st_mode)
        assert mode in (0o600, 0o640), "pid file mode %o (expected 0600 or 0640)" % mode
        deadline = time.monotonic() + 10
        while True:
            try:
                c = mkt.Client(s.port)
                break
            except OSError:
                assert time.monotonic() < deadline, "daemon does not accept on its port"
                time.sleep(0.05)
        eq(c.request(req("GET", "/one.txt")).body, b"x", "body from the daemon")
        c.close()
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while not pid_gone(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pid_gone(pid), "daemon still running 10 s after SIGTERM"
        pid = None
    finally:
        if pid is not None and not pid_gone(pid) and is_monkey(pid):
            os.kill(pid, signal.SIGKILL)
        if parent.poll() is None:
            parent.kill()
            parent.wait(5)
        log.close()

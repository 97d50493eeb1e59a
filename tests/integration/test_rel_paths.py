"""reliability.md "Paths and files": traversal, decoding, NUL, overlong UTF-8, bad escapes,
symbolic links (SymLink off and on), names with HTML characters, empty and 1-byte files.

Next to each document root lies a secret file (and a directory of them): no answer may ever
carry their content."""

import os
import shutil
import subprocess
import sys
import threading
import time

import mkt
from mkt import eq, req
import test_rel_util as U

SRV = None
SECRET = b"TOP-SECRET-6b1f0e2c-outside-the-docroot\n"
SECRET2 = b"OTHER-SECRET-d41d8cd9-in-a-dir-outside\n"
BACKSLASH = b"backslash file\n"
PCT = b"literal percent-2e file\n"
XSS_NAME = "q<script>alert(1)&'\".txt"
XSS_DIR = "<script>d"


def prepare(srv):
    """Secret files next to srv.docroot, and the extra files and links inside it."""
    base = os.path.dirname(srv.docroot)
    with open(os.path.join(base, "secret.txt"), "wb") as f:
        f.write(SECRET)
    os.makedirs(os.path.join(base, "outside"), exist_ok=True)
    with open(os.path.join(base, "outside", "s.txt"), "wb") as f:
        f.write(SECRET2)
    with open(os.path.join(base, "outside", "index.html"), "wb") as f:
        f.write(SECRET2)
    d = srv.docroot
    files = {"back\\slash.txt": BACKSLASH, "a%2eb.txt": PCT,
             os.path.join("noindex", XSS_NAME): b"xss\n",
             os.path.join(XSS_DIR, "index.html"): b"xss dir\n"}
    for name, data in files.items():
        os.makedirs(os.path.dirname(os.path.join(d, name)), exist_ok=True)
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    links = {
        "out.txt": "../secret.txt",                                  # relative, outside
        "outabs.txt": os.path.join(base, "secret.txt"),              # absolute, outside
        "outdir": "../outside",                                      # directory, outside
        "in.txt": "hello.txt",                                       # file, inside
        "indir": "dir",                                              # directory, inside
        "dir/up.txt": "../hello.txt",                                # goes up, stays inside
        "dir/deep.txt": "../../secret.txt",                          # goes up and out
        "swap.txt": "hello.txt",                                     # swapped during requests
    }
    for name, target in links.items():
        os.symlink(target, os.path.join(d, name))
    os.makedirs(os.path.join(d, "linkidx"))
    os.symlink("../../secret.txt", os.path.join(d, "linkidx", "index.html"))
    # an index that leaves its directory but not the root
    os.makedirs(os.path.join(d, "linkidx2"))
    os.symlink("../hello.txt", os.path.join(d, "linkidx2", "index.html"))


def setup_module():
    global SRV
    SRV = mkt.Server(conf={"Timeout": "5"})
    prepare(SRV)
    SRV.start()
    return SRV


def teardown_module():
    SRV.stop(check_fds=False)


def no_secret(r, what):
    for s in (SECRET, SECRET2, b"TOP-SECRET", b"OTHER-SECRET"):
        assert s not in r.body and s not in r.raw_head, "%s: secret content served: %r" % (what, r)


def get(srv, target, status, body=None):
    """GET target (str or bytes, sent as is); exact status (or tuple); never a secret."""
    t = target if isinstance(target, bytes) else target.encode()
    raw = b"GET " + t + b" HTTP/1.1\r\nHost: localhost\r\n\r\n"
    r = U.expect(srv, raw, status, body=body, what="GET %s" % t.decode("latin-1"))
    no_secret(r, "GET %r" % t)
    return r


# -- traversal: 403, never a file outside the docroot --------------------------------------------

def test_dotdot_403():
    get(SRV, "/../secret.txt", U.S403)
    get(SRV, "/../outside/s.txt", U.S403)
    get(SRV, "/..", U.S403)
    get(SRV, "/../", U.S403)


def test_sub_dotdot_dotdot_403():
    get(SRV, "/dir/../../secret.txt", U.S403)
    get(SRV, "/dir/./../../secret.txt", U.S403)
    get(SRV, "/dir/../../outside/", U.S403)
    get(SRV, "/noindex/../dir/../../secret.txt", U.S403)


def test_encoded_dotdot_403():
    for t in ["/%2e%2e/secret.txt", "/%2E%2E/secret.txt", "/.%2e/secret.txt",
              "/%2e./secret.txt", "/dir/%2e%2e/%2e%2e/secret.txt"]:
        get(SRV, t, U.S403)


def test_dotdot_encoded_slash_403():
    for t in ["/..%2fsecret.txt", "/..%2Fsecret.txt", "/dir/..%2f..%2fsecret.txt",
              "/%2e%2e%2fsecret.txt", "/dir%2f..%2f..%2fsecret.txt"]:
        get(SRV, t, U.S403)


def test_absolute_form_traversal_403():
    for t in ["http://localhost/../secret.txt", "http://localhost/%2e%2e/secret.txt",
              "http://localhost/dir/../../secret.txt", "http://localhost/..%2fsecret.txt"]:
        get(SRV, t, U.S403)
    U.still_serves(SRV)


# -- %252e decoded once; '\' and %5c: not separators ---------------------------------------------

def test_double_encoded_decoded_once():
    get(SRV, "/a%252eb.txt", U.S200, body=PCT)              # the file named "a%2eb.txt"
    get(SRV, "/%252e%252e/secret.txt", U.S404)               # a directory named "%2e%2e"
    get(SRV, "/%252e%252e%252fsecret.txt", U.S404)
    get(SRV, "/dir/%252e%252e/%252e%252e/secret.txt", U.S404)


def test_percent_5c_is_a_name_byte():
    get(SRV, "/back%5cslash.txt", U.S200, body=BACKSLASH)
    get(SRV, "/back%5Cslash.txt", U.S200, body=BACKSLASH)
    get(SRV, "/dir%5cpage.html", U.S404)
    get(SRV, "/..%5csecret.txt", U.S404)
    get(SRV, "/dir/..%5c..%5csecret.txt", U.S404)


def test_raw_backslash_is_a_name_byte():
    get(SRV, b"/back\\slash.txt", U.S200, body=BACKSLASH)
    get(SRV, b"/dir\\page.html", U.S404)
    get(SRV, b"/..\\secret.txt", U.S404)
    get(SRV, b"/dir\\..\\..\\secret.txt", U.S404)


# -- %00: 400 ------------------------------------------------------------------------------------

def test_encoded_nul_400():
    get(SRV, "/index.html%00.txt", U.S400)
    get(SRV, "/one.txt%00", U.S400)
    get(SRV, "/%00", U.S400)
    get(SRV, "/dir/%00/page.html", U.S400)


# -- overlong UTF-8 %c0%ae: 400/404 --------------------------------------------------------------

def test_overlong_utf8_400_or_404():
    for t in ["/%c0%ae%c0%ae/secret.txt", "/%c0%ae%c0%ae%c0%afsecret.txt",
              "/dir/%c0%ae%c0%ae/%c0%ae%c0%ae/secret.txt", "/%e0%80%ae%e0%80%ae/secret.txt",
              "/%c0%af"]:
        get(SRV, t, (U.S400, U.S404))


# -- '%', '%zz': 400 -----------------------------------------------------------------------------

def test_bad_percent_escapes_400():
    for t in ["/%", "/%zz", "/one.txt%", "/%2", "/%g0", "/%0g", "/%%32%65", "/dir/%z/x"]:
        get(SRV, t, U.S400)
    U.still_serves(SRV)


# -- symbolic links: 403/404 by default ----------------------------------------------------------

LINK_REFUSED = (U.S403, U.S404)


def test_symlink_pointing_outside_refused():
    get(SRV, "/out.txt", LINK_REFUSED)
    get(SRV, "/outabs.txt", LINK_REFUSED)
    get(SRV, "/dir/deep.txt", LINK_REFUSED)


def test_symlinked_directory_refused():
    get(SRV, "/outdir/s.txt", LINK_REFUSED)
    get(SRV, "/outdir/", LINK_REFUSED)
    get(SRV, "/indir/page.html", LINK_REFUSED)
    get(SRV, "/indir/", LINK_REFUSED)


def test_symlink_inside_refused_by_default():
    # conf/monkey.conf: "SymLink off: refuse all links".
    get(SRV, "/in.txt", LINK_REFUSED)
    get(SRV, "/dir/up.txt", LINK_REFUSED)


def test_symlinked_index_file_refused():
    get(SRV, "/linkidx/", LINK_REFUSED)
    get(SRV, "/linkidx2/", LINK_REFUSED)


@mkt.timeout(60)
def test_symlink_on_inside_works_outside_refused():
    s = mkt.Server(conf={"Timeout": "5", "SymLink": "on"})
    prepare(s)
    with s:
        hello = s.files["/hello.txt"]
        get(s, "/in.txt", U.S200, body=hello)
        get(s, "/dir/up.txt", U.S200, body=hello)
        get(s, "/indir/page.html", U.S200, body=s.files["/dir/page.html"])
        get(s, "/indir/", U.S200, body=mkt.DIR_INDEX_HTML)
        # confined to the root, not to the index's own directory (it was 403)
        get(s, "/linkidx2/", U.S200, body=hello)
        for t in ["/out.txt", "/outabs.txt", "/dir/deep.txt", "/outdir/s.txt", "/outdir/",
                  "/linkidx/"]:
            get(s, t, LINK_REFUSED)


def swap_link(path, targets, stop):
    i = 0
    while not stop.is_set():
        tmp = "%s.tmp" % path
        try:
            os.symlink(targets[i % 2], tmp)
            os.rename(tmp, path)
        except OSError:
            pass
        i += 1


@mkt.timeout(90)
def test_link_swapped_during_requests_never_leaks():
    for symlink in ("off", "on"):
        s = mkt.Server(conf={"Timeout": "5", "SymLink": symlink})
        prepare(s)
        with s:
            stop = threading.Event()
            t = threading.Thread(target=swap_link, daemon=True,
                                 args=(os.path.join(s.docroot, "swap.txt"),
                                       ["hello.txt", "../secret.txt"], stop))
            t.start()
            seen = set()
            try:
                c = s.client()
                for i in range(300):
                    r = c.request(req("GET", "/swap.txt"))
                    no_secret(r, "SymLink %s, request %d" % (symlink, i))
                    seen.add(r.status)
                    if symlink == "on":
                        assert r.status in (200, 403, 404), r
                        if r.status == 200:
                            eq(r.body, s.files["/hello.txt"], "body of the inside target")
                    else:
                        assert r.status in (403, 404), "SymLink off: %r" % r
            finally:
                stop.set()
                t.join(5)


RENAMER = """
import os, sys
a, b = sys.argv[1], sys.argv[2]
open(a, "w").close()
while True:
    os.rename(a, b)
    os.rename(b, a)
"""


@mkt.timeout(90)
def test_symlink_on_link_with_dotdot_during_renames_elsewhere():
    """With SymLink on, a link whose target climbs ("dir/up.txt" -> "../hello.txt") is
    opened with openat2(RESOLVE_BENEATH), which fails with EAGAIN when any rename or mount
    in the system races the ".." (openat2(2): the caller may retry).  That was answered
    500 Internal Server Error (and an index file so opened was skipped): about one request
    in twelve while another process renamed a file in a loop.  The open is retried."""
    s = mkt.Server(conf={"Timeout": "5", "SymLink": "on"})
    prepare(s)
    up = os.path.join(s.docroot, "dir", "up.txt")
    # dated in the future: the open-file cache opens it again on every request
    future = time.time() + 10 ** 6
    os.utime(os.path.join(s.docroot, "hello.txt"), (future, future))
    hello = s.files["/hello.txt"]
    assert os.readlink(up) == "../hello.txt"
    d = mkt.tmpdir("renames")
    with s:
        ren = subprocess.Popen([sys.executable, "-c", RENAMER, os.path.join(d, "a"),
                                os.path.join(d, "b")])
        try:
            c = s.client()
            bad = []
            for i in range(3000):
                target = "/dir/up.txt" if i % 2 else "/linkidx2/"
                r = c.request(req("GET", target))
                if r.status != 200 or r.body != hello:
                    bad.append((target, r.status_line))
                if r.status != 200 or r.headers.get("Connection"):  # MaxKeepAliveRequest
                    U.drop(s, c)
                    c = s.client()
            assert not bad, "%d of 3000 answers were not the file, e.g. %r" % (len(bad), bad[:3])
        finally:
            ren.kill()
            ren.wait()


# -- names with <>"&' are escaped where echoed ---------------------------------------------------

def no_raw_script(r, what):
    assert b"<script>" not in r.body.lower(), "%s: raw <script> in the body: %r" % (what, r)
    assert b"<script>" not in r.raw_head.lower(), "%s: raw <script> in the head: %r" % (what, r)


def test_html_name_in_error_pages_escaped():
    targets = [b"/%3Cscript%3Ealert(1)%3C/script%3E", b"/noindex/%3cscript%3e&'%22.txt",
               b"/<script>alert(1)</script>", b"/dir/<script>x&'\"", b"/%3cscript%3e/%2e%2e/..",
               b"/%3cscript%3e%00", b"/%3cscript%3e%zz"]
    for t in targets:
        raw = b"GET " + t + b" HTTP/1.1\r\nHost: localhost\r\n\r\n"
        r, c = U.one(SRV, raw)
        U.drop(SRV, c)
        assert r.status >= 400, "GET %r: %r" % (t, r)
        no_raw_script(r, "GET %r" % t)


def test_html_name_in_directory_answers_escaped():
    enc = "/noindex/q%3Cscript%3Ealert(1)%26'%22.txt"
    get(SRV, enc, U.S200, body=b"xss\n")
    for t in [b"/noindex/", b"/noindex", b"/%3Cscript%3Ed", b"/%3Cscript%3Ed/"]:
        raw = b"GET " + t + b" HTTP/1.1\r\nHost: localhost\r\n\r\n"
        r, c = U.one(SRV, raw)
        U.drop(SRV, c)
        no_raw_script(r, "GET %r" % t)


# -- empty file, 1-byte file: correct Content-Length ---------------------------------------------

def test_empty_file_content_length_0():
    r = get(SRV, "/empty.txt", U.S200, body=b"")
    eq(r.headers.get("Content-Length"), "0", "Content-Length")
    c = SRV.client()
    c.send(req("HEAD", "/empty.txt") + req("GET", "/empty.txt") + U.GET_ONE)
    r = c.recv_response(head=True)
    eq((r.status_line, r.headers.get("Content-Length")), (U.S200, "0"), "HEAD /empty.txt")
    r = c.recv_response()
    eq((r.status_line, r.headers.get("Content-Length"), r.body), (U.S200, "0", b""), "GET")
    r = c.recv_response()
    eq((r.status_line, r.body), (U.S200, b"x"), "pipelined GET after the empty file")
    U.drop(SRV, c)


def test_one_byte_file_content_length_1():
    r = get(SRV, "/one.txt", U.S200, body=b"x")
    eq(r.headers.get("Content-Length"), "1", "Content-Length")
    c = SRV.client()
    c.send(req("HEAD", "/one.txt") + req("GET", "/one.txt") * 2)
    r = c.recv_response(head=True)
    eq((r.status_line, r.headers.get("Content-Length")), (U.S200, "1"), "HEAD /one.txt")
    for i in range(2):
        r = c.recv_response()
        eq((r.status_line, r.headers.get("Content-Length"), r.body), (U.S200, "1", b"x"), "GET")
    U.drop(SRV, c)


@mkt.timeout(60)
def test_document_root_link_swap_is_followed():
    """A deploy that points the DocumentRoot link at a new release (ln -sfn + mv -T) is
    served within a second by every worker, even when it deletes the old release at once:
    cached files are the old release's for at most the rest of the second, and a file only
    the new release has is served at once (a miss looks at the root again) rather than 404.
    It used to keep serving the old tree until a reload, then 404."""
    base = mkt.tmpdir("deploy")
    for rel, body in (("rel1", b"v1\n"), ("rel2", b"v2\n"), ("rel3", b"v3\n")):
        os.makedirs(os.path.join(base, rel))
        with open(os.path.join(base, rel, "index.html"), "wb") as f:
            f.write(body)
    with open(os.path.join(base, "rel3", "only3.txt"), "wb") as f:
        f.write(b"3")
    cur = os.path.join(base, "current")

    def swap(rel):
        os.symlink(rel, cur + ".tmp")
        os.rename(cur + ".tmp", cur)

    os.symlink("rel1", cur)
    s = mkt.Server(conf={"Workers": "2"}, host={"DocumentRoot": cur}).start()
    try:
        for _ in range(4):
            eq(s.get("/").body, b"v1\n", "before the swap")
        swap("rel2")
        time.sleep(1.1)  # past every worker's last look at the root
        for _ in range(10):  # both workers
            eq(s.get("/").body, b"v2\n", "a second after the swap")
        swap("rel3")
        shutil.rmtree(os.path.join(base, "rel2"))  # at once, maybe in the same second
        for _ in range(10):  # both workers, each looking again on its miss
            r = s.get("/only3.txt")
            eq((r.status, r.body), (200, b"3"), "a file only the new release has, at once")
        for _ in range(10):
            for path in ("/", "/index.html"):
                r = s.get(path)
                assert r.status == 200 and r.body in (b"v2\n", b"v3\n"), (path, r)
        time.sleep(1.1)
        for _ in range(10):
            eq(s.get("/").body, b"v3\n", "a second after the swap that deleted the old one")
            eq(s.get("/index.html").body, b"v3\n", "the same, by name")
        # Each worker holds its new root open (one fd each), nothing more: the start-up
        # root stays open for the process, as before.
        roots = [t for t in s.fd_targets() if t == os.path.join(base, "rel3")]
        assert len(roots) <= 2, "fds on the new root: %s" % s.fd_list()
    finally:
        s.stop(check_fds=False)


@mkt.timeout(60)
def test_miss_under_a_root_without_link_costs_no_stat():
    """A 404 looks at the DocumentRoot path again (a deploy may just have swapped its link)
    only when that path goes through a symbolic link: under a plain directory nothing can be
    swapped at once, and a miss is openat2 alone.  Each 404 used to stat() the root too
    (strace: one newfstatat per request); the once-a-second look remains."""
    with mkt.Server(conf={"Workers": "1"}) as s:
        if os.path.realpath(s.docroot) != s.docroot:
            raise mkt.Skip("the test docroot %s goes through a link" % s.docroot)
        c = s.client()
        c.send(req("GET", "/missing.txt"))
        eq(c.recv_response().status, 404, "warm-up miss")
        n = 60
        with mkt.Strace(s.pid, "%stat,openat,openat2") as st:
            for _ in range(n):
                c.send(req("GET", "/missing.txt"))
                eq(c.recv_response().status, 404, "a miss")
        lines = st.lines
        opens = [ln for ln in lines if "openat2(" in ln or "openat(" in ln]
        stats = [ln for ln in lines if "stat" in ln.split("(", 1)[0]]
        assert len(opens) >= n, "%d opens for %d misses (strace attached?)" % (len(opens), n)
        # The root's once-a-second look may fall in the window: a few stat() calls at most.
        assert len(stats) <= 4, "%d stat calls for %d misses: %s" % (len(stats), n, stats[:3])
        c.close()


def opens_of(lines, name):
    """The openat/openat2 calls of strace lines that open `name` (a path relative to the
    document root, as the server passes it)."""
    return [ln for ln in lines if ("openat2(" in ln or "openat(" in ln) and '"%s"' % name in ln]


@mkt.timeout(60)
def test_redirect_to_slash_is_cached():
    """A directory asked for without its trailing slash is a 301 cached as a file is: one
    look at the directory a second, not openat2 + fstat + close on every request (strace:
    one open per request before).  The once-a-second check still sees the directory
    replaced by a file: the file is served."""
    with mkt.Server(conf={"Workers": "1"}) as s:
        d = os.path.join(s.docroot, "cached301")
        os.makedirs(d)
        with open(os.path.join(d, "index.html"), "wb") as f:
            f.write(b"in\n")
        # An old mtime: a directory changed in the last seconds is looked at every time,
        # as a file is.
        os.utime(d, (1600000000, 1600000000))
        c = s.client()
        c.send(req("GET", "/cached301"))
        eq(c.recv_response().status, 301, "warm-up 301")
        n = 60
        with mkt.Strace(s.pid, "openat,openat2") as st:
            for _ in range(n):
                c.send(req("GET", "/cached301"))
                r = c.recv_response()
                eq((r.status, r.headers.get("Location")), (301, "http://localhost/cached301/"),
                   "a 301")
        opens = opens_of(st.lines, "cached301")
        # The once-a-second check may fall in the window a few times (strace slows it all).
        assert len(opens) <= 5, "%d opens for %d redirects: %s" % (len(opens), n, opens[:3])
        eq(c.request(req("GET", "/cached301/")).body, b"in\n", "with its slash: the index")
        # The directory replaced by a file: served within a second or so.
        shutil.rmtree(d)
        with open(d, "wb") as f:
            f.write(b"now a file\n")
        os.utime(d, (1600000000, 1600000000))
        deadline = time.monotonic() + 5
        while True:
            r = c.request(req("GET", "/cached301"))
            if r.status == 200 or time.monotonic() > deadline:
                break
            eq(r.status, 301, "before the check")
            time.sleep(0.1)
        eq((r.status, r.body), (200, b"now a file\n"), "the file that replaced the directory")
        c.close()

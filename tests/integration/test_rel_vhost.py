"""Virtual hosts and custom error pages: sites/default and sites/other (ServerName other.test,
its own DocumentRoot); [ERROR_PAGES] in a site file; 10 000 custom 404s over keep-alive
connections leave the server's fd count unchanged (Monkey once leaked an fd per error page)."""

import os

import mkt
from mkt import eq, req
import test_rel_util as U

SRV = None
PAGE_404 = b"<html><body>custom not found page 404-7f3a</body></html>\n"
PAGE_400 = b"<html><body>custom bad request page 400-91c2</body></html>\n"
DEFAULT_SITE = b"default site\n"
OTHER_SITE = b"other site\n"


def setup_module():
    global SRV
    s = mkt.Server(conf={"Timeout": "5", "MaxKeepAliveRequest": "1000"})
    other = os.path.join(s.dir, "other")
    os.makedirs(other)
    for root, data in ((s.docroot, DEFAULT_SITE), (other, OTHER_SITE)):
        with open(os.path.join(root, "site.txt"), "wb") as f:
            f.write(data)
    with open(os.path.join(s.docroot, "404.html"), "wb") as f:
        f.write(PAGE_404)
    with open(os.path.join(s.docroot, "400.html"), "wb") as f:
        f.write(PAGE_400)
    sites = {
        "default": mkt.section("HOST", [("ServerName", "127.0.0.1 localhost"),
                                        ("DocumentRoot", s.docroot)]) +
                   mkt.section("ERROR_PAGES", [("404", "404.html"), ("400", "400.html")]),
        # an IPv6 literal written in a long form: it names the address, not the text
        "other": mkt.section("HOST", [("ServerName", "other.test [0:0::2] [::FFFF:10.0.0.9]"),
                                      ("DocumentRoot", other)]),
    }
    mkt.write_confdir(s.confdir, mkt.merge([("Listen", "127.0.0.1:%d" % s.port)] +
                                           mkt.SERVER_DEFAULTS,
                                           {"Timeout": "5", "MaxKeepAliveRequest": "1000"}),
                      None, sites)
    SRV = s.start()
    return SRV


def teardown_module():
    SRV.stop(check_fds=False)


def site(host_line, target=b"/site.txt"):
    raw = b"GET " + target + b" HTTP/1.1\r\n" + (host_line + b"\r\n" if host_line else b"") + \
        b"\r\n"
    r, c = U.one(SRV, raw)
    U.drop(SRV, c)
    return r


# -- virtual hosts -------------------------------------------------------------------------------

def test_host_other_uppercase_with_port():
    r = site(b"Host: OTHER.TEST:8080")
    eq((r.status_line, r.body), (U.S200, OTHER_SITE), "Host: OTHER.TEST:8080")


def test_host_other():
    r = site(b"Host: other.test")
    eq((r.status_line, r.body), (U.S200, OTHER_SITE), "Host: other.test")


def test_unknown_host_default_site():
    for h in [b"Host: unknown.example", b"Host: unknown.example:8080", b"Host: other.testx",
              b"Host: xother.test", b"Host: 10.1.2.3"]:
        r = site(h)
        eq((r.status_line, r.body), (U.S200, DEFAULT_SITE), h.decode())


def test_host_ipv6_literal_matches_in_canonical_form():
    """ServerName [0:0::2] matched only a Host spelled "[0:0::2]", and ServerName [::1] not
    "[0:0::1]": an IPv6 literal names an address, whatever its spelling."""
    for h in [b"Host: [::2]", b"Host: [0:0::2]", b"Host: [0::2]:8080", b"Host: [::0:2]:",
              b"Host: [0000:0000:0000:0000:0000:0000:0000:0002]", b"Host: [::ffff:a00:9]",
              b"Host: [::FFFF:10.0.0.9]:80"]:
        r = site(h)
        eq((r.status_line, r.body), (U.S200, OTHER_SITE), h.decode())
    for h in [b"Host: [::3]", b"Host: [::1]", b"Host: [2::]", b"Host: [::10.0.0.9]"]:
        r = site(h)
        eq((r.status_line, r.body), (U.S200, DEFAULT_SITE), h.decode())


def test_named_default_host():
    r = site(b"Host: localhost")
    eq((r.status_line, r.body), (U.S200, DEFAULT_SITE), "Host: localhost")


def test_http10_without_host_default_site():
    r, c = U.one(SRV, b"GET /site.txt HTTP/1.0\r\n\r\n")
    U.drop(SRV, c)
    eq((r.status_line, r.body), (U.S200, DEFAULT_SITE), "HTTP/1.0, no Host")


def test_absolute_form_host_wins_over_host_header():
    # RFC 9112 3.2.2: the host of an absolute-form target replaces the Host header.
    r = site(b"Host: localhost", target=b"http://other.test/site.txt")
    eq((r.status_line, r.body), (U.S200, OTHER_SITE), "absolute-form other.test")


def test_vhosts_on_one_keepalive_connection():
    c = SRV.client()
    c.send(req("GET", "/site.txt", host="other.test") + req("GET", "/site.txt") +
           req("GET", "/site.txt", host="OTHER.TEST"))
    for want in (OTHER_SITE, DEFAULT_SITE, OTHER_SITE):
        r = c.recv_response()
        eq((r.status_line, r.body), (U.S200, want), "pipelined vhost answers")
    U.drop(SRV, c)


# -- [ERROR_PAGES] -------------------------------------------------------------------------------

def test_error_page_404_served_with_status_404():
    r, c = U.one(SRV, req("GET", "/missing.html"))
    U.drop(SRV, c)
    eq(r.status_line, U.S404, "status")
    eq(r.body, PAGE_404, "body is the 404.html file")
    eq(r.headers.get("Content-Length"), str(len(PAGE_404)), "Content-Length")
    assert r.headers.get("Content-Type", "").startswith("text/html"), r


def test_error_page_404_head_and_keepalive():
    c = SRV.client()
    c.send(req("HEAD", "/missing.html") + req("GET", "/missing2") + U.GET_ONE)
    r = c.recv_response(head=True)
    eq((r.status_line, r.headers.get("Content-Length")), (U.S404, str(len(PAGE_404))), "HEAD")
    r = c.recv_response()
    eq((r.status_line, r.body), (U.S404, PAGE_404), "GET after HEAD")
    r = c.recv_response()
    eq((r.status_line, r.body), (U.S200, b"x"), "GET /one.txt after the 404s")
    U.drop(SRV, c)


BAD = b"GET /%zz HTTP/1.1\r\nHost: localhost\r\n\r\n"  # a 400 once the site is known


def test_error_page_400_custom():
    r = U.expect(SRV, BAD, U.S400, closes=True)
    eq(r.body, PAGE_400, "body is the 400.html file")


def test_error_page_400_custom_before_host_is_known():
    # HTTP/1.1 without Host: no site can be chosen, so the default site's page applies.
    r = U.expect(SRV, b"GET /one.txt HTTP/1.1\r\n\r\n", U.S400, closes=True)
    eq(r.body, PAGE_400, "body is the default site's 400.html")


def test_error_page_400_of_the_site_whose_host_was_read():
    # A head refused after a valid Host was read belongs to that site (as in nginx): the other
    # site has no 400 page, so the built-in one, not the default site's.
    r = U.expect(SRV, b"GET /one.txt HTTP/1.1\r\nHost: other.test\r\nBad Field: x\r\n\r\n",
                 U.S400, closes=True)
    assert r.body != PAGE_400, "the other site's 400 got the default site's page"
    # a malformed Host chooses no site: the default site's page
    r = U.expect(SRV, b"GET /one.txt HTTP/1.1\r\nHost: other..test\r\n\r\n", U.S400,
                 closes=True)
    eq(r.body, PAGE_400, "body is the default site's 400.html")


def test_other_site_has_builtin_404():
    r = site(b"Host: other.test", target=b"/missing.html")
    eq(r.status_line, U.S404, "status")
    assert r.body != PAGE_404, "the other site served the default site's error page"
    eq(r.headers.get("Content-Length"), str(len(r.body)), "Content-Length")


# -- 10 000 custom 404s: fd count unchanged -----------------------------------------------------

@mkt.timeout(240)
def test_10000_custom_404s_fd_count_unchanged():
    SRV.get("/missing-warmup")
    SRV.request(b"GET / HTTP/1.1\r\n\r\n")
    base = SRV.settled_fds()
    done = 0
    batch = 100
    while done < 10000:
        c = SRV.client()
        sent_here = 0
        while sent_here < 1000 and done < 10000:  # MaxKeepAliveRequest 1000
            n = min(batch, 1000 - sent_here, 10000 - done)
            c.send(b"".join(req("GET", "/missing-%d.html" % (done + i)) for i in range(n)))
            for i in range(n):
                r = c.recv_response()
                if r.status_line != U.S404 or r.body != PAGE_404:
                    U.drop(SRV, c)
                    raise AssertionError("request %d: %r" % (done + i, r))
            done += n
            sent_here += n
        U.drop(SRV, c)
    n = SRV.wait_fds(base, timeout=5)
    assert n <= base, "after 10 000 custom 404s: %d fds open, %d before (%s)" % (
        n, base, SRV.fd_list())


@mkt.timeout(120)
def test_500_custom_400s_fd_count_unchanged():
    SRV.request(BAD)
    base = SRV.settled_fds()
    for i in range(500):
        r, c = U.one(SRV, BAD)
        U.drop(SRV, c)
        if r.status_line != U.S400 or r.body != PAGE_400:
            raise AssertionError("request %d: %r" % (i, r))
    n = SRV.wait_fds(base, timeout=5)
    assert n <= base, "after 500 custom 400s: %d fds open, %d before (%s)" % (
        n, base, SRV.fd_list())

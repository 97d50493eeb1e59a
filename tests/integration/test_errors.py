"""Error answers: exact status lines (reason phrases from monkey-compat.md), an HTML body whose
length matches Content-Length, and the connection closed after errors that end it."""

import mkt
from mkt import eq, req

SRV = None


def setup_module():
    global SRV
    SRV = mkt.Server().start()
    return SRV


def teardown_module():
    SRV.stop(check_fds=False)


S400 = "HTTP/1.1 400 Bad Request"
S403 = "HTTP/1.1 403 Forbidden"
S404 = "HTTP/1.1 404 Not Found"
S405 = "HTTP/1.1 405 Method Not Allowed"
S411 = "HTTP/1.1 411 Length Required"
S413 = "HTTP/1.1 413 Request Entity Too Large"
S414 = "HTTP/1.1 414 Request-URI Too Long"
S501 = "HTTP/1.1 501 Not Implemented"
S505 = "HTTP/1.1 505 HTTP Version Not Supported"


def answer(raw, status_line, closes=False, what=""):
    """Send raw on a fresh connection; check the error answer and, if closes, the close."""
    what = what or raw.split(b"\n")[0][:80].decode("latin-1").strip()
    c = SRV.client()
    c.send(raw)
    try:
        r = c.recv_response()
    except (mkt.ConnectionClosed, TimeoutError) as e:
        raise AssertionError("%s: no answer (%s) to %r" % (what, e, raw[:200]))
    try:
        mkt.check_error(r, status_line)
    except AssertionError as e:
        raise AssertionError("%s: %s\nrequest: %r" % (what, e, raw[:200]))
    if closes:
        assert c.is_closed(5), "%s: connection still open after %r" % (what, status_line)
        eq(c.buf, b"", "%s: bytes after the error answer" % what)
    c.close()
    SRV.clients.remove(c)
    return r


def still_serves():
    eq(SRV.get("/one.txt").body, b"x", "server still serves")


# -- 404 ---------------------------------------------------------------------------------------

def test_404_missing_file():
    answer(req("GET", "/missing.html"), S404)


def test_404_keeps_connection():
    c = SRV.client()
    c.send(req("GET", "/missing.html") + req("GET", "/one.txt"))
    mkt.check_error(c.recv_response(), S404)
    eq(c.recv_response().body, b"x", "request after a 404")


def test_404_head_has_no_body():
    c = SRV.client()
    c.send(req("HEAD", "/missing.html") + req("GET", "/one.txt"))
    r = c.recv_response(head=True)
    eq(r.status_line, S404, "status")
    eq(c.recv_response().body, b"x", "next response follows the HEAD head directly")


def test_404_missing_in_subdir():
    answer(req("GET", "/dir/missing.html"), S404)
    answer(req("GET", "/nodir/x"), S404)


# -- 403 ---------------------------------------------------------------------------------------

TRAVERSALS = ["/../etc/passwd", "/%2e%2e/", "/%2e%2e/etc/passwd", "/%2E%2E/%2E%2E/etc/passwd",
              "/dir/../../etc/passwd", "/..", "/.%2e/etc/passwd", "/%2e./etc/passwd",
              "/dir/%2e%2e/%2e%2e/etc/passwd"]


def test_403_traversal():
    for path in TRAVERSALS:
        r = answer(req("GET", path), S403, what=path)
        assert b"root:" not in r.body, path
    still_serves()


def test_traversal_with_encoded_slash_never_leaves_docroot():
    # '..%2f' forms: Monkey answers 403; 400/404 are acceptable (reliability.md).
    for path in ["/..%2f..%2fetc%2fpasswd", "/dir/..%2f..%2fetc/passwd", "/%2e%2e%2fetc/passwd"]:
        c = SRV.client()
        c.send(req("GET", path))
        r = c.recv_response()
        assert r.status in (400, 403, 404), "%s: %r" % (path, r)
        assert b"root:" not in r.body, path
    still_serves()


# -- 405 / 411 ---------------------------------------------------------------------------------

def check_allow(r):
    allow = r.headers.get("Allow")
    assert allow, "405 without an Allow header: %r" % r
    methods = [m.strip() for m in allow.split(",")]
    assert "GET" in methods and "HEAD" in methods, "Allow: %r" % allow
    assert "PUT" not in methods and "DELETE" not in methods, "Allow: %r" % allow


def test_405_put():
    r = answer(req("PUT", "/index.html", headers={"Content-Length": "5"}, body=b"hello"), S405)
    check_allow(r)


def test_405_delete():
    r = answer(req("DELETE", "/index.html"), S405)
    check_allow(r)


def test_411_post_without_length():
    answer(req("POST", "/index.html"), S411)


# -- 413 / 414 ---------------------------------------------------------------------------------

def test_413_one_big_header():
    answer(req("GET", "/", headers={"X-Big": "a" * 40000}), S413, closes=True)


def test_413_many_headers():
    hs = [("X-H%d" % i, "v" * 30) for i in range(1200)]  # ~48 KiB
    answer(req("GET", "/", headers=hs), S413, closes=True)


def test_413_content_length_over_limit():
    answer(req("POST", "/index.html", headers={"Content-Length": str(32 * 1024 + 1)}), S413,
           closes=True)
    answer(req("POST", "/index.html", headers={"Content-Length": "1000000000"}), S413,
           closes=True)


def test_414_long_uri():
    # monkey-compat.md does not list 414's phrase: Monkey's RFC 2616 set says
    # "Request-URI Too Long"; RFC 9110's "URI Too Long" is accepted too.
    raw = req("GET", "/" + "a" * 65536)
    c = SRV.client()
    c.send(raw)
    r = c.recv_response()
    assert r.status_line in (S414, "HTTP/1.1 414 URI Too Long"), r
    mkt.check_error(r, r.status_line)
    assert c.is_closed(5), "connection still open after 414"
    eq(c.buf, b"", "bytes after the 414 answer")
    still_serves()


# -- 501 ---------------------------------------------------------------------------------------

def test_501_unknown_method():
    answer(req("FOO", "/"), S501, what="FOO")


def test_501_lowercase_method():
    answer(req("get", "/"), S501, what="get")


def test_501_numeric_method():
    answer(req("1234", "/"), S501, what="1234")


# -- 505 ---------------------------------------------------------------------------------------

def test_505_versions():
    for v in ["HTTP/1.9", "HTTP/2.0", "HTTP/3.0", "http/1.1", "http/1.0", "HTTP/1.2",
              "HTTP/1.10", "HTTP/01.1", "FOO"]:
        answer(req("GET", "/", version=v), S505, closes=True, what=v)


# -- 400 ---------------------------------------------------------------------------------------

def test_400_no_version():
    answer(b"GET /\r\n\r\n", S400, closes=True)


def test_400_missing_host_http11():
    answer(req("GET", "/", host=None), S400, closes=True)


def test_400_double_host():
    answer(req("GET", "/", headers={"Host": "localhost"}), S400, closes=True)


def test_400_space_before_colon():
    answer(b"GET / HTTP/1.1\r\nHost : localhost\r\n\r\n", S400, closes=True)
    answer(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-A : 1\r\n\r\n", S400, closes=True)


def test_400_obs_fold():
    answer(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-A: 1\r\n  continued\r\n\r\n", S400,
           closes=True)


def test_400_whitespace_before_first_header():
    answer(b"GET / HTTP/1.1\r\n Host: localhost\r\n\r\n", S400, closes=True)


def test_400_nul_in_header():
    answer(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-A: a\x00b\r\n\r\n", S400, closes=True)


def test_400_bare_cr_in_header():
    answer(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-A: a\rb\r\n\r\n", S400, closes=True)
    answer(b"GET / HTTP/1.1\r\nHost: localhost\rX-A: b\r\n\r\n", S400, closes=True)


def test_400_header_without_colon():
    answer(b"GET / HTTP/1.1\r\nHost: localhost\r\nNoColon\r\n\r\n", S400, closes=True)


def test_400_target_not_starting_with_slash():
    answer(b"GET index.html HTTP/1.1\r\nHost: localhost\r\n\r\n", S400, closes=True)


def test_400_bad_host_values():
    for host in ["", "localhost:99999", "localhost:123456", "localhost:ab", "[::1]:AABB",
                 "a/b", "a b", "..", "a\\b",
                 # RFC 3986 3.2.2: pct-encoded is '%' and two hex digits, and an IP-literal
                 # holds an IPv6 address; they used to be copied into a redirect's Location
                 "a%zz", "a%", "a%4", "[1::2::3]", "[.]", "[1.2.3.4]", "[::1%25lo]"]:
        answer(req("GET", "/", host=host), S400, closes=True, what="Host %r" % host)
        answer(req("GET", "/dir", host=host), S400, closes=True, what="Host %r, /dir" % host)
    answer(b"GET http://a%zz/dir HTTP/1.1\r\nHost: a\r\n\r\n", S400, closes=True,
           what="absolute-form authority a%zz")
    for host in ["a%41", "[::ffff:127.0.0.1]:80"]:
        c = SRV.client()
        c.send(req("GET", "/index.html", host=host))
        r = c.recv_response()
        c.close()
        eq(r.status, 200, "Host %r" % host)


def test_400_content_length_and_transfer_encoding():
    c = SRV.client()
    c.send(req("POST", "/index.html", headers=[("Content-Length", "5"),
                                               ("Transfer-Encoding", "chunked")],
               body=b"0\r\n\r\n") + req("GET", "/one.txt"))
    mkt.check_error(c.recv_response(), S400)
    assert c.is_closed(5), "connection still open"
    eq(c.buf, b"", "the pipelined request after a smuggling attempt must get no answer")


def test_400_conflicting_content_length():
    answer(req("POST", "/index.html", headers=[("Content-Length", "1"), ("Content-Length", "2")],
               body=b"ab"), S400, closes=True)
    answer(req("POST", "/index.html", headers=[("Content-Length", "1, 2")], body=b"ab"), S400,
           closes=True)
    answer(req("POST", "/index.html", headers=[("Content-Length", "-1")]), S400, closes=True)


def test_400_transfer_encoding_in_http10():
    answer(req("POST", "/index.html", version="HTTP/1.0",
               headers={"Transfer-Encoding": "chunked"}, body=b"0\r\n\r\n"), S400, closes=True)


def test_400_nul_in_path():
    answer(req("GET", "/index.html%00.txt"), S400, closes=True)


def test_400_bad_percent_encoding():
    answer(req("GET", "/%zz"), S400, closes=True)
    answer(req("GET", "/%"), S400, closes=True)


def test_400_tls_client_hello():
    hello = bytes.fromhex("16030100a5010000a10303") + bytes(32) + b"\x00\x00\x02\x13\x01\x01\x00"
    answer(hello + b"\r\n\r\n", S400, closes=True)


def test_many_errors_server_survives():
    for raw in [b"\x00\x01\x02\r\n\r\n", b"GET\r\n\r\n", b" / HTTP/1.1\r\n\r\n",
                b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", b"GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n"]:
        c = SRV.client()
        c.send(raw)
        r = c.recv_response()
        assert r.status == 400, "%r -> %r" % (raw, r)
    still_serves()

"""reliability.md "Request line": one test per row (or per case of a row), exact raw bytes,
exact status lines (monkey-compat.md reason phrases; the first-listed answer where the table
allows two)."""

import ssl

import mkt
from mkt import eq, req
import test_rel_util as U

SRV = None
TIMEOUT = 5  # the server's Timeout: bounds the tests of requests the server may wait on


def setup_module():
    global SRV
    SRV = mkt.Server(conf={"Timeout": str(TIMEOUT)}).start()
    return SRV


def teardown_module():
    SRV.stop(check_fds=False)


H = b"\r\nHost: localhost\r\n\r\n"


def line(first):
    """A request whose request line is exactly `first` (bytes), with a Host header."""
    return first + H


# -- lowercase or unknown method: 501 ------------------------------------------------------------

def test_lowercase_method_501():
    U.expect(SRV, line(b"get / HTTP/1.1"), U.S501)


def test_unknown_method_501():
    U.expect(SRV, line(b"FOO / HTTP/1.1"), U.S501)


def test_mixed_case_method_501():
    U.expect(SRV, line(b"Get /index.html HTTP/1.1"), U.S501)


# -- method with a non-token byte, missing method, missing target, double SP, TAB: 400 ----------

def test_method_with_non_token_byte_400():
    for m in [b"G@T", b"GE(T", b"GE\"T", b"GET\x7f", b"G\xc3\xa9T", b"GE,T", b"G{T"]:
        U.expect(SRV, line(m + b" / HTTP/1.1"), U.S400, what="method %r" % m)
    U.still_serves(SRV)


def test_missing_method_400():
    U.expect(SRV, line(b" / HTTP/1.1"), U.S400)


def test_missing_target_400():
    U.expect(SRV, line(b"GET  HTTP/1.1"), U.S400)
    U.expect(SRV, line(b"GET HTTP/1.1"), U.S400)


def test_double_sp_400():
    U.expect(SRV, line(b"GET  / HTTP/1.1"), U.S400)
    U.expect(SRV, line(b"GET /  HTTP/1.1"), U.S400)


def test_tab_separator_400():
    U.expect(SRV, line(b"GET\t/ HTTP/1.1"), U.S400)
    U.expect(SRV, line(b"GET /\tHTTP/1.1"), U.S400)


# -- HTTP/0.9 simple request: 400 or close, never a raw body -------------------------------------

@mkt.timeout(40)
def test_http09_simple_request_never_raw_body():
    c = SRV.client(timeout=TIMEOUT + 10)
    c.send(b"GET /index.html\r\n")
    try:
        data = c.recv_until_close(timeout=TIMEOUT + 10)
    except TimeoutError:
        raise AssertionError("HTTP/0.9 'GET /index.html\\r\\n': neither an answer nor a close "
                             "within Timeout+10 s; received %r" % c.buf[:200])
    U.drop(SRV, c)
    if data:
        assert data.startswith(b"HTTP/1.1 400 Bad Request\r\n"), \
            "HTTP/0.9 request answered with %r (expected 400 or a close)" % data[:200]
    assert mkt.INDEX_HTML not in data or data.startswith(b"HTTP/1.1 "), \
        "raw body sent to an HTTP/0.9 request: %r" % data[:200]


def test_http09_with_blank_line_400():
    r = U.expect(SRV, b"GET /index.html\r\n\r\n", U.S400, closes=True)
    assert mkt.INDEX_HTML not in r.body


# -- HTTP/2.0, HTTP/3.0: 505 ---------------------------------------------------------------------

def test_http2_version_505():
    U.expect(SRV, line(b"GET / HTTP/2.0"), U.S505)


def test_http3_version_505():
    U.expect(SRV, line(b"GET / HTTP/3.0"), U.S505)


def test_http2_preface_not_served():
    # The HTTP/2 connection preface: an HTTP/2.0 version (505) with a target that is not
    # origin-form (400): either refusal is fine, never a 200.
    U.expect(SRV, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", (U.S505, U.S400))


# -- HTTP/1.2, HTTP/1.10, HTTP/01.1, http/1.1, garbage version: 505 -------------------------------

def test_http12_505():
    U.expect(SRV, line(b"GET / HTTP/1.2"), U.S505)


def test_http1_10_505():
    U.expect(SRV, line(b"GET / HTTP/1.10"), U.S505)


def test_http01_1_505():
    U.expect(SRV, line(b"GET / HTTP/01.1"), U.S505)


def test_lowercase_http_505():
    U.expect(SRV, line(b"GET / http/1.1"), U.S505)


def test_garbage_version_505():
    for v in [b"FOO", b"HTTP/", b"HTTP/1", b"HTTP/1.", b"HTTP/a.b", b"HTTP/1.1x", b"1.1"]:
        U.expect(SRV, line(b"GET / " + v), U.S505, what="version %r" % v)


# -- TLS ClientHello on the plain port: 400 and close --------------------------------------------

def client_hello():
    """A real TLS ClientHello, produced by Python's ssl module into a memory BIO."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    data = out.read()
    assert data[:1] == b"\x16", "not a TLS record: %r" % data[:10]
    return data


@mkt.timeout(30)
def test_tls_client_hello_400_and_close():
    hello = client_hello()
    c = SRV.client()
    c.send(hello)
    try:
        r = c.recv_response()
    except (mkt.ConnectionClosed, TimeoutError) as e:
        U.drop(SRV, c)
        raise AssertionError("TLS ClientHello (%d bytes, no CRLF): no HTTP answer (%s)"
                             % (len(hello), e))
    closed = c.is_closed(5)
    U.drop(SRV, c)
    eq(r.status_line, U.S400, "status")
    assert closed, "connection still open after the 400 to a ClientHello"
    U.still_serves(SRV)


# -- leading empty lines: ignored ----------------------------------------------------------------

def test_leading_empty_line_ignored():
    U.expect(SRV, b"\r\n" + req("GET", "/one.txt"), U.S200, body=b"x")


def test_two_leading_empty_lines_ignored():
    U.expect(SRV, b"\r\n\r\n" + req("GET", "/one.txt"), U.S200, body=b"x")


def test_leading_bare_lf_ignored():
    U.expect(SRV, b"\n" + req("GET", "/one.txt"), U.S200, body=b"x")


# -- '#', NUL, control byte, raw SP in the target: 400 -------------------------------------------

def test_fragment_in_target_400():
    U.expect(SRV, line(b"GET /one.txt#frag HTTP/1.1"), U.S400)
    U.expect(SRV, line(b"GET /# HTTP/1.1"), U.S400)


def test_nul_in_target_400():
    U.expect(SRV, line(b"GET /one\x00.txt HTTP/1.1"), U.S400)
    U.expect(SRV, line(b"GET /one.txt\x00 HTTP/1.1"), U.S400)


def test_control_byte_in_target_400():
    for b in [b"\x01", b"\x08", b"\x1b", b"\x7f", b"\x0b", b"\x0c"]:
        U.expect(SRV, line(b"GET /one" + b + b".txt HTTP/1.1"), U.S400,
                 what="target byte %r" % b)


def test_raw_sp_in_target_400():
    U.expect(SRV, line(b"GET /with space.txt HTTP/1.1"), U.S400)


# -- absolute-form (M): accepted -----------------------------------------------------------------

def test_absolute_form_200():
    U.expect(SRV, line(b"GET http://localhost/one.txt HTTP/1.1"), U.S200, body=b"x")


def test_absolute_form_with_port_200():
    raw = ("GET http://localhost:%d/hello.txt HTTP/1.1" % SRV.port).encode()
    U.expect(SRV, line(raw), U.S200, body=SRV.files["/hello.txt"])


# -- OPTIONS *: 200/204 (or 501) -----------------------------------------------------------------

def test_options_star():
    r = U.expect(SRV, line(b"OPTIONS * HTTP/1.1"), (U.S200, "HTTP/1.1 204 No Content"))
    if r.status == 200:
        eq(r.headers.get("Content-Length"), str(len(r.body)), "Content-Length")


# OPTIONS on a path is about that resource (RFC 9110 9.3.7): a missing one is 404, as for GET
# (Monkey checks the file before it answers OPTIONS); an existing one is 200 with Allow.

def test_options_missing_path_404():
    U.expect_then_served(SRV, line(b"OPTIONS /missing.txt HTTP/1.1"), U.S404)


def test_options_existing_path_200_allow():
    r = U.expect_then_served(SRV, line(b"OPTIONS /hello.txt HTTP/1.1"), U.S200, body=b"")
    eq(r.headers.get("Allow"), "GET, HEAD, POST, OPTIONS", "Allow")
    eq(r.headers.get("Content-Length"), "0", "Content-Length")


# -- TRACE, CONNECT: 405 or 501 ------------------------------------------------------------------

def test_trace_405():
    # reliability.md: "405 or 501"; the first-listed answer is required.
    U.expect(SRV, line(b"TRACE / HTTP/1.1"), U.S405)


def test_connect_405():
    U.expect(SRV, line(b"CONNECT localhost:443 HTTP/1.1"), U.S405)


def test_connect_bad_authority_400():
    # authority-form is host:port; a path there is a malformed request line (fuzz_parser
    # found a CONNECT whose "authority" was a relative path)
    U.expect(SRV, line(b"CONNECT T-ep/index.txt HTTP/1.1"), U.S400)


def test_trace_never_echoes_request():
    r, c = U.one(SRV, b"TRACE / HTTP/1.1\r\nHost: localhost\r\nX-Secret: s3cr3t\r\n\r\n")
    U.drop(SRV, c)
    assert r.status in (405, 501), r
    assert b"s3cr3t" not in r.body, "TRACE echoed the request: %r" % r


# -- URI of 64 KiB / 1 MiB: 414 (or close) -------------------------------------------------------

def test_uri_64k_414():
    r = U.expect(SRV, req("GET", "/" + "a" * 65536), U.S414, closes=True)
    assert r.body, "414 without a body"
    U.still_serves(SRV)


def test_uri_64k_after_empty_lines_414():
    # RFC 9112 2.2: empty lines before the request line are ignored; their LF is not the end
    # of the request line (it used to turn this 414 into a 413).
    for lead in [b"\r\n", b"\n", b"\r\n\r\n"]:
        U.expect(SRV, lead + req("GET", "/" + "a" * 65536), U.S414, closes=True,
                 what="%r before a 64 KiB URI" % lead)
    U.still_serves(SRV)


@mkt.timeout(40)
def test_uri_1m_414_or_close():
    raw = req("GET", "/" + "a" * (1 << 20))
    c = SRV.client(timeout=15)
    t = c.send_in_background(raw)
    try:
        data = c.recv_until_close(timeout=15)
    except TimeoutError:
        raise AssertionError("1 MiB URI: neither an answer nor a close within 15 s")
    finally:
        t.join(15)
        U.drop(SRV, c)
    # A close before the answer arrives is allowed (the client's unsent bytes may turn the
    # server's close into a reset); any answer must be the 414.
    if data:
        assert data.split(b"\r\n")[0].decode("latin-1") in U.S414, \
            "1 MiB URI answered %r" % data[:200]
    U.still_serves(SRV)

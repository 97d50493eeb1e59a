"""reliability.md "Message framing (request smuggling)": one test per row (or per case of a
row).  Each checks the exact status line and what happens to a request pipelined after it:
answered (the framing was understood) or never answered and the connection closed (RFC 9112
6.3: a message whose body length cannot be determined is answered 400, then the connection is
closed)."""

import os

import mkt
from mkt import eq, req
import test_rel_util as U

SRV = None


def setup_module():
    global SRV
    SRV = mkt.Server(conf={"Timeout": "5"}).start()
    return SRV


def teardown_module():
    SRV.stop(check_fds=False)


INDEX = mkt.INDEX_HTML


def post(headers, body=b"", version=b"HTTP/1.1", path=b"/index.html"):
    """A POST with exactly these header lines (bytes, Host first) and raw body bytes."""
    return (b"POST " + path + b" " + version + b"\r\nHost: localhost\r\n" +
            b"".join(h + b"\r\n" for h in headers) + b"\r\n" + body)


# -- Content-Length and Transfer-Encoding together: 400, then close ------------------------------

def test_cl_and_te_400_close():
    U.expect_then_close(SRV, post([b"Content-Length: 5", b"Transfer-Encoding: chunked"],
                                  b"0\r\n\r\n"), U.S400)


def test_te_and_cl_400_close():
    U.expect_then_close(SRV, post([b"Transfer-Encoding: chunked", b"Content-Length: 5"],
                                  b"0\r\n\r\n"), U.S400)


def test_cl_and_te_on_get_400_close():
    raw = (b"GET /one.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    U.expect_then_close(SRV, raw, U.S400)


def test_cl_zero_and_te_400_close():
    U.expect_then_close(SRV, post([b"Content-Length: 0", b"Transfer-Encoding: chunked"],
                                  b"0\r\n\r\n"), U.S400)


# -- two different Content-Length (M), "1, 2" (M), negative, "+1", hex, 2^64: 400 ---------------

def test_two_different_content_length_400_close():
    U.expect_then_close(SRV, post([b"Content-Length: 1", b"Content-Length: 2"], b"ab"), U.S400)


def test_content_length_list_400_close():
    U.expect_then_close(SRV, post([b"Content-Length: 1, 2"], b"ab"), U.S400)


def test_content_length_negative_400_close():
    U.expect_then_close(SRV, post([b"Content-Length: -1"], b"a"), U.S400)


def test_content_length_plus_400_close():
    U.expect_then_close(SRV, post([b"Content-Length: +1"], b"a"), U.S400)


def test_content_length_hex_400_close():
    U.expect_then_close(SRV, post([b"Content-Length: 0x1"], b"a"), U.S400)
    U.expect_then_close(SRV, post([b"Content-Length: a"], b"a"), U.S400)
    U.expect_then_close(SRV, post([b"Content-Length: 1a"], b"a"), U.S400)


def test_content_length_2_pow_64_400_close():
    # "400 (413 allowed for huge)"; monkey-compat.md: a Content-Length over MaxRequestSize is 413.
    for v in [b"18446744073709551616", b"18446744073709551617", b"99999999999999999999999999"]:
        U.expect_then_close(SRV, post([b"Content-Length: " + v], b"a"), (U.S400, U.S413),
                            what="Content-Length %s" % v.decode())


def test_content_length_other_garbage_400_close():
    for v in [b"1 2", b"1.0", b"1;", b"\xd9\xa1"]:  # last: an Arabic-Indic digit one
        U.expect_then_close(SRV, post([b"Content-Length: " + v], b"a"), U.S400,
                            what="Content-Length %r" % v)


# -- Content-Length: empty, then a header or body starting with digits: 400 ----------------------

def test_content_length_empty_then_digit_header_400_close():
    U.expect_then_close(SRV, post([b"Content-Length:", b"12345: x"], b""), U.S400)


def test_content_length_empty_then_digit_body_400_close():
    U.expect_then_close(SRV, post([b"Content-Length:"], b"12345"), U.S400)
    U.expect_then_close(SRV, post([b"Content-Length: "], b"7\r\n"), U.S400)


# -- chunked: size zz, overflow, 0x1, -1, missing CRLF after data: 400 ---------------------------

TE = [b"Transfer-Encoding: chunked"]


def test_chunked_size_zz_400_close():
    U.expect_then_close(SRV, post(TE, b"zz\r\nhello\r\n0\r\n\r\n"), U.S400)


def test_chunked_size_overflow_400_close():
    for size in [b"10000000000000000", b"ffffffffffffffffff", b"fffffffffffffffff0"]:
        U.expect_then_close(SRV, post(TE, size + b"\r\nhello\r\n0\r\n\r\n"), U.S400,
                            what="chunk size %s" % size.decode())


def test_chunked_size_near_2_64_413_close():
    # 16 hex digits fit in 64 bits, but added to the body's running total they used to wrap
    # around under MaxRequestSize: the server then swallowed the "body" until Timeout.
    for body in [b"ffffffffffffffff\r\nhello", b"fffffffffffffff0\r\nhello",
                 b"1\r\na\r\nfffffffffffffffa\r\nhello"]:
        U.expect_then_close(SRV, post(TE, body), U.S413, what="chunked body %r" % body)


def test_chunked_size_0x_400_close():
    U.expect_then_close(SRV, post(TE, b"0x1\r\na\r\n0\r\n\r\n"), U.S400)


def test_chunked_size_negative_400_close():
    U.expect_then_close(SRV, post(TE, b"-1\r\na\r\n0\r\n\r\n"), U.S400)


def test_chunked_missing_crlf_after_data_400_close():
    U.expect_then_close(SRV, post(TE, b"5\r\nhelloXX0\r\n\r\n"), U.S400)
    U.expect_then_close(SRV, post(TE, b"5\r\nhello0\r\n\r\n"), U.S400)


def test_chunked_bare_lf_400_close():
    # RFC 9112 7.1: CRLF after the size, the data and the last chunk; the bare-LF leniency
    # of 2.2 is for the start-line and header fields only.
    for body in [b"3\nabc\r\n0\r\n\r\n", b"3\r\nabc\n0\r\n\r\n", b"3;x\nabc\r\n0\r\n\r\n",
                 b"0\n\n", b"0\r\n\n", b"0\r\nX: a\n\r\n"]:
        U.expect_then_close(SRV, post(TE, body), U.S400, what="chunked body %r" % body)


def test_chunked_extension_grammar_400_close():
    for body in [b"3 junk\r\nabc\r\n0\r\n\r\n", b"3 \r\nabc\r\n0\r\n\r\n",
                 b"3;\r\nabc\r\n0\r\n\r\n", b"3;a=\r\nabc\r\n0\r\n\r\n",
                 b"3;a=\"b\r\nabc\r\n0\r\n\r\n", b"3;a b\r\nabc\r\n0\r\n\r\n"]:
        U.expect_then_close(SRV, post(TE, body), U.S400, what="chunked body %r" % body)


def test_chunked_trailer_grammar_400_close():
    for body in [b"0\r\nnocolon\r\n\r\n", b"0\r\nX: a\rb\r\n\r\n", b"0\r\n X: 1\r\n\r\n",
                 b"0\r\nX : 1\r\n\r\n"]:
        U.expect_then_close(SRV, post(TE, body), U.S400, what="chunked body %r" % body)


def test_chunked_valid_extensions_and_zeros_served():
    for body in [b"0000000000000000000003\r\nabc\r\n0\r\n\r\n",
                 b"3 ; a = b ;c;d=\"q \\\" s\"\r\nabc\r\n0;e\r\nT: 1\r\nU:\r\n\r\n"]:
        U.expect_then_served(SRV, post(TE, body), U.S200, body=INDEX,
                             what="chunked body %r" % body)


def test_pipelined_chunked_bodies_each_within_the_limit():
    # Each body is checked against MaxRequestSize (32 KiB) on its own: three 20000-byte
    # bodies in one write are three 200s.  The count used to carry over (413 on the second).
    one = post(TE, b"4e20\r\n" + b"a" * 20000 + b"\r\n0\r\n\r\n")
    c = SRV.client()
    c.send(one * 3 + U.GET_ONE)
    for i in range(3):
        r = c.recv_response()
        eq((r.status_line, r.body), (U.S200, INDEX), "answer to chunked POST %d" % (i + 1))
    r = c.recv_response()
    eq((r.status_line, r.body), (U.S200, b"x"), "pipelined GET")
    U.drop(SRV, c)


def test_many_pipelined_small_chunked_bodies():
    one = post(TE, b"64\r\n" + b"b" * 100 + b"\r\n0\r\n\r\n")
    c = SRV.client()
    c.send(one * 400)
    for i in range(400):
        r = c.recv_response()
        if r.status_line != U.S200:
            U.drop(SRV, c)
            raise AssertionError("request %d of 400: %s" % (i + 1, r.status_line))
    U.drop(SRV, c)


def test_chunked_empty_size_400_close():
    U.expect_then_close(SRV, post(TE, b"\r\nhello\r\n0\r\n\r\n"), U.S400)


# -- TE whose last coding is not chunked, "chunked, identity" (M): 400 and close -----------------

def test_te_last_coding_not_chunked_400_close():
    U.expect_then_close(SRV, post([b"Transfer-Encoding: chunked, gzip"], b"0\r\n\r\n"), U.S400)


def test_te_chunked_identity_400_close():
    U.expect_then_close(SRV, post([b"Transfer-Encoding: chunked, identity"], b"0\r\n\r\n"),
                        U.S400)


def test_te_split_over_two_lines_400_close():
    U.expect_then_close(SRV, post([b"Transfer-Encoding: chunked",
                                   b"Transfer-Encoding: identity"], b"0\r\n\r\n"), U.S400)


# -- Transfer-Encoding in HTTP/1.0 (M): 400 and close --------------------------------------------

def test_te_in_http10_400_close():
    U.expect_then_close(SRV, post(TE, b"0\r\n\r\n", version=b"HTTP/1.0"), U.S400)


# -- unknown coding (xchunked): 501 (or 400) -----------------------------------------------------

def test_te_unknown_coding_501():
    # The body length is unknown: the pipelined request must not be answered either.
    U.expect_then_close(SRV, post([b"Transfer-Encoding: xchunked"], b"0\r\n\r\n"), U.S501)


# -- GET with a Content-Length body, then a pipelined GET: two 200s ------------------------------

def test_get_with_body_then_get_two_200():
    raw = req("GET", "/hello.txt", headers={"Content-Length": "5"}, body=b"abcde")
    U.expect_then_served(SRV, raw, U.S200, body=SRV.files["/hello.txt"])


def test_get_body_looking_like_a_request_is_skipped():
    inner = req("GET", "/style.css")
    raw = req("GET", "/hello.txt", headers={"Content-Length": str(len(inner))}, body=inner)
    # Exactly two answers: hello.txt and one.txt; the body is never answered as a request.
    c = SRV.client()
    c.send(raw + U.GET_ONE)
    r1, r2 = c.recv_response(), c.recv_response()
    eq((r1.status_line, r1.body), (U.S200, SRV.files["/hello.txt"]), "first answer")
    eq((r2.status_line, r2.body), (U.S200, b"x"), "second answer")
    assert not c.is_closed(0.5), "connection closed after two 200s"
    eq(c.buf, b"", "a third answer (the body was parsed as a request)")
    U.drop(SRV, c)


# -- Expect: 100-continue: "100 Continue" then the final status ----------------------------------

def test_expect_100_continue():
    c = SRV.client()
    c.send(post([b"Content-Length: 5", b"Expect: 100-continue"]))
    try:
        status, raw, _ = c.recv_head(timeout=5)
    except (mkt.ConnectionClosed, TimeoutError) as e:
        U.drop(SRV, c)
        raise AssertionError("no interim answer to Expect: 100-continue (%s)" % e)
    eq(status, U.S100, "interim status line")
    c.send(b"hello")
    r = c.recv_response()
    eq((r.status_line, r.body), (U.S200, INDEX), "final answer")
    r = c.request(U.GET_ONE)
    eq((r.status_line, r.body), (U.S200, b"x"), "request after the 100-continue exchange")
    U.drop(SRV, c)


def test_expect_100_continue_chunked():
    c = SRV.client()
    c.send(post(TE + [b"Expect: 100-continue"]))
    status, _, _ = c.recv_head(timeout=5)
    eq(status, U.S100, "interim status line")
    c.send(b"5\r\nhello\r\n0\r\n\r\n" + U.GET_ONE)
    r = c.recv_response()
    eq((r.status_line, r.body), (U.S200, INDEX), "final answer")
    r = c.recv_response()
    eq((r.status_line, r.body), (U.S200, b"x"), "pipelined GET")
    U.drop(SRV, c)


# -- Expect: 100-continue when the socket has no room for the 100 ------------------------------
# The shim makes the server's send() of the 100 Continue (the only send of the server made
# through libc's send: the others are system calls) answer EAGAIN (MK_SHIM_CONTINUE=0) or
# send only its first N bytes (N); MK_SHIM_REST_EAGAIN=1 makes the first sendto of what is
# left answer EAGAIN too, as a socket still full would.

CONTINUE_SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
    static ssize_t (*real)(int, const void *, size_t, int);
    if (!real)
        real = (ssize_t (*)(int, const void *, size_t, int))dlsym(RTLD_NEXT, "send");
    const char *mode = getenv("MK_SHIM_CONTINUE");
    if (mode && len > 12 && memcmp(buf, "HTTP/1.1 100", 12) == 0) {
        size_t k = (size_t)atoi(mode);
        if (k == 0) {
            errno = EAGAIN;
            return -1;
        }
        if (k < len)
            return real(fd, buf, k, flags);
    }
    return real(fd, buf, len, flags);
}

long syscall(long nr, ...)
{
    static long (*real)(long, ...);
    static int rest_refused;
    if (!real)
        real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
    va_list ap;
    long a[6];
    va_start(ap, nr);
    for (int i = 0; i < 6; i++)
        a[i] = va_arg(ap, long);
    va_end(ap);
    if (nr == SYS_sendto && getenv("MK_SHIM_REST_EAGAIN") && !__atomic_load_n(&rest_refused, 0) &&
        memmem((const void *)a[1], (size_t)a[2], "Continue", 8) &&
        !__atomic_exchange_n(&rest_refused, 1, 0)) {
        errno = EAGAIN;
        return -1;
    }
    return real(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
"""


def continue_without_room(loop, mode, rest_eagain=False):
    """A POST with Expect: 100-continue whose 100 finds no room (mode "0") or room for part
    of it: the connection stays usable, with either no 100 at all or a whole one before the
    final answer, and the request after it is answered.  It used to be closed (after the
    part of the 100 sent)."""
    env = {"MK_SHIM_CONTINUE": mode}
    if rest_eagain:
        env["MK_SHIM_REST_EAGAIN"] = "1"
    s = mkt.Server(conf={"EventLoop": loop, "Workers": "1", "Timeout": "5"})
    s.env = mkt.preload_env("continue", CONTINUE_SHIM, **env)
    with s:
        if loop == "io_uring" and any("using epoll" in ln for ln in s.log_text().splitlines()):
            raise mkt.Skip("io_uring not available here")
        c = s.client(timeout=5)
        c.send(post([b"Content-Length: 5", b"Expect: 100-continue"]))
        closed = c.is_closed(1)  # a client waits about that long for the 100
        if closed:
            raise AssertionError("connection closed after the 100 found no room; received %r"
                                 % c.buf)
        if mode == "0":
            eq(c.buf, b"", "bytes sent for a 100 that found no room")
        else:
            status, _, _ = c.recv_head(timeout=5)
            eq(status, U.S100, "interim status line, whole")
        c.send(b"hello" + U.GET_ONE)
        r = c.recv_response(timeout=5)
        eq((r.status_line, r.body), (U.S200, INDEX), "final answer")
        r = c.recv_response(timeout=5)
        eq((r.status_line, r.body), (U.S200, b"x"), "request after the 100-continue exchange")
        assert not c.is_closed(0.3), "connection closed after the answers"
        eq(c.buf, b"", "bytes after the answers")
        c.close()


def test_expect_100_continue_no_room_skips_it_epoll():
    continue_without_room("epoll", "0")


def test_expect_100_continue_no_room_skips_it_io_uring():
    continue_without_room("io_uring", "0")


def test_expect_100_continue_short_send_completes_it_epoll():
    continue_without_room("epoll", "9")


def test_expect_100_continue_short_send_completes_it_io_uring():
    continue_without_room("io_uring", "9")


def test_expect_100_continue_short_send_rest_waits_for_room_epoll():
    continue_without_room("epoll", "9", rest_eagain=True)


def test_expect_100_continue_short_send_rest_waits_for_room_io_uring():
    continue_without_room("io_uring", "9", rest_eagain=True)


# -- Expect: 100-continue with the final status known from the head: that status at once ------
# RFC 9110 10.1.1: a server that already knows the final status need not (and should not)
# invite the body; the body the client may still send is never parsed as a request.

def expect_final_at_once(raw, status):
    c = SRV.client()
    c.send(raw)
    try:
        r = c.recv_response(timeout=5)
    except (mkt.ConnectionClosed, TimeoutError) as e:
        U.drop(SRV, c)
        raise AssertionError("no answer to %s (%s)" % (U.show(raw), e))
    if r.status_line != status:
        U.drop(SRV, c)
        raise AssertionError("expected %r at once, got %r (the body was invited)"
                             % (status, r.status_line))
    eq(r.headers.get("Connection"), "Close", "Connection header of the %s" % r.status)
    # The body sent anyway, shaped like a request, gets no answer: the connection closes.
    try:
        c.send(U.GET_ONE)
    except OSError:
        pass
    closed = c.is_closed(5)
    extra = c.buf
    U.drop(SRV, c)
    assert closed, "connection still open after %r" % r.status_line
    eq(extra, b"", "bytes sent after the %s (the body answered as a request)" % r.status)


def test_expect_100_continue_404_at_once():
    expect_final_at_once(post([b"Content-Length: %d" % len(U.GET_ONE),
                               b"Expect: 100-continue"], path=b"/missing.txt"), U.S404)


def test_expect_100_continue_405_at_once():
    raw = (b"PUT /hello.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\n"
           b"Expect: 100-continue\r\n\r\n" % len(U.GET_ONE))
    expect_final_at_once(raw, U.S405)


def test_expect_100_continue_412_at_once():
    expect_final_at_once(post([b"Content-Length: %d" % len(U.GET_ONE), b'If-Match: "nope"',
                               b"Expect: 100-continue"], path=b"/hello.txt"), U.S412)


def test_expect_100_continue_chunked_404_at_once():
    expect_final_at_once(post(TE + [b"Expect: 100-continue"], path=b"/missing.txt"), U.S404)


def test_expect_100_continue_looks_the_path_up_once():
    """The path of a request with Expect: 100-continue is looked up once: for the early
    answer, or for the answer after the body.  It used to be looked up again after the early
    decision (strace: two openat2 of the name for a 404, a 301, and a 200 of a file changed
    in the last seconds, which the cache checks on every request)."""
    d = SRV.docroot
    with open(os.path.join(d, "expect-new.txt"), "wb") as f:
        f.write(b"new\n")  # just written: checked on every request
    os.makedirs(os.path.join(d, "expect-dir"), exist_ok=True)
    cases = [  # (path, body sent with the head, status, body answered)
        (b"/expect-missing.txt", b"", U.S404, None),
        (b"/expect-dir", b"", "HTTP/1.1 301 Moved Permanently", None),
        (b"/expect-new.txt", b"abc", U.S200, b"new\n"),
    ]
    seen = []
    for path, body, status, answer in cases:
        c = SRV.client()
        with mkt.Strace(SRV.pid, "openat,openat2") as st:
            c.send(post([b"Content-Length: 3", b"Expect: 100-continue"], body, path=path))
            r = c.recv_response(timeout=5)
            eq(r.status_line, status, "POST %s" % path.decode())
            if answer is not None:
                eq(r.body, answer, "POST %s: body" % path.decode())
        U.drop(SRV, c)
        name = path.decode().lstrip("/")
        seen.append((name, len([ln for ln in st.lines if '"%s"' % name in ln])))
    eq(seen, [(p.decode().lstrip("/"), 1) for p, _, _, _ in cases], "opens per request")


# -- 3 pipelined GETs (M): three answers in order ------------------------------------------------

def test_three_pipelined_gets_in_order():
    paths = ["/hello.txt", "/one.txt", "/style.css"]
    c = SRV.client()
    c.send(b"".join(req("GET", p) for p in paths))
    for p in paths:
        r = c.recv_response()
        eq((r.status_line, r.body), (U.S200, SRV.files[p]), "answer to GET %s" % p)
    assert not c.is_closed(0.5), "connection closed after three pipelined GETs"
    eq(c.buf, b"", "extra bytes")
    U.drop(SRV, c)


def test_three_pipelined_with_head_and_404():
    # Three requests in one write, the middle one a HEAD of a missing file.
    c = SRV.client()
    c.send(req("GET", "/hello.txt") + req("HEAD", "/missing.txt") + req("GET", "/one.txt"))
    r = c.recv_response()
    eq((r.status_line, r.body), (U.S200, SRV.files["/hello.txt"]), "first")
    eq(c.recv_response(head=True).status_line, U.S404, "second (HEAD of a missing file)")
    r = c.recv_response()
    eq((r.status_line, r.body), (U.S200, b"x"), "third")
    U.drop(SRV, c)


# -- GET, a bad request, GET (pipelined): 200, 400, then close -----------------------------------

def test_get_bad_get_200_400_close():
    for bad in [b"GET /one.txt HTTP/1.1\r\n\r\n",                  # no Host
                b"GET /one.txt HTTP/1.1\r\nHost: localhost\r\nX-A : 1\r\n\r\n",
                b"G@T / HTTP/1.1\r\nHost: localhost\r\n\r\n",
                post([b"Content-Length: 1, 2"], b"ab")]:
        c = SRV.client()
        c.send(req("GET", "/hello.txt") + bad + U.GET_ONE)
        r1 = c.recv_response()
        eq((r1.status_line, r1.body), (U.S200, SRV.files["/hello.txt"]), "first answer")
        r2 = c.recv_response()
        eq(r2.status_line, U.S400, "answer to the bad request %r" % bad)
        closed = c.is_closed(5)
        U.drop(SRV, c)
        assert closed, "connection still open after the 400 (bad request %r)" % bad
        eq(c.buf, b"", "the GET after the bad request %r must get no answer" % bad)


# -- POST with a valid chunked body, then a pipelined GET: 200, 200 ------------------------------

def test_post_chunked_then_get_200_200():
    U.expect_then_served(SRV, post(TE, b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"), U.S200,
                         body=INDEX)


def test_post_chunked_with_extension_and_trailer_then_get():
    U.expect_then_served(SRV, post(TE, b"5;name=val\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n"),
                         U.S200, body=INDEX)


def test_post_chunked_uppercase_hex_then_get():
    U.expect_then_served(SRV, post(TE, b"A\r\n0123456789\r\n0\r\n\r\n"), U.S200, body=INDEX)


def test_post_content_length_then_get_200_200():
    U.expect_then_served(SRV, post([b"Content-Length: 5"], b"hello"), U.S200, body=INDEX)


def test_head_after_a_body_has_its_own_max_request_size():
    # A body is read with MK_BODY_ROOM (2 KiB) of room past MaxRequestSize, so the head that
    # follows it in the same read could be up to 2 KiB over the limit: it was served (200)
    # where the same head alone is 413.  The first GET (5 KiB of head) makes the session's
    # buffer MaxRequestSize large; its answer shows the POST head is read and its body awaited.
    c = SRV.client()
    c.send(req("GET", "/one.txt", headers=[("X-Pad", "p" * 5000)]) +
           post([b"Content-Length: 5"]))
    r = c.recv_response()
    eq((r.status_line, r.body), (U.S200, b"x"), "answer to the GET")
    line = b"GET /one.txt HTTP/1.1\r\nHost: localhost\r\nX-Pad: "
    big = line + b"a" * (32 * 1024 + 1000 - len(line)) + b"\r\n\r\n"
    c.send(b"hello" + big)
    r = c.recv_response()
    eq((r.status_line, r.body), (U.S200, INDEX), "answer to the POST")
    r = c.recv_response()
    eq(r.status_line, U.S413, "answer to a %d-byte head after the body" % len(big))
    closed = c.is_closed(5)
    U.drop(SRV, c)
    assert closed, "connection still open after the 413"

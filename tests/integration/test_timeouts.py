"""Request timeout (`Timeout 2`): slow or silent clients are closed; others are still served.

The bounds are generous (Timeout 2, closed within 10 s): they test the server's own timer,
not the machine's speed."""

import os
import socket
import time

import mkt
from mkt import eq, req

SRV = None
BOUND = 10.0


def setup_module():
    global SRV
    SRV = mkt.Server(conf={"Timeout": "2", "KeepAliveTimeout": "30"}).start()
    return SRV


def teardown_module():
    SRV.stop(check_fds=False)


def assert_timed_out(c, what):
    assert c.is_closed(BOUND), "%s: still open %.0f s after Timeout 2" % (what, BOUND)
    if c.buf:
        # A 408 before the close is allowed, nothing else.
        assert c.buf.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), \
            "%s: unexpected bytes before the close: %r" % (what, c.buf[:200])


def test_half_request_line_closed():
    c = SRV.client()
    c.send(b"GET /hel")
    assert_timed_out(c, "half request line")


def test_silent_connection_closed():
    c = SRV.client()
    assert_timed_out(c, "connection that sends nothing")


def test_partial_headers_closed():
    c = SRV.client()
    c.send(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-A: 1\r\n")
    assert_timed_out(c, "headers without the blank line")


def test_short_body_closed():
    c = SRV.client()
    c.send(req("POST", "/hello.txt", headers={"Content-Length": "100"}, body=b"only ten.."))
    assert_timed_out(c, "POST announcing 100 bytes, sending 10")


def test_others_served_while_slow_clients_wait():
    slow = [SRV.client() for _ in range(5)]
    for c in slow:
        c.send(b"GET / HT")
    for _ in range(5):
        eq(SRV.get("/one.txt").body, b"x", "body while slow clients wait")
    for c in slow:
        assert_timed_out(c, "slow client")


def test_idle_keepalive_uses_keepalive_timeout_not_timeout():
    # After a complete response the connection is idle: KeepAliveTimeout (30) applies, so it is
    # still usable after Timeout (2) has passed several times.
    c = SRV.client()
    eq(c.request(req("GET", "/one.txt")).body, b"x", "first")
    time.sleep(5)
    eq(c.request(req("GET", "/one.txt")).body, b"x", "second, 5 s later")


# A keep-alive connection sits on the keep-alive timer list (KeepAliveTimeout 30).  The
# request timer is armed only when a request has to wait (src/http/mk_http.c, wait_for),
# so these check that every kind of wait on such a connection moves it to Timeout (2).

def kept_alive_client():
    c = SRV.client()
    eq(c.request(req("GET", "/one.txt")).body, b"x", "first request")
    return c


def test_keepalive_then_half_request_closed():
    c = kept_alive_client()
    c.send(b"GET /hel")
    assert_timed_out(c, "half request line after a keep-alive response")


def test_keepalive_then_short_body_closed():
    c = kept_alive_client()
    c.send(req("POST", "/hello.txt", headers={"Content-Length": "100"}, body=b"only ten.."))
    assert_timed_out(c, "short body after a keep-alive response")


def stalled_reader_closed(trickle):
    # The client stops reading a 64 MiB response (sparse: no disk; more than any socket
    # buffer holds): the server's send waits for room, and the write timeout (Timeout 2),
    # not KeepAliveTimeout (30), must close the connection.  With `trickle` the client also
    # sends a byte every 0.25 s: each wakes the server, and none may push the deadline back.
    # Seen from the server's fds (a server of its own, so no other connection moves the
    # count): the client's kernel keeps already-queued bytes trickling in long after the
    # server's close.
    with mkt.Server(conf={"Timeout": "2", "KeepAliveTimeout": "30"}) as s:
        size = 64 << 20
        with open(os.path.join(s.docroot, "huge.bin"), "wb") as f:
            f.truncate(size)
        base = s.conn_fds()
        c = s.client()
        eq(c.request(req("GET", "/one.txt")).body, b"x", "first request")
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        c.send(req("GET", "/huge.bin"))
        c.recv_head()
        assert s.conn_fds() > base, "the connection is not open on the server"
        deadline = time.monotonic() + BOUND
        left = s.conn_fds()
        while left > base and time.monotonic() < deadline:
            if trickle:
                c.send(b"G")
            left = s.wait_fds(base, timeout=0.25)
        c.close()
        assert left <= base, ("a client that stopped reading%s was still held %.0f s later "
                              "(Timeout 2)" % (" and kept sending" if trickle else "", BOUND))


def test_keepalive_then_slow_reader_closed():
    stalled_reader_closed(trickle=False)


def test_slow_reader_sending_bytes_closed():
    stalled_reader_closed(trickle=True)


def test_408_carries_date_and_server():
    # RFC 9110 6.6.1: an origin server with a clock MUST send Date in every 4xx.
    c = SRV.client()
    c.send(b"GET / HTTP/1.1\r\nHost: localhost\r\n")
    assert c.is_closed(BOUND), "still open %.0f s after Timeout 2" % BOUND
    head = c.buf.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    eq(head[0], "HTTP/1.1 408 Request Timeout", "status line")
    names = [h.split(":", 1)[0].lower() for h in head[1:]]
    for want in ("date", "server", "content-length", "connection"):
        assert want in names, "408 without %s: %r" % (want, head)
    assert c.buf.endswith(b"\r\n\r\n"), "408 with a body or cut short: %r" % c.buf


def empty_lines_not_a_request(loop):
    # RFC 9112 2.2: a server SHOULD ignore empty lines before a request line, and HTTP/1.0
    # agents send a CRLF after a POST body.  Those bytes are no request: the connection stays
    # idle under KeepAliveTimeout (30), not Timeout (2), and gets no unsolicited 408.
    # Before: closed after Timeout with "408 Request Timeout", answering nothing.
    with mkt.Server(conf={"EventLoop": loop, "Timeout": "2", "KeepAliveTimeout": "30"}) as s:
        after_post = s.client()
        eq(after_post.request(req("POST", "/one.txt", headers={"Content-Length": "3"},
                                  body=b"abc") + b"\r\n").status, 200, "POST followed by CRLF")
        after_idle = s.client()
        eq(after_idle.request(req("GET", "/one.txt")).body, b"x", "first request")
        after_idle.send(b"\r\n")
        time.sleep(5)  # Timeout 2 has passed, with its second of resolution and a margin
        for what, c in (("CRLF after a POST body", after_post),
                        ("CRLF on an idle connection", after_idle)):
            r = c.request(req("GET", "/one.txt"))
            eq((r.status, r.body), (200, b"x"), "%s, %s: the next request, 5 s later"
               % (loop, what))


def test_empty_lines_between_requests_are_not_a_request_epoll():
    empty_lines_not_a_request("epoll")


def test_empty_lines_between_requests_are_not_a_request_io_uring():
    empty_lines_not_a_request("io_uring")

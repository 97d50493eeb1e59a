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
        t0 = time.monotonic()
        deadline = time.monotonic() + BOUND
        left = s.conn_fds()
        while left > base and time.monotonic() < deadline:
            if trickle:
                c.send(b"G")
            left = s.wait_fds(base, timeout=0.25)
        c.close()
        assert left <= base, ("a client that stopped reading%s was still held %.0f s later "
                              "(Timeout 2)" % (" and kept sending" if trickle else "", BOUND))
        # Timeout, its second of resolution, a margin: not one more Timeout for the bytes
        # that were in flight when the wait began (acknowledged later, read by no one).
        took = time.monotonic() - t0
        assert took <= 5.0, "a client that reads nothing was cut only %.1f s later" % took


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


# Timeout on a write is "Timeout seconds without progress", and progress is the client
# taking bytes, even when what it takes comes out of the server's socket buffer and frees too
# little of it to wake the server (Linux wakes a writer once a third of the buffer is free,
# and on loopback that buffer grows to 4 MiB: several seconds at these rates).  Before: such
# a client was closed Timeout after the server's last write, in the middle of the response.

def slow_socket(s):
    sk = socket.socket()
    sk.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
    sk.settimeout(0.05)
    sk.connect(("127.0.0.1", s.port))
    return sk


def read_steadily(s, sk, base, seconds, what):
    """Read one buffer every 50 ms for `seconds` (some 100 KiB/s); the server must hold the
    connection all along.  Returns the bytes read."""
    data = bytearray()
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        try:
            d = sk.recv(16384)
            if not d:
                raise AssertionError("%s: closed by the server after %.1f s of steady reading "
                                     "(%d bytes)" % (what, time.monotonic() - t0, len(data)))
            data += d
        except socket.timeout:
            pass
        assert s.conn_fds() > base, ("%s: the server closed a client that reads steadily "
                                     "after %.1f s (%d bytes read, Timeout 1)"
                                     % (what, time.monotonic() - t0, len(data)))
        time.sleep(0.05)
    return data


def steady_reader_then_stall(loop, ranges):
    # Timeout 1: the reads take 5 s, several times Timeout + its second of resolution.  Then
    # the client stops reading: it must be cut (Timeout, once more for the bytes it took
    # since the last check, a margin) and its fd released.
    with mkt.Server(conf={"EventLoop": loop, "Timeout": "1", "KeepAliveTimeout": "30"}) as s:
        s.sparse_file("huge.bin", 256 << 20)
        base = s.conn_fds()
        sk = slow_socket(s)
        headers = {"Range": "bytes=0-99999999,100000000-199999999"} if ranges else None
        sk.sendall(req("GET", "/huge.bin", headers=headers))
        what = "%s, %s" % (loop, "multipart/byteranges" if ranges else "sendfile body")
        data = read_steadily(s, sk, base, 5.0, what)
        want = b"HTTP/1.1 206 " if ranges else b"HTTP/1.1 200 "
        assert data.startswith(want), "%s: %r" % (what, bytes(data[:80]))
        assert len(data) > 100000, "%s: only %d bytes read in 5 s" % (what, len(data))
        t0 = time.monotonic()
        left = s.wait_fds(base, timeout=BOUND)
        sk.close()
        assert left <= base, ("%s: a client that stopped reading was still held %.0f s later "
                              "(Timeout 1)" % (what, BOUND))
        took = time.monotonic() - t0
        assert took <= 6.0, "%s: cut %.1f s after the client stopped reading" % (what, took)


@mkt.timeout(30)
def test_steady_slow_reader_of_sendfile_body_not_cut_epoll():
    steady_reader_then_stall("epoll", ranges=False)


@mkt.timeout(30)
def test_steady_slow_reader_of_sendfile_body_not_cut_io_uring():
    steady_reader_then_stall("io_uring", ranges=False)


@mkt.timeout(30)
def test_steady_slow_reader_of_byteranges_not_cut_epoll():
    steady_reader_then_stall("epoll", ranges=True)


@mkt.timeout(30)
def test_steady_slow_reader_of_byteranges_not_cut_io_uring():
    steady_reader_then_stall("io_uring", ranges=True)


# The listening socket's send buffer, inherited by every accepted socket, set small (as a
# slow client's is on a real network, where it does not grow): gathered pipelined responses
# (at most 16 KiB) then need several writes to leave.
SNDBUF_SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sys/socket.h>
int listen(int fd, int backlog)
{
    int (*real)(int, int) = (int (*)(int, int))dlsym(RTLD_NEXT, "listen");
    int size = 4096;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
    return real(fd, backlog);
}
"""


def steady_reader_of_pipelined_batch(loop):
    # A 17 000-byte response (too large to be gathered) fills the socket buffers; 13 GETs of
    # a 1000-byte file follow (16 KiB of responses, gathered), then the start of one more
    # request, whose end is sent 0.3 s later: the gathered responses are flushed before the
    # server reads it.  The client reads some 3.5 KiB/s, so the flush takes some 4.5 s with a
    # write every second or so.  Before: that wait kept the deadline of its first write, and
    # the connection was closed Timeout (2) later, in the middle of the responses.
    s = mkt.Server(conf={"EventLoop": loop, "Timeout": "2", "KeepAliveTimeout": "30"})
    s.env = mkt.preload_env("sndbuf", SNDBUF_SHIM)
    with s.start():
        with open(os.path.join(s.docroot, "kb.txt"), "wb") as f:
            f.write(b"k" * 1000)
        with open(os.path.join(s.docroot, "17k.txt"), "wb") as f:
            f.write(b"s" * 17000)
        base = s.conn_fds()
        sk = slow_socket(s)
        sk.sendall(req("GET", "/17k.txt") + req("GET", "/kb.txt") * 13 + b"GET /kb")
        time.sleep(0.3)
        sk.sendall(b".txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
        what = "%s, pipelined responses" % loop
        data = bytearray()
        t0 = time.monotonic()
        while not (data.count(b"HTTP/1.1 200 OK") == 15 and data.endswith(b"k" * 1000)) \
                and time.monotonic() - t0 < 20:
            try:
                d = sk.recv(180)
                if not d:
                    break
                data += d
            except socket.timeout:
                pass
            except ConnectionResetError:
                break
            time.sleep(0.05)
        n = data.count(b"HTTP/1.1 200 OK")
        assert n == 15 and data.endswith(b"k" * 1000), (
            "%s: %d of 15 responses in %.1f s (%d bytes), then %s" % (
                what, n, time.monotonic() - t0, len(data),
                "closed" if s.conn_fds() <= base else "stopped"))
        # Idle now: KeepAliveTimeout (30), not Timeout, applies; the connection still works.
        sk.settimeout(5)
        sk.sendall(req("GET", "/kb.txt"))
        d = sk.recv(4096)
        assert d.startswith(b"HTTP/1.1 200 OK"), "%s: then %r" % (what, d[:80])
        sk.close()


@mkt.timeout(40)
def test_steady_slow_reader_of_pipelined_batch_not_cut_epoll():
    steady_reader_of_pipelined_batch("epoll")


@mkt.timeout(40)
def test_steady_slow_reader_of_pipelined_batch_not_cut_io_uring():
    steady_reader_of_pipelined_batch("io_uring")

"""Closes that must linger (shut down our side, drain the input, then close) on both loops.

A close() with input unread in the socket, or with input still on its way, is answered by
the kernel with a RST: the end of a response still in flight is destroyed, and a client
still sending its request body gets EPIPE / ECONNRESET before it can read the answer."""

import signal
import socket
import time

import mkt
from mkt import eq, req


def stop_with_next_request_unread(loop):
    """SIGTERM while a keep-alive response is being written, the client's next request
    already in the socket: once the response is written the connection is closed (the
    server stops), and that close must linger.  epoll closed at once: the unread request
    turned it into a RST and the client got 12-14 MB of 16 MiB."""
    s = mkt.Server(conf={"EventLoop": loop, "Workers": "1"}).start()
    try:
        size = s.sparse_file("big.bin", 16 << 20)
        c = s.client(timeout=20)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        c.send(req("GET", "/big.bin"))
        time.sleep(0.3)  # the response is stuck in the socket buffers
        c.send(req("GET", "/hello.txt"))  # read by nobody: the server is writing
        time.sleep(0.2)
        s.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        r = c.recv_response(timeout=20)
        eq((r.status, len(r.body)), (200, size), "%s: the response in flight" % loop)
        c.close()
        eq(s.wait(), 0, "%s: exit status" % loop)
    finally:
        s.kill()


@mkt.timeout(60)
def test_stop_with_next_request_unread_lingers_epoll():
    stop_with_next_request_unread("epoll")


@mkt.timeout(60)
def test_stop_with_next_request_unread_lingers_io_uring():
    stop_with_next_request_unread("io_uring")


HEADS = [
    ("413 Content-Length", 413,
     req("POST", "/hello.txt", headers={"Content-Length": str(1 << 30)})),
    ("413 chunk size", 413,
     b"POST /hello.txt HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"fffffff\r\n"),
    ("400 Content-Length and chunked", 400,
     b"POST /hello.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n"),
    ("411 POST without a length", 411,
     b"POST /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"),
]


def error_before_body(loop):
    """A request rejected on its head alone (the body not sent yet, as clients without
    Expect: 100-continue do): the server answers and closes while the body is still on
    its way.  It must linger: closed at once, the body's first bytes are answered with a
    RST and the client gets EPIPE before it has sent its request (5 of 5 runs on both
    loops); http.client then raises instead of returning the 413."""
    with mkt.Server(conf={"EventLoop": loop, "Workers": "1"}) as s:
        for what, status, head in HEADS:
            k = socket.create_connection(("127.0.0.1", s.port), timeout=10)
            try:
                k.sendall(head)
                time.sleep(0.1)  # answered (and, before the fix, closed) by now
                sent = 0
                try:
                    while sent < (1 << 20):
                        sent += k.send(b"x" * 65536)
                except OSError as e:
                    raise AssertionError("%s, %s: %r after %d body bytes"
                                         % (loop, what, e, sent))
                data = b""
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    chunk = k.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                eq(data.split(b" ", 2)[1], str(status).encode(), "%s, %s" % (loop, what))
                head_end = data.index(b"\r\n\r\n") + 4
                cl = [l for l in data[:head_end].split(b"\r\n")
                      if l.lower().startswith(b"content-length:")]
                eq(len(data) - head_end, int(cl[0].split(b":")[1]), "%s, %s: body" % (loop, what))
            finally:
                k.close()


@mkt.timeout(60)
def test_error_before_body_lingers_epoll():
    error_before_body("epoll")


@mkt.timeout(60)
def test_error_before_body_lingers_io_uring():
    error_before_body("io_uring")


def server_side_state(port, peer_port):
    """The TCP state (hex, as in /proc/net/tcp) of the server's end of 127.0.0.1:port <->
    127.0.0.1:peer_port, or None once it is gone."""
    want_local, want_remote = "0100007F:%04X" % port, "0100007F:%04X" % peer_port
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[1] == want_local and fields[2] == want_remote:
                return fields[3]
    return None


FIN_WAIT = ("04", "05")  # FIN_WAIT1, FIN_WAIT2: our side shut down, the fd still open


def stop_while_lingering(loop):
    """SIGTERM while a connection lingers: its answer was written and our side shut down,
    part of the answer still in the socket buffers, input still unread.  The stop closed
    such a connection at once (it counted as idle): the close with unread input was a RST,
    and the end of the answer was lost.  It must go on lingering, as without the stop."""
    s = mkt.Server(conf={"EventLoop": loop, "Workers": "1"}).start()
    try:
        size = s.sparse_file("mid.bin", 256 << 10)
        c = s.client(timeout=20)
        # Input past the request: the server reads it with the request, and an answer that
        # ends the connection then lingers.
        c.send(req("GET", "/mid.bin", headers={"Connection": "close"}) + b"x" * 1000)
        peer = c.sock.getsockname()[1]
        deadline = time.monotonic() + 5
        while server_side_state(s.port, peer) not in FIN_WAIT and time.monotonic() < deadline:
            time.sleep(0.02)
        eq(server_side_state(s.port, peer) in FIN_WAIT, True,
           "%s: the server shut down its side (lingering), the answer in the buffers" % loop)
        s.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        c.send(b"y" * 1000)  # the client goes on sending, as one whose upload was refused
        time.sleep(0.2)
        r = c.recv_response(timeout=20)
        eq((r.status, len(r.body)), (200, size), "%s: the answer of a lingering connection"
           % loop)
        c.close()
        eq(s.wait(), 0, "%s: exit status" % loop)
    finally:
        s.kill()


@mkt.timeout(60)
def test_stop_while_lingering_epoll():
    stop_while_lingering("epoll")


@mkt.timeout(60)
def test_stop_while_lingering_io_uring():
    stop_while_lingering("io_uring")

"""Pipelined requests received together: the answers that are complete in memory leave
together, in one send, and every answer stays correct and in order (small, big, 404, HEAD,
ranges, a Connection: close in the middle, a client that stops reading)."""

import os
import socket
import threading
import time

import mkt
from mkt import eq, req

from test_logs import logged_server, wait_for_lines

WRITES = "write,writev,send,sendto,sendmsg,sendfile"


def response_sends(lines):
    """The calls that wrote to a socket (not the log file: the test has none open)."""
    return [ln for ln in lines if ln.split("(", 1)[0].split()[-1] != "write"]


def test_pipelined_batch_leaves_in_one_send():
    # epoll: under io_uring the sends are queued on the ring, not system calls (the mixed
    # batch tests check its answers).
    with mkt.Server(conf={"EventLoop": "epoll", "Workers": "1"}) as s:
        c = s.client()
        eq(c.request(req("GET", "/hello.txt")).status, 200, "warm-up (file cached)")
        batch = req("GET", "/hello.txt") * 10
        with mkt.Strace(s.pid, WRITES) as st:
            c.send(batch)  # one write, one segment: the server receives it in one go
            for i in range(10):
                r = c.recv_response()
                eq((r.status, r.body), (200, b"hello, world\n"), "pipelined response %d" % i)
            # and one more, alone: an ordinary keep-alive request is unchanged
            eq(c.request(req("GET", "/one.txt")).body, b"x", "request after the batch")
        sends = response_sends(st.lines)
        eq(len(sends), 2, "system calls writing 10 pipelined answers, then one more: %s"
           % sends)
        c.close()


def mixed_batch(loop):
    with mkt.Server(conf={"EventLoop": loop, "Workers": "1"}) as s:
        c = s.client(timeout=30)
        files = s.files
        wire = (req("GET", "/hello.txt") + req("HEAD", "/style.css") +
                req("GET", "/missing.txt") + req("GET", "/range.txt",
                                                 headers={"Range": "bytes=10-19"}) +
                req("GET", "/hello.txt", headers={"If-Modified-Since":
                                                  "Sun, 13 Sep 2020 12:26:40 GMT"}) +
                req("GET", "/big.bin") + req("GET", "/one.txt") +
                req("GET", "/range.txt", headers={"Range": "bytes=0-1,5-6"}) +
                req("GET", "/image.png") +
                req("GET", "/style.css", headers={"Connection": "close"}) +
                req("GET", "/hello.txt"))  # after the close: never answered
        c.send(wire)
        r = c.recv_response()
        eq((r.status, r.body), (200, files["/hello.txt"]), "GET")
        r = c.recv_response(head=True)
        eq((r.status, r.headers.get("Content-Length"), r.body),
           (200, str(len(files["/style.css"])), b""), "HEAD")
        eq(c.recv_response().status, 404, "missing file")
        r = c.recv_response()
        eq((r.status, r.body), (206, files["/range.txt"][10:20]), "one range")
        eq(c.recv_response().status, 304, "not modified")
        r = c.recv_response(timeout=30)
        eq((r.status, len(r.body)), (200, mkt.BIG_SIZE), "big file")
        eq(r.body, files["/big.bin"], "big file body")
        eq(c.recv_response().body, b"x", "after the big file")
        r = c.recv_response()
        eq(r.status, 206, "multipart ranges")
        assert r.headers.get("Content-Type").startswith("multipart/byteranges"), r
        eq(c.recv_response().body, files["/image.png"], "binary file")
        r = c.recv_response()
        eq((r.status, r.headers.get("Connection"), r.body),
           (200, "Close", files["/style.css"]), "Connection: close in the batch")
        assert c.is_closed(5), "the server did not close after Connection: close"
        eq(c.buf, b"", "bytes after the answer with Connection: close")


def test_pipelined_mixed_batch_epoll():
    mixed_batch("epoll")


def test_pipelined_mixed_batch_io_uring():
    mixed_batch("io_uring")


def stopped_reader(loop):
    """A client sends many pipelined requests and reads nothing for a while: the server
    stops at what the socket takes (bounded memory, no busy loop), serves others, and all
    the answers arrive in order once the client reads."""
    with mkt.Server(conf={"EventLoop": loop, "Workers": "1"}) as s:
        c = s.client(timeout=30)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        n = 600
        paths = ["/range.txt", "/hello.txt", "/image.png"]
        wire = b"".join(req("GET", paths[i % 3]) for i in range(n))
        t = c.send_in_background(wire)
        time.sleep(0.5)
        with mkt.Strace(s.pid, WRITES) as st:
            time.sleep(1.0)
        assert len(st.lines) < 20, "%d writes while the client read nothing: %s" % (
            len(st.lines), st.lines[-3:])
        eq(s.get("/one.txt").body, b"x", "another client is served meanwhile")
        for i in range(n):
            r = c.recv_response(timeout=30)
            eq((r.status, r.body), (200, s.files[paths[i % 3]]), "response %d" % i)
        t.join(30)
        assert t.done, "the client could not send all its requests"
        c.close()


def test_pipelined_client_stops_reading_epoll():
    stopped_reader("epoll")


def test_pipelined_client_stops_reading_io_uring():
    stopped_reader("io_uring")


def test_pipelined_batch_access_log_order():
    d = mkt.tmpdir("plog")
    access, error = os.path.join(d, "access.log"), os.path.join(d, "error.log")
    with logged_server(access, error).start() as s:
        c = s.client()
        paths = ["/hello.txt", "/missing.txt", "/one.txt", "/style.css", "/image.png"]
        c.send(b"".join(req("GET", p) for p in paths))
        for p in paths:
            c.recv_response()
        lines = wait_for_lines(access, len(paths))
        got = [ln.split(b'"')[1].split()[1].decode() for ln in lines]
        eq(got, paths, "access log order")
        sizes = [int(ln.split(b'"')[2].split()[1]) for ln in lines]
        eq(sizes[0], len(s.files["/hello.txt"]), "body bytes logged")
        c.close()


def continue_after_batch(loop):
    """Answers gathered for the requests before a POST with Expect: 100-continue leave
    before its 100 Continue, and the POST's own answer after its body."""
    with mkt.Server(conf={"EventLoop": loop, "Workers": "1"}) as s:
        c = s.client()
        c.send(req("GET", "/hello.txt") + req("GET", "/one.txt") +
               req("POST", "/hello.txt", headers={"Content-Length": "5",
                                                  "Expect": "100-continue"}))
        eq(c.recv_response().body, b"hello, world\n", "first answer")
        eq(c.recv_response().body, b"x", "second answer")
        eq(c.recv_head()[0], "HTTP/1.1 100 Continue", "100 Continue after the gathered answers")
        c.send(b"abcde" + req("GET", "/one.txt"))
        eq(c.recv_response().status, 200, "POST answered")
        eq(c.recv_response().body, b"x", "request after the body")
        c.close()


def test_pipelined_batch_then_expect_continue_epoll():
    continue_after_batch("epoll")


def test_pipelined_batch_then_expect_continue_io_uring():
    continue_after_batch("io_uring")


def body_timeout_with_batch(loop):
    """A POST whose head follows answers gathered in a batch, with the client reading
    nothing: the batch cannot leave, so the server never reads the body and the connection
    ends on the write timeout.  The POST is no bad request: no "400" line for a body cut
    (the client neither closed nor reset), nothing in the error log for it."""
    d = mkt.tmpdir("plog")
    access, error = os.path.join(d, "access.log"), os.path.join(d, "error.log")
    conf = {"EventLoop": loop, "Workers": "1", "Timeout": "2",
            "MaxKeepAliveRequest": "100000"}
    with logged_server(access, error, conf=conf).start() as s:
        one = req("GET", "/range.txt")  # 1 000 bytes of body: 1 254 with the head

        def connect():
            c = socket.create_connection(("127.0.0.1", s.port))
            c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            return c

        def send_all(c, wire):
            threading.Thread(target=lambda: c.sendall(wire), daemon=True).start()
        # How many answers the socket buffers take before the server must wait.
        probe = connect()
        send_all(probe, one * 20000)
        time.sleep(1.5)
        probe.close()
        cap = len(wait_for_lines(access, 10 ** 9, bound=1.5))
        assert 20 < cap < 19000, cap
        # Around that number, one connection of them stops with the POST's head parsed
        # and the batch before it unsent.
        conns = []
        for k in range(cap - 60, cap + 20, 2):
            c = connect()
            send_all(c, one * k + req("POST", "/p%d" % k, headers={"Content-Length": "10"}))
            conns.append(c)
        time.sleep(5)  # Timeout 2: every connection ends
        lines = wait_for_lines(access, 10 ** 9, bound=2)
        posts = [ln for ln in lines if b'"POST ' in ln]
        for c in conns:
            c.close()
        assert posts, "no POST was reached"
        bad = [ln for ln in posts if b'" 400 ' in ln]
        eq(bad, [], "POSTs logged as a body cut by the client (of %d POST lines)" % len(posts))
        with open(error, "rb") as f:
            eq([ln for ln in f.read().splitlines() if b" 400 " in ln], [], "error log")


def test_pipelined_batch_body_timeout_no_400_epoll():
    body_timeout_with_batch("epoll")


def test_pipelined_batch_body_timeout_no_400_io_uring():
    body_timeout_with_batch("io_uring")

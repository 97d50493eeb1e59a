"""Persistent connections, pipelining and split requests."""

import time

import mkt
from mkt import eq, req

SRV = None


def setup_module():
    global SRV
    SRV = mkt.Server().start()
    return SRV


def teardown_module():
    SRV.stop(check_fds=False)


def assert_closed(c, what):
    assert c.is_closed(5), "%s: the server did not close the connection" % what
    eq(c.buf, b"", "%s: bytes received after the last expected answer" % what)


# -- Connection / Keep-Alive headers ------------------------------------------------------------

def test_http11_default_stays_open():
    c = SRV.client()
    r = c.request(req("GET", "/hello.txt"))
    eq(r.status_line, "HTTP/1.1 200 OK", "status")
    assert "Connection" not in r.headers, "unexpected Connection header: %r" % r
    assert "Keep-Alive" not in r.headers, "unexpected Keep-Alive header: %r" % r
    assert not c.is_closed(0.5), "connection closed after an HTTP/1.1 response"
    r = c.request(req("GET", "/one.txt"))
    eq(r.body, b"x", "second request on the same connection")


def test_http11_connection_close():
    c = SRV.client()
    r = c.request(req("GET", "/hello.txt", headers={"Connection": "close"}))
    eq(r.status_line, "HTTP/1.1 200 OK", "status")
    eq(r.headers.get("Connection"), "Close", "Connection")
    eq(r.body, SRV.files["/hello.txt"], "body")
    assert_closed(c, "Connection: close")


def test_http11_connection_close_pipelined_rest_ignored():
    c = SRV.client()
    c.send(req("GET", "/hello.txt", headers={"Connection": "close"}) + req("GET", "/one.txt"))
    eq(c.recv_response().headers.get("Connection"), "Close", "Connection")
    assert_closed(c, "request after Connection: close")


def test_http10_closes():
    c = SRV.client()
    r = c.request(req("GET", "/hello.txt", version="HTTP/1.0"))
    eq(r.status_line, "HTTP/1.1 200 OK", "status")
    eq(r.headers.get("Connection"), "Close", "Connection")
    assert "Keep-Alive" not in r.headers, r
    assert_closed(c, "HTTP/1.0")


def test_http10_unknown_connection_value_closes():
    c = SRV.client()
    r = c.request(req("GET", "/hello.txt", version="HTTP/1.0", headers={"Connection": "foo"}))
    eq(r.headers.get("Connection"), "Close", "Connection")
    assert_closed(c, "HTTP/1.0 Connection: foo")


def test_http10_keepalive_counts_down():
    c = SRV.client()
    for i, value in enumerate(["Keep-Alive", "keep-alive", "KEEP-ALIVE"]):
        r = c.request(req("GET", "/hello.txt", version="HTTP/1.0",
                          headers={"Connection": value}))
        eq(r.status_line, "HTTP/1.1 200 OK", "status")
        eq(r.headers.get("Connection"), "Keep-Alive", "Connection (request %d)" % (i + 1))
        eq(r.headers.get("Keep-Alive"), "timeout=5, max=%d" % (1000 - i),
           "Keep-Alive (request %d)" % (i + 1))
        eq(r.body, SRV.files["/hello.txt"], "body")
    r = c.request(req("GET", "/one.txt", version="HTTP/1.0"))
    eq(r.headers.get("Connection"), "Close", "HTTP/1.0 without keep-alive at the end")
    assert_closed(c, "last HTTP/1.0 request")


def test_keepalive_off():
    with mkt.Server(conf={"KeepAlive": "off"}) as s:
        for raw in [req("GET", "/hello.txt"),
                    req("GET", "/hello.txt", version="HTTP/1.0",
                        headers={"Connection": "Keep-Alive"})]:
            c = s.client()
            c.send(raw + req("GET", "/one.txt"))
            r = c.recv_response()
            eq(r.status_line, "HTTP/1.1 200 OK", "status")
            eq(r.headers.get("Connection"), "Close", "Connection with KeepAlive off")
            assert "Keep-Alive" not in r.headers, r
            assert_closed(c, "KeepAlive off")


def test_max_keepalive_request():
    with mkt.Server(conf={"MaxKeepAliveRequest": "3"}) as s:
        c = s.client()
        for i in range(2):
            r = c.request(req("GET", "/one.txt"))
            eq(r.body, b"x", "body %d" % (i + 1))
            assert "Connection" not in r.headers, "response %d: %r" % (i + 1, r)
        r = c.request(req("GET", "/one.txt"))
        eq(r.body, b"x", "body 3")
        eq(r.headers.get("Connection"), "Close", "Connection on the 3rd response")
        assert_closed(c, "after MaxKeepAliveRequest")
        # Pipelined: 4 requests, 3 answers, then close.
        c = s.client()
        c.send(req("GET", "/one.txt") * 4)
        for i in range(3):
            eq(c.recv_response().body, b"x", "pipelined body %d" % (i + 1))
        assert_closed(c, "4th pipelined request past MaxKeepAliveRequest")


def test_max_keepalive_request_http10():
    with mkt.Server(conf={"MaxKeepAliveRequest": "3"}) as s:
        c = s.client()
        ka = req("GET", "/one.txt", version="HTTP/1.0", headers={"Connection": "keep-alive"})
        for i in range(2):
            r = c.request(ka)
            eq(r.headers.get("Keep-Alive"), "timeout=5, max=%d" % (3 - i), "Keep-Alive")
        r = c.request(ka)
        eq(r.headers.get("Connection"), "Close", "3rd response")
        assert_closed(c, "HTTP/1.0 after MaxKeepAliveRequest")


def test_keepalive_timeout():
    with mkt.Server(conf={"KeepAliveTimeout": "1", "Timeout": "30"}) as s:
        c = s.client()
        r = c.request(req("GET", "/one.txt", version="HTTP/1.0",
                          headers={"Connection": "keep-alive"}))
        eq(r.headers.get("Keep-Alive"), "timeout=1, max=1000", "Keep-Alive")
        assert_closed(c, "idle HTTP/1.0 keep-alive connection after KeepAliveTimeout 1")
        c = s.client()
        eq(c.request(req("GET", "/one.txt")).body, b"x", "body")
        assert c.is_closed(6), "idle HTTP/1.1 connection open 6 s after KeepAliveTimeout 1"
        eq(c.buf, b"", "bytes after the keep-alive timeout")


# -- pipelining --------------------------------------------------------------------------------

def test_pipelined_three_gets():
    c = SRV.client()
    c.send(req("GET", "/hello.txt") + req("GET", "/one.txt") + req("GET", "/style.css"))
    eq(c.recv_response().body, SRV.files["/hello.txt"], "1st")
    eq(c.recv_response().body, b"x", "2nd")
    r = c.recv_response()
    eq(r.body, SRV.files["/style.css"], "3rd")
    eq(r.headers.get("Content-Type"), "text/css", "3rd Content-Type")
    assert not c.is_closed(0.3), "closed after pipelined requests"


def test_pipelined_get_bad_get():
    c = SRV.client()
    c.send(req("GET", "/hello.txt") + req("GET", "/", host=None) + req("GET", "/one.txt"))
    r = c.recv_response()
    eq(r.status_line, "HTTP/1.1 200 OK", "1st")
    eq(r.body, SRV.files["/hello.txt"], "1st body")
    mkt.check_error(c.recv_response(), "HTTP/1.1 400 Bad Request")
    assert_closed(c, "request pipelined after a 400")


def test_pipelined_mixed_statuses():
    c = SRV.client()
    c.send(req("GET", "/missing") + req("HEAD", "/hello.txt") + req("GET", "/dir", host="h")
           + req("GET", "/empty.txt") + req("GET", "/one.txt"))
    eq(c.recv_response().status, 404, "1st")
    eq(c.recv_response(head=True).headers.get("Content-Length"), "13", "2nd (HEAD)")
    eq(c.recv_response().status, 301, "3rd")
    eq(c.recv_response().body, b"", "4th")
    eq(c.recv_response().body, b"x", "5th")


@mkt.timeout(120)
def test_thousand_requests_one_connection():
    with mkt.Server(conf={"MaxKeepAliveRequest": "2000"}) as s:
        c = s.client()
        plan = [("/hello.txt", 200), ("/one.txt", 200), ("/missing", 404), ("/empty.txt", 200),
                ("/style.css", 200)]
        n = 0
        for batch in range(100):
            items = [plan[(batch * 10 + i) % len(plan)] for i in range(10)]
            if batch % 2:
                c.send(b"".join(req("GET", p) for p, _ in items))  # pipelined
                rs = [c.recv_response() for _ in items]
            else:
                rs = [c.request(req("GET", p)) for p, _ in items]  # one at a time
            for (p, st), r in zip(items, rs):
                n += 1
                eq(r.status, st, "request %d (%s) status" % (n, p))
                if st == 200:
                    eq(r.body, s.files[p], "request %d (%s) body" % (n, p))
                assert "Connection" not in r.headers, "request %d: %r" % (n, r)
        eq(n, 1000, "requests answered")
        eq(c.request(req("GET", "/one.txt")).body, b"x", "request 1001")


def test_max_keepalive_with_1000():
    # The default maximum: the 1000th response says Close.
    c = SRV.client()
    for i in range(99):
        c.send(req("GET", "/one.txt") * 10)
        for _ in range(10):
            r = c.recv_response()
            assert "Connection" not in r.headers, r
    c.send(req("GET", "/one.txt") * 11)
    for i in range(9):
        assert "Connection" not in c.recv_response().headers
    eq(c.recv_response().headers.get("Connection"), "Close", "the 1000th response")
    assert_closed(c, "request 1001 with MaxKeepAliveRequest 1000")


# -- split requests ----------------------------------------------------------------------------

REQ = req("GET", "/hello.txt", headers={"User-Agent": "mkt", "Accept": "*/*"})


def test_every_split_point():
    want = SRV.files["/hello.txt"]
    for i in range(1, len(REQ)):
        c = SRV.client()
        c.send(REQ[:i])
        time.sleep(0.005)
        c.send(REQ[i:])
        r = c.recv_response()
        eq(r.status_line, "HTTP/1.1 200 OK", "split at %d" % i)
        eq(r.body, want, "split at %d" % i)
        c.close()
        SRV.clients.remove(c)


def test_one_byte_per_write():
    c = SRV.client()
    c.send_slowly(REQ, chunk=1, pause=0.002)
    r = c.recv_response()
    eq(r.status_line, "HTTP/1.1 200 OK", "status")
    eq(r.body, SRV.files["/hello.txt"], "body")
    # and a second one on the same connection
    c.send_slowly(req("GET", "/one.txt"), chunk=1, pause=0.002)
    eq(c.recv_response().body, b"x", "second body")


def test_one_byte_per_write_bad_request():
    c = SRV.client()
    c.send_slowly(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-A : 1\r\n\r\n", chunk=1, pause=0.002)
    mkt.check_error(c.recv_response(), "HTTP/1.1 400 Bad Request")
    assert_closed(c, "after a split bad request")


def test_split_bad_head_request_has_no_body():
    # A HEAD refused before its head is complete, by a read after the one that ended inside
    # the method, gets no body either (RFC 9110 9.3.2): the answer must not depend on where
    # the request was cut.
    c = SRV.client()
    c.send(b"HEA")
    time.sleep(0.2)
    c.send(b"D /one.txt HTTP/1.1\r\nHost: localhost\r\nX-A: a\x00b")
    head, _, body = c.recv_until_close(timeout=5).partition(b"\r\n\r\n")
    eq(head.split(b"\r\n", 1)[0], b"HTTP/1.1 400 Bad Request", "status line")
    eq(body, b"", "bytes after the head of the 400 to a HEAD")


# -- responses that do not fit in the socket at once ------------------------------------------

def stalled_small_responses(version):
    """Small cached files leave in one send() from a buffer the worker shares: the room
    before the file's bytes in its cache entry (HTTP/1.1 keep-alive) or the worker's output
    buffer (other heads, e.g. HTTP/1.0 keep-alive).  When the socket cannot take a response,
    what is left must be moved out of the shared buffer before other connections of the
    worker reuse it."""
    import os
    ka = {"Connection": "keep-alive"} if version == "HTTP/1.0" else None
    with mkt.Server(conf={"Workers": "1"}) as srv:
        names = {"/k12.txt": 12000, "/k15.txt": 15500, "/k3.txt": 3000, "/other.txt": 16000}
        bodies = {}
        for name, size in names.items():
            data = bytes((i * (13 + size % 7) + size) % 251 for i in range(size))
            with open(os.path.join(srv.docroot, name.lstrip("/")), "wb") as f:
                f.write(data)
            bodies[name] = data
        slow = srv.client()
        # 9 MB: more than the two sockets buffer while the client does not read (tcp_wmem's
        # 4 MiB maximum, the receiver's untuned 128 KiB), so responses meet EAGAIN part way.
        order = ["/k12.txt", "/k15.txt", "/k3.txt"] * 300
        slow.send(b"".join(req("GET", p, version=version, headers=ka) for p in order))
        # While the slow client reads nothing, another connection of the same (only) worker
        # gets responses built in the same buffers, over more than one second: the same
        # files (their heads get a new Date) and a file as large as the output buffer, with
        # other bytes.
        other = srv.client()
        t_end = time.monotonic() + 1.3
        n_other = 0
        while time.monotonic() < t_end:
            for name in ("/other.txt", order[n_other % 3]):
                r = other.request(req("GET", name, version=version, headers=ka))
                eq(r.body, bodies[name], "other connection's body")
            n_other += 1
            time.sleep(0.01)  # (MaxKeepAliveRequest is 1000)
        for i, name in enumerate(order):
            r = slow.recv_response()
            eq(r.status_line, "HTTP/1.1 200 OK", "stalled response %d status" % i)
            eq(r.headers.get("Content-Length"), str(len(bodies[name])),
               "stalled response %d Content-Length" % i)
            assert r.headers.get("Date", "").endswith(" GMT"), r
            assert r.body == bodies[name], "stalled response %d (%s): body differs" % (i, name)
        assert n_other > 10, n_other


def test_stalled_small_responses_http11():
    stalled_small_responses("HTTP/1.1")


def test_stalled_small_responses_http10_keepalive():
    stalled_small_responses("HTTP/1.0")

"""MaxConnections reached: idle keep-alive connections give way to new clients.

With `MaxConnections N`, N clients that made one request each and keep their connections
open (browsers keep several) held every slot until KeepAliveTimeout: every other client got
503 meanwhile.  nginx reuses idle keep-alive connections when it runs out; so does Monkey
now, within a worker (Workers 1 here: a worker can only close its own connections)."""

import time

import mkt
from mkt import eq, req

LIMIT = 4


def idle_clients(s, n):
    held = []
    for i in range(n):
        c = s.client()
        eq(c.request(req("GET", "/one.txt")).status, 200, "keep-alive client %d" % i)
        held.append(c)
    return held


def new_client_status(s):
    c = s.client()
    c.send(req("GET", "/one.txt"))
    r = c.recv_response(timeout=10)
    c.close()
    return r.status


def idle_reclaimed(loop):
    conf = {"EventLoop": loop, "Workers": "1", "MaxConnections": str(LIMIT),
            "KeepAliveTimeout": "30", "Timeout": "30"}
    with mkt.Server(conf=conf) as s:
        held = idle_clients(s, LIMIT)
        eq(new_client_status(s), 200, "%s: a new client while %d keep-alive connections are "
           "idle (KeepAliveTimeout 30)" % (loop, LIMIT))
        # The longest idle made room; the others are still usable.
        assert held[0].is_closed(10), "%s: the longest-idle connection is still open" % loop
        for c in held[1:]:
            eq(c.request(req("GET", "/one.txt")).status, 200, "%s: a kept connection" % loop)
        for c in held:
            c.close()


def busy_not_reclaimed(loop):
    # Connections in the middle of a request are not idle: over the limit, 503 as before.
    conf = {"EventLoop": loop, "Workers": "1", "MaxConnections": str(LIMIT),
            "KeepAliveTimeout": "30", "Timeout": "30"}
    with mkt.Server(conf=conf) as s:
        busy = []
        for _ in range(LIMIT):
            c = s.client()
            c.send(b"GET /one.txt HTTP/1.1\r\n")
            busy.append(c)
        deadline = time.monotonic() + 5
        while s.conn_fds() < s.baseline_fds + LIMIT and time.monotonic() < deadline:
            time.sleep(0.05)
        eq(new_client_status(s), 503, "%s: over the limit, every connection busy" % loop)
        for c in busy:
            eq(c.request(b"Host: localhost\r\n\r\n").status, 200, "%s: a busy connection" % loop)
            c.close()


@mkt.timeout(60)
def test_idle_keepalive_reclaimed_epoll():
    idle_reclaimed("epoll")


@mkt.timeout(60)
def test_idle_keepalive_reclaimed_io_uring():
    idle_reclaimed("io_uring")


@mkt.timeout(60)
def test_busy_connections_not_reclaimed_epoll():
    busy_not_reclaimed("epoll")


@mkt.timeout(60)
def test_busy_connections_not_reclaimed_io_uring():
    busy_not_reclaimed("io_uring")

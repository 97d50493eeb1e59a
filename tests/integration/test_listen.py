"""Listen addresses: IPv6 loopback, several Listen lines."""

import socket

import mkt
from mkt import eq, req


def test_ipv6_loopback():
    if not mkt.have_ipv6():
        raise mkt.Skip("this machine has no ::1")
    port = mkt.free_port(socket.AF_INET6)
    with mkt.Server(conf={"Listen": "[::1]:%d" % port}, port=port) as s:
        c = s.client(host="::1")
        r = c.request(req("GET", "/hello.txt", host="[::1]:%d" % port))
        eq(r.status_line, "HTTP/1.1 200 OK", "status over ::1")
        eq(r.body, s.files["/hello.txt"], "body over ::1")
        r = c.request(req("GET", "/dir", host="[::1]:%d" % port))
        eq(r.headers.get("Location"), "http://[::1]:%d/dir/" % port, "Location over ::1")


def test_two_listen_lines():
    p1, p2 = mkt.free_port(), mkt.free_port()
    while p2 == p1:
        p2 = mkt.free_port()
    with mkt.Server(conf={"Listen": ["127.0.0.1:%d" % p1, "127.0.0.1:%d" % p2]}, port=p1) as s:
        for p in (p1, p2):
            c = s.client(port=p)
            eq(c.request(req("GET", "/one.txt")).body, b"x", "body on port %d" % p)


def test_ipv4_and_ipv6_together():
    if not mkt.have_ipv6():
        raise mkt.Skip("this machine has no ::1")
    port = mkt.free_port(socket.AF_INET6)  # free on both families
    with mkt.Server(conf={"Listen": ["127.0.0.1:%d" % port, "[::1]:%d" % port]}, port=port) as s:
        for host in ("127.0.0.1", "::1"):
            c = s.client(host=host)
            eq(c.request(req("GET", "/one.txt")).body, b"x", "body on %s" % host)


"""Listen addresses: IPv6 loopback, several Listen lines."""

import os
import socket
import subprocess

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



NO_IPV6_SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <sys/socket.h>
/* Looked up before main: dlsym() inside socket() could wait for the loader's lock. */
static int (*real)(int, int, int);

__attribute__((constructor)) static void init(void)
{
    real = (int (*)(int, int, int))dlsym(RTLD_NEXT, "socket");
}

int socket(int domain, int type, int protocol)
{
    if (domain == AF_INET6) {
        errno = EAFNOSUPPORT;
        return -1;
    }
    return real(domain, type, protocol);
}
"""


def no_ipv6_env():
    """An LD_PRELOAD that makes socket(AF_INET6) fail as on a host without IPv6."""
    return mkt.preload_env("noipv6", NO_IPV6_SHIM)


def test_without_ipv6_listen_port_falls_back_and_stays_exclusive():
    """Without IPv6, "Listen P" serves on the IPv4 wildcard; and the exclusivity probe
    checks that address too (it used to give up when the IPv6 socket could not be made,
    and our SO_REUSEPORT socket joined another process's on 0.0.0.0:P)."""
    env = no_ipv6_env()
    port = mkt.free_port()
    s = mkt.Server(conf={"Listen": str(port)}, port=port, wait_addrs=[("127.0.0.1", port)])
    s.env = env
    with s:
        eq(s.get("/one.txt").body, b"x", "served on the IPv4 wildcard")
    with socket.socket() as stranger:
        stranger.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        stranger.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        stranger.bind(("0.0.0.0", port))
        stranger.listen(8)
        s = mkt.Server(conf={"Listen": str(port)}, port=port)
        p = subprocess.run([mkt.MONKEY_BIN] + s.argv, cwd=s.dir, env=env, capture_output=True,
                           timeout=10)
        assert p.returncode != 0, "started beside a stranger's socket: %r" % (p.stderr,)
        assert b"in use" in p.stderr, p.stderr


def test_busy_address_names_the_listen_line():
    """A port another process holds is reported with the Listen line that asked for it (it
    used to say only "cannot listen on ADDR", leaving the user to find which line)."""
    port = mkt.free_port()
    with socket.socket() as stranger:
        stranger.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        stranger.bind(("127.0.0.1", port))
        stranger.listen(8)
        other = mkt.free_port()
        s = mkt.Server(conf={"Listen": ["127.0.0.1:%d" % other, "127.0.0.1:%d" % port]},
                       port=port)
        conf = os.path.join(s.confdir, "monkey.conf")
        lines = open(conf).read().splitlines()
        line = [i + 1 for i, t in enumerate(lines) if t.strip() == "Listen 127.0.0.1:%d" % port]
        eq(len(line), 1, "the Listen line in %s" % conf)
        p = subprocess.run([mkt.MONKEY_BIN] + s.argv, cwd=s.dir, capture_output=True, timeout=10)
        assert p.returncode != 0, "started on a port another process holds: %r" % (p.stderr,)
        want = "%s:%d: Listen: cannot listen on 127.0.0.1:%d: Address already in use" % (
            conf, line[0], port)
        assert want in p.stderr.decode(), "expected %r in:\n%s" % (want, p.stderr.decode())
        # -p moves every Listen line to its port: the message says so
        p = subprocess.run([mkt.MONKEY_BIN] + s.argv + ["-p", str(port)], cwd=s.dir,
                           capture_output=True, timeout=10)
        assert p.returncode != 0, "started on a port another process holds: %r" % (p.stderr,)
        want = "%s:%d: Listen, port from -p: cannot listen on 127.0.0.1:%d" % (
            conf, line[0] - 1, port)
        assert want in p.stderr.decode(), "expected %r in:\n%s" % (want, p.stderr.decode())
        # no Listen line: the address came from -p alone
        s = mkt.Server(conf={"Listen": None}, port=port, args=["-p", str(port)])
        p = subprocess.run([mkt.MONKEY_BIN] + s.argv, cwd=s.dir, capture_output=True, timeout=10)
        assert p.returncode != 0, "started on a port another process holds: %r" % (p.stderr,)
        err = p.stderr.decode()
        assert "] -p: cannot listen on " in err and ":%d: Address already in use" % port in err, err

"""Helpers shared by the test_rel_*.py modules (reliability.md tables).  No tests here.

Every helper sends exact raw bytes on a fresh loopback connection and reads with bounded
waits (mkt.Client): a missing answer is a TimeoutError or ConnectionClosed, never a hang.
"""

import mkt
from mkt import eq, req

S100 = "HTTP/1.1 100 Continue"
S200 = "HTTP/1.1 200 OK"
S206 = "HTTP/1.1 206 Partial Content"
S304 = "HTTP/1.1 304 Not Modified"
S400 = "HTTP/1.1 400 Bad Request"
S403 = "HTTP/1.1 403 Forbidden"
S404 = "HTTP/1.1 404 Not Found"
S405 = "HTTP/1.1 405 Method Not Allowed"
S412 = "HTTP/1.1 412 Precondition Failed"
S413 = "HTTP/1.1 413 Request Entity Too Large"
S414 = ("HTTP/1.1 414 Request-URI Too Long", "HTTP/1.1 414 URI Too Long")
S416 = "HTTP/1.1 416 Requested Range Not Satisfiable"
S501 = "HTTP/1.1 501 Not Implemented"
S505 = "HTTP/1.1 505 HTTP Version Not Supported"

GET_ONE = req("GET", "/one.txt")  # a pipelined probe whose answer body is b"x"


def show(raw, n=160):
    return repr(raw[:n]) + ("...(%d bytes)" % len(raw) if len(raw) > n else "")


def drop(srv, c):
    c.close()
    if c in srv.clients:
        srv.clients.remove(c)


def one(srv, raw, head=False, timeout=None):
    """Send raw on a fresh connection and read one response; returns (response, client)."""
    c = srv.client()
    c.send(raw)
    try:
        r = c.recv_response(head=head, timeout=timeout)
    except (mkt.ConnectionClosed, TimeoutError) as e:
        drop(srv, c)
        raise AssertionError("no answer to %s: %s" % (show(raw), e))
    return r, c


def expect(srv, raw, status, closes=False, body=None, head=False, what=""):
    """One request on a fresh connection: exact status line (a str, or a tuple of allowed
    ones); body if given; with closes, the connection must then be closed with nothing more
    sent (so a pipelined request after raw got no answer)."""
    what = what or show(raw, 80)
    r, c = one(srv, raw, head=head)
    allowed = status if isinstance(status, tuple) else (status,)
    if r.status_line not in allowed:
        drop(srv, c)
        raise AssertionError("%s: expected %r, got %r\nrequest: %s"
                             % (what, " or ".join(allowed), r, show(raw, 300)))
    if body is not None and r.body != body:
        drop(srv, c)
        raise AssertionError("%s: body %s, expected %s" % (what, show(r.body), show(body)))
    if r.status >= 400 and not head:
        cl = r.headers.get("Content-Length")
        if cl is None or int(cl) != len(r.body):
            drop(srv, c)
            raise AssertionError("%s: Content-Length %r for a %d-byte body" % (what, cl,
                                                                                len(r.body)))
    if closes:
        closed = c.is_closed(5)
        extra = c.buf
        drop(srv, c)
        assert closed, "%s: connection still open after %r" % (what, r.status_line)
        eq(extra, b"", "%s: bytes sent after the %s answer" % (what, r.status))
    else:
        drop(srv, c)
    return r


def expect_then_close(srv, raw, status, what=""):
    """raw followed by a pipelined GET: the status, then close; the GET gets no answer."""
    return expect(srv, raw + GET_ONE, status, closes=True, what=what or show(raw, 80))


def expect_then_served(srv, raw, status, body=None, what=""):
    """raw followed by a pipelined GET /one.txt: the status, then the GET answered (200 x)."""
    what = what or show(raw, 80)
    c = srv.client()
    c.send(raw + GET_ONE)
    try:
        r1 = c.recv_response()
        r2 = c.recv_response()
    except (mkt.ConnectionClosed, TimeoutError) as e:
        drop(srv, c)
        raise AssertionError("%s: missing answer (%s); request %s" % (what, e, show(raw, 300)))
    drop(srv, c)
    eq(r1.status_line, status, "%s: first answer" % what)
    if body is not None:
        eq(r1.body, body, "%s: first body" % what)
    eq((r2.status_line, r2.body), (S200, b"x"), "%s: pipelined GET /one.txt" % what)
    return r1


def still_serves(srv):
    r = srv.get("/one.txt")
    eq((r.status_line, r.body), (S200, b"x"), "server still serves GET /one.txt")
    assert srv.alive(), "server died"

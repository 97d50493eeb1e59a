"""Conditional and range requests (monkey-compat.md "Dates", reliability.md "Ranges")."""

import time

import mkt
from mkt import eq, req

SRV = None
MTIME = 1600000000  # every docroot file's modification time (mkt.make_docroot)
DATA = None


def setup_module():
    global SRV, DATA
    SRV = mkt.Server().start()
    DATA = SRV.files["/range.txt"]
    return SRV


def teardown_module():
    SRV.stop(check_fds=False)


def get(path, **headers):
    c = SRV.client()
    c.send(req("GET", path, headers=list(headers.items())) + req("GET", "/one.txt"))
    r = c.recv_response()
    eq(c.recv_response().body, b"x", "pipelined request after %r" % (headers,))
    return r


def ims(value):
    return get("/range.txt", **{"If-Modified-Since": value})


def test_ims_equal_is_304():
    r = ims(mkt.http_date(MTIME))
    eq(r.status_line, "HTTP/1.1 304 Not Modified", "status")
    eq(r.body, b"", "body")


def test_ims_later_is_304():
    eq(ims(mkt.http_date(MTIME + 3600)).status, 304, "status")


def test_ims_earlier_is_200():
    r = ims(mkt.http_date(MTIME - 1))
    eq(r.status, 200, "status")
    eq(r.body, DATA, "body")


def test_ims_in_the_future_is_ignored():
    eq(ims(mkt.http_date(time.time() + 86400 * 30)).status, 200, "status")


def test_ims_invalid_is_ignored():
    for v in ["garbage", "Sun, 30 Feb 2020 12:00:00 GMT", "Mon, 01 Jan 1900 00:00:00 GMT", ""]:
        eq(ims(v).status, 200, "If-Modified-Since %r" % v)


def test_if_none_match_star():
    eq(get("/range.txt", **{"If-None-Match": "*"}).status, 304, "If-None-Match: *")


def rng(spec, path="/range.txt"):
    return get(path, Range=spec)


def check_206(r, a, b, total=1000):
    eq(r.status_line, "HTTP/1.1 206 Partial Content", "status")
    eq(r.headers.get("Content-Range"), "bytes %d-%d/%d" % (a, b, total), "Content-Range")
    eq(r.headers.get("Content-Length"), str(b - a + 1), "Content-Length")
    assert mkt.IMF_FIXDATE.match(r.headers.get("Date", "")), "Date: %r" % r
    eq(r.body, DATA[a:b + 1], "body")


def test_range_open_end():
    check_206(rng("bytes=0-"), 0, 999)


def test_range_suffix():
    check_206(rng("bytes=-1"), 999, 999)
    check_206(rng("bytes=-5"), 995, 999)


def test_range_middle():
    check_206(rng("bytes=100-200"), 100, 200)


def test_range_one_byte():
    check_206(rng("bytes=3-3"), 3, 3)


def test_range_end_past_size_is_clamped():
    check_206(rng("bytes=990-5000"), 990, 999)


def test_range_start_at_size_is_416():
    for spec in ("bytes=1000-", "bytes=5000-6000"):
        r = rng(spec)
        eq(r.status_line, "HTTP/1.1 416 Requested Range Not Satisfiable", spec)
        eq(r.headers.get("Content-Range"), "bytes */1000", "Content-Range of 416")
        eq(r.headers.get("Content-Length"), str(len(r.body)), "Content-Length of 416")
        assert DATA not in r.body, "416 carries the file"


def test_range_unknown_unit_ignored():
    r = rng("items=0-4")
    eq(r.status, 200, "status")
    eq(r.body, DATA, "body")


def test_range_big_file():
    r = rng("bytes=%d-" % (mkt.BIG_SIZE - 10), "/big.bin")
    eq(r.status, 206, "status")
    eq(r.body, SRV.files["/big.bin"][-10:], "body")


def test_repeated_preconditions_are_400():
    """Two If-None-Match lines used to be read as the last one alone: the answer (200 or
    304) depended on their order."""
    etag = get("/range.txt").headers.get("ETag")
    for name, values in (("If-None-Match", [etag, '"zz"']), ("If-Match", [etag, '"zz"']),
                         ("Range", ["bytes=0-1", "bytes=2-3"])):
        for order in (values, values[::-1]):
            c = SRV.client()
            c.send(req("GET", "/range.txt", headers=[(name, v) for v in order]))
            r = c.recv_response()
            eq(r.status, 400, "%s twice: %r" % (name, order))

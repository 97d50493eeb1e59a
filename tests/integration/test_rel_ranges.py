"""reliability.md "Ranges and conditionals", with ETag / If-Match / If-Unmodified-Since /
If-Range around them.  /range.txt is 1000 known bytes, modified at 1600000000
(Sun, 13 Sep 2020 12:26:40 GMT).  Every answer is followed by a pipelined GET on the same
connection, so a wrong Content-Length or an extra byte shows up as a broken second answer."""

import os
import re
import time

import mkt
from mkt import eq, req
import test_rel_util as U

SRV = None
MTIME = 1600000000
DATA = None
SIZE = 1000


def setup_module():
    global SRV, DATA
    SRV = mkt.Server(conf={"Timeout": "5"}).start()
    DATA = SRV.files["/range.txt"]
    eq(len(DATA), SIZE, "size of /range.txt")
    return SRV


def teardown_module():
    SRV.stop(check_fds=False)


def get(path="/range.txt", headers=(), method="GET", timeout=None):
    """One request (exact header lines) then a pipelined GET /one.txt that must be answered."""
    c = SRV.client(timeout=timeout or mkt.IO_TIMEOUT)
    raw = req(method, path, headers=list(headers))
    c.send(raw + U.GET_ONE)
    try:
        r = c.recv_response(head=(method == "HEAD"))
        r2 = c.recv_response()
    except (mkt.ConnectionClosed, TimeoutError) as e:
        U.drop(SRV, c)
        raise AssertionError("%s: %s" % (U.show(raw, 300), e))
    U.drop(SRV, c)
    eq((r2.status_line, r2.body), (U.S200, b"x"), "pipelined GET after %s" % U.show(raw, 200))
    return r


def etag():
    r = get()
    return r.headers.get("ETag")


def check_full(r, what):
    eq(r.status_line, U.S200, "%s: status" % what)
    eq(r.body, DATA, "%s: body" % what)
    eq(r.headers.get("Content-Length"), str(SIZE), "%s: Content-Length" % what)


def check_206(r, a, b, what=""):
    eq(r.status_line, U.S206, "%s: status" % what)
    eq(r.headers.get("Content-Range"), "bytes %d-%d/%d" % (a, b, SIZE), "%s: Content-Range" % what)
    eq(r.headers.get("Content-Length"), str(b - a + 1), "%s: Content-Length" % what)
    eq(r.body, DATA[a:b + 1], "%s: body" % what)


def check_416(r, size=SIZE, what=""):
    eq(r.status_line, U.S416, "%s: status" % what)
    eq(r.headers.get("Content-Range"), "bytes */%d" % size, "%s: Content-Range" % what)
    cl = r.headers.get("Content-Length")
    eq(cl, str(len(r.body)), "%s: Content-Length" % what)


def rng(spec, path="/range.txt", timeout=None):
    return get(path, [("Range", spec)], timeout=timeout)


# -- ETag ----------------------------------------------------------------------------------------

def test_etag_present_and_stable():
    tags = [get().headers.get("ETag") for _ in range(3)]
    tags.append(get(method="HEAD").headers.get("ETag"))
    assert tags[0], "no ETag on a file response"
    assert re.match(r'^"[\x21\x23-\x7e]*"$', tags[0]), "ETag is not a quoted strong tag: %r" % tags
    eq(len(set(tags)), 1, "ETag across requests (GET x3, HEAD): %r" % tags)
    other = get("/hello.txt").headers.get("ETag")
    assert other and other != tags[0], "two different files share the ETag %r" % other


def test_etag_on_206_is_the_same():
    r = rng("bytes=0-4")
    eq(r.headers.get("ETag"), etag(), "ETag of the 206")


# -- If-None-Match -------------------------------------------------------------------------------

def test_if_none_match_etag_304():
    t = etag()
    r = get(headers=[("If-None-Match", t)])
    eq(r.status_line, U.S304, "status")
    eq(r.body, b"", "304 body")
    eq(r.headers.get("ETag"), t, "ETag of the 304")
    assert "Content-Length" not in r.headers or r.headers["Content-Length"] in ("0", str(SIZE)), r


def test_if_none_match_list_and_weak_304():
    t = etag()
    eq(get(headers=[("If-None-Match", '"nope", %s' % t)]).status_line, U.S304, "list")
    eq(get(headers=[("If-None-Match", "W/" + t)]).status_line, U.S304, "weak comparison")


def test_if_none_match_other_200():
    check_full(get(headers=[("If-None-Match", '"nope"')]), "If-None-Match mismatch")


def test_if_none_match_star_304():
    r = get(headers=[("If-None-Match", "*")])
    eq(r.status_line, U.S304, "If-None-Match: *")
    eq(r.body, b"", "body")


# -- If-Match / If-Unmodified-Since --------------------------------------------------------------

def test_if_match_mismatch_412():
    r = get(headers=[("If-Match", '"nope"')])
    eq(r.status_line, U.S412, "status")
    eq(r.headers.get("Content-Length"), str(len(r.body)), "Content-Length")


def test_if_match_weak_412():
    eq(get(headers=[("If-Match", "W/" + etag())]).status_line, U.S412,
       "If-Match uses the strong comparison")


def test_if_match_match_200():
    check_full(get(headers=[("If-Match", etag())]), "If-Match with the ETag")
    check_full(get(headers=[("If-Match", "*")]), "If-Match: *")


def test_if_unmodified_since_past_412():
    eq(get(headers=[("If-Unmodified-Since", mkt.http_date(MTIME - 86400))]).status_line,
       U.S412, "If-Unmodified-Since a day before the file")


def test_if_unmodified_since_rfc850_two_digit_year():
    # RFC 9110 5.6.7: a two-digit year is the one within 50 years of now, never more than 50
    # ahead.  Exactly 50 years ahead stays ahead (after the file: 200); 51 years ahead is read
    # as 49 years ago (before the file, modified in 2020: 412).
    year = time.gmtime().tm_year
    assert year < 2069, "the 412 case needs a year 49 years ago to be before 2020"
    ahead = "Sunday, 31-Dec-%02d 23:59:59 GMT" % ((year + 50) % 100)
    check_full(get(headers=[("If-Unmodified-Since", ahead)]), "If-Unmodified-Since %s" % ahead)
    back = "Sunday, 01-Jan-%02d 00:00:00 GMT" % ((year + 51) % 100)
    eq(get(headers=[("If-Unmodified-Since", back)]).status_line, U.S412,
       "If-Unmodified-Since %s" % back)


def test_if_unmodified_since_equal_200():
    check_full(get(headers=[("If-Unmodified-Since", mkt.http_date(MTIME))]), "equal date")


# -- If-Modified-Since: garbage (M) or 1900 -> 200; at/after Last-Modified -> 304 ---------------

def test_last_modified_is_mtime():
    eq(get().headers.get("Last-Modified"), mkt.http_date(MTIME), "Last-Modified")


def test_ims_equal_304():
    r = get(headers=[("If-Modified-Since", mkt.http_date(MTIME))])
    eq((r.status_line, r.body), (U.S304, b""), "If-Modified-Since = Last-Modified")


def test_ims_after_304():
    eq(get(headers=[("If-Modified-Since", mkt.http_date(MTIME + 86400))]).status_line, U.S304,
       "a day after Last-Modified")


def test_ims_other_date_formats_304():
    # RFC 9110 5.6.7: recipients MUST accept the obsolete RFC 850 and asctime formats.
    for v in ["Sunday, 13-Sep-20 12:26:40 GMT", "Sun Sep 13 12:26:40 2020"]:
        eq(get(headers=[("If-Modified-Since", v)]).status_line, U.S304, "If-Modified-Since %r" % v)


def test_ims_before_200():
    check_full(get(headers=[("If-Modified-Since", mkt.http_date(MTIME - 1))]), "a second before")


def test_ims_future_200():
    check_full(get(headers=[("If-Modified-Since", mkt.http_date(time.time() + 86400 * 365))]),
               "a year in the future")


def test_ims_garbage_200():
    for v in ["garbage", "", "Sun, 13 Sep 2020", "Sun, 32 Sep 2020 12:26:40 GMT",
              "Sun, 13 Sep 2020 25:26:40 GMT", "Sun, 30 Feb 2020 12:00:00 GMT",
              "Sun, 13 Foo 2020 12:26:40 GMT", "9999999999999999999999",
              "Sun, 13 Sep 2020 12:26:40 GMT trailing"]:
        check_full(get(headers=[("If-Modified-Since", v)]), "If-Modified-Since %r" % v)


def test_ims_year_1900_200():
    check_full(get(headers=[("If-Modified-Since", "Mon, 01 Jan 1900 00:00:00 GMT")]), "1900")


def test_ims_ignored_when_if_none_match_present():
    # RFC 9110 13.1.3: If-None-Match present -> If-Modified-Since is ignored.
    check_full(get(headers=[("If-None-Match", '"nope"'),
                            ("If-Modified-Since", mkt.http_date(MTIME))]), "INM + IMS")


# -- bytes=0-4, -5, 5-: 206 with Content-Range ---------------------------------------------------

def test_range_0_4_206():
    check_206(rng("bytes=0-4"), 0, 4)


def test_range_suffix_5_206():
    check_206(rng("bytes=-5"), 995, 999)


def test_range_open_5_206():
    check_206(rng("bytes=5-"), 5, 999)


def test_range_empty_list_element_206():
    # RFC 9110 5.6.1.2: a recipient accepts empty list elements ("bytes=0-4," is 0-4).
    check_206(rng("bytes=0-4,"), 0, 4, "bytes=0-4,")


def test_range_suffix_longer_than_file_206():
    check_206(rng("bytes=-5000"), 0, 999)


# -- start at or past the size, bytes=-0: 416 with Content-Range: bytes */SIZE -------------------

def test_range_start_at_size_416_promptly():
    t0 = time.monotonic()
    for spec in ["bytes=1000-", "bytes=1000-1000", "bytes=1000-2000"]:
        check_416(rng(spec, timeout=3), what=spec)
    assert time.monotonic() - t0 < 9, "416 answers were slow"


def test_range_past_size_416():
    for spec in ["bytes=1001-", "bytes=5000-6000", "bytes=99999999999-"]:
        check_416(rng(spec, timeout=3), what=spec)


def test_range_minus_zero_416():
    check_416(rng("bytes=-0", timeout=3), what="bytes=-0")


def test_range_big_file_start_at_size_416_promptly():
    # Monkey once looped forever in sendfile() here.
    r = rng("bytes=%d-" % mkt.BIG_SIZE, path="/big.bin", timeout=3)
    check_416(r, size=mkt.BIG_SIZE, what="big file, start = size")
    r = rng("bytes=%d-%d" % (mkt.BIG_SIZE - 1, mkt.BIG_SIZE + 10), path="/big.bin", timeout=5)
    eq(r.status_line, U.S206, "last byte of the big file")
    eq(r.body, SRV.files["/big.bin"][-1:], "body")


def test_range_empty_file_416():
    check_416(rng("bytes=0-", path="/empty.txt", timeout=3), size=0, what="empty file")


def test_range_suffix_on_empty_file_200():
    # RFC 9110 14.1.3: a non-zero suffix is the one satisfiable range of an empty file, and a
    # 206 cannot carry zero bytes: the whole (empty) file, not 416.
    r = rng("bytes=-5", path="/empty.txt", timeout=3)
    eq((r.status_line, r.body), ("HTTP/1.1 200 OK", b""), "bytes=-5 on an empty file")
    eq(r.headers.get("Content-Length"), "0", "Content-Length")
    assert "Content-Range" not in r.headers, "Content-Range on a 200: %r" % r


# -- bytes=5-1, garbage: 200 (ignore) or 416 -----------------------------------------------------

def test_range_reversed_ignored_200():
    check_full(rng("bytes=5-1"), "bytes=5-1")


def test_range_garbage_ignored_200():
    for spec in ["bytes=abc", "bytes=", "bytes=-", "bytes=1-2-3", "bytes=--1",
                 "bytes 0-4", "bytes=0x1-4", "bytes=+1-4", "bytes=1--4", "garbage"]:
        check_full(rng(spec), "Range: %s" % spec)


# -- several ranges: 206 multipart/byteranges ----------------------------------------------------

def parse_multipart(r):
    ct = r.headers.get("Content-Type", "")
    m = re.match(r'^multipart/byteranges;\s*boundary=("?)([^";]+)\1$', ct)
    assert m, "Content-Type of a multi-range 206: %r" % ct
    boundary = m.group(2).encode()
    body = r.body
    delim = b"--" + boundary
    assert body.rstrip(b"\r\n").endswith(delim + b"--"), "no closing delimiter: %r" % body[-80:]
    chunks = body.split(delim)
    assert chunks[0] in (b"", b"\r\n"), "preamble: %r" % chunks[0]
    assert chunks[-1].startswith(b"--"), "epilogue: %r" % chunks[-1]
    parts = []
    for ch in chunks[1:-1]:
        assert ch.startswith(b"\r\n"), "part does not start with CRLF: %r" % ch[:40]
        assert ch.endswith(b"\r\n"), "part does not end with CRLF: %r" % ch[-40:]
        head, sep, data = ch[2:-2].partition(b"\r\n\r\n")
        assert sep, "part without a header block: %r" % ch[:100]
        hs = {}
        for ln in head.split(b"\r\n"):
            k, _, v = ln.partition(b":")
            hs[k.strip().lower().decode()] = v.strip().decode()
        parts.append((hs, data))
    return parts


def check_multipart(r, ranges):
    eq(r.status_line, U.S206, "status")
    eq(r.headers.get("Content-Length"), str(len(r.body)), "Content-Length")
    assert "Content-Range" not in r.headers, "Content-Range on a multipart 206: %r" % r
    parts = parse_multipart(r)
    eq(len(parts), len(ranges), "number of parts")
    for (hs, data), (a, b) in zip(parts, ranges):
        eq(hs.get("content-range"), "bytes %d-%d/%d" % (a, b, SIZE), "part Content-Range")
        assert hs.get("content-type"), "part without Content-Type: %r" % hs
        eq(data, DATA[a:b + 1], "bytes of part %d-%d" % (a, b))


def test_multiple_ranges_206_multipart():
    check_multipart(rng("bytes=0-4,10-14,-3"), [(0, 4), (10, 14), (997, 999)])


def test_multiple_ranges_two_206_multipart():
    check_multipart(rng("bytes=100-199, 900-"), [(100, 199), (900, 999)])


def test_multipart_boundary_new_for_each_response():
    # RFC 2046 5.1.1: the boundary must not occur in the parts; a fixed one could be planted
    # in a file.  Each response draws its own.
    seen = set()
    for _ in range(5):
        ct = rng("bytes=0-4,10-14").headers.get("Content-Type", "")
        m = re.match(r"^multipart/byteranges; boundary=([0-9a-f]{24})$", ct)
        assert m, "Content-Type %r" % ct
        assert m.group(1) not in seen, "boundary %s used twice" % m.group(1)
        seen.add(m.group(1))


def test_multipart_with_the_longest_media_type():
    # The part headers' length was measured in a 512-byte scratch buffer: with a long
    # DefaultMimeType (then unbounded) the announced Content-Length fell short of the body
    # and the rest of it was read as the next response.  255 bytes is the longest accepted.
    mime = "application/x-test; p=" + "a" * 233
    eq(len(mime), 255, "length of the type")
    srv = mkt.Server(conf={"DefaultMimeType": mime}).start()
    try:
        c = srv.client()
        c.send(req("GET", "/noext", headers=[("Range", "bytes=0-1,5-6")]) + U.GET_ONE)
        r = c.recv_response()
        eq(r.status_line, U.S206, "status")
        eq(r.headers.get("Content-Length"), str(len(r.body)), "Content-Length")
        b = re.search(r"boundary=(\w+)", r.headers["Content-Type"]).group(1).encode()
        assert r.body.endswith(b"\r\n--" + b + b"--\r\n"), "body ends %r" % r.body[-60:]
        eq(r.body.count(b"\r\nContent-Type: " + mime.encode() + b"\r\n"), 2, "part headers")
        r2 = c.recv_response()
        eq((r2.status_line, r2.body), (U.S200, b"x"), "pipelined GET after it")
        c.close()
    finally:
        srv.stop()


# -- 200 overlapping ranges, 1000 tiny ranges: 200 or 416, never more bytes than the file --------

def check_bounded(r, what):
    assert r.status in (200, 416), "%s: expected 200 or 416, got %r" % (what, r)
    assert len(r.body) <= SIZE, "%s: %d body bytes for a %d-byte file" % (what, len(r.body), SIZE)
    if r.status == 200:
        eq(r.body, DATA, "%s: body" % what)


def test_200_overlapping_ranges_bounded():
    check_bounded(rng("bytes=" + ",".join(["0-999"] * 200)), "200 x 0-999")
    check_bounded(rng("bytes=" + ",".join("%d-%d" % (i, 999) for i in range(200))),
                  "200 overlapping open ranges")


def test_1000_tiny_ranges_bounded():
    check_bounded(rng("bytes=" + ",".join("%d-%d" % (i, i) for i in range(1000))),
                  "1000 one-byte ranges")
    check_bounded(rng("bytes=" + ",".join(["0-0"] * 1000)), "1000 x 0-0")


# -- end past the size: clamped (206) ------------------------------------------------------------

def test_range_end_past_size_clamped():
    check_206(rng("bytes=990-5000"), 990, 999)
    check_206(rng("bytes=500-1000"), 500, 999)
    check_206(rng("bytes=0-99999999999"), 0, 999)
    # past 64 bits too: the end saturates and is clamped like any other
    check_206(rng("bytes=0-18446744073709551615"), 0, 999)
    check_206(rng("bytes=10-999999999999999999999999"), 10, 999)
    check_416(rng("bytes=999999999999999999999999-"))


# -- HEAD: Range is ignored (RFC 9110 14.2: range handling is defined for GET only) --------------

def test_head_ignores_range():
    for spec in ["bytes=0-4", "bytes=0-4,10-14", "bytes=5000-"]:
        r = get(headers=[("Range", spec)], method="HEAD")
        eq(r.status_line, U.S200, "HEAD with Range: %s: status" % spec)
        eq(r.headers.get("Content-Length"), str(SIZE), "HEAD with Range: %s: Content-Length" % spec)
        assert "Content-Range" not in r.headers, "HEAD with Range: %s: %r" % (spec, r)
        eq(r.body, b"", "HEAD body")


# -- unknown unit (M): ignored -------------------------------------------------------------------

def test_range_unknown_unit_200():
    check_full(rng("items=0-4"), "items=0-4")
    check_full(rng("bits=0-4"), "bits=0-4")


# -- If-Range ------------------------------------------------------------------------------------

def test_if_range_etag_mismatch_200_full():
    check_full(get(headers=[("Range", "bytes=0-4"), ("If-Range", '"nope"')]), "If-Range etag")


def test_if_range_date_mismatch_200_full():
    check_full(get(headers=[("Range", "bytes=0-4"),
                            ("If-Range", mkt.http_date(MTIME - 3600))]), "If-Range old date")
    check_full(get(headers=[("Range", "bytes=0-4"),
                            ("If-Range", mkt.http_date(MTIME + 3600))]), "If-Range later date")


def test_if_range_weak_etag_200_full():
    check_full(get(headers=[("Range", "bytes=0-4"), ("If-Range", "W/" + etag())]),
               "If-Range with a weak tag never matches")


def test_if_range_garbage_200_full():
    check_full(get(headers=[("Range", "bytes=0-4"), ("If-Range", "garbage")]), "If-Range junk")


def test_if_range_etag_match_206():
    check_206(get(headers=[("Range", "bytes=0-4"), ("If-Range", etag())]), 0, 4, "If-Range tag")


def test_if_range_date_not_a_second_before_date_200_full():
    # RFC 9110 8.8.2.2 / 13.1.5: Last-Modified is a strong validator only when at least one
    # second older than the response's Date; a file rewritten within that second keeps its
    # Last-Modified, so a range of the new bytes would be spliced into the old ones.  The
    # file's mtime is set ahead of the clock (its Last-Modified then says "now", RFC 9110
    # 8.8.2.1), which is that case made deterministic.
    import os
    path = os.path.join(SRV.docroot, "ifr-fresh.txt")
    with open(path, "wb") as f:
        f.write(DATA)
    future = int(time.time()) + 120
    os.utime(path, (future, future))
    r = get("/ifr-fresh.txt")
    lm = r.headers.get("Last-Modified")
    assert lm and lm != mkt.http_date(future), "Last-Modified later than Date: %r" % lm
    r = get("/ifr-fresh.txt", headers=[("Range", "bytes=0-4"), ("If-Range", lm)])
    check_full(r, "If-Range = a Last-Modified not older than Date")
    r = get("/ifr-fresh.txt", headers=[("Range", "bytes=0-4"), ("If-Range", etag_of(r))])
    check_206(r, 0, 4, "If-Range with the strong ETag of the same file")


def etag_of(r):
    return r.headers.get("ETag")


def test_if_range_date_match_206():
    check_206(get(headers=[("Range", "bytes=0-4"), ("If-Range", mkt.http_date(MTIME))]), 0, 4,
              "If-Range = Last-Modified")


MALLOC_COUNT_SHIM = r"""
#include <stdio.h>
#include <stdlib.h>
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
static unsigned long calls;
void *malloc(size_t n) { __atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { __atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { __atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED); return __libc_realloc(p, n); }
__attribute__((destructor)) static void report(void)
{
    const char *path = getenv("MK_MALLOC_OUT");
    FILE *f = path ? fopen(path, "w") : NULL;
    if (f) {
        fprintf(f, "%lu\n", calls);
        fclose(f);
    }
}
"""


def mallocs_for_ranges(n, header):
    """Allocations of a one-worker server that answered n keep-alive GETs with that Range."""
    s = mkt.Server(conf={"Workers": "1"})
    out = os.path.join(s.dir, "mallocs")
    s.env = mkt.preload_env("mallocs", MALLOC_COUNT_SHIM, MK_MALLOC_OUT=out)
    s.start()
    try:
        c = s.client()
        for _ in range(n):
            c.send(req("GET", "/range.txt", headers=[("Range", header)]))
            r = c.recv_response()
            eq(r.status, 206, "Range: " + header)
        c.close()
    finally:
        s.stop(check_fds=False)
    with open(out) as f:
        return int(f.read())


@mkt.timeout(60)
def test_single_range_allocates_nothing_per_request():
    """A single range is answered from the stack: only multipart keeps its ranges past the
    head.  Each 206 used to calloc a range set and free it at once (one malloc per request,
    counted with an LD_PRELOAD shim over two runs of 20 and 120 requests)."""
    few, many = mallocs_for_ranges(20, "bytes=10-19"), mallocs_for_ranges(120, "bytes=10-19")
    assert many - few < 30, "%d allocations for 100 more single-range requests" % (many - few)
    # Multipart still works (its set is kept on the heap while the parts are sent).
    few, many = mallocs_for_ranges(5, "bytes=1-2,5-6"), mallocs_for_ranges(25, "bytes=1-2,5-6")
    assert many - few >= 20, "multipart: %d allocations for 20 more (shim?)" % (many - few)

/* Fuzz target: the request-head parser (mk_http_parse_request, mk_http_header_next).
 *
 * Input: the bytes a client sends.  Each input is parsed
 *   1. at once (one-shot),
 *   2. incrementally, the way the server calls the parser while bytes arrive: prefixes of
 *      growing length with last_len set to the previous one, split (a) in two, (b) in
 *      random chunks, (c) one byte at a time for short inputs.
 * Every call gets an exact-size heap copy of its prefix, so ASan sees any read past `len`.
 *
 * Invariants (the parser contract in mk_http_parser.h):
 *   - a complete head is accepted identically whatever the split (same head_len, same
 *     fields); the incremental parser answers MK_AGAIN before the head is complete;
 *   - a complete invalid head is refused whatever the split (the status may differ when the
 *     head has several defects); only while no blank line has arrived may one side still
 *     say MK_AGAIN where the other refuses (error detection there is best-effort);
 *   - 414 only when the request line really is longer than the limit;
 *   - more bytes never turn an error or a success into something else;
 *   - head_len <= len, every field view lies inside the head, headers iterate exactly
 *     nheaders times and agree with the fields the parser extracted. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fuzz_common.h"
#include "core/mk_core.h"
#include "http/mk_http_parser.h"

struct outcome {
    int rc;
    uint16_t status;
    size_t at;       /* prefix length at which rc was returned */
    const char *buf; /* the buffer the views point into (valid until freed) */
    char *owned;
    struct mk_http_request req;
};

static bool is_tchar(unsigned char c)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && memchr(extra, c, sizeof(extra) - 1));
}

/* Offset of a view inside buf[0, len), or -1 when absent, -2 when it points elsewhere (the
 * parser's "/" and "*" literals). */
static long view_off(mk_str_t v, const char *buf, size_t len)
{
    if (!v.p)
        return -1;
    if (v.p >= buf && v.p + v.len <= buf + len)
        return (long)(v.p - buf);
    return -2;
}

static bool view_eq(mk_str_t a, const char *abuf, size_t alen, mk_str_t b, const char *bbuf,
                    size_t blen)
{
    long oa = view_off(a, abuf, alen), ob = view_off(b, bbuf, blen);
    if (oa != ob || a.len != b.len)
        return false;
    return oa != -2 || memcmp(a.p, b.p, a.len) == 0;
}

#define VIEWS(X)                                                                                   \
    X(method_str)                                                                                  \
    X(target) X(path) X(query) X(host) X(range) X(if_modified_since) X(if_unmodified_since)        \
        X(if_none_match) X(if_match) X(if_range) X(user_agent) X(referer)

/* Is the request line longer than max_line?  Its length runs from its first byte (after
 * any leading empty lines) to the first CR or LF (to the end of the input when there is
 * none). */
static bool line_too_long;

static void check_414(const struct outcome *o, size_t max_line, const uint8_t *data, size_t size)
{
    if (o->rc == MK_ERROR && o->status == 414 && !line_too_long) {
        fuzz_dump("input", data, size);
        FUZZ_CHECK(0, "414 at len %zu although the request line is not longer than max_line %zu",
                   o->at, max_line);
    }
}

static void check_same(const struct outcome *a, const struct outcome *b, const char *what,
                       const uint8_t *data, size_t size)
{
    const struct mk_http_request *x = &a->req, *y = &b->req;
    bool same = a->rc == b->rc;

    if (same && a->rc > 0) {
        same = x->method == y->method && x->protocol == y->protocol &&
               x->absolute_form == y->absolute_form && x->asterisk_form == y->asterisk_form &&
               x->authority_form == y->authority_form &&
               x->content_length == y->content_length && x->chunked == y->chunked &&
               x->expect_continue == y->expect_continue && x->conn_close == y->conn_close &&
               x->conn_keepalive == y->conn_keepalive && x->headers_off == y->headers_off &&
               x->head_len == y->head_len && x->nheaders == y->nheaders;
#define CMP_VIEW(f) same = same && view_eq(x->f, a->buf, a->at, y->f, b->buf, b->at);
        VIEWS(CMP_VIEW)
#undef CMP_VIEW
    }
    if (!same) {
        fuzz_dump("input", data, size);
        FUZZ_CHECK(same,
                   "%s: one-shot rc=%d status=%u head_len=%u at len %zu, but rc=%d status=%u "
                   "head_len=%u at len %zu",
                   what, a->rc, a->rc == MK_ERROR ? x->status : 0, a->rc > 0 ? x->head_len : 0,
                   a->at, b->rc, b->rc == MK_ERROR ? y->status : 0, b->rc > 0 ? y->head_len : 0,
                   b->at);
    }
}

static void outcome_free(struct outcome *o)
{
    free(o->owned);
    o->owned = NULL;
}

static void parse_once(const uint8_t *data, size_t len, size_t max_line, struct outcome *o)
{
    memset(o, 0, sizeof(*o));
    o->owned = fuzz_dup(data, len);
    o->buf = o->owned;
    o->at = len;
    o->rc = mk_http_parse_request(o->buf, len, 0, max_line, &o->req);
    o->status = o->req.status;
}

/* Feed prefixes ending at cuts[0..n) (increasing, the last one == size) like the server
 * does; stop at the first answer that is not MK_AGAIN. */
static void parse_incremental(const uint8_t *data, const size_t *cuts, size_t n, size_t max_line,
                              struct outcome *o)
{
    struct mk_http_request req;
    size_t last = 0;

    memset(o, 0, sizeof(*o));
    memset(&req, 0, sizeof(req));
    o->rc = MK_AGAIN;
    for (size_t i = 0; i < n; i++) {
        size_t len = cuts[i];
        if (len == last && i + 1 < n)
            continue;
        char *buf = fuzz_dup(data, len);
        int rc = mk_http_parse_request(buf, len, last, max_line, &req);
        FUZZ_CHECK(rc == MK_AGAIN || rc == MK_ERROR || (rc > 0 && (size_t)rc <= len),
                   "rc %d for len %zu", rc, len);
        if (rc != MK_AGAIN || i + 1 == n) {
            o->rc = rc;
            o->status = req.status;
            o->req = req;
            o->at = len;
            o->owned = buf;
            o->buf = buf;
            return;
        }
        free(buf);
        last = len;
    }
}

/* Is there a blank line ending a head after the leading empty lines?  (Independent of the
 * parser's own search, to tell the lazy MK_AGAIN apart from a missed head.) */
static bool has_head_end(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n && (p[i] == '\r' || p[i] == '\n'))
        i++;
    for (; i < n; i++) {
        if (p[i] != '\n')
            continue;
        if (i + 1 < n && p[i + 1] == '\n')
            return true;
        if (i + 2 < n && p[i + 1] == '\r' && p[i + 2] == '\n')
            return true;
    }
    return false;
}

static void check_view_inside(mk_str_t v, const char *buf, size_t head_len, const char *name)
{
    long off = view_off(v, buf, head_len);
    FUZZ_CHECK(off != -2 || !strcmp(name, "path"), "%s view outside the head", name);
}

static void check_accepted(const struct outcome *o, const uint8_t *data, size_t size)
{
    const struct mk_http_request *r = &o->req;
    const char *buf = o->buf;
    size_t pos = r->headers_off;
    mk_str_t name, value;
    unsigned count = 0, nhost = 0, ncl = 0, nte = 0;

    FUZZ_CHECK(r->head_len == (uint32_t)o->rc && r->head_len <= o->at, "head_len %u rc %d len %zu",
               r->head_len, o->rc, o->at);
    FUZZ_CHECK(r->headers_off <= r->head_len, "headers_off %u > head_len %u", r->headers_off,
               r->head_len);
    FUZZ_CHECK(r->protocol == MK_PROTO_HTTP10 || r->protocol == MK_PROTO_HTTP11, "protocol %u",
               r->protocol);
    FUZZ_CHECK(r->method > MK_METHOD_UNKNOWN && r->method < MK_METHOD_COUNT, "method %u",
               r->method);
    FUZZ_CHECK(buf[r->head_len - 1] == '\n', "head does not end with LF");
    FUZZ_CHECK(r->target.p && r->target.len > 0 && r->method_str.len > 0, "empty target/method");
    FUZZ_CHECK(!(r->chunked && r->content_length != MK_HTTP_CL_NONE), "chunked with CL");
    FUZZ_CHECK(r->protocol != MK_PROTO_HTTP11 || r->host.p, "HTTP/1.1 accepted without Host");
    FUZZ_CHECK(!r->chunked || r->protocol == MK_PROTO_HTTP11, "chunked in HTTP/1.0");
#define INSIDE(f) check_view_inside(r->f, buf, r->head_len, #f);
    VIEWS(INSIDE)
#undef INSIDE
    if (r->authority_form)
        FUZZ_CHECK(r->method == MK_METHOD_CONNECT && !r->path.p,
                   "authority-form: method %u, path set", r->method);
    else if (!r->asterisk_form)
        FUZZ_CHECK(r->path.p && r->path.len > 0 && r->path.p[0] == '/',
                   "path does not start with '/'");
    for (size_t i = 0; i < r->target.len; i++) {
        unsigned char c = (unsigned char)r->target.p[i];
        FUZZ_CHECK(c > 0x20 && c < 0x7f && c != '#', "byte 0x%02x accepted in the target", c);
    }
    if (r->host.p && !r->absolute_form)
        FUZZ_CHECK(mk_http_host_check(r->host) == 0, "accepted Host fails mk_http_host_check");

    while (mk_http_header_next(buf, r, &pos, &name, &value)) {
        FUZZ_CHECK(++count <= r->nheaders, "more headers iterated than nheaders %u", r->nheaders);
        FUZZ_CHECK(pos <= r->head_len, "header iteration past the head");
        FUZZ_CHECK(name.len > 0 && name.p >= buf + r->headers_off &&
                       name.p + name.len <= buf + r->head_len,
                   "header name outside the head");
        FUZZ_CHECK(value.p && value.p >= name.p + name.len && value.p + value.len <= buf + pos,
                   "header value outside its line");
        for (size_t i = 0; i < name.len; i++)
            FUZZ_CHECK(is_tchar((unsigned char)name.p[i]), "non-token byte in a header name");
        for (size_t i = 0; i < value.len; i++) {
            unsigned char c = (unsigned char)value.p[i];
            FUZZ_CHECK((c >= 0x20 && c != 0x7f) || c == '\t', "byte 0x%02x in a header value", c);
        }
        if (value.len)
            FUZZ_CHECK(value.p[0] != ' ' && value.p[0] != '\t' && value.p[value.len - 1] != ' ' &&
                           value.p[value.len - 1] != '\t',
                       "header value not trimmed");
        if (MK_STR_IEQ(name, "host")) {
            nhost++;
            if (!r->absolute_form)
                FUZZ_CHECK(r->host.p == value.p && r->host.len == value.len,
                           "Host field and req->host differ");
        } else if (MK_STR_IEQ(name, "content-length")) {
            uint64_t v;
            ncl++;
            FUZZ_CHECK(mk_str_to_u64(value, UINT64_MAX, &v) == 0 && v == r->content_length,
                       "Content-Length field and req->content_length differ");
        } else if (MK_STR_IEQ(name, "transfer-encoding")) {
            nte++;
        }
    }
    FUZZ_CHECK(count == r->nheaders, "iterated %u headers, nheaders %u", count, r->nheaders);
    FUZZ_CHECK(nhost <= 1 || r->absolute_form, "%u Host fields accepted", nhost);
    FUZZ_CHECK(!r->absolute_form || r->host.p, "absolute-form without a host");
    FUZZ_CHECK(!r->host.p || nhost || r->absolute_form, "host set without a Host field");
    FUZZ_CHECK(ncl == 0 || r->content_length != MK_HTTP_CL_NONE, "Content-Length ignored");
    FUZZ_CHECK(nte == 0 || r->chunked, "Transfer-Encoding accepted without chunked");
    (void)data;
    (void)size;
}

/* Compare the outcome of a split parse (or of a prefix) with the one-shot parse of the
 * whole input.  Accepting is exact: same head, same fields.  Refusing is a class: a head with
 * two defects may be refused for either, depending on which bytes have arrived, so the
 * status may differ (check_414 polices the one status that depends on a limit).  And while
 * no blank line has arrived, either parse may still say MK_AGAIN where the other already
 * refuses: detecting errors in an incomplete head is best-effort on both paths. */
static void check_consistent(const struct outcome *full, const struct outcome *other,
                             const char *what, const uint8_t *data, size_t size)
{
    if (full->rc > 0 || other->rc > 0) {
        check_same(full, other, what, data, size);
        return;
    }
    if (full->rc == other->rc)
        return;
    /* one MK_AGAIN, one MK_ERROR */
    if (has_head_end(data, size)) {
        fuzz_dump("input", data, size);
        FUZZ_CHECK(0, "%s: complete head: rc %d (status %u) at once, rc %d (status %u) at len %zu",
                   what, full->rc, full->status, other->rc, other->status, other->at);
    }
}

/* A chunked body after an accepted head: the decoder must end the same way however the
 * bytes arrive, consume exactly what belongs to the body, and never pass its limit. */
static void check_chunked(const uint8_t *body, size_t len, uint64_t *rng)
{
    uint64_t limit = 1 + fuzz_rand(rng) % 4096;
    struct mk_http_chunked whole = {0};
    size_t used_whole = 0;
    char *copy = fuzz_dup(body, len);
    int rc = mk_http_chunked_consume(&whole, copy, len, limit, &used_whole);

    FUZZ_CHECK(rc == 1 || rc == 0 || rc == -400 || rc == -413, "chunked rc %d", rc);
    FUZZ_CHECK(used_whole <= len, "chunked used %zu of %zu", used_whole, len);
    if (rc == 0)
        FUZZ_CHECK(used_whole == len, "chunked wants more after using %zu of %zu", used_whole,
                   len);
    if (rc == 1)
        FUZZ_CHECK(used_whole >= 5 && memcmp(copy + used_whole - 2, "\r\n", 2) == 0,
                   "chunked body of %zu bytes does not end in CRLF", used_whole);
    if (rc != -413)
        FUZZ_CHECK(whole.total <= limit, "chunked total %llu past the limit %llu",
                   (unsigned long long)whole.total, (unsigned long long)limit);

    /* the same bytes in random pieces */
    struct mk_http_chunked ck = {0};
    size_t at = 0;
    int r = 0;
    while (at < len) {
        size_t step = 1 + (size_t)(fuzz_rand(rng) % 32);
        size_t n = step < len - at ? step : len - at;
        size_t used = 0;
        r = mk_http_chunked_consume(&ck, copy + at, n, limit, &used);
        FUZZ_CHECK(used <= n, "piece: used %zu of %zu", used, n);
        at += used;
        if (r != 0)
            break;
        FUZZ_CHECK(used == n, "piece: wants more after using %zu of %zu", used, n);
    }
    if (len == 0)
        r = 0;
    if (r != rc || (rc == 1 && at != used_whole)) {
        fuzz_dump("chunked body", body, len);
        FUZZ_CHECK(0, "chunked: whole gives %d after %zu bytes, pieces give %d after %zu", rc,
                   used_whole, r, at);
    }
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t h = fuzz_hash(data, size), rng = h;
    size_t max_line, line_start = 0, line_end;
    struct outcome full, inc, pre;
    size_t *cuts;
    size_t n;

    while (line_start < size && (data[line_start] == '\r' || data[line_start] == '\n'))
        line_start++;
    line_end = line_start;
    while (line_end < size && data[line_end] != '\r' && data[line_end] != '\n')
        line_end++;

    /* Limits at the request line's length probe the 414 boundary; the others are the
     * server's default (32 KiB) and a small arbitrary one. */
    switch (h & 7) {
    case 0:
        max_line = line_end - line_start;
        break;
    case 1:
        max_line = line_end - line_start + 1;
        break;
    case 2:
        max_line = line_end - line_start ? line_end - line_start - 1 : 1;
        break;
    case 3:
        max_line = 1 + (h >> 8) % 512;
        break;
    default:
        max_line = 32 * 1024;
        break;
    }
    if (max_line == 0)
        max_line = 1;

    line_too_long = line_end - line_start > max_line;

    parse_once(data, size, max_line, &full);
    check_414(&full, max_line, data, size);
    FUZZ_CHECK(full.rc == MK_AGAIN || full.rc == MK_ERROR ||
                   (full.rc > 0 && (size_t)full.rc <= size),
               "rc %d for len %zu", full.rc, size);
    if (full.rc == MK_ERROR)
        FUZZ_CHECK(full.status == 400 || full.status == 413 || full.status == 414 ||
                       full.status == 501 || full.status == 505,
                   "unexpected error status %u", full.status);
    if (full.rc > 0) {
        check_accepted(&full, data, size);
        if (full.req.chunked)
            check_chunked(data + full.rc, size - (size_t)full.rc, &rng);
    }

    cuts = malloc((size + 2) * sizeof(*cuts));
    if (!cuts)
        abort();

    /* (a) two parts; also check one-shot monotonicity at the split. */
    size_t split = size ? (size_t)(fuzz_rand(&rng) % (size + 1)) : 0;
    cuts[0] = split;
    cuts[1] = size;
    parse_incremental(data, cuts, 2, max_line, &inc);
    check_414(&inc, max_line, data, size);
    check_consistent(&full, &inc, "split in two", data, size);
    if (inc.rc > 0)
        check_accepted(&inc, data, size);
    outcome_free(&inc);

    parse_once(data, split, max_line, &pre);
    check_414(&pre, max_line, data, size);
    /* more bytes never undo an answer */
    if (pre.rc == MK_ERROR && (full.rc > 0 || (full.rc == MK_AGAIN && has_head_end(data, size)))) {
        fuzz_dump("input", data, size);
        FUZZ_CHECK(0, "prefix of %zu bytes refused with %u, whole input gives rc %d", split,
                   pre.status, full.rc);
    } else if (pre.rc > 0) {
        check_same(&pre, &full, "prefix accepted", data, size);
    }
    outcome_free(&pre);

    /* (b) random chunks of 1..64 bytes (sometimes larger) */
    n = 0;
    for (size_t at = 0; at < size;) {
        uint64_t r = fuzz_rand(&rng);
        size_t step = 1 + (size_t)(r % ((r >> 32) % 8 == 0 ? 512 : 64));
        at = at + step < size ? at + step : size;
        cuts[n++] = at;
    }
    if (n == 0)
        cuts[n++] = 0;
    parse_incremental(data, cuts, n, max_line, &inc);
    check_414(&inc, max_line, data, size);
    check_consistent(&full, &inc, "random chunks", data, size);
    outcome_free(&inc);

    /* (c) one byte at a time: what a slow client does */
    if (size <= 256) {
        for (n = 0; n < size; n++)
            cuts[n] = n + 1;
        if (n == 0)
            cuts[n++] = 0;
        parse_incremental(data, cuts, n, max_line, &inc);
        check_414(&inc, max_line, data, size);
        check_consistent(&full, &inc, "byte by byte", data, size);
        outcome_free(&inc);
    }

    free(cuts);
    outcome_free(&full);
    return 0;
}

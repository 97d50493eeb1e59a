/* mk_http_parse_request: every accepted form and the refusals of reliability.md, each input
 * parsed at a guard page (a read past the end crashes), whole, at every prefix length, byte
 * by byte with last_len, and split in two at every point. */
#include "mk_test.h"

#include "core/mk_core.h"
#include "http/mk_http_parser.h"

#define MAXLINE 8192
#define S(lit) (lit), (sizeof(lit) - 1)

/* Parse data[0, len) copied to a guard page. */
static int parse_guarded(const char *data, size_t len, size_t last_len, size_t max_line,
                         struct mk_http_request *req)
{
    char *g = guard_copy(data, len);
    int r = mk_http_parse_request(g, len, last_len, max_line, req);
    guard_free(g, len);
    return r;
}

/* Same, keeping the copy alive (the views of req point into it) until the next call with the
 * same *keep, or until guard_free(keep->p, keep->len). */
struct kept {
    char *p;
    size_t len;
};

static int parse_keep(const char *data, size_t len, size_t last_len, size_t max_line,
                      struct mk_http_request *req, struct kept *keep)
{
    guard_free(keep->p, keep->len);
    keep->p = guard_copy(data, len);
    keep->len = len;
    return mk_http_parse_request(keep->p, len, last_len, max_line, req);
}

static bool view_same(mk_str_t a, mk_str_t b)
{
    if (!a.p || !b.p)
        return a.p == b.p;
    return mk_str_eq(a, b);
}

/* The first field that differs between two parses of the same bytes, or NULL. */
static const char *req_diff(const struct mk_http_request *a, const struct mk_http_request *b)
{
#define F(x)                                                                                       \
    do {                                                                                           \
        if (a->x != b->x)                                                                          \
            return #x;                                                                             \
    } while (0)
#define V(x)                                                                                       \
    do {                                                                                           \
        if (!view_same(a->x, b->x))                                                                \
            return #x;                                                                             \
    } while (0)
    F(method);
    F(protocol);
    F(absolute_form);
    F(asterisk_form);
    F(authority_form);
    F(content_length);
    F(chunked);
    F(expect_continue);
    F(conn_close);
    F(conn_keepalive);
    F(headers_off);
    F(head_len);
    F(nheaders);
    F(status);
    V(method_str);
    V(target);
    V(path);
    V(query);
    V(host);
    V(range);
    V(if_modified_since);
    V(if_unmodified_since);
    V(if_none_match);
    V(if_match);
    V(if_range);
    V(user_agent);
    V(referer);
#undef F
#undef V
    return NULL;
}

static const char *rc_name(int r, const struct mk_http_request *req, char *buf, size_t cap)
{
    if (r == MK_AGAIN)
        snprintf(buf, cap, "MK_AGAIN");
    else if (r == MK_ERROR)
        snprintf(buf, cap, "MK_ERROR/%u", req->status);
    else
        snprintf(buf, cap, "%d", r);
    return buf;
}

/* A valid head: whole, every prefix, byte by byte, split in two.  head_len 0 means len.
 * Returns the guard copy the views of *out point into (guard_free(ret, len)), or NULL. */
static char *run_valid_max(const char *name, const char *data, size_t len, size_t head_len,
                           size_t max_line, struct mk_http_request *out)
{
    struct mk_http_request req, inc;
    char b1[64];
    int r;

    mk_test_context("%s", name);
    if (!head_len)
        head_len = len;

    /* 1. whole */
    char *g = guard_copy(data, len);
    memset(out, 0xa5, sizeof(*out));
    r = mk_http_parse_request(g, len, 0, max_line, out);
    if (!CHECKF(r == (int)head_len, "whole input: got %s, expected %zu", rc_name(r, out, b1, 64),
                head_len)) {
        guard_free(g, len);
        mk_test_context(NULL);
        return NULL;
    }

    /* 2. every incomplete prefix alone (last_len 0): MK_AGAIN */
    size_t bad = SIZE_MAX;
    for (size_t k = 0; k < head_len && bad == SIZE_MAX; k++) {
        r = parse_guarded(data, k, 0, max_line, &req);
        if (r != MK_AGAIN)
            bad = k;
    }
    if (bad != SIZE_MAX) {
        r = parse_guarded(data, bad, 0, max_line, &req);
        CHECKF(0, "prefix of %zu bytes (last_len 0): got %s, expected MK_AGAIN", bad,
               rc_name(r, &req, b1, 64));
    } else {
        CHECK(1);
    }

    /* 3. one byte at a time, last_len = previous length */
    size_t last = 0;
    struct kept keep = {NULL, 0};
    bad = SIZE_MAX;
    memset(&inc, 0, sizeof(inc));
    for (size_t k = 1; k <= len; k++) {
        r = parse_keep(data, k, last, max_line, &inc, &keep);
        if (k < head_len && r != MK_AGAIN) {
            bad = k;
            break;
        }
        if (k == head_len) {
            if (r != (int)head_len)
                bad = k;
            break;
        }
        last = k;
    }
    if (!CHECKF(bad == SIZE_MAX, "byte by byte: at %zu bytes (last_len %zu) got %s", bad, last,
                rc_name(r, &inc, b1, 64))) {
    } else {
        const char *d = req_diff(&inc, out);
        CHECKF(d == NULL, "byte by byte: field %s differs from the whole parse", d);
    }

    /* 4. two pieces: [0, s) then [0, len) with last_len s */
    bad = SIZE_MAX;
    const char *field = NULL;
    for (size_t s = 1; s < len && bad == SIZE_MAX; s++) {
        memset(&inc, 0x5a, sizeof(inc));
        r = parse_keep(data, s, 0, max_line, &inc, &keep);
        if (s >= head_len) {
            /* the head is complete in the first piece: no second call */
            if (r != (int)head_len)
                bad = s;
            break;
        }
        if (r != MK_AGAIN) {
            bad = s;
            break;
        }
        r = parse_keep(data, len, s, max_line, &inc, &keep);
        if (r != (int)head_len)
            bad = s;
        else if ((field = req_diff(&inc, out)) != NULL)
            bad = s;
    }
    CHECKF(bad == SIZE_MAX, "split at %zu: got %s%s%s", bad, rc_name(r, &inc, b1, 64),
           field ? ", field differs: " : "", field ? field : "");
    guard_free(keep.p, keep.len);

    mk_test_context("%s", name);
    return g;
}

static char *run_valid(const char *name, const char *data, size_t len, size_t head_len,
                       struct mk_http_request *out)
{
    return run_valid_max(name, data, len, head_len, MAXLINE, out);
}

/* An invalid head (complete: it ends with its empty line): whole, every prefix, byte by
 * byte, two pieces.  A prefix may be answered at once, but only with the same status. */
static void run_invalid_max(const char *name, const char *data, size_t len, int status,
                            size_t max_line)
{
    struct mk_http_request req;
    char b1[64];
    int r;

    mk_test_context("%s", name);

    r = parse_guarded(data, len, 0, max_line, &req);
    CHECKF(r == MK_ERROR && req.status == status, "whole input: got %s, expected MK_ERROR/%d",
           rc_name(r, &req, b1, 64), status);

    size_t bad = SIZE_MAX;
    for (size_t k = 0; k < len; k++) {
        r = parse_guarded(data, k, 0, max_line, &req);
        if (r != MK_AGAIN && !(r == MK_ERROR && req.status == status)) {
            bad = k;
            break;
        }
    }
    CHECKF(bad == SIZE_MAX, "prefix of %zu bytes: got %s, expected MK_AGAIN or MK_ERROR/%d", bad,
           rc_name(r, &req, b1, 64), status);

    size_t last = 0;
    r = MK_AGAIN;
    memset(&req, 0, sizeof(req));
    for (size_t k = 1; k <= len && r == MK_AGAIN; k++) {
        r = parse_guarded(data, k, last, max_line, &req);
        last = k;
    }
    CHECKF(r == MK_ERROR && req.status == status,
           "byte by byte: ended with %s after %zu bytes, expected MK_ERROR/%d",
           rc_name(r, &req, b1, 64), last, status);

    bad = SIZE_MAX;
    for (size_t s = 1; s < len; s++) {
        memset(&req, 0, sizeof(req));
        r = parse_guarded(data, s, 0, max_line, &req);
        if (r == MK_AGAIN)
            r = parse_guarded(data, len, s, max_line, &req);
        if (!(r == MK_ERROR && req.status == status)) {
            bad = s;
            break;
        }
    }
    CHECKF(bad == SIZE_MAX, "split at %zu: got %s, expected MK_ERROR/%d", bad,
           rc_name(r, &req, b1, 64), status);
    mk_test_context(NULL);
}

static void run_invalid(const char *name, const char *data, size_t len, int status)
{
    run_invalid_max(name, data, len, status, MAXLINE);
}

/* ---- valid forms ---------------------------------------------------------------------- */

MK_TEST(get_simple)
{
    static const char in[] = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
    struct mk_http_request r;
    char *g = run_valid("get_simple", S(in), 0, &r);
    if (!g)
        return;
    CHECK_EQ_INT(r.method, MK_METHOD_GET);
    CHECK_EQ_VIEW(r.method_str, "GET");
    CHECK_EQ_INT(r.protocol, MK_PROTO_HTTP11);
    CHECK_EQ_VIEW(r.target, "/");
    CHECK_EQ_VIEW(r.path, "/");
    CHECK(r.query.p == NULL);
    CHECK_EQ_VIEW(r.host, "example.com");
    CHECK(!r.absolute_form && !r.asterisk_form);
    CHECK(r.content_length == MK_HTTP_CL_NONE);
    CHECK(!r.chunked && !r.expect_continue && !r.conn_close && !r.conn_keepalive);
    CHECK(r.range.p == NULL && r.if_modified_since.p == NULL && r.if_none_match.p == NULL);
    CHECK(r.user_agent.p == NULL && r.referer.p == NULL);
    CHECK_EQ_INT(r.nheaders, 1);
    CHECK_EQ_INT(r.headers_off, 16);
    CHECK_EQ_INT(r.head_len, sizeof(in) - 1);
    CHECK_EQ_INT(r.status, 0);
    guard_free(g, sizeof(in) - 1);
}

MK_TEST(every_method)
{
    static const struct {
        const char *name;
        int method;
    } m[] = {
        {"GET", MK_METHOD_GET},     {"HEAD", MK_METHOD_HEAD},     {"POST", MK_METHOD_POST},
        {"PUT", MK_METHOD_PUT},     {"DELETE", MK_METHOD_DELETE}, {"OPTIONS", MK_METHOD_OPTIONS},
        {"TRACE", MK_METHOD_TRACE}, {"PATCH", MK_METHOD_PATCH},
    };
    for (size_t i = 0; i < MK_ARRAY_SIZE(m); i++) {
        char in[128];
        struct mk_http_request r;
        int n = snprintf(in, sizeof(in), "%s /x HTTP/1.1\r\nHost: h\r\n\r\n", m[i].name);
        char *g = run_valid(m[i].name, in, (size_t)n, 0, &r);
        if (!g)
            continue;
        CHECK_EQ_INT(r.method, m[i].method);
        CHECK_EQ_VIEW(r.method_str, m[i].name);
        CHECK_EQ_STR(mk_http_method_name(r.method), strlen(mk_http_method_name(r.method)),
                     m[i].name);
        guard_free(g, (size_t)n);
    }
    CHECK_EQ_STR(mk_http_method_name(MK_METHOD_COUNT), 7, "UNKNOWN");
    CHECK_EQ_STR(mk_http_method_name(-1), 7, "UNKNOWN");
}

MK_TEST(http10_without_host)
{
    static const char in[] = "GET /index.html HTTP/1.0\r\n\r\n";
    struct mk_http_request r;
    char *g = run_valid("http10", S(in), 0, &r);
    if (!g)
        return;
    CHECK_EQ_INT(r.protocol, MK_PROTO_HTTP10);
    CHECK(r.host.p == NULL);
    CHECK_EQ_VIEW(r.path, "/index.html");
    CHECK_EQ_INT(r.nheaders, 0);
    guard_free(g, sizeof(in) - 1);

    static const char in2[] = "HEAD /a HTTP/1.0\r\nHost: h:80\r\nConnection: keep-alive\r\n\r\n";
    g = run_valid("http10 host", S(in2), 0, &r);
    if (!g)
        return;
    CHECK_EQ_INT(r.method, MK_METHOD_HEAD);
    CHECK_EQ_INT(r.protocol, MK_PROTO_HTTP10);
    CHECK_EQ_VIEW(r.host, "h:80");
    CHECK(r.conn_keepalive && !r.conn_close);
    guard_free(g, sizeof(in2) - 1);
}

MK_TEST(query_string)
{
    static const char in[] = "GET /a/b.html?x=1&y=%20?z HTTP/1.1\r\nHost: h\r\n\r\n";
    struct mk_http_request r;
    char *g = run_valid("query", S(in), 0, &r);
    if (g) {
        CHECK_EQ_VIEW(r.target, "/a/b.html?x=1&y=%20?z");
        CHECK_EQ_VIEW(r.path, "/a/b.html");
        CHECK_EQ_VIEW(r.query, "x=1&y=%20?z");
        guard_free(g, sizeof(in) - 1);
    }
    static const char in2[] = "GET /p? HTTP/1.1\r\nHost: h\r\n\r\n";
    g = run_valid("empty query", S(in2), 0, &r);
    if (g) {
        CHECK_EQ_VIEW(r.path, "/p");
        CHECK(r.query.p != NULL);
        CHECK_EQ_INT(r.query.len, 0);
        guard_free(g, sizeof(in2) - 1);
    }
    /* every byte RFC 3986 allows in a path/query, plus the ones browsers send raw */
    static const char in3[] =
        "GET /!$&'()*+,;=:@-._~%41/[]|\\^`{}\"<>?a=/?:@ HTTP/1.1\r\nHost: h\r\n\r\n";
    g = run_valid("odd bytes", S(in3), 0, &r);
    if (g) {
        CHECK_EQ_VIEW(r.path, "/!$&'()*+,;=:@-._~%41/[]|\\^`{}\"<>");
        CHECK_EQ_VIEW(r.query, "a=/?:@");
        guard_free(g, sizeof(in3) - 1);
    }
}

MK_TEST(absolute_form)
{
    struct mk_http_request r;
    static const char in[] = "GET http://example.com/p/q?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n";
    char *g = run_valid("absolute", S(in), 0, &r);
    if (g) {
        CHECK(r.absolute_form);
        CHECK_EQ_VIEW(r.host, "example.com");
        CHECK_EQ_VIEW(r.path, "/p/q");
        CHECK_EQ_VIEW(r.query, "x=1");
        guard_free(g, sizeof(in) - 1);
    }
    /* the target's authority wins over the Host header (RFC 9112 3.2.2) */
    static const char in2[] = "GET HTTP://Example.COM:8080 HTTP/1.1\r\nHost: other\r\n\r\n";
    g = run_valid("absolute no path", S(in2), 0, &r);
    if (g) {
        CHECK_EQ_VIEW(r.host, "Example.COM:8080");
        CHECK_EQ_VIEW(r.path, "/");
        CHECK(r.query.p == NULL);
        guard_free(g, sizeof(in2) - 1);
    }
    static const char in3[] = "HEAD https://h/ HTTP/1.0\r\n\r\n";
    g = run_valid("absolute https 1.0", S(in3), 0, &r);
    if (g) {
        CHECK_EQ_VIEW(r.host, "h");
        CHECK_EQ_VIEW(r.path, "/");
        guard_free(g, sizeof(in3) - 1);
    }
    static const char in4[] = "GET http://h?a=1 HTTP/1.1\r\nHost: h\r\n\r\n";
    g = run_valid("absolute query no path", S(in4), 0, &r);
    if (g) {
        CHECK_EQ_VIEW(r.host, "h");
        CHECK_EQ_VIEW(r.path, "/");
        CHECK_EQ_VIEW(r.query, "a=1");
        guard_free(g, sizeof(in4) - 1);
    }
    /* a '/' inside the query of an absolute-form target without a path: the query is still
     * "x/y" (RFC 3986 3.4: the authority ends at the first '/', '?' or '#'). */
    static const char in5[] = "GET http://h?x/y HTTP/1.1\r\nHost: h\r\n\r\n";
    g = run_valid("absolute query with slash", S(in5), 0, &r);
    if (g) {
        CHECK_EQ_VIEW(r.host, "h");
        CHECK_EQ_VIEW(r.path, "/");
        CHECK_EQ_VIEW(r.query, "x/y");
        guard_free(g, sizeof(in5) - 1);
    }
}

MK_TEST(options_asterisk)
{
    static const char in[] = "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n";
    struct mk_http_request r;
    char *g = run_valid("options *", S(in), 0, &r);
    if (!g)
        return;
    CHECK_EQ_INT(r.method, MK_METHOD_OPTIONS);
    CHECK(r.asterisk_form);
    CHECK_EQ_VIEW(r.target, "*");
    CHECK_EQ_VIEW(r.path, "*");
    guard_free(g, sizeof(in) - 1);
}

MK_TEST(leading_empty_lines)
{
    struct mk_http_request r;
    static const char in[] = "\r\n\r\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n";
    char *g = run_valid("crlf crlf", S(in), 0, &r);
    if (g) {
        CHECK_EQ_VIEW(r.path, "/x");
        CHECK_EQ_VIEW(r.method_str, "GET");
        CHECK_EQ_INT(r.headers_off, 4 + 17);
        CHECK_EQ_INT(r.head_len, sizeof(in) - 1);
        guard_free(g, sizeof(in) - 1);
    }
    static const char in2[] = "\n\nGET /y HTTP/1.1\nHost: h\n\n";
    g = run_valid("lf lf", S(in2), 0, &r);
    if (g) {
        CHECK_EQ_VIEW(r.path, "/y");
        CHECK_EQ_INT(r.head_len, sizeof(in2) - 1);
        guard_free(g, sizeof(in2) - 1);
    }
    static const char in3[] = "\r\nGET /z HTTP/1.0\r\n\r\n";
    g = run_valid("crlf then 1.0 without headers", S(in3), 0, &r);
    if (g) {
        CHECK_EQ_VIEW(r.path, "/z");
        CHECK_EQ_INT(r.nheaders, 0);
        guard_free(g, sizeof(in3) - 1);
    }
}

MK_TEST(bare_lf_line_ends)
{
    struct mk_http_request r;
    static const char in[] = "GET /lf HTTP/1.1\nHost: h\nX-A: 1\nRange: bytes=0-1\n\n";
    char *g = run_valid("bare lf", S(in), 0, &r);
    if (g) {
        CHECK_EQ_VIEW(r.host, "h");
        CHECK_EQ_VIEW(r.range, "bytes=0-1");
        CHECK_EQ_INT(r.nheaders, 3);
        CHECK_EQ_INT(r.headers_off, 17);
        guard_free(g, sizeof(in) - 1);
    }
    static const char in2[] = "GET /mix HTTP/1.1\r\nHost: h\nX-A: 1\r\n\n";
    g = run_valid("mixed", S(in2), 0, &r);
    if (g) {
        CHECK_EQ_VIEW(r.host, "h");
        CHECK_EQ_INT(r.nheaders, 2);
        guard_free(g, sizeof(in2) - 1);
    }
    static const char in3[] = "GET /mix2 HTTP/1.1\nHost: h\r\n\r\n";
    g = run_valid("mixed2", S(in3), 0, &r);
    if (g)
        guard_free(g, sizeof(in3) - 1);
}

MK_TEST(header_names_case_insensitive)
{
    struct mk_http_request r;
    static const char in[] = "GET / HTTP/1.1\r\nHOST: H.example\r\nCONTENT-LENGTH: 0\r\n"
                             "cOnNeCtIoN: CLOSE\r\nrAnGe: bytes=1-2\r\nIF-NONE-MATCH: \"e\"\r\n"
                             "expect: 100-CONTINUE\r\n\r\n";
    char *g = run_valid("case", S(in), 0, &r);
    if (!g)
        return;
    CHECK_EQ_VIEW(r.host, "H.example");
    CHECK_EQ_INT(r.content_length, 0);
    CHECK(r.conn_close);
    CHECK_EQ_VIEW(r.range, "bytes=1-2");
    CHECK_EQ_VIEW(r.if_none_match, "\"e\"");
    CHECK(r.expect_continue);
    guard_free(g, sizeof(in) - 1);
}

MK_TEST(empty_and_odd_values)
{
    struct mk_http_request r;
    static const char in[] = "GET / HTTP/1.1\r\nX-Empty:\r\nX-Spaces:   \t \r\nHost:\t  h \t\r\n"
                             "User-Agent: caf\xc3\xa9 \xff\x80 x\r\nX-Tab: a\tb\r\n"
                             "X-Long: aaaaaaa\tbbbbbbbb\x80\xff~ccccccccc\r\n"
                             "X-Chars: !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\r\n\r\n";
    char *g = run_valid("values", S(in), 0, &r);
    if (!g)
        return;
    CHECK_EQ_VIEW(r.host, "h");
    CHECK_EQ_VIEW(r.user_agent, "caf\xc3\xa9 \xff\x80 x");
    CHECK_EQ_INT(r.nheaders, 7);

    /* mk_http_header_next walks exactly the header lines, values trimmed */
    static const char *const want[][2] = {
        {"X-Empty", ""},   {"X-Spaces", ""},
        {"Host", "h"},     {"User-Agent", "caf\xc3\xa9 \xff\x80 x"},
        {"X-Tab", "a\tb"}, {"X-Long", "aaaaaaa\tbbbbbbbb\x80\xff~ccccccccc"},
        {"X-Chars", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"},
    };
    size_t pos = r.headers_off;
    mk_str_t name, value;
    size_t i = 0;
    while (mk_http_header_next(g, &r, &pos, &name, &value)) {
        if (!CHECKF(i < MK_ARRAY_SIZE(want), "more headers than sent"))
            break;
        CHECK_EQ_VIEW(name, want[i][0]);
        CHECK_EQ_VIEW(value, want[i][1]);
        CHECK(value.p != NULL);
        i++;
    }
    CHECK_EQ_INT(i, MK_ARRAY_SIZE(want));
    CHECK_EQ_INT(pos, sizeof(in) - 3); /* at the empty line */
    CHECK(!mk_http_header_next(g, &r, &pos, &name, &value));
    guard_free(g, sizeof(in) - 1);
}

/* The value check reads eight bytes at a time and judges a short tail with the word that
 * ends the value: one bad byte at any position of a value of any length must be refused,
 * and a HTAB, DEL's neighbours and high-bit bytes at any position accepted. */
MK_TEST(value_byte_at_every_position)
{
    static const unsigned char bad_bytes[] = {0x00, 0x01, 0x08, 0x0b, 0x1f, 0x7f, '\r'};
    static const unsigned char good_bytes[] = {'\t', 0x7e, 0x80, 0xff, ' ', '"'};
    char in[128], rep[160];
    unsigned long wrong = 0, n = 0;

    for (size_t vlen = 1; vlen <= 24; vlen++) {
        for (size_t at = 0; at < vlen; at++) {
            for (int kind = 0; kind < 2; kind++) {
                const unsigned char *set = kind ? good_bytes : bad_bytes;
                size_t nset = kind ? sizeof(good_bytes) : sizeof(bad_bytes);
                for (size_t b = 0; b < nset; b++) {
                    size_t len = 0;
                    len += (size_t)sprintf(in, "GET / HTTP/1.1\r\nHost: h\r\nX-V: ");
                    memset(in + len, 'v', vlen);
                    /* (a space or HTAB at either end would be trimmed, not judged: keep it
                     * inside) */
                    unsigned char c = set[b];
                    if (kind && (c == ' ' || c == '\t') && (at == 0 || at == vlen - 1))
                        c = 0x80;
                    in[len + at] = (char)c;
                    len += vlen;
                    memcpy(in + len, "\r\n\r\n", 4);
                    len += 4;
                    struct mk_http_request req;
                    int r = parse_guarded(in, len, 0, MAXLINE, &req);
                    bool ok = kind ? r == (int)len : (r == MK_ERROR && req.status == 400);
                    n++;
                    if (!ok && wrong++ == 0)
                        CHECKF(0, "\"%s\": got %d/%u, expected %s",
                               mk_test_repr(in, len, rep, sizeof(rep)), r, req.status,
                               kind ? "accepted" : "400");
                }
            }
        }
    }
    CHECKF(wrong == 0, "%lu of %lu values judged wrong", wrong, n);
}

MK_TEST(header_next_iterates_exactly)
{
    struct mk_http_request r;
    /* a body and a pipelined request follow the head: the iterator must stop at the head */
    static const char in[] = "\r\nPOST /f HTTP/1.1\nHost: h\r\nContent-Length: 3\nX-Last: z\r\n\r\n"
                             "abcGET / HTTP/1.1\r\nX-Not-Me: 1\r\n\r\n";
    size_t head =
        sizeof("\r\nPOST /f HTTP/1.1\nHost: h\r\nContent-Length: 3\nX-Last: z\r\n\r\n") - 1;
    char *g = run_valid("iterate", S(in), head, &r);
    if (!g)
        return;
    CHECK_EQ_INT(r.head_len, head);
    CHECK_EQ_INT(r.content_length, 3);
    static const char *const want[][2] = {{"Host", "h"}, {"Content-Length", "3"}, {"X-Last", "z"}};
    size_t pos = r.headers_off, i = 0;
    mk_str_t name, value;
    while (mk_http_header_next(g, &r, &pos, &name, &value)) {
        if (!CHECKF(i < 3, "more headers than sent: %.*s", (int)name.len, name.p))
            break;
        CHECK_EQ_VIEW(name, want[i][0]);
        CHECK_EQ_VIEW(value, want[i][1]);
        i++;
    }
    CHECK_EQ_INT(i, 3);
    guard_free(g, sizeof(in) - 1);

    /* no headers at all */
    static const char in2[] = "GET / HTTP/1.0\r\n\r\n";
    g = run_valid("no headers", S(in2), 0, &r);
    if (!g)
        return;
    pos = r.headers_off;
    CHECK(!mk_http_header_next(g, &r, &pos, &name, &value));
    guard_free(g, sizeof(in2) - 1);
}

MK_TEST(connection_tokens)
{
    static const struct {
        const char *value;
        bool close, keepalive;
    } c[] = {
        {"close", true, false},
        {"keep-alive", false, true},
        {"Keep-Alive", false, true},
        {"Upgrade, close", true, false},
        {"foo,  Keep-Alive ,bar", false, true},
        {",,close,,", true, false},
        {"closed", false, false},
        {"keep-alive-not", false, false},
        {"TE, keep-alive, close", true, true},
    };
    for (size_t i = 0; i < MK_ARRAY_SIZE(c); i++) {
        char in[128];
        struct mk_http_request r;
        int n = snprintf(in, sizeof(in), "GET / HTTP/1.1\r\nHost: h\r\nConnection: %s\r\n\r\n",
                         c[i].value);
        char *g = run_valid(c[i].value, in, (size_t)n, 0, &r);
        if (!g)
            continue;
        CHECKF(r.conn_close == c[i].close, "Connection: %s: conn_close %d", c[i].value,
               r.conn_close);
        CHECKF(r.conn_keepalive == c[i].keepalive, "Connection: %s: conn_keepalive %d", c[i].value,
               r.conn_keepalive);
        guard_free(g, (size_t)n);
    }
}

MK_TEST(content_length_valid)
{
    struct mk_http_request r;
    static const char in[] = "POST /f HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello";
    char *g = run_valid("cl 5", S(in), sizeof(in) - 1 - 5, &r);
    if (g) {
        CHECK_EQ_INT(r.content_length, 5);
        CHECK(!r.chunked);
        guard_free(g, sizeof(in) - 1);
    }
    static const struct {
        const char *v;
        uint64_t want;
    } c[] = {
        {"0", 0},
        {"007", 7},
        {"  12  ", 12},
        {"9223372036854775807", 9223372036854775807ull},
    };
    for (size_t i = 0; i < MK_ARRAY_SIZE(c); i++) {
        char buf[128];
        int n = snprintf(buf, sizeof(buf),
                         "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: %s\r\n\r\n", c[i].v);
        g = run_valid(c[i].v, buf, (size_t)n, 0, &r);
        if (!g)
            continue;
        CHECKF(r.content_length == c[i].want, "Content-Length: %s -> %llu", c[i].v,
               (unsigned long long)r.content_length);
        guard_free(g, (size_t)n);
    }
    /* the same value twice is one value (RFC 9110 8.6) */
    static const char in2[] =
        "POST / HTTP/1.1\r\nContent-Length: 3\r\nHost: h\r\ncontent-length: 3\r\n\r\nabc";
    g = run_valid("cl twice same", S(in2), sizeof(in2) - 4, &r);
    if (g) {
        CHECK_EQ_INT(r.content_length, 3);
        guard_free(g, sizeof(in2) - 1);
    }
}

MK_TEST(transfer_encoding_chunked)
{
    static const char *const v[] = {"chunked", "CHUNKED", "gzip, chunked", "gzip,chunked",
                                    " deflate ,  Chunked "};
    for (size_t i = 0; i < MK_ARRAY_SIZE(v); i++) {
        char buf[128];
        struct mk_http_request r;
        int n = snprintf(buf, sizeof(buf),
                         "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: %s\r\n\r\n", v[i]);
        char *g = run_valid(v[i], buf, (size_t)n, 0, &r);
        if (!g)
            continue;
        CHECKF(r.chunked, "Transfer-Encoding: %s not chunked", v[i]);
        CHECK(r.content_length == MK_HTTP_CL_NONE);
        guard_free(g, (size_t)n);
    }
}

MK_TEST(expect_continue)
{
    struct mk_http_request r;
    static const char in[] =
        "POST /up HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n";
    char *g = run_valid("expect", S(in), 0, &r);
    if (g) {
        CHECK(r.expect_continue);
        CHECK_EQ_INT(r.content_length, 10);
        guard_free(g, sizeof(in) - 1);
    }
    static const char in2[] = "POST /up HTTP/1.1\r\nHost: h\r\nExpect: something\r\n\r\n";
    g = run_valid("expect other", S(in2), 0, &r);
    if (g) {
        CHECK(!r.expect_continue);
        guard_free(g, sizeof(in2) - 1);
    }
}

MK_TEST(conditional_headers_captured)
{
    struct mk_http_request r;
    static const char in[] = "GET /f HTTP/1.1\r\n"
                             "Host: h\r\n"
                             "Range: bytes=0-4, 10-\r\n"
                             "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                             "If-Unmodified-Since: Mon, 07 Nov 1994 08:49:37 GMT\r\n"
                             "If-None-Match: \"a\", W/\"b\"\r\n"
                             "If-Match: *\r\n"
                             "If-Range: \"etag\"\r\n"
                             "User-Agent: test/1.0\r\n"
                             "Referer: http://r/\r\n"
                             "X-Other: 1\r\n"
                             "\r\n";
    char *g = run_valid("conditionals", S(in), 0, &r);
    if (!g)
        return;
    CHECK_EQ_VIEW(r.range, "bytes=0-4, 10-");
    CHECK_EQ_VIEW(r.if_modified_since, "Sun, 06 Nov 1994 08:49:37 GMT");
    CHECK_EQ_VIEW(r.if_unmodified_since, "Mon, 07 Nov 1994 08:49:37 GMT");
    CHECK_EQ_VIEW(r.if_none_match, "\"a\", W/\"b\"");
    CHECK_EQ_VIEW(r.if_match, "*");
    CHECK_EQ_VIEW(r.if_range, "\"etag\"");
    CHECK_EQ_VIEW(r.user_agent, "test/1.0");
    CHECK_EQ_VIEW(r.referer, "http://r/");
    CHECK_EQ_INT(r.nheaders, 10);
    guard_free(g, sizeof(in) - 1);
}

MK_TEST(valid_host_forms)
{
    static const char *const v[] = {"a",
                                    "a:65535",
                                    "a:0",
                                    "[::1]",
                                    "[::1]:8080",
                                    "a:",
                                    "127.0.0.1",
                                    "EXAMPLE.com.",
                                    "xn--bcher-kva.example",
                                    "[fe80::1:2]:1",
                                    "[::ffff:192.0.2.1]",
                                    "[2001:db8:0:0:0:0:0:1]:80",
                                    "a%2Db",
                                    "%41%42"};
    for (size_t i = 0; i < MK_ARRAY_SIZE(v); i++) {
        char buf[128];
        struct mk_http_request r;
        int n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", v[i]);
        char *g = run_valid(v[i], buf, (size_t)n, 0, &r);
        if (!g)
            continue;
        CHECK_EQ_VIEW(r.host, v[i]);
        guard_free(g, (size_t)n);
        CHECKF(mk_http_host_check(mk_str(v[i], strlen(v[i]))) == 0, "host_check(%s)", v[i]);
    }
}

MK_TEST(pipelined_requests)
{
    static const char in[] = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n";
    size_t first = sizeof("GET /1 HTTP/1.1\r\nHost: h\r\n\r\n") - 1;
    struct mk_http_request r;
    char *g = run_valid("pipelined", S(in), first, &r);
    if (!g)
        return;
    CHECK_EQ_VIEW(r.path, "/1");
    /* the second one, parsed from its own start */
    int n = mk_http_parse_request(g + first, sizeof(in) - 1 - first, 0, MAXLINE, &r);
    CHECK_EQ_INT(n, (int)(sizeof(in) - 1 - first));
    CHECK_EQ_VIEW(r.path, "/2");
    guard_free(g, sizeof(in) - 1);
}

/* CONNECT uses the authority-form target (RFC 9112 3.2.3).  reliability.md wants 405 or 501
 * for it, and the server answers 405 for methods it parsed: the parser must not turn it into
 * a 400. */
MK_TEST(connect_authority_form_not_400)
{
    static const char in[] = "CONNECT localhost:443 HTTP/1.1\r\nHost: localhost:443\r\n\r\n";
    struct mk_http_request r;
    int n = parse_guarded(S(in), 0, MAXLINE, &r);
    CHECKF((n == (int)sizeof(in) - 1 && r.method == MK_METHOD_CONNECT) ||
               (n == MK_ERROR && (r.status == 405 || r.status == 501)),
           "CONNECT localhost:443: got %d status %u, expected the head accepted (method CONNECT) "
           "or 405/501",
           n, r.status);
    if (n > 0) {
        /* the authority is no path: nothing downstream may treat "localhost:443" as one */
        CHECK(r.authority_form && !r.path.p && !r.asterisk_form && !r.absolute_form);
        CHECK_EQ_INT(r.target.len, sizeof("localhost:443") - 1); /* the buffer is gone */
    }
}

/* An authority-form target that is no host[:port] (found by fuzz_parser: a relative path
 * after CONNECT) is a malformed request line, and never a path. */
MK_TEST(connect_bad_authority_400)
{
    static const char in[] = "CONNECT T-ep/index.txt HTTP/1.1\r\nHost: x\r\n\r\n";
    struct mk_http_request r;
    int n = parse_guarded(S(in), 0, MAXLINE, &r);
    CHECK_EQ_INT(n, MK_ERROR);
    CHECK_EQ_INT(r.status, 400);
}

/* ---- request line errors ------------------------------------------------------------- */

struct bad_case {
    const char *name;
    const char *data;
    size_t len;
    int status;
};

// clang-format off
#define BAD(name, lit, status) {name, lit, sizeof(lit) - 1, status}
// clang-format on
#define H "\r\nHost: h\r\n\r\n"

static const struct bad_case request_line_cases[] = {
    BAD("lowercase method", "get / HTTP/1.1" H, 501),
    BAD("mixed case method", "Get / HTTP/1.1" H, 501),
    BAD("unknown method", "FOO / HTTP/1.1" H, 501),
    BAD("long unknown method", "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMN / HTTP/1.1" H, 501),
    BAD("method (", "GE(T / HTTP/1.1" H, 400),
    BAD("method quote", "GE\"T / HTTP/1.1" H, 400),
    BAD("method DEL", "GET\x7f / HTTP/1.1" H, 400),
    BAD("method high bit", "G\xc3\x89T / HTTP/1.1" H, 400),
    BAD("method NUL", "GE\0T / HTTP/1.1" H, 400),
    BAD("missing method", " / HTTP/1.1" H, 400),
    BAD("missing target", "GET HTTP/1.1" H, 400),
    BAD("method only", "GET" H, 400),
    BAD("method and SP", "GET " H, 400),
    BAD("double SP before target", "GET  / HTTP/1.1" H, 400),
    BAD("double SP before version", "GET /  HTTP/1.1" H, 400),
    BAD("trailing SP", "GET / HTTP/1.1 " H, 400),
    BAD("TAB after method", "GET\t/ HTTP/1.1" H, 400),
    BAD("TAB before version", "GET /\tHTTP/1.1" H, 400),
    BAD("HTTP/0.9", "GET /" H, 400),
    BAD("HTTP/0.9 no headers", "GET /\r\n\r\n", 400),
    BAD("fragment", "GET /a#b HTTP/1.1" H, 400),
    BAD("raw SP in target", "GET /a b HTTP/1.1" H, 400),
    BAD("NUL in target", "GET /a\0b HTTP/1.1" H, 400),
    BAD("control in target", "GET /a\x01 HTTP/1.1" H, 400),
    BAD("ESC in target", "GET /\x1b[0m HTTP/1.1" H, 400),
    BAD("DEL in target", "GET /a\x7f HTTP/1.1" H, 400),
    BAD("high bit in target", "GET /caf\xc3\xa9 HTTP/1.1" H, 400),
    BAD("asterisk with GET", "GET * HTTP/1.1" H, 400),
    BAD("relative target", "GET a/b HTTP/1.1" H, 400),
    BAD("userinfo in absolute", "GET http://u@h/ HTTP/1.1" H, 400),
    BAD("empty authority", "GET http:/// HTTP/1.1" H, 400),
    BAD("ftp scheme", "GET ftp://h/ HTTP/1.1" H, 400),
    BAD("HTTP/2.0", "GET / HTTP/2.0" H, 505),
    BAD("HTTP/3.0", "GET / HTTP/3.0" H, 505),
    BAD("HTTP/1.2", "GET / HTTP/1.2" H, 505),
    BAD("HTTP/1.10", "GET / HTTP/1.10" H, 505),
    BAD("HTTP/01.1", "GET / HTTP/01.1" H, 505),
    BAD("http/1.1", "GET / http/1.1" H, 505),
    BAD("HTTP/1", "GET / HTTP/1" H, 505),
    BAD("HTTP/1.", "GET / HTTP/1." H, 505),
    BAD("HTTP/0.9 version", "GET / HTTP/0.9" H, 505),
    BAD("garbage version", "GET / FOO" H, 505),
    BAD("garbage version 2", "GET / HTTP/1.1x" H, 505),
    BAD("control in version", "GET / HTTP/1.\x01" H, 400),
    BAD("bare CR ends request line", "GET / HTTP/1.1\rHost: h\r\n\r\n", 400),
    BAD("bare CR in request line", "GET /\r HTTP/1.1" H, 400),
    BAD("TLS ClientHello", "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n", 400),
    BAD("binary zeros", "\0\0\0\0\r\n\r\n", 400),
    BAD("leading SP", " GET / HTTP/1.1" H, 400),
    BAD("leading bare CR", "\rGET / HTTP/1.1" H, 400),
};

MK_TEST(request_line_errors)
{
    for (size_t i = 0; i < MK_ARRAY_SIZE(request_line_cases); i++) {
        const struct bad_case *c = &request_line_cases[i];
        run_invalid(c->name, c->data, c->len, c->status);
    }
}

/* Garbage is refused from the first bytes, not after waiting for a line end. */
MK_TEST(garbage_detected_immediately)
{
    static const char hello[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\x8a\x1f\x00\x11";
    struct mk_http_request r;
    for (size_t k = 1; k < sizeof(hello); k++) {
        int n = parse_guarded(hello, k, 0, MAXLINE, &r);
        CHECKF(n == MK_ERROR && r.status == 400, "ClientHello prefix %zu: got %d/%u", k, n,
               r.status);
    }
    static const struct {
        const char *name;
        const char *d;
        size_t len;
    } c[] = {
        {"NUL in target", S("GET /\0")},
        {"control in target", S("GET /\x01")},
        {"TAB in method", S("GET\t")},
        {"SP first", S(" ")},
        {"bare CR in request line", S("GET / HTTP/1.1\rX")},
        {"bare CR in a header", S("GET / HTTP/1.1\r\nHost: h\rX")},
        {"NUL first", S("\0")},
    };
    for (size_t i = 0; i < MK_ARRAY_SIZE(c); i++) {
        int n = parse_guarded(c[i].d, c[i].len, 0, MAXLINE, &r);
        CHECKF(n == MK_ERROR && r.status == 400, "%s: got %d/%u, expected MK_ERROR/400", c[i].name,
               n, r.status);
    }
    /* a method that is too long to be any method is 501 before the SP arrives */
    char lng[64];
    memset(lng, 'A', sizeof(lng));
    int n = parse_guarded(lng, sizeof(lng), 0, MAXLINE, &r);
    CHECKF(n == MK_ERROR && r.status == 501, "64-byte method: got %d/%u", n, r.status);
}

/* The resumed-call fast path looks only at the new bytes: it must still refuse a NUL (and a
 * bare CR) there, at once. */
MK_TEST(fast_path_rejects_nul_in_new_bytes)
{
    static const char in[] = "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\0b\r\n";
    struct mk_http_request r;
    size_t first = sizeof("GET / HTTP/1.1\r\nHost: h\r\nX-A: a") - 1;
    int n = parse_guarded(in, first, 0, MAXLINE, &r);
    CHECK_EQ_INT(n, MK_AGAIN);
    n = parse_guarded(in, sizeof(in) - 1, first, MAXLINE, &r);
    CHECKF(n == MK_ERROR && r.status == 400, "NUL in resumed bytes: got %d/%u", n, r.status);

    /* the NUL is the only new byte */
    n = parse_guarded(in, first, 0, MAXLINE, &r);
    n = parse_guarded(in, first + 1, first, MAXLINE, &r);
    CHECKF(n == MK_ERROR && r.status == 400, "single NUL byte resumed: got %d/%u", n, r.status);

    /* a NUL in the request line, resumed after one byte */
    static const char in2[] = "GET /\0x HTTP/1.1";
    n = parse_guarded(in2, 1, 0, MAXLINE, &r);
    CHECK_EQ_INT(n, MK_AGAIN);
    n = parse_guarded(in2, sizeof(in2) - 1, 1, MAXLINE, &r);
    CHECKF(n == MK_ERROR && r.status == 400, "NUL in request line resumed: got %d/%u", n, r.status);

    /* a bare CR in the new bytes */
    static const char in3[] = "GET / HTTP/1.1\r\nHost: h\rX";
    n = parse_guarded(in3, 16, 0, MAXLINE, &r);
    CHECK_EQ_INT(n, MK_AGAIN);
    n = parse_guarded(in3, sizeof(in3) - 1, 16, MAXLINE, &r);
    CHECKF(n == MK_ERROR && r.status == 400, "bare CR resumed: got %d/%u", n, r.status);

    /* the head completes in the resumed call: NUL in a value still 400 */
    static const char in4[] = "GET / HTTP/1.1\r\nHost: h\r\nX: \0\r\n\r\n";
    n = parse_guarded(in4, 20, 0, MAXLINE, &r);
    CHECK_EQ_INT(n, MK_AGAIN);
    n = parse_guarded(in4, sizeof(in4) - 1, 20, MAXLINE, &r);
    CHECKF(n == MK_ERROR && r.status == 400, "NUL with head end resumed: got %d/%u", n, r.status);
}

/* A head refused by the fast path still reports its method when the call before stopped
 * inside it (or before it): the server answers a HEAD without a body. */
MK_TEST(fast_path_error_reports_method)
{
    static const char in[] = "\r\nHEAD / HTTP/1.1\r\nHost: h\r\nX-A: a\0b";
    struct mk_http_request r;
    for (size_t first = 1; first <= sizeof("\r\nHEAD") - 1; first++) {
        int n = parse_guarded(in, first, 0, MAXLINE, &r);
        CHECKF(n == MK_AGAIN, "first %zu bytes: got %d", first, n);
        n = parse_guarded(in, sizeof(in) - 1, first, MAXLINE, &r);
        CHECKF(n == MK_ERROR && r.status == 400 && r.method == MK_METHOD_HEAD,
               "resumed after %zu bytes: got %d/%u, method %u", first, n, r.status, r.method);
    }
}

/* ---- 414 ----------------------------------------------------------------------------- */

static size_t make_line(char *buf, size_t line_len, const char *rest)
{
    /* "GET /aaa...a HTTP/1.0" of exactly line_len bytes, then rest */
    static const char pre[] = "GET /", post[] = " HTTP/1.0";
    size_t n = 0, fill = line_len - (sizeof(pre) - 1) - (sizeof(post) - 1);
    memcpy(buf, pre, sizeof(pre) - 1);
    n += sizeof(pre) - 1;
    memset(buf + n, 'a', fill);
    n += fill;
    memcpy(buf + n, post, sizeof(post) - 1);
    n += sizeof(post) - 1;
    memcpy(buf + n, rest, strlen(rest));
    return n + strlen(rest);
}

MK_TEST(request_line_too_long)
{
    char buf[512];
    struct mk_http_request r;
    const size_t max = 64;

    size_t n = make_line(buf, max + 1, "\r\nHost: h\r\n\r\n");
    run_invalid_max("line max+1", buf, n, 414, max);
    n = make_line(buf, 300, "\r\nHost: h\r\n\r\n");
    run_invalid_max("line 300", buf, n, 414, max);
    /* A bare CR ends the line before the limit: malformed (400), not too long, also when
     * the LF after it comes past the limit (a fuzz_parser finding). */
    n = make_line(buf, 300, "\r\nHost: h\r\n\r\n");
    buf[20] = '\r';
    run_invalid_max("bare CR before the limit", buf, n, 400, max);

    /* no line end yet: 414 as soon as max bytes are there */
    n = make_line(buf, 300, "");
    int rc = parse_guarded(buf, 200, 0, max, &r);
    CHECKF(rc == MK_ERROR && r.status == 414, "incomplete 200-byte line: got %d/%u", rc, r.status);
    /* and in a resumed call */
    rc = parse_guarded(buf, 10, 0, max, &r);
    CHECK_EQ_INT(rc, MK_AGAIN);
    rc = parse_guarded(buf, 200, 10, max, &r);
    CHECKF(rc == MK_ERROR && r.status == 414, "resumed 200-byte line: got %d/%u", rc, r.status);
}

/* max_line is "the longest request line accepted": a line of exactly max_line bytes (and one
 * byte shorter) must be accepted however the bytes arrive. */
MK_TEST(request_line_at_the_limit)
{
    char buf[512];
    struct mk_http_request r;
    const size_t max = 64;

    for (size_t line = max - 2; line <= max; line++) {
        char name[64];
        snprintf(name, sizeof(name), "line of %zu bytes, max_line %zu", line, max);
        size_t n = make_line(buf, line, "\r\n\r\n");
        char *g = run_valid_max(name, buf, n, 0, max, &r);
        if (g)
            guard_free(g, n);
        n = make_line(buf, line, "\n\n");
        snprintf(name, sizeof(name), "LF line of %zu bytes, max_line %zu", line, max);
        g = run_valid_max(name, buf, n, 0, max, &r);
        if (g)
            guard_free(g, n);
    }
}

/* Leading empty lines are not part of the request line (RFC 9112 2.2). */
MK_TEST(leading_empty_lines_not_counted_in_max_line)
{
    char buf[512];
    struct mk_http_request r;
    const size_t max = 64;

    memcpy(buf, "\r\n\r\n\r\n", 6);
    size_t n = 6 + make_line(buf + 6, max, "\r\n\r\n");
    int rc = parse_guarded(buf, n, 0, max, &r);
    CHECKF(rc == (int)n, "3 empty lines + %zu-byte request line, max_line %zu: got %d/%u", max, max,
           rc, r.status);
}

/* A resumed call must apply the 414 limit even when leading empty lines put a '\n' in the
 * buffer: the same bytes must not be MK_AGAIN resumed and 414 whole. */
MK_TEST(resumed_long_line_after_empty_line)
{
    char buf[512];
    struct mk_http_request r;
    const size_t max = 64;

    memcpy(buf, "\r\n", 2);
    size_t n = 2 + make_line(buf + 2, 300, "");
    int whole = parse_guarded(buf, n, 0, max, &r);
    CHECKF(whole == MK_ERROR && r.status == 414, "whole: got %d/%u", whole, r.status);
    int rc = parse_guarded(buf, 10, 0, max, &r);
    CHECK_EQ_INT(rc, MK_AGAIN);
    rc = parse_guarded(buf, n, 10, max, &r);
    CHECKF(rc == MK_ERROR && r.status == 414,
           "\"\\r\\nGET /aaa...\" (%zu bytes, no line end) resumed at 10, max_line %zu: got %d/%u, "
           "expected MK_ERROR/414 like the whole parse",
           n, max, rc, r.status);
}

/* ---- header field errors ------------------------------------------------------------- */

#define RL "GET / HTTP/1.1\r\n"
static const struct bad_case header_cases[] = {
    BAD("no colon", RL "Host: h\r\nFoo\r\n\r\n", 400),
    BAD("no colon first", RL "Foo\r\nHost: h\r\n\r\n", 400),
    BAD("empty name", RL "Host: h\r\n: v\r\n\r\n", 400),
    BAD("space in name", RL "Host: h\r\nFo o: v\r\n\r\n", 400),
    BAD("space before colon", RL "Host : h\r\n\r\n", 400),
    BAD("tab before colon", RL "Host: h\r\nX-A\t: v\r\n\r\n", 400),
    BAD("non-token in name", RL "Host: h\r\nX(: v\r\n\r\n", 400),
    BAD("high bit in name", RL "Host: h\r\nX\xc3\xa9: v\r\n\r\n", 400),
    BAD("NUL in name", RL "Host: h\r\nX\0: v\r\n\r\n", 400),
    BAD("obs-fold SP", RL "Host: h\r\nX-A: b\r\n c\r\n\r\n", 400),
    BAD("obs-fold TAB", RL "Host: h\r\nX-A: b\r\n\tc\r\n\r\n", 400),
    BAD("obs-fold LF", RL "Host: h\nX-A: b\n c\n\n", 400),
    BAD("SP before first header", RL " Host: h\r\n\r\n", 400),
    BAD("TAB before first header", RL "\tHost: h\r\n\r\n", 400),
    BAD("NUL in value", RL "Host: h\r\nX-A: a\0b\r\n\r\n", 400),
    BAD("NUL at end of value", RL "Host: h\r\nX-A: a\0\r\n\r\n", 400),
    BAD("bare CR in value", RL "Host: h\r\nX-A: a\rb\r\n\r\n", 400),
    BAD("bare CR line end", RL "Host: h\rX-A: b\r\n\r\n", 400),
    BAD("bare CR before empty line", RL "Host: h\r\n\r\r\n", 400),
    /* (a complete head's lines are cut at LF alone: a CR left inside must still be refused) */
    BAD("CR CR LF after a value", RL "Host: h\r\r\n\r\n", 400),
    BAD("CR CR LF after the version", "GET / HTTP/1.1\r\r\nHost: h\r\n\r\n", 400),
    BAD("bare CR in a name", RL "Ho\rst: h\r\n\r\n", 400),
    BAD("bare CR in the target", "GET /a\rb HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    BAD("bare CR in the method", "G\rET / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    BAD("bare CR in the version", "GET / HTTP/1\r.1\r\nHost: h\r\n\r\n", 400),
    BAD("bare CR in a long value", RL "Host: h\r\nX-A: aaaaaaaaaaaaaaaa\raaaaaaaaaaaa\r\n\r\n", 400),
    BAD("control in a long value", RL "Host: h\r\nX-A: aaaaaaaaaaaaaaaaaaaa\x1f\r\n\r\n", 400),
    BAD("DEL in a long value", RL "Host: h\r\nX-A: aaaaaaaaaaaaaaaaaaaaaaaa\x7f" "bbbbbbbb\r\n\r\n", 400),
    BAD("control in value", RL "Host: h\r\nX-A: a\x01\r\n\r\n", 400),
    BAD("ESC in value", RL "Host: h\r\nX-A: \x1b[31m\r\n\r\n", 400),
    BAD("DEL in value", RL "Host: h\r\nX-A: a\x7f\r\n\r\n", 400),
    /* Host */
    BAD("1.1 without Host", RL "X-A: b\r\n\r\n", 400),
    BAD("1.1 without headers", RL "\r\n", 400),
    BAD("two Host", RL "Host: a\r\nHost: b\r\n\r\n", 400),
    BAD("two identical Host", RL "Host: a\r\nHost: a\r\n\r\n", 400),
    BAD("Host with /", RL "Host: a/b\r\n\r\n", 400),
    BAD("Host /", RL "Host: /\r\n\r\n", 400),
    BAD("Host with ..", RL "Host: a..b\r\n\r\n", 400),
    BAD("Host ..", RL "Host: ..\r\n\r\n", 400),
    BAD("Host with \\", RL "Host: a\\b\r\n\r\n", 400),
    BAD("Host with space", RL "Host: a b\r\n\r\n", 400),
    BAD("Host with @", RL "Host: u@h\r\n\r\n", 400),
    BAD("Host with high bit", RL "Host: h\xc3\xa9\r\n\r\n", 400),
    BAD("empty Host", RL "Host:\r\n\r\n", 400),
    BAD("blank Host", RL "Host:  \t \r\n\r\n", 400),
    BAD("Host port 65536", RL "Host: a:65536\r\n\r\n", 400),
    BAD("Host port 99999", RL "Host: a:99999\r\n\r\n", 400),
    BAD("Host port huge", RL "Host: a:18446744073709551617\r\n\r\n", 400),
    BAD("Host port letters", RL "Host: a:8x\r\n\r\n", 400),
    BAD("Host port negative", RL "Host: a:-1\r\n\r\n", 400),
    BAD("Host two ports", RL "Host: a:1:2\r\n\r\n", 400),
    BAD("Host only port", RL "Host: :80\r\n\r\n", 400),
    BAD("IPv6 hex port", RL "Host: [::1]:AABB\r\n\r\n", 400),
    BAD("IPv6 port 65536", RL "Host: [::1]:65536\r\n\r\n", 400),
    BAD("IPv6 junk after ]", RL "Host: [::1]x\r\n\r\n", 400),
    BAD("IPv6 unclosed", RL "Host: [::1\r\n\r\n", 400),
    BAD("IPv6 empty", RL "Host: []\r\n\r\n", 400),
    BAD("IPv6 bad char", RL "Host: [::g]\r\n\r\n", 400),
    /* preconditions and Range given twice: 400, not "the last (or first) one wins" */
    BAD("two If-None-Match", RL "Host: h\r\nIf-None-Match: \"a\"\r\nIf-None-Match: \"b\"\r\n\r\n",
        400),
    BAD("two If-Match", RL "Host: h\r\nIf-Match: \"a\"\r\nif-match: \"b\"\r\n\r\n", 400),
    BAD("two If-Range", RL "Host: h\r\nIf-Range: \"a\"\r\nIf-Range: \"a\"\r\n\r\n", 400),
    BAD("two If-Modified-Since", RL "Host: h\r\nIf-Modified-Since: x\r\nIf-Modified-Since: y\r\n\r\n",
        400),
    BAD("two If-Unmodified-Since",
        RL "Host: h\r\nIf-Unmodified-Since: x\r\nIF-UNMODIFIED-SINCE: y\r\n\r\n", 400),
    BAD("two Range", RL "Host: h\r\nRange: bytes=0-1\r\nRange: bytes=2-3\r\n\r\n", 400),
    BAD("an empty If-None-Match, then another", RL "Host: h\r\nIf-None-Match:\r\nIf-None-Match: *\r\n\r\n",
        400),
    /* absolute-form does not excuse the Host header field rules (RFC 9112 3.2: a server MUST
     * answer 400 to more than one Host field or an invalid Host value) */
    BAD("absolute-form, two Host", "GET http://h/ HTTP/1.1\r\nHost: h\r\nHost: x\r\n\r\n", 400),
    BAD("absolute-form, no Host in 1.1", "GET http://h/ HTTP/1.1\r\n\r\n", 400),
    BAD("absolute-form, Host with /", "GET http://h/ HTTP/1.1\r\nHost: a/b\r\n\r\n", 400),
    /* the authority of an absolute-form target becomes the host: same rules as Host */
    BAD("absolute-form authority with \\", "GET http://a\\b/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("absolute-form authority with ..", "GET http://a..b/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("absolute-form authority port 99999", "GET http://a:99999/ HTTP/1.1\r\nHost: a\r\n\r\n",
        400),
};

MK_TEST(header_errors)
{
    for (size_t i = 0; i < MK_ARRAY_SIZE(header_cases); i++) {
        const struct bad_case *c = &header_cases[i];
        run_invalid(c->name, c->data, c->len, c->status);
    }
}

MK_TEST(host_check_direct)
{
    static const char *const bad[] = {"",       "a/b",     "a..b", "a\\b", "a b",      "u@h",
                                      ":80",    "a:65536", "[::1", "[]",   "[::1]:AB", "a:1:2",
                                      "[::1]x", "a\"b",    "a<b>", "a?b",  "a#b",
                                      /* pct-encoded needs two hex digits */
                                      "a%zz", "a%", "a%4", "%", "a%4:80", "a%g0",
                                      /* an IP-literal is an IPv6 address */
                                      "[1::2::3]", "[.]", "[:]", "[1.2.3.4]", "[::1%25eth0]",
                                      "[v1.x]", "[fe80::1:2:3:4:5:6:7:8]",
                                      "[0000:0000:0000:0000:0000:0000:0000:0000:0000]"};
    for (size_t i = 0; i < MK_ARRAY_SIZE(bad); i++)
        CHECKF(mk_http_host_check(mk_str(bad[i], strlen(bad[i]))) < 0,
               "host_check(\"%s\") accepted", bad[i]);
    /* the check reads exactly len bytes */
    char *g = guard_copy("h:80", 4);
    CHECK_EQ_INT(mk_http_host_check(mk_str(g, 4)), 0);
    guard_free(g, 4);
    g = guard_copy("[::1", 4);
    CHECK(mk_http_host_check(mk_str(g, 4)) < 0);
    guard_free(g, 4);
    g = guard_copy("a%4", 3);
    CHECK(mk_http_host_check(mk_str(g, 3)) < 0);
    guard_free(g, 3);
    g = guard_copy("[::1]", 5);
    CHECK_EQ_INT(mk_http_host_check(mk_str(g, 5)), 0);
    guard_free(g, 5);
}

/* ---- message framing ----------------------------------------------------------------- */

#define PR "POST / HTTP/1.1\r\nHost: h\r\n"
static const struct bad_case framing_cases[] = {
    BAD("CL then TE", PR "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    BAD("TE then CL", PR "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400),
    BAD("TE then CL 0", PR "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n", 400),
    BAD("two different CL", PR "Content-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
    BAD("CL list", PR "Content-Length: 1, 2\r\n\r\n", 400),
    BAD("CL list same", PR "Content-Length: 1, 1\r\n\r\n", 400),
    BAD("CL negative", PR "Content-Length: -1\r\n\r\n", 400),
    BAD("CL plus", PR "Content-Length: +1\r\n\r\n", 400),
    BAD("CL hex", PR "Content-Length: 0x10\r\n\r\n", 400),
    BAD("CL exponent", PR "Content-Length: 1e3\r\n\r\n", 400),
    BAD("CL 2^64", PR "Content-Length: 18446744073709551616\r\n\r\n", 400),
    BAD("CL 2^64-1", PR "Content-Length: 18446744073709551615\r\n\r\n", 400),
    BAD("CL huge", PR "Content-Length: 99999999999999999999999999\r\n\r\n", 400),
    BAD("CL empty", PR "Content-Length:\r\n\r\n", 400),
    BAD("CL empty then digits", PR "Content-Length:\r\nX-A: 12\r\n\r\n", 400),
    BAD("CL inner space", PR "Content-Length: 1 2\r\n\r\n", 400),
    BAD("CL letters", PR "Content-Length: abc\r\n\r\n", 400),
    BAD("TE chunked, identity", PR "Transfer-Encoding: chunked, identity\r\n\r\n", 400),
    BAD("TE chunked, gzip", PR "Transfer-Encoding: chunked, gzip\r\n\r\n", 400),
    BAD("TE chunked twice", PR "Transfer-Encoding: chunked, chunked\r\n\r\n", 400),
    BAD("TE chunked in two fields",
        PR "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    BAD("TE chunked then gzip field",
        PR "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
    BAD("TE gzip only", PR "Transfer-Encoding: gzip\r\n\r\n", 400),
    BAD("TE empty", PR "Transfer-Encoding:\r\n\r\n", 400),
    BAD("TE commas", PR "Transfer-Encoding: ,\r\n\r\n", 400),
    BAD("TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    BAD("TE unknown", PR "Transfer-Encoding: xchunked\r\n\r\n", 501),
    BAD("TE unknown then chunked", PR "Transfer-Encoding: foo, chunked\r\n\r\n", 501),
};

MK_TEST(framing_errors)
{
    for (size_t i = 0; i < MK_ARRAY_SIZE(framing_cases); i++) {
        const struct bad_case *c = &framing_cases[i];
        run_invalid(c->name, c->data, c->len, c->status);
    }
}

/* After an invalid request, the same struct parses a valid one with no state left over. */
MK_TEST(no_state_kept_between_requests)
{
    static const char bad[] = PR "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n";
    static const char good[] = "GET /ok HTTP/1.1\r\nHost: h2\r\n\r\n";
    struct mk_http_request r;
    int n = parse_guarded(S(bad), 0, MAXLINE, &r);
    CHECK_EQ_INT(n, MK_ERROR);
    char *g = guard_copy(S(good));
    n = mk_http_parse_request(g, sizeof(good) - 1, 0, MAXLINE, &r);
    CHECK_EQ_INT(n, (int)sizeof(good) - 1);
    CHECK_EQ_INT(r.status, 0);
    CHECK(!r.chunked);
    CHECK(r.content_length == MK_HTTP_CL_NONE);
    CHECK_EQ_VIEW(r.host, "h2");
    guard_free(g, sizeof(good) - 1);
}

/* Given twice, User-Agent and Referer keep their first value (the one the access log
 * shows, as nginx's). */
MK_TEST(first_user_agent_and_referer_kept)
{
    struct mk_http_request r;
    static const char in[] = "GET /f HTTP/1.1\r\nHost: h\r\n"
                             "User-Agent: first\r\nReferer: http://first/\r\n"
                             "User-Agent: second\r\nReferer: http://second/\r\n\r\n";
    char *g = run_valid("two user agents", S(in), 0, &r);
    if (!g)
        return;
    CHECK_EQ_VIEW(r.user_agent, "first");
    CHECK_EQ_VIEW(r.referer, "http://first/");
    guard_free(g, sizeof(in) - 1);
}

/* A refused request is logged under the site its host names (mk_http.c), so the parser sets
 * req.host only to a host it has checked: never to a malformed absolute-form authority, and
 * still to a valid Host read before the error. */
MK_TEST(refused_request_keeps_only_a_checked_host)
{
    static const char bad_abs[] = "GET http://a..b/ HTTP/1.1\r\nHost: a\r\n\r\n";
    static const char bad_field[] = "GET / HTTP/1.1\r\nHost: site\r\nBad Field: x\r\n\r\n";
    static const char bad_host[] = "GET / HTTP/1.1\r\nHost: a..b\r\n\r\n";
    struct mk_http_request r;
    struct kept k = {0};

    CHECK_EQ_INT(parse_keep(S(bad_abs), 0, MAXLINE, &r, &k), MK_ERROR);
    CHECK(!r.host.p);
    CHECK_EQ_INT(parse_keep(S(bad_field), 0, MAXLINE, &r, &k), MK_ERROR);
    CHECK_EQ_VIEW(r.host, "site");
    CHECK_EQ_INT(parse_keep(S(bad_host), 0, MAXLINE, &r, &k), MK_ERROR);
    CHECK(!r.host.p);
    guard_free(k.p, k.len);
}

/* ---- differential: whole parse vs byte-by-byte resumed parse ------------------------------ */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)((rng >> 11) % n);
}

/* Mutated requests, each parsed at every prefix two ways: alone (last_len 0) and resumed from
 * the previous prefix.  The resumed parse may wait or refuse early, but it must never accept
 * what the whole parse refuses, never refuse what it accepts, never wait when the whole parse
 * has an answer of success, and accept with the same fields. */
MK_TEST(differential_whole_vs_resumed)
{
    static const char *const seeds[] = {
        "GET / HTTP/1.1\r\nHost: h\r\n\r\n",
        "\r\nGET /a?b HTTP/1.0\n\n",
        "POST /p HTTP/1.1\r\nHost: h:80\r\nContent-Length: 3\r\n\r\nabc",
        "GET http://h/x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
        "OPTIONS * HTTP/1.1\nHost: [::1]:8\nX: y\n\n",
        "PUT /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "GET /r HTTP/1.1\r\nHost: h\r\nRange: bytes=0-1\r\nIf-None-Match: \"x\"\r\n\r\nGET / HTTP/1.1\r\n",
        "\r\n\r\nHEAD /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\nHost: h\r\n\r\n",
    };
    static const char alphabet[] = "\r\n\r\n  \t\0:/%.?#,-aZ09\x80\x7f"
                                   "H1@[]";
    struct guard_region gw = guard_region_new(1024), gi = guard_region_new(1024);
    char in[1024], rep[256];
    unsigned long bad_accept = 0, bad_refuse = 0, bad_wait = 0, bad_field = 0, runs = 0;

    for (int it = 0; it < 20000; it++) {
        const char *seed = seeds[rnd(MK_ARRAY_SIZE(seeds))];
        size_t len = strlen(seed);
        memcpy(in, seed, len);
        for (uint32_t m = 1 + rnd(3); m > 0; m--) {
            size_t at = len ? rnd((uint32_t)len) : 0;
            char c = alphabet[rnd(sizeof(alphabet) - 1)];
            switch (rnd(4)) {
            case 0: /* replace */
                if (len)
                    in[at] = c;
                break;
            case 1: /* insert */
                if (len + 1 < sizeof(in)) {
                    memmove(in + at + 1, in + at, len - at);
                    in[at] = c;
                    len++;
                }
                break;
            case 2: /* delete */
                if (len) {
                    memmove(in + at, in + at + 1, len - at - 1);
                    len--;
                }
                break;
            default: { /* duplicate a run */
                size_t n = 1 + rnd(12);
                if (at + n <= len && len + n < sizeof(in)) {
                    memmove(in + at + n, in + at, len - at);
                    len += n;
                }
                break;
            }
            }
        }
        size_t max_line = rnd(3) ? MAXLINE : 20 + rnd(40);
        struct mk_http_request rw, ri;
        size_t last = 0;
        memset(&ri, 0, sizeof(ri));
        runs++;
        /* the answer to the whole input: no prefix of an accepted request may be refused */
        int wf = mk_http_parse_request(guard_place(&gw, in, len), len, 0, max_line, &rw);
        for (size_t k = 1; k <= len; k++) {
            char *pw = guard_place(&gw, in, k), *pi = guard_place(&gi, in, k);
            int w = mk_http_parse_request(pw, k, 0, max_line, &rw);
            int r = mk_http_parse_request(pi, k, last, max_line, &ri);
            const char *what = NULL;
            unsigned long *counter = NULL;
            if (r == MK_AGAIN) {
                if (w > 0) {
                    what = "resumed parse waits, whole parse accepted";
                    counter = &bad_wait;
                }
            } else if (r > 0) {
                if (w != r) {
                    what = "resumed parse accepted, whole parse did not";
                    counter = &bad_accept;
                } else if (req_diff(&ri, &rw)) {
                    what = req_diff(&ri, &rw);
                    counter = &bad_field;
                }
            } else if (w > 0) {
                what = "resumed parse refused, whole parse accepted";
                counter = &bad_refuse;
            } else if (wf > 0) {
                what = "resumed parse refused a prefix of a request the whole parse accepts";
                counter = &bad_refuse;
            }
            if (!what && w == MK_ERROR && wf > 0) {
                what = "whole parse refused a prefix of a request it accepts in full";
                counter = &bad_refuse;
            }
            if (what) {
                if ((*counter)++ == 0)
                    CHECKF(0,
                           "%s: \"%s\" at %zu bytes (last_len %zu, max_line %zu): whole %d/%u, "
                           "resumed %d/%u",
                           what, mk_test_repr(in, len, rep, sizeof(rep)), k, last, max_line, w,
                           rw.status, r, ri.status);
                break;
            }
            if (r != MK_AGAIN)
                break;
            last = k;
        }
    }
    CHECKF(bad_accept + bad_refuse + bad_wait + bad_field == 0,
           "%lu inputs: %lu accepted only resumed, %lu refused only resumed, %lu waited, %lu "
           "fields differ",
           runs, bad_accept, bad_refuse, bad_wait, bad_field);
    guard_region_free(&gw);
    guard_region_free(&gi);
}


/* ---- chunked bodies ------------------------------------------------------------------------ */

/* Feed body in pieces of at most `step` bytes (0: whole), each piece at a guard page so no
 * byte past it is read.  Returns the final status and sets *used_total. */
static int chunked_run(const char *body, size_t len, uint64_t limit, size_t step,
                       size_t *used_total)
{
    struct mk_http_chunked ck = {0};
    size_t off = 0;
    int rc = 0;

    while (off < len) {
        size_t n = step && len - off > step ? step : len - off;
        char *g = guard_copy(body + off, n);
        size_t used = 0;
        rc = mk_http_chunked_consume(&ck, g, n, limit, &used);
        guard_free(g, n);
        off += used;
        if (rc != 0 || used != n)
            break;
    }
    *used_total = off;
    return rc;
}

/* Every way of cutting the body into two reads, and byte by byte, must end like the whole. */
static void chunked_expect(const char *name, const char *body, size_t len, uint64_t limit,
                           int want, size_t want_used)
{
    char rep[200];
    size_t used;
    mk_test_context("%s: \"%s\"", name, mk_test_repr(body, len, rep, sizeof(rep)));
    int rc = chunked_run(body, len, limit, 0, &used);
    CHECKF(rc == want, "whole: %d, expected %d", rc, want);
    if (want == 1)
        CHECKF(used == want_used, "whole: used %zu of %zu, expected %zu", used, len, want_used);
    rc = chunked_run(body, len, limit, 1, &used);
    CHECKF(rc == want, "byte by byte: %d, expected %d", rc, want);
    if (want == 1)
        CHECKF(used == want_used, "byte by byte: used %zu, expected %zu", used, want_used);
    for (size_t cut = 1; cut < len; cut++) {
        struct mk_http_chunked ck = {0};
        size_t u1 = 0, u2 = 0;
        int r1 = mk_http_chunked_consume(&ck, body, cut, limit, &u1);
        int r2 = r1 == 0 ? mk_http_chunked_consume(&ck, body + cut, len - cut, limit, &u2) : r1;
        if (r2 != want || (want == 1 && u1 + u2 != want_used)) {
            CHECKF(0, "cut at %zu: %d (used %zu), expected %d", cut, r2, u1 + u2, want);
            break;
        }
    }
    mk_test_context(NULL);
}

#define CK_OK(body) chunked_expect("valid", body, sizeof(body) - 1, 1 << 20, 1, sizeof(body) - 1)
#define CK_BAD(body) chunked_expect("invalid", body, sizeof(body) - 1, 1 << 20, -400, 0)
/* A string literal's length is counted by the compiler, never by hand. */
#define CK_LIT(name, body, limit, want, used)                                                    \
    chunked_expect(name, body, sizeof(body) - 1, limit, want, used)

MK_TEST(chunked_valid)
{
    CK_OK("0\r\n\r\n");
    CK_OK("5\r\nhello\r\n0\r\n\r\n");
    CK_OK("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
    CK_OK("A\r\n0123456789\r\n0\r\n\r\n");
    CK_OK("a\r\n0123456789\r\n000\r\n\r\n");
    CK_OK("0000000000000000000000003\r\nabc\r\n0\r\n\r\n"); /* 1*HEXDIG: zeros are free */
    CK_OK("5;name=val\r\nhello\r\n0\r\n\r\n");
    CK_OK("5;name\r\nhello\r\n0;last\r\n\r\n");
    CK_OK("5 ; a = b ;c;d=\"q \\\" s\"\r\nhello\r\n0\r\n\r\n");
    CK_OK("5\t;\ta\r\nhello\r\n0\r\n\r\n");
    CK_OK("5;a=\"\"\r\nhello\r\n0\r\n\r\n");
    CK_OK("0\r\nX-Trailer: 1\r\n\r\n");
    CK_OK("0\r\nA: 1\r\nB:\r\nC: \xff\t x\r\n\r\n");
    CK_OK("3\r\n\r\n\r\r\n0\r\n\r\n"); /* data bytes are not framing */
    /* the body ends at its final CRLF: what follows is the next request */
    CK_LIT("valid, then a request", "0\r\n\r\nGET / HTTP/1.1\r\n", 1 << 20, 1, 5);
}

MK_TEST(chunked_invalid)
{
    CK_BAD("\r\nhello\r\n0\r\n\r\n");  /* no size */
    CK_BAD("zz\r\nhello\r\n0\r\n\r\n");
    CK_BAD("-1\r\na\r\n0\r\n\r\n");
    CK_BAD("0x1\r\na\r\n0\r\n\r\n");
    CK_BAD("+1\r\na\r\n0\r\n\r\n");
    CK_BAD("10000000000000000\r\n"); /* 2^64 */
    CK_BAD("fffffffffffffffff0\r\n");
    /* bare LF anywhere in the framing */
    CK_BAD("3\nabc\r\n0\r\n\r\n");
    CK_BAD("3\r\nabc\n0\r\n\r\n");
    CK_BAD("3;x\nabc\r\n0\r\n\r\n");
    CK_BAD("0\n\r\n");
    CK_BAD("0\r\n\n");
    CK_BAD("0\r\nX: a\n\r\n");
    /* bare CR, or data not followed by CRLF */
    CK_BAD("3\rabc\r\n0\r\n\r\n");
    CK_BAD("5\r\nhelloXX0\r\n\r\n");
    CK_BAD("5\r\nhello0\r\n\r\n");
    CK_BAD("3\r\nabc\r\r\n0\r\n\r\n");
    /* chunk-ext grammar */
    CK_BAD("3 junk\r\nabc\r\n0\r\n\r\n");
    CK_BAD("3 \r\nabc\r\n0\r\n\r\n");   /* BWS must lead to ';' */
    CK_BAD("3;\r\nabc\r\n0\r\n\r\n");   /* ';' needs a name */
    CK_BAD("3;a=\r\nabc\r\n0\r\n\r\n"); /* '=' needs a value */
    CK_BAD("3;a b\r\nabc\r\n0\r\n\r\n");
    CK_BAD("3;a=b c\r\nabc\r\n0\r\n\r\n");
    CK_BAD("3;a=\"b\r\nabc\r\n0\r\n\r\n");
    CK_BAD("3;a=\"b\"c\r\nabc\r\n0\r\n\r\n");
    CK_BAD("3;a=\"b\x01\"\r\nabc\r\n0\r\n\r\n");
    CK_BAD("3;a@b\r\nabc\r\n0\r\n\r\n");
    CK_BAD("3;a=b\x7f\r\nabc\r\n0\r\n\r\n");
    /* trailer fields */
    CK_BAD("0\r\nnocolon\r\n\r\n");
    CK_BAD("0\r\n: v\r\n\r\n");
    CK_BAD("0\r\nX : v\r\n\r\n");
    CK_BAD("0\r\n X: v\r\n\r\n");   /* obs-fold / leading space */
    CK_BAD("0\r\nX: a\rb\r\n\r\n");
    CK_BAD("0\r\nX: a\x00" "b\r\n\r\n");
    CK_BAD("0\r\nX: a\r\n b\r\n\r\n");
    CK_BAD("0\r\n\r\r\n");
}

MK_TEST(chunked_limit)
{
    /* data as announced plus framing: 413 before the data is sent */
    CK_LIT("limit", "10\r\n", 10, -413, 0);
    CK_LIT("limit exact", "3\r\nabc\r\n0\r\n\r\n", 13, 1, 13);
    CK_LIT("limit minus one", "3\r\nabc\r\n0\r\n\r\n", 12, -413, 0);
    /* endless extensions, trailers or leading zeros are bounded too */
    char big[3000];
    memset(big, '0', sizeof(big));
    chunked_expect("zeros", big, sizeof(big), 2048, -413, 0);
    memcpy(big, "1;", 2);
    memset(big + 2, 'x', sizeof(big) - 2);
    chunked_expect("extension", big, sizeof(big), 2048, -413, 0);
    memcpy(big, "0\r\nX: ", 6);
    memset(big + 6, 'v', sizeof(big) - 6);
    chunked_expect("trailer", big, sizeof(big), 2048, -413, 0);
    /* sizes near 2^64 must not wrap the running total under the limit */
    CK_LIT("2^64-1", "ffffffffffffffff\r\n", 1 << 15, -413, 0);
    CK_LIT("2^64-16", "fffffffffffffff0\r\nabc", 1 << 15, -413, 0);
    CK_LIT("wrap after a chunk", "1\r\na\r\nfffffffffffffffa\r\n", 1 << 15, -413, 0);
    CK_LIT("2^64-256, no limit", "ffffffffffffff00\r\n", UINT64_MAX, 0, 0);
    CK_LIT("2^64-1, no limit", "ffffffffffffffff\r\n", UINT64_MAX, -413, 0);
}

MK_TEST_MAIN("test_parser")

#include "mk_http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../core/mk_clock.h"
#include "../core/mk_core.h"
#include "../core/mk_log.h"
#include "../core/mk_sys.h"
#include "../trace/mk_trace.h"
#include "mk_access_log.h"
#include "mk_file.h"
#include "mk_http_parser.h"
#include "mk_http_status.h"
#include "mk_path.h"
#include "mk_range.h"

#define MK_BUF_SMALL 4096
#define MK_HDR_EXTRA 2048           /* response head room beyond the input size */
#define MK_BODY_ROOM 2048           /* input room kept after a full head, for body bytes */
#define MK_SESSION_FREE_MAX 64      /* recycled sessions kept per worker and size: sessions
                                       * return to the pool after each response, so a few
                                       * cover any number of keep-alive connections */
#define MK_REQUESTS_PER_RUN 32      /* pipelined requests answered before yielding */
#define MK_SENDFILE_CHUNK (2 << 20)    /* per sendfile call (a 1 MiB file: one call) */
#define MK_SENDFILE_PER_RUN (4 << 20) /* bytes sent to one connection before yielding */
#define MK_LINGER_BUF 4096
#define MK_COALESCE_MAX 16384       /* responses up to this size are sent from one buffer */
#define MK_BATCH_MAX 16384          /* pipelined responses gathered for one send, at most */
#define MK_FILE_CACHE_IDLE 30       /* seconds an unused open file stays cached */

/* Per thread: after a reload, old workers finish with the old configuration while the new
 * ones use the new one. */
static __thread const struct mk_http_config *cfg;
static __thread char server_header[128];
static __thread size_t server_header_len;

struct mk_http_session {
    /* The connection's input, kept from one request to the next (pipelining). */
    char *buf;          /* input (cap + MK_BODY_ROOM), decoded path (cap), response head */
    uint32_t cap;
    uint32_t len;       /* input bytes held */
    uint32_t pos;       /* first input byte not consumed by the current request */
    uint32_t last_len;  /* parser resume point */
    uint32_t hdr_cap;
    /* Pipelining: the batch holds batch_len bytes of responses complete in memory, answered
     * while the next request was already received, to leave in one send (write_pipelined).
     * Allocated when a batch begins, freed when it is sent: a pooled session has none. */
    uint32_t batch_len;
    union {
        struct mk_http_session *next_free; /* in the pool */
        char *batch;                       /* in use */
    };

    /* One request and its response: every field from `req` to the end is zeroed before
     * the next pipelined request (session_next_request), so none can leak into it. */
    struct mk_http_request req;

    /* request body being skipped */
    uint64_t body_left;
    struct mk_http_chunked chunked;

    /* response */
    struct iovec iov[5];
    struct msghdr msg;  /* the send in progress (io_uring reads it after the call) */
    uint8_t iovcnt, iovpos;
    bool iov_private;   /* iovecs point only into this session (safe across seconds) */
    bool pins_head;     /* iov[0] is the file's head room, pinned (file->head_pins) */
    uint32_t co_head;   /* > 0: iov[0] is this response (head of co_head bytes) in a buffer
                           the worker shares: hw->out or the file's head room */
    struct mk_file *file;
    uint64_t file_off, file_end;
    uint16_t status;
    bool parsed;
    bool head_only;
    bool close_after;
    bool continue_sent;
    bool input_pending; /* more of this request may still come: a body announced and not
                           read to its end, or a head rejected (its framing unknown) */
    bool begun;         /* request_begin traced, request_end not yet */
    struct mk_range_set *ranges; /* multipart/byteranges in progress */
    uint32_t req_seq;
    uint64_t start_ns;
    uint64_t bytes_sent;
    uint64_t body_len;  /* body bytes of the response (for the access log) */
    uint64_t head_len;  /* multipart: its head, sent alone before the parts (access log) */
    const struct mk_vhost *vh;
};

struct mk_http_worker {
    struct mk_file_cache *files;
    struct mk_http_session *free_small, *free_large;
    uint32_t nfree_small, nfree_large;
    time_t prefix_sec;
    char prefix200[128]; /* "HTTP/1.1 200 OK\r\nServer: ...\r\nDate: ...\r\n" */
    size_t prefix200_len;
    char out[MK_COALESCE_MAX]; /* a small 200 response, head and body, built to be sent */
    struct mk_access_log_worker alog;
};

static void http_run(struct mk_conn *c);

void mk_http_configure(const struct mk_http_config *config)
{
    cfg = config;
    server_header_len = (size_t)snprintf(server_header, sizeof(server_header),
                                         cfg->hide_version ? "Server: Monkey\r\n"
                                                           : "Server: Monkey/%s\r\n",
                                         MK_VERSION_STR);
}

static inline struct mk_http_worker *hw_of(struct mk_conn *c)
{
    return c->worker->proto_ctx;
}

/* ---- sessions: allocated when a request starts, recycled when the connection is idle ---- */

static struct mk_http_session *session_new(struct mk_http_worker *hw, bool large)
{
    struct mk_http_session **list = large ? &hw->free_large : &hw->free_small;
    struct mk_http_session *s = *list;
    uint32_t cap = large ? cfg->max_request_size : MK_MIN(MK_BUF_SMALL, cfg->max_request_size);

    if (s) {
        *list = s->next_free;
        if (large)
            hw->nfree_large--;
        else
            hw->nfree_small--;
        char *buf = s->buf;
        memset(s, 0, sizeof(*s));
        s->buf = buf;
    } else {
        s = mk_xcalloc(1, sizeof(*s));
        /* Cache-line aligned: the head is scanned from its start with memchr (its vector
         * loop costs the same for every request only when the start's alignment is). */
        s->buf = mk_xmalloc_aligned(64, (size_t)cap * 3 + MK_BODY_ROOM + MK_HDR_EXTRA);
    }
    s->cap = cap;
    s->hdr_cap = cap + MK_HDR_EXTRA;
    return s;
}

/* Forget the request just answered; the input buffer and its unread bytes stay.  The file
 * and the range set must have been released. */
static void session_next_request(struct mk_http_session *s)
{
    memset(&s->req, 0, sizeof(*s) - offsetof(struct mk_http_session, req));
}

static void release_file(struct mk_http_worker *hw, struct mk_http_session *s)
{
    if (!s->file)
        return;
    if (s->pins_head) {
        s->file->head_pins--;
        s->pins_head = false;
    }
    mk_file_release(hw->files, s->file);
    s->file = NULL;
}

static void session_free(struct mk_http_worker *hw, struct mk_http_session *s)
{
    bool large = s->cap > MK_BUF_SMALL;
    uint32_t *n = large ? &hw->nfree_large : &hw->nfree_small;

    release_file(hw, s);
    mk_range_free(s->ranges);
#if MK_HAVE_SANITIZER
    /* Under the sanitizers every session is a real allocation, so a use after release or a
     * leak is reported instead of being hidden by the pool. */
    free(s->buf);
    free(s);
    return;
#endif
    if (*n >= MK_SESSION_FREE_MAX) {
        free(s->buf);
        free(s);
        return;
    }
    struct mk_http_session **list = large ? &hw->free_large : &hw->free_small;
    s->next_free = *list;
    *list = s;
    (*n)++;
}

static inline char *path_buf(struct mk_http_session *s)
{
    return s->buf + s->cap + MK_BODY_ROOM;
}

static inline char *hdr_buf(struct mk_http_session *s)
{
    return s->buf + 2 * (size_t)s->cap + MK_BODY_ROOM;
}

/* ---- state changes ------------------------------------------------------------------------ */

/* The fd is registered once, edge-triggered, for both directions; what changes is which
 * readiness the connection waits for.  Entering and leaving MK_HTTP_WRITE is therefore the
 * fd-state table's "SET: CHANGE", traced at those transitions only (start_write,
 * finish_request, close_or_linger): one trace site per change on the request path. */
static inline void set_state(struct mk_conn *c, enum mk_http_state st)
{
    c->state = (uint8_t)st;
}

/* ---- response building ------------------------------------------------------------------- */

struct hbuf {
    char *p;
    size_t len, cap;
};

static inline void hb_put(struct hbuf *b, const char *s, size_t n)
{
    if (mk_unlikely(n > b->cap - b->len))
        return; /* cannot happen with the room reserved; never overflow */
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

#define HB_LIT(b, lit) hb_put((b), (lit), sizeof(lit) - 1)

static inline void hb_u64(struct hbuf *b, uint64_t v)
{
    if (mk_likely(b->cap - b->len >= 20))
        b->len += mk_u64_to_str(b->p + b->len, v);
}

static void refresh_prefix(struct mk_http_worker *hw)
{
    if (hw->prefix_sec == mk_clock.now && hw->prefix200_len)
        return;
    hw->prefix_sec = mk_clock.now;
    struct hbuf b = {hw->prefix200, 0, sizeof(hw->prefix200)};
    HB_LIT(&b, "HTTP/1.1 200 OK\r\n");
    hb_put(&b, server_header, server_header_len);
    HB_LIT(&b, "Date: ");
    hb_put(&b, mk_clock.date, MK_HTTP_DATE_LEN);
    HB_LIT(&b, "\r\n");
    hw->prefix200_len = b.len;
}

static void put_status_line(struct hbuf *b, int status)
{
    HB_LIT(b, "HTTP/1.1 ");
    hb_u64(b, (uint64_t)status);
    hb_put(b, " ", 1);
    const char *reason = mk_http_reason(status);
    hb_put(b, reason, strlen(reason));
    HB_LIT(b, "\r\n");
    hb_put(b, server_header, server_header_len);
    HB_LIT(b, "Date: ");
    hb_put(b, mk_clock.date, MK_HTTP_DATE_LEN);
    HB_LIT(b, "\r\n");
}

/* Decide whether the connection stays open after this response. */
static void decide_keepalive(struct mk_conn *c, struct mk_http_session *s)
{
    const struct mk_http_request *r = &s->req;
    if (s->close_after)
        return;
    if (!cfg->keepalive || !s->parsed || r->conn_close ||
        (r->protocol == MK_PROTO_HTTP10 && !r->conn_keepalive) ||
        c->requests + 1 >= cfg->max_keepalive_request ||
        __atomic_load_n(&c->worker->stopping, __ATOMIC_RELAXED))
        s->close_after = true;
}

/* The Connection / Keep-Alive lines and the blank line ending the head. */
static void put_connection(struct mk_conn *c, struct mk_http_session *s, struct hbuf *b)
{
    if (s->close_after) {
        HB_LIT(b, "Connection: Close\r\n\r\n");
    } else if (s->req.protocol == MK_PROTO_HTTP10) {
        HB_LIT(b, "Connection: Keep-Alive\r\nKeep-Alive: timeout=");
        hb_u64(b, cfg->keepalive_timeout);
        HB_LIT(b, ", max=");
        hb_u64(b, cfg->max_keepalive_request - c->requests);
        HB_LIT(b, "\r\n\r\n");
    } else {
        HB_LIT(b, "\r\n");
    }
}

static void iov_add(struct mk_http_session *s, const void *p, size_t n)
{
    if (n == 0)
        return;
    s->iov[s->iovcnt].iov_base = (void *)p;
    s->iov[s->iovcnt].iov_len = n;
    s->iovcnt++;
}

static bool status_closes(int status)
{
    switch (status) {
    case 400: case 408: case 411: case 413: case 414: case 431: case 500: case 501: case 503:
    case 505:
        return true;
    default:
        return false;
    }
}

static void start_write(struct mk_conn *c, struct mk_http_session *s);

/* The site of a request refused before handle_request() chose one (a parse error, 413,
 * 411, a broken body, a timeout): the one its Host names when the parser read a valid Host
 * (or absolute-form authority; req.host is set only then), else the default site, as nginx
 * chooses.  Its error pages and logs apply.  A head that arrived in pieces was parsed from
 * its start only while its request line was incomplete: the resumed calls look at the new
 * bytes alone, so an absolute-form target completed by a later read (a slow client: the
 * usual 408) was never split.  The request line is read again here, from the start. */
__attribute__((cold, noinline)) static const struct mk_vhost *
refused_vhost(const struct mk_http_session *s)
{
    mk_str_t host = s->req.host;
    if (!host.p && !s->parsed && s->len) {
        struct mk_http_request r;
        (void)mk_http_parse_request(s->buf, MK_MIN(s->len, s->cap), 0, cfg->max_request_size,
                                    &r);
        host = r.host;
    }
    return mk_vhost_match(cfg->vhosts, cfg->nvhosts, host);
}

/* An error response: a custom page of the vhost when there is one, else a short HTML body. */
static void respond_error(struct mk_conn *c, struct mk_http_session *s, int status,
                          const struct mk_vhost *vh)
{
    struct mk_http_worker *hw = hw_of(c);
    struct hbuf b = {hdr_buf(s), 0, s->hdr_cap};
    struct mk_file *page = NULL;

    s->status = (uint16_t)status;
    if (status_closes(status))
        s->close_after = true;
    decide_keepalive(c, s);
    /* No site chosen yet (a request rejected before handle_request): the site its Host
     * names, if one was read, else the default site; its error pages apply, as its logs do. */
    if (!vh) {
        if (!s->vh)
            s->vh = refused_vhost(s);
        vh = s->vh;
    }
    release_file(hw, s);
    if (vh) {
        const char *p = mk_vhost_error_page(vh, status);
        int rc = p ? mk_file_get(hw->files, vh, p, strlen(p), &page) : -404;
        if (rc == -301)
            mk_file_release(hw->files, page); /* a directory: no page */
        if (rc < 0)
            page = NULL;
    }

    put_status_line(&b, status);
    if (status == 405)
        HB_LIT(&b, "Allow: GET, HEAD, POST, OPTIONS\r\n");
    if (page) {
        HB_LIT(&b, "Content-Type: ");
        hb_put(&b, page->mime, strlen(page->mime));
        HB_LIT(&b, "\r\nContent-Length: ");
        hb_u64(&b, page->size);
        HB_LIT(&b, "\r\n");
        put_connection(c, s, &b);
        s->iovcnt = s->iovpos = 0;
        iov_add(s, b.p, b.len);
        s->file = page;
        s->body_len = page->size;
        if (!s->head_only) {
            if (page->data)
                iov_add(s, page->data, page->size);
            else {
                s->file_off = 0;
                s->file_end = page->size;
            }
        }
        s->iov_private = true;
        start_write(c, s);
        return;
    }

    /* Body first, in the tail of the head buffer, so its length is known. */
    const char *reason = mk_http_reason(status);
    char *body = b.p + b.cap - 512;
    int blen = snprintf(body, 512,
                        "<html><head><title>%d %s</title></head><body><h1>%d %s</h1>"
                        "<hr><address>%.*s</address></body></html>",
                        status, reason, status, reason, (int)server_header_len - 10,
                        server_header + 8);
    b.cap -= 512;
    s->body_len = (uint64_t)blen;
    HB_LIT(&b, "Content-Type: text/html\r\nContent-Length: ");
    hb_u64(&b, (uint64_t)blen);
    HB_LIT(&b, "\r\n");
    put_connection(c, s, &b);
    s->iovcnt = s->iovpos = 0;
    iov_add(s, b.p, b.len);
    if (!s->head_only)
        iov_add(s, body, (size_t)blen);
    s->iov_private = true;
    start_write(c, s);
}

static void respond_empty(struct mk_conn *c, struct mk_http_session *s, int status,
                          const char *extra, size_t extra_len)
{
    struct hbuf b = {hdr_buf(s), 0, s->hdr_cap};
    s->status = (uint16_t)status;
    decide_keepalive(c, s);
    put_status_line(&b, status);
    hb_put(&b, extra, extra_len);
    if (status != 304)
        HB_LIT(&b, "Content-Length: 0\r\n");
    put_connection(c, s, &b);
    s->iovcnt = s->iovpos = 0;
    iov_add(s, b.p, b.len);
    s->iov_private = true;
    start_write(c, s);
}

/* Bytes of a request target that RFC 3986 does not allow in a URI but the request line
 * accepts, as browsers send them unescaped: a Location carries them percent-encoded. */
static inline bool uri_unsafe(unsigned char ch)
{
    switch (ch) {
    case '\\': case '"': case '<': case '>': case '^': case '`': case '{': case '|': case '}':
    case '[': case ']':
        return true;
    default:
        return false;
    }
}

static size_t uri_escaped_len(mk_str_t v)
{
    size_t n = v.len;
    for (size_t i = 0; i < v.len; i++)
        n += uri_unsafe((unsigned char)v.p[i]) ? 2 : 0;
    return n;
}

static void hb_put_uri(struct hbuf *b, mk_str_t v)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < v.len; i++) {
        unsigned char ch = (unsigned char)v.p[i];
        if (uri_unsafe(ch)) {
            char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            hb_put(b, e, 3);
        } else {
            hb_put(b, v.p + i, 1);
        }
    }
}

/* 301 to the same path with a trailing slash: http://<Host as sent><path as sent>/?<query>.
 * Without a Host (HTTP/1.0) the Location is the path alone, and a path that starts with
 * "//" loses its extra slashes: "//evil.example/x" would be read as another host. */
static void respond_redirect(struct mk_conn *c, struct mk_http_session *s)
{
    const struct mk_http_request *r = &s->req;
    struct hbuf b = {hdr_buf(s), 0, s->hdr_cap};
    mk_str_t path = r->path;

    if (!r->host.p)
        while (path.len > 1 && path.p[1] == '/')
            path = mk_str(path.p + 1, path.len - 1);
    size_t need = (r->host.p ? 7 + r->host.len : 0) + uri_escaped_len(path) + 1 +
                  (r->query.p ? 1 + uri_escaped_len(r->query) : 0);

    s->status = 301;
    decide_keepalive(c, s);
    put_status_line(&b, 301);
    if (need + 256 > b.cap - b.len) {
        /* Only a target of many escaped bytes in a head near MaxRequestSize gets here. */
        respond_error(c, s, 414, NULL);
        return;
    }
    HB_LIT(&b, "Location: ");
    if (r->host.p) {
        HB_LIT(&b, "http://");
        hb_put(&b, r->host.p, r->host.len);
    }
    hb_put_uri(&b, path);
    HB_LIT(&b, "/");
    if (r->query.p) {
        HB_LIT(&b, "?");
        hb_put_uri(&b, r->query);
    }
    HB_LIT(&b, "\r\nContent-Length: 0\r\n");
    put_connection(c, s, &b);
    s->iovcnt = s->iovpos = 0;
    iov_add(s, b.p, b.len);
    s->iov_private = true;
    start_write(c, s);
}

/* ---- conditional requests (RFC 9110 13.2.2 order) ------------------------------------------ */

/* Is etag in the If-Match / If-None-Match list?  weak: compare ignoring W/ prefixes. */
static bool etag_in_list(mk_str_t list, const struct mk_file *f, bool weak)
{
    mk_str_t tok;
    mk_str_t etag = mk_str(f->etag, f->etag_len);
    while (mk_str_next_token(&list, &tok)) {
        if (tok.len == 1 && tok.p[0] == '*')
            return true;
        if (tok.len > 2 && tok.p[0] == 'W' && tok.p[1] == '/') {
            if (!weak)
                continue;
            tok.p += 2;
            tok.len -= 2;
        }
        if (mk_str_eq(tok, etag))
            return true;
    }
    return false;
}

static bool parse_date(mk_str_t v, time_t *t)
{
    return v.p && mk_http_date_parse(v.p, v.len, mk_clock.now, t) == 0;
}

/* Returns 0 to go on, or the status to answer (304 / 412). */
/* Inlined: on the request path it is a few tests of absent headers, and a second caller
 * (answer_before_continue) made the compiler call it out of line (+20 instructions). */
static inline __attribute__((always_inline)) int
check_conditionals(const struct mk_http_request *r, const struct mk_file *f)
{
    time_t t;
    bool get_head = r->method == MK_METHOD_GET || r->method == MK_METHOD_HEAD;

    if (r->if_match.p) {
        if (!etag_in_list(r->if_match, f, false))
            return 412;
    } else if (parse_date(r->if_unmodified_since, &t)) {
        if (f->lm > t)
            return 412;
    }
    if (r->if_none_match.p) {
        if (etag_in_list(r->if_none_match, f, true))
            return get_head ? 304 : 412;
    } else if (get_head && parse_date(r->if_modified_since, &t)) {
        /* A date in the future is invalid (RFC 9110 13.1.3): ignore it. */
        if (t <= mk_clock.now && f->lm <= t)
            return 304;
    }
    return 0;
}

/* Does If-Range allow the Range to apply? (RFC 9110 13.1.5) */
static bool if_range_ok(const struct mk_http_request *r, const struct mk_file *f)
{
    time_t t;
    if (!r->if_range.p)
        return true;
    if (r->if_range.len && r->if_range.p[0] == '"')
        return mk_str_eq(r->if_range, mk_str(f->etag, f->etag_len));
    /* A date is a strong validator only when the file is at least a second older than
     * this response's Date (RFC 9110 8.8.2.2, 13.1.5): a file written twice within one
     * second keeps its Last-Modified, and a range of the new bytes would be spliced into
     * the old ones.  mtime, not lm: a file dated in the future says "now" in lm. */
    if (parse_date(r->if_range, &t))
        return f->lm == t && f->mtime < mk_clock.now;
    return false;
}

/* ---- static files ----------------------------------------------------------------------- */

/* The head of a 200 for f, contiguous at dst: the worker's status/Server/Date prefix, the
 * file's header block, then conn (the Connection lines and the blank line). */
static void put_head200(char *dst, const struct mk_http_worker *hw, const struct mk_file *f,
                        const struct hbuf *conn)
{
    memcpy(dst, hw->prefix200, hw->prefix200_len);
    dst += hw->prefix200_len;
    memcpy(dst, f->hdr, f->hdr_len);
    memcpy(dst + f->hdr_len, conn->p, conn->len);
}

static void respond_file(struct mk_conn *c, struct mk_http_session *s, struct mk_file *f)
{
    struct mk_http_worker *hw = hw_of(c);
    const struct mk_http_request *r = &s->req;
    struct hbuf b = {hdr_buf(s), 0, s->hdr_cap};
    int st;

    s->file = f;
    st = check_conditionals(r, f);
    if (st == 304) {
        char xb[128];
        struct hbuf x = {xb, 0, sizeof(xb)};
        HB_LIT(&x, "Last-Modified: ");
        hb_put(&x, f->last_modified, MK_HTTP_DATE_LEN);
        HB_LIT(&x, "\r\nETag: ");
        hb_put(&x, f->etag, f->etag_len);
        HB_LIT(&x, "\r\n");
        respond_empty(c, s, 304, x.p, x.len);
        return;
    }
    if (st == 412) {
        respond_error(c, s, 412, NULL);
        return;
    }

    /* GET is the only method with range handling: a Range on HEAD (or POST) is ignored,
     * so HEAD answers what a plain GET would (RFC 9110 14.2, a MUST). */
    if (r->range.p && r->method == MK_METHOD_GET && if_range_ok(r, f)) {
        struct mk_range_set set, *rs = &set; /* on the heap only when kept: multipart */
        int rc = mk_range_parse_into(r->range, f->size, &set);
        if (rc == 416) {
            char xb[64];
            struct hbuf x = {xb, 0, sizeof(xb)};
            HB_LIT(&x, "Content-Range: bytes */");
            hb_u64(&x, f->size);
            HB_LIT(&x, "\r\n");
            respond_empty(c, s, 416, x.p, x.len);
            return;
        }
        if (rc == 206 && rs->n == 1) {
            uint64_t first = rs->r[0].first, last = rs->r[0].last;
            s->status = 206;
            decide_keepalive(c, s);
            put_status_line(&b, 206);
            HB_LIT(&b, "Last-Modified: ");
            hb_put(&b, f->last_modified, MK_HTTP_DATE_LEN);
            HB_LIT(&b, "\r\nETag: ");
            hb_put(&b, f->etag, f->etag_len);
            HB_LIT(&b, "\r\nContent-Type: ");
            hb_put(&b, f->mime, strlen(f->mime));
            HB_LIT(&b, "\r\nContent-Range: bytes ");
            hb_u64(&b, first);
            hb_put(&b, "-", 1);
            hb_u64(&b, last);
            hb_put(&b, "/", 1);
            hb_u64(&b, f->size);
            HB_LIT(&b, "\r\nContent-Length: ");
            s->body_len = last - first + 1;
            hb_u64(&b, last - first + 1);
            HB_LIT(&b, "\r\nAccept-Ranges: bytes\r\n");
            put_connection(c, s, &b);
            s->iovcnt = s->iovpos = 0;
            iov_add(s, b.p, b.len);
            if (f->data) {
                iov_add(s, f->data + first, last - first + 1);
            } else {
                s->file_off = first;
                s->file_end = last + 1;
            }
            s->iov_private = true;
            start_write(c, s);
            return;
        }
        if (rc == 206) {
            /* multipart/byteranges: the part headers are built as the parts are sent. */
            s->status = 206;
            decide_keepalive(c, s);
            put_status_line(&b, 206);
            HB_LIT(&b, "Last-Modified: ");
            hb_put(&b, f->last_modified, MK_HTTP_DATE_LEN);
            HB_LIT(&b, "\r\nETag: ");
            hb_put(&b, f->etag, f->etag_len);
            HB_LIT(&b, "\r\nContent-Type: multipart/byteranges; boundary=");
            hb_put(&b, rs->boundary, MK_RANGE_BOUNDARY_LEN);
            HB_LIT(&b, "\r\nContent-Length: ");
            s->body_len = mk_range_multipart_length(rs, f->mime, f->size);
            hb_u64(&b, s->body_len);
            HB_LIT(&b, "\r\nAccept-Ranges: bytes\r\n");
            put_connection(c, s, &b);
            s->iovcnt = s->iovpos = 0;
            iov_add(s, b.p, b.len);
            s->head_len = b.len;
            s->iov_private = true;
            s->ranges = mk_xmalloc(sizeof(*s->ranges));
            *s->ranges = set;
            s->ranges->next = 0;
            start_write(c, s);
            return;
        }
        /* 200: no usable range (ignored unit, syntax, or too many/overlapping ranges). */
    }

    s->status = 200;
    s->body_len = f->size;
    decide_keepalive(c, s);
    refresh_prefix(hw);
    s->iovcnt = s->iovpos = 0;

    put_connection(c, s, &b);

    /* A small file held in memory leaves in one send(), which costs the kernel less than
     * four iovec segments.  The usual case, HTTP/1.1 keep-alive (the Connection part is the
     * bare CRLF), needs no copy at all: its head is the same for every request of a second,
     * and is written once a second in the room the cache keeps before the file's bytes.
     * Other heads are copied with the body into the worker's buffer.  If the socket cannot
     * take it all, iov_privatize() moves what is left out of these shared buffers.
     * Under io_uring the send is still to be made when this returns: the head room is then
     * pinned until it completes (never rewritten while pinned: the next second's head
     * goes through hw->out instead), and hw->out is always privatized (do_write). */
    size_t body = s->head_only ? 0 : f->size;
    size_t head = hw->prefix200_len + f->hdr_len + b.len;
    if (f->data && head <= s->hdr_cap) {
        char *p = NULL;
        if (!s->close_after && r->protocol == MK_PROTO_HTTP11 && head <= MK_FILE_HEAD_ROOM &&
            ((f->head_date == hw->prefix_sec && f->head_len == head) || !f->head_pins)) {
            p = f->data - head;
            if (f->head_date != hw->prefix_sec || f->head_len != head) {
                put_head200(p, hw, f, &b);
                f->head_date = hw->prefix_sec;
                f->head_len = (uint32_t)head;
            }
        } else if (head + body <= sizeof(hw->out)) {
            p = hw->out;
            put_head200(p, hw, f, &b);
            memcpy(p + head, f->data, body);
        }
        if (p) {
            iov_add(s, p, head + body);
            s->co_head = (uint32_t)head;
            s->iov_private = false;
            if (c->uring && p != hw->out) {
                f->head_pins++;
                s->pins_head = true;
                s->iov_private = true; /* the pinned room is as stable as the session */
            }
            start_write(c, s);
            return;
        }
    }
    iov_add(s, hw->prefix200, hw->prefix200_len);
    iov_add(s, f->hdr, f->hdr_len);
    iov_add(s, b.p, b.len);
    if (!s->head_only) {
        if (f->data)
            iov_add(s, f->data, f->size);
        else {
            s->file_off = 0;
            s->file_end = f->size;
        }
    }
    s->iov_private = false;
    start_write(c, s);
}

static const char allow_options[] = "Allow: GET, HEAD, POST, OPTIONS\r\n";

/* The methods a static site answers; any other is 405 (the Allow list above). */
static bool method_allowed(int method)
{
    return method == MK_METHOD_GET || method == MK_METHOD_HEAD || method == MK_METHOD_POST ||
           method == MK_METHOD_OPTIONS;
}

/* The answer for what the lookup of the request's path gave: rc and, with rc 0 or -301, f
 * (a reference this takes over).  Inlined: handle_request is the request path. */
static inline __attribute__((always_inline)) void
answer_path(struct mk_conn *c, struct mk_http_session *s, const struct mk_vhost *vh, int rc,
            struct mk_file *f)
{
    struct mk_http_worker *hw = hw_of(c);

    if (rc == -301) {
        mk_file_release(hw->files, f);
        respond_redirect(c, s);
        return;
    }
    if (rc < 0) {
        if (rc == -500 || rc == -503)
            MK_TRACE(error, c->id, MK_ESITE_OPEN, errno, -rc);
        respond_error(c, s, -rc, vh);
        return;
    }
    if (s->req.method == MK_METHOD_OPTIONS) {
        /* OPTIONS on a path is about that resource: a missing one is 404, as for GET. */
        mk_file_release(hw->files, f);
        respond_empty(c, s, 200, allow_options, sizeof(allow_options) - 1);
        return;
    }
    respond_file(c, s, f);
}

static void handle_request(struct mk_conn *c, struct mk_http_session *s)
{
    struct mk_http_worker *hw = hw_of(c);
    const struct mk_http_request *r = &s->req;
    const struct mk_vhost *vh = mk_vhost_match(cfg->vhosts, cfg->nvhosts, r->host);
    struct mk_file *f;
    int n, rc;

    s->vh = vh;
    if (!method_allowed(r->method)) {
        respond_error(c, s, 405, vh);
        return;
    }
    if (r->asterisk_form) {
        /* OPTIONS * asks about the server itself. */
        if (r->method == MK_METHOD_OPTIONS)
            respond_empty(c, s, 200, allow_options, sizeof(allow_options) - 1);
        else
            respond_error(c, s, 400, vh);
        return;
    }

    n = mk_path_normalize(r->path.p, r->path.len, path_buf(s));
    if (n < 0) {
        MK_TRACE(error, c->id, MK_ESITE_PATH, 0, -n);
        respond_error(c, s, -n, vh);
        return;
    }
    rc = mk_file_get(hw->files, vh, path_buf(s), (size_t)n, &f);
    answer_path(c, s, vh, rc, f);
}

/* Expect: 100-continue (RFC 9110 10.1.1): when the head alone already decides an error
 * (a method not allowed, a path that is missing, forbidden or a directory to redirect, a
 * failed precondition), answer it at once instead of inviting the body.  The client may
 * still send the body, whose bytes the server will not parse as a request: the connection
 * closes after the answer (lingering).  Returns true when answered.  Otherwise the file
 * found waits in s->file for the end of the body (answer_after_body): the path is looked
 * up once per request. */
__attribute__((cold, noinline)) static bool answer_before_continue(struct mk_conn *c,
                                                                 struct mk_http_session *s)
{
    struct mk_http_worker *hw = hw_of(c);
    const struct mk_http_request *r = &s->req;

    if (!method_allowed(r->method) || r->asterisk_form) {
        if (r->method == MK_METHOD_OPTIONS && r->asterisk_form)
            return false; /* OPTIONS * is 200 */
        s->close_after = true; /* 405, 400 */
        handle_request(c, s);
        return true;
    }
    const struct mk_vhost *vh = mk_vhost_match(cfg->vhosts, cfg->nvhosts, r->host);
    struct mk_file *f = NULL;
    int n = mk_path_normalize(r->path.p, r->path.len, path_buf(s));
    int rc = n < 0 ? n : mk_file_get(hw->files, vh, path_buf(s), (size_t)n, &f);
    if (rc == 0 && (r->method == MK_METHOD_OPTIONS || check_conditionals(r, f) == 0)) {
        s->file = f; /* released with the session if the body never ends */
        return false;
    }
    s->close_after = true;
    s->vh = vh;
    if (n < 0) {
        MK_TRACE(error, c->id, MK_ESITE_PATH, 0, -n);
        respond_error(c, s, -n, vh);
    } else {
        answer_path(c, s, vh, rc, f); /* 301, 403, 404, ..., or the 304 / 412 */
    }
    return true;
}

/* The body of a request whose file answer_before_continue found has been read: that file is
 * answered when it was checked this second and no lookup since found it changed (then the
 * answer is the one the head would have had, sent in the same second); otherwise, after a
 * body that took longer, the path is looked up again, by the cache's rules. */
__attribute__((cold, noinline)) static void answer_after_body(struct mk_conn *c,
                                                            struct mk_http_session *s)
{
    struct mk_http_worker *hw = hw_of(c);
    struct mk_file *f = s->file;

    s->file = NULL;
    if (!mk_file_current(f)) {
        mk_file_release(hw->files, f);
        handle_request(c, s);
        return;
    }
    s->vh = mk_vhost_match(cfg->vhosts, cfg->nvhosts, s->req.host);
    answer_path(c, s, s->vh, 0, f);
}

/* ---- request lifecycle ------------------------------------------------------------------- */

/* Out of line: the request path pays one combined test while no session records these. */
__attribute__((cold, noinline)) static void trace_request_begin_cold(struct mk_conn *c,
                                                                     struct mk_http_session *s)
{
    if (MK_TRACE_ENABLED(request_end))
        s->start_ns = mk_clock_ns(); /* precise when its duration is recorded */
    if (MK_TRACE_ENABLED(request_begin)) {
        const struct mk_http_request *r = &s->req;
        MK_TRACE_DO(request_begin, c->id, s->req_seq, r->method, r->protocol, r->target.p,
                    r->target.len, r->host.p, r->host.len);
    }
    if (MK_TRACE_ENABLED(request_header) && s->parsed) {
        size_t pos = s->req.headers_off;
        mk_str_t name, value;
        while (mk_http_header_next(s->buf, &s->req, &pos, &name, &value))
            MK_TRACE_DO(request_header, c->id, s->req_seq, name.p, name.len, value.p, value.len);
    }
}

static inline void trace_request_begin(struct mk_conn *c, struct mk_http_session *s)
{
    s->start_ns = mk_clock.mono_ns;
    s->req_seq = c->requests + 1;
    s->begun = true;
    if (MK_TRACE_ENABLED(request_begin) | MK_TRACE_ENABLED(request_end) |
        MK_TRACE_ENABLED(request_header))
        trace_request_begin_cold(c, s);
}

static void close_or_linger(struct mk_conn *c, struct mk_http_session *s,
                            enum mk_close_reason reason);

/* The request line as received, for the logs (whatever it is, even for a 400). */
static mk_str_t request_line(const struct mk_http_session *s)
{
    const char *p = s->buf, *end = s->buf + MK_MIN(s->len, 8192u);
    while (p < end && (*p == '\r' || *p == '\n'))
        p++;
    const char *q = p;
    while (q < end && *q != '\r' && *q != '\n')
        q++;
    return mk_str(p, (size_t)(q - p));
}

/* Body bytes sent of a response cut short (closed while in MK_HTTP_WRITE).  Worked out at
 * the close, not counted on the way: a complete response, nearly every one, sent them all.
 * A multipart body went out after its head (head_len); any other response's body ends it,
 * so what was not sent of it is what is still queued. */
static uint64_t cut_body_sent(const struct mk_http_session *s)
{
    if (s->head_len)
        return s->bytes_sent > s->head_len ? MK_MIN(s->bytes_sent - s->head_len, s->body_len)
                                           : 0;
    uint64_t left = s->file_end - s->file_off;
    for (unsigned i = s->iovpos; i < s->iovcnt; i++)
        left += s->iov[i].iov_len;
    return s->body_len > left ? s->body_len - left : 0;
}

/* The line itself, out of line: with logs off (the benchmark's case) a request pays the
 * test in log_request() alone. */
__attribute__((noinline)) static void log_request_write(struct mk_conn *c,
                                                        struct mk_http_session *s,
                                                        const struct mk_vhost *vh, bool cut)
{
    mk_str_t line = request_line(s);
    uint64_t body = s->head_only ? 0 : cut ? cut_body_sent(s) : MK_MIN(s->body_len, s->bytes_sent);
    mk_access_log_write(&hw_of(c)->alog, c, vh, line.p, line.len, s->parsed ? &s->req : NULL,
                        s->status, body);
}

static inline void log_request(struct mk_conn *c, struct mk_http_session *s, bool cut)
{
    const struct mk_vhost *vh = s->vh ? s->vh : &cfg->vhosts[0];
    if (mk_likely(!vh->access && !vh->errlog))
        return;
    log_request_write(c, s, vh, cut);
}

/* The two events of a request's end: request_end, and on a connection kept open the
 * state change out of MK_HTTP_WRITE (nothing traced happens between the two points, so
 * they are recorded together: one combined test on the request path). */
__attribute__((cold, noinline)) static void trace_request_end_cold(struct mk_conn *c,
                                                                   struct mk_http_session *s,
                                                                   bool keep)
{
    if (MK_TRACE_ENABLED(request_end))
        MK_TRACE_DO(request_end, c->id, s->req_seq, s->status, s->bytes_sent,
                    mk_clock_ns() - s->start_ns, keep);
    if (MK_TRACE_ENABLED(epoll_state) && keep)
        MK_TRACE_DO(epoll_state, c->fd, "SET: CHANGE"); /* out of MK_HTTP_WRITE */
}

/* Only empty lines from `from` on: what a client may send between requests (RFC 9112 2.2:
 * HTTP/1.0 agents add a CRLF after a POST body).  That is no request yet: the connection
 * stays idle, on the keep-alive timer, and a timeout sends no 408. */
static bool empty_lines_only(const struct mk_http_session *s, uint32_t from)
{
    for (uint32_t i = from; i < s->len; i++)
        if (s->buf[i] != '\r' && s->buf[i] != '\n')
            return false;
    return true;
}

static void finish_request(struct mk_conn *c, struct mk_http_session *s)
{
    struct mk_http_worker *hw = hw_of(c);
    /* A response promised keep-alive before the server began to stop, with nothing more
     * received: the connection is idle now, so it is closed now, like those that were
     * idle when the stop began.  Kept, it would hold the exit back until KeepAliveTimeout
     * or GracePeriod. */
    bool stop_close = !s->close_after && empty_lines_only(s, s->pos) &&
                      mk_unlikely(__atomic_load_n(&c->worker->stopping, __ATOMIC_RELAXED) ==
                                  MK_STOP_SHUTDOWN);

    log_request(c, s, false);
    if (MK_TRACE_ENABLED(request_end) | MK_TRACE_ENABLED(epoll_state))
        trace_request_end_cold(c, s, !s->close_after && !stop_close);
    s->begun = false;
    c->requests++;
    c->worker->requests++;
    release_file(hw, s);
    if (s->ranges) {
        mk_range_free(s->ranges);
        s->ranges = NULL;
    }
    if (s->close_after) {
        close_or_linger(c, s, s->status >= 400 ? MK_CLOSE_ERROR_STATUS : MK_CLOSE_DONE);
        return;
    }
    if (stop_close) {
        /* Input may wait unread in the socket (the next request, sent while this response
         * was being written): a plain close would answer it with a RST, which destroys
         * the end of this response still in flight. */
        close_or_linger(c, s, MK_CLOSE_SHUTDOWN);
        return;
    }
    set_state(c, MK_HTTP_IDLE); /* "SET: CHANGE" was traced with request_end */
    if (s->pos < s->len && !empty_lines_only(s, s->pos)) {
        /* Pipelined bytes: keep the session and parse them next. */
        uint32_t left = s->len - s->pos;
        memmove(s->buf, s->buf + s->pos, left);
        s->len = left;
        s->pos = 0;
        s->last_len = 0;
        session_next_request(s);
        set_state(c, MK_HTTP_READ_HEAD);
        mk_sched_timer_set(c, MK_TLIST_REQUEST, MK_TIMEOUT_REQ_INCOMPLETE);
        return;
    }
    session_free(hw, s);
    c->session = NULL;
    mk_sched_timer_set(c, MK_TLIST_KEEPALIVE, MK_TIMEOUT_KEEPALIVE);
}

/* Move the iovecs that point at per-worker memory (the 200 prefix changes every second)
 * into the session before waiting: the rest of the head must not change under us. */
static void iov_privatize(struct mk_http_session *s)
{
    if (s->iov_private)
        return;
    s->iov_private = true;
    if (s->co_head) {
        /* iov[0] is what is left of a response built in hw->out or in the head room of
         * the cached file: the rest of its head is copied here, the rest of its body is
         * read from the cached file, whose bytes never change. */
        size_t body = s->head_only ? 0 : s->file->size;
        size_t left = s->iovpos < s->iovcnt ? s->iov[0].iov_len : 0;
        size_t sent = s->co_head + body - left;
        const char *rest = s->iov[0].iov_base;
        s->iovcnt = s->iovpos = 0;
        if (sent < s->co_head) {
            memcpy(hdr_buf(s), rest, s->co_head - sent);
            iov_add(s, hdr_buf(s), s->co_head - sent);
        }
        size_t boff = sent > s->co_head ? sent - s->co_head : 0;
        iov_add(s, s->file->data + boff, body - boff);
        s->co_head = 0;
        return;
    }
    if (s->iovpos > 0)
        return; /* the prefix (always iov[0] of a 200) is already sent */
    char *dst = hdr_buf(s) + s->hdr_cap - MK_HDR_EXTRA;
    memcpy(dst, s->iov[0].iov_base, s->iov[0].iov_len);
    s->iov[0].iov_base = dst;
}

static void start_write(struct mk_conn *c, struct mk_http_session *s)
{
    if (MK_TRACE_ENABLED(epoll_state) && c->state != MK_HTTP_WRITE)
        MK_TRACE_DO(epoll_state, c->fd, "SET: CHANGE");
    set_state(c, MK_HTTP_WRITE);
}

/* Take n sent bytes off the pending iovecs. */
static inline void iov_advance(struct mk_http_session *s, size_t n)
{
    while (n > 0 && s->iovpos < s->iovcnt) {
        struct iovec *v = &s->iov[s->iovpos];
        if (n >= v->iov_len) {
            n -= v->iov_len;
            s->iovpos++;
        } else {
            v->iov_base = (char *)v->iov_base + n;
            v->iov_len -= n;
            n = 0;
        }
    }
}

/* A send or sendfile() failed with errno (neither EAGAIN nor EINTR): close. */
__attribute__((cold, noinline)) static void write_failed(struct mk_conn *c,
                                                         struct mk_http_session *s, int site)
{
    MK_TRACE(error, c->id, site, errno, s->status);
    mk_sched_conn_close(c, errno == EPIPE || errno == ECONNRESET ? MK_CLOSE_RESET
                                                                  : MK_CLOSE_IO_ERROR,
                        true);
}

/* Send what is pending.  MK_OK when the response is complete, MK_AGAIN to wait, MK_ERROR
 * when the connection was closed. */
static int do_write(struct mk_conn *c, struct mk_http_session *s)
{
    size_t budget = MK_SENDFILE_PER_RUN;

    for (;;) {
        while (s->iovpos < s->iovcnt) {
            bool more = s->file_off < s->file_end || s->ranges;
            int flags = MSG_NOSIGNAL | (more ? MSG_MORE : 0);
            bool queued = c->uring && !more;
            /* io_uring sends after this call returns: nothing may stay in a shared buffer
             * (this may split iov[0] in two, so it comes before msg is set). */
            if (queued)
                iov_privatize(s);
            s->msg.msg_iov = s->iov + s->iovpos;
            s->msg.msg_iovlen = (size_t)(s->iovcnt - s->iovpos);
            ssize_t n;
            if (queued) {
                n = mk_conn_sendmsg(c, &s->msg, flags);
            } else {
                /* The head of a sendfile() body goes out at once, with the system call,
                 * so that the file follows in this same pass as under epoll (a queued
                 * send would cost a pass per response). */
                n = mk_conn_sendmsg_now(c, &s->msg, flags);
            }
            if (n < 0) {
                if (errno == EAGAIN) {
                    iov_privatize(s);
                    return MK_AGAIN;
                }
                if (errno == EINTR)
                    continue;
                write_failed(c, s, MK_ESITE_WRITE);
                return MK_ERROR;
            }
            c->bytes_out += (uint64_t)n;
            s->bytes_sent += (uint64_t)n;
            iov_advance(s, (size_t)n);
        }
        while (s->file_off < s->file_end) {
            off_t off = (off_t)s->file_off;
            size_t want = (size_t)MK_MIN(s->file_end - s->file_off, (uint64_t)MK_SENDFILE_CHUNK);
            ssize_t n = sendfile(c->fd, s->file->fd, &off, want);
            if (n < 0) {
                if (errno == EAGAIN) {
                    mk_conn_want_write(c);
                    return MK_AGAIN;
                }
                if (errno == EINTR)
                    continue;
                write_failed(c, s, MK_ESITE_SENDFILE);
                return MK_ERROR;
            }
            if (n == 0) {
                /* The file shrank under us: the promised length cannot be sent.  Closing
                 * is the only honest end (and sendfile returning 0 must never loop).  The
                 * next request for it gets the file as it is now, not this second's entry. */
                MK_TRACE(error, c->id, MK_ESITE_SENDFILE, 0, s->status);
                mk_file_suspect(s->file);
                mk_sched_conn_close(c, MK_CLOSE_IO_ERROR, false);
                return MK_ERROR;
            }
            s->file_off += (uint64_t)n;
            c->bytes_out += (uint64_t)n;
            s->bytes_sent += (uint64_t)n;
            if ((size_t)n >= budget) {
                /* Let the worker's other connections have their turn. */
                mk_sched_conn_post(c);
                return MK_AGAIN;
            }
            budget -= (size_t)n;
        }
        if (s->ranges) {
            /* next part of a multipart/byteranges body */
            struct hbuf b = {hdr_buf(s), 0, s->hdr_cap};
            int more = mk_range_next_part(s->ranges, s->file->mime, s->file->size, b.p, b.cap,
                                          &b.len, &s->file_off, &s->file_end);
            s->iovcnt = s->iovpos = 0;
            iov_add(s, b.p, b.len);
            if (s->file->data && s->file_end > s->file_off) {
                iov_add(s, s->file->data + s->file_off, s->file_end - s->file_off);
                s->file_off = s->file_end = 0;
            }
            if (!more) {
                mk_range_free(s->ranges);
                s->ranges = NULL;
            }
            continue;
        }
        return MK_OK;
    }
}

static void close_or_linger(struct mk_conn *c, struct mk_http_session *s,
                            enum mk_close_reason reason)
{
    /* Closing with unread input makes the kernel send a RST, which can destroy the response
     * before the client reads it.  When input may be pending, shut down our side and drain
     * for a moment first (lingering close). */
    /* A request body the server did not read to its end (413 on its Content-Length, a
     * broken chunk), or whatever follows a rejected head, is still on its way even when
     * nothing is readable yet. */
    if (!c->rd_ready && s->pos >= s->len && !s->input_pending) {
        mk_sched_conn_close(c, reason, false);
        return;
    }
    shutdown(c->fd, SHUT_WR);
    s->len = s->pos = 0;
    MK_TRACE(epoll_state, c->fd, "SET: CHANGE"); /* out of MK_HTTP_WRITE */
    set_state(c, MK_HTTP_LINGER);
    mk_sched_timer_set(c, MK_TLIST_LINGER, MK_TIMEOUT_LINGER); /* response sent: no stall */
}

static int do_linger(struct mk_conn *c, struct mk_http_session *s)
{
    char tmp[MK_LINGER_BUF];
    for (int i = 0; i < 16; i++) {
        ssize_t n = mk_conn_recv(c, tmp, sizeof(tmp));
        if (n > 0) {
            c->bytes_in += (uint64_t)n;
            continue;
        }
        if (n < 0 && errno == EAGAIN)
            return MK_AGAIN;
        mk_sched_conn_close(c, s->status >= 400 ? MK_CLOSE_ERROR_STATUS : MK_CLOSE_DONE, false);
        return MK_ERROR;
    }
    mk_sched_conn_post(c);
    return MK_AGAIN;
}

/* ---- pipelining: responses gathered, then sent together ----------------------------------- */

/* Send the batch, then v[1..nv) (what is left of the response being written, if any).  The
 * batch is freed once sent; what it sent of v[] is taken off s->iov.  MK_OK when the batch
 * is sent, MK_AGAIN to wait for room (what is left of the batch stays at its start),
 * MK_ERROR when the connection was closed.  A system call under both loops: a batch exists
 * only between responses, never while a send is in flight. */
static int batch_send(struct mk_conn *c, struct mk_http_session *s, struct iovec *v, int nv)
{
    for (;;) {
        v[0].iov_base = s->batch;
        v[0].iov_len = s->batch_len;
        struct msghdr m = {.msg_iov = v, .msg_iovlen = (size_t)nv};
        ssize_t n = mk_conn_sendmsg_now(c, &m, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN)
                return MK_AGAIN;
            if (errno == EINTR)
                continue;
            write_failed(c, s, MK_ESITE_WRITE);
            return MK_ERROR;
        }
        c->bytes_out += (uint64_t)n;
        if ((size_t)n < s->batch_len) {
            /* a short send: the socket is full, the next call says EAGAIN */
            s->batch_len -= (uint32_t)n;
            memmove(s->batch, s->batch + n, s->batch_len);
            continue;
        }
        n -= (ssize_t)s->batch_len;
        free(s->batch);
        s->batch = NULL;
        s->batch_len = 0;
        s->bytes_sent += (uint64_t)n;
        iov_advance(s, (size_t)n);
        return MK_OK;
    }
}

__attribute__((cold, noinline)) static int batch_flush(struct mk_conn *c,
                                                       struct mk_http_session *s)
{
    struct iovec v[1];
    return batch_send(c, s, v, 1);
}

/* A response about to be written while more input is buffered, or with responses gathered
 * before it.  A response complete in memory (no sendfile body, no multipart), not begun,
 * with a request after it and the connection kept, joins the batch when it fits: it is
 * then done (MK_OK), as if sent.  Its log line and request_end come now, in order; its
 * bytes leave with the batch, before the server reads again or writes anything else.  The
 * last response of a batch, complete in memory, leaves with it in one sendmsg; any other
 * is written after it.  1: write the response (what is left of it) as usual; MK_AGAIN /
 * MK_ERROR as batch_send. */
__attribute__((cold, noinline)) static int write_pipelined(struct mk_conn *c,
                                                           struct mk_http_session *s)
{
    int rc = MK_OK;

    /* msg.msg_iov: do_write has begun this response (under io_uring its send may still be
     * in flight, and iov[] is then what it sends). */
    if (!s->msg.msg_iov && !s->ranges && s->file_off >= s->file_end) {
        size_t n = 0;
        for (unsigned i = s->iovpos; i < s->iovcnt; i++)
            n += s->iov[i].iov_len;
        if (n <= MK_BATCH_MAX - s->batch_len && s->pos < s->len && !s->close_after &&
            !empty_lines_only(s, s->pos)) {
            if (!s->batch)
                s->batch = mk_xmalloc(MK_BATCH_MAX);
            for (unsigned i = s->iovpos; i < s->iovcnt; i++) {
                memcpy(s->batch + s->batch_len, s->iov[i].iov_base, s->iov[i].iov_len);
                s->batch_len += (uint32_t)s->iov[i].iov_len;
            }
            s->iovpos = s->iovcnt;
            s->bytes_sent += n;
            return MK_OK;
        }
        if (s->batch_len) {
            struct iovec v[1 + MK_ARRAY_SIZE(s->iov)];
            int nv = 1;
            for (unsigned i = s->iovpos; i < s->iovcnt; i++)
                v[nv++] = s->iov[i];
            rc = batch_send(c, s, v, nv);
        }
    } else if (s->batch_len) {
        rc = batch_flush(c, s);
    }
    if (rc == MK_AGAIN)
        iov_privatize(s); /* nothing may wait in a shared buffer */
    return rc == MK_OK ? 1 : rc;
}

/* Read more input into the session buffer.  MK_OK: bytes added; MK_AGAIN: nothing now;
 * MK_ERROR: the connection was closed. */
static int do_read(struct mk_conn *c, struct mk_http_session *s)
{
    size_t in_cap = c->state == MK_HTTP_READ_BODY ? s->cap + MK_BODY_ROOM : s->cap;
    size_t room = s->len < in_cap ? in_cap - s->len : 0;
    ssize_t n;

    if (!c->rd_ready || room == 0)
        return MK_AGAIN;
    n = mk_conn_recv(c, s->buf + s->len, room);
    if (n > 0) {
        s->len += (uint32_t)n;
        c->bytes_in += (uint64_t)n;
        return MK_OK;
    }
    if (n == 0) {
        /* The client went away (or half-closed with no complete request): nothing left. */
        mk_sched_conn_close(c, MK_CLOSE_PEER, true);
        return MK_ERROR;
    }
    if (errno == EAGAIN)
        return MK_AGAIN;
    if (errno == EINTR)
        return MK_OK;
    MK_TRACE(error, c->id, MK_ESITE_READ, errno, 0);
    mk_sched_conn_close(c, MK_CLOSE_RESET, true);
    return MK_ERROR;
}

/* Swap the small buffer for one of MaxRequestSize, keeping the bytes received. */
static struct mk_http_session *session_grow(struct mk_conn *c, struct mk_http_session *s)
{
    struct mk_http_worker *hw = hw_of(c);
    struct mk_http_session *big = session_new(hw, true);
    memcpy(big->buf, s->buf, s->len);
    big->len = s->len;
    big->pos = s->pos;
    big->last_len = s->last_len;
    big->batch = s->batch; /* responses gathered before this long head go first */
    big->batch_len = s->batch_len;
    s->batch = NULL;
    s->batch_len = 0;
    session_free(hw, s);
    c->session = big;
    return big;
}

/* Body skipping: consume [pos, len) as body bytes.  Returns 1 when the body is complete,
 * 0 when more is needed, or a negative status on a framing error. */
static int consume_chunked(struct mk_http_session *s)
{
    size_t used;
    int rc = mk_http_chunked_consume(&s->chunked, s->buf + s->pos, s->len - s->pos,
                                     cfg->max_request_size, &used);
    s->pos += (uint32_t)used;
    return rc;
}

static int consume_body(struct mk_http_session *s)
{
    if (s->req.chunked)
        return consume_chunked(s);
    uint64_t n = MK_MIN(s->body_left, (uint64_t)(s->len - s->pos));
    s->pos += (uint32_t)n;
    s->body_left -= n;
    return s->body_left == 0;
}

/* The head is parsed: check framing, then read the body or answer at once. */
static void on_head(struct mk_conn *c, struct mk_http_session *s)
{
    const struct mk_http_request *r = &s->req;

    s->parsed = true;
    s->pos = r->head_len;
    s->head_only = r->method == MK_METHOD_HEAD;
    s->input_pending =
        r->chunked || (r->content_length != MK_HTTP_CL_NONE && r->content_length > 0);
    trace_request_begin(c, s);

    if (r->content_length != MK_HTTP_CL_NONE && r->content_length > cfg->max_request_size) {
        MK_TRACE(error, c->id, MK_ESITE_LIMIT, 0, 413);
        respond_error(c, s, 413, NULL);
        return;
    }
    if (r->method == MK_METHOD_POST && r->content_length == MK_HTTP_CL_NONE && !r->chunked) {
        s->input_pending = true; /* a body of unknown length may be on its way */
        respond_error(c, s, 411, NULL);
        return;
    }
    if (s->input_pending && r->expect_continue && r->protocol == MK_PROTO_HTTP11 &&
        answer_before_continue(c, s))
        return;
    if (s->input_pending) { /* a body is announced */
        s->body_left = r->chunked ? 0 : r->content_length;
        memset(&s->chunked, 0, sizeof(s->chunked));
        set_state(c, MK_HTTP_READ_BODY);
        return;
    }
    handle_request(c, s);
}

/* Timers follow waits, not states: a request read, answered and sent within one event
 * never leaves the keep-alive list (two list moves fewer per request).  A wait of `kind`
 * starts the request timer once; only `progress` restarts it.  So later reads of the same
 * request do not push its deadline back (slowloris).  A response waiting for room has its
 * own, mk_sched_write_wait(): there wake-ups by input do not push the deadline back, and
 * writes or bytes the peer acknowledged do. */
static void wait_for(struct mk_conn *c, enum mk_timeout_kind kind, bool progress)
{
    if (progress || c->tlist != MK_TLIST_REQUEST || c->tkind != kind)
        mk_sched_timer_set(c, MK_TLIST_REQUEST, kind);
}

/* Gathered responses leave before the server reads, or waits for, more input (and before
 * a 100 Continue).  MK_OK when sent; MK_AGAIN (waiting for room) / MK_ERROR as batch_send. */
static int flush_before_read(struct mk_conn *c, struct mk_http_session *s)
{
    uint64_t out = c->bytes_out;
    int rc = batch_flush(c, s);
    if (rc == MK_AGAIN)
        mk_sched_write_wait(c, c->bytes_out != out);
    return rc;
}

/* Parse what has been received; MK_OK when the state moved on, MK_AGAIN when waiting. */
static int step_read_head(struct mk_conn *c)
{
    struct mk_http_session *s = c->session;
    int rc;

    if (!s) {
        if (!c->rd_ready)
            return MK_AGAIN;
        s = session_new(hw_of(c), false);
        c->session = s;
    }
    for (;;) {
        if (s->len > s->pos) {
            /* A body read ends with what follows it, up to MK_BODY_ROOM past cap: the next
             * head is parsed within cap all the same (MaxRequestSize is per request). */
            uint32_t avail = MK_MIN(s->len, s->cap);
            rc = mk_http_parse_request(s->buf, avail, s->last_len, cfg->max_request_size, &s->req);
            if (rc > 0) {
                on_head(c, s);
                return MK_OK;
            }
            if (rc == MK_ERROR) {
                MK_TRACE(error, c->id, MK_ESITE_PARSE, 0, s->req.status);
                s->pos = s->len;
                s->input_pending = true;
                trace_request_begin(c, s);
                s->head_only = s->req.method == MK_METHOD_HEAD;
                respond_error(c, s, s->req.status, NULL);
                return MK_OK;
            }
            s->last_len = avail;
            if (avail >= s->cap) {
                if (s->cap < cfg->max_request_size) {
                    s = session_grow(c, s);
                } else {
                    /* Past MaxRequestSize: 414 when even the request line is not complete.
                     * One parse of the whole buffer from its start recovers what of the
                     * request line there is (session_grow and the resumed parses do not
                     * keep it), for request_begin and HEAD; the fields stay unread. */
                    size_t lead = 0; /* empty lines before the request line (9112 2.2) */
                    while (lead < avail && (s->buf[lead] == '\r' || s->buf[lead] == '\n'))
                        lead++;
                    uint16_t status = memchr(s->buf + lead, '\n', avail - lead) ? 413 : 414;
                    (void)mk_http_parse_request(s->buf, avail, 0, cfg->max_request_size, &s->req);
                    s->req.status = status;
                    MK_TRACE(error, c->id, MK_ESITE_LIMIT, 0, status);
                    s->pos = s->len;
                    s->input_pending = true;
                    trace_request_begin(c, s);
                    s->head_only = s->req.method == MK_METHOD_HEAD;
                    respond_error(c, s, status, NULL);
                    return MK_OK;
                }
            }
            /* Not after a complete head: an ordinary request never gets here. */
            if (mk_unlikely(s->batch_len) && (rc = flush_before_read(c, s)) != MK_OK)
                return rc;
        }
        uint32_t before = s->len;
        rc = do_read(c, s);
        if (rc == MK_ERROR)
            return MK_ERROR;
        if (rc == MK_AGAIN) {
            if (s->len == 0 || c->state == MK_HTTP_IDLE) {
                /* Woken with nothing to read, or only empty lines (dropped): give the
                 * memory back while idle. */
                session_free(hw_of(c), s);
                c->session = NULL;
            } else {
                wait_for(c, MK_TIMEOUT_REQ_INCOMPLETE, false);
            }
            return MK_AGAIN;
        }
        if (c->state == MK_HTTP_IDLE && !empty_lines_only(s, before))
            set_state(c, MK_HTTP_READ_HEAD);
    }
}

/* The interim 100 Continue, in one try.  A socket with no room for it (the client has not
 * read the answers before) skips it: RFC 9110 10.1.1 lets a server not send it, and the
 * client sends its body after waiting.  What a short send left goes first, as the batch:
 * nothing else may leave, and no input is read, before it (flush_before_read).  MK_OK when
 * the body may be read; MK_AGAIN / MK_ERROR as batch_send. */
__attribute__((cold, noinline)) static int send_continue(struct mk_conn *c,
                                                         struct mk_http_session *s)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    ssize_t n = send(c->fd, cont, sizeof(cont) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);

    s->continue_sent = true;
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return MK_OK; /* skipped */
        write_failed(c, s, MK_ESITE_WRITE);
        return MK_ERROR;
    }
    c->bytes_out += (uint64_t)n;
    if ((size_t)n == sizeof(cont) - 1)
        return MK_OK;
    /* a short send: the rest before anything else (the batch is empty here) */
    if (!s->batch)
        s->batch = mk_xmalloc(MK_BATCH_MAX);
    s->batch_len = (uint32_t)(sizeof(cont) - 1 - (size_t)n);
    memcpy(s->batch, cont + n, s->batch_len);
    return flush_before_read(c, s);
}

static int step_read_body(struct mk_conn *c)
{
    struct mk_http_session *s = c->session;
    for (;;) {
        int rc = consume_body(s);
        if (rc < 0) {
            /* 413: the body passed MaxRequestSize (a limit, as for a Content-Length that
             * announces too much); 400: its chunked framing is broken. */
            MK_TRACE(error, c->id, rc == -413 ? MK_ESITE_LIMIT : MK_ESITE_PARSE, 0, -rc);
            s->pos = s->len;
            respond_error(c, s, -rc, NULL);
            return MK_OK;
        }
        if (rc == 1) {
            s->input_pending = false;
            if (s->file)
                answer_after_body(c, s); /* looked up before the 100 Continue */
            else
                handle_request(c, s);
            return MK_OK;
        }
        if (s->batch_len && (rc = flush_before_read(c, s)) != MK_OK)
            return rc;
        if (s->req.expect_continue && !s->continue_sent && s->req.protocol == MK_PROTO_HTTP11 &&
            (rc = send_continue(c, s)) != MK_OK)
            return rc;
        /* All buffered input is body: reuse the space after the head for more. */
        s->len = s->pos = s->req.head_len;
        rc = do_read(c, s);
        if (rc == MK_AGAIN)
            wait_for(c, MK_TIMEOUT_REQ_INCOMPLETE, false);
        if (rc != MK_OK)
            return rc;
    }
}

static void http_run(struct mk_conn *c)
{
    int handled = 0;

    for (;;) {
        int rc;
        switch (c->state) {
        case MK_HTTP_IDLE:
        case MK_HTTP_READ_HEAD:
            if (handled >= MK_REQUESTS_PER_RUN) {
                mk_sched_conn_post(c);
                return;
            }
            rc = step_read_head(c);
            break;
        case MK_HTTP_READ_BODY:
            rc = step_read_body(c);
            break;
        case MK_HTTP_WRITE: {
            if (!c->wr_ready) {
                iov_privatize(c->session); /* nothing may wait in a shared buffer */
                mk_sched_write_wait(c, false);
                return;
            }
            uint64_t out = c->bytes_out;
            struct mk_http_session *s = c->session;
            rc = 1;
            /* pipelined input (pos <= len), or responses gathered before this one */
            if (mk_unlikely(((s->len - s->pos) | s->batch_len) != 0))
                rc = write_pipelined(c, s); /* MK_OK: gathered, done */
            if (rc > 0)
                rc = do_write(c, s);
            if (rc == MK_OK) {
                handled++;
                finish_request(c, c->session);
            } else if (rc == MK_AGAIN) {
                /* waiting for room, or yielding after MK_SENDFILE_PER_RUN */
                mk_sched_write_wait(c, c->bytes_out != out);
            }
            break;
        }
        case MK_HTTP_LINGER:
            rc = do_linger(c, c->session);
            break;
        default:
            rc = MK_ERROR;
            break;
        }
        if (rc != MK_OK || c->closed)
            return;
    }
}

/* ---- scheduler hooks ---------------------------------------------------------------------- */

/* A worker's cache keeps at most an eighth of its share of RLIMIT_NOFILE open: the rest is
 * for connections (and a file opened past the cap is served uncached). */
static uint32_t file_cache_fds(int workers)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
        return 0;
    uint64_t n = (uint64_t)rl.rlim_cur / 8 / (uint64_t)(workers > 0 ? workers : 1);
    return n < 4 ? 4 : n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

static void *http_worker_init(struct mk_worker *w)
{
    struct mk_http_worker *hw = mk_xcalloc(1, sizeof(*hw));
    mk_http_configure(w->cfg->proto_config);
    struct mk_file_cache_config fcc = {
        .mime = cfg->mime,
        .default_mime = cfg->default_mime,
        .indexfiles = cfg->indexfiles,
        .nindex = cfg->nindex,
        .symlink = cfg->symlink,
        .max_entries = cfg->file_cache_entries,
        .max_fds = file_cache_fds(w->cfg->workers),
        .small_max = cfg->file_cache_small,
        .mem_max = 64u << 20,
    };
    hw->files = mk_file_cache_new(&fcc);
    mk_access_log_worker_init(&hw->alog);
    return hw;
}

static void free_sessions(struct mk_http_session *s)
{
    while (s) {
        struct mk_http_session *n = s->next_free;
        free(s->buf);
        free(s);
        s = n;
    }
}

static void http_worker_exit(struct mk_worker *w)
{
    struct mk_http_worker *hw = w->proto_ctx;
    free_sessions(hw->free_small);
    free_sessions(hw->free_large);
    mk_access_log_worker_exit(&hw->alog);
    mk_file_cache_free(hw->files);
    free(hw);
}

static void http_on_tick(struct mk_worker *w)
{
    struct mk_http_worker *hw = w->proto_ctx;
    /* Log lines reach the disk at least once a second. */
    mk_access_log_worker_flush(&hw->alog);
    mk_file_cache_expire(hw->files, MK_FILE_CACHE_IDLE);
}

static void http_on_accept(struct mk_conn *c)
{
    c->state = MK_HTTP_IDLE;
    mk_sched_timer_set(c, MK_TLIST_REQUEST, MK_TIMEOUT_CONN_PENDING);
}

static void http_on_ready(struct mk_conn *c)
{
    http_run(c);
}

/* A request head, or the body of a request, that did not arrive within Timeout has its
 * access-log line, as nginx logs it: status 408, what arrived of the request line, no body
 * bytes, under the site its Host names if the parser read one.  An idle keep-alive
 * connection has none (nor 408). */
__attribute__((cold, noinline)) static void log_timeout(struct mk_conn *c,
                                                        struct mk_http_session *s)
{
    s->status = 408;
    if (!s->vh)
        s->vh = refused_vhost(s);
    log_request(c, s, false);
}

/* A head that did not arrive in time is a request answered, as a 400 or a 413 for a head
 * refused before its end is: its 408 has an access-log line, so it has its request_begin
 * (what of the request line arrived, read again from the start as for a 414) and, at the
 * close, its request_end, and it counts in conn_close.requests and worker_stats.requests.
 * Its duration runs from the accept for a connection's first request, else from the second
 * its first bytes armed the head timer (the timer's deadline less Timeout). */
__attribute__((cold, noinline)) static void begin_timed_out(struct mk_conn *c,
                                                            struct mk_http_session *s)
{
    (void)mk_http_parse_request(s->buf, MK_MIN(s->len, s->cap), 0, cfg->max_request_size,
                                &s->req);
    trace_request_begin(c, s);
    if (c->requests == 0)
        s->start_ns = c->start_ns;
    else
        s->start_ns = (uint64_t)(c->deadline - c->worker->cfg->timeout[MK_TLIST_REQUEST] - 1) *
                      1000000000u;
}

static void http_on_timeout(struct mk_conn *c)
{
    struct mk_http_session *s = c->session;
    /* (Not while gathered responses wait for the client to read: that is a write timeout.) */
    if (s && !s->batch_len &&
        ((c->state == MK_HTTP_READ_HEAD && s->len > 0) || c->state == MK_HTTP_READ_BODY)) {
        /* A request that did not arrive in time: say so before closing, in one try (the
         * connection closes whatever happens).  Date is a MUST (RFC 9110 6.6.1). */
        char resp[256];
        struct hbuf b = {resp, 0, sizeof(resp)};
        put_status_line(&b, 408);
        HB_LIT(&b, "Content-Length: 0\r\nConnection: Close\r\n\r\n");
        ssize_t n = send(c->fd, b.p, b.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0)
            c->bytes_out += (uint64_t)n;
        log_timeout(c, s);
        if (!s->begun)
            begin_timed_out(c, s);
    }
    mk_sched_conn_close(c, MK_CLOSE_TIMEOUT, false);
}

/* A body the client stopped sending (it closed or reset the connection before its end) has
 * its access-log line, as nginx logs it: status 400, no body bytes; nothing is answered. */
__attribute__((cold, noinline)) static void log_body_cut(struct mk_conn *c,
                                                         struct mk_http_session *s)
{
    s->status = 400;
    if (!s->vh)
        s->vh = refused_vhost(s);
    log_request(c, s, false);
}

static void http_on_close(struct mk_conn *c, enum mk_close_reason reason)
{
    struct mk_http_session *s = c->session;
    if (s && s->begun) {
        /* The connection ends in the middle of this request (reset, timeout, shutdown):
         * every request_begin still gets its request_end, with what was sent, and the
         * request counts in conn_close and worker_stats like any other. */
        if (MK_TRACE_ENABLED(request_end))
            MK_TRACE_DO(request_end, c->id, s->req_seq, s->status, s->bytes_sent,
                        mk_clock_ns() - s->start_ns, 0);
        /* A response begun and cut short (the client reset, the file shrank, the grace
         * period ended) still has its access-log line, with the body bytes it sent, as
         * nginx and Apache log it.  A 408 was logged by http_on_timeout().  No line for a
         * body cut by the end of the grace period (the server's doing), nor for one never
         * read because gathered answers waited for the client to read them (a write
         * timeout, no 408: nginx would not have read that request either). */
        if (c->state == MK_HTTP_WRITE && s->status)
            log_request(c, s, true);
        else if (c->state == MK_HTTP_READ_BODY && !s->status && reason != MK_CLOSE_SHUTDOWN &&
                 reason != MK_CLOSE_TIMEOUT)
            log_body_cut(c, s);
        c->requests++;
        c->worker->requests++;
    }
    if (s) {
        free(s->batch); /* responses gathered and never sent */
        s->batch = NULL;
        session_free(hw_of(c), c->session);
        c->session = NULL;
    }
}

/* Not a lingering connection: its answer may still be in the socket buffers, and a close
 * with input arriving is a RST that destroys it.  It ends by itself, within the linger time
 * (and the grace period bounds it). */
static bool http_is_idle(struct mk_conn *c)
{
    struct mk_http_session *s = c->session;
    return c->state == MK_HTTP_IDLE || (c->state == MK_HTTP_READ_HEAD && (!s || s->len == 0));
}

const struct mk_proto mk_http_proto = {
    .worker_init = http_worker_init,
    .worker_exit = http_worker_exit,
    .on_accept = http_on_accept,
    .on_ready = http_on_ready,
    .on_timeout = http_on_timeout,
    .on_close = http_on_close,
    .on_tick = http_on_tick,
    .is_idle = http_is_idle,
};

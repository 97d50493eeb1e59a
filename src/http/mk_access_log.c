#include "mk_access_log.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/mk_clock.h"
#include "../core/mk_core.h"
#include "mk_http_status.h"

/* Request line / referer / user agent bytes kept per line; a field cut there ends in "...". */
#define MK_LOG_FIELD_MAX 4096
#define MK_LOG_CUT "..."
_Static_assert(3 * (4 * MK_LOG_FIELD_MAX + sizeof(MK_LOG_CUT)) + 256 <= MK_LOGBUF_SIZE,
               "a line with three fields at their maximum must fit a log buffer");

void mk_access_log_worker_init(struct mk_access_log_worker *w)
{
    memset(w, 0, sizeof(*w));
    w->nbufs = mk_logfile_count();
    if (w->nbufs)
        w->bufs = mk_xcalloc((size_t)w->nbufs, sizeof(*w->bufs));
}

void mk_access_log_worker_flush(struct mk_access_log_worker *w)
{
    for (int i = 0; i < w->nbufs; i++)
        if (w->bufs[i].file)
            mk_logbuf_flush(&w->bufs[i]);
}

void mk_access_log_worker_exit(struct mk_access_log_worker *w)
{
    for (int i = 0; i < w->nbufs; i++)
        if (w->bufs[i].file)
            mk_logbuf_free(&w->bufs[i]);
    free(w->bufs);
    w->bufs = NULL;
}

static void refresh_date(struct mk_access_log_worker *w)
{
    if (w->date_sec == mk_clock.now)
        return;
    struct tm tm;
    w->date_sec = mk_clock.now;
    gmtime_r(&w->date_sec, &tm);
    strftime(w->date, sizeof(w->date), "%d/%b/%Y:%H:%M:%S +0000", &tm);
}

/* Copy request bytes into the log, escaping '"', '\' and anything not printable as \xHH
 * (nginx's rule), so a line can never be forged or broken by what a client sends. */
static size_t put_escaped(char *dst, const char *src, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0, n = len > MK_LOG_FIELD_MAX ? MK_LOG_FIELD_MAX : len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)src[i];
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
            dst[o++] = '\\';
            dst[o++] = 'x';
            dst[o++] = hex[c >> 4];
            dst[o++] = hex[c & 15];
        } else {
            dst[o++] = (char)c;
        }
    }
    if (n < len) {
        memcpy(dst + o, MK_LOG_CUT, sizeof(MK_LOG_CUT) - 1);
        o += sizeof(MK_LOG_CUT) - 1;
    }
    return o;
}

/* Room a field may take once escaped (x4) and cut. */
static size_t escaped_max(size_t len)
{
    return 4 * (len > MK_LOG_FIELD_MAX ? MK_LOG_FIELD_MAX : len) + sizeof(MK_LOG_CUT);
}

static size_t put_str(char *dst, const char *s)
{
    size_t n = strlen(s);
    memcpy(dst, s, n);
    return n;
}

static size_t put_peer(char *dst, const struct mk_conn *c)
{
    char host[INET6_ADDRSTRLEN] = "-";
    const union mk_sockaddr *a = &c->peer;
    if (a->sa.sa_family == AF_INET6) {
        if (IN6_IS_ADDR_V4MAPPED(&a->in6.sin6_addr))
            inet_ntop(AF_INET, &a->in6.sin6_addr.s6_addr[12], host, sizeof(host));
        else
            inet_ntop(AF_INET6, &a->in6.sin6_addr, host, sizeof(host));
    } else if (a->sa.sa_family == AF_INET) {
        inet_ntop(AF_INET, &a->in4.sin_addr, host, sizeof(host));
    }
    return put_str(dst, host);
}

static struct mk_logbuf *buf_for(struct mk_access_log_worker *w, struct mk_logfile *f)
{
    int id = mk_logfile_id(f);
    if (id >= w->nbufs)
        return NULL;
    if (!w->bufs[id].file)
        mk_logbuf_init(&w->bufs[id], f);
    return &w->bufs[id];
}

void mk_access_log_write(struct mk_access_log_worker *w, const struct mk_conn *c,
                         const struct mk_vhost *vh, const char *req_line, size_t req_line_len,
                         const struct mk_http_request *r, int status, uint64_t body_bytes)
{
    struct mk_logbuf *b;
    char *p;
    size_t o;
    /* Worst case for these fields once escaped, and the fixed parts: reserved, not a fixed
     * maximum, so that the buffer fills with short lines before it is handed over. */
    size_t line_max = escaped_max(req_line_len) + 256;
    if (r)
        line_max += escaped_max(r->referer.p ? r->referer.len : 0) +
                    escaped_max(r->user_agent.p ? r->user_agent.len : 0);

    refresh_date(w);
    if (vh->access && (b = buf_for(w, vh->access)) && (p = mk_logbuf_reserve(b, line_max))) {
        o = put_peer(p, c);
        o += put_str(p + o, " - - [");
        o += put_str(p + o, w->date);
        o += put_str(p + o, "] \"");
        o += put_escaped(p + o, req_line, req_line_len);
        p[o++] = '"';
        p[o++] = ' ';
        o += mk_u64_to_str(p + o, (uint64_t)status);
        p[o++] = ' ';
        if (body_bytes)
            o += mk_u64_to_str(p + o, body_bytes);
        else
            p[o++] = '-';
        o += put_str(p + o, " \"");
        if (r && r->referer.p && r->referer.len)
            o += put_escaped(p + o, r->referer.p, r->referer.len);
        else
            p[o++] = '-';
        o += put_str(p + o, "\" \"");
        if (r && r->user_agent.p && r->user_agent.len)
            o += put_escaped(p + o, r->user_agent.p, r->user_agent.len);
        else
            p[o++] = '-';
        o += put_str(p + o, "\"\n");
        b->len += o;
    }
    if (status >= 400 && vh->errlog && (b = buf_for(w, vh->errlog)) &&
        (p = mk_logbuf_reserve(b, line_max))) {
        o = put_str(p, "[");
        o += put_str(p + o, w->date);
        o += put_str(p + o, "] [error] [client ");
        o += put_peer(p + o, c);
        o += put_str(p + o, "] ");
        o += mk_u64_to_str(p + o, (uint64_t)status);
        p[o++] = ' ';
        o += put_str(p + o, mk_http_reason(status));
        o += put_str(p + o, ": \"");
        o += put_escaped(p + o, req_line, req_line_len);
        o += put_str(p + o, "\"\n");
        b->len += o;
    }
}

/* `monkey-trace conn`: every event of one connection, from accept to close.
 *
 * Operator events name their connection (conn_id).  Seed events name only a file
 * descriptor: they belong to the connection that holds that fd, in the same process and
 * thread, from the accept sequence ("GET: NOT FOUND", "SET: NEW", "ADD_CLIENT",
 * "REGISTERED", then conn_accept) to the "DELETE_CLIENT" that follows its conn_close.
 *
 * Two passes over the trace: the first finds the connection(s) and the time window of each,
 * the second prints what falls inside. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mt.h"

void mt_format_event(const struct mt_event *ev, char *buf, size_t len);

struct target {
    uint32_t proc;
    uint64_t id;
    int64_t vtid;  /* -1: any */
    int64_t fd;    /* -1: unknown */
    int64_t worker;
    bool accepted, closed;
    int64_t accept_ts, close_ts;
    int64_t start, end; /* window for seed events */
    bool end_pending;   /* closed; waiting for DELETE_CLIENT */
    char peer[48];
    int64_t port;
    int64_t reason, requests;
    int64_t first_ts;   /* first event printed */
    int64_t prev_ts;
    uint64_t nevents, nseed;
    char *text;
    size_t textlen;
    FILE *out;
};

/* per (process, thread, fd), in an mt_fdtab: s = the previous seed event, a = its time,
 * b = where the latest accept sequence began ("GET: NOT FOUND" before "SET: NEW"), or 0 */

struct conn_ctx {
    int64_t want_id, want_fd;
    struct target *t;
    int nt;
    struct mt_fdtab keys;
    uint64_t seed_seen;
};

static struct target *target_find(struct conn_ctx *x, uint32_t proc, uint64_t id)
{
    for (int i = x->nt - 1; i >= 0; i--)
        if (x->t[i].proc == proc && x->t[i].id == id)
            return &x->t[i];
    return NULL;
}

static struct target *target_add(struct conn_ctx *x, uint32_t proc, uint64_t id)
{
    x->t = mt_xrealloc(x->t, (size_t)(x->nt + 1) * sizeof(*x->t));
    struct target *t = &x->t[x->nt++];
    memset(t, 0, sizeof(*t));
    t->proc = proc;
    t->id = id;
    t->vtid = -1;
    t->fd = -1;
    t->worker = -1;
    t->start = INT64_MIN;
    t->end = INT64_MAX;
    t->first_ts = -1;
    return t;
}

static bool is_seed(enum mt_kind k)
{
    return k == MT_EV_EPOLL || k == MT_EV_EPOLL_STATE || k == MT_EV_SCHEDULER;
}

static bool has_conn_id(const struct mt_event *ev)
{
    switch (ev->kind) {
    case MT_EV_CONN_ACCEPT:
    case MT_EV_CONN_CLOSE:
    case MT_EV_CONN_TIMEOUT:
    case MT_EV_REQUEST_BEGIN:
    case MT_EV_REQUEST_END:
    case MT_EV_REQUEST_HEADER:
        return true;
    case MT_EV_ERROR:
        /* conn_id 0 means "no connection" (ids start at 1): a refusal over MaxConnections,
         * an accept() or epoll failure */
        return ev->conn_id != 0;
    default:
        return false;
    }
}

static void pass1(void *ctx, const struct mt_event *ev)
{
    struct conn_ctx *x = ctx;

    if (is_seed(ev->kind)) {
        x->seed_seen++;
        struct mt_fdent *k = mt_fdtab_get(&x->keys, ev->proc, ev->vtid, ev->fd);
        if (ev->seed == MT_SEED_SET_NEW)
            k->b = k->s == MT_SEED_GET_NOT_FOUND ? k->a : ev->ts;
        k->s = (int32_t)ev->seed;
        k->a = ev->ts;
        if (ev->seed == MT_SEED_DELETE_CLIENT) {
            for (int i = 0; i < x->nt; i++) {
                struct target *t = &x->t[i];
                if (t->end_pending && t->proc == ev->proc && t->fd == ev->fd &&
                    (t->vtid < 0 || t->vtid == ev->vtid)) {
                    t->end = ev->ts;
                    t->end_pending = false;
                }
            }
        }
        return;
    }
    if (!has_conn_id(ev))
        return;

    struct target *t = target_find(x, ev->proc, ev->conn_id);
    if (!t) {
        if (x->want_id >= 0 && ev->conn_id != (uint64_t)x->want_id)
            return;
        if (x->want_fd >= 0) {
            bool fd_event = ev->kind == MT_EV_CONN_ACCEPT || ev->kind == MT_EV_CONN_CLOSE ||
                            ev->kind == MT_EV_CONN_TIMEOUT;
            if (!fd_event || ev->fd != x->want_fd)
                return;
        }
        t = target_add(x, ev->proc, ev->conn_id);
    }
    if (ev->vtid >= 0 && t->vtid < 0)
        t->vtid = ev->vtid;
    switch (ev->kind) {
    case MT_EV_CONN_ACCEPT: {
        t->accepted = true;
        t->accept_ts = ev->ts;
        t->fd = ev->fd;
        t->worker = ev->i[0];
        t->port = ev->i[1];
        snprintf(t->peer, sizeof(t->peer), "%.*s", (int)(ev->l1 < 47 ? ev->l1 : 47), ev->s1);
        struct mt_fdent *k = mt_fdtab_get(&x->keys, ev->proc, ev->vtid, ev->fd);
        t->start = k->b ? k->b : ev->ts;
        break;
    }
    case MT_EV_CONN_CLOSE:
        t->closed = true;
        t->close_ts = ev->ts;
        t->fd = ev->fd;
        t->reason = ev->i[0];
        t->requests = ev->i[1];
        t->end_pending = true;
        t->end = mt_class_present[MT_EV_SCHEDULER] ? INT64_MAX : ev->ts;
        break;
    case MT_EV_CONN_TIMEOUT:
        if (t->fd < 0)
            t->fd = ev->fd;
        break;
    default:
        break;
    }
}

static void emit(struct target *t, const struct mt_event *ev)
{
    char line[640];
    if (t->first_ts < 0) {
        t->first_ts = ev->ts;
        t->prev_ts = ev->ts;
    }
    mt_format_event(ev, line, sizeof(line));
    int64_t rel = ev->ts - t->first_ts, d = ev->ts - t->prev_ts;
    fprintf(t->out, "  %+4lld.%09lld  (+%lld.%09lld)  %s\n", (long long)(rel / 1000000000),
            (long long)(rel % 1000000000), (long long)(d / 1000000000),
            (long long)(d % 1000000000), line);
    t->prev_ts = ev->ts;
    t->nevents++;
    if (is_seed(ev->kind))
        t->nseed++;
}

static void pass2(void *ctx, const struct mt_event *ev)
{
    struct conn_ctx *x = ctx;
    if (is_seed(ev->kind)) {
        if (ev->seed == MT_SEED_TIMEOUT_CHECK)
            return;
        for (int i = 0; i < x->nt; i++) {
            struct target *t = &x->t[i];
            if (t->proc == ev->proc && t->fd == ev->fd && (t->vtid < 0 || t->vtid == ev->vtid) &&
                ev->ts >= t->start && ev->ts <= t->end)
                emit(t, ev);
        }
        return;
    }
    if (!has_conn_id(ev))
        return;
    for (int i = 0; i < x->nt; i++) {
        struct target *t = &x->t[i];
        if (t->proc == ev->proc && t->id == ev->conn_id)
            emit(t, ev);
    }
}

static const char *fmt_wall(int64_t ns, char *buf, size_t len)
{
    time_t s = (time_t)(ns / 1000000000LL);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%09lld UTC", (long long)(ns % 1000000000LL));
    return buf;
}

int mt_cmd_conn(struct mt_common *c, int64_t conn_id, int64_t fd)
{
    struct conn_ctx x;
    struct mt_read_stats rs;
    memset(&x, 0, sizeof(x));
    x.want_id = conn_id;
    x.want_fd = fd;

    struct mt_sink sink = {.ctx = &x, .event = pass1};
    if (mt_read(&c->ro, &sink, &rs) != 0)
        return 2;
    if (!x.nt) {
        fprintf(stderr, "monkey-trace conn: no connection with %s %lld in the trace\n",
                conn_id >= 0 ? "conn_id" : "fd", (long long)(conn_id >= 0 ? conn_id : fd));
        return 1;
    }
    for (int i = 0; i < x.nt; i++) {
        x.t[i].out = open_memstream(&x.t[i].text, &x.t[i].textlen);
        if (x.t[i].end_pending)
            x.t[i].end = INT64_MAX; /* no DELETE_CLIENT seen: up to the end */
    }
    sink.event = pass2;
    struct mt_read_stats rs2;
    if (mt_read(&c->ro, &sink, &rs2) != 0)
        return 2;

    for (int i = 0; i < x.nt; i++) {
        struct target *t = &x.t[i];
        char b1[64], b2[96], pl[96];
        fclose(t->out);
        printf("%sconnection %" PRIu64 " of pid %s", i ? "\n" : "", t->id,
               mt_proc_label(t->proc, pl, sizeof(pl)));
        if (t->accepted)
            printf(" (worker %lld, fd %lld, peer %s port %lld)\n", (long long)t->worker,
                   (long long)t->fd, t->peer, (long long)t->port);
        else if (t->fd >= 0)
            printf(" (fd %lld)\n", (long long)t->fd);
        else
            printf(" (fd unknown: no event of it carries one)\n");
        if (t->accepted)
            printf("  accepted %s\n", fmt_wall(t->accept_ts, b2, sizeof(b2)));
        else
            printf("  accepted before the trace began\n");
        if (t->closed)
            printf("  closed after %s: %s, %lld requests\n",
                   t->accepted ? mt_fmt_ns((uint64_t)(t->close_ts - t->accept_ts), b1, sizeof(b1))
                               : "?",
                   mt_close_reason(t->reason), (long long)t->requests);
        else
            printf("  still open when the trace ended\n");
        printf("  %" PRIu64 " events (%" PRIu64 " seed events%s); times relative to the first, "
               "(+) since the previous\n",
               t->nevents, t->nseed, x.seed_seen ? "" : ": none recorded in this trace");
        fwrite(t->text, 1, t->textlen, stdout);
        free(t->text);
    }
    if (!mt_have_vpid) {
        printf("\n");
        mt_vpid_note(stdout);
    }
    if (rs.discarded || rs.discarded_unknown)
        printf("\nWARNING: the tracer discarded %" PRIu64 "%s events: some may be missing here\n",
               rs.discarded, rs.discarded_unknown ? " or more" : "");
    free(x.t);
    mt_fdtab_free(&x.keys);
    return 0;
}

/* ---- one event as text (conn, check) ------------------------------------------------------- */

void mt_format_event(const struct mt_event *ev, char *buf, size_t len)
{
    char a[1300], b[820], t1[32];
    const char *n = ev->name && !strncmp(ev->name, "monkey:", 7) ? ev->name + 7 : ev->name;
    switch (ev->kind) {
    case MT_EV_EPOLL:
    case MT_EV_EPOLL_STATE:
    case MT_EV_SCHEDULER:
        snprintf(buf, len, "%-14s fd %lld %s", n, (long long)ev->fd,
                 mt_printable(ev->s1, ev->l1, a, 64));
        break;
    case MT_EV_CONN_ACCEPT:
        snprintf(buf, len, "%-14s conn %" PRIu64 " fd %lld worker %lld peer %s port %lld", n,
                 ev->conn_id, (long long)ev->fd, (long long)ev->i[0],
                 mt_printable(ev->s1, ev->l1, a, 64), (long long)ev->i[1]);
        break;
    case MT_EV_CONN_CLOSE:
        snprintf(buf, len,
                 "%-14s conn %" PRIu64 " fd %lld reason %s, %lld requests, in %lld B, out %lld B, "
                 "lifetime %s",
                 n, ev->conn_id, (long long)ev->fd, mt_close_reason(ev->i[0]), (long long)ev->i[1],
                 (long long)ev->i[2], (long long)ev->i[3], mt_fmt_ns((uint64_t)ev->i[4], t1, 32));
        break;
    case MT_EV_CONN_TIMEOUT:
        snprintf(buf, len, "%-14s conn %" PRIu64 " fd %lld kind %s", n, ev->conn_id,
                 (long long)ev->fd, mt_timeout_kind(ev->i[0]));
        break;
    case MT_EV_REQUEST_BEGIN:
        snprintf(buf, len, "%-14s conn %" PRIu64 " #%lld %s %s %s host %s", n, ev->conn_id,
                 (long long)ev->i[0], mt_method(ev->i[1]), mt_printable(ev->s1, ev->l1, a, 300),
                 mt_protocol(ev->i[2]), mt_printable(ev->s2, ev->l2, b, 100));
        break;
    case MT_EV_REQUEST_END:
        snprintf(buf, len, "%-14s conn %" PRIu64 " #%lld status %lld, %lld bytes, %s%s", n,
                 ev->conn_id, (long long)ev->i[0], (long long)ev->i[1], (long long)ev->i[2],
                 mt_fmt_ns((uint64_t)ev->i[3], t1, 32), ev->i[4] ? ", keep-alive" : ", close");
        break;
    case MT_EV_REQUEST_HEADER:
        snprintf(buf, len, "%-14s conn %" PRIu64 " #%lld %s: %s", n, ev->conn_id,
                 (long long)ev->i[0], mt_printable(ev->s1, ev->l1, a, 100),
                 mt_printable(ev->s2, ev->l2, b, 200));
        break;
    case MT_EV_ERROR:
        snprintf(buf, len, "%-14s conn %" PRIu64 " site %s errno %s status %lld", n, ev->conn_id,
                 mt_error_site(ev->i[0]), ev->i[1] ? mt_strerrno(ev->i[1]) : "0",
                 (long long)ev->i[2]);
        break;
    case MT_EV_WORKER_STATS:
        snprintf(buf, len,
                 "%-14s worker %lld active %lld accepted %lld closed %lld requests %lld", n,
                 (long long)ev->i[0], (long long)ev->i[1], (long long)ev->i[2],
                 (long long)ev->i[3], (long long)ev->i[4]);
        break;
    default:
        snprintf(buf, len, "%s", ev->name ? ev->name : "?");
        break;
    }
}

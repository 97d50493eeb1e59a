/* `monkey-trace check`: the invariants the server promises, verified on a trace.
 *
 * A trace may start or stop in the middle of a connection, so only connections whose
 * conn_accept is in the trace are judged, and nothing is held against what was still open
 * when the trace ended.  Memory: one entry per open connection, one per (thread, fd) number,
 * one bit per accepted connection id (to recognise events after a close). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"
#include "../../src/trace/mk_trace_enums.h"

void mt_format_event(const struct mt_event *ev, char *buf, size_t len);

enum { INV_COMPLETE, INV_SETNEW, INV_PAIRS, INV_AFTER_CLOSE, INV_STATS, INV_COUNT };

static const char *const inv_title[INV_COUNT] = {
    "the trace is complete (the tracer discarded no event)",
    "every epoll_state \"SET: NEW\" has its \"DELETE\"",
    "every request_begin has its request_end (same conn_id and req_seq)",
    "no event for a connection after its conn_close",
    "worker_stats counters agree with the events",
};

#define SHOW_MAX 20

struct wstate {
    uint32_t proc;
    int32_t id;
    bool have;     /* a previous worker_stats */
    bool tainted;  /* an event since it could not be attributed, or events were discarded */
    int64_t accepted, closed, requests; /* at the previous worker_stats */
    int64_t n_accept, n_close, n_end;   /* events since */
    int64_t last_ts;
};

struct tstate { /* per thread: closes waiting for their DELETE */
    uint32_t proc;
    int64_t vtid;
    int npending;
    int64_t pending_fd[8];
    uint64_t pending_conn[8];
    int64_t pending_ts[8];
};

struct page {
    uint32_t proc;
    uint64_t base; /* conn_id >> 16 */
    uint64_t bits[1024];
};

struct check_ctx {
    bool no_stats;
    uint64_t violations[INV_COUNT];
    uint64_t judged_conns, judged_requests, judged_intervals, judged_registrations;
    uint64_t skipped_intervals;
    char *shown[INV_COUNT];
    size_t shownlen[INV_COUNT];
    FILE *showf[INV_COUNT];
    int64_t t0;

    struct mt_conntab conns;
    struct mt_fdtab fds; /* s: registered (SET: NEW seen, no DELETE), a: when */
    struct wstate *w;
    int nw;
    struct tstate *th;
    int nth;
    struct { uint32_t proc; int64_t vtid; int32_t worker; } *vt;
    int nvt;
    struct page **pages;
    int npages;
};

static void violation(struct check_ctx *x, int inv, const struct mt_event *ev, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));

static void violation(struct check_ctx *x, int inv, const struct mt_event *ev, const char *fmt,
                      ...)
{
    x->violations[inv]++;
    if (x->violations[inv] > SHOW_MAX)
        return;
    char pl[96];
    va_list ap;
    FILE *f = x->showf[inv];
    if (ev)
        fprintf(f, "         at %+.6fs pid %s: ", (double)(ev->ts - x->t0) / 1e9,
                mt_proc_label(ev->proc, pl, sizeof(pl)));
    else
        fprintf(f, "         ");
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    if (ev) {
        char line[640];
        mt_format_event(ev, line, sizeof(line));
        fprintf(f, "\n           event: %s", line);
    }
    fputc('\n', f);
}

/* ---- accepted-id bitmap ------------------------------------------------------------------- */

static struct page *page_get(struct check_ctx *x, uint32_t proc, uint64_t id, bool create)
{
    static int last = -1;
    uint64_t base = id >> 16;
    if (last >= 0 && last < x->npages && x->pages[last]->proc == proc && x->pages[last]->base == base)
        return x->pages[last];
    for (int i = 0; i < x->npages; i++)
        if (x->pages[i]->proc == proc && x->pages[i]->base == base)
            return x->pages[last = i];
    if (!create)
        return NULL;
    x->pages = mt_xrealloc(x->pages, (size_t)(x->npages + 1) * sizeof(*x->pages));
    struct page *p = mt_xcalloc(1, sizeof(*p));
    p->proc = proc;
    p->base = base;
    x->pages[x->npages] = p;
    last = x->npages;
    return x->pages[x->npages++];
}

static bool was_accepted(struct check_ctx *x, uint32_t proc, uint64_t id)
{
    struct page *p = page_get(x, proc, id, false);
    return p && (p->bits[(id & 0xffff) >> 6] >> (id & 63) & 1);
}

static void set_accepted(struct check_ctx *x, uint32_t proc, uint64_t id)
{
    struct page *p = page_get(x, proc, id, true);
    p->bits[(id & 0xffff) >> 6] |= 1ULL << (id & 63);
}

/* ---- workers and threads -------------------------------------------------------------------- */

static struct wstate *wget(struct check_ctx *x, uint32_t proc, int32_t id)
{
    for (int i = 0; i < x->nw; i++)
        if (x->w[i].proc == proc && x->w[i].id == id)
            return &x->w[i];
    x->w = mt_xrealloc(x->w, (size_t)(x->nw + 1) * sizeof(*x->w));
    struct wstate *w = &x->w[x->nw++];
    memset(w, 0, sizeof(*w));
    w->proc = proc;
    w->id = id;
    return w;
}

static void vt_learn(struct check_ctx *x, uint32_t proc, int64_t vtid, int32_t worker)
{
    if (vtid < 0)
        return;
    for (int i = 0; i < x->nvt; i++)
        if (x->vt[i].proc == proc && x->vt[i].vtid == vtid) {
            x->vt[i].worker = worker;
            return;
        }
    x->vt = mt_xrealloc(x->vt, (size_t)(x->nvt + 1) * sizeof(*x->vt));
    x->vt[x->nvt].proc = proc;
    x->vt[x->nvt].vtid = vtid;
    x->vt[x->nvt].worker = worker;
    x->nvt++;
}

static int32_t vt_worker(struct check_ctx *x, uint32_t proc, int64_t vtid)
{
    if (vtid < 0)
        return -1;
    for (int i = 0; i < x->nvt; i++)
        if (x->vt[i].proc == proc && x->vt[i].vtid == vtid)
            return x->vt[i].worker;
    return -1;
}

/* an event counted by worker_stats, for the worker w (or -1: unknown) */
static void count_for(struct check_ctx *x, uint32_t proc, int32_t w, int what)
{
    if (w < 0) {
        for (int i = 0; i < x->nw; i++)
            if (x->w[i].proc == proc)
                x->w[i].tainted = true;
        return;
    }
    struct wstate *ws = wget(x, proc, w);
    if (what == 0)
        ws->n_accept++;
    else if (what == 1)
        ws->n_close++;
    else
        ws->n_end++;
}

static struct tstate *tget(struct check_ctx *x, uint32_t proc, int64_t vtid)
{
    for (int i = 0; i < x->nth; i++)
        if (x->th[i].proc == proc && x->th[i].vtid == vtid)
            return &x->th[i];
    x->th = mt_xrealloc(x->th, (size_t)(x->nth + 1) * sizeof(*x->th));
    struct tstate *t = &x->th[x->nth++];
    memset(t, 0, sizeof(*t));
    t->proc = proc;
    t->vtid = vtid;
    return t;
}

/* ---- the checks --------------------------------------------------------------------------- */

static void on_seed(struct check_ctx *x, const struct mt_event *ev)
{
    if (ev->kind == MT_EV_EPOLL && mt_have_vtid && ev->seed != MT_SEED_FORCED_CLOSE &&
        ev->seed != MT_SEED_OTHER) {
        /* The thread went back to its loop: closes it made must have their DELETE by now
         * (mk_sched_conn_close removes the fd before it returns). */
        struct tstate *t = tget(x, ev->proc, ev->vtid);
        for (int i = 0; i < t->npending; i++)
            violation(x, INV_SETNEW, ev,
                      "conn %" PRIu64 " (fd %lld) was closed at %+.6fs but its fd was never "
                      "deleted (no \"DELETE\") before the worker went on",
                      t->pending_conn[i], (long long)t->pending_fd[i],
                      (double)(t->pending_ts[i] - x->t0) / 1e9);
        t->npending = 0;
    }
    if (ev->kind != MT_EV_EPOLL_STATE)
        return;
    struct mt_fdent *e = mt_fdtab_get(&x->fds, ev->proc, ev->vtid, ev->fd);
    if (ev->seed == MT_SEED_SET_NEW) {
        if (e->s)
            violation(x, INV_SETNEW, ev,
                      "fd %lld registered again (\"SET: NEW\") without a \"DELETE\" since its "
                      "\"SET: NEW\" at %+.6fs",
                      (long long)ev->fd, (double)(e->a - x->t0) / 1e9);
        e->s = 1;
        e->a = ev->ts;
        x->judged_registrations++;
    } else if (ev->seed == MT_SEED_DELETE || ev->seed == MT_SEED_DELETE_NOT_FOUND) {
        e->s = 0;
        struct tstate *t = tget(x, ev->proc, mt_have_vtid ? ev->vtid : -1);
        for (int i = 0; i < t->npending; i++)
            if (t->pending_fd[i] == ev->fd) {
                if (ev->seed == MT_SEED_DELETE_NOT_FOUND)
                    violation(x, INV_SETNEW, ev,
                              "conn %" PRIu64 " closed but its fd %lld was not found in the "
                              "connection table (\"DELETE: NOT FOUND\")",
                              t->pending_conn[i], (long long)ev->fd);
                t->pending_fd[i] = t->pending_fd[t->npending - 1];
                t->pending_conn[i] = t->pending_conn[t->npending - 1];
                t->pending_ts[i] = t->pending_ts[t->npending - 1];
                t->npending--;
                break;
            }
    }
}

static bool names_conn(const struct mt_event *ev)
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
        return ev->conn_id != 0; /* 0: no connection (conn ids start at 1) */
    default:
        return false;
    }
}

static void check_event(void *ctx, const struct mt_event *ev)
{
    struct check_ctx *x = ctx;
    struct mt_conn *c;
    bool created;

    if (!x->t0)
        x->t0 = ev->ts;
    if (ev->kind == MT_EV_EPOLL || ev->kind == MT_EV_EPOLL_STATE || ev->kind == MT_EV_SCHEDULER) {
        on_seed(x, ev);
        return;
    }

    if (names_conn(ev)) {
        c = mt_ct_find(&x->conns, ev->proc, ev->conn_id);
        if (!c && ev->kind != MT_EV_CONN_ACCEPT && was_accepted(x, ev->proc, ev->conn_id)) {
            violation(x, INV_AFTER_CLOSE, ev, "event for conn %" PRIu64 " after its conn_close",
                      ev->conn_id);
            return;
        }
    }

    switch (ev->kind) {
    case MT_EV_CONN_ACCEPT:
        if (was_accepted(x, ev->proc, ev->conn_id))
            violation(x, INV_AFTER_CLOSE, ev, "conn_id %" PRIu64 " accepted twice", ev->conn_id);
        c = mt_ct_get(&x->conns, ev->proc, ev->conn_id, &created);
        c->accepted = 1;
        c->fd = (int32_t)ev->fd;
        c->worker = (int32_t)ev->i[0];
        c->vtid = ev->vtid;
        c->first_ts = ev->ts;
        set_accepted(x, ev->proc, ev->conn_id);
        x->judged_conns++;
        vt_learn(x, ev->proc, ev->vtid, (int32_t)ev->i[0]);
        count_for(x, ev->proc, (int32_t)ev->i[0], 0);
        break;

    case MT_EV_CONN_CLOSE: {
        c = mt_ct_find(&x->conns, ev->proc, ev->conn_id);
        int32_t w = c && c->worker >= 0 ? c->worker : vt_worker(x, ev->proc, ev->vtid);
        count_for(x, ev->proc, w, 1);
        if (!c)
            break;
        if (c->accepted) {
            if (c->req_open)
                violation(x, INV_PAIRS, ev,
                          "conn %" PRIu64 " closed with request #%u begun at %+.6fs and never "
                          "ended",
                          c->id, c->cur_seq, (double)(c->cur_begin_ts - x->t0) / 1e9);
            if ((uint64_t)ev->i[1] != c->nend)
                violation(x, INV_PAIRS, ev,
                          "conn %" PRIu64 ": conn_close counts %lld requests, the trace has %u "
                          "request_end",
                          c->id, (long long)ev->i[1], c->nend);
            /* its fd must be deleted before this thread handles anything else */
            if (mt_class_present[MT_EV_EPOLL_STATE]) {
                struct tstate *t = tget(x, ev->proc, mt_have_vtid ? ev->vtid : -1);
                if (t->npending < 8) {
                    t->pending_fd[t->npending] = ev->fd;
                    t->pending_conn[t->npending] = c->id;
                    t->pending_ts[t->npending] = ev->ts;
                    t->npending++;
                }
            }
        }
        mt_ct_del(&x->conns, c);
        break;
    }

    case MT_EV_REQUEST_BEGIN:
        c = mt_ct_find(&x->conns, ev->proc, ev->conn_id);
        if (!c || !c->accepted)
            break;
        if (c->req_open)
            violation(x, INV_PAIRS, ev,
                      "conn %" PRIu64 ": request #%lld began while #%u (begun at %+.6fs) had not "
                      "ended",
                      c->id, (long long)ev->i[0], c->cur_seq,
                      (double)(c->cur_begin_ts - x->t0) / 1e9);
        else if ((uint64_t)ev->i[0] != (uint64_t)c->nend + 1)
            violation(x, INV_PAIRS, ev,
                      "conn %" PRIu64 ": request #%lld began after %u requests ended (expected "
                      "#%u)",
                      c->id, (long long)ev->i[0], c->nend, c->nend + 1);
        c->req_open = 1;
        c->cur_seq = (uint32_t)ev->i[0];
        c->cur_begin_ts = ev->ts;
        c->nbegin++;
        break;

    case MT_EV_REQUEST_END: {
        c = mt_ct_find(&x->conns, ev->proc, ev->conn_id);
        int32_t w = c && c->worker >= 0 ? c->worker : vt_worker(x, ev->proc, ev->vtid);
        count_for(x, ev->proc, w, 2);
        if (!c || !c->accepted)
            break;
        x->judged_requests++;
        if (!c->req_open)
            violation(x, INV_PAIRS, ev, "conn %" PRIu64 ": request_end #%lld without its "
                                        "request_begin",
                      c->id, (long long)ev->i[0]);
        else if (c->cur_seq != (uint32_t)ev->i[0])
            violation(x, INV_PAIRS, ev,
                      "conn %" PRIu64 ": request_end #%lld while request #%u was open", c->id,
                      (long long)ev->i[0], c->cur_seq);
        c->req_open = 0;
        c->nend++;
        break;
    }

    case MT_EV_ERROR:
        if (ev->i[0] == MK_ESITE_EPOLL) {
            /* epoll_ctl(ADD) of a new connection failed: */
            /* counted in worker_stats.accepted without a conn_accept */
            int32_t w = vt_worker(x, ev->proc, ev->vtid);
            count_for(x, ev->proc, w, 0);
        }
        break;

    case MT_EV_WORKER_STATS: {
        int32_t wid = (int32_t)ev->i[0];
        struct wstate *w = wget(x, ev->proc, wid);
        vt_learn(x, ev->proc, ev->vtid, wid);
        int64_t active = ev->i[1], acc = ev->i[2], clo = ev->i[3], req = ev->i[4];
        if (x->no_stats)
            break;
        if (active != acc - clo)
            violation(x, INV_STATS, ev, "worker %d: active %lld but accepted - closed = %lld", wid,
                      (long long)active, (long long)(acc - clo));
        if (w->have && !w->tainted) {
            x->judged_intervals++;
            if (mt_class_present[MT_EV_CONN_ACCEPT] && acc - w->accepted != w->n_accept)
                violation(x, INV_STATS, ev,
                          "worker %d: accepted went up by %lld since %+.6fs, the trace has %lld "
                          "conn_accept",
                          wid, (long long)(acc - w->accepted), (double)(w->last_ts - x->t0) / 1e9,
                          (long long)w->n_accept);
            if (mt_class_present[MT_EV_CONN_CLOSE] && clo - w->closed != w->n_close)
                violation(x, INV_STATS, ev,
                          "worker %d: closed went up by %lld since %+.6fs, the trace has %lld "
                          "conn_close",
                          wid, (long long)(clo - w->closed), (double)(w->last_ts - x->t0) / 1e9,
                          (long long)w->n_close);
            if (mt_class_present[MT_EV_REQUEST_END] && req - w->requests != w->n_end)
                violation(x, INV_STATS, ev,
                          "worker %d: requests went up by %lld since %+.6fs, the trace has %lld "
                          "request_end",
                          wid, (long long)(req - w->requests), (double)(w->last_ts - x->t0) / 1e9,
                          (long long)w->n_end);
        } else if (w->have) {
            x->skipped_intervals++;
        }
        w->have = true;
        w->tainted = false;
        w->accepted = acc;
        w->closed = clo;
        w->requests = req;
        w->n_accept = w->n_close = w->n_end = 0;
        w->last_ts = ev->ts;
        break;
    }

    default:
        break;
    }
}

static void check_discarded(void *ctx, uint64_t count, int64_t ts)
{
    struct check_ctx *x = ctx;
    (void)ts;
    for (int i = 0; i < x->nw; i++)
        x->w[i].tainted = true;
    x->violations[INV_COMPLETE] += count ? count : 1;
}

int mt_cmd_check(struct mt_common *cm, bool no_stats)
{
    static struct check_ctx x;
    struct mt_read_stats rs;
    memset(&x, 0, sizeof(x));
    x.no_stats = no_stats;
    mt_ct_init(&x.conns);
    for (int i = 0; i < INV_COUNT; i++)
        x.showf[i] = open_memstream(&x.shown[i], &x.shownlen[i]);

    struct mt_sink sink = {.ctx = &x, .event = check_event, .discarded = check_discarded};
    if (mt_read(&cm->ro, &sink, &rs) != 0)
        return 2;

    char mdesc[256];
    printf("monkey-trace check: %d trace dir%s, %" PRIu64 " events (%s)\n", rs.ntraces,
           rs.ntraces == 1 ? "" : "s", rs.events, mt_monkey_desc(&cm->ro, &rs, mdesc,
                                                                  sizeof(mdesc)));
    printf("judged: %" PRIu64 " connections accepted in the trace, %" PRIu64
           " of their requests, %" PRIu64 " fd registrations, %" PRIu64
           " worker_stats intervals (%" PRIu64 " not judged: unattributable events or "
           "discards)\n",
           x.judged_conns, x.judged_requests, x.judged_registrations, x.judged_intervals,
           x.skipped_intervals);
    mt_vpid_note(stdout);

    uint64_t total = 0;
    for (int i = 0; i < INV_COUNT; i++) {
        fclose(x.showf[i]);
        const char *why = NULL;
        if (i == INV_SETNEW && !mt_class_present[MT_EV_EPOLL_STATE])
            why = "the seed event monkey:epoll_state was not recorded";
        /* Pairs need both ends, and the count in conn_close needs request_end: with one
         * of them not recorded every connection would look broken. */
        if (i == INV_PAIRS && !mt_class_present[MT_EV_REQUEST_BEGIN])
            why = "monkey:request_begin was not recorded";
        else if (i == INV_PAIRS && !mt_class_present[MT_EV_REQUEST_END])
            why = "monkey:request_end was not recorded";
        if (i == INV_AFTER_CLOSE && !mt_class_present[MT_EV_CONN_ACCEPT])
            why = "monkey:conn_accept was not recorded";
        else if (i == INV_AFTER_CLOSE && !mt_class_present[MT_EV_CONN_CLOSE])
            why = "monkey:conn_close was not recorded";
        if (i == INV_STATS && no_stats)
            why = "--no-stats";
        else if (i == INV_STATS && !mt_class_present[MT_EV_WORKER_STATS])
            why = "monkey:worker_stats was not recorded";
        if (i == INV_COMPLETE) {
            if (rs.discarded || rs.discarded_unknown) {
                printf("[FAIL] %s: %" PRIu64 "%s events discarded in %" PRIu64 " gaps",
                       inv_title[i], rs.discarded, rs.discarded_unknown ? "+" : "",
                       rs.discarded_msgs);
                if (rs.discarded_packets)
                    printf(" (%" PRIu64 " packets lost)", rs.discarded_packets);
                if (rs.discarded_shared_msgs)
                    printf(" (%" PRIu64 " gaps in buffers shared with other processes)",
                           rs.discarded_shared_msgs);
                printf("\n");
                total++;
            } else if (rs.monkey_events) {
                printf("[ok]   %s\n", inv_title[i]);
            }
            free(x.shown[i]);
            continue;
        }
        if (why && i == INV_PAIRS)
            x.violations[i] = 0; /* each of them would be the missing event class's */
        if (!rs.monkey_events && !x.violations[i]) {
            free(x.shown[i]); /* nothing was verified: no row says ok */
            continue;
        }
        if (x.violations[i]) {
            printf("[FAIL] %s: %" PRIu64 " violation%s\n", inv_title[i], x.violations[i],
                   x.violations[i] == 1 ? "" : "s");
            fwrite(x.shown[i], 1, x.shownlen[i], stdout);
            if (x.violations[i] > SHOW_MAX)
                printf("         ... and %" PRIu64 " more\n", x.violations[i] - SHOW_MAX);
            total += x.violations[i];
        } else if (why) {
            printf("[skip] %s (%s)\n", inv_title[i], why);
        } else {
            printf("[ok]   %s\n", inv_title[i]);
        }
        free(x.shown[i]);
    }
    if (!rs.monkey_events) {
        mt_no_events_note(stdout, &cm->ro, &rs);
        printf("result: FAIL (no monkey:* events %s: nothing was verified)\n",
               rs.monkey_filtered ? "match the filters" : "in the trace");
        return 1;
    }
    printf("result: %s", total ? "FAIL" : "OK");
    if (total)
        printf(" (%" PRIu64 " violation%s)", total, total == 1 ? "" : "s");
    printf("\n");
    mt_ct_free(&x.conns);
    mt_fdtab_free(&x.fds);
    for (int i = 0; i < x.npages; i++)
        free(x.pages[i]);
    free(x.pages);
    free(x.w);
    free(x.th);
    free(x.vt);
    return total ? 1 : 0;
}

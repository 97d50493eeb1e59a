/* `monkey-trace top URL`: a refreshing view of an LTTng live session.
 *
 * Rates are computed on the events' own timestamps over the last complete seconds (live
 * delivery comes in bursts, every live timer period), the p99 over the last 10 seconds.
 * It ends when the session is destroyed (the relay daemon then ends the live stream), when
 * --duration runs out, or on SIGINT/SIGTERM; the last block says which. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stats.h"

#define RING 16
#define RATE_SECS 3
#define P99_SECS 10
#define TOP_WMAX 64

struct slot {
    int64_t sec;
    uint64_t req, err, s5xx, s4xx;
    uint32_t wreq[TOP_WMAX];
    struct mt_hist lat;
};

struct tworker {
    uint32_t proc;
    int32_t id;
    int64_t active; /* worker_stats, -1 none yet */
    int64_t opened; /* conn_accept - conn_close seen since top started */
    uint64_t requests;
};

/* why top ended: the label of the last block and the last line */
enum top_end { TOP_SESSION_ENDED, TOP_DURATION, TOP_SIGNAL, TOP_ERROR };

struct top_ctx {
    const char *url;
    double interval;
    int64_t deadline, max_seconds;
    bool deadline_hit;
    bool tty;
    int64_t started, last_draw;
    int64_t now_ts; /* latest event time */
    struct slot ring[RING];
    struct tworker w[TOP_WMAX];
    int nw;
    struct { uint32_t proc; int64_t vtid; int idx; } vt[256];
    int nvt;
    struct mt_conntab conns;
    uint64_t total_req, total_err, events, discarded;
    int frames;
};

static int w_index(struct top_ctx *t, uint32_t proc, int32_t id)
{
    for (int i = 0; i < t->nw; i++)
        if (t->w[i].proc == proc && t->w[i].id == id)
            return i;
    if (t->nw == TOP_WMAX)
        return -1;
    struct tworker *w = &t->w[t->nw];
    memset(w, 0, sizeof(*w));
    w->proc = proc;
    w->id = id;
    w->active = -1;
    return t->nw++;
}

static void vt_learn(struct top_ctx *t, uint32_t proc, int64_t vtid, int idx)
{
    if (vtid < 0 || idx < 0)
        return;
    for (int i = 0; i < t->nvt; i++)
        if (t->vt[i].proc == proc && t->vt[i].vtid == vtid) {
            t->vt[i].idx = idx;
            return;
        }
    if (t->nvt < 256) {
        t->vt[t->nvt].proc = proc;
        t->vt[t->nvt].vtid = vtid;
        t->vt[t->nvt].idx = idx;
        t->nvt++;
    }
}

static int vt_find(struct top_ctx *t, uint32_t proc, int64_t vtid)
{
    for (int i = 0; i < t->nvt; i++)
        if (t->vt[i].proc == proc && t->vt[i].vtid == vtid)
            return t->vt[i].idx;
    return -1;
}

static struct slot *slot_for(struct top_ctx *t, int64_t ts)
{
    int64_t sec = ts / 1000000000LL;
    struct slot *s = &t->ring[sec % RING];
    if (s->sec != sec) {
        memset(s, 0, sizeof(*s) - sizeof(s->lat));
        mt_hist_init(&s->lat);
        s->sec = sec;
    }
    return s;
}

static void top_event(void *ctx, const struct mt_event *ev)
{
    struct top_ctx *t = ctx;
    struct mt_conn *c;
    bool created;
    int wi;

    t->events++;
    if (ev->ts > t->now_ts)
        t->now_ts = ev->ts;
    switch (ev->kind) {
    case MT_EV_CONN_ACCEPT:
        wi = w_index(t, ev->proc, (int32_t)ev->i[0]);
        vt_learn(t, ev->proc, ev->vtid, wi);
        c = mt_ct_get(&t->conns, ev->proc, ev->conn_id, &created);
        c->accepted = 1;
        c->worker = wi;
        if (wi >= 0)
            t->w[wi].opened++;
        break;
    case MT_EV_CONN_CLOSE:
        c = mt_ct_find(&t->conns, ev->proc, ev->conn_id);
        if (c) {
            if (c->worker >= 0)
                t->w[c->worker].opened--;
            mt_ct_del(&t->conns, c);
        }
        break;
    case MT_EV_REQUEST_END: {
        struct slot *s = slot_for(t, ev->ts);
        s->req++;
        if (ev->i[1] >= 500 && ev->i[1] < 600)
            s->s5xx++;
        else if (ev->i[1] >= 400 && ev->i[1] < 500)
            s->s4xx++;
        mt_hist_add(&s->lat, (uint64_t)ev->i[3]);
        t->total_req++;
        c = mt_ct_find(&t->conns, ev->proc, ev->conn_id);
        wi = c ? c->worker : vt_find(t, ev->proc, ev->vtid);
        if (wi >= 0) {
            s->wreq[wi]++;
            t->w[wi].requests++;
        }
        break;
    }
    case MT_EV_ERROR:
        slot_for(t, ev->ts)->err++;
        t->total_err++;
        break;
    case MT_EV_WORKER_STATS:
        wi = w_index(t, ev->proc, (int32_t)ev->i[0]);
        vt_learn(t, ev->proc, ev->vtid, wi);
        if (wi >= 0)
            t->w[wi].active = ev->i[1];
        break;
    default:
        break;
    }
}

static void top_discarded(void *ctx, uint64_t count, int64_t ts)
{
    struct top_ctx *t = ctx;
    (void)ts;
    t->discarded += count ? count : 1;
}

static const char *const end_label[] = {
    [TOP_SESSION_ENDED] = "  [session ended]",
    [TOP_DURATION] = "  [duration reached]",
    [TOP_SIGNAL] = "  [interrupted]",
    [TOP_ERROR] = "  [read error]",
};

/* final: < 0 for a refresh, else the enum top_end of the last block */
static void draw(struct top_ctx *t, int final)
{
    char b1[32], b2[32], pl[96];
    int64_t cur = t->now_ts / 1000000000LL;
    /* the last complete second (the current one is still arriving), and the average of
     * the last RATE_SECS complete seconds */
    uint64_t req = 0, err = 0, s5 = 0, s4 = 0, avg = 0;
    uint32_t wreq[TOP_WMAX] = {0};
    struct mt_hist h;
    mt_hist_init(&h);
    for (int64_t sec = cur - 1; sec >= cur - RATE_SECS && t->now_ts; sec--) {
        struct slot *s = &t->ring[sec % RING];
        if (s->sec != sec)
            continue;
        avg += s->req;
        if (sec != cur - 1)
            continue;
        req = s->req;
        err = s->err;
        s5 = s->s5xx;
        s4 = s->s4xx;
        for (int i = 0; i < t->nw; i++)
            wreq[i] = s->wreq[i];
    }
    for (int64_t sec = cur; sec > cur - P99_SECS && t->now_ts; sec--) {
        struct slot *s = &t->ring[sec % RING];
        if (s->sec == sec)
            mt_hist_merge(&h, &s->lat);
    }

    if (t->tty)
        fputs("\033[H\033[J", stdout);
    else if (t->frames)
        fputc('\n', stdout);
    t->frames++;
    printf("monkey-trace top  %s  (+%.0f s)%s\n", t->url,
           (double)(mt_now_ns() - t->started) / 1e9, final >= 0 ? end_label[final] : "");
    printf("requests/s: %llu (%d s average %.1f)   p99: %s   p50: %s (last %d s)\n",
           (unsigned long long)req, RATE_SECS, (double)avg / RATE_SECS,
           h.n ? mt_fmt_ns(mt_hist_pct(&h, 99), b1, sizeof(b1)) : "-",
           h.n ? mt_fmt_ns(mt_hist_pct(&h, 50), b2, sizeof(b2)) : "-", P99_SECS);
    printf("errors/s: %llu   4xx/s: %llu   5xx/s: %llu\n", (unsigned long long)err,
           (unsigned long long)s4, (unsigned long long)s5);
    printf("total: %" PRIu64 " requests, %" PRIu64 " errors, %" PRIu64 " events\n",
           t->total_req, t->total_err, t->events);
    if (t->discarded)
        printf("WARNING: the tracer discarded %" PRIu64 " events\n", t->discarded);
    printf("%-22s %10s %10s %10s\n", "worker", "req/s", "active", "requests");
    /* active: open connections from the worker's last worker_stats ("N+": opened - closed
     * since top started, when no worker_stats came yet) */
    for (int i = 0; i < t->nw; i++) {
        char lab[128], act[24];
        if (mt_nprocs > 1)
            snprintf(lab, sizeof(lab), "pid %s w%d", mt_proc_label(t->w[i].proc, pl, sizeof(pl)),
                     t->w[i].id);
        else
            snprintf(lab, sizeof(lab), "w%d", t->w[i].id);
        if (t->w[i].active >= 0)
            snprintf(act, sizeof(act), "%lld", (long long)t->w[i].active);
        else
            snprintf(act, sizeof(act), "%lld+", (long long)t->w[i].opened);
        printf("%-22s %10u %10s %10" PRIu64 "\n", lab, wreq[i], act,
               t->w[i].requests);
    }
    fflush(stdout);
}

static void top_tick(void *ctx, int64_t now)
{
    struct top_ctx *t = ctx;
    if (t->deadline && now >= t->deadline && !mt_interrupted) {
        t->deadline_hit = true;
        mt_interrupted = 1;
    }
    if ((double)(now - t->last_draw) / 1e9 >= t->interval) {
        t->last_draw = now;
        draw(t, -1);
    }
}

int mt_cmd_top(struct mt_common *c, double interval, int64_t max_seconds)
{
    static struct top_ctx t;
    struct mt_read_stats rs;
    memset(&t, 0, sizeof(t));
    t.url = c->ro.inputs[0];
    t.interval = interval;
    t.tty = isatty(1);
    t.started = t.last_draw = mt_now_ns();
    if (max_seconds > 0) {
        t.max_seconds = max_seconds;
        t.deadline = t.started + max_seconds * 1000000000LL;
    }
    mt_ct_init(&t.conns);
    for (int i = 0; i < RING; i++)
        t.ring[i].sec = -1;

    struct mt_sink sink = {.ctx = &t, .event = top_event, .discarded = top_discarded,
                           .tick = top_tick};
    int rc = mt_read(&c->ro, &sink, &rs);
    /* mt_read stops on the end of the live stream (the session was destroyed), on
     * mt_interrupted (set by top_tick at the deadline, or by a signal) or on an error */
    enum top_end end = rc ? TOP_ERROR
                       : t.deadline_hit ? TOP_DURATION
                       : mt_interrupted ? TOP_SIGNAL
                                        : TOP_SESSION_ENDED;
    draw(&t, (int)end);
    switch (end) {
    case TOP_SESSION_ENDED:
        printf("the live session ended\n");
        break;
    case TOP_DURATION:
        printf("stopped after --duration %lld s; the session may still be recording\n",
               (long long)t.max_seconds);
        break;
    case TOP_SIGNAL:
        printf("stopped by a signal\n");
        break;
    case TOP_ERROR:
        printf("stopped on a read error\n");
        break;
    }
    mt_ct_free(&t.conns);
    return rc ? 2 : 0;
}

/* Streaming statistics for `summary` and `report`.  Memory: fixed-size histograms, one
 * timeline of at most MT_TL_CAP buckets per row, one entry per open connection, at most
 * MT_URI_CAP URIs and MT_SLOW_MAX slowest connections. */
#include <stdlib.h>
#include <string.h>

#include "stats.h"

/* ---- connection table: open addressing, linear probing, backward-shift deletion ---------- */

static size_t ct_home(size_t cap, uint32_t proc, uint64_t id)
{
    return mt_hash64(id ^ ((uint64_t)proc << 48) ^ ((uint64_t)proc * 0x9e3779b97f4a7c15ULL)) &
           (cap - 1);
}

void mt_ct_init(struct mt_conntab *ct)
{
    ct->cap = 1024;
    ct->n = 0;
    ct->t = mt_xcalloc(ct->cap, sizeof(*ct->t));
}

struct mt_conn *mt_ct_find(struct mt_conntab *ct, uint32_t proc, uint64_t id)
{
    size_t j = ct_home(ct->cap, proc, id);
    while (ct->t[j].used) {
        if (ct->t[j].id == id && ct->t[j].proc == proc)
            return &ct->t[j];
        j = (j + 1) & (ct->cap - 1);
    }
    return NULL;
}

static void ct_grow(struct mt_conntab *ct)
{
    size_t ncap = ct->cap * 2;
    struct mt_conn *nt = mt_xcalloc(ncap, sizeof(*nt));
    for (size_t i = 0; i < ct->cap; i++)
        if (ct->t[i].used) {
            size_t j = ct_home(ncap, ct->t[i].proc, ct->t[i].id);
            while (nt[j].used)
                j = (j + 1) & (ncap - 1);
            nt[j] = ct->t[i];
        }
    free(ct->t);
    ct->t = nt;
    ct->cap = ncap;
}

struct mt_conn *mt_ct_get(struct mt_conntab *ct, uint32_t proc, uint64_t id, bool *created)
{
    struct mt_conn *c = mt_ct_find(ct, proc, id);
    if (c) {
        *created = false;
        return c;
    }
    if ((ct->n + 1) * 2 > ct->cap)
        ct_grow(ct);
    size_t j = ct_home(ct->cap, proc, id);
    while (ct->t[j].used)
        j = (j + 1) & (ct->cap - 1);
    c = &ct->t[j];
    memset(c, 0, sizeof(*c));
    c->used = 1;
    c->id = id;
    c->proc = proc;
    c->worker = -1;
    c->vtid = -1;
    c->fd = -1;
    ct->n++;
    *created = true;
    return c;
}

void mt_ct_del(struct mt_conntab *ct, struct mt_conn *c)
{
    size_t mask = ct->cap - 1;
    size_t i = (size_t)(c - ct->t);
    free(c->spans);
    c->spans = NULL;
    c->used = 0;
    ct->n--;
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!ct->t[j].used)
            break;
        size_t k = ct_home(ct->cap, ct->t[j].proc, ct->t[j].id);
        /* may t[j] move to the hole at i?  only if its home is not in (i, j] cyclically */
        bool between = (i <= j) ? (i < k && k <= j) : (i < k || k <= j);
        if (!between) {
            ct->t[i] = ct->t[j];
            ct->t[j].used = 0;
            ct->t[j].spans = NULL;
            i = j;
        }
    }
}

void mt_ct_free(struct mt_conntab *ct)
{
    for (size_t i = 0; i < ct->cap; i++)
        if (ct->t[i].used)
            free(ct->t[i].spans);
    free(ct->t);
    ct->t = NULL;
    ct->cap = ct->n = 0;
}

/* ---- workers ------------------------------------------------------------------------------ */

static int worker_index_v(struct mt_stats *s, uint32_t proc, int32_t id, int64_t vtid)
{
    static int last = -1;
    if (id >= 0)
        vtid = -1;
    if (last >= 0 && last < s->nworkers && s->workers[last].proc == proc &&
        s->workers[last].id == id && s->workers[last].vtid == vtid)
        return last;
    for (int i = 0; i < s->nworkers; i++)
        if (s->workers[i].proc == proc && s->workers[i].id == id && s->workers[i].vtid == vtid)
            return last = i;
    s->workers = mt_xrealloc(s->workers, (size_t)(s->nworkers + 1) * sizeof(*s->workers));
    struct mt_worker *w = &s->workers[s->nworkers];
    memset(w, 0, sizeof(*w));
    w->proc = proc;
    w->id = id;
    w->vtid = vtid;
    mt_hist_init(&w->lat);
    w->tl_row = mt_tl_add_row(&s->tl);
    return last = s->nworkers++;
}

static int worker_index(struct mt_stats *s, uint32_t proc, int32_t id)
{
    return worker_index_v(s, proc, id, -1);
}

static void vtid_learn(struct mt_stats *s, uint32_t proc, int64_t vtid, int widx)
{
    if (vtid < 0)
        return;
    for (int i = 0; i < s->nvtids; i++)
        if (s->vtids[i].proc == proc && s->vtids[i].vtid == vtid) {
            s->vtids[i].widx = widx;
            return;
        }
    s->vtids = mt_xrealloc(s->vtids, (size_t)(s->nvtids + 1) * sizeof(*s->vtids));
    s->vtids[s->nvtids].proc = proc;
    s->vtids[s->nvtids].vtid = vtid;
    s->vtids[s->nvtids].widx = widx;
    s->nvtids++;
}

/* The worker of an event whose connection is unknown: by its thread; a thread whose worker
 * is not known yet gets a stand-in, merged at the end (mt_stats_finish). */
static int vtid_worker(struct mt_stats *s, uint32_t proc, int64_t vtid)
{
    static int last = -1;
    if (vtid >= 0) {
        if (last >= 0 && last < s->nvtids && s->vtids[last].proc == proc &&
            s->vtids[last].vtid == vtid)
            return s->vtids[last].widx;
        for (int i = 0; i < s->nvtids; i++)
            if (s->vtids[i].proc == proc && s->vtids[i].vtid == vtid) {
                last = i;
                return s->vtids[i].widx;
            }
    }
    return worker_index_v(s, proc, -1, vtid);
}

const char *mt_worker_label(const struct mt_stats *s, int w, char *buf, size_t len)
{
    char pl[96];
    const struct mt_worker *wk = &s->workers[w];
    char id[40];
    if (wk->id < 0 && wk->vtid >= 0)
        snprintf(id, sizeof(id), "w?(tid %lld)", (long long)wk->vtid);
    else if (wk->id < 0)
        snprintf(id, sizeof(id), "w?");
    else
        snprintf(id, sizeof(id), "w%d", wk->id);
    if (mt_nprocs > 1)
        snprintf(buf, len, "%s %s", mt_proc_label(wk->proc, pl, sizeof(pl)), id);
    else
        snprintf(buf, len, "%s", id);
    return buf;
}

/* ---- URIs: a bounded table, the least slow pushed out first ------------------------------ */

static uint64_t uri_key(const struct mt_stats *s, int i)
{
    return s->uris[i].lat->max;
}

static void heap_swap(struct mt_stats *s, int a, int b)
{
    int x = s->uri_heap[a];
    s->uri_heap[a] = s->uri_heap[b];
    s->uri_heap[b] = x;
    s->uris[s->uri_heap[a]].heap_pos = a;
    s->uris[s->uri_heap[b]].heap_pos = b;
}

static void heap_up(struct mt_stats *s, int pos)
{
    while (pos > 0) {
        int parent = (pos - 1) / 2;
        if (uri_key(s, s->uri_heap[parent]) <= uri_key(s, s->uri_heap[pos]))
            break;
        heap_swap(s, parent, pos);
        pos = parent;
    }
}

static void heap_down(struct mt_stats *s, int pos)
{
    for (;;) {
        int l = 2 * pos + 1, r = l + 1, m = pos;
        if (l < s->nuris && uri_key(s, s->uri_heap[l]) < uri_key(s, s->uri_heap[m]))
            m = l;
        if (r < s->nuris && uri_key(s, s->uri_heap[r]) < uri_key(s, s->uri_heap[m]))
            m = r;
        if (m == pos)
            return;
        heap_swap(s, m, pos);
        pos = m;
    }
}

static size_t uri_home(const struct mt_stats *s, const char *p, size_t len)
{
    return mt_hash_bytes(p, len) & (size_t)(s->uri_nslots - 1);
}

static int uri_find(struct mt_stats *s, const char *p, size_t len, size_t *slot)
{
    size_t mask = (size_t)s->uri_nslots - 1;
    size_t j = uri_home(s, p, len);
    while (s->uri_slots[j]) {
        struct mt_uri *u = &s->uris[s->uri_slots[j] - 1];
        if (u->len == len && memcmp(u->path, p, len) == 0) {
            *slot = j;
            return s->uri_slots[j] - 1;
        }
        j = (j + 1) & mask;
    }
    *slot = j;
    return -1;
}

static void uri_unhash(struct mt_stats *s, int idx)
{
    size_t mask = (size_t)s->uri_nslots - 1, slot;
    if (uri_find(s, s->uris[idx].path, s->uris[idx].len, &slot) != idx)
        return;
    size_t i = slot, j = slot;
    s->uri_slots[i] = 0;
    for (;;) {
        j = (j + 1) & mask;
        if (!s->uri_slots[j])
            break;
        struct mt_uri *u = &s->uris[s->uri_slots[j] - 1];
        size_t k = uri_home(s, u->path, u->len);
        bool between = (i <= j) ? (i < k && k <= j) : (i < k || k <= j);
        if (!between) {
            s->uri_slots[i] = s->uri_slots[j];
            s->uri_slots[j] = 0;
            i = j;
        }
    }
}

static void uri_add(struct mt_stats *s, const char *path, size_t len, uint64_t dur, int cls)
{
    size_t slot;
    int idx = uri_find(s, path, len, &slot);
    if (idx >= 0) {
        struct mt_uri *u = &s->uris[idx];
        uint64_t old = u->lat->max;
        mt_hist_add(u->lat, dur);
        u->count++;
        u->status_class[cls]++;
        if (u->lat->max != old)
            heap_down(s, u->heap_pos);
        return;
    }
    if (s->nuris < MT_URI_CAP) {
        idx = s->nuris++;
        struct mt_uri *u = &s->uris[idx];
        u->lat = mt_xmalloc(sizeof(*u->lat));
        s->uri_heap[idx] = idx;
        u->heap_pos = idx;
    } else {
        int victim = s->uri_heap[0];
        if (dur <= uri_key(s, victim)) {
            s->uri_untracked++;
            return;
        }
        s->uri_untracked += s->uris[victim].count;
        uri_unhash(s, victim);
        free(s->uris[victim].path);
        idx = victim;
        uri_find(s, path, len, &slot); /* the hole may have moved */
    }
    struct mt_uri *u = &s->uris[idx];
    u->path = mt_xmalloc(len + 1);
    memcpy(u->path, path, len);
    u->path[len] = 0;
    u->len = len;
    u->count = 1;
    memset(u->status_class, 0, sizeof(u->status_class));
    u->status_class[cls] = 1;
    mt_hist_init(u->lat);
    mt_hist_add(u->lat, dur);
    s->uri_slots[slot] = idx + 1;
    heap_up(s, u->heap_pos);
    heap_down(s, u->heap_pos);
}

/* ---- slowest connections: a min-heap of MT_SLOW_MAX on score ------------------------------ */

static void slow_down(struct mt_stats *s, int pos)
{
    for (;;) {
        int l = 2 * pos + 1, r = l + 1, m = pos;
        if (l < s->nslowused && s->slow[l].score < s->slow[m].score)
            m = l;
        if (r < s->nslowused && s->slow[r].score < s->slow[m].score)
            m = r;
        if (m == pos)
            return;
        struct mt_slow t = s->slow[m];
        s->slow[m] = s->slow[pos];
        s->slow[pos] = t;
        pos = m;
    }
}

static void slow_up(struct mt_stats *s, int pos)
{
    while (pos > 0) {
        int parent = (pos - 1) / 2;
        if (s->slow[parent].score <= s->slow[pos].score)
            return;
        struct mt_slow t = s->slow[parent];
        s->slow[parent] = s->slow[pos];
        s->slow[pos] = t;
        pos = parent;
    }
}

/* Score: the slowest request, or the whole time open when no request completed (a client
 * that never finished sending one). */
static void slow_offer(struct mt_stats *s, const struct mt_conn *c, int64_t end_ts, bool closed,
                       int64_t reason, uint32_t requests)
{
    if (s->nslow <= 0)
        return;
    uint64_t score = c->nend ? c->max_req_ns : (uint64_t)(end_ts - c->first_ts);
    int pos;
    if (s->nslowused < s->nslow) {
        pos = s->nslowused++;
    } else {
        if (score <= s->slow[0].score)
            return;
        pos = 0;
    }
    struct mt_slow *x = &s->slow[pos];
    memset(x, 0, sizeof(*x));
    x->proc = c->proc;
    x->id = c->id;
    x->worker = c->worker >= 0 ? s->workers[c->worker].id : -1;
    x->fd = c->fd;
    memcpy(x->peer, c->peer, sizeof(x->peer));
    x->port = c->port;
    x->first_ts = c->first_ts;
    x->end_ts = end_ts;
    x->closed = closed;
    x->accepted = c->accepted;
    x->reason = reason;
    x->requests = requests;
    x->score = score;
    x->max_req_ns = c->max_req_ns;
    /* the slowest request's, or the one begun when none ended */
    memcpy(x->uri, c->nend ? c->max_uri : c->uri, sizeof(x->uri));
    x->nspans = c->nspans;
    x->truncated = c->spans_truncated;
    if (c->nspans)
        memcpy(x->spans, c->spans, c->nspans * sizeof(*c->spans));
    if (pos == 0 && s->nslowused == s->nslow)
        slow_down(s, 0);
    else
        slow_up(s, pos);
}

static int cmp_slow(const void *a, const void *b)
{
    const struct mt_slow *x = *(struct mt_slow *const *)a, *y = *(struct mt_slow *const *)b;
    return x->score < y->score ? 1 : x->score > y->score ? -1 : 0;
}

int mt_stats_slowest_conns(struct mt_stats *s, struct mt_slow **out, int max)
{
    struct mt_slow **v = mt_xmalloc((size_t)(s->nslowused + 1) * sizeof(*v));
    for (int i = 0; i < s->nslowused; i++)
        v[i] = &s->slow[i];
    qsort(v, (size_t)s->nslowused, sizeof(*v), cmp_slow);
    int n = s->nslowused < max ? s->nslowused : max;
    memcpy(out, v, (size_t)n * sizeof(*v));
    free(v);
    return n;
}

static struct mt_stats *sort_ctx;

static int cmp_uri(const void *a, const void *b)
{
    const struct mt_uri *x = &sort_ctx->uris[*(const int *)a], *y = &sort_ctx->uris[*(const int *)b];
    uint64_t px = mt_hist_pct(x->lat, 99), py = mt_hist_pct(y->lat, 99);
    if (px != py)
        return px < py ? 1 : -1;
    if (x->lat->max != y->lat->max)
        return x->lat->max < y->lat->max ? 1 : -1;
    return x->count < y->count ? 1 : x->count > y->count ? -1 : 0;
}

int mt_stats_slowest_uris(struct mt_stats *s, int *out, int max)
{
    int *v = mt_xmalloc((size_t)(s->nuris + 1) * sizeof(int));
    for (int i = 0; i < s->nuris; i++)
        v[i] = i;
    sort_ctx = s;
    qsort(v, (size_t)s->nuris, sizeof(int), cmp_uri);
    int n = s->nuris < max ? s->nuris : max;
    memcpy(out, v, (size_t)n * sizeof(int));
    free(v);
    return n;
}

/* ---- the event handler ------------------------------------------------------------------------ */

void mt_stats_init(struct mt_stats *s, bool spans, int nslow)
{
    memset(s, 0, sizeof(*s));
    s->spans = spans;
    s->nslow = nslow > MT_SLOW_MAX ? MT_SLOW_MAX : nslow;
    s->slow = mt_xcalloc(MT_SLOW_MAX, sizeof(*s->slow));
    s->unknown_worker = -1;
    mt_hist_init(&s->lat);
    mt_hist_init(&s->req_per_conn);
    mt_hist_init(&s->lifetime);
    mt_tl_init(&s->tl);
    for (int r = 0; r < TL_FIXED; r++)
        mt_tl_add_row(&s->tl);
    mt_ct_init(&s->conns);
    s->uri_nslots = MT_URI_CAP * 4;
    s->uri_slots = mt_xcalloc((size_t)s->uri_nslots, sizeof(int));
}

static int status_class(int64_t st)
{
    return (st >= 100 && st < 600) ? (int)(st / 100) - 1 : 5;
}

static void proc_count(struct mt_stats *s, uint32_t proc, bool request)
{
    if (proc >= s->nprocalloc) {
        uint32_t n = proc + 8;
        s->proc_requests = mt_xrealloc(s->proc_requests, n * sizeof(uint64_t));
        s->proc_conns = mt_xrealloc(s->proc_conns, n * sizeof(uint64_t));
        memset(s->proc_requests + s->nprocalloc, 0, (n - s->nprocalloc) * sizeof(uint64_t));
        memset(s->proc_conns + s->nprocalloc, 0, (n - s->nprocalloc) * sizeof(uint64_t));
        s->nprocalloc = n;
    }
    if (request)
        s->proc_requests[proc]++;
    else
        s->proc_conns[proc]++;
}

static void copy_uri(struct mt_conn *c, const char *u, size_t len)
{
    size_t n = 0;
    while (n < len && u[n] != '?' && u[n] != '#')
        n++;
    if (n >= MT_URI_MAX)
        n = MT_URI_MAX - 1;
    memcpy(c->uri, u, n);
    c->uri[n] = 0;
    c->uri_len = (uint16_t)n;
}

static void span_add(struct mt_conn *c, int64_t begin, uint64_t dur, int32_t status)
{
    if (c->nspans == MT_SPANS_MAX) {
        c->spans_truncated = 1;
        return;
    }
    if (c->nspans == c->capspans) {
        c->capspans = c->capspans ? (uint16_t)(c->capspans * 2) : 4;
        c->spans = mt_xrealloc(c->spans, c->capspans * sizeof(*c->spans));
    }
    c->spans[c->nspans].begin = begin;
    c->spans[c->nspans].dur = dur;
    c->spans[c->nspans].status = status;
    c->nspans++;
}

void mt_stats_event(void *ctx, const struct mt_event *ev)
{
    struct mt_stats *s = ctx;
    struct mt_conn *c;
    bool created;
    int w;

    s->kind_count[ev->kind]++;
    if (!s->first_ts)
        s->first_ts = ev->ts;
    s->last_ts = ev->ts;
    mt_tl_touch(&s->tl, ev->ts);

    switch (ev->kind) {
    case MT_EV_EPOLL:
    case MT_EV_EPOLL_STATE:
    case MT_EV_SCHEDULER:
        if (ev->seed == MT_SEED_FORCED_CLOSE)
            s->forced_closes++;
        else if (ev->seed == MT_SEED_OVER_CAPACITY)
            s->over_capacity++;
        break;

    case MT_EV_CONN_ACCEPT:
        s->accepted++;
        c = mt_ct_get(&s->conns, ev->proc, ev->conn_id, &created);
        if (!created && c->spans) {
            free(c->spans);
            c->spans = NULL;
            c->nspans = c->capspans = 0;
        }
        c->accepted = 1;
        c->fd = (int32_t)ev->fd;
        w = worker_index(s, ev->proc, (int32_t)ev->i[0]);
        c->worker = w;
        c->vtid = ev->vtid;
        c->first_ts = ev->ts;
        c->port = (int32_t)ev->i[1];
        snprintf(c->peer, sizeof(c->peer), "%.*s", (int)(ev->l1 < 47 ? ev->l1 : 47), ev->s1);
        s->workers[w].accepted++;
        vtid_learn(s, ev->proc, ev->vtid, w);
        mt_tl_add(&s->tl, TL_ACCEPT, ev->ts, 1);
        proc_count(s, ev->proc, false);
        break;

    case MT_EV_CONN_CLOSE: {
        int64_t reason = ev->i[0];
        s->closed++;
        s->close_reason[(reason >= 0 && reason < 15) ? reason : 15]++;
        mt_hist_add(&s->req_per_conn, (uint64_t)ev->i[1]);
        c = mt_ct_find(&s->conns, ev->proc, ev->conn_id);
        /* lifetime: from the trace's own timestamps when the accept is in it (the server's
         * lifetime_ns starts from a coarse clock, a few ms off) */
        mt_hist_add(&s->lifetime, c && c->accepted ? (uint64_t)(ev->ts - c->first_ts)
                                                   : (uint64_t)ev->i[4]);
        if (c && c->accepted) {
            w = c->worker;
            slow_offer(s, c, ev->ts, true, reason, (uint32_t)ev->i[1]);
        } else {
            s->closed_before++;
            w = vtid_worker(s, ev->proc, ev->vtid);
        }
        s->workers[w].closed++;
        if (c)
            mt_ct_del(&s->conns, c);
        break;
    }

    case MT_EV_CONN_TIMEOUT:
        s->timeout_kind[(ev->i[0] >= 0 && ev->i[0] < 7) ? ev->i[0] : 7]++;
        c = mt_ct_find(&s->conns, ev->proc, ev->conn_id);
        if (c)
            c->timed_out = 1;
        break;

    case MT_EV_REQUEST_BEGIN:
        s->req_begin++;
        c = mt_ct_get(&s->conns, ev->proc, ev->conn_id, &created);
        if (created) {
            c->first_ts = ev->ts;
            c->worker = vtid_worker(s, ev->proc, ev->vtid);
            c->vtid = ev->vtid;
        }
        c->req_open = 1;
        c->cur_seq = (uint32_t)ev->i[0];
        c->cur_begin_ts = ev->ts;
        c->nbegin++;
        copy_uri(c, ev->s1, ev->l1);
        if (s->spans)
            span_add(c, ev->ts - c->first_ts, 0, -1);
        break;

    case MT_EV_REQUEST_END: {
        int64_t st = ev->i[1];
        uint64_t dur = (uint64_t)ev->i[3];
        int cls = status_class(st);
        s->req_end++;
        if (st >= 0 && st < 1000)
            s->status[st]++;
        else
            s->status_other++;
        s->status_class[cls]++;
        s->bytes_sent += (uint64_t)ev->i[2];
        if (!ev->i[4])
            s->keepalive_no++;
        mt_hist_add(&s->lat, dur);
        c = mt_ct_find(&s->conns, ev->proc, ev->conn_id);
        w = c && c->worker >= 0 ? c->worker : vtid_worker(s, ev->proc, ev->vtid);
        s->workers[w].requests++;
        s->workers[w].status_class[cls]++;
        mt_hist_add(&s->workers[w].lat, dur);
        mt_tl_add(&s->tl, TL_REQ, ev->ts, 1);
        mt_tl_add(&s->tl, TL_C1 + cls, ev->ts, 1);
        mt_tl_add(&s->tl, s->workers[w].tl_row, ev->ts, 1);
        proc_count(s, ev->proc, true);
        static const char unk[] = "(request_begin not in the trace)";
        bool begun = c && c->req_open && c->cur_seq == (uint32_t)ev->i[0];
        if (begun)
            uri_add(s, c->uri, c->uri_len, dur, cls);
        else
            uri_add(s, unk, sizeof(unk) - 1, dur, cls);
        if (c) {
            c->req_open = 0;
            if (dur > c->max_req_ns || !c->nend) {
                c->max_req_ns = dur;
                memcpy(c->max_uri, begun ? c->uri : unk, begun ? c->uri_len + 1u : sizeof(unk));
            }
            c->nend++;
            if (s->spans) {
                if (c->nspans && c->spans[c->nspans - 1].status < 0 && !c->spans_truncated) {
                    c->spans[c->nspans - 1].dur = dur;
                    c->spans[c->nspans - 1].status = (int32_t)st;
                } else {
                    span_add(c, ev->ts - (int64_t)dur - c->first_ts, dur, (int32_t)st);
                }
            }
            /* A connection accepted before the trace is kept only while a request runs. */
            if (!c->accepted)
                mt_ct_del(&s->conns, c);
        }
        break;
    }

    case MT_EV_ERROR: {
        int64_t site = ev->i[0];
        s->errors++;
        s->error_site[(site >= 0 && site < 15) ? site : 15]++;
        mt_tl_add(&s->tl, TL_ERR, ev->ts, 1);
        int k;
        for (k = 0; k < s->nerrkeys; k++)
            if (s->errkeys[k].site == site && s->errkeys[k].err == ev->i[1] &&
                s->errkeys[k].status == ev->i[2])
                break;
        if (k == s->nerrkeys && k < MT_ERRKEY_MAX) {
            s->errkeys[k].site = site;
            s->errkeys[k].err = ev->i[1];
            s->errkeys[k].status = ev->i[2];
            s->errkeys[k].count = 0;
            s->nerrkeys++;
        }
        if (k < s->nerrkeys)
            s->errkeys[k].count++;
        c = ev->conn_id ? mt_ct_find(&s->conns, ev->proc, ev->conn_id) : NULL;
        w = c && c->worker >= 0 ? c->worker : vtid_worker(s, ev->proc, ev->vtid);
        s->workers[w].errors++;
        break;
    }

    case MT_EV_WORKER_STATS:
        w = worker_index(s, ev->proc, (int32_t)ev->i[0]);
        vtid_learn(s, ev->proc, ev->vtid, w);
        s->workers[w].have_stats = true;
        s->workers[w].stats_active = ev->i[1];
        if (ev->i[1] > s->workers[w].stats_active_max)
            s->workers[w].stats_active_max = ev->i[1];
        s->workers[w].stats_accepted = ev->i[2];
        s->workers[w].stats_closed = ev->i[3];
        s->workers[w].stats_requests = ev->i[4];
        break;

    default:
        break;
    }
}

void mt_stats_discarded(void *ctx, uint64_t count, int64_t ts)
{
    struct mt_stats *s = ctx;
    s->discarded += count;
    s->discarded_msgs++;
    if (ts)
        mt_tl_add(&s->tl, TL_DISC, ts, count ? count : 1);
}

static void worker_merge(struct mt_stats *s, int from, int into)
{
    struct mt_worker *a = &s->workers[from], *b = &s->workers[into];
    b->accepted += a->accepted;
    b->closed += a->closed;
    b->requests += a->requests;
    b->errors += a->errors;
    for (int i = 0; i < 6; i++)
        b->status_class[i] += a->status_class[i];
    mt_hist_merge(&b->lat, &a->lat);
    for (int i = 0; i < s->tl.nb; i++)
        s->tl.rows[b->tl_row][i] += s->tl.rows[a->tl_row][i];
    a->merged = true;
}

void mt_stats_finish(struct mt_stats *s)
{
    for (int w = 0; w < s->nworkers; w++) {
        struct mt_worker *wk = &s->workers[w];
        if (wk->id >= 0 || wk->vtid < 0)
            continue;
        for (int i = 0; i < s->nvtids; i++)
            if (s->vtids[i].proc == wk->proc && s->vtids[i].vtid == wk->vtid &&
                s->workers[s->vtids[i].widx].id >= 0) {
                worker_merge(s, w, s->vtids[i].widx);
                break;
            }
    }
    for (size_t i = 0; i < s->conns.cap; i++) {
        struct mt_conn *c = &s->conns.t[i];
        if (c->used && c->accepted)
            slow_offer(s, c, s->last_ts, false, -1, c->nend);
    }
}

void mt_stats_free(struct mt_stats *s)
{
    for (int i = 0; i < s->nuris; i++) {
        free(s->uris[i].path);
        free(s->uris[i].lat);
    }
    free(s->uri_slots);
    free(s->workers);
    free(s->vtids);
    free(s->slow);
    free(s->proc_requests);
    free(s->proc_conns);
    mt_ct_free(&s->conns);
    mt_tl_free(&s->tl);
}

double mt_stats_duration_s(const struct mt_stats *s)
{
    return s->last_ts > s->first_ts ? (double)(s->last_ts - s->first_ts) / 1e9 : 0;
}

/* Histograms, timelines, formatting and escaping. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mt.h"

void *mt_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "monkey-trace: out of memory\n");
        exit(3);
    }
    return p;
}

void *mt_xcalloc(size_t n, size_t m)
{
    void *p = calloc(n ? n : 1, m ? m : 1);
    if (!p) {
        fprintf(stderr, "monkey-trace: out of memory\n");
        exit(3);
    }
    return p;
}

void *mt_xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) {
        fprintf(stderr, "monkey-trace: out of memory\n");
        exit(3);
    }
    return p;
}

char *mt_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(mt_xmalloc(n), s, n);
}

uint64_t mt_hash64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

uint64_t mt_hash_bytes(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return mt_hash64(h);
}

int64_t mt_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- histogram ---------------------------------------------------------------------------- */

void mt_hist_init(struct mt_hist *h)
{
    memset(h, 0, sizeof(*h));
}

int mt_hist_bucket(uint64_t v)
{
    if (v < (1u << MT_HIST_SUB))
        return (int)v;
    int e = 63 - __builtin_clzll(v); /* >= MT_HIST_SUB */
    int m = (int)((v >> (e - MT_HIST_SUB)) & ((1u << MT_HIST_SUB) - 1));
    return ((e - MT_HIST_SUB + 1) << MT_HIST_SUB) + m;
}

uint64_t mt_hist_bucket_low(int idx)
{
    if (idx < (1 << MT_HIST_SUB))
        return (uint64_t)idx;
    int e = (idx >> MT_HIST_SUB) + MT_HIST_SUB - 1;
    uint64_t m = (uint64_t)(idx & ((1 << MT_HIST_SUB) - 1));
    return ((1ULL << MT_HIST_SUB) + m) << (e - MT_HIST_SUB);
}

uint64_t mt_hist_bucket_high(int idx)
{
    if (idx < (1 << MT_HIST_SUB))
        return (uint64_t)idx;
    int e = (idx >> MT_HIST_SUB) + MT_HIST_SUB - 1;
    return mt_hist_bucket_low(idx) + (1ULL << (e - MT_HIST_SUB)) - 1;
}

void mt_hist_add(struct mt_hist *h, uint64_t v)
{
    if (h->n == 0 || v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
    h->n++;
    h->sum += (double)v;
    h->b[mt_hist_bucket(v)]++;
}

void mt_hist_merge(struct mt_hist *into, const struct mt_hist *from)
{
    if (!from->n)
        return;
    if (into->n == 0 || from->min < into->min)
        into->min = from->min;
    if (from->max > into->max)
        into->max = from->max;
    into->n += from->n;
    into->sum += from->sum;
    for (int i = 0; i < MT_HIST_N; i++)
        into->b[i] += from->b[i];
}

/* The value at percentile pct: the middle of the bucket that holds it, kept within
 * [min, max] (so p100 is the exact maximum and one sample gives its exact value). */
uint64_t mt_hist_pct(const struct mt_hist *h, double pct)
{
    if (!h->n)
        return 0;
    if (pct >= 100)
        return h->max;
    uint64_t rank = (uint64_t)((pct / 100.0) * (double)h->n + 0.999999);
    if (rank < 1)
        rank = 1;
    uint64_t cum = 0;
    for (int i = 0; i < MT_HIST_N; i++) {
        cum += h->b[i];
        if (cum >= rank) {
            uint64_t lo = mt_hist_bucket_low(i), hi = mt_hist_bucket_high(i);
            uint64_t v = lo + (hi - lo) / 2;
            if (v < h->min)
                v = h->min;
            if (v > h->max)
                v = h->max;
            return v;
        }
    }
    return h->max;
}

/* ---- timeline ------------------------------------------------------------------------------ */

void mt_tl_init(struct mt_timeline *t)
{
    memset(t, 0, sizeof(*t));
    t->width = 10000000LL; /* 10 ms, then 20 ms, 100 ms, 200 ms, 1 s, 2 s, 10 s... */
}

int mt_tl_add_row(struct mt_timeline *t)
{
    t->rows = mt_xrealloc(t->rows, (size_t)(t->nrows + 1) * sizeof(*t->rows));
    t->rows[t->nrows] = mt_xcalloc(MT_TL_CAP, sizeof(uint64_t));
    return t->nrows++;
}

/* Widen the buckets k times (2 or 5, alternately, so widths stay 1, 2 or 10 times a power
 * of ten) by adding up k neighbours. */
static void tl_widen(struct mt_timeline *t)
{
    int64_t m = t->width;
    while (m % 10 == 0)
        m /= 10;
    int k = m == 1 ? 2 : 5;
    for (int r = 0; r < t->nrows; r++) {
        uint64_t *row = t->rows[r];
        for (int i = 0; i < MT_TL_CAP / k; i++) {
            uint64_t sum = 0;
            for (int j = 0; j < k; j++)
                sum += row[k * i + j];
            row[i] = sum;
        }
        uint64_t rest = 0;
        for (int j = (MT_TL_CAP / k) * k; j < MT_TL_CAP; j++)
            rest += row[j];
        row[MT_TL_CAP / k] = rest;
        memset(row + MT_TL_CAP / k + 1, 0,
               (size_t)(MT_TL_CAP - MT_TL_CAP / k - 1) * sizeof(uint64_t));
    }
    t->width *= k;
    t->nb = (t->nb + k - 1) / k;
}

static int tl_index(struct mt_timeline *t, int64_t ts)
{
    if (!t->started) {
        t->started = true;
        t->t0 = ts;
    }
    if (ts < t->t0)
        ts = t->t0;
    int64_t idx = (ts - t->t0) / t->width;
    while (idx >= MT_TL_CAP) {
        tl_widen(t);
        idx = (ts - t->t0) / t->width;
    }
    if (idx + 1 > t->nb)
        t->nb = (int)idx + 1;
    return (int)idx;
}

void mt_tl_touch(struct mt_timeline *t, int64_t ts)
{
    tl_index(t, ts);
}

void mt_tl_add(struct mt_timeline *t, int row, int64_t ts, uint64_t n)
{
    int idx = tl_index(t, ts);
    t->rows[row][idx] += n;
}

void mt_tl_free(struct mt_timeline *t)
{
    for (int r = 0; r < t->nrows; r++)
        free(t->rows[r]);
    free(t->rows);
    t->rows = NULL;
    t->nrows = 0;
}

/* ---- formatting ------------------------------------------------------------------------------ */

const char *mt_fmt_ns(uint64_t ns, char *buf, size_t len)
{
    if (ns < 1000)
        snprintf(buf, len, "%lluns", (unsigned long long)ns);
    else if (ns < 1000000)
        snprintf(buf, len, "%.1fus", (double)ns / 1e3);
    else if (ns < 1000000000)
        snprintf(buf, len, "%.2fms", (double)ns / 1e6);
    else
        snprintf(buf, len, "%.3fs", (double)ns / 1e9);
    return buf;
}

const char *mt_fmt_bytes(uint64_t n, char *buf, size_t len)
{
    if (n < 1024)
        snprintf(buf, len, "%llu B", (unsigned long long)n);
    else if (n < 1024 * 1024)
        snprintf(buf, len, "%.1f KiB", (double)n / 1024);
    else if (n < 1024ULL * 1024 * 1024)
        snprintf(buf, len, "%.1f MiB", (double)n / (1024 * 1024));
    else
        snprintf(buf, len, "%.2f GiB", (double)n / (1024.0 * 1024 * 1024));
    return buf;
}

void mt_json_str(FILE *f, const char *s, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

void mt_xml_str(FILE *f, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&#39;", f);
            break;
        default:
            if (c < 0x20 || c >= 0x7f)
                fprintf(f, "\\x%02x", c);
            else
                fputc(c, f);
        }
    }
}

const char *mt_printable(const char *s, size_t n, char *dst, size_t dstlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < dstlen; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f || c == '\\')
            o += (size_t)snprintf(dst + o, dstlen - o, "\\x%02x", c);
        else
            dst[o++] = (char)c;
    }
    dst[o] = 0;
    return dst;
}

const char *mt_strerrno(int64_t e)
{
    static char buf[16];
    const char *n = (e > 0 && e < 4096) ? strerrorname_np((int)e) : NULL;
    if (n)
        return n;
    snprintf(buf, sizeof(buf), "%lld", (long long)e);
    return buf;
}

/* ---- (process, thread, fd) table ------------------------------------------------------------ */

static size_t fd_home(size_t cap, uint32_t proc, int64_t vtid, int64_t fd)
{
    return mt_hash64((uint64_t)fd * 0x9e3779b97f4a7c15ULL ^ (uint64_t)vtid << 20 ^ proc) &
           (cap - 1);
}

struct mt_fdent *mt_fdtab_get(struct mt_fdtab *ft, uint32_t proc, int64_t vtid, int64_t fd)
{
    if ((ft->n + 1) * 2 > ft->cap) {
        size_t ncap = ft->cap ? ft->cap * 2 : 256;
        struct mt_fdent *nt = mt_xcalloc(ncap, sizeof(*nt));
        for (size_t i = 0; i < ft->cap; i++)
            if (ft->t[i].used) {
                size_t j = fd_home(ncap, ft->t[i].proc, ft->t[i].vtid, ft->t[i].fd);
                while (nt[j].used)
                    j = (j + 1) & (ncap - 1);
                nt[j] = ft->t[i];
            }
        free(ft->t);
        ft->t = nt;
        ft->cap = ncap;
    }
    size_t j = fd_home(ft->cap, proc, vtid, fd);
    while (ft->t[j].used) {
        struct mt_fdent *e = &ft->t[j];
        if (e->fd == fd && e->vtid == vtid && e->proc == proc)
            return e;
        j = (j + 1) & (ft->cap - 1);
    }
    struct mt_fdent *e = &ft->t[j];
    memset(e, 0, sizeof(*e));
    e->used = 1;
    e->proc = proc;
    e->vtid = vtid;
    e->fd = fd;
    ft->n++;
    return e;
}

void mt_fdtab_free(struct mt_fdtab *ft)
{
    free(ft->t);
    ft->t = NULL;
    ft->cap = ft->n = 0;
}

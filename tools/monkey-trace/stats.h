/* The statistics behind `summary` and `report`, and the open-connection table that `check`
 * uses too. */
#ifndef MT_STATS_H
#define MT_STATS_H

#include "mt.h"

/* ---- open connections, keyed by (process, conn_id) --------------------------------------- */

#define MT_URI_MAX 200
#define MT_SPANS_MAX 64

struct mt_span {
    int64_t begin;   /* ns from the connection's first event */
    uint64_t dur;    /* ns; 0 while open */
    int32_t status;  /* -1 while open (no request_end) */
};

struct mt_conn {
    uint64_t id;
    uint32_t proc;
    uint8_t used;
    uint8_t accepted;  /* its conn_accept is in the trace */
    uint8_t req_open;  /* a request_begin without its request_end yet */
    uint8_t timed_out;
    int32_t fd;
    int32_t worker;    /* worker index in mt_stats (summary) or worker id (check); -1 unknown */
    int64_t vtid;
    int64_t first_ts;  /* conn_accept, or the first event seen for it */
    int64_t last_ts;
    uint32_t cur_seq;
    int64_t cur_begin_ts;
    uint32_t nbegin, nend;
    uint64_t max_req_ns;
    int32_t port;
    char peer[48];
    uint16_t uri_len;
    char uri[MT_URI_MAX];     /* the request begun last, path without query */
    char max_uri[MT_URI_MAX]; /* the slowest request ended */
    uint16_t nspans, capspans;
    uint8_t spans_truncated;
    struct mt_span *spans;
};

struct mt_conntab {
    struct mt_conn *t;
    size_t cap, n;
};

void mt_ct_init(struct mt_conntab *ct);
struct mt_conn *mt_ct_find(struct mt_conntab *ct, uint32_t proc, uint64_t id);
/* Finds or creates (zeroed, used, id/proc set, worker -1); *created says which. */
struct mt_conn *mt_ct_get(struct mt_conntab *ct, uint32_t proc, uint64_t id, bool *created);
void mt_ct_del(struct mt_conntab *ct, struct mt_conn *c); /* frees its spans */
void mt_ct_free(struct mt_conntab *ct);

/* ---- summary statistics -------------------------------------------------------------------- */

struct mt_worker {
    uint32_t proc;
    int32_t id;    /* -1: not known (yet) */
    int64_t vtid;  /* id -1: the thread its events came from (-1 none); merged into the
                      worker of that thread at the end when the thread's worker became known */
    bool merged;
    uint64_t accepted, closed, requests, errors;
    uint64_t status_class[6];
    struct mt_hist lat;
    int tl_row;
    bool have_stats;
    int64_t stats_active, stats_active_max;
    int64_t stats_accepted, stats_closed, stats_requests; /* last worker_stats */
};

struct mt_uri {
    char *path;
    size_t len;
    uint64_t count;
    uint64_t status_class[6];
    struct mt_hist *lat;
    int heap_pos;
};

struct mt_slow {
    uint32_t proc;
    uint64_t id;
    int32_t worker; /* worker id, -1 unknown */
    int32_t fd;
    char peer[48];
    int32_t port;
    int64_t first_ts, end_ts;
    bool closed, accepted;
    int64_t reason;
    uint32_t requests;
    uint64_t score;
    uint64_t max_req_ns;
    char uri[MT_URI_MAX]; /* the slowest request's */
    uint16_t nspans;
    bool truncated;
    struct mt_span spans[MT_SPANS_MAX];
};

#define MT_URI_CAP 512
#define MT_SLOW_MAX 64
#define MT_ERRKEY_MAX 64

struct mt_errkey {
    int64_t site, err, status;
    uint64_t count;
};

/* timeline rows with a fixed meaning; workers get theirs after these */
enum { TL_REQ, TL_C1, TL_C2, TL_C3, TL_C4, TL_C5, TL_COTHER, TL_ERR, TL_ACCEPT, TL_DISC,
       TL_FIXED };

struct mt_stats {
    /* options */
    bool spans;   /* keep per-request spans for the slowest-connection timeline */
    int nslow;    /* how many slowest connections to keep */
    int top_uris; /* how many URIs to print */

    uint64_t kind_count[MT_EV_COUNT];
    uint64_t req_begin, req_end, bytes_sent;
    uint64_t status[1000], status_other;
    uint64_t status_class[6]; /* 1xx..5xx, other */
    uint64_t keepalive_no;
    struct mt_hist lat, req_per_conn, lifetime;
    uint64_t accepted, closed, closed_before; /* closed_before: accepted before the trace */
    uint64_t close_reason[16]; /* by reason; [15]: unknown */
    uint64_t timeout_kind[8]; /* by kind; [7]: unknown */
    uint64_t forced_closes;
    uint64_t over_capacity;
    uint64_t errors;
    uint64_t error_site[16]; /* by site; [15]: unknown */
    struct mt_errkey errkeys[MT_ERRKEY_MAX];
    int nerrkeys;
    uint64_t discarded, discarded_msgs;

    struct mt_worker *workers;
    int nworkers;
    int unknown_worker; /* index of the "?" worker, -1 until needed */
    struct { uint32_t proc; int64_t vtid; int widx; } *vtids;
    int nvtids;

    struct mt_timeline tl;
    struct mt_conntab conns;

    struct mt_uri uris[MT_URI_CAP];
    int nuris;
    int *uri_slots; /* hash: slot -> uri index + 1 (0 empty) */
    int uri_nslots;
    int uri_heap[MT_URI_CAP]; /* min-heap of uri indices by max latency */
    uint64_t uri_untracked;   /* requests of URIs pushed out of the bounded table */
    uint64_t uri_distinct_seen;

    struct mt_slow *slow; /* nslow entries, a min-heap on score */
    int nslowused;

    uint64_t *proc_requests; /* per process */
    uint64_t *proc_conns;
    uint32_t nprocalloc;

    int64_t first_ts, last_ts;
    struct mt_read_stats rs;
};


void mt_stats_init(struct mt_stats *s, bool spans, int nslow);
void mt_stats_event(void *ctx, const struct mt_event *ev);
void mt_stats_discarded(void *ctx, uint64_t count, int64_t ts);
void mt_stats_finish(struct mt_stats *s); /* merges thread-only workers, offers open conns */
void mt_stats_free(struct mt_stats *s);
/* URIs sorted slowest first (by p99, then max); returns how many (<= max) */
int mt_stats_slowest_uris(struct mt_stats *s, int *out, int max);
/* slowest connections sorted by score, slowest first */
int mt_stats_slowest_conns(struct mt_stats *s, struct mt_slow **out, int max);
const char *mt_worker_label(const struct mt_stats *s, int w, char *buf, size_t len);
/* rate figures: average and peak requests/s */
double mt_stats_duration_s(const struct mt_stats *s);

#endif

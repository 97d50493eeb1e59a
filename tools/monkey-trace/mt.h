/* monkey-trace: analyses of Monkey's LTTng traces, read with libbabeltrace2.
 *
 * reader.c turns every event of the `monkey` provider into a struct mt_event (field values
 * looked up by member index, cached per event class) and hands it to a sink; the commands
 * (summary.c, report.c, conn.c, check.c, top.c) are sinks.  Memory never grows with the
 * number of events: latencies go into log-bucketed histograms, per-connection state lives
 * only while a connection is open, tables (URIs, slowest connections) are bounded. */
#ifndef MT_H
#define MT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- events ------------------------------------------------------------------------------ */

enum mt_kind {
    MT_EV_OTHER, /* not a monkey event (lttng_ust_statedump:..., other providers) */
    MT_EV_EPOLL,
    MT_EV_EPOLL_STATE,
    MT_EV_SCHEDULER,
    MT_EV_CONN_ACCEPT,
    MT_EV_CONN_CLOSE,
    MT_EV_CONN_TIMEOUT,
    MT_EV_REQUEST_BEGIN,
    MT_EV_REQUEST_END,
    MT_EV_REQUEST_HEADER,
    MT_EV_ERROR,
    MT_EV_WORKER_STATS,
    MT_EV_UNKNOWN_MONKEY, /* a monkey:* event this version does not know */
    MT_EV_COUNT
};

/* The `event` text of the seed events, as a code (MT_SEED_OTHER for anything else). */
enum mt_seed {
    MT_SEED_OTHER,
    MT_SEED_EPOLLIN,
    MT_SEED_EPOLLOUT,
    MT_SEED_EPOLLRDHUP,
    MT_SEED_EPOLLHUP,
    MT_SEED_EPOLLERR,
    MT_SEED_TIMEOUT_CHECK,
    MT_SEED_FORCED_CLOSE,
    MT_SEED_GET,
    MT_SEED_GET_NOT_FOUND,
    MT_SEED_SET_NEW,
    MT_SEED_SET_CHANGE,
    MT_SEED_DELETE,
    MT_SEED_DELETE_NOT_FOUND,
    MT_SEED_ADD_CLIENT,
    MT_SEED_REGISTERED,
    MT_SEED_GET_CONNECTION,
    MT_SEED_GET_FAILED,
    MT_SEED_TIMEOUT_REQ_INCOMPLETE,
    MT_SEED_TIMEOUT_CONN_PENDING,
    MT_SEED_OVER_CAPACITY,
    MT_SEED_DELETE_CLIENT,
};

/* Field slots.  Which field goes where, per event:
 *   seed events    fd; s1 = event (and seed = its code)
 *   conn_accept    conn_id, fd, i[0] worker, s1 peer, i[1] port
 *   conn_close     conn_id, fd, i[0] reason, i[1] requests, i[2] bytes_in, i[3] bytes_out,
 *                  i[4] lifetime_ns
 *   conn_timeout   conn_id, fd, i[0] kind
 *   request_begin  conn_id, i[0] req_seq, i[1] method, i[2] protocol, s1 uri, s2 host
 *   request_end    conn_id, i[0] req_seq, i[1] status, i[2] bytes_sent, i[3] duration_ns,
 *                  i[4] keepalive
 *   request_header conn_id, i[0] req_seq, s1 name, s2 value
 *   error          conn_id, i[0] site, i[1] errno, i[2] status
 *   worker_stats   i[0] worker, i[1] active, i[2] accepted, i[3] closed, i[4] requests
 * A field missing from the trace reads as 0 (strings as ""). */
struct mt_event {
    enum mt_kind kind;
    enum mt_seed seed;
    const char *name; /* full event name, e.g. "monkey:request_end" */
    int64_t ts;       /* ns from the clock's origin (Unix epoch for LTTng traces) */
    uint32_t proc;    /* index into mt_procs */
    int64_t vtid;     /* -1 when the vtid context was not recorded */
    uint64_t conn_id;
    int64_t fd;
    int64_t i[5];
    const char *s1, *s2; /* valid only during the callback */
    size_t l1, l2;
};

/* One traced process: (host, vpid).  vpid is 0 when the trace has no vpid context and no
 * per-process buffers (processes then cannot be told apart). */
struct mt_proc {
    char host[64];
    int64_t vpid;
    char procname[32];
};

extern struct mt_proc *mt_procs;
extern uint32_t mt_nprocs;
extern bool mt_have_vpid; /* the vpid context (or per-process buffers) was seen */
extern bool mt_have_vtid; /* the vtid context was seen */
/* Event classes present in the traces' metadata (LTTng writes the enabled ones). */
extern bool mt_class_present[MT_EV_COUNT];

/* A process label for output: "pid 1234" or "host/pid 1234" when several hosts. */
const char *mt_proc_label(uint32_t proc, char *buf, size_t len);
/* Prints a one-line note on f when the trace has no vpid context. */
void mt_vpid_note(FILE *f);
bool mt_multi_host(void);

struct mt_sink {
    void *ctx;
    void (*event)(void *ctx, const struct mt_event *ev);
    /* count is 0 when the tracer did not say how many */
    void (*discarded)(void *ctx, uint64_t count, int64_t ts);
    /* live only: called between reads, about every 50 ms; wall time in ns */
    void (*tick)(void *ctx, int64_t now_ns);
};

struct mt_read_opts {
    char **inputs; /* trace directories (searched for `metadata`), or one live URL */
    int ninputs;
    bool live;
    bool live_wait; /* live: wait for the session to exist instead of ending */
    int64_t pid;    /* only events of this vpid (-1: all) */
    const char *host; /* only events of this host (NULL: all) */
};

struct mt_read_stats {
    uint64_t messages;
    uint64_t events;        /* every event read */
    uint64_t monkey_events; /* monkey:* events (after the --pid/--host filters) */
    uint64_t monkey_filtered; /* monkey:* events left out by the --pid/--host filters */
    /* Discards are reported per stream (one ring buffer).  Under --pid/--host, those of a
     * stream that can hold only other processes' or hosts' events (another host's trace,
     * per-process buffers of another pid) are left out of the counts below and counted in
     * the excluded_ ones; those of a stream shared by every process of a user (per-user
     * buffers, the default) are counted, and shared_msgs says how many such gaps: how many
     * of their events were the selected process's is unknown. */
    uint64_t discarded;     /* events the tracer discarded */
    uint64_t discarded_msgs;
    uint64_t discarded_unknown; /* discarded-events messages without a count, and lost packets */
    uint64_t discarded_packets; /* packets lost (overwrite mode): events of unknown number */
    uint64_t discarded_shared_msgs; /* --pid: gaps in buffers shared with other processes */
    uint64_t discarded_excluded;    /* events discarded in other processes'/hosts' buffers */
    uint64_t discarded_excluded_msgs;
    int ntraces;            /* trace directories given to src.ctf.fs */
    int64_t first_ts, last_ts;
    double seconds;     /* wall time spent reading */
    double cpu_seconds; /* CPU time (user + system) spent reading */
};

/* Read every input, merged by time, calling the sink; 0 on success, -1 after an error
 * message on stderr. */
int mt_read(const struct mt_read_opts *o, struct mt_sink *sink, struct mt_read_stats *st);

/* " --pid 12 --host h" for what the filters of o select, "" without filters */
const char *mt_filter_desc(const struct mt_read_opts *o, char *buf, size_t len);
/* The line(s) for a read that gave no monkey:* event (after the filters). */
void mt_no_events_note(FILE *f, const struct mt_read_opts *o, const struct mt_read_stats *st);
/* "N monkey", or under --pid/--host "N of the M monkey:* events match --pid P": the
 * headers' count of monkey:* events (a filter leaves most of them out) */
const char *mt_monkey_desc(const struct mt_read_opts *o, const struct mt_read_stats *st,
                           char *buf, size_t len);

/* Set by SIGINT/SIGTERM: the read loop stops at the next message batch. */
extern volatile int mt_interrupted;

/* Labels of the enums (src/trace/mk_trace_enums.h); "?" plus the number when unknown. */
const char *mt_close_reason(int64_t v);
const char *mt_timeout_kind(int64_t v);
const char *mt_error_site(int64_t v);
const char *mt_method(int64_t v);
const char *mt_protocol(int64_t v);
extern const char *const mt_close_reason_names[];
extern const char *const mt_timeout_kind_names[];
extern const char *const mt_error_site_names[];
extern const int mt_close_reason_count, mt_timeout_kind_count, mt_error_site_count;

/* ---- log-bucketed histogram ---------------------------------------------------------------
 * 16 buckets per power of two: a value is known within 1/16 of itself (percentiles report
 * the middle of their bucket, so within about 3 %), values below 16 exactly.  8 KiB each. */
#define MT_HIST_SUB 4
#define MT_HIST_N ((64 - MT_HIST_SUB + 1) << MT_HIST_SUB)

struct mt_hist {
    uint64_t n;
    uint64_t min, max;
    double sum;
    uint64_t b[MT_HIST_N];
};

void mt_hist_init(struct mt_hist *h);
void mt_hist_add(struct mt_hist *h, uint64_t v);
void mt_hist_merge(struct mt_hist *into, const struct mt_hist *from);
uint64_t mt_hist_pct(const struct mt_hist *h, double pct); /* pct in [0, 100] */
int mt_hist_bucket(uint64_t v);
uint64_t mt_hist_bucket_low(int idx);
uint64_t mt_hist_bucket_high(int idx); /* inclusive */

/* ---- timeline: counts per time bucket, bucket width doubled when it would overflow ---- */
#define MT_TL_CAP 2048

struct mt_timeline {
    int64_t t0;    /* start: the first event */
    int64_t width; /* ns per bucket */
    int nb;        /* buckets in use */
    int nrows;
    uint64_t **rows;
    bool started;
};

void mt_tl_init(struct mt_timeline *t);
int mt_tl_add_row(struct mt_timeline *t); /* returns its index */
void mt_tl_touch(struct mt_timeline *t, int64_t ts); /* extend to ts (any event) */
void mt_tl_add(struct mt_timeline *t, int row, int64_t ts, uint64_t n);
void mt_tl_free(struct mt_timeline *t);

/* ---- a table keyed by (process, thread, fd), entries never removed ----------------------- */
struct mt_fdent {
    uint32_t proc;
    int32_t s;
    int64_t vtid, fd;
    int64_t a, b, c;
    uint8_t used;
};

struct mt_fdtab {
    struct mt_fdent *t;
    size_t cap, n;
};

struct mt_fdent *mt_fdtab_get(struct mt_fdtab *ft, uint32_t proc, int64_t vtid, int64_t fd);
void mt_fdtab_free(struct mt_fdtab *ft);

/* ---- small helpers ------------------------------------------------------------------------ */
void *mt_xmalloc(size_t n);
void *mt_xcalloc(size_t n, size_t m);
void *mt_xrealloc(void *p, size_t n);
char *mt_xstrdup(const char *s);
uint64_t mt_hash64(uint64_t x);
uint64_t mt_hash_bytes(const char *s, size_t n);
/* "812ns", "52.1us", "3.20ms", "1.500s" */
const char *mt_fmt_ns(uint64_t ns, char *buf, size_t len);
/* "12.3 KiB" */
const char *mt_fmt_bytes(uint64_t n, char *buf, size_t len);
/* JSON string (quotes included); bytes outside printable ASCII become \u00XX */
void mt_json_str(FILE *f, const char *s, size_t n);
/* XML text: & < > " ' escaped; bytes outside printable ASCII become \xNN */
void mt_xml_str(FILE *f, const char *s, size_t n);
/* printable copy for terminals: bytes outside printable ASCII become \xNN; returns dst */
const char *mt_printable(const char *s, size_t n, char *dst, size_t dstlen);
const char *mt_strerrno(int64_t e); /* "EACCES" */
int64_t mt_now_ns(void);

/* ---- commands ------------------------------------------------------------------------------ */
struct mt_common {
    struct mt_read_opts ro;
    bool json;
    const char *out;
    int top_n;
};

int mt_cmd_summary(struct mt_common *c);
int mt_cmd_report(struct mt_common *c);
int mt_cmd_conn(struct mt_common *c, int64_t conn_id, int64_t fd);
int mt_cmd_check(struct mt_common *c, bool no_stats);
int mt_cmd_top(struct mt_common *c, double interval, int64_t max_seconds);

#endif

/* The scheduler: worker threads, each with its own epoll loop, its own SO_REUSEPORT
 * listening sockets, its own table of connections indexed by fd, and its own timers.
 * Nothing here is shared between workers on the hot path.
 *
 * Loop phases of a worker (one iteration):
 *   1. epoll_wait (0 ms when work is posted, otherwise until the next second)
 *   2. refresh the thread's clock (vDSO, no system call)
 *   3. dispatch the batch: listener -> accept; connection -> protocol->on_ready
 *   4. run posted connections (pipelined requests, large responses yielding)
 *   5. free the connections closed during 2-4 (never in the middle of a batch)
 *   6. once a second: expire timers, protocol->on_tick (logs, caches), stats
 *
 * The protocol (HTTP) plugs in through struct mk_proto; this layer knows nothing of it. */
#ifndef MK_SCHED_H
#define MK_SCHED_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "../core/mk_clock.h"
#include "../trace/mk_trace_enums.h"

struct mk_worker;

/* Timer lists: each has one fixed duration, so appending keeps it sorted and expiry is
 * O(expired). */
enum mk_tlist { MK_TLIST_NONE = 0, MK_TLIST_REQUEST, MK_TLIST_KEEPALIVE, MK_TLIST_LINGER,
                MK_TLIST_COUNT };

union mk_sockaddr {
    struct sockaddr sa;
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
};

struct mk_conn {
    int fd;
    uint32_t gen;        /* echoed in epoll data: events of a previous owner of fd are dropped */
    uint8_t state;       /* the protocol's state (enum mk_http_state) */
    uint8_t tlist;       /* enum mk_tlist */
    uint8_t tkind;       /* enum mk_timeout_kind reported if the timer fires */
    bool rd_ready : 1;   /* readable since the last short read (edge-triggered) */
    bool wr_ready : 1;   /* writable since the last EAGAIN */
    bool peer_shut : 1;  /* EPOLLRDHUP seen */
    bool posted : 1;
    bool closed : 1;
    uint32_t deadline;   /* monotonic second at which the timer fires */
    uint32_t requests;   /* requests answered on this connection */
    struct mk_conn *tprev, *tnext;
    struct mk_conn *post_next;
    struct mk_worker *worker;
    void *session;       /* protocol state while a request is in progress */
    uint64_t id;         /* per-process connection id (fds are reused, ids are not) */
    uint64_t start_ns;
    uint64_t bytes_in, bytes_out;
    union mk_sockaddr peer;
};

/* How the protocol plugs into the scheduler.  Every hook runs on the worker's thread. */
struct mk_proto {
    void *(*worker_init)(struct mk_worker *w);
    void (*worker_exit)(struct mk_worker *w);
    void (*on_accept)(struct mk_conn *c);  /* registered; arm a timer */
    void (*on_ready)(struct mk_conn *c);   /* rd_ready / wr_ready changed, or posted */
    void (*on_timeout)(struct mk_conn *c); /* the timer fired: the hook closes c */
    void (*on_close)(struct mk_conn *c);   /* release protocol state (c->session) */
    void (*on_tick)(struct mk_worker *w);  /* about once a second */
    bool (*is_idle)(struct mk_conn *c);    /* may be closed at once on shutdown */
};

struct mk_listen_addr {
    union mk_sockaddr addr;
    socklen_t len;
    char text[64]; /* "127.0.0.1:2001", "[::]:2001" */
};

struct mk_sched_config {
    int workers;
    uint32_t timeout[MK_TLIST_COUNT]; /* seconds for each timer list */
    uint32_t max_connections;         /* 0: unlimited */
    uint32_t grace_seconds;           /* shutdown: time left to in-flight responses */
    bool reuseport;
    struct mk_listen_addr *listen;
    int nlisten;
    const struct mk_proto *proto;
    void *proto_config;
};

struct mk_listener {
    int fd;
    int addr_index;
};

struct mk_tlist_head {
    struct mk_conn *head, *tail;
};

struct mk_worker {
    int id;
    pthread_t thread;
    int epfd;
    int wake_fd;
    int tick_fd;         /* timerfd: wakes the loop once a second for the timers */
    const struct mk_sched_config *cfg;
    const struct mk_proto *proto;
    void *proto_ctx;

    struct mk_listener *listeners;
    int nlisteners;
    bool accept_paused;
    uint32_t accept_resume_sec;

    /* the fd table ("epoll_state" in traces): fd -> connection */
    struct mk_conn **fdt;
    uint32_t fdt_cap;

    struct mk_tlist_head tlists[MK_TLIST_COUNT];
    struct mk_conn *posted_head, *posted_tail;
    struct mk_conn *closed;     /* freed after the batch */
    struct mk_conn *free_conns; /* recycled connection structs */
    uint32_t nfree;

    uint32_t active;
    uint64_t accepted, nclosed, requests;
    uint64_t conn_seq;
    uint32_t gen;
    uint32_t last_tick;

    int stopping;          /* set by the main thread, read by the worker */
    uint32_t stop_deadline;
};

/* Create the listening sockets for every worker (before privileges are dropped). */
int mk_sched_listen(struct mk_sched_config *cfg, struct mk_worker **out);

/* Same, for a reload: sockets of the running workers `old` (configured by old_cfg) for the
 * same addresses are shared (dup) instead of opened again, so their accept queues carry
 * over to the new workers. */
int mk_sched_listen_reuse(struct mk_sched_config *cfg, const struct mk_worker *old,
                          const struct mk_sched_config *old_cfg, struct mk_worker **out);

/* Start the worker threads; returns once they all run. */
int mk_sched_start(struct mk_worker *workers, const struct mk_sched_config *cfg);

enum { MK_STOP_SHUTDOWN = 1, MK_STOP_RELOAD = 2 };

/* Ask every worker to stop accepting and finish (in-flight responses get
 * cfg->grace_seconds), then join them and release everything.  MK_STOP_SHUTDOWN closes idle
 * connections at once; MK_STOP_RELOAD lets each answer its next request with
 * "Connection: Close" (or expire), so no client sees its request dropped. */
void mk_sched_stop(struct mk_worker *workers, const struct mk_sched_config *cfg, int how);

/* Connection services for the protocol. */
void mk_sched_conn_close(struct mk_conn *c, enum mk_close_reason reason, bool forced);
void mk_sched_timer_set(struct mk_conn *c, enum mk_tlist list, enum mk_timeout_kind kind);
void mk_sched_timer_clear(struct mk_conn *c);
void mk_sched_conn_post(struct mk_conn *c);

/* Number of CPUs available to this process. */
int mk_sched_ncpus(void);

/* Parse "2001", "127.0.0.1:2001", "[::1]:2001", "*:2001"; default_port when only an
 * address is given.  Returns -1 on error. */
int mk_listen_parse(const char *text, int default_port, struct mk_listen_addr *out);

#endif

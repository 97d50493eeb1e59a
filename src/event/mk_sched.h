/* The scheduler: worker threads, each with its own event loop (epoll, or io_uring with
 * EventLoop io_uring: src/event/mk_uring.c), its own SO_REUSEPORT listening sockets, its
 * own table of connections indexed by fd, and its own timers.  Nothing here is shared
 * between workers on the hot path.
 *
 * Loop phases of a worker (one iteration):
 *   1. epoll_wait, or io_uring_enter submitting what the last pass queued (no wait when
 *      work is posted; the tick timerfd wakes the loop once a second)
 *   2. refresh the thread's clock (vDSO, no system call)
 *   3. dispatch the batch: listener -> accept; connection -> protocol->on_ready
 *   4. run posted connections (pipelined requests, large responses yielding)
 *   5. free the connections closed during 2-4 (never in the middle of a batch)
 *   6. once a second: expire timers, protocol->on_tick (logs, caches), stats
 *
 * The protocol (HTTP) plugs in through struct mk_proto; this layer knows nothing of it. */
#ifndef MK_SCHED_H
#define MK_SCHED_H

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "../core/mk_clock.h"
#include "../core/mk_sys.h"
#include "../mk_config.h"
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
    bool uring : 1;      /* served by the io_uring loop: use the mk_conn_* I/O calls */
    bool send_done : 1;  /* io_uring: the send in flight completed with send_res */
    bool recv_cancel : 1; /* io_uring: the receive is being cancelled (input held) */
    bool in_paused : 1;  /* io_uring: the receive stopped (input held, ENOBUFS) and no receive
                            completed since: the socket may hold unread input */
    uint8_t io_armed;    /* io_uring: operations in flight (MK_IO_RECV, MK_IO_SEND, ...) */
    uint8_t in_kind;     /* io_uring: input received and not yet taken (enum mk_in_kind) */
    uint16_t in_bid;     /* io_uring: its provided buffer, for MK_IN_RING; log2 of the
                            private copy's capacity for MK_IN_HEAP */
    int32_t in_end;      /* io_uring: after that input the stream ends: 1 at its end, -errno
                            on an error, 0 while open */
    int32_t send_res;    /* io_uring: bytes sent, or -errno */
    uint32_t in_off, in_len;
    char *in_ptr;        /* io_uring: the input bytes (ring buffer or a private copy) */
    uint32_t deadline;   /* monotonic second at which the timer fires */
    uint32_t requests;   /* requests answered on this connection */
    struct mk_conn *tprev, *tnext;
    struct mk_conn *post_next;  /* posted list; the free list once recycled */
    struct mk_conn *close_next; /* closed during this pass, freed after it */
    struct mk_worker *worker;
    void *session;       /* protocol state while a request is in progress */
    uint64_t id;         /* per-process connection id (fds are reused, ids are not) */
    uint64_t start_ns;
    uint64_t bytes_in, bytes_out;
    int64_t acked;       /* a write waiting for room: output the peer's window had taken
                            when its timer was last armed (mk_sched_write_wait) */
    union mk_sockaddr peer;
};

/* How the protocol plugs into the scheduler.  Every hook runs on the worker's thread. */
struct mk_proto {
    void *(*worker_init)(struct mk_worker *w);
    void (*worker_exit)(struct mk_worker *w);
    void (*on_accept)(struct mk_conn *c);  /* registered; arm a timer */
    void (*on_ready)(struct mk_conn *c);   /* rd_ready / wr_ready changed, or posted */
    void (*on_timeout)(struct mk_conn *c); /* the timer fired: the hook closes c */
    /* release protocol state (c->session); reason: why the connection closes */
    void (*on_close)(struct mk_conn *c, enum mk_close_reason reason);
    void (*on_tick)(struct mk_worker *w);  /* about once a second */
    bool (*is_idle)(struct mk_conn *c);    /* may be closed at once on shutdown */
};

struct mk_listen_addr {
    union mk_sockaddr addr;
    socklen_t len;
    char text[64]; /* "127.0.0.1:2001", "[::]:2001" */
    char where[160]; /* what asked for it, for errors: "conf/monkey.conf:12: Listen" */
};

/* The event loop of the workers.  epoll: readiness, the request path makes its own
 * recv/send system calls (the spec's model, traced as such).  io_uring: completions, a
 * worker's receives and sends of one loop pass go to the kernel in one io_uring_enter. */
enum mk_event_loop { MK_LOOP_EPOLL = 0, MK_LOOP_URING };

struct mk_sched_config {
    int workers;
    enum mk_event_loop loop;
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
    bool more;   /* io_uring: the last accept batch was full; accept again after the pass */
    bool shared; /* also another worker's (ReusePort off, or shared after a reload) */
};

struct mk_tlist_head {
    struct mk_conn *head, *tail;
};

struct mk_worker {
    int id;
    pthread_t thread;
    bool started; /* thread created: mk_sched_stop joins only these */
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
    uint32_t gen;
    uint32_t last_tick;

    struct mk_uring *uring; /* the io_uring loop's state, NULL under epoll */
    bool use_uring;         /* the worker is to run the io_uring loop */

    int stopping;          /* set by the main thread, read by the worker */
    int stop_mode;         /* the stop the worker has begun (0: none), its own */
    uint32_t stop_deadline;
    int done;              /* set by the worker as it leaves its loop */
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

/* The refusals (MaxConnections, io_uring descriptor limit) that the 10 s interval of their
 * error-log line still held back, said now: at the end, once the workers are stopped, so
 * that none is lost with the process. */
void mk_sched_refused_rest(const struct mk_sched_config *cfg);

enum { MK_STOP_SHUTDOWN = 1, MK_STOP_RELOAD = 2 };

/* Ask every worker to stop accepting and finish (in-flight responses get
 * cfg->grace_seconds), without waiting.  MK_STOP_SHUTDOWN closes idle connections at once;
 * MK_STOP_RELOAD lets each answer its next request with "Connection: Close" (or expire), so
 * no client sees its request dropped.  MK_STOP_SHUTDOWN after MK_STOP_RELOAD (SIGTERM while
 * the workers a reload replaced finish) closes the idle connections then; the responses in
 * flight keep the deadline they had.  A shutdown is never turned back into a reload. */
void mk_sched_stop_begin(struct mk_worker *workers, const struct mk_sched_config *cfg, int how);

/* True once every started worker has left its loop: mk_sched_stop() will not wait. */
bool mk_sched_stopped(const struct mk_worker *workers, const struct mk_sched_config *cfg);

/* mk_sched_stop_begin(), then join the workers and release everything. */
void mk_sched_stop(struct mk_worker *workers, const struct mk_sched_config *cfg, int how);

/* True once a worker's event loop has failed: the worker has sent the process SIGTERM,
 * and main exits with status 1 after the stop. */
bool mk_sched_failed(void);

/* Connection services for the protocol. */
void mk_sched_conn_close(struct mk_conn *c, enum mk_close_reason reason, bool forced);
void mk_sched_timer_set(struct mk_conn *c, enum mk_tlist list, enum mk_timeout_kind kind);
void mk_sched_timer_clear(struct mk_conn *c);

/* c->acked when no sample was taken: an io_uring send queued and not completed yet. */
#define MK_ACKED_UNKNOWN INT64_MIN

/* What of our output the peer's window has let the kernel send (a system call); `prev`
 * when the socket cannot say. */
int64_t mk__sched_peer_acked(const struct mk_conn *c, int64_t prev);

/* A response waits for socket room: arm the Timeout timer (MK_TIMEOUT_WRITE) when the wait
 * begins or when `progress` (bytes were written), otherwise leave it running.  When it
 * expires the connection is closed only if the kernel has sent none of our output since
 * the timer was armed (the peer's window stayed shut): a slow reader of a large socket
 * buffer drains it without waking us, and then the timer starts again.  Under io_uring
 * every response waits for its queued send (a wait that ends within the loop pass): the
 * sample is taken only once the send has made progress, or when the timer expires, never
 * for a send that completes at once (no system call per request; inline for that case). */
static inline void mk_sched_write_wait(struct mk_conn *c, bool progress)
{
    bool armed = c->tlist == MK_TLIST_REQUEST && c->tkind == MK_TIMEOUT_WRITE;
    uint32_t before = c->deadline;

    if (armed && !progress)
        return; /* woken without writing (input, a spurious wake-up): the timer runs on */
    mk_sched_timer_set(c, MK_TLIST_REQUEST, MK_TIMEOUT_WRITE);
    /* One sample per second at most: re-arming within the same second keeps the deadline,
     * and bytes the peer acknowledges after the sample count as progress all the same. */
    if (!armed || c->deadline != before || c->acked == MK_ACKED_UNKNOWN)
        c->acked = progress || !c->uring ? mk__sched_peer_acked(c, c->acked) : MK_ACKED_UNKNOWN;
}
void mk_sched_conn_post(struct mk_conn *c);

/* ---- connection I/O: the request path's system calls, for either event loop ----
 *
 * Under epoll these are the system calls themselves (and keep rd_ready / wr_ready as the
 * edge-triggered model needs).  Under io_uring, mk_conn_recv() hands out what a completed
 * receive brought (EAGAIN when nothing did; the scheduler keeps one receive armed), and
 * mk_conn_sendmsg() queues the send and answers EAGAIN with wr_ready false; once the send
 * completes, wr_ready is true again and the same call (same msg) returns its result.  So
 * msg, its iovecs and the bytes they point to must stay unchanged until then.
 * mk_conn_sendmsg_now() is the system call under both loops. */
enum { MK_IO_RECV = 1, MK_IO_SEND = 2, MK_IO_POLLOUT = 4 };
enum mk_in_kind { MK_IN_NONE = 0, MK_IN_RING, MK_IN_HEAP };

ssize_t mk_uring_recv(struct mk_conn *c, void *buf, size_t len);
ssize_t mk_uring_sendmsg(struct mk_conn *c, const struct msghdr *msg, int flags);
void mk_uring_want_write(struct mk_conn *c);

/* recv(2): > 0 bytes, 0 at the end of the stream, -1 with errno (EAGAIN: nothing now). */
static inline ssize_t mk_conn_recv(struct mk_conn *c, void *buf, size_t len)
{
    if (c->uring)
        return mk_uring_recv(c, buf, len);
    ssize_t n = mk_sys_recv(c->fd, buf, len, 0); /* recv: no VFS layer, unlike read() */
    /* A short read drained the socket: edge-triggered epoll will say when more comes.  Not
     * so after EPOLLRDHUP: the end of the stream was signalled with the data, no further
     * edge will come, and the read that returns 0 must still happen. */
    if ((n > 0 && (size_t)n < len && !c->peer_shut) || (n < 0 && errno == EAGAIN))
        c->rd_ready = false;
    return n;
}

/* After a system call of its own (sendfile) said EAGAIN: have wr_ready set again when the
 * socket can take more. */
static inline void mk_conn_want_write(struct mk_conn *c)
{
    c->wr_ready = false;
    if (c->uring)
        mk_uring_want_write(c);
}

/* sendmsg(2) made now, under either loop (io_uring: never while a queued send is in
 * flight); -1 with EAGAIN: wait for wr_ready. */
static inline ssize_t mk_conn_sendmsg_now(struct mk_conn *c, const struct msghdr *msg, int flags)
{
    /* One segment: send() spares the kernel the iovec import of sendmsg(). */
    ssize_t n = msg->msg_iovlen == 1 ? mk_sys_send(c->fd, msg->msg_iov[0].iov_base,
                                                   msg->msg_iov[0].iov_len, flags)
                                     : mk_sys_sendmsg(c->fd, msg, flags);
    if (n < 0 && errno == EAGAIN)
        mk_conn_want_write(c);
    return n;
}

/* sendmsg(2) with MSG_NOSIGNAL in flags; -1 with EAGAIN: wait for wr_ready. */
static inline ssize_t mk_conn_sendmsg(struct mk_conn *c, const struct msghdr *msg, int flags)
{
    if (c->uring)
        return mk_uring_sendmsg(c, msg, flags);
    return mk_conn_sendmsg_now(c, msg, flags);
}

/* 0 when this kernel gives the io_uring loop what it needs, else -errno (-ENOSYS: built
 * without liburing). */
int mk_sched_uring_probe(void);

/* Number of CPUs available to this process. */
int mk_sched_ncpus(void);

/* Parse "2001", "127.0.0.1:2001", "[::1]:2001", "*:2001" (as "2001").  An address without
 * a port ("127.0.0.1", "[::1]") takes addr_port (the port -p gives for every address); with
 * addr_port 0 it returns -2.  Returns -1 on error. */
int mk_listen_parse(const char *text, int addr_port, struct mk_listen_addr *out);

#endif

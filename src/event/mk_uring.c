/* The io_uring event loop (`EventLoop io_uring`), beside the epoll loop of mk_sched.c.
 *
 * The same connections, timers and protocol hooks as the epoll loop; only the way input
 * arrives and output leaves differs.  Every connection keeps one receive armed (as it
 * keeps EPOLLIN registered under epoll); the kernel picks a buffer from the worker's
 * provided-buffer ring when data comes, so an idle connection holds no buffer.  Sends are
 * queued by mk_conn_sendmsg().  One io_uring_enter per loop pass submits everything the
 * pass queued and waits for the next completions, where the epoll loop makes a recv and a
 * send system call per request besides epoll_wait.  Listeners and the wake/tick eventfds
 * are watched with multishot polls and accepted with accept4() as under epoll.
 *
 * A completion names its connection the way an epoll event does (fd and generation), so a
 * completion for a connection closed meanwhile is recognised and dropped. */

#include "mk_sched.h"
#include "mk_sched_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "../core/mk_core.h"
#include "../core/mk_log.h"

#if MK_HAVE_IO_URING
#include <liburing.h>
#include <poll.h>

#define MK_URING_SQ 1024
#define MK_URING_CQ 8192
#define MK_URING_NBUF 512     /* provided receive buffers per worker (power of two); the
                                 environment's MONKEY_IO_URING_BUFFERS overrides it (tests) */
#define MK_URING_BUFSZ 2048   /* most request heads fit in one */
#define MK_URING_BGID 0
#define MK_URING_HOLD_MAX 65536 /* input kept for a busy connection before receiving pauses */
/* One thread submits, and completions' task work runs only when it asks for events: no
 * interrupting the worker in the middle of a pass (kernel 6.1). */
#define MK_URING_FLAGS (IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | \
                        IORING_SETUP_CQSIZE)

enum { UD_RECV = 1, UD_SEND, UD_POLLOUT, UD_LISTEN, UD_BASE, UD_CANCEL };

struct mk_uring {
    struct io_uring ring;
    struct io_uring_buf_ring *br;
    char *bufs;
    unsigned nbuf;
    int mask;
};

static unsigned uring_nbuf(void)
{
    const char *e = getenv("MONKEY_IO_URING_BUFFERS");
    unsigned long n = e ? strtoul(e, NULL, 10) : 0;
    if (n == 0 || n > 32768 || (n & (n - 1)))
        return MK_URING_NBUF;
    return (unsigned)n;
}

/* user_data: generation (32 bits) | type (8) | fd (24) */
static inline uint64_t ud_make(int type, int fd, uint32_t gen)
{
    return ((uint64_t)gen << 32) | ((uint64_t)(uint32_t)type << 24) |
           ((uint32_t)fd & MK_URING_FD_MAX);
}

static struct io_uring_sqe *uring_sqe(struct mk_uring *u)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
    if (mk_unlikely(!sqe)) {
        io_uring_submit(&u->ring); /* the queue is full: hand it over now */
        sqe = io_uring_get_sqe(&u->ring);
    }
    return sqe;
}

static inline void buf_return(struct mk_uring *u, unsigned bid)
{
    io_uring_buf_ring_add(u->br, u->bufs + (size_t)bid * MK_URING_BUFSZ, MK_URING_BUFSZ,
                          (unsigned short)bid, u->mask, 0);
    io_uring_buf_ring_advance(u->br, 1);
}

static void in_release(struct mk_conn *c)
{
    if (c->in_kind == MK_IN_RING)
        buf_return(c->worker->uring, c->in_bid);
    else if (c->in_kind == MK_IN_HEAP)
        free(c->in_ptr);
    c->in_kind = MK_IN_NONE;
    c->in_ptr = NULL;
    c->in_off = c->in_len = 0;
}

/* Move c's input not taken yet, followed by n more bytes from p, into a private copy; the
 * ring buffer it was in is released.  The copy's capacity is a power of two, 1 << in_bid
 * (in_bid names no ring buffer then): more input is appended in place while it fits, and
 * the input not taken is moved to the front only when at least as much has been taken, or
 * into a copy twice as large, so that each byte is copied a bounded number of times.  (A
 * new copy per completion copied all the input held, up to MK_URING_HOLD_MAX, for each
 * 2 KiB received: a pipeline of small requests behind a response cost O(held) per buffer.) */
static void in_keep(struct mk_conn *c, const char *p, uint32_t n)
{
    uint32_t left = c->in_len - c->in_off;
    if (c->in_kind == MK_IN_HEAP) {
        size_t cap = (size_t)1 << c->in_bid;
        if ((size_t)c->in_len + n <= cap) {
            if (n)
                memcpy(c->in_ptr + c->in_len, p, n);
            c->in_len += n;
            return;
        }
        if ((size_t)left + n <= cap && c->in_off >= left) {
            memmove(c->in_ptr, c->in_ptr + c->in_off, left);
            if (n)
                memcpy(c->in_ptr + left, p, n);
            c->in_off = 0;
            c->in_len = left + n;
            return;
        }
    }
    unsigned shift = 6; /* at least 64 bytes */
    while (((size_t)1 << shift) < (size_t)left + n)
        shift++;
    if (c->in_kind == MK_IN_HEAP && shift <= c->in_bid)
        shift = c->in_bid + 1u; /* too little taken yet to move: grow */
    char *q = mk_xmalloc((size_t)1 << shift);
    if (left)
        memcpy(q, c->in_ptr + c->in_off, left);
    if (n)
        memcpy(q + left, p, n);
    in_release(c);
    c->in_kind = MK_IN_HEAP;
    c->in_bid = (uint16_t)shift;
    c->in_ptr = q;
    c->in_len = left + n;
}

ssize_t mk_uring_recv(struct mk_conn *c, void *buf, size_t len)
{
    if (c->in_kind == MK_IN_NONE) {
        if (c->in_end) { /* the end of the stream, after all the input */
            if (c->in_end > 0)
                return 0;
            errno = -c->in_end;
            return -1;
        }
        c->rd_ready = c->in_paused; /* a close must still linger */
        errno = EAGAIN;
        return -1;
    }
    size_t n = MK_MIN(len, (size_t)(c->in_len - c->in_off));
    memcpy(buf, c->in_ptr + c->in_off, n);
    c->in_off += (uint32_t)n;
    if (c->in_off == c->in_len) {
        in_release(c);
        /* Else the armed receive says when more comes; one that was stopped may have left
         * input in the socket, which a close without lingering would answer with a RST. */
        c->rd_ready = c->in_end != 0 || c->in_paused;
    }
    return (ssize_t)n;
}

ssize_t mk_uring_sendmsg(struct mk_conn *c, const struct msghdr *msg, int flags)
{
    if (c->send_done) {
        c->send_done = false;
        if (c->send_res >= 0) {
            return c->send_res;
        }
        if (c->send_res != -EAGAIN) {
            errno = -c->send_res;
            return -1;
        }
    }
    c->wr_ready = false;
    errno = EAGAIN;
    if (c->io_armed & MK_IO_SEND)
        return -1;
    struct io_uring_sqe *sqe = uring_sqe(c->worker->uring);
    if (!sqe) {
        c->wr_ready = true; /* try again after this pass */
        mk_sched_conn_post(c);
        return -1;
    }
    if (msg->msg_iovlen == 1)
        io_uring_prep_send(sqe, c->fd, msg->msg_iov[0].iov_base, msg->msg_iov[0].iov_len, flags);
    else
        io_uring_prep_sendmsg(sqe, c->fd, msg, (unsigned)flags);
    io_uring_sqe_set_data64(sqe, ud_make(UD_SEND, c->fd, c->gen));
    c->io_armed |= MK_IO_SEND;
    return -1;
}

void mk_uring_want_write(struct mk_conn *c)
{
    if (c->io_armed & MK_IO_POLLOUT)
        return;
    struct io_uring_sqe *sqe = uring_sqe(c->worker->uring);
    if (!sqe) {
        c->wr_ready = true;
        mk_sched_conn_post(c);
        return;
    }
    /* io_uring always adds POLLRDHUP to a poll's events: once the peer has half-closed, a
     * one-shot POLLOUT poll completes at once, writable or not, and the sendfile() it
     * wakes fails with EAGAIN again (a busy loop until Timeout).  Then the poll is
     * multishot and edge-triggered: it reports when room comes, the half-close at most
     * once more, and stays armed (cancelled by the close). */
    if (c->peer_shut)
        io_uring_prep_poll_multishot(sqe, c->fd, POLLOUT);
    else
        io_uring_prep_poll_add(sqe, c->fd, POLLOUT);
    io_uring_sqe_set_data64(sqe, ud_make(UD_POLLOUT, c->fd, c->gen));
    c->io_armed |= MK_IO_POLLOUT;
}

static void arm_recv(struct mk_conn *c)
{
    struct io_uring_sqe *sqe = uring_sqe(c->worker->uring);
    if (!sqe) {
        mk_sched_conn_post(c); /* armed after the next pass */
        return;
    }
    /* Multishot: armed once, it completes each time data comes, in a buffer the kernel
     * takes from the ring (the length is the buffer's). */
    io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = MK_URING_BGID;
    io_uring_sqe_set_data64(sqe, ud_make(UD_RECV, c->fd, c->gen));
    c->io_armed |= MK_IO_RECV;
}

/* After the protocol ran on c: keep a receive armed, and never keep a ring buffer past the
 * pass (input that waits, e.g. pipelined behind a response being written, is copied out),
 * so slow connections cannot drain the ring the others receive into. */
void mk__uring_after_ready(struct mk_conn *c)
{
    if (c->closed)
        return;
    if (c->in_kind == MK_IN_RING)
        in_keep(c, NULL, 0);
    if (c->in_kind == MK_IN_NONE && !c->in_end && !(c->io_armed & MK_IO_RECV))
        arm_recv(c);
}

/* More input for a connection that has not taken the previous yet (pipelined behind a
 * response being written): appended to its private copy.  Past MK_URING_HOLD_MAX the
 * receive is cancelled, so the socket's buffer pushes back on the client as under epoll;
 * mk__uring_after_ready() arms it again once the input is taken. */
static void in_append(struct mk_conn *c, const char *p, uint32_t n)
{
    in_keep(c, p, n);
    if (c->in_len - c->in_off > MK_URING_HOLD_MAX && (c->io_armed & MK_IO_RECV) &&
        !c->recv_cancel) {
        struct io_uring_sqe *sqe = uring_sqe(c->worker->uring);
        if (sqe) {
            io_uring_prep_cancel64(sqe, ud_make(UD_RECV, c->fd, c->gen), 0);
            io_uring_sqe_set_data64(sqe, ud_make(UD_CANCEL, c->fd, 0));
            c->recv_cancel = true;
        }
    }
}

/* Cancel what is in flight and queue the close; false when the caller must close(). */
bool mk__uring_conn_close(struct mk_conn *c)
{
    struct mk_uring *u = c->worker->uring;
    /* A send in flight reads the session's memory, which is released now: shut the socket
     * so that it can no longer take a byte. */
    if (c->io_armed & MK_IO_SEND)
        shutdown(c->fd, SHUT_RDWR);
    /* What is in flight holds the socket open after close(): cancel it with this pass.
     * By user_data (fd and generation), as the fd is closed before the cancel runs. */
    static const uint8_t ops[] = {MK_IO_RECV, MK_IO_SEND, MK_IO_POLLOUT};
    static const int types[] = {UD_RECV, UD_SEND, UD_POLLOUT};
    for (int i = 0; i < 3; i++) {
        if (!(c->io_armed & ops[i]))
            continue;
        struct io_uring_sqe *sqe = uring_sqe(u);
        if (sqe) {
            io_uring_prep_cancel64(sqe, ud_make(types[i], c->fd, c->gen), 0);
            sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
            io_uring_sqe_set_data64(sqe, ud_make(UD_CANCEL, c->fd, 0));
        }
    }
    c->io_armed = 0;
    in_release(c);
    c->send_done = false;
    /* Queued after the cancellations, the close keeps the fd number ours until they have
     * run: closed now, it could be given to a new socket (by any thread's accept) before
     * this pass's requests that name it reach the kernel. */
#if MK_HAVE_SANITIZER
    /* The sanitizers track descriptors through close(2) and do not see io_uring's (TSan
     * then reports the number's next owner as a race): hand the queue over now and let
     * the caller close(). */
    io_uring_submit(&u->ring);
    return false;
#endif
    struct io_uring_sqe *sqe = uring_sqe(u);
    if (!sqe) {
        io_uring_submit(&u->ring);
        return false;
    }
    io_uring_prep_close(sqe, c->fd);
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    io_uring_sqe_set_data64(sqe, ud_make(UD_CANCEL, c->fd, 0));
    return true;
}

static void arm_base(struct mk_uring *u, int type, int fd)
{
    struct io_uring_sqe *sqe = uring_sqe(u);
    if (sqe) {
        io_uring_prep_poll_multishot(sqe, fd, POLLIN);
        io_uring_sqe_set_data64(sqe, ud_make(type, fd, 0));
    }
}

void mk__uring_listeners(struct mk_worker *w, bool pause)
{
    for (int i = 0; i < w->nlisteners; i++) {
        int fd = w->listeners[i].fd;
        if (fd < 0)
            continue;
        if (!pause) {
            arm_base(w->uring, UD_LISTEN, fd);
            continue;
        }
        struct io_uring_sqe *sqe = uring_sqe(w->uring);
        if (sqe) {
            io_uring_prep_cancel64(sqe, ud_make(UD_LISTEN, fd, 0), 0);
            io_uring_sqe_set_data64(sqe, ud_make(UD_CANCEL, fd, 0));
        }
    }
}

static void uring_complete(struct mk_worker *w, const struct io_uring_cqe *cqe)
{
    struct mk_uring *u = w->uring;
    uint64_t ud = cqe->user_data;
    int fd = (int)(ud & MK_URING_FD_MAX);
    int type = (int)((ud >> 24) & 0xff);
    uint32_t gen = (uint32_t)(ud >> 32);
    int res = cqe->res;
    uint32_t ev = 0;

    if (type == UD_CANCEL)
        return;
    if (type == UD_LISTEN || type == UD_BASE) {
        /* A cancelled poll (accepting paused, stopping) is our doing, not an event of the
         * socket: nothing to trace.  Any other negative result is an error on it.  The
         * worker's own wake/tick descriptors are not traced: the tick is "TIMEOUT CHECK". */
        if (MK_TRACE_ENABLED(epoll) && res != -ECANCELED && type == UD_LISTEN)
            mk__sched_trace_events(fd, res > 0 ? (uint32_t)res : EPOLLERR);
        if (type == UD_BASE) {
            uint64_t v;
            if (read(fd, &v, sizeof(v)) < 0) {
                /* A spurious wake-up: the stop flag and the clock are read anyway. */
            }
            if (!(cqe->flags & IORING_CQE_F_MORE))
                arm_base(u, UD_BASE, fd);
            return;
        }
        for (int i = 0; i < w->nlisteners; i++) {
            struct mk_listener *l = &w->listeners[i];
            if (l->fd != fd)
                continue;
            if (res > 0 && !w->accept_paused) /* see dispatch() in mk_sched.c */
                mk__sched_accept(w, l);
            /* A multishot poll ends on error or when cancelled (paused, stopping). */
            if (!(cqe->flags & IORING_CQE_F_MORE) && res != -ECANCELED && l->fd >= 0 &&
                !w->accept_paused)
                arm_base(u, UD_LISTEN, fd);
            break;
        }
        return;
    }

    struct mk_conn *c = (uint32_t)fd < w->fdt_cap ? w->fdt[fd] : NULL;
    bool live = c && c->gen == gen && !c->closed;
    if (mk_unlikely(!live)) {
        /* For a connection closed since: a received buffer goes back to the ring. */
        if (cqe->flags & IORING_CQE_F_BUFFER)
            buf_return(u, cqe->flags >> IORING_CQE_BUFFER_SHIFT);
        if (res != -ECANCELED && MK__SCHED_TRACE_DISPATCH_ON)
            mk__sched_trace_dispatch(fd, type == UD_RECV ? EPOLLIN : EPOLLOUT, c, false);
        return;
    }
    switch (type) {
    case UD_RECV:
        if (!(cqe->flags & IORING_CQE_F_MORE)) {
            /* The multishot receive ended (end of stream, error, no buffer, cancel). */
            c->io_armed &= (uint8_t)~MK_IO_RECV;
            c->recv_cancel = false;
        }
        if (res != -ENOBUFS && res != -ECANCELED)
            c->in_paused = false; /* a receive armed again has spoken */
        if (res > 0) {
            unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
            char *p = u->bufs + (size_t)bid * MK_URING_BUFSZ;
            if (c->in_kind == MK_IN_NONE) {
                c->in_kind = MK_IN_RING;
                c->in_bid = (uint16_t)bid;
                c->in_ptr = p;
                c->in_off = 0;
                c->in_len = (uint32_t)res;
            } else {
                in_append(c, p, (uint32_t)res);
                buf_return(u, bid);
            }
            ev = EPOLLIN;
        } else if (res == 0) {
            c->in_end = 1;
            c->peer_shut = true;
            ev = EPOLLIN | EPOLLRDHUP;
        } else if (res == -ENOBUFS) {
            /* Every ring buffer is taken by this pass's completions: they are back by the
             * end of it, so receive again then.  Input is waiting meanwhile (rd_ready: a
             * close lingers rather than reset it). */
            c->rd_ready = true;
            c->in_paused = true;
            mk_sched_conn_post(c);
            return;
        } else if (res == -ECANCELED || res == -EINTR || res == -EAGAIN) {
            /* Paused by in_append(): armed again once the held input is taken, which may
             * have happened already, while the cancellation was on its way.  The client's
             * further input waits in the socket meanwhile.  An interrupted receive (EINTR,
             * EAGAIN) is no end of the stream either: kept as one, every mk_uring_recv()
             * answered EINTR and the protocol, which reads again after EINTR, spun there
             * for good, the worker's other connections with it.  It is armed again. */
            c->in_paused = true;
            c->rd_ready = true;
            mk__uring_after_ready(c);
            return;
        } else {
            c->in_end = res;
            ev = EPOLLERR;
        }
        c->rd_ready = true;
        break;
    case UD_SEND:
        c->io_armed &= (uint8_t)~MK_IO_SEND;
        c->send_done = true;
        c->send_res = res;
        c->wr_ready = true;
        ev = EPOLLOUT;
        break;
    case UD_POLLOUT:
        if (!(cqe->flags & IORING_CQE_F_MORE))
            c->io_armed &= (uint8_t)~MK_IO_POLLOUT;
        if (res > 0 && !(res & (POLLOUT | POLLERR | POLLHUP | POLLNVAL))) {
            /* Only the peer's half-close (POLLRDHUP): not writable.  Wait for room with a
             * poll that the half-close does not complete again at once. */
            c->peer_shut = true;
            if (!(c->io_armed & MK_IO_POLLOUT))
                mk_uring_want_write(c);
            return;
        }
        c->wr_ready = true;
        ev = res > 0 ? (uint32_t)res : EPOLLOUT;
        break;
    default:
        return;
    }
    if (MK__SCHED_TRACE_DISPATCH_ON)
        mk__sched_trace_dispatch(fd, ev, c, true);
    w->proto->on_ready(c);
    mk__uring_after_ready(c);
}

/* Rings are mapped and unmapped under one lock.  liburing maps them with system calls of its
 * own, which ThreadSanitizer does not see: a ring mapped (after a reload) where a finished
 * worker's ring was would look to it like memory that worker wrote, each access a race.  The
 * lock orders the unmapping before the mapping that reuses the address, for it as for us. */
static pthread_mutex_t ring_map_lock = PTHREAD_MUTEX_INITIALIZER;

static int ring_init(struct io_uring *r, struct io_uring_params *p)
{
    pthread_mutex_lock(&ring_map_lock);
    int rc = io_uring_queue_init_params(MK_URING_SQ, r, p);
    pthread_mutex_unlock(&ring_map_lock);
    return rc;
}

static void ring_exit(struct io_uring *r)
{
    pthread_mutex_lock(&ring_map_lock);
    io_uring_queue_exit(r);
    pthread_mutex_unlock(&ring_map_lock);
}

/* Can this kernel (and its limits, seccomp, io_uring_disabled) give us the ring we use? */
static int uring_setup(struct mk_uring *u)
{
    struct io_uring_params p = {.flags = MK_URING_FLAGS, .cq_entries = MK_URING_CQ};
    int rc = ring_init(&u->ring, &p);
    if (rc < 0)
        return rc;
    u->nbuf = uring_nbuf();
    size_t brsize = u->nbuf * sizeof(struct io_uring_buf);
    void *br = NULL;
    if (posix_memalign(&br, 4096, brsize) != 0) {
        ring_exit(&u->ring);
        return -ENOMEM;
    }
    u->br = br;
    io_uring_buf_ring_init(u->br);
    struct io_uring_buf_reg reg = {.ring_addr = (uintptr_t)u->br,
                                   .ring_entries = u->nbuf,
                                   .bgid = MK_URING_BGID};
    rc = io_uring_register_buf_ring(&u->ring, &reg, 0);
    if (rc < 0) {
        ring_exit(&u->ring);
        free(u->br);
        return rc;
    }
    u->mask = io_uring_buf_ring_mask(u->nbuf);
    /* And use it once: a seccomp filter may let the ring be set up and refuse
     * io_uring_enter, which the loop's first pass met after the server had said it was
     * listening (every worker failed, exit status 1) instead of the fallback to epoll. */
    struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data64(sqe, 0);
    rc = io_uring_submit_and_wait(&u->ring, 1);
    for (int i = 0; rc == -EINTR && i < 3; i++)
        rc = io_uring_submit_and_wait(&u->ring, 1);
    struct io_uring_cqe *cqe;
    if (rc >= 0 && (rc = io_uring_peek_cqe(&u->ring, &cqe)) == 0)
        io_uring_cqe_seen(&u->ring, cqe);
    if (rc < 0) {
        ring_exit(&u->ring);
        free(u->br);
        return rc;
    }
    return 0;
}

void mk__uring_free(struct mk_uring *u)
{
    /* Submit first: the worker's final mk__sched_close_all() queued the cancellations and
     * closes of every connection it still held; dropped with the ring, those sockets would
     * stay open and their clients wait, after a reload, for as long as the process runs. */
    io_uring_submit(&u->ring);
    ring_exit(&u->ring); /* cancels what is still in flight */
    free(u->br);
    free(u->bufs);
    free(u);
}

int mk_sched_uring_probe(void)
{
    struct mk_uring u;
    int rc = uring_setup(&u);
    if (rc == 0) {
        ring_exit(&u.ring);
        free(u.br);
    }
    return rc;
}

/* In the worker's thread: the ring belongs to the thread that submits (SINGLE_ISSUER). */
bool mk__uring_start(struct mk_worker *w)
{
    struct mk_uring *u = mk_xcalloc(1, sizeof(*u));
    int rc = uring_setup(u);
    if (rc < 0) {
        mk_err("worker %d: io_uring: %s; this worker uses epoll", w->id, strerror(-rc));
        free(u);
        return false;
    }
    u->bufs = mk_xmalloc((size_t)u->nbuf * MK_URING_BUFSZ);
    for (unsigned i = 0; i < u->nbuf; i++)
        io_uring_buf_ring_add(u->br, u->bufs + (size_t)i * MK_URING_BUFSZ, MK_URING_BUFSZ,
                              (unsigned short)i, u->mask, (int)i);
    io_uring_buf_ring_advance(u->br, (int)u->nbuf);
    w->uring = u;
    arm_base(u, UD_BASE, w->wake_fd);
    arm_base(u, UD_BASE, w->tick_fd);
    mk__sched_listeners_pause(w, false);
    return true;
}

int mk__uring_loop(struct mk_worker *w)
{
    struct mk_uring *u = w->uring;
    bool stopping = false;

    for (;;) {
        /* Submit what the last pass queued; wait for one completion unless work is
         * posted (then only run what is ready). */
        bool more = false;
        for (int i = 0; i < w->nlisteners; i++)
            if (w->listeners[i].more && w->listeners[i].fd >= 0 && !w->accept_paused) {
                mk__sched_accept(w, &w->listeners[i]);
                more |= w->listeners[i].more;
            }
        int rc = w->posted_head || more ? io_uring_submit_and_get_events(&u->ring)
                                        : io_uring_submit_and_wait(&u->ring, 1);
        if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY && rc != -ETIME) {
            mk_err("worker %d: io_uring_enter: %s", w->id, strerror(-rc));
            return -rc;
        }
        mk_clock_update();
        struct io_uring_cqe *cqe;
        unsigned head, n = 0;
        io_uring_for_each_cqe(&u->ring, head, cqe)
        {
            uring_complete(w, cqe);
            n++;
        }
        io_uring_cq_advance(&u->ring, n);
        if (mk__sched_pass_end(w, &stopping))
            return 0;
    }
}

#else /* !MK_HAVE_IO_URING: the epoll loop only */

ssize_t mk_uring_recv(struct mk_conn *c, void *buf, size_t len)
{
    (void)c, (void)buf, (void)len;
    errno = ENOSYS;
    return -1;
}

ssize_t mk_uring_sendmsg(struct mk_conn *c, const struct msghdr *msg, int flags)
{
    (void)c, (void)msg, (void)flags;
    errno = ENOSYS;
    return -1;
}

void mk_uring_want_write(struct mk_conn *c)
{
    (void)c;
}

void mk__uring_after_ready(struct mk_conn *c)
{
    (void)c;
}

bool mk__uring_conn_close(struct mk_conn *c)
{
    (void)c;
    return false;
}

void mk__uring_listeners(struct mk_worker *w, bool pause)
{
    (void)w, (void)pause;
}

void mk__uring_free(struct mk_uring *u)
{
    (void)u;
}

int mk_sched_uring_probe(void)
{
    return -ENOSYS;
}

bool mk__uring_start(struct mk_worker *w)
{
    (void)w;
    return false;
}

int mk__uring_loop(struct mk_worker *w)
{
    (void)w;
    return 0;
}

#endif

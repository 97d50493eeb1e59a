/* Inside the scheduler: what its two files share, and what the unit tests drive.
 *
 * src/event/mk_sched.c holds the workers, listeners, the fd table, timers, the connection
 * lists and the epoll loop; src/event/mk_uring.c holds the io_uring loop, which feeds the
 * same connections, timers and protocol hooks from completions instead of readiness.  The
 * protocol (src/http) never includes this header: its interface is mk_sched.h.
 *
 * One loop pass, under either loop: wait, then per ready connection the protocol's
 * on_ready (dispatch / uring_complete); then mk__sched_pass_end(): the posted connections
 * (mk__sched_run_posted), the connections closed during the pass (mk__sched_free_closed),
 * a stop request, and once a second the timers and the tick. */
#ifndef MK_SCHED_INT_H
#define MK_SCHED_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "mk_sched.h"

#include "../trace/mk_trace.h"

/* The highest connection descriptor the io_uring loop takes: its user data holds 24 bits of
 * fd (mk_uring.c); a connection above is refused with a 503. */
#define MK_URING_FD_MAX 0xffffff

/* ---- mk_sched.c, used by the io_uring loop ---- */

/* Accept up to a batch from l and hand each connection to the protocol. */
void mk__sched_accept(struct mk_worker *w, struct mk_listener *l);

/* Stop (pause) or resume watching the listeners (descriptor exhaustion, stop). */
void mk__sched_listeners_pause(struct mk_worker *w, bool pause);

/* The end of a loop pass; true when the worker must leave its loop. */
bool mk__sched_pass_end(struct mk_worker *w, bool *stopping);

/* The spec's epoll events for the flags ev (EPOLLIN, EPOLLOUT...). */
__attribute__((cold)) void mk__sched_trace_events(int fd, uint32_t ev);

/* The spec's events for one connection event: the flags, the fd-table lookup, then what
 * the scheduler made of it (ok: the connection was found and is live). */
__attribute__((cold)) void mk__sched_trace_dispatch(int fd, uint32_t ev, const struct mk_conn *c,
                                                   bool ok);

/* Whether any of the three spec events of a dispatch is being recorded (one test per
 * event, shared by both loops). */
#define MK__SCHED_TRACE_DISPATCH_ON                                                                \
    (MK_TRACE_ENABLED(epoll) | MK_TRACE_ENABLED(epoll_state) | MK_TRACE_ENABLED(scheduler))

/* ---- mk_sched.c, the connection lists (exposed for tests/unit/test_sched.c) ---- */

/* A new connection on fd, in the fd table and counted in w->active; peer may be NULL.  The
 * server-wide count for MaxConnections (taken by accept) is the caller's. */
struct mk_conn *mk__sched_conn_add(struct mk_worker *w, int fd, const union mk_sockaddr *peer,
                                   socklen_t plen);

/* Run the connections posted so far (those posted meanwhile wait for the next call). */
void mk__sched_run_posted(struct mk_worker *w);

/* Recycle the connections closed since the last call, except those still linked in the
 * posted list (they are let go by a later call, once run_posted has passed them). */
void mk__sched_free_closed(struct mk_worker *w);

/* Close every connection and forget the posted list (the worker is leaving). */
void mk__sched_close_all(struct mk_worker *w);

/* ---- mk_uring.c, used by the scheduler (stubs when built without liburing) ---- */

/* Set up the worker's ring in its own thread; false (logged) to fall back to epoll. */
bool mk__uring_start(struct mk_worker *w);

/* The worker's io_uring loop; returns 0 when the worker stops, or the errno of a failed
 * io_uring_enter (the worker then stops the server: worker_failed in mk_sched.c). */
int mk__uring_loop(struct mk_worker *w);

void mk__uring_free(struct mk_uring *u);

/* After the protocol ran on c: keep a receive armed, give back a held ring buffer. */
void mk__uring_after_ready(struct mk_conn *c);

/* Cancel c's operations in flight and queue its close; false when the caller must
 * close(2) the descriptor itself. */
bool mk__uring_conn_close(struct mk_conn *c);

/* Cancel (pause) or arm the listeners' polls. */
void mk__uring_listeners(struct mk_worker *w, bool pause);

#endif

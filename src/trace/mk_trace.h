/* Tracepoints.  Three forms:
 *
 *   MK_TRACE(event, args...)          a cheap event: arguments are already at hand.
 *   if (MK_TRACE_ENABLED(event))      an event whose arguments cost something to compute
 *       MK_TRACE_DO(event, args...);  (an address to format, a time to read).
 *
 * An event uses one form or the other, never both (LTTng documents a race when a site
 * mixes them).  Built without --linux-trace, every form compiles to nothing, yet the
 * arguments are still type-checked so a traced build cannot be broken by an untraced one.
 *
 * The event catalogue (names, fields, log levels) is src/trace/mk_trace_tp.h and
 * docs/tracing.md. */
#ifndef MK_TRACE_H
#define MK_TRACE_H

#include "../mk_config.h"
#include "mk_trace_enums.h"

/* Every event: name, parameters, arguments.  Must match mk_trace_tp.h. */
#define MK_TRACE_EVENTS(X)                                                                         \
    X(epoll, (int fd, const char *event), (fd, event))                                             \
    X(epoll_state, (int fd, const char *event), (fd, event))                                       \
    X(scheduler, (int fd, const char *event), (fd, event))                                         \
    X(conn_accept, (uint64_t conn_id, int fd, int worker, const char *peer, int port),             \
      (conn_id, fd, worker, peer, port))                                                           \
    X(conn_close,                                                                                  \
      (uint64_t conn_id, int fd, int reason, uint32_t requests, uint64_t bytes_in,                 \
       uint64_t bytes_out, uint64_t lifetime_ns),                                                  \
      (conn_id, fd, reason, requests, bytes_in, bytes_out, lifetime_ns))                           \
    X(conn_timeout, (uint64_t conn_id, int fd, int kind), (conn_id, fd, kind))                     \
    X(request_begin,                                                                               \
      (uint64_t conn_id, uint32_t req_seq, int method, int protocol, const char *uri,              \
       size_t uri_len, const char *host, size_t host_len),                                         \
      (conn_id, req_seq, method, protocol, uri, uri_len, host, host_len))                          \
    X(request_end,                                                                                 \
      (uint64_t conn_id, uint32_t req_seq, int status, uint64_t bytes_sent,                        \
       uint64_t duration_ns, int keepalive),                                                       \
      (conn_id, req_seq, status, bytes_sent, duration_ns, keepalive))                              \
    X(request_header,                                                                              \
      (uint64_t conn_id, uint32_t req_seq, const char *name, size_t name_len, const char *value,   \
       size_t value_len),                                                                          \
      (conn_id, req_seq, name, name_len, value, value_len))                                        \
    X(error, (uint64_t conn_id, int site, int err, int status), (conn_id, site, err, status))      \
    X(worker_stats,                                                                                \
      (int worker, uint32_t active, uint64_t accepted, uint64_t closed, uint64_t requests),        \
      (worker, active, accepted, closed, requests))

#if MK_HAVE_LINUX_TRACE

#include <stddef.h>
#include <stdint.h>

#define LTTNG_UST_COMPAT_API_VERSION 1
#define LTTNG_UST_TRACEPOINT_PROBE_DYNAMIC_LINKAGE
#include "mk_trace_tp.h"

/* A site costs a load, a test and a branch; the recording itself lives in an out-of-line
 * cold function (mk_trace.c), so the hot code around a site stays as small and as
 * inlinable as in an untraced build. */
#define MK__TRACE_COLD_DECL(name, params, args)                                                    \
    __attribute__((cold, noinline)) void mk_trace_cold_##name params;
MK_TRACE_EVENTS(MK__TRACE_COLD_DECL)

#define MK_TRACE_ENABLED(ev) __builtin_expect(!!lttng_ust_tracepoint_enabled(monkey, ev), 0)
#define MK_TRACE_DO(ev, ...) mk_trace_cold_##ev(__VA_ARGS__)
#define MK_TRACE(ev, ...)                                                                          \
    do {                                                                                           \
        if (MK_TRACE_ENABLED(ev))                                                                  \
            MK_TRACE_DO(ev, __VA_ARGS__);                                                          \
    } while (0)

#else

static inline void mk_trace_nop(int unused, ...)
{
    (void)unused;
}
#define MK_TRACE(ev, ...)                                                                          \
    do {                                                                                           \
        if (0)                                                                                     \
            mk_trace_nop(0, __VA_ARGS__);                                                          \
    } while (0)
#define MK_TRACE_ENABLED(ev) 0
#define MK_TRACE_DO(ev, ...) MK_TRACE(ev, __VA_ARGS__)

#endif

/* Load the tracepoint provider (a shared object next to the binary or in the install
 * directory).  Called once, after daemonizing and dropping privileges and before the
 * workers start.  A no-op in untraced builds; never fatal. */
void mk_trace_init(void);

/* One line for `monkey -b`: whether tracing is compiled in and where the provider is
 * looked for. */
const char *mk_trace_build_info(void);

#endif

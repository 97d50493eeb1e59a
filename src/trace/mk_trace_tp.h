/* The LTTng-UST provider `monkey`: every event, its fields and its log level.
 *
 * LTTng reads this header several times in the provider translation unit
 * (src/trace/mk_trace_provider.c, LTTNG_UST_TRACEPOINT_CREATE_PROBES), once per pass of its
 * code generator, hence the unusual guard below.  Everywhere else it is an ordinary header
 * that declares the tracepoints used by MK_TRACE (src/trace/mk_trace.h).
 *
 * Levels: the three seed events keep LTTng's default, DEBUG_LINE; the operator events are
 * INFO, so `lttng enable-event -u -a --loglevel=INFO` records them and nothing finer;
 * request_header is DEBUG because header values can be secrets (cookies, tokens).
 *
 * Changing an event's arguments changes its signature: a binary and a provider built from
 * different versions of this file refuse to connect that event (LTTng checks). */
#undef LTTNG_UST_TRACEPOINT_PROVIDER
#define LTTNG_UST_TRACEPOINT_PROVIDER monkey

/* Resolved by the provider's build rule, which puts src/trace on the include path. */
#undef LTTNG_UST_TRACEPOINT_INCLUDE
#define LTTNG_UST_TRACEPOINT_INCLUDE "mk_trace_tp.h"

#if !defined(MK_TRACE_TP_H) || defined(LTTNG_UST_TRACEPOINT_HEADER_MULTI_READ)
#define MK_TRACE_TP_H

#include <stddef.h>
#include <stdint.h>

#include <lttng/tracepoint.h>

#include "mk_trace_enums.h"

/* Text taken by pointer and length is cut to this many bytes: an event must fit in one
 * sub-buffer, and a 32 KiB URI in a trace helps nobody. */
#define MK_TRACE_TEXT_MAX 4096
#define MK_TRACE_TEXT_LEN(len) ((len) > MK_TRACE_TEXT_MAX ? MK_TRACE_TEXT_MAX : (uint16_t)(len))

/* LTTng's macro language: laid out by hand. */
/* clang-format off */

/* Enum labels come from the X-macro lists the server's C enums are built from. */
#define MK__TP_ENUM_ENTRY(name, label) lttng_ust_field_enum_value(label, name)

LTTNG_UST_TRACEPOINT_ENUM(monkey, close_reason,
                          LTTNG_UST_TP_ENUM_VALUES(MK_CLOSE_REASONS(MK__TP_ENUM_ENTRY)))
LTTNG_UST_TRACEPOINT_ENUM(monkey, timeout_kind,
                          LTTNG_UST_TP_ENUM_VALUES(MK_TIMEOUT_KINDS(MK__TP_ENUM_ENTRY)))
LTTNG_UST_TRACEPOINT_ENUM(monkey, error_site,
                          LTTNG_UST_TP_ENUM_VALUES(MK_ERROR_SITES(MK__TP_ENUM_ENTRY)))
LTTNG_UST_TRACEPOINT_ENUM(monkey, http_method,
                          LTTNG_UST_TP_ENUM_VALUES(MK_METHODS(MK__TP_ENUM_ENTRY)))
LTTNG_UST_TRACEPOINT_ENUM(monkey, http_protocol,
                          LTTNG_UST_TP_ENUM_VALUES(MK_PROTOCOLS(MK__TP_ENUM_ENTRY)))

/* ---- Seed events (the spec's "Scheduler", "Event Loop events", "socket states") ---- */

/* One serializer for the three: a file descriptor and a short constant text. */
LTTNG_UST_TRACEPOINT_EVENT_CLASS(monkey, fd_event,
    LTTNG_UST_TP_ARGS(int, fd, const char *, event),
    LTTNG_UST_TP_FIELDS(
        lttng_ust_field_integer(int, fd, fd)
        lttng_ust_field_string(event, event)))

/* An epoll event seen by a worker loop ("EPOLLIN", "EPOLLOUT", "TIMEOUT CHECK"...). */
LTTNG_UST_TRACEPOINT_EVENT_INSTANCE(monkey, fd_event, monkey, epoll,
    LTTNG_UST_TP_ARGS(int, fd, const char *, event))
LTTNG_UST_TRACEPOINT_LOGLEVEL(monkey, epoll, LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG_LINE)

/* A lookup or change of a connection's registration in the loop ("GET", "SET: NEW"...). */
LTTNG_UST_TRACEPOINT_EVENT_INSTANCE(monkey, fd_event, monkey, epoll_state,
    LTTNG_UST_TP_ARGS(int, fd, const char *, event))
LTTNG_UST_TRACEPOINT_LOGLEVEL(monkey, epoll_state, LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG_LINE)

/* A connection's life in a worker ("ADD_CLIENT_REUSEPORT", "REGISTERED"...). */
LTTNG_UST_TRACEPOINT_EVENT_INSTANCE(monkey, fd_event, monkey, scheduler,
    LTTNG_UST_TP_ARGS(int, fd, const char *, event))
LTTNG_UST_TRACEPOINT_LOGLEVEL(monkey, scheduler, LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG_LINE)

/* ---- Operator events ---- */

/* A connection was accepted; conn_id is unique for the life of the process (fds are
 * reused), peer is the client's address as text. */
LTTNG_UST_TRACEPOINT_EVENT(monkey, conn_accept,
    LTTNG_UST_TP_ARGS(uint64_t, conn_id, int, fd, int, worker, const char *, peer, int, port),
    LTTNG_UST_TP_FIELDS(
        lttng_ust_field_integer(uint64_t, conn_id, conn_id)
        lttng_ust_field_integer(int, fd, fd)
        lttng_ust_field_integer(int, worker, worker)
        lttng_ust_field_string(peer, peer)
        lttng_ust_field_integer(int, port, port)))
LTTNG_UST_TRACEPOINT_LOGLEVEL(monkey, conn_accept, LTTNG_UST_TRACEPOINT_LOGLEVEL_INFO)

/* A connection was closed: why, and what it carried over its whole life. */
LTTNG_UST_TRACEPOINT_EVENT(monkey, conn_close,
    LTTNG_UST_TP_ARGS(uint64_t, conn_id, int, fd, int, reason, uint32_t, requests,
                      uint64_t, bytes_in, uint64_t, bytes_out, uint64_t, lifetime_ns),
    LTTNG_UST_TP_FIELDS(
        lttng_ust_field_integer(uint64_t, conn_id, conn_id)
        lttng_ust_field_integer(int, fd, fd)
        lttng_ust_field_enum(monkey, close_reason, int, reason, reason)
        lttng_ust_field_integer(uint32_t, requests, requests)
        lttng_ust_field_integer(uint64_t, bytes_in, bytes_in)
        lttng_ust_field_integer(uint64_t, bytes_out, bytes_out)
        lttng_ust_field_integer(uint64_t, lifetime_ns, lifetime_ns)))
LTTNG_UST_TRACEPOINT_LOGLEVEL(monkey, conn_close, LTTNG_UST_TRACEPOINT_LOGLEVEL_INFO)

/* A connection's timer expired (the close that follows is a conn_close). */
LTTNG_UST_TRACEPOINT_EVENT(monkey, conn_timeout,
    LTTNG_UST_TP_ARGS(uint64_t, conn_id, int, fd, int, kind),
    LTTNG_UST_TP_FIELDS(
        lttng_ust_field_integer(uint64_t, conn_id, conn_id)
        lttng_ust_field_integer(int, fd, fd)
        lttng_ust_field_enum(monkey, timeout_kind, int, kind, kind)))
LTTNG_UST_TRACEPOINT_LOGLEVEL(monkey, conn_timeout, LTTNG_UST_TRACEPOINT_LOGLEVEL_INFO)

/* A request head was parsed.  uri and host point into the read buffer (no copy); either
 * may be NULL with length 0. */
LTTNG_UST_TRACEPOINT_EVENT(monkey, request_begin,
    LTTNG_UST_TP_ARGS(uint64_t, conn_id, uint32_t, req_seq, int, method, int, protocol,
                      const char *, uri, size_t, uri_len, const char *, host, size_t, host_len),
    LTTNG_UST_TP_FIELDS(
        lttng_ust_field_integer(uint64_t, conn_id, conn_id)
        lttng_ust_field_integer(uint32_t, req_seq, req_seq)
        lttng_ust_field_enum(monkey, http_method, int, method, method)
        lttng_ust_field_enum(monkey, http_protocol, int, protocol, protocol)
        lttng_ust_field_sequence_text(char, uri, uri, uint16_t, MK_TRACE_TEXT_LEN(uri_len))
        lttng_ust_field_sequence_text(char, host, host, uint16_t,
                                      MK_TRACE_TEXT_LEN(host_len))))
LTTNG_UST_TRACEPOINT_LOGLEVEL(monkey, request_begin, LTTNG_UST_TRACEPOINT_LOGLEVEL_INFO)

/* The response was fully sent (or the request abandoned); same conn_id and req_seq as its
 * request_begin. */
LTTNG_UST_TRACEPOINT_EVENT(monkey, request_end,
    LTTNG_UST_TP_ARGS(uint64_t, conn_id, uint32_t, req_seq, int, status, uint64_t, bytes_sent,
                      uint64_t, duration_ns, int, keepalive),
    LTTNG_UST_TP_FIELDS(
        lttng_ust_field_integer(uint64_t, conn_id, conn_id)
        lttng_ust_field_integer(uint32_t, req_seq, req_seq)
        lttng_ust_field_integer(int, status, status)
        lttng_ust_field_integer(uint64_t, bytes_sent, bytes_sent)
        lttng_ust_field_integer(uint64_t, duration_ns, duration_ns)
        lttng_ust_field_integer(int, keepalive, keepalive)))
LTTNG_UST_TRACEPOINT_LOGLEVEL(monkey, request_end, LTTNG_UST_TRACEPOINT_LOGLEVEL_INFO)

/* One request header, as received.  DEBUG and never INFO: values may be credentials. */
LTTNG_UST_TRACEPOINT_EVENT(monkey, request_header,
    LTTNG_UST_TP_ARGS(uint64_t, conn_id, uint32_t, req_seq, const char *, name,
                      size_t, name_len, const char *, value, size_t, value_len),
    LTTNG_UST_TP_FIELDS(
        lttng_ust_field_integer(uint64_t, conn_id, conn_id)
        lttng_ust_field_integer(uint32_t, req_seq, req_seq)
        lttng_ust_field_sequence_text(char, name, name, uint16_t, MK_TRACE_TEXT_LEN(name_len))
        lttng_ust_field_sequence_text(char, value, value, uint16_t,
                                      MK_TRACE_TEXT_LEN(value_len))))
LTTNG_UST_TRACEPOINT_LOGLEVEL(monkey, request_header, LTTNG_UST_TRACEPOINT_LOGLEVEL_DEBUG)

/* A failed system call or a refused request: where, the errno, and the HTTP status sent
 * (0 when none).  The field is named errno; errno is a libc macro, so it is set aside
 * while LTTng expands this event. */
#pragma push_macro("errno")
#undef errno
LTTNG_UST_TRACEPOINT_EVENT(monkey, error,
    LTTNG_UST_TP_ARGS(uint64_t, conn_id, int, site, int, err, int, status),
    LTTNG_UST_TP_FIELDS(
        lttng_ust_field_integer(uint64_t, conn_id, conn_id)
        lttng_ust_field_enum(monkey, error_site, int, site, site)
        lttng_ust_field_integer(int, errno, err)
        lttng_ust_field_integer(int, status, status)))
#pragma pop_macro("errno")
LTTNG_UST_TRACEPOINT_LOGLEVEL(monkey, error, LTTNG_UST_TRACEPOINT_LOGLEVEL_INFO)

/* A worker's counters, about once a second: open connections now, totals since start. */
LTTNG_UST_TRACEPOINT_EVENT(monkey, worker_stats,
    LTTNG_UST_TP_ARGS(int, worker, uint32_t, active, uint64_t, accepted, uint64_t, closed,
                      uint64_t, requests),
    LTTNG_UST_TP_FIELDS(
        lttng_ust_field_integer(int, worker, worker)
        lttng_ust_field_integer(uint32_t, active, active)
        lttng_ust_field_integer(uint64_t, accepted, accepted)
        lttng_ust_field_integer(uint64_t, closed, closed)
        lttng_ust_field_integer(uint64_t, requests, requests)))
LTTNG_UST_TRACEPOINT_LOGLEVEL(monkey, worker_stats, LTTNG_UST_TRACEPOINT_LOGLEVEL_INFO)

/* clang-format on */

#endif /* MK_TRACE_TP_H */

#include <lttng/tracepoint-event.h>

/* Enumerations recorded by the tracepoints.  Each list is an X-macro so that the server's C
 * enums and the LTTng enum labels in the provider come from one place and cannot drift. */
#ifndef MK_TRACE_ENUMS_H
#define MK_TRACE_ENUMS_H

/* Why a connection was closed (conn_close.reason). */
#define MK_CLOSE_REASONS(X)                                                                        \
    X(MK_CLOSE_PEER, "peer_closed")                                                                \
    X(MK_CLOSE_RESET, "peer_reset")                                                                \
    X(MK_CLOSE_DONE, "done")                                                                       \
    X(MK_CLOSE_ERROR_STATUS, "error_status")                                                       \
    X(MK_CLOSE_TIMEOUT, "timeout")                                                                 \
    X(MK_CLOSE_SHUTDOWN, "shutdown")                                                               \
    X(MK_CLOSE_IO_ERROR, "io_error")

/* Which timer fired (conn_timeout.kind). */
#define MK_TIMEOUT_KINDS(X)                                                                        \
    X(MK_TIMEOUT_CONN_PENDING, "conn_pending")                                                     \
    X(MK_TIMEOUT_REQ_INCOMPLETE, "req_incomplete")                                                 \
    X(MK_TIMEOUT_KEEPALIVE, "keepalive")                                                           \
    X(MK_TIMEOUT_WRITE, "write_stalled")                                                          \
    X(MK_TIMEOUT_LINGER, "linger")

/* Where an error happened (error.site). */
#define MK_ERROR_SITES(X)                                                                          \
    X(MK_ESITE_ACCEPT, "accept")                                                                   \
    X(MK_ESITE_READ, "read")                                                                       \
    X(MK_ESITE_WRITE, "write")                                                                     \
    X(MK_ESITE_SENDFILE, "sendfile")                                                               \
    X(MK_ESITE_OPEN, "open")                                                                       \
    X(MK_ESITE_PARSE, "parse")                                                                     \
    X(MK_ESITE_LIMIT, "limit")                                                                     \
    X(MK_ESITE_PATH, "path")                                                                       \
    X(MK_ESITE_EPOLL, "epoll")

/* Request method (request_begin.method). */
#define MK_METHODS(X)                                                                              \
    X(MK_METHOD_UNKNOWN, "UNKNOWN")                                                                \
    X(MK_METHOD_GET, "GET")                                                                        \
    X(MK_METHOD_HEAD, "HEAD")                                                                      \
    X(MK_METHOD_POST, "POST")                                                                      \
    X(MK_METHOD_PUT, "PUT")                                                                        \
    X(MK_METHOD_DELETE, "DELETE")                                                                  \
    X(MK_METHOD_OPTIONS, "OPTIONS")                                                                \
    X(MK_METHOD_TRACE, "TRACE")                                                                    \
    X(MK_METHOD_CONNECT, "CONNECT")                                                                \
    X(MK_METHOD_PATCH, "PATCH")

/* Request protocol version (request_begin.protocol). */
#define MK_PROTOCOLS(X)                                                                            \
    X(MK_PROTO_UNKNOWN, "unknown")                                                                 \
    X(MK_PROTO_HTTP10, "HTTP/1.0")                                                                 \
    X(MK_PROTO_HTTP11, "HTTP/1.1")

#define MK__ENUM_VALUE(name, label) name,

enum mk_close_reason { MK_CLOSE_REASONS(MK__ENUM_VALUE) MK_CLOSE_REASON_COUNT };
enum mk_timeout_kind { MK_TIMEOUT_KINDS(MK__ENUM_VALUE) MK_TIMEOUT_KIND_COUNT };
enum mk_error_site { MK_ERROR_SITES(MK__ENUM_VALUE) MK_ESITE_COUNT };
enum mk_http_method { MK_METHODS(MK__ENUM_VALUE) MK_METHOD_COUNT };
enum mk_http_protocol { MK_PROTOCOLS(MK__ENUM_VALUE) MK_PROTO_COUNT };

#endif

/* HTTP/1.x over the scheduler's connections: the per-connection state machine, request
 * handling for static files, and responses. */
#ifndef MK_HTTP_H
#define MK_HTTP_H

#include <stdbool.h>
#include <stdint.h>

#include "../event/mk_sched.h"
#include "mk_vhost.h"

struct mk_mime_table;

struct mk_http_config {
    bool keepalive;
    uint32_t keepalive_timeout;
    uint32_t max_keepalive_request;
    uint32_t max_request_size; /* bytes */
    char **indexfiles;
    int nindex;
    bool hide_version;
    char *default_mime;
    bool symlink;
    struct mk_mime_table *mime;
    struct mk_vhost *vhosts;
    int nvhosts;
    uint32_t file_cache_entries;
    uint32_t file_cache_small; /* bytes: files up to this size are served from memory */
};

/* The connection states.  One switch in mk_http.c drives them; every change goes through
 * one setter, which is where the "SET: CHANGE" tracepoint fires. */
enum mk_http_state {
    MK_HTTP_IDLE,      /* between requests (or new): no session, no buffer */
    MK_HTTP_READ_HEAD, /* part of a request head received */
    MK_HTTP_READ_BODY, /* head parsed; skipping a Content-Length or chunked body */
    MK_HTTP_WRITE,     /* sending the response: header/body iovecs, then sendfile */
    MK_HTTP_LINGER,    /* response sent, input drained for a moment before close */
};

extern const struct mk_proto mk_http_proto;

/* Set the configuration used by mk_http_proto's hooks on the calling thread (each worker
 * does it with its scheduler's proto_config; tests and fuzzers call it directly). */
void mk_http_configure(const struct mk_http_config *cfg);

#endif

/* Per-site access log (Combined Log Format) and error log, written through the per-worker
 * buffers of core/mk_logfile.h.  A site without [LOGGER] costs one branch per request. */
#ifndef MK_ACCESS_LOG_H
#define MK_ACCESS_LOG_H

#include <stdint.h>

#include "../core/mk_logfile.h"
#include "../event/mk_sched.h"
#include "mk_http_parser.h"
#include "mk_vhost.h"

struct mk_access_log_worker {
    struct mk_logbuf *bufs; /* one per log file, indexed by mk_logfile_id() */
    int nbufs;
    time_t date_sec;
    char date[32]; /* "26/Nov/2026:15:14:43 +0000" */
};

void mk_access_log_worker_init(struct mk_access_log_worker *w);
void mk_access_log_worker_flush(struct mk_access_log_worker *w);
void mk_access_log_worker_exit(struct mk_access_log_worker *w);

/* Log one answered request.  req_line is the request's first line as received (may be
 * garbage for a rejected request); body_bytes the body bytes sent. */
void mk_access_log_write(struct mk_access_log_worker *w, const struct mk_conn *c,
                         const struct mk_vhost *vh, const char *req_line, size_t req_line_len,
                         const struct mk_http_request *r, int status, uint64_t body_bytes);

#endif

/* Log files written without blocking the workers.
 *
 * Each worker appends lines to its own buffer (struct mk_logbuf, one per file); a full
 * buffer, or any buffer at the once-a-second tick, is handed to one writer thread that does
 * the write(2)s.  A worker therefore never waits on the disk, and the only lock is taken
 * once per buffer, not per line.  Files are created 0640 with O_NOFOLLOW; SIGUSR1 makes the
 * writer reopen them (logrotate's "create" mode); a file that cannot be reopened keeps its old
 * descriptor and the failure is logged. */
#ifndef MK_LOGFILE_H
#define MK_LOGFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "mk_log.h"

#define MK_LOGBUF_SIZE (64 * 1024)

struct mk_logfile;

struct mk_logbuf {
    struct mk_logfile *file;
    char *data;
    size_t len;
};

/* Open (or find, when the same path is named twice) a log file.  Start-up only. */
struct mk_logfile *mk_logfile_open(const char *path, char *err, size_t errlen);
int mk_logfile_id(const struct mk_logfile *f);

/* The log files the running configuration names (n of them; errlog[i]: logs[i] is an error
 * log, whose notices it hears: the writer's own failures, a reopen refused, and in daemon
 * mode the server's errors and warnings).  Called at start-up and after every reload: a file
 * no configuration names any more (a reload changed a site's AccessLog or ErrorLog) is no
 * longer reopened by SIGUSR1, so a rotation does not create it again, nor told notices.  It
 * stays open (old workers may have had lines for it in flight) until mk_logfile_stop(), and
 * a later configuration that names it again reopens it (mk_logfile_open). */
void mk_logfile_set_used(struct mk_logfile *const *logs, const bool *errlog, int n);

/* Write a server message to every error log, now, from any thread (the mirror of
 * mk_log_set_mirror: a daemon's errors and warnings), dated and tagged as the error logs'
 * other lines are: "[29/Nov/2026:16:05:31 +0000] [error] msg". */
void mk_logfile_notice(enum mk_log_level level, const char *msg, size_t n);

/* Started as root, before becoming User: make User the owner of the files this process
 * created (not the ones that existed), so that copy-and-truncate rotation works and a reopen
 * after a rename works in a directory User may write.  -1 (logged) if one could not be given. */
int mk_logfile_chown_created(uid_t uid);
int mk_logfile_count(void);

/* Writer thread. */
int mk_logfile_start(void);
void mk_logfile_stop(void); /* writes everything handed over, closes the files */
void mk_logfile_reopen(void); /* from the thread that takes the signals; the writer reopens */

/* Per-thread buffers. */
void mk_logbuf_init(struct mk_logbuf *b, struct mk_logfile *f);
void mk_logbuf_flush(struct mk_logbuf *b);
void mk_logbuf_free(struct mk_logbuf *b); /* flushes first */

/* Room for n more bytes (flushing when needed); returns where to write them. */
char *mk_logbuf_reserve(struct mk_logbuf *b, size_t n);

/* Write a line now, from any thread (rare messages, not the hot path). */
void mk_logfile_write_now(struct mk_logfile *f, const char *p, size_t n);

#endif

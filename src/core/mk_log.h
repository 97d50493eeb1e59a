/* Server messages (start-up, warnings, errors): one line each, to stderr or the error log.
 * Not the access log, which is buffered per worker (src/http/mk_access_log.c). */
#ifndef MK_LOG_H
#define MK_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mk_log_level { MK_LOG_ERROR, MK_LOG_WARN, MK_LOG_INFO, MK_LOG_DEBUG };

#define MK_LOG_LINE_MAX 1024 /* bytes of a line, its newline included */

/* Direct messages to fd (default 2).  quiet drops INFO lines (tests, daemon mode). */
void mk_log_set_fd(int fd);
void mk_log_set_level(enum mk_log_level max);

/* Also hand each error and warning to fn (NULL: stop): its level and its message, without
 * the stderr prefix nor the newline, for fn to write in its own format.  A daemon's stderr is
 * /dev/null: this is how a refused reload still says why, in the error logs. */
typedef void (*mk_log_mirror_fn)(enum mk_log_level level, const char *msg, size_t n);
void mk_log_set_mirror(mk_log_mirror_fn fn);
bool mk_log_mirrored(void);

__attribute__((format(printf, 2, 3))) void mk_log(enum mk_log_level level, const char *fmt, ...);

#define mk_err(...) mk_log(MK_LOG_ERROR, __VA_ARGS__)
#define mk_warn(...) mk_log(MK_LOG_WARN, __VA_ARGS__)
#define mk_info(...) mk_log(MK_LOG_INFO, __VA_ARGS__)

/* A token bucket for messages that can repeat under attack (EMFILE...): true at most
 * once per `interval` seconds per limiter.  Lock-free; a lost race only drops a line. */
struct mk_log_limit {
    uint32_t last;
    uint32_t suppressed;
};
bool mk_log_allow(struct mk_log_limit *l, uint32_t now_sec, uint32_t interval, uint32_t *suppressed);
/* The repeats mk_log_allow() held back, once `interval` has passed since its last line:
 * true (with their number) when a summary line is due, so that the end of a burst is said
 * too.  Counts nothing itself. */
bool mk_log_due(struct mk_log_limit *l, uint32_t now_sec, uint32_t interval,
                uint32_t *suppressed);
/* The repeats held back and not said yet, whatever the time (0: none), taken from the count:
 * for a last line when the server stops before `interval` has passed. */
uint32_t mk_log_rest(struct mk_log_limit *l);

#endif

/* Server messages (start-up, warnings, errors): one line each, to stderr or the error log.
 * Not the access log, which is buffered per worker (src/http/mk_access_log.c). */
#ifndef MK_LOG_H
#define MK_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mk_log_level { MK_LOG_ERROR, MK_LOG_WARN, MK_LOG_INFO, MK_LOG_DEBUG };

/* Direct messages to fd (default 2).  quiet drops INFO lines (tests, daemon mode). */
void mk_log_set_fd(int fd);
void mk_log_set_level(enum mk_log_level max);

/* Also hand each error and warning line to fn (NULL: stop).  A daemon's stderr is /dev/null:
 * this is how a refused reload still says why, in the error logs. */
void mk_log_set_mirror(void (*fn)(const char *line, size_t n));
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

#endif

#include "mk_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_fd = 2;
static enum mk_log_level log_max = MK_LOG_INFO;
static mk_log_mirror_fn log_mirror;

void mk_log_set_mirror(mk_log_mirror_fn fn)
{
    __atomic_store_n(&log_mirror, fn, __ATOMIC_RELEASE);
}

bool mk_log_mirrored(void)
{
    return __atomic_load_n(&log_mirror, __ATOMIC_ACQUIRE) != NULL;
}

void mk_log_set_fd(int fd)
{
    log_fd = fd;
}

void mk_log_set_level(enum mk_log_level max)
{
    log_max = max;
}

void mk_log(enum mk_log_level level, const char *fmt, ...)
{
    static const char *names[] = {"error", " warn", " info", "debug"};
    char line[MK_LOG_LINE_MAX];
    struct tm tm;
    time_t now;
    va_list ap;
    int n, m, head;

    if (level > log_max)
        return;
    now = time(NULL);
    localtime_r(&now, &tm);
    n = (int)strftime(line, sizeof(line), "[%Y/%m/%d %H:%M:%S] ", &tm);
    n += snprintf(line + n, sizeof(line) - (size_t)n, "[%s] ", names[level]);
    head = n;
    va_start(ap, fmt);
    m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    n += m;
    if (n > (int)sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    /* One write per line keeps lines from different threads whole. */
    if (write(log_fd, line, (size_t)n) < 0) {
        /* Nowhere left to report it. */
    }
    mk_log_mirror_fn mirror = __atomic_load_n(&log_mirror, __ATOMIC_ACQUIRE);
    if (mirror && level <= MK_LOG_WARN)
        mirror(level, line + head, (size_t)(n - 1 - head));
}

/* Whether now_sec is less than `interval` after last.  Signed: a thread whose clock reading
 * is a second older than the line just said by another (it read the clock just before its
 * tick) is within the interval, not 4 billion seconds past it, which would say a second line
 * at once and move `last` back. */
static bool within(uint32_t now_sec, uint32_t last, uint32_t interval)
{
    return (int32_t)(now_sec - last) < (int32_t)interval;
}

bool mk_log_allow(struct mk_log_limit *l, uint32_t now_sec, uint32_t interval, uint32_t *suppressed)
{
    uint32_t last = __atomic_load_n(&l->last, __ATOMIC_RELAXED);
    if (last != 0 && within(now_sec, last, interval)) {
        __atomic_fetch_add(&l->suppressed, 1, __ATOMIC_RELAXED);
        return false;
    }
    if (!__atomic_compare_exchange_n(&l->last, &last, now_sec ? now_sec : 1, false,
                                     __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
        /* Another thread says it at this moment: this one is among those it held back. */
        __atomic_fetch_add(&l->suppressed, 1, __ATOMIC_RELAXED);
        return false;
    }
    *suppressed = __atomic_exchange_n(&l->suppressed, 0, __ATOMIC_RELAXED);
    return true;
}

bool mk_log_due(struct mk_log_limit *l, uint32_t now_sec, uint32_t interval, uint32_t *suppressed)
{
    if (__atomic_load_n(&l->suppressed, __ATOMIC_RELAXED) == 0)
        return false;
    uint32_t last = __atomic_load_n(&l->last, __ATOMIC_RELAXED);
    if (within(now_sec, last, interval))
        return false;
    if (!__atomic_compare_exchange_n(&l->last, &last, now_sec ? now_sec : 1, false,
                                     __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        return false;
    *suppressed = __atomic_exchange_n(&l->suppressed, 0, __ATOMIC_RELAXED);
    return *suppressed != 0;
}

uint32_t mk_log_rest(struct mk_log_limit *l)
{
    return __atomic_exchange_n(&l->suppressed, 0, __ATOMIC_RELAXED);
}

/* Time: a per-thread cache of the current second and of its HTTP-date, refreshed by each
 * worker once per loop iteration, so a request never formats a date or calls time(). */
#ifndef MK_CLOCK_H
#define MK_CLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define MK_HTTP_DATE_LEN 29 /* "Sun, 06 Nov 1994 08:49:37 GMT" */

struct mk_clock {
    time_t now;                          /* wall-clock seconds (for Date / If-Modified-Since) */
    uint64_t mono_ns;                    /* monotonic nanoseconds at the last update */
    uint32_t mono_sec;                   /* monotonic seconds: timers */
    char date[MK_HTTP_DATE_LEN + 1];     /* HTTP-date of `now` */
};

extern __thread struct mk_clock mk_clock;

/* Refresh the thread's clock; returns true when the second changed. */
bool mk_clock_update(void);

/* Precise monotonic nanoseconds (for durations recorded by tracepoints). */
uint64_t mk_clock_ns(void);

/* Format t as an IMF-fixdate into dst (MK_HTTP_DATE_LEN bytes, no NUL). */
void mk_http_date_format(time_t t, char *dst);

/* Parse an HTTP-date (IMF-fixdate, RFC 850 and asctime forms).  Returns -1 when invalid,
 * including impossible dates such as 30 Feb.  now places the two-digit years of the RFC 850
 * form: within 50 years of it, never more than 50 ahead. */
int mk_http_date_parse(const char *p, size_t len, time_t now, time_t *out);

#endif

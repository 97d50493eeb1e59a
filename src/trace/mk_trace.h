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

#if MK_HAVE_LINUX_TRACE

#define LTTNG_UST_COMPAT_API_VERSION 1
#define LTTNG_UST_TRACEPOINT_PROBE_DYNAMIC_LINKAGE
#include "mk_trace_tp.h"

#define MK_TRACE(ev, ...) lttng_ust_tracepoint(monkey, ev, __VA_ARGS__)
#define MK_TRACE_ENABLED(ev) lttng_ust_tracepoint_enabled(monkey, ev)
#define MK_TRACE_DO(ev, ...) lttng_ust_do_tracepoint(monkey, ev, __VA_ARGS__)

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

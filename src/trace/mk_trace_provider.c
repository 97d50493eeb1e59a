/* The LTTng-UST probes for the `monkey` provider, built alone into
 * build/monkey-trace-provider.so (linked with liblttng-ust).
 *
 * The server links no LTTng library: it defines its tracepoints with dynamic linkage and
 * dlopen()s this object at start-up (src/trace/mk_trace.c), after daemonizing, so that a
 * traced binary still runs where LTTng is not installed and liblttng-ust's threads start
 * in the process that serves, not in a parent that exits. */
#include "../mk_config.h"

#define LTTNG_UST_COMPAT_API_VERSION 1
#define LTTNG_UST_TRACEPOINT_CREATE_PROBES
#include "mk_trace_tp.h"

/* Read by mk_trace_init() to warn when a binary loads a provider from another build. */
extern const char mk_trace_provider_version[];
const char mk_trace_provider_version[] = MK_VERSION_STR;

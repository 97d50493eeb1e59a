/* Tracing start-up: find and load the LTTng-UST provider.
 *
 * In a traced build this is the one translation unit that defines the tracepoints
 * (LTTNG_UST_TRACEPOINT_DEFINE).  Their constructor opens liblttng-ust-tracepoint.so.1 (a
 * small registry with no threads) when the binary starts and registers the call sites in
 * it; they stay disabled, at the cost of a load and a branch each, until the probes in
 * build/monkey-trace-provider.so are loaded and a session enables them.  Loading the
 * provider pulls in liblttng-ust, whose threads then register the process with the
 * session daemon.  In an untraced build nothing here refers to LTTng. */
#include "../mk_config.h"

#if MK_HAVE_LINUX_TRACE
#define LTTNG_UST_TRACEPOINT_DEFINE
#endif
#include "mk_trace.h"

#if MK_HAVE_LINUX_TRACE

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MK__UNPAREN(...) __VA_ARGS__
#define MK__TRACE_COLD_DEF(name, params, args)                                                     \
    void mk_trace_cold_##name params                                                               \
    {                                                                                              \
        lttng_ust_do_tracepoint(monkey, name, MK__UNPAREN args);                                   \
    }
MK_TRACE_EVENTS(MK__TRACE_COLD_DEF)

#include "../core/mk_log.h"

#define MK_TRACE_PROVIDER_NAME "monkey-trace-provider.so"
#define MK_TRACE_ENV "MONKEY_TRACE_PROVIDER"

/* Directory of the running binary, "" when /proc is not mounted. */
static void mk__trace_exe_dir(char *dir, size_t size)
{
    ssize_t n = readlink("/proc/self/exe", dir, size - 1);
    char *slash;

    if (n <= 0) {
        dir[0] = '\0';
        return;
    }
    dir[n] = '\0';
    slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        dir[0] = '\0';
}

/* The places the provider is looked for, in order.  MONKEY_TRACE_PROVIDER, when set, is
 * the only one: an explicit choice that silently fell back elsewhere would hide a typo.
 * Otherwise: next to the binary (an installed copy or `cp`), in build/ under the binary's
 * directory (`./monkey` in the source tree), then the install directory. */
static int mk__trace_candidates(char paths[][PATH_MAX], int max)
{
    const char *env = secure_getenv(MK_TRACE_ENV);
    char dir[PATH_MAX];
    int n = 0;

    if (env) {
        snprintf(paths[n++], PATH_MAX, "%s", env);
        return n;
    }
    mk__trace_exe_dir(dir, sizeof(dir));
    if (dir[0] != '\0' && n + 2 <= max) {
        snprintf(paths[n++], PATH_MAX, "%.*s/%s", PATH_MAX / 2, dir, MK_TRACE_PROVIDER_NAME);
        snprintf(paths[n++], PATH_MAX, "%.*s/build/%s", PATH_MAX / 2, dir, MK_TRACE_PROVIDER_NAME);
    }
    if (n < max)
        snprintf(paths[n++], PATH_MAX, "%s/%s", MK_PROVIDER_DIR, MK_TRACE_PROVIDER_NAME);
    return n;
}

void mk_trace_init(void)
{
    static int done;
    char paths[4][PATH_MAX];
    char tried[1024] = "";
    char why[512] = "";
    const char *version;
    void *h = NULL;
    int i, n;

    if (done++)
        return;

    n = mk__trace_candidates(paths, 4);
    for (i = 0; i < n && !h; i++) {
        size_t len = strlen(tried);

        snprintf(tried + len, sizeof(tried) - len, "%s%s", len ? ", " : "", paths[i]);
        if (access(paths[i], F_OK) != 0) {
            /* Not there, or there but out of reach of the user the server now runs as
             * (a private directory): the second is no "not found". */
            if (errno != ENOENT && errno != ENOTDIR && why[0] == '\0')
                snprintf(why, sizeof(why), "%s: %s (running as uid %u)", paths[i], strerror(errno),
                         (unsigned)geteuid());
            continue;
        }
        /* RTLD_NOW: fail here, with a message, rather than at the first event.  Never
         * dlclose(): liblttng-ust keeps threads and call-site pointers into it. */
        h = dlopen(paths[i], RTLD_NOW);
        if (!h && why[0] == '\0')
            snprintf(why, sizeof(why), "%s", dlerror());
    }

    if (!h) {
        if (why[0] != '\0')
            mk_warn("trace: LTTng provider not loaded, tracing off: %s", why);
        else
            mk_warn("trace: LTTng provider not found, tracing off (looked for %s)", tried);
        return;
    }
    i--;

    /* The constructor above could not open liblttng-ust-tracepoint.so.1 at start-up, so
     * the call sites of this binary were never registered: the probes will stay idle. */
    if (!lttng_ust_tracepoint_dlopen_ptr || !lttng_ust_tracepoint_dlopen_ptr->liblttngust_handle) {
        mk_warn("trace: provider %s loaded, but liblttng-ust-tracepoint.so.1 was not found when "
                "monkey started: no event will be recorded",
                paths[i]);
        return;
    }

    version = dlsym(h, "mk_trace_provider_version");
    if (version && strcmp(version, MK_VERSION_STR) != 0)
        mk_warn("trace: provider %s is from Monkey %s, this is %s: events whose arguments "
                "changed will not be recorded",
                paths[i], version, MK_VERSION_STR);
    mk_info("trace: LTTng-UST provider loaded from %s (events: monkey:*)", paths[i]);
}

const char *mk_trace_build_info(void)
{
    static char info[2048];
    char paths[4][PATH_MAX];
    int i, n = mk__trace_candidates(paths, 4);
    size_t len;

    len =
        (size_t)snprintf(info, sizeof(info), "compiled in (LTTng-UST); provider %s",
                         secure_getenv(MK_TRACE_ENV) ? "($" MK_TRACE_ENV "): " : "looked for in: ");
    for (i = 0; i < n && len < sizeof(info); i++)
        len += (size_t)snprintf(info + len, sizeof(info) - len, "%s%s", i ? ", " : "", paths[i]);
    return info;
}

#else /* !MK_HAVE_LINUX_TRACE */

void mk_trace_init(void)
{
}

const char *mk_trace_build_info(void)
{
    return "not compiled in (./configure --linux-trace)";
}

#endif

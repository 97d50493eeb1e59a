/* tp_smoke: fire every `monkey` tracepoint through the same macros and start-up code as the
 * server (src/trace/mk_trace.h, mk_trace_init), so the provider can be checked with the
 * real LTTng tools without the server.
 *
 *   tp_smoke                 every event once, then every label of every enum once
 *   tp_smoke bench N         time N calls of a few event shapes, one "name ns/event" line each
 *
 * The provider is found like the server finds it; from build/tests/trace/ that means
 * MONKEY_TRACE_PROVIDER=build/monkey-trace-provider.so. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../src/core/mk_log.h"
#include "../../src/trace/mk_trace.h"

/* Known values that tests/trace/run.py looks for. */
#define SMOKE_CONN 42
#define SMOKE_FD 7
#define SMOKE_LONG 5000 /* longer than MK_TRACE_TEXT_MAX: recorded cut */

static void fire_all(void)
{
    static char long_value[SMOKE_LONG];
    const char *uri = "/index.html?q=1";
    const char *host = "localhost:2001";

    memset(long_value, 'v', sizeof(long_value));

    MK_TRACE(epoll, SMOKE_FD, "EPOLLIN");
    MK_TRACE(epoll_state, SMOKE_FD, "SET: NEW");
    MK_TRACE(scheduler, SMOKE_FD, "REGISTERED");

    if (MK_TRACE_ENABLED(conn_accept))
        MK_TRACE_DO(conn_accept, SMOKE_CONN, SMOKE_FD, 1, "127.0.0.1", 40000);
    /* A pointer into a larger buffer: only uri_len bytes may be recorded. */
    if (MK_TRACE_ENABLED(request_begin))
        MK_TRACE_DO(request_begin, SMOKE_CONN, 1, MK_METHOD_HEAD, MK_PROTO_HTTP11, uri, 11, host,
                    9);
    if (MK_TRACE_ENABLED(request_header)) {
        MK_TRACE_DO(request_header, SMOKE_CONN, 1, "User-Agent", 10, "tp_smoke/1", 10);
        MK_TRACE_DO(request_header, SMOKE_CONN, 1, "X-Long", 6, long_value, sizeof(long_value));
    }
    if (MK_TRACE_ENABLED(request_end))
        MK_TRACE_DO(request_end, SMOKE_CONN, 1, 200, 1234, 56789, 1);
    /* No URI and no Host (a request line that failed to parse). */
    if (MK_TRACE_ENABLED(request_begin))
        MK_TRACE_DO(request_begin, SMOKE_CONN, 2, MK_METHOD_UNKNOWN, MK_PROTO_UNKNOWN, NULL, 0,
                    NULL, 0);
    MK_TRACE(conn_timeout, SMOKE_CONN, SMOKE_FD, MK_TIMEOUT_KEEPALIVE);
    MK_TRACE(error, SMOKE_CONN, MK_ESITE_OPEN, 2, 404);
    MK_TRACE(worker_stats, 1, 3, 10, 7, 25);
    if (MK_TRACE_ENABLED(conn_close))
        MK_TRACE_DO(conn_close, SMOKE_CONN, SMOKE_FD, MK_CLOSE_TIMEOUT, 2, 300, 1234, 999999);
}

/* Every label of every enum, in order, so a test can compare them with mk_trace_enums.h. */
static void fire_enums(void)
{
    int i;

    for (i = 0; i < MK_CLOSE_REASON_COUNT; i++)
        if (MK_TRACE_ENABLED(conn_close))
            MK_TRACE_DO(conn_close, 1000 + (unsigned)i, -1, i, 0, 0, 0, 0);
    for (i = 0; i < MK_TIMEOUT_KIND_COUNT; i++)
        MK_TRACE(conn_timeout, 1000 + (unsigned)i, -1, i);
    for (i = 0; i < MK_ESITE_COUNT; i++)
        MK_TRACE(error, 1000 + (unsigned)i, i, 0, 0);
    for (i = 0; i < MK_METHOD_COUNT; i++)
        if (MK_TRACE_ENABLED(request_begin))
            MK_TRACE_DO(request_begin, 1000, (unsigned)i, i, MK_PROTO_HTTP11, "/", 1, "h", 1);
    for (i = 0; i < MK_PROTO_COUNT; i++)
        if (MK_TRACE_ENABLED(request_begin))
            MK_TRACE_DO(request_begin, 1001, (unsigned)i, MK_METHOD_GET, i, "/", 1, "h", 1);
}

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

#define BENCH(label, n, stmt)                                                                      \
    do {                                                                                           \
        double t0 = now_ns();                                                                      \
        for (long k_ = 0; k_ < (n); k_++) {                                                        \
            stmt;                                                                                  \
        }                                                                                          \
        printf("%-28s %8.1f ns/event\n", label, (now_ns() - t0) / (double)(n));                    \
    } while (0)

static void bench(long n)
{
    const char *uri = "/assets/images/monkey-logo-400x300.png?v=2"; /* 41 bytes */

    BENCH("empty loop", n, __asm__ volatile("" ::: "memory"));
    BENCH("clock_gettime", n, (void)now_ns());
    BENCH("epoll (fd + string)", n, MK_TRACE(epoll, (int)k_, "EPOLLIN"));
    BENCH("conn_timeout (int + enum)", n, MK_TRACE(conn_timeout, (uint64_t)k_, 5, 2));
    BENCH("request_end (6 integers)", n,
          if (MK_TRACE_ENABLED(request_end))
              MK_TRACE_DO(request_end, (uint64_t)k_, 1, 200, 6794, 12345, 1));
    BENCH("request_begin (41-byte uri)", n,
          if (MK_TRACE_ENABLED(request_begin))
              MK_TRACE_DO(request_begin, (uint64_t)k_, 1, MK_METHOD_GET, MK_PROTO_HTTP11, uri, 41,
                          "localhost", 9));
}

int main(int argc, char **argv)
{
    mk_trace_init();
    if (argc >= 2 && strcmp(argv[1], "info") == 0) {
        puts(mk_trace_build_info());
        return 0;
    }
    if (argc >= 3 && strcmp(argv[1], "bench") == 0) {
        long n = atol(argv[2]);

        if (n <= 0) {
            fprintf(stderr, "usage: tp_smoke bench N\n");
            return 2;
        }
        bench(n);
        return 0;
    }
    fire_all();
    fire_enums();
    return 0;
}

/* mt_gen: fires the server's real `monkey` tracepoints (src/trace/mk_trace.h, probes from
 * build/monkey-trace-provider.so, loaded by mk_trace_init like the server does) in the
 * order the server fires them, for many connections, from one thread per "worker".
 * For the monkey-trace benchmark (millions of events) and for hand-made broken traces.
 *
 *   mt_gen [--workers W] [--conns N] [--requests K] [--break KIND]
 *
 *   N connections per worker, K requests each: 200 mostly, every 10th a 404, every 97th a
 *   500; worker_stats after every 64 connections and at the end.  Prints what it fired.
 *   --break KIND adds one violation in worker 0's 3rd connection:
 *     unmatched-begin   a request_begin without its request_end
 *     after-close       a request_end after the connection's conn_close
 *     no-delete         a close without its epoll_state "DELETE"
 *     stats             worker 0's second worker_stats counts one request too many
 *                       (needs --conns >= 128)
 *
 * The provider is found like the server finds it: set MONKEY_TRACE_PROVIDER. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../src/trace/mk_trace.h"

static int workers = 2, conns = 1000, requests = 10;
static const char *breakage = "";

struct wres {
    unsigned long events, requests, s200, s404, s500, conns;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *worker(void *arg)
{
    int wid = (int)(long)arg;
    struct wres *r = calloc(1, sizeof(*r));
    uint64_t accepted = 0, closed = 0, nreq = 0, rnd = 0x9e3779b97f4a7c15ULL * (uint64_t)(wid + 1);
    char uri[64];
    int nstats = 0;

    for (int i = 0; i < conns; i++) {
        /* from 1, as the server's: conn_id 0 is no connection (a refusal's error event) */
        uint64_t id = (uint64_t)i * (uint64_t)workers + (uint64_t)wid + 1;
        int fd = 100 + (i % 64) * workers + wid;
        int brk_here = wid == 0 && i == 2;
        uint64_t t0 = now_ns();

        MK_TRACE(epoll, 3, "EPOLLIN");
        MK_TRACE(epoll_state, fd, "GET: NOT FOUND");
        MK_TRACE(epoll_state, fd, "SET: NEW");
        MK_TRACE(scheduler, fd, "ADD_CLIENT_REUSEPORT");
        MK_TRACE(scheduler, fd, "REGISTERED");
        if (MK_TRACE_ENABLED(conn_accept))
            MK_TRACE_DO(conn_accept, id, fd, wid, "127.0.0.1", 30000 + (i % 30000));
        r->events += 6;
        accepted++;
        int done = 0;
        for (int k = 1; k <= requests; k++) {
            rnd = rnd * 6364136223846793005ULL + 1442695040888963407ULL;
            int n = i * requests + k;
            int status = n % 97 == 0 ? 500 : n % 10 == 0 ? 404 : 200;
            uint64_t dur = 2000 + ((rnd >> 33) % 50000);
            if ((rnd >> 20) % 1000 == 0)
                dur *= 100; /* a slow tail */
            snprintf(uri, sizeof(uri), "/file%d.html?v=%d", n % 50, k);
            MK_TRACE(epoll, fd, "EPOLLIN");
            MK_TRACE(epoll_state, fd, "GET");
            MK_TRACE(scheduler, fd, "GET_CONNECTION");
            if (MK_TRACE_ENABLED(request_begin))
                MK_TRACE_DO(request_begin, id, (uint32_t)k, MK_METHOD_GET, MK_PROTO_HTTP11, uri,
                            strlen(uri), "localhost", 9);
            MK_TRACE(epoll_state, fd, "SET: CHANGE");
            r->events += 5;
            if (brk_here && k == 2 && !strcmp(breakage, "unmatched-begin"))
                break; /* the request never ends; the connection closes */
            if (MK_TRACE_ENABLED(request_end))
                MK_TRACE_DO(request_end, id, (uint32_t)k, status, 1000 + (uint64_t)(n % 5000), dur,
                            1);
            MK_TRACE(epoll_state, fd, "SET: CHANGE");
            r->events += 2;
            r->requests++;
            nreq++;
            done++;
            if (status == 200)
                r->s200++;
            else if (status == 404)
                r->s404++;
            else
                r->s500++;
        }
        MK_TRACE(epoll, fd, "EPOLLIN");
        MK_TRACE(epoll, fd, "EPOLLRDHUP");
        MK_TRACE(epoll_state, fd, "GET");
        MK_TRACE(scheduler, fd, "GET_CONNECTION");
        if (MK_TRACE_ENABLED(conn_close))
            MK_TRACE_DO(conn_close, id, fd, MK_CLOSE_PEER, (uint32_t)done, 100 * (uint64_t)done,
                        2000 * (uint64_t)done, now_ns() - t0);
        MK_TRACE(epoll_state, fd, "GET");
        r->events += 6;
        if (!(brk_here && !strcmp(breakage, "no-delete"))) {
            MK_TRACE(epoll_state, fd, "DELETE");
            r->events++;
        }
        MK_TRACE(scheduler, fd, "DELETE_CLIENT");
        r->events++;
        closed++;
        r->conns++;
        if (brk_here && !strcmp(breakage, "after-close")) {
            if (MK_TRACE_ENABLED(request_end))
                MK_TRACE_DO(request_end, id, (uint32_t)done + 1, 200, 10, 1000, 1);
            r->events++;
        }
        if ((i + 1) % 64 == 0 || i + 1 == conns) {
            MK_TRACE(epoll, 0, "TIMEOUT CHECK");
            /* --break stats: worker 0's second worker_stats counts one request too many */
            uint64_t reported = nreq + (wid == 0 && nstats == 1 && !strcmp(breakage, "stats"));
            nstats++;
            MK_TRACE(worker_stats, wid, (uint32_t)(accepted - closed), accepted, closed, reported);
            r->events += 2;
        }
    }
    return r;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--workers") && i + 1 < argc)
            workers = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--conns") && i + 1 < argc)
            conns = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--requests") && i + 1 < argc)
            requests = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--break") && i + 1 < argc)
            breakage = argv[++i];
        else {
            fprintf(stderr, "usage: mt_gen [--workers W] [--conns N] [--requests K] "
                            "[--break unmatched-begin|after-close|no-delete|stats]\n");
            return 2;
        }
    }
    if (workers < 1 || workers > 64 || conns < 1 || requests < 1) {
        fprintf(stderr, "mt_gen: bad numbers\n");
        return 2;
    }
    mk_trace_init();

    pthread_t th[64];
    uint64_t t0 = now_ns();
    for (int w = 0; w < workers; w++)
        pthread_create(&th[w], NULL, worker, (void *)(long)w);
    struct wres tot = {0};
    for (int w = 0; w < workers; w++) {
        struct wres *r;
        pthread_join(th[w], (void **)&r);
        tot.events += r->events;
        tot.requests += r->requests;
        tot.s200 += r->s200;
        tot.s404 += r->s404;
        tot.s500 += r->s500;
        tot.conns += r->conns;
        free(r);
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    printf("events %lu requests %lu status200 %lu status404 %lu status500 %lu conns %lu "
           "seconds %.3f\n",
           tot.events, tot.requests, tot.s200, tot.s404, tot.s500, tot.conns, secs);
    return 0;
}

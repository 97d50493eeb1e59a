/* Host-contention probe for bench/bench.py.  Two measurements, each of a fixed amount of
 * work timed with CLOCK_MONOTONIC:
 *
 *   probe                 compute: a dependent multiply chain and a random walk over 4 MiB
 *                         (1 000 000 steps), so both the core and its caches are exercised;
 *                         prints the milliseconds it took.
 *   probe --wake A B      wake-ups: one byte bounced 1 000 times between a thread on CPU A
 *                         and one on CPU B over a Unix socket pair, each side blocking in
 *                         read(); the best of 3 rounds, in microseconds per round trip.
 *
 * On a virtual machine, other tenants of the host slow the vCPUs down without showing up
 * as steal time or as another process in /proc/stat, in (at least) two ways seen on the
 * project's machine: the vCPUs compute more slowly, which the compute probe sees; or a
 * cross-CPU wake-up (an IPI, a halted vCPU resumed) costs more, for many seconds at a time,
 * which only the wake-up probe sees: in those spells a keep-alive benchmark's CPU per
 * request rises by ~30 % (all in system time) and the round trip goes from ~30 to ~50 us,
 * while the compute probe does not move.  The harness runs both around every wrk run and
 * discards a run whose probes took much longer than the usual (lower-quartile) ones,
 * whatever server it measured. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WALK_WORDS (1u << 20) /* 4 MiB of uint32_t */
#define STEPS 1000000
#define TRIPS 1000
#define ROUNDS 3

volatile uint64_t sink;

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int compute(void)
{
    uint32_t *walk = malloc(WALK_WORDS * sizeof(*walk));
    uint64_t x = 1, at = 0;

    if (!walk)
        return 1;
    for (uint32_t i = 0; i < WALK_WORDS; i++)
        walk[i] = (i * 2654435761u) & (WALK_WORDS - 1);
    double t0 = now_us();
    for (int i = 0; i < STEPS; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        at = walk[(at ^ x) & (WALK_WORDS - 1)];
    }
    double t1 = now_us();
    sink = x ^ at; /* keeps the loop */
    printf("%.3f\n", (t1 - t0) / 1e3);
    free(walk);
    return 0;
}

struct peer {
    int fd, cpu, trips;
};

static int pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* The far side: returns every byte it reads, until the socket closes. */
static void *echo(void *arg)
{
    struct peer *p = arg;
    char b;

    if (pin(p->cpu) != 0) {
        shutdown(p->fd, SHUT_RDWR); /* the other side's read() sees the end at once */
        return (void *)1;
    }
    while (read(p->fd, &b, 1) == 1)
        if (write(p->fd, &b, 1) != 1)
            break;
    return NULL;
}

static int wake(int cpu_a, int cpu_b)
{
    int sv[2];
    pthread_t t;
    void *trc = NULL;
    double best = 0;
    char c = 'x';

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 || pin(cpu_a) != 0)
        return 1;
    struct peer p = {.fd = sv[1], .cpu = cpu_b};
    if (pthread_create(&t, NULL, echo, &p) != 0)
        return 1;
    for (int r = 0; r < ROUNDS; r++) {
        double t0 = now_us();
        for (int i = 0; i < TRIPS; i++)
            if (write(sv[0], &c, 1) != 1 || read(sv[0], &c, 1) != 1)
                return 1;
        double us = (now_us() - t0) / TRIPS;
        if (r == 0 || us < best)
            best = us;
    }
    close(sv[0]); /* the echo thread reads EOF and ends */
    pthread_join(t, &trc);
    close(sv[1]);
    if (trc)
        return 1;
    printf("%.2f\n", best);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 1)
        return compute();
    if (argc == 4 && !strcmp(argv[1], "--wake")) {
        char *e1, *e2;
        long a = strtol(argv[2], &e1, 10), b = strtol(argv[3], &e2, 10);
        if (!*e1 && !*e2 && a >= 0 && b >= 0 && a < CPU_SETSIZE && b < CPU_SETSIZE)
            return wake((int)a, (int)b);
    }
    fprintf(stderr, "usage: probe [--wake CPU_A CPU_B]\n");
    return 2;
}

/* Host-contention probe for bench/bench.py: a fixed amount of work (a dependent multiply
 * chain and a random walk over 4 MiB, so both the core and its caches are exercised),
 * timed with CLOCK_MONOTONIC.  Prints the milliseconds it took.
 *
 * On a virtual machine, other tenants of the host slow the vCPUs down without showing up
 * as steal time or as another process in /proc/stat; the harness runs this probe on both
 * CPUs around every wrk run and discards a run whose probe took much longer than the
 * usual (lower-quartile) probe, whatever server it measured. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define WALK_WORDS (1u << 20) /* 4 MiB of uint32_t */
#define STEPS 1000000

volatile uint64_t sink;

int main(void)
{
    uint32_t *walk = malloc(WALK_WORDS * sizeof(*walk));
    struct timespec t0, t1;
    uint64_t x = 1, at = 0;

    if (!walk)
        return 1;
    for (uint32_t i = 0; i < WALK_WORDS; i++)
        walk[i] = (i * 2654435761u) & (WALK_WORDS - 1);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < STEPS; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        at = walk[(at ^ x) & (WALK_WORDS - 1)];
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    sink = x ^ at; /* keeps the loop */
    printf("%.3f\n",
           (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    free(walk);
    return 0;
}

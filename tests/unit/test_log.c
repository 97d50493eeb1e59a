/* The rate limit of repeated log lines (mk_log_allow / mk_log_due), as several workers use
 * it at once (refusals at MaxConnections): no event may be lost from the counts. */
#include "mk_test.h"

#include <pthread.h>

#include "core/mk_log.h"
#include "mk_config.h"

#define RACERS 4
/* The lost event is a window of a few instructions: 100 000 rounds (6-8 s) found it in 3
 * runs of 3 before the fix, 20 000 in 1 of 3.  Fewer under the sanitizers, which make
 * each barrier far slower (the plain build is the one that finds the race). */
#if MK_HAVE_SANITIZER
#define ROUNDS 10000
#else
#define ROUNDS 100000
#endif

static struct mk_log_limit race_limit;
static pthread_barrier_t race_start, race_end;
static uint32_t race_said[RACERS]; /* events each thread saw reported (a line and its count) */

static void *racer(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < ROUNDS; i++) {
        uint32_t suppressed = 0;
        pthread_barrier_wait(&race_start);
        if (mk_log_allow(&race_limit, 100, 10, &suppressed))
            race_said[id] += suppressed + 1;
        pthread_barrier_wait(&race_end); /* the main thread resets the limit */
        pthread_barrier_wait(&race_end);
    }
    return NULL;
}

/* Every round, RACERS threads report one event each at the same moment into a fresh limit:
 * one of them says it, the others are counted for the next line.  None may vanish. */
MK_TEST(allow_counts_every_event_under_contention)
{
    pthread_t t[RACERS];
    uint64_t said = 0, held = 0;
    pthread_barrier_init(&race_start, NULL, RACERS);
    pthread_barrier_init(&race_end, NULL, RACERS + 1);
    for (int i = 0; i < RACERS; i++)
        pthread_create(&t[i], NULL, racer, (void *)(intptr_t)i);
    for (int i = 0; i < ROUNDS; i++) {
        pthread_barrier_wait(&race_end);
        held += __atomic_exchange_n(&race_limit.suppressed, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&race_limit.last, 0, __ATOMIC_RELAXED);
        pthread_barrier_wait(&race_end);
    }
    for (int i = 0; i < RACERS; i++) {
        pthread_join(t[i], NULL);
        said += race_said[i];
    }
    pthread_barrier_destroy(&race_start);
    pthread_barrier_destroy(&race_end);
    CHECK_EQ_INT((long long)(said + held), (long long)RACERS * ROUNDS);
}

MK_TEST(allow_then_due_says_the_rest_of_a_burst)
{
    struct mk_log_limit l = {0};
    uint32_t n = 0;
    CHECK(mk_log_allow(&l, 100, 10, &n));
    CHECK_EQ_INT(n, 0);
    for (int i = 0; i < 5; i++)
        CHECK(!mk_log_allow(&l, 101, 10, &n));
    CHECK(!mk_log_due(&l, 105, 10, &n));
    CHECK(mk_log_due(&l, 110, 10, &n));
    CHECK_EQ_INT(n, 5);
    CHECK(!mk_log_due(&l, 125, 10, &n)); /* nothing held back */
}

/* Workers read the clock at different moments: one that read it just before the second
 * turned sees a line said "in the future" by another.  It is within the interval (counted for
 * the next line), not 2^32 - 1 s past it: that said a second line at once and moved `last`
 * back (mk_log_due too, which then found the count taken and said nothing). */
MK_TEST(an_older_clock_reading_is_within_the_interval)
{
    struct mk_log_limit l = {0};
    uint32_t n = 0;
    CHECK(mk_log_allow(&l, 100, 10, &n));
    CHECK(!mk_log_allow(&l, 99, 10, &n));
    CHECK_EQ_INT(l.last, 100);
    CHECK(!mk_log_due(&l, 99, 10, &n));
    CHECK_EQ_INT(l.last, 100);
    CHECK(mk_log_due(&l, 110, 10, &n));
    CHECK_EQ_INT(n, 1);
}

/* At the stop, what is held back is taken whatever the time, once. */
MK_TEST(rest_takes_what_is_held_back_once)
{
    struct mk_log_limit l = {0};
    uint32_t n = 0;
    CHECK_EQ_INT(mk_log_rest(&l), 0);
    CHECK(mk_log_allow(&l, 100, 10, &n));
    CHECK(!mk_log_allow(&l, 101, 10, &n));
    CHECK(!mk_log_allow(&l, 102, 10, &n));
    CHECK_EQ_INT(mk_log_rest(&l), 2);
    CHECK_EQ_INT(mk_log_rest(&l), 0);
    CHECK(!mk_log_due(&l, 120, 10, &n)); /* nothing left for a summary */
}

MK_TEST_MAIN("test_log")

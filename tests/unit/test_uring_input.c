/* The io_uring loop's input held for a busy connection (src/event/mk_uring.c, in_keep()):
 * input pipelined behind a response being written is kept in a private copy, and each
 * receive completion appends to it.  Each byte must be copied a bounded number of times:
 * a fresh copy of everything held per 2 KiB completion made a pipeline of small requests
 * cost O(held) per buffer (up to 64 KiB copied for each 2 KiB received).
 *
 * mk_uring.c is compiled into this test with memcpy/memmove counted. */
#include "mk_test.h"

#include "mk_config.h"

#if MK_HAVE_IO_URING
static size_t copied;

static void *count_memcpy(void *d, const void *s, size_t n)
{
    copied += n;
    return (memcpy)(d, s, n);
}

static void *count_memmove(void *d, const void *s, size_t n)
{
    copied += n;
    return (memmove)(d, s, n);
}

#define memcpy(d, s, n) count_memcpy(d, s, n)
#define memmove(d, s, n) count_memmove(d, s, n)
#include "event/mk_uring.c"
#undef memcpy
#undef memmove

#define CHUNK 2048u

static bool same(const char *out, ssize_t n, uint32_t *next)
{
    bool ok = true;
    for (ssize_t k = 0; k < n; k++)
        ok &= out[k] == (char)((*next)++ * 7u);
    return ok;
}

/* Append `chunks` completions of CHUNK bytes while taking `take` bytes after each, then
 * take the rest; the bytes come out in order. */
static void run(unsigned chunks, unsigned take)
{
    struct mk_conn c;
    memset(&c, 0, sizeof(c));
    static char in[CHUNK], out[4096];
    uint32_t next_in = 0, next_out = 0;
    size_t appended = 0;
    bool in_order = true;
    copied = 0;
    for (unsigned i = 0; i < chunks; i++) {
        for (unsigned k = 0; k < CHUNK; k++)
            in[k] = (char)(next_in++ * 7u);
        in_keep(&c, in, CHUNK);
        appended += CHUNK;
        for (unsigned got = 0; got < take;) {
            ssize_t n = mk_uring_recv(&c, out, MK_MIN(sizeof(out), take - got));
            if (n <= 0)
                break;
            in_order &= same(out, n, &next_out);
            got += (unsigned)n;
        }
    }
    for (;;) {
        ssize_t n = mk_uring_recv(&c, out, sizeof(out));
        if (n <= 0)
            break;
        in_order &= same(out, n, &next_out);
    }
    CHECKF(in_order, "%u chunks, %u taken each: bytes out of order", chunks, take);
    CHECK_EQ_INT(next_out, next_in);
    CHECK_EQ_INT(c.in_kind, MK_IN_NONE);
    /* mk_uring_recv's copies into out[] are the reader's, not the holding's. */
    size_t held_copies = copied - (size_t)next_out;
    CHECKF(held_copies <= 4 * appended, "%u chunks, %u taken each: %zu bytes copied to hold %zu",
           chunks, take, held_copies, appended);
}

MK_TEST(held_input_appended_nothing_taken)
{
    run(32, 0); /* 64 KiB held behind a stuck response */
}

MK_TEST(held_input_appended_while_taken)
{
    run(2000, 2000); /* a long pipeline of small requests, taken as fast as it comes */
    run(2000, 1000);
    run(200, 2048 + 100);
}

#else
MK_TEST(no_io_uring_build)
{
    CHECK(1);
}
#endif

MK_TEST_MAIN("test_uring_input")

/* Helpers shared by the fuzz targets: invariant checks that abort (libFuzzer and AFL++ both
 * treat abort() as a crash and keep the input), a hash of the input and a small PRNG.
 *
 * The targets take the input as the bytes a peer would send (a request, a path, a Range
 * value, a config file) and derive everything else -- split points, limits, settings -- from
 * a hash of those bytes, so corpus files stay readable and every input replays exactly. */
#ifndef MK_FUZZ_COMMON_H
#define MK_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The libFuzzer entry point every target defines (AFL++'s driver calls it too). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "\nfuzz invariant failed at %s:%d: %s\n  ", __FILE__, __LINE__,        \
                    #cond);                                                                        \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* FNV-1a: stable across runs and platforms, so a saved input replays the same choices. */
static inline uint64_t fuzz_hash(const uint8_t *p, size_t n)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h ^ (uint64_t)n;
}

/* splitmix64 */
static inline uint64_t fuzz_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* An exact-size heap copy, so that ASan reports any read past the length the code was
 * given (a stack or static buffer would hide it). */
static inline char *fuzz_dup(const void *p, size_t n)
{
    char *d = malloc(n ? n : 1);
    if (!d)
        abort();
    if (n)
        memcpy(d, p, n);
    return d;
}

/* Print a short, escaped excerpt of a buffer for failure messages. */
static inline void fuzz_dump(const char *label, const void *buf, size_t n)
{
    const unsigned char *p = buf;
    fprintf(stderr, "%s (%zu bytes): \"", label, n);
    for (size_t i = 0; i < n && i < 600; i++) {
        if (p[i] == '\r')
            fputs("\\r", stderr);
        else if (p[i] == '\n')
            fputs("\\n", stderr);
        else if (p[i] < 0x20 || p[i] >= 0x7f || p[i] == '"' || p[i] == '\\')
            fprintf(stderr, "\\x%02x", p[i]);
        else
            fputc(p[i], stderr);
    }
    fputs(n > 600 ? "\"...\n" : "\"\n", stderr);
}

#endif

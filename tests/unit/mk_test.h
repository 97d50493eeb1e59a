/* A tiny header-only unit test framework.
 *
 *   MK_TEST(parses_simple_get) { CHECK(x == 1); CHECK_EQ_INT(f(), 3); }
 *   MK_TEST_MAIN("test_parser")
 *
 * MK_TEST functions register themselves (a constructor adds them to a table) and run in
 * the order they appear.  A failed check prints "file:line: test: what" and the test goes
 * on; the program ends with "test_x: N checks, M failed" and exits 1 when M > 0.  A crash
 * (for example a read into a guard page) prints the test and the current context (set with
 * mk_test_context()) before the process dies with the signal.
 *
 * guard_copy() places bytes at the very end of a mapping followed by a PROT_NONE page: a
 * parser that reads one byte past the input crashes instead of silently reading garbage. */
#ifndef MK_TEST_H
#define MK_TEST_H

#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MK_TEST_MAX 512
#define MK_TEST_TIMEOUT 120 /* seconds for the whole binary */

typedef void (*mk_test_fn)(void);

struct mk_test_case {
    const char *name;
    mk_test_fn fn;
};

static struct mk_test_case mk_test_cases[MK_TEST_MAX];
static int mk_test_ncases;
static const char *mk_test_current = "(none)";
static char mk_test_ctx[256];
static unsigned long mk_test_checks, mk_test_failed;

__attribute__((unused)) static void mk_test_register(const char *name, mk_test_fn fn)
{
    if (mk_test_ncases == MK_TEST_MAX) {
        fprintf(stderr, "mk_test: more than %d tests\n", MK_TEST_MAX);
        abort();
    }
    mk_test_cases[mk_test_ncases].name = name;
    mk_test_cases[mk_test_ncases].fn = fn;
    mk_test_ncases++;
}

#define MK_TEST(name)                                                                              \
    static void name(void);                                                                        \
    __attribute__((constructor)) static void mk_test_reg_##name(void)                              \
    {                                                                                              \
        mk_test_register(#name, name);                                                             \
    }                                                                                              \
    static void name(void)

/* What the running test is looking at (an input's name): printed with failures and crashes. */
__attribute__((unused, format(printf, 1, 2))) static void mk_test_context(const char *fmt, ...)
{
    va_list ap;
    if (!fmt) {
        mk_test_ctx[0] = '\0';
        return;
    }
    va_start(ap, fmt);
    vsnprintf(mk_test_ctx, sizeof(mk_test_ctx), fmt, ap);
    va_end(ap);
}

__attribute__((unused, format(printf, 3, 4))) static void mk_test_fail(const char *file, int line,
                                                                       const char *fmt, ...)
{
    va_list ap;
    mk_test_failed++;
    /* stdout, like the summary, so that the two keep their order when captured together */
    printf("%s:%d: %s: ", file, line, mk_test_current);
    if (mk_test_ctx[0])
        printf("[%s] ", mk_test_ctx);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

/* Print bytes readably (C escapes) into dst; used for failure messages. */
__attribute__((unused)) static const char *mk_test_repr(const char *p, size_t len, char *dst,
                                                        size_t cap)
{
    size_t o = 0;
    if (!p)
        return "(null)";
    for (size_t i = 0; i < len && o + 8 < cap; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\r')
            o += (size_t)snprintf(dst + o, cap - o, "\\r");
        else if (c == '\n')
            o += (size_t)snprintf(dst + o, cap - o, "\\n");
        else if (c == '\\' || c == '"')
            o += (size_t)snprintf(dst + o, cap - o, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            o += (size_t)snprintf(dst + o, cap - o, "\\x%02x", c);
        else
            dst[o++] = (char)c;
    }
    if (o + 8 >= cap && cap > 4)
        o += (size_t)snprintf(dst + o, cap - o, "...");
    dst[o < cap ? o : cap - 1] = '\0';
    return dst;
}

/* CHECK with a printf-style message of its own. */
#define CHECKF(cond, ...)                                                                          \
    __extension__({                                                                                \
        int mk__ok = !!(cond);                                                                     \
        mk_test_checks++;                                                                          \
        if (!mk__ok)                                                                               \
            mk_test_fail(__FILE__, __LINE__, __VA_ARGS__);                                         \
        mk__ok;                                                                                    \
    })

/* Each CHECK returns 1 when it passed, so a test can stop early: if (!CHECK(p)) return; */
#define CHECK(cond) CHECKF(cond, "CHECK(%s) failed", #cond)

#define CHECK_EQ_INT(a, b)                                                                         \
    __extension__({                                                                                \
        long long mk__a = (long long)(a), mk__b = (long long)(b);                                  \
        mk_test_checks++;                                                                          \
        int mk__ok = mk__a == mk__b;                                                               \
        if (!mk__ok)                                                                               \
            mk_test_fail(__FILE__, __LINE__, "%s == %s: got %lld, expected %lld", #a, #b, mk__a,   \
                         mk__b);                                                                   \
        mk__ok;                                                                                    \
    })

/* Compare a pointer + length view with a literal (or any NUL-terminated string). */
#define CHECK_EQ_STR(ptr, len, lit)                                                                \
    __extension__({                                                                                \
        const char *mk__p = (ptr), *mk__l = (lit);                                                 \
        size_t mk__n = (size_t)(len), mk__ln = strlen(mk__l);                                      \
        mk_test_checks++;                                                                          \
        int mk__ok = mk__p != NULL && mk__n == mk__ln && memcmp(mk__p, mk__l, mk__n) == 0;         \
        if (!mk__ok) {                                                                             \
            char mk__r1[512], mk__r2[512];                                                         \
            mk_test_fail(__FILE__, __LINE__, "%s: got \"%s\" (len %zu), expected \"%s\"", #ptr,    \
                         mk_test_repr(mk__p, mk__n, mk__r1, sizeof(mk__r1)), mk__n,                \
                         mk_test_repr(mk__l, mk__ln, mk__r2, sizeof(mk__r2)));                     \
        }                                                                                          \
        mk__ok;                                                                                    \
    })

/* Compare an mk_str_t-like view ({p, len}) with a literal. */
#define CHECK_EQ_VIEW(v, lit) CHECK_EQ_STR((v).p, (v).len, lit)

/* ---- guard pages ------------------------------------------------------------------------- */

__attribute__((unused)) static size_t mk_test_page(void)
{
    static size_t page;
    if (!page)
        page = (size_t)sysconf(_SC_PAGESIZE);
    return page;
}

__attribute__((unused)) static size_t mk_test_round(size_t len)
{
    size_t pg = mk_test_page();
    return (len + pg - 1) / pg * pg;
}

/* Copy data so that its last byte is the last readable byte: data[len] is in a PROT_NONE page.
 * Release with guard_free(p, len). */
__attribute__((unused)) static char *guard_copy(const void *data, size_t len)
{
    size_t body = mk_test_round(len), pg = mk_test_page();
    char *base = mmap(NULL, body + pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) {
        perror("guard_copy: mmap");
        abort();
    }
    if (mprotect(base + body, pg, PROT_NONE) < 0) {
        perror("guard_copy: mprotect");
        abort();
    }
    char *p = base + body - len;
    if (len)
        memcpy(p, data, len);
    return p;
}

__attribute__((unused)) static void guard_free(const char *p, size_t len)
{
    if (!p)
        return;
    char *base = (char *)(uintptr_t)(p + len) - mk_test_round(len);
    munmap(base, mk_test_round(len) + mk_test_page());
}

/* A reusable guard region for loops that place many inputs: guard_place() copies data so that
 * it ends at the guard page, without a new mapping each time.  cap is the longest input. */
struct guard_region {
    char *base;
    size_t cap;
};

__attribute__((unused)) static struct guard_region guard_region_new(size_t cap)
{
    struct guard_region g;
    g.cap = mk_test_round(cap);
    g.base = mmap(NULL, g.cap + mk_test_page(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                  -1, 0);
    if (g.base == MAP_FAILED || mprotect(g.base + g.cap, mk_test_page(), PROT_NONE) < 0) {
        perror("guard_region_new");
        abort();
    }
    return g;
}

__attribute__((unused)) static char *guard_place(struct guard_region *g, const void *data,
                                                 size_t len)
{
    if (len > g->cap) {
        fprintf(stderr, "guard_place: %zu bytes do not fit in %zu\n", len, g->cap);
        abort();
    }
    char *p = g->base + g->cap - len;
    if (len)
        memmove(p, data, len);
    return p;
}

__attribute__((unused)) static void guard_region_free(struct guard_region *g)
{
    munmap(g->base, g->cap + mk_test_page());
    g->base = NULL;
}

/* ---- main ---------------------------------------------------------------------------------- */

static const char *mk_test_prog = "test";

__attribute__((unused)) static void mk_test_crash(int sig)
{
    /* Only async-signal-safe calls here. */
    const char *parts[] = {"\n", mk_test_prog, ": CRASH (signal ",
                           NULL, ") in ",      mk_test_current,
                           " [", mk_test_ctx,  "]\n"};
    char num[4] = {(char)('0' + sig / 10), (char)('0' + sig % 10), '\0', '\0'};
    parts[3] = num;
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
        if (write(2, parts[i], strlen(parts[i])) < 0)
            break;
    signal(sig, SIG_DFL);
    raise(sig);
}

__attribute__((unused)) static int mk_test_main(const char *prog, int argc, char **argv)
{
    int ran = 0;

    mk_test_prog = prog;
    signal(SIGSEGV, mk_test_crash);
    signal(SIGBUS, mk_test_crash);
    signal(SIGABRT, mk_test_crash);
    signal(SIGALRM, mk_test_crash);
    signal(SIGPIPE, SIG_IGN);
    alarm(MK_TEST_TIMEOUT);
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 0; i < mk_test_ncases; i++) {
        /* Optional filter: run only tests whose name contains argv[1]. */
        if (argc > 1 && !strstr(mk_test_cases[i].name, argv[1]))
            continue;
        unsigned long before = mk_test_failed;
        mk_test_current = mk_test_cases[i].name;
        mk_test_ctx[0] = '\0';
        mk_test_cases[i].fn();
        ran++;
        if (mk_test_failed != before)
            printf("FAIL %s\n", mk_test_cases[i].name);
    }
    mk_test_current = "(none)";
    printf("%s: %lu checks, %lu failed (%d tests)\n", prog, mk_test_checks, mk_test_failed, ran);
    return mk_test_failed || ran == 0 ? 1 : 0;
}

#define MK_TEST_MAIN(prog)                                                                         \
    int main(int argc, char **argv)                                                                \
    {                                                                                              \
        return mk_test_main(prog, argc, argv);                                                     \
    }

#endif

#include "mk_core.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mk_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("monkey: fatal: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

void *mk_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        mk_die("out of memory (%zu bytes)", n);
    return p;
}

void *mk_xcalloc(size_t nmemb, size_t n)
{
    void *p = calloc(nmemb ? nmemb : 1, n ? n : 1);
    if (!p)
        mk_die("out of memory (%zu x %zu bytes)", nmemb, n);
    return p;
}

void *mk_xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        mk_die("out of memory (%zu bytes)", n);
    return p;
}

void *mk_xmalloc_aligned(size_t align, size_t n)
{
    void *p;
    int e = posix_memalign(&p, align, n ? n : 1);
    if (e != 0)
        mk_die("out of memory (%zu bytes aligned to %zu)", n, align);
    return p;
}

char *mk_xstrdup(const char *s)
{
    return mk_xstrndup(s, strlen(s));
}

char *mk_xstrndup(const char *s, size_t n)
{
    char *p = mk_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

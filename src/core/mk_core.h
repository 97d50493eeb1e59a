/* Common definitions shared by every layer: return codes, branch hints, small helpers. */
#ifndef MK_CORE_H
#define MK_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "../mk_config.h"

/* Return codes, nginx style: negative values never collide with a byte count. */
#define MK_OK 0
#define MK_ERROR -1
#define MK_AGAIN -2

#define mk_likely(x) __builtin_expect(!!(x), 1)
#define mk_unlikely(x) __builtin_expect(!!(x), 0)

#define MK_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MK_MIN(a, b) ((a) < (b) ? (a) : (b))
#define MK_MAX(a, b) ((a) > (b) ? (a) : (b))

#define mk_container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

/* Abort with a message: for allocation failures at start-up and broken invariants. */
__attribute__((noreturn, format(printf, 1, 2))) void mk_die(const char *fmt, ...);

void *mk_xmalloc(size_t n);
void *mk_xcalloc(size_t nmemb, size_t n);
void *mk_xrealloc(void *p, size_t n);
/* n bytes aligned to `align` (a power of two, at least sizeof(void *)); free() releases it. */
void *mk_xmalloc_aligned(size_t align, size_t n);
char *mk_xstrdup(const char *s);
char *mk_xstrndup(const char *s, size_t n);

#endif

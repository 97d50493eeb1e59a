/* Byte strings as pointer + length views.  Request bytes are never NUL-terminated, so
 * everything that touches them goes through these helpers, never through <string.h>'s
 * C-string functions. */
#ifndef MK_STR_H
#define MK_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    const char *p;
    size_t len;
} mk_str_t;

#define MK_STR(lit) ((mk_str_t){(lit), sizeof(lit) - 1})
#define MK_STR_NULL ((mk_str_t){NULL, 0})

static inline mk_str_t mk_str(const char *p, size_t len)
{
    return (mk_str_t){p, len};
}

static inline char mk_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c | 0x20) : c;
}

/* Case-insensitive comparison of a view against a lower-case literal of the same length. */
static inline bool mk_str_ieq_lower(const char *p, size_t len, const char *lower, size_t lower_len)
{
    if (len != lower_len)
        return false;
    for (size_t i = 0; i < len; i++)
        if (mk_lower(p[i]) != lower[i])
            return false;
    return true;
}

#define MK_STR_IEQ(s, lit) mk_str_ieq_lower((s).p, (s).len, (lit), sizeof(lit) - 1)

static inline bool mk_str_eq(mk_str_t a, mk_str_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static inline bool mk_str_ieq(mk_str_t a, mk_str_t b)
{
    if (a.len != b.len)
        return false;
    for (size_t i = 0; i < a.len; i++)
        if (mk_lower(a.p[i]) != mk_lower(b.p[i]))
            return false;
    return true;
}

/* Strip optional whitespace (SP / HTAB) on both ends. */
mk_str_t mk_str_trim(mk_str_t s);

/* Parse an unsigned decimal made only of digits, no sign, no spaces.  Returns -1 on an
 * empty input, a non-digit or an overflow past max. */
int mk_str_to_u64(mk_str_t s, uint64_t max, uint64_t *out);

/* Split the next comma-separated element off *list (trimmed); false when none is left. */
bool mk_str_next_token(mk_str_t *list, mk_str_t *tok);

/* Write the decimal form of v at dst (at least 20 bytes); returns the length. */
size_t mk_u64_to_str(char *dst, uint64_t v);

#endif

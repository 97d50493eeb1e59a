#include "mk_str.h"

static inline bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

mk_str_t mk_str_trim(mk_str_t s)
{
    while (s.len && is_ows(s.p[0])) {
        s.p++;
        s.len--;
    }
    while (s.len && is_ows(s.p[s.len - 1]))
        s.len--;
    return s;
}

int mk_str_to_u64(mk_str_t s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;

    if (s.len == 0)
        return -1;
    for (size_t i = 0; i < s.len; i++) {
        unsigned d = (unsigned char)s.p[i] - '0';
        if (d > 9)
            return -1;
        if (v > (max - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

bool mk_str_next_token(mk_str_t *list, mk_str_t *tok)
{
    while (list->len) {
        const char *comma = memchr(list->p, ',', list->len);
        size_t n = comma ? (size_t)(comma - list->p) : list->len;
        mk_str_t t = mk_str_trim(mk_str(list->p, n));

        list->p += n;
        list->len -= n;
        if (comma) {
            list->p++;
            list->len--;
        }
        if (t.len) {
            *tok = t;
            return true;
        }
    }
    return false;
}

size_t mk_u64_to_str(char *dst, uint64_t v)
{
    char tmp[20];
    size_t n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        dst[i] = tmp[n - 1 - i];
    return n;
}

#include "mk_range.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/mk_core.h"

void mk_range_free(struct mk_range_set *rs)
{
    free(rs);
}

static int parse_u64(const char *p, const char *end, uint64_t *v)
{
    return mk_str_to_u64(mk_str(p, (size_t)(end - p)), UINT64_MAX / 2, v);
}

int mk_range_parse(mk_str_t h, uint64_t size, struct mk_range_set **out)
{
    struct mk_range tmp[MK_RANGE_MAX];
    int n = 0;
    bool any = false;
    mk_str_t list, tok;

    *out = NULL;
    h = mk_str_trim(h);
    if (h.len < 6 || !mk_str_ieq_lower(h.p, 6, "bytes=", 6))
        return 200; /* unknown unit: ignore the header (RFC 9110 14.2) */
    list = mk_str(h.p + 6, h.len - 6);
    while (mk_str_next_token(&list, &tok)) {
        const char *dash = memchr(tok.p, '-', tok.len);
        const char *end = tok.p + tok.len;
        uint64_t a, b;

        if (!dash)
            return 200;
        any = true;
        if (dash == tok.p) {
            /* suffix: the last b bytes */
            if (parse_u64(dash + 1, end, &b) < 0)
                return 200;
            if (b == 0 || size == 0)
                continue; /* unsatisfiable */
            a = b >= size ? 0 : size - b;
            b = size - 1;
        } else {
            if (parse_u64(tok.p, dash, &a) < 0)
                return 200;
            if (dash + 1 == end) {
                b = size ? size - 1 : 0;
            } else {
                if (parse_u64(dash + 1, end, &b) < 0 || b < a)
                    return 200; /* "5-1" is invalid: ignore the whole header */
                if (b >= size)
                    b = size ? size - 1 : 0;
            }
            if (a >= size)
                continue; /* starts at or past the end: unsatisfiable */
        }
        if (n == MK_RANGE_MAX)
            return 200; /* very many ranges: the whole file costs less than the parts */
        tmp[n].first = a;
        tmp[n].last = b;
        n++;
    }
    if (!any)
        return 200;
    if (n == 0)
        return 416;
    /* Overlapping ranges could make a response longer than the file: refuse to amplify. */
    uint64_t total = 0;
    for (int i = 0; i < n; i++) {
        total += tmp[i].last - tmp[i].first + 1;
        for (int k = 0; k < i; k++)
            if (tmp[i].first <= tmp[k].last && tmp[k].first <= tmp[i].last)
                return 200;
    }
    if (total > size)
        return 200;
    struct mk_range_set *rs = mk_xcalloc(1, sizeof(*rs));
    rs->n = n;
    memcpy(rs->r, tmp, (size_t)n * sizeof(tmp[0]));
    *out = rs;
    return 206;
}

static size_t part_header(char *buf, size_t cap, const char *mime, const struct mk_range *r,
                          uint64_t size)
{
    int n = snprintf(buf, cap,
                     "\r\n--" MK_RANGE_BOUNDARY "\r\nContent-Type: %s\r\n"
                     "Content-Range: bytes %llu-%llu/%llu\r\n\r\n",
                     mime, (unsigned long long)r->first, (unsigned long long)r->last,
                     (unsigned long long)size);
    return n < 0 ? 0 : MK_MIN((size_t)n, cap);
}

static const char closing[] = "\r\n--" MK_RANGE_BOUNDARY "--\r\n";

uint64_t mk_range_multipart_length(const struct mk_range_set *rs, const char *mime, uint64_t size)
{
    char tmp[512];
    uint64_t total = sizeof(closing) - 1;
    for (int i = 0; i < rs->n; i++)
        total += part_header(tmp, sizeof(tmp), mime, &rs->r[i], size) +
                 (rs->r[i].last - rs->r[i].first + 1);
    return total;
}

int mk_range_next_part(struct mk_range_set *rs, const char *mime, uint64_t size, char *buf,
                       size_t cap, size_t *len, uint64_t *off, uint64_t *end)
{
    if (rs->next >= rs->n) {
        memcpy(buf, closing, sizeof(closing) - 1);
        *len = sizeof(closing) - 1;
        *off = *end = 0;
        return 0;
    }
    const struct mk_range *r = &rs->r[rs->next++];
    *len = part_header(buf, cap, mime, r, size);
    *off = r->first;
    *end = r->last + 1;
    return 1;
}

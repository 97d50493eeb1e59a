#include "mk_range.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "../core/mk_core.h"

void mk_range_free(struct mk_range_set *rs)
{
    free(rs);
}

/* A byte position: digits only.  A number too large for any file saturates instead of
 * failing, so "0-99999999999999999999" is clamped like any end past the file, and a start
 * that large is merely unsatisfiable. */
static int parse_u64(const char *p, const char *end, uint64_t *v)
{
    if (mk_str_to_u64(mk_str(p, (size_t)(end - p)), UINT64_MAX / 2, v) == 0)
        return 0;
    for (const char *q = p; q < end; q++)
        if (*q < '0' || *q > '9')
            return -1;
    if (p == end)
        return -1;
    *v = UINT64_MAX / 2;
    return 0;
}

static void new_boundary(char *out)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char r[MK_RANGE_BOUNDARY_LEN / 2];

    if (getrandom(r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
        /* Only before the kernel's pool is initialised (early boot): unique, if guessable. */
        static __thread uint64_t seq;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t a = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
        uint32_t b = (uint32_t)++seq ^ (uint32_t)(uintptr_t)&seq;
        memcpy(r, &a, 8);
        memcpy(r + 8, &b, 4);
    }
    for (size_t i = 0; i < sizeof(r); i++) {
        out[2 * i] = hex[r[i] >> 4];
        out[2 * i + 1] = hex[r[i] & 15];
    }
    out[MK_RANGE_BOUNDARY_LEN] = '\0';
}

int mk_range_parse(mk_str_t h, uint64_t size, struct mk_range_set **out)
{
    struct mk_range_set set;
    int rc = mk_range_parse_into(h, size, &set);
    *out = NULL;
    if (rc == 206) {
        *out = mk_xmalloc(sizeof(set));
        **out = set;
    }
    return rc;
}

int mk_range_parse_into(mk_str_t h, uint64_t size, struct mk_range_set *rs)
{
    struct mk_range tmp[MK_RANGE_MAX];
    unsigned n = 0; /* unsigned: gcc's -fsanitize builds cannot bound the memcpy otherwise */
    bool any = false;
    mk_str_t list, tok;

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
            if (b == 0)
                continue; /* "-0": unsatisfiable */
            if (size == 0)
                return 200; /* satisfiable on an empty file (RFC 9110 14.1.3), but no 206
                             * can carry zero bytes: the whole, empty, file */
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
    for (unsigned i = 0; i < n; i++) {
        total += tmp[i].last - tmp[i].first + 1;
        for (unsigned k = 0; k < i; k++)
            if (tmp[i].first <= tmp[k].last && tmp[k].first <= tmp[i].last)
                return 200;
    }
    if (total > size)
        return 200;
    rs->n = (int)n;
    rs->next = 0;
    memcpy(rs->r, tmp, n * sizeof(tmp[0]));
    if (n > 1)
        new_boundary(rs->boundary);
    else
        rs->boundary[0] = '\0';
    return 206;
}

/* One part's delimiter and header into buf; with buf NULL (cap 0), only its length.  The
 * announced Content-Length is the sum of these lengths, measured by the same format that
 * mk_range_next_part() writes (a 512-byte scratch buffer once cut long types short and
 * desynchronised the connection). */
static size_t part_header(char *buf, size_t cap, const char *boundary, const char *mime,
                          const struct mk_range *r, uint64_t size)
{
    int n = snprintf(buf, cap,
                     "\r\n--%s\r\nContent-Type: %s\r\n"
                     "Content-Range: bytes %llu-%llu/%llu\r\n\r\n",
                     boundary, mime, (unsigned long long)r->first, (unsigned long long)r->last,
                     (unsigned long long)size);
    if (n < 0)
        return 0;
    return buf ? MK_MIN((size_t)n, cap) : (size_t)n;
}

uint64_t mk_range_multipart_length(const struct mk_range_set *rs, const char *mime, uint64_t size)
{
    uint64_t total = strlen(rs->boundary) + 8; /* "\r\n--" boundary "--\r\n" */
    for (int i = 0; i < rs->n; i++)
        total += part_header(NULL, 0, rs->boundary, mime, &rs->r[i], size) +
                 (rs->r[i].last - rs->r[i].first + 1);
    return total;
}

int mk_range_next_part(struct mk_range_set *rs, const char *mime, uint64_t size, char *buf,
                       size_t cap, size_t *len, uint64_t *off, uint64_t *end)
{
    if (rs->next >= rs->n) {
        int k = snprintf(buf, cap, "\r\n--%s--\r\n", rs->boundary);
        *len = k < 0 ? 0 : MK_MIN((size_t)k, cap);
        *off = *end = 0;
        return 0;
    }
    const struct mk_range *r = &rs->r[rs->next++];
    *len = part_header(buf, cap, rs->boundary, mime, r, size);
    *off = r->first;
    *end = r->last + 1;
    return 1;
}

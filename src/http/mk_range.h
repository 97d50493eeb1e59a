/* Range requests (RFC 9110 14): parsing "bytes=..." and multipart/byteranges framing. */
#ifndef MK_RANGE_H
#define MK_RANGE_H

#include <stddef.h>
#include <stdint.h>

#include "../core/mk_str.h"

#define MK_RANGE_MAX 16 /* more ranges than this are answered with the whole file (200) */
/* A multipart/byteranges boundary: 24 hex digits from the kernel's random source, new for
 * each response.  A file cannot be made to contain the boundary of a response it will be
 * served in (RFC 2046 5.1.1: the boundary must not occur in the parts). */
#define MK_RANGE_BOUNDARY_LEN 24

struct mk_range {
    uint64_t first, last; /* inclusive */
};

struct mk_range_set {
    int n;
    int next;             /* next part to send */
    char boundary[MK_RANGE_BOUNDARY_LEN + 1]; /* set when n > 1 */
    struct mk_range r[MK_RANGE_MAX];
};

/* Parse a Range header against a file of `size` bytes.  Returns 206 with *out set (one or
 * more satisfiable ranges, clamped, sorted as sent), 416 when no range is satisfiable, or
 * 200 when the header is to be ignored (unknown unit, bad syntax, too many or overlapping
 * ranges that would send more than the file). */
int mk_range_parse(mk_str_t h, uint64_t size, struct mk_range_set **out);
/* The same into the caller's rs (set only on 206), without allocating: a single range, the
 * usual case, needs nothing kept past the response head. */
int mk_range_parse_into(mk_str_t h, uint64_t size, struct mk_range_set *rs);
void mk_range_free(struct mk_range_set *rs);

/* Length of the multipart/byteranges body for rs. */
uint64_t mk_range_multipart_length(const struct mk_range_set *rs, const char *mime, uint64_t size);

/* Write the delimiter and headers of the next part into buf and set [*off, *end) to its
 * bytes; after the last part writes the closing delimiter.  Returns 1 while parts remain
 * after this one, 0 once the closing delimiter has been written. */
int mk_range_next_part(struct mk_range_set *rs, const char *mime, uint64_t size, char *buf,
                       size_t cap, size_t *len, uint64_t *off, uint64_t *end);

#endif

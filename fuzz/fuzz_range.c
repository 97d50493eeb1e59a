/* Fuzz target: Range parsing (mk_range_parse) and multipart/byteranges framing
 * (mk_range_multipart_length, mk_range_next_part).
 *
 * Input: "SIZE\nRANGE-VALUE" where SIZE is the file size in decimal; without a first line of
 * digits the whole input is the value and the size comes from a hash of it (biased towards
 * the small sizes and the boundaries where off-by-one errors live).
 *
 * Invariants: the answer is 200, 206 or 416, with a range set exactly for 206; a 206 holds
 * 1..MK_RANGE_MAX ranges, each first <= last < size, not overlapping, adding up to at most
 * the file size (the amplification rule); mk_range_next_part yields each range in order
 * with well-formed part headers, then the closing delimiter; and the sum of what it yields
 * equals mk_range_multipart_length, which becomes the response's Content-Length. */
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fuzz_common.h"
#include "http/mk_range.h"

static const char *const mimes[] = {
    "text/html",
    "application/octet-stream",
    "text/plain; charset=utf-8",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
};

static uint64_t pick_size(uint64_t h)
{
    static const uint64_t edges[] = {0,
                                     1,
                                     2,
                                     5,
                                     10,
                                     99,
                                     100,
                                     101,
                                     4096,
                                     65536,
                                     1u << 31,
                                     (1ull << 32) + 1,
                                     INT64_MAX / 2,
                                     (uint64_t)INT64_MAX};
    switch (h & 3) {
    case 0:
        return (h >> 8) % 16;
    case 1:
        return (h >> 8) % 1000;
    case 2:
        return edges[(h >> 8) % (sizeof(edges) / sizeof(edges[0]))];
    default:
        return (h >> 8) & (uint64_t)INT64_MAX;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t h = fuzz_hash(data, size);
    uint64_t fsize = 0;
    size_t skip = 0;
    const char *mime = mimes[(h >> 40) % (sizeof(mimes) / sizeof(mimes[0]))];
    struct mk_range_set *rs = NULL;

    /* "SIZE\n" prefix: at most 19 digits so it stays a valid off_t */
    size_t d = 0;
    while (d < size && d < 19 && data[d] >= '0' && data[d] <= '9')
        fsize = fsize * 10 + (uint64_t)(data[d++] - '0');
    if (d > 0 && d < size && data[d] == '\n') {
        skip = d + 1;
        if (fsize > (uint64_t)INT64_MAX)
            fsize = (uint64_t)INT64_MAX;
    } else {
        fsize = pick_size(h);
    }

    char *val = fuzz_dup(data + skip, size - skip);
    int rc = mk_range_parse(mk_str(val, size - skip), fsize, &rs);

    FUZZ_CHECK(rc == 200 || rc == 206 || rc == 416, "unexpected answer %d", rc);
    FUZZ_CHECK((rc == 206) == (rs != NULL), "answer %d with range set %p", rc, (void *)rs);
    if (rc == 206) {
        uint64_t total = 0, sum = 0;
        char buf[4096];

        FUZZ_CHECK(rs->n >= 1 && rs->n <= MK_RANGE_MAX, "%d ranges", rs->n);
        for (int i = 0; i < rs->n; i++) {
            const struct mk_range *r = &rs->r[i];
            FUZZ_CHECK(r->first <= r->last && r->last < fsize,
                       "range %d = %" PRIu64 "-%" PRIu64 " outside a file of %" PRIu64, i, r->first,
                       r->last, fsize);
            total += r->last - r->first + 1;
            for (int k = 0; k < i; k++)
                FUZZ_CHECK(r->last < rs->r[k].first || rs->r[k].last < r->first,
                           "ranges %d and %d overlap", k, i);
        }
        FUZZ_CHECK(total <= fsize, "ranges total %" PRIu64 " > file size %" PRIu64, total, fsize);

        uint64_t expect = mk_range_multipart_length(rs, mime, fsize);
        rs->next = 0;
        for (int i = 0;; i++) {
            size_t len = 0;
            uint64_t off = 1, end = 0;
            int more = mk_range_next_part(rs, mime, fsize, buf, sizeof(buf), &len, &off, &end);
            FUZZ_CHECK(len <= sizeof(buf), "part header of %zu bytes", len);
            FUZZ_CHECK(off <= end, "part %d: off %" PRIu64 " > end %" PRIu64, i, off, end);
            sum += len + (end - off);
            if (i < rs->n) {
                char want[512];
                int wl = snprintf(want, sizeof(want),
                                  "\r\n--%s\r\nContent-Type: %s\r\nContent-Range: bytes %" PRIu64
                                  "-%" PRIu64 "/%" PRIu64 "\r\n\r\n",
                                  rs->boundary, mime, rs->r[i].first, rs->r[i].last, fsize);
                FUZZ_CHECK(more == 1, "part %d of %d: next_part returned %d", i, rs->n, more);
                FUZZ_CHECK(off == rs->r[i].first && end == rs->r[i].last + 1,
                           "part %d yields [%" PRIu64 ", %" PRIu64 ")", i, off, end);
                FUZZ_CHECK((size_t)wl == len && memcmp(buf, want, len) == 0,
                           "part %d header differs", i);
            } else {
                char closing[64];
                int cl = snprintf(closing, sizeof(closing), "\r\n--%s--\r\n", rs->boundary);
                FUZZ_CHECK(more == 0, "next_part returned %d after the last part", more);
                FUZZ_CHECK(len == (size_t)cl && memcmp(buf, closing, len) == 0 && off == end,
                           "bad closing delimiter");
                break;
            }
        }
        FUZZ_CHECK(sum == expect, "multipart length %" PRIu64 " but the parts add up to %" PRIu64,
                   expect, sum);
    }
    mk_range_free(rs);
    free(val);
    return 0;
}

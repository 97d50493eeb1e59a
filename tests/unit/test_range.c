/* mk_range_parse and the multipart/byteranges framing. */
#include "mk_test.h"

#include <inttypes.h>

#include "http/mk_range.h"

/* Parse a header read from a guard page. */
static int rparse(const char *h, uint64_t size, struct mk_range_set **rs)
{
    size_t len = strlen(h);
    char *g = guard_copy(h, len);
    int r = mk_range_parse(mk_str(g, len), size, rs);
    guard_free(g, len);
    return r;
}

struct want {
    const char *h;
    uint64_t size;
    int status;
    int n;
    uint64_t r[4][2];
};

static const struct want table[] = {
    {"bytes=0-4", 10, 206, 1, {{0, 4}}},
    {"bytes=-5", 10, 206, 1, {{5, 9}}},
    {"bytes=5-", 10, 206, 1, {{5, 9}}},
    {"bytes=0-0", 10, 206, 1, {{0, 0}}},
    {"bytes=9-9", 10, 206, 1, {{9, 9}}},
    {"bytes=9-", 10, 206, 1, {{9, 9}}},
    {"bytes=-1", 10, 206, 1, {{9, 9}}},
    {"bytes=0-", 10, 206, 1, {{0, 9}}},
    /* past the end: clamped */
    {"bytes=0-100", 10, 206, 1, {{0, 9}}},
    {"bytes=5-18446744073", 10, 206, 1, {{5, 9}}},
    {"bytes=-100", 10, 206, 1, {{0, 9}}},
    {"bytes=-10", 10, 206, 1, {{0, 9}}},
    /* unit and whitespace */
    {"BYTES=0-4", 10, 206, 1, {{0, 4}}},
    {"Bytes=0-4", 10, 206, 1, {{0, 4}}},
    {"  bytes=1-2  ", 10, 206, 1, {{1, 2}}},
    {"bytes= 1-2 ,\t4-5 ", 10, 206, 2, {{1, 2}, {4, 5}}},
    /* several ranges, in the order sent */
    {"bytes=0-1,3-4", 10, 206, 2, {{0, 1}, {3, 4}}},
    {"bytes=6-7,0-1", 10, 206, 2, {{6, 7}, {0, 1}}},
    {"bytes=0-0,2-2,4-4,-1", 10, 206, 4, {{0, 0}, {2, 2}, {4, 4}, {9, 9}}},
    {"bytes=0-4,5-9", 10, 206, 2, {{0, 4}, {5, 9}}},
    {"bytes=0-1,,3-4", 10, 206, 2, {{0, 1}, {3, 4}}},
    /* an unsatisfiable range among satisfiable ones is dropped */
    {"bytes=0-1,10-20", 10, 206, 1, {{0, 1}}},
    {"bytes=20-,-2", 10, 206, 1, {{8, 9}}},
    /* nothing satisfiable: 416 */
    {"bytes=10-", 10, 416, 0, {{0}}},
    {"bytes=10-20", 10, 416, 0, {{0}}},
    {"bytes=11-12", 10, 416, 0, {{0}}},
    {"bytes=-0", 10, 416, 0, {{0}}},
    {"bytes=10-,20-30,-0", 10, 416, 0, {{0}}},
    {"bytes=0-", 0, 416, 0, {{0}}},
    {"bytes=0-0", 0, 416, 0, {{0}}},
    /* RFC 9110 14.1.3: on an empty file a non-zero suffix is satisfiable; no 206 can say so */
    {"bytes=-5", 0, 200, 0, {{0}}},
    {"bytes=0-,-5", 0, 200, 0, {{0}}},
    {"bytes=-0", 0, 416, 0, {{0}}},
    /* positions too large for 64 bits saturate: a start past any file, an end clamped */
    {"bytes=99999999999999999999999-", 10, 416, 0, {{0}}},
    {"bytes=0-18446744073709551615", 10, 206, 1, {{0, 9}}},
    {"bytes=2-99999999999999999999999", 10, 206, 1, {{2, 9}}},
    {"bytes=-99999999999999999999999", 10, 206, 1, {{0, 9}}},
    {"bytes=99999999999999999999999-3", 10, 200, 0, {{0}}},
    /* invalid: the header is ignored */
    {"bytes=5-1", 10, 200, 0, {{0}}},
    {"bytes=0-1,5-1", 10, 200, 0, {{0}}},
    {"items=0-4", 10, 200, 0, {{0}}},
    {"bytes 0-4", 10, 200, 0, {{0}}},
    {"bytes =0-4", 10, 200, 0, {{0}}},
    {"bytes", 10, 200, 0, {{0}}},
    {"", 10, 200, 0, {{0}}},
    {"garbage", 10, 200, 0, {{0}}},
    {"bytes=", 10, 200, 0, {{0}}},
    {"bytes=,", 10, 200, 0, {{0}}},
    {"bytes=-", 10, 200, 0, {{0}}},
    {"bytes=a-b", 10, 200, 0, {{0}}},
    {"bytes=1", 10, 200, 0, {{0}}},
    {"bytes=--1", 10, 200, 0, {{0}}},
    {"bytes=1-2-3", 10, 200, 0, {{0}}},
    {"bytes=+1-2", 10, 200, 0, {{0}}},
    {"bytes=0x1-2", 10, 200, 0, {{0}}},
    {"bytes=1 -2", 10, 200, 0, {{0}}},
    {"bytes=0-1;3-4", 10, 200, 0, {{0}}},
    {"bytes=0-1,garbage", 10, 200, 0, {{0}}},
    /* overlapping: never send more than the file */
    {"bytes=0-4,3-6", 10, 200, 0, {{0}}},
    {"bytes=0-0,0-0", 10, 200, 0, {{0}}},
    {"bytes=0-,-1", 10, 200, 0, {{0}}},
    {"bytes=-5,5-", 10, 200, 0, {{0}}},
    {"bytes=2-8,0-9", 10, 200, 0, {{0}}},
};

MK_TEST(parse_table)
{
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        const struct want *w = &table[i];
        struct mk_range_set *rs = (struct mk_range_set *)1;
        int st = rparse(w->h, w->size, &rs);
        mk_test_context("\"%s\" size %" PRIu64, w->h, w->size);
        CHECKF(st == w->status, "status %d, expected %d", st, w->status);
        if (st != 206 || w->status != 206) {
            CHECKF(rs == NULL, "*out set with status %d", st);
            if (st == 206)
                mk_range_free(rs);
            continue;
        }
        if (!CHECK(rs != NULL))
            continue;
        CHECK_EQ_INT(rs->n, w->n);
        CHECK_EQ_INT(rs->next, 0);
        for (int k = 0; k < w->n && k < rs->n; k++) {
            CHECKF(rs->r[k].first == w->r[k][0] && rs->r[k].last == w->r[k][1],
                   "range %d = %" PRIu64 "-%" PRIu64 ", expected %" PRIu64 "-%" PRIu64, k,
                   rs->r[k].first, rs->r[k].last, w->r[k][0], w->r[k][1]);
            CHECK(rs->r[k].first <= rs->r[k].last && rs->r[k].last < w->size);
        }
        mk_range_free(rs);
    }
    mk_test_context(NULL);
}

MK_TEST(range_count_limit)
{
    char h[1024];
    struct mk_range_set *rs;
    for (int count = MK_RANGE_MAX - 1; count <= MK_RANGE_MAX + 2; count++) {
        size_t o = (size_t)snprintf(h, sizeof(h), "bytes=");
        for (int i = 0; i < count; i++)
            o += (size_t)snprintf(h + o, sizeof(h) - o, "%s%d-%d", i ? "," : "", 2 * i, 2 * i);
        int st = rparse(h, 1000, &rs);
        if (count <= MK_RANGE_MAX) {
            if (CHECKF(st == 206, "%d ranges: %d", count, st)) {
                CHECK_EQ_INT(rs->n, count);
                mk_range_free(rs);
            }
        } else {
            CHECKF(st == 200 && rs == NULL, "%d ranges: %d, expected 200", count, st);
        }
    }
    /* 1000 tiny ranges, 200 overlapping ones: whole file */
    size_t o = (size_t)snprintf(h, sizeof(h), "bytes=");
    for (int i = 0; i < 150 && o < sizeof(h) - 16; i++)
        o += (size_t)snprintf(h + o, sizeof(h) - o, "%s%d-%d", i ? "," : "", i, i);
    CHECK_EQ_INT(rparse(h, 1000, &rs), 200);
    o = (size_t)snprintf(h, sizeof(h), "bytes=");
    for (int i = 0; i < 200 && o < sizeof(h) - 8; i++)
        o += (size_t)snprintf(h + o, sizeof(h) - o, "%s0-", i ? "," : "");
    CHECK_EQ_INT(rparse(h, 1000, &rs), 200);
    /* unsatisfiable ranges do not count toward the limit */
    o = (size_t)snprintf(h, sizeof(h), "bytes=0-0,2-2");
    for (int i = 0; i < MK_RANGE_MAX + 4; i++)
        o += (size_t)snprintf(h + o, sizeof(h) - o, ",%d-", 5000 + i);
    int st = rparse(h, 1000, &rs);
    if (CHECKF(st == 206, "2 satisfiable + %d unsatisfiable: %d", MK_RANGE_MAX + 4, st)) {
        CHECK_EQ_INT(rs->n, 2);
        mk_range_free(rs);
    }
}

/* The multipart body announced by mk_range_multipart_length is exactly what the parts
 * produce: every delimiter, part header, the file bytes and the closing delimiter. */
static void check_multipart(const char *h, uint64_t size, const char *mime)
{
    struct mk_range_set *rs;
    mk_test_context("multipart \"%s\" size %" PRIu64 " %s", h, size, mime);
    int st = rparse(h, size, &rs);
    if (!CHECKF(st == 206, "status %d", st))
        return;
    uint64_t announced = mk_range_multipart_length(rs, mime, size);
    uint64_t total = 0, file_bytes = 0;
    int parts = 0, rc;
    char buf[1024], first_hdr[1024] = "";
    do {
        size_t len = 12345;
        uint64_t off = 1, end = 0;
        rc = mk_range_next_part(rs, mime, size, buf, sizeof(buf), &len, &off, &end);
        if (!CHECKF(len <= sizeof(buf) && off <= end && end <= size,
                    "part %d: len %zu off %" PRIu64 " end %" PRIu64, parts, len, off, end))
            break;
        if (rc == 1) {
            CHECKF(off == rs->r[parts].first && end == rs->r[parts].last + 1,
                   "part %d covers %" PRIu64 "-%" PRIu64, parts, off, end);
            if (parts == 0)
                snprintf(first_hdr, sizeof(first_hdr), "%.*s", (int)len, buf);
            parts++;
        } else {
            char closing[64];
            snprintf(closing, sizeof(closing), "\r\n--%s--\r\n", rs->boundary);
            CHECK_EQ_STR(buf, len, closing);
            CHECK(off == end);
        }
        total += len + (end - off);
        file_bytes += end - off;
    } while (rc == 1 && parts <= MK_RANGE_MAX);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(parts, rs->n);
    CHECKF(total == announced, "parts add up to %" PRIu64 " bytes, announced %" PRIu64, total,
           announced);
    CHECK(file_bytes <= size);

    char want[1024];
    snprintf(want, sizeof(want),
             "\r\n--%s\r\nContent-Type: %s\r\nContent-Range: bytes "
             "%" PRIu64 "-%" PRIu64 "/%" PRIu64 "\r\n\r\n",
             rs->boundary, mime, rs->r[0].first, rs->r[0].last, size);
    CHECK_EQ_STR(first_hdr, strlen(first_hdr), want);
    mk_range_free(rs);
    mk_test_context(NULL);
}

MK_TEST(multipart_length)
{
    check_multipart("bytes=0-0,2-2,4-4", 10, "text/plain");
    check_multipart("bytes=0-1,-2", 10, "text/html; charset=utf-8");
    check_multipart("bytes=0-4", 10, "application/octet-stream");
    check_multipart("bytes=0-99,200-299,1000-", 123456789, "image/png");
    check_multipart("bytes=1-1,3-3,5-5,7-7,9-9,11-11,13-13,15-15,17-17,19-19,21-21,23-23,25-25,"
                    "27-27,29-29,31-31",
                    1000000000000ULL, "video/mp4");
    /* A part header longer than 512 bytes: the length was once measured in a 512-byte
     * scratch buffer, and a long DefaultMimeType announced less than was sent. */
    char mime[601];
    memcpy(mime, "application/x-t; p=", 19);
    memset(mime + 19, 'a', sizeof(mime) - 20);
    mime[sizeof(mime) - 1] = '\0';
    check_multipart("bytes=0-1,5-6", 10, mime);
}

/* Each multipart response draws its own boundary: 24 hex digits, never the same twice in
 * a row (a fixed one could be planted in a file to forge parts). */
MK_TEST(multipart_boundary_fresh)
{
    char seen[8][MK_RANGE_BOUNDARY_LEN + 1];
    for (int i = 0; i < 8; i++) {
        struct mk_range_set *rs;
        if (!CHECK_EQ_INT(rparse("bytes=0-1,4-5", 10, &rs), 206))
            return;
        CHECK_EQ_INT(strlen(rs->boundary), MK_RANGE_BOUNDARY_LEN);
        CHECKF(strspn(rs->boundary, "0123456789abcdef") == MK_RANGE_BOUNDARY_LEN,
               "boundary \"%s\"", rs->boundary);
        memcpy(seen[i], rs->boundary, sizeof(seen[i]));
        for (int k = 0; k < i; k++)
            CHECKF(strcmp(seen[k], seen[i]) != 0, "boundary %s drawn twice", seen[i]);
        mk_range_free(rs);
    }
}

MK_TEST_MAIN("test_range")

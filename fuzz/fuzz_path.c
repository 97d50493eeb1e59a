/* Fuzz target: request path normalisation (mk_path_normalize) and HTML escaping
 * (mk_html_escape).
 *
 * Input: a request path as sent (percent-encoded).  It is normalised as is, and with a '/'
 * in front when it lacks one (so URL-shaped inputs exercise the decoder too).
 *
 * Invariants for mk_path_normalize, on success: the result starts with '/', is
 * NUL-terminated at the returned length, is no longer than the input, contains no control
 * byte, no "//", no "/./" or "/../" and does not end in "/." or "/.."; normalising it again
 * (when it holds no '%') gives it back; and it equals the result of a straightforward
 * reference written here (decode once, then a segment stack), including the choice between
 * -400 and -403.
 *
 * Invariants for mk_html_escape: never writes past cap, returns at most cap, the output has
 * no raw < > " ' and unescapes to a prefix of the input (to all of it when cap is large
 * enough), i.e. truncation never cuts an entity. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fuzz_common.h"
#include "http/mk_path.h"

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reference: decode, split on '/', keep a stack of segments. */
static int ref_normalize(const uint8_t *src, size_t len, char *out)
{
    char *dec = malloc(len + 1);
    size_t n = 0;
    size_t *seg_start, *seg_len, nseg = 0;
    bool trailing = false;
    int result;

    if (!dec)
        abort();
    if (len == 0 || src[0] != '/') {
        free(dec);
        return -400;
    }
    for (size_t i = 0; i < len; i++) {
        int c = src[i];
        if (c == '%') {
            if (len - i < 3 || hexval(src[i + 1]) < 0 || hexval(src[i + 2]) < 0) {
                free(dec);
                return -400;
            }
            c = hexval(src[i + 1]) * 16 + hexval(src[i + 2]);
            i += 2;
        }
        if (c < 0x20 || c == 0x7f) {
            free(dec);
            return -400;
        }
        dec[n++] = (char)c;
    }

    seg_start = malloc((n + 1) * sizeof(size_t));
    seg_len = malloc((n + 1) * sizeof(size_t));
    if (!seg_start || !seg_len)
        abort();
    result = 0;
    /* dec[0] == '/'; each segment runs from after a '/' to the next one or the end */
    for (size_t i = 1; i <= n;) {
        size_t e = i;
        while (e < n && dec[e] != '/')
            e++;
        size_t l = e - i;
        bool last = e >= n;
        trailing = false;
        if (l == 1 && dec[i] == '.') {
            trailing = last;
        } else if (l == 2 && dec[i] == '.' && dec[i + 1] == '.') {
            if (nseg == 0) {
                result = -403;
                break;
            }
            nseg--;
            trailing = last;
        } else if (l == 0) {
            trailing = last;
        } else {
            seg_start[nseg] = i;
            seg_len[nseg] = l;
            nseg++;
        }
        i = e + 1;
    }
    if (result == 0) {
        size_t o = 0;
        for (size_t k = 0; k < nseg; k++) {
            out[o++] = '/';
            memcpy(out + o, dec + seg_start[k], seg_len[k]);
            o += seg_len[k];
        }
        if (trailing || o == 0)
            out[o++] = '/';
        out[o] = '\0';
        result = (int)o;
    }
    free(seg_start);
    free(seg_len);
    free(dec);
    return result;
}

static bool contains(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(s + i, needle, k) == 0)
            return true;
    return false;
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

static void check_normalize(const uint8_t *src, size_t len)
{
    char *in = fuzz_dup(src, len);
    char *dst = malloc(len + 1);
    char *ref = malloc(len + 2);
    int n, r;

    if (!dst || !ref)
        abort();
    n = mk_path_normalize(in, len, dst);
    r = ref_normalize(src, len, ref);
    if (n != r || (n > 0 && memcmp(dst, ref, (size_t)n + 1) != 0)) {
        fuzz_dump("path", src, len);
        if (n > 0)
            fuzz_dump("mk_path_normalize", dst, (size_t)n);
        if (r > 0)
            fuzz_dump("reference", ref, (size_t)r);
        FUZZ_CHECK(0, "mk_path_normalize returned %d, the reference %d", n, r);
    }
    if (n >= 0) {
        size_t m = (size_t)n;
        FUZZ_CHECK(m >= 1 && m <= len && dst[0] == '/' && dst[m] == '\0', "bad shape: n=%d len=%zu",
                   n, len);
        FUZZ_CHECK(strlen(dst) == m, "NUL inside the result");
        for (size_t i = 0; i < m; i++)
            FUZZ_CHECK((unsigned char)dst[i] >= 0x20 && dst[i] != 0x7f, "control byte in result");
        FUZZ_CHECK(!contains(dst, m, "//"), "\"//\" in result");
        FUZZ_CHECK(!contains(dst, m, "/./") && !ends_with(dst, m, "/."), "dot segment left");
        FUZZ_CHECK(!contains(dst, m, "/../") && !ends_with(dst, m, "/.."), "dot-dot segment left");
        if (!memchr(dst, '%', m)) {
            char *again = malloc(m + 1);
            char *copy = fuzz_dup(dst, m);
            if (!again)
                abort();
            int n2 = mk_path_normalize(copy, m, again);
            FUZZ_CHECK(n2 == n && memcmp(again, dst, m) == 0, "not idempotent (%d vs %d)", n2, n);
            free(again);
            free(copy);
        }
    } else {
        FUZZ_CHECK(n == -400 || n == -403, "unexpected status %d", n);
    }
    free(in);
    free(dst);
    free(ref);
}

static void check_escape(const uint8_t *src, size_t len, size_t cap)
{
    static const struct {
        const char *ent;
        char ch;
    } ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&#39;", '\''}};
    char *in = fuzz_dup(src, len);
    char *dst = malloc(cap ? cap : 1);
    size_t n, i = 0, k = 0;

    if (!dst)
        abort();
    n = mk_html_escape(in, len, dst, cap);
    FUZZ_CHECK(n <= cap, "escape returned %zu > cap %zu", n, cap);
    /* unescape dst and compare with the input as we go */
    while (i < n) {
        char c = dst[i];
        FUZZ_CHECK(c != '<' && c != '>' && c != '"' && c != '\'', "raw '%c' in escaped output", c);
        if (c == '&') {
            size_t e;
            for (e = 0; e < sizeof(ents) / sizeof(ents[0]); e++) {
                size_t el = strlen(ents[e].ent);
                if (n - i >= el && memcmp(dst + i, ents[e].ent, el) == 0)
                    break;
            }
            FUZZ_CHECK(e < sizeof(ents) / sizeof(ents[0]), "truncated or unknown entity at %zu", i);
            FUZZ_CHECK(k < len && in[k] == ents[e].ch, "entity does not match input byte %zu", k);
            i += strlen(ents[e].ent);
        } else {
            FUZZ_CHECK(k < len && in[k] == c, "output byte %zu does not match input byte %zu", i,
                       k);
            i++;
        }
        k++;
    }
    if (cap >= 6 * len)
        FUZZ_CHECK(k == len, "escape stopped at %zu of %zu with room to spare", k, len);
    else if (k < len) {
        /* stopped early: the next byte really did not fit */
        char c = in[k];
        size_t need = c == '&' || c == '\'' ? 5 : c == '<' || c == '>' ? 4 : c == '"' ? 6 : 1;
        FUZZ_CHECK(n + need > cap, "escape stopped at %zu with %zu bytes free", k, cap - n);
    }
    free(in);
    free(dst);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t h = fuzz_hash(data, size);

    check_normalize(data, size);
    if (size == 0 || data[0] != '/') {
        uint8_t *slashed = malloc(size + 1);
        if (!slashed)
            abort();
        slashed[0] = '/';
        memcpy(slashed + 1, data, size);
        check_normalize(slashed, size + 1);
        free(slashed);
    }

    size_t caps[4] = {6 * size, size, (size_t)(h % (6 * size + 1)), (size_t)((h >> 32) % 8)};
    for (int i = 0; i < 4; i++)
        check_escape(data, size, caps[i]);
    return 0;
}

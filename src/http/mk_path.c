#include "mk_path.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Bytes that end the fast check of a path: '%' (to decode), '/' (a dot or empty segment
 * may follow), and the controls and DEL that a decoded path may not hold. */
static const uint8_t path_stop[256] = {
    [0 ... 0x1f] = 1, ['%'] = 1, ['/'] = 1, [0x7f] = 1,
};

int mk_path_normalize(const char *src, size_t len, char *dst)
{
    size_t o = 0;

    if (len == 0 || src[0] != '/')
        return -400;

    /* 0. the usual path has nothing to decode and no dot or empty segment: it is already
     * its own normal form.  Only the bytes marked in path_stop need a second look. */
    for (size_t i = 0;;) {
        while (i < len && !path_stop[(unsigned char)src[i]])
            i++;
        if (i == len) {
            memcpy(dst, src, len);
            dst[len] = '\0';
            return (int)len;
        }
        if (src[i] != '/' || (i + 1 < len && (src[i + 1] == '.' || src[i + 1] == '/')))
            break;
        i++;
    }

    /* 1. decode once.  "%2e%2e" becomes "..", "%2f" becomes '/', "%252e" becomes "%2e"
     * (which is a literal file name, never decoded again). */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)src[i];
        if (c == '%') {
            int hi, lo;
            if (i + 2 >= len)
                return -400;
            hi = hexval((unsigned char)src[i + 1]);
            lo = hexval((unsigned char)src[i + 2]);
            if (hi < 0 || lo < 0)
                return -400;
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
        }
        if (c < 0x20 || c == 0x7f)
            return -400;
        dst[o++] = (char)c;
    }
    dst[o] = '\0';

    /* 2. remove dot segments in place: a stack of segments written back into dst. */
    size_t in = 0, out = 0;
    while (in < o) {
        /* dst[in] == '/' here: look at the segment after it */
        size_t s = in + 1, e = s;
        while (e < o && dst[e] != '/')
            e++;
        size_t seg = e - s;
        bool last = e >= o;
        if (seg == 1 && dst[s] == '.') {
            /* "." : drop it, but keep a trailing '/' when it was the last segment */
            if (last)
                dst[out++] = '/';
        } else if (seg == 2 && dst[s] == '.' && dst[s + 1] == '.') {
            if (out == 0)
                return -403;
            while (out > 0 && dst[out - 1] != '/')
                out--;
            /* out now points after the '/' that opened the removed segment */
            if (out > 0)
                out--;
            if (last)
                dst[out++] = '/';
        } else if (seg == 0 && !last) {
            /* "//": collapse empty segments */
        } else {
            dst[out++] = '/';
            memmove(dst + out, dst + s, seg);
            out += seg;
        }
        in = e;
    }
    if (out == 0)
        dst[out++] = '/';
    dst[out] = '\0';
    return (int)out;
}

size_t mk_html_escape(const char *src, size_t len, char *dst, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        const char *rep = NULL;
        size_t n = 1;
        switch (src[i]) {
        case '&': rep = "&amp;"; n = 5; break;
        case '<': rep = "&lt;"; n = 4; break;
        case '>': rep = "&gt;"; n = 4; break;
        case '"': rep = "&quot;"; n = 6; break;
        case '\'': rep = "&#39;"; n = 5; break;
        default: break;
        }
        if (o + n > cap)
            break;
        if (rep)
            memcpy(dst + o, rep, n);
        else
            dst[o] = src[i];
        o += n;
    }
    return o;
}

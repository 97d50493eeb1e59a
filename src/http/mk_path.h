/* Request paths: percent-decoding (exactly once) and dot-segment removal. */
#ifndef MK_PATH_H
#define MK_PATH_H

#include <stddef.h>

/* Decode the percent-encoded path src[0, len) into dst (at least len + 1 bytes) and remove
 * dot segments (RFC 3986 5.2.4).  The result starts with '/', keeps a trailing '/', and
 * is NUL-terminated (it becomes a file name).
 *
 * Returns the decoded length, or a negative HTTP status:
 *   -400  malformed escape ("%", "%zz"), an encoded or raw NUL or control byte
 *   -403  ".." would climb above the root */
int mk_path_normalize(const char *src, size_t len, char *dst);

/* Escape text for HTML (&, <, >, ", ') into dst of size cap; returns the length written,
 * truncating cleanly (never in the middle of an entity). */
size_t mk_html_escape(const char *src, size_t len, char *dst, size_t cap);

#endif

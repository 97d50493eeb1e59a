/* File extension -> Content-Type, loaded from monkey.mime ([MIMETYPES] "ext type"). */
#ifndef MK_MIME_H
#define MK_MIME_H

#include <stdbool.h>
#include <stddef.h>

struct mk_mime_table;

struct mk_mime_table *mk_mime_load(const char *path, char *err, size_t errlen);
struct mk_mime_table *mk_mime_new(void);
int mk_mime_add(struct mk_mime_table *t, const char *ext, const char *type);
/* The longest media type accepted: with the other fields it must fit in every response head
 * and multipart/byteranges part header the server builds (the smallest head buffer is
 * about 3 KiB). */
#define MK_MIME_TYPE_MAX 255

/* Whether type is a media type as RFC 9110 8.3.1 writes it ("text/html; charset=utf-8"),
 * at most MK_MIME_TYPE_MAX bytes: what is sent as Content-Type must be one (no CR, no stray
 * space). */
bool mk_mime_type_valid(const char *type);
void mk_mime_free(struct mk_mime_table *t);

/* Type for a file name (by its last extension, case-insensitive), or dflt. */
const char *mk_mime_lookup(const struct mk_mime_table *t, const char *name, size_t len,
                           const char *dflt);

#endif

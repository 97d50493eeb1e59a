/* Static files: safe opening beneath a document root and a per-worker open-file cache.
 *
 * Opening: the decoded, normalised path is opened relative to the vhost's docroot fd with
 * openat2(RESOLVE_BENEATH) (plus RESOLVE_NO_SYMLINKS unless SymLink is on), so neither
 * ".." nor a symbolic link can leave the document root.  Kernels without openat2 get a
 * walk with O_NOFOLLOW on every component.
 *
 * The root is the worker's own: at most once a second (when a file is opened) the
 * DocumentRoot path is looked at again, so a link a deploy swaps is followed within a
 * second; a path not found (or forbidden) under the root looks at it at once (one stat),
 * so a file only the new release has is served at once.  Files already cached are the old
 * release's until their next check, within the same second.
 *
 * Cache: per worker, no locks.  An entry keeps what a response needs (fd or, for small
 * files, the bytes; size, mtime, ETag, Last-Modified, Content-Type, the header block) and
 * is revalidated once a second (when used) by opening the path again and comparing
 * inode/size/mtime/ctime, so an edited file is served fresh within a second (ctime: a file
 * rewritten in place with its old mtime put back, as `cp -p` or `rsync -t` do, is new).
 * A file modified in the last MK_FILE_RECENT seconds is checked on every request: no two
 * versions of one Last-Modified second are ever served a second or more after it, so a
 * client may take a Last-Modified as a strong validator (If-Range) as RFC 9110 8.8.2.2 lets
 * it when Date is a second or more later.  Entries holding an fd are capped (max_fds, an
 * eighth of the worker's share of RLIMIT_NOFILE), and an open that fails with EMFILE
 * gives the cached fds back and is tried again.  A directory named without its trailing
 * slash (a 301) is an entry too, with no fd and no content, checked by the same rules.
 * The bytes of a small file changed in the last MK_FILE_RECENT seconds are read twice and
 * kept only when both reads and the times agree (else it is sent from its fd), and read
 * again at its first check once it has settled: a write in place sets the times before
 * its bytes land, so one read could keep a mix of two versions under the new times. */
#ifndef MK_FILE_H
#define MK_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "mk_vhost.h"

struct mk_mime_table;

struct mk_file {
    int fd;              /* -1 when the whole file is in data */
    uint32_t refs;       /* responses using it + 1 while cached */
    int rc;              /* what a lookup of its path answers: 0, or -301 for a directory
                            named without its trailing slash (an entry with no fd, no data,
                            no header block: dev..ctime are the directory's) */
    dev_t dev;
    ino_t ino;
    uint64_t size;
    time_t mtime;
    long mtime_nsec;
    time_t ctime;
    long ctime_nsec;
    time_t lm;           /* the time Last-Modified says: mtime, or the clock when mtime is
                            ahead of it (never later than Date, RFC 9110 8.8.2.1) */
    const char *mime;
    char *data;          /* file bytes for small files, else NULL; preceded by
                            MK_FILE_HEAD_ROOM bytes the HTTP layer writes a response head
                            into, so head and body can leave in one send() */
    time_t head_date;    /* the second whose Date the head in that room carries (HTTP) */
    uint32_t head_len;   /* its length, 0 when none was written */
    uint32_t head_pins;  /* io_uring sends in flight from that room: not rewritten meanwhile */
    char etag[56];       /* "size-mtime[-ctime]", hexadecimal, times in ns (mk_file_etag) */
    uint8_t etag_len;
    char last_modified[30];
    char *hdr;           /* "Last-Modified..Accept-Ranges: bytes\r\n" for a 200 */
    size_t hdr_len;

    /* cache bookkeeping */
    uint32_t checked_sec;
    uint32_t hash;
    const struct mk_vhost *vh;
    char *key;
    size_t key_len;
    bool cached;
    bool unsettled;      /* read while its ctime was under MK_FILE_RECENT s old: a write in
                            place may have been landing, so read again once it settled */
    struct mk_file *hnext;
    struct mk_file *lru_prev, *lru_next;
};

#define MK_FILE_HEAD_ROOM 512
#define MK_FILE_RECENT 2 /* seconds: see the comment at the top */

struct mk_file_cache_config {
    const struct mk_mime_table *mime;
    const char *default_mime;
    char *const *indexfiles;
    int nindex;
    bool symlink;
    uint32_t max_entries;
    uint32_t max_fds;    /* entries holding an open fd (0: max_entries); past it, files are
                            served uncached: the cache must not take the descriptors that
                            connections need */
    size_t small_max;    /* files up to this size are kept in memory */
    size_t mem_max;      /* bytes of file data per worker */
};

struct mk_file_cache;

struct mk_file_cache *mk_file_cache_new(const struct mk_file_cache_config *cfg);
void mk_file_cache_free(struct mk_file_cache *fc);

/* Find or open the file for a normalised path (NUL-terminated, starts with '/').  On
 * success *out holds a reference to release with mk_file_release().  Errors are negative
 * HTTP statuses: -404, -403, -301 (a directory without its trailing slash), -500, -503 (out
 * of file descriptors with nothing cached to serve; a cached entry is then served unchecked).
 * A 301 is cached as a file is (and checked again by the same rules): with -301, *out too
 * holds a reference to release, to an entry that has no content. */
int mk_file_get(struct mk_file_cache *fc, const struct mk_vhost *vh, const char *path,
                size_t len, struct mk_file **out);
void mk_file_release(struct mk_file_cache *fc, struct mk_file *f);

/* Whether f may be answered without a lookup: checked this second, and no lookup since
 * found its path changed (a lookup then would be a cache hit, with this same entry). */
bool mk_file_current(const struct mk_file *f);

/* A response found f changed under it (a sendfile() body ended early): the next lookup
 * checks the file again instead of trusting this second's check. */
void mk_file_suspect(struct mk_file *f);

/* The ETag of a file with these attributes, quoted, into dst (cap >= 56); its length. */
struct stat;
size_t mk_file_etag(const struct stat *st, char *dst, size_t cap);

/* Open path beneath dirfd with the server's rules (exposed for tests). */
int mk_file_open_beneath(int dirfd, const char *path, bool symlink);

/* Drop entries not used for max_idle seconds, so a deleted file's space is freed and the
 * cache does not pin files nobody asks for (called once a second). */
void mk_file_cache_expire(struct mk_file_cache *fc, uint32_t max_idle);

/* Drop every entry not in use (tests, reload). */
void mk_file_cache_flush(struct mk_file_cache *fc);

#endif

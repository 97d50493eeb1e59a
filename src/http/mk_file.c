#include "mk_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../core/mk_clock.h"
#include "../core/mk_core.h"
#include "../core/mk_log.h"
#include "mk_mime.h"

#define MK_FILE_HASH_SIZE 1024 /* power of two */

struct mk_file_cache {
    struct mk_file_cache_config cfg;
    struct mk_file *hash[MK_FILE_HASH_SIZE];
    struct mk_file *lru_head, *lru_tail; /* head: most recently used */
    uint32_t nentries;
    uint32_t nfds; /* cached entries holding an fd */
    size_t mem;
    struct mk_file_root *roots; /* by vhost id */
    int nroots;
};

/* A worker's view of a site's document root: the directory DocumentRoot names now.  A
 * deploy that swaps a link ("current" -> a new release) is followed within a second, as
 * edited files are; fd -1 means the root opened at start-up (vh->docroot_fd), kept when
 * DocumentRoot cannot be looked at any more (removed, or not searchable by User). */
struct mk_file_root {
    int fd;
    bool known;
    dev_t dev;
    ino_t ino;
    uint32_t checked_sec;
    bool linked; /* DocumentRoot goes through a symbolic link (or may: not known) */
};

/* resolve(): out of descriptors (EMFILE, ENFILE); never leaves this file */
#define MK_FILE_NO_FD (-1000)

/* openat2 calls for one open while the kernel answers EAGAIN (see open_beneath) */
#define MK_OPENAT2_TRIES 64

static int openat2_state; /* 0: try openat2, -1: the kernel has none (ENOSYS) */

/* "No descriptor for a file" (EMFILE, ENFILE): one line per 10 s for all the workers. */
static struct mk_log_limit nofd_limit;

static int open_flags(void)
{
    /* O_NONBLOCK: opening a FIFO must never block a worker. */
    return O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
}

/* Fallback for kernels without openat2: walk the path one component at a time with
 * O_NOFOLLOW, so no link is followed at all (SymLink on is then treated as off).  The
 * directories on the way are opened O_PATH: searching them needs no read permission. */
static int open_walk(int dirfd, const char *rel, int flags)
{
    char comp[NAME_MAX + 1];
    int cur = dirfd;
    const char *p = rel;

    for (;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        int fd;

        if (n > NAME_MAX) {
            if (cur != dirfd)
                close(cur);
            errno = ENAMETOOLONG;
            return -1;
        }
        memcpy(comp, p, n);
        comp[n] = '\0';
        if (n == 0)
            strcpy(comp, ".");
        fd = openat(cur, comp,
                    slash && slash[1] ? O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
                                      : flags | O_NOFOLLOW | (slash ? O_DIRECTORY : 0));
        int e = errno;
        if (cur != dirfd)
            close(cur);
        if (fd < 0) {
            errno = e;
            return -1;
        }
        if (!slash || slash[1] == '\0')
            return fd;
        cur = fd;
        p = slash + 1;
    }
}

static int open_beneath(int dirfd, const char *path, bool symlink, int flags)
{
    const char *rel = path;
    while (*rel == '/')
        rel++;
    if (*rel == '\0')
        rel = ".";

    /* Relaxed atomics: every worker may learn at once that the kernel lacks openat2. */
    if (__atomic_load_n(&openat2_state, __ATOMIC_RELAXED) >= 0) {
        struct open_how how = {
            .flags = (uint64_t)flags,
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS |
                       (symlink ? 0 : RESOLVE_NO_SYMLINKS),
        };
        /* EAGAIN: a ".." on the way (a link's target, with SymLink on) met a rename or a
         * mount anywhere in the system, so the kernel could not vouch that it stayed
         * beneath the root (openat2(2): "the caller may choose to retry").  Nothing is
         * wrong with the file: try again rather than answer 500. */
        int fd, tries = 0;
        do
            fd = (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
        while (fd < 0 && errno == EAGAIN && ++tries < MK_OPENAT2_TRIES);
        if (fd >= 0 || errno != ENOSYS)
            return fd;
        __atomic_store_n(&openat2_state, -1, __ATOMIC_RELAXED);
    }
    return open_walk(dirfd, rel, flags);
}

int mk_file_open_beneath(int dirfd, const char *path, bool symlink)
{
    return open_beneath(dirfd, path, symlink, open_flags());
}

static int errno_status(int e)
{
    switch (e) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG:
        return -404;
    case EACCES:
    case EPERM:
    case ELOOP:
    case EXDEV:
    case ENXIO:
        return -403;
    case EMFILE:
    case ENFILE:
        return MK_FILE_NO_FD;
    case EAGAIN: /* still racing renames after MK_OPENAT2_TRIES: busy, not broken */
        return -503;
    default:
        return -500;
    }
}

/* Whether path goes through a symbolic link (or "./", "//", a relative path: anything
 * realpath() would rewrite; or cannot be resolved): a deploy swaps such a root by renaming
 * a link over a link, and a miss then looks at the path at once.  A root without a link
 * changes only by a directory being replaced (rename cannot overwrite a non-empty one) or
 * exchanged (RENAME_EXCHANGE): rare, followed by the once-a-second look, which also works
 * this out again whenever the root moved. */
static bool path_linked(const char *path)
{
    char real[PATH_MAX];
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    if (!realpath(path, real))
        return true;
    return strlen(real) != n || memcmp(real, path, n) != 0;
}

/* The worker's root for vh, the DocumentRoot path looked at again at most once a second
 * (or now, with force): returns its fd; *moved says whether it changed in this call. */
static int root_fd(struct mk_file_cache *fc, const struct mk_vhost *vh, bool force, bool *moved)
{
    *moved = false;
    if (vh->id >= fc->nroots) {
        int n = vh->id + 1;
        fc->roots = mk_xrealloc(fc->roots, (size_t)n * sizeof(*fc->roots));
        memset(fc->roots + fc->nroots, 0, (size_t)(n - fc->nroots) * sizeof(*fc->roots));
        for (int i = fc->nroots; i < n; i++)
            fc->roots[i].fd = -1;
        fc->nroots = n;
    }
    struct mk_file_root *r = &fc->roots[vh->id];
    int cur = r->fd >= 0 ? r->fd : vh->docroot_fd;
    if (r->checked_sec == mk_clock.mono_sec && r->known && !force)
        return cur;
    r->checked_sec = mk_clock.mono_sec;
    struct stat st;
    if (!r->known) {
        if (fstat(cur, &st) < 0)
            return cur;
        r->dev = st.st_dev;
        r->ino = st.st_ino;
        r->known = true;
        r->linked = !vh->docroot || path_linked(vh->docroot);
    }
    if (!vh->docroot || stat(vh->docroot, &st) < 0 || !S_ISDIR(st.st_mode) ||
        (st.st_dev == r->dev && st.st_ino == r->ino))
        return cur;
    int fd = open(vh->docroot, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0) {
        if (fd >= 0)
            close(fd);
        return cur;
    }
    if (r->fd >= 0)
        close(r->fd);
    r->fd = fd;
    r->dev = st.st_dev;
    r->ino = st.st_ino;
    r->linked = path_linked(vh->docroot);
    *moved = true;
    return fd;
}

/* Resolve a request path to an open regular file (following index files for directories). */
static int resolve_in(const struct mk_file_cache_config *cfg, int rootfd, const char *path,
                      size_t len, int *fd_out, struct stat *st, char *name, size_t name_cap);

/* Not found (or forbidden) under a root last looked at earlier this second: the DocumentRoot
 * link may just have moved (and the old release be gone already), so look now and, when it
 * did move, try once more under the new root.  A root with no link on its path cannot have
 * been swapped that way: a miss costs no stat() there. */
static int resolve(struct mk_file_cache *fc, const struct mk_vhost *vh, const char *path,
                   size_t len, int *fd_out, struct stat *st, char *name, size_t name_cap)
{
    bool moved;
    int rc = resolve_in(&fc->cfg, root_fd(fc, vh, false, &moved), path, len, fd_out, st, name,
                        name_cap);
    const struct mk_file_root *r = &fc->roots[vh->id];
    if ((rc == -404 || rc == -403) && !moved && (r->linked || !r->known)) {
        int rootfd = root_fd(fc, vh, true, &moved);
        if (moved)
            rc = resolve_in(&fc->cfg, rootfd, path, len, fd_out, st, name, name_cap);
    }
    return rc;
}

static int resolve_in(const struct mk_file_cache_config *cfg, int rootfd, const char *path,
                      size_t len, int *fd_out, struct stat *st, char *name, size_t name_cap)
{
    int fd = mk_file_open_beneath(rootfd, path, cfg->symlink);
    if (fd < 0 && errno == EACCES) {
        /* Maybe a directory that may be searched but not read (0711): its index files are
         * still served, as a file in it is.  "path/." with O_PATH needs search permission
         * and no read permission, so a directory we may not enter stays a plain 403. */
        char dot[PATH_MAX];
        if (snprintf(dot, sizeof(dot), "%s%s", path, len && path[len - 1] == '/' ? "." : "/.") >=
            (int)sizeof(dot))
            return -403;
        fd = open_beneath(rootfd, dot, cfg->symlink, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            return errno == EMFILE || errno == ENFILE ? MK_FILE_NO_FD : -403;
        if (fstat(fd, st) < 0) {
            close(fd);
            return -500;
        }
    } else if (fd < 0) {
        return errno_status(errno);
    } else if (fstat(fd, st) < 0) {
        close(fd);
        return -500;
    }
    if (snprintf(name, name_cap, "%s", path) >= (int)name_cap) {
        close(fd);
        return -404;
    }
    if (S_ISDIR(st->st_mode)) {
        close(fd);
        if (len == 0 || path[len - 1] != '/')
            return -301;
        /* The index is opened from the document root, not from the directory: a link
         * SymLink on lets through is confined to the root, as for any other file. */
        fd = -1;
        for (int i = 0; i < cfg->nindex; i++) {
            if (snprintf(name, name_cap, "%s%s", path, cfg->indexfiles[i]) >= (int)name_cap)
                continue;
            int f = mk_file_open_beneath(rootfd, name, cfg->symlink);
            if (f < 0 && (errno == EMFILE || errno == ENFILE))
                return MK_FILE_NO_FD;
            if (f < 0 && errno == EAGAIN)
                return -503; /* not "no such index": the next name must not be served */
            if (f < 0)
                continue;
            if (fstat(f, st) == 0 && S_ISREG(st->st_mode)) {
                fd = f;
                break;
            }
            close(f);
        }
        if (fd < 0)
            return -403; /* a directory without an index file: no listings */
    }
    if (!S_ISREG(st->st_mode)) {
        close(fd);
        return -403;
    }
    *fd_out = fd;
    return 0;
}

/* Eight bytes per step: each word is mixed in with a multiply by an odd 64-bit constant
 * and a shift that folds the high bits down.  A tail shorter than a word is taken as the
 * word that ends the key (overlapping bytes already mixed) or, for a key under eight bytes,
 * byte by byte.  The keys are paths of files that exist, so flooding is not a concern. */
static uint32_t hash_key(const struct mk_vhost *vh, const char *p, size_t len)
{
    const uint64_t k = 0x9e3779b97f4a7c15ULL;
    uint64_t h = ((uint64_t)vh->id << 32 | (uint64_t)len) * k, w;
    size_t i = 0;

    for (; len - i >= 8; i += 8) {
        memcpy(&w, p + i, 8);
        h = (h ^ w) * k;
        h ^= h >> 29;
    }
    if (i < len) {
        if (len >= 8) {
            memcpy(&w, p + len - 8, 8);
        } else {
            w = 0;
            for (; i < len; i++)
                w = w << 8 | (unsigned char)p[i];
        }
        h = (h ^ w) * k;
        h ^= h >> 29;
    }
    return (uint32_t)(h ^ h >> 32);
}

static void lru_unlink(struct mk_file_cache *fc, struct mk_file *f)
{
    if (f->lru_prev)
        f->lru_prev->lru_next = f->lru_next;
    else
        fc->lru_head = f->lru_next;
    if (f->lru_next)
        f->lru_next->lru_prev = f->lru_prev;
    else
        fc->lru_tail = f->lru_prev;
    f->lru_prev = f->lru_next = NULL;
}

static void lru_push(struct mk_file_cache *fc, struct mk_file *f)
{
    f->lru_prev = NULL;
    f->lru_next = fc->lru_head;
    if (fc->lru_head)
        fc->lru_head->lru_prev = f;
    else
        fc->lru_tail = f;
    fc->lru_head = f;
}

/* f was used: it becomes the most recently used entry. */
static void lru_touch(struct mk_file_cache *fc, struct mk_file *f)
{
    if (f != fc->lru_head) {
        lru_unlink(fc, f);
        lru_push(fc, f);
    }
}

static void file_free(struct mk_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    if (f->data)
        free(f->data - MK_FILE_HEAD_ROOM);
    free(f->hdr);
    free(f->key);
    free(f);
}

void mk_file_release(struct mk_file_cache *fc, struct mk_file *f)
{
    (void)fc;
    if (--f->refs == 0)
        file_free(f);
}

/* Take an entry out of the cache; it lives on while responses still hold it. */
static void cache_remove(struct mk_file_cache *fc, struct mk_file *f)
{
    struct mk_file **pp = &fc->hash[f->hash & (MK_FILE_HASH_SIZE - 1)];
    while (*pp && *pp != f)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = f->hnext;
    lru_unlink(fc, f);
    fc->nentries--;
    if (f->data)
        fc->mem -= f->size;
    if (f->fd >= 0)
        fc->nfds--;
    f->cached = false;
    mk_file_release(fc, f);
}

static void build_header(struct mk_file *f)
{
    char len[24];
    size_t n = mk_u64_to_str(len, f->size);
    len[n] = '\0';
    size_t cap = 256 + strlen(f->mime);
    f->hdr = mk_xmalloc(cap);
    f->hdr_len = (size_t)snprintf(f->hdr, cap,
                                  "Last-Modified: %s\r\nETag: %.*s\r\nContent-Type: %s\r\n"
                                  "Content-Length: %s\r\nAccept-Ranges: bytes\r\n",
                                  f->last_modified, (int)f->etag_len, f->etag, f->mime, len);
}

/* A new entry (one reference) with what the once-a-second check compares of st. */
static struct mk_file *entry_new(const struct stat *st, int fd, int rc)
{
    struct mk_file *f = mk_xcalloc(1, sizeof(*f));
    f->fd = fd;
    f->refs = 1;
    f->rc = rc;
    f->dev = st->st_dev;
    f->ino = st->st_ino;
    f->size = (uint64_t)st->st_size;
    f->mtime = st->st_mtim.tv_sec;
    f->mtime_nsec = st->st_mtim.tv_nsec;
    f->ctime = st->st_ctim.tv_sec;
    f->ctime_nsec = st->st_ctim.tv_nsec;
    f->checked_sec = mk_clock.mono_sec;
    return f;
}

static bool same_file(const struct mk_file *f, const struct stat *st)
{
    return f->dev == st->st_dev && f->ino == st->st_ino && f->size == (uint64_t)st->st_size &&
           f->mtime == st->st_mtim.tv_sec && f->mtime_nsec == st->st_mtim.tv_nsec &&
           f->ctime == st->st_ctim.tv_sec && f->ctime_nsec == st->st_ctim.tv_nsec;
}

/* Changed (written, renamed, utime'd) less than MK_FILE_RECENT seconds ago: a write in
 * place may still be copying its bytes in (it sets the times first). */
static bool changed_lately(const struct stat *st)
{
    return st->st_ctim.tv_sec + MK_FILE_RECENT > mk_clock.now;
}

static bool read_all(int fd, char *dst, uint64_t size)
{
    uint64_t got = 0;
    while (got < size) {
        ssize_t r = pread(fd, dst + got, (size_t)(size - got), (off_t)got);
        if (r <= 0)
            return false;
        got += (uint64_t)r;
    }
    return true;
}

/* The bytes of f into data, when they are one version: a file changed lately is read a
 * second time and kept only when both reads agree and its times did not move meanwhile
 * (one read taken during a write in place can hold the head of the new bytes and the
 * tail of the old ones, and would be served under the new times until the next change).
 * Such an entry is read again at its first check after it settled. */
static bool read_version(struct mk_file *f, int fd, const struct stat *st, char *data)
{
    if (!read_all(fd, data, f->size))
        return false;
    if (!changed_lately(st))
        return true;
    f->unsettled = true;
    char *again = mk_xmalloc(f->size ? f->size : 1);
    struct stat now;
    bool same = read_all(fd, again, f->size) && memcmp(data, again, f->size) == 0 &&
                fstat(fd, &now) == 0 && same_file(f, &now);
    free(again);
    return same;
}

static struct mk_file *file_new(struct mk_file_cache *fc, int fd, const struct stat *st,
                                const char *name)
{
    struct mk_file *f = entry_new(st, fd, 0);
    f->mime = mk_mime_lookup(fc->cfg.mime, name, strlen(name), fc->cfg.default_mime);
    f->etag_len = (uint8_t)mk_file_etag(st, f->etag, sizeof(f->etag));
    /* Last-Modified is never later than Date: a file dated in the future says "now". */
    f->lm = f->mtime > mk_clock.now ? mk_clock.now : f->mtime;
    mk_http_date_format(f->lm, f->last_modified);
    f->last_modified[MK_HTTP_DATE_LEN] = '\0';

    if (f->size <= fc->cfg.small_max && fc->mem + f->size <= fc->cfg.mem_max) {
        char *data = (char *)mk_xmalloc(MK_FILE_HEAD_ROOM + f->size) + MK_FILE_HEAD_ROOM;
        if (read_version(f, fd, st, data)) {
            f->data = data;
            close(fd);
            f->fd = -1;
        } else {
            free(data - MK_FILE_HEAD_ROOM);
        }
    }
    build_header(f);
    return f;
}

/* A directory named without its trailing slash: what is kept is that the answer is 301,
 * and the directory's attributes, which the once-a-second check compares as a file's (a
 * name added to it or taken out of it changes its mtime: the entry is made again). */
static struct mk_file *redirect_new(const struct stat *st)
{
    struct mk_file *f = entry_new(st, -1, -301);
    f->lm = f->mtime;
    return f;
}

size_t mk_file_etag(const struct stat *st, char *dst, size_t cap)
{
    /* A strong validator from what changes when the content does: size, mtime and ctime
     * (ns); ctime because mtime can be set back (utimensat, cp -p) and ctime cannot.  A file
     * last written in place has ctime == mtime: then "size-mtime" alone, the usual case. */
    unsigned long long m = (unsigned long long)st->st_mtim.tv_sec * 1000000000ull +
                           (unsigned long long)st->st_mtim.tv_nsec;
    unsigned long long c = (unsigned long long)st->st_ctim.tv_sec * 1000000000ull +
                           (unsigned long long)st->st_ctim.tv_nsec;
    int n = c == m ? snprintf(dst, cap, "\"%llx-%llx\"", (unsigned long long)st->st_size, m)
                   : snprintf(dst, cap, "\"%llx-%llx-%llx\"", (unsigned long long)st->st_size,
                              m, c);
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

bool mk_file_current(const struct mk_file *f)
{
    /* An entry never cached (past max_fds) has no key: nothing can have replaced it. */
    return f->checked_sec == mk_clock.mono_sec && (f->cached || !f->key);
}

void mk_file_suspect(struct mk_file *f)
{
    f->checked_sec = mk_clock.mono_sec - 1;
}

int mk_file_get(struct mk_file_cache *fc, const struct mk_vhost *vh, const char *path,
                size_t len, struct mk_file **out)
{
    uint32_t h = hash_key(vh, path, len);
    struct mk_file *f;
    struct stat st;
    char name[PATH_MAX];
    int fd, rc;

    for (f = fc->hash[h & (MK_FILE_HASH_SIZE - 1)]; f; f = f->hnext)
        if (f->hash == h && f->vh == vh && f->key_len == len && memcmp(f->key, path, len) == 0)
            break;

    /* Checked this second: trusted, unless modified in the last MK_FILE_RECENT seconds
     * (or dated in the future). */
    if (f && f->checked_sec == mk_clock.mono_sec && f->mtime + MK_FILE_RECENT <= mk_clock.now) {
        lru_touch(fc, f);
        f->refs++;
        *out = f;
        return f->rc; /* 0, or -301: no test more on the way of a 200 */
    }

    rc = resolve(fc, vh, path, len, &fd, &st, name, sizeof(name));
    if (rc == MK_FILE_NO_FD) {
        /* Out of descriptors: give back every cached one not in use, and try once more. */
        for (struct mk_file *g = fc->lru_tail, *prev; g; g = prev) {
            prev = g->lru_prev;
            if (g->fd >= 0 && g != f)
                cache_remove(fc, g);
        }
        rc = resolve(fc, vh, path, len, &fd, &st, name, sizeof(name));
        if (rc == MK_FILE_NO_FD) {
            /* Still none.  A cached entry was right at its last check: it is served as it
             * is (and checked again on its next use) rather than refused, so clients keep
             * being answered while the descriptors are taken up by connections.  Without
             * one, 503: the server is overloaded, nothing is wrong with the file. */
            if (f) {
                lru_touch(fc, f);
                f->refs++;
                *out = f;
                return f->rc;
            }
            uint32_t suppressed = 0;
            if (mk_log_allow(&nofd_limit, mk_clock.mono_sec, 10, &suppressed))
                mk_warn("open: out of file descriptors: answering 503 (%u similar messages "
                        "suppressed)",
                        suppressed);
            rc = -503;
        }
    }
    if (f) {
        /* Unchanged: used again, so it moves to the LRU head (expiry and eviction take
         * the tail).  A clamped Last-Modified (lm != mtime) is built again in each new
         * second, an entry read while its file was changing once the file settled. */
        if (rc == f->rc && (rc == 0 || rc == -301) && same_file(f, &st) &&
            (f->lm == f->mtime || f->lm == mk_clock.now) &&
            !(f->unsettled && !changed_lately(&st))) {
            if (rc == 0)
                close(fd);
            f->checked_sec = mk_clock.mono_sec;
            lru_touch(fc, f);
            f->refs++;
            *out = f;
            return rc;
        }
        cache_remove(fc, f); /* changed or gone */
    }
    if (rc == -301)
        f = redirect_new(&st);
    else if (rc < 0)
        return rc;
    else
        f = file_new(fc, fd, &st, name);
    if (f->fd >= 0 && fc->nfds >= fc->cfg.max_fds) {
        *out = f; /* uncached: released (and closed) with its response */
        return 0;
    }
    if (f->fd >= 0)
        fc->nfds++;
    if (f->data)
        fc->mem += f->size;
    f->hash = h;
    f->vh = vh;
    f->key = mk_xstrndup(path, len);
    f->key_len = len;
    f->cached = true;
    f->hnext = fc->hash[h & (MK_FILE_HASH_SIZE - 1)];
    fc->hash[h & (MK_FILE_HASH_SIZE - 1)] = f;
    lru_push(fc, f);
    fc->nentries++;
    while (fc->nentries > fc->cfg.max_entries && fc->lru_tail && fc->lru_tail != f)
        cache_remove(fc, fc->lru_tail);
    f->refs++;
    *out = f;
    return f->rc;
}

struct mk_file_cache *mk_file_cache_new(const struct mk_file_cache_config *cfg)
{
    struct mk_file_cache *fc = mk_xcalloc(1, sizeof(*fc));
    fc->cfg = *cfg;
    if (!fc->cfg.max_entries)
        fc->cfg.max_entries = 1;
    if (!fc->cfg.max_fds || fc->cfg.max_fds > fc->cfg.max_entries)
        fc->cfg.max_fds = fc->cfg.max_entries;
    return fc;
}

void mk_file_cache_expire(struct mk_file_cache *fc, uint32_t max_idle)
{
    /* The LRU tail is the least recently used entry: stop at the first fresh one. */
    while (fc->lru_tail && mk_clock.mono_sec - fc->lru_tail->checked_sec > max_idle)
        cache_remove(fc, fc->lru_tail);
}

void mk_file_cache_flush(struct mk_file_cache *fc)
{
    while (fc->lru_head)
        cache_remove(fc, fc->lru_head);
}

void mk_file_cache_free(struct mk_file_cache *fc)
{
    if (!fc)
        return;
    mk_file_cache_flush(fc);
    for (int i = 0; i < fc->nroots; i++)
        if (fc->roots[i].fd >= 0)
            close(fc->roots[i].fd);
    free(fc->roots);
    free(fc);
}

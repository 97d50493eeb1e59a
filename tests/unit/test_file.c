/* Opening files beneath a document root (openat2 RESOLVE_BENEATH), the open-file cache, and
 * virtual host selection.  Works in a fresh temporary directory:
 *
 *   T/root/a.txt           "A"
 *   T/root/sub/b.txt       "BB"
 *   T/root/empty.txt       ""
 *   T/root/page.html       "<p>"
 *   T/root/fifo            a FIFO nobody writes to
 *   T/root/link_in      -> a.txt                      (stays inside)
 *   T/root/linkdir      -> sub                        (a symlinked directory, inside)
 *   T/root/link_rel_out -> ../outside/secret.txt
 *   T/root/link_abs_out -> T/outside/secret.txt       (absolute)
 *   T/root/sub/up_out   -> ../../outside/secret.txt
 *   T/root/link_dir_out -> ../outside                 (a directory outside)
 *   T/outside/secret.txt   "SECRET"
 */
#include "mk_test.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "core/mk_clock.h"
#include "http/mk_file.h"
#include "http/mk_mime.h"
#include "http/mk_vhost.h"

static char tmpdir[64];
static char rootdir[128];
static int rootfd = -1;

static void put_file(const char *rel, const char *content)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", tmpdir, rel);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, content, strlen(content)) != (ssize_t)strlen(content)) {
        perror(p);
        abort();
    }
    close(fd);
}

static void put_link(const char *rel, const char *target)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", tmpdir, rel);
    if (symlink(target, p) < 0) {
        perror(p);
        abort();
    }
}

static void cleanup(void);

static void setup(void)
{
    char p[256];
    if (rootfd >= 0)
        return;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/mk_test_file.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        abort();
    }
    snprintf(rootdir, sizeof(rootdir), "%s/root", tmpdir);
    mkdir(rootdir, 0755);
    snprintf(p, sizeof(p), "%s/root/sub", tmpdir);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/outside", tmpdir);
    mkdir(p, 0755);
    put_file("root/a.txt", "A");
    put_file("root/sub/b.txt", "BB");
    put_file("root/empty.txt", "");
    put_file("root/page.html", "<p>");
    put_file("outside/secret.txt", "SECRET");
    snprintf(p, sizeof(p), "%s/root/fifo", tmpdir);
    if (mkfifo(p, 0644) < 0) {
        perror("mkfifo");
        abort();
    }
    put_link("root/link_in", "a.txt");
    put_link("root/linkdir", "sub");
    put_link("root/link_rel_out", "../outside/secret.txt");
    snprintf(p, sizeof(p), "%s/outside/secret.txt", tmpdir);
    put_link("root/link_abs_out", p);
    put_link("root/sub/up_out", "../../outside/secret.txt");
    put_link("root/link_dir_out", "../outside");
    atexit(cleanup); /* also when a filter skips zz_cleanup */
    rootfd = open(rootdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) {
        perror(rootdir);
        abort();
    }
}

static void cleanup(void)
{
    static const char *const files[] = {
        "root/a.txt",        "root/sub/b.txt",  "root/empty.txt",    "root/page.html",
        "root/fifo",         "root/link_in",    "root/linkdir",      "root/link_rel_out",
        "root/link_abs_out", "root/sub/up_out", "root/link_dir_out", "outside/secret.txt",
        "root/new.txt",      "root/same.txt",   "root/future.txt",   "root/hot.txt",
        "root/victim.txt",   "root/third.txt",
    };
    static const char *const dirs[] = {"root/sub", "root", "outside", ""};
    char p[256];
    if (!tmpdir[0])
        return;
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", tmpdir, files[i]);
        unlink(p);
    }
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", tmpdir, dirs[i]);
        rmdir(p);
    }
    if (rootfd >= 0)
        close(rootfd);
    rootfd = -1;
    tmpdir[0] = '\0';
}

/* Open beneath the root; returns the file's content (up to 31 bytes) or NULL when refused. */
static const char *open_read(const char *path, bool symlink, char *buf, int *err)
{
    int fd = mk_file_open_beneath(rootfd, path, symlink);
    *err = fd < 0 ? errno : 0;
    if (fd < 0)
        return NULL;
    ssize_t n = read(fd, buf, 31);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

MK_TEST(open_beneath_plain_files)
{
    char buf[32];
    int e;
    setup();
    const char *c = open_read("/a.txt", false, buf, &e);
    CHECKF(c && strcmp(c, "A") == 0, "/a.txt: %s", c ? c : strerror(e));
    c = open_read("/sub/b.txt", false, buf, &e);
    CHECKF(c && strcmp(c, "BB") == 0, "/sub/b.txt: %s", c ? c : strerror(e));
    c = open_read("a.txt", false, buf, &e);
    CHECKF(c && strcmp(c, "A") == 0, "a.txt: %s", c ? c : strerror(e));
    c = open_read("//sub//b.txt", false, buf, &e);
    CHECKF(c && strcmp(c, "BB") == 0, "//sub//b.txt: %s", c ? c : strerror(e));

    /* "/" is the root directory itself */
    int fd = mk_file_open_beneath(rootfd, "/", false);
    struct stat st;
    CHECK(fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode));
    if (fd >= 0)
        close(fd);
    fd = mk_file_open_beneath(rootfd, "/sub/", false);
    CHECK(fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode));
    if (fd >= 0)
        close(fd);

    CHECK(mk_file_open_beneath(rootfd, "/missing", false) < 0 && errno == ENOENT);
    CHECK(mk_file_open_beneath(rootfd, "/a.txt/x", false) < 0 && errno == ENOTDIR);
    /* opened with O_CLOEXEC */
    fd = mk_file_open_beneath(rootfd, "/a.txt", false);
    CHECK(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC));
    if (fd >= 0)
        close(fd);
}

MK_TEST(open_beneath_refuses_escapes)
{
    static const char *const escapes[] = {"/../outside/secret.txt",
                                          "../outside/secret.txt",
                                          "/sub/../../outside/secret.txt",
                                          "/..",
                                          "/sub/../..",
                                          "/./../outside/secret.txt"};
    char buf[32];
    int e;
    setup();
    for (size_t i = 0; i < sizeof(escapes) / sizeof(escapes[0]); i++)
        for (int sl = 0; sl <= 1; sl++) {
            const char *c = open_read(escapes[i], sl, buf, &e);
            CHECKF(c == NULL, "%s (symlink %d) opened: \"%s\"", escapes[i], sl, c);
        }
    /* ".." that stays inside is resolved */
    const char *c = open_read("/sub/../a.txt", false, buf, &e);
    CHECKF(c && strcmp(c, "A") == 0, "/sub/../a.txt: %s", c ? c : strerror(e));
}

MK_TEST(open_beneath_symlinks)
{
    char buf[32];
    int e;
    setup();
    /* links leaving the root: refused whatever the option */
    static const char *const out[] = {"/link_abs_out", "/link_rel_out", "/sub/up_out",
                                      "/link_dir_out/secret.txt"};
    for (size_t i = 0; i < sizeof(out) / sizeof(out[0]); i++)
        for (int sl = 0; sl <= 1; sl++) {
            const char *c = open_read(out[i], sl, buf, &e);
            CHECKF(c == NULL, "%s (symlink %d) opened: \"%s\"", out[i], sl, c);
        }
    /* SymLink off: no link at all, even one that stays inside */
    static const char *const in[] = {"/link_in", "/linkdir/b.txt", "/linkdir/"};
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        const char *c = open_read(in[i], false, buf, &e);
        CHECKF(c == NULL, "%s (symlink off) opened", in[i]);
    }
    /* SymLink on: links that stay inside are followed */
    const char *c = open_read("/link_in", true, buf, &e);
    CHECKF(c && strcmp(c, "A") == 0, "/link_in (symlink on): %s", c ? c : strerror(e));
    c = open_read("/linkdir/b.txt", true, buf, &e);
    CHECKF(c && strcmp(c, "BB") == 0, "/linkdir/b.txt (symlink on): %s", c ? c : strerror(e));
}

/* Opening a FIFO must not block the worker (O_NONBLOCK); run in a child with a deadline. */
MK_TEST(open_beneath_fifo_does_not_block)
{
    setup();
    pid_t pid = fork();
    if (pid == 0) {
        alarm(5);
        int fd = mk_file_open_beneath(rootfd, "/fifo", false);
        _exit(fd >= 0 ? 0 : 1);
    }
    int status = 0;
    pid_t w = 0;
    for (int i = 0; i < 300 && (w = waitpid(pid, &status, WNOHANG)) == 0; i++)
        usleep(10000);
    if (w == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    CHECKF(w == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0, "opening the FIFO %s",
           w == 0 ? "blocked for 3 s" : "failed or crashed");
}

static struct mk_vhost test_vhost(void)
{
    struct mk_vhost vh;
    memset(&vh, 0, sizeof(vh));
    vh.id = 7;
    vh.docroot = rootdir;
    vh.docroot_fd = rootfd;
    return vh;
}

MK_TEST(file_cache)
{
    setup();
    struct mk_mime_table *mime = mk_mime_new();
    mk_mime_add(mime, "txt", "text/plain");
    mk_mime_add(mime, "html", "text/html");
    char *idx_files[] = {"index.html", "page.html"};
    struct mk_file_cache_config cfg = {
        .mime = mime,
        .default_mime = "application/octet-stream",
        .indexfiles = idx_files,
        .nindex = 2,
        .symlink = false,
        .max_entries = 16,
        .small_max = 4096,
        .mem_max = 1 << 20,
    };
    struct mk_file_cache *fc = mk_file_cache_new(&cfg);
    struct mk_vhost vh = test_vhost();
    struct mk_file *f = NULL, *f2 = NULL;

    mk_clock_update();
    int rc = mk_file_get(fc, &vh, "/a.txt", 6, &f);
    if (CHECKF(rc == 0 && f, "/a.txt: %d", rc)) {
        CHECK_EQ_INT(f->size, 1);
        CHECK(strcmp(f->mime, "text/plain") == 0);
        CHECK(f->data && f->data[0] == 'A'); /* small: kept in memory */
        CHECK(f->hdr && strstr(f->hdr, "Content-Length: 1\r\n") != NULL);
        CHECK(f->hdr && strstr(f->hdr, "Content-Type: text/plain\r\n") != NULL);
        CHECK(f->etag_len > 2 && f->etag[0] == '"' && f->etag[f->etag_len - 1] == '"');
        CHECK_EQ_INT(strlen(f->last_modified), MK_HTTP_DATE_LEN);
        /* the same second: the same entry */
        rc = mk_file_get(fc, &vh, "/a.txt", 6, &f2);
        CHECK(rc == 0 && f2 == f);
        if (rc == 0)
            mk_file_release(fc, f2);
        mk_file_release(fc, f);
    }

    rc = mk_file_get(fc, &vh, "/empty.txt", 10, &f);
    if (CHECKF(rc == 0, "/empty.txt: %d", rc)) {
        CHECK_EQ_INT(f->size, 0);
        CHECK(f->hdr && strstr(f->hdr, "Content-Length: 0\r\n") != NULL);
        mk_file_release(fc, f);
    }

    /* a directory: 301 without the slash, its index file with it */
    CHECK_EQ_INT(mk_file_get(fc, &vh, "/sub", 4, &f), -301);
    mk_file_release(fc, f);
    {
        /* cached as a file is: the same entry again, with no content */
        struct mk_file *g = NULL;
        CHECK_EQ_INT(mk_file_get(fc, &vh, "/sub", 4, &g), -301);
        CHECK(g == f && g->fd < 0 && !g->data && !g->hdr);
        mk_file_release(fc, g);
    }
    CHECK_EQ_INT(mk_file_get(fc, &vh, "/sub/", 5, &f), -403); /* no index file */
    rc = mk_file_get(fc, &vh, "/", 1, &f);
    if (CHECKF(rc == 0, "/ with index page.html: %d", rc)) {
        CHECK(strcmp(f->mime, "text/html") == 0);
        CHECK_EQ_INT(f->size, 3);
        mk_file_release(fc, f);
    }

    CHECK_EQ_INT(mk_file_get(fc, &vh, "/missing.txt", 12, &f), -404);
    CHECK_EQ_INT(mk_file_get(fc, &vh, "/a.txt/x", 8, &f), -404);
    CHECK_EQ_INT(mk_file_get(fc, &vh, "/fifo", 5, &f), -403);
    CHECK_EQ_INT(mk_file_get(fc, &vh, "/link_in", 8, &f), -403);
    CHECK_EQ_INT(mk_file_get(fc, &vh, "/link_abs_out", 13, &f), -403);
    CHECK_EQ_INT(mk_file_get(fc, &vh, "/link_rel_out", 13, &f), -403);
    CHECK_EQ_INT(mk_file_get(fc, &vh, "/linkdir/b.txt", 14, &f), -403);

    /* an edited file is served fresh once the second has changed */
    put_file("root/new.txt", "one");
    rc = mk_file_get(fc, &vh, "/new.txt", 8, &f);
    if (CHECK(rc == 0)) {
        CHECK_EQ_INT(f->size, 3);
        mk_file_release(fc, f);
    }
    put_file("root/new.txt", "three");
    mk_clock.mono_sec++;
    rc = mk_file_get(fc, &vh, "/new.txt", 8, &f);
    if (CHECK(rc == 0)) {
        CHECK_EQ_INT(f->size, 5);
        CHECK(f->data && memcmp(f->data, "three", 5) == 0);
        mk_file_release(fc, f);
    }
    /* a removed file is gone once the second has changed */
    char p[256];
    snprintf(p, sizeof(p), "%s/root/new.txt", tmpdir);
    unlink(p);
    mk_clock.mono_sec++;
    CHECK_EQ_INT(mk_file_get(fc, &vh, "/new.txt", 8, &f), -404);

    /* a reference held across a flush stays valid */
    rc = mk_file_get(fc, &vh, "/sub/b.txt", 10, &f);
    if (CHECK(rc == 0)) {
        mk_file_cache_flush(fc);
        CHECK(f->data && memcmp(f->data, "BB", 2) == 0);
        mk_file_release(fc, f);
    }

    /* more files than max_entries: still correct answers */
    cfg.max_entries = 1;
    struct mk_file_cache *small = mk_file_cache_new(&cfg);
    for (int i = 0; i < 4; i++) {
        const char *path = i % 2 ? "/a.txt" : "/sub/b.txt";
        rc = mk_file_get(small, &vh, path, strlen(path), &f);
        if (CHECK(rc == 0)) {
            CHECK_EQ_INT(f->size, i % 2 ? 1 : 2);
            mk_file_release(small, f);
        }
    }
    mk_file_cache_free(small);
    mk_file_cache_free(fc);
    mk_mime_free(mime);
}

/* Keys of every length from 1 to 20 bytes after "/keys/", and keys that differ from
 * another in one byte only, at every position (the hash reads eight bytes at a time and the
 * tail as the word that ends the key): each is found again as the same entry, with its own
 * content. */
MK_TEST(file_cache_keys_of_every_length)
{
    setup();
    struct mk_mime_table *mime = mk_mime_new();
    struct mk_file_cache_config cfg = {
        .mime = mime,
        .default_mime = "application/octet-stream",
        .max_entries = 1024,
        .small_max = 4096,
        .mem_max = 1 << 20,
    };
    struct mk_file_cache *fc = mk_file_cache_new(&cfg);
    struct mk_vhost vh = test_vhost();
    enum { MAXN = 20, NKEYS = MAXN + MAXN * (MAXN + 1) / 2 };
    static char names[NKEYS][MAXN + 1];
    static struct mk_file *first[NKEYS];
    char p[300], key[64];
    size_t nk = 0;

    snprintf(p, sizeof(p), "%s/root/keys", tmpdir);
    mkdir(p, 0755);
    for (int n = 1; n <= MAXN; n++) {
        for (int at = -1; at < n; at++) {
            memset(names[nk], 'a', (size_t)n);
            names[nk][n] = '\0';
            if (at >= 0)
                names[nk][at] = 'b';
            snprintf(p, sizeof(p), "root/keys/%s", names[nk]);
            put_file(p, names[nk]);
            nk++;
        }
    }
    mk_clock_update();
    unsigned long wrong = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < nk; i++) {
            struct mk_file *f = NULL;
            int kl = snprintf(key, sizeof(key), "/keys/%s", names[i]);
            int rc = mk_file_get(fc, &vh, key, (size_t)kl, &f);
            bool ok = rc == 0 && f->size == strlen(names[i]) && f->data &&
                      memcmp(f->data, names[i], f->size) == 0 && (pass == 0 || f == first[i]);
            if (!ok && wrong++ == 0)
                CHECKF(0, "pass %d, %s: rc %d, %s", pass, key, rc,
                       rc ? "-" : f == first[i] ? "wrong content" : "not the cached entry");
            if (rc == 0) {
                if (pass == 0)
                    first[i] = f;
                mk_file_release(fc, f);
            }
        }
    }
    CHECKF(wrong == 0, "%lu of %zu lookups wrong", wrong, 2 * nk);
    mk_file_cache_free(fc);
    mk_mime_free(mime);
    for (size_t i = 0; i < nk; i++) {
        snprintf(p, sizeof(p), "%s/root/keys/%s", tmpdir, names[i]);
        unlink(p);
    }
    snprintf(p, sizeof(p), "%s/root/keys", tmpdir);
    rmdir(p);
}

/* ---- virtual hosts ----------------------------------------------------------------------- */

MK_TEST(vhost_match)
{
    struct mk_vhost v[3];
    memset(v, 0, sizeof(v));
    char *n0[] = {"default.example"};
    char *n1[] = {"example.com", "www.example.com"};
    char *n2[] = {"[::1]", "other.test"};
    v[0].id = 0;
    v[0].names[0] = n0[0];
    v[0].nnames = 1;
    v[1].id = 1;
    v[1].names[0] = n1[0];
    v[1].names[1] = n1[1];
    v[1].nnames = 2;
    v[2].id = 2;
    v[2].names[0] = n2[0];
    v[2].names[1] = n2[1];
    v[2].nnames = 2;

    static const struct {
        const char *host;
        int want;
    } c[] = {
        {"example.com", 1},
        {"EXAMPLE.COM", 1},
        {"Www.Example.Com", 1},
        {"example.com:8080", 1},
        {"example.com:", 1},
        {"example.com.", 1},
        {"example.com.:80", 1},
        {"other.test", 2},
        {"[::1]", 2},
        {"[::1]:2001", 2},
        {"default.example", 0},
        {"unknown.example", 0},
        {"example.co", 0},
        {"example.com.evil", 0},
        {"xexample.com", 0},
        {"[::2]", 0},
        {"::1", 0},
        {"", 0},
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        size_t len = strlen(c[i].host);
        char *g = guard_copy(c[i].host, len);
        const struct mk_vhost *m = mk_vhost_match(v, 3, mk_str(g, len));
        CHECKF(m && m->id == c[i].want, "Host \"%s\" -> vhost %d, expected %d", c[i].host,
               m ? m->id : -1, c[i].want);
        guard_free(g, len);
    }
    /* no Host (HTTP/1.0): the first */
    CHECK(mk_vhost_match(v, 3, MK_STR_NULL) == &v[0]);
    /* a single vhost answers everything */
    CHECK(mk_vhost_match(v, 1, MK_STR("example.com")) == &v[0]);
}

MK_TEST(vhost_error_page)
{
    struct mk_vhost vh;
    memset(&vh, 0, sizeof(vh));
    vh.error_pages[0].status = 404;
    vh.error_pages[0].file = "/404.html";
    vh.error_pages[1].status = 403;
    vh.error_pages[1].file = "/403.html";
    vh.nerror_pages = 2;
    CHECK(mk_vhost_error_page(&vh, 404) && strcmp(mk_vhost_error_page(&vh, 404), "/404.html") == 0);
    CHECK(mk_vhost_error_page(&vh, 403) && strcmp(mk_vhost_error_page(&vh, 403), "/403.html") == 0);
    CHECK(mk_vhost_error_page(&vh, 500) == NULL);
}

static void set_mtime(const char *rel, time_t sec, long nsec)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", tmpdir, rel);
    struct timespec ts[2] = {{sec, nsec}, {sec, nsec}};
    if (utimensat(AT_FDCWD, p, ts, 0) < 0) {
        perror(p);
        abort();
    }
}

/* What revalidation must notice, and what it must keep: a file rewritten in place with its
 * old mtime put back (cp -p, rsync -t) is new, with a new ETag; a file dated in the future
 * never says so in Last-Modified; an entry used again moves to the LRU head, so expiry and
 * eviction take the ones nobody asks for.  (2026-11-27: the first was served stale for as
 * long as it was asked for, the second sent a Last-Modified after Date, the third left a
 * deleted file's fd open behind a busy one and evicted the busy one first.) */
MK_TEST(file_cache_revalidation)
{
    setup();
    struct mk_mime_table *mime = mk_mime_new();
    struct mk_file_cache_config cfg = {
        .mime = mime,
        .default_mime = "application/octet-stream",
        .max_entries = 16,
        .small_max = 4096,
        .mem_max = 1 << 20,
    };
    struct mk_file_cache *fc = mk_file_cache_new(&cfg);
    struct mk_vhost vh = test_vhost();
    struct mk_file *f = NULL, *g = NULL, *v = NULL;
    char etag[64];

    mk_clock_update();
    /* the same size, the same mtime, other bytes */
    put_file("root/same.txt", "OLD-CONTENT\n");
    set_mtime("root/same.txt", 1600000000, 0);
    if (CHECK(mk_file_get(fc, &vh, "/same.txt", 9, &f) == 0)) {
        snprintf(etag, sizeof(etag), "%.*s", (int)f->etag_len, f->etag);
        mk_file_release(fc, f);
    }
    struct timespec pause = {0, 20 * 1000 * 1000}; /* past a coarse ctime tick */
    nanosleep(&pause, NULL);
    put_file("root/same.txt", "NEW-CONTENT\n"); /* O_TRUNC: the same inode */
    set_mtime("root/same.txt", 1600000000, 0);
    mk_clock.mono_sec++;
    if (CHECK(mk_file_get(fc, &vh, "/same.txt", 9, &f) == 0)) {
        CHECKF(f->data && memcmp(f->data, "NEW-CONTENT\n", 12) == 0, "stale bytes: %.12s",
               f->data ? f->data : "(fd)");
        CHECKF(strlen(etag) != f->etag_len || memcmp(etag, f->etag, f->etag_len) != 0,
               "the ETag %s did not change with the content", etag);
        mk_file_release(fc, f);
    }

    /* written just now: checked on every request, even within the second it was cached */
    put_file("root/same.txt", "first version");
    uint32_t mono = mk_clock.mono_sec;
    mk_clock_update();           /* the wall clock now: the file is recent */
    mk_clock.mono_sec = mono + 1; /* a second past every earlier check */
    if (CHECK(mk_file_get(fc, &vh, "/same.txt", 9, &f) == 0))
        mk_file_release(fc, f);
    nanosleep(&pause, NULL);
    put_file("root/same.txt", "other version"); /* same size, same inode */
    mk_clock_update();
    mk_clock.mono_sec = f->checked_sec; /* still the second the entry was checked in */
    if (CHECK(mk_file_get(fc, &vh, "/same.txt", 9, &f) == 0)) {
        CHECKF(f->data && memcmp(f->data, "other version", 13) == 0, "stale bytes: %.13s",
               f->data ? f->data : "(fd)");
        mk_file_release(fc, f);
    }
    /* an old file checked this second is trusted: the same entry, no system call */
    set_mtime("root/same.txt", 1600000000, 0);
    mk_clock.mono_sec++;
    if (CHECK(mk_file_get(fc, &vh, "/same.txt", 9, &f) == 0)) {
        CHECK(mk_file_get(fc, &vh, "/same.txt", 9, &g) == 0 && g == f);
        mk_file_release(fc, g);
        mk_file_release(fc, f);
    }

    /* a file dated a day ahead: Last-Modified is the clock, checked again every second */
    put_file("root/future.txt", "F");
    set_mtime("root/future.txt", mk_clock.now + 86400, 0);
    if (CHECK(mk_file_get(fc, &vh, "/future.txt", 11, &f) == 0)) {
        CHECK(f->lm == mk_clock.now);
        CHECK(memcmp(f->last_modified, mk_clock.date, MK_HTTP_DATE_LEN) == 0);
        CHECK(f->hdr && strstr(f->hdr, mk_clock.date) != NULL);
        CHECK(mk_file_get(fc, &vh, "/future.txt", 11, &g) == 0 && g == f); /* same second */
        mk_file_release(fc, g);
        mk_clock.mono_sec++;
        mk_clock.now++;
        CHECK(mk_file_get(fc, &vh, "/future.txt", 11, &g) == 0 && g != f && g->lm == mk_clock.now);
        mk_file_release(fc, g);
        mk_file_release(fc, f);
    }
    mk_file_cache_free(fc);

    /* LRU: hot is revalidated every second, victim is deleted and never asked for again */
    cfg.max_entries = 2;
    fc = mk_file_cache_new(&cfg);
    put_file("root/hot.txt", "H");
    put_file("root/victim.txt", "V");
    put_file("root/third.txt", "T");
    CHECK(mk_file_get(fc, &vh, "/hot.txt", 8, &f) == 0);     /* f: held to the end */
    CHECK(mk_file_get(fc, &vh, "/victim.txt", 11, &v) == 0); /* v: held to the end */
    for (int i = 0; i < 40; i++) {
        mk_clock.mono_sec++;
        if (CHECK(mk_file_get(fc, &vh, "/hot.txt", 8, &g) == 0))
            mk_file_release(fc, g);
    }
    mk_file_cache_expire(fc, 30);
    CHECK(f->cached);  /* used every second */
    CHECK(!v->cached); /* idle 40 s: expired, its fd closed with its last reference */
    mk_file_release(fc, v);
    CHECK(mk_file_get(fc, &vh, "/victim.txt", 11, &v) == 0);
    mk_clock.mono_sec++;
    CHECK(mk_file_get(fc, &vh, "/hot.txt", 8, &g) == 0); /* revalidated: the LRU head */
    mk_file_release(fc, g);
    CHECK(mk_file_get(fc, &vh, "/third.txt", 10, &g) == 0); /* a third: one must go */
    mk_file_release(fc, g);
    CHECK(f->cached);  /* not the busy one */
    CHECK(!v->cached); /* the least recently used */
    mk_file_release(fc, v);
    mk_file_release(fc, f);
    mk_file_cache_free(fc);
    mk_mime_free(mime);
}

static int open_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    for (struct dirent *de; (de = readdir(d));)
        n += de->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the directory's own fd */
}

static void remove_files(const char *fmt, int n)
{
    char rel[64], p[256];
    for (int i = 0; i < n; i++) {
        snprintf(rel, sizeof(rel), fmt, i);
        snprintf(p, sizeof(p), "%s/%s", tmpdir, rel);
        unlink(p);
    }
}

static struct mk_file_cache *fd_cache(uint32_t max_fds)
{
    struct mk_file_cache_config cfg = {
        .default_mime = "application/octet-stream",
        .max_entries = 64,
        .max_fds = max_fds,
        .small_max = 0, /* every file keeps its fd */
        .mem_max = 0,
    };
    return mk_file_cache_new(&cfg);
}

/* The cache holds at most max_fds open files; past it a file is served uncached, its fd
 * closed with its last reference.  It used to keep one fd per large file until the fd
 * limit, then answer 500 to everything for 30 s. */
MK_TEST(file_cache_fd_cap)
{
    setup();
    struct mk_vhost vh = test_vhost();
    struct mk_file_cache *fc = fd_cache(2);
    char path[32];
    mk_clock_update();
    for (int i = 0; i < 6; i++) {
        snprintf(path, sizeof(path), "root/cap%d.txt", i);
        put_file(path, "0123456789");
    }
    int base = open_fds();
    struct mk_file *held[6];
    for (int i = 0; i < 6; i++) {
        snprintf(path, sizeof(path), "/cap%d.txt", i);
        int rc = mk_file_get(fc, &vh, path, strlen(path), &held[i]);
        if (!CHECKF(rc == 0 && held[i]->fd >= 0, "%s: %d", path, rc))
            held[i] = NULL;
    }
    CHECK_EQ_INT(open_fds(), base + 6); /* all in use */
    for (int i = 0; i < 6; i++)
        if (held[i])
            mk_file_release(fc, held[i]);
    CHECK_EQ_INT(open_fds(), base + 2); /* the two cached ones stay */
    /* a cached one is still found (the same entry, no new fd) */
    struct mk_file *f;
    if (CHECK(mk_file_get(fc, &vh, "/cap0.txt", 9, &f) == 0)) {
        CHECK_EQ_INT(open_fds(), base + 2);
        mk_file_release(fc, f);
    }
    mk_file_cache_free(fc);
    CHECK_EQ_INT(open_fds(), base);
    remove_files("root/cap%d.txt", 6);
}

/* Out of descriptors, the cache gives back those it holds and opens the file again. */
MK_TEST(file_cache_emfile_evicts)
{
    setup();
    struct mk_vhost vh = test_vhost();
    struct mk_file_cache *fc = fd_cache(100);
    char path[32];
    mk_clock_update();
    for (int i = 0; i < 5; i++) {
        snprintf(path, sizeof(path), "root/ev%d.txt", i);
        put_file(path, "0123456789");
    }
    struct mk_file *f;
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof(path), "/ev%d.txt", i);
        if (CHECK(mk_file_get(fc, &vh, path, strlen(path), &f) == 0))
            mk_file_release(fc, f);
    }
    /* every descriptor number up to the limit taken: the next open fails with EMFILE */
    struct rlimit old, rl;
    getrlimit(RLIMIT_NOFILE, &old);
    int probe = dup(0);
    rl = old;
    rl.rlim_cur = (rlim_t)probe; /* the lowest free number: 0..probe-1 are all open */
    close(probe);
    CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    CHECK(dup(0) < 0 && errno == EMFILE);
    int rc = mk_file_get(fc, &vh, "/ev4.txt", 8, &f);
    CHECKF(rc == 0, "/ev4.txt with no descriptor left: %d", rc);
    if (rc == 0)
        mk_file_release(fc, f);
    setrlimit(RLIMIT_NOFILE, &old);
    mk_file_cache_free(fc);
    remove_files("root/ev%d.txt", 5);
}

/* Out of descriptors with none cached to give back: a file held in memory is served as it
 * was at its last check (it used to be a 500, so under fd exhaustion every client was
 * answered 500 and accept never paused); a file not cached is 503, not 500. */
MK_TEST(file_cache_emfile_serves_cached_or_503)
{
    setup();
    struct mk_vhost vh = test_vhost();
    struct mk_file_cache_config cfg = {
        .default_mime = "text/plain",
        .max_entries = 16,
        .small_max = 4096, /* held in memory: no fd kept */
        .mem_max = 1 << 20,
    };
    struct mk_file_cache *fc = mk_file_cache_new(&cfg);
    put_file("root/mem.txt", "0123456789");
    put_file("root/other.txt", "abc");
    mk_clock_update();
    struct mk_file *f, *g;
    if (!CHECK(mk_file_get(fc, &vh, "/mem.txt", 8, &f) == 0))
        goto out;
    CHECK(f->data != NULL && f->fd < 0);
    mk_file_release(fc, f);
    mk_file_suspect(f); /* its check is due: the next use opens the file again */

    struct rlimit old, rl;
    getrlimit(RLIMIT_NOFILE, &old);
    int probe = dup(0);
    rl = old;
    rl.rlim_cur = (rlim_t)probe;
    close(probe);
    CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    CHECK(dup(0) < 0 && errno == EMFILE);
    int rc = mk_file_get(fc, &vh, "/mem.txt", 8, &g);
    CHECKF(rc == 0, "cached /mem.txt with no descriptor left: %d", rc);
    if (rc == 0) {
        CHECK(g == f && memcmp(g->data, "0123456789", 10) == 0);
        mk_file_release(fc, g);
    }
    rc = mk_file_get(fc, &vh, "/other.txt", 10, &g);
    CHECKF(rc == -503, "uncached /other.txt with no descriptor left: %d", rc);
    if (rc == 0)
        mk_file_release(fc, g);
    setrlimit(RLIMIT_NOFILE, &old);
    /* descriptors back: checked again, and a change is seen */
    put_file("root/mem.txt", "9876543210x");
    rc = mk_file_get(fc, &vh, "/mem.txt", 8, &g);
    if (CHECKF(rc == 0, "/mem.txt after: %d", rc)) {
        CHECK(g->size == 11 && memcmp(g->data, "9876543210x", 11) == 0);
        mk_file_release(fc, g);
    }
out:
    mk_file_cache_free(fc);
    char p[256];
    snprintf(p, sizeof(p), "%s/root/mem.txt", tmpdir);
    unlink(p);
    snprintf(p, sizeof(p), "%s/root/other.txt", tmpdir);
    unlink(p);
}

/* DocumentRoot names a link that a deploy swaps to a new release: followed within a
 * second (it used to stay on the directory opened at start-up until a reload, and 404 once
 * that release was deleted); while DocumentRoot cannot be looked at, the last root stays. */
MK_TEST(document_root_link_swap)
{
    setup();
    char cur[256], tmp[256], p[256];
    for (int i = 1; i <= 2; i++) {
        snprintf(p, sizeof(p), "%s/rel%d", tmpdir, i);
        mkdir(p, 0755);
    }
    put_file("rel1/v.txt", "one");
    put_file("rel2/v.txt", "two");
    snprintf(cur, sizeof(cur), "%s/current", tmpdir);
    snprintf(tmp, sizeof(tmp), "%s/current.tmp", tmpdir);
    CHECK(symlink("rel1", cur) == 0);
    struct mk_vhost vh;
    memset(&vh, 0, sizeof(vh));
    vh.id = 3;
    vh.docroot = cur;
    vh.docroot_fd = open(cur, O_PATH | O_DIRECTORY | O_CLOEXEC);
    struct mk_file_cache_config cfg = {
        .default_mime = "text/plain",
        .max_entries = 16,
        .small_max = 4096,
        .mem_max = 1 << 20,
    };
    struct mk_file_cache *fc = mk_file_cache_new(&cfg);
    struct mk_file *f;
    mk_clock_update();
    int base = open_fds();
#define BODY_IS(want, what)                                                                        \
    do {                                                                                           \
        int rc_ = mk_file_get(fc, &vh, "/v.txt", 6, &f);                                           \
        if (CHECKF(rc_ == 0, "%s: %d", what, rc_)) {                                               \
            CHECKF(f->data && memcmp(f->data, want, 3) == 0, "%s: %.3s", what,                     \
                   f->data ? f->data : "(fd)");                                                    \
            mk_file_release(fc, f);                                                                \
        }                                                                                          \
    } while (0)
    BODY_IS("one", "before the swap");
    CHECK(symlink("rel2", tmp) == 0 && rename(tmp, cur) == 0);
    BODY_IS("one", "the same second");
    mk_clock.mono_sec++;
    BODY_IS("two", "a second later");
    snprintf(p, sizeof(p), "%s/rel1/v.txt", tmpdir);
    unlink(p);
    snprintf(p, sizeof(p), "%s/rel1", tmpdir);
    rmdir(p);
    unlink(cur); /* no DocumentRoot for a moment: the last root stays */
    mk_clock.mono_sec++;
    BODY_IS("two", "DocumentRoot missing");
    CHECK_EQ_INT(open_fds(), base + 1); /* the worker's own root fd */
#undef BODY_IS
    mk_file_cache_free(fc);
    CHECK_EQ_INT(open_fds(), base);
    close(vh.docroot_fd);
    snprintf(p, sizeof(p), "%s/rel2/v.txt", tmpdir);
    unlink(p);
    snprintf(p, sizeof(p), "%s/rel2", tmpdir);
    rmdir(p);
}

MK_TEST(zz_cleanup)
{
    char dir[64];
    snprintf(dir, sizeof(dir), "%s", tmpdir);
    cleanup();
    CHECKF(!dir[0] || access(dir, F_OK) < 0, "%s not removed", dir);
}

MK_TEST_MAIN("test_file")

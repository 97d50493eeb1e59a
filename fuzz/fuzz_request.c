/* Fuzz target: the whole request path in one process, from client bytes to response bytes.
 *
 * Input: the bytes a client sends on one connection (one or several pipelined requests,
 * bodies included).  Nothing else is encoded in it: how the bytes are cut into writes, the
 * keep-alive settings, a second connection sending the same bytes, clock jumps that fire
 * timers, a graceful shutdown -- all come from a hash of the input, so corpus files are
 * plain HTTP and every input replays exactly (the clock is simulated too).
 *
 * Set-up, once: a site in $TMPDIR (two virtual hosts; files served from memory and through
 * sendfile; a directory without index;
 * symbolic links, one pointing out of the document root at a file holding a marker; a
 * FIFO; custom error pages; access and error logs).  Every file's bytes are a function of
 * (file, offset), every size is different and every mtime is the same, so a body can be
 * checked against the file it claims to be and validators are stable.
 *
 * Each input: a fresh worker (mk_http_proto.worker_init), one or two socketpairs whose
 * server ends become struct mk_conn (on_accept); the client ends write while the harness
 * plays the scheduler of src/event/mk_sched.c: readiness flags, on_ready, posted
 * connections, timer expiry, the tick, graceful stop.  No epoll, no threads, no sleeps.
 * Finally the clients half-close, the server must close, the worker is torn down.
 *
 * Invariants: every response starts with "HTTP/1.1 ", has a well-formed head and a
 * Content-Length (except 1xx/304), nothing follows a "Connection: Close" response; 200 and
 * 206 bodies (single and multipart) are byte-exact slices of the file of that size; the
 * marker outside the document root never appears; final responses = requests counted by
 * the connection (on_timeout's 408 among them) = access log lines (a head cut by the timeout
 * has its 408 line, sent or not; a body never finished has its 400 or 408 line), 4xx/5xx =
 * error log lines, and no log line holds a raw control byte or an unescaped quote; an open
 * connection always has a timer; responses progress while the client reads; connections close within a bounded
 * number of steps after EOF and without a busy loop; after close the session is released,
 * timer lists are empty and no descriptor is left open (memory leaks: LeakSanitizer). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "core/mk_clock.h"
#include "core/mk_core.h"
#include "event/mk_sched.h"
#include "core/mk_logfile.h"
#include "http/mk_file.h"
#include "http/mk_http.h"
#include "http/mk_mime.h"
#include "http/mk_range.h"
#include "http/mk_vhost.h"

/* The marker holds a control byte: the server refuses one in a target, a Host or a decoded
 * path, so it can only reach a response inside a file's bytes.  (A printable marker was
 * found by the fuzzer in a Host header and echoed, rightly, in a redirect's Location.) */
#define SECRET "MK-FUZZ-SECRET\x01OUTSIDE-DOCROOT"
#define MAX_ON_READY 20000 /* calls per input before we call it a busy loop */
#define STALL_ROUNDS 64    /* scheduler rounds without progress before we call it a hang */
#define FD_WINDOW 32       /* descriptors watched for leaks, from the lowest free one */

struct site_file {
    const char *path; /* relative to the site's root */
    size_t size;
    char *data;
};

/* Sizes are all different: a response's length tells which file it carries. */
static struct site_file files[] = {
    {"www/index.html", 37, NULL},        {"www/one.txt", 1, NULL},
    {"www/four.txt", 4000, NULL}, /* in memory, yet larger than the smallest socket buffer */
    {"www/empty.txt", 0, NULL},          {"www/page.txt", 700, NULL},
    {"www/medium.bin", 5000, NULL},      {"www/big.bin", 40000, NULL},
    {"www/sub/index.html", 53, NULL},    {"www/sub/q&a<x>'\".txt", 11, NULL},
    {"www/sub/deep/f.css", 203, NULL},   {"site2/index.html", 29, NULL},
    {"site2/404.html", 45, NULL},        {"site2/err405.html", 6000, NULL},
    {"site2/dir.d/index.htm", 71, NULL},
};

/* Every file gets this mtime, so Last-Modified is the same in every run (and a dictionary
 * can hold it): Sun, 09 Sep 2001 01:46:40 GMT.  ETags also hold the ctime, which no set-up
 * can choose: inputs (corpus, dictionary) write a file's ETag as "SIZE-de0b6b3a7640000"
 * (size and mtime in ns, hexadecimal) and with_real_tags() makes it the real one. */
#define FILE_MTIME 1000000000
#define STABLE_TAG_END "-de0b6b3a7640000\""

/* The sites' logs: the access log of each site, one error log shared by both. */
enum { LOG_WWW, LOG_SITE2, LOG_ERROR, NLOGS };
static const char *const log_names[NLOGS] = {"www-access.log", "site2-access.log", "error.log"};
static int log_fd[NLOGS]; /* our own descriptors, to truncate and read them */

/* The site is built once per machine and shared by every fuzzing process (it is only read;
 * its name carries a hash of the file table, so a changed table gets a new site).  Logs
 * are per process, in a directory removed at exit. */
static char root[PATH_MAX];
static char logdir[PATH_MAX];
static const char *base; /* where put_file() and friends write: root's temporary twin */
static struct mk_http_config http_cfg;
static struct mk_sched_config sched_cfg;
static struct mk_vhost vhosts[2];
static char *indexfiles[] = {"index.html", "index.htm"};
#define NFILES (sizeof(files) / sizeof(files[0]))
static char real_tag[NFILES][64]; /* each file's ETag, as the server sends it */
static size_t real_tag_len[NFILES];

static int fd_base; /* the lowest descriptor number free after set-up */
/* Open in [fd_base, fd_base + FD_WINDOW) when the input started: taken per input, because
 * the sanitizer runtime may open descriptors of its own between inputs (the symbolizer's
 * pipes, when LeakSanitizer looks at an input). */
static bool fd_inherited[FD_WINDOW];

static char file_byte(size_t fi, size_t off)
{
    return (char)('a' + (off * 7 + fi * 3 + off / 26) % 26);
}

static void die_errno(const char *what)
{
    fprintf(stderr, "fuzz_request set-up: %s: %s\n", what, strerror(errno));
    abort();
}

static void mkdirs_for(const char *rel)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/%s", base, rel);
    for (char *s = p + strlen(base) + 1; (s = strchr(s, '/')); s++) {
        *s = '\0';
        if (mkdir(p, 0755) < 0 && errno != EEXIST)
            die_errno(p);
        *s = '/';
    }
}

static void put_file(const char *rel, const char *data, size_t n)
{
    const struct timespec t[2] = {{FILE_MTIME, 0}, {FILE_MTIME, 0}};
    char p[PATH_MAX];
    int fd;

    mkdirs_for(rel);
    snprintf(p, sizeof(p), "%s/%s", base, rel);
    fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, data, n) != (ssize_t)n || futimens(fd, t) < 0)
        die_errno(p);
    close(fd);
}

static void put_symlink(const char *target, const char *rel)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/%s", base, rel);
    if (symlink(target, p) < 0)
        die_errno(p);
}

static void remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            char p[PATH_MAX];
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
            remove_tree(p);
        }
        if (d)
            closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static void cleanup_logs(void)
{
    if (logdir[0])
        remove_tree(logdir);
}

static int open_dir(const char *rel)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/%s", root, rel);
    int fd = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        die_errno(p);
    return fd;
}

static bool fd_is_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0;
}

static void setup(void)
{
    static const char *const mime[][2] = {{"html", "text/html"},
                                          {"htm", "text/html"},
                                          {"txt", "text/plain"},
                                          {"css", "text/css"},
                                          {"bin", "application/octet-stream"}};
    char p[PATH_MAX];

    const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    uint64_t tag = fuzz_hash((const uint8_t *)SECRET, sizeof(SECRET));
    struct stat st;

    signal(SIGPIPE, SIG_IGN); /* as main.c does: sendfile to a closed peer */
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        files[i].data = malloc(files[i].size + 1);
        for (size_t k = 0; k < files[i].size; k++)
            files[i].data[k] = file_byte(i, k);
        tag = tag * 31 + fuzz_hash((const uint8_t *)files[i].path, strlen(files[i].path)) +
              files[i].size;
    }
    snprintf(root, sizeof(root), "%s/mk-fuzz-site-%u-%016llx", tmp, (unsigned)getuid(),
             (unsigned long long)tag);
    snprintf(p, sizeof(p), "%s/.complete", root);
    if (stat(p, &st) < 0) {
        /* Build it beside, then rename: concurrent fuzzers never see half a site. */
        char twin[PATH_MAX];
        snprintf(twin, sizeof(twin), "%s.tmp-XXXXXX", root);
        if (!mkdtemp(twin))
            die_errno("mkdtemp");
        base = twin;
        for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
            put_file(files[i].path, files[i].data, files[i].size);
        put_file("secret.txt", SECRET "\n", sizeof(SECRET));
        put_file("www/nodir/.keep", "", 0);
        put_symlink("index.html", "www/link.html");
        put_symlink("../secret.txt", "www/leak.txt");
        put_symlink(root, "www/rootlink");
        put_symlink("sub", "www/subl");
        snprintf(p, sizeof(p), "%s/www/fifo", twin);
        if (mkfifo(p, 0644) < 0)
            die_errno(p);
        put_file(".complete", "", 0);
        if (chmod(twin, 0755) < 0 || rename(twin, root) < 0) {
            if (errno != EEXIST && errno != ENOTEMPTY)
                die_errno(root);
            remove_tree(twin); /* another process was first */
        }
    }
    for (size_t i = 0; i < NFILES; i++) {
        snprintf(p, sizeof(p), "%s/%s", root, files[i].path);
        if (stat(p, &st) < 0)
            die_errno(p);
        real_tag_len[i] = mk_file_etag(&st, real_tag[i], sizeof(real_tag[i]));
    }
    /* A process killed by the fuzzer (a crash, AFL++ ending a run) cannot remove its logs:
     * the next one removes those whose process is gone. */
    char prefix[64];
    int plen = snprintf(prefix, sizeof(prefix), "mk-fuzz-logs-%u-", (unsigned)getuid());
    DIR *d = opendir(tmp);
    for (struct dirent *e; d && (e = readdir(d));) {
        long pid = strncmp(e->d_name, prefix, (size_t)plen) ? 0 : atol(e->d_name + plen);
        if (pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH) {
            snprintf(p, sizeof(p), "%s/%s", tmp, e->d_name);
            remove_tree(p);
        }
    }
    if (d)
        closedir(d);
    snprintf(logdir, sizeof(logdir), "%s/%s%ld", tmp, prefix, (long)getpid());
    if (mkdir(logdir, 0700) < 0 && errno != EEXIST)
        die_errno(logdir);
    atexit(cleanup_logs);

    struct mk_mime_table *mt = mk_mime_new();
    for (size_t i = 0; i < sizeof(mime) / sizeof(mime[0]); i++)
        mk_mime_add(mt, mime[i][0], mime[i][1]);

    vhosts[0].id = 0;
    vhosts[0].names[vhosts[0].nnames++] = "localhost";
    vhosts[0].names[vhosts[0].nnames++] = "127.0.0.1";
    vhosts[0].docroot = "www";
    vhosts[0].docroot_fd = open_dir("www");
    vhosts[0].error_pages[vhosts[0].nerror_pages++] =
        (struct mk_error_page){403, "/sub/index.html"};
    vhosts[0].error_pages[vhosts[0].nerror_pages++] = (struct mk_error_page){404, "/missing.html"};
    vhosts[1].id = 1;
    vhosts[1].names[vhosts[1].nnames++] = "example.com";
    vhosts[1].names[vhosts[1].nnames++] = "www.example.com";
    vhosts[1].docroot = "site2";
    vhosts[1].docroot_fd = open_dir("site2");
    vhosts[1].error_pages[vhosts[1].nerror_pages++] = (struct mk_error_page){404, "/404.html"};
    vhosts[1].error_pages[vhosts[1].nerror_pages++] = (struct mk_error_page){405, "/err405.html"};
    vhosts[1].error_pages[vhosts[1].nerror_pages++] = (struct mk_error_page){400, "/dir.d/"};

    /* Logs are opened before the workers start, like mk_server.c does; with no writer
     * thread mk_logbuf_flush() writes synchronously. */
    struct mk_logfile *lf[NLOGS];
    for (int i = 0; i < NLOGS; i++) {
        char err[256];
        snprintf(p, sizeof(p), "%s/%s", logdir, log_names[i]);
        lf[i] = mk_logfile_open(p, err, sizeof(err));
        if (!lf[i]) {
            fprintf(stderr, "fuzz_request set-up: %s\n", err);
            abort();
        }
        log_fd[i] = open(p, O_RDWR | O_CLOEXEC);
        if (log_fd[i] < 0)
            die_errno(p);
    }
    vhosts[0].access = lf[LOG_WWW];
    vhosts[0].errlog = lf[LOG_ERROR];
    vhosts[1].access = lf[LOG_SITE2];
    vhosts[1].errlog = lf[LOG_ERROR];

    http_cfg.keepalive = true;
    http_cfg.keepalive_timeout = 5;
    http_cfg.max_keepalive_request = 10;
    http_cfg.max_request_size = 8192; /* small, so that 413/414 and buffer growth are reached */
    http_cfg.indexfiles = indexfiles;
    http_cfg.nindex = 2;
    http_cfg.default_mime = "application/octet-stream";
    http_cfg.mime = mt;
    http_cfg.vhosts = vhosts;
    http_cfg.nvhosts = 2;
    http_cfg.file_cache_entries = 4; /* small, so that eviction happens */
    http_cfg.file_cache_small = 4096;
    mk_http_configure(&http_cfg);

    sched_cfg.workers = 1;
    sched_cfg.timeout[MK_TLIST_REQUEST] = 30;
    sched_cfg.timeout[MK_TLIST_KEEPALIVE] = 5;
    sched_cfg.timeout[MK_TLIST_LINGER] = 2;
    sched_cfg.proto = &mk_http_proto;
    sched_cfg.proto_config = &http_cfg;

    fd_base = dup(0);
    if (fd_base < 0)
        die_errno("dup");
    close(fd_base);
}

/* ---- the client side and the scheduler's part ------------------------------------------ */

#define NCLIENTS 2
#define CLOCK_START 1700000000 /* the simulated wall clock: Tue, 14 Nov 2023 22:13:20 GMT */
#define MONO_START 1000

struct client {
    struct mk_conn *c;
    int peer;
    char *out; /* everything this client received */
    size_t out_len, out_cap;
    size_t at; /* input bytes sent */
    unsigned mode;
    int nchunks;
    uint64_t rng;
};

struct run {
    struct mk_worker w;
    struct client cl[NCLIENTS];
    int ncl;
    unsigned on_ready_calls;
};

/* The worker's clock is simulated: deterministic Date headers, and timers that fire
 * without waiting. */
static void clock_set(time_t now, uint32_t mono)
{
    mk_clock.now = now;
    mk_clock.mono_sec = mono;
    mk_clock.mono_ns = (uint64_t)mono * 1000000000u;
    mk_http_date_format(now, mk_clock.date);
    mk_clock.date[MK_HTTP_DATE_LEN] = '\0';
}

static void drain(struct client *cl)
{
    for (;;) {
        if (cl->out_cap - cl->out_len < 65536) {
            cl->out_cap = cl->out_cap ? cl->out_cap * 2 : 131072;
            cl->out = realloc(cl->out, cl->out_cap);
            if (!cl->out)
                abort();
        }
        ssize_t n = read(cl->peer, cl->out + cl->out_len, cl->out_cap - cl->out_len);
        if (n > 0) {
            cl->out_len += (size_t)n;
            FUZZ_CHECK(cl->out_len < (64u << 20), "more than 64 MiB of responses");
            continue;
        }
        FUZZ_CHECK(n == 0 || errno == EAGAIN || errno == EWOULDBLOCK, "client read: %s",
                   strerror(errno));
        return;
    }
}

static void drain_all(struct run *r)
{
    for (int i = 0; i < r->ncl; i++)
        drain(&r->cl[i]);
}

static void on_ready(struct run *r, struct mk_conn *c)
{
    FUZZ_CHECK(++r->on_ready_calls < MAX_ON_READY, "busy loop: %u on_ready calls",
               r->on_ready_calls);
    /* The clients read everything at once, so the sockets are always writable again, and
     * a spurious readable flag only costs the server an EAGAIN. */
    c->rd_ready = true;
    c->wr_ready = true;
    mk_http_proto.on_ready(c);
}

/* One turn of the worker loop (mk_sched.c's phases 3-4): dispatch every connection, then
 * what was posted, the clients draining their sockets in between. */
static void sched_round(struct run *r)
{
    drain_all(r);
    for (int i = 0; i < r->ncl; i++)
        if (!r->cl[i].c->closed)
            on_ready(r, r->cl[i].c);
    for (int i = 0; r->w.posted_head; i++) {
        struct mk_conn *p = r->w.posted_head;
        FUZZ_CHECK(i < 1000, "connections post themselves forever");
        r->w.posted_head = r->w.posted_tail = NULL;
        while (p) {
            struct mk_conn *next = p->post_next;
            p->posted = false;
            drain_all(r);
            if (!p->closed)
                on_ready(r, p);
            p = next;
        }
    }
    drain_all(r);
    for (int i = 0; i < r->ncl; i++) {
        const struct mk_conn *c = r->cl[i].c;
        if (c->closed)
            continue;
        FUZZ_CHECK(c->tlist != MK_TLIST_NONE, "open connection in state %u without a timer",
                   c->state);
        FUZZ_CHECK(c->state <= MK_HTTP_LINGER, "state %u", c->state);
    }
}

/* Something that changes whenever the server does anything visible. */
static uint64_t progress(const struct run *r)
{
    uint64_t p = 0;
    for (int i = 0; i < r->ncl; i++)
        p += r->cl[i].out_len + r->cl[i].c->closed + r->cl[i].c->state * 7919u +
             r->cl[i].c->bytes_in;
    return p;
}

/* Run the worker until `done` holds; it must keep making progress meanwhile. */
static void run_until(struct run *r, bool (*done)(const struct run *), const char *what,
                      const uint8_t *in, size_t in_len)
{
    uint64_t last = progress(r);
    for (int idle = 0; !done(r); idle++) {
        if (idle == STALL_ROUNDS) {
            fuzz_dump("request", in, in_len);
            for (int i = 0; i < r->ncl; i++)
                fprintf(stderr, "connection %d: state %u closed %d, %zu bytes received\n", i,
                        r->cl[i].c->state, r->cl[i].c->closed, r->cl[i].out_len);
            FUZZ_CHECK(0, "%s: no progress in %d scheduler rounds", what, STALL_ROUNDS);
        }
        sched_round(r);
        uint64_t now = progress(r);
        if (now != last)
            idle = -1;
        last = now;
    }
}

static bool none_writing(const struct run *r)
{
    for (int i = 0; i < r->ncl; i++)
        if (!r->cl[i].c->closed && r->cl[i].c->state == MK_HTTP_WRITE)
            return false;
    return true;
}

static bool all_closed(const struct run *r)
{
    for (int i = 0; i < r->ncl; i++)
        if (!r->cl[i].c->closed)
            return false;
    return true;
}

/* Move the clock on by d seconds, then what the worker loop does once a second (phase 6):
 * expire the timers in order, tick. */
static void advance(struct run *r, uint32_t d)
{
    clock_set(mk_clock.now + d, mk_clock.mono_sec + d);
    for (int l = MK_TLIST_REQUEST; l < MK_TLIST_COUNT; l++) {
        struct mk_conn *c;
        while ((c = r->w.tlists[l].head) && (int32_t)(c->deadline - mk_clock.mono_sec) <= 0) {
            mk_sched_timer_clear(c);
            mk_http_proto.on_timeout(c);
            if (!c->closed)
                mk_sched_conn_close(c, MK_CLOSE_TIMEOUT, false);
        }
    }
    mk_http_proto.on_tick(&r->w);
    sched_round(r);
}

/* What begin_stop() does: idle connections are closed at once, others finish. */
static void begin_stop(struct run *r)
{
    r->w.stopping = 1;
    for (int i = 0; i < r->ncl; i++)
        if (!r->cl[i].c->closed && mk_http_proto.is_idle(r->cl[i].c))
            mk_sched_conn_close(r->cl[i].c, MK_CLOSE_SHUTDOWN, false);
}

static void send_chunk(struct run *r, struct client *cl, const uint8_t *p, size_t n)
{
    int stalls = 0;
    while (n > 0 && !cl->c->closed) {
        ssize_t k = write(cl->peer, p, n);
        if (k > 0) {
            p += k;
            n -= (size_t)k;
            stalls = 0;
        } else {
            FUZZ_CHECK(k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK), "client write: %s",
                       strerror(errno));
            if (++stalls > 8)
                return; /* the server stopped reading (e.g. lingering is over): give up */
        }
        sched_round(r);
    }
}

/* The next piece a client writes: all at once, in two, in random pieces, or in tiny ones
 * (only for short inputs: thousands of 1-byte writes cost more than they find). */
static size_t next_chunk(struct client *cl, size_t size)
{
    size_t n;
    switch (cl->mode) {
    case 0:
        n = size;
        break;
    case 1:
        n = cl->nchunks == 0 ? 1 + (size_t)(fuzz_rand(&cl->rng) % size) : size;
        break;
    case 2:
        n = 1 + (size_t)(fuzz_rand(&cl->rng) % 200);
        break;
    default:
        n = 1 + (size_t)(fuzz_rand(&cl->rng) % 8);
        break;
    }
    cl->nchunks++;
    return n < size - cl->at ? n : size - cl->at;
}

static void client_open(struct run *r, int i, uint64_t h, size_t size)
{
    struct client *cl = &r->cl[i];
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        die_errno("socketpair");
    /* A small send buffer makes responses hit EAGAIN and resume. */
    int sndbuf = (h >> (28 + i)) & 3 ? 4096 : 65536; /* the kernel's minimum is a bit above */
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    cl->peer = sv[1];
    cl->rng = h + (uint64_t)i * 0x51ed270b;
    cl->mode = (unsigned)(fuzz_rand(&cl->rng) & 3);
    if (cl->mode == 3 && size > 512)
        cl->mode = 2;

    struct mk_conn *c = calloc(1, sizeof(*c));
    if (!c)
        abort();
    c->fd = sv[0];
    c->worker = &r->w;
    c->gen = (uint32_t)i + 1;
    c->id = (uint64_t)i + 1;
    c->start_ns = mk_clock.mono_ns;
    cl->c = c;
    r->w.active++;
    r->w.accepted++;
    mk_http_proto.on_accept(c);
    FUZZ_CHECK(c->tlist != MK_TLIST_NONE, "accepted connection without a timer");
}

/* ---- checking the responses ------------------------------------------------------------ */

static const struct site_file *file_of_size(uint64_t size)
{
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        if (files[i].size == size)
            return &files[i];
    return NULL;
}

static bool starts_with(const char *p, size_t n, const char *lit)
{
    size_t k = strlen(lit);
    return n >= k && memcmp(p, lit, k) == 0;
}

static const char *find(const char *p, size_t n, const char *lit)
{
    return memmem(p, n, lit, strlen(lit));
}

struct head {
    int status;
    bool has_cl, conn_close, accept_ranges, multipart;
    uint64_t cl;
    const char *crange;
    size_t crange_len;
    const char *boundary; /* of a multipart/byteranges response */
    size_t boundary_len;
};

static bool ieq_prefix(const char *p, size_t n, const char *lit)
{
    size_t k = strlen(lit);
    if (n < k)
        return false;
    for (size_t i = 0; i < k; i++)
        if ((p[i] | 0x20) != (lit[i] | 0x20))
            return false;
    return true;
}

static bool parse_u64(const char *p, size_t n, uint64_t *v)
{
    *v = 0;
    if (n == 0 || n > 19)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        *v = *v * 10 + (uint64_t)(p[i] - '0');
    }
    return true;
}

/* "a-b/size" */
static bool parse_crange(const char *p, size_t n, uint64_t *a, uint64_t *b, uint64_t *size)
{
    const char *dash = memchr(p, '-', n), *slash = memchr(p, '/', n);
    return dash && slash && dash < slash && parse_u64(p, (size_t)(dash - p), a) &&
           parse_u64(dash + 1, (size_t)(slash - dash - 1), b) &&
           parse_u64(slash + 1, (size_t)(p + n - slash - 1), size) && *a <= *b && *b < *size;
}

static void check_slice(const char *body, uint64_t a, uint64_t b, uint64_t size)
{
    const struct site_file *f = file_of_size(size);
    FUZZ_CHECK(f, "range of a file of %llu bytes, which is not in the site",
               (unsigned long long)size);
    FUZZ_CHECK(memcmp(body, f->data + a, (size_t)(b - a + 1)) == 0,
               "bytes %llu-%llu differ from %s", (unsigned long long)a, (unsigned long long)b,
               f->path);
}

static void check_multipart(const char *body, uint64_t len, const struct head *h)
{
    const char *p = body, *end = body + len;
    char delim[64];
    int parts = 0;

    FUZZ_CHECK(h->boundary_len == MK_RANGE_BOUNDARY_LEN, "multipart: boundary of %zu bytes",
               h->boundary_len);
    int dl = snprintf(delim, sizeof(delim), "\r\n--%.*s", (int)h->boundary_len, h->boundary);
    for (;;) {
        FUZZ_CHECK(starts_with(p, (size_t)(end - p), delim), "multipart: no delimiter");
        p += dl;
        if (starts_with(p, (size_t)(end - p), "--\r\n")) {
            FUZZ_CHECK(p + 4 == end, "multipart: bytes after the closing delimiter");
            FUZZ_CHECK(parts >= 2, "multipart with %d part(s)", parts);
            return;
        }
        const char *hend = find(p, (size_t)(end - p), "\r\n\r\n");
        const char *cr = find(p, (size_t)(end - p), "Content-Range: bytes ");
        FUZZ_CHECK(hend && cr && cr < hend, "multipart: bad part head");
        cr += strlen("Content-Range: bytes ");
        const char *crend = find(cr, (size_t)(hend + 2 - cr), "\r\n");
        uint64_t a, b, size;
        FUZZ_CHECK(parse_crange(cr, (size_t)(crend - cr), &a, &b, &size),
                   "multipart: bad Content-Range");
        p = hend + 4;
        FUZZ_CHECK((uint64_t)(end - p) >= b - a + 1, "multipart: part longer than the body");
        check_slice(p, a, b, size);
        p += b - a + 1;
        parts++;
    }
}

/* Walk the response stream; returns the number of final (non-1xx) responses and, in
 * *errors, how many of them are 4xx/5xx. */
static unsigned check_responses(const char *o, size_t n, const uint8_t *in, size_t in_len,
                                unsigned *errors)
{
    size_t pos = 0;
    unsigned finals = 0;

    *errors = 0;
    FUZZ_CHECK(!find(o, n, SECRET), "a file outside the document root was served");
    while (pos < n) {
        const char *p = o + pos;
        size_t left = n - pos;
        struct head h = {0};

        if (!starts_with(p, left, "HTTP/1.1 ")) {
            fuzz_dump("request", in, in_len);
            fuzz_dump("response stream from here", p, left);
            FUZZ_CHECK(0, "response at offset %zu does not start with \"HTTP/1.1 \"", pos);
        }
        const char *hend = find(p, left, "\r\n\r\n");
        FUZZ_CHECK(hend, "response head at offset %zu is not terminated", pos);
        size_t hlen = (size_t)(hend - p) + 4;
        FUZZ_CHECK(hlen > 13 && p[9] >= '1' && p[9] <= '5' && p[10] >= '0' && p[10] <= '9' &&
                       p[11] >= '0' && p[11] <= '9' && p[12] == ' ',
                   "bad status line");
        h.status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');

        const char *line = memchr(p, '\n', hlen) + 1;
        while (line < hend + 2) {
            const char *eol = find(line, (size_t)(hend + 2 - line), "\r\n");
            size_t ll = (size_t)(eol - line);
            const char *colon = memchr(line, ':', ll);
            FUZZ_CHECK(colon && colon > line && colon[1] == ' ', "bad response header line");
            for (const char *q = line; q < eol; q++)
                FUZZ_CHECK((unsigned char)*q >= 0x20 && *q != 0x7f, "control byte in header");
            const char *v = colon + 2;
            size_t vl = (size_t)(eol - v);
            if (ieq_prefix(line, ll, "content-length:")) {
                FUZZ_CHECK(!h.has_cl, "two Content-Length headers");
                FUZZ_CHECK(parse_u64(v, vl, &h.cl), "bad Content-Length");
                h.has_cl = true;
            } else if (ieq_prefix(line, ll, "connection:")) {
                h.conn_close = ieq_prefix(v, vl, "close");
            } else if (ieq_prefix(line, ll, "accept-ranges:")) {
                h.accept_ranges = true;
            } else if (ieq_prefix(line, ll, "content-range:")) {
                h.crange = v;
                h.crange_len = vl;
            } else if (ieq_prefix(line, ll, "content-type: multipart/byteranges; boundary=")) {
                h.multipart = true;
                h.boundary = line + strlen("content-type: multipart/byteranges; boundary=");
                h.boundary_len = (size_t)(eol - h.boundary);
            }
            line = eol + 2;
        }

        pos += hlen;
        if (h.status < 200) {
            FUZZ_CHECK(h.status == 100 && !h.has_cl, "interim response %d", h.status);
            continue;
        }
        finals++;
        *errors += h.status >= 400;
        if (h.status == 304) {
            FUZZ_CHECK(!h.has_cl || h.cl == 0, "304 with a body");
        } else {
            FUZZ_CHECK(h.has_cl, "%d response without Content-Length", h.status);
            /* A HEAD response has no body: recognised by the next response (no file here
             * starts with "HTTP/1.1 ") or the end of the stream right after the head. */
            bool no_body = h.cl > 0 && (pos == n || starts_with(o + pos, n - pos, "HTTP/1.1 "));
            if (!no_body) {
                FUZZ_CHECK(h.cl <= n - pos, "%d response truncated: %llu of %llu body bytes",
                           h.status, (unsigned long long)(n - pos), (unsigned long long)h.cl);
                const char *body = o + pos;
                if (h.status == 200 && h.accept_ranges) {
                    const struct site_file *f = file_of_size(h.cl);
                    FUZZ_CHECK(f, "200 with a body of %llu bytes: no such file",
                               (unsigned long long)h.cl);
                    FUZZ_CHECK(memcmp(body, f->data, h.cl) == 0, "200 body differs from %s",
                               f->path);
                } else if (h.status == 206 && h.multipart) {
                    check_multipart(body, h.cl, &h);
                } else if (h.status == 206) {
                    uint64_t a, b, size;
                    FUZZ_CHECK(h.crange && starts_with(h.crange, h.crange_len, "bytes ") &&
                                   parse_crange(h.crange + 6, h.crange_len - 6, &a, &b, &size),
                               "206 without a valid Content-Range");
                    FUZZ_CHECK(h.cl == b - a + 1, "206 length %llu for range %llu-%llu",
                               (unsigned long long)h.cl, (unsigned long long)a,
                               (unsigned long long)b);
                    check_slice(body, a, b, size);
                }
                pos += h.cl;
            }
        }
        if (h.conn_close && pos < n) {
            fuzz_dump("request", in, in_len);
            FUZZ_CHECK(0, "%zu bytes sent after a \"Connection: Close\" response", n - pos);
        }
    }
    return finals;
}

/* Read a log written during this input; returns its length (the buffer is malloc'ed). */
static size_t read_log(int i, char **out)
{
    struct stat st;
    if (fstat(log_fd[i], &st) < 0)
        die_errno("fstat log");
    char *b = malloc((size_t)st.st_size + 1);
    if (!b)
        abort();
    ssize_t n = pread(log_fd[i], b, (size_t)st.st_size, 0);
    FUZZ_CHECK(n == st.st_size, "short read of %s", log_names[i]);
    *out = b;
    return (size_t)n;
}

/* Every line complete, printable (request bytes escaped), with exactly `quotes` raw '"':
 * a client must never be able to forge or split a log line. */
static unsigned check_log(int i, unsigned quotes, const uint8_t *in, size_t in_len)
{
    char *b;
    size_t n = read_log(i, &b);
    unsigned lines = 0, q = 0;

    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)b[k];
        if (c == '\n') {
            FUZZ_CHECK(q == quotes, "%s line %u has %u quotes, not %u", log_names[i], lines + 1, q,
                       quotes);
            lines++;
            q = 0;
            continue;
        }
        if (c < 0x20 || c >= 0x7f) {
            fuzz_dump("request", in, in_len);
            fuzz_dump(log_names[i], b, n);
            FUZZ_CHECK(0, "raw byte 0x%02x in %s", c, log_names[i]);
        }
        q += c == '"';
    }
    FUZZ_CHECK(n == 0 || b[n - 1] == '\n', "%s ends with an incomplete line", log_names[i]);
    free(b);
    return lines;
}

/* Descriptors opened since set-up and still open (one poll() call for the whole window). */
static int open_fds(void)
{
    struct pollfd p[FD_WINDOW];
    int n = 0;
    for (int i = 0; i < FD_WINDOW; i++)
        p[i] = (struct pollfd){.fd = fd_base + i, .events = 0};
    poll(p, FD_WINDOW, 0);
    for (int i = 0; i < FD_WINDOW; i++)
        n += !(p[i].revents & POLLNVAL) && !fd_inherited[i];
    return n;
}

/* A copy of the input with each "SIZE-de0b6b3a7640000" tag of a site file replaced by the
 * file's real ETag (sizes are all different), or NULL when it has none. */
static uint8_t *with_real_tags(const uint8_t *data, size_t *size)
{
    const size_t el = sizeof(STABLE_TAG_END) - 1, n = *size;
    const uint8_t *e = memmem(data, n, STABLE_TAG_END, el);
    if (!e)
        return NULL;
    uint8_t *out = malloc(n * 4 + 64); /* the shortest tag, 19 bytes, grows to under 60 */
    size_t o = 0, i = 0;
    if (!out)
        abort();
    for (; e; e = memmem(data + i, n - i, STABLE_TAG_END, el)) {
        size_t at = (size_t)(e - data), q = at, fi = NFILES;
        unsigned long long sz = 0;
        while (q > i && at - q < 16 && isxdigit(data[q - 1]))
            q--;
        if (q < at && q > i && data[q - 1] == '"') {
            for (size_t k = q; k < at; k++)
                sz = sz * 16 + (unsigned long long)(isdigit(data[k]) ? data[k] - '0'
                                                                      : (data[k] | 0x20) - 'a' + 10);
            for (size_t k = 0; k < NFILES; k++)
                if (files[k].size == sz)
                    fi = k;
        }
        if (fi < NFILES) {
            memcpy(out + o, data + i, q - 1 - i); /* up to the opening quote */
            o += q - 1 - i;
            memcpy(out + o, real_tag[fi], real_tag_len[fi]);
            o += real_tag_len[fi];
        } else {
            memcpy(out + o, data + i, at + el - i);
            o += at + el - i;
        }
        i = at + el;
    }
    memcpy(out + o, data + i, n - i);
    *size = o + n - i;
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    uint64_t h = fuzz_hash(data, size), ev = h ^ 0x9e3779b97f4a7c15ull;
    struct run r;

    if (!ready) {
        setup();
        ready = true;
    }
    uint8_t *own = with_real_tags(data, &size); /* h stays the original input's */
    if (own)
        data = own;
    memset(&r, 0, sizeof(r));
    for (int i = 0; i < FD_WINDOW; i++)
        fd_inherited[i] = fd_is_open(fd_base + i);
    for (int i = 0; i < NLOGS; i++)
        if (ftruncate(log_fd[i], 0) < 0)
            die_errno("ftruncate log");

    /* settings for this input */
    http_cfg.keepalive = (h & 7) != 0;
    http_cfg.max_keepalive_request = 1 + (uint32_t)((h >> 3) % 12);
    http_cfg.hide_version = (h >> 7) & 1;
    mk_http_configure(&http_cfg);
    clock_set(CLOCK_START, MONO_START);

    r.w.cfg = &sched_cfg;
    r.w.proto = &mk_http_proto;
    r.w.proto_ctx = mk_http_proto.worker_init(&r.w);

    /* One connection, or two sending the same bytes cut differently and interleaved, so
     * that they share the worker's file cache, response prefix and logs. */
    r.ncl = ((h >> 8) & 3) == 0 ? 2 : 1;
    for (int i = 0; i < r.ncl; i++)
        client_open(&r, i, h, size);

    /* One of these at a chunk boundary: the clock jumps past every timeout (responses in
     * progress finish first), or a graceful shutdown begins. */
    int big_event_at = ((h >> 12) & 7) == 0 ? (int)((h >> 16) % 8) : -1;
    bool big_is_stop = (h >> 20) & 1;

    for (int step = 0;; step++) {
        bool sent = false;
        for (int i = 0; i < r.ncl; i++) {
            struct client *cl = &r.cl[i];
            if (cl->at >= size || cl->c->closed)
                continue;
            size_t n = next_chunk(cl, size);
            send_chunk(&r, cl, data + cl->at, n);
            cl->at += n;
            sched_round(&r);
            sent = true;
        }
        if (!sent)
            break;
        /* small clock steps: Date and the cached 200 prefix change under responses in
         * progress, cached files are checked again, keep-alive and linger timers expire */
        uint64_t e = fuzz_rand(&ev);
        if ((e & 7) == 0)
            advance(&r, 1 + (uint32_t)((e >> 3) % 7));
        if (step == big_event_at) {
            if (big_is_stop) {
                begin_stop(&r);
            } else {
                /* responses in progress finish first: their clients are reading */
                run_until(&r, none_writing, "responses before the clock jump", data, size);
                advance(&r, 31);
            }
        }
    }

    /* End of input: the clients half-close; the server must close soon after. */
    for (int i = 0; i < r.ncl; i++)
        shutdown(r.cl[i].peer, SHUT_WR);
    run_until(&r, all_closed, "closing after EOF", data, size);
    drain_all(&r);

    /* every connection is closed: state released */
    FUZZ_CHECK(r.w.active == 0 && r.w.nclosed == (uint64_t)r.ncl, "active %u nclosed %llu",
               r.w.active, (unsigned long long)r.w.nclosed);
    for (int l = 0; l < MK_TLIST_COUNT; l++)
        FUZZ_CHECK(r.w.tlists[l].head == NULL && r.w.tlists[l].tail == NULL,
                   "timer list %d not empty after close", l);
    unsigned nclosed = 0;
    for (struct mk_conn *c = r.w.closed; c; c = c->close_next)
        nclosed++;
    FUZZ_CHECK(nclosed == (unsigned)r.ncl, "%u connections on the closed list", nclosed);

    unsigned answered = 0, errors_logged = 0;
    for (int i = 0; i < r.ncl; i++) {
        struct client *cl = &r.cl[i];
        struct mk_conn *c = cl->c;
        unsigned errors;

        /* Its descriptor is checked by the leak check after worker_exit, not here: the
         * file cache may already have reused the number. */
        FUZZ_CHECK(c->session == NULL, "session not released at close");
        if (getenv("MK_FUZZ_SHOW"))
            fuzz_dump("responses", cl->out, cl->out_len);
        unsigned finals = check_responses(cl->out, cl->out_len, data, size, &errors);
        /* on_timeout's 408, for a head or a body, is a request in the count like a 400; a
         * request cut short by the close counts, unanswered, and is logged all the same: a
         * 400 for a body the client stopped sending, a 408 whose answer could not be sent */
        bool abandoned = finals + 1 == c->requests;
        FUZZ_CHECK(finals == c->requests || abandoned,
                   "%u final responses for %u requests", finals, c->requests);
        answered += finals + abandoned;
        errors_logged += errors + abandoned;
        close(cl->peer);
        free(cl->out);
    }
    while (r.w.closed) {
        struct mk_conn *c = r.w.closed;
        r.w.closed = c->close_next;
        free(c);
    }
    mk_http_proto.worker_exit(&r.w); /* flushes the logs */

    unsigned logged = check_log(LOG_WWW, 6, data, size) + check_log(LOG_SITE2, 6, data, size);
    FUZZ_CHECK(logged == answered, "%u access log lines for %u responses", logged, answered);
    unsigned err_lines = check_log(LOG_ERROR, 2, data, size);
    FUZZ_CHECK(err_lines == errors_logged, "%u error log lines for %u error responses", err_lines,
               errors_logged);

    int leaked = open_fds();
    if (leaked)
        for (int fd = fd_base; fd < fd_base + FD_WINDOW; fd++) {
            char link[64], target[PATH_MAX];
            snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
            ssize_t n = readlink(link, target, sizeof(target) - 1);
            if (n > 0 && !fd_inherited[fd - fd_base])
                fprintf(stderr, "open fd %d -> %.*s\n", fd, (int)n, target);
        }
    FUZZ_CHECK(leaked == 0, "%d file descriptor(s) left open after the connections closed", leaked);
    free(own);
    return 0;
}

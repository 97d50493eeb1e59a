#include "mk_logfile.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mk_core.h"
#include "mk_log.h"

/* Every site may have two logs (MK_MAX_VHOSTS is 256), with room for the ones reloads add. */
#define MK_LOGFILE_MAX 1024
#define MK_LOGFILE_FAIL_EVERY 10 /* seconds between two reports of lost writes to one file */
/* Memory waiting for the disk; beyond it lines are dropped.  In bytes, not buffers: the tick
 * hands over one buffer per site log per worker, mostly a few lines each, and 256 sites with
 * two logs made more buffers than a count of 256 let through with the disk idle. */
#define MK_LOGBUF_QUEUE_BYTES (256 * MK_LOGBUF_SIZE)

struct mk_logfile {
    char *path;
    int fd;
    int id;
    unsigned long dropped; /* buffers dropped since the last report (the queue was full) */
    unsigned long failed;  /* writes refused since the last report (disk full, I/O error) */
    time_t dropped_report; /* CLOCK_MONOTONIC second of the last report; 0: none yet */
    time_t failed_report;
    bool created;         /* by this process: handed to User with mk_logfile_chown_created() */
    bool notices;         /* an error log: also told when another file cannot be reopened */
    bool unused;          /* named by no configuration since a reload: not reopened, not told */
};

struct pending {
    struct mk_logfile *file;
    char *data;
    size_t len;
    bool recycle; /* data is a whole MK_LOGBUF_SIZE buffer, for free_bufs */
    struct pending *next;
};

static struct mk_logfile *files[MK_LOGFILE_MAX];
static int nfiles;
/* Recursive: an error said under it (mk_err) is mirrored to the error logs in daemon mode
 * (mk_log_set_mirror), and mk_logfile_notice() takes it again. */
static pthread_mutex_t lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static struct pending *head, *tail;
static size_t queued; /* bytes held by the buffers waiting */
static char *free_bufs[32];
static int nfree_bufs;
static bool running, stopping;
static int reopen_flag; /* under lock */
static pthread_t writer;

/* Open for appending, never through a link.  *created says whether this call made the file
 * (O_EXCL tells; a plain O_CREAT does not), so that only our own files are given to User. */
static int open_log(const char *path, bool *created)
{
    int fd = -1;

    *created = false;
    /* O_NONBLOCK: opening a FIFO for writing would block until a reader came (start-up, a
     * reload, or the writer's reopen stuck for good); it is refused below.  Cleared then. */
    for (int tries = 0; fd < 0 && tries < 3; tries++) {
        fd = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0 && errno == ENXIO) /* a FIFO without a reader */
            errno = EINVAL;
        if (fd >= 0 || errno != ENOENT)
            break;
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK |
                            O_CLOEXEC, 0640);
        if (fd >= 0)
            *created = true;
        else if (errno != EEXIST)
            break; /* EEXIST: created by someone else meanwhile, open it as it is */
    }
    if (fd >= 0) {
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
            close(fd);
            errno = EINVAL;
            return -1;
        }
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0)
            (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    }
    return fd;
}

struct mk_logfile *mk_logfile_open(const char *path, char *err, size_t errlen)
{
    struct mk_logfile *f = NULL;

    /* Locked: a reload opens files while the writer runs.  Files are never closed before
     * mk_logfile_stop(), so old and new workers can share them. */
    pthread_mutex_lock(&lock);
    for (int i = 0; i < nfiles; i++)
        if (strcmp(files[i]->path, path) == 0) {
            f = files[i];
            if (f->unused) {
                /* Named again after a reload had dropped it: SIGUSR1 left it alone meanwhile,
                 * so it may have been rotated away.  dup2() swaps the file under the same
                 * descriptor at once, for a line the writer may still be writing to it. */
                bool created;
                int fd = open_log(path, &created);
                if (fd < 0 || dup2(fd, f->fd) < 0) {
                    snprintf(err, errlen, "%s: cannot open log file: %s", path, strerror(errno));
                    if (fd >= 0)
                        close(fd);
                    f = NULL;
                    goto out;
                }
                close(fd);
                f->created = f->created || created;
                f->unused = false;
            }
            goto out;
        }
    if (nfiles == MK_LOGFILE_MAX) {
        snprintf(err, errlen, "%s: too many log files", path);
        goto out;
    }
    bool created;
    int fd = open_log(path, &created);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot open log file: %s", path, strerror(errno));
        goto out;
    }
    f = mk_xcalloc(1, sizeof(*f));
    f->path = mk_xstrdup(path);
    f->fd = fd;
    f->created = created;
    f->id = nfiles;
    files[nfiles++] = f;
out:
    pthread_mutex_unlock(&lock);
    return f;
}

void mk_logfile_set_used(struct mk_logfile *const *logs, const bool *errlog, int n)
{
    pthread_mutex_lock(&lock);
    for (int i = 0; i < nfiles; i++) {
        files[i]->unused = true;
        files[i]->notices = false;
    }
    for (int i = 0; i < n; i++) {
        logs[i]->unused = false;
        logs[i]->notices = logs[i]->notices || errlog[i];
    }
    pthread_mutex_unlock(&lock);
}

int mk_logfile_chown_created(uid_t uid)
{
    int failed = 0;

    pthread_mutex_lock(&lock);
    for (int i = 0; i < nfiles; i++) {
        if (!files[i]->created)
            continue;
        if (fchown(files[i]->fd, uid, (gid_t)-1) < 0) { /* the owner only, as nginx */
            mk_err("cannot give log file '%s' to uid %ld: %s", files[i]->path, (long)uid,
                   strerror(errno));
            failed = -1;
        }
    }
    pthread_mutex_unlock(&lock);
    return failed;
}

int mk_logfile_id(const struct mk_logfile *f)
{
    return f->id;
}

int mk_logfile_count(void)
{
    pthread_mutex_lock(&lock); /* a reload opens files while workers start */
    int n = nfiles;
    pthread_mutex_unlock(&lock);
    return n;
}

/* The bytes not written when the file refuses them (disk full, I/O error), 0 when all went. */
static size_t write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return n; /* disk full or gone: nothing better to do than drop (and say so) */
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Write a message to the error logs (not to skip), dated and tagged as their other lines
 * are: "[29/Nov/2026:16:05:31 +0000] [error] msg".  Under the lock. */
static void notice_locked(enum mk_log_level level, const char *msg, size_t n,
                          const struct mk_logfile *skip)
{
    char line[MK_LOG_LINE_MAX + 128], date[64];
    struct tm tm;
    time_t now = time(NULL);

    /* Dated as the other lines of an error log (UTC, as mk_access_log.c writes them), not as
     * stderr's local time: one file, one format. */
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%d/%b/%Y:%H:%M:%S +0000", &tm);
    if (n > MK_LOG_LINE_MAX)
        n = MK_LOG_LINE_MAX;
    int len = snprintf(line, sizeof(line), "[%s] [%s] %.*s\n", date,
                       level == MK_LOG_ERROR ? "error" : "warn", (int)n, msg);
    if (len < 0)
        return;
    for (int i = 0; i < nfiles; i++)
        if (files[i]->notices && !files[i]->unused && files[i] != skip)
            (void)write_all(files[i]->fd, line, (size_t)len);
}

/* Lines of f lost (*count of `unit`s since the last report, for the reason `why`) are said
 * on stderr and in the other error logs, at most once every MK_LOGFILE_FAIL_EVERY seconds
 * (*last: the CLOCK_MONOTONIC second of the last report, 0 for none): an operator must learn
 * that a log has holes, without a flood of lines while the disk stays full or slow.  Under
 * the lock. */
static void report_loss_locked(struct mk_logfile *f, const char *why, const char *unit,
                               unsigned long *count, time_t *last)
{
    struct timespec ts;
    char msg[PATH_MAX + 256];

    if (*count == 0) /* the common case after every batch: no clock read for it */
        return;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    if (*last != 0 && ts.tv_sec - *last < MK_LOGFILE_FAIL_EVERY)
        return;
    *last = ts.tv_sec ? ts.tv_sec : 1;
    int n = snprintf(msg, sizeof(msg), "log file '%s': %s; %lu %s%s lost since the last report",
                     f->path, why, *count, unit, *count == 1 ? "" : "s");
    *count = 0;
    if (n < 0)
        return;
    mk_err("%s", msg);
    if (!mk_log_mirrored()) /* mirrored: mk_err() has written it there */
        notice_locked(MK_LOG_ERROR, msg, MK_MIN((size_t)n, sizeof(msg) - 1), f);
}

/* A write the disk refused (full, I/O error).  Workers write themselves when no writer runs. */
static void write_failed(struct mk_logfile *f, int e)
{
    char why[128];

    snprintf(why, sizeof(why), "write failed: %s", strerror(e));
    pthread_mutex_lock(&lock);
    f->failed++;
    report_loss_locked(f, why, "write", &f->failed, &f->failed_report);
    pthread_mutex_unlock(&lock);
}

/* Buffers the workers dropped because more than MK_LOGBUF_QUEUE_BYTES waited for the disk:
 * said once the writer is back from the write that held it.  Under the lock. */
static void report_dropped_locked(void)
{
    for (int i = 0; i < nfiles; i++)
        report_loss_locked(files[i], "the disk did not keep up (16 MiB of lines waiting)",
                           "buffer", &files[i]->dropped, &files[i]->dropped_report);
}

static void file_write(struct mk_logfile *f, const char *p, size_t n)
{
    if (write_all(f->fd, p, n) != 0)
        write_failed(f, errno);
}

void mk_logfile_notice(enum mk_log_level level, const char *msg, size_t n)
{
    pthread_mutex_lock(&lock);
    notice_locked(level, msg, n, NULL);
    pthread_mutex_unlock(&lock);
}

/* A file that cannot be reopened (its directory is not writable by User, say) keeps its old
 * descriptor, so no line is lost; the failure is said on stderr and in every error log, since
 * in daemon mode stderr is /dev/null. */
static void reopen_failed(const struct mk_logfile *f, int e)
{
    char msg[PATH_MAX + 256];
    int n = snprintf(msg, sizeof(msg),
                     "SIGUSR1: cannot reopen log file '%s': %s; lines still go to the file "
                     "opened before",
                     f->path, strerror(e));

    if (n < 0)
        return;
    mk_err("%s", msg);
    if (mk_log_mirrored()) /* mirrored: mk_err() has written it there */
        return;
    pthread_mutex_lock(&lock); /* notices is set by the thread that reloads */
    notice_locked(MK_LOG_ERROR, msg, MK_MIN((size_t)n, sizeof(msg) - 1), NULL);
    pthread_mutex_unlock(&lock);
}

static void do_reopen(void)
{
    pthread_mutex_lock(&lock);
    int n = nfiles;
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < n; i++) {
        bool created;
        pthread_mutex_lock(&lock);
        bool unused = files[i]->unused;
        pthread_mutex_unlock(&lock);
        if (unused) /* no configuration names it any more: a rotation must not recreate it */
            continue;
        int fd = open_log(files[i]->path, &created);
        if (fd < 0) {
            reopen_failed(files[i], errno); /* keep writing to the old file */
            continue;
        }
        /* Under the lock: mk_logfile_notice() writes to the error logs from any thread, and
         * must never hold a descriptor closed here, or already reused by the next open. */
        pthread_mutex_lock(&lock);
        int old = files[i]->fd;
        files[i]->fd = fd;
        close(old);
        pthread_mutex_unlock(&lock);
    }
}

static void *writer_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    for (;;) {
        while (!head && !stopping && !reopen_flag)
            pthread_cond_wait(&cond, &lock);
        if (reopen_flag) {
            reopen_flag = 0;
            pthread_mutex_unlock(&lock);
            do_reopen();
            pthread_mutex_lock(&lock);
        }
        struct pending *p = head;
        head = tail = NULL;
        queued = 0;
        if (!p && stopping)
            break;
        pthread_mutex_unlock(&lock);
        while (p) {
            struct pending *next = p->next;
            file_write(p->file, p->data, p->len);
            pthread_mutex_lock(&lock);
            if (p->recycle && nfree_bufs < (int)MK_ARRAY_SIZE(free_bufs)) {
                free_bufs[nfree_bufs++] = p->data;
                p->data = NULL;
            }
            pthread_mutex_unlock(&lock);
            free(p->data);
            free(p);
            p = next;
        }
        pthread_mutex_lock(&lock);
        report_dropped_locked();
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

int mk_logfile_start(void)
{
    if (nfiles == 0 || running)
        return 0;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&writer, NULL, writer_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return -1;
    running = true;
    return 0;
}

void mk_logfile_stop(void)
{
    if (running) {
        pthread_mutex_lock(&lock);
        stopping = true;
        pthread_cond_signal(&cond);
        pthread_mutex_unlock(&lock);
        pthread_join(writer, NULL);
        running = false;
    }
    for (int i = 0; i < nfiles; i++) {
        close(files[i]->fd);
        free(files[i]->path);
        free(files[i]);
    }
    nfiles = 0;
    for (int i = 0; i < nfree_bufs; i++)
        free(free_bufs[i]);
    nfree_bufs = 0;
}

void mk_logfile_reopen(void)
{
    pthread_mutex_lock(&lock);
    reopen_flag = 1;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&lock);
    if (!running)
        do_reopen();
}

void mk_logbuf_init(struct mk_logbuf *b, struct mk_logfile *f)
{
    b->file = f;
    b->data = NULL;
    b->len = 0;
}

void mk_logbuf_flush(struct mk_logbuf *b)
{
    if (!b->data || b->len == 0)
        return;
    if (!running) {
        file_write(b->file, b->data, b->len);
        b->len = 0;
        return;
    }
    struct pending *p = mk_xmalloc(sizeof(*p));
    p->file = b->file;
    p->len = b->len;
    p->next = NULL;
    /* A few lines (the tick's usual flush): handed over as a copy of their size, the worker
     * keeps its buffer, so that what waits in memory is about what waits for the disk. */
    bool recycle = b->len > MK_LOGBUF_SIZE / 4; /* p is the writer's once queued */
    p->recycle = recycle;
    if (recycle) {
        p->data = b->data;
    } else {
        p->data = mk_xmalloc(b->len);
        memcpy(p->data, b->data, b->len);
    }
    char *fresh = NULL;
    pthread_mutex_lock(&lock);
    size_t cost = recycle ? MK_LOGBUF_SIZE : p->len; /* the memory it holds */
    if (queued + cost > MK_LOGBUF_QUEUE_BYTES) {
        /* The disk cannot keep up: drop this buffer rather than stall the worker. */
        b->file->dropped++;
        pthread_mutex_unlock(&lock);
        if (!recycle)
            free(p->data);
        free(p);
        b->len = 0;
        return;
    }
    if (tail)
        tail->next = p;
    else
        head = p;
    tail = p;
    queued += cost;
    if (recycle && nfree_bufs)
        fresh = free_bufs[--nfree_bufs];
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&lock);
    if (recycle)
        b->data = fresh ? fresh : mk_xmalloc(MK_LOGBUF_SIZE);
    b->len = 0;
}

char *mk_logbuf_reserve(struct mk_logbuf *b, size_t n)
{
    if (n > MK_LOGBUF_SIZE)
        return NULL;
    if (!b->data)
        b->data = mk_xmalloc(MK_LOGBUF_SIZE);
    if (b->len + n > MK_LOGBUF_SIZE)
        mk_logbuf_flush(b);
    return b->data + b->len;
}

void mk_logbuf_free(struct mk_logbuf *b)
{
    mk_logbuf_flush(b);
    free(b->data);
    b->data = NULL;
}

void mk_logfile_write_now(struct mk_logfile *f, const char *p, size_t n)
{
    file_write(f, p, n);
}

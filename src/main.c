/* Monkey: command line, start-up, signals.  Wires the layers together:
 * configuration -> listeners (as root) -> daemon -> privileges -> tracing -> workers. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mk_core.h"
#include "core/mk_log.h"
#include "core/mk_logfile.h"
#include "mk_server.h"
#include "trace/mk_trace.h"

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: monkey [OPTION]...\n"
            "Monkey HTTP server: serves static files over HTTP/1.1.\n\n"
            "  -c, --configdir=DIR    configuration directory [%s]\n"
            "  -s, --serverconf=FILE  main configuration file, relative to DIR [monkey.conf]\n"
            "  -p, --port=N           listen on port N instead of the configured ports\n"
            "  -w, --workers=N        worker threads (0 = one per CPU)\n"
            "  -o, --docroot=DIR      serve DIR with the defaults, no configuration files\n"
            "  -u, --user=USER        user to run as when started as root (overrides User)\n"
            "  -D, --daemon           run in the background (writes PidFile)\n"
            "  -v, --version          print the version and exit\n"
            "  -b, --build            print build options and exit\n"
            "  -h, --help             print this help and exit\n\n"
            "Signals: SIGTERM/SIGINT stop (in-flight responses finish first), SIGHUP\n"
            "reloads the configuration, SIGUSR1 reopens the log files.\n",
            MK_SYSCONFDIR);
}

static void build_info(void)
{
    printf("Monkey HTTP Server v%s\n", MK_VERSION_STR);
    printf("configure:   %s\n", MK_CONFIGURE_ARGS[0] ? MK_CONFIGURE_ARGS : "(defaults)");
    printf("compiler:    %s\n", __VERSION__);
    printf("prefix:      %s\n", MK_PREFIX);
    printf("sysconfdir:  %s\n", MK_SYSCONFDIR);
    printf("default port %d\n", MK_DEFAULT_PORT);
    printf("debug:       %s\n", MK_HAVE_DEBUG ? "yes" : "no");
    printf("sanitizers:  %s\n", MK_HAVE_SANITIZER ? MK_SANITIZE_FLAGS : "none");
    printf("tracing:     %s\n", mk_trace_build_info());
    printf("event loops: epoll%s\n",
           MK_HAVE_IO_URING ? ", io_uring (EventLoop io_uring; liburing)" : " (built without io_uring)");
    printf("features:    SO_REUSEPORT, sendfile, openat2(RESOLVE_BENEATH)\n");
}

/* Plain decimal digits, as monkey.conf's numbers (mk_conf_get_int): strtol alone would also
 * take " 80" and "+80". */
static int parse_int(const char *s, int min, int max, int *out)
{
    char *end;
    long v;
    if (!isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = (int)v;
    return 0;
}

/* As many descriptors as the hard limit allows: each connection needs one. */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* -D: the launching process waits on a pipe until the daemon says it serves (one byte,
 * written by daemon_ready()) and exits 0, or exits 1 when the pipe closes without it (the
 * daemon failed and said why on the stderr it still shares).  So `monkey -D && ...`, and
 * systemd's Type=forking with PIDFile=, see a server that runs, with its pid file written. */
#define MK_DAEMON_READY 'R'

static int daemonize(int *ready_fd)
{
    int p[2];
    char c;

    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid > 0) {
        sigset_t none;
        ssize_t n;
        /* Ctrl-C while waiting stops the launcher, not the daemon (own session). */
        sigemptyset(&none);
        pthread_sigmask(SIG_SETMASK, &none, NULL);
        close(p[1]);
        do
            n = read(p[0], &c, 1);
        while (n < 0 && errno == EINTR);
        if (n == 1 && c == MK_DAEMON_READY)
            _exit(0);
        fprintf(stderr, "monkey: the daemon did not start\n");
        _exit(1);
    }
    close(p[0]);
    if (setsid() < 0)
        return -1;
    /* Second fork: the daemon is not a session leader and can never reacquire a tty. */
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid > 0)
        _exit(0);
    umask(027);
    if (chdir("/") < 0)
        return -1;
    /* stderr stays the launcher's until daemon_ready(): start-up errors reach the terminal. */
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -1;
    dup2(fd, 0);
    dup2(fd, 1);
    if (fd > 2)
        close(fd);
    *ready_fd = p[1];
    return 0;
}

/* The daemon serves: detach stderr, then release the launcher. */
static void daemon_ready(int *ready_fd)
{
    const char c = MK_DAEMON_READY;
    int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

    if (fd >= 0) {
        dup2(fd, 2);
        if (fd != 2)
            close(fd);
    }
    /* From now on errors and warnings (a refused reload, say) go to the error logs. */
    mk_log_set_mirror(mk_logfile_notice);
    if (write(*ready_fd, &c, 1) != 1) {
        /* The launcher is gone (killed while waiting): nobody to tell. */
    }
    close(*ready_fd);
    *ready_fd = -1;
}

/* The pid file belongs to the process: written once at start-up (as root, before the
 * privileges go) and kept open, so that at exit it can be emptied when unlink() is refused
 * (a root-owned file in sticky /tmp, the server now User).  A reload does not move it. */
static struct {
    char *path;
    int fd;
} pidfile = {NULL, -1};

/* Never through a link, never blocking (a FIFO), never truncating a file that is not ours
 * alone: the checks come before any change; then 0640, whatever mode a stale file had. */
static int pidfile_write(const char *path, char *err, size_t errlen)
{
    char buf[32];
    struct stat st;
    const char *why = NULL;
    int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0640);

    if (fd < 0) {
        why = errno == ELOOP   ? "it is a symbolic link"
              : errno == ENXIO ? "not a regular file"
                               : strerror(errno);
        snprintf(err, errlen, "cannot write pid file '%s': %s", path, why);
        return -1;
    }
    if (fstat(fd, &st) < 0)
        why = strerror(errno);
    else if (!S_ISREG(st.st_mode))
        why = "not a regular file";
    else if (st.st_nlink != 1)
        why = "it has other hard links";
    else if (st.st_uid != geteuid())
        why = "it belongs to another user";
    else if (fchmod(fd, 0640) < 0 || ftruncate(fd, 0) < 0)
        why = strerror(errno);
    if (!why) {
        errno = 0;
        int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
        if (write(fd, buf, (size_t)n) != n)
            why = strerror(errno ? errno : EIO);
    }
    if (why) {
        snprintf(err, errlen, "cannot write pid file '%s': %s", path, why);
        close(fd);
        return -1;
    }
    pidfile.path = mk_xstrdup(path);
    pidfile.fd = fd;
    return 0;
}

/* The file at the path is still the one we wrote, with our pid in it.  Not so when another
 * server was started with the same PidFile (it writes its own pid, as nginx's does): that
 * file is its, and the one to signal now. */
static bool pidfile_ours(void)
{
    char buf[32], mine[32];
    struct stat st, at;
    int n = snprintf(mine, sizeof(mine), "%ld\n", (long)getpid());
    ssize_t got = pread(pidfile.fd, buf, sizeof(buf), 0);

    if (lstat(pidfile.path, &at) < 0)
        return errno == ENOENT; /* gone: nothing to remove, unlink() says so */
    if (fstat(pidfile.fd, &st) < 0 || st.st_dev != at.st_dev || st.st_ino != at.st_ino)
        return false;
    return got == n && memcmp(buf, mine, (size_t)n) == 0;
}

/* At exit, or when start-up fails after the pid file was written: no stale pid remains, and
 * another server's pid file is left alone. */
static void pidfile_remove(void)
{
    if (pidfile.fd < 0)
        return;
    if (!pidfile_ours()) {
        mk_warn("pid file '%s' no longer holds our pid (another server wrote it): left in "
                "place", pidfile.path);
    } else if (unlink(pidfile.path) < 0 && errno != ENOENT) {
        int e = errno;
        if (ftruncate(pidfile.fd, 0) == 0)
            mk_warn("cannot remove pid file '%s': %s; emptied it instead", pidfile.path,
                    strerror(e));
        else
            mk_err("cannot remove pid file '%s' (%s) nor empty it (%s)", pidfile.path, strerror(e),
                   strerror(errno));
    }
    close(pidfile.fd);
    pidfile.fd = -1;
    free(pidfile.path);
    pidfile.path = NULL;
}

/* Started as root, the server binds its ports and opens its files, then becomes `user`
 * for good.  It refuses to serve as root unless told so explicitly ("User root"). */
static int drop_privileges(const char *user)
{
    struct passwd *pw;

    if (geteuid() != 0) {
        if (user && strcmp(user, "root") != 0)
            mk_info("not started as root: 'User %s' ignored", user);
        return 0;
    }
    if (!user) {
        mk_err("refusing to run as root: set 'User' to an unprivileged user (e.g. User "
               "www-data, or -u USER with -o), or 'User root' to run as root deliberately");
        return -1;
    }
    if (strcmp(user, "root") == 0) {
        mk_warn("running as root, as 'User root' asks");
        return 0;
    }
    pw = getpwnam(user);
    if (!pw) {
        mk_err("User '%s' does not exist", user);
        return -1;
    }
    /* As nginx does: User owns the log files we created, so that they can be rotated by
     * copy-and-truncate and recreated by SIGUSR1 in a directory User may write. */
    mk_logfile_chown_created(pw->pw_uid);
    if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
        mk_err("cannot switch to user '%s': %s", user, strerror(errno));
        return -1;
    }
    /* Verify: every id changed and root cannot be got back. */
    uid_t ru, eu, su;
    gid_t rg, eg, sg;
    if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0 || ru != pw->pw_uid ||
        eu != pw->pw_uid || su != pw->pw_uid || rg != pw->pw_gid || eg != pw->pw_gid ||
        sg != pw->pw_gid || getgroups(0, NULL) != 0 || setuid(0) == 0) {
        mk_err("privileges were not dropped completely");
        return -1;
    }
    mk_info("running as user %s (uid %ld, gid %ld)", user, (long)pw->pw_uid, (long)pw->pw_gid);
    return 0;
}

/* The log files of the running configuration: SIGUSR1 reopens these alone (not the ones a
 * reload dropped), and the error logs also hear about log files that SIGUSR1 could not
 * reopen. */
static void notice_to_error_logs(struct mk_server *srv)
{
    int n = 0, cap = 2 * srv->http.nvhosts + 1;
    struct mk_logfile **logs = mk_xcalloc((size_t)cap, sizeof(*logs));
    bool *errlog = mk_xcalloc((size_t)cap, sizeof(*errlog));

    for (int i = 0; i < srv->http.nvhosts; i++) {
        const struct mk_vhost *vh = &srv->http.vhosts[i];
        if (vh->access) {
            logs[n] = vh->access;
            errlog[n++] = false;
        }
        if (vh->errlog) {
            logs[n] = vh->errlog;
            errlog[n++] = true;
        }
    }
    mk_logfile_set_used(logs, errlog, n);
    free(logs);
    free(errlog);
}

/* The user chosen at start-up (-u, else User), when started as root: a reload cannot
 * switch to another one, only say so. */
static struct {
    const char *opt; /* -u */
    char *name;
} run_user;

/* Leave before the workers run, freeing what main() allocated (so that LeakSanitizer builds
 * exit with the intended status). */
static int early_exit(struct mk_server *srv, int rc)
{
    free(srv->confdir);
    free(srv->docroot_only);
    free(srv);
    free(run_user.name);
    return rc;
}

static bool same_path(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* Workers a reload replaced, with the configuration they still use: they finish their
 * responses (GracePeriod) while this thread goes on taking signals, so that a SIGTERM, a
 * SIGUSR1 or another SIGHUP is not held back until they are gone.  Joined and freed once they
 * have all left their loops. */
struct retiring {
    struct mk_server *srv;
    struct mk_worker *workers;
    struct retiring *next;
};
static struct retiring *retiring;

/* Joins the sets whose workers are all gone (wait: every set, waiting for them).  shutdown:
 * SIGTERM came, their idle connections close now: every set is told before any is waited
 * for, or the idle clients of an older set would be kept (and served) until a newer set's
 * responses in flight had ended. */
static void reap_retired(bool wait, bool shutdown)
{
    for (struct retiring *r = retiring; shutdown && r; r = r->next)
        mk_sched_stop_begin(r->workers, &r->srv->sched, MK_STOP_SHUTDOWN);
    for (struct retiring **p = &retiring; *p;) {
        struct retiring *r = *p;
        if (!wait && !mk_sched_stopped(r->workers, &r->srv->sched)) {
            p = &r->next;
            continue;
        }
        mk_sched_stop(r->workers, &r->srv->sched, MK_STOP_RELOAD);
        mk_server_free(r->srv);
        free(r->srv->confdir);
        free(r->srv);
        *p = r->next;
        free(r);
    }
}

/* SIGHUP: read the configuration again and replace the workers.  The new workers share the
 * listening sockets of the old ones (same addresses) and start accepting before the old ones
 * stop, which then finish their in-flight responses.  A bad configuration changes nothing. */
static struct mk_server *reload(struct mk_server *cur, struct mk_worker **workers)
{
    struct mk_server *next = mk_xcalloc(1, sizeof(*next));
    struct mk_worker *nw;
    char err[1024] = "";

    next->confdir = mk_xstrdup(cur->confdir);
    next->serverconf = cur->serverconf;
    next->docroot_only = cur->docroot_only;
    next->port = cur->port;
    next->workers = cur->workers;
    next->daemon = cur->daemon;
    if (mk_server_load(next, err, sizeof(err)) < 0) {
        mk_err("reload: %s; the running configuration stays in place", err);
        goto fail;
    }
    if (run_user.opt) {
        free(next->user);
        next->user = mk_xstrdup(run_user.opt);
    }
    if (run_user.name && !same_path(next->user, run_user.name))
        mk_warn("reload: User changed to '%s': it takes effect at the next start; the server "
                "stays '%s'",
                next->user ? next->user : "(none)", run_user.name);
    if (next->daemon && !same_path(next->pidfile, pidfile.path))
        mk_warn("reload: PidFile changed to '%s': it takes effect at the next start; the pid "
                "stays in '%s'",
                next->pidfile ? next->pidfile : "(none)", pidfile.path ? pidfile.path : "(none)");
    /* The log thread starts with the first log file: a reload may bring the first one. */
    if (mk_logfile_start() < 0) {
        mk_err("reload: cannot start the log writer; the running configuration stays in place");
        goto fail;
    }
    if (mk_sched_listen_reuse(&next->sched, *workers, &cur->sched, &nw) < 0) {
        mk_err("reload: cannot listen; the running configuration stays in place");
        goto fail;
    }
    if (mk_sched_start(nw, &next->sched) < 0) {
        mk_err("reload: cannot start the new workers");
        mk_sched_stop(nw, &next->sched, MK_STOP_SHUTDOWN);
        goto fail;
    }
    /* Said now, when the new workers serve: the old ones may take GracePeriod to finish. */
    mk_info("reload: configuration re-read, %d worker%s serving; the previous ones finish "
            "their responses within %u s",
            next->sched.workers, next->sched.workers == 1 ? "" : "s", cur->sched.grace_seconds);
    struct retiring *r = mk_xcalloc(1, sizeof(*r));
    r->srv = cur;
    r->workers = *workers;
    r->next = retiring;
    retiring = r;
    mk_sched_stop_begin(r->workers, &cur->sched, MK_STOP_RELOAD);
    *workers = nw;
    return next;
fail:
    mk_server_free(next);
    free(next->confdir);
    free(next);
    return cur;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"configdir", required_argument, NULL, 'c'}, {"serverconf", required_argument, NULL, 's'},
        {"port", required_argument, NULL, 'p'},      {"workers", required_argument, NULL, 'w'},
        {"docroot", required_argument, NULL, 'o'},   {"daemon", no_argument, NULL, 'D'},
        {"user", required_argument, NULL, 'u'},
        {"version", no_argument, NULL, 'v'},         {"build", no_argument, NULL, 'b'},
        {"help", no_argument, NULL, 'h'},            {NULL, 0, NULL, 0},
    };
    struct mk_server *srv = mk_xcalloc(1, sizeof(*srv));
    const char *confdir = MK_SYSCONFDIR;
    char err[1024] = "";
    char abs[PATH_MAX];
    struct mk_worker *workers;
    const char *user_opt = NULL;
    int ready_fd = -1;
    int opt;

    srv->serverconf = "monkey.conf";
    srv->workers = -1;
    while ((opt = getopt_long(argc, argv, "c:s:p:w:o:u:Dvbh", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': confdir = optarg; break;
        case 's': srv->serverconf = optarg; break;
        case 'p':
            if (parse_int(optarg, 1, 65535, &srv->port) < 0) {
                fprintf(stderr, "monkey: invalid port '%s'\n", optarg);
                return early_exit(srv, 2);
            }
            break;
        case 'w':
            if (parse_int(optarg, 0, 1024, &srv->workers) < 0) {
                fprintf(stderr, "monkey: invalid number of workers '%s'\n", optarg);
                return early_exit(srv, 2);
            }
            break;
        case 'o':
            free(srv->docroot_only);
            srv->docroot_only = mk_xstrdup(optarg);
            break;
        case 'D': srv->daemon = true; break;
        case 'u': user_opt = optarg; break;
        case 'v': printf("Monkey HTTP Server v%s\n", MK_VERSION_STR); return early_exit(srv, 0);
        case 'b': build_info(); return early_exit(srv, 0);
        case 'h': usage(stdout); return early_exit(srv, 0);
        default: usage(stderr); return early_exit(srv, 2);
        }
    }
    /* Block the signals we take with sigwait() before anything else: a SIGTERM that arrives
     * while starting (as soon as the pid file exists, say) then waits for the main loop and
     * stops the server cleanly instead of killing it.  Every thread inherits the mask, so
     * only this one takes them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    if (optind < argc) {
        fprintf(stderr, "monkey: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return early_exit(srv, 2);
    }

    /* Absolute paths: the daemon changes directory to /. */
    if (srv->docroot_only) {
        /* Made absolute but not resolved: a link a deploy swaps is followed (mk_file.c). */
        char cwd[PATH_MAX];
        if (srv->docroot_only[0] != '/' &&
            (!getcwd(cwd, sizeof(cwd)) ||
             snprintf(abs, sizeof(abs), "%s/%s", cwd, srv->docroot_only) >= (int)sizeof(abs))) {
            fprintf(stderr, "monkey: document root '%s': %s\n", srv->docroot_only,
                    strerror(errno ? errno : ENAMETOOLONG));
            return early_exit(srv, 1);
        }
        if (srv->docroot_only[0] != '/') {
            free(srv->docroot_only);
            srv->docroot_only = mk_xstrdup(abs);
        }
        srv->confdir = mk_xstrdup(".");
    } else {
        if (!realpath(confdir, abs)) {
            fprintf(stderr, "monkey: configuration directory '%s': %s\n", confdir,
                    strerror(errno));
            return early_exit(srv, 1);
        }
        srv->confdir = mk_xstrdup(abs);
    }
    if (mk_server_load(srv, err, sizeof(err)) < 0) {
        fprintf(stderr, "monkey: %s\n", err);
        mk_server_free(srv);
        return early_exit(srv, 1);
    }
    if (user_opt) {
        free(srv->user);
        srv->user = mk_xstrdup(user_opt);
    }
    run_user.opt = user_opt;
    if (geteuid() == 0 && srv->user)
        run_user.name = mk_xstrdup(srv->user);
    if (geteuid() == 0 && !srv->user) {
        /* Before binding anything: say it at once, not from a daemon's /dev/null. */
        fprintf(stderr, "monkey: refusing to run as root: set 'User' in %s to an unprivileged "
                        "user (e.g. User www-data; -u USER with -o), or 'User root' to run as "
                        "root deliberately\n",
                srv->docroot_only ? "the configuration" : srv->serverconf);
        mk_server_free(srv);
        return early_exit(srv, 1);
    }
    mk_http_configure(&srv->http);
    raise_nofile();
    signal(SIGPIPE, SIG_IGN);

    if (mk_sched_listen(&srv->sched, &workers) < 0) {
        mk_server_free(srv);
        return early_exit(srv, 1);
    }
    if (srv->daemon && daemonize(&ready_fd) < 0) {
        mk_err("cannot run in the background: %s", strerror(errno));
        return 1;
    }
    if (srv->daemon && srv->pidfile && pidfile_write(srv->pidfile, err, sizeof(err)) < 0) {
        mk_err("%s", err);
        return 1;
    }
    if (drop_privileges(srv->user) < 0) {
        pidfile_remove();
        return 1;
    }
    /* After daemonizing and dropping privileges, before any worker runs (see tracing.md). */
    mk_trace_init();
    if (mk_logfile_start() < 0) {
        mk_err("cannot start the log writer");
        pidfile_remove();
        return 1;
    }

    if (mk_sched_start(workers, &srv->sched) < 0) {
        pidfile_remove();
        return 1;
    }
    notice_to_error_logs(srv);

    mk_info("Monkey HTTP Server v%s, %d worker%s, pid %ld", MK_VERSION_STR, srv->sched.workers,
            srv->sched.workers == 1 ? "" : "s", (long)getpid());
    for (int i = 0; i < srv->sched.nlisten; i++)
        mk_info("listening on http://%s/", srv->sched.listen[i].text);
    if (srv->docroot_only)
        mk_info("serving %s", srv->docroot_only);
    if (ready_fd >= 0)
        daemon_ready(&ready_fd);

    for (;;) {
        int sig;
        if (retiring) {
            /* Looks every 100 ms for replaced workers that have left, until none remain. */
            const struct timespec step = {.tv_sec = 0, .tv_nsec = 100 * 1000 * 1000};
            sig = sigtimedwait(&set, NULL, &step);
            reap_retired(false, false);
            if (sig < 0)
                continue;
        } else if (sigwait(&set, &sig) != 0) {
            continue;
        }
        if (sig == SIGINT || sig == SIGTERM) {
            if (!mk_sched_failed())
                mk_info("signal %d: stopping", sig);
            break;
        }
        if (sig == SIGUSR1) {
            mk_info("SIGUSR1: reopening log files");
            mk_logfile_reopen();
        }
        if (sig == SIGHUP) {
            mk_info("SIGHUP: reloading the configuration");
            srv = reload(srv, &workers);
            notice_to_error_logs(srv);
        }
    }

    /* All at once: the current workers and those a reload replaced stop side by side. */
    mk_sched_stop_begin(workers, &srv->sched, MK_STOP_SHUTDOWN);
    reap_retired(true, true);
    mk_sched_stop(workers, &srv->sched, MK_STOP_SHUTDOWN);
    mk_sched_refused_rest(&srv->sched);
    mk_logfile_stop();
    pidfile_remove();
    mk_server_free(srv);
    return early_exit(srv, mk_sched_failed() ? 1 : 0);
}

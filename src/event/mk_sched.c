/* The scheduler: workers, listeners, the fd table, timers, connection lists and the epoll
 * loop.  The io_uring loop is src/event/mk_uring.c; mk_sched_int.h is what they share. */
#include "mk_sched.h"
#include "mk_sched_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "../core/mk_core.h"
#include "../core/mk_log.h"
#include "../core/mk_logfile.h"
#include "../core/mk_sys.h"
#include "../trace/mk_trace.h"

#define MK_EPOLL_BATCH 256
#define MK_ACCEPT_BATCH 64
#define MK_CONN_FREE_MAX 4096
#define MK_LISTEN_BACKLOG 4096
#define MK_TICK_LAG_NS 20000000 /* 20 ms: more than a jiffy of the coarse clock at HZ=100 */

/* Edge-triggered, registered once: no epoll_ctl per request.  Readiness is remembered in
 * rd_ready / wr_ready until a read or write says EAGAIN (nginx's model). */
#define MK_CONN_EVENTS (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)

static struct mk_log_limit emfile_limit;
static struct mk_log_limit refused_limit; /* MaxConnections refusals, for the error log */
static struct mk_log_limit refused_fd_limit; /* io_uring: descriptors over MK_URING_FD_MAX */

/* Open connections of the whole server, for MaxConnections only: one atomic add per
 * accept and per close (never per request), shared by the workers and, during a reload,
 * by both generations of them.  The kernel does not spread connections exactly evenly
 * over SO_REUSEPORT sockets, so a per-worker share would refuse too early. */
static uint32_t total_active;

int mk_sched_ncpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0)
            return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* ---- listen addresses ------------------------------------------------------------------ */

static int parse_port(const char *s, int *port)
{
    char *end;
    long v;

    if (*s == '\0' || strlen(s) > 5)
        return -1;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return -1;
    v = strtol(s, &end, 10);
    if (v < 1 || v > 65535)
        return -1;
    *port = (int)v;
    return 0;
}

static void listen_text(struct mk_listen_addr *a)
{
    char host[INET6_ADDRSTRLEN];
    if (a->addr.sa.sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &a->addr.in6.sin6_addr, host, sizeof(host));
        snprintf(a->text, sizeof(a->text), "[%s]:%u", host, ntohs(a->addr.in6.sin6_port));
    } else {
        inet_ntop(AF_INET, &a->addr.in4.sin_addr, host, sizeof(host));
        snprintf(a->text, sizeof(a->text), "%s:%u", host, ntohs(a->addr.in4.sin_port));
    }
}

int mk_listen_parse(const char *text, int addr_port, struct mk_listen_addr *out)
{
    char host[128];
    const char *port_s = NULL;
    int port = addr_port;

    memset(out, 0, sizeof(*out));
    if (strlen(text) >= sizeof(host))
        return -1;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close)
            return -1;
        memcpy(host, text + 1, (size_t)(close - text - 1));
        host[close - text - 1] = '\0';
        if (close[1] == '\0' && !addr_port)
            return -2; /* "[::1]": which port was meant is not ours to guess */
        if (close[1] != '\0' && close[1] != ':')
            return -1;
        port_s = close[1] ? close + 2 : NULL;
        if (port_s && parse_port(port_s, &port))
            return -1;
        out->addr.in6.sin6_family = AF_INET6;
        out->addr.in6.sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host, &out->addr.in6.sin6_addr) != 1)
            return -1;
        out->len = sizeof(struct sockaddr_in6);
        listen_text(out);
        return 0;
    }
    const char *colon = strrchr(text, ':');
    if (!colon && !strchr(text, '.')) {
        /* "2001": every address, IPv6 and IPv4 (dual-stack socket, see open_listener). */
        if (parse_port(text, &port))
            return -1;
        out->addr.in6.sin6_family = AF_INET6;
        out->addr.in6.sin6_port = htons((uint16_t)port);
        out->addr.in6.sin6_addr = in6addr_any;
        out->len = sizeof(struct sockaddr_in6);
        listen_text(out);
        return 0;
    }
    if (colon) {
        memcpy(host, text, (size_t)(colon - text));
        host[colon - text] = '\0';
        if (parse_port(colon + 1, &port))
            return -1;
    } else if (addr_port) {
        strcpy(host, text);
    } else {
        return -2; /* "127.0.0.1", as "[::1]" */
    }
    if (host[0] == '\0')
        return -1; /* ":2001": an address left out, or "*:2001" meant? */
    if (strcmp(host, "*") == 0) {
        out->addr.in6.sin6_family = AF_INET6;
        out->addr.in6.sin6_port = htons((uint16_t)port);
        out->addr.in6.sin6_addr = in6addr_any;
        out->len = sizeof(struct sockaddr_in6);
        listen_text(out);
        return 0;
    }
    out->addr.in4.sin_family = AF_INET;
    out->addr.in4.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &out->addr.in4.sin_addr) != 1)
        return -1;
    out->len = sizeof(struct sockaddr_in);
    listen_text(out);
    return 0;
}

static int open_listener(struct mk_listen_addr *a, bool reuseport)
{
    int one = 1, zero = 0;
    int fd = socket(a->addr.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0 && errno == EAFNOSUPPORT && a->addr.sa.sa_family == AF_INET6 &&
        IN6_IS_ADDR_UNSPECIFIED(&a->addr.in6.sin6_addr)) {
        /* No IPv6 on this host: "Listen 2001" falls back to IPv4 only. */
        uint16_t port = a->addr.in6.sin6_port;
        memset(&a->addr, 0, sizeof(a->addr));
        a->addr.in4.sin_family = AF_INET;
        a->addr.in4.sin_port = port;
        a->len = sizeof(struct sockaddr_in);
        listen_text(a);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    }
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
        goto fail;
    if (a->addr.sa.sa_family == AF_INET6) {
        /* The wildcard serves IPv4 too; a specific IPv6 address only itself. */
        int v6only = IN6_IS_ADDR_UNSPECIFIED(&a->addr.in6.sin6_addr) ? 0 : 1;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, v6only ? &one : &zero, sizeof(int));
    }
    /* Accepted sockets inherit TCP_NODELAY from the listener: no setsockopt per connection. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    /* Let accept() return once the request's first bytes are there, so they can be read at
     * once instead of after another trip through epoll_wait.  A client that connects and
     * stays silent is accepted after the kernel's SYN-ACK retries (a few seconds) and then
     * meets the request Timeout like any other. */
    int defer = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof(defer));
    if (bind(fd, &a->addr.sa, a->len) < 0 || listen(fd, MK_LISTEN_BACKLOG) < 0)
        goto fail;
    return fd;
fail: {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
}
}

static bool same_addr(const struct mk_listen_addr *a, const struct mk_listen_addr *b)
{
    return a->len == b->len && memcmp(&a->addr, &b->addr, a->len) == 0;
}

/* Whether another process listens on a: SO_REUSEPORT would otherwise let a second server
 * bind the same address and take half of its connections without a word.  A probe socket
 * without SO_REUSEPORT (with SO_REUSEADDR, so TIME_WAIT does not count) cannot bind then. */
static int probe_exclusive(const struct mk_listen_addr *a)
{
    int one = 1, zero = 0, rc = 0;
    int fd = socket(a->addr.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 && errno == EAFNOSUPPORT && a->addr.sa.sa_family == AF_INET6 &&
        IN6_IS_ADDR_UNSPECIFIED(&a->addr.in6.sin6_addr)) {
        /* No IPv6 here: open_listener falls back to the IPv4 wildcard, so probe that. */
        struct mk_listen_addr v4 = {.len = sizeof(struct sockaddr_in)};
        v4.addr.in4.sin_family = AF_INET;
        v4.addr.in4.sin_port = a->addr.in6.sin6_port;
        return probe_exclusive(&v4);
    }
    if (fd < 0)
        return 0; /* open_listener reports it */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (a->addr.sa.sa_family == AF_INET6) {
        int v6only = IN6_IS_ADDR_UNSPECIFIED(&a->addr.in6.sin6_addr) ? 0 : 1;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, v6only ? &one : &zero, sizeof(int));
    }
    if (bind(fd, &a->addr.sa, a->len) < 0 && errno == EADDRINUSE)
        rc = -1;
    close(fd);
    errno = EADDRINUSE;
    return rc;
}

static uint16_t addr_port(const struct mk_listen_addr *a)
{
    return a->addr.sa.sa_family == AF_INET6 ? a->addr.in6.sin6_port : a->addr.in4.sin_port;
}

/* The running workers' listening sockets for address a (all addresses if NULL), in worker
 * order, each socket once: the sockets a new generation takes over (after a shrink one old
 * worker may hold several; with ReusePort off, or after a grow as User, several workers hold
 * descriptors of one socket).  Returns how many were stored in fds (at most cap); the
 * descriptors are not duplicated. */
static int old_sockets(const struct mk_worker *old, const struct mk_sched_config *old_cfg,
                       const struct mk_listen_addr *a, int *fds, int cap)
{
    int n = 0;
    for (int k = 0; old && k < old_cfg->workers; k++)
        for (int j = 0; j < old[k].nlisteners; j++) {
            const struct mk_listener *l = &old[k].listeners[j];
            struct stat st, seen;
            if (l->fd < 0 || n >= cap || (a && !same_addr(&old_cfg->listen[l->addr_index], a)))
                continue;
            if (fstat(l->fd, &st) < 0)
                continue;
            bool dup_of_seen = false;
            for (int i = 0; i < n && !dup_of_seen; i++)
                dup_of_seen = fstat(fds[i], &seen) == 0 && seen.st_ino == st.st_ino &&
                              seen.st_dev == st.st_dev;
            if (!dup_of_seen)
                fds[n++] = l->fd;
        }
    return n;
}

/* Whether a socket that is not one of the running workers' listens on this port, read from
 * /proc/net/tcp and tcp6 (state 0A) and told apart by inode.  Asked when a new address's
 * probe failed on a port we listen on ("Listen 127.0.0.1:80" reloaded as "Listen 80"): the
 * probe meets our own sockets then, and only a stranger's must refuse the reload.  Without
 * /proc the answer is yes: better a refused reload than a silently shared port. */
static bool stranger_on_port(const struct mk_worker *old, const struct mk_sched_config *old_cfg,
                             uint16_t port)
{
    int fds[256];
    int n = old_sockets(old, old_cfg, NULL, fds, 256);
    ino_t ours[256];
    for (int i = 0; i < n; i++) {
        struct stat st;
        ours[i] = fstat(fds[i], &st) == 0 ? st.st_ino : 0;
    }
    static const char *const tables[] = {"/proc/net/tcp", "/proc/net/tcp6"};
    bool stranger = false, read_any = false;
    for (size_t t = 0; t < 2 && !stranger; t++) {
        FILE *f = fopen(tables[t], "re");
        if (!f)
            continue;
        read_any = true;
        char line[512];
        while (!stranger && fgets(line, sizeof(line), f)) {
            unsigned lport, state;
            unsigned long inode;
            /* sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode */
            if (sscanf(line,
                       " %*u: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x %*x:%*x %*x:%*x %*x %*u %*u "
                       "%lu",
                       &lport, &state, &inode) != 3 ||
                state != 0x0A || lport != ntohs(port))
                continue;
            stranger = true;
            for (int i = 0; i < n && stranger; i++)
                stranger = ours[i] != (ino_t)inode;
        }
        fclose(f);
    }
    return stranger || !read_any;
}

int mk_sched_listen(struct mk_sched_config *cfg, struct mk_worker **out)
{
    return mk_sched_listen_reuse(cfg, NULL, NULL, out);
}

/* Undo a failed mk_sched_listen_reuse. */
static void listen_undo(struct mk_worker *ws, int nws, int *shared, int nlisten)
{
    for (int k = 0; k < nws; k++) {
        for (int j = 0; j < ws[k].nlisteners; j++)
            if (ws[k].listeners[j].fd >= 0)
                close(ws[k].listeners[j].fd);
        free(ws[k].listeners);
    }
    for (int k = 0; k < nlisten; k++)
        if (shared[k] >= 0)
            close(shared[k]);
    free(ws);
}

int mk_sched_listen_reuse(struct mk_sched_config *cfg, const struct mk_worker *old,
                          const struct mk_sched_config *old_cfg, struct mk_worker **out)
{
    int shared[64];
    int total_old = 0;

    if (cfg->nlisten > 64)
        mk_die("too many Listen entries");
    for (int k = 0; old && k < old_cfg->workers; k++)
        total_old += old[k].nlisteners;
    int *pool = mk_xcalloc((size_t)total_old + 1, sizeof(int));
    if (old && cfg->reuseport != old_cfg->reuseport)
        mk_warn("ReusePort %s: the listening sockets kept from before stay as they are; it "
                "applies to new addresses and at the next start",
                cfg->reuseport ? "on" : "off");
    /* SO_REUSEPORT would let us join another process's sockets: every address the running
     * workers do not listen on is probed first, before any socket of ours can be in the way;
     * a probe that meets only our own sockets (same port, other address) is no conflict. */
    for (int i = 0; cfg->reuseport && i < cfg->nlisten; i++) {
        const struct mk_listen_addr *a = &cfg->listen[i];
        if (old_sockets(old, old_cfg, a, pool, 1) > 0 || probe_exclusive(a) == 0)
            continue;
        if (!old || stranger_on_port(old, old_cfg, addr_port(a))) {
            mk_err("%s: cannot listen on %s: %s", a->where, a->text, strerror(EADDRINUSE));
            free(pool);
            return -1;
        }
    }
    struct mk_worker *ws = mk_xcalloc((size_t)cfg->workers, sizeof(*ws));
    for (int i = 0; i < cfg->nlisten; i++)
        shared[i] = -1;
    /* Capacity: per address, a worker takes one socket or its share of the old ones. */
    size_t cap = (size_t)cfg->nlisten + (size_t)total_old / (size_t)cfg->workers + 1;
    /* Worker ids go on across reloads (the first generation is 0..workers-1, the next one
     * continues from there), so a trace never shows two threads as the same worker, nor a
     * worker's totals going back to zero.  Only the main thread gets here. */
    static int worker_ids;
    for (int w = 0; w < cfg->workers; w++) {
        ws[w].id = worker_ids++;
        ws[w].cfg = cfg;
        ws[w].epfd = -1;
        ws[w].wake_fd = -1;
        ws[w].tick_fd = -1;
        ws[w].listeners = mk_xcalloc(cap, sizeof(struct mk_listener));
        ws[w].nlisteners = 0;
    }
    for (int i = 0; i < cfg->nlisten; i++) {
        /* On a reload the running workers' sockets for this address are taken over: each
         * SO_REUSEPORT socket has its own accept queue, which closing it would reset.  They
         * are dealt out round the new workers (socket j to worker j mod workers), so fewer
         * workers take several, and more workers open new ones only past the sockets there
         * are: Workers 4 -> 2 -> 4 still has 4.  (A socket keeps the ReusePort mode it was
         * opened with; a changed ReusePort applies to new addresses and at the next start.) */
        int npool = old ? old_sockets(old, old_cfg, &cfg->listen[i], pool, total_old) : 0;
        for (int w = 0; w < cfg->workers; w++) {
            int fd = -1;
            for (int j = w; j < npool; j += cfg->workers) {
                fd = dup(pool[j]);
                if (fd < 0)
                    goto fail;
                ws[w].listeners[ws[w].nlisteners].fd = fd;
                ws[w].listeners[ws[w].nlisteners++].addr_index = i;
            }
            if (w < npool)
                continue;
            if (cfg->reuseport) {
                fd = open_listener(&cfg->listen[i], true); /* probed above */
                if (fd < 0 && npool > 0 && (errno == EADDRINUSE || errno == EACCES)) {
                    /* After the switch to User the kernel lets no socket of ours join the
                     * ones opened as root (nor bind a port below 1024), and a socket opened
                     * with ReusePort off takes no sibling: this worker shares one, woken with
                     * EPOLLEXCLUSIVE like the ReusePort-off sockets. */
                    int owner = w % npool;
                    mk_warn("%s: worker %d shares a listening socket with worker %d (%s; a "
                            "restart gives it its own)",
                            cfg->listen[i].text, w, owner, strerror(errno));
                    fd = dup(pool[owner]);
                    for (int j = 0; j < ws[owner].nlisteners; j++)
                        if (ws[owner].listeners[j].addr_index == i)
                            ws[owner].listeners[j].shared = true;
                    ws[w].listeners[ws[w].nlisteners].shared = true;
                }
            } else if (npool > 0) {
                fd = dup(pool[w % npool]);
            } else {
                /* One socket shared by every worker, woken with EPOLLEXCLUSIVE. */
                if (shared[i] < 0)
                    shared[i] = open_listener(&cfg->listen[i], false);
                fd = shared[i] < 0 ? -1 : dup(shared[i]);
            }
            if (fd < 0)
                goto fail;
            ws[w].listeners[ws[w].nlisteners].fd = fd;
            ws[w].listeners[ws[w].nlisteners++].addr_index = i;
            continue;
        fail: {
            int e = errno;
            if (old && geteuid() != 0 && (e == EADDRINUSE || e == EACCES))
                mk_err("%s: cannot listen on %s: %s (after the switch to User a reload cannot "
                       "open a socket beside ones opened as root, nor bind a port below 1024: "
                       "restart to apply)",
                       cfg->listen[i].where, cfg->listen[i].text, strerror(e));
            else
                mk_err("%s: cannot listen on %s: %s", cfg->listen[i].where, cfg->listen[i].text,
                       strerror(e));
            listen_undo(ws, cfg->workers, shared, cfg->nlisten);
            free(pool);
            return -1;
        }
        }
    }
    for (int i = 0; i < cfg->nlisten; i++)
        if (shared[i] >= 0)
            close(shared[i]);
    free(pool);
    *out = ws;
    return 0;
}

/* ---- the fd table ------------------------------------------------------------------------ */

static void fdt_grow(struct mk_worker *w, int fd)
{
    uint32_t cap = w->fdt_cap ? w->fdt_cap : 1024;
    while (cap <= (uint32_t)fd)
        cap *= 2;
    w->fdt = mk_xrealloc(w->fdt, cap * sizeof(*w->fdt));
    memset(w->fdt + w->fdt_cap, 0, (cap - w->fdt_cap) * sizeof(*w->fdt));
    w->fdt_cap = cap;
}

static inline struct mk_conn *fdt_get(struct mk_worker *w, int fd)
{
    struct mk_conn *c = (uint32_t)fd < w->fdt_cap ? w->fdt[fd] : NULL;
    MK_TRACE(epoll_state, fd, c ? "GET" : "GET: NOT FOUND");
    return c;
}

static inline void fdt_set(struct mk_worker *w, int fd, struct mk_conn *c)
{
    if ((uint32_t)fd >= w->fdt_cap)
        fdt_grow(w, fd);
    MK_TRACE(epoll_state, fd, w->fdt[fd] ? "SET: CHANGE" : "SET: NEW");
    w->fdt[fd] = c;
}

static inline void fdt_del(struct mk_worker *w, struct mk_conn *c)
{
    int fd = c->fd;
    if ((uint32_t)fd < w->fdt_cap && w->fdt[fd] == c) {
        w->fdt[fd] = NULL;
        MK_TRACE(epoll_state, fd, "DELETE");
    } else {
        MK_TRACE(epoll_state, fd, "DELETE: NOT FOUND");
    }
}

/* ---- timers and posted work ------------------------------------------------------------- */

void mk_sched_timer_clear(struct mk_conn *c)
{
    struct mk_tlist_head *l;

    if (c->tlist == MK_TLIST_NONE)
        return;
    l = &c->worker->tlists[c->tlist];
    if (c->tprev)
        c->tprev->tnext = c->tnext;
    else
        l->head = c->tnext;
    if (c->tnext)
        c->tnext->tprev = c->tprev;
    else
        l->tail = c->tprev;
    c->tprev = c->tnext = NULL;
    c->tlist = MK_TLIST_NONE;
}

void mk_sched_timer_set(struct mk_conn *c, enum mk_tlist list, enum mk_timeout_kind kind)
{
    struct mk_worker *w = c->worker;
    struct mk_tlist_head *l = &w->tlists[list];
    /* +1: timers are checked once a second, so a deadline in whole seconds fires between
     * `timeout` and `timeout + 1` seconds from now, never early. */
    uint32_t deadline = mk_clock.mono_sec + w->cfg->timeout[list] + 1;

    c->tkind = (uint8_t)kind;
    if (c->tlist == list && c->deadline == deadline)
        return; /* already there: every entry after it has this same, latest deadline */
    mk_sched_timer_clear(c);
    c->tlist = (uint8_t)list;
    c->deadline = deadline;
    c->tprev = l->tail;
    c->tnext = NULL;
    if (l->tail)
        l->tail->tnext = c;
    else
        l->head = c;
    l->tail = c;
}

/* Output the peer's window has let the kernel send: what was written, less what the socket
 * has not sent yet (SIOCOUTQNSD).  The window opens as the client reads.  (Not what it
 * acknowledged: bytes in flight when the wait began are acknowledged a moment later, by a
 * delayed ACK, by a peer that reads nothing.)  `prev` when the socket cannot say. */
__attribute__((cold, noinline)) int64_t mk__sched_peer_acked(const struct mk_conn *c,
                                                             int64_t prev)
{
    int unsent = 0;
    if (ioctl(c->fd, SIOCOUTQNSD, &unsent) < 0 || unsent < 0)
        return prev;
    return (int64_t)c->bytes_out - unsent;
}

/* The write timer expired: true (and the timer armed again) when the peer took bytes since
 * it was armed (the kernel could send more), though not enough to make room to wake us.
 * Armed without a sample (a queued send that never completed): this look is the first, so
 * the timer runs once more (a peer that takes nothing is cut one Timeout later). */
__attribute__((cold, noinline)) static bool write_progressed(struct mk_conn *c)
{
    int64_t now = mk__sched_peer_acked(c, c->acked);
    if (c->acked == MK_ACKED_UNKNOWN ? now == MK_ACKED_UNKNOWN : now <= c->acked)
        return false;
    c->acked = now;
    mk_sched_timer_set(c, MK_TLIST_REQUEST, MK_TIMEOUT_WRITE);
    return true;
}

void mk_sched_conn_post(struct mk_conn *c)
{
    struct mk_worker *w = c->worker;
    if (c->posted || c->closed)
        return;
    c->posted = true;
    c->post_next = NULL;
    if (w->posted_tail)
        w->posted_tail->post_next = c;
    else
        w->posted_head = c;
    w->posted_tail = c;
}

/* ---- connections ------------------------------------------------------------------------- */

static struct mk_conn *conn_alloc(struct mk_worker *w)
{
    struct mk_conn *c = w->free_conns;
    if (c) {
        w->free_conns = c->post_next;
        w->nfree--;
    } else {
        c = mk_xmalloc(sizeof(*c));
    }
    memset(c, 0, sizeof(*c));
    return c;
}

void mk_sched_conn_close(struct mk_conn *c, enum mk_close_reason reason, bool forced)
{
    struct mk_worker *w = c->worker;

    if (c->closed)
        return;
    if (forced)
        MK_TRACE(epoll, c->fd, "FORCED CLOSE");
    mk_sched_timer_clear(c);
    /* The protocol first: a request cut short is ended (request_end) before conn_close. */
    w->proto->on_close(c, reason);
    if (MK_TRACE_ENABLED(conn_close))
        MK_TRACE_DO(conn_close, c->id, c->fd, (int)reason, c->requests, c->bytes_in, c->bytes_out,
                    mk_clock_ns() - c->start_ns);
    c->closed = true;
    fdt_get(w, c->fd);
    fdt_del(w, c);
    /* close() also removes the fd from the epoll set: no epoll_ctl(DEL) needed.  Under
     * io_uring the close is queued behind the cancellations (mk__uring_conn_close). */
    if (!c->uring || !mk__uring_conn_close(c))
        close(c->fd);
    MK_TRACE(scheduler, c->fd, "DELETE_CLIENT");
    w->active--;
    w->nclosed++;
    if (w->cfg->max_connections)
        __atomic_sub_fetch(&total_active, 1, __ATOMIC_RELAXED);
    /* Its own link: a connection closed while it waits in the posted list keeps its place
     * there (run_posted skips it) until mk__sched_free_closed() can let it go. */
    c->close_next = w->closed;
    w->closed = c;
}

void mk__sched_free_closed(struct mk_worker *w)
{
    struct mk_conn *keep = NULL;
    while (w->closed) {
        struct mk_conn *c = w->closed;
        w->closed = c->close_next;
        if (c->posted) {
            /* Still linked in the posted list: freed after run_posted has passed it. */
            c->close_next = keep;
            keep = c;
            continue;
        }
        if (w->nfree < MK_CONN_FREE_MAX) {
            c->post_next = w->free_conns;
            w->free_conns = c;
            w->nfree++;
        } else {
            free(c);
        }
    }
    w->closed = keep;
}

void mk__sched_listeners_pause(struct mk_worker *w, bool pause)
{
    if (w->uring) {
        mk__uring_listeners(w, pause);
        w->accept_paused = pause;
        return;
    }
    for (int i = 0; i < w->nlisteners; i++) {
        struct epoll_event ev = {.events = EPOLLIN,
                                 .data.u64 = (uint64_t)(uint32_t)w->listeners[i].fd};
        /* A socket several workers watch wakes one of them.  (Old and new workers watch the
         * same sockets during a reload: begin_stop() takes what woke only the old one.) */
        if (!w->cfg->reuseport || w->listeners[i].shared)
            ev.events |= EPOLLEXCLUSIVE;
        if (w->listeners[i].fd < 0)
            continue;
        if (pause)
            epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->listeners[i].fd, NULL);
        else
            epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->listeners[i].fd, &ev);
    }
    w->accept_paused = pause;
}

static uint64_t conn_ids; /* the last connection id given, for the whole process */

/* Answer a connection the server cannot take with a short 503, without reading. */
static void over_capacity(int fd)
{
    static const char resp[] = "HTTP/1.1 503 Service Unavailable\r\n"
                               "Content-Length: 0\r\n"
                               "Connection: Close\r\n\r\n";
    MK_TRACE(scheduler, fd, "OVER_CAPACITY");
    /* Never registered, so no conn_accept/conn_close: the refusal is an INFO event of its
     * own, with no connection id. */
    MK_TRACE(error, 0, MK_ESITE_LIMIT, 0, 503);
    if (send(fd, resp, sizeof(resp) - 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
        /* The client is gone already: nothing to do. */
    }
    close(fd);
}

/* Refusals at MaxConnections are said on stderr and in the error logs (in no access log: no
 * request was read, and a flood would fill the disk; nginx says "worker_connections are not
 * enough" the same way), at most once every 10 s, with how many there were: the first at
 * once, the rest of a burst by the next refusal or the next tick (refused_summary()), or by
 * the stop (mk_sched_refused_rest()).  So are those of the io_uring loop over its descriptor
 * limit, counted apart: their cause is not MaxConnections. */
static void refused_say(const struct mk_sched_config *cfg, const struct mk_log_limit *l,
                        uint32_t n)
{
    char msg[192];
    int len;
    if (l == &refused_fd_limit)
        len = snprintf(msg, sizeof(msg),
                       "descriptor over %u, the io_uring loop's limit: %u new connection%s "
                       "refused with 503 since the last report",
                       MK_URING_FD_MAX, n, n == 1 ? "" : "s");
    else
        len = snprintf(msg, sizeof(msg),
                       "MaxConnections %u reached: %u new connection%s refused with 503 "
                       "since the last report",
                       cfg->max_connections, n, n == 1 ? "" : "s");
    if (len < 0)
        return;
    mk_warn("%s", msg);
    if (!mk_log_mirrored()) /* mirrored: mk_warn() has written it there */
        mk_logfile_notice(MK_LOG_WARN, msg, MK_MIN((size_t)len, sizeof(msg) - 1));
}

__attribute__((cold, noinline)) static void refused(const struct mk_worker *w,
                                                    struct mk_log_limit *l)
{
    uint32_t suppressed = 0;
    if (mk_log_allow(l, mk_clock.mono_sec, 10, &suppressed))
        refused_say(w->cfg, l, suppressed + 1);
}

__attribute__((cold, noinline)) static void refused_summary(const struct mk_worker *w)
{
    uint32_t n = 0;
    if (mk_log_due(&refused_limit, mk_clock.mono_sec, 10, &n))
        refused_say(w->cfg, &refused_limit, n);
    if (mk_log_due(&refused_fd_limit, mk_clock.mono_sec, 10, &n))
        refused_say(w->cfg, &refused_fd_limit, n);
}

void mk_sched_refused_rest(const struct mk_sched_config *cfg)
{
    uint32_t n;
    if ((n = mk_log_rest(&refused_limit)))
        refused_say(cfg, &refused_limit, n);
    if ((n = mk_log_rest(&refused_fd_limit)))
        refused_say(cfg, &refused_fd_limit, n);
}

/* Takes a slot of MaxConnections; false when there is one for this connection. */
static bool over_limit(struct mk_worker *w)
{
    if (__atomic_add_fetch(&total_active, 1, __ATOMIC_RELAXED) <= w->cfg->max_connections)
        return false;
    __atomic_sub_fetch(&total_active, 1, __ATOMIC_RELAXED);
    return true;
}

/* At MaxConnections a new client is worth more than a keep-alive connection that sits idle
 * (nginx reuses those too): close this worker's longest-idle one, an early keep-alive
 * expiry.  Without this, a few idle clients would refuse everyone else for KeepAliveTimeout.
 * The keep-alive list is in arming order, so its head is the longest idle; only a few
 * entries are looked at, so a full server does not walk all its connections per accept. */
static bool reclaim_idle(struct mk_worker *w)
{
    struct mk_conn *c = w->tlists[MK_TLIST_KEEPALIVE].head;
    for (int i = 0; c && i < 16; i++, c = c->tnext) {
        if (!c->closed && !c->posted && w->proto->is_idle(c)) {
            MK_TRACE(conn_timeout, c->id, c->fd, MK_TIMEOUT_KEEPALIVE);
            mk_sched_conn_close(c, MK_CLOSE_TIMEOUT, false);
            return true;
        }
    }
    return false;
}

struct mk_conn *mk__sched_conn_add(struct mk_worker *w, int fd, const union mk_sockaddr *peer,
                                   socklen_t plen)
{
    struct mk_conn *c = conn_alloc(w);
    c->fd = fd;
    c->worker = w;
    c->gen = ++w->gen ? w->gen : ++w->gen; /* 0 is reserved for listeners */
    /* Unique for the life of the process, across reloads and their new workers (traces
     * join events on it); 0 = no connection.  One relaxed atomic add per accept. */
    c->id = __atomic_add_fetch(&conn_ids, 1, __ATOMIC_RELAXED);
    c->start_ns = mk_clock_ns(); /* precise: conn_close reports the lifetime */
    if (peer)
        memcpy(&c->peer, peer, plen < sizeof(*peer) ? plen : sizeof(*peer));
    w->active++;
    w->accepted++;

    fdt_get(w, fd);
    fdt_set(w, fd, c);
    MK_TRACE(scheduler, fd, w->cfg->reuseport ? "ADD_CLIENT_REUSEPORT" : "ADD_CLIENT");
    return c;
}

void mk__sched_accept(struct mk_worker *w, struct mk_listener *l)
{
    /* The io_uring loop's poll reports new connections, not a queue left non-empty (epoll
     * reports the listener as long as it is readable): after a full batch it must come
     * back by itself. */
    l->more = false;
    for (int i = 0; i < MK_ACCEPT_BATCH; i++) {
        union mk_sockaddr peer;
        socklen_t plen = sizeof(peer);
        int fd = accept4(l->fd, &peer.sa, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            int e = errno;
            if (e == EAGAIN || e == EWOULDBLOCK)
                return;
            if (e == EINTR || e == ECONNABORTED || e == EPROTO)
                continue;
            MK_TRACE(error, 0, MK_ESITE_ACCEPT, e, 0);
            if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
                /* Out of descriptors: stop accepting for a second rather than spin on a
                 * listener that stays readable; closing connections will free some. */
                uint32_t suppressed = 0;
                if (mk_log_allow(&emfile_limit, mk_clock.mono_sec, 10, &suppressed))
                    mk_warn("accept: %s: pausing new connections for 1 s (%u similar messages "
                            "suppressed)",
                            strerror(e), suppressed);
                mk__sched_listeners_pause(w, true);
                w->accept_resume_sec = mk_clock.mono_sec + 1;
                return;
            }
            mk_warn("accept: %s", strerror(e));
            l->more = w->uring != NULL; /* as epoll would report the listener again */
            return;
        }
        if (mk_unlikely(w->uring && fd > MK_URING_FD_MAX)) {
            over_capacity(fd); /* io_uring's user data holds 24 bits of fd */
            refused(w, &refused_fd_limit);
            continue;
        }
        if (w->cfg->max_connections && over_limit(w) && (!reclaim_idle(w) || over_limit(w))) {
            over_capacity(fd);
            refused(w, &refused_limit);
            continue;
        }

        struct mk_conn *c = mk__sched_conn_add(w, fd, &peer, plen);

        struct epoll_event ev = {.events = MK_CONN_EVENTS,
                                 .data.u64 = (uint64_t)(uint32_t)fd | ((uint64_t)c->gen << 32)};
        if (w->uring) {
            c->uring = true; /* no registration: the first receive is armed below */
        } else if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            MK_TRACE(error, c->id, MK_ESITE_EPOLL, errno, 0);
            mk_sched_conn_close(c, MK_CLOSE_IO_ERROR, true);
            continue;
        }
        MK_TRACE(scheduler, fd, "REGISTERED");
        if (MK_TRACE_ENABLED(conn_accept)) {
            char host[INET6_ADDRSTRLEN] = "";
            int port = 0;
            /* An IPv4 client of a dual-stack listener ("Listen 2001") arrives as
             * ::ffff:a.b.c.d: name it a.b.c.d, as the access log does, so that a filter
             * such as 'peer == "10.0.*"' matches it. */
            if (peer.sa.sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&peer.in6.sin6_addr)) {
                inet_ntop(AF_INET, &peer.in6.sin6_addr.s6_addr[12], host, sizeof(host));
                port = ntohs(peer.in6.sin6_port);
            } else if (peer.sa.sa_family == AF_INET6) {
                inet_ntop(AF_INET6, &peer.in6.sin6_addr, host, sizeof(host));
                port = ntohs(peer.in6.sin6_port);
            } else if (peer.sa.sa_family == AF_INET) {
                inet_ntop(AF_INET, &peer.in4.sin_addr, host, sizeof(host));
                port = ntohs(peer.in4.sin_port);
            }
            MK_TRACE_DO(conn_accept, c->id, fd, w->id, host, port);
        }
        w->proto->on_accept(c);
        c->wr_ready = true;
        if (c->uring) {
            /* The receive armed now is issued with the loop pass's other requests, and
             * with TCP_DEFER_ACCEPT it usually completes at once. */
            mk__uring_after_ready(c);
            continue;
        }
        /* A new socket is writable, and with TCP_DEFER_ACCEPT its request is usually
         * already readable: serve it now rather than after the next epoll_wait. */
        c->rd_ready = true;
        if (MK__SCHED_TRACE_DISPATCH_ON) /* the spec's lookup of the new connection */
            mk__sched_trace_dispatch(fd, 0, w->fdt[fd], w->fdt[fd] == c);
        w->proto->on_ready(c);
    }
    l->more = w->uring != NULL; /* a full batch: more may wait in the queue */
}

__attribute__((cold, noinline)) void mk__sched_trace_events(int fd, uint32_t ev)
{
    if (ev & EPOLLIN)
        MK_TRACE_DO(epoll, fd, "EPOLLIN");
    if (ev & EPOLLOUT)
        MK_TRACE_DO(epoll, fd, "EPOLLOUT");
    if (ev & EPOLLRDHUP)
        MK_TRACE_DO(epoll, fd, "EPOLLRDHUP");
    if (ev & EPOLLHUP)
        MK_TRACE_DO(epoll, fd, "EPOLLHUP");
    if (ev & EPOLLERR)
        MK_TRACE_DO(epoll, fd, "EPOLLERR");
}

/* The spec's events for one connection event, in its order: the epoll flags, the fd-table
 * lookup, then what the scheduler made of it. */
__attribute__((cold, noinline)) void mk__sched_trace_dispatch(int fd, uint32_t ev,
                                                               const struct mk_conn *c, bool ok)
{
    if (MK_TRACE_ENABLED(epoll))
        mk__sched_trace_events(fd, ev);
    MK_TRACE(epoll_state, fd, c ? "GET" : "GET: NOT FOUND");
    MK_TRACE(scheduler, fd, ok ? "GET_CONNECTION" : "GET_FAILED");
}

static void dispatch(struct mk_worker *w, struct epoll_event *e)
{
    int fd = (int)(uint32_t)e->data.u64;
    uint32_t gen = (uint32_t)(e->data.u64 >> 32);
    uint32_t ev = e->events;

    if (gen == 0) {
        /* The worker's own descriptors are not traced: the tick is "TIMEOUT CHECK". */
        if (fd == w->wake_fd || fd == w->tick_fd) {
            uint64_t v;
            if (read(fd, &v, sizeof(v)) < 0) {
                /* A spurious wake-up: the stop flag and the clock are read anyway. */
            }
            return;
        }
        if (MK_TRACE_ENABLED(epoll))
            mk__sched_trace_events(fd, ev);
        for (int i = 0; i < w->nlisteners; i++)
            if (w->listeners[i].fd == fd) {
                /* Not when out of descriptors: another listener of this batch paused them all. */
                if (!w->accept_paused)
                    mk__sched_accept(w, &w->listeners[i]);
                return;
            }
        return;
    }

    /* The lookup is fdt_get() without its own trace site: one combined test per event. */
    struct mk_conn *c = (uint32_t)fd < w->fdt_cap ? w->fdt[fd] : NULL;
    if (mk_unlikely(!c || c->gen != gen || c->closed)) {
        if (MK__SCHED_TRACE_DISPATCH_ON)
            mk__sched_trace_dispatch(fd, ev, c, false);
        return;
    }
    if (MK__SCHED_TRACE_DISPATCH_ON)
        mk__sched_trace_dispatch(fd, ev, c, true);
    if (ev & EPOLLERR) {
        /* The socket failed (reset, unreachable): nothing more can be sent. */
        mk_sched_conn_close(c, MK_CLOSE_RESET, true);
        return;
    }
    if (ev & (EPOLLIN | EPOLLHUP | EPOLLRDHUP))
        c->rd_ready = true;
    if (ev & (EPOLLOUT | EPOLLHUP))
        c->wr_ready = true;
    if (ev & EPOLLRDHUP)
        c->peer_shut = true;
    w->proto->on_ready(c);
}

void mk__sched_run_posted(struct mk_worker *w)
{
    struct mk_conn *c = w->posted_head;

    /* Connections posted while running these wait for the next round, so one busy
     * connection cannot starve the others. */
    w->posted_head = w->posted_tail = NULL;
    while (c) {
        struct mk_conn *next = c->post_next;
        c->posted = false;
        if (!c->closed) {
            w->proto->on_ready(c);
            if (c->uring)
                mk__uring_after_ready(c);
        }
        c = next;
    }
}

static void expire_timers(struct mk_worker *w)
{
    MK_TRACE(epoll, 0, "TIMEOUT CHECK");
    for (int l = MK_TLIST_REQUEST; l < MK_TLIST_COUNT; l++) {
        struct mk_conn *c;
        while ((c = w->tlists[l].head) && (int32_t)(c->deadline - mk_clock.mono_sec) <= 0) {
            mk_sched_timer_clear(c);
            /* (appended again with a later deadline: this walk ends all the same) */
            if (c->tkind == MK_TIMEOUT_WRITE && !c->closed && write_progressed(c))
                continue;
            if (c->tkind == MK_TIMEOUT_REQ_INCOMPLETE)
                MK_TRACE(scheduler, c->fd, "TIMEOUT_REQ_INCOMPLETE");
            else
                MK_TRACE(scheduler, c->fd, "TIMEOUT_CONN_PENDING");
            MK_TRACE(conn_timeout, c->id, c->fd, c->tkind);
            w->proto->on_timeout(c);
            if (!c->closed)
                mk_sched_conn_close(c, MK_CLOSE_TIMEOUT, false);
        }
    }
}

static void close_idle(struct mk_worker *w)
{
    for (uint32_t fd = 0; fd < w->fdt_cap; fd++) {
        struct mk_conn *c = w->fdt[fd];
        if (c && !c->closed && w->proto->is_idle(c))
            mk_sched_conn_close(c, MK_CLOSE_SHUTDOWN, false);
    }
}

static void begin_stop(struct mk_worker *w)
{
    /* Stop accepting, close what is idle, and give the rest a grace period. */
    if (w->uring && !w->accept_paused)
        mk__uring_listeners(w, true);
    for (int i = 0; i < w->nlisteners; i++) {
        if (w->listeners[i].fd >= 0) {
            /* DEL first: after a reload another worker may hold a dup of this socket, and
             * the registration would outlive our fd.  (io_uring: the poll, cancelled by
             * the call above, goes with the next submission; a completion of it until then
             * finds no listener with that fd.) */
            if (!w->accept_paused && !w->uring) {
                epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->listeners[i].fd, NULL);
                /* An EPOLLEXCLUSIVE wake-up for a connection still queued may have come to
                 * us alone: take it now (from here on the new workers are woken), or it
                 * would wait for the next connection to wake them. */
                if (w->stop_mode == MK_STOP_RELOAD)
                    mk__sched_accept(w, &w->listeners[i]);
            }
            close(w->listeners[i].fd);
            w->listeners[i].fd = -1;
        }
    }
    /* One second more than asked: mono_sec counts whole seconds and the deadline is looked
     * at by the tick early in each second, so a stop that came late in a second would give
     * the responses in flight almost a second less (GracePeriod 1: a few milliseconds). */
    w->stop_deadline = mk_clock.mono_sec + w->cfg->grace_seconds + (w->cfg->grace_seconds > 0);
    if (w->stop_mode == MK_STOP_RELOAD)
        return; /* idle connections get their next answer with "Connection: Close" instead:
                 * closing them now would race with a request already on its way */
    close_idle(w);
}

void mk__sched_close_all(struct mk_worker *w)
{
    for (uint32_t fd = 0; fd < w->fdt_cap; fd++) {
        struct mk_conn *c = w->fdt[fd];
        if (c && !c->closed)
            mk_sched_conn_close(c, MK_CLOSE_SHUTDOWN, false);
    }
    for (struct mk_conn *c = w->posted_head; c; c = c->post_next)
        c->posted = false; /* all closed: nothing will run */
    w->posted_head = w->posted_tail = NULL;
    mk__sched_free_closed(w);
}

/* The end of a loop pass, common to both event loops: posted connections, freeing, the
 * stop request and the once-a-second work.  True when the worker must leave its loop. */
bool mk__sched_pass_end(struct mk_worker *w, bool *stopping)
{
    if (w->posted_head)
        mk__sched_run_posted(w);
    mk__sched_free_closed(w);

    int how = __atomic_load_n(&w->stopping, __ATOMIC_ACQUIRE);
    if (mk_unlikely(how != w->stop_mode)) {
        /* A stop, or a shutdown after a reload's stop (SIGTERM while the workers a reload
         * replaced finish): the idle connections close now, the deadline stays. */
        bool first = !*stopping;
        *stopping = true;
        w->stop_mode = how;
        if (first)
            begin_stop(w);
        else
            close_idle(w);
        mk__sched_free_closed(w);
    }
    if (w->last_tick != mk_clock.mono_sec) {
        w->last_tick = mk_clock.mono_sec;
        expire_timers(w);
        if (w->accept_paused && !*stopping &&
            (int32_t)(mk_clock.mono_sec - w->accept_resume_sec) >= 0)
            mk__sched_listeners_pause(w, false);
        if (w->proto->on_tick)
            w->proto->on_tick(w);
        if (mk_unlikely(__atomic_load_n(&refused_limit.suppressed, __ATOMIC_RELAXED) |
                        __atomic_load_n(&refused_fd_limit.suppressed, __ATOMIC_RELAXED)))
            refused_summary(w);
        MK_TRACE(worker_stats, w->id, w->active, w->accepted, w->nclosed, w->requests);
        mk__sched_free_closed(w);
    }
    return *stopping && (w->active == 0 || (int32_t)(mk_clock.mono_sec - w->stop_deadline) >= 0);
}

/* Returns 0 when the worker stops, or the errno of a failed epoll_wait (mk__uring_loop: of
 * a failed io_uring_enter). */
static int epoll_loop(struct mk_worker *w)
{
    struct epoll_event events[MK_EPOLL_BATCH];
    bool stopping = false;

    for (;;) {
        /* No timeout: the tick comes from tick_fd, so epoll_wait neither reads the clock
         * nor arms a kernel timer on every call. */
        int n = mk_sys_epoll_wait(w->epfd, events, MK_EPOLL_BATCH, w->posted_head ? 0 : -1);
        if (n < 0 && errno != EINTR) {
            int e = errno;
            mk_err("worker %d: epoll_wait: %s", w->id, strerror(e));
            return e;
        }
        mk_clock_update();
        for (int i = 0; i < n; i++)
            dispatch(w, &events[i]);
        if (mk__sched_pass_end(w, &stopping))
            return 0;
    }
}

/* The worker's own descriptors in its epoll set (listeners: mk__sched_listeners_pause). */
static void epoll_register(struct mk_worker *w)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)(uint32_t)w->wake_fd};
    epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->wake_fd, &ev);
    ev.data.u64 = (uint64_t)(uint32_t)w->tick_fd;
    epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->tick_fd, &ev);
    mk__sched_listeners_pause(w, false);
}

static int sched_failed;

bool mk_sched_failed(void)
{
    return __atomic_load_n(&sched_failed, __ATOMIC_ACQUIRE) != 0;
}

/* The worker's event loop failed: an error the loop cannot go on from (a bug or a broken
 * kernel object, not a load condition).  Its listening sockets close now, so the kernel
 * gives new connections to the other workers instead of queueing them where nobody accepts
 * (the ones already queued here are reset); its connections close when it returns.  Then
 * the whole server stops, as after SIGTERM, and exits with status 1 for a supervisor to
 * restart it: a server that answers with a worker less is harder to notice than one that
 * stops. */
static void worker_failed(struct mk_worker *w, int err)
{
    MK_TRACE(error, 0, MK_ESITE_EPOLL, err, 0);
    for (int i = 0; i < w->nlisteners; i++) {
        if (w->listeners[i].fd >= 0) {
            close(w->listeners[i].fd);
            w->listeners[i].fd = -1;
        }
    }
    mk_err("worker %d: its event loop failed; the server stops (exit status 1)", w->id);
    __atomic_store_n(&sched_failed, 1, __ATOMIC_RELEASE);
    kill(getpid(), SIGTERM); /* the main thread takes it in sigwait() */
}

static void *worker_main(void *arg)
{
    struct mk_worker *w = arg;

    mk_clock_update();
    w->last_tick = mk_clock.mono_sec;
    w->proto_ctx = w->proto->worker_init ? w->proto->worker_init(w) : NULL;
    int err;
    if (w->use_uring && mk__uring_start(w)) {
        err = mk__uring_loop(w);
    } else {
        epoll_register(w);
        err = epoll_loop(w);
    }
    if (err)
        worker_failed(w, err);
    mk__sched_close_all(w);
    /* The ring first: the cancellations and closes just queued reach the kernel before the
     * protocol frees the sessions and cached files that queued sends pointed at (their
     * sockets were shut down when they closed, so such a send can no longer copy a byte). */
    if (w->uring) {
        mk__uring_free(w->uring);
        w->uring = NULL;
    }
    if (w->proto->worker_exit)
        w->proto->worker_exit(w);
    __atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

int mk_sched_start(struct mk_worker *ws, const struct mk_sched_config *cfg)
{
    bool uring = false;
    if (cfg->loop == MK_LOOP_URING) {
        int rc = mk_sched_uring_probe();
        if (rc == 0)
            uring = true;
        else
            mk_warn("EventLoop io_uring: %s; using epoll",
                    rc == -ENOSYS ? "not built in (configure found no liburing)" : strerror(-rc));
    }
    for (int i = 0; i < cfg->workers; i++) {
        struct mk_worker *w = &ws[i];
        w->proto = cfg->proto;
        w->epfd = epoll_create1(EPOLL_CLOEXEC);
        w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        w->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (w->epfd < 0 || w->wake_fd < 0 || w->tick_fd < 0) {
            mk_err("worker %d: %s", i, strerror(errno));
            return -1;
        }
        /* Every second, MK_TICK_LAG_NS after the second starts: the worker reads the coarse
         * clock, which may lag the precise one by a jiffy, and must see the new second. */
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        struct itimerspec its = {.it_interval = {.tv_sec = 1},
                                 .it_value = {.tv_sec = now.tv_sec + 1,
                                              .tv_nsec = MK_TICK_LAG_NS}};
        if (timerfd_settime(w->tick_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0) {
            mk_err("worker %d: timerfd_settime: %s", i, strerror(errno));
            return -1;
        }
        w->use_uring = uring; /* the worker registers its descriptors itself */
    }
    for (int i = 0; i < cfg->workers; i++) {
        int err = pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]);
        if (err) {
            mk_err("cannot start worker %d: %s", i, strerror(err));
            return -1;
        }
        ws[i].started = true;
    }
    return 0;
}

void mk_sched_stop_begin(struct mk_worker *ws, const struct mk_sched_config *cfg, int how)
{
    for (int i = 0; i < cfg->workers; i++) {
        uint64_t one = 1;
        /* Only the main thread writes it. */
        int was = __atomic_load_n(&ws[i].stopping, __ATOMIC_RELAXED);
        if (!ws[i].started || was == how || was == MK_STOP_SHUTDOWN)
            continue;
        __atomic_store_n(&ws[i].stopping, how, __ATOMIC_RELEASE);
        if (write(ws[i].wake_fd, &one, sizeof(one)) < 0) {
            /* The counter is full: the worker is awake anyway. */
        }
    }
}

bool mk_sched_stopped(const struct mk_worker *ws, const struct mk_sched_config *cfg)
{
    for (int i = 0; i < cfg->workers; i++)
        if (ws[i].started && !__atomic_load_n(&ws[i].done, __ATOMIC_ACQUIRE))
            return false;
    return true;
}

void mk_sched_stop(struct mk_worker *ws, const struct mk_sched_config *cfg, int how)
{
    mk_sched_stop_begin(ws, cfg, how);
    for (int i = 0; i < cfg->workers; i++) {
        struct mk_worker *w = &ws[i];
        if (w->started)
            pthread_join(w->thread, NULL);
        for (int l = 0; l < w->nlisteners; l++)
            if (w->listeners[l].fd >= 0)
                close(w->listeners[l].fd);
        if (w->epfd >= 0)
            close(w->epfd);
        if (w->wake_fd >= 0)
            close(w->wake_fd);
        if (w->tick_fd >= 0)
            close(w->tick_fd);
        while (w->free_conns) {
            struct mk_conn *c = w->free_conns;
            w->free_conns = c->post_next;
            free(c);
        }
        free(w->fdt);
        free(w->listeners);
    }
    free(ws);
}

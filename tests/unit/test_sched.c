/* The scheduler's connection lists: posted work, closing, recycling (src/event/mk_sched.c).
 *
 * A worker without threads or an event loop: connections are socketpair ends added with
 * mk__sched_conn_add(), a fake protocol records its hooks and does, inside on_ready, what
 * the test asks of it (post a connection, close one), and the test plays the end of a loop
 * pass with mk__sched_run_posted() / mk__sched_free_closed() / mk__sched_pass_end().
 *
 * The case that matters most: a connection closed while it is linked in the posted list
 * (a large download reset by its client after yielding, a timer firing on a connection
 * that posted itself).  It must stay linked until run_posted has passed it, connections
 * posted after it must still run, and none may reach the free list while live. */
#include "mk_test.h"

#include <dirent.h>
#include <sys/socket.h>

#include "event/mk_sched.h"
#include "event/mk_sched_int.h"

#define NCONN 8

struct fake {
    unsigned ready, closes, timeouts;
    struct mk_conn *post_in_ready;  /* on_ready posts this connection */
    struct mk_conn *close_in_ready; /* on_ready closes this one */
    int peer;                       /* the client end */
};

static struct fake fakes[NCONN];
static unsigned order[64], norder;

static struct fake *fake_of(struct mk_conn *c)
{
    return c->session;
}

static void f_ready(struct mk_conn *c)
{
    struct fake *f = fake_of(c);
    CHECKF(!c->closed, "on_ready on a closed connection");
    f->ready++;
    if (norder < 64)
        order[norder++] = (unsigned)(f - fakes);
    if (f->post_in_ready) {
        struct mk_conn *p = f->post_in_ready;
        f->post_in_ready = NULL;
        mk_sched_conn_post(p);
    }
    if (f->close_in_ready) {
        struct mk_conn *x = f->close_in_ready;
        f->close_in_ready = NULL;
        mk_sched_conn_close(x, MK_CLOSE_DONE, false);
    }
}

static void f_close(struct mk_conn *c, enum mk_close_reason reason)
{
    fake_of(c)->closes++;
}

static void f_timeout(struct mk_conn *c)
{
    fake_of(c)->timeouts++;
}

static void f_accept(struct mk_conn *c)
{
    (void)c;
}

static bool f_idle(struct mk_conn *c)
{
    (void)c;
    return true;
}

static const struct mk_proto fake_proto = {
    .on_accept = f_accept,
    .on_ready = f_ready,
    .on_timeout = f_timeout,
    .on_close = f_close,
    .is_idle = f_idle,
};

static struct mk_sched_config cfg;
static struct mk_worker w;

static int open_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    if (!d)
        return -1;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void worker_setup(void)
{
    memset(&cfg, 0, sizeof(cfg));
    cfg.workers = 1;
    cfg.timeout[MK_TLIST_REQUEST] = 10;
    cfg.timeout[MK_TLIST_KEEPALIVE] = 5;
    cfg.timeout[MK_TLIST_LINGER] = 2;
    cfg.proto = &fake_proto;
    memset(&w, 0, sizeof(w));
    w.cfg = &cfg;
    w.proto = &fake_proto;
    mk_clock_update();
    w.last_tick = mk_clock.mono_sec;
    memset(fakes, 0, sizeof(fakes));
    norder = 0;
}

static struct mk_conn *conn_new(int i)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        abort();
    struct mk_conn *c = mk__sched_conn_add(&w, sv[0], NULL, 0);
    w.proto->on_accept(c);
    c->session = &fakes[i];
    fakes[i].peer = sv[1];
    return c;
}

static unsigned list_len(struct mk_conn *c, bool posted_list)
{
    unsigned n = 0;
    for (; c && n < 1000; c = posted_list ? c->post_next : c->close_next)
        n++;
    return n;
}

static bool on_free_list(const struct mk_conn *c)
{
    for (struct mk_conn *f = w.free_conns; f; f = f->post_next)
        if (f == c)
            return true;
    return false;
}

/* Close what is left, free everything; the descriptors must all be gone. */
static void worker_teardown(int fds_before)
{
    mk__sched_close_all(&w);
    for (int i = 0; i < NCONN; i++)
        if (fakes[i].peer > 0) {
            close(fakes[i].peer);
            fakes[i].peer = 0;
        }
    CHECK_EQ_INT(w.active, 0);
    CHECK(w.posted_head == NULL && w.posted_tail == NULL);
    CHECK(w.closed == NULL);
    while (w.free_conns) {
        struct mk_conn *c = w.free_conns;
        w.free_conns = c->post_next;
        free(c);
    }
    free(w.fdt);
    CHECK_EQ_INT(open_fds(), fds_before);
}

MK_TEST(posted_connections_run_in_order_and_reposts_wait_a_round)
{
    int fds = open_fds();
    worker_setup();
    struct mk_conn *a = conn_new(0), *b = conn_new(1), *c = conn_new(2);
    mk_sched_conn_post(a);
    mk_sched_conn_post(b);
    mk_sched_conn_post(c);
    mk_sched_conn_post(b); /* twice: once in the list */
    fakes[0].post_in_ready = a; /* a yields: runs again next round */
    mk__sched_run_posted(&w);
    CHECK_EQ_INT(norder, 3);
    CHECK(order[0] == 0 && order[1] == 1 && order[2] == 2);
    CHECK(w.posted_head == a && w.posted_tail == a && a->posted);
    CHECK(!b->posted && !c->posted);
    mk__sched_run_posted(&w);
    CHECK_EQ_INT(fakes[0].ready, 2);
    CHECK_EQ_INT(fakes[1].ready, 1);
    CHECK(w.posted_head == NULL);
    worker_teardown(fds);
}

/* The bug fixed in 76ff0ba: c is posted by a, then closed by b in the same round; d is
 * posted after that.  c keeps its place, d runs, nothing live is recycled. */
MK_TEST(connection_closed_while_posted_keeps_its_place)
{
    int fds = open_fds();
    worker_setup();
    struct mk_conn *a = conn_new(0), *b = conn_new(1), *c = conn_new(2), *d = conn_new(3);
    mk_sched_conn_post(a);
    mk_sched_conn_post(b);
    fakes[0].post_in_ready = c;  /* for the next round */
    fakes[1].close_in_ready = c; /* closed while linked in that list */
    mk__sched_run_posted(&w);
    CHECK(c->closed && c->posted);
    CHECK_EQ_INT(fakes[2].closes, 1);
    mk_sched_conn_post(d); /* linked after the closed c */
    CHECK_EQ_INT(list_len(w.posted_head, true), 2);

    mk__sched_free_closed(&w); /* c is still linked: kept */
    CHECK(w.closed == c && c->close_next == NULL);
    CHECK(!on_free_list(c) && !on_free_list(d));
    CHECK_EQ_INT(w.nfree, 0);
    CHECK_EQ_INT(list_len(w.posted_head, true), 2);

    mk__sched_run_posted(&w); /* skips c, runs d */
    CHECK_EQ_INT(fakes[2].ready, 0);
    CHECK_EQ_INT(fakes[3].ready, 1);
    CHECK(!c->posted);
    mk__sched_free_closed(&w);
    CHECK(w.closed == NULL);
    CHECK(on_free_list(c) && !on_free_list(d));
    CHECK_EQ_INT(w.nfree, 1);
    CHECK_EQ_INT(w.active, 3);
    CHECK(!d->closed && w.fdt[d->fd] == d);

    /* The recycled struct comes back clean for the next connection. */
    struct mk_conn *e = conn_new(4);
    CHECK(e == c);
    CHECK(!e->closed && !e->posted && e->close_next == NULL && e->tlist == MK_TLIST_NONE);
    CHECK_EQ_INT(w.nfree, 0);
    worker_teardown(fds);
}

/* Several closed in one pass, some posted and some not: each goes when it may. */
MK_TEST(free_closed_lets_go_only_what_is_unlinked)
{
    int fds = open_fds();
    worker_setup();
    struct mk_conn *c[5];
    for (int i = 0; i < 5; i++)
        c[i] = conn_new(i);
    mk_sched_conn_post(c[1]);
    mk_sched_conn_post(c[3]);
    for (int i = 0; i < 5; i++)
        mk_sched_conn_close(c[i], MK_CLOSE_DONE, false);
    mk_sched_conn_close(c[2], MK_CLOSE_DONE, false); /* twice: no effect */
    CHECK_EQ_INT(fakes[2].closes, 1);
    CHECK_EQ_INT(w.active, 0);
    CHECK_EQ_INT(w.nclosed, 5);
    mk_sched_conn_post(c[4]); /* posting a closed connection: ignored */
    CHECK(!c[4]->posted);
    mk__sched_free_closed(&w);
    CHECK_EQ_INT(w.nfree, 3);
    CHECK_EQ_INT(list_len(w.closed, false), 2); /* c[1], c[3] */
    CHECK(!on_free_list(c[1]) && !on_free_list(c[3]));
    mk__sched_run_posted(&w);
    CHECK_EQ_INT(norder, 0);
    mk__sched_free_closed(&w);
    CHECK_EQ_INT(w.nfree, 5);
    CHECK(w.closed == NULL);
    worker_teardown(fds);
}

/* A whole pass: the connection posts itself, then its timer fires in the same pass (the
 * once-a-second work runs after the posted list).  Closed by the timer, it is still in the
 * posted list; the next pass skips it and recycles it. */
MK_TEST(timer_expiry_closes_a_posted_connection)
{
    int fds = open_fds();
    worker_setup();
    struct mk_conn *a = conn_new(0), *b = conn_new(1);
    mk_sched_timer_set(a, MK_TLIST_KEEPALIVE, MK_TIMEOUT_CONN_PENDING);
    mk_sched_timer_set(b, MK_TLIST_REQUEST, MK_TIMEOUT_REQ_INCOMPLETE);
    mk_sched_conn_post(a);
    fakes[0].post_in_ready = a;
    bool stopping = false;

    mk_clock.mono_sec += cfg.timeout[MK_TLIST_KEEPALIVE] + 1; /* a's deadline, not b's */
    CHECK(!mk__sched_pass_end(&w, &stopping));
    CHECK_EQ_INT(fakes[0].ready, 1);
    CHECK_EQ_INT(fakes[0].timeouts, 1);
    CHECK_EQ_INT(fakes[1].timeouts, 0);
    CHECK(a->closed && a->posted && w.closed == a);
    CHECK(w.tlists[MK_TLIST_KEEPALIVE].head == NULL);
    CHECK(w.tlists[MK_TLIST_REQUEST].head == b);

    CHECK(!mk__sched_pass_end(&w, &stopping));
    CHECK_EQ_INT(fakes[0].ready, 1);
    CHECK(w.closed == NULL && on_free_list(a));
    CHECK_EQ_INT(w.active, 1);

    mk_clock.mono_sec += cfg.timeout[MK_TLIST_REQUEST];
    CHECK(!mk__sched_pass_end(&w, &stopping));
    CHECK_EQ_INT(fakes[1].timeouts, 1);
    CHECK(b->closed);
    CHECK_EQ_INT(w.active, 0);
    worker_teardown(fds);
}

/* The worker leaving: everything closed, the posted list dropped, nothing runs. */
MK_TEST(close_all_drops_posted_work)
{
    int fds = open_fds();
    worker_setup();
    struct mk_conn *a = conn_new(0), *b = conn_new(1);
    conn_new(2);
    mk_sched_conn_post(a);
    mk_sched_conn_post(b);
    mk__sched_close_all(&w);
    CHECK(w.posted_head == NULL && !a->posted && !b->posted);
    CHECK_EQ_INT(w.nfree, 3);
    CHECK_EQ_INT(fakes[0].closes + fakes[1].closes + fakes[2].closes, 3);
    CHECK_EQ_INT(norder, 0);
    worker_teardown(fds);
}

/* The worker leaving right after a connection was closed while posted (no pass between):
 * close_all unlinks it and recycles it with the rest. */
MK_TEST(close_all_after_a_close_while_posted)
{
    int fds = open_fds();
    worker_setup();
    struct mk_conn *a = conn_new(0), *b = conn_new(1);
    mk_sched_conn_post(a);
    mk_sched_conn_post(b);
    mk_sched_conn_close(a, MK_CLOSE_RESET, true);
    CHECK(a->closed && a->posted && w.closed == a);
    mk__sched_close_all(&w);
    CHECK(!a->posted && !b->posted && b->closed);
    CHECK(w.closed == NULL);
    CHECK(on_free_list(a) && on_free_list(b));
    CHECK_EQ_INT(w.nfree, 2);
    CHECK_EQ_INT(norder, 0);
    worker_teardown(fds);
}

MK_TEST_MAIN("test_sched")

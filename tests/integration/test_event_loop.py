"""EventLoop: the epoll loop and the io_uring loop serve the same bytes.

The whole suite runs once per loop (scripts/check.sh sets MKT_EVENT_LOOP=io_uring for the
second run); these tests pin down what is specific to the choice: which loop really runs,
the fallback to epoll, and the io_uring loop's own limits (input held for a busy connection,
more simultaneous receives than its buffer ring has buffers)."""

import collections
import os
import resource
import signal
import socket
import struct
import subprocess
import time

import mkt
from mkt import eq, req

from test_cli import bad_config, expect_config_error

URING_DISABLED = "/proc/sys/kernel/io_uring_disabled"


def uring_fds(s):
    return sum(1 for t in s.fd_targets() if t == "anon_inode:[io_uring]")


def uring_unavailable(s):
    """The warning a server logs when it falls back to epoll, or None."""
    for line in s.log_text().splitlines():
        if "EventLoop io_uring:" in line and "using epoll" in line:
            return line
    return None


def test_io_uring_loop_runs_one_ring_per_worker():
    with mkt.Server(conf={"EventLoop": "io_uring", "Workers": "2"}) as s:
        eq(s.get("/hello.txt").body, b"hello, world\n", "served")
        why = uring_unavailable(s)
        if why:
            # Built without liburing, or a kernel that refuses io_uring: epoll serves.
            eq(uring_fds(s), 0, "io_uring rings after the fallback (%s)" % why)
            raise mkt.Skip("io_uring not available here: " + why)
        eq(uring_fds(s), 2, "io_uring rings with Workers 2 (%s)" % s.fd_list())


def built_with_io_uring():
    with open(os.path.join(mkt.REPO, "src", "mk_config.h")) as f:
        return "#define MK_HAVE_IO_URING 1" in f.read()


def test_build_info_names_the_event_loops():
    out = mkt.run_monkey(["-b"]).stdout.decode()
    line = [x for x in out.splitlines() if x.startswith("event loops:")]
    eq(len(line), 1, "one 'event loops:' line in monkey -b:\n" + out)
    assert line[0].split(":", 1)[1].strip().startswith("epoll"), line
    eq("io_uring (EventLoop io_uring" in line[0], built_with_io_uring(),
       "io_uring in monkey -b against src/mk_config.h: %r" % line)


def test_epoll_loop_opens_no_ring():
    with mkt.Server(conf={"EventLoop": "epoll", "Workers": "2"}) as s:
        eq(s.get("/hello.txt").body, b"hello, world\n", "served")
        eq(uring_fds(s), 0, "io_uring rings under EventLoop epoll")


def test_config_bad_event_loop():
    p = bad_config("[SERVER]\n    Listen 127.0.0.1:{port}\n    EventLoop kqueue\n")
    expect_config_error(p, "monkey.conf", 3, "EventLoop kqueue")
    assert b"epoll" in p.stderr and b"io_uring" in p.stderr, p.stderr


def test_falls_back_to_epoll_when_the_kernel_refuses_io_uring():
    if not os.path.exists(URING_DISABLED) or not os.access(URING_DISABLED, os.W_OK):
        raise mkt.Skip("needs root and %s (kernel 6.6+)" % URING_DISABLED)
    with open(URING_DISABLED) as f:
        old = f.read().strip()
    try:
        with open(URING_DISABLED, "w") as f:
            f.write("2\n")  # io_uring_setup fails with EPERM for every process
        with mkt.Server(conf={"EventLoop": "io_uring"}) as s:
            assert uring_unavailable(s), "no fallback warning in the log:\n" + s.log_tail()
            for _ in range(3):
                eq(s.get("/hello.txt").body, b"hello, world\n", "served by epoll")
            eq(uring_fds(s), 0, "io_uring rings after the fallback")
    finally:
        with open(URING_DISABLED, "w") as f:
            f.write(old + "\n")


SECCOMP_SHIM = r"""#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

/* Before main(): a seccomp filter that fails the system call $MK_SHIM_NR with EPERM, as
 * container runtimes' profiles do for io_uring. */
__attribute__((constructor)) static void block(void)
{
    const char *e = getenv("MK_SHIM_NR");
    if (!e)
        return;
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)atoi(e), 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog p = {.len = sizeof(f) / sizeof(f[0]), .filter = f};
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &p);
}
"""


def test_falls_back_to_epoll_when_seccomp_refuses_io_uring():
    """A seccomp filter (as container runtimes install) that refuses one of io_uring's
    system calls with EPERM: the server falls back to epoll with its warning and serves.
    With only io_uring_enter refused, the probe (which set up a ring and never used it)
    passed, and every worker's first pass failed after the server had said it was
    listening: it stopped with exit status 1."""
    if not built_with_io_uring():
        raise mkt.Skip("built without liburing")
    for name, nr in (("io_uring_setup", 425), ("io_uring_enter", 426),
                     ("io_uring_register", 427)):
        s = mkt.Server(conf={"EventLoop": "io_uring", "Workers": "2"})
        s.env = mkt.preload_env("seccomp", SECCOMP_SHIM, MK_SHIM_NR=str(nr))
        with s:
            assert uring_unavailable(s), "%s refused: no fallback warning:\n%s" % (
                name, s.log_tail())
            for _ in range(3):
                eq(s.get("/hello.txt").body, b"hello, world\n", "%s refused: served" % name)
            eq(uring_fds(s), 0, "%s refused: io_uring rings" % name)


def pipelined_behind_big(loop, extra):
    """A request for a 3 MiB file, then `extra` small requests in the same write, with the
    client not reading at first: every answer comes back, complete and in order."""
    with mkt.Server(conf={"EventLoop": loop, "Workers": "1"}) as s:
        c = s.client(timeout=30)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        smalls = [("/hello.txt", b"hello, world\n"), ("/one.txt", b"x")]
        pad = {"X-Pad": "p" * 60}  # ~130 bytes a request
        wire = req("GET", "/big.bin") + b"".join(
            req("GET", smalls[i % 2][0], headers=pad) for i in range(extra))
        # The server cannot take all the input while its big response is stuck: write from
        # a thread, read here after a pause.
        t = c.send_in_background(wire)
        time.sleep(0.5)
        r = c.recv_response(timeout=30)
        eq(r.status, 200, "big response")
        eq(len(r.body), mkt.BIG_SIZE, "big body length")
        eq(r.body, s.files["/big.bin"], "big body")
        for i in range(extra):
            r = c.recv_response(timeout=30)
            eq((r.status, r.body), (200, smalls[i % 2][1]), "pipelined response %d" % i)
        t.join(30)
        assert t.done, "the client could not send all its requests"
        c.close()


def test_pipelined_requests_behind_a_stuck_response_epoll():
    pipelined_behind_big("epoll", 50)


def test_pipelined_requests_behind_a_stuck_response_io_uring():
    pipelined_behind_big("io_uring", 50)


@mkt.timeout(120)
def test_pipelined_flood_behind_a_stuck_response_io_uring():
    # ~120 KB of requests (under MaxKeepAliveRequest): more than the io_uring loop holds
    # for a busy connection (64 KiB), so its receive is cancelled and armed again once the
    # input is taken.
    pipelined_behind_big("io_uring", 900)


def half_closed_slow_readers(loop, n=4, hold=2.0):
    """Clients that send a request for the 3 MiB file, half-close (SHUT_WR) and read
    nothing for a while: the worker waits for room without spinning, then each client gets
    the whole body.  (io_uring adds POLLRDHUP to every poll: a one-shot POLLOUT poll armed
    after sendfile() said EAGAIN completed at once once the peer had half-closed, and the
    worker ran sendfile/poll at 100 % CPU until Timeout.)"""
    with mkt.Server(conf={"EventLoop": loop, "Workers": "1", "Timeout": "30"}) as s:
        socks = []
        for _ in range(n):
            k = socket.socket()
            k.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            k.connect(("127.0.0.1", s.port))
            k.sendall(req("GET", "/big.bin", headers={"Connection": "close"}))
            k.shutdown(socket.SHUT_WR)
            socks.append(k)
        time.sleep(0.5)  # the responses are stuck on the clients' windows
        # Counted, not timed: a worker waiting for room makes no sendfile call while nobody
        # reads; the busy loop made thousands in that time (each one EAGAIN), even traced.
        with mkt.Strace(s.pid, "sendfile") as st:
            time.sleep(hold)
        assert len(st.lines) < 20, "%d sendfile calls in %.1f s while %d half-closed " \
            "clients read nothing (busy loop): %s" % (len(st.lines), hold, n, st.lines[-2:])
        for i, k in enumerate(socks):
            k.settimeout(30)
            data = b""
            while True:
                d = k.recv(1 << 16)
                if not d:
                    break
                data += d
            k.close()
            head, _, body = data.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 "), head[:80]
            eq(body, s.files["/big.bin"], "body of half-closed client %d" % i)


@mkt.timeout(60)
def test_half_closed_slow_readers_do_not_spin_epoll():
    half_closed_slow_readers("epoll")


@mkt.timeout(60)
def test_half_closed_slow_readers_do_not_spin_io_uring():
    half_closed_slow_readers("io_uring")


def padded(path, close=False):
    """A request padded to 4 KiB: two of the ring's 2 KiB buffers, the small session's size."""
    head = req("GET", path, headers={"Connection": "close"} if close else {})[:-2]
    return head + b"X-Pad: " + b"p" * (4096 - len(head) - 11) + b"\r\n\r\n"


def close_after_paused_receive(loop, k=30, extra=120):
    """A connection whose receive was paused (input held past 64 KiB behind a stuck
    response) must still linger when it closes: the client's later input waits unread in
    the socket, and a plain close() answers it with a RST that destroys the responses still
    on their way.  The io_uring loop forgot the pause once the held input was taken: the
    client got 12-14 MB of 16 MiB and none of the answers after it."""
    with mkt.Server(conf={"EventLoop": loop, "Workers": "1"}) as s:
        huge = s.sparse_file("huge.bin", 16 << 20)
        c = s.client(timeout=20)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        # Held by the server behind the stuck response (its receive is paused); the k-th
        # small request asks to close.
        wire1 = padded("/huge.bin") + b"".join(padded("/hello.txt", i == k - 1)
                                               for i in range(k))
        # Sent once the receive is paused: left in the socket, never answered.
        wire2 = b"".join(padded("/hello.txt") for _ in range(extra))
        t = c.send_in_background(wire1, wire2, pause=0.3)
        time.sleep(0.8)
        r = c.recv_response(timeout=20)
        eq((r.status, len(r.body)), (200, huge), "%s: the stuck response" % loop)
        for i in range(k):
            r = c.recv_response(timeout=20)
            eq((r.status, r.body), (200, b"hello, world\n"), "%s: answer %d" % (loop, i))
        eq(r.headers.get("Connection"), "Close", "%s: the last answer closes" % loop)
        t.join(10)
        c.close()


@mkt.timeout(60)
def test_close_after_paused_receive_lingers_epoll():
    close_after_paused_receive("epoll")


@mkt.timeout(60)
def test_close_after_paused_receive_lingers_io_uring():
    close_after_paused_receive("io_uring")


def read_answer(k, want, what):
    data = b""
    deadline = time.monotonic() + 30
    while not data.endswith(want) and time.monotonic() < deadline:
        try:
            chunk = k.recv(4096)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
    assert data.startswith(b"HTTP/1.1 200 OK\r\n") and data.endswith(want), \
        "%s got %r" % (what, data[:200])


@mkt.timeout(180)
def test_more_connections_than_ring_buffers():
    # 1 100 keep-alive connections, on one worker.  First each sends a request as it
    # connects (more than one accept batch waits in the queue).  Then, with the server
    # stopped (SIGSTOP), each sends another: when it resumes, many receives complete in
    # each pass, more than the ring of the io_uring loop has buffers (16 here, through
    # MONKEY_IO_URING_BUFFERS; 512 by default); those without one (ENOBUFS) are received
    # again after the pass.  Both loops must answer everything.
    n = 1100
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < n + 200:
        raise mkt.Skip("RLIMIT_NOFILE hard limit %d is below %d" % (hard, n + 200))
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, n + 200), hard))
    want = b"hello, world\n"
    try:
        for loop in ("io_uring", "epoll"):
            os.environ["MONKEY_IO_URING_BUFFERS"] = "16"
            try:
                s = mkt.Server(conf={"EventLoop": loop, "Workers": "1"}).start()
            finally:
                del os.environ["MONKEY_IO_URING_BUFFERS"]
            with s:
                socks = []
                for i in range(n):
                    k = socket.create_connection(("127.0.0.1", s.port), timeout=30)
                    k.sendall(req("GET", "/hello.txt"))
                    socks.append(k)
                for i, k in enumerate(socks):
                    read_answer(k, want, "%s: connection %d of %d" % (loop, i, n))
                s.send_signal(signal.SIGSTOP)
                try:
                    for k in socks:
                        k.sendall(req("GET", "/hello.txt"))
                    time.sleep(0.2)
                finally:
                    s.send_signal(signal.SIGCONT)
                for i, k in enumerate(socks):
                    read_answer(k, want, "%s: second request, connection %d" % (loop, i))
                for k in socks:
                    k.close()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


EINTR_SHIM = r"""#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <liburing.h>
#include <stdlib.h>

/* Rewrites the N-th receive completion with data (N = $MK_SHIM_EINTR) (user_data type 1) into -EINTR, as
 * the kernel reports a receive interrupted by a signal, once. */
static int done, seen;

static void inject(struct io_uring *r)
{
    const char *e = getenv("MK_SHIM_EINTR");
    if (done || !e)
        return;
    unsigned head = *r->cq.khead, tail = __atomic_load_n(r->cq.ktail, __ATOMIC_ACQUIRE);
    for (; head != tail; head++) {
        struct io_uring_cqe *c = &r->cq.cqes[head & r->cq.ring_mask];
        if (((c->user_data >> 24) & 0xff) == 1 && c->res > 0 && ++seen >= atoi(e)) {
            c->res = -EINTR;
            c->flags = 0; /* the multishot receive ends; its buffer is lost to the ring */
            done = 1;
            return;
        }
    }
}

int io_uring_submit_and_wait(struct io_uring *r, unsigned n)
{
    static int (*real)(struct io_uring *, unsigned);
    if (!real)
        real = (int (*)(struct io_uring *, unsigned))dlsym(RTLD_NEXT, "io_uring_submit_and_wait");
    int rc = real(r, n);
    inject(r);
    return rc;
}

int io_uring_submit_and_get_events(struct io_uring *r)
{
    static int (*real)(struct io_uring *);
    if (!real)
        real = (int (*)(struct io_uring *))dlsym(RTLD_NEXT, "io_uring_submit_and_get_events");
    int rc = real(r);
    inject(r);
    return rc;
}
"""


@mkt.timeout(60)
def test_interrupted_receive_is_armed_again_io_uring():
    """A receive that completes with -EINTR (interrupted, not an end of the stream) is
    armed again.  It was kept as the connection's end: mk_uring_recv() answered EINTR for
    good, the protocol read again after each EINTR, and the worker spun at 100 % CPU in
    that connection, answering nobody.  The shim turns the second receive completion with
    data (the first is the start-up probe's) into -EINTR; the bytes it carried are lost
    with it, so the client sends its request again."""
    env = mkt.preload_env("eintr", EINTR_SHIM, MK_SHIM_EINTR="2")
    s = mkt.Server(conf={"EventLoop": "io_uring", "Workers": "1"})
    s.env = env
    with s:
        if uring_unavailable(s):
            raise mkt.Skip("io_uring not available here")
        c = s.client(timeout=5)
        c.send(req("GET", "/one.txt"))  # its completion becomes -EINTR
        time.sleep(0.5)
        eq(s.get("/hello.txt").body, b"hello, world\n", "another connection served")
        c.send(req("GET", "/hello.txt"))
        r = c.recv_response(timeout=5)
        eq((r.status, r.body), (200, b"hello, world\n"), "the interrupted connection served")
        c.close()


def aborted_downloads_leave_others_running(loop):
    """Large downloads yield every 4 MiB (posted to the end of the pass); clients that reset
    their connection in the middle close connections that are still posted.  The others
    must keep going: a closed connection's link must not cut the posted list or put a live
    connection on the free list."""
    size = 24 << 20
    with mkt.Server(conf={"EventLoop": loop, "Workers": "1", "Timeout": "60"}) as s:
        with open(os.path.join(s.docroot, "huge.bin"), "wb") as f:
            f.write(b"h" * size)
        live, doomed = [], []
        for i in range(12):
            k = socket.create_connection(("127.0.0.1", s.port), timeout=30)
            k.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            k.sendall(req("GET", "/huge.bin"))
            (doomed if i % 2 else live).append(k)
        got = {k: 0 for k in live + doomed}
        deadline = time.monotonic() + 20
        # Read all a little, then reset the doomed ones while the others are mid-transfer.
        for rnd in range(40):
            for k in live + doomed:
                try:
                    got[k] += len(k.recv(1 << 20))
                except socket.timeout:
                    pass
            if rnd == 3:
                for k in doomed:
                    k.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    k.close()
                doomed = []
        for k in live:
            k.settimeout(5)
            while got[k] < size and time.monotonic() < deadline:
                try:
                    chunk = k.recv(1 << 20)
                except socket.timeout:
                    break
                if not chunk:
                    break
                got[k] += len(chunk)
        stalled = [got[k] for k in live if got[k] < size]
        for k in live:
            k.close()
        assert not stalled, "%s: %d of %d downloads stalled (bytes: %s; head + %d each)" % (
            loop, len(stalled), len(live), stalled, size)
        eq(s.get("/hello.txt").body, b"hello, world\n", "%s: still serving" % loop)


@mkt.timeout(120)
def test_aborted_downloads_leave_others_running_epoll():
    aborted_downloads_leave_others_running("epoll")


@mkt.timeout(120)
def test_aborted_downloads_leave_others_running_io_uring():
    aborted_downloads_leave_others_running("io_uring")


def wait_reload_logged(s):
    mkt.wait_until(lambda: "reload: configuration re-read" in s.log_text(), 10, s.log_tail)


def reload_closes_what_the_old_worker_still_holds(loop):
    """SIGHUP: once GracePeriod is over, the old worker closes what it still holds (here
    requests that never complete).  Their clients see the end of the stream and the
    server's descriptors return to their start-up count.  Under io_uring those closes are
    queued by the worker's last pass and must still reach the kernel as its ring goes: they
    did not before 2026-11-27 (the fds stayed open, the clients waited forever)."""
    with mkt.Server(conf={"EventLoop": loop, "Workers": "1", "GracePeriod": "1",
                          "Timeout": "60"}) as s:
        base = s.settled_fds()
        ks = [s.client() for _ in range(5)]
        for k in ks:
            k.send(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n")
        deadline = time.monotonic() + 5
        while s.conn_fds() < base + 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        eq(s.conn_fds(), base + 5, "%s: the 5 connections held" % loop)
        s.reload("reload: configuration re-read")
        closed = sum(1 for k in ks if k.is_closed(timeout=10))
        eq(closed, 5, "%s: clients that saw the end of the stream" % loop)
        n = s.wait_fds(base, timeout=5)
        assert n <= base, "%s: %d fds after the reload, %d before" % (loop, n, base)
        eq(s.get("/hello.txt").body, b"hello, world\n", "%s: the new worker serves" % loop)


@mkt.timeout(60)
def test_reload_closes_what_the_old_worker_still_holds_epoll():
    reload_closes_what_the_old_worker_still_holds("epoll")


@mkt.timeout(60)
def test_reload_closes_what_the_old_worker_still_holds_io_uring():
    reload_closes_what_the_old_worker_still_holds("io_uring")


def reload_ends_idle_connections_after_their_last_answer(loop):
    """SIGHUP with idle keep-alive connections: the old worker keeps them for GracePeriod,
    answers each one's next request (with "Connection: Close" once it has seen the stop)
    and closes it; the last close is made in the pass that ends the worker (io_uring: queued
    there, and submitted as the ring goes).  Every client sees its answer, then the end of
    the stream, and the server's descriptors return to their start-up count."""
    with mkt.Server(conf={"EventLoop": loop, "Workers": "1", "GracePeriod": "5",
                          "Timeout": "60"}) as s:
        base = s.settled_fds()
        ks = [s.client() for _ in range(3)]
        for k in ks:
            eq(k.request(req("GET", "/hello.txt")).status_line, "HTTP/1.1 200 OK")
        held = s.conn_fds()
        s.send_signal(signal.SIGHUP)
        # The new worker's descriptors say it runs; then a moment for the old one to see
        # its stop flag (set right after).
        deadline = time.monotonic() + 10
        while s.conn_fds() <= held + 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert s.conn_fds() > held + 2, "%s: no new worker: %s" % (loop, s.log_tail())
        time.sleep(0.2)
        for i, k in enumerate(ks):
            r = k.request(req("GET", "/hello.txt"))
            eq(r.body, b"hello, world\n", "%s: answer %d after the SIGHUP" % (loop, i))
            assert k.is_closed(timeout=10), "%s: connection %d not closed" % (loop, i)
        wait_reload_logged(s)
        n = s.wait_fds(base, timeout=5)
        assert n <= base, "%s: %d fds after the reload, %d before" % (loop, n, base)


@mkt.timeout(60)
def test_reload_ends_idle_connections_after_their_last_answer_epoll():
    reload_ends_idle_connections_after_their_last_answer("epoll")


@mkt.timeout(60)
def test_reload_ends_idle_connections_after_their_last_answer_io_uring():
    reload_ends_idle_connections_after_their_last_answer("io_uring")


def signals_are_taken_while_replaced_workers_finish(loop):
    """After a SIGHUP the workers it replaced keep their connections for up to GracePeriod.
    Signals are taken meanwhile: SIGUSR1 reopens the logs, a second SIGHUP reloads, and
    SIGTERM closes the idle connections the old worker holds (as it does the new worker's)
    and exits at once, while a response in flight on the old worker still ends whole.  The
    main thread used to wait for the old workers inside the reload: every signal was held
    back until the last idle connection expired (here KeepAliveTimeout 20 s, GracePeriod 30 s)
    and SIGTERM after SIGHUP took KeepAliveTimeout or old GracePeriod + new GracePeriod."""
    s = mkt.Server(conf={"EventLoop": loop, "Workers": "1", "GracePeriod": "30",
                         "KeepAliveTimeout": "20"})
    size = s.sparse_file("huge.bin", 16 << 20)
    with s.start():
        idle = s.client()
        eq(idle.request(req("GET", "/hello.txt")).status_line, "HTTP/1.1 200 OK", loop)
        busy = s.client()
        busy.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        busy.send(req("GET", "/huge.bin"))
        eq(busy.recv_head()[0], "HTTP/1.1 200 OK", "%s: download" % loop)
        s.reload("reload: configuration re-read")
        t = time.monotonic()
        before = len(s.log_text())
        s.send_signal(signal.SIGUSR1)
        mkt.wait_until(lambda: "SIGUSR1: reopening" in s.log_text()[before:], 3,
                       lambda: "%s: SIGUSR1 not taken within 3 s:\n%s" % (loop, s.log_tail()))
        s.reload("reload: configuration re-read", bound=3)
        eq(s.get("/hello.txt").body, b"hello, world\n", "%s: after two reloads" % loop)
        s.send_signal(signal.SIGTERM)
        body = busy._read_exact(size, time.monotonic() + 20)
        eq((len(body), body.count(0)), (size, size), "%s: the old worker's download" % loop)
        assert idle.is_closed(5), "%s: idle connection of the old worker kept" % loop
        eq(s.wait(5), 0, "%s: exit status soon after SIGTERM" % loop)
        elapsed = time.monotonic() - t
        assert elapsed < 15, "%s: the signals took %.1f s" % (loop, elapsed)


@mkt.timeout(60)
def test_signals_are_taken_while_replaced_workers_finish_epoll():
    signals_are_taken_while_replaced_workers_finish("epoll")


@mkt.timeout(60)
def test_signals_are_taken_while_replaced_workers_finish_io_uring():
    signals_are_taken_while_replaced_workers_finish("io_uring")


def sigterm_closes_idle_connections_of_every_replaced_set(loop):
    """Two reloads leave two sets of replaced workers: the older one holds an idle keep-alive
    connection, the newer one a download its client does not read.  SIGTERM tells every set
    at once: the idle connection closes now, the download still ends whole.  The sets used to
    be told one after the other, each once the one before it had been joined, so the older
    set's idle client was kept (and could still be served) until the newer set's download had
    ended or its GracePeriod (30 s here) had passed."""
    s = mkt.Server(conf={"EventLoop": loop, "Workers": "1", "GracePeriod": "30",
                         "KeepAliveTimeout": "20"})
    size = s.sparse_file("huge.bin", 16 << 20)
    with s.start():
        idle = s.client()
        eq(idle.request(req("GET", "/hello.txt")).status_line, "HTTP/1.1 200 OK", loop)
        s.reload("reload: configuration re-read")
        busy = s.client()  # on the workers of the first reload
        busy.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        busy.send(req("GET", "/huge.bin"))
        eq(busy.recv_head()[0], "HTTP/1.1 200 OK", "%s: download" % loop)
        s.reload("reload: configuration re-read", bound=3)
        time.sleep(0.2)  # the second set sees its reload stop
        s.send_signal(signal.SIGTERM)
        assert idle.is_closed(5), "%s: the older set's idle connection kept after SIGTERM" % loop
        body = busy._read_exact(size, time.monotonic() + 20)
        eq((len(body), body.count(0)), (size, size), "%s: the newer set's download" % loop)
        eq(s.wait(5), 0, "%s: exit status soon after SIGTERM" % loop)


@mkt.timeout(60)
def test_sigterm_closes_idle_connections_of_every_replaced_set_epoll():
    sigterm_closes_idle_connections_of_every_replaced_set("epoll")


@mkt.timeout(60)
def test_sigterm_closes_idle_connections_of_every_replaced_set_io_uring():
    sigterm_closes_idle_connections_of_every_replaced_set("io_uring")


WAITS = ("epoll_wait(", "epoll_pwait(", "epoll_pwait2(", "io_uring_enter(",
         "<... epoll_wait resumed>", "<... epoll_pwait resumed>", "<... io_uring_enter resumed>")


def soft_nofile(pid):
    with open("/proc/%d/limits" % pid) as f:
        for ln in f:
            if ln.startswith("Max open files"):
                return int(ln.split()[3])
    raise AssertionError("no 'Max open files' in /proc/%d/limits" % pid)


def out_of_fds_pauses_every_listener_at_once(loop):
    """Out of descriptors, a worker stops accepting on all its listeners for a second.  With
    two listeners readable in the same wake-up, the one after the failing one must not call
    accept4() again (it did before 2026-11-27: one more EMFILE, log line and pause per
    listener and per second).  strace shows it: two failing accept4() calls in a row, with
    no wait between them, are the bug."""
    p1, p2 = mkt.free_port(), mkt.free_port()
    while p2 == p1:
        p2 = mkt.free_port()
    with mkt.Server(conf={"EventLoop": loop, "Workers": "1", "Timeout": "60",
                          "Listen": ["127.0.0.1:%d" % p1, "127.0.0.1:%d" % p2]}, port=p1) as s:
        if loop == "io_uring" and uring_unavailable(s):
            raise mkt.Skip("io_uring not available here: " + uring_unavailable(s))
        base = s.settled_fds()
        limit = s.fd_count() + 6
        soft = soft_nofile(s.pid)
        subprocess.run(["prlimit", "--pid", str(s.pid), "--nofile=%d:" % limit], check=True,
                       timeout=10)  # the soft limit only: no capability needed
        socks = []

        def connect(port, n):
            for _ in range(n):
                k = socket.socket()
                k.setblocking(False)
                k.connect_ex(("127.0.0.1", port))
                socks.append(k)
        try:
            connect(p1, 6)  # the server's last free descriptors
            deadline = time.monotonic() + 5
            while s.fd_count() < limit and time.monotonic() < deadline:
                time.sleep(0.05)
            eq(s.fd_count(), limit, "%s: the server's descriptors, up to its limit" % loop)
            connect(p1, 4)  # then connections waiting on both listeners
            connect(p2, 4)
            out = os.path.join(s.dir, "strace.out")
            st = subprocess.Popen(["strace", "-f", "-qq", "-o", out, "-p", str(s.pid), "-e",
                                   "trace=accept4,epoll_wait,epoll_pwait,epoll_pwait2,"
                                   "io_uring_enter"])
            try:
                time.sleep(3.5)  # the worker tries again once a second: three or four times
                st.send_signal(signal.SIGINT)  # strace detaches and exits
                st.wait(10)
            finally:
                if st.poll() is None:
                    st.kill()
                    st.wait(10)
            last = {}
            emfile, twice = 0, []
            with open(out) as f:
                for ln in f:
                    tid = ln.split(" ", 1)[0]
                    if "accept4(" in ln and "EMFILE" in ln:
                        emfile += 1
                        if last.get(tid) == "emfile":
                            twice.append(ln.strip())
                        last[tid] = "emfile"
                    elif any(w in ln for w in WAITS):
                        last[tid] = "wait"
            assert emfile >= 2, "%s: %d failing accept4() in 3.5 s (saturated?)" % (loop, emfile)
            assert not twice, "%s: %d of %d failing accept4() came right after another, with " \
                "no wait between: %s" % (loop, len(twice), emfile, twice[:3])
        finally:
            for k in socks:
                k.close()
        subprocess.run(["prlimit", "--pid", str(s.pid), "--nofile=%d:" % soft], check=True,
                       timeout=10)
        deadline = time.monotonic() + 10
        while s.conn_fds() > base and time.monotonic() < deadline:
            time.sleep(0.1)
        for port in (p1, p2):
            eq(s.client(port=port).request(req("GET", "/hello.txt")).body, b"hello, world\n",
               "%s: serving on port %d again" % (loop, port))


@mkt.timeout(60)
def test_out_of_fds_pauses_every_listener_at_once_epoll():
    out_of_fds_pauses_every_listener_at_once("epoll")


@mkt.timeout(60)
def test_out_of_fds_pauses_every_listener_at_once_io_uring():
    out_of_fds_pauses_every_listener_at_once("io_uring")


@mkt.timeout(60)
def test_failed_reload_leaves_the_server_as_it_was():
    """A site file that fails to load on SIGHUP leaves everything in place.  It used to
    close fd 0 (the half-loaded site's document root fd was 0 from calloc), so after
    bad, good, bad reloads the live site's root, by then on fd 0, was closed: 404s."""
    with mkt.Server(conf={"Workers": "1"}) as s:
        site = os.path.join(s.confdir, "sites", "default")
        good = open(site).read()
        fd0 = os.readlink("/proc/%d/fd/0" % s.pid)
        for n, text in enumerate([good + "oops no indent\n", good, good + "oops no indent\n"]):
            with open(site, "w") as f:
                f.write(text)
            before = s.log_text().count("reload:")
            s.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 10
            while s.log_text().count("reload:") == before and time.monotonic() < deadline:
                time.sleep(0.05)
            assert s.log_text().count("reload:") > before, s.log_tail()
            if n != 1:
                assert "stays in place" in s.log_text().split("reload:")[-1], s.log_tail()
            eq(os.readlink("/proc/%d/fd/0" % s.pid), fd0, "fd 0 after reload %d" % n)
            eq(s.get("/hello.txt").status, 200, "after reload %d" % n)


def fewer_workers_on_reload_loses_no_queued_connection(loop):
    """Workers 3 -> 1 by SIGHUP: each old worker's SO_REUSEPORT socket has its own accept
    queue, and closing it reset the connections queued there (33 of 60 in the review).
    The remaining worker now takes those sockets over."""
    with mkt.Server(conf={"EventLoop": loop, "Workers": "3", "Timeout": "30"}) as s:
        if loop == "io_uring" and uring_unavailable(s):
            raise mkt.Skip("io_uring not available here: " + uring_unavailable(s))
        # Connected but silent: TCP_DEFER_ACCEPT keeps them in the accept queues.
        socks = [socket.create_connection(("127.0.0.1", s.port), timeout=20) for _ in range(60)]
        try:
            conf = os.path.join(s.confdir, "monkey.conf")
            text = open(conf).read()
            assert "Workers 3" in text, text
            with open(conf, "w") as f:
                f.write(text.replace("Workers 3", "Workers 1"))
            s.reload("reload: configuration re-read")
            time.sleep(0.5)
            got = {}
            for k in socks:
                try:
                    k.sendall(b"GET /one.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    data = b""
                    while True:
                        b = k.recv(4096)
                        if not b:
                            break
                        data += b
                    key = data.split(b"\r\n", 1)[0].decode() or "closed without an answer"
                except OSError as e:
                    key = type(e).__name__
                got[key] = got.get(key, 0) + 1
            eq(got, {"HTTP/1.1 200 OK": 60}, "%s: the 60 queued connections" % loop)
        finally:
            for k in socks:
                k.close()


@mkt.timeout(90)
def test_fewer_workers_on_reload_loses_no_queued_connection_epoll():
    fewer_workers_on_reload_loses_no_queued_connection("epoll")


@mkt.timeout(90)
def test_fewer_workers_on_reload_loses_no_queued_connection_io_uring():
    fewer_workers_on_reload_loses_no_queued_connection("io_uring")


def listening_sockets(port):
    n = 0
    for f in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(f) as fh:
                for ln in fh.readlines()[1:]:
                    parts = ln.split()
                    if parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                        n += 1
        except OSError:
            pass
    return n


@mkt.timeout(90)
def test_reloads_keep_every_listening_socket():
    """Workers 4 -> 2 -> 2 -> 4 -> 3 -> 4 -> 1 -> 4 by SIGHUP.  A shrink hands every old
    socket over (each has its own accept queue: closing one resets its connections), and a
    grow deals the sockets there are out before opening new ones: 4 sockets throughout (the
    first version of the hand-over opened new ones on each grow: 4 6 6 8 8 9 ...), and the
    descriptors come back to their count.  Then 127.0.0.1:P -> P (all addresses) reloads:
    the exclusivity probe meets only our own sockets on the port."""
    with mkt.Server(conf={"Workers": "4"}) as s:
        eq(listening_sockets(s.port), 4, "at start-up")
        fds4 = s.settled_fds()
        steps = [("Workers 4", "Workers 2"), ("HideVersion off", "HideVersion on"),
                 ("Workers 2", "Workers 4"), ("Workers 4", "Workers 3"), ("Workers 3", "Workers 4"),
                 ("Workers 4", "Workers 1"), ("Workers 1", "Workers 4")]
        for n, (a, b) in enumerate(steps):
            log = s.reload_with(a, b)
            assert "reload: configuration re-read" in log, log
            assert "shares a listening socket" not in log, log
            eq(listening_sockets(s.port), 4, "after reload %d (%s)" % (n, b))
            eq(s.get("/one.txt").body, b"x", "after reload %d (%s)" % (n, b))
        eq(s.wait_fds(fds4), fds4, "descriptors with 4 workers again")
        log = s.reload_with("Listen 127.0.0.1:%d" % s.port, "Listen %d" % s.port)
        assert "reload: configuration re-read" in log, log
        eq(s.get("/one.txt").body, b"x", "after Listen %d" % s.port)


@mkt.timeout(90)
def test_reuseport_off_and_toggled_by_reload():
    """ReusePort off: one socket shared by every worker.  Turning it on or off by SIGHUP
    used to fail (a socket without SO_REUSEPORT beside ours, or ours beside one without):
    the sockets are kept as they are, with a warning, and the workers share them."""
    with mkt.Server(conf={"Workers": "3", "ReusePort": "off"}) as s:
        eq(listening_sockets(s.port), 1, "ReusePort off: one socket")
        fds = s.settled_fds()
        clients = [s.client() for _ in range(30)]
        for c in clients:
            eq(c.request(req("GET", "/one.txt")).body, b"x", "ReusePort off serves")
        for step, (a, b, sockets) in enumerate((("ReusePort off", "ReusePort on", 1),
                                                ("Workers 3", "Workers 2", 1),
                                                ("ReusePort on", "ReusePort off", 1),
                                                ("Workers 2", "Workers 3", 1))):
            log = s.reload_with(a, b)
            assert "reload: configuration re-read" in log, log
            if "ReusePort" in b:
                assert "stay as they are" in log, log
            eq(listening_sockets(s.port), sockets, "after reload %d (%s)" % (step, b))
            for c in clients:  # the old workers closed these idle keep-alive connections
                c.close()
            clients = [s.client() for _ in range(30)]
            for c in clients:
                eq(c.request(req("GET", "/one.txt")).body, b"x", "after reload %d" % step)
        for c in clients:
            c.close()
        eq(s.wait_fds(fds), fds, "descriptors with 3 workers again")


FAIL_EPOLL_SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

/* One epoll wait fails with EINVAL: the first one to start after the file named by
 * MK_FAIL_EPOLL appears (removing the file claims the failure, so one worker gets it). */
static int claim(void)
{
    const char *path = getenv("MK_FAIL_EPOLL");
    return path && unlink(path) == 0;
}

/* Looked up before main: dlsym() inside syscall() (which liblttng-ust's threads call)
 * would wait for the loader's lock, held by a dlopen() in another thread. */
static long (*real)(long, ...);
static int (*real_epoll_wait)(int, struct epoll_event *, int, int);

__attribute__((constructor)) static void init(void)
{
    real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
    real_epoll_wait = (int (*)(int, struct epoll_event *, int, int))dlsym(RTLD_NEXT, "epoll_wait");
}

long syscall(long n, ...)
{
    long a[6];
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < 6; i++)
        a[i] = va_arg(ap, long);
    va_end(ap);
    if (n == SYS_epoll_pwait && claim()) {
        errno = EINVAL;
        return -1;
    }
    return real(n, a[0], a[1], a[2], a[3], a[4], a[5]);
}

int epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout)
{
    if (claim()) {
        errno = EINVAL;
        return -1;
    }
    return real_epoll_wait(epfd, ev, max, timeout);
}
"""


@mkt.timeout(60)
def test_failed_event_loop_stops_the_server_with_status_1():
    """A worker whose epoll_wait fails (a bug or a broken kernel object, never load) used to
    leave its loop in silence: the server ran on with a worker less, exit status 0 later,
    and that worker's SO_REUSEPORT listener stayed open, so the kernel kept queueing
    connections nobody would accept.  Now the worker closes its listeners, the server stops
    as on SIGTERM (the other worker finishes its response) and exits with status 1, for a
    supervisor to restart it."""
    d = mkt.tmpdir("failepoll")
    trigger = os.path.join(d, "fail-now")
    s = mkt.Server(conf={"EventLoop": "epoll", "Workers": "2"})
    s.env = mkt.preload_env("failepoll", FAIL_EPOLL_SHIM, MK_FAIL_EPOLL=trigger)
    s.start()
    try:
        c = s.client()
        eq(c.request(req("GET", "/hello.txt")).body, b"hello, world\n", "served before")
        open(trigger, "w").close()
        # Every worker's tick (once a second) starts a new wait: one of them takes the failure.
        rc = s.wait(timeout=20)
        assert rc is not None, "the server runs on after a worker's loop failed:\n" + s.log_tail()
        assert not os.path.exists(trigger), "no epoll wait started after the trigger"
        eq(rc, 1, "exit status after a failed worker loop:\n" + s.log_tail())
        log = s.log_text()
        assert "epoll_wait: Invalid argument" in log, log
        assert "its event loop failed; the server stops (exit status 1)" in log, log
        assert "signal 15: stopping" not in log, "the stop is reported as a signal:\n" + log
    finally:
        s.kill()


def stop_gives_the_whole_grace_period(loop):
    """SIGTERM with a response in flight to a client that does not read: the server waits
    GracePeriod for it, then exits 0.  The deadline was counted in whole seconds from the
    second the stop came in, and looked at by the tick early in each second, so a stop late
    in a second gave almost a second less: with GracePeriod 1, the exit came 0.1-0.2 s after
    the signal.  The signal is sent late in a second of CLOCK_MONOTONIC (the clock the
    server counts in) to hit that case every time."""
    with mkt.Server(conf={"EventLoop": loop, "Workers": "1", "GracePeriod": "1"}) as s:
        if loop == "io_uring" and uring_unavailable(s):
            raise mkt.Skip("io_uring not available here: " + uring_unavailable(s))
        with open(os.path.join(s.docroot, "slow.bin"), "wb") as f:
            f.truncate(64 << 20)
        c = s.client(timeout=10)
        c.send(req("GET", "/slow.bin"))
        c.recv_head()  # then nothing more is read: the response stays in flight
        time.sleep(0.3)
        while time.monotonic() % 1 < 0.85:
            time.sleep(0.01)
        t = time.monotonic()
        s.send_signal(signal.SIGTERM)
        eq(s.wait(10), 0, "%s: exit status" % loop)
        took = time.monotonic() - t
        c.close()
        assert took >= 0.9, "%s: exit %.2f s after SIGTERM with GracePeriod 1 and a " \
            "response in flight" % (loop, took)
        assert took < 5, "%s: exit %.2f s after SIGTERM with GracePeriod 1" % (loop, took)


@mkt.timeout(60)
def test_stop_gives_the_whole_grace_period_epoll():
    stop_gives_the_whole_grace_period("epoll")


@mkt.timeout(60)
def test_stop_gives_the_whole_grace_period_io_uring():
    stop_gives_the_whole_grace_period("io_uring")


# accept4() gives a connection descriptor over 24 bits while the trigger file exists (the
# real one plus 2^24; send() and close() take it back), as a server with that many files
# open would see it: no RLIMIT_NOFILE here may go past fs.nr_open (2^20).
HIGH_FD_SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define HIGH 0x1000000

static int (*real_accept4)(int, struct sockaddr *, socklen_t *, int);
static ssize_t (*real_send)(int, const void *, size_t, int);
static int (*real_close)(int);

__attribute__((constructor)) static void init(void)
{
    real_accept4 = (int (*)(int, struct sockaddr *, socklen_t *, int))dlsym(RTLD_NEXT, "accept4");
    real_send = (ssize_t (*)(int, const void *, size_t, int))dlsym(RTLD_NEXT, "send");
    real_close = (int (*)(int))dlsym(RTLD_NEXT, "close");
}

int accept4(int fd, struct sockaddr *a, socklen_t *n, int flags)
{
    int c = real_accept4(fd, a, n, flags);
    const char *trigger = getenv("MK_HIGH_FD");
    if (c >= 0 && c < HIGH && trigger && access(trigger, F_OK) == 0)
        c += HIGH;
    return c;
}

ssize_t send(int fd, const void *p, size_t n, int flags)
{
    return real_send(fd >= HIGH ? fd - HIGH : fd, p, n, flags);
}

int close(int fd)
{
    return real_close(fd >= HIGH ? fd - HIGH : fd);
}
"""


@mkt.timeout(40)
def test_io_uring_refusals_over_its_descriptor_limit_are_reported():
    """The io_uring loop refuses with a 503 a connection whose descriptor does not fit its 24
    bits of user data.  Those refusals were in no log at all (MaxConnections' are): they are
    said on stderr and in the error logs the same way, at most once every 10 s with their
    number, the rest of a burst by the stop at the latest."""
    trigger = os.path.join(mkt.tmpdir("highfd"), "on")
    s = mkt.Server(conf={"EventLoop": "io_uring", "Workers": "1"})
    s.env = mkt.preload_env("highfd", HIGH_FD_SHIM, MK_HIGH_FD=trigger)
    with s.start():
        why = uring_unavailable(s)
        if why:
            raise mkt.Skip("io_uring not available here: " + why)
        open(trigger, "w").close()
        for i in range(3):
            c = mkt.Client(s.port)
            c.send(req("GET", "/one.txt"))
            eq(c.recv_response(timeout=10).status, 503, "connection %d over the limit" % i)
            c.close()
        first = "descriptor over 16777215, the io_uring loop's limit: 1 new connection refused"
        mkt.wait_until(lambda: first in s.log_text(), 5, "the first refusal's line")
        os.unlink(trigger)
        eq(s.get("/one.txt").status, 200, "a connection under the limit")
    rest = "descriptor over 16777215, the io_uring loop's limit: 2 new connections refused"
    lines = [ln for ln in s.log_text().splitlines() if "io_uring loop's limit" in ln]
    eq(len(lines), 2, "refusal lines: %r" % lines)
    assert first in lines[0] and rest in lines[1], lines


def syscalls_per_keepalive_get(loop, per_request):
    """A keep-alive GET of a small file costs `per_request` system calls: recvfrom, sendto
    and epoll_pwait under epoll, two io_uring_enter under io_uring (a sequential client:
    one for the request, one for its send's completion).  Nothing else may creep in per
    request (2e0ac77's write-timeout sample was an ioctl per io_uring request); the
    once-a-second work (timer tick, file revalidation) is allowed a few calls.  Not in a
    sanitizer build: its runtime makes calls of its own in the worker (ASan's mmaps)."""
    build = subprocess.run([mkt.MONKEY_BIN, "-b"], capture_output=True, text=True).stdout
    if "sanitizers:  none" not in build:
        raise mkt.Skip("a sanitizer build: its runtime's own system calls would count")
    with mkt.Server(conf={"EventLoop": loop, "Workers": "1"}) as s:
        if loop == "io_uring" and uring_unavailable(s):
            raise mkt.Skip("io_uring not available here: " + uring_unavailable(s))
        c = s.client()
        for _ in range(3):
            eq(c.request(req("GET", "/hello.txt")).status, 200, "warm-up")
        n = 200
        with mkt.Strace(s.pid, "all") as st:
            for i in range(n):
                eq(c.request(req("GET", "/hello.txt")).status, 200, "request %d" % i)
        # The worker's calls only (not the main thread waiting for signals, nor a sanitizer
        # runtime's own thread).
        by_tid = collections.defaultdict(collections.Counter)
        for ln in st.lines:
            if "resumed>" in ln:
                continue
            head = ln.split("(", 1)[0].split()
            tid = head[1].rstrip("]") if head[0] == "[pid" else str(s.pid)
            by_tid[tid][head[-1]] += 1
        loop_calls = {"recvfrom", "sendto", "epoll_pwait", "epoll_wait", "io_uring_enter"}
        calls = collections.Counter()
        for c_ in by_tid.values():
            if loop_calls & set(c_):
                calls.update(c_)
        total = sum(calls.values())
        assert total <= per_request * n + 12, "%s: %d system calls for %d keep-alive GETs " \
            "(%.2f each; bound %d each): %s" % (loop, total, n, total / n, per_request,
                                                calls.most_common(8))
        c.close()


def test_three_system_calls_per_keepalive_get_epoll():
    syscalls_per_keepalive_get("epoll", 3)


def test_two_system_calls_per_keepalive_get_io_uring():
    syscalls_per_keepalive_get("io_uring", 2)

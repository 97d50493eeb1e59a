/* The "trivial epoll server" baseline of the benchmarks: one thread, one epoll loop, no
 * parsing.  Every complete request head ("\r\n\r\n") read on a connection is answered with
 * the same fixed 200 response, whose body is as long as the index.html being benchmarked, so
 * its numbers are a ceiling for what any HTTP server can do on this machine with this kernel:
 * the cost of the system calls and of loopback TCP, nothing else.  A connection whose first
 * read starts with "GET /1b.txt " is answered with a 1-byte body instead, for the 1-byte
 * file scenario (the one prefix compare it makes per connection; wrk keeps one path per
 * connection).
 *
 * Usage: trivial_server PORT BODY_BYTES
 *
 * A request that contains "\r\nConnection: close" is answered with "Connection: close" and
 * the connection is closed after the response (the one substring search it does), so the
 * Connection: close scenario measures the same accept/close cycle as the real servers.
 * Responses that do not fit in the socket buffer are finished on EPOLLOUT.  It listens on
 * 127.0.0.1 only and stops on SIGTERM/SIGINT. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_EVENTS 256
#define READ_SIZE 16384

struct conn {
    int fd;
    int tail;          /* how many bytes of "\r\n\r\n" the previous read ended with */
    int closing;       /* close once everything owed is written */
    uint32_t owed;     /* responses still to write after the current one */
    const char *cur;   /* response being written, NULL when none */
    size_t cur_len;
    size_t cur_off;
    int want_out;      /* EPOLLOUT is registered */
    int size;          /* 0: BODY_BYTES responses, 1: 1-byte ones; -1 until the first read */
};

static volatile sig_atomic_t stop;
static char *resp[2][2]; /* [size][close] */
static size_t resp_len[2][2];
static int epfd;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static char *make_response(size_t body, int close_it, size_t *len)
{
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 200 OK\r\nServer: trivial\r\nContent-Type: text/html\r\n"
                     "Content-Length: %zu\r\n%s\r\n",
                     body, close_it ? "Connection: close\r\n" : "");
    char *r = malloc((size_t)n + body);
    if (!r) {
        perror("malloc");
        exit(1);
    }
    memcpy(r, head, (size_t)n);
    memset(r + n, 'x', body);
    *len = (size_t)n + body;
    return r;
}

static void conn_close(struct conn *c)
{
    close(c->fd); /* also removes it from the epoll set */
    free(c);
}

/* Count the request heads that end in buf, carrying a partial "\r\n\r\n" over reads. */
static uint32_t count_heads(struct conn *c, const char *buf, size_t n)
{
    static const char pat[] = "\r\n\r\n";
    uint32_t found = 0;
    int t = c->tail;
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == pat[t]) {
            if (++t == 4) {
                found++;
                t = 0;
            }
        } else {
            t = buf[i] == '\r' ? 1 : 0;
        }
    }
    c->tail = t;
    return found;
}

/* Write what is owed; returns -1 when the connection must be closed. */
static int flush(struct conn *c)
{
    for (;;) {
        if (!c->cur) {
            if (c->owed == 0)
                break;
            c->owed--;
            int last = c->owed == 0 && c->closing;
            c->cur = resp[c->size][last];
            c->cur_len = resp_len[c->size][last];
            c->cur_off = 0;
        }
        ssize_t w = write(c->fd, c->cur + c->cur_off, c->cur_len - c->cur_off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                return -1;
            if (!c->want_out) {
                struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
                epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
                c->want_out = 1;
            }
            return 0;
        }
        c->cur_off += (size_t)w;
        if (c->cur_off == c->cur_len)
            c->cur = NULL;
    }
    if (c->closing)
        return -1;
    if (c->want_out) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
        c->want_out = 0;
    }
    return 0;
}

static int on_readable(struct conn *c)
{
    static char buf[READ_SIZE];
    ssize_t n = read(c->fd, buf, sizeof(buf));
    if (n == 0)
        return -1;
    if (n < 0)
        return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
    if (c->size < 0)
        c->size = n >= 12 && memcmp(buf, "GET /1b.txt ", 12) == 0;
    uint32_t heads = count_heads(c, buf, (size_t)n);
    if (heads == 0 || c->closing)
        return 0;
    if (memmem(buf, (size_t)n, "\r\nConnection: close", 19)) {
        c->closing = 1;
        heads = 1;
    }
    c->owed += heads;
    return flush(c);
}

static void on_accept(int lfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN, or out of descriptors: the next event retries */
        struct conn *c = calloc(1, sizeof(*c));
        if (!c) {
            close(fd);
            return;
        }
        c->fd = fd;
        c->size = -1;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
            conn_close(c);
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s PORT BODY_BYTES\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[1]);
    size_t body = (size_t)strtoul(argv[2], NULL, 10);
    for (int close_it = 0; close_it < 2; close_it++) {
        resp[0][close_it] = make_response(body, close_it, &resp_len[0][close_it]);
        resp[1][close_it] = make_response(1, close_it, &resp_len[1][close_it]);
    }

    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        listen(lfd, 4096) < 0) {
        perror("trivial_server: listen");
        return 1;
    }
    epfd = epoll_create1(EPOLL_CLOEXEC);
    static int listener_tag;
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = &listener_tag};
    epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev);

    struct epoll_event evs[MAX_EVENTS];
    while (!stop) {
        int n = epoll_wait(epfd, evs, MAX_EVENTS, -1);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == &listener_tag) {
                on_accept(lfd);
                continue;
            }
            struct conn *c = evs[i].data.ptr;
            int rc = 0;
            if (evs[i].events & (EPOLLERR | EPOLLHUP))
                rc = -1;
            if (rc == 0 && (evs[i].events & EPOLLOUT))
                rc = flush(c);
            if (rc == 0 && (evs[i].events & EPOLLIN))
                rc = on_readable(c);
            if (rc < 0)
                conn_close(c);
        }
    }
    close(lfd);
    return 0;
}

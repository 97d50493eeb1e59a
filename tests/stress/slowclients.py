#!/usr/bin/python3
"""Slow HTTP clients for tests/stress/run.py (Python standard library, one epoll loop).

Run as a separate process so that the probe client and the measurements in run.py are not
slowed down by this loop.  Loopback only, bounded in connections and in time.

    slowclients.py MODE --port P --conns N --duration D [--interval S] [--rate R]
                        [--settle S] [--path P] [--rcvbuf B] [--body-size N]

MODE
  headers  slowloris: "GET / HTTP/1.1", "Host:", then one more header line every
           --interval seconds, never the blank line.  A connection the server closes is
           replaced until --duration is over (so N stay open); then the last ones are given
           --settle seconds to be closed by the server.
  body     slow POST: a complete head with "Content-Length: --body-size", then one body byte
           every --interval seconds.  One round, no replacement.
  read     slow reader: SO_RCVBUF = --rcvbuf before connect, "GET --path", then recv(1) every
           --interval seconds.  One round; at the end every socket is reset (SO_LINGER 0).

SIGTERM ends the run early (the report is still printed).  Prints "READY <n>" (flushed) once the first N connections are connected and have sent their
first bytes, then at the end one line of JSON with the counts and the lifetimes (seconds from
connect to the server's close) of the connections the server closed.
"""

import argparse
import errno
import heapq
import json
import select
import signal
import socket
import struct
import sys
import time

STOP = []


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=("headers", "body", "read"))
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--conns", type=int, required=True)
    ap.add_argument("--duration", type=float, required=True)
    ap.add_argument("--interval", type=float, default=2.0)
    ap.add_argument("--rate", type=float, default=2000.0, help="new connections per second")
    ap.add_argument("--settle", type=float, default=15.0)
    ap.add_argument("--path", default="/")
    ap.add_argument("--rcvbuf", type=int, default=4096)
    ap.add_argument("--body-size", type=int, default=30000)
    o = ap.parse_args()
    if o.host not in ("127.0.0.1", "::1"):
        sys.exit("loopback only")

    ep = select.epoll()
    conns = {}          # fd -> dict(sock, t0, connected, sent, got)
    timers = []         # heap of (when, fd, generation)
    st = {"mode": o.mode, "opened": 0, "connected": 0, "connect_errors": 0, "closed_by_server": 0,
          "answered": 0, "answers": {}, "send_errors": 0, "never_closed": 0, "peak_open": 0,
          "bytes_read": 0}
    lifetimes = []
    start = time.monotonic()
    end_open = start + o.duration
    ready_said = False
    gen = 0
    family = socket.AF_INET6 if ":" in o.host else socket.AF_INET

    def first_bytes(i):
        if o.mode == "headers":
            return ("GET %s?slow=%d HTTP/1.1\r\nHost: localhost\r\n" % (o.path, i)).encode()
        if o.mode == "body":
            return ("POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\n"
                    "Content-Length: %d\r\n\r\n" % (o.path, o.body_size)).encode()
        return ("GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n" % o.path).encode()

    def open_one():
        nonlocal gen
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setblocking(False)
        if o.mode == "read":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, o.rcvbuf)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        err = s.connect_ex((o.host, o.port))
        if err not in (0, errno.EINPROGRESS):
            st["connect_errors"] += 1
            s.close()
            return
        gen += 1
        conns[s.fileno()] = {"sock": s, "t0": time.monotonic(), "connected": False, "n": 0,
                             "gen": gen, "got": b""}
        ep.register(s.fileno(), select.EPOLLOUT)
        st["opened"] += 1
        st["peak_open"] = max(st["peak_open"], len(conns))

    def drop(fd, by_server):
        c = conns.pop(fd)
        try:
            ep.unregister(fd)
        except OSError:
            pass
        if by_server:
            st["closed_by_server"] += 1
            lifetimes.append(time.monotonic() - c["t0"])
            if c["got"].startswith(b"HTTP/"):
                st["answered"] += 1
                line = c["got"].split(b"\r\n", 1)[0].decode("latin-1")
                st["answers"][line] = st["answers"].get(line, 0) + 1
        c["sock"].close()

    def tick(fd):
        """The periodic action of one connection: one more header line / body byte / read."""
        c = conns[fd]
        s = c["sock"]
        c["n"] += 1
        try:
            if o.mode == "headers":
                s.send(b"X-Slow-%d: %d\r\n" % (c["n"], c["n"]))
            elif o.mode == "body":
                if c["n"] <= o.body_size:
                    s.send(b"a")
            else:
                d = s.recv(1)
                if not d:
                    drop(fd, True)
                    return
                st["bytes_read"] += len(d)
        except BlockingIOError:
            pass
        except OSError:
            st["send_errors"] += 1
            drop(fd, True)
            return
        heapq.heappush(timers, (time.monotonic() + o.interval, fd, c["gen"]))

    signal.signal(signal.SIGTERM, lambda *a: STOP.append(1))
    last_open = start
    while not STOP:
        now = time.monotonic()
        opening = now < end_open and (o.mode == "headers" or st["opened"] < o.conns)
        if opening:
            want = min(o.conns - len(conns), int((now - last_open) * o.rate) + 1)
            for _ in range(max(0, want)):
                open_one()
            last_open = now
        elif not conns:
            break
        elif now > end_open + o.settle:
            break
        if not ready_said and st["connected"] >= o.conns and \
                all(c["connected"] for c in conns.values()):
            ready_said = True
            print("READY %d" % st["connected"], flush=True)
        wait = 0.05
        if timers:
            wait = max(0.0, min(wait, timers[0][0] - now))
        for fd, ev in ep.poll(wait):
            c = conns.get(fd)
            if c is None:
                continue
            s = c["sock"]
            if not c["connected"]:
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    st["connect_errors"] += 1
                    conns.pop(fd)
                    ep.unregister(fd)
                    s.close()
                    continue
                c["connected"] = True
                c["t0"] = time.monotonic()
                st["connected"] += 1
                try:
                    s.send(first_bytes(st["connected"]))
                except OSError:
                    st["send_errors"] += 1
                    drop(fd, True)
                    continue
                # readers poll with recv(1) on their timer; the others watch for the close
                ep.modify(fd, 0 if o.mode == "read" else select.EPOLLIN | select.EPOLLRDHUP)
                heapq.heappush(timers, (time.monotonic() + o.interval, fd, c["gen"]))
                continue
            try:
                d = s.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                d = b""
            if d:
                c["got"] += d[:4096 - len(c["got"])] if len(c["got"]) < 4096 else b""
                continue
            drop(fd, True)
        now = time.monotonic()
        while timers and timers[0][0] <= now:
            _, fd, g = heapq.heappop(timers)
            c = conns.get(fd)
            if c is not None and c["gen"] == g and c["connected"]:
                tick(fd)

    # Finishing anyway: a late SIGTERM must not kill the report (Python puts SIG_DFL back for
    # its own handlers during finalization, but leaves SIG_IGN alone).
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    st["never_closed"] = len(conns)
    for fd in list(conns):
        s = conns.pop(fd)["sock"]
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        s.close()
    lifetimes.sort()
    if lifetimes:
        st["lifetime_min"] = round(lifetimes[0], 2)
        st["lifetime_median"] = round(lifetimes[len(lifetimes) // 2], 2)
        st["lifetime_max"] = round(lifetimes[-1], 2)
    st["elapsed"] = round(time.monotonic() - start, 2)
    if not ready_said:
        print("READY %d" % st["connected"], flush=True)
    print(json.dumps(st), flush=True)


if __name__ == "__main__":
    main()

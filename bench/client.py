#!/usr/bin/python3
"""Simple HTTP/1.1 clients for the benchmark harness (standard library only).

  client.py fixed HOST PORT PATH N [WARMUP]
      One keep-alive connection, requests sent one at a time (deterministic: no pipelining,
      no concurrency).  Does WARMUP requests, prints "ready", waits for a line on stdin,
      does N requests, prints "done OK BAD" (BAD = non-200 or broken responses), then waits
      for stdin to close.  The harness zeroes its counters (callgrind, strace) between
      "ready" and the go line, and reads them after "done".

  client.py idle HOST PORT PATH N
      Opens N connections, sends one keep-alive request on each and reads the whole
      response, then prints "ready OPEN" (OPEN = connections the server still holds open),
      waits for a line on stdin, closes everything and exits.  RLIMIT_NOFILE is raised to
      the hard limit first.
"""
import os
import resource
import select
import socket
import sys


def request_bytes(host, port, path):
    return ("GET %s HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (path, host, port)).encode()


class Reader:
    """Reads whole responses (head + Content-Length body) from one socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def response(self):
        """Returns the status code, or -1 when the connection broke."""
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            data = self.sock.recv(65536)
            if not data:
                return -1
            self.buf += data
        head = self.buf[:end].decode("latin-1")
        lines = head.split("\r\n")
        try:
            status = int(lines[0].split()[1])
        except (IndexError, ValueError):
            return -1
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        need = end + 4 + length
        while len(self.buf) < need:
            data = self.sock.recv(max(65536, need - len(self.buf)))
            if not data:
                return -1
            self.buf += data
        self.buf = self.buf[need:]
        return status


def connect(host, port, timeout=120):
    s = socket.create_connection((host, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def run_fixed(host, port, path, n, warmup):
    req = request_bytes(host, port, path)
    sock = connect(host, port)
    rd = Reader(sock)

    def batch(count):
        ok = bad = 0
        for _ in range(count):
            sock.sendall(req)
            status = rd.response()
            if status == 200:
                ok += 1
            elif status < 0:
                return ok, bad + (count - ok - bad)
            else:
                bad += 1
        return ok, bad

    batch(warmup)
    print("ready", flush=True)
    sys.stdin.readline()
    ok, bad = batch(n)
    print("done %d %d" % (ok, bad), flush=True)
    sys.stdin.read()
    sock.close()


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def still_open(sock):
    """True when the server has not closed the connection (nothing to read, no EOF)."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    if not poller.poll(0):
        return True
    try:
        data = sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except (BlockingIOError, InterruptedError):
        return True
    except OSError:
        return False
    return bool(data)


def run_idle(host, port, path, n):
    raise_nofile()
    req = request_bytes(host, port, path)
    socks = []
    bad = 0
    batch = 250
    while len(socks) < n:
        group = []
        for _ in range(min(batch, n - len(socks))):
            try:
                s = connect(host, port, timeout=15)
            except OSError as e:
                print("connect failed after %d: %s" % (len(socks), e), file=sys.stderr)
                n = len(socks)
                break
            group.append(s)
        for s in group:
            s.sendall(req)
        for s in group:
            try:
                if Reader(s).response() != 200:
                    bad += 1
            except OSError:
                bad += 1
        socks.extend(group)
    is_open = sum(1 for s in socks if still_open(s))
    print("ready %d %d" % (is_open, bad), flush=True)
    sys.stdin.readline()
    for s in socks:
        s.close()


def main():
    if len(sys.argv) < 6:
        sys.exit(__doc__)
    mode, host, port, path, n = sys.argv[1:6]
    port, n = int(port), int(n)
    if mode == "fixed":
        warmup = int(sys.argv[6]) if len(sys.argv) > 6 else 200
        run_fixed(host, port, path, n, warmup)
    elif mode == "idle":
        run_idle(host, port, path, n)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()

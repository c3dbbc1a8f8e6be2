#!/usr/bin/env python3
"""hostile.py - clients that misbehave against the control API (api_limits.sh).

Every mode is bounded in connections and time and talks to loopback only.

  flood PORT PID N SIZE      N connections without a token, spread over the
                             source addresses 127.0.0.1..4, each announcing
                             and sending SIZE bytes; prints "statuses=<s:n,..>
                             rss_before_kib=A rss_max_kib=B"
  slow PORT N SECONDS        N connections from 127.0.0.1 that send a request
                             head one byte a second and never finish it; after
                             1 s a client from 127.0.0.2 asks GET /v1/health.
                             Prints "accepted=A other_status=S other_ms=T
                             other_before_cut=B longest_s=L" (A: how many
                             stayed open over 5 s, half the head deadline,
                             which a connection refused at accept does not
                             however loaded the machine; B: 1 when the other
                             client was answered before any of those was
                             closed; L: how long the longest of them stayed
                             open, SECONDS if it never closed)
  slowbody PORT TOKEN SECONDS  a request with the token whose body comes one
                             byte a second; prints "closed_s=T status=S"
  raw PORT                   sends standard input as is, prints the first
                             response line (30 s at most: it comes at once
                             unless the machine is loaded)
  linger PORT SIZE           a PUT without a token announcing SIZE bytes, all
                             sent blindly (sendall) before the answer is read:
                             a client still sending when it is refused.
                             Prints "sent=all|SENT_BYTES:ERROR status=S eof=0|1"
                             (sent=all only if unifaasd kept reading until
                             the body was in: linger.h)
  lingermax PORT             the same, announcing 1 GiB and sending until the
                             connection ends (at most 1 GiB, 60 s); prints
                             "ended=0|1 sent_mib=M" (what unifaasd took
                             after refusing it: bounded by LINGER_BYTES_MAX)
  health PORT SECONDS [PID]  GET /v1/health in a loop; prints "n=N max_ms=M
                             max_cpu_ms=C" (C: the most CPU time process PID
                             used while one request waited for its answer:
                             a daemon that handles other work in one long
                             turn uses it all then, whatever the load)
"""
import os
import selectors
import socket
import sys
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def connect(port, src="127.0.0.1", timeout=5):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


def status_of(data):
    line = data.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split(" ")
    return parts[1] if len(parts) > 1 else "none"


def flood(port, pid, n, size):
    sel = selectors.DefaultSelector()
    chunk = b"x" * 65536
    before = rss_kib(pid)
    peak = before
    conns = {}
    for i in range(n):
        s = connect(port, f"127.0.0.{1 + i % 4}")
        s.setblocking(False)
        head = (f"PUT /v1/workflows/eval/kv/flood{i} HTTP/1.1\r\nHost: x\r\n"
                f"Content-Length: {size}\r\n\r\n").encode()
        s.send(head)
        conns[s] = {"left": size, "reply": b""}
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    end = time.monotonic() + 60
    statuses = {}
    while conns and time.monotonic() < end:
        for key, ev in sel.select(0.05):
            s, st = key.fileobj, conns[key.fileobj]
            done = False
            try:
                if ev & selectors.EVENT_READ:
                    b = s.recv(65536)
                    st["reply"] += b
                    done = not b or b"\r\n\r\n" in st["reply"]
                if not done and ev & selectors.EVENT_WRITE and st["left"] > 0:
                    k = s.send(chunk[: min(len(chunk), st["left"])])
                    st["left"] -= k
                    if st["left"] == 0:
                        sel.modify(s, selectors.EVENT_READ)
            except OSError:
                done = True
            if done:
                code = status_of(st["reply"]) if st["reply"] else "closed"
                statuses[code] = statuses.get(code, 0) + 1
                sel.unregister(s)
                s.close()
                del conns[s]
        peak = max(peak, rss_kib(pid))
    statuses["unfinished"] = len(conns)
    for s in conns:
        s.close()
    peak = max(peak, rss_kib(pid))
    print("statuses=" + ",".join(f"{k}:{v}" for k, v in sorted(statuses.items())),
          f"rss_before_kib={before} rss_max_kib={peak}")


def slow(port, n, seconds):
    head = b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 10000
    conns = []
    for _ in range(n):
        try:
            s = connect(port)
            s.setblocking(False)
            conns.append([s, 0, None])  # socket, bytes sent, closed at
        except OSError:
            pass
    start = time.monotonic()
    other_status, other_ms, other_at = "none", -1, None
    asked = False
    while time.monotonic() - start < seconds and any(c[2] is None for c in conns):
        now = time.monotonic()
        for c in conns:
            if c[2] is not None:
                continue
            try:
                if c[1] < int(now - start) + 1:
                    c[0].send(head[c[1]:c[1] + 1])
                    c[1] += 1
                b = c[0].recv(4096)
                if not b:
                    c[2] = now - start
            except BlockingIOError:
                pass
            except OSError:
                c[2] = now - start
        if not asked and now - start >= 1:
            asked = True
            t0 = time.monotonic()
            try:
                o = connect(port, "127.0.0.2", timeout=30)
                o.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                other_status = status_of(o.recv(4096))
                o.close()
            except OSError as e:
                other_status = type(e).__name__
            other_at = time.monotonic() - start
            other_ms = int((time.monotonic() - t0) * 1000)
        time.sleep(0.05)
    # accepted: open past half the head deadline (10 s); one refused at
    # accept is closed at once (a count taken at 1 s also counted those a
    # loaded daemon had not closed yet)
    kept = [c[2] if c[2] is not None else seconds for c in conns if c[2] is None or c[2] > 5]
    accepted = len(kept)
    longest = max(kept) if kept else 0
    first_cut = min(kept) if kept else seconds
    before = 1 if other_at is not None and other_at < first_cut else 0
    for c in conns:
        c[0].close()
    print(f"accepted={accepted} other_status={other_status} other_ms={other_ms} "
          f"other_before_cut={before} longest_s={longest:.1f}")


def slowbody(port, token, seconds):
    s = connect(port, timeout=1)
    s.sendall((f"PUT /v1/workflows/eval/kv/slow HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
               "Content-Length: 1000\r\n\r\n").encode())
    start, reply, closed = time.monotonic(), b"", None
    while closed is None and time.monotonic() - start < seconds:
        try:
            s.send(b"z")
            b = s.recv(4096)
            reply += b
            if not b:
                closed = time.monotonic() - start
        except socket.timeout:
            pass
        except OSError:
            closed = time.monotonic() - start
    s.close()
    print(f"closed_s={closed if closed is not None else seconds:.1f} status={status_of(reply) if reply else 'none'}")


def raw(port):
    s = connect(port, timeout=30)
    s.sendall(sys.stdin.buffer.read())
    try:
        data = s.recv(4096)
    except socket.timeout:
        data = b""
    print(data.split(b"\r\n", 1)[0].decode("latin-1") if data else "no answer")


def linger(port, size, blind=True):
    s = connect(port, timeout=60)
    s.sendall((f"PUT /v1/workflows/eval/kv/linger HTTP/1.1\r\nHost: x\r\n"
               f"Content-Length: {size}\r\n\r\n").encode())
    chunk, sent, err = b"x" * 65536, 0, None
    end = time.monotonic() + 60
    try:
        while sent < size and time.monotonic() < end:
            sent += s.send(chunk[: min(len(chunk), size - sent)])
    except OSError as e:
        err = e.errno
    data, eof = b"", 0
    try:
        while True:
            b = s.recv(65536)
            if not b:
                eof = 1  # the answer, then end of file: no reset
                break
            data += b
    except OSError:
        pass
    s.close()
    if blind:
        print(f"sent={'all' if err is None and sent == size else f'{sent}:{err}'}",
              f"status={status_of(data) if data else 'none'} eof={eof}")
    else:
        print(f"ended={1 if err is not None or sent < size else 0} sent_mib={sent >> 20}")


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def health(port, seconds, pid=None):
    end, n, worst, worst_cpu = time.monotonic() + seconds, 0, 0.0, 0
    tick_ms = 1000 // os.sysconf("SC_CLK_TCK")
    while time.monotonic() < end:
        t0 = time.monotonic()
        c0 = cpu_ticks(pid) if pid else 0
        s = connect(port, timeout=30)
        s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        s.recv(4096)
        s.close()
        worst = max(worst, time.monotonic() - t0)
        if pid:
            worst_cpu = max(worst_cpu, (cpu_ticks(pid) - c0) * tick_ms)
        n += 1
        time.sleep(0.02)
    print(f"n={n} max_ms={int(worst * 1000)} max_cpu_ms={worst_cpu}")


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    if mode == "flood":
        flood(port, int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    elif mode == "slow":
        slow(port, int(sys.argv[3]), float(sys.argv[4]))
    elif mode == "slowbody":
        slowbody(port, sys.argv[3], float(sys.argv[4]))
    elif mode == "raw":
        raw(port)
    elif mode == "linger":
        linger(port, int(sys.argv[3]))
    elif mode == "lingermax":
        linger(port, 1 << 30, blind=False)
    elif mode == "health":
        health(port, float(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else None)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()

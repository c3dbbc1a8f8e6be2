#!/usr/bin/env python3
"""ingress_flood.py - one workflow floods the HTTP ingress while Redis is
stopped, another workflow posts one event after the flood is in
(tests/integration/ingress_fair.sh).  Loopback only, bounded in count and
time.

  ingress_flood.py PORT REDIS_PID FLOOD_PATH FLOOD_TOKEN CALM_PATH CALM_TOKEN N OUT

N connections (half from 127.0.0.1, half from 127.0.0.2: one address holds
at most ingress_conns_per_address) are opened first; then Redis is stopped
(SIGSTOP), each connection POSTs one event "f<i>", and 0.4 s later the other
workflow POSTs "calm"; Redis is continued once unifaasd has read calm's
request (its socket's receive queue empty, as `ss` sees it), at least 0.3 s
after it was sent and at most 1.5 s after the stop (the store gives up on a
Redis silent for 2 s: a loaded unifaasd could read calm's request after a
fixed 0.3 s, with Redis already continued and the flood ahead); it is always
continued, also on an error.  Every answer is written to OUT, one line
each: "f<i> STATUS BODY" and "calm STATUS BODY" (the body on one line).
"""
import os
import signal
import socket
import subprocess
import sys
import threading
import time

port, rpid = int(sys.argv[1]), int(sys.argv[2])
fpath, ftok, cpath, ctok = sys.argv[3:7]
n, out = int(sys.argv[7]), sys.argv[8]


def request(path, token, body):
    return (
        "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
        "Content-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
        % (path, token, len(body), body)
    ).encode()


def answer(s):
    data = b""
    s.settimeout(30)
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError as e:
        return "error %s" % e
    head, _, body = data.partition(b"\r\n\r\n")
    parts = head.split(b" ", 2)
    status = parts[1].decode() if len(parts) > 1 else "none"
    return "%s %s" % (status, body.decode(errors="replace").replace("\n", " ").strip())


socks = []
for i in range(n):
    src = "127.0.0.1" if i % 2 == 0 else "127.0.0.2"
    socks.append(socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(src, 0)))
results = [None] * n
go = threading.Event()


def flood(i):
    go.wait()
    try:
        socks[i].sendall(request(fpath, ftok, "f%d" % i))
        results[i] = answer(socks[i])
    except OSError as e:
        results[i] = "error %s" % e


def unread(c):
    """whether the daemon has not read all of what c sent (or it cannot be told)"""
    q = "( sport = :%d and dport = :%d )" % (port, c.getsockname()[1])
    try:
        r = subprocess.run(["ss", "-Htn", "state", "established", q], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return True
    f = r.stdout.split()
    return not f or f[0] != "0"


threads = [threading.Thread(target=flood, args=(i,)) for i in range(n)]
for t in threads:
    t.start()
calm = "none"
os.kill(rpid, signal.SIGSTOP)
stopped = time.monotonic()
try:
    go.set()
    time.sleep(0.4)
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    c.sendall(request(cpath, ctok, "calm"))
    time.sleep(0.3)
    while unread(c) and time.monotonic() < stopped + 1.5:
        time.sleep(0.02)
    sys.stderr.write("calm's request %s when Redis was continued, %d ms after the stop\n"
                     % ("unread" if unread(c) else "read", (time.monotonic() - stopped) * 1000))
finally:
    os.kill(rpid, signal.SIGCONT)
calm = answer(c)
for t in threads:
    t.join(40)
with open(out, "w") as f:
    for i, r in enumerate(results):
        f.write("f%d %s\n" % (i, r))
    f.write("calm %s\n" % calm)

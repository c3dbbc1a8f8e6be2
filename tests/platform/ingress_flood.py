#!/usr/bin/env python3
"""ingress_flood.py - one workflow floods the HTTP ingress while Redis is
stopped, another workflow posts one event after the flood is in
(tests/integration/ingress_fair.sh).  Loopback only, bounded in count and
time.

  ingress_flood.py PORT REDIS_PID FLOOD_PATH FLOOD_TOKEN CALM_PATH CALM_TOKEN N OUT

N connections (half from 127.0.0.1, half from 127.0.0.2: one address holds
at most ingress_conns_per_address) are opened first; then Redis is stopped
(SIGSTOP), each connection POSTs one event "f<i>", and 0.4 s later the other
workflow POSTs "calm"; Redis is continued 0.3 s after that (it is always
continued, also on an error).  Every answer is written to OUT, one line
each: "f<i> STATUS BODY" and "calm STATUS BODY" (the body on one line).
"""
import os
import signal
import socket
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


threads = [threading.Thread(target=flood, args=(i,)) for i in range(n)]
for t in threads:
    t.start()
calm = "none"
os.kill(rpid, signal.SIGSTOP)
try:
    go.set()
    time.sleep(0.4)
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    c.sendall(request(cpath, ctok, "calm"))
    time.sleep(0.3)
finally:
    os.kill(rpid, signal.SIGCONT)
calm = answer(c)
for t in threads:
    t.join(40)
with open(out, "w") as f:
    for i, r in enumerate(results):
        f.write("f%d %s\n" % (i, r))
    f.write("calm %s\n" % calm)

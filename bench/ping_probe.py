#!/usr/bin/env python3
"""bench/ping_probe.py SOCKET PASSWORD_FILE - how long Redis keeps a client
waiting: PING after PING over the unix socket (one at a time, no pause)
until SIGTERM or SIGINT, then one line:
  pings N max_ms X p99_ms Y p50_ms Z over_10ms K window_s W
max_ms is the longest any one PING waited: the longest stall a command
(a MULTI/EXEC, an AOF write) caused.  bench/stall.sh runs it beside each
scenario."""
import signal
import socket
import sys
import time

sock_path, pass_file = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sock_path)
pw = open(pass_file).read().strip()
s.sendall(("*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n" % (len(pw), pw)).encode())
if not s.recv(64).startswith(b"+OK"):
    sys.exit("ping_probe: AUTH refused")
stop = False


def on_stop(*_):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_stop)
signal.signal(signal.SIGINT, on_stop)
rtts = []
t_start = time.monotonic()
while not stop:
    t0 = time.monotonic()
    try:
        s.sendall(b"PING\r\n")
        buf = b""
        while not buf.endswith(b"\r\n"):
            chunk = s.recv(64)
            if not chunk:
                sys.exit("ping_probe: connection closed")
            buf += chunk
    except InterruptedError:
        continue
    rtts.append(time.monotonic() - t0)
window = time.monotonic() - t_start
rtts.sort()
n = len(rtts)
pct = lambda q: rtts[min(n - 1, int(q * n))] * 1000 if n else 0.0
print("pings %d max_ms %.2f p99_ms %.3f p50_ms %.3f over_10ms %d window_s %.1f"
      % (n, rtts[-1] * 1000 if n else 0.0, pct(0.99), pct(0.50), sum(1 for r in rtts if r > 0.010), window))

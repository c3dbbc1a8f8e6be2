#!/usr/bin/env python3
"""bench/ingress_probe.py - one workflow's HTTP ingress latency
(bench/ingress_fair.sh).

  ingress_probe.py PORT PATH TOKEN SECONDS [INTERVAL_MS]

POSTs a 16-byte event to PATH every INTERVAL_MS (default 10) for SECONDS
over one kept-alive connection, and times each request from its sending to
its answer (202: the event is in Redis).  Prints one line:
  n= errors= mean_ms= p50_ms= p90_ms= p99_ms= max_ms=
errors counts answers other than 202 (the first printed on stderr)."""
import http.client
import sys
import time

port, path, token, secs = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
interval = (float(sys.argv[5]) if len(sys.argv) > 5 else 10.0) / 1000
headers = {"Authorization": "Bearer " + token, "Content-Type": "application/octet-stream"}
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
lat, errors = [], 0
end = time.monotonic() + secs
nxt = time.monotonic()
while time.monotonic() < end:
    t0 = time.monotonic()
    try:
        conn.request("POST", path, body=b"probe-0123456789", headers=headers)
        r = conn.getresponse()
        body = r.read()
        status = r.status
    except (OSError, http.client.HTTPException) as e:
        status, body = 0, str(e).encode()
        conn.close()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    t1 = time.monotonic()
    if status == 202:
        lat.append((t1 - t0) * 1000)
    else:
        if not errors:
            print("ingress_probe: %d %s" % (status, body[:200]), file=sys.stderr)
        errors += 1
    nxt += interval
    time.sleep(max(0.0, nxt - time.monotonic()))
lat.sort()


def pct(p):
    return lat[min(len(lat) - 1, int(p * len(lat)))] if lat else 0.0


mean = sum(lat) / len(lat) if lat else 0.0
print("n=%d errors=%d mean_ms=%.2f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f"
      % (len(lat), errors, mean, pct(0.5), pct(0.9), pct(0.99), lat[-1] if lat else 0))

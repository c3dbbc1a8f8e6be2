#!/usr/bin/env python3
"""tests/platform/paced_push.py - one workflow's steady pushes beside a
flood, until the test says stop (tests/integration/ingress_rate.sh: calm
beside flood).

  paced_push.py API_URL TOKEN_FILE WF QUEUE PREFIX EVERY_MS MIN STOP_FILE OUT

Pushes PREFIX1, PREFIX2, ... over the control API (POST
/v1/workflows/WF/queues/QUEUE/events, one event a request, on one
kept-alive connection), one every EVERY_MS on a fixed schedule (a late
one goes at once), MIN of them at least and then until STOP_FILE exists.
One process for the whole run: a `unifaas push` process per event took
over a second each on a loaded machine, which is no steady pace (and the
pushes' gaps are what the test judges by).  Writes "EVENT STATUS" for
each push to OUT (STATUS 0: no answer); exit status 0 whatever the
answers."""
import http.client
import os
import sys
import time
import urllib.parse

url, token_file, wf, queue, prefix = sys.argv[1:6]
every, least, stop, out = int(sys.argv[6]) / 1000.0, int(sys.argv[7]), sys.argv[8], sys.argv[9]
token = open(token_file).read().strip()
u = urllib.parse.urlparse(url)
path = "/v1/workflows/%s/queues/%s/events" % (wf, queue)
hdr = {"Authorization": "Bearer " + token, "Content-Type": "application/octet-stream"}
conn = None
t0 = time.monotonic()
i = 0
with open(out, "w") as f:
    while i < least or not os.path.exists(stop):
        i += 1
        due = t0 + (i - 1) * every
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        ev = "%s%d" % (prefix, i)
        status = 0
        try:
            if conn is None:
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
            conn.request("POST", path, body=ev.encode(), headers=hdr)
            r = conn.getresponse()
            r.read()
            status = r.status
        except (OSError, http.client.HTTPException):
            conn = None  # a new connection for the next one
        f.write("%s %d\n" % (ev, status))
        f.flush()

#!/usr/bin/env python3
"""tests/platform/steady_load.py - the steady workflow's load and its figures
(the noisy-neighbour test and bench: tests/integration/isolation.sh,
bench/isolation.sh; issue 11 §5).

  steady_load.py API_URL TOKEN_FILE WF QUEUE RATE SECONDS STATE_DIR DONE_KEY [WAIT_S]

Pushes the event "open" RATE times a second for SECONDS over the control
API (POST /v1/workflows/WF/queues/QUEUE/events, one event a request, on
kept-alive connections; 4 senders, each on its own fixed schedule, catching
up at once when late), then waits up to WAIT_S (default 60) seconds for
every pushed event to be handled, reading the stream DONE_KEY that
tests/platform/steady_fn.c writes (each handled event's id, pushed in its
commit) from the platform's Redis (STATE_DIR's socket and password).

Latency of an event: the millisecond of its DONE entry's id (Redis's clock
when the commit was written) minus that of its own id (Redis's clock when
the push was written): push-to-handled, to the millisecond, both read off
one clock.  Throughput: events handled per second from the first push to
the last commit.  Prints one line of key=value figures:
  pushed= refused= handled= lost= dup= p50_ms= p99_ms= max_ms= offered_per_s=
  throughput_per_s= push_p99_ms= read_p50_ms= read_p99_ms= commit_p50_ms=
  commit_p99_ms=
read_* is push written -> handler ran (steady_fn.c's wall clock in its
record), commit_* handler ran -> commit written (to the millisecond of the
commit's id, so it may be below 0 by up to 1 ms).
lost counts pushed events not handled within WAIT_S, dup those handled
more than once; refused counts pushes the API did not take (each a 4xx/5xx,
its first answer printed on stderr).  Status 0 whatever the figures."""
import http.client
import json
import subprocess
import sys
import threading
import time
import urllib.parse


def pct(xs, p):
    """nearest-rank percentile of a sorted list"""
    if not xs:
        return -1
    k = max(0, min(len(xs) - 1, int(-(-p * len(xs) // 100)) - 1))
    return xs[k]


def id_ms(i):
    return int(i.split("-")[0])


def sender(url, token, path, rate, seconds, nth, every, t0, out):
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    hdr = {"Authorization": "Bearer " + token, "Content-Type": "text/plain"}
    i = nth
    n = int(rate * seconds)
    while i < n:
        due = t0 + i / rate
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        s = time.monotonic()
        try:
            conn.request("POST", path, body=b"open", headers=hdr)
            r = conn.getresponse()
            body = r.read()
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
            out["refused"].append("connection: %s" % e)
            i += every
            continue
        out["rtt"].append((time.monotonic() - s) * 1000)
        if r.status == 202:
            out["ids"].append(json.loads(body)["first"])
        else:
            out["refused"].append("%d %s" % (r.status, body[:200].decode(errors="replace")))
        i += every
    conn.close()


def done_ids(state, key, start):
    pw = open(state + "/redis.pass").read().strip()
    r = subprocess.run(["redis-cli", "--no-auth-warning", "-s", state + "/redis.sock", "--json", "XRANGE", key,
                        start, "+"], env={"REDISCLI_AUTH": pw, "PATH": "/usr/bin:/bin"},
                       capture_output=True, text=True, check=False)
    if r.returncode != 0 or not r.stdout.strip():
        return []
    # [[id, ["data", value, ...]], ...]: the value is the handled event's id
    res = []
    for e in json.loads(r.stdout):
        f = e[1]
        for k in range(0, len(f) - 1, 2):
            if f[k] == "data":
                v = f[k + 1].split()
                # "ID US": US the handler's wall clock in us (steady_fn.c)
                res.append((v[0], id_ms(e[0]), int(v[1]) / 1000.0 if len(v) > 1 else None))
    return res


def main():
    a = sys.argv[1:]
    if len(a) < 8:
        sys.exit(__doc__)
    url, token_file, wf, queue, rate, seconds, state, key = a[:8]
    rate, seconds = float(rate), float(seconds)
    wait_s = float(a[8]) if len(a) > 8 else 60.0
    token = open(token_file).read().strip()
    path = "/v1/workflows/%s/queues/%s/events" % (wf, queue)
    out = {"ids": [], "rtt": [], "refused": []}
    every = 4
    t0 = time.monotonic() + 0.05
    ts = [threading.Thread(target=sender, args=(url, token, path, rate, seconds, k, every, t0, out))
          for k in range(every)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    pushed = set(out["ids"])
    start = min(pushed) if pushed else "-"
    end = time.monotonic() + wait_s
    hand = {}
    while True:
        done = done_ids(state, key, start)
        seen = {}
        for i, ms, h in done:
            if i in pushed:
                seen.setdefault(i, []).append(ms)
                hand.setdefault(i, h)
        if len(seen) == len(pushed) or time.monotonic() > end:
            break
        time.sleep(0.2)
    lat = sorted(min(v) - id_ms(i) for i, v in seen.items())
    dup = sum(len(v) - 1 for v in seen.values())
    first = min((id_ms(i) for i in pushed), default=0)
    last = max((max(v) for v in seen.values()), default=first)
    thr = len(seen) / ((last - first) / 1000.0) if last > first else 0.0
    rtt = sorted(out["rtt"])
    # the split: push written -> handler ran (the unit's read), handler ran -> commit written
    rd = sorted(hand[i] - id_ms(i) for i in seen if hand.get(i) is not None)
    cm = sorted(min(seen[i]) - hand[i] for i in seen if hand.get(i) is not None)
    if out["refused"]:
        print("steady_load: %d pushes refused, the first: %s" % (len(out["refused"]), out["refused"][0]),
              file=sys.stderr)
    print("pushed=%d refused=%d handled=%d lost=%d dup=%d p50_ms=%d p99_ms=%d max_ms=%d offered_per_s=%.1f "
          "throughput_per_s=%.1f push_p99_ms=%.1f read_p50_ms=%.1f read_p99_ms=%.1f commit_p50_ms=%.1f "
          "commit_p99_ms=%.1f" %
          (len(pushed), len(out["refused"]), len(seen), len(pushed) - len(seen), dup, pct(lat, 50), pct(lat, 99),
           lat[-1] if lat else -1, rate, thr, pct(rtt, 99), pct(rd, 50), pct(rd, 99), pct(cm, 50), pct(cm, 99)))


if __name__ == "__main__":
    main()

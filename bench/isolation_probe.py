#!/usr/bin/env python3
"""bench/isolation_probe.py - where a phase of bench/isolation.sh spends the
steady workflow's latency (issue 11 §5), measured beside the phase.

  isolation_probe.py ping|sched STATE_DIR SECONDS

For SECONDS it
- (ping; run it under chrt -f, so that its own wake-up adds nothing)
  sends PING to the platform's Redis every 5 ms over its unix socket and
  times each answer: Redis's queueing (a PING waits behind whatever Redis
  is doing) plus this process's own wake-up;
- reads every 0.25 s the scheduler's statistics (/proc/PID/task/TID/schedstat:
  time run, time spent runnable but waiting for a CPU, times scheduled) of
  redis-server, unifaasd and each unit of each workflow (processes whose
  cpu cgroup is this instance's wf-NAME), and sums their deltas per group.

Prints one line: ping p50/p99/max ms, or per group: CPU used (% of one core), time
  waiting for a CPU (ms per second of the phase) and the mean wait per
  time scheduled (us): a process woken by an event waits about that long
  before it runs.
Nothing here fails on a figure."""
import os
import socket
import sys
import time


def pct(xs, p):
    if not xs:
        return -1
    xs = sorted(xs)
    return xs[max(0, min(len(xs) - 1, int(-(-p * len(xs) // 100)) - 1))]


def ping_loop(state, secs, out):
    pw = open(os.path.join(state, "redis.pass")).read().strip()
    s = socket.socket(socket.AF_UNIX)
    s.connect(os.path.join(state, "redis.sock"))
    s.sendall(b"AUTH %s\r\n" % pw.encode())
    s.recv(64)
    end = time.monotonic() + secs
    while time.monotonic() < end:
        t = time.monotonic()
        s.sendall(b"PING\r\n")
        buf = b""
        while not buf.endswith(b"\r\n"):
            buf += s.recv(64)
        out.append((time.monotonic() - t) * 1000)
        time.sleep(0.005)
    s.close()


def pidfile(state, *names):
    for n in names:
        try:
            return int(open(os.path.join(state, n)).read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return 0


def cpu_path(pid):
    try:
        for line in open("/proc/%d/cgroup" % pid):
            n, ctl, path = line.rstrip("\n").split(":", 2)
            if n == "0" or "cpu" in ctl.split(","):
                return path
    except (OSError, ValueError):
        pass
    return ""


def group_of(pid, named, inst):
    """redis, unifaasd, or the workflow whose units' group (in this
    instance's directory inst) pid is in"""
    if pid in named:
        return named[pid]
    path = cpu_path(pid)
    if inst and path.startswith(inst + "/wf-"):
        return path[len(inst) + 4:]
    return None


def sample(named, inst):
    """{(pid, tid): (group, run_ns, wait_ns, slices)}"""
    res = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        pid = int(d)
        g = group_of(pid, named, inst)
        if not g:
            continue
        try:
            tids = os.listdir("/proc/%d/task" % pid)
        except OSError:
            continue
        for t in tids:
            try:
                run, wait, n = open("/proc/%d/task/%s/schedstat" % (pid, t)).read().split()[:3]
            except (OSError, ValueError):
                continue
            res[(pid, t)] = (g, int(run), int(wait), int(n))
    return res


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("ping", "sched"):
        sys.exit(__doc__)
    state, secs = sys.argv[2], float(sys.argv[3])
    if sys.argv[1] == "ping":
        pings = []
        ping_loop(state, secs, pings)
        print("redis ping p50/p99/max %.2f/%.2f/%.2f ms (%d)" % (pct(pings, 50), pct(pings, 99), max(pings or [0]),
                                                               len(pings)))
        return
    named = {}
    for name, files in (("redis", ("redis.pid", "redis-server.pid")), ("unifaasd", ("unifaasd.pid",))):
        p = pidfile(state, *files)
        if p:
            named[p] = name
    rp = [p for p, n in named.items() if n == "redis"]
    inst = cpu_path(rp[0]).rsplit("/", 1)[0] if rp else ""
    t0 = time.monotonic()
    tot = {}  # group -> [run, wait, slices]
    last = sample(named, inst)
    while time.monotonic() - t0 < secs:
        time.sleep(0.25)
        cur = sample(named, inst)
        for k, (g, run, wait, n) in cur.items():
            o = last.get(k)
            if o is None:
                o = (g, 0, 0, 0) if k[0] not in named else (g, run, wait, n)
            a = tot.setdefault(g, [0, 0, 0])
            a[0] += run - o[1]
            a[1] += wait - o[2]
            a[2] += n - o[3]
        last = cur
    el = time.monotonic() - t0
    parts = []
    for g in sorted(tot, key=lambda g: (g not in ("redis", "unifaasd"), g)):
        run, wait, n = tot[g]
        parts.append("%s %.0f%% wait %.0f ms/s (%.0f us a slice)" % (g, run / 1e7 / el, wait / 1e6 / el,
                                                                      wait / 1e3 / n if n else 0))
    print("; ".join(parts))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""usecase_hops.py - where a reading's time goes in bench/usecase.sh (MONITOR=1).

usage: usecase_hops.py MONITOR_TXT SAMPLES_CSV ALERT_STEP

MONITOR_TXT is Redis's MONITOR output of the run (each command with the
microsecond it reached Redis), SAMPLES_CSV the driver's samples (publish and
webhook receipt times, epoch microseconds, the same clock).  For each
counted reading of unifaas-cold and unifaas-warm, finds in order: the MQTT
ingress's XADD of the reading (its data holds the reading's timestamp), the
daemon asking a unit number (HINCRBY uf:state:seq), the tender's first
command (XGROUP CREATE: the daemon has numbered the unit, handed a standby
tender its arguments, and the tender has connected), its guest's first pop
(XREADGROUP),
threshold's KV read (GET), its commit (the XADD of the alert), the same
start steps for the alert step, and the webhook's receipt.  Warm units make
no start steps and block in a pop issued before the reading, so the warm
rows go from the XADD to the GET.  Prints the median and mean of each hop
(ms).  MONITOR costs Redis a little per command: the figures of a MONITOR
run are for the shares, not for the totals.
"""
import csv
import re
import statistics
import sys

TOK = re.compile(r'"((?:[^"\\]|\\.)*)"')


def load(path):
    cmds = []
    with open(path, errors="replace") as f:
        for line in f:
            sp = line.find(" ")
            if sp < 0 or "[0 lua]" in line:
                continue
            try:
                t = float(line[:sp])
            except ValueError:
                continue
            cmds.append((int(round(t * 1e6)), TOK.findall(line)))
    return cmds


def find(cmds, start, pred):
    for i in range(start, len(cmds)):
        if pred(cmds[i][1]):
            return i
    return None


def main():
    mon, samples, alert = sys.argv[1], sys.argv[2], sys.argv[3]
    cmds = load(mon)
    rows = {}
    with open(samples) as f:
        for r in csv.DictReader(f):
            if r["warmup"] == "1" or r["pipeline"] not in ("unifaas-cold", "unifaas-warm"):
                continue
            rows.setdefault(r["pipeline"], []).append(r)
    for label, rs in rows.items():
        wf = "uc-cold" if label == "unifaas-cold" else "uc-warm"
        cold = label == "unifaas-cold"
        hops = {}
        order = []

        def add(name, a, b):
            if name not in hops:
                hops[name] = []
                order.append(name)
            hops[name].append((b - a) / 1000.0)

        missing = 0
        why = {}  # the last mark found in a reading that is not counted
        for r in rs:
            pub, recv = int(r["publish_us"]), int(r["receive_us"])
            ts = "2025-03-01T%02d:%02d:00Z" % (int(r["round"]) // 60, int(r["round"]) % 60)
            q = "uf:q:%s:" % wf
            i = find(cmds, 0, lambda c: len(c) > 4 and c[0] == "XADD" and c[1] == q + "readings" and ts in c[4])
            if i is None:
                missing += 1
                continue
            marks = [("publish", pub), ("ingress XADD", cmds[i][0])]
            if cold:
                for step, queue in (("threshold", "readings"), (alert, "alerts")):
                    if step == alert:
                        j = find(cmds, i, lambda c: c[:2] == ["XADD", q + "alerts"] and ts in c[4])
                        if j is None:
                            break
                        marks.append(("threshold commit (XADD alert)", cmds[j][0]))
                        i = j
                    j = find(cmds, i, lambda c: c[:3] == ["HINCRBY", "uf:state:seq", "%s.%s" % (wf, step)])
                    # the daemon's HSET names the unit, but it is sent
                    # asynchronously: it may reach Redis after the tender's
                    # first commands, so it is not a mark
                    k = j is not None and find(cmds, j, lambda c: c[:2] == ["HSET", "uf:state:units"] and
                                               c[2].startswith("%s.%s." % (wf, step)))
                    g = k and find(cmds, j, lambda c: c[:3] == ["XGROUP", "CREATE", q + queue])
                    unit = k and cmds[k][1][2]
                    p = g and find(cmds, g, lambda c: c[0] == "XREADGROUP" and unit in c)
                    if not p:
                        break
                    marks += [("%s: start asked (HINCRBY seq)" % step, cmds[j][0]),
                              ("%s: tender's first command" % step, cmds[g][0]),
                              ("%s: guest's first pop" % step, cmds[p][0])]
                    if step == "threshold":
                        gg = find(cmds, p, lambda c: c[0] == "GET" and c[1].startswith("uf:kv:%s:" % wf))
                        if gg:
                            marks.append(("threshold: KV GET", cmds[gg][0]))
                        i = p
            else:
                gg = find(cmds, i, lambda c: c[0] == "GET" and c[1].startswith("uf:kv:%s:" % wf))
                j = gg is not None and find(cmds, gg, lambda c: c[:2] == ["XADD", q + "alerts"] and ts in c[4])
                if j:
                    marks += [("threshold: KV GET (pop + handler start)", cmds[gg][0]),
                              ("threshold commit (XADD alert)", cmds[j][0])]
            marks.append(("webhook receipt", recv))
            if cold and len(marks) < 11 or not cold and len(marks) < 5:
                missing += 1
                why[marks[-2][0]] = why.get(marks[-2][0], 0) + 1
                continue
            for (_, a), (name, b) in zip(marks, marks[1:]):
                add(name, a, b)
            add("total (publish -> webhook)", pub, recv)
        gone = "; ".join("%d after '%s'" % (n, m) for m, n in why.items())
        print("%s (%d readings%s): ms from the mark before to this one" %
              (label, len(rs) - missing, ", %d not followed through the MONITOR log (%s)" % (missing, gone)
               if missing else ""))
        print("| hop (to) | median | mean |")
        print("| --- | --- | --- |")
        for name in order:
            v = hops[name]
            print("| %s | %.3f | %.3f |" % (name, statistics.median(v), statistics.mean(v)))
        print()


main()

#!/usr/bin/env python3
"""promtext.py - a strict checker of the Prometheus text exposition format,
version 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/),
for tests/integration/metrics.sh (Debian's promtool comes with all of
Prometheus; this checks the same rules a scraper relies on).

    promtext.py FILE     exit 1 with every violation on stderr, else print
                         each sample as `name{k="v",...} value`, labels
                         sorted, one a line (what the test looks figures up in)

Checked: metric and label names; label values' escapes (only \\\\, \\" and
\\n); values as floats (NaN, +Inf, -Inf allowed); at most one HELP and one
TYPE per family, TYPE before its samples; a family's samples together; no
series twice; counters not negative; histograms: only _bucket (with le),
_sum and _count samples, per series ascending le ending in +Inf, cumulative
counts that never fall, +Inf equal to _count.
"""
import math
import re
import sys

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def parse_value(s):
    if s in ("NaN", "+Inf", "-Inf", "Inf"):
        return float(s.replace("Inf", "inf").replace("NaN", "nan"))
    if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", s):
        raise ValueError("bad value '%s'" % s)
    return float(s)


def parse_labels(s, i, errs, ln):
    """labels from s[i] == '{'; returns (dict, index after '}')"""
    labels = {}
    i += 1
    while True:
        if s[i:i + 1] == "}":
            return labels, i + 1
        m = LABEL.match(s, i)
        if not m:
            raise ValueError("bad label name at column %d" % i)
        name = m.group(0)
        if name.startswith("__"):
            raise ValueError("reserved label name '%s'" % name)
        i = m.end()
        if s[i:i + 2] != '="':
            raise ValueError("label %s: expected =\"" % name)
        i += 2
        val = []
        while True:
            if i >= len(s):
                raise ValueError("label %s: unterminated value" % name)
            c = s[i]
            if c == "\\":
                e = s[i + 1:i + 2]
                if e not in ("\\", '"', "n"):
                    raise ValueError("label %s: bad escape \\%s" % (name, e))
                val.append("\n" if e == "n" else e)
                i += 2
            elif c == '"':
                i += 1
                break
            elif c == "\n":
                raise ValueError("label %s: raw newline" % name)
            else:
                val.append(c)
                i += 1
        if name in labels:
            raise ValueError("label %s twice" % name)
        labels[name] = "".join(val)
        if s[i:i + 1] == ",":
            i += 1
        elif s[i:i + 1] != "}":
            raise ValueError("expected , or } after label %s" % name)


def family_of(name, types):
    for suf in ("_bucket", "_sum", "_count"):
        if name.endswith(suf) and types.get(name[: -len(suf)]) in ("histogram", "summary"):
            return name[: -len(suf)]
    return name


def check(text):
    errs, samples = [], []
    types, helps, done, seen = {}, set(), set(), set()
    current = None
    if text and not text.endswith("\n"):
        errs.append("the text does not end in a newline")
    for ln, line in enumerate(text.split("\n")[:-1], 1):
        try:
            if line.startswith("#"):
                parts = line.split(" ", 3)
                if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                    name = parts[2]
                    if not NAME.fullmatch(name):
                        raise ValueError("bad metric name '%s'" % name)
                    if name in done:
                        raise ValueError("%s %s after its samples ended" % (parts[1], name))
                    if parts[1] == "HELP":
                        if name in helps:
                            raise ValueError("second HELP for %s" % name)
                        helps.add(name)
                        if re.search(r"\\[^\\n]", parts[3] if len(parts) > 3 else ""):
                            raise ValueError("bad escape in HELP of %s" % name)
                    else:
                        if name in types:
                            raise ValueError("second TYPE for %s" % name)
                        if len(parts) != 4 or parts[3] not in TYPES:
                            raise ValueError("bad TYPE line")
                        if any(family_of(n, {name: parts[3]}) == name for n, _, _ in samples):
                            raise ValueError("TYPE %s after its samples" % name)
                        types[name] = parts[3]
                    if current is not None and current != name:
                        done.add(current)
                    current = name
                continue
            if not line.strip():
                raise ValueError("empty line")
            m = NAME.match(line)
            if not m:
                raise ValueError("bad metric name")
            name, i = m.group(0), m.end()
            labels = {}
            if line[i:i + 1] == "{":
                labels, i = parse_labels(line, i, errs, ln)
            rest = line[i:]
            if not rest.startswith(" "):
                raise ValueError("expected a space before the value")
            fields = rest.split()
            if len(fields) not in (1, 2):
                raise ValueError("expected value [timestamp]")
            v = parse_value(fields[0])
            if len(fields) == 2 and not re.fullmatch(r"-?\d+", fields[1]):
                raise ValueError("bad timestamp")
            fam = family_of(name, types)
            if fam in done:
                raise ValueError("sample of %s away from its family's other samples" % fam)
            if current is not None and current != fam:
                done.add(current)
            current = fam
            key = (name, tuple(sorted(labels.items())))
            if key in seen:
                raise ValueError("series %s%s twice" % (name, labels))
            seen.add(key)
            t = types.get(fam, "untyped")
            if t == "counter" and (v < 0 or math.isnan(v)):
                raise ValueError("counter %s is %s" % (name, v))
            if t == "histogram":
                if name == fam:
                    raise ValueError("histogram %s: a sample without _bucket/_sum/_count" % name)
                if name.endswith("_bucket") and "le" not in labels:
                    raise ValueError("bucket without le")
            samples.append((name, labels, v))
        except ValueError as e:
            errs.append("line %d: %s: %s" % (ln, e, line[:200]))
    # histograms: per series, buckets ascending to +Inf, cumulative, +Inf == _count
    for fam, t in types.items():
        if t != "histogram":
            continue
        series = {}
        for name, labels, v in samples:
            if family_of(name, types) != fam:
                continue
            base = tuple(sorted((k, x) for k, x in labels.items() if k != "le"))
            s = series.setdefault(base, {"buckets": [], "sum": None, "count": None})
            if name.endswith("_bucket"):
                s["buckets"].append((parse_value(labels["le"]), v))
            elif name.endswith("_sum"):
                s["sum"] = v
            else:
                s["count"] = v
        for base, s in series.items():
            b = s["buckets"]
            where = "%s%s" % (fam, dict(base))
            if not b or b[-1][0] != float("inf"):
                errs.append("%s: no le=\"+Inf\" bucket last" % where)
            if any(b[i][0] >= b[i + 1][0] for i in range(len(b) - 1)):
                errs.append("%s: le not ascending" % where)
            if any(b[i][1] > b[i + 1][1] for i in range(len(b) - 1)):
                errs.append("%s: bucket counts not cumulative" % where)
            if s["sum"] is None or s["count"] is None:
                errs.append("%s: _sum or _count missing" % where)
            elif b and b[-1][1] != s["count"]:
                errs.append("%s: +Inf bucket %s != _count %s" % (where, b[-1][1], s["count"]))
    return errs, samples


def canon(name, labels):
    return name + "{" + ",".join('%s="%s"' % kv for kv in sorted(labels.items())) + "}"


def main():
    text = open(sys.argv[1], encoding="utf-8").read()
    errs, samples = check(text)
    for e in errs:
        print("promtext: " + e, file=sys.stderr)
    if errs:
        sys.exit(1)
    for name, labels, v in samples:
        print("%s %s" % (canon(name, labels), ("%d" % v) if math.isfinite(v) and v == int(v) else repr(v)))


if __name__ == "__main__":
    main()

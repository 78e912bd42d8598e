#!/usr/bin/env python3
# bench-net-phases RUNDIR [-v]: where a network driver domain's restart
# spends its time, from a run directory that bench-net-recovery kept
# (KEEP=1). For each kill, the moments (ms after the kill) the logs
# stamp (microseconds) and the probe's first answer; the medians last.
#
#   dead     the core saw the death (its log line, after releasing the
#            generation)          d0seen   dom0 took it up
#   restart  the core started the next generation (the standby)
#   d0done   dom0 wrote the store, introduced the domain, unpaused
#   found1/2 the driver domain found the first/second device
#   iw1/2    each device at InitWait (none when its frontend had
#            published already: it goes to Connected at once)
#   conn1/2  each at Connected
#   answer   the sender's first answer after the kill (the benchmark's
#            figure)
#
# Needs python3 (not installed by the test suite's setup).
import datetime
import re
import statistics
import sys

if len(sys.argv) < 2:
    sys.exit("usage: bench-net-phases RUNDIR [-v]")
R = sys.argv[1]


def stamp(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


events = []
for f in ["core.log", "run/logs/net.log", "run/logs/Domain-0.log"]:
    for line in open(f"{R}/{f}", errors="replace"):
        m = re.match(r"(\d{4}-\d\d-\d\dT[\d:.]+Z) (.*)", line)
        if m:
            events.append((stamp(m.group(1)), m.group(2)))
events.sort()
kills = sorted(int(x) / 1e9 for x in open(f"{R}/kills"))
answers = [float(x) for x in open(f"{R}/rec")]
PHASES = [("dead", r"core: dom\d+ \(net\) gen \d+ ended", 0),
          ("d0seen", r"toolstack: domain \d+ \(net\) shut down", 0),
          ("restart", r"core: dom\d+ \(net\) restarted", 0),
          ("d0done", r"toolstack: domain \d+ \(net\) restarted, gen", 0),
          ("found1", r"new device", 0), ("found2", r"new device", 1),
          ("iw1", r"-> InitWait", 0), ("iw2", r"-> InitWait", 1),
          ("conn1", r"-> Connected", 0), ("conn2", r"-> Connected", 1)]
rows = []
for i, k in enumerate(kills):
    end = kills[i + 1] if i + 1 < len(kills) else k + 1
    window = [(t, s) for t, s in events if k <= t < end]
    row = {}
    for name, pat, idx in PHASES:
        hits = [t for t, s in window if re.search(pat, s)]
        row[name] = (hits[idx] - k) * 1e3 if len(hits) > idx else None
    row["answer"] = answers[i] if i < len(answers) else None
    rows.append(row)
keys = [p[0] for p in PHASES] + ["answer"]
print("kill " + " ".join(f"{k:>7}" for k in keys))
if "-v" in sys.argv[2:]:
    for i, row in enumerate(rows):
        print(f"{i + 1:4} " + " ".join(f"{row[k]:7.2f}" if row[k] is not None else "      -"
                                       for k in keys))


def median(k):
    xs = [r[k] for r in rows if r[k] is not None]
    return f"{statistics.median(xs):7.2f}" if xs else "      -"


print("p50  " + " ".join(median(k) for k in keys))

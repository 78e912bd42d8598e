#!/usr/bin/env python3
# recovery-profile RUNDIR [COMM] [--ms MS] < perf-script-output
#
# Where the CPU goes during the recoveries of a kept benchmark run
# (bench-net-recovery or bench-recovery with KEEP=1), from a system-wide
# perf recording whose clock is the one the kill stamps use:
#
#   perf record -a -g -F 20000 -k CLOCK_REALTIME -o perf.data -- \
#       env KEEP=1 build-bench/bin/bench-net-recovery 40 5
#   perf script -i perf.data -F comm,tid,time,ip,sym | recovery-profile RUNDIR bulkhead-driver
#
# Only samples between a kill and that kill's recovery count: the first
# answer (RUNDIR/rec, bench-net-recovery) or, without that file, MS
# milliseconds after the kill (default 10). Prints the samples of each
# command in those windows, then for the commands whose name contains
# COMM the functions found on their stacks (inclusive, top 40).
# Needs python3 (not installed by the test suite's setup).
import collections
import re
import sys

args = [a for a in sys.argv[1:]]
ms = 10.0
if "--ms" in args:
    i = args.index("--ms")
    ms = float(args[i + 1])
    del args[i:i + 2]
if not args:
    sys.exit("usage: recovery-profile RUNDIR [COMM] [--ms MS] < perf-script-output")
run, who = args[0], (args[1] if len(args) > 1 else None)
kills = sorted(int(x) / 1e9 for x in open(f"{run}/kills"))
try:
    recs = [float(x) / 1e3 for x in open(f"{run}/rec")]
except OSError:
    recs = [ms / 1e3] * len(kills)
wins = list(zip(kills, (k + r for k, r in zip(kills, recs))))


def inside(t):
    return any(a <= t <= b for a, b in wins)


per_comm = collections.Counter()
funcs = collections.Counter()
total = 0
cur, stack = None, []


def flush():
    global total
    if cur is None or not inside(cur[1]):
        return
    per_comm[cur[0]] += 1
    if who and who in cur[0]:
        total += 1
        for f in set(stack):
            funcs[f] += 1


for line in sys.stdin:
    if not line.strip():
        flush()
        cur, stack = None, []
        continue
    m = re.match(r"^(\S.*?)\s+(\d+)\s+([\d.]+):", line)
    if m:
        cur, stack = (m.group(1), float(m.group(3))), []
        continue
    parts = line.split()
    if len(parts) >= 2:
        stack.append(parts[1])
flush()
print(f"{len(wins)} recovery windows; samples in them by command:")
for c, n in per_comm.most_common(12):
    print(f"  {n:7d}  {c}")
if who:
    print(f"{who}: {total} samples; functions on their stacks (inclusive):")
    for f, n in funcs.most_common(40):
        print(f"  {100.0 * n / max(total, 1):5.1f}%  {f}")

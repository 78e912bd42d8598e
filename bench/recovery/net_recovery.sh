#!/bin/sh
# bench-net-recovery: how long packets stop between two guests when their
# network driver domain is killed (issue 7, item 5, network half), against
# the time to fork and exec the backend's program, measured in the same run.
#
# A whole host (tests/system.sh): a network driver domain and two PV guests
# on its bridge. Both boot the default ramdisk with net_probe.c added
# (static): b echoes UDP datagrams, a sends one to b every 1 ms and prints
# a line with CLOCK_REALTIME stamps whenever answers resume after a gap
# (2 ms). The host kills the driver domain's process KILLS times
# (recovery-killer reads the clock right before kill(2)), over
# restart_window = 1 s apart so that the watchdog's backoff stays 0. Then:
#   recovery = first answer after the kill - the kill (both guests
#              reconnected, ARP learnt again, the new bridge forwarding)
#   spawn    = fork+exec+wait of `bulkhead-driverdom --help` (SPAWNS times)
# and prints p50/p90/p99/max of each and recovery / spawn.
#
#   sudo bench-net-recovery [KILLS (100)] [SPAWNS (100)]
# Environment: KEEP=1 keeps the run directory; OUT=FILE also writes the
# summary there; GAP=S the pause after each recovery (1.1); QUIET=MS how long
# the script does not poll after a kill (500).
#
# It also prints the stalls that follow a recovery: the gaps (over 2 ms)
# that begin after it and before QUIET ms after the kill (the script's own
# polling begins then), per kill their number and their total, and the
# longest. A restart's later work (the guests' ring tidy-up 200 ms after
# they reconnect, the next standby 300 ms after the restart) shows there.
BH_SOURCE_DIR=${BH_SOURCE_DIR:-@BH_SOURCE_DIR@}
BH_BUILD_DIR=${BH_BUILD_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
export BH_SOURCE_DIR BH_BUILD_DIR
. "$BH_SOURCE_DIR/tests/system.sh"
set +e
KILLS=${1:-100}
SPAWNS=${2:-100}
QUIET=${QUIET:-500}
killer="$BH_BUILD_DIR/bin/recovery-killer"
probe="$BH_BUILD_DIR/bin/recovery-net-probe"
[ -x "$killer" ] && [ -x "$probe" ] || { echo "bench-net-recovery: build recovery-killer and recovery-net-probe first" >&2; exit 1; }

sys_start
# The guests' ramdisk: the default one with the prober in /bin.
rd="$RUN/rd"
mkdir -p "$rd"
(cd "$rd" && cpio -id --quiet <"$LIBEXEC/bulkhead-ramdisk.cpio") || fail "unpacking the ramdisk"
cp "$probe" "$rd/bin/net_probe"
(cd "$rd" && find . | cpio -o -H newc --quiet >"$IMAGES/probe.cpio") || fail "packing the ramdisk"
cat >"$L/net.cfg" <<CFG
name = "net"
memory = 96
driver_domain = 1
on_crash = "restart"
restart_limit = 15
restart_window = 1
CFG
cat >"$L/a.cfg" <<CFG
name = "a"
memory = 128
ramdisk = "$IMAGES/probe.cpio"
vif = [ 'mac=00:16:3e:00:00:2a,bridge=br0,backend=net,ip=10.9.2.1' ]
cmdline = "ip=10.9.2.1::0.0.0.0:255.255.255.0::eth0:off -- net_probe send 10.9.2.2 7000 1000"
CFG
cat >"$L/b.cfg" <<CFG
name = "b"
memory = 128
ramdisk = "$IMAGES/probe.cpio"
vif = [ 'mac=00:16:3e:00:00:2b,bridge=br0,backend=net,ip=10.9.2.2' ]
cmdline = "ip=10.9.2.2::0.0.0.0:255.255.255.0::eth0:off -- net_probe echo 7000"
CFG
bh up "$L" || fail "bh up"
log="$BULKHEAD_RUNDIR/dom0/console/a.log"
gaps() { c=$(grep -c "\] G [0-9]" "$log" 2>/dev/null); echo "${c:-0}"; }
answers() { tr -d '\r' <"$log" | sed -n 's/.*\] A \([0-9]*\)$/\1/p' | tail -n 1; }
for _ in $(seq 300); do [ "$(answers)" -gt 100 ] 2>/dev/null && break; sleep 0.1; done
[ "$(answers)" -gt 100 ] 2>/dev/null || fail "a gets no answers from b: $(tail -n 5 "$log")"

echo "bench-net-recovery: $KILLS kills, restart_window 1 s (no backoff), $SPAWNS spawns"
: >"$RUN/kills"
k=0
while [ $k -lt "$KILLS" ]; do
  pid=$(dom_pid net)
  [ -n "$pid" ] && [ "$pid" -gt 0 ] || fail "no pid for net: $(ctl list)"
  before=$(gaps)
  # QUIET ms without polling: the recovery runs without our forks
  "$killer" kill "$pid" "$QUIET" >>"$RUN/kills" || fail "kill $pid"
  end=$(($(date +%s) + 30))
  while [ "$(gaps)" -le "$before" ]; do
    [ "$(date +%s)" -ge "$end" ] && fail "kill $((k + 1)): no answers after the kill"
    sleep 0.02
  done
  k=$((k + 1))
  sleep "${GAP:-1.1}"
done
grep -q "waiting [0-9]* ms first" "$BULKHEAD_RUNDIR/logs/Domain-0.log" &&
  echo "bench-net-recovery: warning: a restart waited out a backoff (see dom0's log)"
"$killer" spawn "$SPAWNS" "$LIBEXEC/bulkhead-driverdom" --help >"$RUN/spawns" || fail "spawn baseline"
bh down "$L" >/dev/null 2>&1

tr -d '\r' <"$log" | sed -n 's/.*\] G \([0-9]*\) \([0-9]*\) \([0-9]*\)$/\1 \2/p' | sort -k2n >"$RUN/gaps"
: >"$RUN/pairs"
: >"$RUN/after"
# per kill: the first gap that ends after it (2 ms: an answer already on
# its way when the process died), if it began before that (a gap that
# began later is another one: this kill left none over net_probe's
# GAP_NS, and is counted as not measured)
sort -n "$RUN/kills" | awk -v rec="$RUN/rec" -v pairs="$RUN/pairs" '
  NR == FNR { kill[++nk] = $1; next }
  { from[++n] = $1; to[n] = $2 }
  END {
    j = 1
    for (i = 1; i <= nk; i++) {
      while (j <= n && to[j] <= kill[i] + 2000000) j++
      if (j > n) break
      if (from[j] > kill[i] + 2000000) {
        printf "bench-net-recovery: kill %d: no gap of over 2 ms after it\n", i >"/dev/stderr"
        continue
      }
      printf "%.3f\n", (to[j] - kill[i]) / 1e6 >rec
      printf "%s %.3f\n", kill[i], (to[j] - kill[i]) / 1e6 >pairs
    }
  }' - "$RUN/gaps"
# per kill: the gaps that begin after its recovery and before QUIET ms
# after it: how many, their total, the longest
awk -v quiet="$QUIET" -v out="$RUN/after" '
  NR == FNR { kill[++nk] = $1; recv[nk] = $2; next }
  { from[++n] = $1; to[n] = $2 }
  END {
    for (i = 1; i <= nk; i++) {
      end = kill[i] + recv[i] * 1e6; lim = kill[i] + quiet * 1e6
      c = 0; tot = 0; mx = 0
      for (j = 1; j <= n; j++)
        if (from[j] >= end && from[j] < lim) {
          d = (to[j] - from[j]) / 1e6; c++; tot += d; if (d > mx) mx = d
        }
      printf "%d %.3f %.3f\n", c, tot, mx >out
    }
  }' "$RUN/pairs" "$RUN/gaps"
awk '{ printf "%.3f\n", $1 / 1000 }' "$RUN/spawns" >"$RUN/spawn_ms"
set -- $(pct "$RUN/rec")
r50=$1 r90=$2 r99=$3 rmax=$4
set -- $(pct "$RUN/spawn_ms")
b50=$1 b90=$2 b99=$3 bmax=$4
nrec=$(wc -l <"$RUN/rec")
{
  echo "kills measured: $nrec of $KILLS"
  echo "                                 p50      p90      p99      max   (ms)"
  printf "recovery (kill -> next answer)   %-8s %-8s %-8s %s\n" "$r50" "$r90" "$r99" "$rmax"
  printf "fork+exec driverdom --help       %-8s %-8s %-8s %s\n" "$b50" "$b90" "$b99" "$bmax"
  awk -v q="$QUIET" '{ n[NR] = $1; t[NR] = $2; if ($3 > mx) mx = $3; c += $1; tot += $2 }
    END { if (!NR) exit
          printf "after the recovery, to %d ms: %.1f stalls of over 2 ms per kill, %.1f ms in all per kill, the longest %.1f ms\n", q, c / NR, tot / NR, mx }' "$RUN/after"
  awk -v a="$r99" -v b="$b99" -v c="$r50" -v d="$b50" 'BEGIN {
    printf "recovery / spawn: p99 %.1fx (goal <= 3x), p50 %.1fx\n", a / b, c / d }'
} | tee "${OUT:-/dev/null}"
[ -n "${KEEP:-}" ] && echo "run directory kept: $RUN (kills, gaps, rec, logs; bench-net-phases $RUN)"
sys_stop
exit 0

#!/bin/sh
# bench-recovery: how long a guest's disk stalls when its storage driver
# domain is killed (issue 7, item 5), against the time to fork and exec the
# backend's program, measured in the same run.
#
# A whole host (tests/system.sh) with a storage driver domain and a guest
# running a static writer (guest_io.c: 4 KiB write + fdatasync in a loop,
# each completion printed with CLOCK_REALTIME). The host kills the driver
# domain's process KILLS times (recovery-killer reads the clock right
# before kill(2)), over restart_window = 1 s apart so that the watchdog's
# backoff stays 0: the restart is immediate. Then:
#   recovery  = first guest write completed after the kill - the kill
#   stall     = that completion - the guest's last completion before it
#   write     = the latency of every write outside the kills (the baseline
#               of the stall)
#   spawn     = fork+exec+wait of `bulkhead-driverdom --help` (SPAWNS times)
# and prints p50/p90/p99/max of each and recovery p99 / spawn p99 (goal
# <= 3). A completion within 2 ms of the kill is taken as one that finished
# before the process died (no restart is that fast) and skipped.
#
#   sudo bench-recovery [KILLS (100)] [SPAWNS (100)]
# Environment: KEEP=1 keeps the run directory; OUT=FILE also writes the
# summary there; GAP=S the pause after each recovery (1.1); QUIET=MS how long
# the script does not poll after a kill (300); HBLOG=1
# records the driver domain's heartbeat age every 200 ms ($RUN/hb) and,
# when it passes 2.5 s, where its thread waits ($RUN/stuck, with gdb).
BH_SOURCE_DIR=${BH_SOURCE_DIR:-@BH_SOURCE_DIR@}
BH_BUILD_DIR=${BH_BUILD_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
export BH_SOURCE_DIR BH_BUILD_DIR
. "$BH_SOURCE_DIR/tests/system.sh"
set +e
KILLS=${1:-100}
SPAWNS=${2:-100}
BIN_BLK=8000
killer="$BH_BUILD_DIR/bin/recovery-killer"
gio="$BH_BUILD_DIR/bin/recovery-guest-io"
[ -x "$killer" ] && [ -x "$gio" ] || { echo "bench-recovery: build recovery-killer and recovery-guest-io first" >&2; exit 1; }

sys_start
L="$RUN/layout"
mkdir -p "$L"
img="$IMAGES/disk.img"
truncate -s 64M "$img"
size=$(wc -c <"$gio")
dd if="$gio" of="$img" bs=4096 seek=$BIN_BLK conv=notrunc 2>/dev/null || fail "copying the writer"
cat >"$L/storage.cfg" <<CFG
name = "storage"
memory = 96
driver_domain = 1
restart_limit = 15
restart_window = 1
CFG
cat >"$L/guest.cfg" <<CFG
name = "guest"
memory = 128
disk = [ '$img,raw,xvda,rw,backend=storage' ]
cmdline = "-- dd if=/dev/xvda bs=4096 skip=$BIN_BLK count=$(((size + 4095) / 4096)) 2>/dev/null | head -c $size >/tmp/io; chmod +x /tmp/io; /tmp/io /dev/xvda 4096; sleep 1000"
CFG
bh up "$L" || fail "bh up"
log="$BULKHEAD_RUNDIR/dom0/console/guest.log"
ops() { c=$(grep -c "\] O [0-9]" "$log" 2>/dev/null); echo "${c:-0}"; }
for _ in $(seq 300); do [ "$(ops)" -gt 20 ] && break; sleep 0.1; done
[ "$(ops)" -gt 20 ] || fail "the guest does not write: $(tail -n 5 "$log")"

# HBLOG=1: the driver domain's heartbeat age every 200 ms into $RUN/hb;
# past 2.5 s, where its thread waits (/proc wchan, syscall, gdb bt).
if [ -n "${HBLOG:-}" ]; then
  ( while :; do
      a=$(bh list -l storage 2>/dev/null | grep heartbeat_age_ms | tr -dc 0-9)
      echo "$(date +%T.%N | cut -c1-12) $a"
      if [ "${a:-0}" -gt 2500 ]; then
        p=$(dom_pid storage)
        { echo "== $(date +%T) pid $p wchan $(cat /proc/$p/wchan) syscall $(cat /proc/$p/syscall)"
          gdb "$LIBEXEC/bulkhead-driverdom" -p "$p" -batch -ex "thread apply all bt" 2>/dev/null | grep "^#\|^Thread"; } >>"$RUN/stuck"
        sleep 3
      fi
      sleep 0.2
    done ) >"$RUN/hb" 2>/dev/null &
  HBPID=$!
fi
echo "bench-recovery: $KILLS kills, restart_window 1 s (no backoff), $SPAWNS spawns"
# The first kill, like every later one, comes GAP after the driver domain's
# generation started: the core builds a restart's standby sandbox 300 ms
# into each generation (core/domain.c), and a kill sooner than that takes
# the slow path (a sandbox built on the spot, ~8 ms more). Without this
# wait the first kill, ~0.3 s after boot, was the only one on that path.
sleep "${GAP:-1.1}"
: >"$RUN/kills"
k=0
while [ $k -lt "$KILLS" ]; do
  pid=$(dom_pid storage)
  [ -n "$pid" ] && [ "$pid" -gt 0 ] || fail "no pid for storage: $(ctl list)"
  before=$(ops)
  # QUIET ms without polling: the recovery runs without our forks
  "$killer" kill "$pid" "${QUIET:-300}" >>"$RUN/kills" || fail "kill $pid"
  # the guest writes again (a few completions), then over a second passes
  # since the restart before the next kill
  end=$(($(date +%s) + 30))
  while [ "$(ops)" -le $((before + 3)) ]; do
    [ "$(date +%s)" -ge "$end" ] && fail "kill $((k + 1)): the guest's writes did not resume"
    sleep 0.05
  done
  k=$((k + 1))
  sleep "${GAP:-1.1}"
done
grep -q "waiting [0-9]* ms first" "$BULKHEAD_RUNDIR/logs/Domain-0.log" &&
  echo "bench-recovery: warning: a restart waited out a backoff (see dom0's log)"
errors=$(grep -c "\] E [0-9]" "$log")
[ -n "${HBPID:-}" ] && kill "$HBPID" 2>/dev/null
"$killer" spawn "$SPAWNS" "$LIBEXEC/bulkhead-driverdom" --help >"$RUN/spawns" || fail "spawn baseline"
bh down "$L" >/dev/null 2>&1

tr -d '\r' <"$log" | sed -n 's/.*\] O \([0-9]*\) \([0-9]*\) \([0-9]*\)$/\2 \3/p' | sort -n >"$RUN/ops"
# per kill: recovery and stall (ms); every other write's latency (ms)
sort -n "$RUN/kills" | awk -v rec="$RUN/rec" -v stall="$RUN/stall" -v lat="$RUN/lat" '
  NR == FNR { kill[++nk] = $1; next }
  { end[++n] = $1; us[n] = $2 }
  END {
    j = 1
    for (i = 1; i <= nk; i++) {
      while (j <= n && end[j] <= kill[i] + 2000000) j++
      if (j > n) break
      printf "%.3f\n", (end[j] - kill[i]) / 1e6 >rec
      if (j > 1) printf "%.3f\n", (end[j] - end[j - 1]) / 1e6 >stall
      spans[j] = 1
    }
    for (j = 1; j <= n; j++) if (!spans[j]) printf "%.3f\n", us[j] / 1000 >lat
  }' - "$RUN/ops"
awk '{ printf "%.3f\n", $1 / 1000 }' "$RUN/spawns" >"$RUN/spawn_ms"
set -- $(pct "$RUN/rec")
r50=$1 r90=$2 r99=$3 rmax=$4
set -- $(pct "$RUN/stall")
s50=$1 s90=$2 s99=$3 smax=$4
set -- $(pct "$RUN/lat")
l50=$1 l90=$2 l99=$3 lmax=$4
set -- $(pct "$RUN/spawn_ms")
b50=$1 b90=$2 b99=$3 bmax=$4
nrec=$(wc -l <"$RUN/rec")
{
  echo "kills measured: $nrec of $KILLS; guest write errors: $errors"
  echo "                              p50      p90      p99      max   (ms)"
  printf "recovery (kill -> next write) %-8s %-8s %-8s %s\n" "$r50" "$r90" "$r99" "$rmax"
  printf "guest stall across a kill     %-8s %-8s %-8s %s\n" "$s50" "$s90" "$s99" "$smax"
  printf "guest write+fsync, no kill    %-8s %-8s %-8s %s\n" "$l50" "$l90" "$l99" "$lmax"
  printf "fork+exec driverdom --help    %-8s %-8s %-8s %s\n" "$b50" "$b90" "$b99" "$bmax"
  awk -v a="$r99" -v b="$b99" -v c="$r50" -v d="$b50" 'BEGIN {
    printf "recovery / spawn: p99 %.1fx (goal <= 3x), p50 %.1fx\n", a / b, c / d }'
} | tee "${OUT:-/dev/null}"
[ -n "${KEEP:-}" ] && echo "run directory kept: $RUN (kills, ops, logs)"
sys_stop
exit 0

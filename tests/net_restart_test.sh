#!/bin/sh
# A network driver domain killed under a TCP transfer (issue 7, network
# half): kill -9 of its host process, KILLS times (default 20). The
# toolstack restarts it in place and writes the vif directories again; each
# guest's netfront takes its eth0's carrier down, reconnects on new rings
# and brings it back up. Guest a sends 32 MiB (seq from a seed, paced
# so that it outlasts the kills) over one TCP connection to guest b; both
# compute its md5sum, and so does the host: all three must agree. b pings a
# every 50 ms; the console log's timestamps give, per kill, the time from
# the kill to the first reply after the gap (printed, p50/p99).
. "${BH_SOURCE_DIR:?}/tests/system.sh"
set +e
KILLS=${KILLS:-20}
SEED=${SEED:-$((1000000 + $$ % 1000))}
COUNT=4200000 # seq SEED..SEED+COUNT: 33.6 MB (32 MiB)

sys_start
last=$((SEED + COUNT))
expect=$(seq "$SEED" "$last" | md5sum | awk '{print $1}')
cat >"$L/net.cfg" <<CFG
name = "net"
memory = 96
driver_domain = 1
on_crash = "restart"
restart_limit = 15
restart_window = 1
CFG
# The kernel hands init at most 32 words (sh -c joins them again): the
# scripts are written tight. The sender paces itself at 64 KiB per 0.12 s
# (iflag=fullblock: a short read means the end), so that the transfer
# (about 60 s) outlasts the kills (20 kills about 1.6-2.5 s apart). Markers are computed at
# run time: the console echoes the command line.
cat >"$L/a.cfg" <<CFG
name = "a"
memory = 128
vif = [ 'mac=00:16:3e:00:00:1a,bridge=br0,backend=net,ip=10.9.1.1' ]
cmdline = "ip=10.9.1.1::0.0.0.0:255.255.255.0::eth0:off -- set -o pipefail;echo SUM-\$((40+2)) \$(seq $SEED $last|md5sum);seq $SEED $last|while dd bs=32768 count=2 iflag=fullblock 2>/e;grep -q ^2+0 /e;do sleep 0.12;done|nc -l -p 5000&&echo SENT-\$((40+2));sleep 1000"
CFG
cat >"$L/b.cfg" <<CFG
name = "b"
memory = 128
vif = [ 'mac=00:16:3e:00:00:1b,bridge=br0,backend=net,ip=10.9.1.2' ]
cmdline = "ip=10.9.1.2::0.0.0.0:255.255.255.0::eth0:off -- set -o pipefail;ping -i 0.05 10.9.1.1&until nc 10.9.1.1 5000|md5sum>/m;do sleep 0.2;done;echo GOT-\$((40+2)) \$(cat /m);sleep 1000"
CFG

bh up "$L" || fail "bh up"
la="$BULKHEAD_RUNDIR/dom0/console/a.log"
lb="$BULKHEAD_RUNDIR/dom0/console/b.log"
replies() { c=$(grep -c "bytes from 10.9.1.1: seq=" "$lb" 2>/dev/null); echo "${c:-0}"; }
reconnects() { c=$(grep -c "eth0: reconnected to " "$1" 2>/dev/null); echo "${c:-0}"; }
done_yet() { grep -q "GOT-42 " "$lb" 2>/dev/null; }
for _ in $(seq 200); do [ "$(replies)" -ge 3 ] && break; sleep 0.1; done
[ "$(replies)" -ge 3 ] || fail "b cannot ping a: $(tail -n 15 "$lb")"
for _ in $(seq 200); do grep -q "SUM-42 " "$la" && break; sleep 0.1; done
grep -q "SUM-42 " "$la" || fail "a did not compute its checksum: $(tail -n 5 "$la")"
sleep 1 # b connects within 0.2 s of a listening
done_yet && fail "the transfer ended before the first kill: $(tail -n 3 "$lb")"
pass "a sends to b over TCP, b pings a"

kills=""
k=0
while [ $k -lt "$KILLS" ]; do
  pid=$(dom_pid net)
  [ -n "$pid" ] && [ "$pid" -gt 0 ] || fail "no pid for net: $(ctl list)"
  ra=$(reconnects "$la")
  rb=$(reconnects "$lb")
  t0=$(date +%s%N)
  kill -9 "$pid" || fail "kill $pid"
  kills="$kills $((t0 / 1000000))"
  k=$((k + 1))
  # Both guests reconnected, and a ping came back after that.
  end=$(($(date +%s) + 30))
  until [ "$(reconnects "$la")" -gt "$ra" ] && [ "$(reconnects "$lb")" -gt "$rb" ]; do
    [ "$(date +%s)" -ge "$end" ] && fail "kill $k: the guests did not reconnect: $(grep eth0 "$lb" | tail -n 3)"
    sleep 0.02
  done
  n=$(replies)
  until [ "$(replies)" -gt "$n" ]; do
    [ "$(date +%s)" -ge "$end" ] && fail "kill $k: no ping reply after reconnecting: $(tail -n 5 "$lb")"
    sleep 0.02
  done
  done_yet && [ $k -lt "$KILLS" ] &&
    fail "the transfer ended after $k of $KILLS kills: slow the sender down"
  # Over a second since the restart: restart_window is 1 s, so the
  # watchdog's backoff does not grow (docs/watchdog.md).
  sleep 1.$((k * 7 % 5 + 1))
done
pass "$KILLS kills of the net driver domain; both guests reconnected after each"

for _ in $(seq 1200); do done_yet && break; sleep 0.1; done
done_yet || fail "the transfer did not finish: $(tail -n 5 "$lb")"
sa=$(grep "SUM-42 " "$la" | tr -d '\r' | awk '{print $4}')
sb=$(grep "GOT-42 " "$lb" | tr -d '\r' | awk '{print $4}')
[ "$sa" = "$expect" ] && [ "$sb" = "$expect" ] ||
  fail "checksums: host $expect, a $sa, b $sb: $(tail -n 5 "$lb")"
grep -q "SENT-42" "$la" || fail "a's nc did not end cleanly: $(tail -n 5 "$la")"
pass "the TCP connection survived: $((COUNT + 1)) lines (seed $SEED) arrived, md5 $sb in a, b and the host"

# Per kill, from the console log's stamps (UTC wall clock, as date
# +%s%N; compared as ms of the day): b's eth0 reconnected (its carrier is
# on again), and the first ping reply after that (packets flow again both
# ways; b's carrier is off until it reconnected, so no reply it prints
# later was answered by the dead driver domain; a restart is now often
# shorter than the ping interval, so that no ping is lost).
since_kill() { # since_kill PATTERN [MINS]: ms from each kill to the first match
  # after it, at least the kill's MINS entry (ms) after it
  tr -d '\r' <"$lb" | awk -v kills="$kills" -v pat="$1" -v mins="${2:-}" '
    function since(t, k) { # t - k in ms of the day, across midnight
      d = t - k; if (d < -43200000) d += 86400000; if (d > 43200000) d -= 86400000
      return d
    }
    BEGIN {
      n = split(kills, K, " "); for (i = 1; i <= n; i++) K[i] = K[i] % 86400000
      split(mins, M, " ")
    }
    $0 ~ pat {
      split(substr($2, 1, 12), h, ":")
      t = (h[1] * 3600 + h[2] * 60 + h[3]) * 1000
      for (i = 1; i <= n; i++)
        if (!(i in got) && since(t, K[i]) > 0 && since(t, K[i]) >= M[i] + 0 &&
            since(t, K[i]) < 30000) {
          got[i] = 1; printf "%d ", since(t, K[i])
        }
    }'
}
link=$(since_kill "eth0: reconnected to ")
[ "$(echo "$link" | wc -w)" -eq "$KILLS" ] || fail "reconnection times for $(echo "$link" | wc -w) of $KILLS kills: $link"
times=$(since_kill "bytes from 10.9.1.1: seq=" "$link")
cnt=$(echo "$times" | wc -w)
[ "$cnt" -eq "$KILLS" ] || fail "recovery times for $cnt of $KILLS kills: $times"
pass "kill to b's eth0 reconnected (ms): $link"
pass "kill to the first ping reply (ms): $times"
echo "$link" | tr ' ' '\n' | grep . >"$RUN/link_ms"
echo "$times" | tr ' ' '\n' | grep . >"$RUN/ping_ms"
set -- $(pct "$RUN/link_ms")
l50=$1 l99=$3
set -- $(pct "$RUN/ping_ms")
pass "recovery over $KILLS kills: link p50 $l50 ms p99 $l99 ms; ping p50 $1 ms p99 $3 ms max $4 ms"
grep -q "driver domain [0-9]* (net) restarted: 2 device(s) set up again" \
  "$BULKHEAD_RUNDIR/logs/Domain-0.log" || fail "the toolstack did not say which guests it served"
grep -q "eth0: backend .* went away (state " "$lb" || fail "b's kernel did not say the link went down"
# dom0 takes each new generation's console up again (10 ms after the
# restart, from its loop), and lets the old one go with a line in the
# console log: one per kill, which a console not taken up again after the
# previous kill would not get.
gens=$(grep -c "\[domain exited: restarting\]" "$BULKHEAD_RUNDIR/dom0/console/net.log")
[ "$gens" -eq "$KILLS" ] ||
  fail "the net driver domain's console was let go $gens times in $KILLS restarts"
pass "each generation's console was taken up and let go by dom0"
bh down "$L" || fail "bh down"

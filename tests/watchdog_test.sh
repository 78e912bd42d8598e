#!/bin/sh
# The driver-domain watchdog on a whole host with the real `bh`: a hung
# driver domain is noticed within its heartbeat_timeout and restarted
# (reason watchdog); one that keeps crashing stops at restart_limit and is
# reported failed, naming the guest that depended on it.
. "${BH_SOURCE_DIR:?}/tests/system.sh"
set +e

sys_start
T="$RUN/t"
mkdir -p "$T"
truncate -s 16M "$IMAGES/disk.img"
chmod 666 "$IMAGES/disk.img"

cat >"$T/dd.cfg" <<'CFG'
name = "dd"
memory = 96
driver_domain = 1
heartbeat_period = 200
heartbeat_timeout = 1000
on_watchdog = "restart"
on_crash = "restart"
restart_limit = 3
restart_window = 60
CFG
cat >"$T/g.cfg" <<CFG
name = "g"
memory = 64
disk = [ '$IMAGES/disk.img,raw,xvda,rw,backend=dd' ]
cmdline = "sleep 1000"
CFG

# field NAME KEY: an integer or string member of `bh list -l NAME`
field() { bh list -l "$1" | sed -n "s/^ *\"$2\": *\"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" | head -n 1; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
dom0log() { cat "$BULKHEAD_RUNDIR"/logs/*.log 2>/dev/null; }
# wait_gen NAME GEN SECONDS: until NAME's generation exceeds GEN
wait_gen() {
  for _ in $(seq $(($3 * 20))); do
    g=$(field "$1" generation)
    [ -n "$g" ] && [ "$g" -gt "$2" ] && [ "$(field "$1" state)" = running ] && return 0
    sleep 0.05
  done
  return 1
}

bh create "$T/dd.cfg" >/dev/null || fail "create dd"
wait_for sh -c 'bh list -l dd | grep -q heartbeat_age_ms' || fail "dd never beat: $(bh list -l dd)"
bh create "$T/g.cfg" >/dev/null || fail "create g"
gid=$(bh domid g)

# ---- deps: who a restart of dd hits
bh deps dd | grep -q "^g $gid vbd:xvda$" || fail "deps names g's disk: $(bh deps dd)"
[ -z "$(bh deps g)" ] || fail "nothing depends on g"
bh -j deps dd | grep -q '"vdev": "xvda"' || fail "deps as JSON"
pass "deps"

# ---- an administrator's pause is not a hang
gen=$(field dd generation)
bh pause dd || fail "pause"
sleep 1.6
[ "$(field dd generation)" = "$gen" ] && [ "$(field dd restarts)" = 0 ] || fail "paused dd was ended: $(bh list -l dd)"
bh unpause dd || fail "unpause"
pass "admin pause left alone"

# ---- hang: detected within the timeout (1 s + a 250 ms tick), restarted
gen=$(field dd generation)
t0=$(now_ms)
bh inject dd hang || fail "inject hang"
[ "$(field dd state)" = paused ] || fail "hang freezes dd"
wait_gen dd "$gen" 5 || fail "hung dd not restarted: $(bh list -l dd)"
el=$(($(now_ms) - t0))
[ "$el" -ge 700 ] && [ "$el" -lt 5000 ] || fail "hang restart after $el ms (timeout 1000)"
[ "$(field dd last_shutdown_reason)" = watchdog ] || fail "reason: $(bh list -l dd)"
[ "$(field dd restarts)" = 1 ] || fail "restarts 1: $(bh list -l dd)"
dom0log | grep -q "inject: hang into domain [0-9]* (dd) generation $gen; 1 dependent guest(s): g($gid) vbd xvda" ||
  fail "the injection is logged with what it hit"
silent=$(dom0log | sed -n "s/.*watchdog: domain [0-9]* (dd) generation $gen silent for \([0-9]*\) ms.*/\1/p")
[ -n "$silent" ] || fail "the watchdog logs the hang"
# caught on the first 250 ms tick past the timeout (some slack for a busy host)
[ "$silent" -gt 1000 ] && [ "$silent" -lt 1750 ] || fail "hang caught after $silent ms of silence"
wait_for sh -c 'bh list -l dd | grep -q heartbeat_age_ms' || fail "restarted dd beats again"
pass "hang detected in $el ms and restarted"

# ---- crash loop: restart 2 waits 0.5 s, restart 3 1 s, then failed
for n in 2 3; do
  gen=$(field dd generation)
  t0=$(now_ms)
  bh inject dd crash || fail "inject crash $n"
  wait_gen dd "$gen" 8 || fail "crashed dd not restarted ($n): $(bh list -l dd)"
  el=$(($(now_ms) - t0))
  want=$((500 * (n - 1)))
  [ "$el" -ge "$want" ] || fail "restart $n after $el ms, backoff is $want"
  [ "$(field dd last_shutdown_reason)" = crash ] || fail "reason crash: $(bh list -l dd)"
  [ "$(field dd restarts)" = "$n" ] || fail "restarts $n: $(bh list -l dd)"
done
pass "backoff between restarts"
bh inject dd crash || fail "inject the last crash"
wait_for sh -c 'bh list dd | grep -q "^dd .* failed "' || fail "dd not failed: $(bh list dd)"
[ "$(field dd failed)" = true ] && [ "$(field dd restarts)" = 3 ] || fail "failed in JSON: $(bh list -l dd)"
sleep 1
[ "$(field dd restarts)" = 3 ] || fail "a failed domain is not restarted"
dom0log | grep -q "domain [0-9]* (dd) FAILED: 3 restarts within 60 s.*g($gid) vbd xvda" ||
  fail "the failure names the dependent guest"
bh inject dd crash 2>/dev/null && fail "a failed domain takes no faults"
bh inject g crash 2>/dev/null && fail "only driver domains take faults"
bh inject dd melt 2>&1 | grep -q "unknown fault" || fail "unknown fault named"
bh destroy dd || fail "a failed domain can be destroyed"
pass "crash loop stops at restart_limit, reported failed"

# ---- a seeded soak run: each fault lands (or is reported missed) and logged
sed -e 's/"dd"/"dd2"/' -e 's/restart_limit = 3/restart_limit = 10/' "$T/dd.cfg" >"$T/dd2.cfg"
bh create "$T/dd2.cfg" >/dev/null || fail "create dd2"
wait_for sh -c 'bh list -l dd2 | grep -q heartbeat_age_ms' || fail "dd2 beats"
# dd2 serves no device: a device fault drawn is missed ("serves no
# device"); the exit status is 1 only if nothing landed. Seed 2 draws
# crash, then close-channel (glibc's rand).
out=$(bh inject dd2 random --count 2 --interval 1500 --seed 2)
rc=$?
echo "$out" | head -n 1 | grep -qx "seed 2" || fail "the seed is printed: $out"
[ "$(echo "$out" | grep -c '^[12] \(crash\|hang\|corrupt\|drop-notify\|close-channel\) \(injected\|missed: \)')" = 2 ] || fail "two faults: $out"
landed=$(echo "$out" | grep -c injected)
{ [ "$landed" -gt 0 ] && [ $rc -eq 0 ]; } || { [ "$landed" -eq 0 ] && [ $rc -eq 1 ]; } || fail "exit status $rc with $landed landed: $out"
echo "$out" | grep "^[12] \(corrupt\|drop-notify\|close-channel\) " | grep -qv "missed: domain [0-9]* (dd2) serves no device" &&
  fail "a device fault into dd2 (no device) is missed for that reason: $out"
[ "$(dom0log | grep -c 'inject: [a-z]* into domain [0-9]* (dd2)')" = "$landed" ] || fail "each landed fault logged"
[ "$landed" -ge 1 ] || fail "seed 2 lands a crash: $out"
[ "$(bh inject dd2 random --count 0 --seed 7)" = "seed 7" ] || fail "count 0 injects nothing"
bh inject dd2 random --count x >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad --count is a usage error"
pass "random soak run ($landed landed)"

sys_stop
exit 0

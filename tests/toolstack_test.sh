#!/bin/sh
# The toolstack as users meet it: a whole host (core, store domain, dom0)
# driven with the real `bh` CLI and Xen's real xenstore-* tools.
. "${BH_SOURCE_DIR:?}/tests/system.sh"
set +e

T="$(mktemp -d /tmp/bhts.XXXXXX)"
cleanup_t() { rm -rf "$T"; }

# ---- without a host: usage and reachability exit codes
bh --help >/dev/null || fail "bh --help"
bh create --help | grep -q "Usage: bh create" || fail "create --help"
bh frobnicate >/dev/null 2>&1; [ $? -eq 2 ] || fail "unknown verb must exit 2"
BULKHEAD_RUNDIR=/nonexistent bh list >/dev/null 2>&1; [ $? -eq 3 ] || fail "no dom0 must exit 3"
pass "usage and exit codes"

# ---- config errors name file, line and column (no host needed for -n)
printf 'name = "bad"\nmemory = lots\n' >"$T/bad.cfg"
out=$(bh create -n "$T/bad.cfg" 2>&1); rc=$?
[ $rc -eq 1 ] || fail "bad config must exit 1, got $rc"
echo "$out" | grep -q "$T/bad.cfg:2:[0-9]*: error:" || fail "no file:line:col in: $out"
printf 'name = "dry"\nmemory = 96\nvcpus = 2\n' >"$T/dry.cfg"
bh create -n "$T/dry.cfg" 2>/dev/null | grep -q '"dry"' || fail "dry run prints the config"
pass "config diagnostics"

sys_start

# ---- info and the store socket it names
bh info | grep -q "xenstore_socket.*$BULKHEAD_RUNDIR/xenstored/socket" || fail "info names the store socket"
bh list | grep -q "^Domain-0 " || fail "dom0 listed"
pass "info, list"

# ---- a PV guest: created, listed, its store nodes, its console log
cat >"$T/g1.cfg" <<'CFG'
name = "g1"
memory = 64
on_reboot = "restart"
cmdline = 'GREETING="hello quoted world" echo guest-says-hello $GREETING; while true; do sleep 1; done'
CFG
bh create "$T/g1.cfg" || fail "create g1"
id=$(bh domid g1) || fail "domid"
[ "$(bh domname "$id")" = g1 ] || fail "domname"
bh list g1 | grep -q "^g1 .* r-----" || fail "g1 running: $(bh list)"
wait_for grep -q guest-says-hello "$BULKHEAD_RUNDIR/dom0/console/g1.log" || fail "console log"
# quotes group words as on Linux: one environment variable with spaces
wait_for grep -q "guest-says-hello hello quoted world" "$BULKHEAD_RUNDIR/dom0/console/g1.log" ||
  fail "quoted kernel command line: $(tail -n 3 "$BULKHEAD_RUNDIR/dom0/console/g1.log")"
grep -q '^\[20[0-9-]* [0-9:.]*\] guest-says-hello' "$BULKHEAD_RUNDIR/dom0/console/g1.log" || fail "log lines are timestamped"
[ "$(xenstore-read "/local/domain/$id/name")" = g1 ] || fail "xenstore-read name"
xenstore-ls "/local/domain/$id" | grep -q "^console" || fail "xenstore-ls console dir"
xenstore-exists "/local/domain/$id/control/shutdown" || fail "control/shutdown exists"
bh create "$T/g1.cfg" >/dev/null 2>&1 && fail "a second g1 must be refused"
pass "create, console log, store nodes"

# ---- bh console: what is typed reaches the guest's shell, its answer the log
printf 'name = "sh1"\nmemory = 64\n' >"$T/sh1.cfg"
bh create "$T/sh1.cfg" >/dev/null 2>&1 || fail "create sh1"
wait_for grep -q "a shell on the console" "$BULKHEAD_RUNDIR/dom0/console/sh1.log" || fail "sh1 shell"
(printf 'echo typed-$((6*7))\n'; sleep 2) | timeout 10 bh console sh1 >"$T/cons.out" 2>&1
wait_for grep -q "typed-42" "$BULKHEAD_RUNDIR/dom0/console/sh1.log" || fail "console input: $(tail -n 5 "$BULKHEAD_RUNDIR/dom0/console/sh1.log")"
grep -q "typed-42" "$T/cons.out" || fail "console output to the client: $(cat "$T/cons.out")"
bh destroy sh1 || fail "destroy sh1"
pass "bh console: input reaches the guest, output reaches client and log"

# ---- pause, resources
bh pause g1 && bh list g1 | grep -q "^g1 .* --p---" || fail "pause"
bh unpause g1 && bh list g1 | grep -q "^g1 .* r-----" || fail "unpause"
bh mem-set g1 96m || fail "mem-set"
bh list -l g1 | grep -q '"mem_kb": 98304' || fail "mem-set applied: $(bh list -l g1)"
bh sched-credit -d g1 -w 512 -c 50 || fail "sched-credit set"
bh sched-credit -d g1 | grep -q "g1 .* 512 *50" || fail "sched-credit shows"
bh mem-set g1 lots >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad mem-set is a usage error"
pass "pause, mem-set, sched-credit"

# ---- reboot: on_reboot=restart keeps the domid, bumps the generation
bh reboot g1 || fail "reboot"
for _ in $(seq 100); do bh list -l g1 | grep -q '"generation": 1' && break; sleep 0.1; done
bh list -l g1 | grep -q '"generation": 1' || fail "restarted: $(bh list -l g1)"
[ "$(bh domid g1)" = "$id" ] || fail "same domid after restart"
pass "reboot restarts"

# ---- shutdown -w: on_poweroff=destroy removes it and its store nodes
bh shutdown -w g1 || fail "shutdown -w"
bh domid g1 >/dev/null 2>&1 && fail "g1 still there"
xenstore-exists "/local/domain/$id" && fail "store nodes left behind"
pass "shutdown -w"

# ---- a crash with on_crash=preserve stays listed until destroyed
cat >"$T/c.cfg" <<'CFG'
name = "crashy"
memory = 64
on_crash = "preserve"
cmdline = "kill -SEGV $$"
CFG
bh create "$T/c.cfg" || fail "create crashy"
wait_for sh -c 'bh list crashy | grep -q "c-"' || fail "crash preserved: $(bh list)"
bh destroy crashy && ! bh domid crashy >/dev/null 2>&1 || fail "destroy"
pass "crash preserve, destroy"

# ---- layouts: plan, up, down
mkdir -p "$T/lay"
printf 'name = "a"\nmemory = 64\ncmdline = "sleep 1000"\n' >"$T/lay/a.cfg"
printf 'name = "b"\nmemory = 64\ncmdline = "sleep 1000"\n' >"$T/lay/b.cfg"
bh up -n "$T/lay" | grep -q "a" || fail "plan"
bh up "$T/lay" || fail "up"
bh domid a >/dev/null && bh domid b >/dev/null || fail "layout domains up"
bh down "$T/lay" || fail "down"
bh domid a >/dev/null 2>&1 && fail "layout domains down"
printf 'name = "a"\nmemory = 64\n' >"$T/lay/dup.cfg"
bh up "$T/lay" >/dev/null 2>&1 && fail "duplicate names must be refused"
pass "layouts"

bh dmesg | grep -q . || fail "dmesg"
pass "dmesg"
cleanup_t

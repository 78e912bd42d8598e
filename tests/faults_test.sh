#!/bin/sh
# The device faults of `bh inject` (issue 7, item 3) against a storage
# driver domain serving a guest under verified writes: a corrupted
# response, notifications dropped for a while and for good, and a closed
# event channel. Each is ordered by dom0 through the store, carried out by
# the driver domain on the guest's disk, logged by both, and survived by
# the guest's blkfront (the ring is reset, or a lost notification is sent
# again); at the end the guest saw no I/O error and every write it
# acknowledged is in the image with its content; a seeded random run of
# device faults too. About 25 s.
. "${BH_SOURCE_DIR:?}/tests/system.sh"
. "${BH_SOURCE_DIR:?}/tests/blkwriter.sh"
set +e
STOP_BLK=9000   # the host writes STOP here when the faults are done
SCRIPT_BLK=8000 # the guest's workload, put there by the host

sys_start
img="$IMAGES/disk.img"
truncate -s 64M "$img"
writer_put "$img" $SCRIPT_BLK $STOP_BLK 7000
# driver_domain = 1: on_crash and on_watchdog default to restart.
cat >"$L/storage.cfg" <<CFG
name = "storage"
memory = 96
driver_domain = 1
CFG
cat >"$L/guest.cfg" <<CFG
name = "guest"
memory = 128
disk = [ '$img,raw,xvda,rw,backend=storage' ]
cmdline = "bhblk.timeout=30 -- $WRITER_CMD"
CFG

bh up "$L" || fail "bh up"
log="$BULKHEAD_RUNDIR/dom0/console/guest.log"
klog="$BULKHEAD_RUNDIR/logs/guest.log"
dom0log="$BULKHEAD_RUNDIR/logs/Domain-0.log"
ddlog="$BULKHEAD_RUNDIR/logs/storage.log"
wait_acks 5 30 || fail "the guest does not write: $(tail -n 20 "$log")"
pass "the guest writes numbered blocks"
dd=$(bh domid storage)
gid=$(bh domid guest)
hit="vbd/$gid/51712 (guest($gid) vbd xvda)"

# Only dom0 may order a fault: the node is dom0's, the driver domain may
# read it, no one else (so no guest) may even read it.
bh inject storage corrupt >/dev/null || fail "first inject"
perms=$(xenstore-ls -p "/local/domain/$dd/control" | grep "^inject ")
echo "$perms" | grep -q "(n0,r$dd)$" || fail "control/inject permissions: $perms"
pass "orders go through control/inject, dom0's, readable by the driver domain only"

# The longest gap between two acknowledged writes (console time stamps,
# "[YYYY-MM-DD HH:MM:SS.mmm] ACK n") from the last one before the fault on.
ms_of_day() { date -u +%H:%M:%S.%3N | awk -F: '{ printf "%d", ($1 * 3600 + $2 * 60 + $3) * 1000 }'; }
stall_ms() { # stall_ms T0 (ms of the day, UTC as the console's stamps)
  tr -d '\r' <"$log" | awk -v t0="$1" '/\] ACK [0-9]/ { split(substr($2, 1, 12), a, ":")
    t = (a[1] * 3600 + a[2] * 60 + a[3]) * 1000
    if (t < t0) { last = t; next }
    if (last && t - last > max) max = t - last; last = t } END { printf "%d", max }'
}
# inject FAULT FILE PATTERN [ARGS]: lands on the guest's disk; PATTERN shows
# up in FILE (the fault's effect); then two more writes are acknowledged.
# Sets T_MS to the guest's longest stall between two writes meanwhile.
inject() {
  f=$1 file=$2 pat=$3
  shift 3
  t0=$(ms_of_day)
  c0=$(grep -c "$pat" "$file")
  out=$(bh inject storage "$f" "$@") || fail "bh inject storage $f: $out"
  [ "$out" = "$f on $hit" ] || fail "bh inject says what it hit: $out"
  for _ in $(seq 250); do [ "$(grep -c "$pat" "$file")" -gt "$c0" ] && break; sleep 0.1; done
  [ "$(grep -c "$pat" "$file")" -gt "$c0" ] || fail "$f: no new \"$pat\" in $file: $(grep "vbd\|ring" "$file" | tail -n 4)"
  wait_acks "$(($(acks) + 1))" 25 || fail "$f: the guest's I/O did not resume: $(tail -n 5 "$log"; grep vbd "$klog" | tail -n 4)"
  T_MS=$(stall_ms "$t0")
  grep -q "inject: $f into domain $dd (storage) generation 0 on $hit" "$dom0log" ||
    fail "dom0 logs the $f with what it hit"
  grep -q "inject: $f into vbd/$gid/51712 (frontend /local/domain/$gid/device/vbd/51712) by dom0's order" "$ddlog" ||
    fail "the driver domain logs the $f: $(tail -n 5 "$ddlog")"
  ack=$(xenstore-read "/local/domain/$dd/data/inject-ack")
  echo "$ack" | grep -q "^[0-9]* ok vbd/$gid/51712$" || fail "the driver domain acks the order: $ack"
}
resets() { c=$(grep -c "vbd xvda: backend .* resetting the ring" "$klog" 2>/dev/null); echo "${c:-0}"; }

# corrupt (the order above): a response with an id never issued. blkfront
# refuses it, the ring is reset and the write done again.
for _ in $(seq 100); do grep -q "sent an invalid response" "$klog" && break; sleep 0.1; done
grep -q "vbd xvda: backend .* sent an invalid response: resetting the ring (1 of 3)" "$klog" ||
  fail "the guest's kernel notices the corrupted response: $(grep vbd "$klog" | tail -n 4)"
grep -q "ring 0: injected: the next response gets a bogus id" "$ddlog" || fail "blkback logs the corruption"
wait_acks "$(($(acks) + 1))" 25 || fail "corrupt: the guest's I/O did not resume: $(tail -n 5 "$log")"
r0=$(resets)
inject corrupt "$klog" "sent an invalid response: resetting the ring (1 of 3)" # again
c_corrupt=$(grep -c "sent an invalid response" "$klog")
[ "$c_corrupt" -eq 2 ] || fail "one more reset for the second corrupt"
pass "corrupt: refused by the guest, ring reset; longest stall $T_MS ms"

# drop-notify for 2 s: the guest's polling takes the responses it was
# not told about, and its signal sent again after 1 s is heard once the
# loss ends; no reset needed.
r0=$(resets)
# The loss ends at the first signal heard after 2 s: the guest's, sent
# again (the log line comes when the ring is looked at again).
inject drop-notify "$ddlog" "ring 0: notifications heard again; [1-9][0-9]* lost meanwhile" --ms 2000
grep -q "ring 0: injected: notifications dropped for 2000 ms" "$ddlog" || fail "blkback logs the drop"
# Signalling again is enough: no ring reset. (A reset for a request left
# unanswered for another reason is not this fault's; it is reported, not
# failed.)
[ "$(grep -c "sent an invalid response" "$klog")" -eq "$c_corrupt" ] || fail "drop-notify 2 s is no corruption"
[ "$(resets)" -eq "$r0" ] || echo "note: a ring reset during the 2 s drop: $(grep vbd "$klog" | tail -n 1)"
[ "$T_MS" -ge 1500 ] && [ "$T_MS" -lt 8000 ] || fail "drop-notify 2 s stalled the guest $T_MS ms"
pass "drop-notify 2 s: survived by signalling again; longest stall $T_MS ms"

# drop-notify for good (until the ring is replaced): a stall the guest
# resets after 5 s.
inject drop-notify "$klog" "answered nothing for 5 s (.*): resetting the ring (1 of 3)" --ms 0
grep -q "inject: drop-notify into domain $dd (storage) generation 0 on $hit until it reconnects" "$dom0log" ||
  fail "dom0 logs a drop for good"
[ "$(resets)" -gt "$r0" ] || fail "drop-notify for good: a reset: $(grep vbd "$klog" | tail -n 3)"
[ "$T_MS" -ge 4500 ] || fail "drop-notify for good stalled the guest only $T_MS ms"
pass "drop-notify for good: ring reset after the 5 s stall; longest stall $T_MS ms"

# close-channel: the backend's port is closed; the guest's signals go
# nowhere; the stall resets the ring and a new channel is bound.
r0=$(resets)
n0=$(grep -c "answered nothing for 5 s" "$klog")
inject close-channel "$klog" "answered nothing for 5 s (.*): resetting the ring (1 of 3)"
[ "$(grep -c "answered nothing for 5 s" "$klog")" -gt "$n0" ] || fail "close-channel: a reset: $(grep vbd "$klog" | tail -n 3)"
grep -q "ring 0: injected: event channel closed" "$ddlog" || fail "blkback logs the close"
pass "close-channel: ring reset after the 5 s stall, new channel; longest stall $T_MS ms"

# A seeded soak run over the device faults: seed 51 draws drop-notify,
# corrupt, corrupt (glibc's rand); each lands on the guest's disk.
out=$(bh inject storage random --count 3 --interval 2500 --seed 51) || fail "random run: $out"
[ "$(echo "$out" | grep -c "^[123] \(drop-notify\|corrupt\) injected on $(echo "$hit" | sed 's/[()]/./g')$")" = 3 ] ||
  fail "three device faults landed: $out"
wait_acks "$(($(acks) + 1))" 25 || fail "random: the guest's I/O did not resume"
pass "random soak run over the device faults: $(echo "$out" | tail -n 3 | cut -d' ' -f2 | tr '\n' ' ')"

# Nothing of this restarted the driver domain.
[ "$(bh list -l storage | sed -n 's/^ *"restarts": \([0-9]*\).*/\1/p')" = 0 ] || fail "storage was restarted"
grep -q "vbd xvda: .* failing I/O with EIO" "$klog" && fail "the guest failed I/O"

writer_finish "$img" $STOP_BLK
pass "no I/O error; all $ACKED acknowledged blocks are in the image"

# Faults that cannot land are refused with a reason.
bh inject guest corrupt 2>/dev/null && fail "only driver domains take faults"
bh inject storage corrupt --device xvdz 2>&1 | grep -q "serves no device xvdz" || fail "unknown device named"
bh inject storage drop-notify --ms x >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad --ms is a usage error"
pass "refusals"
bh down "$L" || fail "bh down"

#!/bin/sh
# A driver domain as users meet it: a layout with driver_domain=1 brought
# up with the real `bh up` (which waits for data/backend-ready), a guest
# whose disk it serves, and the device's store nodes read with Xen's
# xenstore tools. Needs root.
. "${BH_SOURCE_DIR:?}/tests/system.sh"
set +e

sys_start
truncate -s 16M "$IMAGES/disk.img"
cat >"$L/storage.cfg" <<CFG
name = "storage"
memory = 64
driver_domain = 1
CFG
cat >"$L/guest.cfg" <<CFG
name = "guest"
memory = 64
disk = [ 'format=raw, vdev=xvda, access=rw, backend=storage, target=$IMAGES/disk.img' ]
cmdline = "-- echo bulkhead-was-here | dd of=/dev/xvda bs=512 count=1 conv=sync,notrunc && sync && echo disk-\$((1+1))-written; while true; do sleep 1; done"
CFG

bh up "$L" || fail "bh up"
sid=$(bh domid storage) || fail "no storage domain"
gid=$(bh domid guest) || fail "no guest"
[ "$(xenstore-read "/local/domain/$sid/data/backend-ready")" = 1 ] || fail "backend-ready"
bh list storage | grep -q "^storage " || fail "storage listed"
pass "bh up waits for the driver domain"

# The vbd reaches the driver domain. With the block engine built in ($1 =
# 1) the guest's PV kernel connects its block frontend and writes to the
# disk; the bytes must land in the image on the host. Without it the
# answer is the error node and Closing, which the toolstack and guest see.
be="/local/domain/$sid/backend/vbd/$gid/51712"
err="/local/domain/$sid/error/backend/vbd/$gid/51712/error"
if [ "${1:-0}" = 1 ]; then
  wait_for sh -c "[ \"\$(xenstore-read $be/state)\" = 4 ]" || fail "backend state: $(xenstore-read $be/state)"
  [ "$(xenstore-read "$be/sectors")" = 32768 ] || fail "sectors: $(xenstore-read "$be/sectors")"
  [ "$(xenstore-read "$be/sector-size")" = 512 ] || fail "sector-size"
  [ "$(xenstore-read "$be/info")" = 0 ] || fail "info"
  [ "$(xenstore-read "$be/feature-flush-cache")" = 1 ] || fail "feature-flush-cache"
  xenstore-exists "$err" && fail "error node: $(xenstore-read "$err")"
  pass "the vbd connects"
  wait_for grep -q disk-2-written "$BULKHEAD_RUNDIR/dom0/console/guest.log" || fail "the guest did not write its disk"
  [ "$(head -c 17 "$IMAGES/disk.img")" = bulkhead-was-here ] || fail "the image does not hold the guest's write"
  pass "a guest write lands in the image"
else
  wait_for sh -c "[ \"\$(xenstore-read $be/state)\" = 5 ]" || fail "backend state: $(xenstore-read $be/state)"
  [ "$(xenstore-read "$err")" = "38 error: backend not built in yet" ] || fail "error node: $(xenstore-read "$err")"
  pass "the vbd is answered"
fi

# Still alive and heartbeating after a few periods.
sleep 2
bh list -l storage | grep -q '"heartbeat_age_ms": [0-9]\{1,4\},' || fail "heartbeat: $(bh list -l storage)"
pass "heartbeat"

bh down "$L" || fail "bh down"
bh domid storage >/dev/null 2>&1 && fail "storage still there after down"
pass "bh down"

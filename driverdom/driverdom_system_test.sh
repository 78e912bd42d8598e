#!/bin/sh
# A driver domain as users meet it: a layout with driver_domain=1 brought
# up with the real `bh up` (which waits for data/backend-ready), a guest
# whose disk it serves, and the device's store nodes read with Xen's
# xenstore tools. Needs root.
. "${BH_SOURCE_DIR:?}/tests/system.sh"
set +e

sys_start
export XENSTORED_PATH="$BULKHEAD_RUNDIR/xenstored/socket"
L="$RUN/layout"
mkdir -p "$L"
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
cmdline = "while true; do sleep 1; done"
CFG

bh up "$L" || fail "bh up"
sid=$(bh domid storage) || fail "no storage domain"
gid=$(bh domid guest) || fail "no guest"
[ "$(xenstore-read "/local/domain/$sid/data/backend-ready")" = 1 ] || fail "backend-ready"
bh list storage | grep -q "^storage " || fail "storage listed"
pass "bh up waits for the driver domain"

# The vbd reaches the driver domain. With the block engine built in ($1 =
# 1) it is probed (features published) and the PV kernel's block frontend
# connects it: Connected. Without it the answer is the error node
# and Closing, which the toolstack and guest can see.
be="/local/domain/$sid/backend/vbd/$gid/51712"
err="/local/domain/$sid/error/backend/vbd/$gid/51712/error"
if [ "${1:-0}" = 1 ]; then
  wait_for sh -c "[ \"\$(xenstore-read $be/state)\" = 4 ]" || fail "backend state: $(xenstore-read $be/state)"
  [ "$(xenstore-read "$be/sectors")" = 32768 ] || fail "sectors: $(xenstore-read "$be/sectors")"
  [ "$(xenstore-read "$be/sector-size")" = 512 ] || fail "sector-size"
  [ "$(xenstore-read "$be/info")" = 0 ] || fail "info"
  [ "$(xenstore-read "$be/feature-flush-cache")" = 1 ] || fail "feature-flush-cache"
  xenstore-exists "$err" && fail "error node: $(xenstore-read "$err")"
  pass "the vbd is probed"
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

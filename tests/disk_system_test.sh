#!/bin/sh
# PV block end to end, as a user meets it: a storage driver domain
# (blkback in bulkhead-driverdom) serving a raw image to a PV guest, whose
# own programs format and check the disk (/dev/xvda through the PV kernel's
# blkfront) and write data that must reach the image on the host.
. "${BH_SOURCE_DIR:?}/tests/system.sh"
set +e

sys_start
truncate -s 64M "$IMAGES/disk.img"
cat >"$L/storage.cfg" <<CFG
name = "storage"
memory = 96
driver_domain = 1
CFG
cat >"$L/guest.cfg" <<CFG
name = "guest"
memory = 128
disk = [ '$IMAGES/disk.img,raw,xvda,rw,backend=storage' ]
cmdline = "-- mkfs.ext4 -q -F /dev/xvda && e2fsck -fn /dev/xvda && echo DISK-CHECK-\$((40+2)) && echo bulkhead-data-marker | dd of=/dev/xvda bs=512 seek=100000 conv=fsync 2>/dev/null && echo WRITE-\$((6*7)); sleep 1000"
CFG

bh up "$L" || fail "bh up"
gid=$(bh domid guest) || fail "no guest"
log="$BULKHEAD_RUNDIR/dom0/console/guest.log"
for _ in $(seq 300); do grep -q "WRITE-42\|panic\|e2fsck: \|mkfs.ext4: \|dd: " "$log" 2>/dev/null && break; sleep 0.1; done
grep -q DISK-CHECK-42 "$log" || fail "the guest could not format and check its disk: $(tail -n 20 "$log")"
grep -q WRITE-42 "$log" || fail "the guest's write did not complete: $(tail -n 20 "$log")"
pass "the guest formats and checks /dev/xvda"

# What the guest wrote is in the image on the host, and so is the ext4 it made.
dd if="$IMAGES/disk.img" bs=512 skip=100000 count=1 2>/dev/null | grep -q bulkhead-data-marker ||
  fail "the guest's data is not in the image"
dumpe2fs -h "$IMAGES/disk.img" 2>/dev/null | grep -q "Filesystem magic number" ||
  fail "the image holds no ext4 superblock"
pass "the data reached the image"

be="/local/domain/$(bh domid storage)/backend/vbd/$gid/51712"
[ "$(xenstore-read "$be/state")" = 4 ] || fail "backend not Connected: $(xenstore-read "$be/state")"
[ "$(xenstore-read "/local/domain/$gid/device/vbd/51712/state")" = 4 ] || fail "frontend not Connected"
bh block-list guest | grep -q "^xvda .* 4 *4 " || fail "block-list: $(bh block-list guest)"
pass "both ends Connected, bh block-list shows it"

bh down "$L" || fail "bh down"

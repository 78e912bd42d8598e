#!/bin/sh
# PV block as issue 5 asks, as users meet it: one storage driver domain
# serving three PV guests. Their own programs check their disks:
#   p: writes 1 MiB of random data through /dev/xvda and reads it back;
#   q: data written by one boot is there at the next (bh reboot);
#   r: a read-only disk refuses writes and still reads.
# (The markers the guests print are computed at run time, because the
# console log also shows the kernel command line.) Needs root.
. "${BH_SOURCE_DIR:?}/tests/system.sh"
set +e

sys_start
for d in p q r; do truncate -s 32M "$IMAGES/$d.img"; done
printf 'read-only-content\n' | dd of="$IMAGES/r.img" bs=512 seek=5 conv=notrunc 2>/dev/null
cat >"$L/storage.cfg" <<CFG
name = "storage"
memory = 96
driver_domain = 1
CFG
cat >"$L/p.cfg" <<CFG
name = "p"
memory = 96
disk = [ '$IMAGES/p.img,raw,xvda,rw,backend=storage' ]
cmdline = "-- dd if=/dev/urandom of=/p bs=64k count=16; dd if=/p of=/dev/xvda bs=64k seek=1 conv=notrunc,fsync; md5sum /p; dd if=/dev/xvda bs=64k skip=1 count=16 | md5sum; echo P-\$((40+2)); sleep 1000"
CFG
cat >"$L/q.cfg" <<CFG
name = "q"
memory = 96
on_reboot = "restart"
disk = [ '$IMAGES/q.img,raw,xvda,rw,backend=storage' ]
cmdline = "-- dd if=/dev/xvda bs=512 skip=9 count=1 | grep -q bh-mark && echo SAW-\$((40+2)); echo bh-mark | dd of=/dev/xvda bs=512 seek=9 conv=notrunc,fsync; echo Q-\$((40+2)); sleep 1000"
CFG
cat >"$L/r.cfg" <<CFG
name = "r"
memory = 96
disk = [ 'vdev=xvda, access=ro, backend=storage, target=$IMAGES/r.img' ]
cmdline = "-- echo x | dd of=/dev/xvda conv=notrunc && echo RO-WROTE-\$((40+2)) || echo RO-REFUSED-\$((40+2)); dd if=/dev/xvda bs=512 skip=5 count=1 | grep -q read-only-content && echo RO-READ-\$((40+2)); sleep 1000"
CFG

bh up "$L" || fail "bh up"
con() { echo "$BULKHEAD_RUNDIR/dom0/console/$1.log"; }
wait_for grep -q "P-42" "$(con p)"; wait_for grep -q "Q-42" "$(con q)"; wait_for grep -q "RO-READ-42\|RO-WROTE-42" "$(con r)"

w=$(grep "  /p" "$(con p)" | tail -1 | awk '{print $3}')
r=$(grep "  -" "$(con p)" | tail -1 | awk '{print $3}')
[ -n "$w" ] && [ "$w" = "$r" ] || fail "p: wrote $w, read back $r: $(tail -n 8 "$(con p)")"
h=$(dd if="$IMAGES/p.img" bs=64k skip=1 count=16 2>/dev/null | md5sum | awk '{print $1}')
[ "$h" = "$w" ] || fail "p: the image holds $h, the guest wrote $w"
pass "p: 1 MiB written through /dev/xvda reads back the same, in the guest and in the image"

grep -q "RO-REFUSED-42" "$(con r)" || fail "r: a read-only disk took a write: $(tail -n 5 "$(con r)")"
grep -q "RO-READ-42" "$(con r)" || fail "r: the read-only disk cannot be read: $(tail -n 5 "$(con r)")"
dd if="$IMAGES/r.img" bs=512 skip=5 count=1 2>/dev/null | grep -q read-only-content || fail "r: the image changed"
pass "r: a read-only disk refuses writes and reads"

grep -q "SAW-42" "$(con q)" && fail "q: saw its mark on the first boot"
bh reboot q || fail "reboot q"
for _ in $(seq 150); do grep -q "SAW-42" "$(con q)" && break; sleep 0.1; done
grep -q "SAW-42" "$(con q)" || fail "q: the second boot did not see the first boot's data: $(tail -n 8 "$(con q)")"
pass "q: data written by one boot is there at the next"

bh down "$L" || fail "bh down"

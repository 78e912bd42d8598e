#!/bin/sh
# xvda_bench: dd through /dev/xvda inside a PV guest (FUSE in the PV
# kernel -> blkfront -> ring -> blkback in a storage driver domain) against
# the same dd on the image file on the host, as a user meets the two.
#
#   BH_BUILD_DIR=build-rel BH_SOURCE_DIR=. bench/blk/xvda_bench.sh [RUNS] [MiB]
#
# Root. Boots a whole system (core, store, dom0, a storage driver domain,
# one guest) with tests/system.sh. Each run, in the guest and then on the
# host, with the same busybox dd: read the whole disk with bs=1M, read it
# with bs=4k, write 128 MiB with bs=1M and conv=fsync. busybox `time`
# measures to 10 ms, so the disk is large. Prints MiB/s medians and ratios.
. "${BH_SOURCE_DIR:?}/tests/system.sh"
set +e
RUNS=${1:-3}
MIB=${2:-256}
WMIB=$((MIB / 2))

sys_start
L="$RUN/layout"
mkdir -p "$L"
head -c $((MIB << 20)) /dev/urandom >"$IMAGES/disk.img"
cat >"$L/storage.cfg" <<CFG
name = "storage"
memory = 128
driver_domain = 1
CFG
# The dd lines print their own marker so the host side can parse them;
# $((..)) keeps the markers out of the echoed command line.
one="time dd if=/dev/xvda of=/dev/null bs=1M; echo XR1M-\$((1)); time dd if=/dev/xvda of=/dev/null bs=4k; echo XR4K-\$((1)); time dd if=/dev/zero of=/dev/xvda bs=1M count=$WMIB conv=fsync; echo XW1M-\$((1))"
cmd=""
for _ in $(seq "$RUNS"); do cmd="$cmd$one; "; done
# One quoted word for the guest's init (quotes group, as on Linux): as
# separate words, more than 2 runs passed the kernel's 32 init arguments
# and the guest stopped at boot ("too many boot init arguments").
cat >"$L/guest.cfg" <<CFG
name = "guest"
memory = 256
disk = [ '$IMAGES/disk.img,raw,xvda,rw,backend=storage' ]
cmdline = '-- "$cmd echo XVDA-DONE-\$((6*7)); sleep 1000"'
CFG

bh up "$L" || fail "bh up"
log="$BULKHEAD_RUNDIR/dom0/console/guest.log"
# A dd that hits the PV kernel's 60 s I/O timeout still ends.
for _ in $(seq $((RUNS * 2400))); do
  grep -q "XVDA-DONE-42\|panic" "$log" 2>/dev/null && break
  sleep 0.1
done
grep -q XVDA-DONE-42 "$log" || fail "the guest did not finish: $(tail -n 20 "$log")"
cp "$log" "$RUN/guest.txt"
grep -q "Connection timed out\|Input/output error" "$log" &&
  echo "blkbench: dd failed in the guest: $(grep -m1 'timed out\|Input/output' "$log")" >&2
bh down "$L" >/dev/null 2>&1

# The same on the host, same dd, the image file (page cache warm).
: >"$RUN/host.txt"
img="$IMAGES/disk.img"
for _ in $(seq "$RUNS"); do
  busybox time busybox dd if="$img" of=/dev/null bs=1M 2>>"$RUN/host.txt"
  echo XR1M-1 >>"$RUN/host.txt"
  busybox time busybox dd if="$img" of=/dev/null bs=4k 2>>"$RUN/host.txt"
  echo XR4K-1 >>"$RUN/host.txt"
  busybox time busybox dd if=/dev/zero of="$img" bs=1M count=$WMIB conv=fsync,notrunc \
    2>>"$RUN/host.txt"
  echo XW1M-1 >>"$RUN/host.txt"
done

# "real<TAB>0m 1.23s" lines (the guest's log puts a timestamp before
# them), each followed by its marker: seconds per marker; -1 when the dd
# before the marker failed.
secs() { # file marker
  tr -d '\r' <"$1" | awk -v m="$2-1" '
    /dd: / { failed = 1 }
    match($0, /real[ \t]+[0-9]+m [0-9.]+s/) {
      split(substr($0, RSTART + 5, RLENGTH - 5), a, /[ \t]+/); t = a[1]; v = a[2]
      sub(/m$/, "", t); sub(/s$/, "", v); last = t * 60 + v }
    $0 ~ (m "$") { print (failed ? -1 : last); failed = 0 }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

printf '%-22s %12s %12s %7s\n' "dd (busybox)" "guest MiB/s" "host MiB/s" "ratio"
for m in XR1M XR4K XW1M; do
  case $m in XR1M) name="read bs=1M"; mb=$MIB ;; XR4K) name="read bs=4k"; mb=$MIB ;;
    XW1M) name="write bs=1M fsync"; mb=$WMIB ;; esac
  g=$(secs "$RUN/guest.txt" $m | median)
  h=$(secs "$RUN/host.txt" $m | median)
  awk -v n="$name" -v mb="$mb" -v g="$g" -v h="$h" 'BEGIN {
    if (g < 0) { printf "%-22s %12s\n", n, "dd failed"; exit }
    gm = g > 0 ? mb / g : 0; hm = h > 0 ? mb / h : 0; r = hm > 0 ? gm / hm : 0
    # (a ">" among printf arguments is an output redirection to awk)
    printf "%-22s %12.1f %12.1f %7.3f\n", n, gm, hm, r }'
done
echo "($RUNS runs each, medians; $MIB MiB disk; times from busybox time, 10 ms resolution)"

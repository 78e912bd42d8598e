#!/bin/sh
# The example appliance (examples/appliance) as shipped: bh up starts the
# storage and network driver domains, then the web server and its client;
# the client gets the page over netback, the web server's disk is formatted
# and checked through blkback; bh down stops it all. Needs root; uses the
# layout's disk path below /var/lib/bulkhead.
. "${BH_SOURCE_DIR:?}/tests/system.sh"
set +e

img=/var/lib/bulkhead/appliance/web.img
mkdir -p /var/lib/bulkhead/appliance
rm -f "$img"
truncate -s 64M "$img"
sys_start --device-dir /var/lib/bulkhead
A="$BH_SOURCE_DIR/examples/appliance"
bh up "$A" || fail "bh up"
lc="$BULKHEAD_RUNDIR/dom0/console/client.log"
lw="$BULKHEAD_RUNDIR/dom0/console/web.log"
for _ in $(seq 300); do grep -q "hello from Bulkhead" "$lc" 2>/dev/null && break; sleep 0.1; done
grep -q "hello from Bulkhead" "$lc" || fail "the client did not get the page: $(tail -n 10 "$lc")"
pass "the client fetches the web server's page through the network driver domain"
grep -q "web: serving on" "$lw" || fail "web: $(tail -n 10 "$lw")"
dumpe2fs -h "$img" 2>/dev/null | grep -q "Filesystem magic number" || fail "web's disk was not formatted"
pass "the web server's disk was formatted through the storage driver domain"
bh down "$A" || fail "bh down"
for d in storage net web client; do bh domid $d >/dev/null 2>&1 && fail "$d still up"; done
pass "bh down"
rm -f "$img"

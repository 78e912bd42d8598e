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
# The host, through the network driver domain's uplink (examples/appliance/net.cfg).
fetch() { curl -s -m 2 http://10.0.0.1/ | grep -q "hello from Bulkhead"; }
for _ in $(seq 50); do fetch && break; sleep 0.2; done
fetch || fail "the host cannot fetch the page over the uplink: $(ip -br addr | grep bhup)"
pass "the host fetches the page through the uplink"
# The network driver domain crashes: restarted in place, the web server's
# eth0 reconnects and the host gets the page again, over a new uplink.
gen=$(bh list -l net | sed -n 's/.*"generation": \([0-9]*\).*/\1/p')
bh inject net crash || fail "bh inject net crash"
for _ in $(seq 100); do
  g=$(bh list -l net | sed -n 's/.*"generation": \([0-9]*\).*/\1/p')
  [ "${g:-0}" -gt "${gen:-0}" ] && break; sleep 0.1; done
[ "${g:-0}" -gt "${gen:-0}" ] || fail "net was not restarted: $(bh list)"
for _ in $(seq 100); do fetch && break; sleep 0.2; done
fetch || fail "no page after net's restart: $(tail -n 5 "$lw")"
grep -q "eth0: reconnected" "$BULKHEAD_RUNDIR/logs/web.log" ||
  fail "web's kernel did not report the reconnection: $(tail -n 5 "$BULKHEAD_RUNDIR/logs/web.log")"
pass "after a crash of the network driver domain the host gets the page again"
bh down "$A" || fail "bh down"
for d in storage net web client; do bh domid $d >/dev/null 2>&1 && fail "$d still up"; done
pass "bh down"
rm -f "$img"

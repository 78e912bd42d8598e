#!/bin/sh
# The main job: installs what is missing, builds, boots a Bulkhead host on a
# private runtime directory (the core, the store stub domain, dom0 with the
# toolstack and the console daemon) and runs the example appliance layout
# (examples/appliance), showing it working with bh and Xen's own xenstore
# tools. Needs root. Usage: sudo scripts/demo.sh
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/deps.sh"
bh_need_root
bh_install_deps

build="$here/build"
cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)"

BH_BUILD_DIR="$build"
BH_SOURCE_DIR="$here"
export BH_BUILD_DIR BH_SOURCE_DIR
. "$here/tests/system.sh"
set +e
step() { printf '\n== %s\n' "$*"; }

# The appliance's disk lives below the core's default device directory.
mkdir -p /var/lib/bulkhead/appliance
[ -e /var/lib/bulkhead/appliance/web.img ] || truncate -s 64M /var/lib/bulkhead/appliance/web.img
step "booting: bulkhead-core, the store (domain 1), dom0 (domain 0)"
sys_start --device-dir /var/lib/bulkhead
bh info
step "the example appliance: the plan, then up (driver domains first)"
bh up -n "$here/examples/appliance"
bh up "$here/examples/appliance"
# The client prints the page it fetched ("hello from Bulkhead").
for _ in $(seq 150); do grep -q "hello from Bulkhead" "$BULKHEAD_RUNDIR/dom0/console/client.log" 2>/dev/null && break; sleep 0.2; done
bh list
step "the store, read with Xen's own client tools (XENSTORED_PATH)"
export XENSTORED_PATH="$BULKHEAD_RUNDIR/xenstored/socket"
w=$(bh domid web)
xenstore-ls "/local/domain/$w/device"
step "web's disk and network, as the toolstack sees them"
bh block-list web
bh network-list web
step "the consoles: web (httpd, its disk checked) and client (fetching the page)"
tail -n 6 "$BULKHEAD_RUNDIR/dom0/console/web.log"
tail -n 4 "$BULKHEAD_RUNDIR/dom0/console/client.log"
step "the host fetches the page itself, through the net driver domain's uplink (bhup<domid>, 10.0.0.254)"
ip -br addr | grep bhup
curl -s -m 3 http://10.0.0.1/
step "the watchdog: crash the network driver domain; it restarts in place, web's eth0 reconnects"
bh deps net
bh inject net crash
for _ in $(seq 50); do curl -s -m 1 http://10.0.0.1/ && break; sleep 0.2; done
bh list
grep "eth0: \(backend\|reconnected\)" "$BULKHEAD_RUNDIR/logs/web.log" | tail -n 2
step "reboot web: on_reboot=restart keeps its domid, a new generation, same disk"
bh reboot web
for _ in $(seq 100); do bh list -l web | grep -q '"generation": 1' && break; sleep 0.1; done
sleep 3
bh list -l web | grep -E '"(domid|generation|state)"'
tail -n 3 "$BULKHEAD_RUNDIR/dom0/console/web.log"
step "down: the layout stops in reverse order"
bh down "$here/examples/appliance"
bh list
step "the core's log (bh dmesg), last lines"
bh dmesg | tail -n 12
sys_stop

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

step "booting: bulkhead-core, the store (domain 1), dom0 (domain 0)"
sys_start
bh info
step "the example appliance: the plan, then up"
bh up -n "$here/examples/appliance"
bh up "$here/examples/appliance"
sleep 4
bh list
step "the store, read with Xen's own client tools (XENSTORED_PATH)"
export XENSTORED_PATH="$BULKHEAD_RUNDIR/xenstored/socket"
w=$(bh domid worker)
xenstore-ls "/local/domain/$w" | head -20
step "the worker's console log (bh console worker attaches; Ctrl-] detaches)"
cat "$BULKHEAD_RUNDIR/dom0/console/worker.log"
step "reboot the worker: on_reboot=restart keeps its domid, a new generation"
bh reboot worker
sleep 3
bh list -l worker | grep -E '"(domid|generation|state)"'
step "down: the layout stops in reverse order"
bh down "$here/examples/appliance"
bh list
step "the core's log (bh dmesg), last lines"
bh dmesg | tail -n 15
sys_stop

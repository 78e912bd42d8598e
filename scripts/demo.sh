#!/bin/sh
# The main job: installs what is missing, builds, starts the core on a
# private runtime directory and runs a demo domain in its sandbox, showing
# what the domain sees. Needs root. Usage: sudo scripts/demo.sh
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/deps.sh"
bh_need_root
bh_install_deps

build="$here/build"
cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)"

run=$(mktemp -d /tmp/bulkhead-demo.XXXXXX)
chmod 755 "$run"  # domains run as unprivileged users and must reach it
export BULKHEAD_RUNDIR="$run/run"
ctl="$build/bin/bulkhead-ctl"
"$build/bin/bulkhead-core" --rundir "$BULKHEAD_RUNDIR" --device-dir "$run" \
  >"$run/core.log" 2>&1 &
core=$!
cleanup() {
  kill "$core" 2>/dev/null || true
  wait "$core" 2>/dev/null || true
  rm -rf "$run"
}
trap cleanup EXIT INT TERM
for _ in $(seq 100); do [ -S "$BULKHEAD_RUNDIR/core.sock" ] && break; sleep 0.05; done

echo "== bulkhead-core is up"
"$ctl" info
echo
echo "== a demo guest domain: its own user, pid, mount, net, ipc and uts namespaces"
id=$("$ctl" create --name demo --memory 64 -- /bin/sh -c '
  echo "hello from $(hostname), pid $$, uid $(id -u) inside"
  echo "what it sees at /: $(ls / | tr "\n" " ")"
  echo "processes it sees: $(ls /proc | grep -c "^[0-9]")"
  echo "network interfaces: $(ls /proc/sys/net/ipv4/conf | grep -v all | grep -v default | tr "\n" " ")"
  echo "host files: $(cat /etc/shadow 2>&1 | head -1)"
  grep -E "^(NoNewPrivs|Seccomp):" /proc/self/status
  sleep 2')
echo "created domain $id"
"$ctl" list
"$ctl" wait "$id" 20 >/dev/null
echo
echo "== the domain's console log"
cat "$BULKHEAD_RUNDIR/logs/demo.log"
echo
echo "== after it ended"
"$ctl" list
"$ctl" destroy "$id"
echo
echo "== the core's log (bulkhead-ctl dmesg)"
"$ctl" dmesg

# Shell helpers for tests that boot a whole Bulkhead system: the core, the
# store stub domain and dom0 (toolstack + consoles), on a private runtime
# directory, so that tests run side by side. Source it; needs root.
#
#   . "$BH_SOURCE_DIR/tests/system.sh"
#   sys_start [CORE OPTIONS...]  # ($BH_CORE_OPTS too, e.g. "--nice 0")
#                        # sets RUN, BULKHEAD_RUNDIR, IMAGES, L (an empty layout
#                        # directory) and XENSTORED_PATH; bh is on PATH
#   bh create ...        # the real CLI
#   sys_stop             # also on exit
set -eu

BIN="${BH_BUILD_DIR:?}/bin"
LIBEXEC="${BH_BUILD_DIR}/libexec/bulkhead"
PATH="$BIN:$PATH"
export PATH

# HOLD_ON_FAIL=SECONDS keeps a failed host up that long (to attach a
# debugger to its domains) before it is torn down.
fail() {
  echo "FAIL: $*" >&2
  [ -n "${RUN:-}" ] && sys_dump >&2
  [ -n "${HOLD_ON_FAIL:-}" ] && sleep "$HOLD_ON_FAIL"
  exit 1
}
pass() { echo "ok: $*"; }

sys_dump() {
  echo "---- core log"; tail -n 60 "$RUN/core.log" 2>/dev/null || true
  for f in "$BULKHEAD_RUNDIR"/logs/*.log; do
    [ -f "$f" ] || continue; echo "---- $f"; tail -n 30 "$f"; done
}

sys_start() {
  [ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
  # An empty RUN would put the run directory at / and the core's at /run.
  RUN=$(mktemp -d "${TMPDIR:-/tmp}/bhsys.XXXXXX") && [ -d "$RUN" ] ||
    fail "cannot make a run directory under ${TMPDIR:-/tmp}"
  chmod 755 "$RUN"
  IMAGES="$RUN/images"
  mkdir -p "$IMAGES"
  chmod 755 "$IMAGES"
  BULKHEAD_RUNDIR="$RUN/run"
  XENSTORED_PATH="$BULKHEAD_RUNDIR/xenstored/socket" # for Xen's xenstore-* tools
  L="$RUN/layout"
  mkdir -p "$L"
  export BULKHEAD_RUNDIR RUN IMAGES XENSTORED_PATH
  "$BIN/bulkhead-core" --rundir "$BULKHEAD_RUNDIR" --instance "bhsys-$$" \
    --device-dir "$IMAGES" --uid-base $((300000 + ($$ % 500) * 1000)) \
    --xenstore bulkhead-xenstored --xenstore-arg=--socket --xenstore-arg=/run/xenstored/socket \
    --xenstore-arg=--domain-rings \
    --dom0 bulkhead-dom0 ${BH_CORE_OPTS:-} "$@" >"$RUN/core.log" 2>&1 &
  CORE_PID=$!
  trap sys_stop EXIT
  for _ in $(seq 200); do
    [ -S "$BULKHEAD_RUNDIR/dom0/api.sock" ] && bh list >/dev/null 2>&1 && return 0
    kill -0 "$CORE_PID" 2>/dev/null || fail "core exited during boot"
    sleep 0.05
  done
  fail "dom0 did not come up"
}

sys_stop() {
  trap - EXIT
  if [ -n "${CORE_PID:-}" ]; then
    kill "$CORE_PID" 2>/dev/null || true
    wait "$CORE_PID" 2>/dev/null || true
    CORE_PID=
  fi
  [ -n "${KEEP:-}" ] || rm -rf "$RUN"
}

# ctl ARGS...: bulkhead-ctl on this host's core
ctl() { bulkhead-ctl --rundir "$BULKHEAD_RUNDIR" "$@"; }

# dom_pid NAME: the process of domain NAME's current generation
dom_pid() { ctl list | awk -v n="$1" '$1 == n { print $7 }'; }

# pct LIST-FILE: p50 p90 p99 max of the numbers in it (one a line)
pct() {
  sort -n "$1" | awk '{ v[NR] = $1 } END { if (!NR) { print "- - - -"; exit }
    i50 = int(NR * 0.50 + 0.999); i90 = int(NR * 0.90 + 0.999); i99 = int(NR * 0.99 + 0.999)
    printf "%.1f %.1f %.1f %.1f\n", v[i50], v[i90], v[i99], v[NR] }'
}

# wait_for CMD... : retry for up to 10 s
wait_for() {
  for _ in $(seq 100); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}

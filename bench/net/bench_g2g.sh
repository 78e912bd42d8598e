#!/bin/sh
# bench_g2g: TCP throughput between two PV guests through a network driver
# domain (real domains, real grants through the core), against the same
# iperf3 over a veth pair between two network namespaces, in the same run,
# interleaved run by run.
#
#   Bulkhead: guest b iperf3 -> eth0 (netfront) -> TX ring -> netback in the
#             driver domain -> vif -> bridge -> vif -> RX ring -> netfront
#             -> guest a's eth0 -> iperf3 -s
#   veth:     iperf3 in namespace 2 -> veth pair -> iperf3 -s in namespace 1
#
# One stream, the receiver's rate. The driver domain has an uplink only so
# that the host can tell guest b when to start (nc); the data stays on the
# driver domain's bridge. Needs root, a Bulkhead build, iperf3.
#
#   sudo BUILD/bin/bench-net-g2g [runs] [seconds]       (made by CMake), or
#   sudo BH_SOURCE_DIR=$PWD BH_BUILD_DIR=$PWD/build-rel bench/net/bench_g2g.sh [runs] [seconds]
. "${BH_SOURCE_DIR:?}/tests/system.sh"
. "$BH_SOURCE_DIR/bench/net/lib.sh"
set +e
RUNS=${1:-5}
SECS=${2:-3}
HOST_IP=10.9.6.254
UP="bhupg$(($$ % 10000))"
NS1="bhg2g1-$$" NS2="bhg2g2-$$"
command -v iperf3 >/dev/null || fail "needs iperf3"

sys_start
iperf_ramdisk "$IMAGES/bench.cpio"
L="$RUN/layout"
mkdir -p "$L"
net_cfg "$L/net.cfg" "$HOST_IP" "$UP"
cat >"$L/a.cfg" <<CFG
name = "a"
memory = 256
ramdisk = "$IMAGES/bench.cpio"
vif = [ 'mac=00:16:3e:00:06:01,bridge=br0,backend=net' ]
cmdline = "ip=10.9.6.1::0.0.0.0:255.255.255.0::eth0:off -- iperf3 -s"
CFG
# b measures whenever the host connects to its port 7001 and prints
# iperf3's receiver line with a marker the command line does not contain.
cat >"$L/b.cfg" <<CFG
name = "b"
memory = 256
ramdisk = "$IMAGES/bench.cpio"
vif = [ 'mac=00:16:3e:00:06:02,bridge=br0,backend=net' ]
cmdline = "ip=10.9.6.2::0.0.0.0:255.255.255.0::eth0:off -- while true; do nc -l -p 7001 </dev/null; iperf3 -c 10.9.6.1 -t $SECS -f m | grep receiver | sed s/^/G2G-\$((6*7))/; done"
CFG
bh up "$L" || fail "bh up"
wait_for ping -c 1 -W 1 10.9.6.2 || fail "guest b is not reachable"
lb="$BULKHEAD_RUNDIR/dom0/console/b.log"

ip netns add "$NS1" && ip netns add "$NS2" || fail "ip netns"
cleanup_ns() { ip netns del "$NS1" 2>/dev/null; ip netns del "$NS2" 2>/dev/null; }
ip link add v1 netns "$NS1" type veth peer name v2 netns "$NS2" || { cleanup_ns; fail "veth"; }
ip -n "$NS1" addr add 10.9.5.1/24 dev v1 && ip -n "$NS2" addr add 10.9.5.2/24 dev v2
ip -n "$NS1" link set v1 up && ip -n "$NS2" link set v2 up
ip -n "$NS1" link set lo up && ip -n "$NS2" link set lo up
ip netns exec "$NS1" iperf3 -s -D -p 5201 -I "$RUN/iperf.pid" || { cleanup_ns; fail "iperf3 server in $NS1"; }
sleep 0.3

# CPU time (clock ticks) of the Bulkhead system's processes: the core's
# children (the domains, the driver domain, the store); the guests' own
# programs (iperf3) run in processes below them and are not counted.
sys_ticks() {
  t=0
  for p in $(pgrep -P "$CORE_PID"); do
    s=$(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null)
    t=$((t + ${s:-0}))
  done
  echo "$t"
}
mbits() { awk '{ for (i = 2; i <= NF; i++) if ($i == "Mbits/sec") { print int($(i - 1)); exit } }'; }
bulkhead() {
  n=$(grep -c "G2G-42" "$lb")
  t0=$(sys_ticks)
  busybox nc -w 2 10.9.6.2 7001 </dev/null
  for _ in $(seq $(((SECS + 15) * 10))); do
    [ "$(grep -c "G2G-42" "$lb")" -gt "$n" ] && break
    sleep 0.1
  done
  echo $(($(sys_ticks) - t0)) >"$RUN/ticks"
  grep "G2G-42" "$lb" | tail -n 1 | mbits
}
veth() { ip netns exec "$NS2" iperf3 -c 10.9.5.1 -t "$SECS" -f m 2>/dev/null | grep receiver | mbits; }

: >"$RUN/b"; : >"$RUN/v"
r=1
while [ $r -le "$RUNS" ]; do
  b=$(bulkhead) v=$(veth)
  # CPU seconds the system spent per GB moved (Mbit/s * s / 8000 = GB)
  c=$(awk -v t="$(cat "$RUN/ticks")" -v hz="$(getconf CLK_TCK)" -v b="${b:-0}" -v s="$SECS" \
    'BEGIN { if (b > 0) printf "%.2f", t / hz / (b * s / 8000) }')
  echo "run $r  bulkhead guest->guest ${b:-?}  veth ${v:-?}  Mbit/s  (system CPU ${c:-?} s/GB)"
  echo "${b:-0}" >>"$RUN/b"; echo "${v:-0}" >>"$RUN/v"; echo "${c:-0}" >>"$RUN/c"
  r=$((r + 1))
done
mb=$(median <"$RUN/b") mv=$(median <"$RUN/v") mc=$(median <"$RUN/c")
echo
echo "medians of $RUNS runs, $SECS s each, TCP one stream (iperf3, Mbit/s)"
printf "%-40s %8s\n" "Bulkhead guest -> guest (driver domain)" "$mb" "veth pair between namespaces" "$mv"
echo "Bulkhead system CPU per GB moved (domains + driver domain): $mc s"
awk -v b="$mb" -v v="$mv" 'BEGIN { printf "RESULT g2g_ratio %.2f (goal >= 0.7)\n", v ? b / v : 0 }'
kill "$(cat "$RUN/iperf.pid")" 2>/dev/null
cleanup_ns
bh down "$L" >/dev/null 2>&1

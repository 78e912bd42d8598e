#!/bin/sh
# bench_uplink: guest-to-host TCP throughput through a network driver
# domain's uplink, against what a user would otherwise pick for a
# sandbox's networking: pasta and slirp4netns (Debian's passt and
# slirp4netns), in the same run, interleaved run by run.
#
#   Bulkhead: guest iperf3 -> eth0 (netfront) -> ring -> netback in the
#             driver domain -> vif -> bridge -> uplink0 =veth= bhup (host)
#   pasta:    iperf3 in a pasta namespace -> the gateway address (pasta maps
#             it to the host)
#   slirp:    iperf3 in a namespace with slirp4netns (mtu 65520) -> 10.0.2.2
#
# The server is the same iperf3 on the host each time (one stream, the
# receiver's rate). The guest runs iperf3 from a ramdisk made of the
# default one plus iperf3 and its libraries. Needs root, a Bulkhead build.
#
#   sudo BUILD/bin/bench-net-uplink [runs] [seconds]     (made by CMake), or
#   sudo BH_SOURCE_DIR=$PWD BH_BUILD_DIR=$PWD/build-rel bench/net/bench_uplink.sh [runs] [seconds]
. "${BH_SOURCE_DIR:?}/tests/system.sh"
. "$BH_SOURCE_DIR/bench/net/lib.sh"
set +e
RUNS=${1:-5}
SECS=${2:-3}
HOST_IP=10.9.8.254
UP="bhupb$(($$ % 10000))"
PORT=$((15300 + $$ % 500))
GW=$(ip route show default | awk '{ print $3; exit }')
command -v iperf3 pasta slirp4netns >/dev/null || fail "needs iperf3, passt (pasta), slirp4netns"
[ -n "$GW" ] || fail "pasta needs a default route on the host"

sys_start

# The guest's ramdisk: the default one and iperf3 with what it links.
iperf_ramdisk "$IMAGES/bench.cpio"

L="$RUN/layout"
mkdir -p "$L"
net_cfg "$L/net.cfg" "$HOST_IP" "$UP"
# The guest sends whenever the host connects to its port 7001.
cat >"$L/g.cfg" <<CFG
name = "g"
memory = 256
ramdisk = "$IMAGES/bench.cpio"
vif = [ 'mac=00:16:3e:00:08:0a,bridge=br0,backend=net' ]
cmdline = "ip=10.9.8.1::$HOST_IP:255.255.255.0::eth0:off -- while true; do nc -l -p 7001 </dev/null; iperf3 -c $HOST_IP -p $PORT -t $SECS >/dev/null; done"
CFG
bh up "$L" || fail "bh up"
wait_for ping -c 1 -W 1 10.9.8.1 || fail "the guest is not reachable"

# One measurement: start a one-shot server, run CMD..., print Mbit/s.
measure() {
  iperf3 -s -1 -p "$PORT" -J >"$RUN/s.json" 2>&1 &
  sp=$!
  sleep 0.3
  "$@" >/dev/null 2>&1
  wait "$sp"
  awk '/"sum_received"/ { r = 1 } r && /"bits_per_second"/ { gsub(/[,\t]/, ""); split($0, a, ":"); printf "%.0f\n", a[2] / 1e6; exit }' "$RUN/s.json"
}
bulkhead() { busybox nc -w 2 10.9.8.1 7001 </dev/null; }
pasta_run() { timeout -s KILL $((SECS + 20)) pasta --runas 0 --config-net -- iperf3 -c "$GW" -p "$PORT" -t "$SECS"; }
slirp_run() {
  rm -f "$RUN/ready" "$RUN/nspid" "$RUN/rfd"
  unshare -n sh -c "echo \$\$ >$RUN/nspid; while [ ! -e $RUN/ready ]; do sleep 0.05; done; iperf3 -c 10.0.2.2 -p $PORT -t $SECS" &
  up=$!
  while [ ! -s "$RUN/nspid" ]; do sleep 0.02; done
  slirp4netns --configure --mtu=65520 --ready-fd=3 "$(cat "$RUN/nspid")" tap0 3>"$RUN/rfd" >/dev/null 2>&1 &
  sl=$!
  for _ in $(seq 200); do [ -s "$RUN/rfd" ] && break; sleep 0.02; done
  touch "$RUN/ready"
  wait "$up"
  kill "$sl"
  wait "$sl" 2>/dev/null
}

: >"$RUN/b" ; : >"$RUN/p" ; : >"$RUN/s"
r=1
while [ $r -le "$RUNS" ]; do
  b=$(measure bulkhead) p=$(measure pasta_run) s=$(measure slirp_run)
  echo "run $r  bulkhead uplink ${b:-?}  pasta ${p:-?}  slirp4netns ${s:-?}  Mbit/s"
  echo "${b:-0}" >>"$RUN/b"; echo "${p:-0}" >>"$RUN/p"; echo "${s:-0}" >>"$RUN/s"
  r=$((r + 1))
done
mb=$(median <"$RUN/b") mp=$(median <"$RUN/p") ms=$(median <"$RUN/s")
echo
echo "medians of $RUNS runs, $SECS s each, guest/namespace -> host TCP (iperf3, Mbit/s)"
printf "%-34s %8s\n" "Bulkhead (netfront/netback/uplink)" "$mb" "pasta" "$mp" "slirp4netns (mtu 65520)" "$ms"
awk -v b="$mb" -v p="$mp" -v s="$ms" 'BEGIN { printf "ratio Bulkhead/pasta %.2f, Bulkhead/slirp4netns %.2f\n", p ? b / p : 0, s ? b / s : 0 }'
bh down "$L" >/dev/null 2>&1

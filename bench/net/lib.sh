# Shared by the whole-system network benchmarks (bench_uplink.sh,
# bench_g2g.sh); sourced after tests/system.sh.

# iperf_ramdisk OUT: the default guest ramdisk plus iperf3 and the
# libraries it links, packed into OUT (a file of the device dir).
iperf_ramdisk() {
  rd="$RUN/rd"
  mkdir -p "$rd"
  (cd "$rd" && cpio -idm --quiet <"$LIBEXEC/bulkhead-ramdisk.cpio") || fail "unpacking the ramdisk"
  bin=$(command -v iperf3)
  cp -L "$bin" "$rd/bin/iperf3"
  ldd "$bin" | awk '/=>/ { print $3 } /^\t\// { print $1 }' | while read -r lib; do
    [ -f "$lib" ] || continue
    mkdir -p "$rd$(dirname "$lib")"
    cp -L "$lib" "$rd$lib"
  done
  (cd "$rd" && find . | cpio -o -H newc --quiet >"$1") || fail "packing the ramdisk"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# net_cfg FILE HOST_IP HOST_IFNAME: the network driver domain with an
# uplink on br0 (the host's end HOST_IFNAME with HOST_IP/24).
net_cfg() {
  cat >"$1" <<CFG
name = "net"
memory = 128
driver_domain = 1
uplink = "host_ip=$2/24, bridge=br0, host_ifname=$3"
CFG
}

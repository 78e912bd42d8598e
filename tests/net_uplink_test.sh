#!/bin/sh
# Guests reach the host through the network driver domain's uplink (issue
# 6): the layout gives the driver domain `uplink = "host_ip=..."`, the core
# makes a veth pair host <-> driver domain, the driver domain plugs its end
# into the guests' bridge. A guest pings the host's uplink address and
# fetches a file from an HTTP server on the host; the host pings the guest
# and reads from a server in the guest. Then the driver domain is killed:
# the watchdog restarts it in place, it gets a fresh uplink with the same
# name, plugged into its bridge again. Needs root.
. "${BH_SOURCE_DIR:?}/tests/system.sh"
set +e

HOST_IP=10.9.7.254
UP="bhupt$(($$ % 10000))"
PORT=$((18000 + $$ % 1000))
ip link show "$UP" >/dev/null 2>&1 && { echo "SKIP: $UP exists on this host"; exit 77; }

# The guest fetches from another address of the host (its LAN address, say)
# through its default route via the uplink, when the host has one.
OTHER=$(ip -4 -o addr show scope global | awk '{ sub("/.*", "", $4); print $4; exit }')
FETCH_IP=${OTHER:-$HOST_IP}

sys_start

# The host's server: busybox httpd on all addresses, a file only the host has.
WWW="$RUN/www"
mkdir -p "$WWW"
TOKEN="host-file-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
echo "$TOKEN" >"$WWW/hello.txt"
busybox httpd -f -p "$PORT" -h "$WWW" &
HTTPD=$!
stop_all() { kill "$HTTPD" 2>/dev/null; sys_stop; }
trap stop_all EXIT

cat >"$L/net.cfg" <<CFG
name = "net"
memory = 96
driver_domain = 1
on_crash = "restart"
restart_window = 1
uplink = "host_ip=$HOST_IP/24, bridge=br0, host_ifname=$UP"
CFG
cat >"$L/a.cfg" <<CFG
name = "a"
memory = 128
vif = [ 'mac=00:16:3e:00:07:0a,bridge=br0,backend=net,ip=10.9.7.1' ]
cmdline = "ip=10.9.7.1::$HOST_IP:255.255.255.0::eth0:off -- ping -c 3 $HOST_IP && echo PING-HOST-\$((40+2)); wget -q -O - http://$FETCH_IP:$PORT/hello.txt; echo FETCHED-\$((40+2)); while true; do echo from-guest-\$((6*7)) | nc -l -p 7000; done"
CFG

# A guest limited to 500 KB/s (vif rate=, credit-based in netback) sends
# 2.5 MiB to the host when the host knocks on its port 7001.
cat >"$L/r.cfg" <<CFG
name = "r"
memory = 96
vif = [ 'mac=00:16:3e:00:07:0b,bridge=br0,backend=net,rate=500KB/s' ]
cmdline = "ip=10.9.7.2::$HOST_IP:255.255.255.0::eth0:off -- nc -l -p 7001 </dev/null; dd if=/dev/zero bs=64k count=40 2>/dev/null | nc $HOST_IP $((PORT + 1)); echo SENT-\$((40+2)); sleep 1000"
CFG

bh up "$L" || fail "bh up"
la="$BULKHEAD_RUNDIR/dom0/console/a.log"
for _ in $(seq 300); do grep -q "FETCHED-42" "$la" 2>/dev/null && break; sleep 0.1; done

ip -o addr show dev "$UP" | grep -q "inet $HOST_IP/24" || fail "no $UP with $HOST_IP on the host: $(ip -o addr show dev "$UP" 2>&1)"
pass "the host end $UP has $HOST_IP/24"
grep -q "PING-HOST-42" "$la" || fail "the guest cannot ping the host: $(tail -n 15 "$la")"
pass "a guest pings the host through netback, the bridge and the uplink"
grep -q "$TOKEN" "$la" || fail "the guest did not fetch the host's file: $(tail -n 15 "$la")"
pass "a guest fetches a file from an HTTP server on the host (at $FETCH_IP, through its gateway $HOST_IP)"

ping -c 2 -W 3 10.9.7.1 >/dev/null || fail "the host cannot ping the guest"
got=
for _ in 1 2 3 4 5; do # the guest's server restarts between connections
  got=$(busybox nc -w 5 10.9.7.1 7000 </dev/null 2>/dev/null)
  [ -n "$got" ] && break
  sleep 0.5
done
[ "$got" = "from-guest-42" ] || fail "the host read '$got' from the guest's server"
pass "the host pings the guest and reads from a server in it"

# rate=500KB/s: 2.5 MiB must take 2621440 / 500000 = 5.24 s, within 10%.
# (busybox nc ends only when its input does: the file's size says when
# everything arrived.)
RATE_OUT="$RUN/rate.out"
(sleep 40 | busybox nc -l -p $((PORT + 1)) >"$RATE_OUT" 2>/dev/null) >/dev/null 2>&1 &
wait_for ping -c 1 -W 1 10.9.7.2 || fail "the rate-limited guest is not reachable"
sleep 0.3
busybox nc -w 3 10.9.7.2 7001 </dev/null
# Timed from the first bytes on, so that the knock, the guest's start and
# the connection do not count: (last size - first size) / elapsed.
size=0 s0= t0=
for _ in $(seq 1500); do
  size=$(stat -c %s "$RATE_OUT" 2>/dev/null || echo 0)
  if [ -z "$t0" ] && [ "$size" -gt 0 ]; then t0=$(date +%s%N) s0=$size; fi
  [ "$size" -ge 2621440 ] && break
  sleep 0.02
done
t1=$(date +%s%N)
[ "$size" -ge 2621440 ] || fail "rate: only $size of 2621440 bytes arrived: $(tail -n 5 "$BULKHEAD_RUNDIR/dom0/console/r.log")"
ms=$(((t1 - t0) / 1000000))
bps=$(((2621440 - s0) * 1000 / ms))
[ "$bps" -ge 450000 ] && [ "$bps" -le 550000 ] || fail "rate=500KB/s: measured $bps bytes/s ($((2621440 - s0)) bytes in $ms ms)"
pass "rate=500KB/s: a guest sends at $bps bytes/s, within 10% of 500000"

# A driver-domain crash: the restarted domain gets a fresh pair with the
# same name and address, and plugs its end into the bridge again. (The
# guest's netfront does not reconnect to a restarted network driver domain
# yet, docs/watchdog.md, so this checks the uplink itself, from both ends.)
idx1=$(cat "/sys/class/net/$UP/ifindex")
pid=$(dom_pid net)
[ -n "$pid" ] && [ "$pid" -gt 0 ] || fail "no pid for net: $(ctl list)"
kill -9 "$pid"
ok=
for _ in $(seq 200); do
  idx2=$(cat "/sys/class/net/$UP/ifindex" 2>/dev/null)
  pid2=$(dom_pid net)
  if [ -n "$idx2" ] && [ "$idx2" != "$idx1" ] && [ -n "$pid2" ] && [ "$pid2" != "$pid" ] &&
    nsenter -t "$pid2" -n ip -o link show uplink0 2>/dev/null | grep -q "master br0 state UP"; then
    ok=1; break
  fi
  sleep 0.1
done
[ -n "$ok" ] || fail "after a restart of the driver domain: no fresh uplink on br0 (ifindex $idx1 -> ${idx2:-none}; $(nsenter -t "$pid2" -n ip -o link show uplink0 2>&1))"
ip -o addr show dev "$UP" | grep -q "inet $HOST_IP/24" || fail "the new $UP has no address"
pass "a restarted driver domain gets a fresh uplink ($UP ifindex $idx1 -> $idx2), plugged into br0 again"

bh down "$L" || fail "bh down"
for _ in $(seq 50); do ip link show "$UP" >/dev/null 2>&1 || break; sleep 0.1; done
ip link show "$UP" >/dev/null 2>&1 && fail "$UP is still on the host after bh down"
pass "bh down removes the uplink from the host"

#!/bin/sh
# PV network end to end, as a user meets it: a network driver domain
# (netback in bulkhead-driverdom, a real bridge in its namespace) and two PV
# guests whose eth0 (the PV kernel's netfront) is configured from ip= on
# their kernel command line. The guests' own programs check the network:
# ping, and a TCP transfer whose checksum must match. Needs root.
. "${BH_SOURCE_DIR:?}/tests/system.sh"
set +e

sys_start
cat >"$L/net.cfg" <<CFG
name = "net"
memory = 96
driver_domain = 1
CFG
cat >"$L/a.cfg" <<CFG
name = "a"
memory = 128
vif = [ 'mac=00:16:3e:00:00:0a,bridge=br0,backend=net,ip=10.9.0.1' ]
cmdline = "ip=10.9.0.1::0.0.0.0:255.255.255.0::eth0:off -- ping -c 3 10.9.0.2 && echo PING-A-\$((40+2)); dd if=/dev/urandom of=/blob bs=64k count=64 2>/dev/null; md5sum /blob; nc -l -p 5000 < /blob; sleep 1000"
CFG
cat >"$L/b.cfg" <<CFG
name = "b"
memory = 128
vif = [ 'mac=00:16:3e:00:00:0b,bridge=br0,backend=net,ip=10.9.0.2' ]
cmdline = "ip=10.9.0.2::0.0.0.0:255.255.255.0::eth0:off -- ping -c 3 10.9.0.1 && echo PING-B-\$((40+2)); for i in \$(seq 10); do nc 10.9.0.1 5000 > /got && break; sleep 1; done; md5sum /got; sleep 1000"
CFG

cat >"$L/c.cfg" <<CFG
name = "c"
memory = 96
vif = [ 'mac=00:16:3e:00:00:0c,bridge=br0,backend=net,ip=10.9.0.3' ]
cmdline = "ip=10.9.0.3::0.0.0.0:255.255.255.0::eth0:off -- ip addr add 10.9.0.99/24 dev eth0; ping -c 3 -W 2 -I 10.9.0.99 10.9.0.1 || echo SPOOF-BLOCKED-\$((40+2)); ping -c 3 10.9.0.1 && echo OWN-OK-\$((40+2)); sleep 1000"
CFG

bh up "$L" || fail "bh up"
la="$BULKHEAD_RUNDIR/dom0/console/a.log"
lb="$BULKHEAD_RUNDIR/dom0/console/b.log"
for _ in $(seq 300); do grep -q "  /got" "$lb" 2>/dev/null && break; sleep 0.1; done
grep -q "PING-A-42" "$la" || fail "a cannot ping b: $(tail -n 15 "$la")"
grep -q "PING-B-42" "$lb" || fail "b cannot ping a: $(tail -n 15 "$lb")"
pass "the guests ping each other through netback and a bridge"
grep -q "event channels tx [0-9]* rx [0-9]*" "$BULKHEAD_RUNDIR/logs/net.log" ||
  fail "the vifs did not use split event channels: $(grep "event channel" "$BULKHEAD_RUNDIR/logs/net.log")"
pass "netfront and netback use split event channels (TX and RX apart)"
sa=$(grep "  /blob" "$la" | tail -1 | awk '{print $3}')
sb=$(grep "  /got" "$lb" | tail -1 | awk '{print $3}')
[ -n "$sa" ] && [ "$sa" = "$sb" ] || fail "TCP transfer: sent $sa, got $sb: $(tail -n 5 "$lb")"
pass "a 4 MiB TCP transfer arrives with the right checksum"

lc="$BULKHEAD_RUNDIR/dom0/console/c.log"
for _ in $(seq 200); do grep -q "OWN-OK-42" "$lc" 2>/dev/null && break; sleep 0.1; done
grep -q "SPOOF-BLOCKED-42" "$lc" || fail "a guest with ip= could send from another address: $(tail -n 12 "$lc")"
grep -q "OWN-OK-42" "$lc" || fail "the guest's own address did not work: $(tail -n 12 "$lc")"
pass "ip= anti-spoofing: another source address is dropped, its own works"

bh network-list a | grep -q "00:16:3e:00:00:0a .* 4 *4 " || fail "network-list: $(bh network-list a)"
pass "bh network-list shows both ends Connected"
# A reboot: the same domid, so the same interface name in the same driver
# domain (vif<domid>.0), made again after the old one was let go. The core
# keeps a reference to every TAP it makes for a driver domain, so the
# driver domain must delete the interface itself when it lets it go.
n0=$(grep -c "OWN-OK-42" "$lc")
bh reboot c || fail "bh reboot c"
for _ in $(seq 300); do [ "$(grep -c "OWN-OK-42" "$lc")" -gt "$n0" ] && break; sleep 0.1; done
[ "$(grep -c "OWN-OK-42" "$lc")" -gt "$n0" ] ||
  fail "after a reboot, c's vif did not carry packets again: $(tail -n 12 "$lc"; grep "vif/dom$(bh domid c)" "$BULKHEAD_RUNDIR/logs/net.log" | tail -n 6)"
pass "a rebooted guest's vif is made again under its name and carries packets"
bh down "$L" || fail "bh down"

# The verifying writer the block-recovery tests run in a guest (sourced
# after system.sh). The guest writes numbered 4 KiB blocks ("block n\n"
# repeated) with dd conv=fsync, prints "ACK n" after each acknowledged one,
# stops when the host writes STOP into block STOP_BLK, reads everything
# back by checksum and prints "RESULT written=N bad=0|1". The host then
# checks every acknowledged block in the image itself.
#
# The workload lives on the guest's disk: the kernel command line would
# cap it at 32 words, and its echo on the console must not match what the
# host looks for.

# writer_put IMG SCRIPT_BLK STOP_BLK MAX [TAIL]: writes the workload (and
# TAIL, more guest shell run after RESULT) into IMG at block SCRIPT_BLK;
# sets WRITER_CMD, the command line that runs it.
writer_put() {
	w_img=$1 w_at=$2 w_stop=$3 w_max=$4
	{
		cat <<W
set -o pipefail
n=0
while [ \$n -lt $w_max ]; do
  dd if=/dev/xvda of=/tmp/s bs=4096 skip=$w_stop count=1 2>/tmp/e || { echo IOERR read stop; cat /tmp/e; break; }
  s=\$(head -c 4 /tmp/s)
  [ "\$s" = STOP ] && break
  yes "block \$n" | head -c 4096 >/tmp/b
  dd if=/tmp/b of=/dev/xvda bs=4096 seek=\$n conv=fsync 2>/tmp/e || { echo IOERR write \$n; cat /tmp/e; break; }
  echo ACK \$n
  n=\$((n+1))
done
W
		# Read back in 64 KiB reads (then the tail) and compare
		# checksums: tens of MiB do not fit twice in the guest's memory.
		cat <<'W'
exp=$(awk -v n=$n 'BEGIN { for (j = 0; j < n; j++) { s = "block " j "\n"
  while (length(s) < 4096) s = s s; printf "%s", substr(s, 1, 4096) } }' | md5sum)
: >/tmp/e
got=$( { dd if=/dev/xvda bs=65536 count=$((n / 16)) 2>>/tmp/e || echo IOERR >&2
         dd if=/dev/xvda bs=4096 skip=$((n / 16 * 16)) count=$((n % 16)) 2>>/tmp/e || echo IOERR >&2; } 2>/tmp/e2 | md5sum)
bad=0
[ "$got" = "$exp" ] || bad=1
grep -q IOERR /tmp/e2 && { echo IOERR read back; cat /tmp/e; }
echo RESULT written=$n bad=$bad
W
		printf '%s\n' "${5:-sleep 1000}"
	} >"$RUN/work.sh"
	w_size=$(wc -c <"$RUN/work.sh")
	dd if="$RUN/work.sh" of="$w_img" bs=4096 seek="$w_at" conv=notrunc 2>/dev/null || fail "writing the workload"
	WRITER_CMD="dd if=/dev/xvda bs=4096 skip=$w_at count=$(((w_size + 4095) / 4096)) 2>/dev/null | head -c $w_size | sh; sleep 1000"
}

# The guest's console log must be in $log.
acks() { c=$(grep -c "] ACK [0-9]" "$log" 2>/dev/null); echo "${c:-0}"; }
wait_acks() { # wait_acks N SECONDS: until more than N blocks are acknowledged
	end=$(($(date +%s) + $2))
	while [ "$(acks)" -le "$1" ]; do
		grep -q "IOERR\|RESULT" "$log" 2>/dev/null && return 1
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.02
	done
}

# writer_finish IMG STOP_BLK: stops the writer, checks its result and every
# acknowledged block in IMG; sets WRITTEN and ACKED.
writer_finish() {
	printf STOP | dd of="$1" bs=4096 seek="$2" conv=notrunc 2>/dev/null
	# The guest reads back and checks all it wrote (~110k blocks on a
	# fast host): up to 3 minutes.
	for _ in $(seq 1800); do grep -q "] RESULT written=[0-9]" "$log" && break; sleep 0.1; done
	grep -q "IOERR" "$log" && fail "the guest saw I/O errors: $(grep -A3 IOERR "$log" | head)"
	res=$(grep "] RESULT written=[0-9]" "$log" | tr -d '\r') ||
		fail "the guest did not finish: $(tail -n 20 "$log")"
	WRITTEN=$(echo "$res" | sed 's/.*written=\([0-9]*\).*/\1/')
	echo "$res" | grep -q " bad=0$" ||
		fail "the guest read back wrong blocks: $(grep -v "\] ACK" "$log" | tail -n 4)"
	ACKED=$(acks)
	[ "$ACKED" -ge 1 ] && [ "$ACKED" -le "$WRITTEN" ] || fail "$ACKED acks, $WRITTEN written"
	# The expected bytes in one awk run: forks per block would cost seconds.
	# (The line doubled up to a block: 9 joins a block, not ~340.)
	awk -v n="$ACKED" 'BEGIN { for (j = 0; j < n; j++) { s = "block " j "\n"
	  while (length(s) < 4096) s = s s; printf "%s", substr(s, 1, 4096) } }' >"$RUN/expected"
	head -c $((ACKED * 4096)) "$1" | cmp - "$RUN/expected" ||
		fail "an acknowledged block is not in the image with its content"
}

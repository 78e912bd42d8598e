#!/bin/sh
# Debian's real xenstore-utils (libxenstore 4.17) against bulkhead-xenstored:
# outputs and exit codes as on a Xen host, and permissions as seen from an
# unprivileged domain's socket.
set -u
DAEMON=${BH_BUILD_DIR}/libexec/bulkhead/bulkhead-xenstored
command -v xenstore-read >/dev/null || { echo "xenstore-utils missing (scripts/deps.sh)"; exit 1; }
T=$(mktemp -d)
fail=0
cleanup() { [ -f "$T/pid" ] && kill "$(cat "$T/pid")" 2>/dev/null; sleep 0.2; rm -rf "$T"; }
trap cleanup EXIT
"$DAEMON" --socket "$T/sock" --domain-socket "5:$T/sock5" --pidfile "$T/pid" --log "$T/log" &
for i in $(seq 50); do [ -S "$T/sock5" ] && [ -f "$T/pid" ] && break; sleep 0.1; done
export XENSTORED_PATH="$T/sock"

check() { # name expected actual
	if [ "$2" != "$3" ]; then
		echo "FAIL $1: expected [$2] got [$3]"
		fail=1
	else
		echo "ok $1"
	fi
}

xenstore-write /vm/a 1 /vm/b "two words"; check write-pairs 0 $?
check read "1" "$(xenstore-read /vm/a)"
check read-two "$(printf '1\ntwo words')" "$(xenstore-read /vm/a /vm/b)"
out=$(xenstore-read /vm/missing 2>&1); rc=$?
check read-missing-rc 1 $rc
check read-missing-msg "xenstore-read: couldn't read path /vm/missing" "$out"
xenstore-exists /vm/a; check exists 0 $?
xenstore-exists /vm/zz 2>/dev/null; check exists-missing 1 $?
check list "$(printf 'a\nb')" "$(xenstore-list /vm)"
xenstore-write /vm/sub/deep x
check ls "$(printf 'a = "1"\nb = "two words"\nsub = ""\n deep = "x"')" "$(xenstore-ls /vm)"
xenstore-chmod /vm/a n0 r5; check chmod 0 $?
line=$(xenstore-ls -p /vm | head -1) # padding depends on the terminal width
case "$line" in 'a = "1"  . '*'  (n0,r5)') r=ok ;; *) r="$line" ;; esac
check ls-perms ok "$r"
xenstore-rm /vm/sub; check rm 0 $?
xenstore-exists /vm/sub 2>/dev/null; check rm-gone 1 $?
xenstore-rm /vm/never; check rm-absent 0 $?
xenstore-rm /nothere/never 2>/dev/null; check rm-noparent 1 $?

# A directory too big for one reply: libxenstore falls back to DIRECTORY_PART.
for i in $(seq 1 300); do echo "/bigdir/child-number-$i x"; done | xargs -n 200 xenstore-write
check big-list 300 "$(xenstore-list /bigdir | wc -l)"
check big-list-last child-number-300 "$(xenstore-list /bigdir | tail -1)"

# Watches: token = path, one event at once, then the changes below it.
xenstore-watch -n 3 /vm/w > "$T/watch" &
wpid=$!
for i in $(seq 50); do [ -s "$T/watch" ] && break; sleep 0.1; done
xenstore-write /vm/w/x 1
xenstore-rm /vm/w
wait $wpid; check watch-rc 0 $?
check watch-out "$(printf '/vm/w\n/vm/w/x\n/vm/w')" "$(cat "$T/watch")"

# Domain 5's socket: permissions and quotas apply.
export XENSTORED_PATH="$T/sock5"
check dom5-read-granted "1" "$(xenstore-read /vm/a)"
xenstore-read /vm/b >/dev/null 2>&1; check dom5-read-denied 1 $?
xenstore-write /vm/a 2 2>/dev/null; check dom5-write-denied 1 $?
XENSTORED_PATH="$T/sock" xenstore-write /local/domain/5 ""
XENSTORED_PATH="$T/sock" xenstore-chmod /local/domain/5 n5
xenstore-write /local/domain/5/name guest; check dom5-write-home 0 $?
check dom5-relative "guest" "$(xenstore-read name)"
xenstore-chmod /local/domain/5/name n0 2>/dev/null; check dom5-give-away 1 $?
big=$(head -c 2100 /dev/zero | tr '\0' v)
xenstore-write /local/domain/5/big "$big" 2>/dev/null; check dom5-node-size-quota 1 $?
XENSTORED_PATH="$T/sock" xenstore-write /local/domain/5/big "$big"; check dom0-no-quota 0 $?

kill "$(cat "$T/pid")"
for i in $(seq 50); do [ -f "$T/pid" ] || break; sleep 0.1; done
[ -f "$T/pid" ] && { echo "FAIL daemon did not exit"; fail=1; }
exit $fail

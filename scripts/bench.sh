#!/bin/sh
# Builds a release build (build-bench/) and runs the benchmarks: every
# executable in build-bench/bin named bench-*, *-bench or *_bench, in name
# order, each with its own default runs (see bench/README.md). Needs root (the benchmarks start
# real cores). Output goes to the terminal and to build-bench/bench.log.
#
# Usage: sudo scripts/bench.sh [-l] [PATTERN...] [-- ARGS...]
#   -l        list the benchmarks found, run nothing
#   PATTERN   run only the benchmarks whose name contains PATTERN
#             (e.g. "core", "bench-core-evtchn", "xenstore")
#   -- ARGS   passed to every benchmark run (e.g. -- -r 3 for fewer runs)
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/deps.sh"

list=0
patterns=""
while [ $# -gt 0 ]; do
	case "$1" in
	-l) list=1 ;;
	-h | --help)
		sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	--)
		shift
		break
		;;
	*) patterns="$patterns $1" ;;
	esac
	shift
done

if [ "$list" -eq 0 ]; then
	bh_need_root
	# pasta and slirp4netns: the baselines of bench-net-uplink
	BH_EXTRA_DEPS="passt slirp4netns" bh_install_deps
fi
build="$here/build-bench"
cmake -S "$here" -B "$build" -G Ninja -DBH_SANITIZE=OFF -DCMAKE_BUILD_TYPE=Release >/dev/null
if [ "$list" -eq 1 ]; then
	cmake --build "$build" -j "$(nproc)" >/dev/null
else
	cmake --build "$build" -j "$(nproc)"
fi

selected() {
	[ -z "$patterns" ] && return 0
	for p in $patterns; do
		case "$1" in *"$p"*) return 0 ;; esac
	done
	return 1
}

found=0
failed=""
log="$build/bench.log"
[ "$list" -eq 1 ] || : >"$log"
for prog in "$build"/bin/*; do
	[ -x "$prog" ] && [ -f "$prog" ] || continue
	name=$(basename "$prog")
	case "$name" in
	bench-* | *-bench | *_bench) ;;
	*) continue ;;
	esac
	selected "$name" || continue
	found=$((found + 1))
	if [ "$list" -eq 1 ]; then
		echo "$name"
		continue
	fi
	echo "== $name $*" | tee -a "$log"
	if ! "$prog" "$@" 2>&1 | tee -a "$log"; then
		failed="$failed $name"
	fi
done
if [ "$found" -eq 0 ]; then
	echo "bench.sh: no benchmark matches:$patterns" >&2
	exit 1
fi
if [ "$list" -eq 0 ]; then
	echo "== summary (also in $log)"
	grep '^RESULT ' "$log" || true
fi
if [ -n "$failed" ]; then
	echo "bench.sh: failed:$failed" >&2
	exit 1
fi

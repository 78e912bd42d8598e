#!/bin/sh
# One golden test of xlcfg-check.
#   golden.sh CHECK DIR CASE      DIR/CASE.cfg [+ CASE.args, one override a
#                                 line] against CASE.json (stdout; stderr must
#                                 equal CASE.warn or be empty) or CASE.err
#                                 (stderr, exit status 1)
#   golden.sh CHECK DIR -L NAME   DIR/layouts/NAME against NAME/expected.plan
#                                 or NAME/expected.err
# BH_GOLDEN_UPDATE=1 writes the expected files from the output instead.
set -eu
check=$1 dir=$2
shift 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ "$1" = -L ]; then
	cd "$dir/layouts"
	name=$2
	set +e
	"$check" -L "$name" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	set -e
	ok="$name/expected.plan" bad="$name/expected.err" warn="$name/expected.warn"
else
	cd "$dir"
	name=$1
	set --
	if [ -f "$name.args" ]; then
		while IFS= read -r line; do set -- "$@" "$line"; done <"$name.args"
	fi
	set +e
	"$check" "$name.cfg" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	set -e
	ok="$name.json" bad="$name.err" warn="$name.warn"
fi

if [ "${BH_GOLDEN_UPDATE:-}" = 1 ]; then
	if [ $rc = 0 ]; then
		cp "$tmp/out" "$ok"
		rm -f "$bad"
		if [ -s "$tmp/err" ]; then cp "$tmp/err" "$warn"; else rm -f "$warn"; fi
	else
		cp "$tmp/err" "$bad"
		rm -f "$ok" "$warn"
	fi
	exit 0
fi

fail() { echo "FAIL $name: $*"; exit 1; }
if [ -f "$ok" ]; then
	[ $rc = 0 ] || { cat "$tmp/err"; fail "exit status $rc, expected 0"; }
	diff -u "$ok" "$tmp/out" || fail "output differs from $ok"
	if [ -f "$warn" ]; then
		diff -u "$warn" "$tmp/err" || fail "diagnostics differ from $warn"
	else
		[ ! -s "$tmp/err" ] || { cat "$tmp/err"; fail "unexpected diagnostics"; }
	fi
elif [ -f "$bad" ]; then
	[ $rc = 1 ] || fail "exit status $rc, expected 1"
	diff -u "$bad" "$tmp/err" || fail "diagnostics differ from $bad"
	[ ! -s "$tmp/out" ] || fail "output on error"
else
	fail "no expected file ($ok or $bad)"
fi
echo "ok $name"

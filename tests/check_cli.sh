#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The usermm command's help and error exits: help and --help list every
# command and exit 0, COMMAND --help describes it, an unknown command or
# an unexpected argument exits 2 with a message on stderr, and demo runs.
set -eu
cd "$(dirname "$0")/.."
u=build/release/usermm
fail() { echo "FAIL: $*"; exit 1; }
expect_rc() {   # expect_rc RC ARGS...: run, check the exit code, keep stdout/stderr
	local want=$1; shift
	set +e; "$u" "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?; set -e
	[ "$rc" = "$want" ] || fail "usermm $* exited $rc, expected $want"
}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

for h in help --help -h; do
	expect_rc 0 $h
	for c in demo bench help; do grep -q "^  $c " "$tmp/out" || fail "usermm $h does not list $c"; done
done
for c in demo bench; do
	expect_rc 0 "$c" --help; grep -q "^usage: usermm $c" "$tmp/out" || fail "$c --help"
	expect_rc 0 help "$c"; grep -q "^usage: usermm $c" "$tmp/out" || fail "help $c"
	expect_rc 2 "$c" extra; grep -q "unexpected argument 'extra'" "$tmp/err" || fail "$c extra"
done
expect_rc 2 no-such-command; grep -q "unknown command 'no-such-command'" "$tmp/err" || fail "unknown"
expect_rc 2 help no-such-command
[ ! -s "$tmp/out" ] || fail "an error printed to stdout"
expect_rc 0 demo; grep -q "every expectation held" "$tmp/out" || fail "demo"
echo "usermm: help, per-command help, error exits and demo as documented"

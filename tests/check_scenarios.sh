#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `usermm run`: every example scenario passes (they verify their own
# patterns and expected errors); broken scripts fail with FILE:LINE and a
# non-zero exit.
set -eu
cd "$(dirname "$0")/.."
u=build/release/usermm
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

for f in examples/scenarios/*.umm; do
	"$u" run "$f" >"$tmp/out" 2>"$tmp/err" || { cat "$tmp/err"; fail "$f"; }
	echo "ok: $f"
done

bad() {         # bad NAME LINE MESSAGE-REGEX: the script in $tmp/NAME.umm must fail there
	set +e; "$u" run "$tmp/$1.umm" >/dev/null 2>"$tmp/err"; local rc=$?; set -e
	[ $rc -ne 0 ] || fail "$1: exit 0"
	grep -Eq "^$tmp/$1.umm:$2: $3" "$tmp/err" || fail "$1: stderr was: $(cat "$tmp/err")"
	echo "ok: $1 fails at line $2"
}
printf 'mm a\n# a comment\nfrobnicate x\n' > "$tmp/unknown.umm"
bad unknown 3 "unknown command 'frobnicate'"
printf 'mm a\nmap m 8K rw- private,anon\nwrite m 8K seed=1\nverify m 8K seed=2\n' > "$tmp/mismatch.umm"
bad mismatch 4 "verify: byte at"
printf 'mm a\nmap m 8K rw- private,anon\nexpect SIGSEGV verify m 8K fill=0\n' > "$tmp/expect.umm"
bad expect 3 "expected SIGSEGV, got success"
printf 'mm a\nmap m 8K rw- private,anon\nunmap m+1 4K\n' > "$tmp/errno.umm"
bad errno 3 "unmap: Invalid argument"
printf 'mm a\nmap m 8K rwz private,anon\n' > "$tmp/syntax.umm"
bad syntax 2 "bad protection 'rwz'"
printf 'verify nothing 1 fill=0\n' > "$tmp/noname.umm"
bad noname 1 "no address space"
set +e; "$u" run "$tmp/does-not-exist.umm" 2>/dev/null; rc=$?; set -e
[ $rc -ne 0 ] || fail "a missing script exits 0"
echo "ok: missing script"

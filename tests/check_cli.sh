#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The usermm command's help and error exits: help and --help list every
# command and exit 0, COMMAND --help (and help COMMAND) describes each
# command with its options, an unknown command or an unexpected argument
# exits 2 with a message on stderr and nothing on stdout, and demo runs
# every section: the prefault and remap sections with their counters, a
# capability not in the build skipped with one line.
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
commands="demo bench run replay help"

for h in help --help -h; do
	expect_rc 0 $h
	for c in $commands; do grep -q "^  $c " "$tmp/out" || fail "usermm $h does not list $c"; done
done
for c in $commands; do
	expect_rc 0 "$c" --help; grep -q "^usage: usermm $c" "$tmp/out" || fail "$c --help"
	cp "$tmp/out" "$tmp/help1"
	expect_rc 0 help "$c"; grep -q "^usage: usermm $c" "$tmp/out" || fail "help $c"
	cmp -s "$tmp/out" "$tmp/help1" || fail "help $c differs from $c --help"
done
# the options each command's help documents
for opt in --list --quick --json --json-file NAME; do
	expect_rc 0 bench --help; grep -q -- "$opt" "$tmp/out" || fail "bench --help does not mention $opt"
done
for opt in --phys --swap --swap-file --rmap --json TRACE; do
	expect_rc 0 replay --help; grep -q -- "$opt" "$tmp/out" || fail "replay --help does not mention $opt"
done
expect_rc 0 bench --quick --help; grep -q "^usage: usermm bench" "$tmp/out" || fail "--help after an option"

expect_rc 2 demo extra; grep -q "unexpected argument 'extra'" "$tmp/err" || fail "demo extra"
[ ! -s "$tmp/out" ] || fail "demo extra printed to stdout"
expect_rc 2 bench --extra; grep -q "unexpected argument '--extra'" "$tmp/err" || fail "bench --extra"
expect_rc 2 bench no_such_bench; grep -q "no benchmark 'no_such_bench'" "$tmp/err" || fail "bench name"
[ ! -s "$tmp/out" ] || fail "bench with a bad name printed to stdout"
expect_rc 2 run; grep -q "missing arguments" "$tmp/err" || fail "run without a script"
expect_rc 2 replay --bogus x; grep -q "unknown option" "$tmp/err" || fail "replay --bogus"
expect_rc 2 replay --swap 0 x; grep -q "bad --swap size" "$tmp/err" || fail "replay --swap 0"
expect_rc 2 replay --swap-file /tmp/x x; grep -q "needs --swap" "$tmp/err" || fail "replay --swap-file alone"
expect_rc 2 no-such-command; grep -q "unknown command 'no-such-command'" "$tmp/err" || fail "unknown"
expect_rc 2 help no-such-command
[ ! -s "$tmp/out" ] || fail "an error printed to stdout"
expect_rc 0 bench --list
for b in build/release/bench/bench_*; do
	grep -q "^  $(basename "$b") .*[a-z]" "$tmp/out" || fail "bench --list: no summary for $(basename "$b")"
done
grep -q "no description" "$tmp/out" && fail "a benchmark does not describe itself"

expect_rc 0 demo
grep -q "every expectation held" "$tmp/out" || fail "demo"
grep -q UNEXPECTED "$tmp/out" && fail "demo: an expectation failed"
grep -q "^[0-9]*\. prefaulting" "$tmp/out" || fail "demo: no prefault section"
grep -q "reading all 64 pages: 0 faults" "$tmp/out" || fail "demo: populated reads faulted"
grep -q "reads of 4 prepaged pages and 1 other: 1 fault$" "$tmp/out" || fail "demo: prepage counters"
grep -q "^[0-9]*\. a nonlinear window" "$tmp/out" || fail "demo: no remap section"
grep -q "window pages 0-3 now show object rows 63 53 43 33" "$tmp/out" || fail "demo: remap rows"
grep -q "read every page back: 0 wrong" "$tmp/out" || fail "demo: reclaim and swap lost a page"
# every section prints something under its heading (a skipped one: one line saying so)
n=$(grep -c "^[0-9]*\. " "$tmp/out")
[ "$n" -ge 14 ] || fail "demo: $n sections"
awk '/^[0-9]+\. / { head = $0; getline; if ($0 == "") { print "empty: " head; bad = 1 } }
	/^  skipped/ && $0 != "  skipped: not in this build" { print "odd skip: " $0; bad = 1 }
	END { exit bad }' "$tmp/out" || fail "demo: a section printed nothing"
echo "usermm: help, per-command help, error exits, bench --list and demo as documented"

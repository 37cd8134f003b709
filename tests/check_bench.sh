#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The benchmark runner (`usermm bench`) against stand-in benchmarks built
# from bench/bench.h's result-line functions: it runs them in name order,
# passes their output through, turns their result lines into one markdown
# table row each (usermm, kernel, ratio, caveat; n/a kept for different
# work, '-' where there is no kernel figure, '|' escaped), attaches a caveat
# line only to the result line just above it, reports a failing benchmark
# with exit 1, and rejects unknown arguments and names with exit 2 before
# running anything.  Takes no timings.
set -eu
cd "$(dirname "$0")/.."
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cc=${CC:-cc}

mkdir "$tmp/bench"
cp build/release/usermm "$tmp/usermm"
cat >"$tmp/good.c" <<'EOF'
#include "bench.h"
int main(void)
{
	printf("# a comment line\n");
	bench_report_caveat("same work (ns)", 10.0, 20.0, "same pages");
	bench_report_different("other work (ns)", 5.0, 500.0, "different work: a | b");
	bench_report("no caveat (ns)", 30.0, 15.0);
	bench_report("usermm only (ns)", 7.0, 0);
	bench_caveat("no kernel counterpart");
	return 0;
}
EOF
cat >"$tmp/bad.c" <<'EOF'
#include "bench.h"
int main(void)
{
	bench_report("before failing (ns)", 1.0, 2.0);
	return 3;
}
EOF
$cc -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude -Ibench "$tmp/good.c" -o "$tmp/bench/bench_good"
$cc -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude -Ibench "$tmp/bad.c" -o "$tmp/bench/bench_bad"

run() {   # run RC ARGS...: run the copied runner, check the exit code
	local want=$1; shift
	set +e; "$tmp/usermm" bench "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?; set -e
	[ "$rc" = "$want" ] || { cat "$tmp/out" "$tmp/err"; fail "usermm bench $* exited $rc, expected $want"; }
}
has() { grep -qxF -- "$1" "$tmp/out" || { cat "$tmp/out"; fail "no line: $1"; }; }

run 0 bench_good
has "## bench_good"
has "# a comment line"
has "| bench_good | usermm ns | kernel ns | ratio | caveat |"
has "| same work (ns) | 10.0 | 20.0 | 0.50 | same pages |"
has "| other work (ns) | 5.0 | 500.0 | n/a | different work: a \| b |"
has "| no caveat (ns) | 30.0 | 15.0 | 2.00 |  |"
has "| usermm only (ns) | 7.0 | - | - | no kernel counterpart |"
[ "$(grep -c '^| ' "$tmp/out")" = 5 ] || fail "expected a header and 4 rows"
grep -q bench_bad "$tmp/out" && fail "bench_bad ran though only bench_good was named"

run 1
[ "$(grep "^## " "$tmp/out" | tr "\n" " ")" = "## bench_bad ## bench_good " ] || fail "not in name order"
grep -q "^# bench_bad failed" "$tmp/out" || fail "failing benchmark not reported"
has "| same work (ns) | 10.0 | 20.0 | 0.50 | same pages |"

run 2 extra
grep -q "unexpected argument 'extra'" "$tmp/err" || fail "extra"
run 2 bench_good bench_missing
grep -q "no benchmark 'bench_missing'" "$tmp/err" || fail "missing name"
[ ! -s "$tmp/out" ] || fail "ran benchmarks despite a bad name"
echo "usermm bench: tables, caveats, order, failures and bad arguments as documented"

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The benchmark runner (`usermm bench`) against stand-in benchmarks built
# from bench/bench.h's result-line functions: it runs them in name order,
# passes their output through, turns their result lines into one markdown
# table row each (usermm, kernel, ratio, caveat; n/a kept for different
# work, '-' where there is no kernel figure, '|' escaped), attaches a caveat
# line only to the result line just above it, reports a failing benchmark
# with exit 1, and rejects unknown arguments and names with exit 2 before
# running anything; --list prints each one's summary, --quick reaches the
# benchmark, --json gives one object per result line with the fields and
# extras, --json-file writes them beside the tables.  Then the real
# benchmarks: `usermm bench --quick --json` runs every one, and every line
# must parse as JSON (python3; without it an awk check of the shape) and
# carry the fields.  Checks formats only, never speed.
set -eu
cd "$(dirname "$0")/.."
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cc=${CC:-cc}

mkdir "$tmp/bench"
cp build/release/usermm "$tmp/usermm"
cat >"$tmp/good.c" <<'EOF'
#include "bench.h"
int main(int argc, char **argv)
{
	bench_init(argc, argv, "a stand-in that \"measures\" nothing");
	printf("# a comment line\n");
	bench_report_caveat("same work (ns)", 10.0, 20.0, "same pages");
	bench_kernel_variant("mmap MAP_POPULATE");
	bench_extra("vmas", 3);
	bench_report_different("other work (ns)", 5.0, 500.0, "different work: a | b");
	bench_report("no caveat (ns)", 30.0, 15.0);
	bench_extra("cpus_busy", 1.5);
	bench_report("usermm only (ns)", 7.0, 0);
	bench_caveat("no kernel counterpart");
	bench_report_unit(BENCH_SIZE("in ms", "in ms, quick"), "ms", 2.0, 4.0, 1);
	return 0;
}
EOF
cat >"$tmp/bad.c" <<'EOF'
#include "bench.h"
int main(int argc, char **argv)
{
	bench_init(argc, argv, "fails");
	bench_report("before failing (ns)", 1.0, 2.0);
	return 3;
}
EOF
$cc -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude -Ibench "$tmp/good.c" -o "$tmp/good"
cp "$tmp/good" "$tmp/bench/bench_good"
$cc -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude -Ibench "$tmp/bad.c" -o "$tmp/bench/bench_bad"
cat >"$tmp/ns.c" <<'EOF'
#include "bench.h"
int main(int argc, char **argv)
{
	bench_init(argc, argv, "one unit");
	bench_report("one (ns)", 1.0, 4.0);
	return 0;
}
EOF
$cc -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -Iinclude -Ibench "$tmp/ns.c" -o "$tmp/bench/bench_ns"

run() {   # run RC ARGS...: run the copied runner, check the exit code
	local want=$1; shift
	set +e; "$tmp/usermm" bench "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?; set -e
	[ "$rc" = "$want" ] || { cat "$tmp/out" "$tmp/err"; fail "usermm bench $* exited $rc, expected $want"; }
}
has() { grep -qxF -- "$1" "$tmp/out" || { cat "$tmp/out"; fail "no line: $1"; }; }

run 0 bench_good
has "## bench_good"
has "# a comment line"
has "| bench_good | usermm | kernel | unit | ratio | caveat |"
has "| same work (ns) | 10.0 | 20.0 | ns | 0.50 | same pages |"
has "| other work (ns) | 5.0 | 500.0 | ns | n/a | different work: a \| b |"
has "| no caveat (ns) | 30.0 | 15.0 | ns | 2.00 |  |"
has "| usermm only (ns) | 7.0 | - | ns | - | no kernel counterpart |"
has "| in ms | 2.0 | 4.0 | ms | 0.50 |  |"
[ "$(grep -c '^| ' "$tmp/out")" = 6 ] || fail "expected a header and 5 rows"
grep -q "^# quick run" "$tmp/out" && fail "quick without --quick"
grep -q bench_bad "$tmp/out" && fail "bench_bad ran though only bench_good was named"

run 1
[ "$(grep "^## " "$tmp/out" | tr "\n" " ")" = "## bench_bad ## bench_good ## bench_ns " ] || fail "not in name order"
has "| bench_ns | usermm ns | kernel ns | ratio | caveat |"
has "| one (ns) | 1.0 | 4.0 | 0.25 |  |"
grep -q "^# bench_bad failed" "$tmp/out" || fail "failing benchmark not reported"
has "| same work (ns) | 10.0 | 20.0 | ns | 0.50 | same pages |"

run 2 extra
grep -q "no benchmark 'extra'" "$tmp/err" || fail "extra"
run 2 bench_good bench_missing
grep -q "no benchmark 'bench_missing'" "$tmp/err" || fail "missing name"
[ ! -s "$tmp/out" ] || fail "ran benchmarks despite a bad name"
run 0 good --quick
has "| in ms, quick | 2.0 | 4.0 | ms | 0.50 |  |"
grep -q "^# quick run" "$tmp/out" || fail "--quick did not reach the benchmark"

cat >"$tmp/old.c" <<'EOF'
#include <stdio.h>
int main(void)
{
	printf("old (ns) usermm 1.0 ns\n");
	return 0;
}
EOF
$cc -std=gnu11 -Wall -Wextra -Werror "$tmp/old.c" -o "$tmp/old"
cp "$tmp/old" "$tmp/bench/bench_old"
run 1 --quick old
grep -q "bench_old does not honour --quick" "$tmp/err" || fail "a benchmark without bench_init passed --quick"
run 0 --list
grep -q "^  bench_old *(no description" "$tmp/out" || fail "--list: a benchmark without bench_init"
rm "$tmp/bench/bench_old"
run 0 --list
has "  bench_bad        fails"
has '  bench_good       a stand-in that "measures" nothing'
has "  bench_ns         one unit"
run 2 --list good
run 2 --json --json-file "$tmp/x.json"
run 2 --bogus
grep -q "unexpected argument '--bogus'" "$tmp/err" || fail "--bogus"

# json_check FILE KEYS...: every line a JSON object with these keys (python3,
# or, without it, an awk check of the shape: braces, quoted keys).
json_check() {
	local f=$1; shift
	if command -v python3 >/dev/null; then
		python3 - "$f" "$@" <<'PY' || fail "JSON lines of $f"
import json, sys
path, keys = sys.argv[1], sys.argv[2:]
n = 0
for i, line in enumerate(open(path), 1):
    o = json.loads(line)
    assert isinstance(o, dict), f"line {i}: not an object"
    missing = [k for k in keys if k not in o]
    assert not missing, f"line {i}: no {missing}: {line}"
    assert isinstance(o["usermm"], (int, float)), f"line {i}: usermm not a number"
    assert o["kernel"] is None or isinstance(o["kernel"], (int, float)), f"line {i}: kernel"
    assert o["ratio"] is None or isinstance(o["ratio"], (int, float)), f"line {i}: ratio"
    n += 1
assert n, "no lines"
PY
	else
		echo "(no python3: checking the shape of the JSON lines with awk)"
		awk -v keys="$*" 'BEGIN { nk = split(keys, k, " ") }
			!/^\{.*\}$/ { print "line " NR ": not an object"; bad = 1 }
			{ for (i = 1; i <= nk; i++) if (index($0, "\"" k[i] "\":") == 0) {
				print "line " NR ": no " k[i]; bad = 1 } }
			END { exit bad || NR == 0 }' "$f" || fail "JSON lines of $f"
	fi
}
fields="bench name unit usermm kernel kernel_variant ratio same_work caveat quick"

run 0 --json bench_good
json_check "$tmp/out" $fields
[ "$(wc -l <"$tmp/out")" = 5 ] || fail "--json: expected 5 lines"
grep -q '^## ' "$tmp/out" && fail "--json printed more than JSON"
has '{"bench":"bench_good","name":"same work (ns)","unit":"ns","usermm":10,"kernel":20,"kernel_variant":"mmap MAP_POPULATE","ratio":0.5,"same_work":true,"caveat":"same pages","quick":false,"vmas":3}'
has '{"bench":"bench_good","name":"other work (ns)","unit":"ns","usermm":5,"kernel":500,"kernel_variant":"linux","ratio":null,"same_work":false,"caveat":"different work: a | b","quick":false}'
has '{"bench":"bench_good","name":"no caveat (ns)","unit":"ns","usermm":30,"kernel":15,"kernel_variant":"linux","ratio":2,"same_work":true,"caveat":null,"quick":false,"cpus_busy":1.5}'
has '{"bench":"bench_good","name":"usermm only (ns)","unit":"ns","usermm":7,"kernel":null,"kernel_variant":null,"ratio":null,"same_work":true,"caveat":"no kernel counterpart","quick":false}'
has '{"bench":"bench_good","name":"in ms","unit":"ms","usermm":2,"kernel":4,"kernel_variant":"linux","ratio":0.5,"same_work":true,"caveat":null,"quick":false}'
run 1 --json
json_check "$tmp/out" $fields
grep -q "bench_bad failed" "$tmp/err" || fail "--json: failing benchmark not reported on stderr"
run 0 --json-file "$tmp/both.json" --quick good
has "| in ms, quick | 2.0 | 4.0 | ms | 0.50 |  |"
json_check "$tmp/both.json" $fields
grep -q '"quick":true' "$tmp/both.json" || fail "--json-file --quick: quick not true"
echo "usermm bench: tables, caveats, extras, order, --list, --quick, --json, failures and bad arguments as documented"

# The report (tools/bench_report.sh, what `make bench-report` runs) with the
# stand-ins: it fills only the marked section, again on a second run, with
# the machine, the tables, and a chart or the line saying there is none.
printf '%s\n' "# Title" "hand-written before" "<!-- bench-report:begin -->" "old generated text" \
	"<!-- bench-report:end -->" "hand-written after" > "$tmp/doc.md"
for pass in 1 2; do
	set +e; tools/bench_report.sh "$tmp/usermm" "$tmp/doc.md" "$tmp/charts" good ns >"$tmp/out" 2>"$tmp/err"; rc=$?; set -e
	[ "$rc" = 0 ] || { cat "$tmp/err"; fail "bench_report.sh exited $rc (pass $pass)"; }
	[ "$(grep -c "bench-report:begin" "$tmp/doc.md")" = 1 ] || fail "report: markers not kept (pass $pass)"
	[ "$(head -n 2 "$tmp/doc.md")" = "$(printf '# Title\nhand-written before')" ] || fail "report: text before changed"
	[ "$(tail -n 1 "$tmp/doc.md")" = "hand-written after" ] || fail "report: text after changed"
	grep -q "old generated text" "$tmp/doc.md" && fail "report: old section kept"
	for row in "| CPU |" "| cores (online) |" "| kernel | Linux" "| virtual machine |" "### bench_good" "### bench_ns" \
		   "| same work (ns) | 10.0 | 20.0 | ns | 0.50 | same pages |" "| one (ns) | 1.0 | 4.0 | 0.25 |  |"; do
		grep -qF -- "$row" "$tmp/doc.md" || { cat "$tmp/doc.md"; fail "report: no '$row'"; }
	done
	if command -v gnuplot >/dev/null; then
		grep -qF "![bench_good: usermm against the kernel](charts/bench_good.svg)" "$tmp/doc.md" || fail "report: no chart link"
		grep -q "<svg" "$tmp/charts/bench_good.svg" || fail "report: chart is not an SVG"
	else
		grep -q "^No charts: gnuplot is not installed" "$tmp/doc.md" || fail "report: no line about the missing charts"
	fi
	[ -s "$tmp/charts/last-run.jsonl" ] || fail "report: run's JSON not kept"
done
# Remade from the kept run: the same section, nothing run.
cp "$tmp/doc.md" "$tmp/doc1.md"
rm "$tmp/bench/bench_good"
BENCH_REPORT_REUSE=1 tools/bench_report.sh "$tmp/usermm" "$tmp/doc.md" "$tmp/charts" >/dev/null 2>"$tmp/err" ||
	{ cat "$tmp/err"; fail "BENCH_REPORT_REUSE=1 failed"; }
cmp -s "$tmp/doc.md" "$tmp/doc1.md" || { diff "$tmp/doc1.md" "$tmp/doc.md"; fail "the remade section differs"; }
cp "$tmp/good" "$tmp/bench/bench_good"
echo "bench_report.sh: fills the marked section only, repeatably, with machine, tables and charts"

# The real benchmarks, quick: each one runs and yields well-formed lines
# (--json-file: the JSON lines, and the text beside them), or says on a
# "# bench_X: skipped: why" line that what it measures is not here.
set +e; build/release/usermm bench --quick --json-file "$tmp/real.json" >"$tmp/real.txt" 2>"$tmp/real.err"; rc=$?; set -e
[ "$rc" = 0 ] || { cat "$tmp/real.err"; fail "usermm bench --quick --json-file exited $rc"; }
json_check "$tmp/real.json" $fields
for b in build/release/bench/bench_*; do
	grep -q "\"bench\":\"$(basename "$b")\"" "$tmp/real.json" && continue
	grep "^# $(basename "$b"): skipped: " "$tmp/real.txt" || fail "$(basename "$b") gave no result line"
done
grep -q '"quick":false' "$tmp/real.json" && fail "a quick run's line says quick false"
echo "usermm bench --quick --json: $(wc -l <"$tmp/real.json") lines from $(ls build/release/bench | wc -l) benchmarks, all with the fields"

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `usermm replay`: the shipped lackey trace replays with its expected
# counts (tests/traces/walk.expected); a plain-format trace with two
# address spaces gives the counts worked out by hand; bad lines and bad
# arguments fail.
set -eu
cd "$(dirname "$0")/.."
u=build/release/usermm
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

"$u" replay --json tests/traces/walk.lackey > "$tmp/walk.json"
while read -r k v; do
	got=$(field "$tmp/walk.json" "$k")
	[ "$got" = "$v" ] || fail "walk.lackey: $k is $got, expected $v"
done < tests/traces/walk.expected
echo "ok: walk.lackey replays with the expected counts"

# Plain format.  asid 0: reads a page (zero page: 1 minor fault), writes it
# (COW from the zero page: 1 minor, 1 cow), writes a second page in another
# chunk (1 minor); asid 1: one write (1 minor).  3 chunks, 3 resident pages.
cat > "$tmp/plain.trace" <<'T'
# comment
R 0x10000000 8
W 0x10000008 8 0
W 20000000 4096 0

W 0x10000000 1 1
T
"$u" replay --json "$tmp/plain.trace" > "$tmp/plain.json"
for kv in accesses=4 reads=1 writes=3 address_spaces=2 chunks_mapped=3 minor_faults=4 \
	  cow_faults=1 major_faults=0 resident_pages=3; do
	got=$(field "$tmp/plain.json" "${kv%%=*}")
	[ "$got" = "${kv#*=}" ] || fail "plain trace: ${kv%%=*} is $got, expected ${kv#*=}"
done
echo "ok: plain trace"

# The system options reach the system and the report.
"$u" replay --json --phys 8M --rmap pte-chain "$tmp/plain.trace" > "$tmp/opts.json"
[ "$(field "$tmp/opts.json" phys_bytes)" = 8388608 ] || fail "--phys 8M not in the report"
[ "$(field "$tmp/opts.json" rmap)" = pte-chain ] || fail "--rmap pte-chain not in the report"
[ "$(field "$tmp/opts.json" swap_bytes)" = 0 ] || fail "swap without --swap"
# --swap: a build with swap replays with it; one without says so and exits 1.
set +e; "$u" replay --json --swap 16M "$tmp/plain.trace" >"$tmp/swap.json" 2>"$tmp/err"; rc=$?; set -e
if [ $rc = 0 ]; then
	[ "$(field "$tmp/swap.json" swap_bytes)" = 16777216 ] || fail "--swap 16M not in the report"
else
	[ $rc = 1 ] && grep -q "this build of usermm has no swap" "$tmp/err" || fail "--swap: rc $rc, $(cat "$tmp/err")"
fi
echo "ok: --phys, --rmap and --swap"

# The progress bar: drawn (forced, stderr is a file here) once 4096 accesses
# are done and erased at the end; not drawn without --progress.
awk 'BEGIN { for (i = 0; i < 5000; i++) printf "R %x\n", 268435456 + i * 8 }' > "$tmp/long.trace"
"$u" replay --progress "$tmp/long.trace" >/dev/null 2>"$tmp/err"
grep -q '\[#*\.*\] *[0-9]*%  4096 accesses' "$tmp/err" || fail "--progress: no bar: $(cat -v "$tmp/err")"
grep -q "$(printf '\r\033\\[K')" "$tmp/err" || fail "--progress: bar not erased"
"$u" replay "$tmp/long.trace" >/dev/null 2>"$tmp/err"
[ ! -s "$tmp/err" ] || fail "a bar without a terminal or --progress: $(cat -v "$tmp/err")"
echo "ok: progress bar"

printf 'R 0x10000000\nX 0x1\n' > "$tmp/bad.trace"
set +e; "$u" replay "$tmp/bad.trace" >/dev/null 2>"$tmp/err"; rc=$?; set -e
[ $rc = 1 ] && grep -q "bad.trace:2: not a trace line" "$tmp/err" || fail "bad line: rc $rc, $(cat "$tmp/err")"
printf 'R 0x10000000 8 99\n' > "$tmp/asid.trace"
set +e; "$u" replay "$tmp/asid.trace" >/dev/null 2>&1; rc=$?; set -e
[ $rc = 1 ] || fail "asid out of range: rc $rc"
set +e; "$u" replay --phys bogus "$tmp/plain.trace" >/dev/null 2>&1; rc=$?; set -e
[ $rc = 2 ] || fail "bad --phys: rc $rc"
set +e; "$u" replay >/dev/null 2>&1; rc=$?; set -e
[ $rc = 2 ] || fail "no trace: rc $rc"
echo "ok: bad traces and arguments"

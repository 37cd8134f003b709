#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run every test binary of the given build variants; print one line per
# test and a closing "N passed, N failed" line (", N skipped" follows when a
# check script exited 77: something it needs is missing, it said what).
# Exit 1 on any failure.
set -u
cd "$(dirname "$0")/.."
pass=0; fail=0; skip=0; failed=(); failedlog=(); skipped=()
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
# Every test runs once per reverse-map scheme: UMM_RMAP sets the scheme of
# systems created with the default (cfg.rmap 0).  test_model picks the
# scheme itself, alternating by seed, so it runs in the first pass only.
for v in "$@"; do
	for rmap in pte-chain object; do
		for t in build/$v/tests/test_*; do
			[ -x "$t" ] || continue
			[ $rmap = object ] && [ "$(basename "$t")" = test_model ] && continue
			name="$v/$(basename "$t")"
			log="build/$v/tests/$(basename "$t").log"
			if [ $rmap = object ]; then name="$name (object rmap)"; log="build/$v/tests/$(basename "$t").object.log"; fi
			start=$EPOCHREALTIME
			if UMM_RMAP=$rmap timeout 300 "$t" >"$log" 2>&1; then
				pass=$((pass + 1)); st=ok
			else
				fail=$((fail + 1)); st=FAIL; failed+=("$name"); failedlog+=("$log")
			fi
			printf '%-40s %-4s %6.2fs\n' "$name" "$st" "$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN{print b-a}')"
			if [ $st = FAIL ]; then tail -n 30 "$log" | sed 's/^/    | /'; fi
		done
	done
done
# Whole-build checks (library exports, install, command line): once, not per variant.
if [ -n "${UMM_CHECK_SCRIPTS-1}" ]; then
	for c in tests/check_*.sh; do
		[ -x "$c" ] || continue
		name="script/$(basename "$c" .sh)"
		log="build/$(basename "$c" .sh).log"
		start=$EPOCHREALTIME
		timeout 300 "$c" >"$log" 2>&1
		case $? in
		0) pass=$((pass + 1)); st=ok ;;
		77) skip=$((skip + 1)); st=SKIP; skipped+=("$name") ;;
		*) fail=$((fail + 1)); st=FAIL; failed+=("$name"); failedlog+=("$log") ;;
		esac
		printf '%-40s %-4s %6.2fs\n' "$name" "$st" "$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN{print b-a}')"
		if [ $st = FAIL ]; then tail -n 30 "$log" | sed 's/^/    | /'; fi
		if [ $st = SKIP ]; then grep '^SKIP' "$log" | sed 's/^/    | /'; fi
	done
fi
echo
# Repeat the end of each failed test's log here, just above the summary, so
# that a report which keeps only the last lines of the run still shows why.
for i in "${!failed[@]}"; do
	echo "--- ${failed[$i]}: end of ${failedlog[$i]}"
	tail -n 25 "${failedlog[$i]}" | sed 's/^/    | /'
done
[ ${#failed[@]} -gt 0 ] && printf 'failed: %s\n' "${failed[@]}"
[ ${#skipped[@]} -gt 0 ] && printf 'skipped: %s\n' "${skipped[@]}"
if [ $skip -gt 0 ]; then echo "$pass passed, $fail failed, $skip skipped"; else echo "$pass passed, $fail failed"; fi
[ $fail -eq 0 ] && [ $pass -gt 0 ]

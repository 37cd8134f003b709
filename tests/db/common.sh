# SPDX-License-Identifier: MIT
# Sourced by tests/check_preload_*.sh: running a real program natively and
# under the interposer (libusermm_preload.so), and the verdict.
#
#   native CMD...            run CMD as it is
#   on_umm STATS CMD...      the same command with LD_PRELOAD set to the
#                            interposer and USERMM_STATS=STATS (USERMM_PHYS
#                            and the rest pass through from the caller)
#   served STATS WHAT        fail unless the stats file says the interposer
#                            served file mappings (preload_mmaps > 0) and
#                            the host MMU took faults on them (host_faults > 0)
#   skip WHY / fail WHY      a part that could not run / a part that failed
#   finish                   exit 1 if anything failed, else 77 (counted as
#                            skipped by tests/run.sh) if anything was
#                            skipped, else 0
#
# The interposer is $UMM_PRELOAD_LIB, by default
# build/release/libusermm_preload.so; the programs built from fetched
# sources are in build/ext/bin (tests/dbtools.sh).
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
PRELOAD_LIB=${UMM_PRELOAD_LIB:-build/release/libusermm_preload.so}
case $PRELOAD_LIB in /*) ;; *) PRELOAD_LIB=$PWD/$PRELOAD_LIB ;; esac
EXT=$PWD/build/ext/bin
TMP=$(mktemp -d /tmp/usermm-db.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
nr_fail=0
nr_skip=0

fail() { echo "FAIL: $*"; nr_fail=$((nr_fail + 1)); }
skip() { echo "SKIP: *** $* ***"; nr_skip=$((nr_skip + 1)); }
ok() { echo "ok: $*"; }
finish() {
	if [ $nr_fail -gt 0 ]; then
		echo "$nr_fail failed, $nr_skip skipped"
		exit 1
	fi
	if [ $nr_skip -gt 0 ]; then
		echo "SKIPPED: $nr_skip part(s) could not run (above); the rest passed"
		exit 77
	fi
	echo "all passed"
	exit 0
}

# need_cmd CMD PACKAGE: is the program there (else skip, saying which package)?
need_cmd() {
	command -v "$1" >/dev/null && return 0
	skip "$1 is not installed (Debian package $2; see build/dbtools-install.log)"
	return 1
}

# need_ext PROGRAM: was it built from the fetched sources (else skip)?
need_ext() {
	[ -x "$EXT/$1" ] && return 0
	skip "$1 was not built: its source could not be fetched or built (see build/ext/fetch.log, make dbtools)"
	return 1
}

# have_preload: is the interposer built (else skip)?  Said once.
have_preload() {
	[ -e "$PRELOAD_LIB" ] && return 0
	if [ -z "${preload_said-}" ]; then
		preload_said=1
		skip "the interposer $PRELOAD_LIB is not built (make preload): nothing ran under usermm"
	fi
	return 1
}

native() { "$@"; }
on_umm() {
	local stats=$1; shift
	rm -f "$stats"
	LD_PRELOAD=$PRELOAD_LIB USERMM_STATS=$stats "$@"
}

# stat_of STATS KEY: the value of key=value in the stats file, 0 if absent.
stat_of() {
	local v
	v=$(sed -n "s/^$2=//p" "$1" 2>/dev/null | tail -n 1)
	echo "${v:-0}"
}

served() {
	local stats=$1 what=$2 m h
	if [ ! -s "$stats" ]; then
		fail "$what: the interposer wrote no stats file ($stats)"
		return 1
	fi
	m=$(stat_of "$stats" preload_mmaps)
	h=$(stat_of "$stats" host_faults)
	echo "   $what under usermm: preload_mmaps=$m host_faults=$h" \
		"preload_fallbacks=$(stat_of "$stats" preload_fallbacks) mm_major_faults=$(stat_of "$stats" mm_major_faults)"
	if [ "$m" -gt 0 ] 2>/dev/null && [ "$h" -gt 0 ] 2>/dev/null; then
		return 0
	fi
	fail "$what: the interposer served nothing (preload_mmaps=$m, host_faults=$h)"
	return 1
}

# same FILE1 FILE2 WHAT: the two outputs are identical (else fail, with the diff).
same() {
	if cmp -s "$1" "$2"; then
		return 0
	fi
	fail "$3: native and usermm results differ"
	diff "$1" "$2" | head -n 20 | sed 's/^/    /'
	return 1
}

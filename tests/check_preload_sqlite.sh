#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# SQLite on usermm: Debian's sqlite3 shell and SQLite's speedtest1 (built
# by tests/dbtools.sh from the installed version's source), each run
# natively and then under the interposer (LD_PRELOAD=libusermm_preload.so),
# with the same results:
#  - tests/db/sqlite_workload.sql (PRAGMA mmap_size=268435456; 100k rows
#    inserted in ten transactions, updates, deletes, a VACUUM that shrinks
#    the file, queries, PRAGMA integrity_check) in rollback (journal_mode
#    DELETE) and WAL modes: what it prints must be what it prints natively,
#    and the database it leaves, read natively afterwards, must pass
#    integrity_check and have the same content hash (.sha3sum) as the
#    native run's;
#  - the rollback run again with USERMM_PHYS (4 MiB) smaller than the
#    database (about 21 MiB at its largest), and again with mmap_size 4 MiB
#    (the database's first 4 MiB mapped, the rest read with pread, all of
#    it written with pwrite);
#  - speedtest1 --size 10 --verify with --mmap 268435456, in both journal
#    modes: exit status 0 and the same verification hash as natively.
# Each run under usermm must show, in its USERMM_STATS file, file mappings
# served by usermm (preload_mmaps > 0) and host-MMU faults on them
# (host_faults > 0).  A missing package, source or interposer is a SKIP
# (exit 77), never a pass.
set -u
. "$(dirname "$0")/db/common.sh"

SMALL_PHYS=${SQLITE_SMALL_PHYS:-4M}
WORKLOAD=$PWD/tests/db/sqlite_workload.sql

# workload MODE DB OUT [on_umm STATS]: the workload in journal mode MODE
# (MODE delete-map4m: journal mode DELETE, mmap_size 4 MiB).
workload() {
	local mode=$1 db=$2 out=$3 map=268435456; shift 3
	case $mode in *-map4m) mode=${mode%-map4m} map=4194304 ;; esac
	{ echo "PRAGMA journal_mode=$mode;"; sed "s/^PRAGMA mmap_size=268435456;/PRAGMA mmap_size=$map;/" "$WORKLOAD"; } |
		"${@:-native}" sqlite3 -bail "$db" >"$out" 2>&1
}
# content DB OUT: integrity_check and the content hash, read natively.
content() {
	printf 'PRAGMA integrity_check;\n.sha3sum\n' | sqlite3 "$1" >"$2" 2>&1
}

if need_cmd sqlite3 sqlite3; then
	for run in delete wal "delete $SMALL_PHYS" delete-map4m; do
		set -- $run
		mode=$1 phys=${2-}
		d=$TMP/$mode${phys:+-$phys}
		mkdir -p "$d"
		if [ -z "$phys" ]; then
			if ! workload $mode "$d/nat.db" "$d/nat.out"; then
				fail "sqlite3 ($mode) natively exited $?"
				tail -n 5 "$d/nat.out" | sed 's/^/    /'
				continue
			fi
			content "$d/nat.db" "$d/nat.content"
			grep -qx ok "$d/nat.out" || fail "sqlite3 ($mode) natively: no integrity_check ok"
		fi
		have_preload || continue
		nat=$TMP/$mode
		what="sqlite3 ($mode${phys:+, USERMM_PHYS=$phys})"
		if [ -n "$phys" ]; then export USERMM_PHYS=$phys; else unset USERMM_PHYS; fi
		workload $mode "$d/umm.db" "$d/umm.out" on_umm "$d/umm.stats"
		rc=$?
		unset USERMM_PHYS
		if [ $rc != 0 ]; then
			fail "$what exited $rc"
			tail -n 5 "$d/umm.out" | sed 's/^/    /'
			continue
		fi
		served "$d/umm.stats" "$what"
		same "$nat/nat.out" "$d/umm.out" "$what: the workload's output" &&
			ok "$what: the workload printed what it prints natively"
		content "$d/umm.db" "$d/umm.content"
		same "$nat/nat.content" "$d/umm.content" "$what: the database it left (integrity_check, .sha3sum)" &&
			ok "$what: the file it left, read natively, is sound and holds the same data"
	done
fi

# ---- speedtest1 ----
if need_ext speedtest1; then
	for mode in delete wal; do
		for side in nat umm; do
			d=$TMP/speedtest1-$mode-$side
			mkdir -p "$d"
			args=(--size 10 --verify --mmap 268435456 --journal $mode "$d/st.db")
			if [ $side = nat ]; then
				native "$EXT/speedtest1" "${args[@]}" >"$d.out" 2>&1
			else
				have_preload || break
				on_umm "$d.stats" "$EXT/speedtest1" "${args[@]}" >"$d.out" 2>&1
			fi
			rc=$?
			if [ $rc != 0 ]; then
				fail "speedtest1 ($mode, $side) exited $rc"
				tail -n 5 "$d.out" | sed 's/^/    /'
				continue 2
			fi
			grep '^Verification Hash' "$d.out" >"$d.hash" || { fail "speedtest1 ($mode, $side): no verification hash"; continue 2; }
		done
		[ -e "$TMP/speedtest1-$mode-umm.hash" ] || continue
		served "$TMP/speedtest1-$mode-umm.stats" "speedtest1 ($mode)"
		same "$TMP/speedtest1-$mode-nat.hash" "$TMP/speedtest1-$mode-umm.hash" "speedtest1 ($mode): verification hash" &&
			ok "speedtest1 ($mode): $(cut -c1-40 "$TMP/speedtest1-$mode-umm.hash")..., as natively"
	done
fi

finish

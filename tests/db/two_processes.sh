#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Two processes using one database at once, each under the interposer: a
# reader keeps the database open (mapped) while another process commits,
# and must see each commit in its next transaction, as it does natively.
#  - LMDB: lmdb_rw DIR get keeps the environment open; lmdb_rw DIR put
#    commits "k" = one, two, three in turn between its reads.
#  - SQLite in WAL mode and in rollback mode: sqlite_rw DB keeps the
#    database open (mmap_size 256 MiB) and reads sum(x) after each of two
#    updates made by sqlite3 in another process.
# Each reader's output is compared with the native run's.  The reader runs
# as a coprocess and every step waits for its answer: no sleeps.
#
# Not run by `make check` (its name is not check_*.sh): each interposed
# process has a page cache of its own, so a process that keeps a file
# mapped does not see what another process writes to it (nor does LMDB's
# lock file or SQLite's -shm file, shared memory between processes,
# shared).  Run it by hand: tests/db/two_processes.sh; exit 0 when every
# reader saw what it sees natively, 1 otherwise, 77 when something it
# needs is missing.
set -u
. "$(dirname "$0")/common.sh"

# lmdb SIDE: the reader's answers, one per line, on stdout.
lmdb() {
	local side=$1 d=$TMP/lmdb-$1 pre=
	[ $side = umm ] && pre=$PRELOAD_LIB
	mkdir -p "$d"
	LD_PRELOAD=$pre "$EXT/lmdb_rw" "$d" put one || return 1
	coproc R { LD_PRELOAD=$pre exec "$EXT/lmdb_rw" "$d" get; }
	for v in two three ""; do
		echo >&"${R[1]}"
		read -r -u "${R[0]}" answer || { echo "(reader gone)"; break; }
		echo "$answer"
		[ -n "$v" ] && { LD_PRELOAD=$pre "$EXT/lmdb_rw" "$d" put $v || return 1; }
	done
	exec {R[1]}>&-
	wait
}

# sqlite SIDE MODE: the reader's answers.
sqlite() {
	local side=$1 mode=$2 d=$TMP/sqlite-$mode-$1 pre= line
	[ $side = umm ] && pre=$PRELOAD_LIB
	mkdir -p "$d"
	sqlite3 "$d/db" "PRAGMA journal_mode=$mode; CREATE TABLE t(id INTEGER PRIMARY KEY, x);
		WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 20000)
		INSERT INTO t SELECT i, i FROM c;" >/dev/null || return 1
	coproc R { LD_PRELOAD=$pre exec "$EXT/sqlite_rw" "$d/db"; }
	for step in 1 2 3; do
		echo "SELECT count(*), sum(x) FROM t;" >&"${R[1]}"
		while read -r -u "${R[0]}" line && [ "$line" != . ]; do echo "$line"; done
		[ $step = 3 ] && break
		LD_PRELOAD=$pre sqlite3 "$d/db" "PRAGMA mmap_size=268435456; UPDATE t SET x = x + 1 WHERE id % 2 = 0;" >/dev/null ||
			return 1
	done
	exec {R[1]}>&-
	wait
}

if need_ext lmdb_rw && have_preload; then
	lmdb nat >"$TMP/lmdb.nat" 2>&1
	lmdb umm >"$TMP/lmdb.umm" 2>&1
	same "$TMP/lmdb.nat" "$TMP/lmdb.umm" "LMDB, a reader process while another commits" &&
		ok "LMDB: the reader saw each commit of the other process"
fi
if need_ext sqlite_rw && need_cmd sqlite3 sqlite3 && have_preload; then
	for mode in wal delete; do
		sqlite nat $mode >"$TMP/sqlite-$mode.nat" 2>&1
		sqlite umm $mode >"$TMP/sqlite-$mode.umm" 2>&1
		same "$TMP/sqlite-$mode.nat" "$TMP/sqlite-$mode.umm" "SQLite ($mode), a reader process while another commits" &&
			ok "SQLite ($mode): the reader saw each commit of the other process"
	done
fi
finish

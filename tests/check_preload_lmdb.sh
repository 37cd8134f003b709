#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# LMDB on usermm: Debian's mdb_load, mdb_dump and mdb_stat, and LMDB's own
# mtest..mtest6 (and their MDB_WRITEMAP variants, built by tests/dbtools.sh
# from the installed version's source), each run natively and then under
# the interposer (LD_PRELOAD=libusermm_preload.so), with the same results:
#  - mdb_load of a generated dump of 100k records (tests/db/lmdb_dump.sh,
#    256 MiB map size, some values on overflow pages), mdb_dump of it back
#    (the records must be the generated ones, and the same as natively),
#    mdb_stat the same as natively; the database written under usermm is
#    dumped again natively (so its data reached the file); mdb_copy -c
#    (a compacting copy: reads the map, writes the copy with write(2))
#    gives a copy whose records, dumped natively, are the same;
#  - the same load and dump with USERMM_PHYS (4 MiB) smaller than the
#    database, so that usermm reclaims while LMDB reads its map;
#  - tests/db/lmdb_rw.c filling a new environment with 50k records (33
#    MiB), 1000 per transaction, with MDB_WRITEMAP (LMDB writes through its
#    shared map, the file is extended to the 256 MiB map size) and with
#    usermm's default memory, then MDB_WRITEMAP and plain (pwrite) with
#    USERMM_PHYS 4 MiB: the environment, dumped natively, is the one a
#    native run makes;
#  - each mtest with a fixed seed (MTEST_SEED): exit status 0 (they abort
#    on any error) and the database it leaves, dumped natively, the same
#    as the native run's (less the map address MDB_FIXEDMAP records);
#  - MDB_FIXEDMAP environments reopened: mtest..mtest6 then mtest again in
#    one environment, and one made natively reopened under usermm.
# Each run under usermm must show, in its USERMM_STATS file, file mappings
# served by usermm (preload_mmaps > 0) and host-MMU faults on them
# (host_faults > 0).  A missing package, source or interposer is a SKIP
# (exit 77), never a pass.
set -u
. "$(dirname "$0")/db/common.sh"

RECORDS=${LMDB_RECORDS:-100000}
SMALL_PHYS=${LMDB_SMALL_PHYS:-4M}

# dump_of DIR OUT: the database's main and named databases as text, natively.
dump_of() {
	{ mdb_dump "$1" && mdb_dump -a "$1"; } 2>&1 | grep -v '^mapaddr=' >"$2"
}

# ---- the tools on 100k records ----
if need_cmd mdb_load lmdb-utils && need_cmd mdb_dump lmdb-utils && need_cmd mdb_stat lmdb-utils &&
   need_cmd mdb_copy lmdb-utils; then
	tests/db/lmdb_dump.sh "$RECORDS" >"$TMP/in.dump"
	sed '1,/^HEADER=END$/d' "$TMP/in.dump" >"$TMP/in.data"
	mkdir "$TMP/nat"
	if native mdb_load -f "$TMP/in.dump" "$TMP/nat" && native mdb_dump -p "$TMP/nat" >"$TMP/nat.dump" &&
	   native mdb_stat "$TMP/nat" >"$TMP/nat.stat"; then
		sed '1,/^HEADER=END$/d' "$TMP/nat.dump" | cmp -s - "$TMP/in.data" ||
			fail "natively: mdb_dump did not give back the loaded records"
		echo "natively: $RECORDS records loaded, dumped, $(du -k "$TMP/nat/data.mdb" | cut -f1) KiB"
	else
		fail "natively: mdb_load/mdb_dump/mdb_stat failed"
	fi
	for phys in default "$SMALL_PHYS"; do
		have_preload || break
		d=$TMP/umm-$phys
		mkdir "$d"
		if [ $phys = default ]; then unset USERMM_PHYS; what=""; else export USERMM_PHYS=$phys; what=" (USERMM_PHYS=$phys)"; fi
		if ! on_umm "$d.load.stats" mdb_load -f "$TMP/in.dump" "$d"; then
			fail "mdb_load$what exited $?"
			continue
		fi
		served "$d.load.stats" "mdb_load$what"
		if on_umm "$d.dump.stats" mdb_dump -p "$d" >"$d.dump"; then
			served "$d.dump.stats" "mdb_dump$what"
			same "$TMP/nat.dump" "$d.dump" "mdb_dump$what" && ok "mdb_dump$what: the $RECORDS records, as natively"
		else
			fail "mdb_dump$what exited $?"
		fi
		if on_umm "$d.stat.stats" mdb_stat "$d" >"$d.stat"; then
			same "$TMP/nat.stat" "$d.stat" "mdb_stat$what" && ok "mdb_stat$what: as natively"
		else
			fail "mdb_stat$what exited $?"
		fi
		mkdir "$d.copy"
		if on_umm "$d.copy.stats" mdb_copy -c "$d" "$d.copy"; then
			native mdb_dump -p "$d.copy" | sed '1,/^HEADER=END$/d' >"$d.copy.data"
			same "$TMP/in.data" "$d.copy.data" "mdb_copy -c$what, the copy dumped natively" &&
				ok "mdb_copy -c$what: the copy holds the records"
		else
			fail "mdb_copy -c$what exited $?"
		fi
		native mdb_dump -p "$d" >"$d.native-dump" 2>&1
		same "$TMP/nat.dump" "$d.native-dump" "the file mdb_load wrote under usermm$what, dumped natively" &&
			ok "the file written under usermm$what holds the records"
	done
	unset USERMM_PHYS
fi

# ---- a writer through the map (MDB_WRITEMAP), 50k records, 33 MiB ----
if need_ext lmdb_rw; then
	mkdir "$TMP/fill-nat"
	native "$EXT/lmdb_rw" "$TMP/fill-nat" fill 50000 && mdb_dump "$TMP/fill-nat" >"$TMP/fill-nat.dump" ||
		fail "lmdb_rw fill natively"
	for run in "writemap default" "writemap $SMALL_PHYS" "pwrite $SMALL_PHYS"; do
		have_preload || break
		set -- $run
		d=$TMP/fill-$1-$2
		what="lmdb_rw fill 50000 ($1)"
		[ $2 = default ] || what="lmdb_rw fill 50000 ($1, USERMM_PHYS=$2)"
		mkdir "$d"
		if [ $2 = default ]; then unset USERMM_PHYS; else export USERMM_PHYS=$2; fi
		on_umm "$d.stats" "$EXT/lmdb_rw" "$d" fill 50000 ${1/pwrite/}
		rc=$?
		unset USERMM_PHYS
		[ $rc = 0 ] || { fail "$what exited $rc"; continue; }
		served "$d.stats" "$what" || continue
		native mdb_dump "$d" >"$d.dump"
		same "$TMP/fill-nat.dump" "$d.dump" "$what: the environment, dumped natively" &&
			ok "$what: every record reached the file"
	done
fi

# ---- LMDB's own tests ----
seed=12345
for t in mtest mtest2 mtest3 mtest4 mtest5 mtest6 mtest_wm mtest2_wm mtest3_wm mtest4_wm mtest5_wm mtest6_wm; do
	need_ext $t || continue
	command -v mdb_dump >/dev/null || { skip "$t: mdb_dump is not installed"; continue; }
	for side in nat umm; do
		d=$TMP/$t-$side
		mkdir -p "$d/testdb"
		if [ $side = nat ]; then
			(cd "$d" && MTEST_SEED=$seed native "$EXT/$t") >"$d.out" 2>&1
		else
			have_preload || break
			(cd "$d" && MTEST_SEED=$seed on_umm "$d.stats" "$EXT/$t") >"$d.out" 2>&1
		fi
		rc=$?
		if [ $rc != 0 ]; then
			fail "$t ($side) exited $rc"
			tail -n 5 "$d.out" | sed 's/^/    /'
			continue 2
		fi
		dump_of "$d/testdb" "$d.dump"
	done
	[ -e "$TMP/$t-umm.dump" ] || continue
	served "$TMP/$t-umm.stats" "$t" || continue
	same "$TMP/$t-nat.dump" "$TMP/$t-umm.dump" "$t: the database it left" &&
		ok "$t: passed, and left the same database as natively"
done

# ---- MDB_FIXEDMAP environments reopened ----
# mtest..mtest6 open ./testdb with MDB_FIXEDMAP: the process that creates
# the environment records its map's address in it, and every later open
# asks mmap for that address (a hint) and fails with EBUSY when it gets
# another.  The sequence mtest, mtest2, ..., mtest6, mtest in one
# environment (mtest and mtest2 ask for 1 reader slot, the others for 126),
# natively and under usermm: each must reopen what the ones before made,
# and the environment must end as natively.  Then an environment made
# natively, reopened under usermm.
seq_of() {   # seq_of SIDE: the sequence in $TMP/seq-SIDE/testdb; 0 if all passed
	local side=$1 d=$TMP/seq-$1 t
	mkdir -p "$d/testdb"
	for t in mtest mtest2 mtest3 mtest4 mtest5 mtest6 mtest; do
		if [ $side = nat ]; then
			(cd "$d" && MTEST_SEED=7 native "$EXT/$t") >"$d/$t.out" 2>&1
		else
			(cd "$d" && MTEST_SEED=7 on_umm "$d/$t.stats" "$EXT/$t") >"$d/$t.out" 2>&1
		fi || { fail "$t ($side), reopening the environment the ones before it made: $(grep -m1 mdb_ "$d/$t.out")"; return 1; }
	done
	dump_of "$d/testdb" "$d.dump"
}
if need_ext mtest && need_ext mtest2 && need_ext mtest3 && need_ext mtest4 && need_ext mtest5 &&
   need_ext mtest6 && command -v mdb_dump >/dev/null && have_preload; then
	if seq_of nat && seq_of umm; then
		same "$TMP/seq-nat.dump" "$TMP/seq-umm.dump" "mtest..mtest6, mtest in one environment" &&
			ok "mtest..mtest6, mtest: each reopened the MDB_FIXEDMAP environment under usermm, which ends as natively"
	fi
	mkdir -p "$TMP/mixed/testdb"
	if (cd "$TMP/mixed" && MTEST_SEED=7 native "$EXT/mtest") >/dev/null 2>&1; then
		if (cd "$TMP/mixed" && MTEST_SEED=7 on_umm "$TMP/mixed.stats" "$EXT/mtest2") >"$TMP/mixed.out" 2>&1; then
			ok "an MDB_FIXEDMAP environment made natively, reopened by mtest2 under usermm"
		else
			fail "an MDB_FIXEDMAP environment made natively, reopened by mtest2 under usermm: $(grep -m1 mdb_ "$TMP/mixed.out")"
		fi
	else
		fail "mtest natively"
	fi
fi

finish

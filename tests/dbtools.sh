#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The real programs that tests/check_preload_*.sh and bench_preload run
# natively and under the interposer (`make dbtools`; `make check` and
# `make bench` run it first):
#
#  1. Debian's lmdb-utils, liblmdb-dev, sqlite3, libsqlite3-dev and
#     kyotocabinet-utils.  When one is missing and this runs as root, they
#     are installed once with apt-get (the attempt is remembered in
#     build/.dbtools-install-tried, its log in build/dbtools-install.log).
#     UMM_NO_DBTOOLS=1 installs nothing.
#  2. The sources of the installed LMDB and SQLite, for LMDB's mtest..mtest6
#     and SQLite's speedtest1: `apt-get source --download-only` with a
#     private sources list (deb-src of Debian bookworm main) and private
#     state and cache directories under build/ext/apt, so the machine's own
#     apt configuration is neither read for sources nor changed; the version
#     installed is asked for first, then whatever the list has.  Tried once
#     (build/ext/.fetch-tried: remove it to try again; log in
#     build/ext/fetch.log); nothing fetched is committed.
#  3. Built against the installed liblmdb / libsqlite3 into build/ext/bin:
#     mtest..mtest6 as released, except that srand() takes $MTEST_SEED when
#     it is set (so that two runs can be compared), and mtest_wm..mtest6_wm,
#     the same programs with MDB_WRITEMAP added to mdb_env_open's flags (a
#     sed on the copy in build/ext; mtest6 also gets a stand-in for
#     mdb_dkey, which liblmdb exports only when built with MDB_DEBUG);
#     speedtest1 from test/speedtest1.c.  And tests/db/lmdb_rw.c and
#     sqlite_rw.c, for check_preload_lmdb.sh and tests/db/two_processes.sh.
#
# Whatever cannot be had is said loudly here, and the checks that need it
# say SKIP and are counted as skipped.  Exit 0 always: a missing tool is
# not a build failure.
set -u
cd "$(dirname "$0")/.."
root=$PWD
mkdir -p build/ext/bin

say() { echo "dbtools: $*"; }
loud() { echo "dbtools: *** $* ***"; }

have_header() { echo "#include <$1>" | ${CC:-cc} -E -x c - >/dev/null 2>&1; }
missing_pkgs() {
	local m=
	command -v mdb_load >/dev/null && command -v mdb_dump >/dev/null &&
		command -v mdb_stat >/dev/null && command -v mdb_copy >/dev/null || m="$m lmdb-utils"
	have_header lmdb.h || m="$m liblmdb-dev"
	command -v sqlite3 >/dev/null || m="$m sqlite3"
	have_header sqlite3.h || m="$m libsqlite3-dev"
	command -v kchashtest >/dev/null || m="$m kyotocabinet-utils"
	echo $m
}

# ---- 1. the packages ----
missing=$(missing_pkgs)
if [ -n "$missing" ] && [ -z "${UMM_NO_DBTOOLS-}" ] && [ "$(id -u)" = 0 ] &&
   [ ! -e build/.dbtools-install-tried ]; then
	say "installing$missing with apt-get (log: build/dbtools-install.log)"
	touch build/.dbtools-install-tried
	{
		apt-get update -qq
		# one at a time, so that one that cannot be had leaves the others
		for p in $missing; do
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p" ||
				echo "dbtools: apt-get install $p failed"
		done
	} >build/dbtools-install.log 2>&1
	missing=$(missing_pkgs)
fi
[ -n "$missing" ] && loud "missing:$missing (see build/dbtools-install.log): the checks that need them will be SKIPPED"

# ---- 2. the sources ----
# srcpkg BINARY-PACKAGE: "source-package version" of an installed package.
srcpkg() {
	dpkg-query -W -f='${source:Package} ${source:Version}' "$1" 2>/dev/null
}
apt_src() {   # apt-get with the private configuration
	apt-get -q -o Dir::Etc::SourceList="$root/build/ext/apt/sources.list" \
		-o Dir::Etc::SourceParts="$root/build/ext/apt/sources.list.d" \
		-o Dir::State="$root/build/ext/apt/state" -o Dir::Cache="$root/build/ext/apt/cache" \
		-o Debug::NoLocking=1 -o APT::Sandbox::User=root "$@"
}
# fetch_one SOURCE VERSION: the source package's tarballs into
# build/ext/dl, the upstream one unpacked into build/ext/src.
fetch_one() {
	local name=$1 ver=$2
	( cd build/ext/dl && { apt_src source --download-only "$name=$ver" ||
		{ echo "dbtools: $name $ver is not in the list; taking the list's version"
		  apt_src source --download-only "$name"; }; } ) || return 1
	local tarball
	tarball=$(ls build/ext/dl/"${name}"_*.orig.tar.* 2>/dev/null | grep -v -- '-www' | tail -n 1)
	[ -n "$tarball" ] || return 1
	tar -xf "$tarball" -C build/ext/src
}
if [ ! -e build/ext/.fetch-tried ] && command -v apt-get >/dev/null && command -v dpkg-query >/dev/null; then
	touch build/ext/.fetch-tried
	say "fetching the LMDB and SQLite sources with apt-get source, private sources list (log: build/ext/fetch.log)"
	mkdir -p build/ext/apt/state/lists/partial build/ext/apt/cache/archives/partial \
		build/ext/apt/sources.list.d build/ext/dl build/ext/src
	echo "deb-src http://deb.debian.org/debian bookworm main" >build/ext/apt/sources.list
	{
		apt_src update &&
		for b in liblmdb-dev libsqlite3-dev; do
			set -- $(srcpkg $b)
			if [ $# = 2 ]; then
				fetch_one "$1" "$2" || echo "dbtools: FAILED to fetch $1"
			else
				echo "dbtools: $b is not installed: its source is not fetched"
			fi
		done
	} >build/ext/fetch.log 2>&1 || echo "dbtools: apt-get update with the private list FAILED" >>build/ext/fetch.log
fi

# ---- 3. the programs ----
lmdb_src=$(ls -d build/ext/src/lmdb-*/libraries/liblmdb 2>/dev/null | tail -n 1)
if [ -n "$lmdb_src" ] && have_header lmdb.h; then
	for t in mtest mtest2 mtest3 mtest4 mtest5 mtest6; do
		[ -x build/ext/bin/$t ] && [ -x build/ext/bin/${t}_wm ] && continue
		# mtest4 seeds nothing; the others call srand(time(NULL))
		sed 's/srand(time(NULL))/srand(getenv("MTEST_SEED") ? (unsigned)atoi(getenv("MTEST_SEED")) : (unsigned)time(NULL))/' \
			"$lmdb_src/$t.c" >build/ext/$t.c
		sed 's|mdb_env_open(env, "./testdb", |&MDB_WRITEMAP\||' build/ext/$t.c >build/ext/${t}_wm.c
		if [ $t = mtest6 ]; then
			# mtest6 prints keys with mdb_dkey, which liblmdb has only when
			# built with MDB_DEBUG: a stand-in printing the key in hex
			for f in build/ext/$t.c build/ext/${t}_wm.c; do
				sed -i '/#include "lmdb.h"/a\
static char *mdb_dkey(MDB_val *key, char *buf) { char *p = buf; for (size_t i = 0; i < key->mv_size \&\& i < 511; i++) p += sprintf(p, "%02x", ((unsigned char *)key->mv_data)[i]); *p = 0; return buf; }' $f
			done
		fi
		grep -q 'MDB_WRITEMAP|' build/ext/${t}_wm.c || { loud "$t.c: mdb_env_open not found, no WRITEMAP variant"; continue; }
		${CC:-cc} -O2 -g -w -include stdlib.h build/ext/$t.c -o build/ext/bin/$t -llmdb -pthread &&
		${CC:-cc} -O2 -g -w -include stdlib.h build/ext/${t}_wm.c -o build/ext/bin/${t}_wm -llmdb -pthread ||
			loud "building $t failed"
	done
	say "mtest..mtest6 and their MDB_WRITEMAP variants from $lmdb_src, linked with the installed liblmdb"
else
	loud "no LMDB source (see build/ext/fetch.log; rm build/ext/.fetch-tried to try again) or no lmdb.h: mtest..mtest6 will be SKIPPED"
fi
# our two small programs (tests/db/lmdb_rw.c, sqlite_rw.c): an LMDB writer
# for check_preload_lmdb.sh, and the readers of tests/db/two_processes.sh
for p in lmdb_rw:lmdb.h:-llmdb sqlite_rw:sqlite3.h:-lsqlite3; do
	IFS=: read -r prog header lib <<<"$p"
	have_header $header || continue
	[ build/ext/bin/$prog -nt tests/db/$prog.c ] ||
		${CC:-cc} -std=gnu11 -Wall -Wextra -Werror -O2 tests/db/$prog.c -o build/ext/bin/$prog $lib ||
		loud "building tests/db/$prog.c failed"
done
sqlite_src=$(ls -d build/ext/src/sqlite3-*/test 2>/dev/null | tail -n 1)
if [ -n "$sqlite_src" ] && have_header sqlite3.h; then
	[ -x build/ext/bin/speedtest1 ] ||
		${CC:-cc} -O2 -g -w "$sqlite_src/speedtest1.c" -o build/ext/bin/speedtest1 -lsqlite3 -lm ||
		loud "building speedtest1 failed"
	say "speedtest1 from $sqlite_src, linked with the installed libsqlite3"
else
	loud "no SQLite source (see build/ext/fetch.log; rm build/ext/.fetch-tried to try again) or no sqlite3.h: speedtest1 will be SKIPPED"
fi
exit 0

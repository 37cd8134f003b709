#!/bin/sh
# SPDX-License-Identifier: MIT
# lmdb_dump.sh N [MAPSIZE]: N records in mdb_dump's "print" format on
# stdout, for mdb_load.  Keys k00000000.. in key order (so that mdb_dump
# gives them back in the same order), values of 20..219 bytes and, every
# 997th record, one of 6000 bytes (an LMDB overflow page).  The same N
# always gives the same text.  MAPSIZE (bytes) is the environment's map
# size, 256 MiB by default: LMDB maps that much whatever the file's size.
n=${1:?usage: lmdb_dump.sh N [MAPSIZE]}
awk -v n="$n" -v mapsize="${2:-268435456}" 'BEGIN {
	printf "VERSION=3\nformat=print\ntype=btree\nmapsize=%d\nmaxreaders=126\nHEADER=END\n", mapsize
	for (i = 0; i < n; i++) {
		len = i % 997 == 0 ? 6000 : 20 + (i * 7919) % 200
		unit = sprintf("v%d-", i)
		v = unit
		while (length(v) < len)
			v = v v
		printf " k%08d\n %s\n", i, substr(v, 1, len)
	}
	print "DATA=END"
}'

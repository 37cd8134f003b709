/* SPDX-License-Identifier: MIT */
/*
 * lmdb_rw.c - one LMDB environment used by two processes at once, for
 * tests/db/two_processes.sh, and an LMDB writer for check_preload_lmdb.sh
 * (built by tests/dbtools.sh into build/ext/bin).
 *
 *   lmdb_rw DIR put VALUE   commit key "k" = VALUE in DIR's environment
 *   lmdb_rw DIR fill N [writemap]
 *                           N records, keys f00000000.., values of 20..1019
 *                           bytes made from the key, 1000 per transaction;
 *                           with "writemap" the environment is opened with
 *                           MDB_WRITEMAP (LMDB writes through its map)
 *   lmdb_rw DIR get         for each line on stdin: a new read-only
 *                           transaction, and "k=VALUE" (or the error) on
 *                           stdout; the environment stays open throughout,
 *                           so its map and lock file stay mapped
 *
 * Exit 0, or 1 with the failing call on stderr.
 */
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CALL(x)                                                                  \
	do {                                                                     \
		int rc_ = (x);                                                   \
		if (rc_) {                                                       \
			fprintf(stderr, "lmdb_rw: %s: %s\n", #x, mdb_strerror(rc_)); \
			exit(1);                                                 \
		}                                                                \
	} while (0)

int main(int argc, char **argv)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val key = { 1, "k" }, val;
	char line[64];

	if (argc < 3 || (strcmp(argv[2], "get") && argc < 4) ||
	    (strcmp(argv[2], "get") && strcmp(argv[2], "put") && strcmp(argv[2], "fill"))) {
		fprintf(stderr, "usage: lmdb_rw DIR put VALUE | lmdb_rw DIR get | lmdb_rw DIR fill N [writemap]\n");
		return 2;
	}
	CALL(mdb_env_create(&env));
	CALL(mdb_env_set_mapsize(env, 256 << 20));
	CALL(mdb_env_open(env, argv[1], argc > 4 && !strcmp(argv[4], "writemap") ? MDB_WRITEMAP : 0, 0644));
	if (!strcmp(argv[2], "fill")) {
		long n = atol(argv[3]);
		char k[24], v[1024];

		for (long i = 0; i < n; i++) {
			size_t len = 20 + (size_t)(i * 7919 % 1000);

			if (i % 1000 == 0) {
				CALL(mdb_txn_begin(env, NULL, 0, &txn));
				CALL(mdb_dbi_open(txn, NULL, 0, &dbi));
			}
			snprintf(k, sizeof(k), "f%08ld", i);
			for (size_t j = 0; j < len; j++)
				v[j] = k[1 + j % 8];
			key.mv_size = 9;
			key.mv_data = k;
			val.mv_size = len;
			val.mv_data = v;
			CALL(mdb_put(txn, dbi, &key, &val, 0));
			if (i % 1000 == 999 || i == n - 1)
				CALL(mdb_txn_commit(txn));
		}
	} else if (!strcmp(argv[2], "put")) {
		CALL(mdb_txn_begin(env, NULL, 0, &txn));
		CALL(mdb_dbi_open(txn, NULL, 0, &dbi));
		val.mv_size = strlen(argv[3]);
		val.mv_data = argv[3];
		CALL(mdb_put(txn, dbi, &key, &val, 0));
		CALL(mdb_txn_commit(txn));
	} else {
		while (fgets(line, sizeof(line), stdin)) {
			int rc;

			CALL(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn));
			CALL(mdb_dbi_open(txn, NULL, 0, &dbi));
			rc = mdb_get(txn, dbi, &key, &val);
			if (rc)
				printf("get: %s\n", mdb_strerror(rc));
			else
				printf("k=%.*s\n", (int)val.mv_size, (char *)val.mv_data);
			fflush(stdout);
			mdb_txn_abort(txn);
		}
	}
	mdb_env_close(env);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * sqlite_rw.c - one SQLite database used by two processes at once, for
 * tests/db/two_processes.sh (built by tests/dbtools.sh into build/ext/bin).
 *
 *   sqlite_rw DB     opens DB with PRAGMA mmap_size=268435456 and keeps it
 *                    open; each line on stdin is run as SQL, and each
 *                    result row is printed (columns joined by '|') and
 *                    flushed at once, then a line "." ends the statement's
 *                    output, so that a caller can wait for it
 *
 * Exit 0, or 1 with the failing statement's error on stderr.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

static int row(void *arg, int n, char **val, char **col)
{
	(void)arg;
	(void)col;
	for (int i = 0; i < n; i++)
		printf("%s%s", i ? "|" : "", val[i] ? val[i] : "NULL");
	printf("\n");
	return 0;
}

int main(int argc, char **argv)
{
	char line[4096], *err = NULL;
	sqlite3 *db;

	if (argc != 2) {
		fprintf(stderr, "usage: sqlite_rw DB\n");
		return 2;
	}
	if (sqlite3_open(argv[1], &db) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA mmap_size=268435456", NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "sqlite_rw: %s: %s\n", argv[1], err ? err : sqlite3_errmsg(db));
		return 1;
	}
	while (fgets(line, sizeof(line), stdin)) {
		if (sqlite3_exec(db, line, row, NULL, &err) != SQLITE_OK) {
			fprintf(stderr, "sqlite_rw: %s: %s\n", line, err);
			return 1;
		}
		printf(".\n");
		fflush(stdout);
	}
	sqlite3_close(db);
	return 0;
}

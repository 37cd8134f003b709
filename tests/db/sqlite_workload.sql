-- SPDX-License-Identifier: MIT
-- The SQLite workload of tests/check_preload_sqlite.sh and bench_preload.
-- The caller puts "PRAGMA journal_mode=...;" before it, and may put
-- ".parameter set @rows N" (100000 rows by default; a multiple of 10).
-- What it prints depends only on the data, so that two runs can be
-- compared.  The database is mapped (mmap_size 256 MiB), grows (the
-- inserts, ten transactions of a tenth of the rows each), is rewritten in
-- place (updates), shrinks (deletes, then VACUUM) and is queried.
PRAGMA mmap_size=268435456;
.parameter init
INSERT OR IGNORE INTO temp.sqlite_parameters VALUES ('@rows', 100000);
CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT, v BLOB, n INTEGER);
CREATE INDEX t_k ON t(k);
CREATE TEMP TABLE lo(v INTEGER);
INSERT INTO lo VALUES (0);
CREATE TEMP VIEW next_rows AS
	WITH RECURSIVE c(x) AS (SELECT v + 1 FROM lo UNION ALL SELECT x + 1 FROM c LIMIT (SELECT value / 10 FROM temp.sqlite_parameters WHERE key = '@rows'))
	SELECT x AS id, printf('key%08d', (x * 7919) % 1000003) AS k,
	       printf('%0*d', 16 + x % 300, x) AS v, x * 3 AS n FROM c;
BEGIN; INSERT INTO t SELECT * FROM next_rows; UPDATE lo SET v = (SELECT max(id) FROM t); COMMIT;
BEGIN; INSERT INTO t SELECT * FROM next_rows; UPDATE lo SET v = (SELECT max(id) FROM t); COMMIT;
BEGIN; INSERT INTO t SELECT * FROM next_rows; UPDATE lo SET v = (SELECT max(id) FROM t); COMMIT;
BEGIN; INSERT INTO t SELECT * FROM next_rows; UPDATE lo SET v = (SELECT max(id) FROM t); COMMIT;
BEGIN; INSERT INTO t SELECT * FROM next_rows; UPDATE lo SET v = (SELECT max(id) FROM t); COMMIT;
BEGIN; INSERT INTO t SELECT * FROM next_rows; UPDATE lo SET v = (SELECT max(id) FROM t); COMMIT;
BEGIN; INSERT INTO t SELECT * FROM next_rows; UPDATE lo SET v = (SELECT max(id) FROM t); COMMIT;
BEGIN; INSERT INTO t SELECT * FROM next_rows; UPDATE lo SET v = (SELECT max(id) FROM t); COMMIT;
BEGIN; INSERT INTO t SELECT * FROM next_rows; UPDATE lo SET v = (SELECT max(id) FROM t); COMMIT;
BEGIN; INSERT INTO t SELECT * FROM next_rows; UPDATE lo SET v = (SELECT max(id) FROM t); COMMIT;
SELECT 'inserted', count(*), sum(n), sum(length(v)), min(k), max(k) FROM t;
PRAGMA page_count;
-- updates: in place, and growing rows
UPDATE t SET n = n + 1 WHERE id % 3 = 0;
UPDATE t SET v = v || printf('%0100d', id) WHERE id % 17 = 0;
SELECT 'updated', count(*), sum(n), sum(length(v)) FROM t;
-- deletes, then VACUUM shrinks the file
DELETE FROM t WHERE id % 4 <> 0;
SELECT 'deleted', count(*), sum(n), sum(length(v)) FROM t;
VACUUM;
PRAGMA page_count;
-- queries: by key (the index), by range, aggregates
SELECT id, k, n, length(v) FROM t WHERE k BETWEEN 'key00500000' AND 'key00500400' ORDER BY k;
SELECT id, n, hex(substr(v, -6)) FROM t WHERE id BETWEEN 40000 AND 40040 ORDER BY id;
SELECT n % 7, count(*), sum(length(v)) FROM t GROUP BY n % 7 ORDER BY 1;
SELECT count(*) FROM t a JOIN t b ON b.id = a.id + 4 WHERE a.id % 1000 = 0;
PRAGMA integrity_check;

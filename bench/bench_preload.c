/* SPDX-License-Identifier: MIT */
/*
 * bench_preload.c - real programs on usermm: LMDB, SQLite and Kyoto
 * Cabinet run unmodified, natively (the kernel's mmap) and under the
 * interposer (LD_PRELOAD=libusermm_preload.so), the same work in the same
 * run, alternating the two sides run by run.
 *
 *   lmdb mdb_load      mdb_load of a generated dump (tests/db/lmdb_dump.sh)
 *                      into a new environment
 *   lmdb mdb_dump      mdb_dump of that environment (reads its map)
 *   sqlite rollback    tests/db/sqlite_workload.sql in journal_mode DELETE
 *   sqlite wal         the same in WAL mode (the -shm file mapped too)
 *   sqlite speedtest1  SQLite's speedtest1 --verify --mmap 256 MiB
 *   kc order / wicked  kchashtest order / wicked, 4 threads
 *   ... small memory   mdb_dump, the rollback workload and kchashtest
 *                      order again with USERMM_PHYS smaller than the data
 *
 * Each figure is the wall time of the whole process (exec, the library's
 * start, the work, exit), median of BENCH_REPS runs, in ms.  Every run's
 * results are checked against the native run's (the same output, the
 * same verification hash, kchashtest's own "ok"): a difference fails the
 * benchmark.  Fresh against warm: each usermm run starts a new usermm
 * system with an empty page cache, which reads the file through the
 * kernel's page cache, warm from the previous runs, as the native runs
 * find it.  Major faults are the kernel's ru_majflt for the native run
 * (0 when the file is in the page cache) and usermm's mm_major_faults
 * (faults that read the file into usermm's page cache) from the
 * interposer's USERMM_STATS file, medians too; they are printed as extra
 * figures and in the caveat.  The ratio is usermm / kernel for the runs
 * with usermm's default memory; with USERMM_PHYS smaller than the data
 * the two figures are shown without a ratio (the kernel had all of its
 * memory).
 *
 * The programs are Debian's (installed by `make dbtools`), mtest and
 * speedtest1 from build/ext/bin; the interposer is $UMM_PRELOAD_LIB or
 * libusermm_preload.so beside this program's directory.  What is missing
 * is said on a comment line and not measured.  Single-threaded; no locks.
 */
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <limits.h>
#include <sys/stat.h>
#include "bench.h"

#define BENCH_REPS BENCH_SIZE(3, 1)
#define SMALL_PHYS "4M"

static char root[PATH_MAX];           /* the source tree */
static char preload[PATH_MAX];        /* the interposer */
static char ext_bin[PATH_MAX];        /* mtest, speedtest1 */
static char tmp[PATH_MAX];            /* this run's scratch directory */
static int failed;

/* One run's outcome. */
struct run_result {
	double ms;
	long majflt;                    /* ru_majflt, or mm_major_faults under usermm */
	long mmaps, host_faults;        /* from the stats file, under usermm */
};

/* pathf - a path into buf (of `size` bytes); a path too long ends the benchmark. */
static void pathf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size) {
		printf("# a path is too long (%s...), nothing measured\n", buf);
		exit(1);
	}
}

/* have_program - is `name` an executable in $PATH (or a path)? */
static int have_program(const char *name)
{
	char buf[PATH_MAX];
	const char *path = getenv("PATH");

	if (strchr(name, '/'))
		return access(name, X_OK) == 0;
	for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
		size_t n = strcspn(p, ":");

		snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, p, name);
		if (access(buf, X_OK) == 0)
			return 1;
		p += n + (p[n] == ':');
	}
	return 0;
}

/* stat_value - `key` of a key=value stats file, or -1. */
static long stat_value(const char *file, const char *key)
{
	char line[256];
	size_t klen = strlen(key);
	long v = -1;
	FILE *f = fopen(file, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == '=')
			v = strtol(line + klen + 1, NULL, 10);
	fclose(f);
	return v;
}

/*
 * run - argv in directory `dir`, stdin from `in` (or /dev/null), stdout to
 * `out` (or /dev/null), stderr to `out`.err; under the interposer when
 * `umm`, with USERMM_PHYS=phys when phys is not NULL.  Returns the exit
 * status (-1 if it could not run) and fills *r.
 */
static int run(char *const argv[], const char *dir, const char *in, const char *out,
	       int umm, const char *phys, struct run_result *r)
{
	char stats[PATH_MAX], err[PATH_MAX];
	struct rusage ru;
	uint64_t t0;
	int status;
	pid_t pid;

	pathf(stats, sizeof(stats), "%s/stats", tmp);
	pathf(err, sizeof(err), "%s.err", out ? out : "/tmp/usermm-bench-preload");
	unlink(stats);
	memset(r, 0, sizeof(*r));
	fflush(stdout);
	t0 = now_ns();
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fi = open(in ? in : "/dev/null", O_RDONLY);
		int fo = out ? open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644) : open("/dev/null", O_WRONLY);
		int fe = out ? open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644) : open("/dev/null", O_WRONLY);

		if (fi < 0 || fo < 0 || fe < 0 || chdir(dir))
			_exit(126);
		dup2(fi, 0);
		dup2(fo, 1);
		dup2(fe, 2);
		unsetenv("USERMM_PHYS");
		if (umm) {
			setenv("LD_PRELOAD", preload, 1);
			setenv("USERMM_STATS", stats, 1);
			if (phys)
				setenv("USERMM_PHYS", phys, 1);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	if (wait4(pid, &status, 0, &ru) != pid)
		return -1;
	r->ms = (double)(now_ns() - t0) / 1e6;
	if (umm) {
		r->majflt = stat_value(stats, "mm_major_faults");
		r->mmaps = stat_value(stats, "preload_mmaps");
		r->host_faults = stat_value(stats, "host_faults");
	} else {
		r->majflt = ru.ru_majflt;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* sh - a shell command (setup and checks), natively; 0 on success. */
static int sh(const char *fmt, ...)
{
	char cmd[4 * PATH_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	fflush(stdout);
	return system(cmd);
}

/* How a run's result is checked against the native run's. */
enum check {
	CHECK_OUTPUT,           /* the same stdout */
	CHECK_HASH,             /* the same "Verification Hash" line (speedtest1) */
	CHECK_OK,               /* kchashtest's last line is "ok", no "error" */
};

/* One workload: a program and its arguments, run in a fresh directory. */
struct workload {
	const char *name;
	char *argv[16];
	const char *in;         /* stdin, or NULL */
	enum check check;
	const char *phys;       /* USERMM_PHYS for the usermm side, or NULL */
	const char *verify;     /* shell command run natively in the run's directory after
				 * each run, 0 if what the run left is right; or NULL */
};

/* checked - does this run's output pass against the native one? */
static int checked(const struct workload *w, const char *out, const char *ref)
{
	switch (w->check) {
	case CHECK_OUTPUT:
		return sh("cmp -s '%s' '%s'", out, ref) == 0;
	case CHECK_HASH:
		return sh("grep '^Verification Hash' '%s' >'%s.h' && grep '^Verification Hash' '%s' | "
			  "cmp -s - '%s.h'", out, out, ref, out) == 0;
	case CHECK_OK:
		return sh("! grep -qiw error '%s' && [ \"$(grep -v '^$' '%s' | tail -n 1)\" = ok ]",
			  out, out) == 0;
	}
	return 0;
}

/*
 * measure - the workload BENCH_REPS times on each side, alternating, each
 * run in a fresh directory; prints its result line.  A run that fails, or
 * whose result differs from the native run's, fails the benchmark.
 */
static void measure(const struct workload *w)
{
	double k_ms[8], u_ms[8], k_flt[8], u_flt[8];
	char dir[PATH_MAX], out[PATH_MAX], ref[PATH_MAX], text[512];
	long mmaps = 0, hfaults = 0;
	int reps = BENCH_REPS;

	pathf(ref, sizeof(ref), "%s/ref.out", tmp);
	for (int i = 0; i < reps; i++) {
		for (int umm = 0; umm <= 1; umm++) {
			struct run_result r;
			int rc;

			pathf(dir, sizeof(dir), "%s/run", tmp);
			pathf(out, sizeof(out), "%s/%s.out", tmp, umm ? "umm" : "nat");
			/* run/db: the directory of mdb_load's new environment */
			if (sh("rm -rf '%s' && mkdir -p '%s/db'", dir, dir)) {
				printf("# %s: no directory for the run, not measured\n", w->name);
				failed = 1;
				return;
			}
			rc = run(w->argv, dir, w->in, out, umm, w->phys, &r);
			if (rc) {
				printf("# %s: %s run exited %d (stderr: %s.err), not measured\n", w->name,
				       umm ? "usermm" : "native", rc, out);
				sh("tail -n 3 '%s.err' | sed 's/^/#     /'", out);
				failed = 1;
				return;
			}
			if (!umm && i == 0)
				sh("cp '%s' '%s'", out, ref);
			if (!checked(w, out, ref) || (w->verify && sh("cd '%s' && %s", dir, w->verify))) {
				printf("# %s: the %s run's result differs from the native run's: FAILED\n",
				       w->name, umm ? "usermm" : "native");
				failed = 1;
				return;
			}
			if (umm) {
				u_ms[i] = r.ms;
				u_flt[i] = (double)r.majflt;
				mmaps = r.mmaps;
				hfaults = r.host_faults;
			} else {
				k_ms[i] = r.ms;
				k_flt[i] = (double)r.majflt;
			}
		}
		if (mmaps <= 0 || hfaults <= 0) {
			printf("# %s: the interposer served nothing (preload_mmaps %ld, host_faults %ld): FAILED\n",
			       w->name, mmaps, hfaults);
			failed = 1;
			return;
		}
	}
	double um = median(u_ms, reps), km = median(k_ms, reps);
	double uf = median(u_flt, reps), kf = median(k_flt, reps);

	bench_report_unit(w->name, "ms", um, km, w->phys == NULL);
	bench_kernel_variant("the same program, the kernel's mmap");
	bench_extra("major_faults_usermm", uf);
	bench_extra("major_faults_kernel", kf);
	bench_extra("preload_mmaps", (double)mmaps);
	snprintf(text, sizeof(text),
		 "whole process, median of %d, results checked; major faults usermm %.0f "
		 "(fresh page cache, read from the kernel's), kernel %.0f (warm page cache)%s",
		 reps, uf, kf, w->phys ? "; USERMM_PHYS " SMALL_PHYS ", the kernel unlimited" : "");
	bench_caveat(text);
}

/* find_paths - the source tree, the interposer, build/ext/bin; 0 or -1. */
static int find_paths(void)
{
	char exe[PATH_MAX], dir[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	const char *lib = getenv("UMM_PRELOAD_LIB");

	if (n <= 0)
		return -1;
	exe[n] = 0;
	pathf(dir, sizeof(dir), "%s", dirname(exe));          /* build/release/bench */
	pathf(root, sizeof(root), "%s/../../..", dir);
	pathf(ext_bin, sizeof(ext_bin), "%s/build/ext/bin", root);
	if (lib)
		pathf(preload, sizeof(preload), "%s", lib);
	else
		pathf(preload, sizeof(preload), "%s/../libusermm_preload.so", dir);
	if (!realpath(preload, dir)) {
		printf("# bench_preload: skipped: the interposer %s is not built (make preload)\n", preload);
		return -1;
	}
	pathf(preload, sizeof(preload), "%s", dir);
	pathf(dir, sizeof(dir), "%s/tests/db/lmdb_dump.sh", root);
	if (access(dir, R_OK)) {
		printf("# bench_preload: skipped: no source tree at %s (tests/db)\n", root);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	char dump[PATH_MAX], ldb[PATH_MAX], sql_rb[PATH_MAX], sql_wal[PATH_MAX], st1[PATH_MAX];
	char records[32], kc_records[32], st_size[32];
	int nrec;

	bench_init(argc, argv, "LMDB, SQLite and Kyoto Cabinet natively and under the "
		   "LD_PRELOAD interposer: whole-process time and major faults");
	nrec = BENCH_SIZE(100000, 2000);
	bench_machine_line();
	print_loadavg();
	if (find_paths())
		return 0;
	pathf(tmp, sizeof(tmp), "%s/usermm-bench-preload.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmp)) {
		printf("# mkdtemp: %s, nothing measured\n", strerror(errno));
		return 1;
	}
	snprintf(records, sizeof(records), "%d", nrec);
	snprintf(kc_records, sizeof(kc_records), "%d", BENCH_SIZE(20000, 500));
	snprintf(st_size, sizeof(st_size), "%d", BENCH_SIZE(25, 1));

	if (have_program("mdb_load") && have_program("mdb_dump")) {
		pathf(dump, sizeof(dump), "%s/in.dump", tmp);
		pathf(ldb, sizeof(ldb), "%s/ldb", tmp);
		if (sh("sh '%s/tests/db/lmdb_dump.sh' %s >'%s' && mkdir '%s' && mdb_load -f '%s' '%s' && "
		       "mdb_dump -p '%s' >'%s.dump'", root, records, dump, ldb, dump, ldb, ldb, ldb)) {
			printf("# lmdb: generating and loading the dump failed, not measured\n");
			failed = 1;
		} else {
			char name[96], verify[2 * PATH_MAX];

			/* what mdb_load left, dumped natively: the records loaded */
			pathf(verify, sizeof(verify), "mdb_dump -p db | cmp -s - '%s.dump'", ldb);
			snprintf(name, sizeof(name), "lmdb mdb_load %s records", records);
			measure(&(struct workload){ name, { "mdb_load", "-f", dump, "db", NULL },
						    NULL, CHECK_OUTPUT, NULL, verify });
			snprintf(name, sizeof(name), "lmdb mdb_dump %s records", records);
			measure(&(struct workload){ name, { "mdb_dump", "-p", ldb, NULL },
						    NULL, CHECK_OUTPUT, NULL, NULL });
			snprintf(name, sizeof(name), "lmdb mdb_dump %s records, small memory", records);
			measure(&(struct workload){ name, { "mdb_dump", "-p", ldb, NULL },
						    NULL, CHECK_OUTPUT, SMALL_PHYS, NULL });
		}
	} else {
		printf("# lmdb: mdb_load / mdb_dump not installed (lmdb-utils; make dbtools), not measured\n");
	}

	if (have_program("sqlite3")) {
		pathf(sql_rb, sizeof(sql_rb), "%s/rollback.sql", tmp);
		pathf(sql_wal, sizeof(sql_wal), "%s/wal.sql", tmp);
		if (sh("for m in rollback wal; do { [ $m = wal ] && echo 'PRAGMA journal_mode=wal;' || "
		       "echo 'PRAGMA journal_mode=delete;'; echo '.parameter init'; "
		       "echo \".parameter set @rows %s\"; cat '%s/tests/db/sqlite_workload.sql'; } "
		       ">'%s'/$m.sql; done", records, root, tmp)) {
			printf("# sqlite: writing the scripts failed, not measured\n");
			failed = 1;
		} else {
			/* what the workload left, read natively, is sound */
			const char *v = "[ \"$(sqlite3 t.db 'PRAGMA integrity_check')\" = ok ]";
			char name[96];

			snprintf(name, sizeof(name), "sqlite %s rows, rollback", records);
			measure(&(struct workload){ name, { "sqlite3", "-bail", "t.db", NULL },
						    sql_rb, CHECK_OUTPUT, NULL, v });
			snprintf(name, sizeof(name), "sqlite %s rows, wal", records);
			measure(&(struct workload){ name, { "sqlite3", "-bail", "t.db", NULL },
						    sql_wal, CHECK_OUTPUT, NULL, v });
			snprintf(name, sizeof(name), "sqlite %s rows, rollback, small memory", records);
			measure(&(struct workload){ name, { "sqlite3", "-bail", "t.db", NULL },
						    sql_rb, CHECK_OUTPUT, SMALL_PHYS, v });
		}
	} else {
		printf("# sqlite: sqlite3 not installed (make dbtools), not measured\n");
	}
	pathf(st1, sizeof(st1), "%s/speedtest1", ext_bin);
	if (access(st1, X_OK) == 0) {
		char name[96];

		snprintf(name, sizeof(name), "sqlite speedtest1 --size %s", st_size);
		measure(&(struct workload){ name, { st1, "--size", st_size, "--verify", "--mmap",
						    "268435456", "st.db", NULL },
					    NULL, CHECK_HASH, NULL, NULL });
	} else {
		printf("# sqlite: speedtest1 not built (its source could not be fetched; make dbtools), not measured\n");
	}

	if (have_program("kchashtest")) {
		char name[96];

		snprintf(name, sizeof(name), "kc order -th 4, 4x%s records", kc_records);
		measure(&(struct workload){ name, { "kchashtest", "order", "-th", "4", "casket.kch",
						    kc_records, NULL },
					    NULL, CHECK_OK, NULL, NULL });
		snprintf(name, sizeof(name), "kc wicked -th 4, 4x%s records", kc_records);
		measure(&(struct workload){ name, { "kchashtest", "wicked", "-th", "4", "-it", "2",
						    "casket.kch", kc_records, NULL },
					    NULL, CHECK_OK, NULL, NULL });
		snprintf(name, sizeof(name), "kc order -th 4, 4x%s records, small memory", kc_records);
		measure(&(struct workload){ name, { "kchashtest", "order", "-th", "4", "casket.kch",
						    kc_records, NULL },
					    NULL, CHECK_OK, SMALL_PHYS, NULL });
	} else {
		printf("# kc: kchashtest not installed (kyotocabinet-utils; make dbtools), not measured\n");
	}
	sh("rm -rf '%s'", tmp);
	return failed;
}

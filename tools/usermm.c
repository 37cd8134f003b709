/* SPDX-License-Identifier: MIT */
/*
 * usermm - command-line front end.
 *
 *   usermm demo     the built-in scenario (default): a real file mapped
 *                   shared and private, anonymous memory, fork with
 *                   copy-on-write; prints maps and counters.
 *   usermm bench [bench_NAME...]
 *                   run every benchmark built next to this program
 *                   (build/release/bench/bench_*, in name order; or only
 *                   the named ones): usermm and the kernel side by side.
 *                   Each benchmark's output is passed through, then its
 *                   result lines are repeated as a markdown table (usermm,
 *                   kernel, ratio, caveat) ready for docs/BENCHMARKS.md.
 *                   `make bench` runs them all.
 *   usermm run SCRIPT...   run scenario scripts (tools/script.c, docs/SCRIPTS.md)
 *   usermm replay TRACE    replay a memory-access trace (tools/replay.c)
 *   usermm help [COMMAND], usermm --help, usermm COMMAND --help
 *
 * An unknown command or an unexpected argument is an error (exit 2).
 * Uses only the public API.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <limits.h>
#include <libgen.h>
#include <sys/wait.h>
#include <usermm/usermm.h>
#include "script.h"
#include "replay.h"

#define PAGE UMM_PAGE_SIZE

static int failures;

#define TRY(call) do { int __e = (call); if (__e < 0) { \
	fprintf(stderr, "demo: %s failed: %s\n", #call, umm_strerror(__e)); exit(1); } } while (0)

static void expect(int cond, const char *what)
{
	printf("  [%s] %s\n", cond ? "ok" : "UNEXPECTED", what);
	if (!cond)
		failures++;
}

static void show_counters(const char *who, struct umm_mm *mm)
{
	struct umm_mm_stats st;

	umm_mm_stats(mm, &st);
	printf("  %s: %lu VMAs, %lu pages mapped, rss anon %lu file %lu shmem %lu, "
	       "faults minor %lu major %lu cow %lu, %lu page-table pages\n",
	       who, st.nr_vmas, st.total_vm, st.rss_anon, st.rss_file, st.rss_shmem,
	       st.minor_faults, st.major_faults, st.cow_faults, st.pgtable_pages);
}

static void show_system(struct umm_system *sys)
{
	struct umm_sys_stats st;

	umm_system_stats(sys, &st);
	printf("  system: %lu frames, %lu free, %lu page-cache, %lu anon, %lu page-table, "
	       "%lu address spaces, %lu objects\n", st.total_frames, st.free_frames,
	       st.pagecache_pages, st.anon_pages, st.pgtable_pages, st.nr_mms, st.nr_objects);
}

static int make_file(char *path, size_t size)
{
	int fd = mkstemp(path);
	char line[64];

	if (fd < 0) { perror("mkstemp"); exit(1); }
	for (size_t off = 0; off < size; off += PAGE) {
		memset(line, 0, sizeof(line));
		snprintf(line, sizeof(line), "file page %zu: original text", off / PAGE);
		if (pwrite(fd, line, sizeof(line), (off_t)off) != (ssize_t)sizeof(line)) { perror("pwrite"); exit(1); }
	}
	if (ftruncate(fd, (off_t)size) < 0) { perror("ftruncate"); exit(1); }
	return fd;
}

static int demo(void)
{
	struct umm_config cfg = { .phys_bytes = 64UL << 20, .debug_checks = 1 };
	char path[] = "/tmp/usermm-demo-XXXXXX";
	struct umm_system *sys;
	struct umm_object *file;
	struct umm_mm *mm, *child;
	uintptr_t shared, priv, anon, shanon;
	char buf[64], disk[64];
	int fd, err;

	printf("usermm demo: one system, one address space, a real file, a fork\n\n");
	TRY(umm_system_create(&cfg, &sys));
	fd = make_file(path, 4 * PAGE);
	TRY(umm_object_open_fd(sys, fd, &file));
	close(fd);
	TRY(umm_mm_create(sys, &mm));

	printf("1. map %s shared and private, 1 MiB of private and 64 KiB of shared anonymous memory\n", path);
	TRY(umm_mmap(mm, 0, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, file, 0, &shared));
	TRY(umm_mmap(mm, 0, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, file, 0, &priv));
	TRY(umm_mmap(mm, 0, 256 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &anon));
	TRY(umm_mmap(mm, 0, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, NULL, 0, &shanon));
	umm_mm_dump_maps(mm, stdout);

	printf("\n2. read the file through both mappings (demand paging from the page cache)\n");
	TRY(umm_read(mm, shared, buf, sizeof(buf)));
	printf("  shared  @%#lx: \"%s\"\n", (unsigned long)shared, buf);
	TRY(umm_read(mm, priv + PAGE, buf, sizeof(buf)));
	printf("  private @%#lx: \"%s\"\n", (unsigned long)(priv + PAGE), buf);

	printf("\n3. write through the private mapping: copy-on-write, the file does not change\n");
	TRY(umm_write(mm, priv, "private copy", 13));
	TRY(umm_read(mm, shared, buf, sizeof(buf)));
	expect(strcmp(buf, "file page 0: original text") == 0, "shared mapping still shows the file");
	printf("\n4. write through the shared mapping, sync: the bytes reach the file on disk\n");
	TRY(umm_write(mm, shared + PAGE, "written through usermm", 23));
	TRY(umm_object_sync(file, 0, 0));
	fd = open(path, O_RDONLY);
	if (fd < 0 || pread(fd, disk, sizeof(disk), PAGE) != (ssize_t)sizeof(disk)) { perror(path); exit(1); }
	close(fd);
	printf("  on disk at offset 4096: \"%s\"\n", disk);
	expect(strcmp(disk, "written through usermm") == 0, "pwrite of the dirty page reached the file");

	printf("\n5. anonymous memory: reads map the zero page, writes allocate frames\n");
	TRY(umm_read(mm, anon + 10 * PAGE, buf, 8));
	TRY(umm_write(mm, anon, "parent data", 12));
	TRY(umm_write(mm, shanon, "shared anon", 12));
	show_counters("parent", mm);

	printf("\n6. fork: private pages become copy-on-write, shared ones stay shared\n");
	TRY(umm_fork(mm, &child));
	TRY(umm_write(mm, anon, "parent changed", 15));
	TRY(umm_read(child, anon, buf, sizeof(buf)));
	printf("  child reads its anonymous page: \"%s\"\n", buf);
	expect(strcmp(buf, "parent data") == 0, "child kept the pre-fork contents");
	TRY(umm_write(child, shanon, "from the child", 15));
	TRY(umm_read(mm, shanon, buf, sizeof(buf)));
	printf("  parent reads the shared anonymous page: \"%s\"\n", buf);
	expect(strcmp(buf, "from the child") == 0, "shared anonymous memory is shared across fork");
	show_counters("parent", mm);
	show_counters("child ", child);

	printf("\n7. protection and unmapping have the signals' meaning\n");
	TRY(umm_mprotect(mm, anon, PAGE, PROT_READ));
	err = umm_write(mm, anon, "x", 1);
	printf("  write to a read-only page: %s\n", umm_strerror(err));
	expect(err == -EFAULT, "write to PROT_READ page is -EFAULT (SIGSEGV)");
	TRY(umm_munmap(mm, anon + PAGE, PAGE));
	err = umm_read(mm, anon + PAGE, buf, 1);
	expect(err == -EFAULT, "read of an unmapped hole is -EFAULT");
	TRY(umm_object_truncate(file, PAGE));
	err = umm_read(mm, shared + 2 * PAGE, buf, 1);
	printf("  read past the end of a truncated file: %s\n", umm_strerror(err));
	expect(err == -EIO, "access past end of file is -EIO (SIGBUS)");

	printf("\n8. the address space now\n");
	umm_mm_dump_maps(mm, stdout);
	show_system(sys);

	umm_mm_destroy(child);
	umm_mm_destroy(mm);
	umm_object_put(file);
	unlink(path);
	printf("\nafter exit of both address spaces:\n");
	show_system(sys);
	umm_system_destroy(sys);
	printf("\ndemo %s\n", failures ? "FAILED" : "finished: every expectation held");
	return failures ? 1 : 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One result line of a benchmark (grammar in bench/bench.h). */
struct bench_row {
	char name[96];
	char usermm[32], kernel[32], ratio[16];
	char caveat[320];
};

#define MAX_ROWS 128

/* trim_copy - copy at most len bytes of src, without trailing blanks and newline. */
static void trim_copy(char *dst, size_t size, const char *src, size_t len)
{
	if (len >= size)
		len = size - 1;
	memcpy(dst, src, len);
	while (len && strchr(" \t\n", dst[len - 1]))
		len--;
	dst[len] = 0;
}

/*
 * parse_result - fill *row from "<name> usermm <x> ns [kernel <y> ns ratio
 * <r>]"; returns 1 if `line` is a result line, 0 if not.
 */
static int parse_result(const char *line, struct bench_row *row)
{
	const char *u = strstr(line, " usermm ");
	char unit1[16], unit2[16];
	double x, y;
	int n;

	if (line[0] == '#' || !u)
		return 0;
	memset(row, 0, sizeof(*row));
	n = sscanf(u, " usermm %lf %15s kernel %lf %15s ratio %15s", &x, unit1, &y, unit2, row->ratio);
	if (n < 2)
		return 0;
	trim_copy(row->name, sizeof(row->name), line, (size_t)(u - line));
	snprintf(row->usermm, sizeof(row->usermm), "%.1f", x);
	if (n == 5)
		snprintf(row->kernel, sizeof(row->kernel), "%.1f", y);
	else
		strcpy(row->ratio, "");
	return 1;
}

/* md_cell - text for a markdown table cell: a '|' would end the cell. */
static void md_cell(const char *text)
{
	for (; *text; text++)
		printf(*text == '|' ? "\\|" : "%c", *text);
}

/* print_table - a benchmark's result lines as one markdown table. */
static void print_table(const char *bench, const struct bench_row *rows, int n)
{
	if (!n)
		return;
	printf("\n| %s | usermm ns | kernel ns | ratio | caveat |\n|---|---:|---:|---:|---|\n", bench);
	for (int i = 0; i < n; i++) {
		printf("| ");
		md_cell(rows[i].name);
		printf(" | %s | %s | %s | ", rows[i].usermm, rows[i].kernel[0] ? rows[i].kernel : "-",
		       rows[i].ratio[0] ? rows[i].ratio : "-");
		md_cell(rows[i].caveat);
		printf(" |\n");
	}
	printf("\nratio = usermm / kernel, below 1 means usermm took less time; "
	       "n/a = different work, figures shown side by side only; - = no kernel counterpart.\n");
}

/*
 * run_one_bench - run one benchmark with its output through a pipe: pass it
 * through, collect its result lines and their caveats, then print the
 * table.  Returns 0 if it exited with status 0.
 */
static int run_one_bench(const char *path, const char *name)
{
	static struct bench_row rows[MAX_ROWS];
	char *line = NULL;
	size_t cap = 0;
	int pfd[2], status = 0, n = 0;
	pid_t pid;
	FILE *in;

	printf("## %s\n", name);
	fflush(stdout);
	if (pipe(pfd))
		return -1;
	pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		dup2(pfd[1], STDOUT_FILENO);
		close(pfd[1]);
		execl(path, path, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	if (pid < 0) {
		close(pfd[0]);
		return -1;
	}
	in = fdopen(pfd[0], "r");
	while (in && getline(&line, &cap, in) > 0) {
		fputs(line, stdout);
		fflush(stdout);
		if (!strncmp(line, "#   ^ ", 6) && n && !rows[n - 1].caveat[0])
			trim_copy(rows[n - 1].caveat, sizeof(rows[n - 1].caveat), line + 6,
				  strlen(line + 6));
		else if (n < MAX_ROWS && parse_result(line, &rows[n]))
			n++;
	}
	free(line);
	if (in)
		fclose(in);
	else
		close(pfd[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
		printf("# %s failed (status %#x)\n\n", name, status);
		return -1;
	}
	print_table(name, rows, n);
	printf("\n");
	return 0;
}

/* has_bench - is `name` in names[0..count)? */
static bool has_bench(char **names, int count, const char *name)
{
	for (int i = 0; i < count; i++)
		if (!strcmp(names[i], name))
			return true;
	return false;
}

/*
 * bench - run each bench_* program in <dir of this program>/bench, or only
 * the ones named in argv.  Returns 0 if all ran and exited 0, 1 if one
 * failed, 2 (before running any) for an argument that is not a benchmark.
 */
static int bench(int argc, char **argv)
{
	char self[PATH_MAX], dir[PATH_MAX + 8], *names[64];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	struct dirent *de;
	int count = 0, failed = 0, ran = 0;
	bool bad_name = false;
	DIR *d;

	for (int i = 0; i < argc; i++)
		if (strncmp(argv[i], "bench_", 6)) {
			fprintf(stderr, "usermm bench: unexpected argument '%s'\n"
				"usage: usermm bench [bench_NAME...]\n", argv[i]);
			return 2;
		}
	if (n <= 0)
		return 1;
	self[n] = 0;
	snprintf(dir, sizeof(dir), "%s/bench", dirname(self));
	d = opendir(dir);
	if (!d) {
		fprintf(stderr, "usermm bench: no benchmarks in %s (run make bench)\n", dir);
		return 1;
	}
	while ((de = readdir(d)) && count < 64)
		if (!strncmp(de->d_name, "bench_", 6))
			names[count++] = strdup(de->d_name);
	closedir(d);
	for (int i = 0; i < argc; i++)
		if (!has_bench(names, count, argv[i])) {
			fprintf(stderr, "usermm bench: no benchmark '%s' in %s\n", argv[i], dir);
			bad_name = true;
		}
	qsort(names, (size_t)count, sizeof(names[0]), cmp_names);
	for (int i = 0; i < count; i++) {
		char path[PATH_MAX * 2];
		bool wanted = argc == 0;

		for (int j = 0; j < argc; j++)
			if (!strcmp(names[i], argv[j]))
				wanted = true;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (!bad_name && wanted) {
			ran++;
			if (run_one_bench(path, names[i]))
				failed = 1;
		}
		free(names[i]);
	}
	if (bad_name)
		return 2;
	if (!ran) {
		fprintf(stderr, "usermm bench: no benchmarks in %s (run make bench)\n", dir);
		return 1;
	}
	return failed;
}

struct command {
	const char *name;
	const char *summary;
	const char *usage;          /* arguments after the name */
	int (*run)(int argc, char **argv);   /* the arguments after the name */
	int min_args, max_args;
};

static int run_demo(int argc, char **argv) { (void)argc; (void)argv; return demo(); }
static int run_bench(int argc, char **argv) { return bench(argc, argv); }
static int run_scripts(int argc, char **argv)
{
	int failed = 0;

	for (int i = 0; i < argc; i++)
		failed |= run_script(argv[i]);
	return failed;
}

static const struct command commands[] = {
	{ "demo",  "run the built-in scenario (files, anonymous memory, fork, the errors)",
	  "", run_demo, 0, 0 },
	{ "bench", "run the benchmarks (all, or the named ones): usermm and the kernel side by side",
	  "[bench_NAME...]", run_bench, 0, 16 },
	{ "run",   "run scenario scripts (docs/SCRIPTS.md, examples/scenarios/)", "SCRIPT...",
	  run_scripts, 1, 64 },
	{ "replay", "replay a memory-access trace (plain or valgrind lackey) and report faults",
	  "[--phys SIZE] [--rmap pte-chain|object] [--json] TRACE", replay_main, 1, 6 },
	{ "help",  "list the commands, or describe one", "[COMMAND]", NULL, 0, 1 },
};
#define NR_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < NR_COMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: usermm COMMAND [ARGS]   (usermm %s)\n\ncommands:\n", umm_version());
	for (size_t i = 0; i < NR_COMMANDS; i++)
		fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\nWith no command, usermm runs demo.\n");
}

static void command_usage(FILE *out, const struct command *c)
{
	fprintf(out, "usage: usermm %s%s%s\n  %s\n", c->name, *c->usage ? " " : "", c->usage,
		c->summary);
}

static bool is_help(const char *arg)
{
	return !strcmp(arg, "--help") || !strcmp(arg, "-h");
}

int main(int argc, char **argv)
{
	const struct command *c;

	if (argc < 2)
		return demo();
	if (is_help(argv[1])) {
		usage(stdout);
		return 0;
	}
	c = find_command(argv[1]);
	if (!c) {
		fprintf(stderr, "usermm: unknown command '%s'\n", argv[1]);
		usage(stderr);
		return 2;
	}
	if (!c->run) {                  /* help */
		const struct command *about;

		if (argc == 2) {
			usage(stdout);
			return 0;
		}
		about = argc == 3 ? find_command(argv[2]) : NULL;
		if (!about) {
			fprintf(stderr, "usermm help: unknown command '%s'\n", argv[2]);
			return 2;
		}
		command_usage(stdout, about);
		return 0;
	}
	if (argc == 3 && is_help(argv[2])) {
		command_usage(stdout, c);
		return 0;
	}
	if (argc - 2 > c->max_args) {
		fprintf(stderr, "usermm %s: unexpected argument '%s'\n", c->name, argv[2 + c->max_args]);
		command_usage(stderr, c);
		return 2;
	}
	if (argc - 2 < c->min_args) {
		fprintf(stderr, "usermm %s: missing arguments\n", c->name);
		command_usage(stderr, c);
		return 2;
	}
	return c->run(argc - 2, argv + 2);
}

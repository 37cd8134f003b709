/* SPDX-License-Identifier: MIT */
/*
 * bench_runner.c - `usermm bench`: runs the benchmark programs built next
 * to this one (build/release/bench/bench_*, in name order; or only the
 * named ones) and turns their result lines (grammar in bench/bench.h) into
 * markdown tables or JSON.
 *
 *   usermm bench [--quick] [--json | --json-file FILE] [NAME...]
 *   usermm bench --list
 *
 * Default output: each benchmark's own output passed through, then its
 * result lines repeated as a markdown table (usermm, kernel, ratio,
 * caveat).  --json: only JSON, one object per line per result line, with
 * bench, name, unit, usermm, kernel, kernel_variant, ratio, same_work,
 * caveat, quick and the extra figures the benchmark attached
 * ("#   + key value" lines).  --json-file FILE: the default output, and the
 * JSON lines written to FILE as well (what `make bench-report` uses, so
 * that one run gives both).  --quick passes --quick to every benchmark:
 * tiny sizes, for checking the output, never the speed (a benchmark that
 * does not print bench_init's "# quick run" line fails).  --list runs each
 * benchmark with --describe and prints its one-line summary.
 *
 * NAME is bench_NAME or NAME.  An unknown option or name exits 2 before
 * anything runs; a benchmark that fails makes the exit status 1.
 * Single-threaded; no locks.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <limits.h>
#include <libgen.h>
#include <sys/wait.h>
#include "bench_runner.h"

#define MAX_ROWS   256
#define MAX_EXTRAS 12
#define MAX_BENCH  64

/* One result line of a benchmark and the lines that belong to it. */
struct bench_row {
	char name[96];
	char unit[16];
	double usermm, kernel;
	bool has_kernel, same_work;
	char caveat[320];
	int nr_extras;
	struct {
		char key[32];
		char value[160];
	} extra[MAX_EXTRAS];
};

struct bench_opts {
	bool quick, json;
	FILE *json_out;         /* where JSON lines go, or NULL */
};

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

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
 * figure - parse "<x> <unit> [ignored words...]" up to `stop` (a keyword
 * or NULL for the end of the line); returns the rest after `stop`'s
 * keyword, or NULL when the text does not start with a number and a unit.
 */
static const char *figure(const char *p, const char *stop, double *x, char *unit, size_t usize)
{
	char *end;
	size_t n;

	*x = strtod(p, &end);
	if (end == p)
		return NULL;
	p = end + strspn(end, " \t");
	n = strcspn(p, " \t\n");
	if (!n || n >= usize)
		return NULL;
	memcpy(unit, p, n);
	unit[n] = 0;
	if (!stop)
		return p + n;
	p = strstr(p + n, stop);
	return p ? p + strlen(stop) : "";
}

/*
 * parse_result - fill *row from "<name> usermm <x> <unit> [kernel <y>
 * <unit> ratio <r|n/a>]"; returns 1 if `line` is a result line, 0 if not.
 */
static int parse_result(const char *line, struct bench_row *row)
{
	const char *u = strstr(line, " usermm "), *k;
	char kunit[16];

	if (line[0] == '#' || !u)
		return 0;
	memset(row, 0, sizeof(*row));
	k = figure(u + 8, " kernel ", &row->usermm, row->unit, sizeof(row->unit));
	if (!k)
		return 0;
	trim_copy(row->name, sizeof(row->name), line, (size_t)(u - line));
	if (*k) {
		const char *r = figure(k, " ratio ", &row->kernel, kunit, sizeof(kunit));

		if (r && *r) {
			row->has_kernel = true;
			r += strspn(r, " \t");
			row->same_work = strncmp(r, "n/a", 3) != 0;
		}
	}
	return 1;
}

/* parse_extra - a "#   + key value" line into the row above it; 1 if it was one. */
static int parse_extra(const char *line, struct bench_row *row)
{
	const char *p = line + 6;
	size_t n;

	if (strncmp(line, "#   + ", 6))
		return 0;
	n = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_");
	if (!n || p[n] != ' ' || n >= sizeof(row->extra[0].key))
		return 0;
	if (row->nr_extras == MAX_EXTRAS)
		return 1;
	memcpy(row->extra[row->nr_extras].key, p, n);
	row->extra[row->nr_extras].key[n] = 0;
	trim_copy(row->extra[row->nr_extras].value, sizeof(row->extra[0].value), p + n + 1,
		  strlen(p + n + 1));
	row->nr_extras++;
	return 1;
}

static const char *row_extra(const struct bench_row *row, const char *key)
{
	for (int i = 0; i < row->nr_extras; i++)
		if (!strcmp(row->extra[i].key, key))
			return row->extra[i].value;
	return NULL;
}

/* md_cell - text for a markdown table cell: a '|' would end the cell. */
static void md_cell(const char *text)
{
	for (; *text; text++)
		printf(*text == '|' ? "\\|" : "%c", *text);
}

/* fmt_ratio - the table's ratio cell. */
static void fmt_ratio(const struct bench_row *r, char *buf, size_t size)
{
	if (!r->has_kernel)
		snprintf(buf, size, "-");
	else if (!r->same_work || r->kernel <= 0)
		snprintf(buf, size, "n/a");
	else
		snprintf(buf, size, "%.2f", r->usermm / r->kernel);
}

/*
 * print_table - a benchmark's result lines as one markdown table; the
 * figures' unit is in the header when all rows share it, else a column.
 */
static void print_table(const char *bench, const struct bench_row *rows, int n)
{
	bool one_unit = true;

	if (!n)
		return;
	for (int i = 1; i < n; i++)
		one_unit &= !strcmp(rows[i].unit, rows[0].unit);
	if (one_unit)
		printf("\n| %s | usermm %s | kernel %s | ratio | caveat |\n|---|---:|---:|---:|---|\n",
		       bench, rows[0].unit, rows[0].unit);
	else
		printf("\n| %s | usermm | kernel | unit | ratio | caveat |\n|---|---:|---:|---|---:|---|\n",
		       bench);
	for (int i = 0; i < n; i++) {
		char ratio[16], kernel[32];

		fmt_ratio(&rows[i], ratio, sizeof(ratio));
		if (rows[i].has_kernel)
			snprintf(kernel, sizeof(kernel), "%.1f", rows[i].kernel);
		else
			snprintf(kernel, sizeof(kernel), "-");
		printf("| ");
		md_cell(rows[i].name);
		printf(" | %.1f | %s | ", rows[i].usermm, kernel);
		if (!one_unit)
			printf("%s | ", rows[i].unit);
		printf("%s | ", ratio);
		md_cell(rows[i].caveat);
		printf(" |\n");
	}
	printf("\nratio = usermm / kernel, below 1 means usermm took less time; "
	       "n/a = different work, figures shown side by side only; - = no kernel counterpart.\n");
}

/* json_str - `s` as a JSON string. */
static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* json_num - a figure, or null when it is not a finite number (a benchmark printed nan). */
static void json_num(FILE *f, double v, const char *fmt)
{
	if (isfinite(v))
		fprintf(f, fmt, v);
	else
		fprintf(f, "null");
}

/* digits - skip [0-9]+ at *p; false if there is none. */
static bool digits(const char **p)
{
	const char *q = *p;

	while (**p >= '0' && **p <= '9')
		(*p)++;
	return *p != q;
}

/* is_json_number - is `s`, whole, a number as JSON writes one? */
static bool is_json_number(const char *s)
{
	if (*s == '-')
		s++;
	if (*s == '0')
		s++;
	else if (!digits(&s))
		return false;
	if (*s == '.' && (s++, !digits(&s)))
		return false;
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!digits(&s))
			return false;
	}
	return !*s;
}

/* print_json - one JSON object per result line. */
static void print_json(FILE *f, const char *bench, const struct bench_row *rows, int n, bool quick)
{
	for (int i = 0; i < n; i++) {
		const struct bench_row *r = &rows[i];
		const char *variant = row_extra(r, "kernel_variant");

		fprintf(f, "{\"bench\":");
		json_str(f, bench);
		fprintf(f, ",\"name\":");
		json_str(f, r->name);
		fprintf(f, ",\"unit\":");
		json_str(f, r->unit);
		fprintf(f, ",\"usermm\":");
		json_num(f, r->usermm, "%.6g");
		fprintf(f, ",\"kernel\":");
		json_num(f, r->has_kernel ? r->kernel : NAN, "%.6g");
		fprintf(f, ",\"kernel_variant\":");
		if (!r->has_kernel)
			fprintf(f, "null");
		else
			json_str(f, variant ? variant : "linux");
		fprintf(f, ",\"ratio\":");
		json_num(f, r->has_kernel && r->same_work && r->kernel > 0 ? r->usermm / r->kernel : NAN,
			 "%.4g");
		fprintf(f, ",\"same_work\":%s,\"caveat\":", r->has_kernel && !r->same_work ? "false" : "true");
		if (r->caveat[0])
			json_str(f, r->caveat);
		else
			fprintf(f, "null");
		fprintf(f, ",\"quick\":%s", quick ? "true" : "false");
		for (int e = 0; e < r->nr_extras; e++) {
			static const char *const fixed[] = {
				"bench", "name", "unit", "usermm", "kernel", "kernel_variant",
				"ratio", "same_work", "caveat", "quick",
			};
			bool dup = false;

			for (size_t j = 0; j < sizeof(fixed) / sizeof(fixed[0]); j++)
				dup |= !strcmp(r->extra[e].key, fixed[j]);
			for (int j = 0; j < e; j++)
				dup |= !strcmp(r->extra[e].key, r->extra[j].key);
			if (dup)
				continue;
			fprintf(f, ",");
			json_str(f, r->extra[e].key);
			fprintf(f, ":");
			if (is_json_number(r->extra[e].value))
				fprintf(f, "%s", r->extra[e].value);
			else
				json_str(f, r->extra[e].value);
		}
		fprintf(f, "}\n");
	}
	fflush(f);
}

/*
 * spawn - run `path` with one optional argument, its stdout into a pipe;
 * returns the read end as a FILE (and *pid), or NULL.
 */
static FILE *spawn(const char *path, const char *arg, pid_t *pid)
{
	int pfd[2];
	FILE *in;

	fflush(stdout);
	if (pipe(pfd))
		return NULL;
	*pid = fork();
	if (*pid == 0) {
		close(pfd[0]);
		dup2(pfd[1], STDOUT_FILENO);
		close(pfd[1]);
		execl(path, path, arg, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	if (*pid < 0) {
		close(pfd[0]);
		return NULL;
	}
	in = fdopen(pfd[0], "r");
	if (!in) {
		close(pfd[0]);
		waitpid(*pid, NULL, 0);
	}
	return in;
}

/*
 * run_one_bench - run one benchmark: pass its output through (not with
 * --json), collect its result lines with their caveats and extras, then
 * print the table and/or the JSON lines.  Returns 0 if it exited with
 * status 0.
 */
static int run_one_bench(const char *path, const char *name, const struct bench_opts *o)
{
	static struct bench_row rows[MAX_ROWS];
	char *line = NULL;
	size_t cap = 0;
	int status = 0, n = 0;
	bool quick_seen = false;
	pid_t pid;
	FILE *in;

	if (!o->json)
		printf("## %s\n", name);
	in = spawn(path, o->quick ? "--quick" : NULL, &pid);
	if (!in)
		return -1;
	while (getline(&line, &cap, in) > 0) {
		if (!o->json) {
			fputs(line, stdout);
			fflush(stdout);
		}
		if (!strncmp(line, "# quick run", 11))
			quick_seen = true;
		if (!strncmp(line, "#   ^ ", 6) && n && !rows[n - 1].caveat[0])
			trim_copy(rows[n - 1].caveat, sizeof(rows[n - 1].caveat), line + 6,
				  strlen(line + 6));
		else if (n && parse_extra(line, &rows[n - 1]))
			;
		else if (n < MAX_ROWS && parse_result(line, &rows[n]))
			n++;
	}
	free(line);
	fclose(in);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
		if (o->json)
			fprintf(stderr, "usermm bench: %s failed (status %#x)\n", name, status);
		else
			printf("# %s failed (status %#x)\n\n", name, status);
		return -1;
	}
	if (o->quick && !quick_seen) {
		/* its figures would be passed off as a quick run's, or it ran full size */
		fprintf(stderr, "usermm bench: %s does not honour --quick (its main() must call "
			"bench_init, see bench/bench.h)\n", name);
		if (!o->json)
			printf("# %s does not honour --quick\n\n", name);
		return -1;
	}
	if (o->json_out)
		print_json(o->json_out, name, rows, n, o->quick);
	if (!o->json) {
		print_table(name, rows, n);
		printf("\n");
	}
	return 0;
}

/*
 * describe - the summary `path --describe` prints ("summary: <text>", see
 * bench_init in bench/bench.h), or a placeholder.
 */
static void describe(const char *path, char *buf, size_t size)
{
	static const char none[] = "(no description: does its main() call bench_init?)";
	char line[512] = "";
	FILE *in;
	pid_t pid;
	int status;

	snprintf(buf, size, "%s", none);
	in = spawn(path, "--describe", &pid);
	if (!in)
		return;
	if (fgets(line, (int)sizeof(line), in))
		line[strcspn(line, "\n")] = 0;
	while (fgetc(in) != EOF)        /* let it finish writing */
		;
	fclose(in);
	if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) && !WEXITSTATUS(status) &&
	    !strncmp(line, "summary: ", 9))
		trim_copy(buf, size, line + 9, strlen(line + 9));
}

static void bench_usage(FILE *out)
{
	fprintf(out, "usage: usermm bench [--quick] [--json | --json-file FILE] [NAME...]\n"
		"       usermm bench --list\n");
}

/* wanted - is benchmark `name` (bench_X) among the names asked for (bench_X or X)? */
static bool wanted(const char *name, char **want, int nr_want)
{
	if (!nr_want)
		return true;
	for (int i = 0; i < nr_want; i++)
		if (!strcmp(name, want[i]) || !strcmp(name + 6, want[i]))
			return true;
	return false;
}

/**
 * bench_main - `usermm bench` with its arguments (after the command name).
 * Returns 0 if every benchmark asked for ran and exited 0, 1 if one failed
 * (or none was found), 2 for a bad option or name (before running any).
 */
int bench_main(int argc, char **argv)
{
	char self[PATH_MAX], dir[PATH_MAX + 8], *names[MAX_BENCH], *want[MAX_BENCH];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	struct bench_opts o = { 0 };
	const char *json_file = NULL;
	bool list = false, bad = false;
	int count = 0, nr_want = 0, failed = 0, ran = 0;
	struct dirent *de;
	DIR *d;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			o.quick = true;
		} else if (!strcmp(argv[i], "--json")) {
			o.json = true;
		} else if (!strcmp(argv[i], "--list")) {
			list = true;
		} else if (!strcmp(argv[i], "--json-file") && i + 1 < argc) {
			json_file = argv[++i];
		} else if (argv[i][0] == '-' || nr_want == MAX_BENCH) {
			fprintf(stderr, "usermm bench: unexpected argument '%s'\n", argv[i]);
			bench_usage(stderr);
			return 2;
		} else {
			want[nr_want++] = argv[i];
		}
	}
	if ((o.json && json_file) || (list && (o.json || json_file || o.quick || nr_want))) {
		fprintf(stderr, "usermm bench: --list stands alone, --json and --json-file exclude each other\n");
		bench_usage(stderr);
		return 2;
	}
	if (n <= 0)
		return 1;
	self[n] = 0;
	snprintf(dir, sizeof(dir), "%s/bench", dirname(self));
	d = opendir(dir);
	if (!d) {
		fprintf(stderr, "usermm bench: no benchmarks in %s (run make benches)\n", dir);
		return 1;
	}
	while ((de = readdir(d)) && count < MAX_BENCH)
		if (!strncmp(de->d_name, "bench_", 6))
			names[count++] = strdup(de->d_name);
	closedir(d);
	qsort(names, (size_t)count, sizeof(names[0]), cmp_names);
	for (int i = 0; i < nr_want; i++) {
		bool found = false;

		for (int j = 0; j < count; j++)
			found |= wanted(names[j], &want[i], 1);
		if (!found) {
			fprintf(stderr, "usermm bench: no benchmark '%s' in %s\n", want[i], dir);
			bad = true;
		}
	}
	if (bad)
		goto out;
	if (json_file) {
		o.json_out = fopen(json_file, "w");
		if (!o.json_out) {
			fprintf(stderr, "usermm bench: %s: %s\n", json_file, strerror(errno));
			failed = 1;
			goto out;
		}
	} else if (o.json) {
		o.json_out = stdout;
	}
	for (int i = 0; i < count; i++) {
		char path[PATH_MAX * 2];

		if (!wanted(names[i], want, nr_want))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		ran++;
		if (list) {
			char summary[256];

			describe(path, summary, sizeof(summary));
			printf("  %-16s %s\n", names[i], summary);
		} else if (run_one_bench(path, names[i], &o)) {
			failed = 1;
		}
	}
	if (o.json_out && o.json_out != stdout && fclose(o.json_out)) {
		fprintf(stderr, "usermm bench: %s: %s\n", json_file, strerror(errno));
		failed = 1;
	}
	if (!ran) {
		fprintf(stderr, "usermm bench: no benchmarks in %s (run make benches)\n", dir);
		failed = 1;
	}
out:
	for (int i = 0; i < count; i++)
		free(names[i]);
	return bad ? 2 : failed;
}

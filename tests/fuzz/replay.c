/* SPDX-License-Identifier: MIT */
/*
 * replay.c - run the fuzz target (fuzz_api.c) over a corpus without
 * libFuzzer, so that it builds with gcc in the ASan+UBSan variant and runs
 * in `make check` (as build/asan/tests/test_fuzz_replay).
 *
 * Usage: test_fuzz_replay [file-or-directory...]; without arguments it
 * runs every file of tests/fuzz/corpus (from the repository root).  A
 * finding aborts with the fuzz target's report; otherwise it prints how
 * many inputs ran and how many failure-injection points they swept.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "fuzz.h"

static unsigned long nr_inputs;

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	long n;

	if (!f) {
		perror(path);
		return 1;
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc(n > 0 ? (size_t)n : 1);
	if (!buf || (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)) {
		perror(path);
		fclose(f);
		free(buf);
		return 1;
	}
	fclose(f);
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "== %s\n", path);
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	free(buf);
	nr_inputs++;
	return 0;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_path(const char *path)
{
	struct stat st;
	struct dirent *d;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int err = 0;
	DIR *dir;

	if (stat(path, &st) != 0) {
		perror(path);
		return 1;
	}
	if (!S_ISDIR(st.st_mode))
		return run_file(path);
	dir = opendir(path);
	if (!dir) {
		perror(path);
		return 1;
	}
	while ((d = readdir(dir))) {
		char *full;

		if (d->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			names = realloc(names, cap * sizeof(*names));
			if (!names)
				abort();
		}
		full = malloc(strlen(path) + strlen(d->d_name) + 2);
		if (!full)
			abort();
		sprintf(full, "%s/%s", path, d->d_name);
		names[n++] = full;
	}
	closedir(dir);
	qsort(names, n, sizeof(*names), cmp);    /* the same order on every run */
	for (size_t i = 0; i < n; i++) {
		err |= run_file(names[i]);
		free(names[i]);
	}
	free(names);
	return err;
}

int main(int argc, char **argv)
{
	struct timespec t0, t1;
	int err = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (argc < 2)
		err = run_path("tests/fuzz/corpus");
	for (int i = 1; i < argc; i++)
		err |= run_path(argv[i]);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fprintf(stderr, "test_fuzz_replay: %lu inputs without a finding in %.1f s, "
		"%lu failure-injection points swept\n", nr_inputs,
		(double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
		fuzz_injection_points());
	fuzz_print_stats(stderr);
	if (err || nr_inputs == 0) {
		fprintf(stderr, "test_fuzz_replay: %s\n", err ? "unreadable input" : "no inputs");
		return 1;
	}
	return 0;
}

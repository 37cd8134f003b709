/* SPDX-License-Identifier: MIT */
/*
 * usermm - command-line front end: dispatches to the commands.
 *
 *   usermm demo            the built-in scenario (default; tools/demo.c)
 *   usermm bench ...       the benchmarks, tables and JSON (tools/bench_runner.c)
 *   usermm run SCRIPT...   scenario scripts (tools/script.c, docs/SCRIPTS.md)
 *   usermm replay TRACE    a memory-access trace (tools/replay.c)
 *   usermm help [COMMAND], usermm --help, usermm COMMAND --help
 *
 * An unknown command or an unexpected argument is an error (exit 2).
 * Uses only the public API.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <usermm/usermm.h>
#include "bench_runner.h"
#include "demo.h"
#include "replay.h"
#include "script.h"

struct command {
	const char *name;
	const char *summary;
	const char *usage;          /* arguments after the name */
	const char *details;        /* what `usermm COMMAND --help` adds */
	int (*run)(int argc, char **argv);   /* the arguments after the name */
	int min_args, max_args;
};

static int run_scripts(int argc, char **argv)
{
	int failed = 0;

	for (int i = 0; i < argc; i++)
		failed |= run_script(argv[i]);
	return failed;
}

static const struct command commands[] = {
	{ "demo",  "run the built-in scenario (files, anonymous memory, fork, the errors, prefault, remap)",
	  "",
	  "A data file mapped shared and private, copy-on-write, writeback, fork, the\n"
	  "signal-style errors, MAP_POPULATE and umm_prepage, umm_remap_file_pages;\n"
	  "each section prints the counters that prove it and [ok] lines; a capability\n"
	  "not in this build is skipped with one line.  Exit 0 when every [ok] held.\n",
	  demo_main, 0, 0 },
	{ "bench", "run the benchmarks (all, or the named ones): usermm and the kernel side by side",
	  "[--quick] [--json | --json-file FILE] [NAME...] | --list",
	  "  NAME              bench_NAME or NAME: run only these (an unknown one: exit 2)\n"
	  "  --list            each benchmark with one line on what it measures\n"
	  "  --quick           tiny sizes: checks that the benchmarks run, figures mean nothing\n"
	  "  --json            only JSON on stdout, one object per line per measurement:\n"
	  "                    bench, name, unit, usermm, kernel, kernel_variant, ratio\n"
	  "                    (usermm/kernel, null for different work), same_work, caveat,\n"
	  "                    quick and the benchmark's extra figures\n"
	  "  --json-file FILE  the usual output, and the JSON lines written to FILE\n"
	  "Without --json: each benchmark's output, then its results as a markdown table.\n"
	  "`make bench` runs them all; `make bench-report` writes docs/BENCHMARKS.md.\n",
	  bench_main, 0, 64 },
	{ "run",   "run scenario scripts (docs/SCRIPTS.md, examples/scenarios/)", "SCRIPT...",
	  "Each script runs in a system of its own; an error names the file and line\n"
	  "and makes the exit status 1.  The language is in docs/SCRIPTS.md.\n",
	  run_scripts, 1, 64 },
	{ "replay", "replay a memory-access trace (plain or valgrind lackey) and report faults",
	  "[--phys SIZE] [--swap SIZE [--swap-file PATH]] [--rmap pte-chain|object] [--json]\n"
	  "                    [--progress | --no-progress] TRACE",
	  "  TRACE             plain \"R|W ADDR [SIZE [ASID]]\" lines, or the output of\n"
	  "                    valgrind --tool=lackey --trace-mem=yes; - reads stdin\n"
	  "  --phys SIZE       physical memory (K, M, G suffixes; default 64M)\n"
	  "  --swap SIZE       swap space, in a temporary file or --swap-file PATH\n"
	  "                    (a build without swap says so and exits 1)\n"
	  "  --rmap SCHEME     reverse-map scheme: pte-chain or object\n"
	  "  --json            one JSON object instead of the text report\n"
	  "  --progress        a progress bar on stderr even when it is not a terminal\n"
	  "                    (on a terminal it is on; --no-progress turns it off)\n"
	  "Reports accesses, faults (minor, major, copy-on-write), resident pages and\n"
	  "time.  The progress bar needs a trace read from a file (not stdin).\n",
	  replay_main, 1, 11 },
	{ "help",  "list the commands, or describe one", "[COMMAND]", "", NULL, 0, 1 },
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

static void command_usage(FILE *out, const struct command *c, bool details)
{
	fprintf(out, "usage: usermm %s%s%s\n  %s\n", c->name, *c->usage ? " " : "", c->usage,
		c->summary);
	if (details && *c->details)
		fprintf(out, "\n%s", c->details);
}

static bool is_help(const char *arg)
{
	return !strcmp(arg, "--help") || !strcmp(arg, "-h");
}

int main(int argc, char **argv)
{
	const struct command *c;

	if (argc < 2)
		return demo_main(0, NULL);
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

		if (argc == 3 && is_help(argv[2])) {
			command_usage(stdout, c, true);
			return 0;
		}
		if (argc == 2) {
			usage(stdout);
			return 0;
		}
		about = argc == 3 ? find_command(argv[2]) : NULL;
		if (!about) {
			fprintf(stderr, "usermm help: unknown command '%s'\n", argv[2]);
			return 2;
		}
		command_usage(stdout, about, true);
		return 0;
	}
	for (int i = 2; i < argc; i++)
		if (is_help(argv[i])) {
			command_usage(stdout, c, true);
			return 0;
		}
	if (argc - 2 > c->max_args) {
		fprintf(stderr, "usermm %s: unexpected argument '%s'\n", c->name, argv[2 + c->max_args]);
		command_usage(stderr, c, false);
		return 2;
	}
	if (argc - 2 < c->min_args) {
		fprintf(stderr, "usermm %s: missing arguments\n", c->name);
		command_usage(stderr, c, false);
		return 2;
	}
	return c->run(argc - 2, argv + 2);
}

/* SPDX-License-Identifier: MIT */
/*
 * replay.c - `usermm replay TRACE`: run a memory-access trace through
 * usermm address spaces and report what the VM did.
 *
 * Two trace formats, recognised line by line:
 *   plain   "R ADDR [SIZE [ASID]]" or "W ADDR [SIZE [ASID]]": ADDR in hex
 *           (0x optional) or decimal, SIZE in bytes (default 8, at most
 *           4096), ASID a small number naming an address space (default 0).
 *   lackey  valgrind --tool=lackey --trace-mem=yes output: " L ADDR,SIZE"
 *           (load), " S ADDR,SIZE" (store), " M ADDR,SIZE" (modify: load
 *           then store); "I" (instruction) and "==" lines are skipped.
 * Blank lines and lines starting with '#' are skipped; anything else is an
 * error with its line number.
 *
 * The traced program's memory is emulated with private anonymous memory:
 * the first access to an unmapped address maps the 64 KiB-aligned chunk
 * around it (MAP_FIXED_NOREPLACE), so the trace's layout is kept.  Each
 * access is a umm_read or umm_write of SIZE bytes.  Reported: accesses,
 * chunks mapped, minor, major and copy-on-write faults, resident pages at
 * the end, time, and accesses per second; --json prints one JSON object.
 *
 * Options: --phys SIZE (physical memory), --swap SIZE (swap space, in a
 * temporary file unlinked once the system is created, or in --swap-file
 * PATH), --rmap SCHEME; the report repeats them.  A library built without
 * swap refuses a swap file with -EOPNOTSUPP, and replay says so.  Reclaim
 * and swap traffic are not reported yet (the statistics do not exist).  On a terminal, a trace read from a
 * file gets a progress bar on stderr (share of the file read, accesses,
 * accesses per second), drawn after the first 4096 accesses and then at
 * most ten times a second, erased at the end; --progress draws it when
 * stderr is not a terminal too, --no-progress never.
 *
 * Uses only the public API.  Single-threaded; no locks.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <usermm/usermm.h>
#include "replay.h"

#define CHUNK    (64UL << 10)
#define MAX_ASID 16

struct replay {
	struct umm_system *sys;
	struct umm_mm *mm[MAX_ASID];
	unsigned long accesses, reads, writes, chunks;
};

static int parse_size_arg(const char *s, size_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (end == s || errno)
		return -1;
	switch (toupper((unsigned char)*end)) {
	case 'K': v <<= 10; end++; break;
	case 'M': v <<= 20; end++; break;
	case 'G': v <<= 30; end++; break;
	default: break;
	}
	if (*end)
		return -1;
	*out = (size_t)v;
	return 0;
}

/* parse_line - 1 with an access, 0 for a line to skip, -1 for a bad line. */
static int parse_line(char *line, bool *write, bool *modify, uint64_t *addr, size_t *size,
		      unsigned int *asid)
{
	char *p = line, *end;
	unsigned long long v;

	*modify = false;
	*asid = 0;
	*size = 8;
	if (line[0] == '=' || line[0] == '#' || line[0] == 'I')
		return 0;
	if (line[0] == ' ' && (line[1] == 'L' || line[1] == 'S' || line[1] == 'M') && line[2] == ' ') {
		*write = line[1] != 'L';
		*modify = line[1] == 'M';
		errno = 0;
		v = strtoull(line + 3, &end, 16);
		if (end == line + 3 || *end != ',' || errno)
			return -1;
		*addr = v;
		v = strtoull(end + 1, &end, 10);
		if (v == 0 || v > UMM_PAGE_SIZE)
			return -1;
		*size = (size_t)v;
		return 1;
	}
	while (isspace((unsigned char)*p))
		p++;
	if (!*p)
		return 0;
	if ((*p != 'R' && *p != 'W') || !isspace((unsigned char)p[1]))
		return -1;
	*write = *p == 'W';
	p += 2;
	errno = 0;
	v = strtoull(p, &end, 16);
	if (end == p || errno)
		return -1;
	*addr = v;
	p = end;
	v = strtoull(p, &end, 0);
	if (end != p) {
		if (v == 0 || v > UMM_PAGE_SIZE)
			return -1;
		*size = (size_t)v;
		p = end;
		v = strtoull(p, &end, 0);
		if (end != p) {
			if (v >= MAX_ASID)
				return -1;
			*asid = (unsigned int)v;
			p = end;
		}
	}
	while (isspace((unsigned char)*p))
		p++;
	return *p ? -1 : 1;
}

/* access_one - one access; maps the chunk(s) it needs on first use. */
static int access_one(struct replay *r, struct umm_mm *mm, bool write, uint64_t addr, size_t size)
{
	unsigned char buf[UMM_PAGE_SIZE];

	memset(buf, 0x5a, size);
	for (int tries = 0; tries < 3; tries++) {
		int err = write ? umm_write(mm, addr, buf, size) : umm_read(mm, addr, buf, size);
		uintptr_t chunk, out;

		if (err != -EFAULT)
			return err;
		/* map every chunk the access spans that is not mapped yet */
		for (chunk = addr & ~(CHUNK - 1); chunk < addr + size; chunk += CHUNK) {
			err = umm_mmap(mm, chunk, CHUNK, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, NULL, 0, &out);
			if (err == 0)
				r->chunks++;
			else if (err != -EEXIST)
				return err;
		}
	}
	return -EFAULT;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void usage_error(const char *msg)
{
	fprintf(stderr, "usermm replay: %s\n"
		"usage: usermm replay [--phys SIZE] [--swap SIZE [--swap-file PATH]] "
		"[--rmap pte-chain|object] [--json] [--[no-]progress] TRACE\n", msg);
}

/* progress_bar - one redraw of the progress line: done of total bytes read. */
static void progress_bar(off_t done, off_t total, unsigned long accesses, double secs)
{
	enum { WIDTH = 30 };
	int fill = total > 0 ? (int)((double)done * WIDTH / (double)total) : 0;
	char bar[WIDTH + 1];

	if (fill > WIDTH)
		fill = WIDTH;
	memset(bar, '#', (size_t)fill);
	memset(bar + fill, '.', (size_t)(WIDTH - fill));
	bar[WIDTH] = 0;
	fprintf(stderr, "\r[%s] %3d%%  %lu accesses  %.0f/s", bar,
		total > 0 ? (int)((double)done * 100 / (double)total) : 0, accesses,
		secs > 0 ? (double)accesses / secs : 0.0);
}

/*
 * open_swap - the swap file for --swap: `path` if given, else a temporary
 * file (its name into tmp, unlinked by the caller).  0 or -1 (reported).
 */
static int open_swap(struct umm_config *cfg, const char *path, char *tmp)
{
	int fd;

	if (path) {
		cfg->swap_path = path;
		return 0;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		fprintf(stderr, "usermm replay: swap file %s: %s\n", tmp, strerror(errno));
		return -1;
	}
	close(fd);
	cfg->swap_path = tmp;
	return 0;
}

/**
 * replay_main - `usermm replay` with its arguments.  Returns 0, 1 when the
 * replay failed (a bad line, an access error), 2 for bad arguments.
 */
int replay_main(int argc, char **argv)
{
	struct umm_config cfg = { .phys_bytes = 64 << 20 };
	const char *path = NULL, *swap_file = NULL;
	char swap_tmp[] = "/tmp/usermm-replay-swap-XXXXXX";
	bool json = false, progress = isatty(STDERR_FILENO), drawn = false;
	off_t total_bytes = 0;
	const char *rmap_name;
	double last_draw = 0;
	struct replay r = { 0 };
	struct umm_mm_stats total = { 0 };
	unsigned long lineno = 0, mms = 0;
	char line[512];
	double t0, t;
	FILE *f;
	int rc = 0, err;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--phys") && i + 1 < argc) {
			if (parse_size_arg(argv[++i], &cfg.phys_bytes)) {
				usage_error("bad --phys size");
				return 2;
			}
		} else if (!strcmp(argv[i], "--progress")) {
			progress = true;
		} else if (!strcmp(argv[i], "--no-progress")) {
			progress = false;
		} else if (!strcmp(argv[i], "--swap") && i + 1 < argc) {
			if (parse_size_arg(argv[++i], &cfg.swap_bytes) || !cfg.swap_bytes) {
				usage_error("bad --swap size");
				return 2;
			}
		} else if (!strcmp(argv[i], "--swap-file") && i + 1 < argc) {
			swap_file = argv[++i];
		} else if (!strcmp(argv[i], "--rmap") && i + 1 < argc) {
			i++;
			if (!strcmp(argv[i], "pte-chain"))
				cfg.rmap = UMM_RMAP_PTE_CHAIN;
			else if (!strcmp(argv[i], "object"))
				cfg.rmap = UMM_RMAP_OBJECT;
			else {
				usage_error("--rmap takes pte-chain or object");
				return 2;
			}
		} else if (argv[i][0] == '-' && argv[i][1]) {
			usage_error("unknown option");
			return 2;
		} else if (path) {
			usage_error("one trace at a time");
			return 2;
		} else {
			path = argv[i];
		}
	}
	if (!path) {
		usage_error("no trace");
		return 2;
	}
	if (swap_file && !cfg.swap_bytes) {
		usage_error("--swap-file needs --swap SIZE");
		return 2;
	}
	f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	if (!f) {
		fprintf(stderr, "usermm replay: %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (f != stdin) {
		struct stat stbuf;

		if (!fstat(fileno(f), &stbuf) && S_ISREG(stbuf.st_mode))
			total_bytes = stbuf.st_size;
	}
	progress &= total_bytes > 0;
	if (cfg.swap_bytes && open_swap(&cfg, swap_file, swap_tmp)) {
		if (f != stdin)
			fclose(f);
		return 1;
	}
	err = umm_system_create(&cfg, &r.sys);
	if (cfg.swap_bytes && !swap_file)
		unlink(swap_tmp);
	if (err) {
		if (err == -EOPNOTSUPP && cfg.swap_bytes)
			fprintf(stderr, "usermm replay: this build of usermm cannot use that swap target "
				"(a Redis target needs hiredis): %s\n",
				umm_strerror(err));
		else
			fprintf(stderr, "usermm replay: system: %s\n", umm_strerror(err));
		if (f != stdin)
			fclose(f);
		return 1;
	}
	t0 = now_s();
	last_draw = t0 - 1;             /* the first chance draws */
	while (fgets(line, sizeof(line), f)) {
		bool write, modify;
		uint64_t addr;
		size_t size;
		unsigned int asid;
		int kind;

		lineno++;
		kind = parse_line(line, &write, &modify, &addr, &size, &asid);
		if (kind == 0)
			continue;
		if (kind < 0) {
			fprintf(stderr, "%s:%lu: not a trace line\n", path, lineno);
			rc = 1;
			break;
		}
		if (!r.mm[asid]) {
			err = umm_mm_create(r.sys, &r.mm[asid]);
			if (err)
				goto access_error;
			mms++;
		}
		err = access_one(&r, r.mm[asid], modify ? false : write, addr, size);
		if (!err && modify)
			err = access_one(&r, r.mm[asid], true, addr, size);
		if (err) {
access_error:
			fprintf(stderr, "%s:%lu: %s of %zu bytes at %#" PRIx64 ": %s\n", path, lineno,
				write ? "write" : "read", size, addr, umm_strerror(err));
			rc = 1;
			break;
		}
		r.accesses++;
		if (write)
			r.writes++;
		else
			r.reads++;
		if (progress && !(r.accesses & 0xfff)) {
			double now = now_s();

			if (now - last_draw >= 0.1) {
				progress_bar(ftello(f), total_bytes, r.accesses, now - t0);
				last_draw = now;
				drawn = true;
			}
		}
	}
	t = now_s() - t0;
	if (drawn)
		fprintf(stderr, "\r\033[K");
	if (f != stdin)
		fclose(f);

	for (unsigned int i = 0; i < MAX_ASID; i++) {
		struct umm_mm_stats st;

		if (!r.mm[i])
			continue;
		umm_mm_stats(r.mm[i], &st);
		total.minor_faults += st.minor_faults;
		total.major_faults += st.major_faults;
		total.cow_faults += st.cow_faults;
		total.rss_anon += st.rss_anon + st.rss_file + st.rss_shmem;
		umm_mm_destroy(r.mm[i]);
	}
	{
		struct umm_sys_stats ss;

		umm_system_stats(r.sys, &ss);
		rmap_name = ss.rmap == UMM_RMAP_PTE_CHAIN ? "pte-chain" : "object";
	}
	umm_system_destroy(r.sys);
	if (rc)
		return rc;
	if (json)
		printf("{\"trace\":\"%s\",\"accesses\":%lu,\"reads\":%lu,\"writes\":%lu,"
		       "\"address_spaces\":%lu,\"chunks_mapped\":%lu,\"minor_faults\":%lu,"
		       "\"major_faults\":%lu,\"cow_faults\":%lu,\"resident_pages\":%lu,"
		       "\"phys_bytes\":%zu,\"swap_bytes\":%zu,\"rmap\":\"%s\","
		       "\"seconds\":%.6f,\"accesses_per_second\":%.0f}\n", path, r.accesses, r.reads,
		       r.writes, mms, r.chunks, total.minor_faults, total.major_faults,
		       total.cow_faults, total.rss_anon, cfg.phys_bytes, cfg.swap_bytes, rmap_name,
		       t, t > 0 ? (double)r.accesses / t : 0.0);
	else
		printf("%s: %lu accesses (%lu reads, %lu writes) in %lu address space%s\n"
		       "  chunks mapped     %lu (64 KiB each)\n"
		       "  faults            %lu minor, %lu major, %lu copy-on-write\n"
		       "  resident pages    %lu at the end\n"
		       "  system            %zu MiB physical, %zu MiB swap, %s rmap\n"
		       "  time              %.3f s, %.0f accesses/s\n", path, r.accesses, r.reads,
		       r.writes, mms, mms == 1 ? "" : "s", r.chunks, total.minor_faults,
		       total.major_faults, total.cow_faults, total.rss_anon, cfg.phys_bytes >> 20,
		       cfg.swap_bytes >> 20, rmap_name, t,
		       t > 0 ? (double)r.accesses / t : 0.0);
	return 0;
}

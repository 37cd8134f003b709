/* SPDX-License-Identifier: MIT */
/*
 * script.c - `usermm run SCRIPT...`: a small line-oriented scenario
 * language over the public API, for teaching the system and for trying a
 * policy on a scripted workload.  The language is described in
 * docs/SCRIPTS.md; examples are in examples/scenarios/.
 *
 * One line, one command; words are separated by blanks; `#` starts a
 * comment.  A script names what it creates (objects, address spaces,
 * mappings) and refers to those names later; an address is a mapping's
 * name, optionally plus an offset (`buf+4K`), or a number.  A command that
 * fails stops the script with "FILE:LINE: ..." on stderr and a non-zero
 * exit, unless it is wrapped in `expect ERRNO ...`, which requires exactly
 * that failure.
 *
 * Uses only the public API.  Single-threaded; no locks.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <usermm/usermm.h>
#include "script.h"

/* A command's failure that was already reported (not an errno: -1 is -EPERM). */
#define REPORTED INT_MIN
#define MAX_WORDS 16
#define MAX_NAMES 64
#define NAME_LEN  32

enum name_kind { NAME_OBJECT, NAME_MM, NAME_ADDR };

struct name {
	char name[NAME_LEN];
	enum name_kind kind;
	union {
		struct umm_object *obj;
		struct umm_mm *mm;
		uintptr_t addr;
	};
	int fd;                        /* NAME_OBJECT of a real file: our descriptor */
	char path[256];                /* ... and its path, removed at the end */
};

struct script {
	const char *file;
	unsigned int line;
	struct umm_system *sys;
	struct umm_mm *cur;            /* the address space commands act on */
	struct name names[MAX_NAMES];
	unsigned int nr_names;
	char dir[64];                  /* scratch directory for files */
	uintptr_t pattern_base;        /* the mapping the last parsed address was in (0: a number) */
	bool failed;
};

/* A command's failure: the reason goes to stderr with the script position. */
static int fail(struct script *s, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%u: ", s->file, s->line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return REPORTED;
}

static struct name *lookup(struct script *s, const char *name)
{
	for (unsigned int i = 0; i < s->nr_names; i++)
		if (!strcmp(s->names[i].name, name))
			return &s->names[i];
	return NULL;
}

static struct name *lookup_kind(struct script *s, const char *name, enum name_kind kind)
{
	static const char *what[] = { "an object", "an address space", "a mapping" };
	struct name *n = lookup(s, name);

	if (!n)
		fail(s, "'%s' is not defined", name);
	else if (n->kind != kind) {
		fail(s, "'%s' is not %s", name, what[kind]);
		n = NULL;
	}
	return n;
}

/* define - bind a new name (or rebind a mapping name). */
static struct name *define(struct script *s, const char *name, enum name_kind kind)
{
	struct name *n = lookup(s, name);

	if (n && !(n->kind == NAME_ADDR && kind == NAME_ADDR)) {
		fail(s, "'%s' is already defined", name);
		return NULL;
	}
	if (!n) {
		if (strlen(name) >= NAME_LEN || !(isalpha((unsigned char)name[0]) || name[0] == '_')) {
			fail(s, "bad name '%s'", name);
			return NULL;
		}
		if (s->nr_names == MAX_NAMES) {
			fail(s, "too many names (at most %d)", MAX_NAMES);
			return NULL;
		}
		n = &s->names[s->nr_names++];
		memset(n, 0, sizeof(*n));
		snprintf(n->name, sizeof(n->name), "%s", name);
		n->fd = -1;
	}
	n->kind = kind;
	return n;
}

/* parse_size - a number with an optional K, M or G suffix (hex with 0x). */
static int parse_size(struct script *s, const char *word, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(word, &end, 0);
	if (end == word || errno)
		return fail(s, "bad number '%s'", word);
	switch (toupper((unsigned char)*end)) {
	case 'K': v <<= 10; end++; break;
	case 'M': v <<= 20; end++; break;
	case 'G': v <<= 30; end++; break;
	default: break;
	}
	if (*end)
		return fail(s, "bad number '%s'", word);
	*out = v;
	return 0;
}

/* parse_addr - NAME, NAME+SIZE, NAME-SIZE or a number. */
static int parse_addr(struct script *s, const char *word, uintptr_t *out)
{
	char base[NAME_LEN + 1];
	const char *op = strpbrk(word, "+-");
	uint64_t off = 0;
	struct name *n;
	size_t len;

	if (isdigit((unsigned char)word[0])) {
		uint64_t v;

		if (parse_size(s, word, &v))
			return REPORTED;
		*out = (uintptr_t)v;
		s->pattern_base = 0;
		return 0;
	}
	len = op ? (size_t)(op - word) : strlen(word);
	if (len > NAME_LEN)
		return fail(s, "bad address '%s'", word);
	memcpy(base, word, len);
	base[len] = 0;
	n = lookup_kind(s, base, NAME_ADDR);
	if (!n)
		return REPORTED;
	if (op && parse_size(s, op + 1, &off))
		return REPORTED;
	*out = op && *op == '-' ? n->addr - off : n->addr + off;
	s->pattern_base = n->addr;
	return 0;
}

static int parse_prot(struct script *s, const char *word, int *out)
{
	int prot = 0;

	if (!strcmp(word, "none")) {
		*out = PROT_NONE;
		return 0;
	}
	if (strlen(word) != 3)
		return fail(s, "bad protection '%s' (rwx, r--, rw-, none...)", word);
	if (word[0] == 'r') prot |= PROT_READ; else if (word[0] != '-') goto bad;
	if (word[1] == 'w') prot |= PROT_WRITE; else if (word[1] != '-') goto bad;
	if (word[2] == 'x') prot |= PROT_EXEC; else if (word[2] != '-') goto bad;
	*out = prot;
	return 0;
bad:
	return fail(s, "bad protection '%s' (rwx, r--, rw-, none...)", word);
}

static const struct { const char *name; int flag; } map_flags[] = {
	{ "shared", MAP_SHARED }, { "private", MAP_PRIVATE }, { "anon", MAP_ANONYMOUS },
	{ "fixed", MAP_FIXED }, { "noreplace", MAP_FIXED_NOREPLACE },
	{ "populate", MAP_POPULATE }, { "nonblock", MAP_NONBLOCK }, { "locked", MAP_LOCKED },
	{ "noreserve", MAP_NORESERVE }, { "validate", MAP_SHARED_VALIDATE },
};

/* parse_flags - a comma-separated list of the names above. */
static int parse_flags(struct script *s, const char *word, int *out)
{
	char buf[128], *save = NULL;

	*out = 0;
	snprintf(buf, sizeof(buf), "%s", word);
	for (char *f = strtok_r(buf, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
		size_t i;

		for (i = 0; i < sizeof(map_flags) / sizeof(map_flags[0]); i++)
			if (!strcmp(f, map_flags[i].name))
				break;
		if (i == sizeof(map_flags) / sizeof(map_flags[0]))
			return fail(s, "unknown mapping flag '%s'", f);
		*out |= map_flags[i].flag;
	}
	return 0;
}

/*
 * pattern_byte - the byte a `seed=N` pattern puts at offset a: an offset
 * in the named mapping (so a pattern written through one mapping of a file
 * verifies through another, and in the file itself), or an address.
 */
static unsigned char pattern_byte(uint64_t seed, uintptr_t a)
{
	uint64_t x = (a + 1) * 0x9e3779b97f4a7c15ULL ^ seed * 0xbf58476d1ce4e5b9ULL;

	return (unsigned char)(x >> 56);
}

struct pattern {
	bool fill;                     /* fill=B: every byte B; else seed=N */
	uint64_t value;
};

static int parse_pattern(struct script *s, const char *word, struct pattern *p)
{
	if (!strncmp(word, "fill=", 5)) {
		p->fill = true;
		if (parse_size(s, word + 5, &p->value))
			return REPORTED;
		if (p->value > 255)
			return fail(s, "fill byte %llu > 255", (unsigned long long)p->value);
		return 0;
	}
	if (!strncmp(word, "seed=", 5)) {
		p->fill = false;
		return parse_size(s, word + 5, &p->value);
	}
	return fail(s, "bad pattern '%s' (fill=BYTE or seed=N)", word);
}

static void pattern_fill(const struct pattern *p, uintptr_t addr, unsigned char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = p->fill ? (unsigned char)p->value : pattern_byte(p->value, addr + i);
}

/* ---- commands: each returns 0, a negative errno from usermm, or REPORTED ---- */

#define CMD(name) static int cmd_##name(struct script *s, int argc, char **argv)

static int need_mm(struct script *s)
{
	if (!s->cur)
		return fail(s, "no address space: create one with 'mm NAME'");
	return 0;
}

static int ensure_system(struct script *s)
{
	int err;

	if (s->sys)
		return 0;
	err = umm_system_create(&(struct umm_config){ .phys_bytes = 64 << 20 }, &s->sys);
	return err ? fail(s, "system: %s", umm_strerror(err)) : 0;
}

CMD(system)
{
	struct umm_config cfg = { .phys_bytes = 64 << 20 };
	int err;

	if (s->sys)
		return fail(s, "the system already exists (system must come first)");
	for (int i = 1; i < argc; i++) {
		uint64_t v;

		if (!strncmp(argv[i], "phys=", 5)) {
			if (parse_size(s, argv[i] + 5, &v))
				return REPORTED;
			cfg.phys_bytes = v;
		} else if (!strncmp(argv[i], "mlock-limit=", 12)) {
			if (parse_size(s, argv[i] + 12, &v))
				return REPORTED;
			cfg.mlock_limit_bytes = v;
		} else if (!strcmp(argv[i], "rmap=pte-chain")) {
			cfg.rmap = UMM_RMAP_PTE_CHAIN;
		} else if (!strcmp(argv[i], "rmap=object")) {
			cfg.rmap = UMM_RMAP_OBJECT;
		} else {
			return fail(s, "system: unknown setting '%s'", argv[i]);
		}
	}
	err = umm_system_create(&cfg, &s->sys);
	return err;
}

CMD(file)
{
	uint64_t size = 0;
	struct name *n;
	int fd, err;

	if (argc < 2 || argc > 3 || (argc == 3 && strncmp(argv[2], "size=", 5)))
		return fail(s, "usage: file NAME [size=SIZE]");
	if (argc == 3 && parse_size(s, argv[2] + 5, &size))
		return REPORTED;
	if (ensure_system(s) || !(n = define(s, argv[1], NAME_OBJECT)))
		return REPORTED;
	snprintf(n->path, sizeof(n->path), "%s/%s", s->dir, argv[1]);
	fd = open(n->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
		s->nr_names--;
		return fail(s, "file %s: %s", n->path, strerror(errno));
	}
	err = umm_object_open_fd(s->sys, fd, &n->obj);
	if (err) {
		close(fd);
		unlink(n->path);
		s->nr_names--;
		return err;
	}
	n->fd = fd;
	return 0;
}

CMD(shmem)
{
	uint64_t size;
	struct name *n;
	int err;

	if (argc != 3 || strncmp(argv[2], "size=", 5))
		return fail(s, "usage: shmem NAME size=SIZE");
	if (parse_size(s, argv[2] + 5, &size) || ensure_system(s) ||
	    !(n = define(s, argv[1], NAME_OBJECT)))
		return REPORTED;
	err = umm_object_create_shmem(s->sys, size, &n->obj);
	if (err)
		s->nr_names--;
	return err;
}

CMD(truncate)
{
	struct name *n;
	uint64_t size;

	if (argc != 3)
		return fail(s, "usage: truncate OBJECT SIZE");
	if (!(n = lookup_kind(s, argv[1], NAME_OBJECT)) || parse_size(s, argv[2], &size))
		return REPORTED;
	return umm_object_truncate(n->obj, size);
}

CMD(sync)
{
	struct name *n;

	if (argc != 2)
		return fail(s, "usage: sync OBJECT");
	if (!(n = lookup_kind(s, argv[1], NAME_OBJECT)))
		return REPORTED;
	return umm_object_sync(n->obj, 0, 0);
}

/* check-file OBJECT OFFSET LEN PATTERN: the bytes on disk (pread) match. */
CMD(check_file)
{
	struct pattern p;
	uint64_t off, len;
	unsigned char want[4096], got[4096];
	struct name *n;

	if (argc != 5)
		return fail(s, "usage: check-file OBJECT OFFSET LEN PATTERN");
	if (!(n = lookup_kind(s, argv[1], NAME_OBJECT)) || parse_size(s, argv[2], &off) ||
	    parse_size(s, argv[3], &len) || parse_pattern(s, argv[4], &p))
		return REPORTED;
	if (n->fd < 0)
		return fail(s, "'%s' is not a file", argv[1]);
	for (uint64_t done = 0; done < len;) {
		size_t chunk = len - done < sizeof(got) ? (size_t)(len - done) : sizeof(got);

		if (pread(n->fd, got, chunk, (off_t)(off + done)) != (ssize_t)chunk)
			return fail(s, "check-file: short read at %llu", (unsigned long long)(off + done));
		pattern_fill(&p, (uintptr_t)(off + done), want, chunk);
		for (size_t i = 0; i < chunk; i++)
			if (got[i] != want[i])
				return fail(s, "check-file: byte at offset %llu is %#x, expected %#x",
					    (unsigned long long)(off + done + i), got[i], want[i]);
		done += chunk;
	}
	return 0;
}

CMD(mm)
{
	struct name *n;
	int err;

	if (argc != 2)
		return fail(s, "usage: mm NAME");
	if (ensure_system(s) || !(n = define(s, argv[1], NAME_MM)))
		return REPORTED;
	err = umm_mm_create(s->sys, &n->mm);
	if (err) {
		s->nr_names--;
		return err;
	}
	s->cur = n->mm;
	return 0;
}

CMD(use)
{
	struct name *n;

	if (argc != 2)
		return fail(s, "usage: use MM");
	if (!(n = lookup_kind(s, argv[1], NAME_MM)))
		return REPORTED;
	s->cur = n->mm;
	return 0;
}

CMD(fork)
{
	struct name *n;
	int err;

	if (argc != 2)
		return fail(s, "usage: fork CHILD");
	if (need_mm(s) || !(n = define(s, argv[1], NAME_MM)))
		return REPORTED;
	err = umm_fork(s->cur, &n->mm);
	if (err)
		s->nr_names--;
	return err;
}

CMD(exit)
{
	struct name *n;

	if (argc != 2)
		return fail(s, "usage: exit MM");
	if (!(n = lookup_kind(s, argv[1], NAME_MM)))
		return REPORTED;
	if (s->cur == n->mm)
		s->cur = NULL;
	umm_mm_destroy(n->mm);
	*n = s->names[--s->nr_names];
	return 0;
}

/* map NAME LEN PROT FLAGS [OBJECT [OFFSET]] [at=ADDR] */
CMD(map)
{
	struct umm_object *obj = NULL;
	uintptr_t hint = 0, out;
	uint64_t len, off = 0;
	int prot, flags, err, pos = 5;
	struct name *n;

	if (argc < 5 || argc > 8)
		return fail(s, "usage: map NAME LEN PROT FLAGS [OBJECT [OFFSET]] [at=ADDR]");
	if (need_mm(s) || parse_size(s, argv[2], &len) || parse_prot(s, argv[3], &prot) ||
	    parse_flags(s, argv[4], &flags))
		return REPORTED;
	if (pos < argc && strncmp(argv[pos], "at=", 3)) {
		struct name *o = lookup_kind(s, argv[pos++], NAME_OBJECT);

		if (!o)
			return REPORTED;
		obj = o->obj;
		if (pos < argc && strncmp(argv[pos], "at=", 3) && parse_size(s, argv[pos++], &off))
			return REPORTED;
	}
	if (pos < argc) {
		if (strncmp(argv[pos], "at=", 3) || parse_addr(s, argv[pos] + 3, &hint))
			return fail(s, "map: unexpected '%s'", argv[pos]);
		pos++;
	}
	if (pos != argc)
		return fail(s, "map: unexpected '%s'", argv[pos]);
	err = umm_mmap(s->cur, hint, len, prot, flags, obj, off, &out);
	if (err)
		return err;
	if (!(n = define(s, argv[1], NAME_ADDR))) {
		umm_munmap(s->cur, out, len);
		return REPORTED;
	}
	n->addr = out;
	return 0;
}

/* Commands of the form VERB ADDR LEN ...: parse the common head. */
static int addr_len(struct script *s, int argc, char **argv, int want, const char *usage,
		    uintptr_t *addr, uint64_t *len)
{
	if (argc != want)
		return fail(s, "usage: %s", usage);
	if (need_mm(s) || parse_addr(s, argv[1], addr) || parse_size(s, argv[2], len))
		return REPORTED;
	return 0;
}

CMD(unmap)
{
	uintptr_t a;
	uint64_t len;

	if (addr_len(s, argc, argv, 3, "unmap ADDR LEN", &a, &len))
		return REPORTED;
	return umm_munmap(s->cur, a, len);
}

CMD(protect)
{
	uintptr_t a;
	uint64_t len;
	int prot;

	if (addr_len(s, argc, argv, 4, "protect ADDR LEN PROT", &a, &len) ||
	    parse_prot(s, argv[3], &prot))
		return REPORTED;
	return umm_mprotect(s->cur, a, len, prot);
}

/* mremap NAME OLDLEN NEWLEN [maymove] [fixed=ADDR]: NAME follows the mapping. */
CMD(mremap)
{
	uintptr_t a, to = 0, out;
	uint64_t oldlen, newlen;
	int flags = 0, err;
	struct name *n;

	if (argc < 4 || argc > 6)
		return fail(s, "usage: mremap NAME OLDLEN NEWLEN [maymove] [fixed=ADDR]");
	if (need_mm(s) || !(n = lookup_kind(s, argv[1], NAME_ADDR)) ||
	    parse_size(s, argv[2], &oldlen) || parse_size(s, argv[3], &newlen))
		return REPORTED;
	a = n->addr;
	for (int i = 4; i < argc; i++) {
		if (!strcmp(argv[i], "maymove"))
			flags |= MREMAP_MAYMOVE;
		else if (!strncmp(argv[i], "fixed=", 6) && !parse_addr(s, argv[i] + 6, &to))
			flags |= MREMAP_FIXED;
		else
			return fail(s, "mremap: unexpected '%s'", argv[i]);
	}
	err = umm_mremap(s->cur, a, oldlen, newlen, flags, to, &out);
	if (!err)
		n->addr = out;
	return err;
}

/* write ADDR LEN PATTERN, verify ADDR LEN PATTERN: through umm_write/umm_read. */
static int access_pattern(struct script *s, int argc, char **argv, bool write)
{
	unsigned char want[4096], got[4096];
	struct pattern p;
	uintptr_t a;
	uint64_t len;

	if (addr_len(s, argc, argv, 4, write ? "write ADDR LEN PATTERN" : "verify ADDR LEN PATTERN",
		     &a, &len) || parse_pattern(s, argv[3], &p))
		return REPORTED;
	for (uint64_t done = 0; done < len;) {
		size_t chunk = len - done < sizeof(want) ? (size_t)(len - done) : sizeof(want);
		int err;

		pattern_fill(&p, a + done - s->pattern_base, want, chunk);
		err = write ? umm_write(s->cur, a + done, want, chunk)
			    : umm_read(s->cur, a + done, got, chunk);
		if (err)
			return err;
		if (!write)
			for (size_t i = 0; i < chunk; i++)
				if (got[i] != want[i])
					return fail(s, "verify: byte at %#lx is %#x, expected %#x",
						    (unsigned long)(a + done + i), got[i], want[i]);
		done += chunk;
	}
	return 0;
}

CMD(write) { return access_pattern(s, argc, argv, true); }
CMD(verify) { return access_pattern(s, argc, argv, false); }

/* touch ADDR LEN [write]: one access per page, as a program walking memory would. */
CMD(touch)
{
	bool write = argc == 4 && !strcmp(argv[3], "write");
	uintptr_t a;
	uint64_t len;

	if (argc == 4 && !write)
		return fail(s, "touch: unexpected '%s'", argv[3]);
	if (addr_len(s, argc, argv, write ? 4 : 3, "touch ADDR LEN [write]", &a, &len))
		return REPORTED;
	for (uint64_t off = 0; off < len; off += UMM_PAGE_SIZE) {
		unsigned char b = 0;
		int err = write ? umm_write(s->cur, a + off, &b, 1) : umm_read(s->cur, a + off, &b, 1);

		if (err)
			return err;
	}
	return 0;
}

static const struct { const char *name; int advice; } advices[] = {
	{ "normal", MADV_NORMAL }, { "random", MADV_RANDOM }, { "sequential", MADV_SEQUENTIAL },
	{ "willneed", MADV_WILLNEED }, { "dontneed", MADV_DONTNEED }, { "free", MADV_FREE },
	{ "populate-read", MADV_POPULATE_READ }, { "populate-write", MADV_POPULATE_WRITE },
	{ "dontfork", MADV_DONTFORK }, { "dofork", MADV_DOFORK },
};

/* madvise ADDR LEN ADVICE */
CMD(madvise)
{
	uintptr_t a;
	uint64_t len;
	size_t i;

	if (addr_len(s, argc, argv, 4, "madvise ADDR LEN ADVICE", &a, &len))
		return REPORTED;
	for (i = 0; i < sizeof(advices) / sizeof(advices[0]); i++)
		if (!strcmp(argv[3], advices[i].name))
			return umm_madvise(s->cur, a, len, advices[i].advice);
	return fail(s, "madvise: unknown advice '%s'", argv[3]);
}

/* msync ADDR LEN sync|async|invalidate */
CMD(msync)
{
	uintptr_t a;
	uint64_t len;
	int flags;

	if (addr_len(s, argc, argv, 4, "msync ADDR LEN sync|async|invalidate", &a, &len))
		return REPORTED;
	if (!strcmp(argv[3], "sync"))
		flags = MS_SYNC;
	else if (!strcmp(argv[3], "async"))
		flags = MS_ASYNC;
	else if (!strcmp(argv[3], "invalidate"))
		flags = MS_INVALIDATE;
	else
		return fail(s, "msync: unknown mode '%s'", argv[3]);
	return umm_msync(s->cur, a, len, flags);
}

/* mlock ADDR LEN [onfault]: umm_mlock, or umm_mlock2 with MLOCK_ONFAULT. */
CMD(mlock)
{
	bool onfault = argc == 4 && !strcmp(argv[3], "onfault");
	uintptr_t a;
	uint64_t len;

	if (argc == 4 && !onfault)
		return fail(s, "mlock: unexpected '%s'", argv[3]);
	if (addr_len(s, argc, argv, onfault ? 4 : 3, "mlock ADDR LEN [onfault]", &a, &len))
		return REPORTED;
	return onfault ? umm_mlock2(s->cur, a, len, MLOCK_ONFAULT) : umm_mlock(s->cur, a, len);
}

/* munlock ADDR LEN */
CMD(munlock)
{
	uintptr_t a;
	uint64_t len;

	if (addr_len(s, argc, argv, 3, "munlock ADDR LEN", &a, &len))
		return REPORTED;
	return umm_munlock(s->cur, a, len);
}

/* mlockall current|future|onfault...: umm_mlockall with those MCL_* flags. */
CMD(mlockall)
{
	int flags = 0;

	if (need_mm(s))
		return REPORTED;
	if (argc < 2)
		return fail(s, "usage: mlockall current|future|onfault...");
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "current"))
			flags |= MCL_CURRENT;
		else if (!strcmp(argv[i], "future"))
			flags |= MCL_FUTURE;
		else if (!strcmp(argv[i], "onfault"))
			flags |= MCL_ONFAULT;
		else
			return fail(s, "mlockall: unknown flag '%s'", argv[i]);
	}
	return umm_mlockall(s->cur, flags);
}

/* munlockall */
CMD(munlockall)
{
	(void)argv;
	if (argc != 1)
		return fail(s, "usage: munlockall");
	if (need_mm(s))
		return REPORTED;
	return umm_munlockall(s->cur);
}

/* resident ADDR LEN N: umm_mincore finds exactly N resident pages in the range. */
CMD(resident)
{
	unsigned char *vec;
	uint64_t len, want, n = 0;
	uintptr_t a;
	int err;

	if (addr_len(s, argc, argv, 4, "resident ADDR LEN PAGES", &a, &len) ||
	    parse_size(s, argv[3], &want))
		return REPORTED;
	vec = calloc((len + UMM_PAGE_SIZE - 1) / UMM_PAGE_SIZE + 1, 1);
	if (!vec)
		return -ENOMEM;
	err = umm_mincore(s->cur, a, len, vec);
	for (uint64_t i = 0; !err && i < (len + UMM_PAGE_SIZE - 1) / UMM_PAGE_SIZE; i++)
		n += vec[i] & 1;
	free(vec);
	if (err)
		return err;
	if (n != want)
		return fail(s, "resident: %llu pages resident, expected %llu",
			    (unsigned long long)n, (unsigned long long)want);
	return 0;
}

/* prepage ADDR LEN [ADDR LEN...] [write] [async]: one umm_prepage call (async waits). */
CMD(prepage)
{
	struct umm_prepage_tuple v[MAX_WORDS / 2];
	int n = 0, flags = 0, i, err;

	if (need_mm(s))
		return REPORTED;
	for (i = 1; i < argc; i++) {
		uint64_t len;

		if (!strcmp(argv[i], "write")) {
			flags |= UMM_PREPAGE_WRITE;
			continue;
		}
		if (!strcmp(argv[i], "async")) {
			flags |= UMM_PREPAGE_ASYNC;
			continue;
		}
		if (i + 1 >= argc || parse_addr(s, argv[i], &v[n].addr) ||
		    parse_size(s, argv[i + 1], &len))
			return fail(s, "usage: prepage ADDR LEN [ADDR LEN...] [write] [async]");
		v[n++].extent = (size_t)len;
		i++;
	}
	if (!n)
		return fail(s, "usage: prepage ADDR LEN [ADDR LEN...] [write] [async]");
	err = umm_prepage(s->cur, v, (size_t)n, flags);
	if (!err && (flags & UMM_PREPAGE_ASYNC))
		err = umm_prepage_wait(s->cur);
	return err;
}

CMD(show)
{
	if (argc != 2)
		return fail(s, "usage: show maps|smaps|stats|system");
	if (!strcmp(argv[1], "system")) {
		struct umm_sys_stats st;

		if (ensure_system(s))
			return REPORTED;
		umm_system_stats(s->sys, &st);
		printf("system: %lu frames, %lu free, %lu page-cache, %lu anon, %lu page-table, "
		       "%lu address spaces, %lu objects\n", st.total_frames, st.free_frames,
		       st.pagecache_pages, st.anon_pages, st.pgtable_pages, st.nr_mms, st.nr_objects);
		return 0;
	}
	if (need_mm(s))
		return REPORTED;
	if (!strcmp(argv[1], "maps"))
		return umm_mm_dump_maps(s->cur, stdout);
	if (!strcmp(argv[1], "smaps"))
		return umm_mm_dump_smaps(s->cur, stdout);
	if (!strcmp(argv[1], "stats")) {
		struct umm_mm_stats st;

		umm_mm_stats(s->cur, &st);
		printf("mm: %lu VMAs, %lu pages mapped, %lu locked, rss anon %lu file %lu shmem %lu, "
		       "faults minor %lu major %lu cow %lu\n", st.nr_vmas, st.total_vm, st.locked_vm,
		       st.rss_anon, st.rss_file, st.rss_shmem, st.minor_faults,
		       st.major_faults, st.cow_faults);
		return 0;
	}
	return fail(s, "show: unknown '%s' (maps, smaps, stats, system)", argv[1]);
}

CMD(echo)
{
	(void)s;
	for (int i = 1; i < argc; i++)
		printf("%s%s", argv[i], i + 1 < argc ? " " : "");
	printf("\n");
	return 0;
}

static int run_words(struct script *s, int argc, char **argv);

static const struct { const char *name; const char *errno_name; int err; } errnos[] = {
	{ "EFAULT", "SIGSEGV", EFAULT }, { "EIO", "SIGBUS", EIO }, { "ENOMEM", NULL, ENOMEM },
	{ "EINVAL", NULL, EINVAL }, { "EACCES", NULL, EACCES }, { "EEXIST", NULL, EEXIST },
	{ "EPERM", NULL, EPERM }, { "EBADF", NULL, EBADF }, { "ENODEV", NULL, ENODEV },
	{ "EOPNOTSUPP", NULL, EOPNOTSUPP }, { "EAGAIN", NULL, EAGAIN }, { "EBUSY", NULL, EBUSY },
};

/* expect ERRNO COMMAND...: the command must fail with exactly -ERRNO. */
CMD(expect)
{
	int want = 0, err;

	if (argc < 3)
		return fail(s, "usage: expect ERRNO COMMAND...");
	for (size_t i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
		if (!strcmp(argv[1], errnos[i].name) ||
		    (errnos[i].errno_name && !strcmp(argv[1], errnos[i].errno_name)))
			want = errnos[i].err;
	if (!want)
		return fail(s, "expect: unknown error '%s'", argv[1]);
	err = run_words(s, argc - 2, argv + 2);
	if (err == REPORTED)
		return REPORTED;
	if (err != -want)
		return fail(s, "expected %s, got %s", argv[1], err ? umm_strerror(err) : "success");
	return 0;
}

static const struct command_entry {
	const char *name;
	int (*fn)(struct script *, int, char **);
} script_commands[] = {
	{ "system", cmd_system }, { "file", cmd_file }, { "shmem", cmd_shmem },
	{ "truncate", cmd_truncate }, { "sync", cmd_sync }, { "check-file", cmd_check_file },
	{ "mm", cmd_mm }, { "use", cmd_use }, { "fork", cmd_fork }, { "exit", cmd_exit },
	{ "map", cmd_map }, { "unmap", cmd_unmap }, { "protect", cmd_protect },
	{ "mremap", cmd_mremap }, { "write", cmd_write }, { "verify", cmd_verify },
	{ "touch", cmd_touch }, { "show", cmd_show }, { "echo", cmd_echo },
	{ "expect", cmd_expect }, { "madvise", cmd_madvise }, { "msync", cmd_msync },
	{ "resident", cmd_resident }, { "prepage", cmd_prepage },
	{ "mlock", cmd_mlock }, { "munlock", cmd_munlock }, { "mlockall", cmd_mlockall },
	{ "munlockall", cmd_munlockall },
};

static int run_words(struct script *s, int argc, char **argv)
{
	for (size_t i = 0; i < sizeof(script_commands) / sizeof(script_commands[0]); i++)
		if (!strcmp(argv[0], script_commands[i].name))
			return script_commands[i].fn(s, argc, argv);
	return fail(s, "unknown command '%s'", argv[0]);
}

static int split(char *line, char **words)
{
	int n = 0;
	char *hash = strchr(line, '#');

	if (hash)
		*hash = 0;
	for (char *save = NULL, *w = strtok_r(line, " \t\r\n", &save); w;
	     w = strtok_r(NULL, " \t\r\n", &save)) {
		if (n == MAX_WORDS)
			return REPORTED;
		words[n++] = w;
	}
	return n;
}

static void teardown(struct script *s)
{
	for (unsigned int i = 0; i < s->nr_names; i++)
		if (s->names[i].kind == NAME_MM)
			umm_mm_destroy(s->names[i].mm);
	for (unsigned int i = 0; i < s->nr_names; i++)
		if (s->names[i].kind == NAME_OBJECT) {
			umm_object_put(s->names[i].obj);
			if (s->names[i].fd >= 0) {
				close(s->names[i].fd);
				unlink(s->names[i].path);
			}
		}
	if (s->sys)
		umm_system_destroy(s->sys);
	rmdir(s->dir);
}

/**
 * run_script - run one script file.  Returns 0 when every command did
 * what it should, 1 otherwise (the reason is on stderr as FILE:LINE).
 */
int run_script(const char *path)
{
	struct script *s = calloc(1, sizeof(*s));
	char line[1024], *words[MAX_WORDS];
	FILE *f;
	int rc = 0;

	if (!s)
		return 1;
	s->file = path;
	f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		free(s);
		return 1;
	}
	snprintf(s->dir, sizeof(s->dir), "/tmp/usermm-run.XXXXXX");
	if (!mkdtemp(s->dir)) {
		fprintf(stderr, "%s: scratch directory: %s\n", path, strerror(errno));
		fclose(f);
		free(s);
		return 1;
	}
	while (fgets(line, sizeof(line), f)) {
		int n, err;

		s->line++;
		n = split(line, words);
		if (n == 0)
			continue;
		if (n < 0) {
			fail(s, "too many words (at most %d)", MAX_WORDS);
			rc = 1;
			break;
		}
		err = run_words(s, n, words);
		if (err == REPORTED) {
			rc = 1;
			break;
		}
		if (err) {
			fail(s, "%s: %s", words[0], umm_strerror(err));
			rc = 1;
			break;
		}
	}
	fclose(f);
	teardown(s);
	free(s);
	return rc;
}

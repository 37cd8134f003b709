/* SPDX-License-Identifier: MIT */
/*
 * mm_fixture.h - the fixture shared by the tests of the mapping calls
 * (test_mmap, test_mprotect, test_mremap): one system and one address
 * space per test, data patterns written and verified through the public
 * API, and snapshots of the maps text to prove a failed call changed
 * nothing.
 *
 * setup() builds a 32 MiB system with debug_checks on, so the full
 * address-space invariant check runs after every call, and the arena kind
 * MM_FIXTURE_ARENA (define it before the include; default UMM_ARENA_AUTO:
 * a test of host windows defines UMM_ARENA_MEMFD); teardown() runs
 * umm_system_check, destroys the mm and checks that no anonymous page,
 * page-table page or object is left behind.  The helpers act on the
 * current `sys` and `mm`.  Each test program includes this header once.
 */
#ifndef UMM_MM_FIXTURE_H
#define UMM_MM_FIXTURE_H

#include <fcntl.h>
#include <stdbool.h>
#include <usermm/usermm.h>
#include "test.h"

#define P UMM_PAGE_SIZE

#ifndef MM_FIXTURE_ARENA
#define MM_FIXTURE_ARENA UMM_ARENA_AUTO
#endif

static struct umm_system *sys;
static struct umm_mm *mm;

static inline void setup(void)
{
	struct umm_config cfg = { .phys_bytes = 32 << 20, .debug_checks = 1,
				  .arena = MM_FIXTURE_ARENA };

	REQUIRE(umm_system_create(&cfg, &sys) == 0);
	REQUIRE(umm_mm_create(sys, &mm) == 0);
}

static inline void teardown(void)
{
	struct umm_sys_stats st;

	CHECK_EQ(umm_system_check(sys), 0);
	umm_mm_destroy(mm);
	REQUIRE(umm_system_stats(sys, &st) == 0);
	CHECK_EQ(st.anon_pages, 0);
	CHECK_EQ(st.pgtable_pages, 0);
	CHECK_EQ(st.nr_objects, 0);
	umm_system_destroy(sys);
	mm = NULL;
	sys = NULL;
}

/* pat - byte i of the anonymous data pattern numbered seed. */
static inline unsigned char pat(size_t i, unsigned seed)
{
	return (unsigned char)(i * 31 + (i >> 12) * 7 + seed);
}

/* file_pat - byte i of the file pattern (a test_tmpfile() fill function). */
static inline unsigned char file_pat(size_t i)
{
	return (unsigned char)(i * 13 + (i >> 12) + 5);
}

/* fill - write pattern seed over the len bytes at addr (which must succeed). */
static inline void fill(uintptr_t addr, size_t len, unsigned seed)
{
	unsigned char *buf = malloc(len);

	for (size_t i = 0; i < len; i++)
		buf[i] = pat(i, seed);
	REQUIRE(umm_write(mm, addr, buf, len) == 0);
	free(buf);
}

/* holds - do the len bytes at addr read as fill(addr, len, seed) wrote them? */
static inline bool holds(uintptr_t addr, size_t len, unsigned seed)
{
	unsigned char *buf = malloc(len);
	bool ok = umm_read(mm, addr, buf, len) == 0;

	for (size_t i = 0; ok && i < len; i++)
		ok = buf[i] == pat(i, seed);
	free(buf);
	return ok;
}

/* holds_file - do the len bytes at addr read as the file pattern from offset? */
static inline bool holds_file(uintptr_t addr, size_t len, size_t offset)
{
	unsigned char *buf = malloc(len);
	bool ok = umm_read(mm, addr, buf, len) == 0;

	for (size_t i = 0; ok && i < len; i++)
		ok = buf[i] == file_pat(offset + i);
	free(buf);
	return ok;
}

/* holds_zero - do the len bytes at addr read as zeroes? */
static inline bool holds_zero(uintptr_t addr, size_t len)
{
	unsigned char *buf = malloc(len);
	bool ok = umm_read(mm, addr, buf, len) == 0;

	for (size_t i = 0; ok && i < len; i++)
		ok = buf[i] == 0;
	free(buf);
	return ok;
}

/* read_byte - the byte at addr, or the negative errno of the read. */
static inline int read_byte(uintptr_t addr)
{
	unsigned char c;
	int err = umm_read(mm, addr, &c, 1);

	return err ? err : c;
}

/* write_byte - store c at addr: 0 or the negative errno of the write. */
static inline int write_byte(uintptr_t addr, unsigned char c)
{
	return umm_write(mm, addr, &c, 1);
}

/*
 * map_anon - a private anonymous mapping of len bytes with hint as a hint
 * only: returns wherever it was placed.  For the tests of placement.
 */
static inline uintptr_t map_anon(uintptr_t hint, size_t len, int prot)
{
	uintptr_t a = 0;

	REQUIRE(umm_mmap(mm, hint, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &a) == 0);
	return a;
}

/* map_at - like map_anon, but a non-zero hint must be where it lands. */
static inline uintptr_t map_at(uintptr_t hint, size_t len, int prot)
{
	uintptr_t a = map_anon(hint, len, prot);

	REQUIRE(!hint || a == hint);
	return a;
}

static inline struct umm_mm_stats stats(void)
{
	struct umm_mm_stats st;

	REQUIRE(umm_mm_stats(mm, &st) == 0);
	return st;
}

static inline unsigned long nr_vmas(void)
{
	return stats().nr_vmas;
}

/* maps - the /proc/PID/maps text of mm (caller frees). */
static inline char *maps(void)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	REQUIRE(f);
	REQUIRE(umm_mm_dump_maps(mm, f) == 0);
	fclose(f);
	return buf;
}

/* CHECK_MAPS - the maps text is still `before` (printed both ways if not). */
#define CHECK_MAPS(before) do { char *__now = maps(); CHECK(strcmp(__now, (before)) == 0); \
	if (strcmp(__now, (before))) fprintf(stderr, "before:\n%safter:\n%s", (before), __now); \
	free(__now); } while (0)

/*
 * WITH_PAGE_ALLOC_FAILING - the value of the int expression call, evaluated
 * with every page allocation after the first `skip` failing.
 */
#define WITH_PAGE_ALLOC_FAILING(skip, call) ({ \
	REQUIRE(umm_inject_fault(sys, UMM_INJECT_PAGE_ALLOC, (skip), -1) == 0); \
	int __err = (call); \
	REQUIRE(umm_inject_fault(sys, UMM_INJECT_PAGE_ALLOC, 0, 0) == 0); \
	__err; })

/* open_file - a umm_object for fd (the caller puts it). */
static inline struct umm_object *open_file(int fd)
{
	struct umm_object *obj;

	REQUIRE(umm_object_open_fd(sys, fd, &obj) == 0);
	return obj;
}

/* reopen - a new fd for the file behind fd, opened with mode. */
static inline int reopen(int fd, int mode)
{
	char path[64];
	int nfd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	nfd = open(path, mode);
	REQUIRE(nfd >= 0);
	return nfd;
}

#endif

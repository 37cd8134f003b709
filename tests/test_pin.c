/* SPDX-License-Identifier: MIT */
/*
 * test_pin.c - pins stay attached to their mapping (access.h): the
 * deterministic cases.
 *
 * Theory of operation.  A pin is attached when the pinned frame and the
 * address space agree in both directions: a store through the pin is
 * what umm_read returns at the address, and a umm_write at the address
 * lands in the pinned frame.  attached() checks both with fresh bytes.
 * Each test below runs one sequence that, before PG_anon_exclusive, made
 * a write fault or fork copy the page away from the pin (the two bugs of
 * issue 6), or one that must keep working (mremap, munmap), plus forced
 * write pins (UMM_PIN_FORCE) and their failure cases, and fork running
 * out of memory while it copies pinned pages.  A seeded random walk then
 * mixes all of these with pins held throughout.  The racing cases are in
 * test_races.c.
 *
 * Internal headers are used only to look at the frames (page.h): the
 * exclusive flag, map and reference counts.
 */
#include <fcntl.h>
#include <usermm/usermm.h>
#include "page.h"
#include "test.h"

#define PS 4096UL

static struct umm_system *sys;

static struct umm_mm *new_mm(void)
{
	struct umm_mm *mm;

	REQUIRE(umm_mm_create(sys, &mm) == 0);
	return mm;
}

static void end_mm(struct umm_mm *mm)
{
	CHECK_EQ(umm_mm_check(mm), 0);
	umm_mm_destroy(mm);
}

static uintptr_t map(struct umm_mm *mm, size_t len, int prot, int flags, struct umm_object *obj)
{
	uintptr_t out = 0;

	REQUIRE(umm_mmap(mm, 0, len, prot, flags | (obj ? 0 : MAP_ANONYMOUS), obj, 0, &out) == 0);
	return out;
}

static void fill(struct umm_mm *mm, uintptr_t a, size_t len, char c)
{
	char *buf = malloc(len);

	memset(buf, c, len);
	REQUIRE(umm_write(mm, a, buf, len) == 0);
	free(buf);
}

/* byte_at - the byte umm_read returns at a (or -1 when the read fails). */
static int byte_at(struct umm_mm *mm, uintptr_t a)
{
	unsigned char c;

	return umm_read(mm, a, &c, 1) == 0 ? c : -1;
}

static unsigned char filebyte(size_t i)
{
	return (unsigned char)('a' + i % 23);
}

/*
 * attached - do the pinned frame and the page at a agree both ways?
 * Stores `c1` through the pin and reads it back through the mm, then
 * umm_writes `c2` and reads it back through the pin (offsets 7 and 99).
 */
static bool attached(struct umm_mm *mm, uintptr_t a, struct umm_page *pin, char c1, char c2)
{
	char *p = umm_page_address(pin);
	bool ok;

	p[7] = c1;
	ok = byte_at(mm, a + 7) == (unsigned char)c1;
	ok &= umm_write(mm, a + 99, &c2, 1) == 0;
	ok &= p[99] == c2;
	return ok;
}

/* repin_same - does a new pin of a reach the same frame as `pin`? */
static bool repin_same(struct umm_mm *mm, uintptr_t a, struct umm_page *pin)
{
	struct umm_page *again;
	bool same;

	if (umm_pin_pages(mm, a, 1, UMM_PIN_WRITE, &again) != 1)
		return false;
	same = again == pin;
	umm_unpin_pages(&again, 1, UMM_PIN_WRITE);
	return same;
}

/* Bug 1: pin for write, mprotect RO and back, umm_write: the write fault must reuse the page. */
static void test_mprotect_round_trip(void)
{
	struct umm_mm *mm = new_mm();
	uintptr_t a = map(mm, 2 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL);
	struct umm_page *pin;
	struct umm_mm_stats st0, st1;

	fill(mm, a, 2 * PS, 'a');
	REQUIRE(umm_pin_pages(mm, a, 1, UMM_PIN_WRITE, &pin) == 1);
	CHECK(PageAnonExclusive((struct page *)pin));
	CHECK_EQ(page_count((struct page *)pin), 2);       /* pte + pin */
	for (int round = 0; round < 3; round++) {
		REQUIRE(umm_mm_stats(mm, &st0) == 0);
		CHECK_EQ(umm_mprotect(mm, a, 2 * PS, PROT_READ), 0);
		CHECK_EQ(umm_write(mm, a, "x", 1), -EFAULT);
		CHECK_EQ(umm_mprotect(mm, a, 2 * PS, PROT_READ | PROT_WRITE), 0);
		CHECK(attached(mm, a, pin, (char)('A' + round), (char)('a' + round)));
		REQUIRE(umm_mm_stats(mm, &st1) == 0);
		CHECK_EQ(st1.cow_faults, st0.cow_faults);       /* reused, not copied */
		CHECK(repin_same(mm, a, pin));
	}
	/* through PROT_NONE (the pte keeps its frame) and back */
	CHECK_EQ(umm_mprotect(mm, a, 2 * PS, PROT_NONE), 0);
	CHECK_EQ(byte_at(mm, a), -1);
	CHECK_EQ(umm_mprotect(mm, a, 2 * PS, PROT_READ | PROT_WRITE), 0);
	CHECK(attached(mm, a, pin, 'N', 'n'));
	CHECK(repin_same(mm, a, pin));
	/* a read-only pin across the round trip stays attached too */
	umm_unpin_pages(&pin, 1, UMM_PIN_WRITE);
	REQUIRE(umm_pin_pages(mm, a + PS, 1, 0, &pin) == 1);
	CHECK_EQ(umm_mprotect(mm, a, 2 * PS, PROT_READ), 0);
	CHECK_EQ(umm_mprotect(mm, a, 2 * PS, PROT_READ | PROT_WRITE), 0);
	CHECK(attached(mm, a + PS, pin, 'r', 's'));
	umm_unpin_pages(&pin, 1, 0);
	end_mm(mm);
}

/*
 * Bug 2: pin for write, fork, the parent writes: the pinned frame stays
 * the parent's, the child keeps what the page held at fork and never
 * sees stores through the parent's pin.
 */
static void test_fork_then_parent_write(void)
{
	struct umm_mm *parent = new_mm(), *child;
	uintptr_t a = map(parent, 4 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL);
	struct umm_page *pin;
	struct umm_sys_stats s0, s1;
	char *p;

	fill(parent, a, 4 * PS, 'f');
	REQUIRE(umm_pin_pages(parent, a + PS, 1, UMM_PIN_WRITE, &pin) == 1);
	p = umm_page_address(pin);
	REQUIRE(umm_system_stats(sys, &s0) == 0);
	REQUIRE(umm_fork(parent, &child) == 0);
	REQUIRE(umm_system_stats(sys, &s1) == 0);
	CHECK_EQ(s1.anon_pages - s0.anon_pages, 1);         /* the child's copy of the pinned page */
	CHECK(PageAnonExclusive((struct page *)pin));
	CHECK_EQ(page_mapcount((struct page *)pin), 1);

	CHECK_EQ(umm_write(parent, a + PS, "P", 1), 0);
	CHECK(p[0] == 'P');                                 /* the parent's write reached the pin */
	memset(p + 1, 'D', 10);                              /* a device store through the pin */
	CHECK_EQ(byte_at(parent, a + PS + 5), 'D');
	CHECK_EQ(byte_at(child, a + PS), 'f');
	CHECK_EQ(byte_at(child, a + PS + 5), 'f');
	CHECK_EQ(umm_write(child, a + PS, "C", 1), 0);       /* and the child's writes stay its own */
	CHECK(p[0] == 'P');
	CHECK(attached(parent, a + PS, pin, 'x', 'y'));
	CHECK(repin_same(parent, a + PS, pin));
	/* the unpinned pages were shared copy-on-write as usual */
	CHECK_EQ(byte_at(child, a), 'f');
	CHECK_EQ(umm_write(parent, a, "q", 1), 0);
	CHECK_EQ(byte_at(child, a), 'f');
	umm_unpin_pages(&pin, 1, UMM_PIN_WRITE);

	/* after unpinning, a fork shares the page again (and clears exclusive) */
	{
		struct umm_mm *child2;

		REQUIRE(umm_fork(parent, &child2) == 0);
		CHECK_EQ(page_mapcount((struct page *)pin), 2);
		CHECK(!PageAnonExclusive((struct page *)pin));
		CHECK_EQ(byte_at(child2, a + PS + 7), 'x');
		end_mm(child2);
	}
	end_mm(child);
	end_mm(parent);
}

/* fork copies a pinned page whatever its protection: here PROT_NONE at fork time. */
static void test_fork_protnone(void)
{
	struct umm_mm *parent = new_mm(), *child;
	uintptr_t a = map(parent, PS, PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL);
	struct umm_page *pin;

	fill(parent, a, PS, 'p');
	REQUIRE(umm_pin_pages(parent, a, 1, UMM_PIN_WRITE, &pin) == 1);
	CHECK_EQ(umm_mprotect(parent, a, PS, PROT_NONE), 0);
	REQUIRE(umm_fork(parent, &child) == 0);
	CHECK_EQ(page_mapcount((struct page *)pin), 1);
	CHECK_EQ(umm_mprotect(parent, a, PS, PROT_READ | PROT_WRITE), 0);
	CHECK_EQ(umm_mprotect(child, a, PS, PROT_READ | PROT_WRITE), 0);
	memset(umm_page_address(pin), 'D', 4);
	CHECK_EQ(byte_at(parent, a), 'D');
	CHECK_EQ(byte_at(child, a), 'p');
	CHECK(attached(parent, a, pin, 'x', 'y'));
	umm_unpin_pages(&pin, 1, UMM_PIN_WRITE);
	end_mm(child);
	end_mm(parent);
}

/* A read pin taken before fork also stays the parent's (fork copies for the child). */
static void test_fork_read_pin(void)
{
	struct umm_mm *parent = new_mm(), *child;
	uintptr_t a = map(parent, PS, PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL);
	struct umm_page *pin;

	fill(parent, a, PS, 'r');
	REQUIRE(umm_pin_pages(parent, a, 1, 0, &pin) == 1);
	REQUIRE(umm_fork(parent, &child) == 0);
	CHECK_EQ(umm_write(parent, a, "W", 1), 0);
	CHECK(((char *)umm_page_address(pin))[0] == 'W');
	CHECK_EQ(byte_at(child, a), 'r');
	umm_unpin_pages(&pin, 1, 0);
	end_mm(child);
	end_mm(parent);
}

/* A write pin of a page already shared copy-on-write breaks COW first: the pin gets the parent's copy. */
static void test_pin_after_fork(void)
{
	struct umm_mm *parent = new_mm(), *child;
	uintptr_t a = map(parent, PS, PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL);
	struct umm_page *pin;

	fill(parent, a, PS, 's');
	REQUIRE(umm_fork(parent, &child) == 0);
	REQUIRE(umm_pin_pages(child, a, 1, UMM_PIN_WRITE, &pin) == 1);
	CHECK(PageAnonExclusive((struct page *)pin));
	CHECK_EQ(page_mapcount((struct page *)pin), 1);
	memset(umm_page_address(pin), 'k', 8);
	CHECK_EQ(byte_at(child, a), 'k');
	CHECK_EQ(byte_at(parent, a), 's');
	CHECK_EQ(umm_write(parent, a, "p", 1), 0);           /* the parent's page: only it maps it now */
	CHECK(((char *)umm_page_address(pin))[0] == 'k');
	CHECK(attached(child, a, pin, '1', '2'));
	umm_unpin_pages(&pin, 1, UMM_PIN_WRITE);
	end_mm(child);
	end_mm(parent);
}

/* The private copy of a file page is anonymous and exclusive: a pin of it survives fork too. */
static void test_fork_private_file_copy(void)
{
	int fd = test_tmpfile(2 * PS, filebyte);
	struct umm_object *obj;
	struct umm_mm *parent = new_mm(), *child;
	uintptr_t a;
	struct umm_page *pin;
	unsigned char c;

	REQUIRE(umm_object_open_fd(sys, fd, &obj) == 0);
	a = map(parent, 2 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE, obj);
	REQUIRE(umm_pin_pages(parent, a, 1, UMM_PIN_WRITE, &pin) == 1);
	CHECK(PageAnon((struct page *)pin) && PageAnonExclusive((struct page *)pin));
	REQUIRE(umm_fork(parent, &child) == 0);
	memset(umm_page_address(pin), 'Z', 4);
	CHECK_EQ(byte_at(parent, a), 'Z');
	CHECK_EQ(byte_at(child, a), filebyte(0));
	CHECK(attached(parent, a, pin, 'm', 'n'));
	umm_unpin_pages(&pin, 1, UMM_PIN_WRITE);
	end_mm(child);
	end_mm(parent);
	umm_object_put(obj);
	CHECK_EQ(pread(fd, &c, 1, 0), 1);
	CHECK_EQ(c, filebyte(0));                            /* private: the file never changes */
	close(fd);
}

/*
 * fork copies pinned pages with frames it allocates with the locks
 * dropped: make each allocation of the fork fail in turn.  Every failure
 * is -ENOMEM with the parent unchanged (pins still attached) and nothing
 * leaked; then a fork succeeds.
 */
static void test_fork_enomem(void)
{
	struct umm_mm *parent = new_mm(), *child = NULL;
	uintptr_t a = map(parent, 8 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL);
	struct umm_page *pins[3];
	struct umm_sys_stats s0, s1;
	int err = -ENOMEM, fails = 0;

	fill(parent, a, 8 * PS, 'e');
	REQUIRE(umm_pin_pages(parent, a + 2 * PS, 3, UMM_PIN_WRITE, pins) == 3);
	REQUIRE(umm_system_stats(sys, &s0) == 0);
	for (long skip = 0; err == -ENOMEM && skip < 1000; skip++) {
		REQUIRE(umm_inject_fault(sys, UMM_INJECT_PAGE_ALLOC, skip, 1) == 0);
		err = umm_fork(parent, &child);
		REQUIRE(umm_inject_fault(sys, UMM_INJECT_PAGE_ALLOC, 0, 0) == 0);
		if (err == -ENOMEM) {
			fails++;
			REQUIRE(umm_system_stats(sys, &s1) == 0);
			CHECK_EQ(s1.anon_pages, s0.anon_pages);
			CHECK_EQ(s1.nr_mms, s0.nr_mms);
			CHECK_EQ(umm_mm_check(parent), 0);
			for (int i = 0; i < 3; i++)
				CHECK_EQ(page_mapcount((struct page *)pins[i]), 1);
		}
	}
	CHECK_EQ(err, 0);
	CHECK(fails >= 3);              /* at least the three copies could fail */
	if (!err) {
		for (int i = 0; i < 3; i++) {
			uintptr_t pa = a + (2 + (size_t)i) * PS;

			((char *)umm_page_address(pins[i]))[0] = 'X';
			CHECK_EQ(byte_at(child, pa), 'e');
			CHECK(attached(parent, pa, pins[i], 'u', 'v'));
		}
		end_mm(child);
	}
	umm_unpin_pages(pins, 3, UMM_PIN_WRITE);
	end_mm(parent);
}

/* mremap moves the pte, and the pin follows the page to its new address. */
static void test_mremap_follows(void)
{
	struct umm_mm *mm = new_mm();
	uintptr_t a = map(mm, 4 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL);
	uintptr_t hole = map(mm, 8 * PS, PROT_NONE, MAP_PRIVATE, NULL), b = 0;
	struct umm_page *pin;

	fill(mm, a, 4 * PS, 'm');
	REQUIRE(umm_pin_pages(mm, a + PS, 1, UMM_PIN_WRITE, &pin) == 1);
	REQUIRE(umm_mremap(mm, a, 4 * PS, 4 * PS, MREMAP_MAYMOVE | MREMAP_FIXED, hole + 2 * PS, &b) == 0);
	CHECK_EQ(b, hole + 2 * PS);
	CHECK_EQ(byte_at(mm, a + PS), -1);                  /* the old range is gone */
	CHECK(attached(mm, b + PS, pin, 'g', 'h'));
	CHECK(repin_same(mm, b + PS, pin));
	/* growing in place or by moving keeps it too */
	REQUIRE(umm_mremap(mm, b, 4 * PS, 64 * PS, MREMAP_MAYMOVE, 0, &b) == 0);
	CHECK(attached(mm, b + PS, pin, 'i', 'j'));
	CHECK(repin_same(mm, b + PS, pin));
	umm_unpin_pages(&pin, 1, UMM_PIN_WRITE);
	end_mm(mm);
}

/* munmap detaches: the frame stays valid and keeps its bytes; the address then faults. */
static void test_munmap_detaches(void)
{
	struct umm_mm *mm = new_mm();
	uintptr_t a = map(mm, PS, PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL);
	struct umm_page *pin;
	char *p;

	fill(mm, a, PS, 'u');
	REQUIRE(umm_pin_pages(mm, a, 1, UMM_PIN_WRITE, &pin) == 1);
	CHECK_EQ(umm_munmap(mm, a, PS), 0);
	p = umm_page_address(pin);
	CHECK(p[0] == 'u' && p[PS - 1] == 'u');
	p[0] = 'v';
	CHECK_EQ(byte_at(mm, a), -1);
	REQUIRE(umm_mmap(mm, a, PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
			 NULL, 0, &a) == 0);
	CHECK_EQ(byte_at(mm, a), 0);                        /* a fresh page, not the pinned one */
	umm_unpin_pages(&pin, 1, UMM_PIN_WRITE);
	end_mm(mm);
}

/*
 * UMM_PIN_FORCE on a private read-only file mapping: the pin gets a
 * private anon copy, stores through it are what the mapping reads, the
 * mapping stays read-only for ordinary writes, and the file and its page
 * cache never change.
 */
static void test_force_private_file(void)
{
	int fd = test_tmpfile(2 * PS, filebyte);
	int rofd;
	struct umm_object *obj;
	struct umm_mm *mm = new_mm();
	uintptr_t a, s;
	struct umm_page *pin, *again;
	unsigned char c;
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	rofd = open(path, O_RDONLY);
	REQUIRE(rofd >= 0);
	REQUIRE(umm_object_open_fd(sys, rofd, &obj) == 0);  /* a read-only file */
	a = map(mm, 2 * PS, PROT_READ, MAP_PRIVATE, obj);
	s = map(mm, 2 * PS, PROT_READ, MAP_SHARED, obj);
	CHECK_EQ(byte_at(mm, a + 3), filebyte(3));          /* maps the cache page read-only */

	CHECK_EQ(umm_pin_pages(mm, a, 1, UMM_PIN_WRITE, &pin), -EFAULT);
	REQUIRE(umm_pin_pages(mm, a, 1, UMM_PIN_WRITE | UMM_PIN_FORCE, &pin) == 1);
	CHECK(PageAnon((struct page *)pin) && PageAnonExclusive((struct page *)pin));
	memset(umm_page_address(pin), 'F', 16);
	CHECK_EQ(byte_at(mm, a + 3), 'F');                  /* the mapping reads the poke */
	CHECK_EQ(byte_at(mm, a + 16), filebyte(16));
	CHECK_EQ(byte_at(mm, s + 3), filebyte(3));          /* the cache page is untouched */
	CHECK_EQ(umm_write(mm, a, "w", 1), -EFAULT);        /* still read-only */
	/* a second forced pin reuses the private copy */
	REQUIRE(umm_pin_pages(mm, a, 1, UMM_PIN_WRITE | UMM_PIN_FORCE, &again) == 1);
	CHECK(again == pin);
	umm_unpin_pages(&again, 1, UMM_PIN_WRITE | UMM_PIN_FORCE);
	umm_unpin_pages(&pin, 1, UMM_PIN_WRITE | UMM_PIN_FORCE);

	/* a shared mapping without PROT_WRITE refuses a forced write pin */
	CHECK_EQ(umm_pin_pages(mm, s, 1, UMM_PIN_WRITE | UMM_PIN_FORCE, &pin), -EFAULT);
	CHECK_EQ(umm_object_sync(obj, 0, 0), 0);
	end_mm(mm);
	umm_object_put(obj);
	for (size_t i = 0; i < 2 * PS; i += 509) {
		CHECK_EQ(pread(fd, &c, 1, (off_t)i), 1);
		CHECK_EQ(c, filebyte(i));
	}
	close(rofd);
	close(fd);
}

/* UMM_PIN_FORCE on anonymous memory: read-only private works (zero page -> copy), PROT_NONE does not. */
static void test_force_anon(void)
{
	struct umm_mm *mm = new_mm();
	uintptr_t a = map(mm, 2 * PS, PROT_READ, MAP_PRIVATE, NULL);
	uintptr_t n = map(mm, PS, PROT_NONE, MAP_PRIVATE, NULL);
	struct umm_object *shm;
	uintptr_t s;
	struct umm_page *pin;

	CHECK_EQ(byte_at(mm, a), 0);                        /* maps the zero page */
	REQUIRE(umm_pin_pages(mm, a, 1, UMM_PIN_WRITE | UMM_PIN_FORCE, &pin) == 1);
	((char *)umm_page_address(pin))[0] = 'z';
	CHECK_EQ(byte_at(mm, a), 'z');
	CHECK_EQ(umm_write(mm, a, "w", 1), -EFAULT);
	umm_unpin_pages(&pin, 1, UMM_PIN_WRITE);
	CHECK_EQ(umm_pin_pages(mm, n, 1, UMM_PIN_WRITE | UMM_PIN_FORCE, &pin), -EFAULT);
	/* made writable later, the forced copy is reused by an ordinary write */
	CHECK_EQ(umm_mprotect(mm, a, PS, PROT_READ | PROT_WRITE), 0);
	CHECK_EQ(umm_write(mm, a + 1, "y", 1), 0);
	CHECK_EQ(byte_at(mm, a), 'z');
	/* shared anonymous memory without PROT_WRITE: -EFAULT */
	REQUIRE(umm_object_create_shmem(sys, PS, &shm) == 0);
	s = map(mm, PS, PROT_READ, MAP_SHARED, shm);
	umm_object_put(shm);
	CHECK_EQ(umm_pin_pages(mm, s, 1, UMM_PIN_WRITE | UMM_PIN_FORCE, &pin), -EFAULT);
	end_mm(mm);
}

/* Bad flags: unknown bits and UMM_PIN_FORCE without UMM_PIN_WRITE are -EINVAL, nothing pinned. */
static void test_bad_flags(void)
{
	struct umm_mm *mm = new_mm();
	uintptr_t a = map(mm, PS, PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL);
	struct umm_page *pin = NULL;
	struct umm_mm_stats st;

	CHECK_EQ(umm_pin_pages(mm, a, 1, UMM_PIN_FORCE, &pin), -EINVAL);
	CHECK_EQ(umm_pin_pages(mm, a, 1, 0x4, &pin), -EINVAL);
	CHECK_EQ(umm_pin_pages(mm, a, 1, UMM_PIN_WRITE | 0x100, &pin), -EINVAL);
	CHECK(pin == NULL);
	REQUIRE(umm_mm_stats(mm, &st) == 0);
	CHECK_EQ(st.rss_anon, 0);                           /* nothing was faulted in */
	end_mm(mm);
}

/* ---- a random walk with pins held across everything ---- */

#define RW_PAGES 8
#define RW_CHILDREN 2

struct rw_child {
	struct umm_mm *mm;
	uintptr_t at;                           /* where the region was when it forked */
	unsigned char snap[RW_PAGES][PS];       /* what it must keep reading */
};

static unsigned char rw_model[RW_PAGES][PS];

/* rw_check_mm - does the region at `at` of mm read as `want`? */
static bool rw_check_mm(struct umm_mm *m, uintptr_t at, unsigned char (*want)[PS])
{
	static unsigned char buf[PS];

	for (int p = 0; p < RW_PAGES; p++)
		if (umm_read(m, at + (size_t)p * PS, buf, PS) != 0 || memcmp(buf, want[p], PS) != 0)
			return false;
	return true;
}

/*
 * random_walk - one address space, a region of written private pages
 * (anonymous, or private copies of the pages of obj), and random steps:
 * writes through the mapping, stores through held pins (read, write and
 * forced write pins), new pins and unpins, mprotect RO/RW round trips,
 * fork (children keep their snapshot however the parent goes on), and
 * moving the region away and back with mremap.  After every step the
 * mapping reads as the model, and every held pin's frame holds exactly
 * what the mapping reads at its page: no step detaches a pin.
 */
static void random_walk(struct umm_object *obj, uint64_t seed)
{
	uint64_t rnd = seed;
	struct umm_mm *mm = new_mm();
	uintptr_t a = map(mm, RW_PAGES * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE, obj);
	uintptr_t spare = map(mm, RW_PAGES * PS, PROT_NONE, MAP_PRIVATE, NULL), out;
	struct umm_page *pin[RW_PAGES] = { NULL };
	int pin_flags[RW_PAGES] = { 0 };
	struct rw_child *kids = calloc(RW_CHILDREN, sizeof(*kids));
	bool writable = true;
	int steps = 3000, bad_steps = 0, forks = 0;
	unsigned char buf[64];

	/* every page written once: private and exclusive from the start */
	for (int p = 0; p < RW_PAGES; p++) {
		REQUIRE(umm_read(mm, a + (size_t)p * PS, rw_model[p], PS) == 0);
		if (obj)
			CHECK_EQ(rw_model[p][1], filebyte((size_t)p * PS + 1));
		memset(rw_model[p], 'a' + p, PS / 2);
		REQUIRE(umm_write(mm, a + (size_t)p * PS, rw_model[p], PS) == 0);
	}
	for (int step = 0; step < steps; step++) {
		int p = (int)(test_rnd(&rnd) % RW_PAGES);
		size_t off = test_rnd(&rnd) % (PS - sizeof(buf)), len = 1 + test_rnd(&rnd) % sizeof(buf);
		unsigned op = (unsigned)(test_rnd(&rnd) % 100);
		bool ok = true;

		for (size_t i = 0; i < len; i++)
			buf[i] = (unsigned char)test_rnd(&rnd);
		if (op < 25) {                          /* a write through the mapping */
			int err = umm_write(mm, a + (size_t)p * PS + off, buf, len);

			ok = err == (writable ? 0 : -EFAULT);
			if (!err)
				memcpy(rw_model[p] + off, buf, len);
		} else if (op < 45) {                   /* a store through a held pin */
			if (pin[p]) {
				memcpy((unsigned char *)umm_page_address(pin[p]) + off, buf, len);
				memcpy(rw_model[p] + off, buf, len);
			}
		} else if (op < 60) {                   /* pin or unpin */
			if (pin[p]) {
				umm_unpin_pages(&pin[p], 1, pin_flags[p]);
				pin[p] = NULL;
			} else {
				static const int flag_choice[] = { 0, UMM_PIN_WRITE, UMM_PIN_WRITE | UMM_PIN_FORCE };
				int fl = flag_choice[test_rnd(&rnd) % 3];
				long n = umm_pin_pages(mm, a + (size_t)p * PS, 1, fl, &pin[p]);

				ok = n == ((fl == UMM_PIN_WRITE && !writable) ? -EFAULT : 1);
				if (n != 1)
					pin[p] = NULL;
				pin_flags[p] = fl;
			}
		} else if (op < 72) {                   /* mprotect round trip (or half of one) */
			writable = !writable;
			ok = umm_mprotect(mm, a, RW_PAGES * PS,
					  writable ? PROT_READ | PROT_WRITE : PROT_READ) == 0;
		} else if (op < 84) {                   /* fork, or retire a child */
			struct rw_child *k = &kids[test_rnd(&rnd) % RW_CHILDREN];

			if (k->mm) {
				ok = rw_check_mm(k->mm, k->at, k->snap);
				end_mm(k->mm);
				k->mm = NULL;
			} else if (umm_fork(mm, &k->mm) == 0) {
				forks++;
				k->at = a;
				memcpy(k->snap, rw_model, sizeof(rw_model));
				ok = rw_check_mm(k->mm, a, k->snap);
			} else {
				ok = false;
			}
		} else if (op < 92) {                   /* move the region away and back */
			ok = umm_mremap(mm, a, RW_PAGES * PS, RW_PAGES * PS, MREMAP_MAYMOVE | MREMAP_FIXED,
					spare, &out) == 0 && out == spare;
			spare = a;
			a = out;
		} else {                                /* the children keep their snapshots */
			for (int c = 0; c < RW_CHILDREN; c++)
				if (kids[c].mm)
					ok &= rw_check_mm(kids[c].mm, kids[c].at, kids[c].snap);
		}
		/* the mapping reads as the model, and every held pin is its page */
		ok &= rw_check_mm(mm, a, rw_model);
		for (int q = 0; q < RW_PAGES; q++)
			if (pin[q])
				ok &= memcmp(umm_page_address(pin[q]), rw_model[q], PS) == 0;
		if (!ok && bad_steps++ < 5)
			fprintf(stderr, "    random walk: step %d (op %u, page %d) went wrong\n", step, op, p);
	}
	CHECK_EQ(bad_steps, 0);
	CHECK(forks > 0);
	for (int p = 0; p < RW_PAGES; p++)
		if (pin[p])
			umm_unpin_pages(&pin[p], 1, pin_flags[p]);
	for (int c = 0; c < RW_CHILDREN; c++)
		if (kids[c].mm) {
			CHECK(rw_check_mm(kids[c].mm, kids[c].at, kids[c].snap));
			end_mm(kids[c].mm);
		}
	free(kids);
	end_mm(mm);
}

static void test_random_walk(void)
{
	uint64_t seed = test_seed("test_pin random walks", "UMM_PIN_SEED", 12345);
	int fd = test_tmpfile(RW_PAGES * PS, filebyte);
	struct umm_object *obj;

	random_walk(NULL, seed);
	REQUIRE(umm_object_open_fd(sys, fd, &obj) == 0);
	random_walk(obj, seed + 1);
	umm_object_put(obj);
	close(fd);
}

int main(void)
{
	struct umm_config cfg = { .phys_bytes = 16 << 20, .debug_checks = 1 };
	struct umm_sys_stats st;

	REQUIRE(umm_system_create(&cfg, &sys) == 0);
	RUN(test_mprotect_round_trip);
	RUN(test_fork_then_parent_write);
	RUN(test_fork_read_pin);
	RUN(test_fork_protnone);
	RUN(test_pin_after_fork);
	RUN(test_fork_private_file_copy);
	RUN(test_fork_enomem);
	RUN(test_mremap_follows);
	RUN(test_munmap_detaches);
	RUN(test_force_private_file);
	RUN(test_force_anon);
	RUN(test_bad_flags);
	RUN(test_random_walk);
	CHECK_EQ(umm_system_check(sys), 0);
	REQUIRE(umm_system_stats(sys, &st) == 0);
	CHECK_EQ(st.anon_pages, 0);
	CHECK_EQ(st.nr_objects, 0);
	umm_system_destroy(sys);
	return test_summary("test_pin");
}

/* SPDX-License-Identifier: MIT */
/*
 * test_soft_mmu.c - the software MMU: umm_read/umm_write, the per-thread
 * TLB and its shootdown, page pinning.
 *
 * Theory of operation.  Every test goes through the public interface,
 * plus tlb_get_stats() (and, for the flush-log tests, flush_tlb_range())
 * from src/tlb.h to see whether the TLB was really used.  The
 * stale-translation tests each first make sure the thread's TLB holds the
 * translation (a read that hits), then change the mapping and check the
 * next access sees the change: each would fail with a TLB that is not
 * invalidated.  The concurrent tests run a worker against a thread that
 * changes the mapping, with time budgets that keep the program short
 * under ASan and TSan:
 *
 *   remap_race      a reader loops over a window while a mapper replaces
 *                   it (munmap + mremap of freshly written pages, or
 *                   mremap over it) and scribbles over the frames it
 *                   freed: every read is uniform pages of some generation
 *                   or -EFAULT, never garbage; after the last remap the
 *                   reader sees the last generation.
 *   write_vs_protect / read_vs_munmap
 *                   a write (read) that starts after mprotect (munmap)
 *                   returned never succeeds.
 *   many_threads    threads fill their own pages while a mutator maps,
 *                   protects and unmaps elsewhere; every thread hits in
 *                   its own TLB and every TLB is gone after the join.
 *
 * The flush-log tests check the precision the TLB promises (a flush of
 * one page keeps the entries of the others; too many flushes, or a whole-
 * mm one, drop everything) in an mm another thread has used, that a flush
 * in an mm only this thread used is done locally (no log, no shootdown,
 * precise however many there are), that a flush in an mm no other
 * thread touched needs no cross-thread barrier, and that a flush of a
 * range no other thread's entries can lie in is local too (flush_by_range).
 *
 * Outside TSan (whose build always uses seq_cst accesses) the program
 * re-runs its concurrent tests in a child with UMM_TLB_MEMBARRIER=0, so
 * both barrier implementations are exercised.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <time.h>
#include <usermm/usermm.h>
#include "page.h"
#include "tlb.h"
#include "test.h"

#define PS 4096UL

static struct umm_system *sys;

static struct soft_tlb_stats stats(void)
{
	struct soft_tlb_stats st;

	tlb_get_stats(&st);
	return st;
}

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

static uintptr_t map(struct umm_mm *mm, uintptr_t addr, size_t len, int prot, int flags,
		     struct umm_object *obj)
{
	uintptr_t out = 0;
	int err = umm_mmap(mm, addr, len, prot, flags | (obj ? 0 : MAP_ANONYMOUS), obj, 0, &out);

	REQUIRE(err == 0);
	return out;
}

static uintptr_t map_anon(struct umm_mm *mm, size_t len)
{
	return map(mm, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL);
}

static void fill(struct umm_mm *mm, uintptr_t addr, size_t len, int byte)
{
	char buf[PS];

	memset(buf, byte, sizeof(buf));
	for (size_t off = 0; off < len; off += PS)
		REQUIRE(umm_write(mm, addr + off, buf, MIN(PS, len - off)) == 0);
}

/* page_byte - the byte a page is uniformly made of, -1 if not uniform, or the read error. */
static int page_byte(struct umm_mm *mm, uintptr_t addr)
{
	unsigned char buf[PS];
	int err = umm_read(mm, addr, buf, PS);

	if (err)
		return err;
	for (size_t i = 1; i < PS; i++)
		if (buf[i] != buf[0])
			return -1000;
	return buf[0];
}

static unsigned char fill_F(size_t i) { (void)i; return 'F'; }
static unsigned char fill_index(size_t i) { return (unsigned char)(i * 7 + (i >> 12)); }

static struct umm_object *file_object(size_t size, unsigned char (*fn)(size_t), int *fdp)
{
	int fd = test_tmpfile(size, fn);
	struct umm_object *obj;

	REQUIRE(umm_object_open_fd(sys, fd, &obj) == 0);
	if (fdp)
		*fdp = fd;
	else
		close(fd);
	return obj;
}

/* ---- basic copying ---- */

static void test_bad_inputs(void)
{
	struct umm_mm *mm = new_mm();
	uintptr_t a = map_anon(mm, 2 * PS);
	char buf[16];
	struct umm_mm_stats before, after;

	memset(buf, 'q', sizeof(buf));
	umm_mm_stats(mm, &before);
	CHECK_EQ(umm_read(NULL, a, buf, 1), -EINVAL);
	CHECK_EQ(umm_write(NULL, a, buf, 1), -EINVAL);
	CHECK_EQ(umm_read(mm, a, NULL, 1), -EINVAL);
	CHECK_EQ(umm_write(mm, a, NULL, 1), -EINVAL);
	CHECK_EQ(umm_read(mm, a, NULL, 0), 0);
	CHECK_EQ(umm_read(mm, 0x1000, buf, 0), 0);       /* len 0: nothing is accessed */
	CHECK_EQ(umm_write(mm, 0x1000, buf, 0), 0);
	CHECK_EQ(umm_read(mm, UINTPTR_MAX - 3, buf, 8), -EFAULT);
	CHECK_EQ(umm_write(mm, UINTPTR_MAX - 3, buf, 8), -EFAULT);
	CHECK_EQ(umm_read(mm, UINTPTR_MAX - 7, buf, 8), -EFAULT);  /* no wrap, but no mapping */
	CHECK_EQ(umm_read(mm, 0x1000, buf, 4), -EFAULT);
	CHECK_EQ(umm_read(mm, UMM_TASK_SIZE, buf, 4), -EFAULT);
	for (size_t i = 0; i < sizeof(buf); i++)
		CHECK(buf[i] == 'q');
	umm_mm_stats(mm, &after);
	CHECK_EQ(after.rss_anon, before.rss_anon);
	CHECK_EQ(after.nr_vmas, before.nr_vmas);
	CHECK_EQ(after.minor_faults, before.minor_faults);
	end_mm(mm);
}

static void test_cross_page_and_vma(void)
{
	struct umm_mm *mm = new_mm();
	struct umm_object *obj = file_object(4 * PS, fill_index, NULL);
	uintptr_t a = map_anon(mm, 6 * PS);
	static unsigned char pat[5 * PS], out[6 * PS];

	/* [a, a+2p) anon, [a+2p, a+4p) shared file, [a+4p, a+6p) anon */
	map(mm, a + 2 * PS, 2 * PS, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, obj);
	for (size_t i = 0; i < sizeof(pat); i++)
		pat[i] = (unsigned char)(i * 13 + 5);
	CHECK_EQ(umm_write(mm, a + 100, pat, sizeof(pat)), 0);
	memset(out, 0, sizeof(out));
	CHECK_EQ(umm_read(mm, a, out, sizeof(out)), 0);
	CHECK(out[99] == 0);
	CHECK(memcmp(out + 100, pat, sizeof(pat)) == 0);
	CHECK(out[100 + sizeof(pat)] == 0);
	/* odd offsets and lengths, including single bytes at page edges */
	for (size_t off = PS - 3; off < 5 * PS; off += 1531) {
		unsigned char b[37];

		CHECK_EQ(umm_read(mm, a + off, b, sizeof(b)), 0);
		CHECK(memcmp(b, out + off, sizeof(b)) == 0);
	}
	CHECK_EQ(umm_read(mm, a + 4 * PS - 1, out, 2), 0);
	CHECK(out[0] == pat[4 * PS - 101] && out[1] == pat[4 * PS - 100]);
	umm_object_sync(obj, 0, 0);
	umm_object_put(obj);
	end_mm(mm);
}

static void test_fault_at_hole(void)
{
	struct umm_mm *mm = new_mm();
	uintptr_t a = map_anon(mm, 3 * PS);
	static char buf[3 * PS];

	fill(mm, a, 3 * PS, 'h');
	CHECK_EQ(umm_munmap(mm, a + 2 * PS, PS), 0);
	memset(buf, 0, sizeof(buf));
	CHECK_EQ(umm_read(mm, a + PS, buf, 2 * PS), -EFAULT);
	CHECK(buf[0] == 'h' && buf[PS - 1] == 'h');        /* the page before the hole was copied */
	CHECK(buf[PS] == 0);
	CHECK_EQ(umm_write(mm, a + 2 * PS - 8, buf, 16), -EFAULT);
	CHECK_EQ(umm_read(mm, a + 3 * PS - 1, buf, 1), -EFAULT);
	end_mm(mm);
}

static void test_protection(void)
{
	struct umm_mm *mm = new_mm();
	uintptr_t ro = map(mm, 0, PS, PROT_READ, MAP_PRIVATE, NULL);
	uintptr_t none = map(mm, 0, PS, PROT_NONE, MAP_PRIVATE, NULL);
	char b[8] = "12345678";

	CHECK_EQ(page_byte(mm, ro), 0);                    /* the zero page */
	CHECK_EQ(umm_write(mm, ro, b, 8), -EFAULT);
	CHECK_EQ(umm_write(mm, ro, b, 8), -EFAULT);        /* a read-only entry never serves a write */
	CHECK_EQ(umm_read(mm, none, b, 8), -EFAULT);
	CHECK_EQ(umm_write(mm, none, b, 8), -EFAULT);
	end_mm(mm);
}

static void test_hits_counted(void)
{
	struct umm_mm *mm = new_mm();
	uintptr_t a = map_anon(mm, 2 * PS);
	struct soft_tlb_stats s0, s1;
	char b[64];

	fill(mm, a, 2 * PS, 'x');
	s0 = stats();
	for (int i = 0; i < 100; i++)
		CHECK_EQ(umm_read(mm, a + PS - 32, b, 64), 0);  /* two pages each */
	s1 = stats();
	CHECK_EQ(s1.misses, s0.misses);
	CHECK_EQ(s1.hits - s0.hits, 200);
	CHECK(s1.size >= 256);
	/* a read of a clean writable page fills read-only: the first write misses once */
	uintptr_t c = map_anon(mm, PS);
	fill(mm, c, PS, 'c');
	s0 = stats();
	CHECK_EQ(umm_write(mm, c, b, 8), 0);
	CHECK_EQ(umm_read(mm, c, b, 8), 0);
	s1 = stats();
	CHECK_EQ(s1.misses, s0.misses);                    /* dirty writable pte: read+write entry */
	end_mm(mm);
}

/* ---- stale translations ---- */

static void test_stale_munmap(void)
{
	struct umm_mm *mm = new_mm();
	uintptr_t a = map_anon(mm, PS);
	struct soft_tlb_stats s0, s1;

	fill(mm, a, PS, 'm');
	CHECK_EQ(page_byte(mm, a), 'm');
	s0 = stats();
	CHECK_EQ(page_byte(mm, a), 'm');
	s1 = stats();
	CHECK(s1.hits > s0.hits);                          /* the translation is cached */
	CHECK_EQ(umm_munmap(mm, a, PS), 0);
	CHECK_EQ(page_byte(mm, a), -EFAULT);
	CHECK_EQ(umm_write(mm, a, "z", 1), -EFAULT);
	end_mm(mm);
}

static void test_stale_mprotect(void)
{
	struct umm_mm *mm = new_mm();
	uintptr_t a = map_anon(mm, 2 * PS);

	fill(mm, a, 2 * PS, 'w');
	CHECK_EQ(umm_write(mm, a + 10, "W", 1), 0);         /* a read+write entry */
	CHECK_EQ(umm_mprotect(mm, a, PS, PROT_READ), 0);
	CHECK_EQ(umm_write(mm, a + 10, "V", 1), -EFAULT);
	CHECK_EQ(umm_write(mm, a + PS, "V", 1), 0);         /* the other page is still writable */
	CHECK_EQ(umm_mprotect(mm, a + PS, PS, PROT_NONE), 0);
	CHECK_EQ(page_byte(mm, a + PS), -EFAULT);
	char c;
	CHECK_EQ(umm_read(mm, a + 10, &c, 1), 0);
	CHECK(c == 'W');
	CHECK_EQ(umm_mprotect(mm, a, 2 * PS, PROT_READ | PROT_WRITE), 0);
	CHECK_EQ(umm_read(mm, a + PS, &c, 1), 0);
	CHECK(c == 'V');
	end_mm(mm);
}

static void test_stale_fork(void)
{
	struct umm_mm *parent = new_mm(), *child;
	uintptr_t a = map_anon(parent, 2 * PS);
	char c;

	fill(parent, a, 2 * PS, 'P');
	CHECK_EQ(page_byte(parent, a), 'P');               /* read+write entries, both pages */
	CHECK_EQ(page_byte(parent, a + PS), 'P');
	REQUIRE(umm_fork(parent, &child) == 0);
	/* page 0: the child writes first, the parent still reads its own value */
	CHECK_EQ(umm_write(child, a, "C", 1), 0);
	CHECK_EQ(umm_read(parent, a, &c, 1), 0);
	CHECK(c == 'P');
	/* page 1: the parent writes first (a stale entry would write the shared frame) */
	CHECK_EQ(umm_write(parent, a + PS, "Q", 1), 0);
	CHECK_EQ(umm_read(child, a + PS, &c, 1), 0);
	CHECK(c == 'P');
	CHECK_EQ(umm_read(parent, a + PS, &c, 1), 0);
	CHECK(c == 'Q');
	CHECK_EQ(umm_write(parent, a, "R", 1), 0);
	CHECK_EQ(umm_read(child, a, &c, 1), 0);
	CHECK(c == 'C');
	CHECK_EQ(umm_read(parent, a, &c, 1), 0);
	CHECK(c == 'R');
	end_mm(child);
	end_mm(parent);
}

static void test_stale_mremap(void)
{
	struct umm_mm *mm = new_mm();
	uintptr_t a = map_anon(mm, 2 * PS), b = map_anon(mm, 4 * PS), out = 0;

	fill(mm, a, 2 * PS, 'r');
	CHECK_EQ(page_byte(mm, a + PS), 'r');
	CHECK_EQ(umm_munmap(mm, b, 4 * PS), 0);
	CHECK_EQ(umm_mremap(mm, a, 2 * PS, 2 * PS, MREMAP_MAYMOVE | MREMAP_FIXED, b, &out), 0);
	CHECK_EQ(out, b);
	CHECK_EQ(page_byte(mm, a), -EFAULT);
	CHECK_EQ(page_byte(mm, a + PS), -EFAULT);
	CHECK_EQ(page_byte(mm, b), 'r');
	CHECK_EQ(page_byte(mm, b + PS), 'r');
	/* growing in place is blocked by a neighbour: it must move */
	map(mm, b + 2 * PS, PS, PROT_READ, MAP_PRIVATE | MAP_FIXED, NULL);
	CHECK_EQ(umm_mremap(mm, b, 2 * PS, 3 * PS, MREMAP_MAYMOVE, 0, &out), 0);
	CHECK(out != b);
	CHECK_EQ(page_byte(mm, b), -EFAULT);
	CHECK_EQ(page_byte(mm, out + PS), 'r');
	CHECK_EQ(page_byte(mm, out + 2 * PS), 0);
	end_mm(mm);
}

static void test_stale_map_fixed(void)
{
	struct umm_mm *mm = new_mm();
	struct umm_object *obj = file_object(PS, fill_F, NULL);
	uintptr_t a = map_anon(mm, 2 * PS);

	fill(mm, a, 2 * PS, 'a');
	CHECK_EQ(page_byte(mm, a), 'a');
	map(mm, a, PS, PROT_READ, MAP_PRIVATE | MAP_FIXED, obj);
	CHECK_EQ(page_byte(mm, a), 'F');
	CHECK_EQ(umm_write(mm, a, "x", 1), -EFAULT);
	map(mm, a, PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, NULL);
	CHECK_EQ(page_byte(mm, a), 0);
	CHECK_EQ(page_byte(mm, a + PS), 'a');
	umm_object_put(obj);
	end_mm(mm);
}

/* The zero page is replaced by a private copy: another thread's entry for it must go. */
struct cow_arg { struct umm_mm *mm; uintptr_t a; };

static void *cow_writer(void *p)
{
	struct cow_arg *ca = p;

	TCHECK(umm_write(ca->mm, ca->a, "Y", 1) == 0);
	return NULL;
}

static void test_stale_zero_page_cow(void)
{
	struct umm_mm *mm = new_mm();
	struct cow_arg ca = { mm, map_anon(mm, PS) };
	pthread_t t;
	char c;

	CHECK_EQ(page_byte(mm, ca.a), 0);
	CHECK_EQ(page_byte(mm, ca.a), 0);
	pthread_create(&t, NULL, cow_writer, &ca);
	pthread_join(t, NULL);
	CHECK_EQ(umm_read(mm, ca.a, &c, 1), 0);
	CHECK(c == 'Y');
	end_mm(mm);
	test_fold_thread_checks();
}

/* Address spaces are told apart by id, even when a new one reuses the old one's memory. */
static void test_many_mms(void)
{
	enum { N = 12 };
	struct umm_mm *mm[N];
	uintptr_t a = 0x40000000;

	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < N; i++) {
			mm[i] = new_mm();
			map(mm[i], a, PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, NULL);
			fill(mm[i], a, PS, 'a' + i + round);
		}
		for (int pass = 0; pass < 3; pass++)
			for (int i = 0; i < N; i++)
				CHECK_EQ(page_byte(mm[i], a), 'a' + i + round);
		for (int i = 0; i < N; i++)
			end_mm(mm[i]);
	}
}

/* ---- the flush log: precise catch-up ---- */

/*
 * A parked thread: it reads the pages it is told to (filling its TLB with
 * their translations) and stays alive, its TLB with it, until told to
 * exit.  park_touch waits until the reads are done.
 */
struct parked {
	pthread_t t;
	_Atomic int state;          /* 0 idle, 1 touch (mm, a, len) asked, 2 exit asked,
	                               3 umm_tlb_idle asked, 4 one access of (mm, a) asked */
	struct umm_mm *mm;
	uintptr_t a;
	size_t len;
	bool write;                 /* state 4: a one-byte write of 'w', else a read */
	int ret;                    /* state 4: what the access returned */
	char byte;                  /* state 4: the byte read */
	struct soft_tlb_stats st;   /* the thread's counters after its last request */
};

static void *parked_main(void *p)
{
	struct parked *pk = p;
	int st;
	char c;

	while ((st = atomic_load(&pk->state)) != 2) {
		if (st != 1 && st != 3 && st != 4) {
			sched_yield();
			continue;
		}
		if (st == 1)
			for (size_t off = 0; off < pk->len; off += PS)
				TCHECK(umm_read(pk->mm, pk->a + off, &c, 1) == 0);
		else if (st == 3)
			umm_tlb_idle();
		else if (pk->write)
			pk->ret = umm_write(pk->mm, pk->a, "w", 1);
		else
			pk->ret = umm_read(pk->mm, pk->a, &pk->byte, 1);
		tlb_get_stats(&pk->st);
		atomic_store(&pk->state, 0);
	}
	return NULL;
}

/* park_touch - have pk's thread read [a, a + len) of mm; returns when it has. */
static void park_touch(struct parked *pk, struct umm_mm *mm, uintptr_t a, size_t len)
{
	pk->mm = mm;
	pk->a = a;
	pk->len = len;
	atomic_store(&pk->state, 1);
	while (atomic_load(&pk->state) != 0)
		sched_yield();
}

/* park_start - a parked thread that has read [a, a + len) of mm. */
static void park_start(struct parked *pk, struct umm_mm *mm, uintptr_t a, size_t len)
{
	atomic_store(&pk->state, 0);
	REQUIRE(pthread_create(&pk->t, NULL, parked_main, pk) == 0);
	park_touch(pk, mm, a, len);
}

/* park_ask - have pk's thread carry out request `state` (3, 4); returns when it has. */
static void park_ask(struct parked *pk, int state)
{
	atomic_store(&pk->state, state);
	while (atomic_load(&pk->state) != 0)
		sched_yield();
}

/* park_access - have pk's thread read (or write) one byte at a of mm; returns what that returned. */
static int park_access(struct parked *pk, struct umm_mm *mm, uintptr_t a, bool write)
{
	pk->mm = mm;
	pk->a = a;
	pk->write = write;
	park_ask(pk, 4);
	return pk->ret;
}

static void park_end(struct parked *pk)
{
	atomic_store(&pk->state, 2);
	pthread_join(pk->t, NULL);
	test_fold_thread_checks();
}

/*
 * Flushes of a range another thread holds translations in go through the
 * generation log.
 */
static void test_range_precision(void)
{
	struct umm_mm *mm = new_mm();
	uintptr_t a = map_anon(mm, 3 * PS);
	struct soft_tlb_stats s0, s1;
	struct parked pk;
	char c;

	park_start(&pk, mm, a, 3 * PS);
	unsigned long local0 = stats().local_flushes;
	fill(mm, a, 3 * PS, 'p');
	CHECK_EQ(page_byte(mm, a), 'p');
	CHECK_EQ(page_byte(mm, a + PS), 'p');
	CHECK_EQ(umm_mprotect(mm, a + 2 * PS, PS, PROT_READ), 0);
	s0 = stats();
	CHECK_EQ(umm_read(mm, a, &c, 1), 0);
	CHECK_EQ(umm_read(mm, a + PS, &c, 1), 0);
	s1 = stats();
	CHECK_EQ(s1.misses, s0.misses);                    /* other pages' entries survive */
	CHECK_EQ(s1.range_flushes - s0.range_flushes, 1);
	CHECK_EQ(umm_write(mm, a + 2 * PS, "x", 1), -EFAULT);

	/* more flushes than the log keeps, or a whole-mm flush: everything goes */
	for (int i = 0; i < 20; i++)
		flush_tlb_range(mm, a + 2 * PS, a + 3 * PS);
	s0 = stats();
	CHECK_EQ(umm_read(mm, a, &c, 1), 0);
	s1 = stats();
	CHECK_EQ(s1.misses - s0.misses, 1);
	CHECK_EQ(s1.flushes - s0.flushes, 1);
	flush_tlb_mm(mm);
	s0 = stats();
	CHECK_EQ(umm_read(mm, a + PS, &c, 1), 0);
	s1 = stats();
	CHECK_EQ(s1.misses - s0.misses, 1);
	/* an empty range flushes nothing */
	flush_tlb_range(mm, a, a);
	s0 = stats();
	CHECK_EQ(umm_read(mm, a + PS, &c, 1), 0);
	s1 = stats();
	CHECK_EQ(s1.misses, s0.misses);
	CHECK_EQ(s1.flushes + s1.range_flushes, s0.flushes + s0.range_flushes);
	CHECK_EQ(s1.local_flushes, local0);                /* none of them was local */
	park_end(&pk);
	end_mm(mm);
}

/*
 * Flushes of an mm only this thread has used drop its entries at once (no
 * generation, no log), with a catch-up's precision: up to
 * TLB_SYNC_MAX_GENS (8) of them between two accesses that miss (or
 * otherwise take the out-of-line path) drop only their ranges, the next
 * one drops everything, and a whole-mm flush does too.
 * Once another thread holds a translation in the range, they are
 * shootdowns again.
 */
static void test_local_flush(void)
{
	struct umm_mm *mm = new_mm();
	uintptr_t a = map_anon(mm, 3 * PS);
	struct soft_tlb_stats s0, s1;
	struct parked pk;
	char c;

	fill(mm, a, 3 * PS, 'l');
	CHECK_EQ(page_byte(mm, a), 'l');
	CHECK_EQ(page_byte(mm, a + PS), 'l');
	s0 = stats();
	CHECK_EQ(umm_mprotect(mm, a + 2 * PS, PS, PROT_READ), 0);
	for (int i = 0; i < 7; i++)
		flush_tlb_range(mm, a + 2 * PS, a + 3 * PS);
	s1 = stats();
	CHECK_EQ(s1.local_flushes - s0.local_flushes, 8);
	CHECK_EQ(s1.range_flushes - s0.range_flushes, 8);
	CHECK_EQ(s1.flushes, s0.flushes);
	CHECK_EQ(s1.shootdowns, s0.shootdowns);
	s0 = s1;
	CHECK_EQ(umm_read(mm, a, &c, 1), 0);
	CHECK_EQ(umm_read(mm, a + PS, &c, 1), 0);
	s1 = stats();
	CHECK_EQ(s1.misses, s0.misses);                    /* other pages' entries survive */
	CHECK_EQ(umm_write(mm, a + 2 * PS, "x", 1), -EFAULT);  /* a miss: the count restarts */
	CHECK_EQ(umm_load_u8(mm, a + 2 * PS, (uint8_t *)&c), 0);
	CHECK(c == 'l');

	/* more than 8 without a miss in between: everything goes, once */
	s0 = stats();
	for (int i = 0; i < 20; i++)
		flush_tlb_range(mm, a + 2 * PS, a + 3 * PS);
	s1 = stats();
	CHECK_EQ(s1.local_flushes - s0.local_flushes, 20);
	CHECK_EQ(s1.range_flushes - s0.range_flushes, 8);
	CHECK_EQ(s1.flushes - s0.flushes, 1);
	s0 = s1;
	CHECK_EQ(umm_read(mm, a, &c, 1), 0);
	s1 = stats();
	CHECK_EQ(s1.misses - s0.misses, 1);

	flush_tlb_mm(mm);
	s0 = stats();
	CHECK_EQ(umm_read(mm, a + PS, &c, 1), 0);
	s1 = stats();
	CHECK_EQ(s1.misses - s0.misses, 1);
	flush_tlb_range(mm, a, a);                         /* an empty range flushes nothing */
	s0 = stats();
	CHECK_EQ(umm_read(mm, a + PS, &c, 1), 0);
	s1 = stats();
	CHECK_EQ(s1.misses, s0.misses);
	CHECK_EQ(s1.local_flushes, s0.local_flushes);

	park_start(&pk, mm, a, PS);
	s0 = stats();
	flush_tlb_range(mm, a, a + PS);
	s1 = stats();
	CHECK_EQ(s1.shootdowns - s0.shootdowns, 1);
	CHECK_EQ(s1.local_flushes, s0.local_flushes);
	park_end(&pk);
	end_mm(mm);
}

/* ---- sizing ---- */

static void test_resize(void)
{
	enum { PAGES = 4096 };
	struct umm_mm *mm = new_mm();
	uintptr_t a = map(mm, 0, PAGES * PS, PROT_READ, MAP_PRIVATE, NULL);  /* zero page: no frames */
	struct soft_tlb_stats s0, s1;
	char c;
	double t0;

	s0 = stats();
	for (int pass = 0; pass < 6; pass++)
		for (size_t i = 0; i < PAGES; i++)
			CHECK_EQ(umm_read(mm, a + i * PS, &c, 1), 0);
	s1 = stats();
	CHECK(s1.size > s0.size);
	CHECK(s1.size >= PAGES);
	CHECK(s1.resizes > s0.resizes);
	s0 = s1;
	for (size_t i = 0; i < PAGES; i++)
		CHECK_EQ(umm_read(mm, a + i * PS, &c, 1), 0);
	s1 = stats();
	CHECK(s1.misses - s0.misses < PAGES / 8);          /* the working set now fits */

	/* a small working set under whole-mm flushes shrinks it again */
	t0 = test_now_s();
	do {
		CHECK_EQ(umm_read(mm, a, &c, 1), 0);
		flush_tlb_mm(mm);
		s1 = stats();
	} while (s1.size >= s0.size && test_now_s() - t0 < 3.0);
	CHECK(s1.size < s0.size);
	end_mm(mm);
}

/* ---- threads ---- */

static void *touch_and_exit(void *p)
{
	struct umm_mm *mm = p;
	char c;

	TCHECK(umm_read(mm, 0x40000000, &c, 1) == 0);
	TCHECK(stats().misses == 1);
	return NULL;
}

/* Only a flush in an mm another thread may hold entries for needs the cross-thread barrier. */
static void test_flush_skips_unrelated_threads(void)
{
	struct umm_mm *mine = new_mm(), *theirs = new_mm();
	struct soft_tlb_stats s0, s1;
	struct parked pk;

	map(mine, 0x40000000, PS, PROT_READ, MAP_PRIVATE | MAP_FIXED, NULL);
	map(theirs, 0x40000000, PS, PROT_READ, MAP_PRIVATE | MAP_FIXED, NULL);
	CHECK_EQ(page_byte(mine, 0x40000000), 0);
	park_start(&pk, theirs, 0x40000000, PS);
	s0 = stats();
	CHECK(s0.nr_registered >= 2);
	flush_tlb_mm(mine);                                /* the other thread never touched it */
	s1 = stats();
	CHECK_EQ(s1.local_flushes - s0.local_flushes, 1);  /* only this thread did */
	CHECK_EQ(s1.shootdowns, s0.shootdowns);
	CHECK_EQ(s1.shootdown_barriers, s0.shootdown_barriers);
	flush_tlb_mm(theirs);                              /* it did touch this one */
	s0 = stats();
	CHECK_EQ(s0.shootdown_barriers - s1.shootdown_barriers, 1);
	park_end(&pk);
	flush_tlb_mm(theirs);                              /* and it is gone */
	s1 = stats();
	CHECK_EQ(s1.shootdown_barriers, s0.shootdown_barriers);
	end_mm(theirs);
	end_mm(mine);
}

/*
 * Flushes by range: in an mm another thread uses, a flush is still this
 * thread's alone when none of the other thread's translations can lie in
 * the range (its span: the 2 MiB regions, modulo 512 MiB, where it filled
 * entries since it last dropped them), and a shootdown when one can.
 */
static void test_flush_by_range(void)
{
	enum { NR_OTHER = 16 };                            /* more than a TLB keeps contexts for */
	const uintptr_t R = 2UL << 20, a = 0x40000000;
	struct umm_mm *mm = new_mm(), *other[NR_OTHER];
	struct soft_tlb_stats s0, s1;
	struct parked pk;

	map(mm, a, 4 * R, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, NULL);
	for (int i = 0; i < 4; i++)
		fill(mm, a + i * R, PS, 'r');              /* this thread: regions 0..3 */
	park_start(&pk, mm, a, PS);                        /* the other one: region 0 */

	/* region 1: only this thread's entry, dropped at once */
	s0 = stats();
	flush_tlb_range(mm, a + R, a + R + PS);
	s1 = stats();
	CHECK_EQ(s1.span_skips - s0.span_skips, 1);
	CHECK_EQ(s1.local_flushes - s0.local_flushes, 1);
	CHECK_EQ(s1.shootdowns, s0.shootdowns);
	s0 = s1;
	CHECK_EQ(page_byte(mm, a + R), 'r');
	s1 = stats();
	CHECK_EQ(s1.misses - s0.misses, 1);
	/* regions 1..3 at once: still alone; 0..1, or another page of region 0: a shootdown */
	s0 = stats();
	flush_tlb_range(mm, a + R, a + 4 * R);
	s1 = stats();
	CHECK_EQ(s1.span_skips - s0.span_skips, 1);
	CHECK_EQ(s1.shootdowns, s0.shootdowns);
	flush_tlb_range(mm, a + R - PS, a + R + PS);
	flush_tlb_range(mm, a + PS, a + 2 * PS);
	s0 = stats();
	CHECK_EQ(s0.shootdowns - s1.shootdowns, 2);
	CHECK_EQ(s0.span_skips, s1.span_skips);
	/* 128 MiB above region 0 has a span bit of its own (it shared one when spans were 64 bits) */
	flush_tlb_range(mm, a + 64 * R, a + 64 * R + PS);
	s1 = stats();
	CHECK_EQ(s1.span_skips - s0.span_skips, 1);
	CHECK_EQ(s1.shootdowns, s0.shootdowns);
	s0 = s1;
	/* 512 MiB above region 0 is the same span bit: coarse, so a shootdown too */
	flush_tlb_range(mm, a + 256 * R, a + 256 * R + PS);
	s1 = stats();
	CHECK_EQ(s1.shootdowns - s0.shootdowns, 1);

	/* it caught up with a whole-mm flush, then filled only region 2: region 0 is free again */
	flush_tlb_mm(mm);
	park_touch(&pk, mm, a + 2 * R, PS);
	s0 = stats();
	flush_tlb_range(mm, a, a + PS);
	s1 = stats();
	CHECK_EQ(s1.span_skips - s0.span_skips, 1);
	CHECK_EQ(s1.shootdowns, s0.shootdowns);
	flush_tlb_range(mm, a + 2 * R, a + 2 * R + PS);
	s0 = stats();
	CHECK_EQ(s0.shootdowns - s1.shootdowns, 1);

	/* its context for mm went to other mms: it holds nothing of mm */
	for (int i = 0; i < NR_OTHER; i++) {
		other[i] = new_mm();
		map(other[i], a, PS, PROT_READ, MAP_PRIVATE | MAP_FIXED, NULL);
		park_touch(&pk, other[i], a, PS);
	}
	s0 = stats();
	flush_tlb_range(mm, a + 2 * R, a + 2 * R + PS);
	s1 = stats();
	CHECK_EQ(s1.span_skips - s0.span_skips, 1);
	CHECK_EQ(s1.shootdowns, s0.shootdowns);
	/* and what it touches again is covered again */
	park_touch(&pk, mm, a + 3 * R, PS);
	flush_tlb_range(mm, a + 3 * R, a + 3 * R + PS);
	s0 = stats();
	CHECK_EQ(s0.shootdowns - s1.shootdowns, 1);
	park_end(&pk);
	for (int i = 0; i < NR_OTHER; i++)
		end_mm(other[i]);
	end_mm(mm);
}

/*
 * umm_tlb_idle: a parked thread that read pages holds their region, so
 * this thread's flush there is a shootdown.  Once it has called
 * umm_tlb_idle, flushes there (an mprotect, a munmap) are this thread's
 * alone, and its next accesses refill and see what changed meanwhile: the
 * page made read-only refuses its write, the unmapped page is -EFAULT,
 * the page written meanwhile reads the new byte.  Its TLB array stays.
 */
static void test_tlb_idle(void)
{
	const uintptr_t a = 0x40000000;
	struct umm_mm *mm = new_mm();
	struct soft_tlb_stats s0, s1, p0;
	struct parked pk;

	map(mm, a, 4 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, NULL);
	fill(mm, a, 4 * PS, 'i');
	park_start(&pk, mm, a, 4 * PS);
	CHECK_EQ(park_access(&pk, mm, a + 2 * PS, true), 0);  /* a writable entry too */
	s0 = stats();
	flush_tlb_range(mm, a, a + PS);
	s1 = stats();
	CHECK_EQ(s1.shootdowns - s0.shootdowns, 1);         /* it holds the region */
	park_touch(&pk, mm, a, 4 * PS);
	CHECK_EQ(park_access(&pk, mm, a + 2 * PS, true), 0);
	p0 = pk.st;
	park_ask(&pk, 3);
	CHECK_EQ(pk.st.idles - p0.idles, 1);
	CHECK_EQ(pk.st.size, p0.size);
	s0 = stats();
	CHECK_EQ(umm_mprotect(mm, a + 2 * PS, PS, PROT_READ), 0);
	CHECK_EQ(umm_munmap(mm, a + 3 * PS, PS), 0);
	fill(mm, a + PS, PS, 'j');
	s1 = stats();
	CHECK_EQ(s1.shootdowns, s0.shootdowns);
	CHECK(s1.span_skips - s0.span_skips >= 2);
	p0 = pk.st;
	CHECK_EQ(park_access(&pk, mm, a + 2 * PS, true), -EFAULT);
	CHECK_EQ(park_access(&pk, mm, a + 3 * PS, false), -EFAULT);
	CHECK_EQ(park_access(&pk, mm, a + PS, false), 0);
	CHECK_EQ(pk.byte, 'j');
	CHECK_EQ(park_access(&pk, mm, a, false), 0);
	CHECK_EQ(pk.byte, 'i');
	CHECK(pk.st.misses - p0.misses >= 2);               /* refilled, not hit */
	/* touching again makes the region its own again */
	s0 = stats();
	flush_tlb_range(mm, a, a + PS);
	s1 = stats();
	CHECK_EQ(s1.shootdowns - s0.shootdowns, 1);
	/* this thread's own call: its next read is a miss, its TLB stays */
	s0 = stats();
	umm_tlb_idle();
	CHECK_EQ(page_byte(mm, a), 'i');
	s1 = stats();
	CHECK_EQ(s1.idles - s0.idles, 1);
	CHECK_EQ(s1.misses - s0.misses, 1);
	CHECK_EQ(s1.size, s0.size);
	park_end(&pk);
	end_mm(mm);
}

static void test_thread_exit_frees_tlb(void)
{
	struct umm_mm *mm = new_mm();
	unsigned long base = stats().nr_registered;
	pthread_t t[4];

	map(mm, 0x40000000, PS, PROT_READ, MAP_PRIVATE | MAP_FIXED, NULL);
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, touch_and_exit, mm);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	CHECK_EQ(stats().nr_registered, base);
	flush_tlb_mm(mm);                                  /* the registry is still sound */
	end_mm(mm);
	test_fold_thread_checks();
}

struct worker {
	struct umm_mm *mm;
	uintptr_t base;
	int id;
	double until;
	_Atomic bool *stop;
	unsigned long hits;
};

static void *own_region_worker(void *p)
{
	struct worker *w = p;
	uintptr_t my = w->base + (uintptr_t)w->id * 4 * PS;
	uint64_t v = 0, got;

	/* at least 100 rounds, however late a loaded machine starts this thread */
	while (v < 100 || test_now_s() < w->until) {
		for (int i = 0; i < 4; i++) {
			uint64_t val = ((uint64_t)w->id << 48) | (v + (uint64_t)i);

			TCHECK(umm_write(w->mm, my + (uintptr_t)i * PS + 8 * (v % 500), &val, 8) == 0);
			TCHECK(umm_read(w->mm, my + (uintptr_t)i * PS + 8 * (v % 500), &got, 8) == 0);
			TCHECK(got == val);
		}
		v++;
	}
	w->hits = stats().hits;
	return NULL;
}

static void *mutator(void *p)
{
	struct worker *w = p;

	while (!atomic_load(w->stop)) {
		uintptr_t b = 0;
		char c;

		if (umm_mmap(w->mm, 0, 8 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			     NULL, 0, &b))
			continue;
		TCHECK(umm_write(w->mm, b + PS, "m", 1) == 0);
		TCHECK(umm_mprotect(w->mm, b, 4 * PS, PROT_READ) == 0);
		TCHECK(umm_read(w->mm, b + PS, &c, 1) == 0 && c == 'm');
		TCHECK(umm_munmap(w->mm, b, 8 * PS) == 0);
	}
	return NULL;
}

static void test_many_threads(void)
{
	enum { N = 6 };
	struct umm_mm *mm = new_mm();
	uintptr_t base = map_anon(mm, N * 4 * PS);
	struct worker w[N + 1];
	pthread_t t[N + 1];
	_Atomic bool stop = false;
	unsigned long base_reg = stats().nr_registered;

	for (int i = 0; i <= N; i++) {
		w[i] = (struct worker){ .mm = mm, .base = base, .id = i, .until = test_now_s() + 0.6, .stop = &stop };
		pthread_create(&t[i], NULL, i == N ? mutator : own_region_worker, &w[i]);
	}
	for (int i = 0; i < N; i++)
		pthread_join(t[i], NULL);
	atomic_store(&stop, true);
	pthread_join(t[N], NULL);
	for (int i = 0; i < N; i++)
		CHECK(w[i].hits > 0);                      /* each thread used its own TLB */
	CHECK_EQ(stats().nr_registered, base_reg);
	end_mm(mm);
	test_fold_thread_checks();
}

/*
 * remap_race: the window [x, x + NP pages) is replaced, generation after
 * generation, by pages written elsewhere and moved in with mremap; the
 * frames freed by each replacement are scribbled over at once.
 */
enum { RR_NP = 3, RR_SCRIBBLE = 0xEE };

struct remap_race {
	struct umm_mm *mm;
	uintptr_t x;
	_Atomic int final_gen;
	_Atomic long ok, faults, hits;
};

static void *remap_reader(void *p)
{
	struct remap_race *rr = p;
	static __thread unsigned char buf[RR_NP * PS];

	for (;;) {
		int fin = atomic_load(&rr->final_gen);
		int err = umm_read(rr->mm, rr->x, buf, sizeof(buf));

		if (err == 0) {
			for (int pg = 0; pg < RR_NP; pg++) {
				unsigned char b = buf[pg * PS];
				bool uniform = true;

				for (size_t i = 1; i < PS; i++)
					uniform &= buf[pg * PS + i] == b;
				TCHECK(uniform && b >= 1 && b < RR_SCRIBBLE);
				if (fin)
					TCHECK(b == fin);
			}
			atomic_fetch_add(&rr->ok, 1);
		} else {
			TCHECK(err == -EFAULT && !fin);
			atomic_fetch_add(&rr->faults, 1);
		}
		if (fin)
			break;
	}
	atomic_store(&rr->hits, (long)stats().hits);
	return NULL;
}

static void remap_one_gen(struct remap_race *rr, int gen)
{
	struct umm_mm *mm = rr->mm;
	uintptr_t t = map_anon(mm, RR_NP * PS), s, out;

	fill(mm, t, RR_NP * PS, gen);
	if (gen % 2)
		CHECK_EQ(umm_munmap(mm, rr->x, RR_NP * PS), 0);
	CHECK_EQ(umm_mremap(mm, t, RR_NP * PS, RR_NP * PS, MREMAP_MAYMOVE | MREMAP_FIXED, rr->x, &out), 0);
	s = map_anon(mm, 2 * RR_NP * PS);                  /* reuses the frames just freed */
	fill(mm, s, 2 * RR_NP * PS, RR_SCRIBBLE);
	CHECK_EQ(umm_munmap(mm, s, 2 * RR_NP * PS), 0);
}

static void test_remap_race(void)
{
	struct remap_race rr = { .mm = new_mm() };
	pthread_t t[2];
	int gen = 1;
	double until = test_now_s() + 1.0;

	rr.x = map_anon(rr.mm, RR_NP * PS);
	fill(rr.mm, rr.x, RR_NP * PS, gen);
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, remap_reader, &rr);
	while (test_now_s() < until || atomic_load(&rr.ok) < 50) {
		gen = gen % 200 + 1;
		remap_one_gen(&rr, gen);
		if (test_now_s() > until + 5)
			break;
	}
	atomic_store(&rr.final_gen, gen);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	test_fold_thread_checks();
	CHECK(atomic_load(&rr.ok) >= 50);
	CHECK(atomic_load(&rr.hits) > 0);
	fprintf(stderr, "    remap_race: %ld reads ok, %ld faulted, last gen %d\n",
		atomic_load(&rr.ok), atomic_load(&rr.faults), gen);
	end_mm(rr.mm);
}

/* write_vs_protect: once mprotect(PROT_READ) returned, no write may succeed. */
struct wp_race {
	struct umm_mm *mm;
	uintptr_t a;
	_Atomic bool go, protected;
	_Atomic long writes;
	uint64_t last_ok;
};

static void *wp_writer(void *p)
{
	struct wp_race *w = p;

	int after = 0;

	for (uint64_t v = 1; after < 100; v++) {
		bool prot = atomic_load(&w->protected);
		int err = umm_write(w->mm, w->a + 64, &v, sizeof(v));

		if (err == 0) {
			TCHECK(!prot);
			w->last_ok = v;
			atomic_fetch_add(&w->writes, 1);
		} else {
			TCHECK(err == -EFAULT);
		}
		after += prot;
	}
	return NULL;
}

static void test_write_vs_protect(void)
{
	struct umm_mm *mm = new_mm();
	struct wp_race w = { .mm = mm, .a = map_anon(mm, PS) };

	for (int round = 0; round < 20; round++) {
		pthread_t t;
		uint64_t v;

		CHECK_EQ(umm_mprotect(mm, w.a, PS, PROT_READ | PROT_WRITE), 0);
		atomic_store(&w.protected, false);
		atomic_store(&w.writes, 0);
		pthread_create(&t, NULL, wp_writer, &w);
		while (atomic_load(&w.writes) < 200)
			sched_yield();
		CHECK_EQ(umm_mprotect(mm, w.a, PS, PROT_READ), 0);
		atomic_store(&w.protected, true);
		pthread_join(t, NULL);
		CHECK_EQ(umm_read(mm, w.a + 64, &v, sizeof(v)), 0);
		CHECK_EQ(v, w.last_ok);                    /* no write landed after the last success */
	}
	test_fold_thread_checks();
	end_mm(mm);
}

/* read_vs_munmap: once munmap returned, no read may succeed. */
struct ru_race {
	struct umm_mm *mm;
	uintptr_t a;
	_Atomic bool unmapped;
	_Atomic long reads;
};

static void *ru_reader(void *p)
{
	struct ru_race *r = p;
	uint64_t v;

	for (int after = 0; after < 100;) {
		bool gone = atomic_load(&r->unmapped);
		int err = umm_read(r->mm, r->a + 128, &v, sizeof(v));

		if (err == 0) {
			TCHECK(!gone && v == 0x5151515151515151ULL);
			atomic_fetch_add(&r->reads, 1);
		} else {
			TCHECK(err == -EFAULT);
		}
		after += gone;
	}
	return NULL;
}

static void test_read_vs_munmap(void)
{
	struct umm_mm *mm = new_mm();

	for (int round = 0; round < 20; round++) {
		struct ru_race r = { .mm = mm, .a = map_anon(mm, PS) };
		pthread_t t;

		fill(mm, r.a, PS, 0x51);
		pthread_create(&t, NULL, ru_reader, &r);
		while (atomic_load(&r.reads) < 200)
			sched_yield();
		CHECK_EQ(umm_munmap(mm, r.a, PS), 0);
		atomic_store(&r.unmapped, true);
		pthread_join(t, NULL);
	}
	test_fold_thread_checks();
	end_mm(mm);
}

/* ---- pinning ---- */

static void test_pin_bad_inputs(void)
{
	struct umm_mm *mm = new_mm();
	uintptr_t a = map_anon(mm, 3 * PS);
	struct umm_page *pages[4] = { NULL };
	struct page *pg;

	fill(mm, a, 3 * PS, 'b');
	CHECK_EQ(umm_pin_pages(NULL, a, 1, 0, pages), -EINVAL);
	CHECK_EQ(umm_pin_pages(mm, a + 1, 1, 0, pages), -EINVAL);
	CHECK_EQ(umm_pin_pages(mm, a, 1, 0x10, pages), -EINVAL);
	CHECK_EQ(umm_pin_pages(mm, a, 1, 0, NULL), -EINVAL);
	CHECK_EQ(umm_pin_pages(mm, a, 0, 0, pages), 0);
	CHECK_EQ(umm_pin_pages(mm, UINTPTR_MAX & PAGE_MASK, 2, 0, pages), -EFAULT);
	CHECK_EQ(umm_pin_pages(mm, a, SIZE_MAX, 0, pages), -EFAULT);
	CHECK_EQ(umm_pin_pages(mm, 0x1000, 1, 0, pages), -EFAULT);
	CHECK(pages[0] == NULL);

	/* the fourth page is not mapped: nothing stays pinned */
	REQUIRE(umm_pin_pages(mm, a, 1, 0, pages) == 1);
	pg = (struct page *)pages[0];
	int count = page_count(pg);
	umm_unpin_pages(pages, 1, 0);
	CHECK_EQ(page_count(pg), count - 1);
	CHECK_EQ(umm_pin_pages(mm, a, 4, 0, pages), -EFAULT);
	CHECK_EQ(page_count(pg), count - 1);
	/* a read-only mapping cannot be pinned for writing; PROT_NONE not at all */
	CHECK_EQ(umm_mprotect(mm, a + PS, PS, PROT_READ), 0);
	CHECK_EQ(umm_pin_pages(mm, a, 2, UMM_PIN_WRITE, pages), -EFAULT);
	CHECK_EQ(page_count(pg), count - 1);
	CHECK_EQ(umm_mprotect(mm, a + 2 * PS, PS, PROT_NONE), 0);
	CHECK_EQ(umm_pin_pages(mm, a + 2 * PS, 1, 0, pages), -EFAULT);
	umm_unpin_pages(NULL, 3, 0);                       /* harmless */
	CHECK(umm_page_address(NULL) == NULL);
	end_mm(mm);
}

static void test_pin_survives_munmap(void)
{
	struct umm_mm *mm = new_mm();
	uintptr_t a = map_anon(mm, 2 * PS);
	struct umm_page *pages[2];
	struct umm_sys_stats s0, s1;
	unsigned char *p;

	fill(mm, a, 2 * PS, 'Z');
	REQUIRE(umm_pin_pages(mm, a, 2, 0, pages) == 2);
	p = umm_page_address(pages[1]);
	CHECK(p[0] == 'Z' && p[PS - 1] == 'Z');
	CHECK_EQ(umm_munmap(mm, a, 2 * PS), 0);
	CHECK_EQ(page_count((struct page *)pages[1]), 1);  /* only the pin holds it */
	/* churn frames: the pinned ones must not be reused */
	for (int i = 0; i < 8; i++) {
		uintptr_t b = map_anon(mm, 64 * PS);

		fill(mm, b, 64 * PS, 'n');
		CHECK_EQ(umm_munmap(mm, b, 64 * PS), 0);
	}
	p = umm_page_address(pages[0]);
	CHECK(p[0] == 'Z' && p[PS - 1] == 'Z');
	p = umm_page_address(pages[1]);
	CHECK(p[0] == 'Z' && p[PS - 1] == 'Z');
	umm_system_stats(sys, &s0);
	umm_unpin_pages(pages, 2, 0);
	umm_system_stats(sys, &s1);
	CHECK_EQ(s1.free_frames - s0.free_frames, 2);      /* the last references went */
	end_mm(mm);
}

static void test_pin_write_breaks_cow(void)
{
	struct umm_mm *parent = new_mm(), *child;
	uintptr_t a = map_anon(parent, PS);
	struct umm_page *rp, *wp;
	char c;

	fill(parent, a, PS, 'P');
	REQUIRE(umm_fork(parent, &child) == 0);
	/*
	 * A read pin of a page shared with the child unshares it first (as
	 * Linux 5.19+), so the read pin stays with the parent's mapping: the
	 * write pin that follows gets the same frame.
	 */
	REQUIRE(umm_pin_pages(parent, a, 1, 0, &rp) == 1);
	CHECK_EQ(page_mapcount((struct page *)rp), 1);
	CHECK(PageAnonExclusive((struct page *)rp));
	REQUIRE(umm_pin_pages(parent, a, 1, UMM_PIN_WRITE, &wp) == 1);
	CHECK(wp == rp);
	memset(umm_page_address(wp), 'W', PS);
	umm_unpin_pages(&wp, 1, UMM_PIN_WRITE);
	CHECK(PageDirty((struct page *)wp));               /* still mapped by the parent */
	CHECK_EQ(umm_read(child, a, &c, 1), 0);
	CHECK(c == 'P');
	CHECK_EQ(umm_read(parent, a, &c, 1), 0);
	CHECK(c == 'W');
	CHECK(((char *)umm_page_address(rp))[0] == 'W');
	umm_unpin_pages(&rp, 1, 0);
	end_mm(child);
	end_mm(parent);
}

static void test_pin_zero_page(void)
{
	struct umm_mm *mm = new_mm();
	uintptr_t a = map(mm, 0, PS, PROT_READ, MAP_PRIVATE, NULL);
	struct umm_page *pg;
	unsigned char *p;

	REQUIRE(umm_pin_pages(mm, a, 1, 0, &pg) == 1);
	p = umm_page_address(pg);
	CHECK(p[0] == 0 && p[PS - 1] == 0);
	CHECK(PageReserved((struct page *)pg));
	umm_unpin_pages(&pg, 1, 0);
	CHECK_EQ(umm_pin_pages(mm, a, 1, UMM_PIN_WRITE, &pg), -EFAULT);
	end_mm(mm);
}

/* A write pin's unpin marks the page dirty, so what was written through it reaches the file. */
static void test_pin_write_dirties_file(void)
{
	struct umm_mm *mm = new_mm();
	int fd;
	struct umm_object *obj = file_object(2 * PS, fill_F, &fd);
	uintptr_t a = map(mm, 0, 2 * PS, PROT_READ | PROT_WRITE, MAP_SHARED, obj);
	struct umm_page *pg;
	char c;

	REQUIRE(umm_pin_pages(mm, a + PS, 1, UMM_PIN_WRITE, &pg) == 1);
	CHECK_EQ(umm_object_sync(obj, 0, 0), 0);          /* the page is clean now */
	CHECK(!PageDirty((struct page *)pg));
	memset(umm_page_address(pg), 'D', 100);
	umm_unpin_pages(&pg, 1, UMM_PIN_WRITE);
	CHECK(PageDirty((struct page *)pg));
	CHECK_EQ(umm_object_sync(obj, 0, 0), 0);
	CHECK_EQ(pread(fd, &c, 1, PS + 99), 1);
	CHECK(c == 'D');
	CHECK_EQ(pread(fd, &c, 1, PS + 100), 1);
	CHECK(c == 'F');
	CHECK_EQ(umm_read(mm, a + PS + 50, &c, 1), 0);
	CHECK(c == 'D');
	end_mm(mm);
	umm_object_put(obj);
	close(fd);
}

/* ---- host fork() while another thread is inside an access ---- */

struct fork_reader {
	struct umm_mm *mm;
	uintptr_t a;
	size_t len;
	_Atomic bool stop;
	_Atomic long rounds;
};

static void *fork_reader_loop(void *arg)
{
	struct fork_reader *r = arg;
	char *buf = malloc(r->len);

	while (buf && !atomic_load(&r->stop)) {
		if (umm_read(r->mm, r->a, buf, r->len) != 0)
			break;
		atomic_fetch_add(&r->rounds, 1);
	}
	free(buf);
	return NULL;
}

/*
 * The child of a host fork() has only the forking thread; a shootdown there
 * must not wait for the parent's reader, which was (most likely) inside a
 * long umm_read at the moment of the fork.
 */
static void test_host_fork_while_active(void)
{
	struct umm_mm *mm = new_mm();
	struct fork_reader r = { .mm = mm, .len = 4UL << 20 };
	pthread_t t;

	r.a = map_anon(mm, r.len);
	fill(mm, r.a, r.len, 0x33);
	pthread_create(&t, NULL, fork_reader_loop, &r);
	for (int round = 0; round < 5; round++) {
		long seen = atomic_load(&r.rounds);
		pid_t pid;
		int status = 0;

		while (atomic_load(&r.rounds) < seen + 2)
			sched_yield();
		pid = fork();
		REQUIRE(pid >= 0);
		if (pid == 0) {
			alarm(10);                     /* a hang is a failure */
			flush_tlb_range(mm, r.a, r.a + r.len);
			_exit(0);
		}
		REQUIRE(waitpid(pid, &status, 0) == pid);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	/*
	 * The parent's reader goes on after the last fork too (a round
	 * started before the fork may still be running: wait for the next
	 * one, not for a count the scheduler decides).
	 */
	{
		long seen = atomic_load(&r.rounds);

		while (atomic_load(&r.rounds) < seen + 2)
			sched_yield();
	}
	atomic_store(&r.stop, true);
	pthread_join(t, NULL);
	end_mm(mm);
}

static void run_concurrent_tests(void)
{
	RUN(test_stale_zero_page_cow);
	RUN(test_flush_skips_unrelated_threads);
	RUN(test_flush_by_range);
	RUN(test_tlb_idle);
	RUN(test_thread_exit_frees_tlb);
	RUN(test_many_threads);
	RUN(test_remap_race);
	RUN(test_write_vs_protect);
	RUN(test_read_vs_munmap);
	RUN(test_host_fork_while_active);
}

/* rerun_with_fences - the concurrent tests again, in a child forced onto the fence path. */
static void rerun_with_fences(const char *self)
{
	pid_t pid = fork();
	int status = 0;

	REQUIRE(pid >= 0);
	if (pid == 0) {
		setenv("UMM_TLB_MEMBARRIER", "0", 1);
		execl(self, self, "--concurrent", (char *)NULL);
		_exit(127);
	}
	REQUIRE(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(int argc, char **argv)
{
	struct umm_config cfg = { .phys_bytes = 64 << 20 };
	bool only_concurrent = argc > 1 && !strcmp(argv[1], "--concurrent");

	REQUIRE(umm_system_create(&cfg, &sys) == 0);
	fprintf(stderr, "    barrier: %s\n", stats().membarrier ? "membarrier" : "seq_cst fences");
	if (!only_concurrent) {
		RUN(test_bad_inputs);
		RUN(test_cross_page_and_vma);
		RUN(test_fault_at_hole);
		RUN(test_protection);
		RUN(test_hits_counted);
		RUN(test_stale_munmap);
		RUN(test_stale_mprotect);
		RUN(test_stale_fork);
		RUN(test_stale_mremap);
		RUN(test_stale_map_fixed);
		RUN(test_many_mms);
		RUN(test_range_precision);
		RUN(test_local_flush);
		RUN(test_resize);
		RUN(test_pin_bad_inputs);
		RUN(test_pin_survives_munmap);
		RUN(test_pin_write_breaks_cow);
		RUN(test_pin_zero_page);
		RUN(test_pin_write_dirties_file);
	}
	run_concurrent_tests();
	CHECK_EQ(umm_system_check(sys), 0);
	umm_system_destroy(sys);
	if (!only_concurrent && stats().membarrier)
		rerun_with_fences("/proc/self/exe");
	return test_summary(only_concurrent ? "test_soft_mmu (fences)" : "test_soft_mmu");
}

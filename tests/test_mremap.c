/* SPDX-License-Identifier: MIT */
/*
 * test_mremap.c - umm_mremap through the public API: growing in place
 * (and merging with what it reaches), shrinking, moving with
 * MREMAP_MAYMOVE and MREMAP_FIXED (data kept, old range gone, the same
 * frames and the same RSS: nothing is copied), moving part of a VMA,
 * moving file mappings and copy-on-write pages, every argument error with
 * the address space verified unchanged, and allocation failure injected
 * at every point of a move (nothing changes, then the move succeeds).
 *
 * Every test builds its own system with debug_checks on (the full
 * invariant check, map counts included, runs after every call) and ends
 * with umm_system_check and a leak check.
 */
#include "mm_fixture.h"

#define RW (PROT_READ | PROT_WRITE)
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

/* frame_addresses - the frames backing n pages at addr (pinned and released). */
static void frame_addresses(uintptr_t addr, size_t n, void **out)
{
	struct umm_page *pages[16];

	REQUIRE(n <= 16);
	REQUIRE(umm_pin_pages(mm, addr, n, 0, pages) == (long)n);
	for (size_t i = 0; i < n; i++)
		out[i] = umm_page_address(pages[i]);
	umm_unpin_pages(pages, n, 0);
}

/* ---- tests ---- */

static void test_mremap_grow_in_place(void)
{
	setup();
	const uintptr_t x = 0x40000000;
	uintptr_t a = map_at(x, 2 * P, RW), out = 0;

	fill(a, 2 * P, 1);
	CHECK_EQ(umm_mremap(mm, a, 2 * P, 4 * P, 0, 0, &out), 0);
	CHECK_EQ(out, a);
	CHECK_EQ(stats().nr_vmas, 1);
	CHECK_EQ(stats().total_vm, 4);
	CHECK(holds(a, 2 * P, 1));
	CHECK(holds_zero(a + 2 * P, 2 * P));
	fill(a + 2 * P, 2 * P, 2);
	CHECK(holds(a + 2 * P, 2 * P, 2));
	/* growing up to a compatible neighbour merges with it */
	map_at(x + 6 * P, 2 * P, RW);
	CHECK_EQ(stats().nr_vmas, 2);
	CHECK_EQ(umm_mremap(mm, a, 4 * P, 5 * P + 1, MREMAP_MAYMOVE, 0, &out), 0);
	CHECK_EQ(out, a);
	CHECK_EQ(stats().nr_vmas, 1);
	CHECK_EQ(stats().total_vm, 8);
	CHECK(holds(a, 2 * P, 1));
	teardown();
}

static void test_mremap_shrink(void)
{
	setup();
	uintptr_t a = map_at(0x40000000, 4 * P, RW), out = 0;

	fill(a, 4 * P, 3);
	CHECK_EQ(stats().rss_anon, 4);
	CHECK_EQ(umm_mremap(mm, a, 4 * P, 2 * P, 0, 0, &out), 0);
	CHECK_EQ(out, a);
	CHECK_EQ(stats().rss_anon, 2);
	CHECK_EQ(stats().total_vm, 2);
	CHECK(holds(a, 2 * P, 3));
	CHECK_EQ(read_byte(a + 2 * P), -EFAULT);
	/* MAYMOVE shrinks in place too; the same length is a no-op */
	CHECK_EQ(umm_mremap(mm, a, 2 * P, P, MREMAP_MAYMOVE, 0, &out), 0);
	CHECK_EQ(out, a);
	CHECK_EQ(umm_mremap(mm, a, P, P, 0, 0, &out), 0);
	CHECK_EQ(out, a);
	CHECK(holds(a, P, 3));
	CHECK_EQ(read_byte(a + P), -EFAULT);
	CHECK_EQ(stats().rss_anon, 1);
	/* shrinking the middle of a vma splits it */
	uintptr_t b = map_at(0x50000000, 4 * P, RW);
	fill(b, 4 * P, 4);
	CHECK_EQ(umm_mremap(mm, b + P, 2 * P, P, 0, 0, &out), 0);
	CHECK_EQ(out, b + P);
	CHECK_EQ(stats().nr_vmas, 3);
	CHECK(holds(b, 2 * P, 4));
	CHECK_EQ(read_byte(b + 2 * P), -EFAULT);
	CHECK_EQ(read_byte(b + 3 * P), pat(3 * P, 4));
	teardown();
}

/* A blocked grow moves, carrying the frames themselves: nothing is copied. */
static void test_mremap_move_keeps_frames(void)
{
	setup();
	const uintptr_t x = 0x40000000;
	uintptr_t a = map_at(x, 4 * P, RW), out = 0;
	void *before[4], *after[4];
	char *m;
	struct umm_mm_stats st;

	map_at(x + 4 * P, P, PROT_READ);   /* blocks growth in place */
	fill(a, 4 * P, 5);
	frame_addresses(a, 4, before);
	st = stats();
	m = maps();
	CHECK_EQ(umm_mremap(mm, a, 4 * P, 8 * P, 0, 0, &out), -ENOMEM);
	CHECK_MAPS(m);
	free(m);
	CHECK_EQ(umm_mremap(mm, a, 4 * P, 8 * P, MREMAP_MAYMOVE, 0, &out), 0);
	CHECK(out != a);
	CHECK(out + 8 * P <= a || out >= a + 5 * P);
	CHECK_EQ(stats().rss_anon, st.rss_anon);
	CHECK_EQ(stats().nr_vmas, 2);
	CHECK_EQ(stats().total_vm, st.total_vm + 4);
	CHECK_EQ(stats().minor_faults, st.minor_faults);
	frame_addresses(out, 4, after);
	for (int i = 0; i < 4; i++)
		CHECK(before[i] == after[i]);
	CHECK(holds(out, 4 * P, 5));
	CHECK(holds_zero(out + 4 * P, 4 * P));
	CHECK_EQ(read_byte(a), -EFAULT);           /* no stale translation */
	CHECK_EQ(read_byte(a + 3 * P), -EFAULT);
	fill(out, 8 * P, 6);
	CHECK(holds(out, 8 * P, 6));
	/* and back to where it was, with MREMAP_FIXED */
	uintptr_t back = 0;
	CHECK_EQ(umm_mremap(mm, out, 8 * P, 4 * P, MREMAP_MAYMOVE | MREMAP_FIXED, a, &back), 0);
	CHECK_EQ(back, a);
	CHECK(holds(a, 4 * P, 6));
	CHECK_EQ(read_byte(out), -EFAULT);
	CHECK_EQ(stats().rss_anon, 4);
	frame_addresses(a, 4, after);
	for (int i = 0; i < 4; i++)
		CHECK(before[i] == after[i]);
	teardown();
}

static void test_mremap_fixed(void)
{
	setup();
	const uintptr_t x = 0x40000000, t = 0x7f0000000000;
	uintptr_t a = map_at(x, 2 * P, RW), out = 0;
	uintptr_t b = map_at(x + 16 * P, 3 * P, PROT_READ);

	fill(a, 2 * P, 7);
	/* to a free address far away (other page-table branches) */
	CHECK_EQ(umm_mremap(mm, a, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, t, &out), 0);
	CHECK_EQ(out, t);
	CHECK(holds(t, 2 * P, 7));
	CHECK_EQ(read_byte(a), -EFAULT);
	CHECK_EQ(stats().nr_vmas, 2);
	/* over the middle of an existing mapping, which it replaces */
	CHECK_EQ(umm_mremap(mm, t, 2 * P, P, MREMAP_MAYMOVE | MREMAP_FIXED, b + P, &out), 0);
	CHECK_EQ(out, b + P);
	CHECK(holds(b + P, P, 7));
	CHECK_EQ(read_byte(t), -EFAULT);
	CHECK_EQ(read_byte(t + P), -EFAULT);     /* the unmoved tail is unmapped too */
	CHECK_EQ(read_byte(b), 0);
	CHECK_EQ(read_byte(b + 2 * P), 0);
	CHECK_EQ(stats().nr_vmas, 3);
	CHECK_EQ(stats().rss_anon, 1);
	CHECK_EQ(umm_write(mm, b + P, "z", 1), 0);   /* it kept its own protection */
	CHECK_EQ(umm_write(mm, b, "z", 1), -EFAULT);
	/* growing while moving */
	CHECK_EQ(umm_mremap(mm, b + P, P, 3 * P, MREMAP_MAYMOVE | MREMAP_FIXED, x, &out), 0);
	CHECK_EQ(read_byte(x), 'z');
	CHECK(holds(x + 1, P - 1, 7 + 31));        /* pat(i+1) == pat(i) + 31 within a page */
	CHECK(holds_zero(x + P, 2 * P));
	CHECK_EQ(stats().nr_vmas, 3);
	teardown();
}

/* Moving part of a vma splits it; the rest keeps its data. */
static void test_mremap_partial(void)
{
	setup();
	uintptr_t a = map_at(0x40000000, 6 * P, RW), out = 0;

	fill(a, 6 * P, 8);
	CHECK_EQ(umm_mremap(mm, a + 2 * P, 2 * P, 4 * P, MREMAP_MAYMOVE, 0, &out), 0);
	CHECK(out != a + 2 * P);
	CHECK_EQ(stats().nr_vmas, 3);
	CHECK(holds(a, 2 * P, 8));
	CHECK_EQ(read_byte(a + 2 * P), -EFAULT);
	CHECK_EQ(read_byte(a + 3 * P), -EFAULT);
	CHECK_EQ(read_byte(a + 4 * P), pat(4 * P, 8));
	CHECK_EQ(read_byte(out), pat(2 * P, 8));
	CHECK_EQ(read_byte(out + 2 * P - 1), pat(4 * P - 1, 8));
	CHECK_EQ(stats().rss_anon, 6);
	CHECK(holds_zero(out + 2 * P, 2 * P));
	teardown();
}

/* File mappings move with their offset; COW pages of private ones move too. */
static void test_mremap_file(void)
{
	setup();
	int fd = test_tmpfile(8 * P, file_pat);
	struct umm_object *obj = open_file(fd);
	uintptr_t s, p, out = 0;
	unsigned char c;
	char *m;

	REQUIRE(umm_mmap(mm, 0x40000000, 2 * P, RW, MAP_SHARED, obj, P, &s) == 0);
	CHECK(holds_file(s, 2 * P, P));
	CHECK_EQ(umm_mremap(mm, s, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, 0x50000000, &out), 0);
	CHECK_EQ(out, 0x50000000);
	CHECK(holds_file(out, 2 * P, P));
	m = maps();
	CHECK(strstr(m, "50000000-50002000 rw-s 00001000") != NULL);
	free(m);
	CHECK_EQ(umm_write(mm, out + P + 3, "\x99", 1), 0);
	/* grow in place: the next file pages appear */
	CHECK_EQ(umm_mremap(mm, out, 2 * P, 4 * P, 0, 0, &s), 0);
	CHECK_EQ(s, out);
	CHECK(holds_file(out + 2 * P, 2 * P, 3 * P));
	CHECK_EQ(umm_object_sync(obj, 0, 0), 0);
	CHECK(pread(fd, &c, 1, 2 * P + 3) == 1 && c == 0x99);
	CHECK_EQ(stats().rss_file, 4);

	/* a private mapping with one COW'd page and one clean file page */
	REQUIRE(umm_mmap(mm, 0x60000000, 2 * P, RW, MAP_PRIVATE, obj, 0, &p) == 0);
	CHECK_EQ(umm_write(mm, p + 1, "\x77", 1), 0);
	CHECK_EQ(read_byte(p + P + 1), file_pat(P + 1));
	CHECK_EQ(umm_mremap(mm, p, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, 0x70000000, &out), 0);
	CHECK_EQ(read_byte(out + 1), 0x77);
	CHECK_EQ(read_byte(out + 2), file_pat(2));
	CHECK_EQ(read_byte(out + P + 1), file_pat(P + 1));
	CHECK_EQ(stats().rss_anon, 1);
	CHECK_EQ(umm_object_sync(obj, 0, 0), 0);
	CHECK(pread(fd, &c, 1, 1) == 1 && c == file_pat(1));
	umm_object_put(obj);
	close(fd);
	teardown();
}

/* Zero-page, protnone and empty ptes move as they are. */
static void test_mremap_special_ptes(void)
{
	setup();
	uintptr_t a = map_at(0x40000000, 4 * P, RW), out = 0;

	fill(a, P, 1);                          /* page 0: anon */
	CHECK_EQ(read_byte(a + P), 0);          /* page 1: the zero page */
	fill(a + 3 * P, P, 3);                  /* page 3: anon, made protnone */
	CHECK_EQ(umm_mprotect(mm, a + 3 * P, P, PROT_NONE), 0);
	CHECK_EQ(stats().rss_anon, 2);
	CHECK_EQ(stats().nr_vmas, 2);
	/* the protnone page is its own vma now: one range may not span both */
	CHECK_EQ(umm_mremap(mm, a, 4 * P, 4 * P, MREMAP_MAYMOVE | MREMAP_FIXED, 0x50000000, &out), -EFAULT);
	CHECK_EQ(umm_mremap(mm, a, 3 * P, 3 * P, MREMAP_MAYMOVE | MREMAP_FIXED, 0x50000000, &out), 0);
	CHECK_EQ(out, 0x50000000);
	CHECK_EQ(umm_mremap(mm, a + 3 * P, P, P, MREMAP_MAYMOVE | MREMAP_FIXED, out + 3 * P, &out), 0);
	CHECK_EQ(out, 0x50003000);
	out = 0x50000000;
	CHECK_EQ(stats().rss_anon, 2);
	CHECK(holds(out, P, 1));
	CHECK(holds_zero(out + P, 2 * P));
	CHECK_EQ(read_byte(out + 3 * P), -EFAULT);
	CHECK_EQ(umm_mprotect(mm, out + 3 * P, P, RW), 0);
	CHECK(holds(out + 3 * P, P, 3));
	fill(out + P, P, 2);                    /* copy-on-write from the zero page */
	CHECK(holds(out + P, P, 2));
	CHECK_EQ(stats().rss_anon, 3);
	CHECK_EQ(read_byte(a), -EFAULT);
	teardown();
}

/*
 * MREMAP_FIXED from the middle of one vma into the middle of another needs
 * a new vma and four splits; when any of them cannot be allocated nothing
 * changes, neither at the source nor at the destination.
 */
static void test_mremap_split_enomem(void)
{
	setup();
	uintptr_t x = 0x100000000;
	int enomem = 0;

	for (int i = 0; i < 400 && enomem < 6; i++, x += 8 * P) {
		uintptr_t a = map_at(x, 3 * P, RW), d = map_at(x + 4 * P, 3 * P, PROT_READ), out = 0;
		char *before;
		int err;

		if (i % 3 == 0)
			map_at(x + 7 * P, P, PROT_EXEC);
		fill(a, 3 * P, (unsigned)i);
		before = maps();
		err = WITH_PAGE_ALLOC_FAILING(0, umm_mremap(mm, a + P, P, P,
							  MREMAP_MAYMOVE | MREMAP_FIXED, d + P, &out));
		CHECK(err == 0 || err == -ENOMEM);
		if (err == -ENOMEM) {
			enomem++;
			CHECK_MAPS(before);
			CHECK(holds(a, 3 * P, (unsigned)i));
			CHECK(holds_zero(d, 3 * P));
		} else {
			CHECK_EQ(out, d + P);
			CHECK_EQ(read_byte(a + P), -EFAULT);
			CHECK_EQ(read_byte(d + P), pat(P, (unsigned)i));
			CHECK_EQ(read_byte(a + 2 * P), pat(2 * P, (unsigned)i));
		}
		free(before);
	}
	CHECK(enomem > 0);
	teardown();
}

static void test_mremap_errors(void)
{
	setup();
	const uintptr_t x = 0x40000000;
	const int MF = MREMAP_MAYMOVE | MREMAP_FIXED;
	uintptr_t out = 0xdead;
	char *before;

	map_at(x, 2 * P, RW);
	map_at(x + 2 * P, 2 * P, PROT_READ);          /* a second vma right after */
	map_at(x + 6 * P, 2 * P, RW);                 /* a hole at x + 4P */
	fill(x, 2 * P, 9);
	before = maps();
	CHECK_EQ(umm_mremap(mm, x, P, 2 * P, 0x8, 0, &out), -EINVAL);
	CHECK_EQ(umm_mremap(mm, x, P, 2 * P, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0, &out), -EINVAL);
	CHECK_EQ(umm_mremap(mm, x, P, P, MREMAP_FIXED, 0x50000000, &out), -EINVAL);
	CHECK_EQ(umm_mremap(mm, x + 1, P, 2 * P, MREMAP_MAYMOVE, 0, &out), -EINVAL);
	CHECK_EQ(umm_mremap(mm, x, P, 0, MREMAP_MAYMOVE, 0, &out), -EINVAL);
	CHECK_EQ(umm_mremap(mm, x, 0, P, MREMAP_MAYMOVE, 0, &out), -EINVAL);
	CHECK_EQ(umm_mremap(mm, x + 4 * P, P, 2 * P, MREMAP_MAYMOVE, 0, &out), -EFAULT);
	CHECK_EQ(umm_mremap(mm, x + P, 2 * P, 4 * P, MREMAP_MAYMOVE, 0, &out), -EFAULT);
	CHECK_EQ(umm_mremap(mm, x + 6 * P, 3 * P, P, 0, 0, &out), -EFAULT);
	CHECK_EQ(umm_mremap(mm, x, SIZE_MAX, P, 0, 0, &out), -EFAULT);
	CHECK_EQ(umm_mremap(mm, 0, P, 2 * P, MREMAP_MAYMOVE, 0, &out), -EFAULT);
	CHECK_EQ(umm_mremap(mm, x, P, P, MF, 0x50000001, &out), -EINVAL);
	CHECK_EQ(umm_mremap(mm, x, 2 * P, 2 * P, MF, x + P, &out), -EINVAL);     /* overlap above */
	CHECK_EQ(umm_mremap(mm, x + P, P, 2 * P, MF, x, &out), -EINVAL);         /* overlap below */
	CHECK_EQ(umm_mremap(mm, x, P, 2 * P, MF, UMM_TASK_SIZE - P, &out), -EINVAL);
	CHECK_EQ(umm_mremap(mm, x, P, SIZE_MAX, MF, 0x50000000, &out), -EINVAL);
	CHECK_EQ(umm_mremap(mm, x, P, P, MF, 0, &out), -EPERM);
	CHECK_EQ(umm_mremap(mm, x, P, SIZE_MAX - P, MREMAP_MAYMOVE, 0, &out), -ENOMEM);
	CHECK_EQ(umm_mremap(mm, x, P, UMM_TASK_SIZE - P, MREMAP_MAYMOVE, 0, &out), -ENOMEM);
	CHECK_EQ(umm_mremap(mm, x, 2 * P, 3 * P, 0, 0, &out), -ENOMEM);         /* blocked, no MAYMOVE */
	CHECK_EQ(umm_mremap(mm, x + 6 * P, 2 * P, 3 * P, 0, 0, &out) == 0, 1);  /* control: grows */
	CHECK_EQ(umm_mremap(mm, x + 6 * P, 3 * P, 2 * P, 0, 0, &out), 0);
	out = 0xdead;
	CHECK_EQ(umm_mremap(NULL, x, P, P, 0, 0, &out), -EINVAL);
	CHECK_EQ(umm_mremap(mm, x, P, P, 0, 0, NULL), -EINVAL);
	CHECK_EQ(out, 0xdead);
	CHECK_MAPS(before);
	CHECK(holds(x, 2 * P, 9));
	free(before);
	teardown();
}

/* The top of the address space and the top of an object's offsets. */
static void test_mremap_limits(void)
{
	setup();
	int fd = test_tmpfile(P, file_pat);
	struct umm_object *obj = open_file(fd);
	uintptr_t top = map_at(UMM_TASK_SIZE - 2 * P, 2 * P, RW), f, out = 0;
	char *before;

	CHECK_EQ(top + 2 * P, UMM_TASK_SIZE);
	fill(top, 2 * P, 4);
	/* offsets up to the last page of a 64-bit object */
	REQUIRE(umm_mmap(mm, 0x40000000, P, PROT_READ, MAP_SHARED, obj,
			 UINT64_MAX - 2 * P + 1, &f) == 0);
	before = maps();
	CHECK_EQ(umm_mremap(mm, top, 2 * P, 3 * P, 0, 0, &out), -ENOMEM);
	CHECK_EQ(umm_mremap(mm, f, P, 2 * P, MREMAP_MAYMOVE, 0, &out), -EINVAL);
	CHECK_MAPS(before);
	CHECK(holds(top, 2 * P, 4));
	/* the top mapping can still move away and grow */
	CHECK_EQ(umm_mremap(mm, top, 2 * P, 3 * P, MREMAP_MAYMOVE, 0, &out), 0);
	CHECK(out + 3 * P <= UMM_TASK_SIZE);
	CHECK(holds(out, 2 * P, 4));
	free(before);
	umm_object_put(obj);
	close(fd);
	teardown();
}

/*
 * A move when nothing fits below mmap_base any more: the destination is
 * the gap above it, as for mmap (Linux's fallback).  The space from the
 * lowest address to mmap_base is one PROT_NONE mapping; a mapping above
 * mmap_base with a neighbour right after it grows by moving.  (A fuzzed input got -ENOMEM here: only mmap fell back.)
 */
static void test_mremap_move_above_mmap_base(void)
{
	setup();
	uintptr_t base = UMM_MMAP_BASE, fill_len = base - UMM_MMAP_MIN_ADDR, a, b, out = 0;

	REQUIRE(map_at(UMM_MMAP_MIN_ADDR, fill_len, PROT_NONE) == UMM_MMAP_MIN_ADDR);
	a = map_at(base + 16 * P, 2 * P, RW);
	b = map_at(a + 2 * P, P, RW);
	CHECK_EQ(b, a + 2 * P);
	fill(a, 2 * P, 6);
	CHECK_EQ(umm_mremap(mm, a, 2 * P, 8 * P, MREMAP_MAYMOVE, 0, &out), 0);
	CHECK(out >= base && out != a && out + 8 * P <= UMM_TASK_SIZE);
	CHECK(holds(out, 2 * P, 6));
	CHECK_EQ(umm_munmap(mm, UMM_MMAP_MIN_ADDR, fill_len), 0);
	teardown();
}

/*
 * Allocation failure at each point of a move - the new vma, the splits,
 * the destination page tables - returns -ENOMEM and changes nothing; with
 * enough successes allowed the same move then works.
 */
static void test_mremap_enomem(void)
{
	setup();
	const uintptr_t x = 0x40000000, t = 0x600000000000;
	uintptr_t a = map_at(x, 8 * P, RW), out = 0;
	int enomem = 0, done = 0;

	fill(a, 8 * P, 10);
	for (long skip = 0; skip < 64 && !done; skip++) {
		char *before = maps();
		int err;

		/* the middle of a vma (two splits) to a fresh pgd slot (new tables) */
		err = WITH_PAGE_ALLOC_FAILING(skip, umm_mremap(mm, a + 2 * P, 4 * P, 4 * P,
							     MREMAP_MAYMOVE | MREMAP_FIXED, t, &out));
		if (err == -ENOMEM) {
			enomem++;
			CHECK_MAPS(before);
			CHECK(holds(a, 8 * P, 10));
			CHECK_EQ(read_byte(t), -EFAULT);
		} else {
			CHECK_EQ(err, 0);
			done = 1;
		}
		free(before);
	}
	CHECK(done);
	CHECK(enomem >= 3);     /* at least the pud, pmd and pte tables failed once each */
	CHECK(holds(t, 4 * P, 10 + 2 * 7 + (unsigned)(2 * P * 31)));
	CHECK(holds(a, 2 * P, 10));
	CHECK_EQ(read_byte(a + 2 * P), -EFAULT);
	CHECK_EQ(stats().rss_anon, 8);
	teardown();
}

int main(void)
{
	RUN(test_mremap_grow_in_place);
	RUN(test_mremap_shrink);
	RUN(test_mremap_move_keeps_frames);
	RUN(test_mremap_fixed);
	RUN(test_mremap_partial);
	RUN(test_mremap_file);
	RUN(test_mremap_special_ptes);
	RUN(test_mremap_errors);
	RUN(test_mremap_limits);
	RUN(test_mremap_move_above_mmap_base);
	RUN(test_mremap_split_enomem);
	RUN(test_mremap_enomem);
	return test_summary("test_mremap");
}

/* SPDX-License-Identifier: MIT */
/*
 * test_access.c - the inline access path of <usermm/access.h>:
 * umm_load_u8..u64 and umm_store_u8..u64.
 *
 * Theory of operation.  The inline path serves an access from the calling
 * thread's software TLB without a call when the translation is there and
 * current; anything else goes to umm_read/umm_write.  The tests check:
 *
 *   inline_used     after an out-of-line access the loads and stores of
 *                   that mm hit inline (no miss, and not counted as an
 *                   out-of-line hit), when the barrier is membarrier
 *                   (without it the inline path is off by design)
 *   values          every width round-trips and agrees with umm_read's
 *                   bytes (host byte order), at every alignment
 *   bad_inputs      NULL mm or out, unmapped, wrapping and last-page
 *                   addresses give umm_read's errors and leave *out alone;
 *                   _every_width: NULL mm, NULL out, unmapped and
 *                   read-only for each of the eight functions
 *   page_crossing   misaligned accesses that cross a page (and a VMA,
 *                   and a protection boundary) fall back correctly
 *   stale_*         single thread: after munmap, mprotect(PROT_READ),
 *                   mprotect(PROT_NONE), fork (COW) the next inline access
 *                   sees the change
 *   race_*          a thread loops on inline loads (or stores) while the
 *                   main thread unmaps, protects, or breaks COW on the
 *                   page: once the change has returned, no inline access
 *                   may succeed (or see the old frame); freed frames are
 *                   scribbled over at once so a stale translation would
 *                   show.  Each fails with a TLB whose inline path skips
 *                   the shootdown protocol; munmap_other_owner also with
 *                   a flush that mistakes another thread's use of the mm
 *                   for its own.
 *
 * Outside TSan the concurrent tests run again in a child with
 * UMM_TLB_MEMBARRIER=0 (inline path off, every access out of line).
 */
#include <pthread.h>
#include <sched.h>
#include <sys/wait.h>
#include <usermm/usermm.h>
#include "tlb.h"
#include "test.h"

#define PS 4096UL

#if defined(__SANITIZE_THREAD__)
#define ROUNDS 8
#else
#define ROUNDS 30
#endif

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

static uintptr_t map_anon(struct umm_mm *mm, size_t len, int prot)
{
	uintptr_t out = 0;

	REQUIRE(umm_mmap(mm, 0, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &out) == 0);
	return out;
}

static void fill(struct umm_mm *mm, uintptr_t addr, size_t len, int byte)
{
	char buf[PS];

	memset(buf, byte, sizeof(buf));
	for (size_t off = 0; off < len; off += PS)
		REQUIRE(umm_write(mm, addr + off, buf, MIN(PS, len - off)) == 0);
}

/*
 * scribble - map, write and unmap pages far from the tested ones, so that
 * frames just freed are reused and overwritten (and the tested addresses
 * stay unmapped).
 */
static void scribble(struct umm_mm *mm, size_t pages, int byte)
{
	uintptr_t s = 0;

	REQUIRE(umm_mmap(mm, 0x500000000000UL, pages * PS, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0, &s) == 0);

	fill(mm, s, pages * PS, byte);
	CHECK_EQ(umm_munmap(mm, s, pages * PS), 0);
}

/* ---- single thread ---- */

static void test_inline_used(void)
{
	struct umm_mm *mm = new_mm();
	uintptr_t a = map_anon(mm, 2 * PS, PROT_READ | PROT_WRITE);
	struct soft_tlb_stats s0, s1;
	uint64_t v = 0;

	fill(mm, a, 2 * PS, 0x11);
	if (umm_tlb_hot.strong) {
		CHECK_EQ(umm_tlb_hot.mm_id, 0);            /* off without membarrier */
		end_mm(mm);
		return;
	}
	CHECK(umm_tlb_hot.mm_id != 0);
	s0 = stats();
	for (int i = 0; i < 100; i++) {
		CHECK_EQ(umm_store_u64(mm, a + 8 * (uintptr_t)i, (uint64_t)i), 0);
		CHECK_EQ(umm_load_u64(mm, a + 8 * (uintptr_t)i, &v), 0);
		CHECK_EQ(v, i);
	}
	s1 = stats();
	CHECK_EQ(s1.misses, s0.misses);
	CHECK_EQ(s1.hits, s0.hits);                        /* inline hits are not counted */
	/* another mm's access moves the inline context; the first mm's accesses still work */
	struct umm_mm *other = new_mm();
	uintptr_t b = map_anon(other, PS, PROT_READ | PROT_WRITE);

	CHECK_EQ(umm_store_u64(other, b, 77), 0);
	CHECK_EQ(umm_load_u64(mm, a + 8, &v), 0);
	CHECK_EQ(v, 1);
	CHECK_EQ(umm_load_u64(other, b, &v), 0);
	CHECK_EQ(v, 77);
	end_mm(other);
	end_mm(mm);
}

static void test_values(void)
{
	struct umm_mm *mm = new_mm();
	uintptr_t a = map_anon(mm, 2 * PS, PROT_READ | PROT_WRITE);
	unsigned char bytes[16];

	for (uintptr_t off = 0; off < 24; off++) {
		uint8_t v8 = 0;
		uint16_t v16 = 0;
		uint32_t v32 = 0;
		uint64_t v64 = 0, want = 0x0102030405060708ULL * (off + 1);

		CHECK_EQ(umm_store_u64(mm, a + off, want), 0);
		CHECK_EQ(umm_load_u64(mm, a + off, &v64), 0);
		CHECK(v64 == want);
		CHECK_EQ(umm_read(mm, a + off, bytes, 8), 0);
		CHECK(memcmp(bytes, &want, 8) == 0);        /* host byte order */
		CHECK_EQ(umm_store_u32(mm, a + off, 0xdeadbeefu), 0);
		CHECK_EQ(umm_load_u32(mm, a + off, &v32), 0);
		CHECK_EQ(v32, 0xdeadbeefu);
		CHECK_EQ(umm_load_u64(mm, a + off, &v64), 0);
		CHECK(v64 >> 32 == want >> 32);             /* the upper half is untouched */
		CHECK_EQ(umm_store_u16(mm, a + off, 0xa55a), 0);
		CHECK_EQ(umm_load_u16(mm, a + off, &v16), 0);
		CHECK_EQ(v16, 0xa55a);
		CHECK_EQ(umm_store_u8(mm, a + off, 0xc3), 0);
		CHECK_EQ(umm_load_u8(mm, a + off, &v8), 0);
		CHECK_EQ(v8, 0xc3);
		CHECK_EQ(umm_read(mm, a + off, bytes, 2), 0);
		CHECK(bytes[0] == 0xc3 && bytes[1] == (uint8_t)(0xa55a >> 8));
	}
	end_mm(mm);
}

static void test_bad_inputs(void)
{
	struct umm_mm *mm = new_mm();
	uintptr_t a = map_anon(mm, PS, PROT_READ | PROT_WRITE);
	uint64_t v = 0x5a5a;
	uint32_t v32 = 0x5a5a;
	uint8_t v8 = 0x5a;
	struct umm_mm_stats before, after;

	fill(mm, a, PS, 1);
	CHECK_EQ(umm_load_u64(mm, a, &v), 0);              /* warm: the inline context is mm */
	v = 0x5a5a;
	umm_mm_stats(mm, &before);
	CHECK_EQ(umm_load_u64(NULL, a, &v), -EINVAL);
	CHECK_EQ(umm_store_u64(NULL, a, 1), -EINVAL);
	CHECK_EQ(umm_load_u64(mm, a, NULL), -EINVAL);
	CHECK_EQ(umm_load_u8(mm, a, NULL), -EINVAL);
	CHECK_EQ(umm_load_u64(NULL, a, NULL), -EINVAL);
	CHECK_EQ(umm_load_u64(mm, 0x1000, &v), -EFAULT);   /* no mapping */
	CHECK_EQ(umm_store_u32(mm, 0x1000, 1), -EFAULT);
	CHECK_EQ(umm_load_u64(mm, UINTPTR_MAX - 3, &v), -EFAULT);   /* wraps */
	CHECK_EQ(umm_store_u64(mm, UINTPTR_MAX - 3, 1), -EFAULT);
	CHECK_EQ(umm_load_u64(mm, UINTPTR_MAX - 7, &v), -EFAULT);   /* last bytes, unmapped */
	CHECK_EQ(umm_load_u8(mm, UINTPTR_MAX, &v8), -EFAULT);
	CHECK_EQ(umm_load_u32(mm, UMM_TASK_SIZE - 2, &v32), -EFAULT);
	CHECK_EQ(umm_load_u64(mm, a + PS - 4, &v), -EFAULT); /* half mapped */
	CHECK_EQ(umm_store_u64(mm, a - 4, 1), -EFAULT);
	CHECK(v == 0x5a5a && v32 == 0x5a5a && v8 == 0x5a);  /* *out untouched on error */
	umm_mm_stats(mm, &after);
	CHECK_EQ(after.rss_anon, before.rss_anon);
	CHECK_EQ(after.nr_vmas, before.nr_vmas);
	CHECK_EQ(after.minor_faults, before.minor_faults);
	CHECK_EQ(umm_load_u64(mm, a + PS - 8, &v), 0);     /* the last whole word is fine */
	CHECK(v == 0x0101010101010101ULL);
	end_mm(mm);
}

/*
 * Each of the eight functions (test_bad_inputs above reaches only some):
 * NULL mm and NULL out are -EINVAL, an unmapped address and a store to a
 * read-only page are -EFAULT; *out, both pages' bytes and the mm's
 * counters (rss, VMAs, faults) are unchanged.
 */
#define CHECK_BAD_WIDTH(bits, mm, a, ro) do {						\
	uint##bits##_t __v = 0x5a;							\
											\
	CHECK_EQ(umm_load_u##bits(NULL, (a), &__v), -EINVAL);				\
	CHECK_EQ(umm_load_u##bits((mm), (a), NULL), -EINVAL);				\
	CHECK_EQ(umm_load_u##bits((mm), 0x1000, &__v), -EFAULT);			\
	CHECK_EQ(__v, 0x5a);								\
	CHECK_EQ(umm_store_u##bits(NULL, (a), 0x77), -EINVAL);				\
	CHECK_EQ(umm_store_u##bits((mm), 0x1000, 0x77), -EFAULT);			\
	CHECK_EQ(umm_store_u##bits((mm), (ro), 0x77), -EFAULT);				\
} while (0)

static void test_bad_inputs_every_width(void)
{
	struct umm_mm *mm = new_mm();
	uintptr_t a = map_anon(mm, PS, PROT_READ | PROT_WRITE);
	uintptr_t ro = map_anon(mm, PS, PROT_READ);
	struct umm_mm_stats before, after;
	unsigned char got[PS];
	size_t wrong = 0;
	uint64_t v;

	fill(mm, a, PS, 0x11);
	CHECK_EQ(umm_load_u64(mm, ro, &v), 0);             /* maps the zero page */
	CHECK_EQ(umm_load_u64(mm, a, &v), 0);              /* warm: the inline context is mm */
	REQUIRE(umm_mm_stats(mm, &before) == 0);
	CHECK_BAD_WIDTH(8, mm, a, ro);
	CHECK_BAD_WIDTH(16, mm, a, ro);
	CHECK_BAD_WIDTH(32, mm, a, ro);
	CHECK_BAD_WIDTH(64, mm, a, ro);
	REQUIRE(umm_mm_stats(mm, &after) == 0);
	CHECK_EQ(after.rss_anon, before.rss_anon);
	CHECK_EQ(after.nr_vmas, before.nr_vmas);
	CHECK_EQ(after.minor_faults, before.minor_faults);
	CHECK_EQ(after.cow_faults, before.cow_faults);
	CHECK_EQ(umm_read(mm, a, got, PS), 0);
	for (size_t i = 0; i < PS; i++)
		wrong += got[i] != 0x11;
	CHECK_EQ(umm_read(mm, ro, got, PS), 0);
	for (size_t i = 0; i < PS; i++)
		wrong += got[i] != 0;
	CHECK_EQ(wrong, 0);
	end_mm(mm);
}
#undef CHECK_BAD_WIDTH

static void test_page_crossing(void)
{
	struct umm_mm *mm = new_mm();
	uintptr_t a = map_anon(mm, 3 * PS, PROT_READ | PROT_WRITE);
	unsigned char buf[16];
	uint64_t v;

	fill(mm, a, 3 * PS, 0);
	/* every split of an 8-byte access across the first page boundary */
	for (uintptr_t k = 1; k < 8; k++) {
		uintptr_t at = a + PS - k;
		uint64_t want = 0x1122334455667788ULL + k;

		CHECK_EQ(umm_store_u64(mm, at, want), 0);
		CHECK_EQ(umm_load_u64(mm, at, &v), 0);
		CHECK(v == want);
		CHECK_EQ(umm_read(mm, at, buf, 8), 0);
		CHECK(memcmp(buf, &want, 8) == 0);
	}
	uint16_t v16 = 0;
	CHECK_EQ(umm_store_u16(mm, a + 2 * PS - 1, 0xbeef), 0);
	CHECK_EQ(umm_load_u16(mm, a + 2 * PS - 1, &v16), 0);
	CHECK_EQ(v16, 0xbeef);
	/* a crossing into a read-only page: loads work, stores fail there */
	CHECK_EQ(umm_mprotect(mm, a + 2 * PS, PS, PROT_READ), 0);
	CHECK_EQ(umm_load_u64(mm, a + 2 * PS - 4, &v), 0);
	CHECK_EQ(umm_store_u64(mm, a + 2 * PS - 4, 1), -EFAULT);
	CHECK_EQ(umm_store_u64(mm, a + 2 * PS - 8, 2), 0);  /* up to the boundary: fine */
	/* and into a hole */
	CHECK_EQ(umm_munmap(mm, a + 2 * PS, PS), 0);
	v = 9;
	CHECK_EQ(umm_load_u64(mm, a + 2 * PS - 2, &v), -EFAULT);
	CHECK_EQ(v, 9);
	end_mm(mm);
}

static void test_stale_single_thread(void)
{
	struct umm_mm *mm = new_mm(), *child;
	uintptr_t a = map_anon(mm, 2 * PS, PROT_READ | PROT_WRITE);
	uint64_t v = 0;

	CHECK_EQ(umm_store_u64(mm, a, 0xaa), 0);
	CHECK_EQ(umm_store_u64(mm, a + PS, 0xbb), 0);
	CHECK_EQ(umm_load_u64(mm, a, &v), 0);
	/* read-only: loads hit, stores fail */
	CHECK_EQ(umm_mprotect(mm, a, PS, PROT_READ), 0);
	CHECK_EQ(umm_store_u64(mm, a, 1), -EFAULT);
	CHECK_EQ(umm_load_u64(mm, a, &v), 0);
	CHECK_EQ(v, 0xaa);
	/* none: everything fails */
	CHECK_EQ(umm_mprotect(mm, a, PS, PROT_NONE), 0);
	CHECK_EQ(umm_load_u64(mm, a, &v), -EFAULT);
	CHECK_EQ(umm_store_u64(mm, a, 1), -EFAULT);
	CHECK_EQ(umm_mprotect(mm, a, PS, PROT_READ | PROT_WRITE), 0);
	CHECK_EQ(umm_store_u64(mm, a, 0xa1), 0);
	/* fork: a store in either breaks COW, the other keeps its value */
	REQUIRE(umm_fork(mm, &child) == 0);
	CHECK_EQ(umm_store_u64(mm, a, 0xa2), 0);
	CHECK_EQ(umm_load_u64(child, a, &v), 0);
	CHECK_EQ(v, 0xa1);
	CHECK_EQ(umm_store_u64(child, a + PS, 0xc2), 0);
	CHECK_EQ(umm_load_u64(mm, a + PS, &v), 0);
	CHECK_EQ(v, 0xbb);
	CHECK_EQ(umm_load_u64(mm, a, &v), 0);
	CHECK_EQ(v, 0xa2);
	end_mm(child);
	/* munmap: gone, even when the frame is reused at once */
	CHECK_EQ(umm_munmap(mm, a, 2 * PS), 0);
	scribble(mm, 4, 0xee);
	CHECK_EQ(umm_load_u64(mm, a, &v), -EFAULT);
	CHECK_EQ(umm_load_u64(mm, a + PS, &v), -EFAULT);
	CHECK_EQ(umm_store_u64(mm, a, 1), -EFAULT);
	end_mm(mm);
}

/* ---- another thread changes the page under an inline reader or writer ---- */

struct race {
	struct umm_mm *mm;
	uintptr_t a;
	uint64_t value;             /* what the page holds while it is valid (COW: before the break) */
	_Atomic int changed;        /* set by main once its change returned */
	_Atomic long ok;
	bool write;                 /* stores instead of loads */
	bool cow;                   /* the change moves the page to a copy: loads keep working */
	bool store_first;           /* the loop stores the value itself first (main never touches the mm) */
	uint64_t last_stored;       /* stores: the last value a store succeeded with */
};

/*
 * race_loop - inline loads (or stores) until 200 accesses have started
 * after the change was announced.  Before it, a load sees the value;
 * after it, a load or store must fail (COW: the load still sees the value).
 */
static void *race_loop(void *p)
{
	struct race *r = p;

	if (r->store_first)
		TCHECK(umm_store_u64(r->mm, r->a + 64, r->value) == 0);
	for (int after = 0; after < 200;) {
		int changed = atomic_load(&r->changed);
		uint64_t v = 0;
		int err;

		if (r->write) {
			uint64_t val = r->last_stored + 1;

			err = umm_store_u64(r->mm, r->a + 64, val);
			if (!err) {
				TCHECK(!changed);
				r->last_stored = val;
			}
		} else {
			err = umm_load_u64(r->mm, r->a + 64, &v);
			if (!err)
				TCHECK(v == r->value && (r->cow || !changed));
		}
		if (!err)
			atomic_fetch_add(&r->ok, 1);
		else
			TCHECK(err == -EFAULT && !r->cow);
		after += changed;
	}
	return NULL;
}

/* race_round - start the loop, let it run, make the change, announce it, join. */
static void race_round(struct race *r, void (*change)(struct race *))
{
	pthread_t t;

	atomic_store(&r->changed, 0);
	atomic_store(&r->ok, 0);
	REQUIRE(pthread_create(&t, NULL, race_loop, r) == 0);
	while (atomic_load(&r->ok) < 100)
		sched_yield();
	change(r);
	atomic_store(&r->changed, 1);
	pthread_join(t, NULL);
	test_fold_thread_checks();
}

static void change_munmap(struct race *r)
{
	CHECK_EQ(umm_munmap(r->mm, r->a, PS), 0);
	scribble(r->mm, 4, 0xee);
}

static void change_protect_none(struct race *r)
{
	CHECK_EQ(umm_mprotect(r->mm, r->a, PS, PROT_NONE), 0);
}

static void change_protect_ro(struct race *r)
{
	CHECK_EQ(umm_mprotect(r->mm, r->a, PS, PROT_READ), 0);
}

/* Loads after munmap fail; the freed frame is reused and overwritten at once. */
static void test_race_munmap(void)
{
	struct race r = { .mm = new_mm() };

	for (int round = 0; round < ROUNDS; round++) {
		r.a = map_anon(r.mm, PS, PROT_READ | PROT_WRITE);
		r.value = 0x1000 + (uint64_t)round;
		CHECK_EQ(umm_store_u64(r.mm, r.a + 64, r.value), 0);
		race_round(&r, change_munmap);
	}
	end_mm(r.mm);
}

/*
 * The same when only the looping thread ever touched the mm: main's flush
 * finds another thread's TLB recorded as the mm's only user, not its own,
 * and must shoot it down.
 */
static void test_race_munmap_other_owner(void)
{
	for (int round = 0; round < ROUNDS; round++) {
		struct race r = { .mm = new_mm(), .store_first = true };

		r.a = map_anon(r.mm, PS, PROT_READ | PROT_WRITE);
		r.value = 0x4000 + (uint64_t)round;
		race_round(&r, change_munmap);
		end_mm(r.mm);
	}
}

/* Loads after mprotect(PROT_NONE) fail. */
static void test_race_protect_none(void)
{
	struct race r = { .mm = new_mm() };

	for (int round = 0; round < ROUNDS; round++) {
		r.a = map_anon(r.mm, PS, PROT_READ | PROT_WRITE);
		r.value = 0x2000 + (uint64_t)round;
		CHECK_EQ(umm_store_u64(r.mm, r.a + 64, r.value), 0);
		race_round(&r, change_protect_none);
		CHECK_EQ(umm_munmap(r.mm, r.a, PS), 0);
	}
	end_mm(r.mm);
}

/* Stores after mprotect(PROT_READ) fail, and none landed after the last success. */
static void test_race_protect_ro(void)
{
	struct race r = { .mm = new_mm(), .write = true };

	for (int round = 0; round < ROUNDS; round++) {
		uint64_t v = 0;

		r.a = map_anon(r.mm, PS, PROT_READ | PROT_WRITE);
		r.last_stored = 0;
		CHECK_EQ(umm_store_u64(r.mm, r.a + 64, 0), 0);
		race_round(&r, change_protect_ro);
		CHECK_EQ(umm_load_u64(r.mm, r.a + 64, &v), 0);
		CHECK_EQ(v, r.last_stored);
		CHECK(r.last_stored > 0);
		CHECK_EQ(umm_munmap(r.mm, r.a, PS), 0);
	}
	end_mm(r.mm);
}

/*
 * COW: the page is shared with a forked child and the reader's
 * translation points at the shared frame.  Main breaks COW in the parent
 * (a store elsewhere in the page moves the parent to a copy), then stores
 * through the child into the old frame, and reuses any freed frame: a
 * reader still using the old translation would see the child's value or
 * the scribble.  The parent's word at +64 never changes, so every load
 * must see it.
 */
static struct umm_mm *cow_child;

static void change_cow(struct race *r)
{
	uint64_t v = 0;

	CHECK_EQ(umm_store_u64(r->mm, r->a + 128, 1), 0);
	CHECK_EQ(umm_store_u64(cow_child, r->a + 64, ~r->value), 0);
	scribble(r->mm, 4, 0xee);
	CHECK_EQ(umm_load_u64(r->mm, r->a + 64, &v), 0);
	CHECK_EQ(v, r->value);
}

static void test_race_cow(void)
{
	struct race r = { .mm = new_mm(), .cow = true };

	r.a = map_anon(r.mm, PS, PROT_READ | PROT_WRITE);
	for (int round = 0; round < ROUNDS; round++) {
		uint64_t v = 0;

		r.value = 0x3000 + (uint64_t)round;
		CHECK_EQ(umm_store_u64(r.mm, r.a + 64, r.value), 0);
		REQUIRE(umm_fork(r.mm, &cow_child) == 0);
		race_round(&r, change_cow);
		CHECK_EQ(umm_load_u64(cow_child, r.a + 64, &v), 0);
		CHECK_EQ(v, ~r.value);
		end_mm(cow_child);
	}
	end_mm(r.mm);
}

static void run_concurrent_tests(void)
{
	RUN(test_race_munmap);
	RUN(test_race_munmap_other_owner);
	RUN(test_race_protect_none);
	RUN(test_race_protect_ro);
	RUN(test_race_cow);
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
	struct umm_config cfg = { .phys_bytes = 16 << 20 };
	bool only_concurrent = argc > 1 && !strcmp(argv[1], "--concurrent");

	REQUIRE(umm_system_create(&cfg, &sys) == 0);
	fprintf(stderr, "    barrier: %s\n", stats().membarrier ? "membarrier" : "seq_cst fences");
	if (!only_concurrent) {
		RUN(test_inline_used);
		RUN(test_values);
		RUN(test_bad_inputs);
		RUN(test_bad_inputs_every_width);
		RUN(test_page_crossing);
		RUN(test_stale_single_thread);
	}
	run_concurrent_tests();
	CHECK_EQ(umm_system_check(sys), 0);
	umm_system_destroy(sys);
	if (!only_concurrent && stats().membarrier)
		rerun_with_fences("/proc/self/exe");
	return test_summary(only_concurrent ? "test_access (fences)" : "test_access");
}

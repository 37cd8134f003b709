/* SPDX-License-Identifier: MIT */
/*
 * test_races.c - the known virtual-memory races, as stress tests.
 *
 * Theory of operation.  Each test runs one or more worker threads against
 * a thread that changes the mapping under them, for a fixed number of
 * rounds (fewer under ThreadSanitizer, N times more with UMM_RACE_SCALE=N),
 * and checks a property that a wrong implementation breaks when the race
 * is lost:
 *
 *   dirty_cow           a forced write pin (UMM_PIN_FORCE) of a private
 *                       read-only file mapping, stores through it, while
 *                       the page is zapped: by truncating it away and
 *                       back (a zap that, like MADV_DONTNEED, does not
 *                       wait for the pin's mmap_lock; umm_madvise does not
 *                       exist yet), or by replacing the mapping (MAP_FIXED
 *                       over it, munmap + remap): no stored byte ever
 *                       reaches the page cache or the file.
 *   stale_tlb_munmap    a writer and a reader hit the soft TLB on a page
 *                       that another thread unmaps, after which the freed
 *                       frames are reused: no store lands in the reused
 *                       frames and no read started after munmap returned
 *                       succeeds.
 *   cow_vs_reader       readers keep translations of private pages in their
 *                       soft TLBs, reading another word of the same pages,
 *                       while a writer breaks copy-on-write on them after
 *                       each fork (the child keeps the old frames and
 *                       values): once the COW writes returned, the readers
 *                       read them back and never see the older value (a
 *                       stale translation would still point at the
 *                       child's frame).  Pages in a 2 MiB region only the
 *                       writer touches are written too: their COW flushes
 *                       are the writer's alone (counted), the writer reads
 *                       its value back and the child keeps the old one.
 *   fork_vs_write       a thread writes increasing values to a private
 *                       page (COW faults once fork write-protected it)
 *                       while the main thread forks: each child holds a
 *                       value written between just before and just after
 *                       its fork, and keeps it while the parent goes on.
 *   fork_vs_pin         a thread pins the page for write and stores
 *                       through the pin while the main thread forks: no
 *                       child sees a store made after its fork returned,
 *                       and the parent always reads what was stored.
 *   mprotect_vs_pin     mprotect flips a page RO/RW while a write pin is
 *                       held: after every umm_write, the pinned frame has
 *                       the bytes, and stores through it are read back.
 *   truncate_vs_fault   faulting readers and writers (shared and private)
 *                       of a file while it is truncated down and up: every
 *                       access gives the file's bytes, zeros or -EIO, and
 *                       once the faults in flight have ended, nothing past
 *                       the end stays mapped (private copies included).
 *   mremap_vs_reader    a reader of a range that is moved away and back:
 *                       a read that starts while the range is away fails,
 *                       and every read that succeeds sees the pattern.
 *   writeback_vs_write  a writer stores into a shared file page while
 *                       umm_object_sync writes it back: when the writer
 *                       stops, every byte it wrote last is in the file or
 *                       the page is dirty (never neither); after a final
 *                       sync the file has them all.
 *
 * The deterministic pin cases are in test_pin.c.  The tests look at
 * PG_dirty through page.h; everything else goes through the public API.
 */
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <usermm/usermm.h>
#include "page.h"
#include "tlb.h"
#include "test.h"

#define PS 4096UL

/* ROUNDS - a test's rounds: fewer under TSan, times $UMM_RACE_SCALE when set (to hunt longer). */
#if defined(__SANITIZE_THREAD__)
#define ROUNDS(n) (((n) / 8 + 1) * race_scale())
#else
#define ROUNDS(n) ((n) * race_scale())
#endif

static int race_scale(void)
{
	const char *s = getenv("UMM_RACE_SCALE");

	return s && atoi(s) > 0 ? atoi(s) : 1;
}

/*
 * RCHECK - TCHECK for the workers' hot loops: it touches the shared
 * counters only when the check fails, so that checking does not serialize
 * the threads whose race is being tested.
 */
#define RCHECK(cond) do { if (!(cond)) TCHECK(cond); } while (0)

#if defined(__SANITIZE_THREAD__)
/*
 * Writeback reads a page's bytes (pwrite from the frame) while a writer
 * may be storing into it: a race by design, in Linux too.  What makes it
 * safe is that the page is cleaned and write-protected before the bytes
 * are read, so a store the write missed dirties the page again;
 * writeback_vs_write checks exactly that.  Only this report is silenced.
 */
const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void)
{
	return "race:file_writepage\n";
}
#endif

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

static uintptr_t map_at(struct umm_mm *mm, uintptr_t addr, size_t len, int prot, int flags,
			struct umm_object *obj)
{
	uintptr_t out = 0;

	REQUIRE(umm_mmap(mm, addr, len, prot, flags | (obj ? 0 : MAP_ANONYMOUS) | (addr ? MAP_FIXED : 0),
			 obj, 0, &out) == 0);
	return out;
}

static void fill(struct umm_mm *mm, uintptr_t a, size_t len, char c)
{
	char *buf = malloc(len);

	memset(buf, c, len);
	REQUIRE(umm_write(mm, a, buf, len) == 0);
	free(buf);
}

/* uniform - are the len bytes at a all c? */
static bool uniform(struct umm_mm *mm, uintptr_t a, size_t len, char c)
{
	char *buf = malloc(len);
	bool ok = umm_read(mm, a, buf, len) == 0;

	for (size_t i = 0; ok && i < len; i++)
		ok = buf[i] == c;
	free(buf);
	return ok;
}

static unsigned char filebyte(size_t i)
{
	return (unsigned char)('a' + i % 23);
}

/*
 * wait_progress - spin (yielding) until *ctr has moved `by` past `from`,
 * or a worker's check failed (the progress awaited may then never come:
 * a reader that keeps succeeding never faults).
 */
static void wait_progress(_Atomic long *ctr, long from, long by)
{
	while (atomic_load(ctr) - from < by && !atomic_load(&test_thread_failures))
		sched_yield();
}

/* ---- Dirty COW ---- */

#define DC_POKERS 2     /* poker k pokes page 1 + k: more windows per zap */

struct dcow {
	struct umm_mm *mm;
	uintptr_t a;            /* the poked pages: from page 1 of a private read-only mapping */
	struct umm_mm *other;
	uintptr_t s;            /* the same pages through a shared mapping in another mm */
	_Atomic int next_poker;
	_Atomic bool stop;
	_Atomic long pins, misses;
};

/* no_x - does no byte of the page at s (through a shared mapping: the page cache) read 'X'? */
static bool no_x(struct umm_mm *mm, uintptr_t s)
{
	unsigned char buf[PS];
	int err = umm_read(mm, s, buf, PS);

	if (err)
		return err == -EIO;     /* truncated just now */
	return memchr(buf, 'X', PS) == NULL;
}

static void *dcow_poker(void *p)
{
	struct dcow *d = p;
	int k = atomic_fetch_add(&d->next_poker, 1);
	uintptr_t a = d->a + (size_t)k * PS, s = d->s + (size_t)k * PS;

	while (!atomic_load(&d->stop)) {
		struct umm_page *pg;
		unsigned char c;
		long n;

		/* read-fault the page in first, so the pin races a pte that maps the file page */
		if (umm_read(d->mm, a + 5, &c, 1) == 0)
			RCHECK(c == filebyte((1 + (size_t)k) * PS + 5) || c == 0 || c == 'X');
		n = umm_pin_pages(d->mm, a, 1, UMM_PIN_WRITE | UMM_PIN_FORCE, &pg);
		if (n == 1) {
			RCHECK(PageAnon((struct page *)pg));    /* a private copy, never the file's page */
			memset(umm_page_address(pg), 'X', PS);
			umm_unpin_pages(&pg, 1, UMM_PIN_WRITE | UMM_PIN_FORCE);
			atomic_fetch_add(&d->pins, 1);
			/* before a truncate can drop the evidence: the cache page has no 'X' */
			RCHECK(no_x(d->other, s));
		} else {
			/* -EFAULT between munmap and the remap, -EIO while truncated */
			RCHECK(n == -EFAULT || n == -EIO);
			atomic_fetch_add(&d->misses, 1);
		}
	}
	return NULL;
}

/*
 * The zap races the forced pin while the pin holds mmap_lock for read,
 * as MADV_DONTNEED does in Linux: truncating the pages away and back
 * (unmap_mapping_range zaps private copies too, and takes no mmap_lock).
 * Replacing the mapping (MAP_FIXED over it, or munmap and remap) is the
 * other zap; it takes mmap_lock for write, so it can only land between
 * two pins.  The file is truncated in place, so the pages may legitimately
 * read as zeros afterwards, but no 'X' may ever reach the page cache or
 * the file.  The window (between the forced COW fault and the walk that
 * takes the pin) is short, and the truncate must also be undone before
 * the walk faults again, so two pokers (one page each) give the zap twice
 * the chances: a walk that accepts a read-only file page after the forced
 * COW fault (the original bug) failed 6 debug runs of 6 here, against 1 in 3
 * with one poker.  MADV_DONTNEED, once usermm has it, zaps without
 * changing the size.
 */
static void test_dirty_cow(void)
{
	size_t file_pages = 1 + DC_POKERS;
	int fd = test_tmpfile(file_pages * PS, filebyte);
	struct umm_object *obj;
	struct dcow d = { .mm = new_mm(), .other = new_mm() };
	struct umm_mm *other = d.other;
	uintptr_t base, s;
	pthread_t t[DC_POKERS];
	unsigned char buf[(1 + DC_POKERS) * PS];
	int rounds = ROUNDS(3000);

	REQUIRE(umm_object_open_fd(sys, fd, &obj) == 0);
	base = map_at(d.mm, 0, file_pages * PS, PROT_READ, MAP_PRIVATE, obj);
	d.a = base + PS;
	s = d.s = map_at(other, 0, file_pages * PS, PROT_READ, MAP_SHARED, obj) + PS;
	for (int k = 0; k < DC_POKERS; k++)
		REQUIRE(pthread_create(&t[k], NULL, dcow_poker, &d) == 0);
	for (int i = 0; i < rounds; i++) {
		long seen = atomic_load(&d.pins);

		switch (i % 20) {
		default:
			CHECK_EQ(umm_object_truncate(obj, PS), 0);
			CHECK_EQ(umm_object_truncate(obj, file_pages * PS), 0);
			break;
		case 19:
			REQUIRE(umm_munmap(d.mm, d.a, DC_POKERS * PS) == 0);
			sched_yield();
			/* fall through */
		case 18:
			REQUIRE(umm_mmap(d.mm, d.a, DC_POKERS * PS, PROT_READ, MAP_PRIVATE | MAP_FIXED, obj, PS,
					 &(uintptr_t){ 0 }) == 0);
			break;
		}
		if (i % 16 == 0)
			for (int k = 0; k < DC_POKERS; k++)
				CHECK(no_x(other, s + (size_t)k * PS));
		if (i % 50 == 0)
			wait_progress(&d.pins, seen, 1);
	}
	atomic_store(&d.stop, true);
	for (int k = 0; k < DC_POKERS; k++)
		pthread_join(t[k], NULL);
	test_fold_thread_checks();
	fprintf(stderr, "    dirty_cow: %ld forced pins, %ld misses\n", atomic_load(&d.pins),
		atomic_load(&d.misses));
	CHECK(atomic_load(&d.pins) > 0);
	for (int k = 0; k < DC_POKERS; k++)
		CHECK(no_x(other, s + (size_t)k * PS));
	end_mm(d.mm);
	end_mm(other);
	/* after writeback the file holds its own bytes (or zeros where truncated), never 'X' */
	CHECK_EQ(umm_object_sync(obj, 0, 0), 0);
	umm_object_put(obj);
	REQUIRE(pread(fd, buf, sizeof(buf), 0) == (ssize_t)sizeof(buf));
	CHECK(memchr(buf, 'X', sizeof(buf)) == NULL);
	for (size_t i = 0; i < PS; i++)
		CHECK(buf[i] == filebyte(i));
	close(fd);
}

/* ---- stale soft-TLB entries after munmap ---- */

#define STALE_PAGES 4

struct stale {
	struct umm_mm *mm;
	uintptr_t a;
	_Atomic long phase;     /* odd: [a, a + STALE_PAGES) is unmapped */
	_Atomic bool stop;
	_Atomic long writes, reads, faults, attempts;
};

static void *stale_writer(void *p)
{
	struct stale *s = p;
	uint64_t v = 0x7777777777777777ULL;

	for (unsigned i = 0; !atomic_load(&s->stop); i++) {
		uintptr_t at = s->a + (i % STALE_PAGES) * PS + (i * 64) % (PS / 2);
		long ph = atomic_load(&s->phase);
		int err = umm_write(s->mm, at, &v, sizeof(v));

		if (err == 0) {
			/* not if it started after munmap returned and ended before the remap */
			RCHECK(!(ph & 1) || atomic_load(&s->phase) != ph);
			atomic_fetch_add(&s->writes, 1);
		} else {
			RCHECK(err == -EFAULT);
			atomic_fetch_add(&s->faults, 1);
		}
		atomic_fetch_add(&s->attempts, 1);
	}
	return NULL;
}

static void *stale_reader(void *p)
{
	struct stale *s = p;

	for (unsigned i = 0; !atomic_load(&s->stop); i++) {
		uintptr_t at = s->a + (i % STALE_PAGES) * PS + PS / 2 + (i * 72) % (PS / 2 - 8);
		long ph = atomic_load(&s->phase);
		uint64_t v;
		int err = umm_read(s->mm, at, &v, sizeof(v));

		if (err == 0) {
			/*
			 * The upper halves hold 'w' (first mapping) or zeros
			 * (later ones), never the reuser's 'n'.
			 */
			bool ok = true;

			for (int b = 0; b < 8; b++) {
				unsigned char c = (unsigned char)(v >> (8 * b));

				ok &= c == 'w' || c == 0;
			}
			RCHECK(ok);
			RCHECK(!(ph & 1) || atomic_load(&s->phase) != ph);
			atomic_fetch_add(&s->reads, 1);
		} else {
			RCHECK(err == -EFAULT);
		}
	}
	return NULL;
}

static void test_stale_tlb_munmap(void)
{
	struct stale s = { .mm = new_mm() };
	pthread_t w, r;
	int rounds = ROUNDS(25);

	s.a = map_at(s.mm, 0, STALE_PAGES * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL);
	fill(s.mm, s.a, STALE_PAGES * PS, 'w');
	REQUIRE(pthread_create(&w, NULL, stale_writer, &s) == 0);
	REQUIRE(pthread_create(&r, NULL, stale_reader, &s) == 0);
	for (int i = 0; i < rounds; i++) {
		long f;
		uintptr_t b;

		/* placed before the munmap, so never over the unmapped range */
		b = map_at(s.mm, 0, 16 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL);
		wait_progress(&s.writes, atomic_load(&s.writes), 2);
		REQUIRE(umm_munmap(s.mm, s.a, STALE_PAGES * PS) == 0);
		atomic_fetch_add(&s.phase, 1);
		/* the freed frames go to the new mapping, filled with 'n' */
		fill(s.mm, b, 16 * PS, 'n');
		f = atomic_load(&s.attempts);
		wait_progress(&s.attempts, f, 3);    /* writes that start now must fault */
		CHECK(uniform(s.mm, b, 16 * PS, 'n'));
		REQUIRE(umm_munmap(s.mm, b, 16 * PS) == 0);
		atomic_fetch_add(&s.phase, 1);  /* before the remap: a read overlapping it sees the change */
		map_at(s.mm, s.a, STALE_PAGES * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL);
	}
	atomic_store(&s.stop, true);
	pthread_join(w, NULL);
	pthread_join(r, NULL);
	test_fold_thread_checks();
	fprintf(stderr, "    stale_tlb_munmap: %ld writes, %ld reads, %ld faults\n",
		atomic_load(&s.writes), atomic_load(&s.reads), atomic_load(&s.faults));
	end_mm(s.mm);
}

/* ---- COW breaks against readers that cached the old translation ---- */

#define CR_PAGES   4            /* pages the readers read */
#define CR_FAR     2            /* pages in a 2 MiB region they never touch */
#define CR_READERS 2
#define CR_MAGIC   0x5a5a5a5a5a5a5a5aULL
#define CR_X       512          /* offset of the word only the readers read */

/*
 * Per round r: the main thread forks (every page copy-on-write again, the
 * child keeps the old frames) and raises `round`; the writer writes r to
 * the first word of each page (a COW break) and raises `done`; each
 * reader then reads the first words back and acknowledges.  While the
 * writer breaks COW the readers keep reading another word of the same
 * pages (CR_X, never written after the start), so their translations of
 * the old frames are cached, and in use, during the breaks; the words
 * written and the words read concurrently are never the same.
 */
struct cow_race {
	struct umm_mm *mm;
	uintptr_t a, far;            /* CR_PAGES at a; CR_FAR at far */
	_Atomic long round;          /* the writer's go */
	_Atomic long done;           /* the last round whose writes all returned */
	_Atomic long acked[CR_READERS]; /* the last round each reader checked */
	_Atomic bool stop;
	_Atomic long reads;
	_Atomic long far_ready;      /* the writer filled the far pages */
	_Atomic long span_skips;     /* the writer's flushes done alone (tlb.h) */
};

struct cr_reader_arg {
	struct cow_race *c;
	int id;
};

static int cr_read(struct cow_race *c, uintptr_t at, bool inline_path, uint64_t *v)
{
	return inline_path ? umm_load_u64(c->mm, at, v) : umm_read(c->mm, at, v, sizeof(*v));
}

static void *cr_reader(void *p)
{
	struct cr_reader_arg *ra = p;
	struct cow_race *c = ra->c;
	long checked = 0;

	for (unsigned i = 0; !atomic_load(&c->stop); i++) {
		long d = atomic_load(&c->done);
		uint64_t v = 0;

		if (d > checked) {
			/* round d's writes returned: never the value the child kept */
			for (int k = 0; k < CR_PAGES; k++) {
				RCHECK(cr_read(c, c->a + k * PS, (i + k) & 1, &v) == 0);
				RCHECK((long)v == d);
			}
			checked = d;
			atomic_store(&c->acked[ra->id], d);
			continue;
		}
		int k = (int)(i % CR_PAGES);

		RCHECK(cr_read(c, c->a + k * PS + CR_X, i & 1, &v) == 0);
		RCHECK(v == CR_MAGIC);
		atomic_fetch_add_explicit(&c->reads, 1, memory_order_relaxed);
		if (i % 16 == 15)
			sched_yield();     /* 4 threads on 2 CPUs: let the writer and the forker run */
	}
	return NULL;
}

static void *cr_writer(void *p)
{
	struct cow_race *c = p;
	struct soft_tlb_stats st;
	unsigned long skips0;

	for (int k = 0; k < CR_FAR; k++) {
		uint64_t zero = 0;

		RCHECK(umm_write(c->mm, c->far + k * PS, &zero, sizeof(zero)) == 0);
	}
	tlb_get_stats(&st);
	skips0 = st.span_skips;
	atomic_store(&c->far_ready, 1);
	for (long r = 1;; r++) {
		while (atomic_load(&c->round) < r && !atomic_load(&c->stop))
			sched_yield();
		if (atomic_load(&c->stop))
			break;
		for (int k = 0; k < CR_PAGES; k++) {
			uint64_t v = (uint64_t)r;

			RCHECK(umm_write(c->mm, c->a + k * PS, &v, sizeof(v)) == 0);  /* COW */
		}
		for (int k = 0; k < CR_FAR; k++) {
			uint64_t v = (uint64_t)r, back = 0;

			RCHECK(umm_write(c->mm, c->far + k * PS, &v, sizeof(v)) == 0);    /* COW, alone */
			RCHECK(umm_read(c->mm, c->far + k * PS, &back, sizeof(back)) == 0 && back == v);
		}
		tlb_get_stats(&st);
		atomic_store(&c->span_skips, (long)(st.span_skips - skips0));
		atomic_store(&c->done, r);
	}
	return NULL;
}

static void test_cow_vs_reader(void)
{
	struct cow_race c = { .mm = new_mm() };
	struct cr_reader_arg ra[CR_READERS];
	pthread_t w, rd[CR_READERS];
	int rounds = ROUNDS(2000);
	double t0 = test_now_s();
	long r;

	/* 4 MiB on a 2 MiB boundary: the readers' pages in one region, the far ones in the next */
	c.a = map_at(c.mm, 0, 4UL << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL);
	REQUIRE(c.a % (2UL << 20) == 0);
	c.far = c.a + (2UL << 20);
	for (int k = 0; k < CR_PAGES; k++) {
		uint64_t m = CR_MAGIC;

		REQUIRE(umm_write(c.mm, c.a + k * PS + CR_X, &m, sizeof(m)) == 0);
	}
	for (int i = 0; i < CR_READERS; i++) {
		ra[i] = (struct cr_reader_arg){ &c, i };
		REQUIRE(pthread_create(&rd[i], NULL, cr_reader, &ra[i]) == 0);
	}
	REQUIRE(pthread_create(&w, NULL, cr_writer, &c) == 0);
	while (!atomic_load(&c.far_ready) && !atomic_load(&test_thread_failures))
		sched_yield();
	for (r = 1; r <= rounds && !atomic_load(&test_thread_failures); r++) {
		struct umm_mm *child;
		long reads0 = atomic_load(&c.reads);

		for (int i = 0; i < CR_READERS; i++)
			while (atomic_load(&c.acked[i]) < r - 1 && !atomic_load(&test_thread_failures))
				sched_yield();
		wait_progress(&c.reads, reads0, 2 * CR_PAGES);     /* the readers hold translations */
		REQUIRE(umm_fork(c.mm, &child) == 0);              /* every page COW again */
		atomic_store(&c.round, r);
		while (atomic_load(&c.done) < r && !atomic_load(&test_thread_failures))
			sched_yield();
		for (int k = 0; k < CR_FAR; k++) {
			uint64_t v = 0;

			CHECK_EQ(umm_read(child, c.far + k * PS, &v, sizeof(v)), 0);
			CHECK_EQ((long)v, r - 1);                  /* the child kept its copy */
		}
		umm_mm_destroy(child);
	}
	for (int i = 0; i < CR_READERS; i++)
		while (atomic_load(&c.acked[i]) < r - 1 && !atomic_load(&test_thread_failures))
			sched_yield();
	atomic_store(&c.stop, true);
	pthread_join(w, NULL);
	for (int i = 0; i < CR_READERS; i++)
		pthread_join(rd[i], NULL);
	test_fold_thread_checks();
	/* the far pages' COW flushes never needed the readers (nor this thread) */
	CHECK(atomic_load(&c.span_skips) >= (long)CR_FAR * atomic_load(&c.done));
	for (int k = 0; k < CR_FAR; k++) {
		uint64_t v = 0;

		CHECK_EQ(umm_read(c.mm, c.far + k * PS, &v, sizeof(v)), 0);
		CHECK_EQ((long)v, atomic_load(&c.done));
	}
	fprintf(stderr, "    cow_vs_reader: %ld rounds, %ld reads, %.2f s\n", atomic_load(&c.done),
		atomic_load(&c.reads), test_now_s() - t0);
	end_mm(c.mm);
}

/* ---- fork racing a write fault on the same page ---- */

struct fw {
	struct umm_mm *mm;
	uintptr_t a;
	_Atomic bool stop;
	_Atomic long last;      /* the last value whose umm_write returned */
};

static void *fw_writer(void *p)
{
	struct fw *f = p;

	for (long v = 1; !atomic_load(&f->stop); v++) {
		RCHECK(umm_write(f->mm, f->a, &v, sizeof(v)) == 0);
		atomic_store(&f->last, v);
	}
	return NULL;
}

static void test_fork_vs_write(void)
{
	struct fw f = { .mm = new_mm() };
	pthread_t t;
	int rounds = ROUNDS(150);

	f.a = map_at(f.mm, 0, 2 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL);
	fill(f.mm, f.a, 2 * PS, 'k');
	REQUIRE(umm_write(f.mm, f.a, &(long){ 0 }, sizeof(long)) == 0);
	REQUIRE(pthread_create(&t, NULL, fw_writer, &f) == 0);
	for (int i = 0; i < rounds; i++) {
		struct umm_mm *child;
		long lo, hi, c = -1, c2 = -1;

		lo = atomic_load(&f.last);
		REQUIRE(umm_fork(f.mm, &child) == 0);
		hi = atomic_load(&f.last);
		CHECK_EQ(umm_read(child, f.a, &c, sizeof(c)), 0);
		/* written between the last write done before fork and the one in flight after it */
		CHECK(c >= lo && c <= hi + 1);
		CHECK(uniform(child, f.a + sizeof(long), 2 * PS - sizeof(long), 'k'));
		wait_progress(&f.last, atomic_load(&f.last), 3);
		CHECK_EQ(umm_read(child, f.a, &c2, sizeof(c2)), 0);
		CHECK_EQ(c2, c);
		end_mm(child);
	}
	atomic_store(&f.stop, true);
	pthread_join(t, NULL);
	test_fold_thread_checks();
	end_mm(f.mm);
}

/* ---- fork racing stores through a write pin ---- */

struct fp {
	struct umm_mm *mm;
	uintptr_t a;
	pthread_mutex_t lock;   /* orders each store through the pin with the forks */
	_Atomic bool stop;
	_Atomic long stored;    /* the last value stored through a pin */
};

static void *fp_pinner(void *p)
{
	struct fp *f = p;

	for (long v = 1; !atomic_load(&f->stop); v++) {
		struct umm_page *pg;
		long got = -1;

		RCHECK(umm_pin_pages(f->mm, f->a, 1, UMM_PIN_WRITE, &pg) == 1);
		/*
		 * A device store racing fork's copy of the page is a data race
		 * by nature (the child gets either value); the lock keeps it
		 * out of the test so that the child's value is exact.
		 */
		pthread_mutex_lock(&f->lock);
		memcpy(umm_page_address(pg), &v, sizeof(v));
		atomic_store(&f->stored, v);
		pthread_mutex_unlock(&f->lock);
		/* the parent reads what went through its pin, whatever forks happened */
		RCHECK(umm_read(f->mm, f->a, &got, sizeof(got)) == 0);
		RCHECK(got == v);
		sched_yield();
		RCHECK(umm_read(f->mm, f->a, &got, sizeof(got)) == 0);
		RCHECK(got == v);
		umm_unpin_pages(&pg, 1, UMM_PIN_WRITE);
	}
	return NULL;
}

static void test_fork_vs_pin(void)
{
	struct fp f = { .mm = new_mm(), .lock = PTHREAD_MUTEX_INITIALIZER };
	pthread_t t;
	int rounds = ROUNDS(150);

	f.a = map_at(f.mm, 0, PS, PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL);
	fill(f.mm, f.a, PS, 0);
	REQUIRE(pthread_create(&t, NULL, fp_pinner, &f) == 0);
	for (int i = 0; i < rounds; i++) {
		struct umm_mm *child;
		long at_fork, c = -1, c2 = -1;

		pthread_mutex_lock(&f.lock);
		REQUIRE(umm_fork(f.mm, &child) == 0);
		at_fork = atomic_load(&f.stored);
		pthread_mutex_unlock(&f.lock);
		CHECK_EQ(umm_read(child, f.a, &c, sizeof(c)), 0);
		CHECK_EQ(c, at_fork);
		wait_progress(&f.stored, atomic_load(&f.stored), 3);
		CHECK_EQ(umm_read(child, f.a, &c2, sizeof(c2)), 0);
		CHECK_EQ(c2, c);       /* later stores through the parent's pins never reach the child */
		end_mm(child);
	}
	atomic_store(&f.stop, true);
	pthread_join(t, NULL);
	test_fold_thread_checks();
	end_mm(f.mm);
}

/* ---- mprotect round trips while a write pin is held ---- */

struct mp {
	struct umm_mm *mm;
	uintptr_t a;
	_Atomic bool stop;
	_Atomic long flips;     /* RO/RW round trips done */
};

static void *mp_flipper(void *p)
{
	struct mp *m = p;

	while (!atomic_load(&m->stop)) {
		RCHECK(umm_mprotect(m->mm, m->a, PS, PROT_READ) == 0);
		sched_yield();
		RCHECK(umm_mprotect(m->mm, m->a, PS, PROT_READ | PROT_WRITE) == 0);
		atomic_fetch_add(&m->flips, 1);
		sched_yield();
	}
	return NULL;
}

static void test_mprotect_vs_pin(void)
{
	struct mp m = { .mm = new_mm() };
	struct umm_page *pg;
	volatile unsigned char *frame;
	struct umm_mm_stats st;
	pthread_t t;
	int rounds = ROUNDS(400);
	long writes = 0;

	m.a = map_at(m.mm, 0, PS, PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL);
	fill(m.mm, m.a, PS, 0);
	REQUIRE(umm_pin_pages(m.mm, m.a, 1, UMM_PIN_WRITE, &pg) == 1);
	frame = umm_page_address(pg);
	REQUIRE(pthread_create(&t, NULL, mp_flipper, &m) == 0);
	for (int i = 0; i < rounds; i++) {
		unsigned char v = (unsigned char)(i * 7 + 1), got = 0;
		int err;

		/* at least one round trip since the last write: this one write-faults */
		wait_progress(&m.flips, atomic_load(&m.flips), 1);
		/* -EFAULT while the page is read-only: retry until a write gets in */
		while ((err = umm_write(m.mm, m.a + 10, &v, 1)) == -EFAULT)
			sched_yield();
		CHECK_EQ(err, 0);
		writes++;
		CHECK_EQ(frame[10], v);                    /* the write reached the pinned frame */
		frame[20] = v;                             /* a store through the pin ... */
		CHECK_EQ(umm_read(m.mm, m.a + 20, &got, 1), 0);
		CHECK_EQ(got, v);                          /* ... is what the mapping reads */
	}
	atomic_store(&m.stop, true);
	pthread_join(t, NULL);
	test_fold_thread_checks();
	CHECK_EQ(writes, rounds);
	REQUIRE(umm_mm_stats(m.mm, &st) == 0);
	CHECK(st.minor_faults > (unsigned long)rounds / 2);     /* the writes did fault */
	CHECK_EQ(st.cow_faults, 0);                             /* and never copied */
	umm_unpin_pages(&pg, 1, UMM_PIN_WRITE);
	end_mm(m.mm);
}

/* ---- truncate racing faults ---- */

#define TR_PAGES 16

struct tr {
	struct umm_mm *mm;
	uintptr_t shared, priv;
	_Atomic int next_id;
	_Atomic bool stop;
	_Atomic bool hold;      /* the faulters stop between accesses ... */
	_Atomic int held;       /* ... and say so here */
	_Atomic long ok, eio;
};

/*
 * tr_faulter - thread 0 reads and writes the even pages through the
 * shared mapping; thread 1 makes private copies of the odd pages and
 * reads them through both mappings.  No byte is touched by both threads
 * (a private copy reads the whole cache page), so the only races are
 * with truncate.
 */
static void *tr_faulter(void *p)
{
	struct tr *r = p;
	int id = atomic_fetch_add(&r->next_id, 1);
	uint64_t rnd = (uint64_t)id * 0x9e3779b97f4a7c15ULL + 1;

	while (!atomic_load(&r->stop)) {
		size_t pg = (test_rnd(&rnd) % (TR_PAGES / 2)) * 2 + (size_t)id;
		size_t off = pg * PS + ((test_rnd(&rnd) % PS) & ~7UL);
		unsigned op = id == 0 ? (unsigned)(test_rnd(&rnd) % 2) : 2 * (unsigned)(test_rnd(&rnd) % 2);
		unsigned char b[8], want[8];
		int err;

		if (atomic_load(&r->hold)) {    /* the main thread checks a quiet moment */
			atomic_fetch_add(&r->held, 1);
			while (atomic_load(&r->hold))
				sched_yield();
			atomic_fetch_sub(&r->held, 1);
			continue;
		}
		for (int i = 0; i < 8; i++)
			want[i] = filebyte(off + (size_t)i);
		if (op == 0) {          /* read the shared mapping */
			err = umm_read(r->mm, r->shared + off, b, 8);
			if (!err) {
				bool ok = true;

				for (int i = 0; i < 8; i++)
					ok &= b[i] == want[i] || b[i] == 0;
				RCHECK(ok);
			}
		} else if (op == 1) {   /* write the file's own bytes through the shared mapping */
			err = umm_write(r->mm, r->shared + off, want, 8);
		} else {                /* a private COW copy, then read it back */
			err = umm_write(r->mm, r->priv + off, "privpriv", 8);
			if (!err) {
				err = umm_read(r->mm, r->priv + off, b, 8);
				if (!err)
					RCHECK(memcmp(b, "privpriv", 8) == 0 || b[0] == 0 ||
					       b[0] == want[0]);
			}
		}
		RCHECK(err == 0 || err == -EIO);
		atomic_fetch_add(err ? &r->eio : &r->ok, 1);
	}
	return NULL;
}

static void test_truncate_vs_fault(void)
{
	int fd = test_tmpfile(TR_PAGES * PS, filebyte);
	struct umm_object *obj;
	struct tr r = { .mm = new_mm() };
	pthread_t t[2];
	unsigned char buf[PS], c;
	int rounds = ROUNDS(80);
	bool ok = true;

	REQUIRE(umm_object_open_fd(sys, fd, &obj) == 0);
	r.shared = map_at(r.mm, 0, TR_PAGES * PS, PROT_READ | PROT_WRITE, MAP_SHARED, obj);
	r.priv = map_at(r.mm, 0, TR_PAGES * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE, obj);
	for (int i = 0; i < 2; i++)
		REQUIRE(pthread_create(&t[i], NULL, tr_faulter, &r) == 0);
	for (int i = 0; i < rounds; i++) {
		uint64_t size = (uint64_t)(4 + i % 9) * PS;     /* page-aligned: no tail is zeroed under a writer */

		wait_progress(&r.ok, atomic_load(&r.ok), 4);
		CHECK_EQ(umm_object_truncate(obj, size), 0);
		if (i % 2 == 0) {
			/*
			 * Quiet the faulters: a fault that began before the
			 * truncate has ended now, and must not have left a
			 * page past the end mapped, shared or private copy.
			 */
			atomic_store(&r.hold, true);
			while (atomic_load(&r.held) < 2)
				sched_yield();
			for (uint64_t pg = size / PS; pg < TR_PAGES; pg++) {
				CHECK_EQ(umm_read(r.mm, r.shared + pg * PS, &c, 1), -EIO);
				CHECK_EQ(umm_read(r.mm, r.priv + pg * PS, &c, 1), -EIO);
			}
			atomic_store(&r.hold, false);
		}
		sched_yield();
		CHECK_EQ(umm_object_truncate(obj, TR_PAGES * PS), 0);
	}
	atomic_store(&r.stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	test_fold_thread_checks();
	fprintf(stderr, "    truncate_vs_fault: %ld accesses ok, %ld -EIO\n", atomic_load(&r.ok),
		atomic_load(&r.eio));
	CHECK(atomic_load(&r.ok) > 0);
	/* final state: pages past a shrink are gone from both mappings */
	CHECK_EQ(umm_object_truncate(obj, 4 * PS), 0);
	CHECK_EQ(umm_read(r.mm, r.shared + 4 * PS, &c, 1), -EIO);
	CHECK_EQ(umm_read(r.mm, r.priv + 8 * PS, &c, 1), -EIO);
	CHECK_EQ(umm_read(r.mm, r.shared + 4 * PS - 1, &c, 1), 0);
	CHECK_EQ(umm_object_sync(obj, 0, 0), 0);
	for (size_t pg = 0; pg < 4; pg++) {       /* never truncated: the file's bytes */
		REQUIRE(pread(fd, buf, PS, (off_t)(pg * PS)) == (ssize_t)PS);
		for (size_t i = 0; i < PS; i++)
			ok &= buf[i] == filebyte(pg * PS + i);
	}
	CHECK(ok);
	end_mm(r.mm);
	umm_object_put(obj);
	close(fd);
}

/* ---- mremap racing a reader of the old range ---- */

#define MR_PAGES 4

struct mr {
	struct umm_mm *mm;
	uintptr_t a;
	_Atomic long phase;     /* odd: the range is away from a */
	_Atomic bool stop;
	_Atomic long reads, faults;
};

static void *mr_reader(void *p)
{
	struct mr *m = p;
	unsigned char *buf = malloc(MR_PAGES * PS);

	while (!atomic_load(&m->stop)) {
		long ph = atomic_load(&m->phase);
		int err = umm_read(m->mm, m->a, buf, MR_PAGES * PS);

		if (err == 0) {
			bool ok = true;

			for (size_t i = 0; i < MR_PAGES * PS; i++)
				ok &= buf[i] == (unsigned char)('A' + i / PS);
			RCHECK(ok);
			RCHECK(!(ph & 1) || atomic_load(&m->phase) != ph);
			atomic_fetch_add(&m->reads, 1);
		} else {
			RCHECK(err == -EFAULT);
			atomic_fetch_add(&m->faults, 1);
		}
	}
	free(buf);
	return NULL;
}

static void test_mremap_vs_reader(void)
{
	struct mr m = { .mm = new_mm() };
	uintptr_t b, out;
	pthread_t t;
	int rounds = ROUNDS(100);

	m.a = map_at(m.mm, 0, MR_PAGES * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE, NULL);
	for (size_t i = 0; i < MR_PAGES; i++)
		fill(m.mm, m.a + i * PS, PS, (char)('A' + i));
	b = map_at(m.mm, 0, MR_PAGES * PS, PROT_NONE, MAP_PRIVATE, NULL);
	REQUIRE(pthread_create(&t, NULL, mr_reader, &m) == 0);
	for (int i = 0; i < rounds; i++) {
		wait_progress(&m.reads, atomic_load(&m.reads), 1);
		REQUIRE(umm_mremap(m.mm, m.a, MR_PAGES * PS, MR_PAGES * PS,
				   MREMAP_MAYMOVE | MREMAP_FIXED, b, &out) == 0);
		atomic_fetch_add(&m.phase, 1);
		wait_progress(&m.faults, atomic_load(&m.faults), 1);
		atomic_fetch_add(&m.phase, 1);  /* before the move back: a read overlapping it sees the change */
		REQUIRE(umm_mremap(m.mm, b, MR_PAGES * PS, MR_PAGES * PS,
				   MREMAP_MAYMOVE | MREMAP_FIXED, m.a, &out) == 0);
	}
	atomic_store(&m.stop, true);
	pthread_join(t, NULL);
	test_fold_thread_checks();
	fprintf(stderr, "    mremap_vs_reader: %ld reads, %ld faults\n", atomic_load(&m.reads),
		atomic_load(&m.faults));
	end_mm(m.mm);
}

/* ---- writeback racing a writer ---- */

#define WB_PAGES 2
#define WB_STRIDE 97    /* the writer stores one byte every WB_STRIDE bytes */

struct wb {
	struct umm_mm *mm;
	uintptr_t a;
	_Atomic bool stop;
	_Atomic long stores;
	unsigned char last[WB_PAGES * PS];      /* what the writer stored last, per byte (0: none) */
};

static void *wb_writer(void *p)
{
	struct wb *w = p;
	unsigned char v = 1;

	while (!atomic_load(&w->stop)) {
		for (size_t off = 0; off < WB_PAGES * PS; off += WB_STRIDE) {
			RCHECK(umm_write(w->mm, w->a + off, &v, 1) == 0);
			w->last[off] = v;
		}
		v = (unsigned char)(v % 250 + 1);
		atomic_fetch_add(&w->stores, 1);
	}
	return NULL;
}

static void test_writeback_vs_write(void)
{
	int fd = test_tmpfile(WB_PAGES * PS, NULL);
	struct umm_object *obj;
	struct wb *w = calloc(1, sizeof(*w));
	int rounds = ROUNDS(24);
	long lost = 0, syncs = 0;

	REQUIRE(umm_object_open_fd(sys, fd, &obj) == 0);
	w->mm = new_mm();
	w->a = map_at(w->mm, 0, WB_PAGES * PS, PROT_READ | PROT_WRITE, MAP_SHARED, obj);
	for (int i = 0; i < rounds; i++) {
		pthread_t t;
		struct umm_page *pages[WB_PAGES];
		unsigned char buf[WB_PAGES * PS];

		atomic_store(&w->stop, false);
		REQUIRE(pthread_create(&t, NULL, wb_writer, w) == 0);
		for (int k = 0; k < 4; k++) {
			wait_progress(&w->stores, atomic_load(&w->stores), 1);
			CHECK_EQ(umm_object_sync(obj, 0, 0), 0);
			syncs++;
		}
		atomic_store(&w->stop, true);
		pthread_join(t, NULL);
		/* the final check: in the file, or the page is still dirty */
		REQUIRE(umm_pin_pages(w->mm, w->a, WB_PAGES, 0, pages) == WB_PAGES);
		REQUIRE(pread(fd, buf, sizeof(buf), 0) == (ssize_t)sizeof(buf));
		for (size_t off = 0; off < WB_PAGES * PS; off += WB_STRIDE) {
			bool dirty = PageDirty((struct page *)pages[off / PS]);

			if (!dirty && buf[off] != w->last[off])
				lost++;
		}
		umm_unpin_pages(pages, WB_PAGES, 0);
		/* and after one more sync, the file has every last store */
		CHECK_EQ(umm_object_sync(obj, 0, 0), 0);
		REQUIRE(pread(fd, buf, sizeof(buf), 0) == (ssize_t)sizeof(buf));
		for (size_t off = 0; off < WB_PAGES * PS; off += WB_STRIDE)
			lost += buf[off] != w->last[off];
	}
	test_fold_thread_checks();
	CHECK_EQ(lost, 0);
	fprintf(stderr, "    writeback_vs_write: %d rounds, %ld syncs\n", rounds, syncs);
	end_mm(w->mm);
	umm_object_put(obj);
	free(w);
	close(fd);
}

int main(void)
{
	struct umm_config cfg = { .phys_bytes = 32 << 20 };
	struct umm_sys_stats st;

	REQUIRE(umm_system_create(&cfg, &sys) == 0);
	RUN(test_dirty_cow);
	RUN(test_stale_tlb_munmap);
	RUN(test_cow_vs_reader);
	RUN(test_fork_vs_write);
	RUN(test_fork_vs_pin);
	RUN(test_mprotect_vs_pin);
	RUN(test_truncate_vs_fault);
	RUN(test_mremap_vs_reader);
	RUN(test_writeback_vs_write);
	CHECK_EQ(umm_system_check(sys), 0);
	REQUIRE(umm_system_stats(sys, &st) == 0);
	CHECK_EQ(st.anon_pages, 0);
	CHECK_EQ(st.nr_objects, 0);
	umm_system_destroy(sys);
	return test_summary("test_races");
}

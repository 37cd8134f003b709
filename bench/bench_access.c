/* SPDX-License-Identifier: MIT */
/*
 * bench_access.c - what a software-TLB hit costs: usermm's access calls on
 * resident pages next to plain loads and memcpy through a host pointer
 * (a hardware TLB hit, no kernel code at all).
 *
 * Every line is the median of REPS repetitions; usermm and host alternate
 * in each repetition.  All pages are resident and warm before timing
 * (warm, per access; no faults in any timed loop):
 *
 *   read hit, umm_load_u64   8-byte loads through the inline hit path of
 *                            <usermm/access.h>, cycling over 16 pages at
 *                            offset 64 * k in page k (so the 16 lines do
 *                            not share one L1 set); host: a volatile
 *                            8-byte load through the host pointer
 *   read hit, umm_read 8 B   the same through the umm_read call
 *   write hit, umm_store_u64 / umm_write 8 B   the same with stores
 *   stream 64 B, umm_read    a 256 KiB resident region (fits the L2 cache
 *                            of common x86 CPUs, so both sides measure the
 *                            path, not DRAM) read front to back in 64-byte
 *                            umm_read calls; host: 64-byte memcpy calls
 *                            (libc's memcpy: the length is a run-time value
 *                            on both sides); ns per 64 bytes, and the
 *                            bandwidth ratio
 *   page read, umm_read 4 KiB  whole pages of the same region; host:
 *                            4 KiB memcpy; ns per page
 *   TLB flush, 1 page, own mm  flush_tlb_range (internal, src/tlb.h) of one
 *                            page of an mm no other thread has used, as a
 *                            copy-on-write break or an mprotect of one page
 *                            does it: rounds of 8 such flushes and one
 *                            out-of-line umm_read hit, minus rounds of the
 *                            read alone, per flush; no kernel counterpart
 *                            (the kernel's is an invlpg inside its fault)
 *   TLB flush, 1 page, idle thread's region  the same after another thread
 *                            read pages 2..9 and went to sleep: each flush
 *                            is then a shootdown on its account (its
 *                            entries stay until its next access)
 *   TLB flush, 1 page, after umm_tlb_idle  the same once that thread
 *                            called umm_tlb_idle before sleeping
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <usermm/usermm.h>
#include "bench.h"
#include "tlb.h"

#define REPS          BENCH_SIZE(7, 1)
#define HIT_PAGES     16UL
#define HIT_ITERS     BENCH_SIZE(1UL << 22, 1UL << 12)
#define STREAM_BYTES  (256UL << 10)
#define STREAM_PASSES BENCH_SIZE(64, 2)
#define FLUSH_ITERS   BENCH_SIZE(1UL << 17, 1UL << 10)
#define PHYS_BYTES    (64UL << 20)
#define UPAGE         UMM_PAGE_SIZE

static size_t kpage;

/* The address of hit access i: page i % 16, at offset 64 * page (see above). */
static inline uintptr_t hit_off(unsigned long i, size_t page)
{
	unsigned long k = i % HIT_PAGES;

	return k * (page + 64);
}

enum hit_kind { HIT_LOAD, HIT_READ, HIT_STORE, HIT_WRITE };

/*
 * hit_umm - ns per 8-byte access of kind k (*errp set on failure).  Inlined
 * into one function per kind, so that no dispatch on k is left in the loop.
 */
static inline __attribute__((always_inline)) double
hit_umm(struct umm_mm *mm, uintptr_t a, enum hit_kind k, int *errp)
{
	const unsigned long iters = HIT_ITERS;  /* read once: the loop reloads no global */
	uint64_t t0, t1, v = 0, sum = 0;
	int err = 0;

	t0 = now_ns();
	for (unsigned long i = 0; i < iters && !err; i++) {
		uintptr_t addr = a + hit_off(i, UPAGE);

		switch (k) {
		case HIT_LOAD:
			err = umm_load_u64(mm, addr, &v);
			sum += v;
			break;
		case HIT_STORE:
			err = umm_store_u64(mm, addr, i);
			break;
		case HIT_READ:
			err = umm_read(mm, addr, &v, sizeof(v));
			sum += v;
			break;
		case HIT_WRITE:
			v = i;
			err = umm_write(mm, addr, &v, sizeof(v));
			break;
		}
	}
	t1 = now_ns();
	*errp = err;
	__asm__ volatile("" : : "r"(sum));
	return (double)(t1 - t0) / iters;
}

static __attribute__((noinline)) double hit_umm_load(struct umm_mm *mm, uintptr_t a, int *errp)
{
	return hit_umm(mm, a, HIT_LOAD, errp);
}

static __attribute__((noinline)) double hit_umm_read(struct umm_mm *mm, uintptr_t a, int *errp)
{
	return hit_umm(mm, a, HIT_READ, errp);
}

static __attribute__((noinline)) double hit_umm_store(struct umm_mm *mm, uintptr_t a, int *errp)
{
	return hit_umm(mm, a, HIT_STORE, errp);
}

static __attribute__((noinline)) double hit_umm_write(struct umm_mm *mm, uintptr_t a, int *errp)
{
	return hit_umm(mm, a, HIT_WRITE, errp);
}

static double hit_host(char *p, bool write)
{
	const unsigned long iters = HIT_ITERS;
	uint64_t t0, t1, sum = 0;

	t0 = now_ns();
	for (unsigned long i = 0; i < iters; i++) {
		volatile uint64_t *q = (volatile uint64_t *)(p + hit_off(i, kpage));

		if (write)
			*q = i;
		else
			sum += *q;
	}
	t1 = now_ns();
	__asm__ volatile("" : : "r"(sum));
	return (double)(t1 - t0) / iters;
}

static void bench_hit(struct umm_mm *mm, uintptr_t a, char *p, enum hit_kind k)
{
	static const char *const names[] = {
		[HIT_LOAD] = "read hit, umm_load_u64 (ns)",
		[HIT_READ] = "read hit, umm_read 8 B (ns)",
		[HIT_STORE] = "write hit, umm_store_u64 (ns)",
		[HIT_WRITE] = "write hit, umm_write 8 B (ns)",
	};
	bool write = k == HIT_STORE || k == HIT_WRITE;
	double us[REPS], ks[REPS];
	int err;

	for (int r = 0; r < REPS; r++) {
		switch (k) {
		case HIT_LOAD:
			us[r] = hit_umm_load(mm, a, &err);
			break;
		case HIT_READ:
			us[r] = hit_umm_read(mm, a, &err);
			break;
		case HIT_STORE:
			us[r] = hit_umm_store(mm, a, &err);
			break;
		default:
			us[r] = hit_umm_write(mm, a, &err);
			break;
		}
		if (err) {
			skipped(names[k], "access", err);
			return;
		}
		ks[r] = hit_host(p, write);
	}
	bench_report_caveat(names[k], median(us, REPS), median(ks, REPS),
			    write ? "host side is an 8-byte store through a host pointer: a hardware TLB "
				    "hit, no kernel code; the ratio is the software MMU's price per access" :
				    "host side is an 8-byte load through a host pointer: a hardware TLB "
				    "hit, no kernel code; the ratio is the software MMU's price per access");
	bench_kernel_variant(write ? "store through a host pointer" : "load through a host pointer");
}

/*
 * stream_umm - ns per `chunk` bytes reading [a, a + STREAM_BYTES) front to
 * back.  Not inlined or cloned on either side: the length is a run-time
 * value for umm_read and for memcpy (a libc call, not inlined moves).
 */
static __attribute__((noinline, noclone)) double stream_umm(struct umm_mm *mm, uintptr_t a, size_t chunk, char *buf, int *errp)
{
	uint64_t t0, t1;
	int err = 0;

	t0 = now_ns();
	for (int pass = 0; pass < STREAM_PASSES && !err; pass++)
		for (size_t off = 0; off < STREAM_BYTES && !err; off += chunk)
			err = umm_read(mm, a + off, buf, chunk);
	t1 = now_ns();
	*errp = err;
	return (double)(t1 - t0) / (STREAM_PASSES * (STREAM_BYTES / chunk));
}

static __attribute__((noinline, noclone)) double stream_host(const char *p, size_t chunk, char *buf)
{
	uint64_t t0, t1;

	t0 = now_ns();
	for (int pass = 0; pass < STREAM_PASSES; pass++)
		for (size_t off = 0; off < STREAM_BYTES; off += chunk) {
			memcpy(buf, p + off, chunk);
			__asm__ volatile("" : : "r"(buf) : "memory");
		}
	t1 = now_ns();
	return (double)(t1 - t0) / (STREAM_PASSES * (STREAM_BYTES / chunk));
}

static void bench_stream(struct umm_mm *mm, uintptr_t a, const char *p, size_t chunk)
{
	const char *what = chunk == 64 ? "stream 64 B, umm_read (ns/64 B)" :
					 "page read, umm_read 4 KiB (ns)";
	static char buf[UPAGE] __attribute__((aligned(64)));
	double us[REPS], ks[REPS], u, k;
	int err;

	for (int r = 0; r < REPS; r++) {
		us[r] = stream_umm(mm, a, chunk, buf, &err);
		if (err) {
			skipped(what, "umm_read", err);
			return;
		}
		ks[r] = stream_host(p, chunk, buf);
	}
	u = median(us, REPS);
	k = median(ks, REPS);
	bench_report_caveat(what, u, k, chunk == 64 ?
			    "host side is libc memcpy of 64 bytes (a call: the length is a run-time "
			    "value on both sides), not an inlined fixed-size copy" :
			    "host side is libc memcpy of 4096 bytes from the same warm region");
	bench_kernel_variant("libc memcpy through a host pointer");
	printf("# %s: usermm %.1f GB/s, memcpy %.1f GB/s, bandwidth ratio %.2f\n",
	       what, chunk / u, chunk / k, k / u);
}

/*
 * flush_rounds - ns per round of `flushes` one-page flushes of pages 2..9
 * followed by a 2-byte umm_read across pages 0 and 1 (it hits both, out of
 * line, as the access between two copy-on-write breaks would be).
 */
static __attribute__((noinline)) double flush_rounds(struct umm_mm *mm, uintptr_t a, int flushes, int *errp)
{
	uint64_t t0, t1;
	char two[2];
	int err = 0;

	t0 = now_ns();
	for (unsigned long i = 0; i < FLUSH_ITERS && !err; i++) {
		for (int j = 0; j < flushes; j++)
			flush_tlb_range(mm, a + (2 + j) * UPAGE, a + (3 + j) * UPAGE);
		err = umm_read(mm, a + UPAGE - 1, two, 2);
	}
	t1 = now_ns();
	*errp = err;
	return (double)(t1 - t0) / FLUSH_ITERS;
}

/* flush_per_page - ns per one-page flush (median of REPS rounds), or a negative errno. */
static double flush_per_page(struct umm_mm *mm, uintptr_t a)
{
	double us[REPS];
	int err;

	for (int r = 0; r < REPS; r++) {
		double with = flush_rounds(mm, a, 8, &err), without;

		if (!err)
			without = flush_rounds(mm, a, 0, &err);
		if (err)
			return err;
		us[r] = (with - without) / 8;
	}
	return median(us, REPS);
}

static void bench_flush(struct umm_mm *mm, uintptr_t a)
{
	const char *what = "TLB flush, 1 page, own mm (ns)";
	double ns = flush_per_page(mm, a);

	if (ns < 0) {
		skipped(what, "umm_read", (int)ns);
		return;
	}
	bench_report_caveat(what, ns, 0,
			    "usermm only: the kernel's counterpart is an invlpg inside its own fault");
}

struct sleeper {
	struct umm_mm *mm;
	uintptr_t a;
	_Atomic int state;          /* 0 asleep, 1 read pages 2..9 asked, 2 umm_tlb_idle asked, 3 exit */
	int err;
};

static void *sleeper_main(void *arg)
{
	struct sleeper *sl = arg;
	int st;

	while ((st = atomic_load(&sl->state)) != 3) {
		if (st == 0) {
			usleep(1000);
			continue;
		}
		if (st == 1) {
			char c;

			for (int j = 2; j < 10 && !sl->err; j++)
				sl->err = umm_read(sl->mm, sl->a + (uintptr_t)j * UPAGE, &c, 1);
		} else {
			umm_tlb_idle();
		}
		atomic_store(&sl->state, 0);
	}
	return NULL;
}

static void sleeper_ask(struct sleeper *sl, int state)
{
	atomic_store(&sl->state, state);
	while (atomic_load(&sl->state) != 0)
		usleep(100);
}

/*
 * bench_flush_idle - the own-mm flush again, with another thread that read
 * the same pages and went to sleep, before and after it called
 * umm_tlb_idle.
 */
static void bench_flush_idle(struct umm_mm *mm, uintptr_t a)
{
	const char *before = "TLB flush, 1 page, idle thread's region (ns)";
	const char *after = "TLB flush, 1 page, after umm_tlb_idle (ns)";
	struct sleeper sl = { .mm = mm, .a = a };
	pthread_t t;
	double ns;
	int err;

	if ((err = pthread_create(&t, NULL, sleeper_main, &sl))) {
		skipped(before, "pthread_create", -err);
		return;
	}
	sleeper_ask(&sl, 1);
	ns = sl.err ? sl.err : flush_per_page(mm, a);
	if (ns < 0)
		skipped(before, "umm_read", (int)ns);
	else
		bench_report_caveat(before, ns, 0, "usermm only: another thread read the flushed pages "
				    "and sleeps; each flush is a cross-thread shootdown (a membarrier "
				    "system call where the kernel has it)");
	sleeper_ask(&sl, 2);
	ns = flush_per_page(mm, a);
	if (ns < 0)
		skipped(after, "umm_read", (int)ns);
	else
		bench_report_caveat(after, ns, 0, "usermm only: the same, the sleeping thread having "
				    "called umm_tlb_idle first: each flush is this thread's alone");
	atomic_store(&sl.state, 3);
	pthread_join(t, NULL);
}

int main(int argc, char **argv)
{
	struct umm_system *sys;
	struct umm_mm *mm;
	uintptr_t hit = 0, stream = 0;
	char *hp = NULL, *sp = NULL;
	int err;

	bench_init(argc, argv, "the software MMU's hit path: umm_read/umm_write and the inline "
		   "accessors against loads, stores and memcpy through a host pointer");
	kpage = (size_t)sysconf(_SC_PAGESIZE);
	bench_machine_line();
	printf("# median of %d repetitions; warm resident pages, ns per access; host side: "
	       "loads/memcpy through a host pointer\n", REPS);
	print_loadavg();
	if (bench_start(PHYS_BYTES, kpage, &sys, &mm)) {
		if (!sys)
			return 1;
		goto out_sys;
	}
	err = umm_mmap(mm, 0, HIT_PAGES * UPAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &hit);
	if (!err)
		err = umm_mmap(mm, 0, STREAM_BYTES, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &stream);
	hp = kmap_anon(HIT_PAGES * kpage);
	sp = kmap_anon(STREAM_BYTES / UPAGE * kpage);
	if (err || !hp || !sp) {
		printf("# mapping failed, nothing measured\n");
		goto out;
	}
	/* every page written on both sides: resident, writable, dirty */
	for (size_t off = 0; off < HIT_PAGES * UPAGE && !err; off += UPAGE)
		err = umm_write(mm, hit + off, "w", 1);
	for (size_t off = 0; off < STREAM_BYTES && !err; off += UPAGE)
		err = umm_write(mm, stream + off, "s", 1);
	if (err) {
		printf("# umm_write: %s, nothing measured\n", umm_strerror(err));
		goto out;
	}
	memset(hp, 'w', HIT_PAGES * kpage);
	memset(sp, 's', STREAM_BYTES / UPAGE * kpage);

	bench_hit(mm, hit, hp, HIT_LOAD);
	bench_hit(mm, hit, hp, HIT_READ);
	bench_hit(mm, hit, hp, HIT_STORE);
	bench_hit(mm, hit, hp, HIT_WRITE);
	if (kpage == UPAGE) {
		bench_stream(mm, stream, sp, 64);
		bench_stream(mm, stream, sp, UPAGE);
	} else {
		printf("# stream lines need 4 KiB host pages, not measured\n");
	}
	bench_flush(mm, hit);
	bench_flush_idle(mm, hit);
out:
	if (hp)
		munmap(hp, HIT_PAGES * kpage);
	if (sp)
		munmap(sp, STREAM_BYTES / UPAGE * kpage);
	umm_mm_destroy(mm);
out_sys:
	umm_system_destroy(sys);
	return 0;
}

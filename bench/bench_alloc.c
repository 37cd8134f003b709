/* SPDX-License-Identifier: MIT */
/*
 * bench_alloc.c - cost of the physical-memory layer, with the nearest
 * kernel or libc job beside it.
 *
 *   frame vs malloc    alloc_page + put_page (per-thread cache hit) vs
 *                      malloc(4096) + a 1-byte write + free: both hand out a
 *                      block they keep cached; neither zeroes it
 *   frame vs mmap      the same usermm figure beside mmap(4 KiB,
 *                      MAP_POPULATE) + munmap: DIFFERENT WORK (two system
 *                      calls, allocating and zeroing a page against a pop
 *                      from a cache of frames that are already host memory),
 *                      printed without a ratio
 *   block via buddy    alloc_pages(order 1) + free_pages (zone lock, split
 *                      and merge) beside mmap(8 KiB, MAP_POPULATE) +
 *                      munmap: different work likewise, no ratio
 *   frame, 2 threads   per-thread caches in parallel: ns per op per thread
 *   kmem_cache 128 B   kmem_cache_alloc + kmem_cache_free vs malloc(128) +
 *                      a 1-byte write + free
 *
 * Each number is the median over REPS runs of the per-operation time.
 */
#include <pthread.h>
#include <sys/mman.h>

#include "bench.h"
#include "page_alloc.h"
#include "slab.h"

#define REPS BENCH_SIZE(7, 1)

static struct phys_mem *phys;
static struct kmem_cache *cache;
static volatile uintptr_t sink;

typedef void (*bench_fn)(long n);

static double run(bench_fn fn, long n)
{
	double samples[REPS];
	int i;

	if (bench_quick)
		n = n / 1000 + 1;
	fn(n / 10);                                     /* warm up */
	for (i = 0; i < REPS; i++) {
		uint64_t t0 = now_ns();

		fn(n);
		samples[i] = (double)(now_ns() - t0) / (double)n;
	}
	return median(samples, REPS);
}

static void frame_pcp(long n)
{
	for (long i = 0; i < n; i++) {
		struct page *page = alloc_page(phys, 0);

		sink += (uintptr_t)page;
		put_page(page);
	}
}

static void block_buddy(long n)
{
	for (long i = 0; i < n; i++) {
		struct page *page = alloc_pages(phys, 0, 1);

		sink += (uintptr_t)page;
		free_pages(page, 1);
	}
}

static void slab_128(long n)
{
	for (long i = 0; i < n; i++) {
		void *obj = kmem_cache_alloc(cache, 0);

		sink += (uintptr_t)obj;
		kmem_cache_free(cache, obj);
	}
}

static void kernel_mmap(long n, size_t len)
{
	for (long i = 0; i < n; i++) {
		void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

		if (p == MAP_FAILED)
			abort();
		sink += (uintptr_t)p;
		munmap(p, len);
	}
}

static void kernel_mmap_4k(long n) { kernel_mmap(n, 4096); }
static void kernel_mmap_8k(long n) { kernel_mmap(n, 8192); }

static void malloc_size(long n, size_t size)
{
	for (long i = 0; i < n; i++) {
		void *p = malloc(size);

		*(volatile char *)p = 1;
		sink += (uintptr_t)p;
		free(p);
	}
}

static void malloc_4096(long n) { malloc_size(n, 4096); }
static void malloc_128(long n) { malloc_size(n, 128); }

static void *frame_pcp_thread(void *arg)
{
	frame_pcp(*(long *)arg);
	return NULL;
}

static void frame_pcp_2threads(long n)
{
	pthread_t t;

	pthread_create(&t, NULL, frame_pcp_thread, &n);
	frame_pcp(n);
	pthread_join(t, NULL);
}

int main(int argc, char **argv)
{
	double pcp, buddy, slab, two, k4, k8, m4096, m128;

	bench_init(argc, argv, "the frame allocator and slab caches against libc malloc "
		   "and mmap");
	if (phys_create(64UL << 20, NULL, &phys)) {
		fprintf(stderr, "phys_create failed\n");
		return 1;
	}
	cache = kmem_cache_create(phys, "bench-128", 128, 0);
	if (!cache)
		return 1;
	bench_machine_line();
	print_loadavg();

	pcp = run(frame_pcp, 1000000);
	buddy = run(block_buddy, 1000000);
	two = run(frame_pcp_2threads, 1000000);
	slab = run(slab_128, 1000000);
	k4 = run(kernel_mmap_4k, 100000);
	k8 = run(kernel_mmap_8k, 100000);
	m4096 = run(malloc_4096, 1000000);
	m128 = run(malloc_128, 1000000);

	bench_report_caveat("frame alloc+free (pcp) vs malloc(4096)", pcp, m4096,
			    "the kernel column is libc: both pop a cached block, neither zeroes "
			    "it; malloc's side also writes 1 byte");
	bench_kernel_variant("libc malloc(4096)");
	bench_report_different("frame alloc+free (pcp) / mmap 4 KiB", pcp, k4,
			       "different work: the kernel side is mmap(MAP_POPULATE) + munmap "
			       "(2 system calls, allocating and zeroing a page)");
	bench_kernel_variant("mmap MAP_POPULATE + munmap, 4 KiB");
	bench_report_different("order-1 buddy alloc+free / mmap 8 KiB", buddy, k8,
			       "different work: the kernel side is mmap(MAP_POPULATE) + munmap "
			       "(2 system calls, allocating and zeroing 2 pages)");
	bench_kernel_variant("mmap MAP_POPULATE + munmap, 8 KiB");
	bench_report("frame alloc+free pcp, 2 threads", two, 0);
	bench_caveat("no kernel counterpart: ns per alloc+free pair in each of 2 threads at once");
	bench_report_caveat("kmem_cache 128 B vs malloc(128)", slab, m128,
			    "the kernel column is libc: both reuse a cached object; malloc's "
			    "side also writes 1 byte");
	bench_kernel_variant("libc malloc(128)");

	kmem_cache_destroy(cache);
	phys_destroy(phys);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * test_page_alloc.c - the physical arena: buddy allocator, per-thread
 * caches, watermarks and reclaim hook, failure injection, refcounts,
 * the page lock and the address helpers.  Every scenario ends with
 * phys_check(), and most with "every frame is free again".
 */
#include <pthread.h>
#include <stdlib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "page_alloc.h"
#include "test.h"

#define MiB (1UL << 20)

static struct phys_mem *make_phys(size_t bytes, unsigned long wmark_min)
{
	struct phys_params params = { .wmark_min = wmark_min };
	struct phys_mem *phys = NULL;

	REQUIRE(phys_create(bytes, &params, &phys) == 0);
	REQUIRE(phys != NULL);
	return phys;
}

static long nr_free(struct phys_mem *phys)
{
	struct phys_stats st;

	phys_get_stats(phys, &st);
	return (long)st.nr_free;
}

/* all_free - every frame back, caches drained, lists consistent. */
static void check_all_free(struct phys_mem *phys)
{
	struct phys_stats st;

	drain_all_pages(phys);
	phys_get_stats(phys, &st);
	CHECK_EQ(st.nr_free, st.nr_frames);
	CHECK_EQ(st.nr_pcp, 0);
	CHECK_EQ(phys_check(phys), 0);
}

static void fill_frame(struct page *page, uint64_t tag)
{
	uint64_t *w = page_address(page);
	size_t i;

	for (i = 0; i < PAGE_SIZE / sizeof(*w); i += 64)
		w[i] = tag + i;
	w[PAGE_SIZE / sizeof(*w) - 1] = ~tag;
}

static bool frame_has(struct page *page, uint64_t tag)
{
	uint64_t *w = page_address(page);
	size_t i;

	for (i = 0; i < PAGE_SIZE / sizeof(*w); i += 64)
		if (w[i] != tag + i)
			return false;
	return w[PAGE_SIZE / sizeof(*w) - 1] == ~tag;
}

/* ------------------------------------------------------------------ */

static void test_create_bad_inputs(void)
{
	struct phys_mem *phys = (struct phys_mem *)0x1;
	struct phys_params params = { .wmark_min = 100 };

	CHECK_EQ(phys_create(MiB - 1, NULL, &phys), -EINVAL);
	CHECK(phys == (struct phys_mem *)0x1);          /* untouched on error */
	CHECK_EQ(phys_create(0, NULL, &phys), -EINVAL);
	CHECK_EQ(phys_create(MiB, NULL, NULL), -EINVAL);
	CHECK_EQ(phys_create((size_t)1 << 62, NULL, &phys), -EINVAL);
	CHECK(alloc_pages(NULL, 0, 0) == NULL);
	free_pages(NULL, 0);                            /* no-op */
	phys_destroy(NULL);

	/* exactly 1 MiB plus a partial frame: rounded down */
	REQUIRE(phys_create(MiB + 100, &params, &phys) == 0);
	CHECK_EQ(phys->nr_frames, 256);
	CHECK_EQ(phys->wmark[WMARK_MIN], 100);
	CHECK_EQ(phys->wmark[WMARK_LOW], 125);
	CHECK_EQ(phys->wmark[WMARK_HIGH], 150);
	CHECK(IS_ALIGNED((uintptr_t)phys, (uintptr_t)1 << PHYS_META_ALIGN_SHIFT));
	CHECK(page_to_phys(&phys->pages[255]) == phys);
	CHECK_EQ(phys_check(phys), 0);
	check_all_free(phys);
	phys_destroy(phys);
}

static void test_create_defaults(void)
{
	struct phys_mem *a, *b, *c;
	struct phys_params tiny = { .wmark_min = 1 };

	REQUIRE(phys_create(MiB, NULL, &a) == 0);
	REQUIRE(phys_create(64 * MiB, NULL, &b) == 0);
	REQUIRE(phys_create(MiB, &tiny, &c) == 0);
	CHECK_EQ(a->wmark[WMARK_MIN], 16);              /* max(16, 256/256) */
	CHECK_EQ(b->wmark[WMARK_MIN], 64);              /* 16384/256 */
	CHECK_EQ(b->wmark[WMARK_LOW], 80);
	CHECK_EQ(b->wmark[WMARK_HIGH], 96);
	CHECK(c->wmark[WMARK_MIN] < c->wmark[WMARK_LOW]);
	CHECK(c->wmark[WMARK_LOW] < c->wmark[WMARK_HIGH]);
	CHECK(a->id != b->id && b->id != c->id && a->id != c->id);
	CHECK(b->id > a->id && c->id > b->id);
	CHECK(a != b && b != c);
	CHECK(page_to_phys(&b->pages[b->nr_frames - 1]) == b);
	/* 64 MiB = 16 blocks of order 10 */
	CHECK_EQ(b->free_area[MAX_ORDER - 1].nr_free, 16);
	CHECK_EQ(phys_check(b), 0);
	phys_destroy(a);
	phys_destroy(b);
	phys_destroy(c);
}

static void test_every_order(void)
{
	struct phys_mem *phys = make_phys(8 * MiB, 0);
	struct phys_stats st;
	unsigned int order;
	unsigned long i;

	for (order = 0; order < MAX_ORDER; order++) {
		struct page *page = alloc_pages(phys, 0, order);
		unsigned long pfn;

		REQUIRE(page != NULL);
		pfn = page_to_pfn(page);
		CHECK(IS_ALIGNED(pfn, 1UL << order));
		CHECK(pfn + (1UL << order) <= phys->nr_frames);
		CHECK_EQ(page_count(page), 1);
		CHECK_EQ(atomic_load(&page->flags), 0);
		CHECK_EQ(page_mapcount(page), 0);
		CHECK(page->mapping == NULL && page->index == 0 && page->rmap == NULL);
		CHECK(list_empty(&page->lru));
		for (i = 1; i < (1UL << order); i++) {
			CHECK_EQ(page_count(page + i), 0);
			CHECK(!PageBuddy(page + i));
		}
		CHECK_EQ(nr_free(phys), (long)phys->nr_frames - (1L << order));
		memset(page_address(page), 0x5a, PAGE_SIZE << order);   /* whole block writable */
		CHECK_EQ(phys_check(phys), 0);
		free_pages(page, order);
		check_all_free(phys);
	}
	phys_get_stats(phys, &st);
	CHECK_EQ(st.allocs, MAX_ORDER);
	CHECK_EQ(st.frees, MAX_ORDER);

	/* bad orders fail cleanly and are counted */
	CHECK(alloc_pages(phys, 0, MAX_ORDER) == NULL);
	CHECK(alloc_pages(phys, 0, 1000) == NULL);
	CHECK(alloc_pages(phys, 0, ~0u) == NULL);
	phys_get_stats(phys, &st);
	CHECK_EQ(st.alloc_failures, 3);
	CHECK_EQ(st.nr_free, phys->nr_frames);
	check_all_free(phys);
	phys_destroy(phys);
}

static void test_exhaustion(void)
{
	/* wmark_min 1: GFP_ATOMIC may use every frame (min/2 == 0) */
	struct phys_mem *phys = make_phys(4 * MiB, 1);
	unsigned long n = phys->nr_frames, got = 0, i;
	struct page **pages = calloc(n + 1, sizeof(*pages));
	unsigned char *seen = calloc(n, 1);
	struct phys_stats st;

	REQUIRE(pages && seen);
	while (got < n && (pages[got] = alloc_page(phys, GFP_ATOMIC)) != NULL)
		got++;
	CHECK_EQ(got, n);
	CHECK_EQ(nr_free(phys), 0);
	for (i = 0; i < got; i++) {
		unsigned long pfn = page_to_pfn(pages[i]);

		CHECK(pfn < n && !seen[pfn]);
		seen[pfn] = 1;
	}
	/* further attempts fail, of every order and flag, without harm */
	CHECK(alloc_page(phys, GFP_ATOMIC) == NULL);
	CHECK(alloc_page(phys, GFP_KERNEL) == NULL);
	CHECK(alloc_pages(phys, GFP_ZERO, 3) == NULL);
	phys_get_stats(phys, &st);
	CHECK_EQ(st.alloc_failures, 3);
	CHECK_EQ(phys_check(phys), 0);
	for (i = 0; i < got; i++)
		put_page(pages[i]);
	check_all_free(phys);
	phys_get_stats(phys, &st);
	CHECK_EQ(st.free_by_order[MAX_ORDER - 1], 1);       /* fully coalesced */
	phys_destroy(phys);

	/* default watermarks: plain allocations stop at min, GFP_ATOMIC at min/2 */
	phys = make_phys(4 * MiB, 32);
	got = 0;
	while (got < n && (pages[got] = alloc_page(phys, GFP_KERNEL)) != NULL)
		got++;
	CHECK_EQ(got, n - 32);
	while (got < n && (pages[got] = alloc_page(phys, GFP_ATOMIC)) != NULL)
		got++;
	CHECK_EQ(got, n - 16);
	CHECK_EQ(nr_free(phys), 16);
	CHECK_EQ(phys_check(phys), 0);
	for (i = 0; i < got; i++)
		free_pages(pages[i], 0);
	check_all_free(phys);

	/* exhaustion by large blocks */
	got = 0;
	while (got < n && (pages[got] = alloc_pages(phys, GFP_KERNEL, 6)) != NULL)
		got++;
	CHECK_EQ(got, (n - 32) / 64);                   /* 64-frame blocks until min */
	for (i = 0; i < got; i++)
		free_pages(pages[i], 6);
	check_all_free(phys);
	phys_destroy(phys);
	free(pages);
	free(seen);
}

static void test_fragmentation_and_coalescing(void)
{
	struct phys_mem *phys = make_phys(4 * MiB, 1);
	unsigned long n = phys->nr_frames, i;
	struct page **by_pfn = calloc(n, sizeof(*by_pfn));
	struct phys_stats st;
	struct page *page;

	REQUIRE(by_pfn);
	for (i = 0; i < n; i++) {
		page = alloc_page(phys, GFP_ATOMIC);
		REQUIRE(page);
		by_pfn[page_to_pfn(page)] = page;
	}
	for (i = 0; i < n; i += 2)
		put_page(by_pfn[i]);
	drain_all_pages(phys);
	phys_get_stats(phys, &st);
	CHECK_EQ(st.nr_free, n / 2);
	CHECK_EQ(st.free_by_order[0], n / 2);           /* no two free frames are buddies */
	for (i = 1; i < MAX_ORDER; i++)
		CHECK_EQ(st.free_by_order[i], 0);
	CHECK_EQ(phys_check(phys), 0);
	/* half the arena is free, but no two adjacent frames */
	CHECK(alloc_pages(phys, GFP_ATOMIC, 1) == NULL);
	page = alloc_page(phys, GFP_ATOMIC);
	CHECK(page != NULL && page_to_pfn(page) % 2 == 0);
	if (page)
		put_page(page);

	/* free one odd frame: exactly one order-1 block forms */
	put_page(by_pfn[7]);
	drain_all_pages(phys);
	phys_get_stats(phys, &st);
	CHECK_EQ(st.free_by_order[1], 1);
	page = alloc_pages(phys, GFP_ATOMIC, 1);
	CHECK(page == by_pfn[6]);
	if (page)
		free_pages(page, 1);
	for (i = 1; i < n; i += 2)
		if (i != 7)
			put_page(by_pfn[i]);
	check_all_free(phys);
	phys_get_stats(phys, &st);
	CHECK_EQ(st.free_by_order[MAX_ORDER - 1], 1);
	page = alloc_pages(phys, GFP_ATOMIC, MAX_ORDER - 1);
	CHECK(page == &phys->pages[0]);
	if (page)
		free_pages(page, MAX_ORDER - 1);
	check_all_free(phys);
	free(by_pfn);
	phys_destroy(phys);
}

static void test_random_orders_aligned(void)
{
	struct phys_mem *phys = make_phys(16 * MiB, 1);
	struct { struct page *page; unsigned int order; } held[256];
	unsigned char *owner = calloc(phys->nr_frames, 1);
	unsigned int seed = 12345, nheld = 0, step;

	REQUIRE(owner);
	for (step = 0; step < 4000; step++) {
		unsigned int r = rand_r(&seed);

		if (nheld < ARRAY_SIZE(held) && (r & 1)) {
			unsigned int order = (r >> 1) % 7;
			struct page *page = alloc_pages(phys, GFP_ATOMIC, order);
			unsigned long pfn, i;

			if (!page)
				continue;
			pfn = page_to_pfn(page);
			CHECK(IS_ALIGNED(pfn, 1UL << order));
			for (i = pfn; i < pfn + (1UL << order); i++) {
				CHECK(!owner[i]);               /* no overlap with a held block */
				owner[i] = 1;
			}
			held[nheld].page = page;
			held[nheld++].order = order;
		} else if (nheld) {
			unsigned int k = (r >> 1) % nheld;
			unsigned long pfn = page_to_pfn(held[k].page), i;

			for (i = pfn; i < pfn + (1UL << held[k].order); i++)
				owner[i] = 0;
			free_pages(held[k].page, held[k].order);
			held[k] = held[--nheld];
		}
		if (step % 500 == 0)
			CHECK_EQ(phys_check(phys), 0);
	}
	while (nheld) {
		nheld--;
		free_pages(held[nheld].page, held[nheld].order);
	}
	check_all_free(phys);
	free(owner);
	phys_destroy(phys);
}

static void test_gfp_zero(void)
{
	struct phys_mem *phys = make_phys(4 * MiB, 0);
	struct page *page, *again;
	unsigned char *p;
	size_t i;
	bool zero = true;

	page = alloc_page(phys, 0);
	REQUIRE(page);
	memset(page_address(page), 0xaa, PAGE_SIZE);
	put_page(page);
	again = alloc_page(phys, GFP_ZERO);             /* the cache is LIFO: same frame */
	REQUIRE(again);
	CHECK(again == page);
	p = page_address(again);
	for (i = 0; i < PAGE_SIZE; i++)
		zero &= p[i] == 0;
	CHECK(zero);
	put_page(again);

	page = alloc_pages(phys, 0, 3);
	REQUIRE(page);
	memset(page_address(page), 0xbb, PAGE_SIZE << 3);
	free_pages(page, 3);
	again = alloc_pages(phys, GFP_ZERO, 3);
	REQUIRE(again);
	CHECK(again == page);
	p = page_address(again);
	zero = true;
	for (i = 0; i < PAGE_SIZE << 3; i++)
		zero &= p[i] == 0;
	CHECK(zero);
	free_pages(again, 3);
	check_all_free(phys);
	phys_destroy(phys);
}

/* ---- watermarks and the reclaim hook ---- */

struct reclaim_ctx {
	struct page *stash[1024];
	unsigned int nstash;
	unsigned long calls, last_wanted;
	unsigned long wakeups;
	bool give_nothing;
	bool allocate_inside;
	struct phys_mem *phys;
	struct page *inner;
};

static long test_reclaim(void *arg, unsigned long nr_wanted, gfp_t gfp)
{
	struct reclaim_ctx *ctx = arg;
	long freed = 0;

	(void)gfp;
	ctx->calls++;
	ctx->last_wanted = nr_wanted;
	if (ctx->allocate_inside)   /* must not recurse into this hook */
		ctx->inner = alloc_page(ctx->phys, GFP_KERNEL);
	if (ctx->give_nothing)
		return 0;
	while (ctx->nstash && (unsigned long)freed < nr_wanted) {
		put_page(ctx->stash[--ctx->nstash]);
		freed++;
	}
	return freed;
}

static void test_wakeup(void *arg)
{
	((struct reclaim_ctx *)arg)->wakeups++;
}

static void test_watermarks(void)
{
	struct phys_mem *phys = make_phys(4 * MiB, 64);     /* 1024 frames: min 64, low 80, high 96 */
	struct reclaim_ctx *ctx = calloc(1, sizeof(*ctx));
	struct page *extra[64], *page;
	unsigned int nextra = 0, i;
	struct phys_stats st;

	REQUIRE(ctx);
	ctx->phys = phys;
	CHECK_EQ(phys->wmark[WMARK_LOW], 80);
	CHECK_EQ(phys->wmark[WMARK_HIGH], 96);
	phys_set_reclaim_hook(phys, NULL, test_wakeup, ctx);

	/* fill to exactly the low watermark: no wakeup yet */
	while (ctx->nstash < 1024 - 80)
		REQUIRE((ctx->stash[ctx->nstash++] = alloc_page(phys, 0)) != NULL);
	CHECK_EQ(nr_free(phys), 80);
	CHECK_EQ(ctx->wakeups, 0);
	CHECK(zone_watermark_ok(phys, WMARK_LOW, 0));
	CHECK(!zone_watermark_ok(phys, WMARK_LOW, 1));
	CHECK(zone_watermark_ok(phys, WMARK_MIN, 16));
	CHECK(!zone_watermark_ok(phys, WMARK_MIN, 17));
	CHECK(!zone_watermark_ok(phys, WMARK_HIGH, 0));
	CHECK(!zone_watermark_ok(phys, -1, 0));
	CHECK(!zone_watermark_ok(phys, 3, 0));
	/* one more crosses low: one wakeup */
	REQUIRE((ctx->stash[ctx->nstash++] = alloc_page(phys, 0)) != NULL);
	CHECK_EQ(ctx->wakeups, 1);
	phys_get_stats(phys, &st);
	CHECK_EQ(st.kswapd_wakeups, 1);
	while (nr_free(phys) > 64)
		REQUIRE((ctx->stash[ctx->nstash++] = alloc_page(phys, 0)) != NULL);
	CHECK_EQ(ctx->wakeups, 1);                      /* a crossing, not every allocation */

	/* at min without a reclaim hook: plain allocations fail */
	CHECK(alloc_page(phys, 0) == NULL);
	phys_get_stats(phys, &st);
	CHECK_EQ(st.reclaim_calls, 0);
	CHECK_EQ(st.alloc_failures, 1);

	/* with the hook: called once, its frames serve the retry */
	phys_set_reclaim_hook(phys, test_reclaim, test_wakeup, ctx);
	page = alloc_page(phys, 0);
	CHECK(page != NULL);
	CHECK_EQ(ctx->calls, 1);
	CHECK(ctx->last_wanted >= 1 + 96 - 64);         /* asks for enough to reach high */
	phys_get_stats(phys, &st);
	CHECK_EQ(st.reclaim_calls, 1);
	CHECK_EQ(st.nr_free, 64 + ctx->last_wanted - 1);
	if (page)
		put_page(page);

	/* GFP_NORECLAIM stops at min without calling the hook */
	while ((page = alloc_page(phys, GFP_NORECLAIM)) != NULL)
		ctx->stash[ctx->nstash++] = page;
	CHECK_EQ(nr_free(phys), 64);
	CHECK_EQ(ctx->calls, 1);

	/* GFP_ATOMIC dips into the reserve, down to min/2, never reclaims */
	while ((page = alloc_page(phys, GFP_ATOMIC)) != NULL)
		extra[nextra++] = page;
	CHECK_EQ(nextra, 32);
	CHECK_EQ(nr_free(phys), 32);
	CHECK_EQ(ctx->calls, 1);
	for (i = 0; i < nextra; i++)
		put_page(extra[i]);

	/* a hook that frees nothing: one call, then NULL */
	ctx->give_nothing = true;
	phys_get_stats(phys, &st);
	page = alloc_page(phys, 0);
	CHECK(page == NULL);
	CHECK_EQ(ctx->calls, 2);
	{
		struct phys_stats st2;

		phys_get_stats(phys, &st2);
		CHECK_EQ(st2.alloc_failures, st.alloc_failures + 1);
		CHECK_EQ(st2.reclaim_calls, st.reclaim_calls + 1);
	}

	/* the hook itself allocating does not recurse into the hook */
	ctx->allocate_inside = true;
	page = alloc_page(phys, 0);
	CHECK(page == NULL);
	CHECK_EQ(ctx->calls, 3);
	CHECK(ctx->inner == NULL);
	ctx->allocate_inside = false;
	ctx->give_nothing = false;

	/* higher orders go through the hook too */
	page = alloc_pages(phys, 0, 2);
	CHECK(page != NULL);
	CHECK_EQ(ctx->calls, 4);
	if (page)
		free_pages(page, 2);
	CHECK_EQ(phys_check(phys), 0);

	phys_set_reclaim_hook(phys, NULL, NULL, NULL);
	while (ctx->nstash)
		put_page(ctx->stash[--ctx->nstash]);
	check_all_free(phys);
	free(ctx);
	phys_destroy(phys);
}

/* frames stranded in another thread's cache are found before failing */
struct strand_arg {
	struct phys_mem *phys;
	pthread_barrier_t *bar;
	long cached;
};

static void *strand_thread(void *p)
{
	struct strand_arg *a = p;
	struct page *pages[40];
	int i;

	for (i = 0; i < 40; i++)
		pages[i] = alloc_page(a->phys, 0);
	for (i = 0; i < 40; i++)
		if (pages[i])
			put_page(pages[i]);
	a->cached = atomic_load(&a->phys->nr_pcp);
	pthread_barrier_wait(a->bar);           /* frames now sit in this thread's cache */
	pthread_barrier_wait(a->bar);           /* main has allocated everything */
	return NULL;
}

static void test_drain_stranded(void)
{
	struct phys_mem *phys = make_phys(MiB, 1);
	struct page *pages[256];
	pthread_barrier_t bar;
	struct strand_arg a = { .phys = phys, .bar = &bar };
	pthread_t t;
	unsigned int n = 0;

	drain_all_pages(phys);
	pthread_barrier_init(&bar, NULL, 2);
	REQUIRE(pthread_create(&t, NULL, strand_thread, &a) == 0);
	pthread_barrier_wait(&bar);
	CHECK(a.cached >= 40);
	/* every frame can still be had: the slow path drains the other cache */
	while (n < 256 && (pages[n] = alloc_page(phys, GFP_ATOMIC)) != NULL)
		n++;
	CHECK_EQ(n, 256);
	CHECK_EQ(phys_check(phys), 0);
	pthread_barrier_wait(&bar);
	pthread_join(t, NULL);
	while (n)
		put_page(pages[--n]);
	check_all_free(phys);
	pthread_barrier_destroy(&bar);
	phys_destroy(phys);
}

/*
 * nr_pcp, and with it the caches' part of nr_free, is published lazily
 * (page_alloc.c, "Counting"): both trail the caches by fewer than 8 frames
 * per cache, phys_get_stats() is exact, and frames the counters do not
 * show yet are still drained and found.
 */
struct lag_arg {
	struct phys_mem *phys;
	pthread_barrier_t *bar;
	struct page *kept[9];
	long raw, exact;
};

static void *lag_thread(void *p)
{
	struct lag_arg *a = p;
	struct page *pages[16];
	struct phys_stats st;
	int i;

	for (i = 0; i < 16; i++)
		pages[i] = alloc_page(a->phys, 0);      /* one refill of 16, emptied */
	for (i = 0; i < 7; i++)
		if (pages[i])
			put_page(pages[i]);             /* 7 back: below the publishing step */
	for (i = 0; i < 9; i++)
		a->kept[i] = pages[7 + i];
	a->raw = atomic_load(&a->phys->nr_pcp);
	phys_get_stats(a->phys, &st);
	a->exact = (long)st.nr_pcp;
	pthread_barrier_wait(a->bar);           /* 7 frames cached here */
	pthread_barrier_wait(a->bar);           /* main has allocated everything */
	for (i = 0; i < 9; i++)
		if (a->kept[i])
			put_page(a->kept[i]);
	return NULL;
}

static void test_pcp_lazy_count(void)
{
	struct phys_mem *phys = make_phys(MiB, 1);
	pthread_barrier_t bar;
	struct lag_arg a = { .phys = phys, .bar = &bar };
	struct page *pages[256], *page;
	struct phys_stats st;
	pthread_t t;
	unsigned int n = 0, i;

	/* one cache: the raw counter stays within the bound, the stats are exact */
	for (i = 0; i < 40; i++)
		REQUIRE((pages[i] = alloc_page(phys, 0)) != NULL);
	for (i = 0; i < 40; i++) {
		put_page(pages[i]);
		phys_get_stats(phys, &st);
		CHECK_EQ(st.nr_free, phys->nr_frames - 39 + i);
		CHECK(labs(atomic_load(&phys->nr_pcp) - (long)st.nr_pcp) < 8);
		CHECK(labs(atomic_load(&phys->nr_free) - (long)st.nr_free) < 8);
		CHECK_EQ(phys_check(phys), 0);
	}
	/* once the cache holds frames, one from it and back moves neither shared counter */
	drain_local_pages(phys);
	REQUIRE((pages[0] = alloc_page(phys, 0)) != NULL);    /* a refill of 16: 15 cached */
	{
		long raw_free = atomic_load(&phys->nr_free), raw_pcp = atomic_load(&phys->nr_pcp);

		CHECK_EQ(nr_free(phys), (long)phys->nr_frames - 1);
		REQUIRE((page = alloc_page(phys, 0)) != NULL);
		CHECK_EQ(atomic_load(&phys->nr_free), raw_free);
		CHECK_EQ(atomic_load(&phys->nr_pcp), raw_pcp);
		CHECK_EQ(nr_free(phys), (long)phys->nr_frames - 2);
		put_page(page);
		CHECK_EQ(atomic_load(&phys->nr_free), raw_free);
		CHECK_EQ(atomic_load(&phys->nr_pcp), raw_pcp);
		CHECK_EQ(nr_free(phys), (long)phys->nr_frames - 1);
		CHECK_EQ(phys_check(phys), 0);
	}
	put_page(pages[0]);
	/* a wrong published count is caught */
	atomic_fetch_add(&phys->nr_pcp, 1);
	fprintf(stderr, "(expected phys_check complaint follows)\n");
	CHECK_EQ(phys_check(phys), -EUCLEAN);
	atomic_fetch_sub(&phys->nr_pcp, 1);
	drain_local_pages(phys);
	CHECK_EQ(atomic_load(&phys->nr_pcp), 0);
	CHECK_EQ(atomic_load(&phys->nr_free), (long)phys->nr_frames);
	check_all_free(phys);

	/* frames the counter does not show yet are drained before failing */
	pthread_barrier_init(&bar, NULL, 2);
	REQUIRE(pthread_create(&t, NULL, lag_thread, &a) == 0);
	pthread_barrier_wait(&bar);
	CHECK_EQ(a.exact, 7);
	CHECK(a.raw < 7);                               /* the lag this test is about */
	while (n < 256 && (page = alloc_page(phys, GFP_ATOMIC)) != NULL)
		pages[n++] = page;
	CHECK_EQ(n, 256 - 9);
	CHECK_EQ(phys_check(phys), 0);
	pthread_barrier_wait(&bar);
	pthread_join(t, NULL);
	CHECK_EQ(atomic_load(&phys->nr_pcp), 0);        /* exit drained and published */
	while (n)
		put_page(pages[--n]);
	check_all_free(phys);
	pthread_barrier_destroy(&bar);
	phys_destroy(phys);
}

/* the last put frees whichever thread makes it; an earlier one never does */
static void *put_thread(void *p)
{
	put_page(p);
	return NULL;
}

static void test_put_page_threads(void)
{
	struct phys_mem *phys = make_phys(4 * MiB, 0);
	pthread_t t[2];
	int round, i;

	for (round = 0; round < 200; round++) {
		struct page *page = alloc_page(phys, 0);

		REQUIRE(page);
		get_page(page);
		for (i = 0; i < 2; i++)
			REQUIRE(pthread_create(&t[i], NULL, put_thread, page) == 0);
		for (i = 0; i < 2; i++)
			pthread_join(t[i], NULL);
		CHECK_EQ(page_count(page), 0);
		CHECK_EQ(nr_free(phys), (long)phys->nr_frames);  /* freed exactly once */
		CHECK_EQ(phys_check(phys), 0);
	}
	check_all_free(phys);
	phys_destroy(phys);
}

static void test_fault_injection(void)
{
	struct phys_mem *phys = make_phys(4 * MiB, 0);
	struct page *pages[8];
	struct phys_stats st;
	int i;

	fault_inject_arm(&phys->fail_alloc, 2, 3);
	for (i = 0; i < 8; i++)
		pages[i] = alloc_pages(phys, 0, i % 2);
	CHECK(pages[0] && pages[1]);
	CHECK(!pages[2] && !pages[3] && !pages[4]);
	CHECK(pages[5] && pages[6] && pages[7]);
	CHECK_EQ(atomic_load(&phys->fail_alloc.hits), 3);
	phys_get_stats(phys, &st);
	CHECK_EQ(st.alloc_failures, 3);
	CHECK_EQ(st.allocs, 5);
	CHECK_EQ(phys_check(phys), 0);
	for (i = 0; i < 8; i++)
		if (pages[i])
			free_pages(pages[i], i % 2);

	/* forever until disarmed */
	fault_inject_arm(&phys->fail_alloc, 0, -1);
	for (i = 0; i < 5; i++)
		CHECK(alloc_page(phys, GFP_ATOMIC) == NULL);
	fault_inject_arm(&phys->fail_alloc, 0, 0);
	pages[0] = alloc_page(phys, 0);
	CHECK(pages[0] != NULL);
	if (pages[0])
		put_page(pages[0]);
	check_all_free(phys);
	phys_destroy(phys);
}

static void test_refcount(void)
{
	struct phys_mem *phys = make_phys(4 * MiB, 0);
	struct page *page = alloc_page(phys, 0);
	long before;

	REQUIRE(page);
	before = nr_free(phys);
	get_page(page);
	CHECK_EQ(page_count(page), 2);
	put_page(page);
	CHECK_EQ(page_count(page), 1);
	CHECK_EQ(nr_free(phys), before);
	SetPageDirty(page);
	SetPageAnon(page);
	put_page(page);                                 /* last reference frees */
	CHECK_EQ(page_count(page), 0);
	CHECK_EQ(nr_free(phys), before + 1);
	CHECK(PageBuddy(page));
	CHECK(!PageDirty(page) && !PageAnon(page));

	/* reserved frames are not counted */
	page = alloc_page(phys, 0);
	REQUIRE(page);
	SetPageReserved(page);
	before = nr_free(phys);
	get_page(page);
	put_page(page);
	put_page(page);
	CHECK_EQ(page_count(page), 1);
	CHECK_EQ(nr_free(phys), before);
	ClearPageReserved(page);
	put_page(page);
	check_all_free(phys);
	phys_destroy(phys);
}

static void test_address_helpers(void)
{
	struct phys_mem *phys = make_phys(4 * MiB + 3 * PAGE_SIZE, 0);
	unsigned long pfns[] = { 0, 1, 2, 511, 512, 1023, 1024, 1025, 1026 };
	unsigned int i;
	char buf[16];

	CHECK_EQ(phys->nr_frames, 1027);
	for (i = 0; i < ARRAY_SIZE(pfns); i++) {
		unsigned long pfn = pfns[i];
		struct page *page = pfn_to_page(phys, pfn);
		char *va = page_address(page);

		CHECK(pfn_valid(phys, pfn));
		CHECK_EQ(page_to_pfn(page), pfn);
		CHECK(page_to_phys(page) == phys);
		CHECK(va == (char *)phys->base + pfn * PAGE_SIZE);
		CHECK(pfn_to_virt(phys, pfn) == va);
		CHECK(virt_to_page(phys, va) == page);
		CHECK(virt_to_page(phys, va + PAGE_SIZE - 1) == page);
	}
	CHECK(!pfn_valid(phys, 1027));
	/* the tail frames (not a power of two) were usable blocks */
	CHECK_EQ(phys_check(phys), 0);

	/* the arena really is the memfd: bytes written show up at pfn * PAGE_SIZE */
	{
		struct page *page = alloc_page(phys, 0);

		REQUIRE(page);
		memcpy(page_address(page), "usermm-frame", 13);
		CHECK_EQ(pread(phys->memfd, buf, 13, (off_t)(page_to_pfn(page) * PAGE_SIZE)), 13);
		CHECK(memcmp(buf, "usermm-frame", 13) == 0);
		put_page(page);
	}
	check_all_free(phys);
	phys_destroy(phys);
}

/* ---- per-thread caches under concurrency ---- */

struct stress_arg {
	struct phys_mem *phys;
	unsigned int id, seed, ops, max_held;
	gfp_t gfp;
	pthread_barrier_t *bar;
	unsigned long allocated, failed;
	int bad;
};

static void *stress_thread(void *p)
{
	struct stress_arg *a = p;
	struct page *held[128];
	uint64_t tags[128];
	unsigned int nheld = 0, op;

	for (op = 0; op < a->ops; op++) {
		unsigned int r = rand_r(&a->seed);

		if (op == a->max_held)          /* every thread holds its most at once */
			pthread_barrier_wait(a->bar);
		if (nheld < a->max_held && (op < a->max_held || r % 3 != 0 || nheld == 0)) {
			struct page *page = alloc_page(a->phys, a->gfp);

			if (!page) {
				a->failed++;
				continue;
			}
			if (page_count(page) != 1 || atomic_load(&page->flags) != 0)
				a->bad++;
			tags[nheld] = ((uint64_t)a->id << 48) | ((uint64_t)op << 16);
			fill_frame(page, tags[nheld]);
			held[nheld++] = page;
			a->allocated++;
		} else {
			unsigned int k = r % nheld;

			if (!frame_has(held[k], tags[k]))
				a->bad++;               /* someone else got this frame too */
			put_page(held[k]);
			held[k] = held[--nheld];
			tags[k] = tags[nheld];
		}
	}
	while (nheld--) {
		if (!frame_has(held[nheld], tags[nheld]))
			a->bad++;
		put_page(held[nheld]);
	}
	return NULL;
}

static _Atomic int stress_done;

static void *checker_thread(void *p)
{
	struct phys_mem *phys = p;
	int errors = 0;

	while (!atomic_load(&stress_done)) {
		if (phys_check(phys))
			errors++;
		drain_all_pages(phys);
		usleep(1000);
	}
	return (void *)(intptr_t)errors;
}

static void run_stress(size_t bytes, unsigned int max_held, gfp_t gfp, unsigned int ops, bool expect_failures)
{
	struct phys_mem *phys = make_phys(bytes, 1);
	struct stress_arg args[4];
	pthread_t threads[4], checker;
	unsigned long failed = 0, allocated = 0;
	void *checker_errors;
	pthread_barrier_t bar;
	unsigned int i;
	int bad = 0;

	pthread_barrier_init(&bar, NULL, 4);
	atomic_store(&stress_done, 0);
	REQUIRE(pthread_create(&checker, NULL, checker_thread, phys) == 0);
	for (i = 0; i < 4; i++) {
		args[i] = (struct stress_arg){ .phys = phys, .id = i + 1, .seed = 77 + i,
					       .ops = ops, .max_held = max_held, .gfp = gfp,
					       .bar = &bar };
		REQUIRE(pthread_create(&threads[i], NULL, stress_thread, &args[i]) == 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(threads[i], NULL);
		bad += args[i].bad;
		failed += args[i].failed;
		allocated += args[i].allocated;
		if (!expect_failures)
			CHECK(args[i].allocated > 0);   /* a starved thread is legal when short */
	}
	CHECK(allocated >= phys->nr_frames);
	{
		struct phys_stats st;

		phys_get_stats(phys, &st);
		CHECK_EQ(st.allocs, allocated);
		CHECK_EQ(st.pcp_hits, allocated);       /* every single frame came from a cache */
		CHECK_EQ(st.frees, allocated);
		CHECK_EQ(st.alloc_failures, failed);
	}
	atomic_store(&stress_done, 1);
	pthread_join(checker, &checker_errors);
	pthread_barrier_destroy(&bar);
	CHECK_EQ(bad, 0);
	CHECK_EQ((intptr_t)checker_errors, 0);
	if (expect_failures)
		CHECK(failed >= 4 * max_held - 256);    /* demand at the barrier exceeded the arena */
	else
		CHECK_EQ(failed, 0);
	/* the threads exited: their caches came back without a drain */
	CHECK_EQ(atomic_load(&phys->nr_pcp), 0);
	CHECK_EQ(nr_free(phys), (long)phys->nr_frames);
	check_all_free(phys);
	phys_destroy(phys);
}

static void test_pcp_threads(void)
{
	run_stress(16 * MiB, 100, 0, 20000, false);
}

static void test_pcp_threads_exhausted(void)
{
	/* 256 frames, 4 threads wanting up to 100 each: allocations fail, nothing breaks */
	run_stress(MiB, 100, GFP_ATOMIC, 10000, true);
}

static void test_drain(void)
{
	struct phys_mem *phys = make_phys(4 * MiB, 0);
	struct page *pages[40];
	struct phys_stats st;
	int i;

	for (i = 0; i < 40; i++)
		REQUIRE((pages[i] = alloc_page(phys, 0)) != NULL);
	for (i = 0; i < 40; i++)
		put_page(pages[i]);
	phys_get_stats(phys, &st);
	CHECK(st.nr_pcp >= 40);
	CHECK(st.nr_pcp <= phys->pcp_high);
	CHECK_EQ(st.nr_free, phys->nr_frames);
	CHECK(st.pcp_hits >= 40);
	CHECK_EQ(phys_check(phys), 0);
	drain_local_pages(phys);
	phys_get_stats(phys, &st);
	CHECK_EQ(st.nr_pcp, 0);
	CHECK_EQ(st.free_by_order[MAX_ORDER - 1], 1);

	/* a cache never holds more than pcp_high */
	{
		struct page *many[200];

		for (i = 0; i < 200; i++)
			REQUIRE((many[i] = alloc_page(phys, 0)) != NULL);
		for (i = 0; i < 200; i++)
			put_page(many[i]);
		phys_get_stats(phys, &st);
		CHECK(st.nr_pcp <= phys->pcp_high);
		CHECK(st.nr_pcp > 0);
	}
	drain_all_pages(phys);
	phys_get_stats(phys, &st);
	CHECK_EQ(st.nr_pcp, 0);
	check_all_free(phys);
	phys_destroy(phys);
}

/* a thread exit gives its cache back; one thread using many arenas */
struct exit_arg {
	struct phys_mem *phys[6];
	long pcp_inside[6];
};

static void *exit_thread(void *p)
{
	struct exit_arg *a = p;
	int i, j;

	for (j = 0; j < 2; j++)            /* second round re-finds evicted caches */
		for (i = 0; i < 6; i++) {
			struct page *pages[10];
			int k;

			for (k = 0; k < 10; k++)
				pages[k] = alloc_page(a->phys[i], 0);
			for (k = 0; k < 10; k++)
				if (pages[k])
					put_page(pages[k]);
			a->pcp_inside[i] = atomic_load(&a->phys[i]->nr_pcp);
		}
	return NULL;
}

static void test_thread_exit_returns_frames(void)
{
	struct exit_arg a;
	pthread_t t;
	int i, round;

	for (i = 0; i < 6; i++)
		a.phys[i] = make_phys(MiB, 0);
	for (round = 0; round < 3; round++) {       /* later rounds reuse unowned caches */
		REQUIRE(pthread_create(&t, NULL, exit_thread, &a) == 0);
		pthread_join(t, NULL);
		for (i = 0; i < 6; i++) {
			CHECK(a.pcp_inside[i] >= 10);
			CHECK_EQ(atomic_load(&a.phys[i]->nr_pcp), 0);
			CHECK_EQ(nr_free(a.phys[i]), 256);
			CHECK_EQ(phys_check(a.phys[i]), 0);
		}
	}
	for (i = 0; i < 6; i++)
		phys_destroy(a.phys[i]);
}

/* an arena destroyed while a thread that cached its frames still lives */
static void *late_exit_thread(void *p)
{
	struct strand_arg *a = p;
	struct page *page = alloc_page(a->phys, 0);

	if (page)
		put_page(page);
	pthread_barrier_wait(a->bar);           /* main destroys the arena */
	pthread_barrier_wait(a->bar);
	return NULL;                            /* destructor must not touch it */
}

static void test_destroy_before_thread_exit(void)
{
	pthread_barrier_t bar;
	struct strand_arg a = { .bar = &bar };
	struct phys_mem *other;
	pthread_t t;

	a.phys = make_phys(MiB, 0);
	other = make_phys(MiB, 0);
	pthread_barrier_init(&bar, NULL, 2);
	REQUIRE(pthread_create(&t, NULL, late_exit_thread, &a) == 0);
	pthread_barrier_wait(&bar);
	phys_destroy(a.phys);
	pthread_barrier_wait(&bar);
	pthread_join(t, NULL);
	pthread_barrier_destroy(&bar);
	/* the machinery still works for a live arena */
	{
		struct page *page = alloc_page(other, 0);

		CHECK(page != NULL);
		if (page)
			put_page(page);
	}
	check_all_free(other);
	phys_destroy(other);
}

/* ---- page lock ---- */

struct lock_arg {
	struct page *page[2];
	long *counter;
	int iters;
};

static void *lock_thread(void *p)
{
	struct lock_arg *a = p;
	int i;

	for (i = 0; i < a->iters; i++) {
		struct page *page = a->page[i & 1];

		if (i % 7 == 0) {
			while (!trylock_page(page))
				wait_on_page_locked(page);
		} else {
			lock_page(page);
		}
		a->counter[i & 1]++;            /* protected only by the page lock */
		unlock_page(page);
	}
	return NULL;
}

static void test_page_lock(void)
{
	struct phys_mem *phys = make_phys(MiB, 0);
	struct lock_arg a;
	long counter[2] = { 0, 0 };
	pthread_t t[4];
	int i;

	a.page[0] = alloc_page(phys, 0);
	a.page[1] = alloc_page(phys, 0);
	REQUIRE(a.page[0] && a.page[1]);
	a.counter = counter;
	a.iters = 20000;

	CHECK(trylock_page(a.page[0]));
	CHECK(PageLocked(a.page[0]));
	CHECK(!trylock_page(a.page[0]));
	unlock_page(a.page[0]);
	CHECK(!PageLocked(a.page[0]));
	wait_on_page_locked(a.page[0]);                 /* unlocked: returns at once */

	for (i = 0; i < 4; i++)
		REQUIRE(pthread_create(&t[i], NULL, lock_thread, &a) == 0);
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	CHECK_EQ(counter[0] + counter[1], 4 * 20000);
	CHECK_EQ(counter[0], 2 * 20000);
	CHECK(!PageLocked(a.page[0]) && !PageLocked(a.page[1]));
	put_page(a.page[0]);
	put_page(a.page[1]);
	check_all_free(phys);
	phys_destroy(phys);
}

struct waiter_arg {
	struct page *page;
	_Atomic int woke;
};

static void *waiter_thread(void *p)
{
	struct waiter_arg *a = p;

	wait_on_page_locked(a->page);
	atomic_store(&a->woke, 1);
	return NULL;
}

static void test_wait_on_page_locked(void)
{
	struct phys_mem *phys = make_phys(MiB, 0);
	struct waiter_arg a = { 0 };
	pthread_t t;

	a.page = alloc_page(phys, 0);
	REQUIRE(a.page);
	lock_page(a.page);
	REQUIRE(pthread_create(&t, NULL, waiter_thread, &a) == 0);
	usleep(20000);
	CHECK_EQ(atomic_load(&a.woke), 0);              /* still held: the waiter sleeps */
	unlock_page(a.page);
	pthread_join(t, NULL);
	CHECK_EQ(atomic_load(&a.woke), 1);
	put_page(a.page);
	phys_destroy(phys);
}

/* ---- debug checks abort on misuse ---- */

static bool dies(void (*fn)(struct phys_mem *), struct phys_mem *phys)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		fclose(stderr);                         /* the BUG message is expected */
		fn(phys);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

static void double_put(struct phys_mem *phys)
{
	struct page *page = alloc_page(phys, 0);

	put_page(page);
	put_page(page);
}

static void free_mapped(struct phys_mem *phys)
{
	struct page *page = alloc_pages(phys, 0, 1);

	atomic_store(&page->_mapcount, 1);
	free_pages(page, 1);
}

static void free_outside(struct phys_mem *phys)
{
	free_pages(&phys->pages[phys->nr_frames - 1], 1);   /* block runs past the arena */
}

static void free_wrong_order(struct phys_mem *phys)
{
	free_pages(alloc_pages(phys, 0, 2), 1);
}

static void put_high_order(struct phys_mem *phys)
{
	put_page(alloc_pages(phys, 0, 2));              /* put_page frees order-0 frames only */
}

static void test_debug_checks(void)
{
	struct phys_mem *phys = make_phys(MiB, 0);

	CHECK(dies(free_outside, phys));                /* always on */
	if (UMM_DEBUG) {
		CHECK(dies(double_put, phys));
		CHECK(dies(free_mapped, phys));
		CHECK(dies(free_wrong_order, phys));
		CHECK(dies(put_high_order, phys));
	}
	check_all_free(phys);
	phys_destroy(phys);
}

/* phys_check notices corruption (and prints it: the messages below are expected) */
static void test_phys_check_detects(void)
{
	struct phys_mem *phys = make_phys(MiB, 0);
	struct page *page = alloc_page(phys, 0), *block = alloc_pages(phys, 0, 3);

	REQUIRE(page && block);
	CHECK_EQ(phys_check(phys), 0);
	fprintf(stderr, "(expected phys_check complaints follow)\n");
	SetPageBuddy(page);                             /* allocated frame marked free */
	CHECK_EQ(phys_check(phys), -EUCLEAN);
	ClearPageBuddy(page);
	CHECK_EQ(phys_check(phys), 0);
	atomic_fetch_add(&phys->nr_free, 1);            /* counter drift */
	CHECK_EQ(phys_check(phys), -EUCLEAN);
	atomic_fetch_sub(&phys->nr_free, 1);
	phys->free_area[0].nr_free++;                   /* list count drift */
	CHECK_EQ(phys_check(phys), -EUCLEAN);
	phys->free_area[0].nr_free--;
	SetPageBuddy(block + 1);                        /* inside an allocated block */
	CHECK_EQ(phys_check(phys), -EUCLEAN);
	ClearPageBuddy(block + 1);
	CHECK_EQ(phys_check(phys), 0);
	put_page(page);
	free_pages(block, 3);
	check_all_free(phys);
	phys_destroy(phys);
}

/*
 * split_page: a block becomes separate frames that follow each other in
 * the arena, each with its own reference and data, freed one by one in
 * any order (through this thread's cache); everything merges back.
 */
static void test_split_page(void)
{
	struct phys_mem *phys = make_phys(4 * MiB, 16);
	long before = nr_free(phys);
	struct page *block = alloc_pages(phys, GFP_ZERO, 4);
	unsigned long pfn;

	REQUIRE(block != NULL);
	pfn = page_to_pfn(block);
	split_page(block, 4);
	for (unsigned int i = 0; i < 16; i++) {
		CHECK_EQ(page_count(block + i), 1);
		CHECK_EQ(page_to_pfn(block + i), pfn + i);
		fill_frame(block + i, 100 + i);
	}
	CHECK_EQ(nr_free(phys), before - 16);
	CHECK_EQ(phys_check(phys), 0);
	for (unsigned int i = 0; i < 16; i += 2) {     /* every other frame first */
		CHECK(frame_has(block + i, 100 + i));
		put_page(block + i);
	}
	CHECK_EQ(phys_check(phys), 0);
	for (unsigned int i = 1; i < 16; i += 2) {
		CHECK(frame_has(block + i, 100 + i));
		put_page(block + i);
	}
	check_all_free(phys);
	phys_destroy(phys);
}

/* check_aligned_run - pages[0..n) are consecutive frames, the first n-aligned. */
static void check_aligned_run(struct page **pages, unsigned int n)
{
	CHECK_EQ(page_to_pfn(pages[0]) % n, 0);
	for (unsigned int i = 1; i < n; i++)
		CHECK_EQ(page_to_pfn(pages[i]), page_to_pfn(pages[0]) + i);
}

/*
 * A cache refill takes one block of the batch's order when the lists
 * have one: the frames come out consecutive, the first aligned; with only
 * scattered single frames free it takes them one at a time.
 */
static void test_pcp_refill_block(void)
{
	struct phys_mem *phys = make_phys(4 * MiB, 1);   /* GFP_ATOMIC may take every frame */
	unsigned int batch = phys->pcp_batch;
	struct page **all = calloc(phys->nr_frames, sizeof(*all));
	struct page *pages[64];
	unsigned long n = 0, i;

	REQUIRE(all != NULL && batch >= 2 && batch <= 64 && (batch & (batch - 1)) == 0);
	for (i = 0; i < batch; i++)
		REQUIRE((pages[i] = alloc_page(phys, 0)) != NULL);
	check_aligned_run(pages, batch);
	CHECK_EQ(phys_check(phys), 0);
	for (i = 0; i < batch; i++)
		put_page(pages[i]);
	check_all_free(phys);

	/* a lone free frame on the order-0 list does not break the batch up */
	{
		struct page *pair = alloc_pages(phys, 0, 1), *lone;

		REQUIRE(pair != NULL);
		split_page(pair, 1);
		lone = pair + 1;
		put_page(lone);
		drain_all_pages(phys);
		for (i = 0; i < batch; i++) {
			REQUIRE((pages[i] = alloc_page(phys, 0)) != NULL);
			CHECK(pages[i] != lone);
		}
		check_aligned_run(pages, batch);
		CHECK_EQ(phys_check(phys), 0);
		for (i = 0; i < batch; i++)
			put_page(pages[i]);
		put_page(pair);
		check_all_free(phys);
	}

	/* every frame taken, every other one given back: no block above order 0 */
	while (n < phys->nr_frames && (all[n] = alloc_page(phys, GFP_ATOMIC)) != NULL)
		n++;
	CHECK_EQ(n, phys->nr_frames);
	for (i = 0; i < n; i++)
		if (page_to_pfn(all[i]) % 2) {
			put_page(all[i]);
			all[i] = NULL;
		}
	drain_all_pages(phys);
	for (i = 1; i < MAX_ORDER; i++) {
		struct phys_stats st;

		phys_get_stats(phys, &st);
		CHECK_EQ(st.free_by_order[i], 0);
	}
	for (i = 0; i < batch; i++) {
		REQUIRE((pages[i] = alloc_page(phys, 0)) != NULL);
		CHECK_EQ(page_to_pfn(pages[i]) % 2, 1);
	}
	CHECK_EQ(phys_check(phys), 0);
	for (i = 0; i < batch; i++)
		put_page(pages[i]);
	for (i = 0; i < n; i++)
		if (all[i])
			put_page(all[i]);
	free(all);
	check_all_free(phys);
	phys_destroy(phys);
}

int main(void)
{
	RUN(test_create_bad_inputs);
	RUN(test_create_defaults);
	RUN(test_every_order);
	RUN(test_exhaustion);
	RUN(test_fragmentation_and_coalescing);
	RUN(test_random_orders_aligned);
	RUN(test_gfp_zero);
	RUN(test_watermarks);
	RUN(test_drain_stranded);
	RUN(test_pcp_lazy_count);
	RUN(test_put_page_threads);
	RUN(test_fault_injection);
	RUN(test_refcount);
	RUN(test_address_helpers);
	RUN(test_debug_checks);
	RUN(test_phys_check_detects);
	RUN(test_drain);
	RUN(test_pcp_threads);
	RUN(test_pcp_threads_exhausted);
	RUN(test_thread_exit_returns_frames);
	RUN(test_destroy_before_thread_exit);
	RUN(test_page_lock);
	RUN(test_wait_on_page_locked);
	RUN(test_split_page);
	RUN(test_pcp_refill_block);
	return test_summary("test_page_alloc");
}

/* SPDX-License-Identifier: MIT */
/*
 * test_slab.c - kmem_cache: object sizes and alignment, content integrity,
 * slab recycling, leak counts, allocation failure, threads, debug checks.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "slab.h"
#include "test.h"

#define MiB (1UL << 20)

static struct phys_mem *make_phys(size_t bytes, unsigned long wmark_min)
{
	struct phys_params params = { .wmark_min = wmark_min };
	struct phys_mem *phys = NULL;

	REQUIRE(phys_create(bytes, &params, &phys) == 0);
	return phys;
}

static long frames_used(struct phys_mem *phys)
{
	struct phys_stats st;

	drain_all_pages(phys);
	phys_get_stats(phys, &st);
	return (long)(st.nr_frames - st.nr_free);
}

static void fill(void *obj, size_t size, uint64_t tag)
{
	unsigned char *p = obj;
	size_t i;

	for (i = 0; i < size; i++)
		p[i] = (unsigned char)(tag * 31 + i);
}

static bool has(const void *obj, size_t size, uint64_t tag)
{
	const unsigned char *p = obj;
	size_t i;

	for (i = 0; i < size; i++)
		if (p[i] != (unsigned char)(tag * 31 + i))
			return false;
	return true;
}

static bool in_arena(struct phys_mem *phys, const void *p, size_t size)
{
	uintptr_t base = (uintptr_t)phys->base, a = (uintptr_t)p;

	return a >= base && a + size <= base + phys->nr_frames * PAGE_SIZE;
}

static void test_bad_inputs(void)
{
	struct phys_mem *phys = make_phys(MiB, 0);
	struct kmem_cache *cache;

	errno = 0;
	CHECK(kmem_cache_create(NULL, "x", 64, 0) == NULL);
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK(kmem_cache_create(phys, "x", 0, 0) == NULL);
	CHECK_EQ(errno, EINVAL);
	CHECK(kmem_cache_create(phys, "x", 64, 3) == NULL);          /* not a power of two */
	CHECK(kmem_cache_create(phys, "x", 64, 2 * PAGE_SIZE) == NULL);
	CHECK(kmem_cache_create(phys, "x", (PAGE_SIZE << (MAX_ORDER - 1)) / 8 + 1, 0) == NULL);
	CHECK_EQ(frames_used(phys), 0);
	CHECK_EQ(kmem_cache_destroy(NULL), 0);

	cache = kmem_cache_create(phys, "a-rather-long-cache-name-that-gets-truncated", 64, 0);
	REQUIRE(cache);
	CHECK(strncmp(kmem_cache_name(cache), "a-rather-long-cache-name", 24) == 0);
	CHECK(strlen(kmem_cache_name(cache)) < 32);
	CHECK_EQ(frames_used(phys), 0);                 /* no slab until the first alloc */
	kmem_cache_free(cache, NULL);                   /* no-op */
	CHECK_EQ(kmem_cache_destroy(cache), 0);

	cache = kmem_cache_create(phys, NULL, 1, 1);
	REQUIRE(cache);
	CHECK(kmem_cache_name(cache) != NULL);
	CHECK(kmem_cache_alloc(cache, 0) != NULL);
	CHECK_EQ(kmem_cache_destroy(cache), 1);
	CHECK_EQ(frames_used(phys), 0);
	CHECK_EQ(phys_check(phys), 0);
	phys_destroy(phys);
}

static void check_size(struct phys_mem *phys, size_t size, size_t align)
{
	enum { N = 300 };
	struct kmem_cache *cache = kmem_cache_create(phys, "sized", size, align);
	struct kmem_cache_stats st;
	void *objs[N];
	size_t a = align ? align : 8;
	int i, j, bad = 0;

	REQUIRE(cache);
	kmem_cache_get_stats(cache, &st);
	CHECK(st.objs_per_slab >= 8);
	for (i = 0; i < N; i++) {
		objs[i] = kmem_cache_alloc(cache, 0);
		REQUIRE(objs[i]);
		if (!IS_ALIGNED((uintptr_t)objs[i], a) || !in_arena(phys, objs[i], size))
			bad++;
		fill(objs[i], size, (uint64_t)i + size);
	}
	CHECK_EQ(bad, 0);
	for (i = 0; i < N; i++)
		if (!has(objs[i], size, (uint64_t)i + size))
			bad++;          /* an overlap with another object would show here */
	CHECK_EQ(bad, 0);
	/* distinct objects: pairwise non-overlapping (sorted check would be quicker; N is small) */
	for (i = 0; i < N && !bad; i++)
		for (j = i + 1; j < N; j++)
			if ((char *)objs[i] < (char *)objs[j] + size && (char *)objs[j] < (char *)objs[i] + size)
				bad++;
	CHECK_EQ(bad, 0);
	kmem_cache_get_stats(cache, &st);
	CHECK_EQ(st.objects_in_use, N);
	CHECK_EQ(st.slabs, (N + st.objs_per_slab - 1) / st.objs_per_slab);
	CHECK_EQ(st.allocs, N);
	for (i = 0; i < N; i += 2)
		kmem_cache_free(cache, objs[i]);
	for (i = 1; i < N; i += 2)
		if (!has(objs[i], size, (uint64_t)i + size))
			bad++;
	CHECK_EQ(bad, 0);
	for (i = 1; i < N; i += 2)
		kmem_cache_free(cache, objs[i]);
	kmem_cache_get_stats(cache, &st);
	CHECK_EQ(st.objects_in_use, 0);
	CHECK_EQ(st.frees, N);
	CHECK(st.objects_cached > 0 && st.objects_cached <= 16);   /* this thread's magazine */
	kmem_cache_drain_local(cache);
	kmem_cache_get_stats(cache, &st);
	CHECK_EQ(st.objects_cached, 0);
	CHECK(st.slabs <= 1);                           /* at most one spare */
	CHECK_EQ(kmem_cache_destroy(cache), 0);
	CHECK_EQ(frames_used(phys), 0);
}

static void test_sizes(void)
{
	struct phys_mem *phys = make_phys(32 * MiB, 0);
	size_t sizes[] = { 1, 7, 8, 12, 16, 24, 40, 64, 100, 128, 200, 256, 512, 1000,
			   2048, 2056, 3000, 4096, 5000, 8192 + 8 };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(sizes); i++)
		check_size(phys, sizes[i], 0);
	CHECK_EQ(phys_check(phys), 0);
	phys_destroy(phys);
}

static void test_alignment(void)
{
	struct phys_mem *phys = make_phys(32 * MiB, 0);
	struct { size_t size, align; } cases[] = {
		{ 24, 64 }, { 100, 128 }, { 8, 16 }, { 10, 4096 }, { 3000, 1024 }, { 33, 32 },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		check_size(phys, cases[i].size, cases[i].align);
	CHECK_EQ(phys_check(phys), 0);
	phys_destroy(phys);
}

static void test_slabs_returned(void)
{
	struct phys_mem *phys = make_phys(16 * MiB, 0);
	struct kmem_cache *cache = kmem_cache_create(phys, "ret", 512, 0);
	struct kmem_cache_stats st;
	void *objs[8 * 40];
	unsigned int i, per, order_frames;

	REQUIRE(cache);
	kmem_cache_get_stats(cache, &st);
	per = (unsigned int)st.objs_per_slab;
	CHECK_EQ(per, 8);                               /* 4096 / 512 */
	order_frames = 1;
	for (i = 0; i < ARRAY_SIZE(objs); i++)
		REQUIRE((objs[i] = kmem_cache_alloc(cache, 0)) != NULL);
	kmem_cache_get_stats(cache, &st);
	CHECK_EQ(st.slabs, 40);
	CHECK_EQ(frames_used(phys), 40 * order_frames);

	/* empty 30 slabs entirely: all but one spare go back to the allocator,
	 * once this thread's magazine (up to 16 objects: 2 slabs) is drained */
	for (i = 0; i < 30 * per; i++)
		kmem_cache_free(cache, objs[i]);
	kmem_cache_get_stats(cache, &st);
	CHECK(st.slabs >= 11 && st.slabs <= 13);
	kmem_cache_drain_local(cache);
	kmem_cache_get_stats(cache, &st);
	CHECK_EQ(st.slabs, 11);
	CHECK_EQ(frames_used(phys), 11 * order_frames);
	/* the spare is used before a new slab is taken */
	objs[0] = kmem_cache_alloc(cache, 0);
	REQUIRE(objs[0]);
	kmem_cache_get_stats(cache, &st);
	CHECK_EQ(st.slabs, 11);
	kmem_cache_free(cache, objs[0]);
	for (i = 30 * per; i < ARRAY_SIZE(objs); i++)
		kmem_cache_free(cache, objs[i]);
	kmem_cache_drain_local(cache);
	kmem_cache_get_stats(cache, &st);
	CHECK_EQ(st.slabs, 1);
	CHECK_EQ(st.objects_in_use, 0);
	CHECK_EQ(kmem_cache_destroy(cache), 0);
	CHECK_EQ(frames_used(phys), 0);
	phys_destroy(phys);
}

static void test_leak_count(void)
{
	struct phys_mem *phys = make_phys(4 * MiB, 0);
	struct kmem_cache *big = kmem_cache_create(phys, "big", 3000, 0);   /* multi-frame slabs */
	struct kmem_cache *small = kmem_cache_create(phys, "small", 48, 0);
	void *objs[100];
	int i;

	REQUIRE(big && small);
	for (i = 0; i < 37; i++)
		REQUIRE((objs[i] = kmem_cache_alloc(big, 0)) != NULL);
	for (i = 0; i < 10; i++)
		kmem_cache_free(big, objs[i * 3]);
	for (i = 0; i < 100; i++)
		REQUIRE((objs[i] = kmem_cache_alloc(small, 0)) != NULL);
	CHECK(frames_used(phys) > 0);
	CHECK_EQ(kmem_cache_destroy(big), 27);
	CHECK_EQ(kmem_cache_destroy(small), 100);
	CHECK_EQ(frames_used(phys), 0);                 /* destroy frees every slab */
	CHECK_EQ(phys_check(phys), 0);
	phys_destroy(phys);
}

static void test_gfp_zero(void)
{
	struct phys_mem *phys = make_phys(MiB, 0);
	struct kmem_cache *cache = kmem_cache_create(phys, "zero", 200, 0);
	unsigned char *obj, *again;
	int i, nonzero = 0;

	REQUIRE(cache);
	obj = kmem_cache_alloc(cache, 0);
	REQUIRE(obj);
	memset(obj, 0xff, 200);
	kmem_cache_free(cache, obj);
	again = kmem_cache_alloc(cache, GFP_ZERO);
	REQUIRE(again);
	CHECK(again == obj);                            /* LIFO free list */
	for (i = 0; i < 200; i++)
		nonzero += again[i] != 0;
	CHECK_EQ(nonzero, 0);
	kmem_cache_free(cache, again);
	CHECK_EQ(kmem_cache_destroy(cache), 0);
	phys_destroy(phys);
}

static void test_injected_failure(void)
{
	struct phys_mem *phys = make_phys(4 * MiB, 0);
	struct kmem_cache *cache = kmem_cache_create(phys, "inj", 256, 0);
	struct kmem_cache_stats st, st2;
	void *objs[40];
	unsigned int i, per;
	long used;

	REQUIRE(cache);
	kmem_cache_get_stats(cache, &st);
	per = (unsigned int)st.objs_per_slab;
	for (i = 0; i < per; i++) {                     /* exactly one full slab */
		REQUIRE((objs[i] = kmem_cache_alloc(cache, 0)) != NULL);
		fill(objs[i], 256, i);
	}
	used = frames_used(phys);
	fault_inject_arm(&phys->fail_alloc, 0, 2);
	CHECK(kmem_cache_alloc(cache, 0) == NULL);
	CHECK(kmem_cache_alloc(cache, GFP_ZERO) == NULL);
	kmem_cache_get_stats(cache, &st2);
	CHECK_EQ(st2.alloc_failures, 2);
	CHECK_EQ(st2.objects_in_use, per);
	CHECK_EQ(st2.slabs, 1);
	CHECK_EQ(st2.allocs, per);
	CHECK_EQ(frames_used(phys), used);
	for (i = 0; i < per; i++)
		CHECK(has(objs[i], 256, i));
	/* later allocations work again */
	objs[per] = kmem_cache_alloc(cache, 0);
	CHECK(objs[per] != NULL);
	if (objs[per])
		kmem_cache_free(cache, objs[per]);
	for (i = 0; i < per; i++)
		kmem_cache_free(cache, objs[i]);
	CHECK_EQ(kmem_cache_destroy(cache), 0);
	CHECK_EQ(frames_used(phys), 0);
	phys_destroy(phys);
}

static void test_arena_exhaustion(void)
{
	struct phys_mem *phys = make_phys(MiB, 1);     /* GFP_ATOMIC may take all 256 frames */
	struct kmem_cache *cache = kmem_cache_create(phys, "fill", 2048, 0);
	struct kmem_cache_stats st;
	void **objs = calloc(2048, sizeof(void *));
	unsigned int n = 0, i;
	int bad = 0;

	REQUIRE(cache && objs);
	while (n < 2048 && (objs[n] = kmem_cache_alloc(cache, GFP_ATOMIC)) != NULL) {
		fill(objs[n], 2048, n);
		n++;
	}
	kmem_cache_get_stats(cache, &st);
	CHECK_EQ(n, 256 * PAGE_SIZE / 2048);            /* every byte of the arena used */
	CHECK_EQ(st.alloc_failures, 1);
	CHECK(kmem_cache_alloc(cache, GFP_ATOMIC) == NULL);
	for (i = 0; i < n; i++)
		bad += !has(objs[i], 2048, i);
	CHECK_EQ(bad, 0);
	CHECK_EQ(phys_check(phys), 0);
	for (i = 0; i < n; i++)
		kmem_cache_free(cache, objs[i]);
	CHECK_EQ(kmem_cache_destroy(cache), 0);
	CHECK_EQ(frames_used(phys), 0);
	free(objs);
	phys_destroy(phys);
}

/* ---- threads ---- */

struct thread_arg {
	struct kmem_cache *cache;
	size_t size;
	unsigned int id, seed;
	int bad;
};

static void *slab_thread(void *p)
{
	struct thread_arg *a = p;
	void *held[64];
	uint64_t tags[64];
	unsigned int n = 0, op;

	for (op = 0; op < 20000; op++) {
		unsigned int r = rand_r(&a->seed);

		if (n < 64 && (r % 3 != 0 || n == 0)) {
			void *obj = kmem_cache_alloc(a->cache, 0);

			if (!obj) {
				a->bad++;
				continue;
			}
			tags[n] = ((uint64_t)a->id << 32) | op;
			fill(obj, a->size, tags[n]);
			held[n++] = obj;
		} else {
			unsigned int k = r % n;

			if (!has(held[k], a->size, tags[k]))
				a->bad++;
			kmem_cache_free(a->cache, held[k]);
			held[k] = held[--n];
			tags[k] = tags[n];
		}
	}
	while (n--) {
		if (!has(held[n], a->size, tags[n]))
			a->bad++;
		kmem_cache_free(a->cache, held[n]);
	}
	return NULL;
}

static void test_threads(void)
{
	struct phys_mem *phys = make_phys(16 * MiB, 0);
	struct kmem_cache *caches[2];
	struct thread_arg args[4];
	struct kmem_cache_stats st;
	pthread_t t[4];
	int i;

	caches[0] = kmem_cache_create(phys, "t64", 64, 0);
	caches[1] = kmem_cache_create(phys, "t1500", 1500, 0);
	REQUIRE(caches[0] && caches[1]);
	for (i = 0; i < 4; i++) {
		args[i] = (struct thread_arg){ .cache = caches[i & 1], .size = i & 1 ? 1500 : 64,
					       .id = (unsigned int)i + 1, .seed = 99 + (unsigned int)i };
		REQUIRE(pthread_create(&t[i], NULL, slab_thread, &args[i]) == 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CHECK_EQ(args[i].bad, 0);
	}
	for (i = 0; i < 2; i++) {
		kmem_cache_get_stats(caches[i], &st);
		CHECK_EQ(st.objects_in_use, 0);
		CHECK_EQ(st.allocs, st.frees);
		CHECK(st.slabs <= 1);
		CHECK_EQ(kmem_cache_destroy(caches[i]), 0);
	}
	CHECK_EQ(frames_used(phys), 0);
	CHECK_EQ(phys_check(phys), 0);
	phys_destroy(phys);
}

struct mag_arg {
	struct kmem_cache *cache;
	void *objs[40];
	pthread_barrier_t *hold;        /* NULL: exit right away */
};

/* mag_thread - allocate 40, free 30 (some stay in the magazine), keep 10 for main. */
static void *mag_thread(void *p)
{
	struct mag_arg *a = p;
	int i;

	for (i = 0; i < 40; i++)
		a->objs[i] = kmem_cache_alloc(a->cache, 0);
	for (i = 10; i < 40; i++)
		kmem_cache_free(a->cache, a->objs[i]);
	if (a->hold) {
		pthread_barrier_wait(a->hold);  /* main looks at the magazine */
		pthread_barrier_wait(a->hold);  /* main has destroyed the cache */
	}
	return NULL;
}

/*
 * A thread's magazine holds freed objects (counted as cached, not in
 * use); when the thread exits they go back to their slabs; a cache
 * destroyed while another thread still has a magazine of it flushes it.
 */
static void test_magazines(void)
{
	struct phys_mem *phys = make_phys(4 * MiB, 0);
	struct kmem_cache *cache = kmem_cache_create(phys, "mag", 256, 0);
	struct kmem_cache_stats st;
	pthread_barrier_t hold;
	struct mag_arg a = { .cache = cache };
	pthread_t t;
	int i;

	REQUIRE(cache);
	REQUIRE(pthread_create(&t, NULL, mag_thread, &a) == 0);
	pthread_join(t, NULL);
	for (i = 0; i < 10; i++)
		REQUIRE(a.objs[i]);
	kmem_cache_get_stats(cache, &st);
	CHECK_EQ(st.objects_in_use, 10);
	CHECK_EQ(st.objects_cached, 0);                 /* the exit gave them back */
	CHECK_EQ(st.allocs, 40);
	CHECK_EQ(st.frees, 30);
	for (i = 0; i < 10; i++)                        /* objects freed by another thread */
		kmem_cache_free(cache, a.objs[i]);
	kmem_cache_get_stats(cache, &st);
	CHECK_EQ(st.objects_in_use, 0);
	CHECK_EQ(st.objects_cached, 10);
	kmem_cache_drain_local(cache);
	kmem_cache_get_stats(cache, &st);
	CHECK_EQ(st.objects_cached, 0);
	CHECK(st.slabs <= 1);
	CHECK_EQ(kmem_cache_destroy(cache), 0);
	CHECK_EQ(frames_used(phys), 0);

	/* destroy while the other thread still owns a magazine of the cache */
	cache = kmem_cache_create(phys, "mag2", 64, 0);
	REQUIRE(cache);
	REQUIRE(pthread_barrier_init(&hold, NULL, 2) == 0);
	a = (struct mag_arg){ .cache = cache, .hold = &hold };
	REQUIRE(pthread_create(&t, NULL, mag_thread, &a) == 0);
	pthread_barrier_wait(&hold);
	kmem_cache_get_stats(cache, &st);
	CHECK_EQ(st.objects_in_use, 10);
	CHECK(st.objects_cached > 0 && st.objects_cached <= 16);
	CHECK_EQ(kmem_cache_destroy(cache), 10);        /* the 10 kept are leaks; cached ones are not */
	pthread_barrier_wait(&hold);
	pthread_join(t, NULL);                          /* its exit must not touch the dead cache */
	pthread_barrier_destroy(&hold);
	CHECK_EQ(frames_used(phys), 0);
	CHECK_EQ(phys_check(phys), 0);
	phys_destroy(phys);
}

/* ---- misuse is caught ---- */

static struct phys_mem *misuse_phys;

static bool dies(void (*fn)(void))
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		fclose(stderr);
		fn();
		_exit(0);
	}
	waitpid(pid, &status, 0);
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

static void double_free(void)
{
	struct kmem_cache *c = kmem_cache_create(misuse_phys, "df", 64, 0);
	void *a = kmem_cache_alloc(c, 0), *b = kmem_cache_alloc(c, 0);

	kmem_cache_free(c, a);
	kmem_cache_free(c, b);
	kmem_cache_free(c, a);
}

static void double_free_tiny(void)
{
	struct kmem_cache *c = kmem_cache_create(misuse_phys, "df8", 8, 0);
	void *a = kmem_cache_alloc(c, 0);

	kmem_cache_alloc(c, 0);
	kmem_cache_free(c, a);
	kmem_cache_free(c, a);
}

static void write_after_free(void)
{
	struct kmem_cache *c = kmem_cache_create(misuse_phys, "waf", 64, 0);
	char *a = kmem_cache_alloc(c, 0);

	kmem_cache_free(c, a);
	a[40] = 1;
	kmem_cache_alloc(c, 0);
}

static void wrong_cache(void)
{
	struct kmem_cache *c1 = kmem_cache_create(misuse_phys, "c1", 64, 0);
	struct kmem_cache *c2 = kmem_cache_create(misuse_phys, "c2", 64, 0);

	kmem_cache_free(c2, kmem_cache_alloc(c1, 0));
}

static void misaligned_pointer(void)
{
	struct kmem_cache *c = kmem_cache_create(misuse_phys, "mis", 64, 0);
	char *a = kmem_cache_alloc(c, 0);

	kmem_cache_free(c, a + 8);
}

static void not_in_arena(void)
{
	static char outside[64];
	struct kmem_cache *c = kmem_cache_create(misuse_phys, "out", 64, 0);

	kmem_cache_free(c, outside);
}

static void test_misuse(void)
{
	misuse_phys = make_phys(MiB, 0);
	CHECK(dies(wrong_cache));                       /* always-on checks */
	CHECK(dies(misaligned_pointer));
	CHECK(dies(not_in_arena));
	if (UMM_DEBUG) {
		CHECK(dies(double_free));
		CHECK(dies(double_free_tiny));
		CHECK(dies(write_after_free));
	}
	CHECK_EQ(frames_used(misuse_phys), 0);          /* the children's work stayed there */
	phys_destroy(misuse_phys);
}

int main(void)
{
	RUN(test_bad_inputs);
	RUN(test_sizes);
	RUN(test_alignment);
	RUN(test_slabs_returned);
	RUN(test_leak_count);
	RUN(test_gfp_zero);
	RUN(test_injected_failure);
	RUN(test_arena_exhaustion);
	RUN(test_misuse);
	RUN(test_threads);
	RUN(test_magazines);
	return test_summary("test_slab");
}

/* SPDX-License-Identifier: MIT */
/*
 * test_radix_tree.c - the radix tree against a trivially correct model (a
 * sorted array of keys), with random keys from the whole 64-bit range.
 *
 * The source file is compiled into this program with calloc/free wrapped,
 * so the test counts live nodes (every node is freed once the tree is
 * empty; the height shrinks back) and makes node allocation fail at every
 * point an insert allocates (the tree must be left unchanged).
 */
#include <stdlib.h>
#include <string.h>
#include "test.h"

static long live_nodes;
static long fail_countdown = -1;      /* -1: never fail; n: fail the call after n successes */

static void *test_calloc(size_t n, size_t size);
static void test_free(void *p);
#define calloc test_calloc
#define free test_free
#include "../src/radix_tree.c"
#undef calloc
#undef free

static void *test_calloc(size_t n, size_t size)
{
	void *p;

	if (fail_countdown == 0)
		return NULL;
	if (fail_countdown > 0)
		fail_countdown--;
	p = calloc(n, size);
	if (p)
		live_nodes++;
	return p;
}

static void test_free(void *p)
{
	if (p)
		live_nodes--;
	free(p);
}

/* ---- the model: sorted keys ---- */
#define MODEL_MAX 6000
static uint64_t model[MODEL_MAX];
static unsigned int model_nr;

static void *item_for(uint64_t key)
{
	uint64_t h = key * 0x9e3779b97f4a7c15ull;

	return (void *)(uintptr_t)((h ^ (h >> 29)) | 1);
}

/* index of the first model key >= key */
static unsigned int model_lower_bound(uint64_t key)
{
	unsigned int lo = 0, hi = model_nr;

	while (lo < hi) {
		unsigned int mid = (lo + hi) / 2;
		if (model[mid] < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool model_has(uint64_t key)
{
	unsigned int i = model_lower_bound(key);
	return i < model_nr && model[i] == key;
}

static void model_insert(uint64_t key)
{
	unsigned int i = model_lower_bound(key);

	memmove(&model[i + 1], &model[i], (model_nr - i) * sizeof(model[0]));
	model[i] = key;
	model_nr++;
}

static void model_delete(uint64_t key)
{
	unsigned int i = model_lower_bound(key);

	memmove(&model[i], &model[i + 1], (model_nr - i - 1) * sizeof(model[0]));
	model_nr--;
}

static uint64_t rng_state = 0x1234567887654321ull;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Keys that exercise every height: small, mid, near 2^63, near 2^64. */
static uint64_t random_key(void)
{
	uint64_t a = rnd(), b = rnd();   /* drawn in a fixed order: replayable */

	switch (rnd() % 6) {
	case 0: return a % 256;
	case 1: return a % 100000;
	case 2: return a >> (b % 64);
	case 3: return (1ull << 63) - 300 + a % 600;
	case 4: return UINT64_MAX - a % 200;
	default: return a;
	}
}

static void check_gang(struct radix_tree *t, uint64_t first, unsigned int max)
{
	void *res[64];
	uint64_t idx[64];
	unsigned int n, i, m = model_lower_bound(first);
	unsigned int want = MIN(max, model_nr - m);

	n = radix_tree_gang_lookup(t, res, idx, first, max);
	CHECK_EQ(n, want);
	for (i = 0; i < n && i < want; i++) {
		CHECK_EQ(idx[i], model[m + i]);
		CHECK(res[i] == item_for(model[m + i]));
	}
}

static void test_basic(void)
{
	struct radix_tree t = RADIX_TREE_INIT;
	void *res[4];
	uint64_t idx[4];

	CHECK(radix_tree_lookup(&t, 0) == NULL);
	CHECK(radix_tree_delete(&t, 5) == NULL);
	CHECK_EQ(radix_tree_gang_lookup(&t, res, idx, 0, 4), 0);
	CHECK_EQ(radix_tree_insert(&t, 3, NULL), -EINVAL);
	CHECK_EQ(radix_tree_insert(NULL, 3, res), -EINVAL);
	CHECK_EQ(t.count, 0);
	CHECK_EQ(live_nodes, 0);

	CHECK_EQ(radix_tree_insert(&t, 0, item_for(0)), 0);
	CHECK_EQ(t.height, 1);
	CHECK_EQ(live_nodes, 1);
	CHECK_EQ(radix_tree_insert(&t, 0, item_for(7)), -EEXIST);
	CHECK(radix_tree_lookup(&t, 0) == item_for(0));
	CHECK_EQ(t.count, 1);

	/* 2^63 needs all 11 levels: a new root chain plus a fresh path. */
	CHECK_EQ(radix_tree_insert(&t, 1ull << 63, item_for(1ull << 63)), 0);
	CHECK_EQ(t.height, 11);
	CHECK_EQ(live_nodes, 21);
	CHECK(radix_tree_lookup(&t, 0) == item_for(0));
	CHECK(radix_tree_lookup(&t, 1ull << 63) == item_for(1ull << 63));
	CHECK(radix_tree_lookup(&t, (1ull << 63) + 1) == NULL);
	CHECK(radix_tree_lookup(&t, UINT64_MAX) == NULL);
	CHECK(radix_tree_delete(&t, UINT64_MAX) == NULL);
	CHECK_EQ(radix_tree_insert(&t, UINT64_MAX, item_for(UINT64_MAX)), 0);

	CHECK_EQ(radix_tree_gang_lookup(&t, res, idx, 1, 4), 2);
	CHECK_EQ(idx[0], 1ull << 63);
	CHECK_EQ(idx[1], UINT64_MAX);
	CHECK_EQ(radix_tree_gang_lookup(&t, res, NULL, 0, 1), 1);
	CHECK(res[0] == item_for(0));
	CHECK_EQ(radix_tree_gang_lookup(&t, res, idx, UINT64_MAX, 4), 1);
	CHECK_EQ(radix_tree_gang_lookup(&t, res, idx, 0, 0), 0);

	CHECK(radix_tree_delete(&t, UINT64_MAX) == item_for(UINT64_MAX));
	CHECK(radix_tree_delete(&t, 1ull << 63) == item_for(1ull << 63));
	CHECK_EQ(t.height, 1);          /* shrank back */
	CHECK_EQ(live_nodes, 1);
	CHECK(radix_tree_delete(&t, 0) == item_for(0));
	CHECK_EQ(t.height, 0);
	CHECK(t.root == NULL);
	CHECK_EQ(t.count, 0);
	CHECK_EQ(live_nodes, 0);
	radix_tree_destroy(&t);
}

/* Keys 64^k - 1 and 64^k sit on each side of a height boundary. */
static void test_height_boundaries(void)
{
	struct radix_tree t = RADIX_TREE_INIT;
	unsigned int k;

	for (k = 1; k < 11; k++) {
		uint64_t edge = 1ull << (6 * k);

		CHECK_EQ(radix_tree_insert(&t, edge - 1, item_for(edge - 1)), 0);
		CHECK_EQ(t.height, k);
		CHECK_EQ(radix_tree_insert(&t, edge, item_for(edge)), 0);
		CHECK_EQ(t.height, k + 1);
		CHECK(radix_tree_lookup(&t, edge - 1) == item_for(edge - 1));
		CHECK(radix_tree_delete(&t, edge) == item_for(edge));
		CHECK_EQ(t.height, k);
		CHECK(radix_tree_delete(&t, edge - 1) == item_for(edge - 1));
		CHECK_EQ(live_nodes, 0);
	}
	radix_tree_destroy(&t);
}

static void test_random_vs_model(void)
{
	struct radix_tree t = RADIX_TREE_INIT;
	unsigned int step, i;

	model_nr = 0;
	for (step = 0; step < 40000; step++) {
		unsigned int op = rnd() % 10;
		uint64_t key = random_key();

		if (op < 5 && model_nr < MODEL_MAX) {
			int want = model_has(key) ? -EEXIST : 0;
			CHECK_EQ(radix_tree_insert(&t, key, item_for(key)), want);
			if (want == 0)
				model_insert(key);
		} else if (op < 8) {
			/* delete a present key half the time, a random one otherwise */
			if (model_nr && rnd() % 2)
				key = model[rnd() % model_nr];
			bool had = model_has(key);
			void *got = radix_tree_delete(&t, key);
			CHECK(got == (had ? item_for(key) : NULL));
			if (had)
				model_delete(key);
		} else if (op == 8) {
			CHECK(radix_tree_lookup(&t, key) == (model_has(key) ? item_for(key) : NULL));
		} else {
			check_gang(&t, key, 1 + rnd() % 64);
		}
		CHECK_EQ(t.count, model_nr);
		if (step % 4096 == 0)
			for (i = 0; i < model_nr; i++)
				CHECK(radix_tree_lookup(&t, model[i]) == item_for(model[i]));
	}

	/* a full in-order walk equals the model */
	{
		uint64_t next = 0;
		unsigned int seen = 0;
		void *res[64];
		uint64_t idx[64];
		unsigned int n;

		while ((n = radix_tree_gang_lookup(&t, res, idx, next, 64)) > 0) {
			for (i = 0; i < n; i++, seen++)
				CHECK_EQ(idx[i], model[seen]);
			if (idx[n - 1] == UINT64_MAX)
				break;
			next = idx[n - 1] + 1;
		}
		CHECK_EQ(seen, model_nr);
	}

	/* drain in random order; every node is freed at the end */
	while (model_nr) {
		uint64_t key = model[rnd() % model_nr];
		CHECK(radix_tree_delete(&t, key) == item_for(key));
		model_delete(key);
	}
	CHECK_EQ(t.count, 0);
	CHECK_EQ(t.height, 0);
	CHECK_EQ(live_nodes, 0);
	radix_tree_destroy(&t);
}

/*
 * check_run - radix_tree_lookup_run from first equals a lookup of each key
 * (NULL past UINT64_MAX); radix_tree_prefetch_run of the run before it
 * changes nothing (and, under ASan, reads only the tree's nodes).
 */
static void check_run(const struct radix_tree *t, uint64_t first, unsigned int nr)
{
	void *res[300];
	const void *root = t->root;
	unsigned int height = t->height;
	unsigned long count = t->count;
	long nodes = live_nodes;

	REQUIRE(nr <= 300);
	radix_tree_prefetch_run(t, first, nr);
	CHECK(t->root == root);
	CHECK_EQ(t->height, height);
	CHECK_EQ(t->count, count);
	CHECK_EQ(live_nodes, nodes);
	radix_tree_lookup_run(t, first, nr, res);
	for (unsigned int i = 0; i < nr; i++)
		CHECK(res[i] == (first + i >= first ? radix_tree_lookup(t, first + i) : NULL));
}

/* Runs of keys (radix_tree_lookup_run) over a dense tree, across leaves, heights and the top of the range. */
static void test_lookup_run(void)
{
	struct radix_tree t = RADIX_TREE_INIT;
	void *res[4];

	radix_tree_prefetch_run(NULL, 5, 4);            /* a hint: no tree, an empty tree, no pages */
	radix_tree_prefetch_run(&t, 5, 4);
	radix_tree_prefetch_run(&t, 5, 0);
	CHECK(t.root == NULL);
	radix_tree_lookup_run(&t, 5, 4, res);           /* empty tree */
	for (int i = 0; i < 4; i++)
		CHECK(res[i] == NULL);
	for (uint64_t k = 0; k < 5000; k++)
		if (rnd() % 3)
			REQUIRE(radix_tree_insert(&t, k, item_for(k)) == 0);
	for (int step = 0; step < 2000; step++)
		check_run(&t, rnd() % 5200, 1 + rnd() % 300);
	check_run(&t, 60, 10);                          /* across a leaf boundary */
	check_run(&t, 0, 300);
	REQUIRE(radix_tree_insert(&t, UINT64_MAX - 2, item_for(UINT64_MAX - 2)) == 0);
	REQUIRE(radix_tree_insert(&t, (uint64_t)1 << 40, item_for((uint64_t)1 << 40)) == 0);
	check_run(&t, UINT64_MAX - 5, 10);              /* wraps: nothing past the top */
	check_run(&t, ((uint64_t)1 << 40) - 3, 8);
	for (int step = 0; step < 500; step++)
		check_run(&t, rnd() % 5200, 1 + rnd() % 300);
	radix_tree_destroy(&t);
	CHECK_EQ(live_nodes, 0);
}

/* Fail the n-th node allocation of an insert for every n; nothing changes. */
static void test_enomem_leaves_tree_unchanged(void)
{
	struct radix_tree t = RADIX_TREE_INIT;
	uint64_t keys[] = { 5, 70, 4097, 1ull << 40, (1ull << 63) + 12345, UINT64_MAX - 3 };
	unsigned int k, n, i;

	CHECK_EQ(radix_tree_insert(&t, 1, item_for(1)), 0);
	model_nr = 0;
	model_insert(1);
	for (k = 0; k < ARRAY_SIZE(keys); k++) {
		for (n = 0;; n++) {
			long nodes = live_nodes;
			unsigned int height = t.height;
			void *root = t.root;
			int err;

			fail_countdown = n;
			err = radix_tree_insert(&t, keys[k], item_for(keys[k]));
			fail_countdown = -1;
			if (err == 0)
				break;
			CHECK_EQ(err, -ENOMEM);
			CHECK_EQ(live_nodes, nodes);
			CHECK_EQ(t.height, height);
			CHECK(t.root == root);
			CHECK_EQ(t.count, model_nr);
			CHECK(radix_tree_lookup(&t, keys[k]) == NULL);
			for (i = 0; i < model_nr; i++)
				CHECK(radix_tree_lookup(&t, model[i]) == item_for(model[i]));
			REQUIRE(n < 40);
		}
		model_insert(keys[k]);
		CHECK(radix_tree_lookup(&t, keys[k]) == item_for(keys[k]));
		check_gang(&t, 0, 64);
	}
	radix_tree_destroy(&t);
	CHECK_EQ(live_nodes, 0);
	CHECK_EQ(t.count, 0);
	CHECK(t.root == NULL);
	model_nr = 0;
}

/* destroy frees a populated tree; items are untouched and the tree is reusable. */
static void test_destroy(void)
{
	struct radix_tree t;
	uint64_t i;

	radix_tree_init(&t);
	for (i = 0; i < 5000; i++)
		CHECK_EQ(radix_tree_insert(&t, i * 7919, item_for(i * 7919)), 0);
	CHECK(live_nodes > 0);
	radix_tree_destroy(&t);
	CHECK_EQ(live_nodes, 0);
	CHECK_EQ(t.count, 0);
	CHECK_EQ(radix_tree_insert(&t, 42, item_for(42)), 0);
	CHECK(radix_tree_lookup(&t, 42) == item_for(42));
	radix_tree_destroy(&t);
	radix_tree_destroy(NULL);
	CHECK_EQ(live_nodes, 0);
}

int main(void)
{
	RUN(test_basic);
	RUN(test_height_boundaries);
	RUN(test_random_vs_model);
	RUN(test_lookup_run);
	RUN(test_enomem_leaves_tree_unchanged);
	RUN(test_destroy);
	return test_summary("test_radix_tree");
}

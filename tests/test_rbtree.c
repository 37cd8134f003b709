/* SPDX-License-Identifier: MIT */
/*
 * test_rbtree.c - the red-black tree against a trivially correct reference.
 *
 * Keys live in [0, KEYSPACE); the reference is a presence bitmap (a sorted
 * set by construction).  Random inserts and erases are applied to both and
 * compared: membership by search, full in-order sequence, rb_first/rb_last,
 * rb_next/rb_prev from every node, and the red-black rules (black root, no
 * red child of a red node, equal black height, consistent parent links).
 * An augmented tree keeps each subtree's maximum of a per-node value; the
 * test recomputes it from scratch and compares.  The seed is printed so a
 * failure can be replayed (RBTREE_SEED=<n>).
 */
#include <time.h>
#include "test.h"
#include "rbtree.h"

#define KEYSPACE  (1u << 18)
#define NR_OPS    100000
#define NR_FULL_CHECKS 40

struct item {
	struct rb_node rb;
	unsigned int key;
	unsigned int val;            /* arbitrary payload */
	unsigned int subtree_max;    /* max val over the subtree (augmented) */
	bool in_tree;
};

static struct item *items;       /* items[key] */
static uint64_t rng_state;

static uint64_t rnd(void)
{
	return test_rnd(&rng_state);
}

#define item_of(n) rb_entry(n, struct item, rb)

/* ---- augmentation: subtree maximum of val ---- */
static unsigned int item_compute_max(struct item *it)
{
	unsigned int m = it->val;

	if (it->rb.rb_left && item_of(it->rb.rb_left)->subtree_max > m)
		m = item_of(it->rb.rb_left)->subtree_max;
	if (it->rb.rb_right && item_of(it->rb.rb_right)->subtree_max > m)
		m = item_of(it->rb.rb_right)->subtree_max;
	return m;
}

static void aug_propagate(struct rb_node *node, struct rb_node *stop)
{
	for (; node != stop; node = node->rb_parent)
		item_of(node)->subtree_max = item_compute_max(item_of(node));
}

static void aug_copy(struct rb_node *old, struct rb_node *new_node)
{
	item_of(new_node)->subtree_max = item_of(old)->subtree_max;
}

static unsigned long nr_rotations;

static void aug_rotate(struct rb_node *old, struct rb_node *new_node)
{
	nr_rotations++;
	item_of(new_node)->subtree_max = item_of(old)->subtree_max;
	item_of(old)->subtree_max = item_compute_max(item_of(old));
}

static const struct rb_augment_callbacks max_aug = {
	.propagate = aug_propagate, .copy = aug_copy, .rotate = aug_rotate,
};

/* ---- tree operations used by the test ---- */
static struct item *tree_search(struct rb_root *root, unsigned int key)
{
	struct rb_node *n = root->rb_node;

	while (n) {
		struct item *it = item_of(n);
		if (key == it->key)
			return it;
		n = key < it->key ? n->rb_left : n->rb_right;
	}
	return NULL;
}

static void tree_insert(struct rb_root *root, struct item *it, const struct rb_augment_callbacks *aug)
{
	struct rb_node **link = &root->rb_node, *parent = NULL;

	while (*link) {
		parent = *link;
		link = it->key < item_of(parent)->key ? &parent->rb_left : &parent->rb_right;
	}
	rb_link_node(&it->rb, parent, link);
	it->subtree_max = it->val;
	if (aug)
		rb_insert_augmented(&it->rb, root, aug);
	else
		rb_insert_color(&it->rb, root);
	it->in_tree = true;
}

static void tree_erase(struct rb_root *root, struct item *it, const struct rb_augment_callbacks *aug)
{
	if (aug)
		rb_erase_augmented(&it->rb, root, aug);
	else
		rb_erase(&it->rb, root);
	it->in_tree = false;
}

/* ---- checks ---- */
struct check_ctx {
	bool augmented;
	int bad;                 /* first failure already reported */
	size_t count;
	long last_key;
};

static void check_fail(struct check_ctx *c, const char *what, unsigned int key)
{
	if (!c->bad)
		fprintf(stderr, "rbtree check: %s at key %u\n", what, key);
	c->bad = 1;
}

/* check_subtree - returns the black height; recomputes the max into *maxp. */
static int check_subtree(struct check_ctx *c, struct rb_node *n, struct rb_node *parent,
			 unsigned int *maxp, int depth)
{
	unsigned int lmax = 0, rmax = 0, m;
	int lbh, rbh;

	if (!n) {
		*maxp = 0;
		return 1;
	}
	struct item *it = item_of(n);
	if (depth > 64)
		check_fail(c, "too deep", it->key);
	if (c->bad)
		return 1;
	if (n->rb_parent != parent)
		check_fail(c, "bad parent link", it->key);
	if (n->rb_color != RB_RED && n->rb_color != RB_BLACK)
		check_fail(c, "bad colour", it->key);
	if (n->rb_color == RB_RED && parent && parent->rb_color == RB_RED)
		check_fail(c, "red child of red node", it->key);
	lbh = check_subtree(c, n->rb_left, n, &lmax, depth + 1);
	if ((long)it->key <= c->last_key)
		check_fail(c, "in-order sequence not increasing", it->key);
	if (!it->in_tree)
		check_fail(c, "erased item reachable", it->key);
	c->last_key = it->key;
	c->count++;
	rbh = check_subtree(c, n->rb_right, n, &rmax, depth + 1);
	if (lbh != rbh)
		check_fail(c, "black heights differ", it->key);
	m = MAX(it->val, MAX(lmax, rmax));
	if (c->augmented && it->subtree_max != m)
		check_fail(c, "augmented max wrong", it->key);
	*maxp = m;
	return lbh + (n->rb_color == RB_BLACK);
}

/* check_tree - red-black rules, order, augmentation, and the reference set. */
static int check_tree(struct rb_root *root, bool augmented, size_t nr_expected)
{
	struct check_ctx c = { .augmented = augmented, .last_key = -1 };
	unsigned int m;
	size_t i = 0;

	if (root->rb_node && root->rb_node->rb_color != RB_BLACK)
		check_fail(&c, "red root", item_of(root->rb_node)->key);
	check_subtree(&c, root->rb_node, NULL, &m, 0);
	if (!c.bad && c.count != nr_expected)
		check_fail(&c, "node count differs from reference", 0);
	/* iteration both ways against the reference bitmap */
	struct rb_node *n = rb_first(root);
	for (unsigned int k = 0; k < KEYSPACE && !c.bad; k++) {
		if (!items[k].in_tree)
			continue;
		if (n != &items[k].rb)
			check_fail(&c, "rb_next sequence differs from reference", k);
		n = n ? rb_next(n) : NULL;
		i++;
	}
	if (!c.bad && n)
		check_fail(&c, "rb_next runs past the last key", 0);
	n = rb_last(root);
	for (long k = KEYSPACE - 1; k >= 0 && !c.bad; k--) {
		if (!items[k].in_tree)
			continue;
		if (n != &items[k].rb)
			check_fail(&c, "rb_prev sequence differs from reference", (unsigned)k);
		n = n ? rb_prev(n) : NULL;
	}
	if (!c.bad && n)
		check_fail(&c, "rb_prev runs past the first key", 0);
	return c.bad ? -1 : 0;
}

static void reset_items(void)
{
	for (unsigned int k = 0; k < KEYSPACE; k++) {
		memset(&items[k], 0, sizeof(items[k]));
		items[k].key = k;
		items[k].val = (unsigned int)(rnd() % 1000000);
	}
}

/* ---- tests ---- */
static void test_empty_tree(void)
{
	struct rb_root root = RB_ROOT;

	CHECK(rb_first(&root) == NULL);
	CHECK(rb_last(&root) == NULL);
	CHECK_EQ(check_tree(&root, false, 0), 0);
}

static void test_single_and_small(void)
{
	struct rb_root root = RB_ROOT;

	reset_items();
	tree_insert(&root, &items[5], &max_aug);
	CHECK(rb_first(&root) == &items[5].rb);
	CHECK(rb_last(&root) == &items[5].rb);
	CHECK(rb_next(&items[5].rb) == NULL);
	CHECK(rb_prev(&items[5].rb) == NULL);
	CHECK_EQ(root.rb_node->rb_color, RB_BLACK);
	CHECK_EQ(items[5].subtree_max, items[5].val);
	/* ascending and descending runs force rotations on both sides */
	for (unsigned int k = 10; k < 200; k++)
		tree_insert(&root, &items[k], &max_aug);
	for (unsigned int k = 9; k > 5; k--)
		tree_insert(&root, &items[k], &max_aug);
	CHECK_EQ(check_tree(&root, true, 195), 0);
	CHECK(rb_first(&root) == &items[5].rb);
	CHECK(rb_last(&root) == &items[199].rb);
	/* erase the root repeatedly: always the two-children path while it has them */
	for (int i = 0; i < 100; i++)
		tree_erase(&root, item_of(root.rb_node), &max_aug);
	CHECK_EQ(check_tree(&root, true, 95), 0);
	while (root.rb_node)
		tree_erase(&root, item_of(rb_first(&root)), &max_aug);
	CHECK_EQ(check_tree(&root, true, 0), 0);
}

/* random_ops - NR_OPS random inserts/erases (aug or plain), checked against the bitmap. */
static void random_ops(const struct rb_augment_callbacks *aug)
{
	struct rb_root root = RB_ROOT;
	size_t nr = 0;
	int failed = 0;

	reset_items();
	for (long op = 0; op < NR_OPS && !failed; op++) {
		/* bias towards inserts for the first half so the tree grows large */
		bool grow = op < NR_OPS / 2 ? rnd() % 4 != 0 : rnd() % 2 == 0;
		unsigned int key = (unsigned int)(rnd() % KEYSPACE);
		struct item *it = &items[key];
		struct item *found = tree_search(&root, key);

		if ((found != NULL) != it->in_tree) {
			fprintf(stderr, "search for %u disagrees with reference\n", key);
			failed = 1;
			break;
		}
		if (grow && !it->in_tree) {
			tree_insert(&root, it, aug);
			nr++;
		} else if (!grow && !it->in_tree && nr) {
			/* key absent: erase the root instead, to keep erases frequent */
			struct rb_node *n = root.rb_node;
			tree_erase(&root, item_of(n), aug);
			nr--;
		} else if (!grow && it->in_tree) {
			tree_erase(&root, it, aug);
			nr--;
		}
		if (aug && root.rb_node && item_of(root.rb_node)->subtree_max != item_compute_max(item_of(root.rb_node)))
			failed = 1;
		if (op % (NR_OPS / NR_FULL_CHECKS) == 0 && check_tree(&root, aug != NULL, nr))
			failed = 1;
	}
	CHECK(!failed);
	CHECK_EQ(check_tree(&root, aug != NULL, nr), 0);
	CHECK(nr > 1000);
	/* drain in random order */
	while (nr) {
		unsigned int key = (unsigned int)(rnd() % KEYSPACE);
		if (!items[key].in_tree)
			continue;
		tree_erase(&root, &items[key], aug);
		nr--;
		if (nr % 5000 == 0)
			CHECK_EQ(check_tree(&root, aug != NULL, nr), 0);
	}
	CHECK(root.rb_node == NULL);
}

static void test_random_augmented(void)
{
	nr_rotations = 0;
	random_ops(&max_aug);
	CHECK(nr_rotations > 0);
}

static void test_random_plain(void)
{
	random_ops(NULL);
}

/* The height bound 2*log2(n+1) must hold even for a sorted insert order. */
static void test_height_sorted(void)
{
	struct rb_root root = RB_ROOT;
	const unsigned int n = 100000;

	reset_items();
	for (unsigned int k = 0; k < n; k++)
		tree_insert(&root, &items[k], &max_aug);
	int maxdepth = 0;
	for (unsigned int k = 0; k < n; k++) {
		int d = 0;
		for (struct rb_node *p = &items[k].rb; p; p = p->rb_parent)
			d++;
		maxdepth = MAX(maxdepth, d);
	}
	CHECK(maxdepth <= 34);  /* 2*log2(100001) ~ 33.2 */
	CHECK_EQ(check_tree(&root, true, n), 0);
	/* the augmented max of the root is the global maximum */
	unsigned int gmax = 0;
	for (unsigned int k = 0; k < n; k++)
		gmax = MAX(gmax, items[k].val);
	CHECK_EQ(item_of(root.rb_node)->subtree_max, gmax);
}

/* A deliberately broken tree must be caught by the checker (it can fail). */
static void test_checker_catches(void)
{
	struct rb_root root = RB_ROOT;

	reset_items();
	for (unsigned int k = 0; k < 64; k++)
		tree_insert(&root, &items[k * 3], &max_aug);
	CHECK_EQ(check_tree(&root, true, 64), 0);
	struct rb_node *r = root.rb_node;
	r->rb_color = RB_RED;
	fprintf(stderr, "(an expected checker message follows)\n");
	CHECK(check_tree(&root, true, 64) != 0);
	r->rb_color = RB_BLACK;
	item_of(r)->subtree_max++;
	fprintf(stderr, "(an expected checker message follows)\n");
	CHECK(check_tree(&root, true, 64) != 0);
	item_of(r)->subtree_max--;
	CHECK_EQ(check_tree(&root, true, 64), 0);
}

int main(void)
{
	uint64_t seed = test_seed("test_rbtree", "RBTREE_SEED", 1);

	rng_state = seed ? seed : 1;
	items = calloc(KEYSPACE, sizeof(*items));
	REQUIRE(items);
	RUN(test_empty_tree);
	RUN(test_single_and_small);
	RUN(test_random_augmented);
	RUN(test_random_plain);
	RUN(test_height_sorted);
	RUN(test_checker_catches);
	free(items);
	return test_summary("test_rbtree");
}

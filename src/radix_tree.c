/* SPDX-License-Identifier: MIT */
/*
 * radix_tree.c - a 64-way radix tree from uint64_t keys to non-NULL
 * pointers (the page cache's index).
 *
 * Shape.  A tree of height h has its root at level h-1 and leaves at
 * level 0; a node at level L consumes key bits [6L, 6L+6) to choose one of
 * its 64 slots.  Slots of a level-0 node hold items, slots of higher nodes
 * hold child nodes.  A tree of height h holds keys < 2^(6h); eleven levels
 * cover all 64 bits (the top node then uses only 16 of its slots).
 *
 * Growth and shrinking.  Inserting a key beyond the current reach pushes
 * new roots on top, each with the old root in slot 0.  Deleting frees
 * nodes that become empty, and pops roots whose only child is in slot 0,
 * so the height always matches the largest key present (min. 1).
 *
 * Failure.  Insert counts the nodes it will need and allocates them all
 * before touching the tree, so -ENOMEM leaves the tree exactly as it was.
 *
 * Locking: none.  The owner serialises every call (the page cache uses
 * obj->tree_lock); lookups may run in parallel with each other only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "compiler.h"
#include "radix_tree.h"

#define RADIX_TREE_MAP_SHIFT 6
#define RADIX_TREE_MAP_SIZE  (1u << RADIX_TREE_MAP_SHIFT)
#define RADIX_TREE_MAP_MASK  (RADIX_TREE_MAP_SIZE - 1)
#define RADIX_TREE_MAX_HEIGHT 11     /* ceil(64 / 6) */
#define RADIX_PREFETCH_LEAVES 4      /* leaves radix_tree_prefetch_run starts loading, at most */

struct radix_node {
	void *slots[RADIX_TREE_MAP_SIZE];
	unsigned int count;              /* non-NULL slots */
};

/* Slot of `index` in a node at `level`. */
static inline unsigned int radix_digit(uint64_t index, unsigned int level)
{
	unsigned int shift = level * RADIX_TREE_MAP_SHIFT;

	return (unsigned int)(index >> shift) & RADIX_TREE_MAP_MASK;
}

/* Largest key a tree of `height` can hold. */
static inline uint64_t radix_max_index(unsigned int height)
{
	unsigned int bits = height * RADIX_TREE_MAP_SHIFT;

	return bits >= 64 ? UINT64_MAX : ((uint64_t)1 << bits) - 1;
}

/* Smallest height (>= 1) whose tree can hold `index`. */
static unsigned int radix_height_for(uint64_t index)
{
	unsigned int h = 1;

	while (index > radix_max_index(h))
		h++;
	return h;
}

/*
 * Nodes an insert of `index` must create: new roots to reach it, plus the
 * missing nodes on its path.  A key that forces growth has a non-zero top
 * digit, so its whole path below the new root is missing.
 */
static unsigned int radix_nodes_needed(const struct radix_tree *t, uint64_t index)
{
	unsigned int need = radix_height_for(index);
	struct radix_node *node = t->root;
	unsigned int level;

	if (!node)
		return need;
	if (need > t->height)
		return (need - t->height) + (need - 1);
	for (level = t->height - 1; level > 0; level--) {
		node = node->slots[radix_digit(index, level)];
		if (!node)
			return level;
	}
	return 0;
}

static int radix_pool_fill(struct radix_node **pool, unsigned int nr)
{
	unsigned int i;

	for (i = 0; i < nr; i++) {
		pool[i] = calloc(1, sizeof(struct radix_node));
		if (!pool[i])
			goto err_free_pool;
	}
	return 0;

err_free_pool:
	while (i--)
		free(pool[i]);
	return -ENOMEM;
}

/* Push new roots until the tree reaches `height` (the tree is non-empty). */
static void radix_tree_grow(struct radix_tree *t, unsigned int height,
			    struct radix_node **pool, unsigned int *used)
{
	while (t->height < height) {
		struct radix_node *n = pool[(*used)++];

		n->slots[0] = t->root;
		n->count = 1;
		t->root = n;
		t->height++;
	}
}

/**
 * radix_tree_insert - store @item at @index.
 * No locks taken; the caller serialises access to @t.
 * Return: 0, -EEXIST if @index is present, -EINVAL if @item is NULL,
 * -ENOMEM (tree unchanged).
 */
int radix_tree_insert(struct radix_tree *t, uint64_t index, void *item)
{
	struct radix_node *pool[2 * RADIX_TREE_MAX_HEIGHT];
	struct radix_node *parent = NULL;
	unsigned int nr, used = 0, need, level;
	void **slot;

	if (!t || !item)
		return -EINVAL;
	if (radix_tree_lookup(t, index))
		return -EEXIST;
	nr = radix_nodes_needed(t, index);
	if (radix_pool_fill(pool, nr) < 0)
		return -ENOMEM;

	need = radix_height_for(index);
	if (!t->root)
		t->height = need;
	else
		radix_tree_grow(t, need, pool, &used);

	slot = (void **)&t->root;
	for (level = t->height; level-- > 0;) {
		if (!*slot) {
			*slot = pool[used++];
			if (parent)
				parent->count++;
		}
		parent = *slot;
		slot = &parent->slots[radix_digit(index, level)];
	}
	*slot = item;
	parent->count++;
	t->count++;
	VM_BUG_ON(used != nr);
	return 0;
}

/**
 * radix_tree_lookup - the item at @index, or NULL.
 * No locks taken; the caller serialises against writers.
 */
void *radix_tree_lookup(const struct radix_tree *t, uint64_t index)
{
	struct radix_node *node;
	unsigned int level;

	if (!t || !t->root || index > radix_max_index(t->height))
		return NULL;
	node = t->root;
	for (level = t->height - 1; level > 0; level--) {
		node = node->slots[radix_digit(index, level)];
		if (!node)
			return NULL;
	}
	return node->slots[radix_digit(index, 0)];
}

/**
 * radix_tree_lookup_run - results[i] = the item at @first + i, or NULL,
 * for i < @nr: one walk down per leaf node the run crosses, then its
 * slots in turn.  No locks taken; the caller serialises against writers.
 */
void radix_tree_lookup_run(const struct radix_tree *t, uint64_t first, unsigned int nr, void **results)
{
	unsigned int i = 0;

	while (i < nr) {
		uint64_t index = first + i;
		const struct radix_node *node = NULL;
		unsigned int in_leaf = RADIX_TREE_MAP_SIZE - radix_digit(index, 0);

		if (t && t->root && index >= first && index <= radix_max_index(t->height)) {
			node = t->root;
			for (unsigned int level = t->height - 1; node && level > 0; level--)
				node = node->slots[radix_digit(index, level)];
		}
		for (unsigned int k = 0; k < in_leaf && i < nr; k++, i++)
			results[i] = node ? node->slots[radix_digit(index + k, 0)] : NULL;
	}
}

/**
 * radix_tree_prefetch_run - a hint: start loading the slots of the leaf
 * nodes that radix_tree_lookup_run(@first, @nr) will read, so that a
 * lookup made a little later finds them in the cache.  The nodes above
 * the leaves are read (they are few and usually cached); the leaves are
 * only prefetched, never read, so this does not wait for their misses.
 * At most RADIX_PREFETCH_LEAVES leaves.  No locks taken; the caller
 * serialises against writers (a node read here must not be freed
 * meanwhile).
 */
void radix_tree_prefetch_run(const struct radix_tree *t, uint64_t first, unsigned int nr)
{
	unsigned int i = 0, leaves = 0;

	if (!t || !t->root || nr == 0)
		return;
	while (i < nr && leaves++ < RADIX_PREFETCH_LEAVES) {
		uint64_t index = first + i;
		const struct radix_node *node = t->root;
		unsigned int digit = radix_digit(index, 0);
		unsigned int in_leaf = RADIX_TREE_MAP_SIZE - digit, n = MIN(in_leaf, nr - i);

		if (index < first || index > radix_max_index(t->height))
			return;
		for (unsigned int level = t->height - 1; node && level > 0; level--)
			node = node->slots[radix_digit(index, level)];
		if (node) {
			/* the lines holding slots [digit, digit + n) */
			for (uintptr_t a = ALIGN_DOWN((uintptr_t)&node->slots[digit], 64);
			     a < (uintptr_t)&node->slots[digit + n]; a += 64)
				prefetch((const void *)a);
		}
		i += in_leaf;
	}
}

/* Pop roots whose only child sits in slot 0. */
static void radix_tree_shrink(struct radix_tree *t)
{
	while (t->height > 1 && t->root->count == 1 && t->root->slots[0]) {
		struct radix_node *old = t->root;

		t->root = old->slots[0];
		t->height--;
		free(old);
	}
}

/**
 * radix_tree_delete - remove the item at @index, freeing nodes that become
 * empty and lowering the height when it can.
 * No locks taken; the caller serialises access to @t.
 * Return: the removed item, or NULL if @index was absent.
 */
void *radix_tree_delete(struct radix_tree *t, uint64_t index)
{
	struct radix_node *path[RADIX_TREE_MAX_HEIGHT];
	struct radix_node *node;
	unsigned int level, depth = 0;
	void *item;

	if (!t || !t->root || index > radix_max_index(t->height))
		return NULL;
	node = t->root;
	for (level = t->height - 1;; level--) {
		path[depth++] = node;
		if (level == 0)
			break;
		node = node->slots[radix_digit(index, level)];
		if (!node)
			return NULL;
	}
	item = node->slots[radix_digit(index, 0)];
	if (!item)
		return NULL;

	/* path[d] is the node at level height-1-d; clear upwards while empty. */
	for (level = 0; depth-- > 0; level++) {
		node = path[depth];
		node->slots[radix_digit(index, level)] = NULL;
		if (--node->count > 0)
			break;
		free(node);
		if (depth == 0) {
			t->root = NULL;
			t->height = 0;
		}
	}
	t->count--;
	if (t->root)
		radix_tree_shrink(t);
	return item;
}

struct radix_gang {
	void **results;
	uint64_t *indices;
	unsigned int nr, max;
};

/*
 * Collect items of the subtree @node (at @level) with keys >= @index, in
 * order, into @g.  @index lies within the subtree's key range.  Returns
 * true when @g is full.
 */
static bool radix_gang_collect(const struct radix_node *node, unsigned int level,
			       uint64_t index, struct radix_gang *g)
{
	unsigned int shift = level * RADIX_TREE_MAP_SHIFT;
	unsigned int off = radix_digit(index, level);
	uint64_t low_mask = shift + RADIX_TREE_MAP_SHIFT >= 64 ? UINT64_MAX :
			    ((uint64_t)1 << (shift + RADIX_TREE_MAP_SHIFT)) - 1;
	uint64_t prefix = index & ~low_mask;
	uint64_t start = index;

	for (; off < RADIX_TREE_MAP_SIZE; off++, start = prefix | ((uint64_t)off << shift)) {
		void *slot = node->slots[off];

		if (!slot)
			continue;
		if (level == 0) {
			g->results[g->nr] = slot;
			if (g->indices)
				g->indices[g->nr] = prefix | off;
			if (++g->nr == g->max)
				return true;
		} else if (radix_gang_collect(slot, level - 1, start, g)) {
			return true;
		}
	}
	return false;
}

/**
 * radix_tree_gang_lookup - up to @max items with keys >= @first, in key
 * order; their keys go to @indices if it is non-NULL.
 * No locks taken; the caller serialises against writers.
 * Return: the number of items stored in @results.
 */
unsigned int radix_tree_gang_lookup(const struct radix_tree *t, void **results,
				    uint64_t *indices, uint64_t first, unsigned int max)
{
	struct radix_gang g = { results, indices, 0, max };

	if (!t || !results || max == 0 || !t->root || first > radix_max_index(t->height))
		return 0;
	radix_gang_collect(t->root, t->height - 1, first, &g);
	return g.nr;
}

static void radix_node_free(struct radix_node *node, unsigned int level)
{
	unsigned int i;

	if (level > 0) {
		for (i = 0; i < RADIX_TREE_MAP_SIZE; i++)
			if (node->slots[i])
				radix_node_free(node->slots[i], level - 1);
	}
	free(node);
}

/**
 * radix_tree_destroy - free every node; the items are not touched.  The
 * tree is left empty and reusable.
 * No locks taken; the caller owns @t exclusively.
 */
void radix_tree_destroy(struct radix_tree *t)
{
	if (!t)
		return;
	if (t->root)
		radix_node_free(t->root, t->height - 1);
	radix_tree_init(t);
}

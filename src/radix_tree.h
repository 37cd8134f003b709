/* SPDX-License-Identifier: MIT */
/*
 * radix_tree.h - a 64-way radix tree mapping uint64_t keys to non-NULL
 * pointers; the page cache's index (like the kernel's xarray).
 *
 * Lookup is O(height) (height grows with the largest key: 11 levels cover
 * 64-bit keys, 3 levels cover 1 GiB of pages).  Ordered iteration finds the
 * next present key at or after an index.  Nodes are malloc'd; insertion
 * can fail with -ENOMEM and then leaves the tree unchanged.
 * No locking: the owner (the object's tree_lock) serialises access.
 */
#ifndef UMM_RADIX_TREE_H
#define UMM_RADIX_TREE_H

#include <stdint.h>
#include <stddef.h>

struct radix_node;
struct radix_tree {
	struct radix_node *root;
	unsigned int height;          /* 0 = empty */
	unsigned long count;          /* entries stored */
};

#define RADIX_TREE_INIT { NULL, 0, 0 }
static inline void radix_tree_init(struct radix_tree *t) { t->root = NULL; t->height = 0; t->count = 0; }
/* radix_tree_insert - 0, -EEXIST if the key is present, -ENOMEM, -EINVAL for NULL item. */
int radix_tree_insert(struct radix_tree *t, uint64_t index, void *item);
void *radix_tree_lookup(const struct radix_tree *t, uint64_t index);
/*
 * radix_tree_lookup_run - results[i] = the item at first + i (NULL if
 * absent) for i < nr, walking down once per leaf node.
 */
void radix_tree_lookup_run(const struct radix_tree *t, uint64_t first, unsigned int nr, void **results);
/*
 * radix_tree_prefetch_run - a hint: start loading the leaf slots that
 * radix_tree_lookup_run(first, nr) would read (see radix_tree.c).
 */
void radix_tree_prefetch_run(const struct radix_tree *t, uint64_t first, unsigned int nr);
/* radix_tree_delete - remove and return the item (NULL if absent); frees empty nodes. */
void *radix_tree_delete(struct radix_tree *t, uint64_t index);
/*
 * radix_tree_gang_lookup - up to `max` items with keys >= first, in key
 * order; their keys go to indices[] if non-NULL.  Returns the count.
 */
unsigned int radix_tree_gang_lookup(const struct radix_tree *t, void **results,
				    uint64_t *indices, uint64_t first, unsigned int max);
/* radix_tree_destroy - free all nodes (items are not touched). */
void radix_tree_destroy(struct radix_tree *t);

#endif

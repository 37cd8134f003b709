/* SPDX-License-Identifier: MIT */
/*
 * rbtree.h - intrusive red-black tree with an optional augmentation
 * callback (used to keep each VMA subtree's largest free gap).
 * No locking: the owner serialises access.
 */
#ifndef UMM_RBTREE_H
#define UMM_RBTREE_H

#include <stddef.h>
#include <stdbool.h>
#include "compiler.h"

struct rb_node {
	struct rb_node *rb_parent;
	struct rb_node *rb_left, *rb_right;
	int rb_color;                    /* RB_RED / RB_BLACK */
};
struct rb_root { struct rb_node *rb_node; };
#define RB_RED   0
#define RB_BLACK 1
#define RB_ROOT (struct rb_root){ NULL }
#define rb_entry(ptr, type, member) container_of(ptr, type, member)

/*
 * Augmentation: propagate(node, stop) recomputes the augmented value of
 * node and its ancestors up to (not including) stop; rotate(old, new) is
 * told that `new` took `old`'s place (copy old's value to new, recompute
 * old).  Pass NULL callbacks for a plain tree.
 */
struct rb_augment_callbacks {
	void (*propagate)(struct rb_node *node, struct rb_node *stop);
	void (*copy)(struct rb_node *old, struct rb_node *new_node);
	void (*rotate)(struct rb_node *old, struct rb_node *new_node);
};

/* rb_link_node - attach node as the child at *link under parent (then call rb_insert_*). */
static inline void rb_link_node(struct rb_node *node, struct rb_node *parent, struct rb_node **link)
{
	node->rb_parent = parent; node->rb_left = node->rb_right = NULL;
	node->rb_color = RB_RED; *link = node;
}
void rb_insert_color(struct rb_node *node, struct rb_root *root);
void rb_erase(struct rb_node *node, struct rb_root *root);
void rb_insert_augmented(struct rb_node *node, struct rb_root *root, const struct rb_augment_callbacks *aug);
void rb_erase_augmented(struct rb_node *node, struct rb_root *root, const struct rb_augment_callbacks *aug);
struct rb_node *rb_first(const struct rb_root *root);
struct rb_node *rb_last(const struct rb_root *root);
struct rb_node *rb_next(const struct rb_node *node);
struct rb_node *rb_prev(const struct rb_node *node);

#endif

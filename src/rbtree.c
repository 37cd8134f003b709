/* SPDX-License-Identifier: MIT */
/*
 * rbtree.c - intrusive red-black tree with optional augmentation.
 *
 * Theory of operation.  The tree keeps the classic invariants:
 *   1. every node is red or black; the root is black;
 *   2. a red node has no red child;
 *   3. every path from a node down to a NULL link crosses the same number
 *      of black nodes (its black height).
 * Together they bound the height by 2*log2(n+1).  Insertion links a red
 * leaf (rb_link_node) and then repairs rule 2 by recolouring upwards and at
 * most two rotations.  Erasure unlinks the node (a node with two children
 * is replaced by its in-order successor, which has at most one child) and,
 * if a black node left the tree, pushes the missing black up or settles it
 * with at most three rotations.
 *
 * Both fixups are written once for either side: `dir` is the side (0 left,
 * 1 right) and rb_child(n, dir) selects the link, so the mirrored cases of
 * the textbook algorithm share one body.
 *
 * Augmentation.  A caller that keeps a per-subtree summary in its nodes
 * passes callbacks.  The contract with those callbacks, as used here:
 *   - rb_insert_augmented() calls propagate(node, NULL) on the freshly
 *     linked node first, so every summary on the path to the root is
 *     recomputed before rebalancing; the caller need not prepare anything.
 *   - rb_erase_augmented() calls copy(node, successor) when a successor
 *     takes the erased node's place, then propagate(deepest, NULL) from the
 *     deepest node whose subtree lost a member, then rebalances.
 *   - every rotation calls rotate(old, new) after the links are updated:
 *     `new` now roots exactly the set `old` rooted before.
 * A summary may depend on a node's in-order neighbours: callbacks are
 * only invoked while the tree is a valid search tree, so rb_prev() and
 * rb_next() are safe inside them.  (The VMA tree caches each VMA's own
 * gap in the node, so its callbacks need neither and cost O(1).)
 *
 * No locking: the owner of the tree serialises all access.
 */
#include "rbtree.h"

static inline bool rb_is_red(const struct rb_node *n)
{
	return n && n->rb_color == RB_RED;
}

static inline bool rb_is_black(const struct rb_node *n)
{
	return !n || n->rb_color == RB_BLACK;
}

/* rb_child - the link on side `dir` (0 = left, 1 = right) of n. */
static inline struct rb_node **rb_child(struct rb_node *n, int dir)
{
	return dir ? &n->rb_right : &n->rb_left;
}

/* rb_replace_child - make `new_node` the child of parent that `old` was (or the root). */
static void rb_replace_child(struct rb_root *root, struct rb_node *parent,
			     struct rb_node *old, struct rb_node *new_node)
{
	if (!parent)
		root->rb_node = new_node;
	else if (parent->rb_left == old)
		parent->rb_left = new_node;
	else
		parent->rb_right = new_node;
}

/*
 * rb_rotate - move x down to side `dir`; its child on the other side takes
 * x's place.  In-order sequence is unchanged.
 */
static void rb_rotate(struct rb_root *root, struct rb_node *x, int dir,
		      const struct rb_augment_callbacks *aug)
{
	struct rb_node *y = *rb_child(x, !dir);
	struct rb_node *inner = *rb_child(y, dir);
	struct rb_node *parent = x->rb_parent;

	*rb_child(x, !dir) = inner;
	if (inner)
		inner->rb_parent = x;
	*rb_child(y, dir) = x;
	y->rb_parent = parent;
	rb_replace_child(root, parent, x, y);
	x->rb_parent = y;
	if (aug && aug->rotate)
		aug->rotate(x, y);
}

/* rb_insert_fixup - restore "no red child of a red node" above a red leaf. */
static void rb_insert_fixup(struct rb_node *node, struct rb_root *root,
			    const struct rb_augment_callbacks *aug)
{
	struct rb_node *parent, *gparent, *uncle;

	while ((parent = node->rb_parent) && parent->rb_color == RB_RED) {
		/* a red node is never the root, so the grandparent exists */
		gparent = parent->rb_parent;
		int dir = parent == gparent->rb_right;

		uncle = *rb_child(gparent, !dir);
		if (rb_is_red(uncle)) {
			/* push the red up two levels and retry from there */
			parent->rb_color = RB_BLACK;
			uncle->rb_color = RB_BLACK;
			gparent->rb_color = RB_RED;
			node = gparent;
			continue;
		}
		if (node == *rb_child(parent, !dir)) {
			/* inner grandchild: turn it into an outer one */
			rb_rotate(root, parent, dir, aug);
			node = parent;
			parent = node->rb_parent;
		}
		parent->rb_color = RB_BLACK;
		gparent->rb_color = RB_RED;
		rb_rotate(root, gparent, !dir, aug);
		break;
	}
	root->rb_node->rb_color = RB_BLACK;
}

/*
 * rb_erase_fixup - `node` (possibly NULL, child of `parent`) is one black
 * short of its sibling subtree; rebalance until the deficit is gone.
 */
static void rb_erase_fixup(struct rb_node *node, struct rb_node *parent, struct rb_root *root,
			   const struct rb_augment_callbacks *aug)
{
	struct rb_node *sib;

	while (node != root->rb_node && rb_is_black(node)) {
		/* node may be NULL: it is the left child iff the left link is it */
		int dir = parent->rb_left != node;

		/* the sibling subtree has black height >= 1, so sib != NULL */
		sib = *rb_child(parent, !dir);
		if (rb_is_red(sib)) {
			/* make the sibling black by rotating the red one above parent */
			sib->rb_color = RB_BLACK;
			parent->rb_color = RB_RED;
			rb_rotate(root, parent, dir, aug);
			sib = *rb_child(parent, !dir);
		}
		if (rb_is_black(sib->rb_left) && rb_is_black(sib->rb_right)) {
			/* take one black off both sides: parent carries the deficit */
			sib->rb_color = RB_RED;
			node = parent;
			parent = node->rb_parent;
			continue;
		}
		if (rb_is_black(*rb_child(sib, !dir))) {
			/* only the near nephew is red: make it the far one */
			(*rb_child(sib, dir))->rb_color = RB_BLACK;
			sib->rb_color = RB_RED;
			rb_rotate(root, sib, !dir, aug);
			sib = *rb_child(parent, !dir);
		}
		/* far nephew red: one rotation adds the missing black on node's side */
		sib->rb_color = parent->rb_color;
		parent->rb_color = RB_BLACK;
		(*rb_child(sib, !dir))->rb_color = RB_BLACK;
		rb_rotate(root, parent, dir, aug);
		node = root->rb_node;
		break;
	}
	if (node)
		node->rb_color = RB_BLACK;
}

/**
 * rb_insert_augmented - rebalance after rb_link_node() placed a new node.
 * @node: the node just linked (red, no children)
 * @root: its tree
 * @aug: callbacks, or NULL for a plain tree; propagate() is called on node
 *       first, so the caller need not update the summaries itself.
 */
void rb_insert_augmented(struct rb_node *node, struct rb_root *root,
			 const struct rb_augment_callbacks *aug)
{
	if (aug && aug->propagate)
		aug->propagate(node, NULL);
	rb_insert_fixup(node, root, aug);
}

/**
 * rb_insert_color - rebalance a plain (unaugmented) tree after rb_link_node().
 */
void rb_insert_color(struct rb_node *node, struct rb_root *root)
{
	rb_insert_fixup(node, root, NULL);
}

/*
 * rb_unlink_two - unlink a node with two children by moving its in-order
 * successor into its place.  Returns the successor's old colour (the colour
 * that left the tree); *childp and *parentp say where the hole is, *deepestp
 * the lowest node whose subtree lost a member.
 */
static int rb_unlink_two(struct rb_node *node, struct rb_root *root,
			 const struct rb_augment_callbacks *aug, struct rb_node **childp,
			 struct rb_node **parentp, struct rb_node **deepestp)
{
	struct rb_node *succ = node->rb_right;
	int color;

	while (succ->rb_left)
		succ = succ->rb_left;
	color = succ->rb_color;
	*childp = succ->rb_right;
	if (succ->rb_parent == node) {
		/* succ keeps its right subtree; the hole is below succ */
		*parentp = succ;
	} else {
		struct rb_node *sp = succ->rb_parent;

		sp->rb_left = succ->rb_right;
		if (succ->rb_right)
			succ->rb_right->rb_parent = sp;
		succ->rb_right = node->rb_right;
		node->rb_right->rb_parent = succ;
		*parentp = sp;
	}
	*deepestp = *parentp;
	succ->rb_left = node->rb_left;
	node->rb_left->rb_parent = succ;
	succ->rb_parent = node->rb_parent;
	succ->rb_color = node->rb_color;
	rb_replace_child(root, node->rb_parent, node, succ);
	if (aug && aug->copy)
		aug->copy(node, succ);
	return color;
}

/**
 * rb_erase_augmented - remove node from the tree and rebalance.
 * @node: a node in @root
 * @root: its tree
 * @aug: callbacks, or NULL for a plain tree
 *
 * The node's links are cleared; its memory is the caller's.
 */
void rb_erase_augmented(struct rb_node *node, struct rb_root *root,
			const struct rb_augment_callbacks *aug)
{
	struct rb_node *child, *parent, *deepest;
	int color;

	if (node->rb_left && node->rb_right) {
		color = rb_unlink_two(node, root, aug, &child, &parent, &deepest);
	} else {
		child = node->rb_left ? node->rb_left : node->rb_right;
		parent = node->rb_parent;
		color = node->rb_color;
		rb_replace_child(root, parent, node, child);
		if (child)
			child->rb_parent = parent;
		deepest = parent;
	}
	if (aug && aug->propagate && deepest)
		aug->propagate(deepest, NULL);
	if (color == RB_BLACK)
		rb_erase_fixup(child, parent, root, aug);
	node->rb_parent = node->rb_left = node->rb_right = NULL;
}

/**
 * rb_erase - remove node from a plain (unaugmented) tree.
 */
void rb_erase(struct rb_node *node, struct rb_root *root)
{
	rb_erase_augmented(node, root, NULL);
}

/**
 * rb_first - the leftmost (smallest) node, or NULL for an empty tree.
 */
struct rb_node *rb_first(const struct rb_root *root)
{
	struct rb_node *n = root->rb_node;

	if (!n)
		return NULL;
	while (n->rb_left)
		n = n->rb_left;
	return n;
}

/**
 * rb_last - the rightmost (largest) node, or NULL for an empty tree.
 */
struct rb_node *rb_last(const struct rb_root *root)
{
	struct rb_node *n = root->rb_node;

	if (!n)
		return NULL;
	while (n->rb_right)
		n = n->rb_right;
	return n;
}

/**
 * rb_next - the in-order successor of node, or NULL if it is the last.
 */
struct rb_node *rb_next(const struct rb_node *node)
{
	struct rb_node *n;

	if (node->rb_right) {
		n = node->rb_right;
		while (n->rb_left)
			n = n->rb_left;
		return n;
	}
	/* climb while we are a right child; the first left-child edge ends it */
	while ((n = node->rb_parent) && node == n->rb_right)
		node = n;
	return n;
}

/**
 * rb_prev - the in-order predecessor of node, or NULL if it is the first.
 */
struct rb_node *rb_prev(const struct rb_node *node)
{
	struct rb_node *n;

	if (node->rb_left) {
		n = node->rb_left;
		while (n->rb_right)
			n = n->rb_right;
		return n;
	}
	while ((n = node->rb_parent) && node == n->rb_left)
		node = n;
	return n;
}

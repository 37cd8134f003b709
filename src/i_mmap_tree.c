/* SPDX-License-Identifier: MIT */
/*
 * i_mmap_tree.c - the interval tree of an object's linear VMAs, keyed by
 * the object pages each maps: [vm_pgoff, vm_pgoff + pages - 1].
 *
 * Theory of operation.  An augmented red-black tree (rbtree.c) ordered by
 * first page; each node also keeps obj_subtree_last, the largest last
 * page in its subtree.  A query for the VMAs that map page range
 * [first, last] skips every subtree whose obj_subtree_last < first and,
 * the tree being ordered by first page, everything right of a node that
 * starts after last: it visits O(log n + k) nodes for k hits, so a page of
 * a large object mapped by many small windows does not visit every VMA
 * (the object rmap walk, rmap_object.c).  The object's i_mmap list keeps
 * holding every VMA too (truncate and the checks walk all of them).
 * Nonlinear VMAs (VM_NONLINEAR when linked) stay out of the tree: their
 * pages are anywhere; obj->i_mmap_nonlinear counts them so a walk scans
 * the list for them only when there are any.  A linked VMA that becomes
 * nonlinear must move out of the tree: vma_set_nonlinear() (vma.c).
 *
 * Locks: obj->i_mmap_lock for every call (vma.c takes it around link,
 * unlink and range changes; walkers around queries).
 */
#include "vma.h"
#include "object.h"

#define vma_of_obj(node) rb_entry(node, struct vm_area_struct, obj_rb)

static inline uint64_t vma_last_pgoff(const struct vm_area_struct *vma)
{
	return vma->vm_pgoff + vma_pages(vma) - 1;
}

static uint64_t subtree_last(const struct vm_area_struct *vma)
{
	uint64_t last = vma_last_pgoff(vma);

	if (vma->obj_rb.rb_left)
		last = MAX(last, vma_of_obj(vma->obj_rb.rb_left)->obj_subtree_last);
	if (vma->obj_rb.rb_right)
		last = MAX(last, vma_of_obj(vma->obj_rb.rb_right)->obj_subtree_last);
	return last;
}

static void itree_propagate(struct rb_node *node, struct rb_node *stop)
{
	for (; node != stop; node = node->rb_parent)
		vma_of_obj(node)->obj_subtree_last = subtree_last(vma_of_obj(node));
}

static void itree_copy(struct rb_node *old, struct rb_node *new_node)
{
	vma_of_obj(new_node)->obj_subtree_last = vma_of_obj(old)->obj_subtree_last;
}

static void itree_rotate(struct rb_node *old, struct rb_node *new_node)
{
	vma_of_obj(new_node)->obj_subtree_last = vma_of_obj(old)->obj_subtree_last;
	vma_of_obj(old)->obj_subtree_last = subtree_last(vma_of_obj(old));
}

static const struct rb_augment_callbacks itree_callbacks = {
	.propagate = itree_propagate,
	.copy = itree_copy,
	.rotate = itree_rotate,
};

/**
 * i_mmap_tree_insert - put a file VMA in its object's interval tree (or
 * count it as nonlinear).  obj->i_mmap_lock held.
 */
void i_mmap_tree_insert(struct umm_object *obj, struct vm_area_struct *vma)
{
	struct rb_node **link = &obj->i_mmap_tree.rb_node, *parent = NULL;

	lockdep_assert_held(&obj->i_mmap_lock);
	VM_BUG_ON(vma->obj_in_tree);
	if (vma->vm_flags & VM_NONLINEAR) {
		obj->i_mmap_nonlinear++;
		return;
	}
	vma->obj_in_tree = true;
	while (*link) {
		struct vm_area_struct *cur = vma_of_obj(*link);

		parent = *link;
		if (cur->obj_subtree_last < vma_last_pgoff(vma))
			cur->obj_subtree_last = vma_last_pgoff(vma);
		link = vma->vm_pgoff < cur->vm_pgoff ? &parent->rb_left : &parent->rb_right;
	}
	vma->obj_subtree_last = vma_last_pgoff(vma);
	rb_link_node(&vma->obj_rb, parent, link);
	rb_insert_augmented(&vma->obj_rb, &obj->i_mmap_tree, &itree_callbacks);
}

/**
 * i_mmap_tree_remove - take a file VMA out of the tree (or the nonlinear
 * count, if it was inserted as nonlinear), with the range it was
 * inserted with.  i_mmap_lock held.
 */
void i_mmap_tree_remove(struct umm_object *obj, struct vm_area_struct *vma)
{
	lockdep_assert_held(&obj->i_mmap_lock);
	if (!vma->obj_in_tree) {
		VM_BUG_ON(obj->i_mmap_nonlinear == 0);
		obj->i_mmap_nonlinear--;
		return;
	}
	rb_erase_augmented(&vma->obj_rb, &obj->i_mmap_tree, &itree_callbacks);
	vma->obj_in_tree = false;
}

static int itree_visit(struct rb_node *node, uint64_t first, uint64_t last,
		       int (*fn)(struct vm_area_struct *vma, void *arg), void *arg)
{
	struct vm_area_struct *vma;
	int ret;

	while (node) {
		vma = vma_of_obj(node);
		if (vma->obj_subtree_last < first)
			return 0;
		ret = itree_visit(node->rb_left, first, last, fn, arg);
		if (ret)
			return ret;
		if (vma->vm_pgoff > last)
			return 0;
		if (vma_last_pgoff(vma) >= first) {
			ret = fn(vma, arg);
			if (ret)
				return ret;
		}
		node = node->rb_right;
	}
	return 0;
}

/**
 * i_mmap_tree_foreach - call fn for each linear VMA of obj that maps a
 * page of [first, last], in pgoff order; a non-zero return stops the
 * walk and is returned.  Nonlinear VMAs are not visited.  i_mmap_lock held.
 */
int i_mmap_tree_foreach(struct umm_object *obj, uint64_t first, uint64_t last,
			int (*fn)(struct vm_area_struct *vma, void *arg), void *arg)
{
	lockdep_assert_held(&obj->i_mmap_lock);
	return itree_visit(obj->i_mmap_tree.rb_node, first, last, fn, arg);
}

/* SPDX-License-Identifier: MIT */
/*
 * compiler.h - small helpers shared by every source file: lists,
 * container_of, branch hints and the debug-check macros.
 *
 * Debug levels (set with -DUMM_DEBUG=N):
 *   0  VM_BUG_ON() compiles to nothing but stays type-checked.
 *   1  VM_BUG_ON() aborts with file:line on a broken invariant.
 * Expensive whole-structure checks (umm_mm_check) are run after every
 * operation when a system is created with cfg.debug_checks set.
 */
#ifndef UMM_COMPILER_H
#define UMM_COMPILER_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include "log.h"

#ifndef UMM_DEBUG
#define UMM_DEBUG 0
#endif

/* prefetch / prefetchw - start bringing the line at p into the cache, to read / to write */
#define prefetch(p)  __builtin_prefetch((p), 0)
#define prefetchw(p) __builtin_prefetch((p), 1)

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ALIGN_UP(x, a)   (((x) + ((a) - 1)) & ~((__typeof__(x))(a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a) - 1))
#define IS_ALIGNED(x, a) (((x) & ((__typeof__(x))(a) - 1)) == 0)
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

void umm_bug(const char *file, int line, const char *cond) __attribute__((noreturn));

#if UMM_DEBUG
#define VM_BUG_ON(cond) do { if (unlikely(cond)) umm_bug(__FILE__, __LINE__, #cond); } while (0)
#define VM_WARN_ON(cond) ({ bool __w = !!(cond); \
	if (unlikely(__w)) { pr_warn(NULL, "warning %s:%d: %s", __FILE__, __LINE__, #cond); } \
	__w; })
#else
#define VM_BUG_ON(cond) do { if (0) { (void)(cond); } } while (0)
#define VM_WARN_ON(cond) ({ (void)sizeof(cond); false; })
#endif
/* Always-on check for conditions that mean memory corruption. */
#define BUG_ON(cond) do { if (unlikely(cond)) umm_bug(__FILE__, __LINE__, #cond); } while (0)

/* ---- doubly linked circular list, the kernel's list_head ---- */
struct list_head { struct list_head *next, *prev; };

#define LIST_HEAD_INIT(name) { &(name), &(name) }
static inline void INIT_LIST_HEAD(struct list_head *l) { l->next = l; l->prev = l; }
static inline bool list_empty(const struct list_head *h) { return h->next == h; }
static inline void __list_add(struct list_head *n, struct list_head *prev, struct list_head *next)
{
	next->prev = n; n->next = next; n->prev = prev; prev->next = n;
}
static inline void list_add(struct list_head *n, struct list_head *h) { __list_add(n, h, h->next); }
static inline void list_add_tail(struct list_head *n, struct list_head *h) { __list_add(n, h->prev, h); }
static inline void list_del_init(struct list_head *e)
{
	e->next->prev = e->prev; e->prev->next = e->next; INIT_LIST_HEAD(e);
}
static inline void list_del(struct list_head *e) { list_del_init(e); }
static inline void list_move(struct list_head *e, struct list_head *h) { list_del(e); list_add(e, h); }
static inline void list_move_tail(struct list_head *e, struct list_head *h) { list_del(e); list_add_tail(e, h); }
#define list_entry(ptr, type, member) container_of(ptr, type, member)
#define list_first_entry(h, type, member) list_entry((h)->next, type, member)
#define list_for_each(p, h) for (p = (h)->next; p != (h); p = p->next)
#define list_for_each_safe(p, n, h) for (p = (h)->next, n = p->next; p != (h); p = n, n = p->next)
#define list_for_each_entry(pos, h, member) \
	for (pos = list_entry((h)->next, __typeof__(*pos), member); \
	     &pos->member != (h); pos = list_entry(pos->member.next, __typeof__(*pos), member))
#define list_for_each_entry_safe(pos, n, h, member) \
	for (pos = list_entry((h)->next, __typeof__(*pos), member), \
	     n = list_entry(pos->member.next, __typeof__(*pos), member); \
	     &pos->member != (h); pos = n, n = list_entry(n->member.next, __typeof__(*n), member))

#endif /* UMM_COMPILER_H */

/* SPDX-License-Identifier: MIT */
/*
 * usermm/access.h - the software MMU: access an address space's memory.
 *
 * umm_read/umm_write copy across page and VMA boundaries, faulting pages in
 * as a CPU would.  Translations are cached in a per-thread software TLB
 * tagged by address space; it never serves a stale translation.  Return
 * 0, -EINVAL (NULL mm or buffer), -EFAULT (SIGSEGV), -EIO (SIGBUS) or
 * -ENOMEM.  On error, bytes before
 * the failing page may already have been copied (as with a real CPU).
 */
#ifndef USERMM_ACCESS_H
#define USERMM_ACCESS_H

#include "system.h"

#ifdef __cplusplus
extern "C" {
#endif

int  umm_read(struct umm_mm *mm, uintptr_t addr, void *buf, size_t len);
int  umm_write(struct umm_mm *mm, uintptr_t addr, const void *buf, size_t len);

/*
 * umm_tlb_idle - a hint from a thread about to leave every address space
 * alone for a while (a worker going to sleep on a queue, a vCPU thread
 * halting): it drops the calling thread's cached translations.  A thread
 * keeps them until its next access otherwise, and another thread's
 * copy-on-write break, mprotect or munmap in a 2 MiB region it once
 * touched then pays a cross-thread barrier (a membarrier system call) on
 * its account.  Costs the calling thread only: its next accesses refill.
 */
void umm_tlb_idle(void);

/*
 * Loads and stores of 1, 2, 4 or 8 bytes (any alignment), like a CPU's:
 *
 *   int umm_load_u8/u16/u32/u64(struct umm_mm *mm, uintptr_t addr, uintN_t *out);
 *   int umm_store_u8/u16/u32/u64(struct umm_mm *mm, uintptr_t addr, uintN_t val);
 *
 * They are inline: when the calling thread's software TLB holds the
 * page's translation and the access stays within one page, they cost a
 * few loads and stores and no call.  The inline path serves one address
 * space per thread at a time, the one of the thread's last access that
 * went through a call.  Anything else (a miss, a page
 * crossing, a flushed translation, a bad argument) goes to umm_read /
 * umm_write, so the results are theirs: 0, -EINVAL (NULL mm or out),
 * -EFAULT, -EIO, -ENOMEM.  A load stores to *out only on success; a store
 * that crosses into a page it may not write may have written the bytes
 * before that page, as umm_write does.  Bytes are in host byte order.
 */

/*
 * ---- internal: what the inline functions read ----
 * Not API.  The inline code is compiled into programs, so these layouts
 * are part of the library's ABI: a release that changes them must change
 * the SONAME.
 */

#define UMM_TLB_PROT_READ  1u
#define UMM_TLB_PROT_WRITE 2u

/* One software-TLB entry (src/soft_mmu.c); 1 << UMM_TLB_ENTRY_SHIFT bytes. */
#define UMM_TLB_ENTRY_SHIFT 5
struct umm_tlb_entry {
	uintptr_t vaddr;            /* page address */
	uint64_t  tag;              /* context tag it was filled under; 0 = empty */
	char     *host;             /* the frame's bytes */
	uint32_t  prot;             /* UMM_TLB_PROT_* */
	uint32_t  epoch;            /* resize accounting */
};

/*
 * The calling thread's TLB state for the inline path: its current
 * context (the address space of its last out-of-line access) and the
 * access window flushers watch (active, active_gen).  Written only by its
 * thread; other threads read active and active_gen.
 */
struct umm_tlb_hot {
	uint64_t active;            /* mm id of the access in progress, 0 = none */
	uint64_t active_gen;        /* tlb_gen an out-of-line access caught up to, else 0 */
	uint64_t mm_id;             /* current context's mm id, 0 = none */
	uint64_t gen;               /* the mm's tlb_gen its entries are current for */
	uint64_t tag;               /* its entries' tag */
	uint64_t salt;              /* index mixing, << UMM_TLB_ENTRY_SHIFT */
	const struct umm_tlb_entry *entries;
	uintptr_t mask;             /* (entries - 1) << UMM_TLB_ENTRY_SHIFT: a byte offset mask */
	unsigned long hits;         /* pages served by umm_read/umm_write's own hit path */
	unsigned int strong;        /* no membarrier: entering needs a full fence, and
	                               the inline path is kept off (mm_id 0) */
};

/* The first bytes of every struct umm_mm. */
struct umm_mm_head {
	uint64_t tlb_gen;           /* bumped by every cross-thread TLB shootdown */
	uint64_t id;                /* never reused */
}
#if defined(__GNUC__)
__attribute__((may_alias))
#endif
;

#if defined(__GNUC__)
#define UMM_INLINE_ACCESS 1        /* the inline hit path is compiled in */

/*
 * initial-exec: one thread-pointer-relative load.  A program that links
 * libusermm.so gets this block at startup; dlopen() of libusermm.so works
 * only while the C library's spare static TLS space lasts (glibc keeps a
 * little for that), else it fails with "cannot allocate memory in static
 * TLS block".
 */
extern __thread struct umm_tlb_hot umm_tlb_hot __attribute__((tls_model("initial-exec")));

#if defined(__SANITIZE_THREAD__)
#define UMM_TLB_SEQ_CST 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UMM_TLB_SEQ_CST 1
#endif
#endif

/*
 * umm_tlb_begin - if the calling thread's TLB holds a translation for
 * [addr, addr + n) (within one page) allowing `need`, that is still
 * current, open an access window, set *hostp to the host address of addr
 * and return 1; umm_tlb_end() closes the window.  Otherwise return 0 with
 * nothing open.  The window protocol is described at the top of
 * src/soft_mmu.c.
 */
static inline __attribute__((always_inline)) int
umm_tlb_begin(struct umm_mm *mm, uintptr_t addr, size_t n, unsigned int need, char **hostp)
{
	struct umm_tlb_hot *t = &umm_tlb_hot;
	const struct umm_mm_head *h = (const struct umm_mm_head *)(const void *)mm;
	uintptr_t off = addr & (UMM_PAGE_SIZE - 1);
	const struct umm_tlb_entry *e;
	uint64_t gen;

	/* (a constant n is at most 8 here; a variable one may exceed a page) */
	if (__builtin_expect(!mm || (__builtin_constant_p(n) ? off > UMM_PAGE_SIZE - n :
				     n > UMM_PAGE_SIZE - off) || h->id != t->mm_id, 0))
		return 0;
	/* entry ((addr >> UMM_PAGE_SHIFT) ^ salt) & (entries - 1), as a byte offset */
	e = (const struct umm_tlb_entry *)(const void *)((const char *)t->entries +
		(((addr >> (UMM_PAGE_SHIFT - UMM_TLB_ENTRY_SHIFT)) ^ t->salt) & t->mask));
	if (__builtin_expect(e->vaddr != addr - off || e->tag != t->tag ||
			     (need != UMM_TLB_PROT_READ && !(e->prot & need)), 0))
		return 0;
#ifdef UMM_TLB_SEQ_CST
	__atomic_store_n(&t->active, t->mm_id, __ATOMIC_SEQ_CST);
	gen = __atomic_load_n(&h->tlb_gen, __ATOMIC_SEQ_CST);
#else
	__atomic_store_n(&t->active, t->mm_id, __ATOMIC_RELEASE);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);    /* the flusher's membarrier does the rest */
	gen = __atomic_load_n(&h->tlb_gen, __ATOMIC_ACQUIRE);
#endif
	if (__builtin_expect(gen != t->gen, 0)) {
		__atomic_store_n(&t->active, 0, __ATOMIC_RELEASE);
		return 0;
	}
	*hostp = e->host + off;
	return 1;
}

static inline __attribute__((always_inline)) void umm_tlb_end(void)
{
	__atomic_store_n(&umm_tlb_hot.active, 0, __ATOMIC_RELEASE);
}

/*
 * The fallback keeps its own local, so that the hit path takes no address
 * of a local (and the functions, all static inline, leave no reference to
 * the library in a program that includes this header without using them).
 */
#define UMM_DEFINE_LOAD_STORE(bits)							\
static inline int umm_load_u##bits(struct umm_mm *mm, uintptr_t addr, uint##bits##_t *out)	\
{											\
	char *p;									\
											\
	if (__builtin_expect(out && umm_tlb_begin(mm, addr, sizeof(*out), UMM_TLB_PROT_READ, &p), 1)) { \
		__builtin_memcpy(out, p, sizeof(*out));					\
		umm_tlb_end();								\
		return 0;								\
	} else {									\
		uint##bits##_t w;							\
		int err = umm_read(mm, addr, out ? &w : 0, sizeof(w));			\
											\
		if (!err)								\
			*out = w;							\
		return err;								\
	}										\
}											\
static inline int umm_store_u##bits(struct umm_mm *mm, uintptr_t addr, uint##bits##_t val)	\
{											\
	char *p;									\
											\
	if (__builtin_expect(umm_tlb_begin(mm, addr, sizeof(val), UMM_TLB_PROT_WRITE, &p), 1)) { \
		__builtin_memcpy(p, &val, sizeof(val));					\
		umm_tlb_end();								\
		return 0;								\
	}										\
	return umm_write(mm, addr, &val, sizeof(val));					\
}

#else /* no inline hit path: the same functions over umm_read/umm_write */

#define UMM_DEFINE_LOAD_STORE(bits)							\
static inline int umm_load_u##bits(struct umm_mm *mm, uintptr_t addr, uint##bits##_t *out)	\
{											\
	uint##bits##_t v;								\
	int err = umm_read(mm, addr, out ? &v : 0, sizeof(v));				\
											\
	if (!err)									\
		*out = v;								\
	return err;									\
}											\
static inline int umm_store_u##bits(struct umm_mm *mm, uintptr_t addr, uint##bits##_t val)	\
{											\
	return umm_write(mm, addr, &val, sizeof(val));					\
}
#endif

UMM_DEFINE_LOAD_STORE(8)
UMM_DEFINE_LOAD_STORE(16)
UMM_DEFINE_LOAD_STORE(32)
UMM_DEFINE_LOAD_STORE(64)
#undef UMM_DEFINE_LOAD_STORE

/*
 * Zero-copy access, like get_user_pages(): fault in and pin `nr_pages`
 * pages from page-aligned `addr`; pages[i] receives an opaque handle whose
 * bytes umm_page_address() gives.  UMM_PIN_WRITE faults for writing
 * (breaking copy-on-write) and marks the pages dirty on unpin.  A pinned
 * frame is never freed or reused until unpinned, even if it is unmapped.
 * Returns the number of pages pinned (all of them), or a negative errno
 * with nothing pinned (-EINVAL for a NULL mm or pages, an unaligned addr,
 * unknown flags, or UMM_PIN_FORCE without UMM_PIN_WRITE; -EFAULT for a
 * range that wraps; otherwise the fault's error).  nr_pages 0 pins
 * nothing and returns 0.
 *
 * A pin stays attached to its mapping (the semantics of Linux 5.19 and
 * later).  Until the page is unpinned, or the mapping itself goes:
 *   - the pinned frame IS the page the address space reads and writes at
 *     that address: stores through the pin are seen by umm_read, and
 *     umm_write reaches the pinned frame, across umm_mprotect round trips
 *     (PROT_READ and back) and after umm_fork;
 *   - a private anonymous page (or private copy of a file page) that is
 *     pinned is exclusive to the pinning address space: umm_fork gives the
 *     child its own copy at once, so nothing stored through the parent's
 *     pin is ever seen by the child, and the parent's later writes do not
 *     copy the page away from the pin.  Read pins also unshare a page the
 *     address space shares copy-on-write with another one;
 *   - umm_mremap moves the page with its pte: the pin follows it to the
 *     new address.
 * What detaches a pin is only the end of the mapping (umm_munmap, a
 * MAP_FIXED mapping over it, truncation of the file below the page,
 * destroying the address space) and discarding the page with
 * umm_madvise(MADV_DONTNEED).
 * The pinned frame then stays valid (and holds what was stored through
 * it) until unpinned, but no longer belongs to the address space: a later
 * access or pin sees a fresh page.  A pin of a shared (file or shmem)
 * mapping pins the object's page itself, shared by every mapping of it.
 * One exception, as in Linux: a read pin of a private mapping's page that
 * was never written pins the page it reads, the file's page-cache page or
 * the shared zero page; a later write to the mapping gives the mapping a
 * private copy, which that read pin does not follow (a write pin never has
 * this problem: it makes the private copy first).
 *
 * UMM_PIN_FORCE, with UMM_PIN_WRITE (Linux's FOLL_FORCE, what a debugger
 * uses to poke memory): allows a write pin of a private mapping that is
 * not writable (PROT_READ or PROT_EXEC, not PROT_NONE).  It breaks
 * copy-on-write into a private anonymous copy, which the pin gets; the
 * mapping's own accesses stay read-only (umm_write still fails with
 * -EFAULT) and the file is never written.  A forced write pin of a shared
 * mapping without PROT_WRITE fails with -EFAULT.
 */
#define UMM_PIN_WRITE 0x1
#define UMM_PIN_FORCE 0x2
struct umm_page;
long  umm_pin_pages(struct umm_mm *mm, uintptr_t addr, size_t nr_pages, int flags,
                    struct umm_page **pages);
void  umm_unpin_pages(struct umm_page **pages, size_t nr_pages, int flags);
void *umm_page_address(struct umm_page *page);

#ifdef __cplusplus
}
#endif
#endif

/* SPDX-License-Identifier: MIT */
/*
 * soft_mmu.c - the software MMU: umm_read/umm_write through a per-thread
 * software TLB, and the TLB shootdown (flush_tlb_range).  Pinning
 * (umm_pin_pages) is the core's, in gup.c.
 *
 * The TLB is an MMU notifier consumer: tlb_setup registers soft_tlb_notifier
 * as the built-in consumer (mmu_notifier.h), whose invalidate_secondary_tlbs
 * is flush_tlb_range.  The core calls it through the notifier layer after
 * every pte change and before the frames go; it never calls this file.
 * Registration happens before this process's first TLB entry can exist
 * (tlb_current runs tlb_init before the first fill), and a flush that
 * found no consumer had no entry to drop (a fill reads the pte under the
 * lock the flusher changed it under, as with tlb_owner below).
 *
 * The TLB.  Each thread that accesses an address space gets a struct
 * soft_tlb (allocated on first use, listed in a process-wide registry,
 * freed by a pthread key destructor at thread exit).  Its entries form a
 * direct-mapped array indexed by virtual page number (mixed with a salt
 * per mm); an entry holds the page address, the host pointer to the
 * frame's bytes and a permission (read, or read+write).  Entries are not
 * tagged with the mm directly but with a context tag: the thread keeps a
 * few context slots, one per mm it touched recently, each holding the
 * mm's id, a tag and the mm->tlb_gen its entries are current for.  Tags
 * are per-thread and never reused, so dropping all of a thread's entries
 * for an mm is one new tag, and entries of an evicted slot, of another mm
 * or of a destroyed mm (mm ids are never reused) can never match.
 *
 * The inline path.  The hit path also exists inline in <usermm/access.h>
 * (umm_load_u8..u64, umm_store_u8..u64; umm_read/umm_write run the same
 * code first).  It reads the thread's struct umm_tlb_hot (initial-exec
 * TLS, exported as umm_tlb_hot), the entries array and the first line of
 * the mm (tlb_gen and id, struct umm_mm_head; checked against struct
 * umm_mm below).  umm_tlb_hot holds a copy of one context, the one of the
 * thread's last out-of-line access: mm id, tag, gen, salt, plus the array
 * and its mask.  tlb_hot_set() writes it at the end of every out-of-line
 * access and after a local flush, when every entry with that tag is
 * current for that gen; nothing else changes a context's tag or gen
 * without going through one of those first.  The inline path never
 * fills, catches up, resizes or counts: anything but a current hit goes
 * out of line.
 *
 * The array is sized like QEMU's softmmu: 256 entries to start with; at
 * checkpoints (every `size` fills and at every full flush) the share of
 * entries filled since the last checkpoint decides: at least half -> the
 * array doubles (up to 64K entries); under 30% for a whole 100 ms window
 * -> it halves.  The resize itself is done at the start of the next
 * access, when the thread holds no lock, and drops every entry.
 *
 * Generations and shootdown.  flush_tlb_range(mm, start, end) bumps
 * mm->tlb_gen and records (mm id, gen, start, end) in a small flush log.
 * A thread that finds mm->tlb_gen ahead of its slot's gen catches up
 * before it uses any entry: if it is at most TLB_SYNC_MAX_GENS behind and
 * the log still holds every missed flush, it drops only the entries in the
 * logged ranges; otherwise it drops all of its entries for the mm.  Each
 * gen of an mm is logged under the log lock in the same critical section
 * that publishes it, so a reader that has seen gen G finds the records of
 * every gen up to G (or notices one was overwritten: (mm id, gen) pairs
 * never repeat).
 *
 * The access protocol.  An access is a window in which a thread uses its
 * entries for one mm:
 *
 *   out-of-line reader           inline reader         flusher (flush_tlb_range)
 *   active_gen = 0                                     pte changes (under ptl)
 *   active = mm->id  (release)   active = mm->id       tlb_gen = g      (seq_cst)
 *   -- store->load barrier --    -- same --            -- store->load barrier --
 *   G = mm->tlb_gen              G = mm->tlb_gen       for each other TLB that
 *   catch up to G                G != hot gen: leave,    may hold entries:
 *   active_gen = G   (release)     go out of line        wait while active == mm->id
 *   hits: copy                   hit: copy                 && active_gen < g
 *   active_gen = 0               active = 0
 *   active = 0       (release)
 *
 * The barriers make it a Dekker pattern: either the reader's load sees g
 * (it drops the flushed entries, or leaves, before using any), or the
 * flusher's load sees the reader's active (it waits until that access
 * ends or shows it caught up to g).  So when flush_tlb_range returns, no
 * access, inline or not, is still using a translation it removed, and the
 * core may free the frames.  Accesses that start later load gen >= g.
 * active_gen is 0 whenever no out-of-line access is running (it is zeroed
 * before active is published and again before active is cleared), so the
 * inline path, which never writes it, is never credited with another
 * access's catch-up: a value the flusher reads after seeing active belongs
 * to this access or a later one (which means this one ended).
 *
 * Only threads whose entries may cover the range are waited for (see
 * "Flushes by range"); the others load the new gen at their next access
 * and catch up, which for them drops nothing that matters.
 *
 * Flushes nobody else needs.  mm->tlb_owner says which TLBs may hold
 * entries for the mm: 0 (none ever did), a TLB's id (only that one), or
 * TLB_OWNER_MANY, sticky.  A thread records itself there when it takes a
 * context slot for the mm, before its first fill (tlb_set_owner).  A
 * flush that finds 0, or the caller's own TLB, takes neither the log nor
 * any barrier: there is nothing to do, or the caller drops its own
 * entries at once (it is never inside an access when it flushes) and
 * leaves tlb_gen alone.  That is safe because a fill reads the pte under
 * the lock the flusher held to change it: if another thread filled an
 * entry from the old pte, its fill's critical section came first, so its
 * earlier tlb_owner store is visible to the flusher's later load, which
 * then finds TLB_OWNER_MANY (or that thread's id) and takes the shootdown
 * path; if its fill came after the change, it read the new pte.  (This
 * needs every flushed pte change to be made under the pte's lock.)  A
 * copy-on-write break in an mm only one thread uses thus costs a few loads
 * and one entry probe.  The precision is a catch-up's: after
 * TLB_SYNC_MAX_GENS local flushes with no out-of-line access in between,
 * the next drops all of the mm's entries and later ones have nothing to
 * drop (a large unmap flushes batch by batch).
 *
 * Flushes by range.  The same argument, per region instead of per mm,
 * makes a flush local when other threads use the mm but none of them can
 * hold an entry in the flushed range: threads faulting, or breaking
 * copy-on-write in, disjoint parts of one address space never wait for
 * each other.  Each context slot has a span, a 256-bit set of 2 MiB
 * regions (bit (address >> 21) % 256, so regions 512 MiB apart share a
 * bit) in which entries with its current tag may lie, published word by
 * word in slot_span next to slot_mm.  (With 64 bits, regions 128 MiB
 * apart shared one: four threads on 64 MiB each of one mapping met in
 * pairs, and every copy-on-write flush ran the protocol.)  A fill sets its page's bit before it
 * installs the entry, while it holds the lock of the pte table it read
 * the pte from.  A bit is cleared only after every entry it covered was
 * dropped: a new tag (a full flush of the context, a slot taken for
 * another mm) empties the span, as does a resize (every entry is gone),
 * and a range dropped by scanning the whole array leaves the bits of the
 * entries that stay; a range dropped by probing its pages leaves the span
 * as it is (a superset is safe).  The owner drops entries only outside
 * its accesses, so no entry is in use when its bit goes.
 *
 * A flusher whose mm another TLB may hold entries of (tlb_owner) reads,
 * for every other TLB, the spans of its slots for the mm.  If none meets
 * the range's bits, the flush is done without the protocol (no gen, no
 * log, no barrier); otherwise it runs the protocol above, waiting for the
 * TLBs whose span meets the range.  Either way the flusher drops its own
 * entries of the range at once (it is not inside an access), so a thread
 * that unmaps, forks or protects a range and then leaves it alone does
 * not cover it with its span until its next access.  Why skipping is
 * safe: the flusher changed the ptes under their table lock before it
 * reads a span.  If another thread filled an entry from an old pte, that
 * fill held the same lock earlier and set the bit under it, so the
 * flusher reads that store or a later one: the bit still set, or cleared
 * after the entry was dropped.  The slot's mm id is published before its
 * first fill, so the same lock publishes it (a later mm id in the slot
 * means a new tag: the entry is gone).  A fill after the change read the
 * new pte.  (Again: every flushed pte change must be made under its table
 * lock.)  Mappings whose length is a multiple of 2 MiB are placed on a
 * 2 MiB boundary (vma.c), so threads working on 2 MiB-aligned parts of
 * one share no region bit.
 *
 * The barrier is asymmetric where the kernel allows: readers issue only a
 * compiler barrier and the flusher calls membarrier(PRIVATE_EXPEDITED),
 * which runs a full barrier on every CPU running one of our threads.
 * Without membarrier both sides use seq_cst fences, and the inline path,
 * which has no fence, is kept off (umm_tlb_hot.mm_id stays 0); under
 * ThreadSanitizer (which does not model membarrier or fences) the
 * accesses themselves are seq_cst, in the library and in the inline code
 * of a program built with TSan (mixing TSan and non-TSan code is not
 * supported).  UMM_TLB_MEMBARRIER=0 in the environment forces the fence
 * path (read once, at first use).
 *
 * Filling.  A miss takes mmap_lock (read) and the pte table's lock (ptl)
 * with the thread NOT active, because a flusher may hold either while it
 * waits for active threads.  follow_or_fault() returns with ptl held once
 * the access is allowed (having faulted if needed, one ptl round trip);
 * the thread then publishes active and loads tlb_gen (still under ptl),
 * catches up, installs the entry and drops the locks while staying
 * active; the copy that follows is thus covered from the moment the pte
 * was read.  A flush whose gen the thread loaded changed its ptes (under
 * the same table's ptl) before publishing that gen under or after that
 * ptl, so the pte read under ptl already reflects it: an entry is never
 * newer-tagged than the pte it came from.  Every fill lets
 * the access make at least one page of progress (no livelock when other
 * threads flush continuously).  A read fills a read-only entry unless the
 * pte is writable and already dirty; a write fills read+write (the walk
 * set dirty).  No lock is held during any memcpy.
 *
 * Locks (the order is in lockdep.h): mm->mmap_lock (read) -> pte table
 * lock -> flush log lock (leaf).  tlb_registry_lock (percpu_rwsem.h, a
 * reader count per thread slot, so flushers on different threads do not
 * share a lock word; leaf): flushers hold it for read while they read the
 * spans and wait for active accesses, which take no lock while active
 * except the flush log lock; threads register (write) before their first
 * access and unregister at exit, never while active.  The inline path and
 * a flush of an mm only this thread used take no lock; a flush by range
 * takes only the registry lock for read.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/membarrier.h>
#include <usermm/access.h>
#include "host_mmu.h"
#include "memory.h"
#include "tlb.h"
#include "mmu_notifier.h"
#include "percpu_rwsem.h"

#if defined(__SANITIZE_THREAD__)
#define TLB_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TLB_TSAN 1
#endif
#endif
#ifndef TLB_TSAN
#define TLB_TSAN 0
#endif

#define TLB_MIN_BITS       8        /* 256 entries */
#define TLB_MAX_BITS       16       /* 64K entries */
#define TLB_NR_CTX         8        /* mms a thread keeps entries for */
#define TLB_PREFETCH_MAX   16       /* entries soft_tlb_prefetch starts loading, at most */
#define TLB_SYNC_MAX_GENS  8        /* catch up range by range at most this far */
#define TLB_PROBE_MAX      256      /* pages of a range dropped one by one */
#define TLB_SCAN_MAX_BITS  12       /* else scan tables up to this size */
#define TLB_GROW_PCT       50
#define TLB_SHRINK_PCT     30
#define TLB_SHRINK_WINDOW_NS 100000000ull
#define TLB_SPAN_SHIFT     21       /* a span bit covers 2 MiB regions (one pte table's reach) */
#define TLB_SPAN_WORDS     4        /* 256 span bits: regions 512 MiB apart share one */
#define TLB_SPAN_BITS      (TLB_SPAN_WORDS * 64)

#define TLB_PROT_READ  UMM_TLB_PROT_READ
#define TLB_PROT_WRITE UMM_TLB_PROT_WRITE
#define TLB_GEN_NONE   UINT64_MAX   /* slot not yet synced to its mm */
#define TLB_OWNER_MANY UINT64_MAX   /* mm->tlb_owner: more than one TLB may hold entries */

/* struct umm_tlb_entry (usermm/access.h): the inline hit path reads the entries too. */

/* A context slot: this thread's entries for one mm. */
struct tlb_ctx {
	uint64_t mm_id;             /* 0 = unused */
	uint64_t tag;
	uint64_t gen;               /* mm->tlb_gen the entries are current for */
	uint64_t salt;              /* index mixing, so two mms' hot pages spread */
	uint64_t last_use;          /* LRU among slots */
	uint64_t span[TLB_SPAN_WORDS]; /* regions this tag's entries may lie in (span_index) */
	unsigned int nr_local;      /* local flushes since the last out-of-line access */
};

struct soft_tlb {
	/* Read by flushers (other threads). */
	struct umm_tlb_hot *hot;    /* the owner's umm_tlb_hot: active, active_gen */
	_Atomic uint64_t slot_mm[TLB_NR_CTX]; /* ctx[i].mm_id, published for flushers */
	_Atomic uint64_t slot_span[TLB_NR_CTX][TLB_SPAN_WORDS]; /* ctx[i].span, published for flushers */
	struct list_head link;      /* tlb_registry, under tlb_registry_lock */
	uint64_t id;                /* unique, never reused: what mm->tlb_owner holds */

	/* Owner thread only. */
	struct umm_tlb_entry *entries;
	unsigned int bits;
	uintptr_t mask;
	uint64_t next_tag;
	uint64_t clock;
	struct tlb_ctx ctx[TLB_NR_CTX];

	uint32_t epoch;             /* current accounting window */
	unsigned long used;         /* entries filled in this window */
	unsigned long fills;        /* fills in this window */
	unsigned int max_pct;       /* highest use seen in the shrink window */
	uint64_t window_start;      /* ns */
	unsigned int resize_bits;   /* pending resize target, 0 = none */

	struct soft_tlb_stats stats;
};

static struct percpu_rwsem tlb_registry_lock;   /* initialized by tlb_setup */
static struct list_head tlb_registry = LIST_HEAD_INIT(tlb_registry);
static unsigned long tlb_nr_registered;          /* under tlb_registry_lock */

/*
 * The inline path's state (exported: usermm/access.h reads it) and the
 * TLB itself.  initial-exec: a thread-pointer-relative access; see
 * access.h for what that means for dlopen().
 */
__thread struct umm_tlb_hot umm_tlb_hot __attribute__((tls_model("initial-exec")));
static __thread struct soft_tlb *this_tlb __attribute__((tls_model("initial-exec")));
static _Atomic uint64_t next_tlb_id = 1;
static pthread_key_t tlb_key;
static pthread_once_t tlb_once = PTHREAD_ONCE_INIT;
static _Atomic bool tlb_membarrier_ok;           /* set once by tlb_setup */

static _Atomic unsigned long nr_shootdowns, nr_shootdown_barriers, nr_shootdown_waits;

_Static_assert(sizeof(struct umm_tlb_entry) == 1 << UMM_TLB_ENTRY_SHIFT, "usermm/access.h indexes by shift");
_Static_assert(offsetof(struct umm_mm, tlb_gen) == offsetof(struct umm_mm_head, tlb_gen) &&
	       offsetof(struct umm_mm, id) == offsetof(struct umm_mm_head, id) &&
	       sizeof(((struct umm_mm *)0)->tlb_gen) == sizeof(uint64_t),
	       "usermm/access.h's struct umm_mm_head must match struct umm_mm");

/* ---- the flush log ---- */

#define FLUSH_LOG_STRIPES 32
#define FLUSH_LOG_SLOTS   16       /* > TLB_SYNC_MAX_GENS: one mm's recent gens never collide */

struct flush_record {
	uint64_t mm_id, gen;
	uintptr_t start, end;
};

struct flush_log_stripe {
	pthread_mutex_t lock;       /* rec, and the tlb_gen bumps of this stripe's mms */
	struct flush_record rec[FLUSH_LOG_SLOTS];
} __attribute__((aligned(64)));

static struct flush_log_stripe flush_log[FLUSH_LOG_STRIPES] = {
	[0 ... FLUSH_LOG_STRIPES - 1] = { .lock = PTHREAD_MUTEX_INITIALIZER },
};

static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

static inline struct flush_log_stripe *flush_log_stripe(uint64_t mm_id)
{
	return &flush_log[mix64(mm_id) % FLUSH_LOG_STRIPES];
}

static inline struct flush_record *flush_log_slot(struct flush_log_stripe *s, uint64_t mm_id, uint64_t gen)
{
	return &s->rec[(gen + (mm_id * 7)) % FLUSH_LOG_SLOTS];
}

/* flush_log_bump - publish mm's next gen with the range it flushes. */
static uint64_t flush_log_bump(struct umm_mm *mm, uintptr_t start, uintptr_t end)
{
	struct flush_log_stripe *s = flush_log_stripe(mm->id);
	struct flush_record *r;
	uint64_t gen;

	pthread_mutex_lock(&s->lock);
	gen = atomic_load_explicit(&mm->tlb_gen, memory_order_relaxed) + 1;
	r = flush_log_slot(s, mm->id, gen);
	*r = (struct flush_record){ .mm_id = mm->id, .gen = gen, .start = start, .end = end };
	atomic_store_explicit(&mm->tlb_gen, gen, memory_order_seq_cst);
	pthread_mutex_unlock(&s->lock);
	return gen;
}

/*
 * flush_log_ranges - the ranges flushed in mm by gens (from, to], into
 * out[] (to - from of them).  False if one of them was overwritten.
 */
static bool flush_log_ranges(uint64_t mm_id, uint64_t from, uint64_t to, struct flush_record *out)
{
	struct flush_log_stripe *s = flush_log_stripe(mm_id);
	bool complete = true;

	pthread_mutex_lock(&s->lock);
	for (uint64_t g = from + 1; g <= to; g++) {
		struct flush_record *r = flush_log_slot(s, mm_id, g);

		if (r->mm_id != mm_id || r->gen != g) {
			complete = false;
			break;
		}
		out[g - from - 1] = *r;
	}
	pthread_mutex_unlock(&s->lock);
	return complete;
}

/* ---- the store->load barrier pair ---- */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

/* tlb_publish_active - mark the start of an access to mm_id, then order it before later loads. */
static inline void tlb_publish_active(struct soft_tlb *tlb, uint64_t mm_id)
{
	struct umm_tlb_hot *hot = tlb->hot;

	__atomic_store_n(&hot->active_gen, 0, __ATOMIC_RELAXED);
#if TLB_TSAN
	__atomic_store_n(&hot->active, mm_id, __ATOMIC_SEQ_CST);
#else
	__atomic_store_n(&hot->active, mm_id, __ATOMIC_RELEASE);
	if (likely(!hot->strong))
		atomic_signal_fence(memory_order_seq_cst);
	else
		atomic_thread_fence(memory_order_seq_cst);
#endif
}

static inline uint64_t tlb_read_gen(struct umm_mm *mm)
{
#if TLB_TSAN
	return atomic_load_explicit(&mm->tlb_gen, memory_order_seq_cst);
#else
	return atomic_load_explicit(&mm->tlb_gen, memory_order_acquire);
#endif
}

/*
 * tlb_publish_slot - let flushers see that this thread may now hold
 * entries for mm_id.  Done before the slot's first fill, so the pte table
 * lock that fill takes publishes it to the flushers that need it, as it
 * does the span (see "Flushes by range").
 */
static void tlb_publish_slot(struct soft_tlb *tlb, unsigned int i, uint64_t mm_id)
{
	atomic_store_explicit(&tlb->slot_mm[i], mm_id, TLB_TSAN ? memory_order_seq_cst : memory_order_relaxed);
}

/* span_index - the bit of a span (0..TLB_SPAN_BITS-1) that covers page. */
static inline unsigned int span_index(uintptr_t page)
{
	return (unsigned int)((page >> TLB_SPAN_SHIFT) % TLB_SPAN_BITS);
}

/* span_set - set bit i (span_index) in span. */
static inline void span_set(uint64_t span[TLB_SPAN_WORDS], unsigned int i)
{
	span[i / 64] |= 1ull << (i % 64);
}

/* span_mask - set in mask the span bits of every page in [start, end) (start < end). */
static inline void span_mask(uintptr_t start, uintptr_t end, uint64_t mask[TLB_SPAN_WORDS])
{
	uintptr_t first = start >> TLB_SPAN_SHIFT, last = (end - 1) >> TLB_SPAN_SHIFT;

	if (last - first >= TLB_SPAN_BITS - 1) {
		for (int w = 0; w < TLB_SPAN_WORDS; w++)
			mask[w] = ~0ull;
		return;
	}
	for (int w = 0; w < TLB_SPAN_WORDS; w++)
		mask[w] = 0;
	for (uintptr_t r = first; r <= last; r++)
		span_set(mask, (unsigned int)(r % TLB_SPAN_BITS));
}

/*
 * tlb_publish_span - word w of ctx's span changed: let flushers see it.
 * Relaxed: a span bit is set under the pte table lock of the fill that
 * needs it, and a flusher reads it after taking that lock (see "Flushes
 * by range").
 */
static inline void tlb_publish_span(struct soft_tlb *tlb, const struct tlb_ctx *ctx, int w)
{
	atomic_store_explicit(&tlb->slot_span[ctx - tlb->ctx][w], ctx->span[w],
			      TLB_TSAN ? memory_order_seq_cst : memory_order_relaxed);
}

/* tlb_clear_span - ctx holds no entry any more: an empty span, published. */
static void tlb_clear_span(struct soft_tlb *tlb, struct tlb_ctx *ctx)
{
	for (int w = 0; w < TLB_SPAN_WORDS; w++) {
		if (ctx->span[w]) {
			ctx->span[w] = 0;
			tlb_publish_span(tlb, ctx, w);
		}
	}
}

/*
 * tlb_holds_span - might t hold entries for mm_id in a region of mask?
 * (Flusher side, after the pte changes the flush is for.)
 */
static bool tlb_holds_span(struct soft_tlb *t, uint64_t mm_id, const uint64_t mask[TLB_SPAN_WORDS])
{
	memory_order mo = TLB_TSAN ? memory_order_seq_cst : memory_order_relaxed;

	for (int i = 0; i < TLB_NR_CTX; i++) {
		if (atomic_load_explicit(&t->slot_mm[i], mo) != mm_id)
			continue;
		for (int w = 0; w < TLB_SPAN_WORDS; w++)
			if (mask[w] && (atomic_load_explicit(&t->slot_span[i][w], mo) & mask[w]))
				return true;
	}
	return false;
}

/*
 * tlb_exit - end of an access: the flusher may now reuse what it used.
 * active_gen goes back to 0 first, so an inline access (which does not
 * write it) is never credited with this one's catch-up.
 */
static inline void tlb_exit(struct soft_tlb *tlb)
{
	__atomic_store_n(&tlb->hot->active_gen, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&tlb->hot->active, 0, __ATOMIC_RELEASE);
}

/* shootdown_barrier - the flusher's half: order the gen store before the loads of active. */
static void shootdown_barrier(void)
{
	atomic_fetch_add_explicit(&nr_shootdown_barriers, 1, memory_order_relaxed);
#if !TLB_TSAN
	if (atomic_load_explicit(&tlb_membarrier_ok, memory_order_relaxed)) {
		/* readers rely on it: after registration it cannot fail */
		BUG_ON(syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0);
		return;
	}
	atomic_thread_fence(memory_order_seq_cst);
#endif
	/* TSan: the gen bump and the loads of active are seq_cst themselves */
}

static inline uint64_t shootdown_load_active(struct soft_tlb *t)
{
	return __atomic_load_n(&t->hot->active, TLB_TSAN ? __ATOMIC_SEQ_CST : __ATOMIC_ACQUIRE);
}

/* shootdown_wait - until t is not in an access to mm_id that started before gen. */
static void shootdown_wait(struct soft_tlb *t, uint64_t mm_id, uint64_t gen)
{
	unsigned int spins = 0;

	while (shootdown_load_active(t) == mm_id &&
	       __atomic_load_n(&t->hot->active_gen, __ATOMIC_ACQUIRE) < gen) {
		if (spins++ == 0)
			atomic_fetch_add_explicit(&nr_shootdown_waits, 1, memory_order_relaxed);
		if (spins < 128)
			cpu_relax();
		else
			sched_yield();
	}
}

/* ---- setup and the registry ---- */

static void tlb_destroy(void *arg)
{
	struct soft_tlb *tlb = arg;

	percpu_down_write(&tlb_registry_lock);
	list_del(&tlb->link);
	tlb_nr_registered--;
	percpu_up_write(&tlb_registry_lock);
	if (this_tlb == tlb) {
		this_tlb = NULL;
		tlb->hot->mm_id = 0;    /* the inline path falls back (and finds no TLB) */
		tlb->hot->entries = NULL;
	}
	free(tlb->entries);
	free(tlb);
}

/*
 * Host fork(): the child has only the forking thread, so every other
 * thread's TLB leaves the registry there (a flush in the child must not
 * wait for threads that do not exist).  The registry lock is held across
 * the fork so the child inherits a consistent list.
 */
static void tlb_atfork_prepare(void)
{
	percpu_down_write(&tlb_registry_lock);
}

static void tlb_atfork_parent(void)
{
	percpu_up_write(&tlb_registry_lock);
}

static void tlb_atfork_child(void)
{
	struct soft_tlb *tlb, *next;

	list_for_each_entry_safe(tlb, next, &tlb_registry, link) {
		if (tlb == this_tlb)
			continue;
		/* not freed: its owner may have been mid-resize at the fork */
		list_del(&tlb->link);
		tlb_nr_registered--;
	}
	if (atomic_load(&tlb_membarrier_ok) &&
	    syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) != 0) {
		atomic_store(&tlb_membarrier_ok, false);
		umm_tlb_hot.strong = 1;         /* the only thread left */
		umm_tlb_hot.mm_id = 0;
	}
	/* no reader held it at the fork (prepare took it for write) */
	percpu_up_write(&tlb_registry_lock);
}

/* soft_tlb_invalidate - the built-in consumer's invalidate_secondary_tlbs: the shootdown. */
static void soft_tlb_invalidate(struct umm_mmu_notifier *mn, struct umm_mm *mm, uintptr_t start, uintptr_t end)
{
	(void)mn;
	flush_tlb_range(mm, start, end);
}

static void soft_tlb_prefill(struct umm_mm *mm, uintptr_t addr, struct page *const *pages, unsigned int nr);
static void soft_tlb_prefetch(struct umm_mm *mm, uintptr_t addr, unsigned int nr);

static const struct umm_mmu_notifier_ops soft_tlb_ops = {
	.invalidate_secondary_tlbs = soft_tlb_invalidate,
};
static struct umm_mmu_notifier soft_tlb_notifier = { .ops = &soft_tlb_ops };

static void tlb_setup(void)
{
	const char *env = getenv("UMM_TLB_MEMBARRIER");
	bool ok = false;

	percpu_init_rwsem(&tlb_registry_lock);
	BUG_ON(pthread_key_create(&tlb_key, tlb_destroy) != 0);
	BUG_ON(pthread_atfork(tlb_atfork_prepare, tlb_atfork_parent, tlb_atfork_child) != 0);
	if (!TLB_TSAN && !(env && env[0] == '0')) {
		long cmds = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);

		ok = cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
		     syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
	}
	atomic_store(&tlb_membarrier_ok, ok);
	mmu_notifier_register_builtin(&soft_tlb_notifier);
	mmu_notifier_register_builtin_prefill(soft_tlb_prefill);
	mmu_notifier_register_builtin_prefetch(soft_tlb_prefetch);
}

/**
 * tlb_init - one-time setup of the soft TLB (membarrier registration,
 * thread-exit hook, the built-in notifier consumer).  Called before a
 * thread's first TLB exists; idempotent.  No locks.
 * Returns 0: without membarrier the TLB falls back to seq_cst fences.
 */
int tlb_init(void)
{
	pthread_once(&tlb_once, tlb_setup);
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static bool tlb_alloc_entries(struct soft_tlb *tlb, unsigned int bits)
{
	struct umm_tlb_entry *e = calloc((size_t)1 << bits, sizeof(*e));

	if (!e)
		return false;
	free(tlb->entries);
	tlb->entries = e;
	tlb->bits = bits;
	tlb->mask = ((uintptr_t)1 << bits) - 1;
	tlb->epoch = 1;
	tlb->used = 0;
	tlb->fills = 0;
	return true;
}

/* tlb_current - this thread's TLB, created and registered on first use; NULL on ENOMEM. */
static struct soft_tlb *tlb_current(void)
{
	struct soft_tlb *tlb = this_tlb;

	if (likely(tlb))
		return tlb;
	tlb_init();
	tlb = aligned_alloc(64, ALIGN_UP(sizeof(*tlb), 64));    /* no false sharing between threads */
	if (!tlb)
		return NULL;
	memset(tlb, 0, sizeof(*tlb));
	if (!tlb_alloc_entries(tlb, TLB_MIN_BITS)) {
		free(tlb);
		return NULL;
	}
	tlb->window_start = now_ns();
	tlb->stats.size = 1UL << TLB_MIN_BITS;
	tlb->id = atomic_fetch_add(&next_tlb_id, 1);
	tlb->hot = &umm_tlb_hot;
	tlb->hot->strong = !TLB_TSAN && !atomic_load(&tlb_membarrier_ok);
	if (pthread_setspecific(tlb_key, tlb) != 0) {
		free(tlb->entries);
		free(tlb);
		return NULL;
	}
	percpu_down_write(&tlb_registry_lock);
	list_add(&tlb->link, &tlb_registry);
	tlb_nr_registered++;
	percpu_up_write(&tlb_registry_lock);
	this_tlb = tlb;
	return tlb;
}

/* ---- entries, slots, resizing (owner thread only) ---- */

static inline struct umm_tlb_entry *tlb_entry_for(struct soft_tlb *tlb, const struct tlb_ctx *ctx, uintptr_t page)
{
	return &tlb->entries[((page >> PAGE_SHIFT) ^ ctx->salt) & tlb->mask];
}

/*
 * tlb_flush_ctx - drop every entry of ctx: a new tag, and an empty span
 * (no entry of the old tag can match again, and this thread is using none
 * of them now: see "Flushes by range").
 */
static void tlb_flush_ctx(struct soft_tlb *tlb, struct tlb_ctx *ctx)
{
	ctx->tag = ++tlb->next_tag;
	tlb_clear_span(tlb, ctx);
}

/* tlb_checkpoint - judge the last window's use of the array; maybe schedule a resize. */
static void tlb_checkpoint(struct soft_tlb *tlb)
{
	unsigned int pct = (unsigned int)(tlb->used * 100 >> tlb->bits);
	uint64_t now = now_ns();

	if (pct >= TLB_GROW_PCT && tlb->bits < TLB_MAX_BITS) {
		tlb->resize_bits = tlb->bits + 1;
		tlb->max_pct = 0;
		tlb->window_start = now;
	} else {
		tlb->max_pct = MAX(tlb->max_pct, pct);
		if (now - tlb->window_start >= TLB_SHRINK_WINDOW_NS) {
			if (tlb->max_pct < TLB_SHRINK_PCT && tlb->bits > TLB_MIN_BITS)
				tlb->resize_bits = tlb->bits - 1;
			tlb->max_pct = 0;
			tlb->window_start = now;
		}
	}
	tlb->epoch++;
	tlb->used = 0;
	tlb->fills = 0;
}

/* tlb_resize_pending - carry out a scheduled resize.  Not active, no locks held. */
static void tlb_resize_pending(struct soft_tlb *tlb)
{
	unsigned int bits = tlb->resize_bits;

	if (likely(!bits))
		return;
	tlb->resize_bits = 0;
	if (!tlb_alloc_entries(tlb, bits))
		return;         /* keep the old array; retried at a later checkpoint */
	for (int i = 0; i < TLB_NR_CTX; i++) {
		/* every entry is gone (tags stay: entries of old tags no longer exist) */
		tlb_clear_span(tlb, &tlb->ctx[i]);
	}
	tlb->stats.resizes++;
	tlb->stats.size = 1UL << bits;
}

/*
 * tlb_install - put a translation for page into ctx's entries, its region
 * into ctx's span first.  Under the lock of the pte table it was read from.
 */
static void tlb_install(struct soft_tlb *tlb, struct tlb_ctx *ctx, uintptr_t page, char *host, uint32_t prot)
{
	struct umm_tlb_entry *e = tlb_entry_for(tlb, ctx, page);
	unsigned int i = span_index(page);
	uint64_t bit = 1ull << (i % 64);

	if (unlikely(!(ctx->span[i / 64] & bit))) {
		ctx->span[i / 64] |= bit;
		tlb_publish_span(tlb, ctx, (int)(i / 64));
	}
	e->vaddr = page;
	e->tag = ctx->tag;
	e->host = host;
	e->prot = prot;
	if (e->epoch != tlb->epoch) {
		e->epoch = tlb->epoch;
		tlb->used++;
	}
	if (++tlb->fills >> tlb->bits)
		tlb_checkpoint(tlb);
}

/*
 * tlb_drop_range - forget ctx's entries for pages in [start, end).  False:
 * too big, flush all.  A scan of the whole array also recomputes ctx's
 * span from the entries that stay.
 */
static bool tlb_drop_range(struct soft_tlb *tlb, struct tlb_ctx *ctx, uintptr_t start, uintptr_t end)
{
	uintptr_t first = start & PAGE_MASK;
	uintptr_t pages = end > first ? ((end - first - 1) >> PAGE_SHIFT) + 1 : 0;
	uint64_t span[TLB_SPAN_WORDS] = { 0 };

	if (pages <= TLB_PROBE_MAX && pages <= tlb->mask + 1) {
		for (uintptr_t i = 0; i < pages; i++) {
			uintptr_t page = first + (i << PAGE_SHIFT);
			struct umm_tlb_entry *e = tlb_entry_for(tlb, ctx, page);

			if (e->tag == ctx->tag && e->vaddr == page)
				e->tag = 0;
		}
		return true;
	}
	if (tlb->bits > TLB_SCAN_MAX_BITS)
		return false;
	for (uintptr_t i = 0; i <= tlb->mask; i++) {
		struct umm_tlb_entry *e = &tlb->entries[i];

		if (e->tag != ctx->tag)
			continue;
		if (e->vaddr >= first && e->vaddr < end)
			e->tag = 0;
		else
			span_set(span, span_index(e->vaddr));
	}
	for (int w = 0; w < TLB_SPAN_WORDS; w++) {
		if (span[w] != ctx->span[w]) {
			ctx->span[w] = span[w];  /* a subset: the dropped entries are not in use */
			tlb_publish_span(tlb, ctx, w);
		}
	}
	return true;
}

/* tlb_catch_up - bring ctx from its gen to gen (the mm's tlb_gen just loaded).  Active. */
static void tlb_catch_up(struct soft_tlb *tlb, struct tlb_ctx *ctx, uint64_t gen)
{
	struct flush_record rec[TLB_SYNC_MAX_GENS];
	bool precise;

	if (ctx->gen == TLB_GEN_NONE) {
		ctx->gen = gen;         /* a fresh tag: nothing to drop */
		return;
	}
	VM_BUG_ON(gen < ctx->gen);
	precise = gen - ctx->gen <= TLB_SYNC_MAX_GENS &&
		  flush_log_ranges(ctx->mm_id, ctx->gen, gen, rec);
	for (uint64_t i = 0; precise && i < gen - ctx->gen; i++)
		precise = tlb_drop_range(tlb, ctx, rec[i].start, rec[i].end);
	if (precise) {
		tlb->stats.range_flushes++;
	} else {
		tlb_flush_ctx(tlb, ctx);
		tlb->stats.flushes++;
		tlb_checkpoint(tlb);
	}
	ctx->gen = gen;
}

/*
 * tlb_enter - start an access to mm through ctx: publish active, load
 * the mm's gen and catch up.  No mmap_lock/ptl may be taken until
 * tlb_exit (holding them from before is fine).
 */
static inline void tlb_enter(struct soft_tlb *tlb, struct tlb_ctx *ctx, struct umm_mm *mm)
{
	uint64_t gen;

	tlb_publish_active(tlb, mm->id);
	gen = tlb_read_gen(mm);
	if (unlikely(gen != ctx->gen))
		tlb_catch_up(tlb, ctx, gen);
	__atomic_store_n(&tlb->hot->active_gen, gen, __ATOMIC_RELEASE);
	ctx->nr_local = 0;
}

/*
 * tlb_set_owner - record in mm that this TLB may hold entries for it:
 * mm->tlb_owner goes 0 -> this TLB's id, and to TLB_OWNER_MANY once a
 * second TLB comes (never back).  Called when a slot is taken for mm,
 * before the first fill; see "Flushes nobody else needs" above.
 */
static void tlb_set_owner(struct soft_tlb *tlb, struct umm_mm *mm)
{
	uint64_t owner = atomic_load(&mm->tlb_owner);

	if (owner == tlb->id || owner == TLB_OWNER_MANY)
		return;
	if (owner == 0 && atomic_compare_exchange_strong(&mm->tlb_owner, &owner, tlb->id))
		return;
	if (owner != tlb->id)
		atomic_store(&mm->tlb_owner, TLB_OWNER_MANY);
}

/* tlb_ctx_get - the slot for mm, taking the least recently used one if mm has none. */
static struct tlb_ctx *tlb_ctx_get(struct soft_tlb *tlb, struct umm_mm *mm)
{
	struct tlb_ctx *ctx, *victim = &tlb->ctx[0];

	for (int i = 0; i < TLB_NR_CTX; i++) {
		ctx = &tlb->ctx[i];
		if (ctx->mm_id == mm->id)
			goto found;
		if (ctx->last_use < victim->last_use)
			victim = ctx;
	}
	ctx = victim;
	ctx->mm_id = mm->id;
	ctx->gen = TLB_GEN_NONE;
	ctx->salt = mix64(mm->id) >> 40;
	ctx->nr_local = 0;
	tlb_flush_ctx(tlb, ctx);
	tlb_publish_slot(tlb, (unsigned int)(ctx - tlb->ctx), mm->id);
	tlb_set_owner(tlb, mm);
found:
	ctx->last_use = ++tlb->clock;
	return ctx;
}

/*
 * tlb_hot_set - make ctx the context of the inline path (umm_tlb_hot).
 * Only at the end of an out-of-line access or of a local flush, when
 * ctx's entries are all current for ctx->gen.  Without membarrier the
 * inline path would need a full fence it does not have: it is kept off
 * (mm_id 0 matches no mm) and every access takes the out-of-line path.
 */
static void tlb_hot_set(struct soft_tlb *tlb, const struct tlb_ctx *ctx)
{
	struct umm_tlb_hot *hot = tlb->hot;

	hot->mm_id = hot->strong ? 0 : ctx->mm_id;
	hot->gen = ctx->gen;
	hot->tag = ctx->tag;
	hot->salt = ctx->salt << UMM_TLB_ENTRY_SHIFT;
	hot->entries = tlb->entries;
	hot->mask = tlb->mask << UMM_TLB_ENTRY_SHIFT;
}

/*
 * soft_tlb_prefill - the built-in consumer's prefill (mmu_notifier.h):
 * install read translations of the pages a call just mapped for the
 * calling thread, as tlb_fill would after a miss, but with the ptes'
 * table lock already held by the caller and no walk.  Only into a TLB
 * the thread already has (none is allocated under the caller's lock) and
 * with no resize pending, and at most a quarter of its entries per call.
 * Entered and left like an access (tlb_enter/tlb_exit): a later change of
 * one of these ptes flushes it as it flushes a filled one.
 */
static void soft_tlb_prefill(struct umm_mm *mm, uintptr_t addr, struct page *const *pages, unsigned int nr)
{
	struct soft_tlb *tlb = this_tlb;
	struct tlb_ctx *ctx;

	if (!tlb || tlb->resize_bits)
		return;
	VM_BUG_ON(__atomic_load_n(&tlb->hot->active, __ATOMIC_RELAXED));
	nr = (unsigned int)MIN((unsigned long)nr, (tlb->mask + 1) / 4);
	ctx = tlb_ctx_get(tlb, mm);
	tlb_enter(tlb, ctx, mm);
	for (unsigned int i = 0; i < nr; i++)
		if (pages[i])
			tlb_install(tlb, ctx, addr + ((uintptr_t)i << PAGE_SHIFT), page_address(pages[i]),
				    TLB_PROT_READ);
	tlb_exit(tlb);
	tlb_hot_set(tlb, ctx);
}

/*
 * soft_tlb_prefetch - the built-in consumer's prefetch (mmu_notifier.h):
 * start loading the calling thread's entries for nr pages from addr (up
 * to TLB_PREFETCH_MAX), which a flush of those pages and a prefill will
 * touch, if the thread has a TLB and a context for mm.  Reads only the
 * thread's own TLB; changes nothing.
 */
static void soft_tlb_prefetch(struct umm_mm *mm, uintptr_t addr, unsigned int nr)
{
	struct soft_tlb *tlb = this_tlb;

	if (!tlb)
		return;
	for (int c = 0; c < TLB_NR_CTX; c++) {
		const struct tlb_ctx *ctx = &tlb->ctx[c];

		if (ctx->mm_id != mm->id)
			continue;
		for (unsigned int i = 0; i < MIN(nr, (unsigned int)TLB_PREFETCH_MAX); i++)
			prefetchw(tlb_entry_for(tlb, ctx, addr + ((uintptr_t)i << PAGE_SHIFT)));
		return;
	}
}

/* ---- the access paths ---- */

/*
 * tlb_copy_hits - copy while translations hit; bytes copied.  Active.
 * After a fill the first page is the miss's own, not counted as a hit.
 */
static size_t tlb_copy_hits(struct soft_tlb *tlb, struct tlb_ctx *ctx, uintptr_t addr,
			    char *buf, size_t len, bool write, bool filled)
{
	uint32_t need = write ? TLB_PROT_WRITE : TLB_PROT_READ;
	size_t done = 0;

	tlb->stats.hits -= filled;

	while (done < len) {
		uintptr_t a = addr + done, page = a & PAGE_MASK;
		struct umm_tlb_entry *e = tlb_entry_for(tlb, ctx, page);
		size_t off = a - page, n = MIN(PAGE_SIZE - off, len - done);

		if (e->tag != ctx->tag || e->vaddr != page || !(e->prot & need))
			break;
		if (write)
			memcpy(e->host + off, buf + done, n);
		else
			memcpy(buf + done, e->host + off, n);
		done += n;
		tlb->stats.hits++;
	}
	return done;
}

/*
 * tlb_fill - the miss path: fault the page in as needed and install its
 * translation.  Called not active, without locks; takes mmap_lock (read)
 * and the pte table's lock.  Returns 0 with the thread active (entered)
 * and the entry in place, or a fault's error, not active.
 */
static int tlb_fill(struct soft_tlb *tlb, struct tlb_ctx *ctx, struct umm_mm *mm, uintptr_t addr, bool write)
{
	unsigned int flags = write ? FAULT_FLAG_WRITE : 0;
	uintptr_t page_addr = addr & PAGE_MASK;
	struct fmutex *ptl;
	struct page *page;
	pte_t pte;
	int err;

	tlb->stats.misses++;
	mmap_read_lock(mm);
	err = follow_or_fault(mm, page_addr, flags, &page, &pte, &ptl);
	if (!err) {
		uint32_t prot = TLB_PROT_READ;

		if (write || (pte_write(pte) && pte_dirty(pte)))
			prot |= TLB_PROT_WRITE;
		tlb_enter(tlb, ctx, mm);
		tlb_install(tlb, ctx, page_addr, page_address(page), prot);
		ptl_unlock(ptl);
	}
	mmap_read_unlock(mm);
	return err;
}

/* soft_mmu_access - copy len bytes between buf and mm at addr, page by page. */
static int soft_mmu_access(struct umm_mm *mm, uintptr_t addr, char *buf, size_t len, bool write)
{
	struct soft_tlb *tlb = tlb_current();
	struct tlb_ctx *ctx;
	int err;

	if (unlikely(!tlb))
		return -ENOMEM;
	tlb_resize_pending(tlb);
	ctx = tlb_ctx_get(tlb, mm);
	tlb_enter(tlb, ctx, mm);
	for (bool filled = false;; filled = true) {
		size_t done = tlb_copy_hits(tlb, ctx, addr, buf, len, write, filled);

		addr += done;
		buf += done;
		len -= done;
		if (!len)
			break;
		tlb_exit(tlb);
		err = tlb_fill(tlb, ctx, mm, addr, write);
		if (err)
			goto out;
	}
	tlb_exit(tlb);
	err = 0;
out:
	tlb_hot_set(tlb, ctx);
	return err;
}

static inline __attribute__((always_inline)) void copy16(char *dst, const char *src)
{
	uint64_t a, b;

	memcpy(&a, src, 8);
	memcpy(&b, src + 8, 8);
	memcpy(dst, &a, 8);
	memcpy(dst + 8, &b, 8);
}

/*
 * copy_small - memcpy(dst, src, n) for an access within one page, without
 * a call up to 64 bytes: the first and the last 4, 8, 16 or 32 bytes,
 * overlapping in the middle.  dst and src do not overlap.
 */
static inline __attribute__((always_inline)) void copy_small(char *dst, const char *src, size_t n)
{
	if (n > 64) {
		memcpy(dst, src, n);
	} else if (n > 32) {
		copy16(dst, src);
		copy16(dst + 16, src + 16);
		copy16(dst + n - 32, src + n - 32);
		copy16(dst + n - 16, src + n - 16);
	} else if (n > 16) {
		copy16(dst, src);
		copy16(dst + n - 16, src + n - 16);
	} else if (n >= 8) {
		uint64_t a, b;

		memcpy(&a, src, 8);
		memcpy(&b, src + n - 8, 8);
		memcpy(dst, &a, 8);
		memcpy(dst + n - 8, &b, 8);
	} else if (n >= 4) {
		uint32_t a, b;

		memcpy(&a, src, 4);
		memcpy(&b, src + n - 4, 4);
		memcpy(dst, &a, 4);
		memcpy(dst + n - 4, &b, 4);
	} else {
		for (size_t i = 0; i < n; i++)
			dst[i] = src[i];
	}
}

static int access_check(struct umm_mm *mm, uintptr_t addr, const void *buf, size_t len)
{
	if (!mm || (!buf && len))
		return -EINVAL;
	if (len && addr + len - 1 < addr)
		return -EFAULT;
	return 0;
}

/*
 * soft_mmu_bounce - umm_read/umm_write with a buffer in a host-MMU window
 * (host_mmu.c): touching it inside an access could fault into the host
 * MMU while this thread is active, which the host MMU cannot serve.  So
 * the bytes go through a buffer on the stack, and the window pages are
 * mapped (host_mmu_prefault_host) before they are copied with no lock
 * held and the thread not active; a window page usermm cannot map fails
 * the call with its error (-EFAULT) instead of a signal.
 */
static __attribute__((noinline)) int soft_mmu_bounce(struct umm_mm *mm, uintptr_t addr, char *buf,
						     size_t len, bool write)
{
	char tmp[2048];
	int err = access_check(mm, addr, buf, len);

	while (!err && len) {
		size_t n = MIN(len, sizeof(tmp));

		err = host_mmu_prefault_host(buf, n, !write);
		if (err)
			break;
		if (write) {
			memcpy(tmp, buf, n);
			err = soft_mmu_access(mm, addr, tmp, n, true);
		} else {
			err = soft_mmu_access(mm, addr, tmp, n, false);
			if (!err)
				memcpy(buf, tmp, n);
		}
		addr += n;
		buf += n;
		len -= n;
	}
	return err;
}

/*
 * soft_mmu_rw - umm_read/umm_write: a hit within one page is copied
 * inline; anything else is checked and goes through soft_mmu_access.  A
 * buffer in a host-MMU window goes through soft_mmu_bounce.
 */
static inline int soft_mmu_rw(struct umm_mm *mm, uintptr_t addr, char *buf, size_t len, bool write)
{
	char *p;
	int err;

	if (unlikely(host_mmu_covers(buf, len)))
		return soft_mmu_bounce(mm, addr, buf, len, write);
	if (likely(buf && len && umm_tlb_begin(mm, addr, len,
					       write ? TLB_PROT_WRITE : TLB_PROT_READ, &p))) {
		if (write)
			copy_small(p, buf, len);
		else
			copy_small(buf, p, len);
		umm_tlb_end();
		umm_tlb_hot.hits++;
		return 0;
	}
	err = access_check(mm, addr, buf, len);
	if (err || !len)
		return err;
	return soft_mmu_access(mm, addr, buf, len, write);
}

/**
 * umm_tlb_idle - the calling thread will leave every address space alone
 * for a while: drop all of its software TLB entries now.  A thread's
 * entries stay until it accesses the address space again (a flush
 * another thread makes is caught up with then), so a thread that touched
 * memory once and went idle keeps the regions it touched marked as its
 * own, and every flush of those regions by another thread (a
 * copy-on-write break, mprotect, munmap) runs the cross-thread protocol
 * and its barrier on its account.  After this call they are local again.
 * The thread's next access refills what it uses; nothing else changes
 * (the TLB array, its size and counters stay).  Not inside an access (no
 * usermm call of this thread is running: true of any caller).  No locks.
 */
void umm_tlb_idle(void)
{
	struct soft_tlb *tlb = this_tlb;

	if (!tlb)
		return;
	VM_BUG_ON(__atomic_load_n(&tlb->hot->active, __ATOMIC_RELAXED));
	for (int i = 0; i < TLB_NR_CTX; i++)
		if (tlb->ctx[i].mm_id)
			tlb_flush_ctx(tlb, &tlb->ctx[i]);
	/* the inline path misses until the next out-of-line access sets it again */
	tlb->hot->mm_id = 0;
	tlb->stats.idles++;
}

/**
 * umm_read - copy len bytes at addr in mm to buf, faulting pages in for
 * reading.  Takes mmap_lock (read) and ptl on misses only.  Returns 0,
 * -EINVAL (NULL mm, NULL buf with len > 0), -EFAULT (range wraps, no
 * mapping, not readable), -EIO, -ENOMEM.  On error, bytes before the
 * failing page may have been copied.
 */
int umm_read(struct umm_mm *mm, uintptr_t addr, void *buf, size_t len)
{
	return soft_mmu_rw(mm, addr, buf, len, false);
}

/**
 * umm_write - copy len bytes from buf to addr in mm, faulting pages in
 * for writing (breaking copy-on-write, marking them dirty).  Locks and
 * returns as umm_read.
 */
int umm_write(struct umm_mm *mm, uintptr_t addr, const void *buf, size_t len)
{
	return soft_mmu_rw(mm, addr, (char *)buf, len, true);
}

/* ---- shootdown ---- */

/*
 * tlb_drop_own - drop this thread's entries of mm in [start, end) now
 * (this thread is not inside an access).  With the precision of a
 * catch-up: up to TLB_SYNC_MAX_GENS of these between two out-of-line
 * accesses drop only their ranges; the next one drops all of the mm's
 * entries, and the ones after it find nothing left to drop (an unmap of a
 * large range flushes in batches of MMU_GATHER_BATCH pages).
 */
static inline void tlb_drop_own(struct soft_tlb *tlb, struct umm_mm *mm, uintptr_t start, uintptr_t end)
{
	for (int i = 0; i < TLB_NR_CTX; i++) {
		struct tlb_ctx *ctx = &tlb->ctx[i];

		if (ctx->mm_id != mm->id)
			continue;
		if (unlikely(ctx->nr_local >= TLB_SYNC_MAX_GENS)) {
			if (ctx->nr_local == TLB_SYNC_MAX_GENS) {
				ctx->nr_local++;
				tlb->stats.flushes++;
				tlb_flush_ctx(tlb, ctx);
				tlb_checkpoint(tlb);
				if (tlb->hot->mm_id == ctx->mm_id)
					tlb_hot_set(tlb, ctx);  /* the new tag */
			}
			return;
		}
		ctx->nr_local++;
		tlb->stats.range_flushes++;
		if (likely(end - start <= PAGE_SIZE && (start & PAGE_MASK) == ((end - 1) & PAGE_MASK))) {
			/* one page (a COW break, a one-page mprotect): one probe */
			struct umm_tlb_entry *e = tlb_entry_for(tlb, ctx, start & PAGE_MASK);

			if (e->tag == ctx->tag && e->vaddr == (start & PAGE_MASK))
				e->tag = 0;
		} else if (!tlb_drop_range(tlb, ctx, start, end)) {
			tlb->stats.range_flushes--;
			tlb->stats.flushes++;
			tlb_flush_ctx(tlb, ctx);
			tlb_checkpoint(tlb);
			if (tlb->hot->mm_id == ctx->mm_id)
				tlb_hot_set(tlb, ctx);  /* the new tag */
		}
		return;
	}
}

/*
 * flush_tlb_local - the flush when no other thread's TLB may hold entries
 * of mm in the range: this thread's go now (tlb_drop_own).
 */
static inline void flush_tlb_local(struct soft_tlb *tlb, struct umm_mm *mm, uintptr_t start, uintptr_t end)
{
	tlb->stats.local_flushes++;
	tlb_drop_own(tlb, mm, start, end);
}

static void flush_tlb_shootdown(struct umm_mm *mm, uintptr_t start, uintptr_t end);

/**
 * flush_tlb_range - after ptes of [start, end) in mm changed, invalidate
 * every thread's translations for them and wait until no access that may
 * use one is still running (see the protocol above).  May be called with
 * mmap_lock and/or ptl held, never inside an access.  When no other
 * thread may hold entries for mm it takes no lock; otherwise it takes
 * tlb_registry_lock (read), and the flush log lock when another thread's
 * entries may cover the range ("Flushes by range").
 */
void flush_tlb_range(struct umm_mm *mm, uintptr_t start, uintptr_t end)
{
	struct soft_tlb *self = this_tlb;
	uint64_t owner;

	if (start >= end)
		return;
	/* nobody else may hold entries: see "Flushes nobody else needs" */
	owner = atomic_load_explicit(&mm->tlb_owner, memory_order_relaxed);
	if (likely(owner == 0))
		return;
	if (likely(self && owner == self->id)) {
		VM_BUG_ON(__atomic_load_n(&self->hot->active, __ATOMIC_RELAXED));
		flush_tlb_local(self, mm, start, end);
		return;
	}
	flush_tlb_shootdown(mm, start, end);
}

/*
 * flush_tlb_shootdown - flush_tlb_range when another thread may hold
 * entries for mm.  If no other TLB's span covers the range, the flush is
 * this thread's alone (see "Flushes by range"); otherwise the protocol,
 * waiting only for the TLBs whose span covers it.
 */
static __attribute__((noinline)) void flush_tlb_shootdown(struct umm_mm *mm, uintptr_t start, uintptr_t end)
{
	struct soft_tlb *self = this_tlb, *t;
	uint64_t mask[TLB_SPAN_WORDS], gen;
	unsigned int slot = thread_slot();
	bool others = false;

	span_mask(start, end, mask);
	pthread_once(&tlb_once, tlb_setup);
	percpu_down_read(&tlb_registry_lock, slot);
	list_for_each_entry(t, &tlb_registry, link) {
		if (t != self && tlb_holds_span(t, mm->id, mask)) {
			others = true;
			break;
		}
	}
	if (!others) {
		percpu_up_read(&tlb_registry_lock, slot);
		if (self) {
			self->stats.span_skips++;
			flush_tlb_local(self, mm, start, end);
		}
		return;
	}
	atomic_fetch_add_explicit(&nr_shootdowns, 1, memory_order_relaxed);
	gen = flush_log_bump(mm, start, end);
	shootdown_barrier();
	list_for_each_entry(t, &tlb_registry, link)
		if (t != self && tlb_holds_span(t, mm->id, mask))
			shootdown_wait(t, mm->id, gen);
	percpu_up_read(&tlb_registry_lock, slot);
	if (self)
		tlb_drop_own(self, mm, start, end);     /* now, not at the catch-up: its span forgets them */
}

/**
 * tlb_get_stats - the calling thread's TLB counters, and the process-wide
 * shootdown counters.  Takes tlb_registry_lock for read.
 */
void tlb_get_stats(struct soft_tlb_stats *st)
{
	struct soft_tlb *tlb = this_tlb;
	unsigned int slot;

	memset(st, 0, sizeof(*st));
	if (tlb)
		*st = tlb->stats;
	st->hits += umm_tlb_hot.hits;
	tlb_init();
	slot = thread_slot();
	percpu_down_read(&tlb_registry_lock, slot);
	st->nr_registered = tlb_nr_registered;
	percpu_up_read(&tlb_registry_lock, slot);
	st->shootdowns = atomic_load(&nr_shootdowns);
	st->shootdown_barriers = atomic_load(&nr_shootdown_barriers);
	st->shootdown_waits = atomic_load(&nr_shootdown_waits);
	st->membarrier = atomic_load(&tlb_membarrier_ok);
}

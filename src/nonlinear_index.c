/* SPDX-License-Identifier: MIT */
/*
 * nonlinear_index.c - the reverse index of a nonlinear window: where in
 * one VMA a pte may show a given object page, so that the object-based
 * reverse map (page_mkclean for writeback, try_to_unmap, the reverse-map
 * check of umm_system_check) finds a page in a window without scanning
 * every pte of it, as Linux scanned its i_mmap_nonlinear list.  Truncate
 * (unmap_mapping_range, memory.c) still scans each window of the object
 * once per call: it unmaps a range of offsets, usually up to the end.
 *
 * Theory of operation.  A pte of a nonlinear VMA shows object page pgoff
 * at a "slot": the linear page index of its address (linear_page_index:
 * vm_pgoff + its page number in the VMA).  Slots do not change when the
 * VMA is split, copied by fork or moved by mremap (each copy's vm_pgoff
 * follows its part), so an index keyed on slots stays right in every copy.
 * A pte shows either its linear page (pgoff == slot: an empty pte, or a
 * page faulted in through one) or an offset a remap wrote (fremap.c).
 * The index holds a (pgoff, slot) entry for every slot a remap pointed
 * elsewhere: fremap replaces the slot's old entry as it writes the slot's
 * new pte, under i_mmap_lock, which the readers hold.  Faults, zaps that keep
 * the layout (MADV_DONTNEED, truncate, reclaim) and private copies keep
 * the pgoff of their slot (a private copy remembers where it came from),
 * so only remaps change the index.  An entry may outlive its pte (a slot
 * that left the VMA and came back empty through mremap): the reader
 * checks the pte, so a stale entry costs a look, never a wrong answer.
 * The invariant (every pte showing a pgoff other than its slot's has its
 * entry) is checked by umm_mm_check (mm_check.c), and so is the index's
 * own consistency (nl_index_check).
 *
 * Cost: a lookup reads one bucket (a cache line) and, rarely, the
 * buckets after it, plus a pte lookup per slot listed (usually one).
 * The table is an array of 64-byte buckets of NL_BUCKET_ENTRIES entries
 * (an offset and a slot each), kept at most half full, which grows by
 * doubling and never shrinks.  A free entry is zero (the key is pgoff +
 * 1), so a table comes zeroed from calloc or mmap and its memory is
 * first touched where entries land: the host's cost of new memory (a
 * fault and a page clear per page, several microseconds in a VM) is paid
 * for the buckets used, not for an initialising pass.  The first table
 * of a window is sized for every page of the VMA (up to NL_PRESIZE_MAX
 * pages): a window that is remapped at all tends to be remapped
 * throughout (the database case), and growing by doubling would allocate
 * and touch twice the final size and rehash on the way; the untouched
 * part of a large table costs address space only.  fork, split and
 * mremap copy the index of the VMA they copy.
 *
 * Buckets.  The offsets of an aligned run of NL_RUN pages share a hashed
 * home bucket (nl_home), so a remap of a run, which replaces another run,
 * touches two lines of the table rather than two per page: on a large
 * window the table is far bigger than the caches and each line is a
 * cache (and TLB) miss.  An entry goes to the first bucket from its home
 * with a free entry; each full bucket it passes counts it in its
 * overflow, so a lookup reads buckets from the home only while the one
 * it read has overflow (a full bucket ahead of a free one), and a
 * deletion clears its entry and takes its count off the buckets it had
 * passed: no probe runs to their end, no entries move, no tombstones.
 * A table of 2 MiB or more is mapped huge-page aligned and advised
 * MADV_HUGEPAGE for the same reason; the memory a window's table can take
 * is thus its size: 25.6 to 51.2 bytes per page of the window, as the
 * bucket count rounds up to a power of two (32 for a 256 MiB window; up
 * to NL_PRESIZE_MAX pages; more only if more entries need it).
 *
 * The slot array.  A slot has at most one entry, and a second array,
 * indexed by slot (where[slot - base], 4 bytes per page of the VMA),
 * says which entry holds it (0: none); an entry records its slot
 * relative to base, in 32 bits (so where[] spans at most 2^32 slots: a
 * remap into a window of more pages fails with -ENOMEM).  So
 * nl_index_set finds the entry it replaces without knowing which offset
 * the slot showed and without a lookup, and a remap can start loading the
 * buckets it will change as soon as it knows its slots
 * (nl_index_prefetch_slots), instead of after reading the old pte and
 * its page (a chain of misses, each hundreds of nanoseconds on a large
 * window in a VM).  Whatever entry a slot had goes when the slot gets a
 * new one: an entry that outlived its pte (see above) is dropped then
 * too.  where[] covers the slots of the VMA (nl_index_reserve grows it
 * if mremap grew the VMA); a copy (fork, split, mremap) copies it with
 * the table, so entries of slots that left a part keep their place in
 * it.
 *
 * Locks (order in lockdep.h): changes need mmap_lock for write and
 * i_mmap_lock (the readers, rmap walks, hold i_mmap_lock only);
 * nl_index_reserve allocates before taking i_mmap_lock to install a
 * larger table or where[] array.  where[] is read only by the writers
 * (nl_index_set) and the prefetch hints, under mmap_lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "nonlinear_index.h"
#include "object.h"
#include "log.h"

#define NL_BUCKET_ENTRIES 5     /* entries per 64-byte bucket */
#define NL_RUN_SHIFT 2
#define NL_RUN (1u << NL_RUN_SHIFT)     /* offsets of an aligned run sharing a home bucket */
#define NL_LOAD_INV 2           /* entry room >= 2 x entries: few full buckets */
#define NL_MIN_BUCKETS 16
#define NL_MAX_BUCKETS (1UL << 29)      /* entry numbers (bucket * NL_BUCKET_ENTRIES + i) fit where[] */
#define NL_HUGE_BYTES (2UL << 20)
#define NL_PRESIZE_MAX (1UL << 20)  /* pages of a VMA the first table is sized for, at most */
#define NL_PREFETCH_MAX 8       /* buckets a prefetch hint starts loading, at most */

struct nl_bucket {
	uint64_t key[NL_BUCKET_ENTRIES];        /* pgoff + 1; 0: a free entry */
	uint32_t slot[NL_BUCKET_ENTRIES];       /* the entry's slot - idx->base */
	uint32_t overflow;      /* entries whose home is before this bucket and that passed it, full */
};
_Static_assert(sizeof(struct nl_bucket) == 64, "a bucket is one cache line");

struct nonlinear_index {
	size_t mask;             /* buckets - 1; buckets a power of two */
	size_t nr;               /* entries */
	struct nl_bucket *buckets;
	uint64_t base;           /* the slot of where[0] */
	size_t nr_where;         /* slots where[] covers, at most UINT32_MAX */
	uint32_t *where;         /* where[slot - base]: 1 + the number of slot's entry; 0: none */
};

/*
 * nl_home - the bucket pgoff's lookup starts at.  The pgoffs of one
 * aligned run of NL_RUN share it, so a remap of a run finds its entries,
 * and the run it replaces its own, in a cache line each instead of one
 * random line per page.
 */
static inline size_t nl_home(const struct nonlinear_index *idx, uint64_t pgoff)
{
	return (size_t)(((pgoff >> NL_RUN_SHIFT) * 0x9E3779B97F4A7C15ULL) >> 20) & idx->mask;
}

/* nl_zbytes - the size of a zeroed allocation of bytes, rounded up to huge pages if that large. */
static size_t nl_zbytes(size_t bytes)
{
	return bytes >= NL_HUGE_BYTES ? ALIGN_UP(bytes, NL_HUGE_BYTES) : bytes;
}

/*
 * nl_zalloc - bytes of zeroed memory, 64-byte aligned (buckets or
 * where[]).  NL_HUGE_BYTES or more is a private anonymous mapping,
 * huge-page aligned and advised MADV_HUGEPAGE: one host fault per 2 MiB
 * touched instead of 512, and fewer TLB misses on the random lookups;
 * its pages are zero until touched.  NULL when out of memory.
 */
static void *nl_zalloc(size_t bytes)
{
	char *map, *c;
	void *p;

	bytes = nl_zbytes(bytes);
	if (bytes < NL_HUGE_BYTES) {
		if (posix_memalign(&p, 64, bytes))
			return NULL;
		return memset(p, 0, bytes);
	}
	map = mmap(NULL, bytes + NL_HUGE_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		return NULL;
	c = (char *)ALIGN_UP((uintptr_t)map, NL_HUGE_BYTES);
	/* trim to the aligned part */
	if (c > map)
		(void)munmap(map, (size_t)(c - map));
	if (c + bytes < map + bytes + NL_HUGE_BYTES)
		(void)munmap(c + bytes, (size_t)(map + bytes + NL_HUGE_BYTES - (c + bytes)));
	(void)madvise(c, bytes, MADV_HUGEPAGE);
	return c;
}

/* nl_zfree - free bytes from nl_zalloc (NULL: nothing). */
static void nl_zfree(void *p, size_t bytes)
{
	if (!p)
		return;
	if (nl_zbytes(bytes) < NL_HUGE_BYTES)
		free(p);
	else
		(void)munmap(p, nl_zbytes(bytes));
}

/* nl_where - where[] cell of slot (inside the range where[] covers). */
static inline uint32_t *nl_where(const struct nonlinear_index *idx, uint64_t slot)
{
	VM_BUG_ON(slot - idx->base >= idx->nr_where);
	return &idx->where[slot - idx->base];
}

/* nl_add - place an entry for a slot that has none (room assured); where[] records it. */
static void nl_add(struct nonlinear_index *idx, uint64_t pgoff, uint64_t slot)
{
	for (size_t b = nl_home(idx, pgoff);; b = (b + 1) & idx->mask) {
		struct nl_bucket *bk = &idx->buckets[b];

		for (unsigned int i = 0; i < NL_BUCKET_ENTRIES; i++)
			if (!bk->key[i]) {
				bk->key[i] = pgoff + 1;
				bk->slot[i] = (uint32_t)(slot - idx->base);
				*nl_where(idx, slot) = (uint32_t)(b * NL_BUCKET_ENTRIES + i) + 1;
				idx->nr++;
				return;
			}
		bk->overflow++;         /* full: the entry goes on past it */
	}
}

/* nl_del - remove entry number e; the buckets it passed drop it from their overflow. */
static void nl_del(struct nonlinear_index *idx, size_t e)
{
	size_t b = e / NL_BUCKET_ENTRIES;
	struct nl_bucket *bk = &idx->buckets[b];
	unsigned int i = (unsigned int)(e % NL_BUCKET_ENTRIES);

	idx->where[bk->slot[i]] = 0;
	for (size_t h = nl_home(idx, bk->key[i] - 1); h != b; h = (h + 1) & idx->mask)
		idx->buckets[h].overflow--;
	bk->key[i] = 0;
	idx->nr--;
}

/*
 * nl_for_each_entry - fn(idx, entry number, arg) for each entry of pgoff,
 * in lookup order, until fn returns non-zero (returned).  The lookup goes
 * on past a bucket only while that bucket has overflow.
 */
static int nl_for_each_entry(const struct nonlinear_index *idx, uint64_t pgoff,
			     int (*fn)(const struct nonlinear_index *idx, size_t e, void *arg), void *arg)
{
	size_t b = nl_home(idx, pgoff);

	for (size_t n = 0; n <= idx->mask; n++, b = (b + 1) & idx->mask) {
		const struct nl_bucket *bk = &idx->buckets[b];
		int ret;

		for (unsigned int i = 0; i < NL_BUCKET_ENTRIES; i++)
			if (bk->key[i] == pgoff + 1 && (ret = fn(idx, b * NL_BUCKET_ENTRIES + i, arg)))
				return ret;
		if (!bk->overflow)
			break;
	}
	return 0;
}

/* nl_find_fn - nl_for_each_entry callback: does entry e list the slot *arg? */
static int nl_find_fn(const struct nonlinear_index *idx, size_t e, void *arg)
{
	return idx->base + idx->buckets[e / NL_BUCKET_ENTRIES].slot[e % NL_BUCKET_ENTRIES] == *(uint64_t *)arg;
}

/* nl_buckets_alloc - a table of n buckets (NULL if too many or no memory). */
static struct nl_bucket *nl_buckets_alloc(size_t n)
{
	return n > NL_MAX_BUCKETS ? NULL : nl_zalloc(n * sizeof(struct nl_bucket));
}

/**
 * nl_index_reserve - room for @extra more entries in @vma's index, and
 * where[] over every slot of @vma (see nonlinear_index.h).  The first
 * table is sized for every page of the VMA too (up to NL_PRESIZE_MAX;
 * see the top of this file).  mmap_lock held for write; takes
 * i_mmap_lock to install a new table or where[].
 * Return: 0 or -ENOMEM (nothing changed; also for a where[] of more than
 * UINT32_MAX slots).
 */
int nl_index_reserve(struct vm_area_struct *vma, size_t extra)
{
	struct nonlinear_index *idx = vma->vm_nl_index, *fresh = NULL;
	struct nl_bucket *buckets = NULL, *old = NULL;
	uint32_t *where = NULL, *old_where = NULL;
	size_t need = (idx ? idx->nr : 0) + extra, n = NL_MIN_BUCKETS, old_n = 0, want = need, old_nw = 0;
	uint64_t lo = vma->vm_pgoff, hi = vma->vm_pgoff + vma_pages(vma), base = lo, end = hi;
	bool grow_table = !idx || NL_LOAD_INV * need > (idx->mask + 1) * NL_BUCKET_ENTRIES;
	bool grow_where = !idx || lo < idx->base || hi - idx->base > idx->nr_where;

	if (!grow_table && !grow_where)
		return 0;
	if (grow_table) {
		if (!idx)
			want = MAX(need, (size_t)MIN(vma_pages(vma), NL_PRESIZE_MAX));
		while (n * NL_BUCKET_ENTRIES < NL_LOAD_INV * want)
			n *= 2;
		buckets = nl_buckets_alloc(n);
		if (!buckets && want > need) {
			/* no room for the VMA-sized table: one for the entries asked for */
			for (n = NL_MIN_BUCKETS; n * NL_BUCKET_ENTRIES < NL_LOAD_INV * need; n *= 2)
				;
			buckets = nl_buckets_alloc(n);
		}
	}
	if (grow_where) {
		if (idx) {
			base = MIN(idx->base, lo);
			end = MAX(idx->base + idx->nr_where, hi);
		}
		if (end - base <= UINT32_MAX)
			where = nl_zalloc((end - base) * sizeof(*where));
	}
	if (!idx)
		fresh = calloc(1, sizeof(*fresh));
	if ((grow_table && !buckets) || (grow_where && !where) || (!idx && !fresh)) {
		nl_zfree(buckets, n * sizeof(*buckets));
		nl_zfree(where, (end - base) * sizeof(*where));
		free(fresh);
		return -ENOMEM;
	}
	if (fresh) {
		*fresh = (struct nonlinear_index){ .mask = n - 1, .buckets = buckets, .base = base,
						   .nr_where = end - base, .where = where };
		i_mmap_lock_write(vma->vm_obj);
		vma->vm_nl_index = fresh;
		i_mmap_unlock_write(vma->vm_obj);
		return 0;
	}
	/* only we change the index (mmap_lock), and readers never read where[] */
	if (grow_where && !grow_table)
		memcpy(where + (idx->base - base), idx->where, idx->nr_where * sizeof(*where));
	if (grow_table) {
		/* rehash into the new table; every entry's where[] cell is written again */
		struct nonlinear_index tmp = { .mask = n - 1, .buckets = buckets,
					       .base = grow_where ? base : idx->base,
					       .nr_where = grow_where ? end - base : idx->nr_where,
					       .where = grow_where ? where : idx->where };

		for (size_t b = 0; b <= idx->mask; b++)
			for (unsigned int i = 0; i < NL_BUCKET_ENTRIES; i++)
				if (idx->buckets[b].key[i])
					nl_add(&tmp, idx->buckets[b].key[i] - 1,
					       idx->base + idx->buckets[b].slot[i]);
	}
	i_mmap_lock_write(vma->vm_obj);
	if (grow_where && !grow_table && base < idx->base) {
		/* entries hold their slot relative to base, which moved down (readers are out) */
		for (size_t b = 0; b <= idx->mask; b++)
			for (unsigned int i = 0; i < NL_BUCKET_ENTRIES; i++)
				if (idx->buckets[b].key[i])
					idx->buckets[b].slot[i] += (uint32_t)(idx->base - base);
	}
	if (grow_table) {
		old = idx->buckets;
		old_n = idx->mask + 1;
		idx->buckets = buckets;
		idx->mask = n - 1;
	}
	if (grow_where) {
		old_where = idx->where;
		old_nw = idx->nr_where;
		idx->where = where;
		idx->base = base;
		idx->nr_where = end - base;
	}
	i_mmap_unlock_write(vma->vm_obj);
	nl_zfree(old, old_n * sizeof(*old));
	nl_zfree(old_where, old_nw * sizeof(*old_where));
	return 0;
}

/**
 * nl_index_set - slot shows @pgoff now (see nonlinear_index.h): the
 * slot's entry, whichever offset it names, goes (found through where[],
 * no lookup), and (pgoff, slot) is added unless pgoff is the slot's
 * linear page.  mmap_lock held for write, i_mmap_lock held; room
 * reserved and slot inside the VMA nl_index_reserve was called for.
 */
void nl_index_set(struct vm_area_struct *vma, uint64_t slot, uint64_t pgoff)
{
	struct nonlinear_index *idx = vma->vm_nl_index;
	uint32_t at;

	lockdep_assert_held(&vma->vm_obj->i_mmap_lock);
	VM_BUG_ON(!idx);
	at = *nl_where(idx, slot);
	if (at) {
		size_t e = at - 1;

		if (idx->buckets[e / NL_BUCKET_ENTRIES].key[e % NL_BUCKET_ENTRIES] == pgoff + 1)
			return;         /* listed already */
		nl_del(idx, e);
	}
	if (pgoff != slot) {
		VM_BUG_ON(NL_LOAD_INV * (idx->nr + 1) > (idx->mask + 1) * NL_BUCKET_ENTRIES);
		nl_add(idx, pgoff, slot);
	}
}

/**
 * nl_index_prefetch - start loading the buckets where @vma's index keeps
 * the entries of object pages [@pgoff, @pgoff + @nr) (their runs' homes,
 * up to NL_PREFETCH_MAX of them), so that the misses of the nl_index_set
 * calls that follow overlap with other work.  mmap_lock held.
 */
void nl_index_prefetch(const struct vm_area_struct *vma, uint64_t pgoff, unsigned int nr)
{
	const struct nonlinear_index *idx = vma->vm_nl_index;
	unsigned int n = 0;

	if (!idx)
		return;
	for (uint64_t b = pgoff; b < pgoff + nr && n < NL_PREFETCH_MAX; b = (b | (NL_RUN - 1)) + 1, n++)
		prefetchw(&idx->buckets[nl_home(idx, b)]);
}

/**
 * nl_index_prefetch_slots - start loading the buckets that hold the
 * entries of slots [@slot, @slot + @nr) of @vma (those inside where[]),
 * the ones nl_index_set of these slots will drop: a hint, each distinct
 * bucket once, at most NL_PREFETCH_MAX.  mmap_lock held.
 */
void nl_index_prefetch_slots(const struct vm_area_struct *vma, uint64_t slot, unsigned int nr)
{
	const struct nonlinear_index *idx = vma->vm_nl_index;
	size_t last = SIZE_MAX;
	unsigned int n = 0;

	if (!idx || slot < idx->base || slot - idx->base >= idx->nr_where)
		return;
	nr = (unsigned int)MIN((uint64_t)nr, idx->nr_where - (slot - idx->base));
	for (unsigned int i = 0; i < nr && n < NL_PREFETCH_MAX; i++) {
		uint32_t at = idx->where[slot - idx->base + i];
		size_t b = (at - 1) / NL_BUCKET_ENTRIES;

		if (!at || b == last)
			continue;
		prefetchw(&idx->buckets[b]);
		last = b;
		n++;
	}
}

/**
 * nl_index_prefetch_where - start loading where[] of @slot in @vma's
 * index (if it covers it), which nl_index_prefetch_slots reads: a hint.
 * mmap_lock held.
 */
void nl_index_prefetch_where(const struct vm_area_struct *vma, uint64_t slot)
{
	const struct nonlinear_index *idx = vma->vm_nl_index;

	if (idx && slot - idx->base < idx->nr_where)
		prefetch(&idx->where[slot - idx->base]);
}

/**
 * nl_index_has - is @slot listed for @pgoff in @vma's index, or is it
 * pgoff's linear slot?  mmap_lock or i_mmap_lock held.
 */
bool nl_index_has(const struct vm_area_struct *vma, uint64_t pgoff, uint64_t slot)
{
	return pgoff == slot ||
	       (vma->vm_nl_index && nl_for_each_entry(vma->vm_nl_index, pgoff, nl_find_fn, &slot));
}

/* nl_slot_addr - the address of slot in vma, or 0 if outside it. */
static uintptr_t nl_slot_addr(const struct vm_area_struct *vma, uint64_t slot)
{
	if (slot < vma->vm_pgoff || slot - vma->vm_pgoff >= vma_pages(vma))
		return 0;
	return vma->vm_start + ((uintptr_t)(slot - vma->vm_pgoff) << PAGE_SHIFT);
}

/* The arguments of nl_visit, for nl_index_for_each. */
struct nl_visit_arg {
	struct vm_area_struct *vma;
	nl_addr_fn fn;
	void *arg;
};

/* nl_visit - nl_for_each_entry callback: the caller's fn at the entry's address, if inside the vma. */
static int nl_visit(const struct nonlinear_index *idx, size_t e, void *arg)
{
	struct nl_visit_arg *v = arg;
	uintptr_t addr = nl_slot_addr(v->vma, idx->base + idx->buckets[e / NL_BUCKET_ENTRIES].slot[e % NL_BUCKET_ENTRIES]);

	return addr ? v->fn(v->vma, addr, v->arg) : 0;
}

/**
 * nl_index_for_each - @fn for every address of @vma where a pte may show
 * object page @pgoff (see nonlinear_index.h).  i_mmap_lock or mmap_lock
 * held.  Return: fn's first non-zero value, or 0.
 */
int nl_index_for_each(struct vm_area_struct *vma, uint64_t pgoff, nl_addr_fn fn, void *arg)
{
	struct nl_visit_arg v = { vma, fn, arg };
	uintptr_t addr = nl_slot_addr(vma, pgoff);
	int ret = 0;

	if (addr && (ret = fn(vma, addr, arg)))
		return ret;
	if (!vma->vm_nl_index)
		return 0;
	return nl_for_each_entry(vma->vm_nl_index, pgoff, nl_visit, &v);
}

/**
 * nl_index_dup - a copy of @src's index for @dst (vma_dup): its table and
 * where[].  src's mmap_lock held.  Return: 0 or -ENOMEM.
 */
int nl_index_dup(struct vm_area_struct *dst, const struct vm_area_struct *src)
{
	const struct nonlinear_index *idx = src->vm_nl_index;
	struct nonlinear_index *copy;

	dst->vm_nl_index = NULL;
	if (!idx)
		return 0;
	copy = malloc(sizeof(*copy));
	if (!copy)
		return -ENOMEM;
	*copy = *idx;
	copy->buckets = nl_buckets_alloc(idx->mask + 1);
	copy->where = nl_zalloc(idx->nr_where * sizeof(*copy->where));
	if (!copy->buckets || !copy->where) {
		nl_zfree(copy->buckets, (idx->mask + 1) * sizeof(*copy->buckets));
		nl_zfree(copy->where, idx->nr_where * sizeof(*copy->where));
		free(copy);
		return -ENOMEM;
	}
	/* buckets in use only: the copy's others and its free where[] cells stay untouched (zero) */
	for (size_t b = 0; b <= idx->mask; b++) {
		const struct nl_bucket *bk = &idx->buckets[b];
		bool used = bk->overflow;

		for (unsigned int i = 0; i < NL_BUCKET_ENTRIES; i++)
			if (bk->key[i]) {
				copy->where[bk->slot[i]] = (uint32_t)(b * NL_BUCKET_ENTRIES + i) + 1;
				used = true;
			}
		if (used)
			copy->buckets[b] = *bk;
	}
	dst->vm_nl_index = copy;
	return 0;
}

/**
 * nl_index_check - the index's own invariants: each entry is the one
 * where[] names for its slot, the entries number idx->nr, each bucket's
 * overflow counts the entries that passed it, and where[] over @vma's
 * slots (those it covers) names only entries of that slot.  Logs each
 * problem with pr_check (at most a few).  mmap_lock held.
 * Return: the number of problems found.
 */
int nl_index_check(const struct vm_area_struct *vma)
{
	const struct nonlinear_index *idx = vma->vm_nl_index;
	uint64_t lo = vma->vm_pgoff, hi = vma->vm_pgoff + vma_pages(vma);
	uint32_t *passed;
	size_t entries = 0;
	int bad = 0;

	if (!idx)
		return 0;
	passed = calloc(idx->mask + 1, sizeof(*passed));        /* NULL: overflow counts not checked */
	for (size_t b = 0; b <= idx->mask; b++) {
		for (unsigned int i = 0; i < NL_BUCKET_ENTRIES; i++) {
			const struct nl_bucket *bk = &idx->buckets[b];
			uint32_t rel = bk->slot[i];

			if (!bk->key[i])
				continue;
			entries++;
			if (rel >= idx->nr_where || idx->where[rel] != b * NL_BUCKET_ENTRIES + i + 1) {
				if (bad++ < 4)
					pr_check("nonlinear index: the entry of slot %llu in bucket %zu is not where[] names",
						 (unsigned long long)(idx->base + rel), b);
			}
			for (size_t h = nl_home(idx, bk->key[i] - 1); passed && h != b; h = (h + 1) & idx->mask)
				passed[h]++;
		}
	}
	if (entries != idx->nr && bad++ < 4)
		pr_check("nonlinear index: %zu entries, counted %zu", entries, idx->nr);
	for (size_t b = 0; passed && b <= idx->mask; b++)
		if (passed[b] != idx->buckets[b].overflow && bad++ < 4)
			pr_check("nonlinear index: bucket %zu: overflow %u, %u entries passed it",
				 b, idx->buckets[b].overflow, passed[b]);
	free(passed);
	/* slots outside where[] (mremap grew the VMA since) have no entry: the loop above saw every entry */
	lo = MAX(lo, idx->base);
	hi = MIN(hi, idx->base + idx->nr_where);
	for (uint64_t slot = lo; slot < hi; slot++) {
		uint32_t at = idx->where[slot - idx->base];
		size_t b = (at - 1) / NL_BUCKET_ENTRIES;
		unsigned int i = (at - 1) % NL_BUCKET_ENTRIES;

		if (at && (b > idx->mask || !idx->buckets[b].key[i] ||
			   idx->base + idx->buckets[b].slot[i] != slot) && bad++ < 4)
			pr_check("nonlinear index: where[] of slot %llu names entry %u, not its own",
				 (unsigned long long)slot, at - 1);
	}
	return bad;
}

/** nl_index_free - free @vma's index; the vma is unlinked. */
void nl_index_free(struct vm_area_struct *vma)
{
	struct nonlinear_index *idx = vma->vm_nl_index;

	if (!idx)
		return;
	nl_zfree(idx->buckets, (idx->mask + 1) * sizeof(*idx->buckets));
	nl_zfree(idx->where, idx->nr_where * sizeof(*idx->where));
	free(idx);
	vma->vm_nl_index = NULL;
}

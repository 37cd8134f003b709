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
 * elsewhere: fremap replaces the slot's old entry as it writes the file
 * pte, under i_mmap_lock, which the readers hold.  Faults, zaps that keep
 * the layout (MADV_DONTNEED, truncate, reclaim) and private copies keep
 * the pgoff of their slot (a private copy remembers where it came from),
 * so only remaps change the index.  An entry may outlive its pte (a slot
 * that left the VMA and came back empty through mremap): the reader
 * checks the pte, so a stale entry costs a look, never a wrong answer.
 * The invariant (every pte showing a pgoff other than its slot's has its
 * entry) is checked by umm_mm_check (mm_check.c).
 *
 * Cost: a lookup is one hash probe sequence, plus a pte lookup per slot
 * listed (usually one).  An entry is 16 bytes, in a table kept at most
 * half full, which grows by doubling and never shrinks.  A free cell is
 * all zero (the key is pgoff + 1), so a table comes zeroed from calloc
 * or mmap and its memory is first touched where entries land: the
 * host's cost of new memory (a fault and a page clear per page, several
 * microseconds in a VM) is paid for the cells used, not for an
 * initialising pass.  The first table of a window is sized for every
 * page of the VMA (up to NL_PRESIZE_MAX pages): a window that is remapped
 * at all tends to be remapped throughout (the database case), and
 * growing by doubling would allocate and touch twice the final size and
 * rehash on the way; the untouched part of a large table costs address
 * space only.  fork, split and mremap copy the index of the VMA they
 * copy.
 *
 * The table is open addressing with linear probing, keyed by pgoff (all
 * slots of one pgoff probe from the same home), deletion by backward
 * shift (no tombstones).  A slot has at most one entry, and a second
 * array, indexed by slot (where[slot - base], 4 bytes per page of the
 * VMA), says which cell holds it (0: none).  So nl_index_set finds the
 * entry it replaces without knowing which offset the slot showed and
 * without a probe sequence, and a remap can start loading the cells it
 * will free as soon as it knows its slots (nl_index_prefetch_slots),
 * instead of after reading the old pte and its page (a chain of misses,
 * each hundreds of nanoseconds on a large window in a VM).  Whatever
 * entry a slot had goes when the slot gets a new one: an entry that
 * outlived its pte (see above) is dropped then too.  where[] covers the
 * slots of the VMA (nl_index_reserve grows it if mremap grew the VMA);
 * a copy (fork, split, mremap) copies it with the cells, so entries of
 * slots that left a part keep their place in it.  Homes keep runs together: the offsets of an
 * aligned block of 8 share one hashed base and take consecutive cells
 * from it (nl_home), so a remap of a run of pages, which replaces another
 * run, touches two places of the table rather than two per page: on a
 * large window the table is far bigger than the caches and each place
 * is a cache (and TLB) miss.  A table of 2 MiB or more is mapped
 * huge-page aligned and advised MADV_HUGEPAGE for the same reason; the
 * memory a window's table can take is thus up to its size, 32 bytes per
 * page of the window (up to NL_PRESIZE_MAX pages; more only if more
 * entries need it).
 *
 * Locks (order in lockdep.h): changes need mmap_lock for write and
 * i_mmap_lock (the readers, rmap walks, hold i_mmap_lock only); nl_index_reserve allocates before taking
 * i_mmap_lock to install a larger table or where[] array.  where[] is
 * read only by the writers (nl_index_set) and the prefetch hint, under
 * mmap_lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "nonlinear_index.h"
#include "object.h"
#include "log.h"

#define NL_EMPTY 0              /* key of a free cell: tables start zeroed */
#define NL_MIN_CAP 64
#define NL_LOAD_INV 2           /* cells >= 2 x entries: short probe runs */
#define NL_HUGE_BYTES (2UL << 20)
#define NL_PRESIZE_MAX (1UL << 20)  /* pages of a VMA the first table is sized for, at most */
#define NL_BLOCK_SHIFT 3
#define NL_BLOCK (1u << NL_BLOCK_SHIFT)     /* offsets per hashed block (nl_home) */
#define NL_PREFETCH_MAX 8       /* blocks nl_index_prefetch starts loading, at most */
#define NL_MAX_CELLS (1UL << 31) /* where[] holds a cell number + 1 in 32 bits */

struct nl_entry {
	uint64_t key;            /* pgoff + 1; NL_EMPTY: a free cell */
	uint64_t slot;
};

struct nonlinear_index {
	size_t mask;             /* cells - 1; cells a power of two */
	size_t nr;               /* entries */
	struct nl_entry *cells;
	uint64_t base;           /* the slot of where[0] */
	size_t nr_where;         /* slots where[] covers */
	uint32_t *where;         /* where[slot - base]: 1 + the cell of slot's entry; 0: none */
};

/*
 * nl_home - where pgoff's probe sequence starts.  The pgoffs of one
 * aligned block of NL_BLOCK share a hashed base and sit in consecutive
 * cells from it, so a remap of a run (consecutive offsets) finds its
 * entries, and the run it replaces its own, in a cache line or two
 * instead of one random line per page.
 */
static inline size_t nl_home(const struct nonlinear_index *idx, uint64_t pgoff)
{
	uint64_t base = ((pgoff >> NL_BLOCK_SHIFT) * 0x9E3779B97F4A7C15ULL) >> 20;

	return (size_t)((base << NL_BLOCK_SHIFT) | (pgoff & (NL_BLOCK - 1))) & idx->mask;
}

/* nl_zbytes - the size of a zeroed allocation of bytes, rounded up to huge pages if that large. */
static size_t nl_zbytes(size_t bytes)
{
	return bytes >= NL_HUGE_BYTES ? ALIGN_UP(bytes, NL_HUGE_BYTES) : bytes;
}

/*
 * nl_zalloc - bytes of zeroed memory (cells or where[]).  NL_HUGE_BYTES
 * or more is a private anonymous mapping, huge-page aligned and advised
 * MADV_HUGEPAGE: one host fault per 2 MiB touched instead of 512, and
 * fewer TLB misses on the random probes; its pages are zero until
 * touched.  NULL when out of memory.
 */
static void *nl_zalloc(size_t bytes)
{
	char *map, *c;

	bytes = nl_zbytes(bytes);
	if (bytes < NL_HUGE_BYTES)
		return calloc(1, bytes);
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

/* nl_cells_alloc - n free (zeroed) cells, or NULL. */
static struct nl_entry *nl_cells_alloc(size_t n)
{
	return n > NL_MAX_CELLS ? NULL : nl_zalloc(n * sizeof(struct nl_entry));
}

/* nl_cells_free - free a table of n cells from nl_cells_alloc. */
static void nl_cells_free(struct nl_entry *cells, size_t n)
{
	nl_zfree(cells, n * sizeof(struct nl_entry));
}

/* nl_where - where[] cell of slot (inside the range where[] covers). */
static inline uint32_t *nl_where(const struct nonlinear_index *idx, uint64_t slot)
{
	VM_BUG_ON(slot - idx->base >= idx->nr_where);
	return &idx->where[slot - idx->base];
}

/* nl_add - place an entry for a slot that has none (room assured); where[] records the cell. */
static void nl_add(struct nonlinear_index *idx, uint64_t pgoff, uint64_t slot)
{
	size_t i = nl_home(idx, pgoff);

	while (idx->cells[i].key != NL_EMPTY)
		i = (i + 1) & idx->mask;
	idx->cells[i] = (struct nl_entry){ pgoff + 1, slot };
	*nl_where(idx, slot) = (uint32_t)i + 1;
	idx->nr++;
}

/* nl_find - the cell holding (pgoff, slot), or -1. */
static long nl_find(const struct nonlinear_index *idx, uint64_t pgoff, uint64_t slot)
{
	for (size_t i = nl_home(idx, pgoff); idx->cells[i].key != NL_EMPTY; i = (i + 1) & idx->mask)
		if (idx->cells[i].key == pgoff + 1 && idx->cells[i].slot == slot)
			return (long)i;
	return -1;
}

/* nl_del - remove the entry in cell i, shifting back the ones its probe sequences passed (where[] follows). */
static void nl_del(struct nonlinear_index *idx, size_t i)
{
	size_t j = i;

	*nl_where(idx, idx->cells[i].slot) = 0;
	idx->cells[i].key = NL_EMPTY;
	idx->nr--;
	for (;;) {
		size_t home;

		j = (j + 1) & idx->mask;
		if (idx->cells[j].key == NL_EMPTY)
			return;
		home = nl_home(idx, idx->cells[j].key - 1);
		/* the entry at j may move to the hole at i unless its home lies in (i, j] */
		if (i <= j ? (home > i && home <= j) : (home > i || home <= j))
			continue;
		idx->cells[i] = idx->cells[j];
		idx->cells[j].key = NL_EMPTY;
		*nl_where(idx, idx->cells[i].slot) = (uint32_t)i + 1;
		i = j;
	}
}

/**
 * nl_index_reserve - room for @extra more entries in @vma's index, and
 * where[] over every slot of @vma (see nonlinear_index.h).  The first
 * table is sized for every page of the VMA too (up to NL_PRESIZE_MAX;
 * see the top of this file).  mmap_lock held for write; takes
 * i_mmap_lock to install a new table or where[].
 * Return: 0 or -ENOMEM (nothing changed).
 */
int nl_index_reserve(struct vm_area_struct *vma, size_t extra)
{
	struct nonlinear_index *idx = vma->vm_nl_index, *fresh = NULL;
	struct nl_entry *cells = NULL, *old = NULL;
	uint32_t *where = NULL, *old_where = NULL;
	size_t need = (idx ? idx->nr : 0) + extra, n = NL_MIN_CAP, old_n = 0, want = need, old_nw = 0;
	uint64_t lo = vma->vm_pgoff, hi = vma->vm_pgoff + vma_pages(vma), base = lo, end = hi;
	bool grow_cells = !idx || NL_LOAD_INV * need > idx->mask + 1;
	bool grow_where = !idx || lo < idx->base || hi - idx->base > idx->nr_where;

	if (!grow_cells && !grow_where)
		return 0;
	if (grow_cells) {
		if (!idx)
			want = MAX(need, (size_t)MIN(vma_pages(vma), NL_PRESIZE_MAX));
		while (n < NL_LOAD_INV * want)
			n *= 2;
		cells = nl_cells_alloc(n);
		if (!cells && want > need) {
			/* no room for the VMA-sized table: one for the entries asked for */
			for (n = NL_MIN_CAP; n < NL_LOAD_INV * need; n *= 2)
				;
			cells = nl_cells_alloc(n);
		}
	}
	if (grow_where) {
		if (idx) {
			base = MIN(idx->base, lo);
			end = MAX(idx->base + idx->nr_where, hi);
		}
		where = nl_zalloc((end - base) * sizeof(*where));
	}
	if (!idx)
		fresh = calloc(1, sizeof(*fresh));
	if ((grow_cells && !cells) || (grow_where && !where) || (!idx && !fresh)) {
		nl_cells_free(cells, n);
		nl_zfree(where, (end - base) * sizeof(*where));
		free(fresh);
		return -ENOMEM;
	}
	if (fresh) {
		*fresh = (struct nonlinear_index){ .mask = n - 1, .cells = cells, .base = base,
						   .nr_where = end - base, .where = where };
		i_mmap_lock_write(vma->vm_obj);
		vma->vm_nl_index = fresh;
		i_mmap_unlock_write(vma->vm_obj);
		return 0;
	}
	/* only we change the index (mmap_lock), and readers never read where[] */
	if (grow_where && !grow_cells)
		memcpy(where + (idx->base - base), idx->where, idx->nr_where * sizeof(*where));
	if (grow_cells) {
		/* rehash into the new cells; every entry's where[] cell is written again */
		struct nonlinear_index tmp = { .mask = n - 1, .cells = cells,
					       .base = grow_where ? base : idx->base,
					       .nr_where = grow_where ? end - base : idx->nr_where,
					       .where = grow_where ? where : idx->where };

		for (size_t i = 0; i <= idx->mask; i++)
			if (idx->cells[i].key != NL_EMPTY)
				nl_add(&tmp, idx->cells[i].key - 1, idx->cells[i].slot);
	}
	i_mmap_lock_write(vma->vm_obj);
	if (grow_cells) {
		old = idx->cells;
		old_n = idx->mask + 1;
		idx->cells = cells;
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
	nl_cells_free(old, old_n);
	nl_zfree(old_where, old_nw * sizeof(*old_where));
	return 0;
}

/**
 * nl_index_set - slot shows @pgoff now (see nonlinear_index.h): the
 * slot's entry, whichever offset it names, goes (found through where[],
 * no probe), and (pgoff, slot) is added unless pgoff is the slot's linear
 * page.  mmap_lock held for write, i_mmap_lock held; room reserved and
 * slot inside the VMA nl_index_reserve was called for.
 */
void nl_index_set(struct vm_area_struct *vma, uint64_t slot, uint64_t pgoff)
{
	struct nonlinear_index *idx = vma->vm_nl_index;
	uint32_t at;

	lockdep_assert_held(&vma->vm_obj->i_mmap_lock);
	VM_BUG_ON(!idx);
	at = *nl_where(idx, slot);
	if (at) {
		if (idx->cells[at - 1].key == pgoff + 1)
			return;         /* listed already */
		nl_del(idx, at - 1);
	}
	if (pgoff != slot) {
		VM_BUG_ON(NL_LOAD_INV * (idx->nr + 1) > idx->mask + 1);
		nl_add(idx, pgoff, slot);
	}
}

/**
 * nl_index_prefetch_slots - start loading the cells that hold the
 * entries of slots [@slot, @slot + @nr) of @vma (those inside where[]),
 * the ones nl_index_set of these slots will drop: a hint, each distinct
 * cache line once, at most NL_PREFETCH_MAX lines.  mmap_lock held.
 */
void nl_index_prefetch_slots(const struct vm_area_struct *vma, uint64_t slot, unsigned int nr)
{
	const struct nonlinear_index *idx = vma->vm_nl_index;
	uintptr_t last = 0;
	unsigned int n = 0;

	if (!idx || slot < idx->base || slot - idx->base >= idx->nr_where)
		return;
	nr = (unsigned int)MIN((uint64_t)nr, idx->nr_where - (slot - idx->base));
	for (unsigned int i = 0; i < nr && n < NL_PREFETCH_MAX; i++) {
		uint32_t at = idx->where[slot - idx->base + i];
		uintptr_t line = ALIGN_DOWN((uintptr_t)&idx->cells[at - 1], 64);

		if (!at || line == last)
			continue;
		prefetchw((const void *)line);
		last = line;
		n++;
	}
}

/**
 * nl_index_prefetch - start loading the cells where @vma's index keeps
 * the entries of object pages [@pgoff, @pgoff + @nr) (their blocks' homes,
 * up to NL_PREFETCH_MAX of them), so that the misses of the nl_index_set
 * calls that follow overlap with other work.  mmap_lock held.
 */
void nl_index_prefetch(const struct vm_area_struct *vma, uint64_t pgoff, unsigned int nr)
{
	const struct nonlinear_index *idx = vma->vm_nl_index;
	unsigned int n = 0;

	if (!idx)
		return;
	for (uint64_t b = pgoff; b < pgoff + nr && n < NL_PREFETCH_MAX; b = (b | (NL_BLOCK - 1)) + 1, n++)
		prefetchw(&idx->cells[nl_home(idx, b)]);
}

/**
 * nl_index_has - is @slot listed for @pgoff in @vma's index, or is it
 * pgoff's linear slot?  mmap_lock or i_mmap_lock held.
 */
bool nl_index_has(const struct vm_area_struct *vma, uint64_t pgoff, uint64_t slot)
{
	return pgoff == slot || (vma->vm_nl_index && nl_find(vma->vm_nl_index, pgoff, slot) >= 0);
}

/* nl_slot_addr - the address of slot in vma, or 0 if outside it. */
static uintptr_t nl_slot_addr(const struct vm_area_struct *vma, uint64_t slot)
{
	if (slot < vma->vm_pgoff || slot - vma->vm_pgoff >= vma_pages(vma))
		return 0;
	return vma->vm_start + ((uintptr_t)(slot - vma->vm_pgoff) << PAGE_SHIFT);
}

/**
 * nl_index_for_each - @fn for every address of @vma where a pte may show
 * object page @pgoff (see nonlinear_index.h).  i_mmap_lock or mmap_lock
 * held.  Return: fn's first non-zero value, or 0.
 */
int nl_index_for_each(struct vm_area_struct *vma, uint64_t pgoff, nl_addr_fn fn, void *arg)
{
	const struct nonlinear_index *idx = vma->vm_nl_index;
	uintptr_t addr = nl_slot_addr(vma, pgoff);
	int ret = 0;

	if (addr && (ret = fn(vma, addr, arg)))
		return ret;
	if (!idx)
		return 0;
	for (size_t i = nl_home(idx, pgoff); idx->cells[i].key != NL_EMPTY; i = (i + 1) & idx->mask) {
		if (idx->cells[i].key != pgoff + 1)
			continue;
		addr = nl_slot_addr(vma, idx->cells[i].slot);
		if (addr && (ret = fn(vma, addr, arg)))
			return ret;
	}
	return 0;
}

/**
 * nl_index_dup - a copy of @src's index for @dst (vma_dup): its cells and
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
	copy->cells = nl_cells_alloc(idx->mask + 1);
	copy->where = nl_zalloc(idx->nr_where * sizeof(*copy->where));
	if (!copy->cells || !copy->where) {
		nl_cells_free(copy->cells, idx->mask + 1);
		nl_zfree(copy->where, idx->nr_where * sizeof(*copy->where));
		free(copy);
		return -ENOMEM;
	}
	/* entries only: the copy's free cells and where[] stay untouched (zero) */
	for (size_t i = 0; i <= idx->mask; i++)
		if (idx->cells[i].key != NL_EMPTY) {
			copy->cells[i] = idx->cells[i];
			*nl_where(copy, idx->cells[i].slot) = (uint32_t)i + 1;
		}
	dst->vm_nl_index = copy;
	return 0;
}

/**
 * nl_index_check - the index's own invariants: each entry is the one
 * where[] names for its slot, the entries number idx->nr, and where[]
 * over @vma's slots (those it covers) names only cells holding that
 * slot's entry.  Logs
 * each problem with pr_check (at most a few).  mmap_lock held.
 * Return: the number of problems found.
 */
int nl_index_check(const struct vm_area_struct *vma)
{
	const struct nonlinear_index *idx = vma->vm_nl_index;
	uint64_t lo = vma->vm_pgoff, hi = vma->vm_pgoff + vma_pages(vma);
	size_t entries = 0;
	int bad = 0;

	if (!idx)
		return 0;
	for (size_t i = 0; i <= idx->mask; i++) {
		uint64_t slot = idx->cells[i].slot;

		if (idx->cells[i].key == NL_EMPTY)
			continue;
		entries++;
		if (slot - idx->base >= idx->nr_where || idx->where[slot - idx->base] != i + 1) {
			if (bad++ < 4)
				pr_check("nonlinear index: the entry of slot %llu in cell %zu is not where[] names",
					 (unsigned long long)slot, i);
		}
	}
	if (entries != idx->nr && bad++ < 4)
		pr_check("nonlinear index: %zu entries, counted %zu", entries, idx->nr);
	/* slots outside where[] (mremap grew the VMA since) have no entry: the loop above saw every entry */
	lo = MAX(lo, idx->base);
	hi = MIN(hi, idx->base + idx->nr_where);
	for (uint64_t slot = lo; slot < hi; slot++) {
		uint32_t at = idx->where[slot - idx->base];

		if (at && (at - 1 > idx->mask || idx->cells[at - 1].key == NL_EMPTY ||
			   idx->cells[at - 1].slot != slot) && bad++ < 4)
			pr_check("nonlinear index: where[] of slot %llu names cell %u, not its entry",
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
	nl_cells_free(idx->cells, idx->mask + 1);
	nl_zfree(idx->where, idx->nr_where * sizeof(*idx->where));
	free(idx);
	vma->vm_nl_index = NULL;
}

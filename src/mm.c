/* SPDX-License-Identifier: MIT */
/*
 * mm.c - address-space lifecycle: create, fork, destroy; per-mm
 * statistics and /proc-style dumps.  The expensive invariant checks
 * described below live in mm_check.c.
 *
 * Locks (the order is in lockdep.h):
 *   fork:    the child is allocated (mm_list_lock, alone) first, then
 *            parent mmap_lock (write) -> child mmap_lock (write, subclass 1)
 *            -> (copy_page_range: parent pte table lock -> child's)
 *   dumps:   mmap_lock (read) -> each pte table's lock in turn
 *   stats:   no lock for the counters (sums of per-thread stripes);
 *            mmap_lock (read) for the VMA counts
 *   sys->mm_list_lock is taken alone here.
 *
 * The invariant check verifies, for one mm: the VMA tree (vma_tree_check);
 * every non-empty pte lies inside a VMA; every mapped pte's frame is a
 * valid, allocated, non-table, non-slab frame with map and reference
 * counts at least what this mm accounts for; writable ptes only in
 * writable VMAs; shared VMAs map only their object's pages at the right
 * index; RSS counters equal what the page tables hold; the page-table page
 * count matches.  umm_system_check adds the cross-mm view: each frame's
 * map count equals the number of ptes mapping it in all mms.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <limits.h>
#include <sys/stat.h>
#include "mm.h"
#include "vma.h"
#include "memory.h"
#include "mmap.h"
#include "object.h"
#include "mmu_notifier.h"
#include "io.h"

static _Atomic uint64_t next_mm_id = 1;

/**
 * mm_alloc - allocate an empty address space linked into sys->mm_list.
 * Returns 0 with *out set, or -ENOMEM.
 */
int mm_alloc(struct umm_system *sys, struct umm_mm **out)
{
	struct umm_mm *mm = kmem_cache_alloc(sys->mm_cache, GFP_ZERO);
	int err;

	if (!mm)
		return -ENOMEM;
	mm->sys = sys;
	mm->id = atomic_fetch_add(&next_mm_id, 1);
	mm->mm_rb = RB_ROOT;
	mm->mmap_base = UMM_MMAP_BASE;
	percpu_init_rwsem(&mm->mmap_lock);
	fmutex_init(&mm->page_table_lock);
	err = pgd_alloc(mm);
	if (err) {
		percpu_free_rwsem(&mm->mmap_lock);
		fmutex_destroy(&mm->page_table_lock);
		kmem_cache_free(sys->mm_cache, mm);
		return err;
	}
	mm_list_lock(sys);
	list_add_tail(&mm->mmlist, &sys->mm_list);
	sys->nr_mms++;
	mm_list_unlock(sys);
	*out = mm;
	return 0;
}

/**
 * umm_mm_create - a new, empty address space.  0, -EINVAL, -ENOMEM.
 */
int umm_mm_create(struct umm_system *sys, struct umm_mm **out)
{
	if (!sys || !out)
		return -EINVAL;
	return mm_alloc(sys, out);
}

/**
 * umm_mm_destroy - tear an address space down, like exit: unmap every
 * VMA (dirty shared pages stay dirty in their object's cache and reach the
 * file when it is synced or put), free the page tables and the mm.
 * No other thread may use mm during or after the call.
 */
void umm_mm_destroy(struct umm_mm *mm)
{
	struct umm_system *sys;

	if (!mm)
		return;
	sys = mm->sys;
	mmu_notifier_release(mm);       /* secondary MMUs let go before any page does */
	mmap_write_lock(mm);
	exit_mmap(mm);
	mmap_write_unlock(mm);
	pgd_free(mm);
	mm_list_lock(sys);
	list_del(&mm->mmlist);
	sys->nr_mms--;
	mm_list_unlock(sys);
	percpu_free_rwsem(&mm->mmap_lock);
	fmutex_destroy(&mm->page_table_lock);
	io_tracker_put(atomic_load(&mm->prepage_io));   /* reads in flight hold their own references */
	kmem_cache_free(sys->mm_cache, mm);
}

/* dup_mmap - copy every VMA and its ptes from parent into the new child. */
static int dup_mmap(struct umm_mm *child, struct umm_mm *parent)
{
	struct vm_area_struct *vma, *copy;
	int err;

	mmap_assert_write_locked(parent);
	mmap_assert_write_locked(child);
	child->mmap_base = parent->mmap_base;
	for (vma = vma_first(parent); vma; vma = vma_next(vma)) {
		if (vma->vm_flags & VM_DONTCOPY)
			continue;         /* MADV_DONTFORK: a hole in the child */
		copy = vma_dup(child, vma);
		if (!copy)
			return -ENOMEM;
		copy->vm_flags &= ~VM_LOCKED_MASK;   /* mlock is not inherited, as in Linux */
		vma_link(child, copy);
		err = copy_page_range(copy, vma);
		if (err)
			return err;
	}
	return 0;
}

/**
 * umm_fork - create *child as a copy of parent: same VMAs (but those
 * marked MADV_DONTFORK, which the child does not get), none of them
 * locked (neither VM_LOCKED nor mlockall's MCL_FUTURE is inherited, as in
 * Linux); private pages shared copy-on-write; shared mappings stay
 * shared.  0, -EINVAL, -ENOMEM (no child is left behind on failure).
 */
int umm_fork(struct umm_mm *parent, struct umm_mm **child)
{
	struct umm_mm *mm;
	int err;

	if (!parent || !child)
		return -EINVAL;
	err = mm_alloc(parent->sys, &mm);
	if (err)
		return err;
	mmap_write_lock(parent);
	mmap_write_lock_nested(mm, SINGLE_DEPTH_NESTING);
	err = dup_mmap(mm, parent);
	if (!err) {
		mm_debug_check(parent);
		mm_debug_check(mm);
	}
	mmap_write_unlock(mm);
	mmap_write_unlock(parent);
	if (err) {
		umm_mm_destroy(mm);
		return err;
	}
	*child = mm;
	return 0;
}

/**
 * umm_mm_stats - per-address-space counters.  0 or -EINVAL.
 */
int umm_mm_stats(struct umm_mm *mm, struct umm_mm_stats *st)
{
	if (!mm || !st)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	st->rss_anon = (unsigned long)get_mm_counter(mm, MM_ANONPAGES);
	st->rss_file = (unsigned long)get_mm_counter(mm, MM_FILEPAGES);
	st->rss_shmem = (unsigned long)get_mm_counter(mm, MM_SHMEMPAGES);
	st->swap_ents = (unsigned long)get_mm_counter(mm, MM_SWAPENTS);
	st->minor_faults = get_mm_event(mm, MM_MIN_FLT);
	st->major_faults = get_mm_event(mm, MM_MAJ_FLT);
	st->cow_faults = get_mm_event(mm, MM_COW_FLT);
	st->pgtable_pages = (unsigned long)atomic_load(&mm->nr_ptes);
	mmap_read_lock(mm);
	st->nr_vmas = mm->map_count;
	st->total_vm = mm->total_vm;
	st->locked_vm = mm->locked_vm;
	mmap_read_unlock(mm);
	return 0;
}

/* vma_name - what /proc/PID/maps shows in the path column. */
static void vma_name(const struct vm_area_struct *vma, char *buf, size_t len)
{
	char link[64];
	ssize_t n;

	buf[0] = 0;
	if (!vma->vm_obj)
		return;
	if (vma->vm_obj->type == OBJ_SHMEM) {
		snprintf(buf, len, "/dev/zero (deleted)");
		return;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", vma->vm_obj->fd);
	n = readlink(link, buf, len - 1);
	buf[n > 0 ? n : 0] = 0;
}

static void vma_perms(const struct vm_area_struct *vma, char perms[5])
{
	perms[0] = vma->vm_flags & VM_READ ? 'r' : '-';
	perms[1] = vma->vm_flags & VM_WRITE ? 'w' : '-';
	perms[2] = vma->vm_flags & VM_EXEC ? 'x' : '-';
	perms[3] = vma->vm_flags & VM_MAYSHARE ? 's' : 'p';
	perms[4] = 0;
}

/* vma_inode - the backing file's inode number, as /proc/PID/maps shows (0 for anon and shmem). */
static unsigned long vma_inode(const struct vm_area_struct *vma)
{
	struct stat st;

	if (!vma->vm_obj || vma->vm_obj->type != OBJ_FILE || fstat(vma->vm_obj->fd, &st))
		return 0;
	return (unsigned long)st.st_ino;
}

/* show_map_vma - one /proc/PID/maps line. */
static void show_map_vma(const struct vm_area_struct *vma, FILE *out)
{
	char perms[5], name[PATH_MAX];

	vma_perms(vma, perms);
	vma_name(vma, name, sizeof(name));
	fprintf(out, "%08lx-%08lx %s %08llx 00:00 %-10lu %s%s%s\n",
		(unsigned long)vma->vm_start, (unsigned long)vma->vm_end, perms,
		vma->vm_obj ? (unsigned long long)vma->vm_pgoff << PAGE_SHIFT : 0ULL,
		vma_inode(vma), name, (vma->vm_flags & VM_NONLINEAR) ? " [nonlinear]" : "",
		(vma->vm_flags & VM_LOCKED) ? " [locked]" : "");
}

/**
 * umm_mm_dump_maps - one /proc/PID/maps line per VMA; a nonlinear window
 * (umm_remap_file_pages) ends its line with " [nonlinear]", a locked
 * mapping (mlock) with " [locked]".  0 or -EINVAL.
 */
int umm_mm_dump_maps(struct umm_mm *mm, FILE *out)
{
	struct vm_area_struct *vma;

	if (!mm || !out)
		return -EINVAL;
	mmap_read_lock(mm);
	for (vma = vma_first(mm); vma; vma = vma_next(vma)) {
		show_map_vma(vma, out);
	}
	mmap_read_unlock(mm);
	return 0;
}

struct smaps_acc {
	struct umm_system *sys;
	unsigned long rss, shared_clean, shared_dirty, private_clean, private_dirty;
	unsigned long anon, referenced, zero, swap;
};

static int smaps_pte(struct umm_mm *mm, pte_t *ptep, uintptr_t addr, void *arg)
{
	struct smaps_acc *acc = arg;
	pte_t pte = *ptep;
	struct page *page;
	bool dirty;

	(void)addr;
	assert_pte_locked(mm, ptep);
	if (pte_is_swap(pte))
		acc->swap++;
	if (!pte_present(pte))
		return 0;
	if (pte_special(pte)) {
		acc->zero++;
		return 0;
	}
	page = pfn_to_page(acc->sys->phys, pte_pfn(pte));
	dirty = pte_dirty(pte) || PageDirty(page);
	acc->rss++;
	if (pte_young(pte) || PageReferenced(page))
		acc->referenced++;
	if (PageAnon(page))
		acc->anon++;
	if (page_mapcount(page) > 1)
		dirty ? acc->shared_dirty++ : acc->shared_clean++;
	else
		dirty ? acc->private_dirty++ : acc->private_clean++;
	return 0;
}

/**
 * umm_mm_dump_smaps - per-VMA memory summary in the style of
 * /proc/PID/smaps (sizes in kB).  0 or -EINVAL.
 */
int umm_mm_dump_smaps(struct umm_mm *mm, FILE *out)
{
	struct vm_area_struct *vma;
	const unsigned long kb = PAGE_SIZE / 1024;

	if (!mm || !out)
		return -EINVAL;
	mmap_read_lock(mm);
	for (vma = vma_first(mm); vma; vma = vma_next(vma)) {
		struct smaps_acc acc = { .sys = mm->sys };

		walk_pte_range(mm, vma->vm_start, vma->vm_end, smaps_pte, &acc);
		show_map_vma(vma, out);
		fprintf(out, "Size:           %8lu kB\n", vma_pages(vma) * kb);
		fprintf(out, "Rss:            %8lu kB\n", acc.rss * kb);
		fprintf(out, "Shared_Clean:   %8lu kB\n", acc.shared_clean * kb);
		fprintf(out, "Shared_Dirty:   %8lu kB\n", acc.shared_dirty * kb);
		fprintf(out, "Private_Clean:  %8lu kB\n", acc.private_clean * kb);
		fprintf(out, "Private_Dirty:  %8lu kB\n", acc.private_dirty * kb);
		fprintf(out, "Referenced:     %8lu kB\n", acc.referenced * kb);
		fprintf(out, "Anonymous:      %8lu kB\n", acc.anon * kb);
		fprintf(out, "ZeroPage:       %8lu kB\n", acc.zero * kb);
		fprintf(out, "Swap:           %8lu kB\n", acc.swap * kb);
		fprintf(out, "Locked:         %8lu kB\n", vma->vm_flags & VM_LOCKED ? acc.rss * kb : 0);
		fprintf(out, "VmFlags:        %s%s%s%s%s%s%s%s\n",
			vma->vm_flags & VM_READ ? "rd " : "", vma->vm_flags & VM_WRITE ? "wr " : "",
			vma->vm_flags & VM_EXEC ? "ex " : "", vma->vm_flags & VM_SHARED ? "sh " : "",
			vma->vm_flags & VM_LOCKED ? "lo " : "", vma->vm_flags & VM_LOCKONFAULT ? "lf " : "",
			vma->vm_flags & VM_NORESERVE ? "nr " : "", vma->vm_flags & VM_NONLINEAR ? "nl " : "");
	}
	mmap_read_unlock(mm);
	return 0;
}

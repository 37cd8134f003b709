/* SPDX-License-Identifier: MIT */
/*
 * preload_fork.c - fork() in an interposed process.
 *
 * The child of fork has only the forking thread: none of usermm's (fault
 * threads, kswapd, I/O), and usermm's locks may be held by threads that
 * no longer exist there.  So the child never calls usermm, and what it
 * inherits must not need usermm.  The prepare handler (pthread_atfork,
 * in the parent, before the fork) therefore hands every usermm mapping to
 * the kernel:
 *
 *  1. every served file's dirty pages are written back (no fdatasync);
 *  2. the contents of private and anonymous mappings are copied aside
 *     (pages of private file mappings that are still the file's, and pages
 *     past the end of the file, are left to the file);
 *  3. the window is detached (its host mappings go) and its address range
 *     reserved again at once, PROT_NONE, so nothing else lands there;
 *  4. each mapping is made again at the same address by the kernel: the
 *     same file, offset, protection and sharing (MAP_FIXED over the
 *     reservation), and the copied pages are written into the private and
 *     anonymous ones;
 *  5. usermm unmaps everything and puts the files' objects; the files are
 *     remembered as the kernel's, so their later mappings and I/O go to
 *     the kernel and stay coherent with these mappings.
 *
 * Then fork copies kernel mappings only: shared file mappings stay shared
 * between parent and child through the kernel's page cache, private ones
 * are copy-on-write as usual.  In the parent, files mapped later are
 * served by usermm again, in a new window; in the child the interposer is
 * off (every call goes to the kernel).
 *
 * Limits: another thread of the parent that touches a served mapping
 * while the prepare handler runs may lose a store, or get SIGSEGV (between
 * steps 3 and 4 the range is only reserved); a private page in swap at
 * the fork, in a mapping that is not writable then, is not carried over
 * (the kernel's mapping shows the file's bytes, or zeros); a nonlinear window (usermm's
 * remap_file_pages, which the interposer never makes) is not carried
 * over; if step 3 cannot re-reserve the range (another thread's mmap took
 * part of it in between), each mapping is made with MAP_FIXED_NOREPLACE
 * and one that cannot be is reported once on stderr and lost.
 *
 * Locks: the writeback lock (preload_writeback.c: no background pass is
 * half done, so none writes a page of a file after its mapping went to
 * the kernel), then pl.lock, are taken by the prepare handler and
 * released by the parent handler (made fresh by the child's, which also
 * notes that the child has no background writeback thread); usermm's
 * mmap_lock (read) nests inside them while the mappings are listed.
 * A fork from a signal handler that interrupted this thread inside usermm
 * or while it held one of them (preload_inside_usermm; the writeback
 * lock is error-checking) leaves the mappings to usermm (said on stderr)
 * rather than hang or break into the interrupted call.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "preload.h"
#include "filemap.h"
#include "gup.h"
#include "mm.h"
#include "vma.h"

struct fork_map {
	uintptr_t start, end;            /* usermm */
	unsigned long flags;             /* VM_* */
	struct umm_object *obj;          /* referenced; NULL: private anonymous */
	uint64_t pgoff;
	char *copy;                      /* private/anonymous: contents, kernel memory */
	unsigned char *copied;           /* one byte per page: copy holds it */
};

/* The contents of one page usermm maps at addr, into dst: true if copied. */
static bool copy_page_out(struct fork_map *m, uintptr_t addr, char *dst)
{
	struct page *page;

	if (m->flags & VM_WRITE)
		return umm_read(pl.mm, addr, dst, UMM_PAGE_SIZE) == 0;
	/* not writable now: only its private copies (anonymous pages) differ from the file */
	page = follow_page(pl.mm, addr);
	if (!page)
		return false;
	if (!m->obj || PageAnon(page)) {
		memcpy(dst, page_address(page), UMM_PAGE_SIZE);
		put_page(page);
		return true;
	}
	put_page(page);
	return false;
}

static int collect(struct fork_map **out, size_t *nout)
{
	struct vm_area_struct *vma;
	struct fork_map *v = NULL;
	size_t n = 0, cap = 0;

	mmap_read_lock(pl.mm);
	for (vma = vma_first(pl.mm); vma; vma = vma_next(vma)) {
		if (n == cap) {
			struct fork_map *nv = realloc(v, (cap = cap ? 2 * cap : 16) * sizeof(*v));

			if (!nv) {
				mmap_read_unlock(pl.mm);
				for (size_t i = 0; i < n; i++)
					umm_object_put(v[i].obj);
				free(v);
				return -ENOMEM;
			}
			v = nv;
		}
		v[n] = (struct fork_map){
			.start = vma->vm_start, .end = vma->vm_end, .flags = vma->vm_flags,
			.obj = vma->vm_obj, .pgoff = vma->vm_pgoff,
		};
		if (v[n].obj)
			umm_object_get(v[n].obj);
		n++;
	}
	mmap_read_unlock(pl.mm);
	*out = v;
	*nout = n;
	return 0;
}

static int prot_of(unsigned long flags)
{
	return (flags & VM_READ ? PROT_READ : 0) | (flags & VM_WRITE ? PROT_WRITE : 0);
}

static void copy_aside(struct fork_map *m)
{
	size_t len = m->end - m->start, pages = len / UMM_PAGE_SIZE;

	if ((m->flags & VM_SHARED) && m->obj && m->obj->type == OBJ_FILE)
		return;                    /* the file has it, after writeback */
	m->copy = preload_sys_mmap(NULL, len, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	m->copied = calloc(pages, 1);
	if (m->copy == MAP_FAILED || !m->copied) {
		if (m->copy != MAP_FAILED)
			preload_sys_munmap(m->copy, len);
		m->copy = NULL;
		return;
	}
	/* a mapping usermm cannot read (PROT_NONE, write-only) is opened for reading first */
	if (!(m->flags & VM_READ))
		umm_mprotect(pl.mm, m->start, len, PROT_READ | (m->flags & VM_WRITE ? PROT_WRITE : 0));
	for (size_t i = 0; i < pages; i++)
		m->copied[i] = copy_page_out(m, m->start + i * UMM_PAGE_SIZE, m->copy + i * UMM_PAGE_SIZE);
}

static bool remap_in_kernel(struct fork_map *m, char *base, bool reserved)
{
	char *h = base + (m->start - pl.ustart);
	size_t len = m->end - m->start;
	int prot = prot_of(m->flags), flags, fd = -1;
	void *p;

	flags = (m->flags & VM_SHARED) ? MAP_SHARED : MAP_PRIVATE;
	if (m->obj && m->obj->type == OBJ_FILE)
		fd = m->obj->fd;
	else
		flags |= MAP_ANONYMOUS;
	flags |= reserved ? MAP_FIXED : MAP_FIXED_NOREPLACE;
	p = preload_sys_mmap(h, len, prot | (m->copy ? PROT_WRITE : 0), flags, fd,
			     fd >= 0 ? (off_t)(m->pgoff * UMM_PAGE_SIZE) : 0);
	if (p != h) {
		if (p != MAP_FAILED)
			preload_sys_munmap(p, len);
		return false;
	}
	if (m->copy) {
		for (size_t i = 0; i < len / UMM_PAGE_SIZE; i++)
			if (m->copied[i])
				memcpy(h + i * UMM_PAGE_SIZE, m->copy + i * UMM_PAGE_SIZE, UMM_PAGE_SIZE);
		preload_sys_mprotect(h, len, prot);
	}
	return true;
}

static void remember_kernel_file(struct preload_file *f)
{
	struct preload_kfile *k = malloc(sizeof(*k));

	if (!k)
		return;        /* later mappings of it may be served again: still coherent
		                  with these only through the file, as two processes are */
	k->dev = f->dev;
	k->ino = f->ino;
	k->next = pl.kfiles;
	pl.kfiles = k;
}

/* The prepare handler could not take the locks: this thread holds one. */
static __thread bool fork_unlocked;

static void fork_prepare(void)
{
	struct fork_map *v = NULL;
	size_t n = 0, lost = 0;
	char *base;
	bool reserved;

	fork_unlocked = false;
	/* no background pass half done (preload_writeback.c), then pl.lock */
	if (preload_inside_usermm() || preload_writeback_lock()) {
		static const char msg[] = "usermm preload: fork from a signal handler that interrupted the "
			"interposer: the mappings stay usermm's; the child gets SIGSEGV where they were\n";

		fork_unlocked = true;
		(void)!preload_sys_write(2, msg, sizeof(msg) - 1);
		return;
	}
	preload_lock();
	base = atomic_load(&pl.base);
	if (atomic_load(&pl.state) != PL_ON || !base)
		return;
	PL_COUNT(forks, 1);
	/* 1, 2 */
	for (struct preload_file *f = pl.files; f; f = f->next)
		filemap_write_range(f->obj, 0, UINT64_MAX);
	if (collect(&v, &n)) {
		static const char msg[] = "usermm preload: no memory to hand the mappings to the kernel "
			"at fork; the child gets SIGSEGV where they were\n";

		(void)!preload_sys_write(2, msg, sizeof(msg) - 1);
		return;
	}
	for (size_t i = 0; i < n; i++)
		copy_aside(&v[i]);
	/* 3 */
	umm_host_detach(pl.mm, base);
	atomic_store(&pl.base, NULL);
	reserved = preload_sys_mmap(base, pl.wlen, PROT_NONE,
				    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE,
				    -1, 0) == base;
	/* 4, 5 */
	for (size_t i = 0; i < n; i++) {
		struct fork_map *m = &v[i];

		if (!remap_in_kernel(m, base, reserved))
			lost++;
		else
			PL_COUNT(fork_mappings, 1);
		umm_munmap(pl.mm, m->start, m->end - m->start);
		if (m->copy)
			preload_sys_munmap(m->copy, m->end - m->start);
		free(m->copied);
		if (m->obj)
			umm_object_put(m->obj);
	}
	free(v);
	for (struct preload_file *f = pl.files, *next; f; f = next) {
		next = f->next;
		remember_kernel_file(f);
		umm_object_put(f->obj);
		free(f);
	}
	pl.files = NULL;
	atomic_store(&pl.nfiles, 0);
	if (lost) {
		static const char msg[] = "usermm preload: fork: a mapping could not be made again at its "
			"address (the range was taken); it is gone\n";
		(void)!preload_sys_write(2, msg, sizeof(msg) - 1);
	}
}

static void fork_parent(void)
{
	if (fork_unlocked)
		return;
	preload_unlock();
	preload_writeback_unlock();
}

static void fork_child(void)
{
	preload_mutex_init(&pl.lock);
	if (!fork_unlocked)
		preload_lock_depth--;
	preload_writeback_forked();
	if (atomic_load(&pl.state) == PL_ON)
		atomic_store(&pl.state, PL_OFF);
	atomic_store(&pl.base, NULL);
	atomic_store(&pl.nfiles, 0);
}

/** preload_fork_setup - install the fork handlers (once, at start).  No lock. */
void preload_fork_setup(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

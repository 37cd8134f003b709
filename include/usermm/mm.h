/* SPDX-License-Identifier: MIT */
/*
 * usermm/mm.h - address spaces and the mmap family.
 *
 * The calls take the host's <sys/mman.h> constants and follow Linux's
 * semantics and errors; see docs/API.md for the differences.  Addresses are
 * usermm virtual addresses (48-bit, 4 KiB pages), not host pointers.
 * A failed call changes nothing.
 *
 * MAP_POPULATE maps every page before umm_mmap returns (private writable
 * mappings get their private copies); MAP_POPULATE|MAP_NONBLOCK maps only
 * the pages already in the page cache and starts no I/O (the 2.6-era
 * meaning, see docs/API.md); MAP_LOCKED locks the mapping (as umm_mlock
 * does, below) and populates it like MAP_POPULATE.  A populate that fails
 * (no memory, I/O error) leaves the rest to the fault path: umm_mmap still
 * succeeds.
 */
#ifndef USERMM_MM_H
#define USERMM_MM_H

#include "system.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The usable range of an address space. */
#define UMM_MMAP_MIN_ADDR 0x10000UL
#define UMM_TASK_SIZE     0x7ffffffff000UL
/*
 * Top-down placement starts below UMM_MMAP_BASE: the 128 MiB below the
 * top are left free the way Linux leaves room for the stack under
 * mmap_base (used only when nothing else fits, or with MAP_FIXED/a hint).
 */
#define UMM_MMAP_BASE     (UMM_TASK_SIZE - (128UL << 20))

int  umm_mm_create(struct umm_system *sys, struct umm_mm **out);
void umm_mm_destroy(struct umm_mm *mm);              /* like exit */
int  umm_fork(struct umm_mm *parent, struct umm_mm **child);

int  umm_mmap(struct umm_mm *mm, uintptr_t addr, size_t len, int prot, int flags,
              struct umm_object *obj, uint64_t offset, uintptr_t *out_addr);
int  umm_munmap(struct umm_mm *mm, uintptr_t addr, size_t len);
int  umm_mprotect(struct umm_mm *mm, uintptr_t addr, size_t len, int prot);
int  umm_mremap(struct umm_mm *mm, uintptr_t old_addr, size_t old_len, size_t new_len,
                int flags, uintptr_t new_addr, uintptr_t *out_addr);

/*
 * umm_madvise - advice about [addr, addr+len), as madvise(2), with the
 * host's MADV_* values: NORMAL, RANDOM, SEQUENTIAL (readahead hints kept
 * on the VMAs), WILLNEED (read the range's missing file pages into the
 * page cache: the reads are started and complete after the call, errors
 * ignored), DONTNEED (drop the
 * pages: private anonymous memory reads back as zeroes, file mappings
 * refault from the file, private copies are lost), FREE (private
 * anonymous only: the pages may be dropped lazily, a write cancels that;
 * see docs/API.md), POPULATE_READ / POPULATE_WRITE (fault the range in
 * now), DONTFORK / DOFORK (umm_fork leaves the range out / copies it),
 * COLD (the mapped pages become the first reclaim takes), PAGEOUT (reclaim
 * the mapped file pages now, writing dirty ones back first).
 * Returns 0, or -EINVAL (unknown advice, addr unaligned, range wraps,
 * DONTNEED/FREE/COLD/PAGEOUT on a MAP_LOCKED range, FREE on a non-anonymous range,
 * POPULATE_* on a range that does not allow the access), -ENOMEM (a hole
 * in the range, or out of memory while populating), -EFAULT (POPULATE_*
 * hit what an access would answer with -EIO: I/O error, past end of file).
 * The range is checked whole before anything is done: a failed call
 * changes nothing (POPULATE_* keep what they populated before an I/O error
 * or running out of memory).  len 0 is a no-op.
 */
int  umm_madvise(struct umm_mm *mm, uintptr_t addr, size_t len, int advice);

/*
 * umm_mincore - one byte per page of [addr, addr+len) into vec: bit 0 set
 * when the page is resident (mapped by a pte, or, unmapped, in the page
 * cache of the file or shmem object the mapping shows there).  Returns 0,
 * -EINVAL (addr unaligned), -ENOMEM (a hole, or beyond UMM_TASK_SIZE),
 * -EFAULT (vec NULL).  len 0 is a no-op.
 */
int  umm_mincore(struct umm_mm *mm, uintptr_t addr, size_t len, unsigned char *vec);

/*
 * umm_msync - as msync(2) for the shared file mappings of [addr, addr+len):
 * MS_SYNC writes their dirty pages back and fdatasyncs the files (the data
 * is durable on return; a write error is -EIO and the page stays dirty);
 * MS_ASYNC writes them back without waiting for durability (synchronously
 * for now; errors are kept for the next MS_SYNC or umm_object_sync);
 * MS_INVALIDATE has nothing to do (one page cache serves every mapping)
 * but is -EBUSY on a MAP_LOCKED range, as in Linux.  Returns 0, -EINVAL
 * (addr unaligned, unknown flags, both MS_SYNC and MS_ASYNC), -ENOMEM (a
 * hole in the range), -EIO.  A range with a hole writes nothing.  In a
 * nonlinear window (umm_remap_file_pages) the pages written are the ones
 * the range shows, at their own offsets.
 */
int  umm_msync(struct umm_mm *mm, uintptr_t addr, size_t len, int flags);

/*
 * umm_prepage - bring in, now, every page of each extent
 * [v[i].addr, v[i].addr + v[i].extent) (an unaligned extent covers the
 * pages it touches; overlapping and adjacent extents are merged; extent 0
 * is empty).  Best effort: a page that cannot be brought in (no memory,
 * I/O error, past end of file) is left to the fault path; the call does
 * not report it.  Synchronous: the pages are in when it returns (unless
 * UMM_PREPAGE_ASYNC, below).
 *
 * A tuple is invalid when its range wraps, leaves [UMM_MMAP_MIN_ADDR,
 * UMM_TASK_SIZE), or covers a page with no mapping or one that does not
 * allow the access (read; write with UMM_PREPAGE_WRITE).  Without
 * UMM_PREPAGE_SKIP_INVALID an invalid tuple fails the whole call with
 * -EFAULT before anything is done, and umm_prepage_bad_index() then
 * gives the index of the first invalid tuple (kept per thread, like
 * errno); with the flag, invalid tuples are skipped.
 *
 * Returns 0, -EFAULT (see above), -EINVAL (mm NULL, v NULL with n > 0,
 * unknown flags), -ENOMEM (no memory to sort the tuples).
 */
struct umm_prepage_tuple {
	uintptr_t addr;
	size_t extent;      /* bytes */
};
#define UMM_PREPAGE_WRITE        0x1   /* fault for writing: break copy-on-write now */
#define UMM_PREPAGE_SKIP_INVALID 0x2   /* skip invalid tuples instead of failing */
#define UMM_PREPAGE_ASYNC        0x4   /* queue the reads and return (below) */
int  umm_prepage(struct umm_mm *mm, const struct umm_prepage_tuple *v, size_t n, int flags);
/*
 * UMM_PREPAGE_ASYNC: the tuples are checked and merged as above (errors
 * are returned at once, nothing done), then the reads of the pages of file
 * mappings that are not in the page cache are queued to the system's I/O
 * backend and the call returns without waiting.  Nothing is mapped: the
 * first touch of each page is a minor fault (it waits if the page's read
 * is still in flight).  Pages that need no read (anonymous, shmem, already
 * cached) and the copies UMM_PREPAGE_WRITE asks for are left to the faults.
 *
 * umm_prepage_wait - block until every read queued by the asynchronous
 * prepages of mm made before the call has completed (reads queued by
 * prepages made while it waits are waited for too).  Returns 0; -EIO if
 * any of the reads completed since the last umm_prepage_wait failed (the
 * page is left out of the cache; the access that needs it reads it again
 * and gets -EIO only if that fails too); -EINVAL (mm NULL).  Any thread may
 * wait; the wait does not hold mm's locks, so the mm may be used meanwhile.
 */
int  umm_prepage_wait(struct umm_mm *mm);
/*
 * umm_prepage_bad_index - the index of the first invalid tuple of this
 * thread's last umm_prepage call that returned -EFAULT (SIZE_MAX if none).
 */
size_t umm_prepage_bad_index(void);

/*
 * Locking memory (docs/API.md, "mlock"), as mlock(2) and mlockall(2).  A
 * locked range is populated (writable private mappings get their private
 * copies) unless it is locked on fault, and its pages are never
 * reclaimed while a locked mapping maps them.  addr is rounded down and
 * addr + len up to pages; len 0 at a page boundary does nothing.
 *
 * umm_mlock - lock [addr, addr+len).  Returns 0, -EINVAL (mm NULL, the
 * range wraps), -ENOMEM (a hole in the range, beyond UMM_TASK_SIZE, over
 * umm_config.mlock_limit_bytes, no memory to split a mapping: nothing
 * changed; or, as Linux, a page that could not be read or lies past the
 * end of its file: the range stays locked), -EAGAIN (out of memory while
 * populating: the range stays locked), -EPERM (mlock_limit_bytes below
 * one page: no locking allowed).
 * umm_mlock2 - flags 0 or MLOCK_ONFAULT (lock without populating: pages
 * are locked as they are faulted in); unknown flags -EINVAL.
 * umm_munlock - unlock [addr, addr+len): 0, -EINVAL, -ENOMEM (hole,
 * beyond UMM_TASK_SIZE, no memory to split); nothing changed on failure.
 * umm_mlockall - MCL_CURRENT: lock (and populate, skipping pages that
 * fail) every mapping now; MCL_FUTURE: every mapping made from now on;
 * MCL_ONFAULT with either: without populating.  Without MCL_FUTURE an
 * earlier MCL_FUTURE is turned off.  0, -EINVAL (flags 0, unknown or
 * MCL_ONFAULT alone), -ENOMEM (MCL_CURRENT over the limit), -EPERM.
 * umm_munlockall - unlock everything and turn MCL_FUTURE off.  0 or -EINVAL.
 *
 * The child of umm_fork inherits no lock (neither the mappings' nor
 * MCL_FUTURE).  MADV_DONTNEED and MADV_FREE on a locked range are -EINVAL.
 */
int  umm_mlock(struct umm_mm *mm, uintptr_t addr, size_t len);
int  umm_mlock2(struct umm_mm *mm, uintptr_t addr, size_t len, unsigned int flags);
int  umm_munlock(struct umm_mm *mm, uintptr_t addr, size_t len);
int  umm_mlockall(struct umm_mm *mm, int flags);
int  umm_munlockall(struct umm_mm *mm);

/*
 * Nonlinear windows (docs/API.md, "Nonlinear mappings"): show object pages
 * pgoff, pgoff+1, ... at [start, start+size) of one file or shmem VMA
 * (shared, or private: written pages become private copies), which stays
 * one VMA.  prot 0 keeps the VMA's protection,
 * another prot applies to that range only.  flags: 0 (populate, reading
 * what is missing) or MAP_NONBLOCK (map only cached pages).
 */
int  umm_remap_file_pages(struct umm_mm *mm, uintptr_t start, size_t size, int prot,
                          uint64_t pgoff, int flags);
struct umm_remap_entry {
	uintptr_t start;
	size_t size;
	int prot;
	uint64_t pgoff;
};
/*
 * The vectored form: n remaps in order under one lock round trip; atomic
 * (on an error none is applied and *bad_index, if not NULL, is the index
 * of the first bad entry, or n when no entry is to blame).
 */
int  umm_remap_file_pages_v(struct umm_mm *mm, const struct umm_remap_entry *entries, size_t n,
                            int flags, size_t *bad_index);

#ifdef __cplusplus
}
#endif
#endif

/* SPDX-License-Identifier: MIT */
/*
 * usermm/system.h - one usermm instance: physical memory, swap, policies.
 *
 * Every call returns 0 or a negative errno.  Faults have the signals'
 * meaning everywhere in usermm:
 *   -EFAULT  what Linux answers with SIGSEGV (no mapping, wrong protection)
 *   -EIO     what Linux answers with SIGBUS (past the end of the object,
 *            backing I/O failed)
 *   -ENOMEM  out of physical memory (or of page-table/VMA memory)
 */
#ifndef USERMM_SYSTEM_H
#define USERMM_SYSTEM_H

#include <stddef.h>
#include <stdint.h>
#include "mman.h"

#ifdef __cplusplus
extern "C" {
#endif

#define UMM_PAGE_SHIFT 12
#define UMM_PAGE_SIZE  4096UL

enum {
	UMM_RMAP_DEFAULT   = 0,
	UMM_RMAP_PTE_CHAIN = 1,
	UMM_RMAP_OBJECT    = 2,
};

/* How file pages are read asynchronously (readahead, prepage). */
enum {
	UMM_IO_DEFAULT = 0,   /* io_uring if the kernel allows it, else threads;
	                         the environment variable UMM_IO_BACKEND=threads
	                         or =io_uring overrides this default */
	UMM_IO_URING   = 1,   /* io_uring (liburing); umm_system_create fails
	                         with -EOPNOTSUPP if it cannot be set up */
	UMM_IO_THREADS = 2,   /* a pool of threads calling preadv */
};

/*
 * What the host memory behind the physical frames is (umm_config.arena).
 * The default, UMM_ARENA_AUTO, is the faster kind the host supports:
 * anonymous memory when the host gives it transparent huge pages, a
 * memfd otherwise.  Host windows need a memfd arena: a program that calls
 * umm_host_attach (usermm/host.h) sets config.arena = UMM_ARENA_MEMFD.
 */
enum {
	UMM_ARENA_AUTO    = 0,  /* the default: UMM_ARENA_ANON when the host's
	                           transparent huge pages for anonymous memory
	                           are on for memory that asks for them
	                           (/sys/kernel/mm/transparent_hugepage/enabled,
	                           or its hugepages-2048kB/enabled, is "always"
	                           or "madvise"; read once per process) and the
	                           process has not disabled them (prctl
	                           PR_SET_THP_DISABLE) and the host does not
	                           account memory strictly
	                           (vm.overcommit_memory 2 would charge the
	                           whole arena at creation), UMM_ARENA_MEMFD
	                           otherwise, also when the huge page controls
	                           cannot be read; umm_sys_stats.arena says
	                           which */
	UMM_ARENA_DEFAULT = UMM_ARENA_AUTO,
	UMM_ARENA_MEMFD   = 1,  /* a memfd (shared memory) mapped MAP_SHARED: every
	                           host page is a 4 KiB shmem page on hosts whose
	                           shmem transparent huge pages are off; the only
	                           kind umm_host_attach works with; a host fork()
	                           child shares it with the parent */
	UMM_ARENA_ANON    = 2,  /* private anonymous memory (MAP_PRIVATE |
	                           MAP_ANONYMOUS | MAP_NORESERVE, 2 MiB aligned,
	                           MADV_HUGEPAGE): on a host with transparent
	                           huge pages "always" or "madvise" the host
	                           brings it in 2 MiB at a time, so a fresh
	                           system's first faults cost less; a system
	                           with it cannot be attached to host windows
	                           (umm_host_attach: -EOPNOTSUPP), and a host
	                           fork() child gets a copy-on-write copy of it
	                           (docs/API.md, "Physical memory and the
	                           host") */
};

/* A zero field means a sane default. */
struct umm_config {
	size_t      phys_bytes;   /* physical memory; default 256 MiB, minimum 1 MiB
	                             (-EINVAL below); more than the host can
	                             reserve gives -ENOMEM */
	const char *swap_path;    /* swap device: a file path (opened, or created
	                             mode 0600, and sized to swap_bytes), or a
	                             Redis target "redis://[[user]:password@]host:port[/db][?opts]"
	                             or "redis-cluster://host:port[,host:port...][?opts]"
	                             (README: Swapping to Redis); NULL: no
	                             swap, anonymous and shmem pages stay in memory */
	size_t      swap_bytes;   /* its size: a multiple of 4 KiB, at least
	                             260 KiB (65 pages); -EINVAL otherwise */
	int         rmap;         /* reverse-map scheme: UMM_RMAP_PTE_CHAIN (per-pte
	                             chains) or UMM_RMAP_OBJECT (anon_vma and the
	                             object's vma list); 0: object, or what the
	                             environment variable UMM_RMAP ("object" or
	                             "pte-chain") says */
	size_t      wmark_min_bytes;  /* min watermark; default max(64 KiB, phys/256);
	                                 -EINVAL at or above half the system's size
	                                 (phys_bytes, or the default when it is 0) */
	unsigned    pcp_high;     /* frames kept per thread; default 64 */
	int         debug_checks; /* run the expensive invariant check after every
	                             address-space operation (slow; for tests) */
	int         io_backend;   /* UMM_IO_*; default UMM_IO_DEFAULT */
	size_t      readahead_max_bytes; /* largest readahead window of a file
	                             stream; default 512 KiB, rounded down to
	                             pages, at most 16 MiB; one page turns
	                             fault-time readahead off */
	int         populate;     /* 1: bring all of phys_bytes in from the host at
	                             creation (creation takes longer, first faults
	                             cost what warm ones do); 0: bring memory in
	                             2 MiB at a time as frames are first handed out */
	long        release_ms;   /* give free 4 MiB blocks of physical memory back
	                             to the host once they have stayed free this
	                             long (ms); 0 = default: 1000, or never when
	                             populate is 1; -1 = never */
	size_t      mlock_limit_bytes; /* most bytes one address space may lock
	                             (umm_mlock, umm_mlockall, MAP_LOCKED), rounded
	                             down to pages; 0 = no limit; below one page:
	                             no locking at all (-EPERM, Linux's
	                             RLIMIT_MEMLOCK 0 without privilege) */
	long        populate_ahead_mib; /* a thread started with the system keeps
	                             the next this many MiB of physical memory the
	                             allocator will hand out brought in from the
	                             host, on its own CPU, so first faults find it
	                             there (rounded up to 2 MiB; more than
	                             phys_bytes: all of it); 0 = default: 16, or
	                             none when populate is 1 or the arena is
	                             anonymous (UMM_ARENA_ANON, or what
	                             UMM_ARENA_AUTO chose); -1 = no thread */
	int         arena;        /* UMM_ARENA_*: what the host memory behind the
	                             frames is; default UMM_ARENA_AUTO (anonymous
	                             with host huge pages, else memfd); set
	                             UMM_ARENA_MEMFD to use umm_host_attach */
	long        collapse_ms;  /* anonymous arena only: while the host's huge
	                             pages are cold, 2 MiB chunks come in as 4 KiB
	                             host pages (cheaper for the fault that waits);
	                             once no chunk has come in for this long (ms),
	                             a thread collapses them into 2 MiB host pages
	                             one at a time (each holds the host's mmap
	                             lock while it copies, a few ms); 0 = default:
	                             200; -1 = never */
};

struct umm_system;
struct umm_object;
struct umm_mm;

/*
 * umm_system_create - cfg NULL means all defaults.  -EINVAL for a bad config
 * (phys_bytes < 1 MiB, unknown rmap, min watermark >= half of memory,
 * unknown io_backend, readahead_max_bytes not 0 and below 4 KiB or above
 * 16 MiB, populate not 0 or 1, release_ms, populate_ahead_mib or collapse_ms below -1,
 * unknown arena,
 * swap_bytes without
 * swap_path, or below 260 KiB, or not a multiple of 4 KiB, swap_path not
 * a regular file) or a NULL out; the errno of opening or creating
 * swap_path (-EACCES, -ENOENT, -EISDIR...); for a Redis swap_path,
 * -EINVAL for a malformed target, -ECONNREFUSED (or the connect errno)
 * when a server cannot be reached, -EACCES when it wants a password or
 * refuses the one given, and -EOPNOTSUPP when usermm was built without
 * hiredis (each with a log line saying why, never the password);
 * -EOPNOTSUPP for io_backend
 * UMM_IO_URING when io_uring cannot be set up; -ENOMEM when the
 * memory cannot be reserved, whether the host is short of it or phys_bytes
 * is larger than any host could reserve (1ULL << 62).
 */
int  umm_system_create(const struct umm_config *cfg, struct umm_system **out);
/*
 * umm_system_destroy - free an instance.  The caller destroys its address
 * spaces and puts its objects first: while any is alive the call logs a
 * warning and returns -EBUSY, destroying nothing.  0 otherwise (and for
 * NULL).
 */
int  umm_system_destroy(struct umm_system *sys);

/*
 * Diagnostics.  usermm writes nothing itself: each line it has to say
 * goes to one process-wide log function, with a level:
 *   UMM_LOG_WARNING  a condition it handled that means a caller's mistake
 *                    or lost data (umm_system_destroy with live address
 *                    spaces or objects, dirty pages the file refused
 *                    when their object was freed, a debug assertion
 *                    that failed).
 *                    Also counted in umm_sys_stats.warnings of the system
 *                    it concerns, when there is one.
 *   UMM_LOG_CHECK    what umm_mm_check / umm_system_check found wrong.
 *   UMM_LOG_BUG      a broken invariant; the process aborts right after.
 * umm_set_log(fn, arg) installs fn (called as fn(level, line, arg), the
 * line without a newline); NULL restores the default, which writes
 * "usermm: <line>" to stderr for every level when the library is a debug
 * build (UMM_DEBUG), and for UMM_LOG_CHECK and UMM_LOG_BUG only otherwise.  fn may be called
 * from any thread, with usermm locks held: it must not call usermm.
 */
enum umm_log_level {
	UMM_LOG_WARNING = 1,
	UMM_LOG_CHECK   = 2,
	UMM_LOG_BUG     = 3,
};
typedef void (*umm_log_fn)(int level, const char *line, void *arg);
void umm_set_log(umm_log_fn fn, void *arg);

/* umm_strerror - text for a negative (or positive) errno returned by usermm. */
const char *umm_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif

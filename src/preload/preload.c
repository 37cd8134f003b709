/* SPDX-License-Identifier: MIT */
/*
 * preload.c - libusermm_preload.so: run an unmodified program's file
 * mappings on usermm (LD_PRELOAD=.../libusermm_preload.so program).
 *
 * Theory of operation
 *
 * One system, one address space, one window.  The first mmap of a
 * regular file starts a usermm system (USERMM_PHYS bytes of physical
 * memory, swap if USERMM_SWAP names a device), creates one usermm address
 * space for the whole process and attaches one host window to it
 * (umm_host_attach): usermm addresses [ustart, ustart + wlen) appear at
 * host addresses [base, base + wlen), with ustart + wlen = UMM_MMAP_BASE
 * (usermm places mappings top down from there, so they land in the
 * window; a mapping without a hint starts on a 64 MiB boundary, see
 * place() in preload_mman.c) and wlen = USERMM_WINDOW, 1 TiB by default
 * (PROT_NONE, MAP_NORESERVE: it costs address space only).  The window
 * is placed at 16 TiB when that range is free, so a program that maps the same files
 * in the same order gets the same addresses in every run, as the kernel
 * gives a program the address it asks for when it is free (LMDB's
 * MDB_FIXEDMAP reopens its map at the address stored in the file).  A file mapping is made
 * with umm_mmap and the program receives base + (X - ustart) for usermm
 * address X: loads and stores through it fault into usermm through the
 * host MMU (its SIGSEGV handler and fault threads) and then run at the
 * speed of plain memory.
 *
 * What is served (preload_mman.c).  mmap of a regular file, without
 * PROT_EXEC (windows are never executable), not MAP_FIXED outside the
 * window, and not with a hint outside the window that the kernel can
 * honour (a free range) for a file not yet served; memfds and POSIX shared memory (/dev/shm), regular files made
 * to be shared with other processes, and procfs, sysfs and hugetlbfs
 * files stay with the kernel.  Anonymous mappings, devices, and everything else go to the
 * kernel unchanged, so the C library's own mmap calls (malloc arenas,
 * thread stacks) never reach usermm, and nothing starts usermm until a
 * file is mapped.  An anonymous MAP_FIXED (or MAP_FIXED_NOREPLACE) inside
 * the window is made by usermm too: the range belongs to usermm.
 * munmap, mprotect, madvise, msync, mremap, mincore, mlock and munlock
 * of window addresses go to usermm (a range that is partly in the window is split: the rest goes
 * to the kernel); the kernel never sees a call on the window, which it
 * would take for an ordinary PROT_NONE reservation.
 *
 * Files and coherence (preload_io.c).  usermm keeps one object (page
 * cache) per file (device, inode) while the file has a mapping.  pread,
 * pwrite, read, write, preadv, pwritev, preadv2, pwritev2, readv, writev
 * (and the 64 variants) on any descriptor of such a file go through that
 * page cache (umm_object_read / umm_object_write), so a write is seen at once
 * through every mapping and a read sees the dirty mapped pages.  The
 * descriptor is identified by fstat on every call while some file is
 * served (none is: no extra call): there is no per-descriptor table to
 * keep right, so close, dup, dup2, dup3 and fcntl(F_DUPFD) need no
 * interposition, and a descriptor the C library opened or closed behind
 * our back (fopen, fclose) is never mistaken for another file.
 * ftruncate and truncate go to umm_object_truncate (which truncates the
 * file too), fallocate grows the object with the file (and refuses the
 * modes that would rewrite cached bytes), fsync and fdatasync write the
 * dirty pages back first.  O_APPEND (the
 * write lands at the end, for pwrite too, as Linux does) and O_DSYNC /
 * O_SYNC (umm_object_sync after the write) are honoured.  When the last
 * mapping of a file goes, its object is put: dirty pages are written back
 * and from then on its I/O goes straight to the kernel.  Buffers in the
 * window given to the kernel (write(2) of a mapped page to a socket or
 * to a file usermm does not serve) are mapped first with
 * umm_host_prefault, so the kernel does not fail them with EFAULT.
 *
 * The library itself.  The usermm objects linked into this library
 * call mmap, pwrite, read... for their own needs; the build renames
 * those references to preload_sys_* (preload_sys.c: the system calls
 * themselves), so nothing usermm does, on any thread, comes back here.
 *
 * Writeback (preload_writeback.c, preload_exec.c).  A background thread
 * writes every served file's dirty pages back every USERMM_WRITEBACK_MS
 * milliseconds, as the kernel's flusher threads do.  A destructor (after
 * the program's atexit handlers) and an at_quick_exit handler stop it,
 * write every dirty page back to its file, as the kernel's page cache
 * would later, and write USERMM_STATS; _exit, _Exit and the exec
 * functions, which run neither, do the same first.  A process killed by
 * a signal loses what the mappings wrote since the last writeback (about
 * one period): the kernel's page cache would have kept it.
 *
 * Fork (preload_fork.c).  The child has none of usermm's threads.  Before
 * fork, every usermm mapping is handed to the kernel: dirty pages are
 * written back, and each mapping is replaced at the same address by the
 * kernel's own mapping of the same file (shared ones then share the
 * kernel's page cache in parent and child; private ones get their pages'
 * contents copied).  The files are the kernel's from then on; other
 * files mapped later are served again, in a new window.  The child never
 * calls usermm.
 *
 * Threads (kthread.c, preload_signal.c, preload_writeback.c).  A process
 * that creates a second thread puts the C library in its multi-threaded
 * mode for good (stdio locks every character), so the interposer creates
 * none until one is needed: faults are resolved on the faulting thread;
 * usermm's helpers (kswapd, the I/O engine, populate-ahead, page
 * reporting) are created when they have work, never in the SIGSEGV
 * handler (recorded there, created at the end of the next interposed
 * call that reaches usermm, or after the program's own pthread_create:
 * preload_safe_point), and, while the program
 * has no thread of its own, not before it has run USERMM_LAZY_MS
 * (preload_defer_threads); the host MMU's fault threads only when a
 * fault may need one (USERMM_LOG, a small sigaltstack); the flusher when
 * there can be dirty data.
 *
 * Configuration (environment, read once at the first file mapping):
 * USERMM_PHYS (bytes, K/M/G/T suffix; default 1G), USERMM_SWAP (swap
 * path or Redis target, as umm_config.swap_path), USERMM_SWAP_SIZE
 * (default 1G), USERMM_WINDOW (default 1T), USERMM_WRITEBACK_MS (the
 * background writeback's period, default 5000; 0: none), USERMM_LAZY_MS
 * (how long a single-threaded program runs before usermm's helper
 * threads may start, default 1000), USERMM_STATS
 * (a path, each "%p" in it replaced by the process id: the counters at exit, key=value
 * lines, written by a process that mapped a file), USERMM_LOG (1: usermm's log on
 * stderr; another value: a file it is appended to).  A setting that
 * cannot be used is reported once on stderr and the interposer stays out
 * of the way: every call goes to the kernel.
 *
 * Locks: pl.lock (a mutex) is taken by the interposed calls around the
 * file table and the mm's mapping changes, and held across the usermm
 * calls they make; usermm's locks nest inside it; the writeback lock
 * (preload_writeback.c) comes before it.  Both are error-checking
 * mutexes.  Nothing in usermm (its fault threads included) takes it, and the I/O paths take it only
 * to find the object and take a reference.
 */
#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <usermm/usermm.h>
#include "preload.h"
#include "filemap.h"
#include "host_mmu.h"
#include "kthread.h"
#if __has_include(<sys/single_threaded.h>)
#include <sys/single_threaded.h>
#define HAVE_SINGLE_THREADED 1
#endif

struct preload_state pl = {
	.lock = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP,   /* EDEADLK: see preload_writeback_leave */
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static void preload_exit_writeback(void);
static int log_fd = -1;

#define DEFAULT_PHYS   (1UL << 30)
#define DEFAULT_SWAP   (1UL << 30)
#define DEFAULT_WINDOW (1UL << 40)
#define MIN_WINDOW     (64UL << 20)
#define DEFAULT_WRITEBACK_MS 5000UL
/*
 * The populate-ahead window (umm_config.populate_ahead_mib): 4 MiB, not
 * the library's 16.  A program's page cache grows a few pages at a time,
 * and every MiB brought in ahead costs host time (about 2 ms a MiB on the
 * development VM) on a CPU the program's own threads may need:
 * kchashtest order -th 4 (4 threads on 2 CPUs, 9 MiB of pages used) had
 * 25 MiB brought in, 51 ms of host time, with 16; 12 MiB, 14 ms, with 4,
 * and ran about 15% faster.
 */
#define POPULATE_AHEAD_MIB 4
/*
 * Where the window goes when that range is free: a fixed address, so
 * usermm's top-down placement gives a program the same addresses in
 * every run (LMDB's MDB_FIXEDMAP stores them in the file).  16 TiB:
 * above a non-PIE program's image and heap, below where Linux loads PIE
 * programs (about 85 TiB), shared libraries and the stack (near 128 TiB).
 */
#define WINDOW_BASE    (16UL << 40)

/* say - one line on stderr (never through stdio: the program may own it). */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	n = snprintf(line, sizeof(line), "usermm preload: ");
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	(void)!preload_sys_write(2, line, (size_t)n);
}

static void log_line(int level, const char *line, void *arg)
{
	char buf[600];
	int n;

	(void)arg;
	(void)level;
	n = snprintf(buf, sizeof(buf), "usermm: %s\n", line);
	if (n > (int)sizeof(buf) - 1)
		n = (int)sizeof(buf) - 1;
	(void)!preload_sys_write(log_fd, buf, (size_t)n);
}

/*
 * parse_size - "123", "64K", "512M", "2G", "1T" (an "iB" or "B" after the
 * letter is accepted).  0 on success, -1 if it is not a size.
 */
static int parse_size(const char *s, size_t *out)
{
	unsigned long long v, mul = 1;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	switch (toupper((unsigned char)*end)) {
	case 'K': mul = 1ULL << 10; end++; break;
	case 'M': mul = 1ULL << 20; end++; break;
	case 'G': mul = 1ULL << 30; end++; break;
	case 'T': mul = 1ULL << 40; end++; break;
	default: break;
	}
	if (mul > 1 && (!strcmp(end, "iB") || !strcmp(end, "B")))
		end += strlen(end);
	if (*end || (v && mul > ~0ULL / v))
		return -1;
	*out = (size_t)(v * mul);
	return 0;
}

/* USERMM_WRITEBACK_MS, USERMM_LAZY_MS: milliseconds, 0 to 86400000 (a day); what names 0 means. */
static int env_ms(const char *name, unsigned long def, const char *zero, unsigned long *out)
{
	const char *s = getenv(name);
	unsigned long v = 0;

	if (!s || !*s) {
		*out = def;
		return 0;
	}
	for (const char *c = s; *c; c++) {
		if (!isdigit((unsigned char)*c) || v > 86400000UL) {
			v = ~0UL;
			break;
		}
		v = v * 10 + (unsigned long)(*c - '0');
	}
	if (v > 86400000UL) {
		say("%s=%s is not a number of milliseconds (0 to 86400000; 0: %s); "
		    "the kernel serves every mapping", name, s, zero);
		return -1;
	}
	*out = v;
	return 0;
}

static int env_size(const char *name, size_t def, size_t *out)
{
	const char *s = getenv(name);

	if (!s || !*s) {
		*out = def;
		return 0;
	}
	if (parse_size(s, out)) {
		say("%s=%s is not a size (e.g. 512M, 2G); the kernel serves every mapping", name, s);
		return -1;
	}
	return 0;
}

/*
 * How long a program that has no thread of its own keeps usermm's helper
 * threads deferred (preload_defer_threads): USERMM_LAZY_MS.
 */
#define DEFAULT_LAZY_MS 1000UL

static uint64_t start_ns;               /* when usermm started in this process */
static uint64_t lazy_ns;                /* USERMM_LAZY_MS */

/*
 * preload_defer_threads - kthread_defer_hook: while the program is
 * single-threaded and usermm started less than THREAD_GRACE_NS ago, a
 * helper thread usermm wants (kswapd, populate-ahead, page reporting, the
 * I/O engine) is not created yet (USERMM_LAZY_MS, default 1000 ms): usermm works without it (direct
 * reclaim, reads in the faulting thread), and a program that ends soon,
 * such as mdb_dump, stays single-threaded, which keeps the C library's
 * stdio and other single-thread shortcuts.  The first safe point after
 * that (or once the program has threads) creates them.  No locks.
 */
static bool preload_defer_threads(void)
{
	return preload_single_threaded() && preload_now_ns() - start_ns < lazy_ns;
}

/**
 * preload_single_threaded - has the process never had a second thread
 * (the C library's __libc_single_threaded; without it: false, so nothing
 * is deferred)?  No locks.
 */
bool preload_single_threaded(void)
{
#ifdef HAVE_SINGLE_THREADED
	return __libc_single_threaded;
#else
	return false;
#endif
}

/* The first file mapping: read the environment, start usermm. */
static void preload_init(void)
{
	/* the window is a host-MMU attach, which needs the memfd arena */
	struct umm_config cfg = { .arena = UMM_ARENA_MEMFD };
	size_t phys, swap, window;
	unsigned long wb_ms, lazy_ms;
	const char *s;
	int err;

	if (env_size("USERMM_PHYS", DEFAULT_PHYS, &phys) ||
	    env_size("USERMM_SWAP_SIZE", DEFAULT_SWAP, &swap) ||
	    env_size("USERMM_WINDOW", DEFAULT_WINDOW, &window) ||
	    env_ms("USERMM_WRITEBACK_MS", DEFAULT_WRITEBACK_MS, "no background writeback", &wb_ms) ||
	    env_ms("USERMM_LAZY_MS", DEFAULT_LAZY_MS, "no delay", &lazy_ms))
		goto off;
	if (window < MIN_WINDOW || window % UMM_PAGE_SIZE || window > UMM_MMAP_BASE / 2) {
		say("USERMM_WINDOW=%s must be a multiple of 4K between 64M and %luG; the kernel serves every mapping",
		    getenv("USERMM_WINDOW"), UMM_MMAP_BASE / 2 >> 30);
		goto off;
	}
	s = getenv("USERMM_LOG");
	if (s && *s && strcmp(s, "0")) {
		if (!strcmp(s, "1")) {
			log_fd = 2;
		} else {
			log_fd = open(s, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
			if (log_fd < 0) {
				say("USERMM_LOG=%s: %s; the kernel serves every mapping", s, strerror(errno));
				goto off;
			}
		}
		umm_set_log(log_line, NULL);
	}
	cfg.phys_bytes = phys;
	cfg.populate_ahead_mib = POPULATE_AHEAD_MIB;
	/* no helper thread until one is needed (kthread.c, host_mmu.h, preload_writeback.c) */
	start_ns = preload_now_ns();
	lazy_ns = (uint64_t)lazy_ms * 1000000ull;
	kthread_defer_hook = preload_defer_threads;
	host_mmu_lazy_fault_threads = true;
	s = getenv("USERMM_SWAP");
	if (s && *s) {
		cfg.swap_path = s;
		cfg.swap_bytes = swap;
	}
	err = umm_system_create(&cfg, &pl.sys);
	if (err) {
		say("cannot start usermm (USERMM_PHYS=%zu%s%s): %s; the kernel serves every mapping",
		    phys, cfg.swap_path ? ", USERMM_SWAP=" : "", cfg.swap_path ? cfg.swap_path : "",
		    umm_strerror(err));
		goto off;
	}
	err = umm_mm_create(pl.sys, &pl.mm);
	if (err) {
		say("cannot create an address space: %s; the kernel serves every mapping", umm_strerror(err));
		umm_system_destroy(pl.sys);
		pl.sys = NULL;
		goto off;
	}
	pl.wlen = window;
	pl.ustart = UMM_MMAP_BASE - window;
	pl.pid = getpid();
	preload_altstack_check();
	preload_writeback_setup(wb_ms);
	preload_fork_setup();
	at_quick_exit(preload_exit_writeback);
	atomic_store(&pl.state, PL_ON);
	return;
off:
	atomic_store(&pl.state, PL_OFF);
}

/**
 * preload_on - start usermm on the first call (thread safe) and say
 * whether it serves mappings in this process (false after a bad setting,
 * and in the child of a fork).  No lock held on entry; takes none.
 */
bool preload_on(void)
{
	int st = atomic_load_explicit(&pl.state, memory_order_acquire);

	if (st == PL_UNINIT) {
		pthread_once(&init_once, preload_init);
		st = atomic_load(&pl.state);
	}
	return st == PL_ON;
}

/**
 * preload_window_locked - attach the window if there is none (at the first
 * mapping, and after a fork handed the last one to the kernel).
 * pl.lock held.  Returns 0 or umm_host_attach's -errno.
 */
int preload_window_locked(void)
{
	void *base;
	int err;

	if (atomic_load(&pl.base))
		return 0;
	preload_sys_place_window((void *)WINDOW_BASE, pl.wlen);
	err = umm_host_attach(pl.mm, pl.ustart, pl.wlen, 0, &base);
	preload_sys_place_window(NULL, 0);
	if (err)
		return err;
	atomic_store_explicit(&pl.base, (char *)base, memory_order_release);
	return 0;
}

/** preload_file_find_locked - the served file (dev, ino), or NULL.  pl.lock held. */
struct preload_file *preload_file_find_locked(dev_t dev, ino_t ino)
{
	for (struct preload_file *f = pl.files; f; f = f->next)
		if (f->dev == dev && f->ino == ino)
			return f;
	return NULL;
}

/** preload_kfile_locked - was (dev, ino) handed to the kernel at a fork?  pl.lock held. */
bool preload_kfile_locked(dev_t dev, ino_t ino)
{
	for (struct preload_kfile *k = pl.kfiles; k; k = k->next)
		if (k->dev == dev && k->ino == ino)
			return true;
	return false;
}

/**
 * preload_file_get_locked - the served file behind fd (st: its fstat),
 * created if new.  The object is opened read-write through
 * /proc/self/fd when the file allows it (so a later writable mapping or
 * pwrite through another descriptor can use it; the caller checks the
 * descriptor's own access mode), else from fd itself.  pl.lock held.
 * Returns 0, or umm_object_open_fd's -errno, -ENOMEM.
 */
int preload_file_get_locked(int fd, const struct stat *st, struct preload_file **out)
{
	struct preload_file *f = preload_file_find_locked(st->st_dev, st->st_ino);
	char path[64];
	int rw, err;

	if (f) {
		*out = f;
		return 0;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	rw = open(path, O_RDWR | O_CLOEXEC);
	err = umm_object_open_fd(pl.sys, rw >= 0 ? rw : fd, &f->obj);
	if (rw >= 0)
		close(rw);
	if (err) {
		free(f);
		return err;
	}
	f->dev = st->st_dev;
	f->ino = st->st_ino;
	f->next = pl.files;
	pl.files = f;
	atomic_fetch_add(&pl.nfiles, 1);
	PL_COUNT(files, 1);
	*out = f;
	return 0;
}

/**
 * preload_files_reap_locked - put the objects of files no mapping uses any
 * more (only our reference left): their dirty pages are written back and
 * their I/O goes to the kernel again.  pl.lock held.
 */
void preload_files_reap_locked(void)
{
	struct preload_file **pp = &pl.files, *f;

	while ((f = *pp)) {
		if (atomic_load(&f->obj->refcount) == 1) {
			*pp = f->next;
			atomic_fetch_sub(&pl.nfiles, 1);
			umm_object_put(f->obj);
			free(f);
		} else {
			pp = &f->next;
		}
	}
}

/* ---- exit: write back, counters ---- */

#define SYS_FIELDS(X) X(total_frames) X(free_frames) X(pagecache_pages) X(anon_pages) \
	X(pgtable_pages) X(slab_pages) X(wmark_min) X(wmark_low) X(wmark_high) X(alloc_failures) \
	X(nr_mms) X(nr_objects) X(warnings) X(io_backend) X(ra_pages) X(ra_hits) X(ra_wasted) \
	X(io_requests) X(io_pages) X(io_errors) X(file_write_requests) X(file_write_pages) X(rmap) \
	X(nr_reverse_maps) X(rmap_bytes) \
	X(host_populated_bytes) X(host_released_bytes) X(host_populate_ns) \
	X(host_populated_ahead_bytes) X(host_populate_ahead_cpu_ns) X(host_small_chunks) \
	X(host_collapsed_chunks) X(host_collapse_failed) X(host_collapse_ns) X(arena) X(swap_total) \
	X(swap_used) X(pswpin) X(pswpout) X(swap_cache_hits) X(swap_cache_pages) \
	X(swap_read_errors) X(swap_write_errors) X(swap_full) X(swap_read_requests) \
	X(swap_write_requests) X(swap_remote_pages) X(swap_remote_bytes) X(swap_remote_requests) \
	X(swap_remote_errors) X(swap_remote_lost) X(swap_remote_corrupt) \
	X(swap_remote_read_p50_ns) X(swap_remote_read_p99_ns) X(pgscan) X(pgsteal) X(pgactivate) \
	X(pgdeactivate) X(pgwriteback) X(kswapd_wakeups) X(direct_reclaims) X(oom_events) \
	X(nr_active_file) X(nr_inactive_file) X(nr_active_anon) X(nr_inactive_anon) X(nr_unevictable)
#define MM_FIELDS(X) X(rss_anon) X(rss_file) X(rss_shmem) X(minor_faults) X(major_faults) \
	X(cow_faults) X(nr_vmas) X(total_vm) X(pgtable_pages) X(locked_vm) X(swap_ents)
#define HOST_FIELDS(X) X(regions) X(faults) X(write_faults) X(refused) X(retries) \
	X(pages_mapped) X(fault_around_pages) X(runs_mapped) X(prefaults) X(invalidations) \
	X(pages_unmapped) X(write_protects) X(drops) X(map_count) X(map_limit) X(handler_faults) \
	X(write_notify) X(inline_faults) X(write_upgrades) X(fault_threads) X(handoffs_refused) \
	X(write_around)
#define PL_FIELDS(X) X(mmaps) X(fallbacks) X(anon_fixed) X(munmaps) X(mremaps) X(mprotects) \
	X(msyncs) X(madvises) X(preads) X(pwrites) X(read_bytes) X(write_bytes) X(truncates) \
	X(syncs) X(prefaults) X(forks) X(fork_mappings) X(files) X(writeback_passes) X(writeback_errors)

/* The stats path with each "%p" replaced by the process id. */
static void stats_path(const char *tmpl, char *out, size_t size)
{
	size_t n = 0;

	for (const char *s = tmpl; *s && n + 1 < size; s++) {
		if (s[0] == '%' && s[1] == 'p') {
			n += (size_t)snprintf(out + n, size - n, "%d", (int)getpid());
			s++;
		} else {
			out[n++] = *s;
		}
		if (n >= size)
			n = size - 1;
	}
	out[n] = 0;
}

static void write_stats(const char *tmpl)
{
	char path[4096];
	FILE *f;

	stats_path(tmpl, path, sizeof(path));
	f = fopen(path, "w");

	if (!f) {
		say("USERMM_STATS=%s: %s", path, strerror(errno));
		return;
	}
	fprintf(f, "preload_enabled=%d\n", atomic_load(&pl.state) == PL_ON);
#define PLF(n) fprintf(f, "preload_" #n "=%lu\n", atomic_load(&pl.c.n));
	PL_FIELDS(PLF)
	if (atomic_load(&pl.state) == PL_ON) {
		struct umm_sys_stats ss;
		struct umm_mm_stats ms;
		struct umm_host_stats hs;

		if (!umm_system_stats(pl.sys, &ss)) {
#define SF(n) fprintf(f, "sys_" #n "=%lu\n", (unsigned long)ss.n);
			SYS_FIELDS(SF)
			for (int i = 0; i < UMM_IO_HIST_BUCKETS; i++)
				fprintf(f, "sys_io_hist%d=%lu\n", i, ss.io_hist[i]);
		}
		if (!umm_mm_stats(pl.mm, &ms)) {
#define MF(n) fprintf(f, "mm_" #n "=%lu\n", ms.n);
			MM_FIELDS(MF)
		}
		umm_host_get_stats(&hs);
#define HF(n) fprintf(f, "host_" #n "=%lu\n", hs.n);
		HOST_FIELDS(HF)
	}
	fclose(f);
}

static pid_t loaded_pid;

__attribute__((constructor)) static void preload_loaded(void)
{
	loaded_pid = getpid();
}

/**
 * preload_write_final_stats - write USERMM_STATS, if it is set, for a
 * process that mapped a file (a process that never did, such as a shell
 * or timeout around the program, leaves the file alone), and not in a
 * fork child (usermm belongs to the parent).  At exit, _exit and exec.
 */
void preload_write_final_stats(void)
{
	const char *stats = getenv("USERMM_STATS");

	if (getpid() == loaded_pid && stats && *stats && atomic_load(&pl.state) != PL_UNINIT)
		write_stats(stats);
}

/*
 * At exit (after the program's atexit handlers) and at quick_exit (after
 * the at_quick_exit handlers registered after the first file mapping):
 * stop the background writeback, write every dirty page back (without
 * fdatasync, as the kernel's page cache leaves it), then the counters.
 * Not in a fork child (usermm belongs to the parent); not from a signal
 * handler that interrupted usermm in this thread (what it holds would
 * never be let go: preload_writeback_leave says so).
 */
static void preload_exit_writeback(void)
{
	if (getpid() != loaded_pid)
		return;
	if (atomic_load(&pl.state) == PL_ON && getpid() == pl.pid) {
		bool inside = preload_inside_usermm();

		if (!inside)
			preload_flusher_stop();
		if (preload_writeback_leave())
			preload_writeback_resume();
		if (inside)
			return;
	}
	preload_write_final_stats();
}

__attribute__((destructor)) static void preload_exit(void)
{
	preload_exit_writeback();
}

/* SPDX-License-Identifier: MIT */
/*
 * preload.h - the state the files of libusermm_preload.so share (see the
 * theory of operation at the top of preload.c).  Not installed.
 */
#ifndef UMM_PRELOAD_H
#define UMM_PRELOAD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <usermm/usermm.h>
#include <usermm/host.h>

/* The kernel's calls (preload_sys.c). */
void *preload_sys_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int preload_sys_munmap(void *addr, size_t len);
void *preload_sys_mremap(void *old, size_t old_len, size_t new_len, int flags, ...);
int preload_sys_mprotect(void *addr, size_t len, int prot);
int preload_sys_msync(void *addr, size_t len, int flags);
int preload_sys_madvise(void *addr, size_t len, int advice);
ssize_t preload_sys_pread(int fd, void *buf, size_t n, off_t off);
ssize_t preload_sys_pwrite(int fd, const void *buf, size_t n, off_t off);
ssize_t preload_sys_preadv(int fd, const struct iovec *iov, int cnt, off_t off);
ssize_t preload_sys_pwritev(int fd, const struct iovec *iov, int cnt, off_t off);
ssize_t preload_sys_read(int fd, void *buf, size_t n);
ssize_t preload_sys_write(int fd, const void *buf, size_t n);
ssize_t preload_sys_readv(int fd, const struct iovec *iov, int cnt);
ssize_t preload_sys_writev(int fd, const struct iovec *iov, int cnt);
int preload_sys_ftruncate(int fd, off_t len);
int preload_sys_fsync(int fd);
int preload_sys_fdatasync(int fd);
int preload_sys_truncate(const char *path, off_t len);
int preload_sys_fallocate(int fd, int mode, off_t off, off_t len);
int preload_sys_mincore(void *addr, size_t len, unsigned char *vec);
int preload_sys_mlock2(const void *addr, size_t len, unsigned int flags);
int preload_sys_munlock(const void *addr, size_t len);
ssize_t preload_sys_sendfile(int out, int in, off_t *offset, size_t count);
ssize_t preload_sys_copy_file_range(int in, off_t *in_off, int out, off_t *out_off, size_t len,
				    unsigned int flags);
ssize_t preload_sys_preadv2(int fd, const struct iovec *iov, int cnt, off_t off, int flags);
ssize_t preload_sys_pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags);
int preload_sys_execve(const char *path, char *const argv[], char *const envp[]);
int preload_sys_execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags);
int preload_sys_execvpe(const char *file, char *const argv[], char *const envp[]);
int preload_sys_fexecve(int fd, char *const argv[], char *const envp[]);
void preload_sys_exit_group(int status) __attribute__((noreturn));
struct sigaction;
int preload_sys_sigaction(int sig, const struct sigaction *act, struct sigaction *old);
int preload_sys_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg);
void preload_sys_place_window(void *at, size_t len);
#include <signal.h>
int preload_sys_sigaltstack(const stack_t *ss, stack_t *old);
void preload_altstack_check(void);

enum { PL_UNINIT, PL_ON, PL_OFF };

/* A file usermm serves: one object per (device, inode). */
struct preload_file {
	dev_t dev;
	ino_t ino;
	struct umm_object *obj;          /* our reference; each mapping holds its own */
	struct preload_file *next;
};

/* A file handed to the kernel for good (fork): its mappings are the kernel's. */
struct preload_kfile {
	dev_t dev;
	ino_t ino;
	struct preload_kfile *next;
};

struct preload_counters {
	_Atomic unsigned long mmaps;        /* file mappings served by usermm */
	_Atomic unsigned long fallbacks;    /* file mappings passed to the kernel */
	_Atomic unsigned long anon_fixed;   /* anonymous MAP_FIXED mappings inside the window */
	_Atomic unsigned long munmaps, mremaps, mprotects, msyncs, madvises;
	_Atomic unsigned long preads;       /* pread/preadv/read/readv served from the page cache */
	_Atomic unsigned long pwrites;      /* pwrite/pwritev/write/writev served into it */
	_Atomic unsigned long read_bytes, write_bytes;
	_Atomic unsigned long truncates, syncs;
	_Atomic unsigned long prefaults;    /* window buffers mapped before a kernel I/O call */
	_Atomic unsigned long forks;
	_Atomic unsigned long fork_mappings; /* mappings handed to the kernel at a fork */
	_Atomic unsigned long files;        /* files served (created objects) */
	_Atomic unsigned long writeback_passes; /* background writeback passes done */
	_Atomic unsigned long writeback_errors; /* files a background pass failed to write back */
};

struct preload_state {
	pthread_mutex_t lock;            /* files, kfiles, the window, the mm's mappings (error-checking) */
	_Atomic int state;               /* PL_* */
	pid_t pid;                       /* the process that owns sys (not a fork child) */
	struct umm_system *sys;
	struct umm_mm *mm;
	char *_Atomic base;              /* host address of usermm address ustart; NULL: no window */
	uintptr_t ustart;
	size_t wlen;
	_Atomic unsigned long nfiles;    /* entries in files */
	struct preload_file *files;
	struct preload_kfile *kfiles;
	struct preload_counters c;
};

extern struct preload_state pl;

/*
 * preload_mutex_init - (re)initialise an error-checking mutex (pl.lock and
 * the writeback lock are: taking one this thread holds fails with EDEADLK
 * instead of hanging, which the leaving writeback relies on).
 */
static inline void preload_mutex_init(pthread_mutex_t *m)
{
	pthread_mutexattr_t a;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
}

/* preload.c */
bool preload_on(void);
int preload_window_locked(void);
struct preload_file *preload_file_find_locked(dev_t dev, ino_t ino);
bool preload_kfile_locked(dev_t dev, ino_t ino);
int preload_file_get_locked(int fd, const struct stat *st, struct preload_file **out);
void preload_files_reap_locked(void);

/*
 * preload_window_part - how [p, p + len) meets the window: 0 outside, 1
 * wholly inside (*ua its usermm address), -1 partly.  No lock (base is
 * read once; the window changes only at fork, under pl.lock).
 */
static inline int preload_window_part(const void *p, size_t len, uintptr_t *ua)
{
	char *base = atomic_load_explicit(&pl.base, memory_order_acquire);
	uintptr_t a = (uintptr_t)p, b = (uintptr_t)base;

	if (!base || a + len <= b || a >= b + pl.wlen)
		return 0;
	if (a < b || len > pl.wlen || a + len > b + pl.wlen)
		return -1;
	if (ua)
		*ua = pl.ustart + (a - b);
	return 1;
}

/* preload_writeback.c */
void preload_writeback_setup(unsigned long interval_ms);
int preload_writeback_lock(void);
void preload_writeback_unlock(void);
void preload_flusher_start(void);
void preload_flusher_stop(void);
void preload_flusher_want(bool write);
uint64_t preload_now_ns(void);
bool preload_single_threaded(void);
void preload_writeback_forked(void);
bool preload_writeback_leave(void);
bool preload_inside_usermm(void);
void preload_writeback_resume(void);

/* preload.c */
void preload_write_final_stats(void);

/* preload_fork.c */
void preload_fork_setup(void);

/* preload_io.c */
void preload_prefault(const void *buf, size_t len, int write);

/*
 * preload_busy - how deep this thread is in a usermm call that an
 * interposed call makes without pl.lock (page locks held, which
 * mmap_lock_depth does not count): _exit from a signal handler that
 * interrupted it must not wait for them (preload_writeback_leave).
 * PL_BUSY(expr) counts expr's call.
 */
extern __thread unsigned int preload_busy __attribute__((tls_model("initial-exec")));
#define PL_BUSY(expr) ({                                                      \
	preload_busy++;                                                       \
	atomic_signal_fence(memory_order_seq_cst);                            \
	__typeof__(expr) pl_busy_r = (expr);                                  \
	atomic_signal_fence(memory_order_seq_cst);                            \
	preload_busy--;                                                       \
	pl_busy_r;                                                            \
})

/*
 * preload_lock_depth - pl.lock taken (or being taken) by this thread, as
 * preload_lock / preload_unlock count it: from just before the lock is
 * asked for to just after it is let go, so a signal handler that
 * interrupted this thread anywhere in between sees it (the mutex's own
 * owner field is set only after the lock is had).
 */
extern __thread unsigned int preload_lock_depth __attribute__((tls_model("initial-exec")));

/** preload_lock - take pl.lock, counted in preload_lock_depth. */
static inline void preload_lock(void)
{
	preload_lock_depth++;
	atomic_signal_fence(memory_order_seq_cst);
	pthread_mutex_lock(&pl.lock);
}

void preload_safe_point(void);
/**
 * preload_unlock - drop pl.lock taken with preload_lock; then, at the
 * outermost level, a safe point for the helper threads wanted meanwhile
 * (preload_safe_point).
 */
static inline void preload_unlock(void)
{
	pthread_mutex_unlock(&pl.lock);
	atomic_signal_fence(memory_order_seq_cst);
	if (!--preload_lock_depth && !preload_busy)
		preload_safe_point();
}

#define PL_COUNT(name, n) atomic_fetch_add_explicit(&pl.c.name, (n), memory_order_relaxed)

#endif

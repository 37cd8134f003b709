/* SPDX-License-Identifier: MIT */
/*
 * test_preload.c - libusermm_preload.so under real programs' calls: each
 * case runs in a child process started with LD_PRELOAD of the library of
 * the same build variant (build/<variant>/libusermm_preload.so, next to
 * tests/; UMM_PRELOAD_LIB overrides) and USERMM_STATS, and the driver
 * then checks the child's exit status, its counters (a case that maps a
 * file fails unless usermm served it: preload_mmaps and host_faults above
 * zero) and the files' bytes, read natively.
 *
 * Cases: map/write/msync and exit writeback (one request per run of
 * dirty pages); pread/pwrite/read/write/
 * preadv/pwritev coherent with a mapping, O_APPEND, O_DSYNC, a mapped buffer
 * written to a pipe, sendfile and copy_file_range; a mapped file unlinked; mremap growth with
 * MREMAP_MAYMOVE; ftruncate, truncate, fallocate and posix_fallocate
 * moving the end under a mapping (SIGBUS past it); munmap of part (SIGSEGV),
 * mincore and mlock there;
 * mprotect PROT_READ then a store (SIGSEGV); fork with shared and private
 * mappings; four threads storing into one mapped file; SIGSEGV and
 * SIGBUS handlers installed after the first mapping; the address of the
 * last run given back as the hint (LMDB's MDB_FIXEDMAP), a free hint
 * outside the window left to the kernel; a memfd left to
 * the kernel (shared with a child); Linux's errors for bad calls; a bad environment
 * setting (one stderr line, the kernel's mmap); each exec function and
 * _exit/_Exit writing the served files back first (a failed exec going
 * on with its mapping); the background writeback before SIGKILL, and off
 * (USERMM_WRITEBACK_MS=0); fork and threads with a pass every
 * millisecond; preadv2/pwritev2 with each flag; exit while four threads
 * store.
 *
 * Built and run in the debug and release variants only: a sanitizer
 * runtime refuses to be preloaded into this uninstrumented child.  The
 * debug run (the one make check makes) runs every case against the
 * release library too when it is built.
 */
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <setjmp.h>
#include <time.h>
#include <stdatomic.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#if __has_include(<sys/single_threaded.h>)
#include <sys/single_threaded.h>
#define HAVE_SINGLE_THREADED 1
#endif
#include "test.h"

extern char **environ;

#define PG 4096UL

static char dir[PATH_MAX / 2];

static void path_of(char *out, const char *name)
{
	snprintf(out, PATH_MAX, "%s/%s", dir, name);
}

static unsigned char pat(size_t i)
{
	return (unsigned char)(i * 31 + (i >> 12) * 7 + 3);
}

/* A file of `size` bytes of pat(), created in dir. */
static int make_file(const char *name, size_t size)
{
	char p[PATH_MAX];
	unsigned char *buf = malloc(size ? size : 1);
	int fd;

	REQUIRE(buf);
	path_of(p, name);
	fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
	REQUIRE(fd >= 0);
	for (size_t i = 0; i < size; i++)
		buf[i] = pat(i);
	REQUIRE(pwrite(fd, buf, size, 0) == (ssize_t)size);
	free(buf);
	return fd;
}

/* ---- in the preloaded child ---- */

static sigjmp_buf jb;
static volatile sig_atomic_t last_sig;

static void on_fault(int sig)
{
	last_sig = sig;
	siglongjmp(jb, 1);
}

/* The signal a load (store if `write`) at p raises: 0, SIGSEGV or SIGBUS. */
static int touch(volatile char *p, int write)
{
	last_sig = 0;
	if (!sigsetjmp(jb, 1)) {
		if (write)
			*p = 'w';
		else
			(void)*p;
	}
	return last_sig;
}

/* Map, read, write, msync; the last store is left for the exit writeback. */
static void case_map_rw(void)
{
	int fd = make_file("rw", 16 * PG);
	char *p = mmap(NULL, 16 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	bool ok = true;

	REQUIRE(p != MAP_FAILED);
	for (size_t i = 0; i < 16 * PG; i += 97)
		ok = ok && (unsigned char)p[i] == pat(i);
	CHECK(ok);
	memcpy(p + 100, "through the mapping", 19);
	memcpy(p + 5 * PG - 3, "across", 6);
	CHECK_EQ(msync(p, 16 * PG, MS_SYNC), 0);
	memcpy(p + 9 * PG, "at exit", 7);
	/* a bad msync: unaligned, and unknown flags */
	CHECK_EQ(msync(p + 1, PG, MS_SYNC), -1);
	CHECK_EQ(errno, EINVAL);
	CHECK_EQ(msync(p, PG, 0x100), -1);
	CHECK_EQ(errno, EINVAL);
	close(fd);                     /* the mapping outlives the descriptor */
	memcpy(p + 10 * PG, "after close", 11);
}

/*
 * Stores into two runs of pages ([0, 10) and [70, 80): too few in any
 * 64-page block for write-notify around), left for the exit writeback.
 */
static bool in_runs(size_t i)
{
	return i < 10 || (i >= 70 && i < 80);
}

static void case_exit_runs(void)
{
	int fd = make_file("runs", 128 * PG);
	char *p = mmap(NULL, 128 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	REQUIRE(p != MAP_FAILED);
	for (size_t i = 0; i < 128; i++)
		if (in_runs(i))
			snprintf(p + i * PG + 10, 16, "page %03zu", i);
	close(fd);
}

/* File I/O and the mapping see the same bytes at once. */
static void case_coherence(void)
{
	int fd = make_file("co", 8 * PG), afd, pfd[2];
	char p2[PATH_MAX], buf[64] = { 0 };
	char *p = mmap(NULL, 8 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	struct iovec iov[2];

	REQUIRE(p != MAP_FAILED);
	/* pwrite is seen through the mapping at once */
	CHECK_EQ(pwrite(fd, "pwritten", 8, 3 * PG + 5), 8);
	CHECK(memcmp(p + 3 * PG + 5, "pwritten", 8) == 0);
	/* a store is seen by pread (the page is dirty, not yet in the file) */
	memcpy(p + 2 * PG, "stored", 6);
	CHECK_EQ(pread(fd, buf, 6, 2 * PG), 6);
	CHECK(memcmp(buf, "stored", 6) == 0);
	/* read and write at the descriptor's offset */
	CHECK_EQ(lseek(fd, 2 * PG, SEEK_SET), (off_t)(2 * PG));
	memset(buf, 0, sizeof(buf));
	CHECK_EQ(read(fd, buf, 6), 6);
	CHECK(memcmp(buf, "stored", 6) == 0);
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), (off_t)(2 * PG + 6));
	CHECK_EQ(write(fd, "WRITE", 5), 5);
	CHECK(memcmp(p + 2 * PG + 6, "WRITE", 5) == 0);
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), (off_t)(2 * PG + 11));
	/* vectors */
	iov[0] = (struct iovec){ "vec", 3 };
	iov[1] = (struct iovec){ "tor", 3 };
	CHECK_EQ(pwritev(fd, iov, 2, 4 * PG - 2), 6);
	CHECK(memcmp(p + 4 * PG - 2, "vector", 6) == 0);
	memset(buf, 0, sizeof(buf));
	iov[0] = (struct iovec){ buf, 2 };
	iov[1] = (struct iovec){ buf + 2, 4 };
	CHECK_EQ(preadv(fd, iov, 2, 4 * PG - 2), 6);
	CHECK(memcmp(buf, "vector", 6) == 0);
	/* another descriptor of the same file, O_APPEND: the write grows the file */
	path_of(p2, "co");
	afd = open(p2, O_WRONLY | O_APPEND);
	REQUIRE(afd >= 0);
	CHECK_EQ(write(afd, "tail", 4), 4);
	CHECK_EQ(pwrite(afd, "TAIL", 4, 0), 4);       /* O_APPEND: at the end, as Linux */
	CHECK_EQ(pread(fd, buf, 8, 8 * PG), 8);
	CHECK(memcmp(buf, "tailTAIL", 8) == 0);
	CHECK((unsigned char)p[0] == pat(0));
	/*
	 * O_DSYNC: the bytes are in the file when pwrite returns (read here
	 * with the raw system call, past the interposer); without it they
	 * stay in usermm's page cache until writeback
	 */
	{
		int dfd = open(p2, O_RDWR | O_DSYNC);
		char raw[8] = { 0 };

		REQUIRE(dfd >= 0);
		CHECK_EQ(pwrite(dfd, "dsync", 5, 5 * PG + 100), 5);
		CHECK_EQ(syscall(SYS_pread64, fd, raw, 5, 5 * PG + 100), 5);
		CHECK(memcmp(raw, "dsync", 5) == 0);
		CHECK_EQ(pwrite(fd, "lazy!", 5, 5 * PG + 200), 5);
		CHECK_EQ(syscall(SYS_pread64, fd, raw, 5, 5 * PG + 200), 5);
		CHECK(memcmp(raw, "lazy!", 5) != 0);
		CHECK(memcmp(p + 5 * PG + 100, "dsync", 5) == 0);
		close(dfd);
	}
	/* a read-only descriptor cannot write; a write-only one cannot read */
	CHECK_EQ(pread(afd, buf, 4, 0), -1);
	CHECK_EQ(errno, EBADF);
	close(afd);
	afd = open(p2, O_RDONLY);
	REQUIRE(afd >= 0);
	CHECK_EQ(pwrite(afd, "x", 1, 0), -1);
	CHECK_EQ(errno, EBADF);
	CHECK_EQ(pread(fd, buf, 4, -1), -1);
	CHECK_EQ(errno, EINVAL);
	close(afd);
	/* a mapped page given to the kernel: written to a pipe in full */
	REQUIRE(pipe(pfd) == 0);
	CHECK_EQ(write(pfd[1], p + 6 * PG, 4000), 4000);
	{
		char *got = malloc(4000);

		REQUIRE(got);
		CHECK_EQ(read(pfd[0], got, 4000), 4000);
		CHECK(memcmp(got, p + 6 * PG, 4000) == 0);
		/* and read from the pipe into a mapped page */
		CHECK_EQ(write(pfd[1], "piped", 5), 5);
		CHECK_EQ(read(pfd[0], p + 7 * PG, 5), 5);
		CHECK(memcmp(p + 7 * PG, "piped", 5) == 0);
		free(got);
	}
	/* sendfile and copy_file_range from a served file see the mapping's stores */
	{
		char got[16] = { 0 };
		off_t off = 2 * PG;
		int other = make_file("co2", 0), src2 = make_file("co3", 64);

		CHECK_EQ(sendfile(pfd[1], fd, &off, 11), 11);
		CHECK_EQ(off, (off_t)(2 * PG + 11));
		CHECK_EQ(read(pfd[0], got, 11), 11);
		CHECK(memcmp(got, "storedWRITE", 11) == 0);
		off = 2 * PG;
		CHECK_EQ(copy_file_range(fd, &off, other, NULL, 11, 0), 11);
		CHECK_EQ(pread(other, got, 11, 0), 11);
		CHECK(memcmp(got, "storedWRITE", 11) == 0);
		/* into a served file: copy_file_range refuses, sendfile goes through a buffer */
		off = 0;
		CHECK_EQ(copy_file_range(other, &off, fd, NULL, 11, 0), -1);
		CHECK_EQ(errno, EXDEV);
		CHECK_EQ(lseek(fd, 5 * PG, SEEK_SET), (off_t)(5 * PG));
		off = 0;
		CHECK_EQ(sendfile(fd, src2, &off, 64), 64);
		CHECK_EQ((unsigned char)p[5 * PG + 63], pat(63));
		CHECK_EQ(lseek(fd, 0, SEEK_CUR), (off_t)(5 * PG + 64));
		close(other);
		close(src2);
	}
	close(pfd[0]);
	close(pfd[1]);
	CHECK_EQ(fsync(fd), 0);
	CHECK_EQ(fdatasync(fd), 0);
	CHECK_EQ(munmap(p, 8 * PG), 0);
	close(fd);
}

/* A mapped file unlinked (and its name reused): the mapping and its descriptor still reach it. */
static void case_unlink(void)
{
	int fd = make_file("ul", 2 * PG), fd2;
	char *p = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), path[PATH_MAX], buf[8];

	REQUIRE(p != MAP_FAILED);
	path_of(path, "ul");
	CHECK_EQ(unlink(path), 0);
	fd2 = make_file("ul", PG);                     /* a new file under the old name */
	memcpy(p + PG, "gone", 4);
	CHECK_EQ(pread(fd, buf, 4, PG), 4);
	CHECK(memcmp(buf, "gone", 4) == 0);
	CHECK_EQ(pwrite(fd, "still", 5, 10), 5);
	CHECK(memcmp(p + 10, "still", 5) == 0);
	CHECK_EQ(pread(fd2, buf, 5, 10), 5);           /* the new file is not the old one */
	CHECK_EQ((unsigned char)buf[0], pat(10));
	CHECK_EQ(msync(p, 2 * PG, MS_SYNC), 0);
	CHECK_EQ(munmap(p, 2 * PG), 0);
	CHECK_EQ(pread(fd, buf, 5, 10), 5);            /* through the kernel now */
	CHECK(memcmp(buf, "still", 5) == 0);
	close(fd);
	close(fd2);
}

/* SQLite's growth: ftruncate, then mremap(MREMAP_MAYMOVE) of the mapping. */
static void case_mremap(void)
{
	int fd = make_file("mr", PG);
	/* two pages: the second keeps the first from growing in place */
	char *p = mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd, 0), *q;
	bool ok = true;

	REQUIRE(p != MAP_FAILED);
	CHECK_EQ((unsigned char)p[10], pat(10));
	CHECK_EQ(ftruncate(fd, 64 * PG), 0);
	for (size_t i = 1; i < 64; i++) {
		char c = (char)('a' + i % 26);
		CHECK_EQ(pwrite(fd, &c, 1, (off_t)(i * PG + 1)), 1);
	}
	q = mremap(p, PG, 64 * PG, MREMAP_MAYMOVE);
	REQUIRE(q != MAP_FAILED);
	CHECK(q != p);
	CHECK_EQ((unsigned char)q[10], pat(10));
	for (size_t i = 1; i < 64; i++)
		ok = ok && q[i * PG + 1] == (char)('a' + i % 26);
	CHECK(ok);
	/* shrink in place, then bad calls */
	CHECK(mremap(q, 64 * PG, 8 * PG, 0) == q);
	CHECK(mremap(q + 1, PG, 2 * PG, MREMAP_MAYMOVE) == MAP_FAILED);
	CHECK_EQ(errno, EINVAL);
	CHECK(mremap(q, 8 * PG, 16 * PG, 0x40) == MAP_FAILED);
	CHECK_EQ(errno, EINVAL);
	CHECK_EQ(munmap(q, 8 * PG), 0);
	CHECK_EQ(munmap(p + PG, PG), 0);
	close(fd);
}

/* ftruncate shrinks under a mapping: SIGBUS past the end, zeros in the last page. */
static void case_truncate(void)
{
	int fd = make_file("tr", 8 * PG);
	char *p = mmap(NULL, 16 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	REQUIRE(p != MAP_FAILED);
	CHECK_EQ(touch(p + 3 * PG, 0), 0);
	CHECK_EQ(touch(p + 10 * PG, 0), SIGBUS);       /* mapped past the end of the file */
	CHECK_EQ(ftruncate(fd, PG + 100), 0);
	CHECK_EQ(touch(p + PG + 50, 0), 0);
	CHECK_EQ((unsigned char)p[PG + 50], pat(PG + 50));
	CHECK_EQ(p[PG + 200], 0);                      /* the tail of the last page reads as zero */
	CHECK_EQ(touch(p + 3 * PG, 0), SIGBUS);
	CHECK_EQ(touch(p + 2 * PG, 1), SIGBUS);
	CHECK_EQ(ftruncate(fd, -1), -1);
	CHECK_EQ(errno, EINVAL);
	/* growing again: the pages come back as zeros */
	CHECK_EQ(ftruncate(fd, 4 * PG), 0);
	CHECK_EQ(touch(p + 3 * PG, 0), 0);
	CHECK_EQ(p[3 * PG], 0);
	/* truncate by path, fallocate and posix_fallocate change the mapping's end too */
	{
		char path[PATH_MAX];

		path_of(path, "tr");
		CHECK_EQ(truncate(path, 2 * PG), 0);
		CHECK_EQ(touch(p + 2 * PG, 0), SIGBUS);
		CHECK_EQ(fallocate(fd, 0, 0, 3 * PG), 0);
		CHECK_EQ(touch(p + 2 * PG, 1), 0);
		CHECK_EQ(touch(p + 3 * PG, 0), SIGBUS);
		CHECK_EQ(posix_fallocate(fd, 3 * PG, 2 * PG), 0);
		CHECK_EQ(touch(p + 4 * PG, 1), 0);
		CHECK_EQ(touch(p + 5 * PG, 0), SIGBUS);
		CHECK_EQ(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 8 * PG), 0);
		CHECK_EQ(touch(p + 5 * PG, 0), SIGBUS);
		/* a mode that rewrites cached bytes is refused, the file unchanged */
		CHECK_EQ(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, PG), -1);
		CHECK_EQ(errno, EOPNOTSUPP);
		CHECK_EQ(posix_fallocate(fd, 0, 0), EINVAL);
		CHECK_EQ(truncate(path, 4 * PG), 0);
	}
	CHECK_EQ(munmap(p, 16 * PG), 0);
	close(fd);
}

/* munmap of part of a mapping: that part faults, the rest still works. */
static void case_munmap_part(void)
{
	int fd = make_file("mu", 8 * PG);
	char *p = mmap(NULL, 8 * PG, PROT_READ, MAP_SHARED, fd, 0);

	REQUIRE(p != MAP_FAILED);
	CHECK_EQ(munmap(p + 2 * PG, 2 * PG), 0);
	CHECK_EQ(touch(p + 2 * PG, 0), SIGSEGV);
	CHECK_EQ(touch(p + 3 * PG + 7, 0), SIGSEGV);
	CHECK_EQ(touch(p + 4 * PG, 0), 0);
	CHECK_EQ((unsigned char)p[4 * PG], pat(4 * PG));
	CHECK_EQ((unsigned char)p[PG], pat(PG));
	CHECK_EQ(munmap(p + 1, PG), -1);               /* unaligned */
	CHECK_EQ(errno, EINVAL);
	/* mincore, mlock, munlock of window addresses are usermm's */
	{
		unsigned char vec[8] = { 0 };

		CHECK_EQ(mincore(p, 2 * PG, vec), 0);
		CHECK(vec[1] & 1);                     /* read above */
		CHECK_EQ(mincore(p, 8 * PG, vec), -1); /* the hole */
		CHECK_EQ(errno, ENOMEM);
		CHECK_EQ(mlock(p + 4 * PG + 10, 2 * PG), 0);
		CHECK_EQ(munlock(p + 4 * PG, 3 * PG), 0);
		CHECK_EQ(mlock(p + 2 * PG, PG), -1);
		CHECK_EQ(errno, ENOMEM);
	}
	CHECK_EQ(munmap(p, 8 * PG), 0);
	CHECK_EQ(touch(p + 5 * PG, 0), SIGSEGV);
	close(fd);
}

/* mprotect(PROT_READ): a store faults, a load does not; PROT_WRITE again works. */
static void case_mprotect(void)
{
	int fd = make_file("mp", 4 * PG);
	char *p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	REQUIRE(p != MAP_FAILED);
	p[0] = 'a';
	CHECK_EQ(mprotect(p, 2 * PG, PROT_READ), 0);
	CHECK_EQ(touch(p + 10, 1), SIGSEGV);
	CHECK_EQ(touch(p + PG, 1), SIGSEGV);
	CHECK_EQ(touch(p + 2 * PG, 1), 0);
	CHECK_EQ(touch(p + 10, 0), 0);
	CHECK_EQ(p[0], 'a');
	CHECK_EQ(mprotect(p, 2 * PG, PROT_NONE), 0);
	CHECK_EQ(touch(p + 10, 0), SIGSEGV);
	CHECK_EQ(mprotect(p, 2 * PG, PROT_READ | PROT_WRITE), 0);
	CHECK_EQ(touch(p + 10, 1), 0);
	CHECK_EQ(mprotect(p + 1, PG, PROT_READ), -1);
	CHECK_EQ(errno, EINVAL);
	CHECK_EQ(munmap(p, 4 * PG), 0);
	close(fd);
}

/*
 * fork: the shared mapping stays shared (each side sees the other's
 * stores), the private one is copied (the child sees the parent's store,
 * neither sees the other's later ones), and the parent is served by
 * usermm again for a file mapped after the fork.
 */
static void case_fork(void)
{
	int fd = make_file("fk", 4 * PG), fd2, status;
	char *s = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	char *q = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	char *t;
	pid_t pid;

	REQUIRE(s != MAP_FAILED && q != MAP_FAILED);
	memcpy(s + 10, "parent-1", 8);
	memcpy(q + 10, "private-P", 9);
	CHECK(memcmp(q + 10, "private-P", 9) == 0);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		int bad = 0;

		bad |= memcmp(s + 10, "parent-1", 8) != 0;
		bad |= memcmp(q + 10, "private-P", 9) != 0;
		memcpy(s + PG, "child-1", 7);
		memcpy(q + 10, "private-C", 9);
		bad |= pwrite(fd, "child-pw", 8, 2 * PG) != 8;
		_exit(bad);
	}
	REQUIRE(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(memcmp(s + PG, "child-1", 7) == 0);
	CHECK(memcmp(s + 2 * PG, "child-pw", 8) == 0);
	CHECK(memcmp(q + 10, "private-P", 9) == 0);
	memcpy(s + 3 * PG, "parent-2", 8);
	CHECK_EQ(pwrite(fd, "parent-pw", 9, 20), 9);
	CHECK(memcmp(s + 20, "parent-pw", 9) == 0);
	CHECK_EQ(munmap(s, 4 * PG), 0);
	CHECK_EQ(munmap(q, 2 * PG), 0);
	close(fd);
	/* a file mapped after the fork is usermm's again */
	fd2 = make_file("fk2", 2 * PG);
	t = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 0);
	REQUIRE(t != MAP_FAILED);
	memcpy(t + PG, "after-fork", 10);
	CHECK_EQ(pwrite(fd2, "pw", 2, PG + 20), 2);
	CHECK(memcmp(t + PG + 20, "pw", 2) == 0);
	CHECK_EQ(munmap(t, 2 * PG), 0);
	close(fd2);
}

/* Four threads store into their own quarter of one mapped file at once. */
#define TH 4
#define TH_PAGES 256
static char *th_map;
static int th_fd;

static void *th_main(void *arg)
{
	long t = (long)arg;

	for (int round = 0; round < 4; round++)
		for (size_t pg = 0; pg < TH_PAGES; pg++) {
			char *page = th_map + ((size_t)t * TH_PAGES + pg) * PG;

			for (size_t i = 0; i < PG; i += 512)
				page[i + (size_t)round] = (char)(t * 16 + round + (char)pg);
		}
	/* and a pwrite into its quarter's last page */
	TCHECK(pwrite(th_fd, "T", 1, (off_t)(((size_t)t + 1) * TH_PAGES * PG - 1)) == 1);
	return NULL;
}

static void case_threads(void)
{
	pthread_t th[TH];

	th_fd = make_file("th", TH * TH_PAGES * PG);
	th_map = mmap(NULL, TH * TH_PAGES * PG, PROT_READ | PROT_WRITE, MAP_SHARED, th_fd, 0);
	REQUIRE(th_map != MAP_FAILED);
	for (long t = 0; t < TH; t++)
		REQUIRE(pthread_create(&th[t], NULL, th_main, (void *)t) == 0);
	for (int t = 0; t < TH; t++)
		pthread_join(th[t], NULL);
	test_fold_thread_checks();
	CHECK_EQ(msync(th_map, TH * TH_PAGES * PG, MS_SYNC), 0);
	CHECK_EQ(munmap(th_map, TH * TH_PAGES * PG), 0);
	close(th_fd);
}

/*
 * Handlers installed after the first file mapping (which put the host
 * MMU's in front) still get exactly the program's faults, and sigaction
 * reports them as installed.
 */
static void case_late_handler(void)
{
	int fd = make_file("lh", 4 * PG);
	char *p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	struct sigaction sa = { .sa_handler = on_fault }, cur;

	REQUIRE(p != MAP_FAILED);
	sigemptyset(&sa.sa_mask);
	CHECK_EQ(sigaction(SIGSEGV, &sa, NULL), 0);
	CHECK(signal(SIGBUS, on_fault) != SIG_ERR);
	CHECK_EQ(sigaction(SIGSEGV, NULL, &cur), 0);
	CHECK(cur.sa_handler == on_fault);
	memcpy(p + 2 * PG, "late", 4);                 /* window faults still served */
	CHECK_EQ(mprotect(p, PG, PROT_READ), 0);
	CHECK_EQ(touch(p, 1), SIGSEGV);
	CHECK_EQ(ftruncate(fd, PG), 0);
	CHECK_EQ(touch(p + 3 * PG, 0), SIGBUS);
	CHECK_EQ(touch(p + PG / 2, 0), 0);
	CHECK_EQ(munmap(p, 4 * PG), 0);
	close(fd);
}

/*
 * The address of a mapping stored in its file, and given back as the hint
 * by the next run (LMDB's MDB_FIXEDMAP): the same address, as the kernel
 * gives it when the range is free.
 */
static void case_hint(void)
{
	char path[PATH_MAX];
	int fd;
	char *p;
	uintptr_t want = 0;

	path_of(path, "hi");
	fd = open(path, O_RDWR | O_CREAT, 0644);
	REQUIRE(fd >= 0);
	if (pread(fd, &want, sizeof(want), 0) != sizeof(want)) {
		want = 0;
		REQUIRE(ftruncate(fd, 4 * PG) == 0);
	}
	/*
	 * a small mapping first, of another size in the second run, as LMDB
	 * maps its lock file (sized by the run's reader count) before its data
	 */
	CHECK(mmap(NULL, want ? 3 * PG : PG, PROT_READ, MAP_SHARED, fd, 0) != MAP_FAILED);
	p = mmap((void *)want, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	REQUIRE(p != MAP_FAILED);
	if (want) {
		CHECK(p == (char *)want);
		CHECK(memcmp(p, &want, sizeof(want)) == 0);
	} else
		memcpy(p, &p, sizeof(p));
	close(fd);
}

/*
 * A hint outside the window, free (a map made without the interposer):
 * the kernel maps the file there, as it would; a file usermm already
 * serves is never given to the kernel that way.
 */
static void case_hint_outside(void)
{
	int fd = make_file("ho", 2 * PG), fd2 = make_file("ho2", 2 * PG);
	char *q = mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd2, 0);
	char *free_at = mmap(NULL, 2 * PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), *p;

	REQUIRE(q != MAP_FAILED && free_at != MAP_FAILED);
	CHECK_EQ((unsigned char)q[1], pat(1));
	REQUIRE(munmap(free_at, 2 * PG) == 0);
	p = mmap(free_at, 2 * PG, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(p == free_at);
	CHECK_EQ((unsigned char)p[PG + 1], pat(PG + 1));
	CHECK(munmap(p, 2 * PG) == 0);
	p = mmap(free_at, 2 * PG, PROT_READ, MAP_SHARED, fd2, 0);
	CHECK(p != MAP_FAILED && p != free_at);        /* served: in the window */
	close(fd);
	close(fd2);
}

/* A memfd is shared memory: the kernel's, and still shared with a child. */
static void case_shm(void)
{
	int fd = memfd_create("umm-test", 0), mf = make_file("sh", PG), status;
	char *p, *q;
	pid_t pid;

	REQUIRE(fd >= 0);
	REQUIRE(ftruncate(fd, PG) == 0);
	p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	q = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, mf, 0);
	REQUIRE(p != MAP_FAILED && q != MAP_FAILED);
	q[0] = 'q';                                    /* the file is usermm's */
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		memcpy(p, "from child", 10);
		_exit(0);
	}
	REQUIRE(waitpid(pid, &status, 0) == pid);
	CHECK(memcmp(p, "from child", 10) == 0);
	CHECK_EQ(pwrite(fd, "pw", 2, 100), 2);
	CHECK(memcmp(p + 100, "pw", 2) == 0);
	close(fd);
	close(mf);
}

/* Bad calls get Linux's errors, from usermm for window addresses. */
#define FAILS(expr, err) do { errno = 0; CHECK((long)(expr) == -1); CHECK_EQ(errno, err); } while (0)
static void case_errors(void)
{
	int fd = make_file("er", 4 * PG), ro, wo;
	char path[PATH_MAX], *p;

	path_of(path, "er");
	ro = open(path, O_RDONLY);
	wo = open(path, O_WRONLY);
	REQUIRE(ro >= 0 && wo >= 0);
	p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	REQUIRE(p != MAP_FAILED);
	p[0] = 1;
	FAILS(mmap(NULL, 0, PROT_READ, MAP_SHARED, fd, 0), EINVAL);
	FAILS(mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 100), EINVAL);
	FAILS(mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0), EACCES);
	FAILS(mmap(NULL, PG, PROT_READ, MAP_SHARED, wo, 0), EACCES);
	FAILS(mmap(NULL, PG, PROT_READ, 0, fd, 0), EINVAL);
	FAILS(mmap(NULL, PG, PROT_READ, MAP_SHARED, 999, 0), EBADF);
	FAILS(mprotect(p, PG, 0x1000), EINVAL);
	FAILS(msync(p, PG, MS_SYNC | MS_ASYNC), EINVAL);
	FAILS(madvise(p, PG, 12345), EINVAL);
	FAILS(mremap(p, PG, 2 * PG, 0x80), EINVAL);
	CHECK_EQ(munmap(p, 4 * PG), 0);
	FAILS(mprotect(p, PG, PROT_READ), ENOMEM);
	FAILS(msync(p, PG, MS_SYNC), ENOMEM);
	FAILS(madvise(p, PG, MADV_WILLNEED), ENOMEM);
	FAILS(mlock(p, PG), ENOMEM);
	/* a private writable mapping of a read-only descriptor is allowed */
	p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, 0);
	CHECK(p != MAP_FAILED);
	p[0] = 2;
	CHECK_EQ(munmap(p, PG), 0);
	close(ro);
	close(wo);
	close(fd);
}

/* Run with a bad setting: plain kernel mappings that work. */
static void case_native(void)
{
	int fd = make_file("na", 2 * PG);

	for (int i = 0; i < 2; i++) {
		char *p = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

		REQUIRE(p != MAP_FAILED);
		CHECK_EQ((unsigned char)p[5], pat(5));
		memcpy(p + PG, "native", 6);
		CHECK_EQ(munmap(p, 2 * PG), 0);
	}
	close(fd);
}

/* The raw bytes of the file at off (the kernel's copy: past the interposer). */
static bool raw_has(int fd, off_t off, const char *str)
{
	char buf[64] = { 0 };
	size_t n = strlen(str);

	return n <= sizeof(buf) && syscall(SYS_pread64, fd, buf, n, off) == (ssize_t)n && !memcmp(buf, str, n);
}

/*
 * exec: a store through a shared mapping and a served pwrite, then an
 * exec (UMM_PRELOAD_EXEC names the function) that fails (the process
 * goes on, the mapping as it was, and stores again), then one of
 * /bin/true that succeeds: the driver finds everything in the file.
 */
static void case_exec(void)
{
	const char *how = getenv("UMM_PRELOAD_EXEC");
	int fd = make_file("ex", 4 * PG), xfd;
	char *p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	char *argv[] = { "true", NULL }, *bad_argv[] = { "usermm-no-such-program", NULL };
	int r = 0, want = ENOENT;

	REQUIRE(how && p != MAP_FAILED);
	memcpy(p + PG, how, strlen(how));
	CHECK_EQ(pwrite(fd, "pw-", 3, 2 * PG), 3);
	CHECK(!raw_has(fd, PG, how));          /* usermm's page cache has it, not yet the file */
	errno = 0;
	if (!strcmp(how, "execve"))
		r = execve("/nonexistent/usermm", bad_argv, environ);
	else if (!strcmp(how, "execv"))
		r = execv("/nonexistent/usermm", bad_argv);
	else if (!strcmp(how, "execvp"))
		r = execvp(bad_argv[0], bad_argv);
	else if (!strcmp(how, "execvpe"))
		r = execvpe(bad_argv[0], bad_argv, environ);
	else if (!strcmp(how, "execl"))
		r = execl("/nonexistent/usermm", "x", (char *)NULL);
	else if (!strcmp(how, "execlp"))
		r = execlp(bad_argv[0], bad_argv[0], (char *)NULL);
	else if (!strcmp(how, "execle"))
		r = execle("/nonexistent/usermm", "x", (char *)NULL, environ);
	else if (!strcmp(how, "fexecve"))
		r = fexecve(fd, bad_argv, environ), want = EACCES;    /* not executable */
	else if (!strcmp(how, "execveat"))
		r = execveat(AT_FDCWD, "/nonexistent/usermm", bad_argv, environ, 0);
	CHECK_EQ(r, -1);
	CHECK_EQ(errno, want);
	/* the failed exec wrote back; the mapping and the served I/O go on */
	CHECK(raw_has(fd, PG, how));
	CHECK(memcmp(p + PG, how, strlen(how)) == 0);
	memcpy(p + 2 * PG + 3, "after", 5);
	CHECK(!raw_has(fd, 2 * PG, "pw-after"));
	if (test_failures)
		_exit(1);
	if (!strcmp(how, "execve"))
		execve("/bin/true", argv, environ);
	else if (!strcmp(how, "execv"))
		execv("/bin/true", argv);
	else if (!strcmp(how, "execvp"))
		execvp("true", argv);
	else if (!strcmp(how, "execvpe"))
		execvpe("true", argv, environ);
	else if (!strcmp(how, "execl"))
		execl("/bin/true", "true", (char *)NULL);
	else if (!strcmp(how, "execlp"))
		execlp("true", "true", (char *)NULL);
	else if (!strcmp(how, "execle"))
		execle("/bin/true", "true", (char *)NULL, environ);
	else if (!strcmp(how, "fexecve")) {
		xfd = open("/bin/true", O_RDONLY);
		fexecve(xfd, argv, environ);
	} else if (!strcmp(how, "execveat"))
		execveat(AT_FDCWD, "/bin/true", argv, environ, 0);
	fprintf(stderr, "%s /bin/true: %s\n", how, strerror(errno));
	_exit(5);
}

/* _exit / _Exit / quick_exit (UMM_PRELOAD_EXIT) right after a store and a served pwrite. */
static void case_exit_now(void)
{
	const char *how = getenv("UMM_PRELOAD_EXIT");
	int fd = make_file("xn", 4 * PG);
	char *p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	REQUIRE(how && p != MAP_FAILED);
	memcpy(p + PG, how, strlen(how));
	CHECK_EQ(pwrite(fd, "pwritten", 8, 3 * PG), 8);
	CHECK(!raw_has(fd, PG, how));
	if (!strcmp(how, "_Exit"))
		_Exit(test_failures ? 1 : 0);
	if (!strcmp(how, "quick_exit"))
		quick_exit(test_failures ? 1 : 0);
	_exit(test_failures ? 1 : 0);
}

/* Poll the file (raw) for str at off: true once it is there, false after about 30 s. */
static bool raw_wait(int fd, off_t off, const char *str)
{
	for (int i = 0; i < 3000; i++) {
		if (raw_has(fd, off, str))
			return true;
		usleep(10000);
	}
	return false;
}

/*
 * The background writeback: a store and a served pwrite reach the file
 * while the process runs (twice: it is periodic), then SIGKILL; with
 * USERMM_WRITEBACK_MS=0 nothing is written back
 * before the kill, and the store is lost, as the interposer documents.
 */
static void case_flusher(void)
{
	int fd = make_file("fl", 4 * PG);
	char *p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	REQUIRE(p != MAP_FAILED);
	memcpy(p + PG, "flushed-1", 9);
	CHECK_EQ(pwrite(fd, "pw-flushed", 10, 2 * PG), 10);
	if (!strcmp(getenv("USERMM_WRITEBACK_MS"), "0")) {
		usleep(300000);
		CHECK(!raw_has(fd, PG, "flushed-1"));
		CHECK(!raw_has(fd, 2 * PG, "pw-flushed"));
	} else {
		CHECK(raw_wait(fd, PG, "flushed-1"));
		CHECK(raw_wait(fd, 2 * PG, "pw-flushed"));
		memcpy(p + PG, "flushed-2", 9);     /* the page was written back: stored again */
		CHECK(raw_wait(fd, PG, "flushed-2"));
	}
	if (test_failures)
		_exit(1);
	kill(getpid(), SIGKILL);
}

/*
 * exit while four threads still store into a mapped file: the exit
 * writeback runs under their stores, and the process ends cleanly with
 * what each thread stored before main returned in the file.
 */
#define XT 4
#define XT_PAGES 64
static char *xt_map;
static atomic_int xt_started;

static void *xt_main(void *arg)
{
	long t = (long)arg;
	char *mine = xt_map + (size_t)t * XT_PAGES * PG;
	unsigned int n = 0;

	mine[0] = (char)('A' + t);
	atomic_fetch_add(&xt_started, 1);
	for (;;) {
		size_t pg = 1 + n % (XT_PAGES - 1);

		((volatile char *)mine)[pg * PG + n % PG] = (char)n;
		n = n * 1103515245u + 12345u;
	}
	return NULL;
}

static void case_exit_threads(void)
{
	int fd = make_file("xt", XT * XT_PAGES * PG);
	pthread_t th;

	xt_map = mmap(NULL, XT * XT_PAGES * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	REQUIRE(xt_map != MAP_FAILED);
	for (long t = 0; t < XT; t++)
		REQUIRE(pthread_create(&th, NULL, xt_main, (void *)t) == 0);
	while (atomic_load(&xt_started) < XT)
		usleep(1000);
	usleep(20000);
	close(fd);
	/* return: exit runs the writeback while the threads go on storing */
}

/*
 * _exit from a signal handler that interrupts served I/O and stores at a
 * random moment: the process ends (the writeback is skipped when the
 * handler interrupted usermm in that thread, which holds locks it would
 * wait for); a watchdog signal after 60 s kills it if it hangs.
 */
static void on_alarm_exit(int sig)
{
	(void)sig;
	_exit(0);
}

static void case_exit_handler(void)
{
	int fd = make_file("eh", 16 * PG);
	char *p = mmap(NULL, 16 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR2 };
	struct itimerspec dog = { .it_value = { .tv_sec = 60 } };
	struct itimerval at = { .it_value = { .tv_usec = 2000 } };
	char page[PG];
	timer_t t;

	REQUIRE(p != MAP_FAILED);
	REQUIRE(timer_create(CLOCK_MONOTONIC, &sev, &t) == 0 && timer_settime(t, 0, &dog, NULL) == 0);
	signal(SIGALRM, on_alarm_exit);
	memset(page, 'h', sizeof(page));
	setitimer(ITIMER_REAL, &at, NULL);
	for (unsigned int i = 0;; i++) {
		(void)!pwrite(fd, page, PG, (off_t)(i % 16) * (off_t)PG);
		p[(i * 7 % 16) * PG + i % PG] = (char)i;
		(void)!pread(fd, page, PG, (off_t)(i * 3 % 16) * (off_t)PG);
	}
}

#ifndef RWF_NOAPPEND
#define RWF_NOAPPEND 0x00000020
#endif
#ifndef RWF_ATOMIC
#define RWF_ATOMIC 0x00000040
#endif
#ifndef RWF_DONTCACHE
#define RWF_DONTCACHE 0x00000080
#endif

/* One-element preadv2/pwritev2. */
static ssize_t rd2(int fd, void *buf, size_t n, off_t off, int flags)
{
	struct iovec v = { buf, n };

	return preadv2(fd, &v, 1, off, flags);
}

static ssize_t wr2(int fd, const char *s, off_t off, int flags)
{
	struct iovec v = { (void *)s, strlen(s) };

	return pwritev2(fd, &v, 1, off, flags);
}

/*
 * preadv2/pwritev2 on a served file: through the page cache like
 * preadv/pwritev, with each flag (run with USERMM_WRITEBACK_MS=0, so
 * only the calls themselves write back).
 */
static void case_rwf(void)
{
	int fd = make_file("r2", 8 * PG), afd, ro;
	char path[PATH_MAX], buf[2 * PG];
	char *p = mmap(NULL, 8 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	struct stat st;

	REQUIRE(p != MAP_FAILED);
	path_of(path, "r2");
	/* no flags: as pwritev/preadv, coherent with the mapping */
	CHECK_EQ(wr2(fd, "plain", 100, 0), 5);
	CHECK(memcmp(p + 100, "plain", 5) == 0);
	memcpy(p + PG, "stored", 6);
	CHECK_EQ(rd2(fd, buf, 6, PG, 0), 6);
	CHECK(memcmp(buf, "stored", 6) == 0);
	CHECK_EQ(rd2(fd, buf, 6, PG, RWF_HIPRI), 6);     /* ignored */
	CHECK(memcmp(buf, "stored", 6) == 0);
	CHECK_EQ(wr2(fd, "hipri", 200, RWF_HIPRI), 5);
	CHECK(memcmp(p + 200, "hipri", 5) == 0);
	/* offset -1: at the descriptor's offset, which moves */
	CHECK_EQ(lseek(fd, PG, SEEK_SET), (off_t)PG);
	CHECK_EQ(rd2(fd, buf, 6, -1, 0), 6);
	CHECK(memcmp(buf, "stored", 6) == 0);
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), (off_t)PG + 6);
	CHECK_EQ(wr2(fd, "XY", -1, 0), 2);
	CHECK(memcmp(p + PG, "storedXY", 8) == 0);
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), (off_t)PG + 8);
	/* RWF_DSYNC, RWF_SYNC: in the file when the call returns; without: not yet */
	CHECK_EQ(wr2(fd, "dsync", 3 * PG, RWF_DSYNC), 5);
	CHECK(raw_has(fd, 3 * PG, "dsync"));
	CHECK_EQ(wr2(fd, "sync", 3 * PG + 100, RWF_SYNC), 4);
	CHECK(raw_has(fd, 3 * PG + 100, "sync"));
	CHECK_EQ(wr2(fd, "lazy", 3 * PG + 200, 0), 4);
	CHECK(!raw_has(fd, 3 * PG + 200, "lazy"));
	/* RWF_DONTCACHE: written back too (usermm keeps the page) */
	CHECK_EQ(wr2(fd, "dontcache", 2 * PG, RWF_DONTCACHE), 9);
	CHECK(raw_has(fd, 2 * PG, "dontcache"));
	CHECK(memcmp(p + 2 * PG, "dontcache", 9) == 0);
	CHECK_EQ(rd2(fd, buf, 9, 2 * PG, RWF_DONTCACHE), 9);
	/* RWF_APPEND: at the end whatever the offset; the descriptor's offset stays (moves for -1) */
	CHECK_EQ(lseek(fd, 5, SEEK_SET), 5);
	CHECK_EQ(wr2(fd, "app", 0, RWF_APPEND), 3);
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 5);
	CHECK_EQ(wr2(fd, "end", -1, RWF_APPEND), 3);
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), (off_t)(8 * PG + 6));
	CHECK_EQ(rd2(fd, buf, 6, 8 * PG, 0), 6);
	CHECK(memcmp(buf, "append", 6) == 0);
	/* RWF_NOAPPEND: at the offset on an O_APPEND descriptor */
	afd = open(path, O_RDWR | O_APPEND);
	REQUIRE(afd >= 0);
	CHECK_EQ(wr2(afd, "noapp", 300, RWF_NOAPPEND), 5);
	CHECK(memcmp(p + 300, "noapp", 5) == 0);
	CHECK_EQ(wr2(afd, "!", 0, 0), 1);                 /* O_APPEND still holds without it */
	CHECK(!fstat(fd, &st) && st.st_size == (off_t)(8 * PG + 7));
	close(afd);
	/* Linux's errors */
	FAILS(wr2(fd, "x", 0, RWF_APPEND | RWF_NOAPPEND), EINVAL);
	FAILS(wr2(fd, "x", 0, 0x10000), EOPNOTSUPP);
	FAILS(rd2(fd, buf, 1, 0, 0x10000), EOPNOTSUPP);
	FAILS(wr2(fd, "x", 0, RWF_ATOMIC), EOPNOTSUPP);
	FAILS(rd2(fd, buf, 1, 0, RWF_ATOMIC), EOPNOTSUPP);
	CHECK_EQ(rd2(fd, buf, 0, 0, 0x10000), 0);         /* nothing to do: no flag check */
	FAILS(wr2(fd, "x", -2, 0), EINVAL);
	FAILS(rd2(fd, buf, 1, -2, 0), EINVAL);
	ro = open(path, O_RDONLY);
	REQUIRE(ro >= 0);
	FAILS(wr2(ro, "x", 0, 0), EBADF);
	close(ro);
	/*
	 * RWF_NOWAIT: only cached pages.  Shrinking and growing the file
	 * leaves pages 4..7 out of the cache (page 3 stays).
	 */
	CHECK_EQ(ftruncate(fd, 4 * PG), 0);
	CHECK_EQ(ftruncate(fd, 8 * PG), 0);
	CHECK_EQ(rd2(fd, buf, 2 * PG, 3 * PG, RWF_NOWAIT), (ssize_t)PG);   /* stops at page 4 */
	CHECK(memcmp(buf, "dsync", 5) == 0);
	FAILS(rd2(fd, buf, 10, 5 * PG, RWF_NOWAIT), EAGAIN);
	FAILS(wr2(fd, "partial", 6 * PG + 10, RWF_NOWAIT), EAGAIN);        /* would read page 6 */
	CHECK_EQ(rd2(fd, buf, 10, 9 * PG, RWF_NOWAIT), 0);                 /* past the end */
	CHECK_EQ(wr2(fd, "cached", 3 * PG + 300, RWF_NOWAIT), 6);
	memset(buf, 'w', PG);
	{
		struct iovec v = { buf, PG };

		CHECK_EQ(pwritev2(fd, &v, 1, 7 * PG, RWF_NOWAIT), (ssize_t)PG); /* whole page: no read */
	}
	CHECK_EQ(rd2(fd, buf, 10, 5 * PG, 0), 10);                         /* now cached */
	CHECK_EQ(rd2(fd, buf, 10, 5 * PG, RWF_NOWAIT), 10);
	CHECK_EQ(buf[0], 0);
	CHECK_EQ(munmap(p, 8 * PG), 0);
	close(fd);
}

/* ---- no thread until one is needed ---- */


/* The C library still in its single-threaded mode (true where it cannot tell). */
static bool libc_single_threaded(void)
{
#ifdef HAVE_SINGLE_THREADED
	return __libc_single_threaded;
#else
	return true;
#endif
}

/*
 * A program that reads mapped files, stores into a small writable shared
 * one (as LMDB's readers do into the lock file), preads, writes a mapped
 * buffer to a pipe and pwrites one into a served file through an
 * O_DSYNC descriptor (a buffer in the window: the copy faults inline), all within the first second: no
 * thread is ever created (USERMM_WRITEBACK_MS is the default 5 s).
 */
static void case_lazy(void)
{
	int fd = make_file("lz", 64 * PG), fd2 = make_file("lz2", 2 * PG), fd3 = make_file("lz3", 4 * PG);
	char *p = mmap(NULL, 64 * PG, PROT_READ, MAP_SHARED, fd, 0);
	char *q = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 0);
	char *r = mmap(NULL, 4 * PG, PROT_READ, MAP_SHARED, fd3, 0);
	char buf[128], path[PATH_MAX];
	int pipefd[2], fd3s;
	size_t bad = 0;

	REQUIRE(p != MAP_FAILED && q != MAP_FAILED && r != MAP_FAILED);
	REQUIRE(!strcmp(getenv("USERMM_LAZY_MS"), "600000"));   /* not a race with the clock */
	for (size_t i = 0; i < 64 * PG; i++)
		bad += (unsigned char)p[i] != pat(i);
	CHECK_EQ(bad, 0);
	memcpy(q, "lazy-store", 10);
	CHECK_EQ(pread(fd, buf, 100, 5 * PG), 100);
	CHECK_EQ((unsigned char)buf[7], pat(5 * PG + 7));
	/* a mapped buffer to the kernel (prefaulted), and into a served file (bounced) */
	REQUIRE(pipe(pipefd) == 0);
	CHECK_EQ(write(pipefd[1], p + 9 * PG, 100), 100);
	CHECK_EQ(read(pipefd[0], buf, 100), 100);
	CHECK_EQ((unsigned char)buf[5], pat(9 * PG + 5));
	/* O_DSYNC: the write is synced, no dirty data for a flusher */
	path_of(path, "lz3");
	fd3s = open(path, O_RDWR | O_DSYNC);
	REQUIRE(fd3s >= 0);
	CHECK_EQ(pwrite(fd3s, p + 20 * PG + 3, 100, 2 * PG), 100);
	CHECK_EQ((unsigned char)r[2 * PG + 10], pat(20 * PG + 13));
	close(fd3s);
	CHECK_EQ(munmap(p, 64 * PG), 0);
	CHECK_EQ(test_threads_now(), 1);
	CHECK(libc_single_threaded());
	close(pipefd[0]);
	close(pipefd[1]);
}

/*
 * The background writeback starts when there is dirty data: a served
 * pwrite starts it at once; a store through a writable shared mapping
 * at the first call one interval after the mapping was made.  Run with
 * USERMM_WRITEBACK_MS=300.
 */
static void case_lazy_flusher(void)
{
	int fd = make_file("lf", 4 * PG), fd2 = make_file("lf2", 4 * PG);
	char *p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	char *q;

	REQUIRE(p != MAP_FAILED);
	memcpy(p + PG, "stored-1", 8);
	CHECK_EQ(test_threads_now(), 1);
	usleep(400000);                         /* more than one interval, with no call */
	CHECK_EQ(test_threads_now(), 1);
	CHECK(!raw_has(fd, PG, "stored-1"));
	q = mmap(NULL, 4 * PG, PROT_READ, MAP_SHARED, fd2, 0);   /* a call: the flusher starts */
	REQUIRE(q != MAP_FAILED);
	CHECK(test_threads_now() >= 2);
	CHECK(raw_wait(fd, PG, "stored-1"));
	close(fd);
	close(fd2);
	/* a served write in a fresh process is covered by case_flusher (20 ms, no call after it) */
}

/*
 * Reclaim under a small USERMM_PHYS: kswapd is wanted inside the fault
 * handler, not created there; direct reclaim serves the faults.  The
 * first mapping call after the first second creates it.
 */
static void case_lazy_kswapd(void)
{
	size_t len = 24UL << 20;
	int fd = make_file("lk", len), fd2 = make_file("lk2", PG);
	char *p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0), *q;
	size_t bad = 0;

	REQUIRE(p != MAP_FAILED);
	for (size_t i = 0; i < len; i += 512)
		bad += (unsigned char)p[i] != pat(i);
	CHECK_EQ(bad, 0);
	CHECK_EQ(test_threads_now(), 1);
	usleep(300000);                         /* USERMM_LAZY_MS=200 */
	q = mmap(NULL, PG, PROT_READ, MAP_SHARED, fd2, 0);
	REQUIRE(q != MAP_FAILED);
	CHECK(test_threads_now() >= 2);
	CHECK(!libc_single_threaded());
	close(fd);
	close(fd2);
}

static volatile char *altstack_target;
static volatile int altstack_sig;

static void on_usr1(int sig)
{
	(void)sig;
	altstack_sig = touch(altstack_target, 0);
}

/*
 * A fault on a small alternate signal stack needs a fault thread.
 * sigaltstack through the C library (interposed: the fault threads
 * start) serves it; set with a raw system call (not seen), the fault is
 * refused with SIGSEGV, not left waiting.  UMM_PRELOAD_ALTSTACK=raw
 * selects the second.
 */
static void case_lazy_altstack(void)
{
	const char *how = getenv("UMM_PRELOAD_ALTSTACK");
	bool raw = how && !strcmp(how, "raw");
	size_t size = 32 << 10;
	stack_t ss = { .ss_sp = malloc(size), .ss_size = size };
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_ONSTACK };
	int fd = make_file("la", 8 * PG);
	char *p;

	REQUIRE(ss.ss_sp);
	if (!raw)
		REQUIRE(sigaltstack(&ss, NULL) == 0);
	sigemptyset(&sa.sa_mask);
	REQUIRE(sigaction(SIGUSR1, &sa, NULL) == 0);
	p = mmap(NULL, 8 * PG, PROT_READ, MAP_SHARED, fd, 0);
	REQUIRE(p != MAP_FAILED);
	/* after usermm started (which looks at this thread's stack), unseen */
	if (raw)
		REQUIRE(syscall(SYS_sigaltstack, &ss, NULL) == 0);
	/* the host MMU's handler (SA_ONSTACK) runs on the small stack: every fault is handed off */
	CHECK_EQ(touch(p, 0), raw ? SIGSEGV : 0);
	altstack_target = p + 5 * PG;
	raise(SIGUSR1);                         /* and from a handler already on it */
	CHECK_EQ(altstack_sig, raw ? SIGSEGV : 0);
	/* the host MMU's two fault threads (then the helpers they let start: no longer single-threaded) */
	if (raw)
		CHECK_EQ(test_threads_now(), 1);
	else
		CHECK(test_threads_now() >= 3);
	if (raw) {                              /* without the stack: inline again */
		stack_t off = { .ss_flags = SS_DISABLE };

		REQUIRE(syscall(SYS_sigaltstack, &off, NULL) == 0);
	}
	CHECK_EQ((unsigned char)p[0], pat(0));
	CHECK_EQ((unsigned char)p[5 * PG + 1], pat(5 * PG + 1));
	close(fd);
}

static const struct tcase {
	const char *name;
	void (*fn)(void);
} cases[] = {
	{ "map_rw", case_map_rw },
	{ "coherence", case_coherence },
	{ "unlink", case_unlink },
	{ "mremap", case_mremap },
	{ "truncate", case_truncate },
	{ "munmap_part", case_munmap_part },
	{ "mprotect", case_mprotect },
	{ "fork", case_fork },
	{ "threads", case_threads },
	{ "late_handler", case_late_handler },
	{ "hint", case_hint },
	{ "shm", case_shm },
	{ "hint_outside", case_hint_outside },
	{ "errors", case_errors },
	{ "native", case_native },
	{ "exec", case_exec },
	{ "exit_now", case_exit_now },
	{ "flusher", case_flusher },
	{ "rwf", case_rwf },
	{ "exit_threads", case_exit_threads },
	{ "exit_handler", case_exit_handler },
	{ "lazy", case_lazy },
	{ "lazy_flusher", case_lazy_flusher },
	{ "lazy_kswapd", case_lazy_kswapd },
	{ "lazy_altstack", case_lazy_altstack },
	{ "exit_runs", case_exit_runs },
};

static int child_main(const char *name)
{
	struct sigaction sa = { .sa_handler = on_fault };

	/* before the first file mapping (but for late_handler) */
	sigemptyset(&sa.sa_mask);
	if (strcmp(name, "late_handler")) {
		sigaction(SIGSEGV, &sa, NULL);
		sigaction(SIGBUS, &sa, NULL);
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (!strcmp(cases[i].name, name)) {
			cases[i].fn();
			return test_summary(name);
		}
	fprintf(stderr, "no case %s\n", name);
	return 2;
}

/* ---- the driver ---- */

static char lib[PATH_MAX], self[PATH_MAX];

/* Run one case under the interposer; its stats and stderr are in dir. */
static int run_case(const char *name, const char *extra_env)
{
	char stats[PATH_MAX], err[PATH_MAX];
	int status;
	pid_t pid;

	path_of(stats, "stats");
	path_of(err, "stderr");
	unlink(stats);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		int efd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (efd < 0 || dup2(efd, 2) < 0)
			_exit(3);
		setenv("LD_PRELOAD", lib, 1);
		setenv("USERMM_STATS", stats, 1);
		setenv("UMM_PRELOAD_TEST_DIR", dir, 1);
		setenv("USERMM_PHYS", "64M", 1);
		/*
		 * no background writeback unless a case asks for it: the cases
		 * check that data is not in the file before the call that
		 * writes it back, and that call's own writeback
		 */
		setenv("USERMM_WRITEBACK_MS", "0", 1);
		if (extra_env)
			putenv((char *)extra_env);
		execl(self, self, name, (char *)NULL);
		_exit(4);
	}
	REQUIRE(waitpid(pid, &status, 0) == pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The value of key in the stats file, or -1. */
static long stat_of(const char *key)
{
	char p[PATH_MAX], line[256];
	size_t n = strlen(key);
	long v = -1;
	FILE *f;

	path_of(p, "stats");
	f = fopen(p, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == '=')
			v = strtol(line + n + 1, NULL, 10);
	fclose(f);
	return v;
}

static void show_stderr(void)
{
	char p[PATH_MAX], line[512];
	FILE *f;

	path_of(p, "stderr");
	f = fopen(p, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		fprintf(stderr, "    | %s", line);
	fclose(f);
}

/* The file's bytes [off, off + len) natively, compared with s. */
static bool file_has(const char *name, off_t off, const char *s, size_t len)
{
	char p[PATH_MAX], buf[256];
	int fd;
	bool ok;

	path_of(p, name);
	fd = open(p, O_RDONLY);
	if (fd < 0)
		return false;
	ok = len <= sizeof(buf) && pread(fd, buf, len, off) == (ssize_t)len && !memcmp(buf, s, len);
	close(fd);
	return ok;
}

static off_t file_size(const char *name)
{
	char p[PATH_MAX];
	struct stat st;

	path_of(p, name);
	return stat(p, &st) ? -1 : st.st_size;
}

/* A case that maps files must have been served by usermm (extra_env: one more setting, or NULL). */
static void check_served_env(const char *name, const char *extra_env)
{
	int rc = run_case(name, extra_env);

	CHECK_EQ(rc, 0);
	CHECK(stat_of("preload_enabled") == 1);
	CHECK(stat_of("preload_mmaps") > 0);
	CHECK(stat_of("host_faults") > 0);
	CHECK_EQ(stat_of("preload_fallbacks"), 0);
	if (rc)
		show_stderr();
}

static void check_served(const char *name)
{
	check_served_env(name, NULL);
}

static void test_map_rw(void)
{
	check_served("map_rw");
	CHECK(stat_of("preload_msyncs") >= 1);
	CHECK(file_has("rw", 100, "through the mapping", 19));
	CHECK(file_has("rw", 5 * PG - 3, "across", 6));
	CHECK(file_has("rw", 9 * PG, "at exit", 7));
	CHECK(file_has("rw", 10 * PG, "after close", 11));
	CHECK_EQ(file_size("rw"), 16 * PG);
}

/* The exit writeback writes each run of dirty pages with one request. */
static void test_exit_runs(void)
{
	bool ok = true;

	check_served("exit_runs");
	CHECK_EQ(stat_of("sys_file_write_requests"), 2);
	CHECK_EQ(stat_of("sys_file_write_pages"), 20);
	for (size_t i = 0; i < 128; i++) {
		char want[16];

		snprintf(want, sizeof(want), "page %03zu", i);
		ok &= file_has("runs", (off_t)(i * PG + 10), want, 9) == in_runs(i);
	}
	CHECK(ok);
	CHECK_EQ(file_size("runs"), 128 * PG);
}

static void test_coherence(void)
{
	check_served("coherence");
	CHECK(stat_of("preload_preads") > 0);
	CHECK(stat_of("preload_pwrites") > 0);
	CHECK(stat_of("preload_prefaults") > 0);
	CHECK(file_has("co", 3 * PG + 5, "pwritten", 8));
	CHECK(file_has("co", 5 * PG + 100, "dsync", 5));
	CHECK(file_has("co", 5 * PG + 200, "lazy!", 5));
	CHECK(file_has("co", 2 * PG, "storedWRITE", 11));
	CHECK(file_has("co", 4 * PG - 2, "vector", 6));
	CHECK(file_has("co", 8 * PG, "tailTAIL", 8));
	CHECK(file_has("co", 7 * PG, "piped", 5));
	CHECK_EQ(file_size("co"), 8 * PG + 8);
}

static void test_unlink(void)
{
	check_served("unlink");
	CHECK_EQ(file_size("ul"), PG);
	CHECK(!file_has("ul", 10, "still", 5));
}

static void test_mremap(void)
{
	check_served("mremap");
	CHECK(stat_of("preload_mremaps") >= 2);
	CHECK_EQ(file_size("mr"), 64 * PG);
	CHECK(file_has("mr", 63 * PG + 1, "l", 1));   /* 'a' + 63 % 26 */
}

static void test_truncate(void)
{
	check_served("truncate");
	CHECK(stat_of("preload_truncates") >= 4);
	CHECK_EQ(file_size("tr"), 4 * PG);
	CHECK(file_has("tr", 2 * PG, "w", 1));
	CHECK(file_has("tr", PG + 50, (char[]){ (char)pat(PG + 50) }, 1));
}

static void test_munmap_part(void)
{
	check_served("munmap_part");
}

static void test_mprotect(void)
{
	check_served("mprotect");
	CHECK(file_has("mp", 0, "a", 1));
	CHECK(file_has("mp", 10, "w", 1));
}

static void check_fork(const char *extra_env)
{
	check_served_env("fork", extra_env);
	CHECK_EQ(stat_of("preload_forks"), 1);
	CHECK(stat_of("preload_fork_mappings") >= 2);
	CHECK(stat_of("preload_mmaps") >= 3);          /* the one after the fork too */
	CHECK(file_has("fk", 10, "parent-1", 8));
	CHECK(file_has("fk", 20, "parent-pw", 9));
	CHECK(file_has("fk", PG, "child-1", 7));
	CHECK(file_has("fk", 2 * PG, "child-pw", 8));
	CHECK(file_has("fk", 3 * PG, "parent-2", 8));
	CHECK(file_has("fk2", PG, "after-fork", 10));
	CHECK(file_has("fk2", PG + 20, "pw", 2));
	CHECK_EQ(file_size("fk"), 4 * PG);
}

static void test_fork(void)
{
	check_fork(NULL);
}

static void check_threads(const char *extra_env)
{
	char p[PATH_MAX];
	unsigned char *buf = malloc(TH * TH_PAGES * PG);
	bool ok = true;
	int fd;

	REQUIRE(buf);
	check_served_env("threads", extra_env);
	path_of(p, "th");
	fd = open(p, O_RDONLY);
	REQUIRE(fd >= 0);
	REQUIRE(pread(fd, buf, TH * TH_PAGES * PG, 0) == (ssize_t)(TH * TH_PAGES * PG));
	for (size_t t = 0; t < TH; t++)
		for (size_t pg = 0; pg < TH_PAGES; pg++) {
			size_t base = (t * TH_PAGES + pg) * PG;

			for (size_t i = 0; i < PG; i++) {
				size_t off = i % 512;
				unsigned char want = off < 4 ? (unsigned char)(t * 16 + off + pg) : pat(base + i);

				if (pg == TH_PAGES - 1 && i == PG - 1)
					want = 'T';
				ok = ok && buf[base + i] == want;
			}
		}
	CHECK(ok);
	close(fd);
	free(buf);
}

static void test_threads(void)
{
	check_threads(NULL);
}

static void test_late_handler(void)
{
	check_served("late_handler");
	CHECK_EQ(file_size("lh"), PG);
}

static void test_hint(void)
{
	uintptr_t a = 0;
	char p[PATH_MAX];
	int fd;

	path_of(p, "hi");
	unlink(p);
	check_served("hint");
	fd = open(p, O_RDONLY);
	REQUIRE(fd >= 0);
	CHECK_EQ(pread(fd, &a, sizeof(a), 0), (ssize_t)sizeof(a));
	close(fd);
	CHECK(a != 0);
	check_served("hint");                          /* maps with a as the hint */
}

static void test_hint_outside(void)
{
	CHECK_EQ(run_case("hint_outside", NULL), 0);
	CHECK_EQ(stat_of("preload_mmaps"), 2);
	CHECK_EQ(stat_of("preload_fallbacks"), 1);
}

static void test_shm(void)
{
	CHECK_EQ(run_case("shm", NULL), 0);
	CHECK_EQ(stat_of("preload_mmaps"), 1);
	CHECK_EQ(stat_of("preload_fallbacks"), 1);
	CHECK(file_has("sh", 0, "q", 1));
}

static void test_errors(void)
{
	check_served("errors");
	CHECK(file_has("er", 0, "\1", 1));            /* the private store did not reach the file */
}

/* Each exec function writes the served files back first; a failed exec leaves the process going. */
static void test_exec(void)
{
	static const char *const how[] = {
		"execve", "execv", "execvp", "execvpe", "execl", "execlp", "execle", "fexecve", "execveat",
	};
	char env[64];

	for (size_t i = 0; i < sizeof(how) / sizeof(how[0]); i++) {
		snprintf(env, sizeof(env), "UMM_PRELOAD_EXEC=%s", how[i]);
		check_served_env("exec", env);
		CHECK(file_has("ex", PG, how[i], strlen(how[i])));
		CHECK(file_has("ex", 2 * PG, "pw-after", 8));
		CHECK_EQ(file_size("ex"), 4 * PG);
	}
}

/* _exit, _Exit and quick_exit write the served files back first. */
static void test_exit_now(void)
{
	check_served_env("exit_now", "UMM_PRELOAD_EXIT=_exit");
	CHECK(file_has("xn", PG, "_exit", 5));
	CHECK(file_has("xn", 3 * PG, "pwritten", 8));
	check_served_env("exit_now", "UMM_PRELOAD_EXIT=_Exit");
	CHECK(file_has("xn", PG, "_Exit", 5));
	CHECK(file_has("xn", 3 * PG, "pwritten", 8));
	check_served_env("exit_now", "UMM_PRELOAD_EXIT=quick_exit");
	CHECK(file_has("xn", PG, "quick_exit", 10));
	CHECK(file_has("xn", 3 * PG, "pwritten", 8));
}

/*
 * The background writeback: with it, a process killed by SIGKILL keeps
 * what was stored before the last pass; without it (0), that is lost.
 * And fork and four storing threads with a pass every millisecond.
 */
static void test_flusher(void)
{
	CHECK_EQ(run_case("flusher", "USERMM_WRITEBACK_MS=20"), 128 + SIGKILL);
	CHECK(file_has("fl", PG, "flushed-2", 9));
	CHECK(file_has("fl", 2 * PG, "pw-flushed", 10));
	CHECK_EQ(run_case("flusher", "USERMM_WRITEBACK_MS=0"), 128 + SIGKILL);
	CHECK(!file_has("fl", PG, "flushed-1", 9));
	CHECK(!file_has("fl", 2 * PG, "pw-flushed", 10));
	check_fork("USERMM_WRITEBACK_MS=1");
	CHECK_EQ(stat_of("preload_writeback_errors"), 0);
	check_threads("USERMM_WRITEBACK_MS=1");
	CHECK_EQ(stat_of("preload_writeback_errors"), 0);
}

/* preadv2 and pwritev2 through the page cache, each flag. */
static void test_rwf(void)
{
	check_served_env("rwf", "USERMM_WRITEBACK_MS=0");
	CHECK(stat_of("preload_preads") > 0);
	CHECK(stat_of("preload_pwrites") > 0);
	CHECK(file_has("r2", 100, "plain", 5));
	CHECK(file_has("r2", 200, "hipri", 5));
	CHECK(file_has("r2", 300, "noapp", 5));
	CHECK(file_has("r2", PG, "storedXY", 8));
	CHECK(file_has("r2", 2 * PG, "dontcache", 9));
	CHECK(file_has("r2", 3 * PG, "dsync", 5));
	CHECK(file_has("r2", 3 * PG + 100, "sync", 4));
	CHECK(file_has("r2", 3 * PG + 200, "lazy", 4));
	CHECK(file_has("r2", 3 * PG + 300, "cached", 6));
	CHECK(file_has("r2", 7 * PG, "wwww", 4));
	CHECK(file_has("r2", 6 * PG + 10, "\0\0\0", 3));      /* the refused write left nothing */
	CHECK_EQ(file_size("r2"), 8 * PG);
}

/* exit while other threads store into a mapping: no crash, their first stores kept. */
static void test_exit_threads(void)
{
	for (int i = 0; i < 2; i++) {
		check_served_env("exit_threads", i ? "USERMM_WRITEBACK_MS=1" : NULL);
		for (int t = 0; t < XT; t++)
			CHECK(file_has("xt", (off_t)((size_t)t * XT_PAGES * PG), (char[]){ (char)('A' + t) }, 1));
	}
}

/* _exit from a signal handler in the middle of served I/O: the process ends, every time. */
static void test_exit_handler(void)
{
	for (int i = 0; i < 20; i++) {
		int rc = run_case("exit_handler", NULL);

		CHECK_EQ(rc, 0);
		if (rc)
			show_stderr();
	}
}

/* A bad setting: one line on stderr, the kernel's own mappings, no usermm counters. */
static void test_bad_env(void)
{
	char p[PATH_MAX], line[512];
	int lines = 0;
	bool named = false;
	FILE *f;

	CHECK_EQ(run_case("native", "USERMM_PHYS=lots"), 0);
	path_of(p, "stderr");
	f = fopen(p, "r");
	REQUIRE(f);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "usermm", 6))
			continue;              /* the case's own summary line */
		lines++;
		named = named || strstr(line, "USERMM_PHYS=lots");
	}
	fclose(f);
	CHECK_EQ(lines, 1);
	CHECK(named);
	CHECK_EQ(stat_of("preload_enabled"), 0);
	CHECK_EQ(stat_of("preload_mmaps"), 0);
	CHECK_EQ(stat_of("host_faults"), -1);
	CHECK(file_has("na", PG, "native", 6));
	/* a log file that cannot be opened: the same */
	CHECK_EQ(run_case("native", "USERMM_LOG=/nonexistent-dir/usermm.log"), 0);
	CHECK_EQ(stat_of("preload_enabled"), 0);
	CHECK(file_has("na", PG, "native", 6));
	/* a writeback interval that is not a number of milliseconds: the same */
	CHECK_EQ(run_case("native", "USERMM_WRITEBACK_MS=soon"), 0);
	CHECK_EQ(stat_of("preload_enabled"), 0);
	CHECK(file_has("na", PG, "native", 6));
	/* nor is a USERMM_LAZY_MS that is not a number of milliseconds */
	CHECK_EQ(run_case("native", "USERMM_LAZY_MS=-1"), 0);
	CHECK_EQ(stat_of("preload_enabled"), 0);
	CHECK(file_has("na", PG, "native", 6));
	/* too little memory for usermm: reported the same way */
	CHECK_EQ(run_case("native", "USERMM_PHYS=4K"), 0);
	CHECK_EQ(stat_of("preload_enabled"), 0);
	CHECK(file_has("na", PG, "native", 6));
}

/*
 * No thread until one is needed: a program that reads mapped files (and
 * stores into a small shared one) within its first second creates none;
 * the flusher starts when there is dirty data; kswapd under pressure at
 * the first call after the first second; the fault threads when a
 * handoff can happen (a small alternate stack, a log function), and a
 * handoff with no fault thread is refused, not waited for.
 */
static void test_lazy_threads(void)
{
	char env[PATH_MAX + 32];

	setenv("USERMM_LAZY_MS", "600000", 1);  /* inherited by the children: no race with the clock */
	check_served_env("lazy", "USERMM_WRITEBACK_MS=600000");
	CHECK_EQ(stat_of("host_fault_threads"), 0);
	CHECK_EQ(stat_of("host_handoffs_refused"), 0);
	CHECK(stat_of("host_inline_faults") > 0);
	CHECK(file_has("lz2", 0, "lazy-store", 10));    /* by the exit writeback */
	CHECK_EQ(run_case("lazy_flusher", "USERMM_WRITEBACK_MS=300"), 0);
	CHECK(stat_of("preload_writeback_passes") > 0);
	setenv("USERMM_LAZY_MS", "200", 1);
	check_served_env("lazy_kswapd", "USERMM_PHYS=8M");
	unsetenv("USERMM_LAZY_MS");
	CHECK(stat_of("sys_kswapd_wakeups") > 0);
	CHECK(stat_of("sys_pgsteal") > 0);
	check_served_env("lazy_altstack", NULL);
	CHECK_EQ(stat_of("host_fault_threads"), 2);
	CHECK_EQ(stat_of("host_handoffs_refused"), 0);
	check_served_env("lazy_altstack", "UMM_PRELOAD_ALTSTACK=raw");
	CHECK_EQ(stat_of("host_fault_threads"), 0);
	CHECK_EQ(stat_of("host_handoffs_refused"), 2);
	/* a log function: faults go to the fault threads, started with the window */
	snprintf(env, sizeof(env), "USERMM_LOG=%s/usermm.log", dir);
	check_served_env("lazy_altstack", env);
	CHECK_EQ(stat_of("host_fault_threads"), 2);
	CHECK_EQ(stat_of("host_inline_faults"), 0);
	CHECK_EQ(stat_of("host_handoffs_refused"), 0);
}

static void run_all(void)
{
	RUN(test_map_rw);
	RUN(test_coherence);
	RUN(test_exit_runs);
	RUN(test_unlink);
	RUN(test_mremap);
	RUN(test_truncate);
	RUN(test_munmap_part);
	RUN(test_mprotect);
	RUN(test_fork);
	RUN(test_threads);
	RUN(test_late_handler);
	RUN(test_hint);
	RUN(test_hint_outside);
	RUN(test_shm);
	RUN(test_errors);
	RUN(test_bad_env);
	RUN(test_exec);
	RUN(test_exit_now);
	RUN(test_flusher);
	RUN(test_rwf);
	RUN(test_exit_threads);
	RUN(test_exit_handler);
	RUN(test_lazy_threads);
}

int main(int argc, char **argv)
{
	const char *d = getenv("UMM_PRELOAD_TEST_DIR");
	char *slash;

	if (argc > 1 && d) {
		snprintf(dir, sizeof(dir), "%s", d);
		return child_main(argv[1]);
	}
	REQUIRE(readlink("/proc/self/exe", self, sizeof(self) - 1) > 0);
	if (getenv("UMM_PRELOAD_LIB")) {
		snprintf(lib, sizeof(lib), "%s", getenv("UMM_PRELOAD_LIB"));
	} else {
		/* build/<variant>/tests/test_preload -> build/<variant>/libusermm_preload.so */
		snprintf(lib, sizeof(lib), "%s", self);
		slash = strrchr(lib, '/');
		REQUIRE(slash);
		*slash = 0;
		slash = strrchr(lib, '/');
		REQUIRE(slash);
		snprintf(slash, sizeof(lib) - (size_t)(slash - lib), "/libusermm_preload.so");
	}
	REQUIRE(access(lib, R_OK) == 0);
	snprintf(dir, sizeof(dir), "/tmp/usermm-preload-XXXXXX");
	REQUIRE(mkdtemp(dir));
	fprintf(stderr, "library %s, files in %s\n", lib, dir);
	run_all();
	/* the debug build's run also checks the release library, when it is built */
	if (!getenv("UMM_PRELOAD_LIB") && (slash = strstr(lib, "/debug/libusermm_preload.so"))) {
		snprintf(slash, sizeof(lib) - (size_t)(slash - lib), "/release/libusermm_preload.so");
		if (access(lib, R_OK) == 0) {
			fprintf(stderr, "library %s\n", lib);
			run_all();
		}
	}
	if (!test_failures) {
		char cmd[PATH_MAX + 16];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		(void)!system(cmd);
	}
	return test_summary("test_preload");
}

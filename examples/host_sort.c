/* SPDX-License-Identifier: MIT */
/*
 * host_sort.c - plain pointers over usermm memory: sort a file of 32-bit
 * records with qsort() through a host-attached mapping, and check the
 * result against the same sort in ordinary memory.
 *
 *     ./build/release/examples/host_sort [FILE [PHYS_MIB]]
 *
 * Without FILE it makes a 32 MiB file of pseudo-random records in /tmp.
 * The file is mapped MAP_PRIVATE in a usermm address space (the sort
 * never writes the file), a host window is attached over the mapping, and
 * qsort, which knows nothing about usermm, runs on the window's pointer.
 * Every page it touches faults into usermm the first time; copy-on-write
 * turns the file's pages into private anonymous ones on the first store.
 * Then the sorted records are hashed through the pointer and through
 * umm_read, and compared with qsort of a malloc'ed copy of the file.
 * Exit status 0 when the three agree.
 *
 * PHYS_MIB (default: twice the file) is usermm's physical memory.  The
 * sort needs the file's pages plus as many private copies; with less
 * memory than that it reports usermm's out-of-memory through the fault
 * path (the window's access gets SIGSEGV) until reclaim can evict.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <usermm/usermm.h>

static void die(const char *what, int err)
{
	fprintf(stderr, "host_sort: %s: %s\n", what, umm_strerror(err));
	exit(1);
}
#define TRY(call) do { int __e = (call); if (__e < 0) die(#call, __e); } while (0)

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* fnv1a - a 64-bit FNV-1a hash of n bytes, continued from h. */
static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++) {
		h ^= c[i];
		h *= 1099511628211ull;
	}
	return h;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* make_file - a file of `bytes` of pseudo-random records; returns its fd. */
static int make_file(size_t bytes)
{
	char path[] = "/tmp/usermm-host-sort-XXXXXX";
	uint32_t buf[4096];
	uint64_t x = 0x9e3779b97f4a7c15ull;
	int fd = mkstemp(path);

	if (fd < 0)
		die("mkstemp", -errno);
	unlink(path);
	for (size_t off = 0; off < bytes; off += sizeof(buf)) {
		for (size_t i = 0; i < 4096; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[i] = (uint32_t)x;
		}
		if (pwrite(fd, buf, sizeof(buf), (off_t)off) != (ssize_t)sizeof(buf))
			die("pwrite", -errno);
	}
	return fd;
}

int main(int argc, char **argv)
{
	struct umm_system *sys;
	struct umm_object *file;
	struct umm_mm *mm;
	struct umm_host_stats hs;
	struct stat st;
	size_t bytes, n;
	uint32_t *plain, *sorted;
	uint64_t h_plain, h_ptr, h_soft = 1469598103934665603ull;
	uintptr_t a;
	double t0, t_plain, t_host;
	int fd;

	fd = argc > 1 ? open(argv[1], O_RDONLY) : make_file(32u << 20);
	if (fd < 0)
		die(argv[1], -errno);
	if (fstat(fd, &st))
		die("fstat", -errno);
	bytes = (size_t)st.st_size & ~(size_t)(UMM_PAGE_SIZE - 1);
	if (!bytes)
		die("the file (less than one page)", -EINVAL);
	n = bytes / sizeof(uint32_t);

	/* the reference: the same sort in ordinary memory */
	plain = malloc(bytes);
	if (!plain || pread(fd, plain, bytes, 0) != (ssize_t)bytes)
		die("reading the file", -EIO);
	t0 = now_s();
	qsort(plain, n, sizeof(uint32_t), cmp_u32);
	t_plain = now_s() - t0;
	h_plain = fnv1a(1469598103934665603ull, plain, bytes);

	/*
	 * usermm: the file mapped private, a window over it, qsort on the
	 * pointer.  A host window needs the memfd arena.
	 */
	TRY(umm_system_create(&(struct umm_config){
		.phys_bytes = (argc > 2 ? strtoul(argv[2], NULL, 0) << 20 : 2 * bytes + (16u << 20)),
		.arena = UMM_ARENA_MEMFD }, &sys));
	TRY(umm_object_open_fd(sys, fd, &file));
	close(fd);
	TRY(umm_mm_create(sys, &mm));
	TRY(umm_mmap(mm, 0, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE, file, 0, &a));
	umm_object_put(file);
	TRY(umm_host_attach(mm, a, bytes, 0, (void **)&sorted));
	t0 = now_s();
	qsort(sorted, n, sizeof(uint32_t), cmp_u32);
	t_host = now_s() - t0;
	h_ptr = fnv1a(1469598103934665603ull, sorted, bytes);
	for (size_t off = 0; off < bytes; off += 65536) {
		char buf[65536];
		size_t len = bytes - off < sizeof(buf) ? bytes - off : sizeof(buf);

		TRY(umm_read(mm, a + off, buf, len));
		h_soft = fnv1a(h_soft, buf, len);
	}
	umm_host_get_stats(&hs);
	printf("host_sort: %zu records (%zu MiB), qsort in ordinary memory %.3f s, through the window %.3f s\n",
	       n, bytes >> 20, t_plain, t_host);
	printf("host_sort: %lu host faults (%lu writes, %lu resolved in the signal handler), %lu pages mapped "
	       "in %lu runs, %lu invalidations\n", hs.faults, hs.write_faults, hs.handler_faults,
	       hs.pages_mapped, hs.runs_mapped, hs.invalidations);
	printf("host_sort: hash ordinary %016llx, pointer %016llx, umm_read %016llx: %s\n",
	       (unsigned long long)h_plain, (unsigned long long)h_ptr, (unsigned long long)h_soft,
	       h_plain == h_ptr && h_ptr == h_soft ? "match" : "MISMATCH");
	TRY(umm_host_detach(mm, sorted));
	umm_mm_destroy(mm);
	umm_system_destroy(sys);
	free(plain);
	return h_plain == h_ptr && h_ptr == h_soft ? 0 : 1;
}

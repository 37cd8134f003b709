/* SPDX-License-Identifier: MIT */
/*
 * bench_swap.c - swapping anonymous pages out to a swap file and back in.
 *
 * usermm: a 32 MiB anonymous region (1 MiB with --quick) is written, then every page is
 * evicted the way reclaim does it (swap_out_page, one page per call, or
 * swap_out_pages, 64 per call so a run of consecutive slots is one
 * write), then read back in address order (each fault reads its aligned
 * window of 8 slots).  Figures are per page, medians of the rounds; the
 * swap file is in /tmp and its blocks exist after the first round (warm:
 * the host's page cache may hold them, so swap-in reads are mostly
 * memory copies).
 *
 * The kernel: if the host has a swap device, the same region in the
 * host, MADV_PAGEOUT per page and per 64 pages, then read back in order.
 * Without one there is nothing to compare with: the kernel figures are
 * then pwrite/pread of the same pages to a file in /tmp (the I/O a swap
 * file sees, without the unmapping and faults), shown without a ratio.
 */
#include <fcntl.h>
#include "bench.h"
#include "memory.h"
#include "swap.h"

#define PS 4096UL
#define NPAGES_MAX 8192
#define NPAGES ((int)BENCH_SIZE(NPAGES_MAX, 256))       /* --quick: 1 MiB */
#define ROUNDS_MAX 5
#define ROUNDS ((int)BENCH_SIZE(ROUNDS_MAX, 1))
#define BATCH SWAP_OUT_BATCH

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

static char *buf;

/* host_has_swap - does /proc/swaps list a device? */
static int host_has_swap(void)
{
	FILE *f = fopen("/proc/swaps", "r");
	char line[256];
	int n = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	return n > 1;
}

/* get_pages - the frames mapped at [a, a + NPAGES pages), referenced. */
static void get_pages(struct umm_mm *mm, uintptr_t a, struct page **pages)
{
	mmap_read_lock(mm);
	for (int i = 0; i < NPAGES; i++) {
		struct fmutex *ptl;
		pte_t *p = pte_offset_map_lock(mm, a + i * PS, &ptl);

		pages[i] = pfn_to_page(mm->sys->phys, pte_pfn(*p));
		get_page(pages[i]);
		pte_unmap_unlock(p, ptl);
	}
	mmap_read_unlock(mm);
}

/* umm_round - write the region, swap it out (batch pages per call), read it back; ns per page. */
static int umm_round(struct umm_mm *mm, uintptr_t a, int batch, double *out_ns, double *in_ns)
{
	static struct page *pages[NPAGES_MAX];
	int res[BATCH];
	uint64_t t0, t1, t2;

	if (umm_write(mm, a, buf, NPAGES * PS))
		return -1;
	get_pages(mm, a, pages);
	t0 = now_ns();
	for (int i = 0; i < NPAGES; i += batch) {
		if (batch == 1) {
			if (swap_out_page(pages[i]))
				return -1;
		} else if (swap_out_pages(&pages[i], (unsigned int)batch, res) != (unsigned int)batch) {
			return -1;
		}
	}
	t1 = now_ns();
	for (int i = 0; i < NPAGES; i++)
		put_page(pages[i]);
	if (umm_read(mm, a, buf, NPAGES * PS))
		return -1;
	t2 = now_ns();
	*out_ns = (double)(t1 - t0) / NPAGES;
	*in_ns = (double)(t2 - t1) / NPAGES;
	return 0;
}

/* kernel_round - the host's swap: MADV_PAGEOUT batch pages per call, then read back. */
static int kernel_round(char *h, int batch, double *out_ns, double *in_ns)
{
	volatile char sink = 0;
	uint64_t t0, t1, t2;

	memcpy(h, buf, NPAGES * PS);
	t0 = now_ns();
	for (int i = 0; i < NPAGES; i += batch)
		if (madvise(h + i * PS, (size_t)batch * PS, MADV_PAGEOUT))
			return -1;
	t1 = now_ns();
	for (int i = 0; i < NPAGES; i++)
		sink += h[i * PS];
	t2 = now_ns();
	(void)sink;
	*out_ns = (double)(t1 - t0) / NPAGES;
	*in_ns = (double)(t2 - t1) / NPAGES;
	return 0;
}

/* file_round - pwrite the pages to fd, batch per call, then pread them back. */
static int file_round(int fd, int batch, double *out_ns, double *in_ns)
{
	uint64_t t0, t1, t2;

	t0 = now_ns();
	for (int i = 0; i < NPAGES; i += batch)
		if (pwrite(fd, buf + i * PS, (size_t)batch * PS, (off_t)(i * PS)) != (ssize_t)(batch * PS))
			return -1;
	t1 = now_ns();
	for (int i = 0; i < NPAGES; i += 8)
		if (pread(fd, buf + i * PS, 8 * PS, (off_t)(i * PS)) != (ssize_t)(8 * PS))
			return -1;
	t2 = now_ns();
	*out_ns = (double)(t1 - t0) / NPAGES;
	*in_ns = (double)(t2 - t1) / NPAGES;
	return 0;
}

int main(int argc, char **argv)
{
	char path[] = "/tmp/usermm-bench-swap-XXXXXX";
	struct umm_config cfg = { .phys_bytes = 128 << 20, .swap_bytes = 64 << 20, .collapse_ms = -1 };
	double uo[2][ROUNDS_MAX], ui[2][ROUNDS_MAX], ko[2][ROUNDS_MAX], ki[2][ROUNDS_MAX];
	int batches[2] = { 1, BATCH }, host_swap = host_has_swap(), fd, err;
	struct umm_system *sys;
	struct umm_mm *mm;
	uintptr_t a;
	char *h = NULL;

	bench_init(argc, argv, "anonymous pages out to a swap file and back in, per page "
		   "(one page or 64 pages per eviction call)");
	bench_machine_line();
	print_loadavg();
	printf("# swap: a %d MiB anonymous region (%d pages) out to a swap file in /tmp and back in address order; per page, median of %d rounds\n",
	       NPAGES / 256, NPAGES, ROUNDS);
	buf = malloc(NPAGES * PS);
	for (size_t i = 0; i < NPAGES * PS; i++)
		buf[i] = (char)(i * 7 + (i >> 12));
	fd = mkstemp(path);
	if (fd < 0) {
		skipped("swap", "mkstemp", -errno);
		return 0;
	}
	close(fd);
	cfg.swap_path = path;
	err = umm_system_create(&cfg, &sys);
	if (err) {
		skipped("swap", "umm_system_create", err);
		unlink(path);
		return 0;
	}
	unlink(path);
	if (umm_mm_create(sys, &mm) ||
	    umm_mmap(mm, 0, NPAGES * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &a)) {
		skipped("swap", "umm_mmap", -ENOMEM);
		return 0;
	}
	if (host_swap) {
		h = mmap(NULL, NPAGES * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (h == MAP_FAILED || madvise(h, PS, MADV_PAGEOUT))
			host_swap = 0;
	}
	fd = -1;
	if (!host_swap) {
		char fpath[] = "/tmp/usermm-bench-swapio-XXXXXX";

		fd = mkstemp(fpath);
		if (fd >= 0)
			unlink(fpath);
	}
	for (int b = 0; b < 2; b++)
		for (int r = 0; r < ROUNDS; r++) {
			if (umm_round(mm, a, batches[b], &uo[b][r], &ui[b][r])) {
				skipped("swap", "swap_out_page", -EIO);
				return 0;
			}
			if (host_swap ? kernel_round(h, batches[b], &ko[b][r], &ki[b][r])
				      : (fd < 0 || file_round(fd, batches[b], &ko[b][r], &ki[b][r]))) {
				ko[b][r] = ki[b][r] = 0;
			}
		}
	for (int b = 0; b < 2; b++) {
		char name[64];
		double u_out = median(uo[b], ROUNDS), u_in = median(ui[b], ROUNDS);
		double k_out = median(ko[b], ROUNDS), k_in = median(ki[b], ROUNDS);

		snprintf(name, sizeof(name), "swap-out, %d page%s per call", batches[b], batches[b] > 1 ? "s" : "");
		if (host_swap) {
			bench_report_caveat(name, u_out, k_out, "per page; kernel: MADV_PAGEOUT of the same pages to the host's swap");
			bench_kernel_variant("madvise MADV_PAGEOUT");
		} else {
			bench_report_different(name, u_out, k_out,
					       "per page; the host has no swap: kernel is pwrite of the same pages to a file, no unmapping");
			bench_kernel_variant("pwrite");
		}
		snprintf(name, sizeof(name), "swap-in after %d-page swap-outs", batches[b]);
		if (host_swap) {
			bench_report_caveat(name, u_in, k_in, "per page, sequential faults; usermm reads 8-slot windows");
			bench_kernel_variant("faults after MADV_PAGEOUT");
		} else {
			bench_report_different(name, u_in, k_in,
					       "per page; the host has no swap: kernel is pread of 8 pages per call, no faults");
			bench_kernel_variant("pread");
		}
	}
	{
		struct umm_sys_stats st;

		umm_system_stats(sys, &st);
		printf("# usermm: %lu pages written in %lu writes, %lu read in %lu reads, %lu swap-cache hits\n",
		       st.pswpout, st.swap_write_requests, st.pswpin, st.swap_read_requests, st.swap_cache_hits);
	}
	umm_mm_destroy(mm);
	umm_system_destroy(sys);
	if (fd >= 0)
		close(fd);
	if (h && h != MAP_FAILED)
		munmap(h, NPAGES * PS);
	free(buf);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * bench_meta.c - bytes of usermm metadata per resident page.
 *
 * One address space with a 1 GiB private anonymous mapping, every page
 * written once through umm_write (so the software TLB, the page tables
 * and the descriptors are what a real 1 GiB resident set costs).  The
 * physical arena is the resident set plus 16 MiB (page tables, slabs, the
 * watermark reserve), then, for a system sized for a larger peak, 4 GiB.  What the process holds beyond the data pages is
 * measured from /proc/self/status before the system is created and after
 * the writes:
 *
 *   descriptors       the resident part of the struct page array and its
 *                     header (mincore on the descriptor region)
 *   usermm page tables  frames of the arena used as page tables
 *   slabs             frames of the arena used by the VMA and mm caches
 *   other heap        the rest of RssAnon growth: software TLB arrays,
 *                     per-thread caches, bitmaps
 *   host page tables  VmPTE growth: the host's page tables that map the
 *                     arena and the descriptors into this process
 *
 * The arena is a memfd (UMM_ARENA_MEMFD), whose frames the host counts as
 * RssShmem, so that RssAnon growth is metadata only (an anonymous arena's
 * frames would be RssAnon too; the metadata is the same for both kinds).
 * The total is divided by the number of resident data pages.  Free arena
 * frames the host holds (populated but unused) are printed separately:
 * they are not metadata.  There is no kernel column: the kernel's own cost
 * for the same resident set is its 64-byte struct page (allocated for all
 * of RAM at boot) plus 8 bytes of page table per page.
 *
 * Takes 2-5 s and peaks at about 1.1 GiB resident (one case at a time).
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <string.h>

#include "bench.h"
#include "page_alloc.h"
#include "system.h"

#define RESIDENT   BENCH_SIZE(1UL << 30, 32UL << 20)   /* --quick: 32 MiB */
#define HEADROOM   (16UL << 20)

/* resident_bytes - bytes of [p, p+len) the host has in memory (mincore). */
static unsigned long resident_bytes(const void *p, size_t len)
{
	size_t n = (len + UMM_PAGE_SIZE - 1) / UMM_PAGE_SIZE, i;
	unsigned char *vec = malloc(n);
	unsigned long r = 0;

	if (!vec || mincore((void *)p, len, vec)) {
		free(vec);
		return len;
	}
	for (i = 0; i < n; i++)
		r += vec[i] & 1;
	free(vec);
	return r * UMM_PAGE_SIZE;
}

/* status_bytes - a "Name:   N kB" field of /proc/self/status, in bytes (0 if absent). */
static unsigned long status_bytes(const char *name)
{
	char line[256];
	unsigned long kb = 0;
	size_t len = strlen(name);
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, name, len) && line[len] == ':') {
			sscanf(line + len + 1, "%lu", &kb);
			break;
		}
	fclose(f);
	return kb << 10;
}

static int measure(size_t arena_bytes)
{
	/* memfd: its frames are RssShmem, apart from the RssAnon this measures */
	struct umm_config cfg = { .phys_bytes = arena_bytes, .release_ms = -1, .collapse_ms = -1,
				  .arena = UMM_ARENA_MEMFD };
	unsigned long anon0, pte0, anon1, pte1, shmem1, pages = RESIDENT / UMM_PAGE_SIZE;
	double desc, pgt, slab, heap, hpt, total, free_arena;
	struct umm_sys_stats st;
	struct umm_system *sys;
	struct umm_mm *mm;
	char what[80];
	uintptr_t a;
	int err;

	snprintf(what, sizeof(what), "metadata/resident page, %lu MiB arena (B)", arena_bytes >> 20);
	anon0 = status_bytes("RssAnon");
	pte0 = status_bytes("VmPTE");
	err = umm_system_create(&cfg, &sys);
	if (err) {
		skipped(what, "umm_system_create", err);
		return err;
	}
	err = umm_mm_create(sys, &mm);
	if (err) {
		skipped(what, "umm_mm_create", err);
		umm_system_destroy(sys);
		return err;
	}
	err = umm_mmap(mm, 0, RESIDENT, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &a);
	for (unsigned long i = 0; !err && i < pages; i++)
		err = umm_write(mm, a + i * UMM_PAGE_SIZE, &i, sizeof(i));
	if (err) {
		skipped(what, "umm_mmap/umm_write", err);
		umm_mm_destroy(mm);
		umm_system_destroy(sys);
		return err;
	}
	anon1 = status_bytes("RssAnon");
	pte1 = status_bytes("VmPTE");
	shmem1 = status_bytes("RssShmem");
	umm_system_stats(sys, &st);

	pgt = (double)st.pgtable_pages * UMM_PAGE_SIZE;
	slab = (double)st.slab_pages * UMM_PAGE_SIZE;
	desc = (double)resident_bytes(sys->phys, sys->phys->meta_bytes);
	heap = (double)(anon1 - anon0) - desc;
	hpt = (double)(pte1 - pte0);
	total = desc + pgt + slab + heap + hpt;
	free_arena = (double)shmem1 - (double)RESIDENT - pgt - slab;
	/* a result line the bench runner tabulates (unit B), no kernel column, and its caveat */
	bench_report_unit(what, "B", total / (double)pages, 0, 1);
	printf("#   ^ per page: descriptors %.1f (%zu B each, resident part of the array), usermm page "
	       "tables %.1f, slabs %.2f, other heap (soft TLB, caches) %.1f, host page tables %.1f; "
	       "not metadata: free arena frames resident in the host %.1f MiB\n",
	       desc / (double)pages, sizeof(struct page), pgt / (double)pages, slab / (double)pages,
	       heap / (double)pages, hpt / (double)pages, free_arena / (1 << 20));
	umm_mm_destroy(mm);
	umm_system_destroy(sys);
	return 0;
}

static int in_child(size_t arena_bytes)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return measure(arena_bytes);
	if (pid == 0) {
		int err = measure(arena_bytes);

		fflush(stdout);
		_exit(err ? 1 : 0);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status) ? -1 : 0;
}

int main(int argc, char **argv)
{
	bench_init(argc, argv, "bytes of usermm metadata per resident page (1 GiB resident set; "
		   "no kernel column)");
	bench_machine_line();
	print_loadavg();
	printf("# %lu MiB anonymous resident set (%lu pages), written through umm_write\n",
	       RESIDENT >> 20, RESIDENT / UMM_PAGE_SIZE);
	fflush(stdout);
	/* each in a child of its own, so that neither inherits the other's heap (soft TLB) */
	if (in_child(RESIDENT + HEADROOM))
		return 1;
	in_child(4 * RESIDENT);
	return 0;
}

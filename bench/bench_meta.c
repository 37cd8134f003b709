/*
 * bench_meta.c - bytes of usermm metadata per resident page.
 *
 * One address space with a 1 GiB private anonymous mapping, every page
 * written once through umm_write (so the software TLB, the page tables
 * and the descriptors are what a real 1 GiB resident set costs).  The
 * physical arena is the resident set plus 16 MiB (page tables, slabs, the
 * watermark reserve).  What the process holds beyond the data pages is
 * measured from /proc/self/status before the system is created and after
 * the writes:
 *
 *   descriptors       the struct page array and its header (mapped for
 *                     every frame of the arena, resident from creation)
 *   usermm page tables  frames of the arena used as page tables
 *   slabs             frames of the arena used by the VMA and mm caches
 *   other heap        the rest of RssAnon growth: software TLB arrays,
 *                     per-thread caches, bitmaps
 *   host page tables  VmPTE growth: the host's page tables that map the
 *                     arena and the descriptors into this process
 *
 * The total is divided by the number of resident data pages.  Free arena
 * frames the host holds (populated but unused) are printed separately:
 * they are not metadata.  There is no kernel column: the kernel's own cost
 * for the same resident set is its 64-byte struct page (allocated for all
 * of RAM at boot) plus 8 bytes of page table per page.
 */
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "page_alloc.h"
#include "system.h"

#define RESIDENT   (1UL << 30)
#define HEADROOM   (16UL << 20)

/* status_kb - a "Name:   N kB" field of /proc/self/status, in bytes (0 if absent). */
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

int main(void)
{
	struct umm_config cfg = { .phys_bytes = RESIDENT + HEADROOM, .release_ms = -1 };
	unsigned long anon0, pte0, anon1, pte1, shmem1, pages = RESIDENT / UMM_PAGE_SIZE;
	double desc, pgt, slab, heap, hpt, total, free_arena;
	struct umm_sys_stats st;
	struct umm_system *sys;
	struct umm_mm *mm;
	uintptr_t a;
	int err;

	bench_machine_line();
	print_loadavg();
	anon0 = status_bytes("RssAnon");
	pte0 = status_bytes("VmPTE");
	err = umm_system_create(&cfg, &sys);
	if (err) {
		skipped("metadata per resident page", "umm_system_create", err);
		return 1;
	}
	err = umm_mm_create(sys, &mm);
	if (!err)
		err = umm_mmap(mm, 0, RESIDENT, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       NULL, 0, &a);
	for (unsigned long i = 0; !err && i < pages; i++)
		err = umm_write(mm, a + i * UMM_PAGE_SIZE, &i, sizeof(i));
	if (err) {
		skipped("metadata per resident page", "umm_mm_create/umm_mmap/umm_write", err);
		umm_system_destroy(sys);
		return 1;
	}
	anon1 = status_bytes("RssAnon");
	pte1 = status_bytes("VmPTE");
	shmem1 = status_bytes("RssShmem");
	umm_system_stats(sys, &st);

	desc = (double)sys->phys->meta_bytes;
	pgt = (double)st.pgtable_pages * UMM_PAGE_SIZE;
	slab = (double)st.slab_pages * UMM_PAGE_SIZE;
	heap = (double)(anon1 - anon0) - desc;
	hpt = (double)(pte1 - pte0);
	total = desc + pgt + slab + heap + hpt;
	free_arena = (double)shmem1 - (double)RESIDENT - pgt - slab;
	printf("# 1 GiB anonymous resident set (%lu pages) in a %lu MiB arena, struct page %zu B\n",
	       pages, (RESIDENT + HEADROOM) >> 20, sizeof(struct page));
	printf("metadata per resident page (B)     usermm %10.1f\n", total / (double)pages);
	printf("# per page: descriptors %.1f, usermm page tables %.1f, slabs %.2f, other heap "
	       "(soft TLB, caches) %.1f, host page tables %.1f\n",
	       desc / (double)pages, pgt / (double)pages, slab / (double)pages,
	       heap / (double)pages, hpt / (double)pages);
	printf("# not metadata: free arena frames resident in the host %.1f MiB\n",
	       free_arena / (1 << 20));
	umm_mm_destroy(mm);
	umm_system_destroy(sys);
	return 0;
}

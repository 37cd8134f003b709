/* SPDX-License-Identifier: MIT */
/*
 * device_mirror - a simulated device mirrors a range of a usermm address
 * space through an MMU interval notifier (device.c), and stays coherent
 * while the CPU side changes the mapping under it.
 *
 *   make examples && ./build/release/examples/device_mirror
 *
 * The device writes through its own page table; the CPU reads the same
 * bytes with umm_read.  Then the CPU side protects, moves and unmaps the
 * range, and each time the device's next access faults again (its
 * translations were dropped by the invalidation) and sees what the CPU
 * sees.
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <usermm/usermm.h>
#include "device.h"

#define PS 4096UL

static int fail(const char *what, int err)
{
	fprintf(stderr, "device_mirror: %s: %s\n", what, umm_strerror(err));
	return 1;
}

int main(void)
{
	struct umm_system *sys;
	struct umm_mm *mm;
	struct device dev;
	uintptr_t a, moved;
	char buf[32];
	int err;

	if ((err = umm_system_create(&(struct umm_config){ .phys_bytes = 16 << 20 }, &sys)))
		return fail("umm_system_create", err);
	if ((err = umm_mm_create(sys, &mm)))
		return fail("umm_mm_create", err);
	if ((err = umm_mmap(mm, 0, 8 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &a)))
		return fail("umm_mmap", err);
	if ((err = device_create(&dev, mm, a, 8)))
		return fail("device_create", err);

	/* the device writes, the CPU reads the same bytes */
	if ((err = device_access(&dev, a + PS, "written by the device", 22, 1)))
		return fail("device write", err);
	umm_read(mm, a + PS, buf, 22);
	printf("CPU reads:    %s\n", buf);
	umm_write(mm, a + 2 * PS, "written by the CPU", 19);
	device_access(&dev, a + 2 * PS, buf, 19, 0);
	printf("device reads: %s\n", buf);
	printf("so far: %lu device faults, %lu invalidations\n", dev.faults, dev.invalidations);

	/* read-only: the device's writable translation is gone, its write now fails */
	umm_mprotect(mm, a, 8 * PS, PROT_READ);
	err = device_access(&dev, a + PS, "x", 1, 1);
	printf("after mprotect(PROT_READ): device write -> %s (%lu invalidations)\n",
	       err ? umm_strerror(err) : "ok", dev.invalidations);
	umm_mprotect(mm, a, 8 * PS, PROT_READ | PROT_WRITE);

	/* moved away: the mirrored addresses are empty now */
	umm_mremap(mm, a, 8 * PS, 8 * PS, MREMAP_MAYMOVE | MREMAP_FIXED, a + 64 * PS, &moved);
	err = device_access(&dev, a + PS, buf, 8, 0);
	printf("after mremap away: device read -> %s\n", err ? umm_strerror(err) : "ok");
	umm_mremap(mm, moved, 8 * PS, 8 * PS, MREMAP_MAYMOVE | MREMAP_FIXED, a, &moved);
	err = device_access(&dev, a + PS, buf, 22, 0);
	printf("moved back: device reads \"%s\" (%s)\n", err ? "" : buf, err ? umm_strerror(err) : "ok");

	umm_munmap(mm, a, 8 * PS);
	err = device_access(&dev, a + PS, buf, 8, 0);
	printf("after munmap: device read -> %s\n", err ? umm_strerror(err) : "ok");
	printf("total: %lu device accesses, %lu faults, %lu invalidations, %lu TLB hits\n",
	       dev.accesses, dev.faults, dev.invalidations, dev.tlb_hits);

	device_destroy(&dev);
	umm_mm_destroy(mm);
	umm_system_destroy(sys);
	return 0;
}

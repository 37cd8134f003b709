/* SPDX-License-Identifier: MIT */
/*
 * device.h - a simulated device that mirrors a range of a usermm address
 * space: its own page table (one entry per page of the range) and a small
 * TLB in front of it, kept coherent through an interval notifier.
 *
 * A device access looks its TLB, then its page table up; on a miss (or a
 * write through a read-only entry) it asks usermm for the page with
 * umm_mirror_fault(), whose install callback fills the page table under
 * the interval notifier's lock.  Every access runs under that same lock,
 * and the invalidate callback (which usermm calls under it) clears the
 * page table and the TLB: so once an invalidation of a page has started,
 * no device access uses the old translation, and an access that began
 * before it has finished.  That is the guarantee the test checks.
 *
 * Several threads may issue device accesses at once (the lock makes them
 * take turns, as a device's single page walker would).
 */
#ifndef DEVICE_MIRROR_DEVICE_H
#define DEVICE_MIRROR_DEVICE_H

#include <stdint.h>
#include <stddef.h>
#include <usermm/usermm.h>

#define DEV_TLB_ENTRIES 16

struct dev_pte {
	void *frame;            /* host pointer to the page's bytes, NULL: not mapped */
	int writable;
};

struct dev_tlb_entry {
	uintptr_t vaddr;        /* page address, 0: empty */
	void *frame;
	int writable;
};

struct device {
	struct umm_mm *mm;
	uintptr_t start;
	size_t npages;
	struct umm_mmu_interval_notifier sub;
	struct dev_pte *ptes;                   /* under sub's lock */
	struct dev_tlb_entry tlb[DEV_TLB_ENTRIES]; /* under sub's lock */
	/* counters, under sub's lock */
	unsigned long accesses, tlb_hits, pt_hits, faults, invalidations, retries;
};

/* device_create - mirror [start, start + npages pages) of mm.  0 or a negative errno. */
int device_create(struct device *dev, struct umm_mm *mm, uintptr_t start, size_t npages);
/* device_destroy - stop mirroring (the address space may already be destroyed). */
void device_destroy(struct device *dev);

/*
 * device_access - the device reads (write 0) or writes (write 1) len
 * bytes at addr (within one page of the range) through its own
 * translation, faulting it in through usermm when missing.  The copy
 * is made under the device lock, with the translation current.
 * 0, -EINVAL (outside the range or across a page), or
 * umm_mirror_fault's error (-EFAULT: nothing mapped or not allowed).
 */
int device_access(struct device *dev, uintptr_t addr, void *buf, size_t len, int write);

#endif

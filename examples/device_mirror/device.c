/* SPDX-License-Identifier: MIT */
/*
 * device.c - the simulated mirroring device (device.h).
 *
 * Locks: the interval notifier's lock (umm_mmu_interval_lock) guards the
 * device page table, its TLB and its counters.  usermm calls
 * dev_invalidate with it held; dev_install runs with it held inside
 * umm_mirror_fault; device_access holds it around lookup and copy and
 * drops it before calling umm_mirror_fault (which takes usermm locks).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "device.h"

#define DEV_PAGE 4096UL

static struct device *sub_device(struct umm_mmu_interval_notifier *sub)
{
	return (struct device *)((char *)sub - offsetof(struct device, sub));
}

/* dev_invalidate - usermm: [r->start, r->end) changes; drop what overlaps.  sub's lock held. */
static void dev_invalidate(struct umm_mmu_interval_notifier *sub, const struct umm_mmu_range *r,
			   unsigned long cur_seq)
{
	struct device *dev = sub_device(sub);
	uintptr_t s = r->start > dev->start ? r->start : dev->start;
	uintptr_t e = r->end < sub->end ? r->end : sub->end;

	umm_mmu_interval_set_seq(sub, cur_seq);
	dev->invalidations++;
	for (uintptr_t a = s; a < e; a += DEV_PAGE) {
		dev->ptes[(a - dev->start) / DEV_PAGE].frame = NULL;
		dev->ptes[(a - dev->start) / DEV_PAGE].writable = 0;
	}
	for (int i = 0; i < DEV_TLB_ENTRIES; i++)
		if (dev->tlb[i].vaddr >= s && dev->tlb[i].vaddr < e)
			dev->tlb[i].vaddr = 0;
}

static const struct umm_mmu_interval_notifier_ops dev_ops = {
	.invalidate = dev_invalidate,
};

/* dev_install - umm_mirror_fault's callback: fill the page table.  sub's lock held. */
static int dev_install(void *arg, uintptr_t addr, void *frame, int writable)
{
	struct device *dev = arg;
	struct dev_pte *pte = &dev->ptes[(addr - dev->start) / DEV_PAGE];

	pte->frame = frame;
	pte->writable = writable;
	return 0;
}

int device_create(struct device *dev, struct umm_mm *mm, uintptr_t start, size_t npages)
{
	int err;

	memset(dev, 0, sizeof(*dev));
	dev->mm = mm;
	dev->start = start;
	dev->npages = npages;
	dev->ptes = calloc(npages, sizeof(*dev->ptes));
	if (!dev->ptes)
		return -ENOMEM;
	err = umm_mmu_interval_notifier_insert(mm, start, npages * DEV_PAGE, &dev_ops, &dev->sub);
	if (err) {
		free(dev->ptes);
		dev->ptes = NULL;
	}
	return err;
}

void device_destroy(struct device *dev)
{
	umm_mmu_interval_notifier_remove(&dev->sub);
	free(dev->ptes);
	dev->ptes = NULL;
}

/* dev_lookup - the frame for page (TLB, then page table, refilling the TLB).  sub's lock held. */
static void *dev_lookup(struct device *dev, uintptr_t page, int write)
{
	struct dev_tlb_entry *t = &dev->tlb[(page / DEV_PAGE) % DEV_TLB_ENTRIES];
	struct dev_pte *pte;

	if (t->vaddr == page && (!write || t->writable)) {
		dev->tlb_hits++;
		return t->frame;
	}
	pte = &dev->ptes[(page - dev->start) / DEV_PAGE];
	if (!pte->frame || (write && !pte->writable))
		return NULL;
	dev->pt_hits++;
	t->vaddr = page;
	t->frame = pte->frame;
	t->writable = pte->writable;
	return pte->frame;
}

int device_access(struct device *dev, uintptr_t addr, void *buf, size_t len, int write)
{
	uintptr_t page = addr & ~(DEV_PAGE - 1);

	if (addr < dev->start || addr + len > dev->start + dev->npages * DEV_PAGE ||
	    (addr + len - 1) / DEV_PAGE != addr / DEV_PAGE)
		return -EINVAL;
	for (;;) {
		char *frame;
		int err;

		umm_mmu_interval_lock(&dev->sub);
		frame = dev_lookup(dev, page, write);
		if (frame) {
			if (write)
				memcpy(frame + (addr - page), buf, len);
			else
				memcpy(buf, frame + (addr - page), len);
			dev->accesses++;
			umm_mmu_interval_unlock(&dev->sub);
			return 0;
		}
		dev->faults++;
		umm_mmu_interval_unlock(&dev->sub);
		err = umm_mirror_fault(&dev->sub, page, write, dev_install, dev);
		if (err)
			return err;
	}
}

/* SPDX-License-Identifier: MIT */
/*
 * fuzz_api.c - coverage-guided fuzz target for the public interface.
 *
 * LLVMFuzzerTestOneInput() decodes its input into a sequence of calls of
 * <usermm/usermm.h> on up to MAX_MMS address spaces, one real file (in a
 * private temporary directory) and one shmem object, and runs a page-level
 * shadow model beside them.  After every step it runs umm_mm_check() on
 * every address space and umm_system_check(), and aborts on any
 * difference, so libFuzzer (or the replay driver, replay.c) reports it.
 *
 * Input format.  Byte 0 chooses the physical memory (1 to 2 MiB, so that
 * out-of-memory is reached), the reverse-map scheme and debug_checks;
 * whether every step verifies the pages around its range (or only VERIFY
 * steps, reads and the end do); bytes 1-3 the file's and the shmem
 * object's sizes.  Then each step is
 * an opcode byte and its arguments (addresses, lengths, flags... are
 * drawn from the bytes that follow; a missing byte reads as 0).  The
 * INJECT step arms umm_inject_fault() at one site (frame allocation,
 * backing read, backing write) with a skip count and a number of
 * failures, for exactly the next step; injection is disarmed before the
 * checks.
 *
 * The model.  An address space is a sorted array of segments; after every
 * step the segments are compared with the real VMAs (umm_mm_dump_maps):
 * every VMA must be a gapless union of segments of the same protection,
 * sharing, object and contiguous offsets, and the segments of one VMA are
 * then merged, so the model's segments are the VMAs (the model does not
 * predict when usermm merges, but it checks that what it merged may be
 * merged).  Page contents:
 *   - an object (the file, the shmem object, or the hidden object of a
 *     shared anonymous mapping) owns a sparse array of pages (absent =
 *     zeros); shared mappings and the not-yet-copied pages of private file
 *     mappings read it; shared writes change it;
 *   - a private page gets its own copy at its first write (copy-on-write:
 *     zeros for anonymous memory, the object's page for a file); fork
 *     duplicates the copies; a copy moves with mremap;
 *   - a page wholly past the object's end is -EIO; shrinking drops the
 *     private copies of pages wholly past the new end (as Linux zaps them)
 *     and zeroes the tail of the object's new last page; growing zeroes
 *     the old tail.  Shared writes may store past end-of-file in the last
 *     page (bytes the page keeps and the file never gets).
 * The number of private copies in an address space must equal its
 * rss_anon, the number of objects umm_system_stats' nr_objects.
 *
 * What is not deterministic, and how it is checked.
 *   - -ENOMEM may come from any call that allocates, but only if frame
 *     allocation really failed during the call (alloc_failures grew), and
 *     (without injection) only when free frames were near the minimum
 *     watermark.  -EIO that the model does not predict only if the read
 *     site's injection hit.  A failed mmap/munmap/mprotect/mremap/fork
 *     must leave the VMAs exactly as they were.
 *   - umm_write stops at the first failing page: the bytes written are
 *     made to differ from the current ones in each page, and after an
 *     unpredicted failure the pages are read back in order to find where
 *     it stopped (a written page stays mapped, so its read cannot fail).
 *   - a failed write pin leaves copy-on-write broken on the pages before
 *     the one that failed: rss_anon tells how many.
 *   - a failed umm_read: the buffer holds right bytes up to some page and
 *     is untouched after it.
 *   - a successful umm_object_sync means the file holds the model's bytes
 *     in the range (pread checks), except pages with a write pin still
 *     held (their stores are dirtied only at unpin).
 * At the end everything is torn down (mms destroyed, pins released,
 * objects put, which writes back) and the whole file must equal the model:
 * no byte written is lost.  Every frame must be free again.
 *
 * Pins are held across steps.  A pin of a shared page (or a read pin of a
 * private file page that was not yet copied) must keep seeing the object's
 * page until a truncation drops it.  A write pin of a private page must
 * keep seeing that private copy wherever it moves, as in Linux 5.19 and
 * later (issue 6 section 1), and so must a read pin of a private copy
 * (FUZZ_PIN_EXCLUSIVE 2, the default when <usermm/access.h> has
 * UMM_PIN_FORCE).  With FUZZ_PIN_EXCLUSIVE 0 (the older semantics) such
 * pins stop being checked at the first mprotect or fork of their address
 * space.  Stores through a write pin ("a device") go to the model where
 * the pin is known to be attached, and to nowhere visible where it is
 * known to be detached (unmapped, truncated away, discarded).
 *
 * Build: `make fuzz` (clang, libFuzzer) or, without libFuzzer, with
 * replay.c (`build/asan/tests/test_fuzz_replay`, run by make check).
 * FUZZ_VERBOSE=1 prints every step.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <usermm/usermm.h>
#include "fuzz.h"

#ifndef FUZZ_PIN_EXCLUSIVE
#ifdef UMM_PIN_FORCE               /* pins that stay attached have landed (issue 6 section 1) */
#define FUZZ_PIN_EXCLUSIVE 2
#else
#define FUZZ_PIN_EXCLUSIVE 0
#endif
#endif
#ifndef UMM_PIN_FORCE
#define UMM_PIN_FORCE 0
#endif
/*
 * Linux's fork clears VM_LOCKED in the child (mlock is not inherited),
 * and so does usermm's umm_fork.  1 checks that behaviour.
 */
#ifndef FUZZ_FORK_CLEARS_MLOCK
#define FUZZ_FORK_CLEARS_MLOCK 1
#endif

#define PS            4096UL
#define WIN           0x10000000UL          /* most addresses land near here */
#define MAX_MMS       3
#define MAX_STEPS     400
#define MAX_PINS      8
#define PIN_MAX_PAGES 4
#define FILE_MAX      (256 * PS)            /* truncate picks sizes up to this */
#define BUF_MAX       (4 * PS + 64)
#define LOW_SLACK     48                    /* "near the watermark", in frames */

/* ---- input ---- */

static const uint8_t *in;
static size_t in_len, in_pos;

static uint8_t u8(void)
{
	return in_pos < in_len ? in[in_pos++] : 0;
}

/* little endian; one call per statement, so every compiler reads the bytes in order */
static uint16_t u16(void)
{
	uint16_t lo = u8();

	return (uint16_t)(lo | u8() << 8);
}

static uint32_t u32(void)
{
	uint32_t lo = u16();

	return lo | (uint32_t)u16() << 16;
}

static uint64_t u64(void)
{
	uint64_t lo = u32();

	return lo | (uint64_t)u32() << 32;
}

/* bytes for data: a small generator seeded from the input, cheap to mutate */
static uint64_t gen;

static void fill(unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		gen = gen * 6364136223846793005ULL + 1442695040888963407ULL;
		p[i] = (unsigned char)(gen >> 56);
	}
}

/* ---- failure reporting ---- */

static bool verbose;
static int cur_step;
static char cur_op[256];
static char trace[24][300];
static unsigned trace_n;

__attribute__((format(printf, 1, 2)))
static void set_op(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cur_op, sizeof(cur_op), fmt, ap);
	va_end(ap);
	snprintf(trace[trace_n % 24], sizeof(trace[0]), "%d: %s", cur_step, cur_op);
	trace_n++;
	if (verbose)
		fprintf(stderr, "%d: %s\n", cur_step, cur_op);
}

#define FAIL(...) do { \
	fprintf(stderr, "fuzz_api: MISMATCH step %d op [%s] (line %d)\n  ", cur_step, cur_op, __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); \
	dump_trace(); abort(); } while (0)

static void dump_trace(void)
{
	unsigned first = trace_n > 24 ? trace_n - 24 : 0;

	fprintf(stderr, "last steps:\n");
	for (unsigned i = first; i < trace_n; i++)
		fprintf(stderr, "  %s\n", trace[i % 24]);
	fflush(stderr);
}

static void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz ? sz : 1);

	if (!p)
		abort();
	return p;
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		abort();
	return p;
}

/* ---- what the inputs exercised (printed by the replay driver) ---- */

enum { E_MMAP, E_MUNMAP, E_MPROTECT, E_SHRINK, E_GROW, E_MOVE, E_WRITE, E_WRITE_CUT,
       E_READ, E_PIN, E_PIN_STORE, E_FORK, E_TRUNC_SHRINK, E_SYNC_CHECKED, E_EFAULT, E_EIO,
       E_ENOMEM, E_EIO_INJECTED, E_EINVAL, E_MADVISE, E_MSYNC, E_MINCORE, E_PREPAGE,
       E_DROPPED, E_EACCES, E_MLOCK, E_MUNLOCK, E_NR };
static const char *const ev_names[E_NR] = {
	"mmaps", "munmaps", "mprotects", "mremap shrinks", "mremap grows", "mremap moves",
	"whole writes", "writes cut short", "whole reads", "pins", "stores through pins",
	"forks", "shrinking truncates", "syncs checked against the file", "-EFAULT", "-EIO",
	"unpredicted -ENOMEM", "injected -EIO", "-EINVAL", "madvises", "msyncs checked",
	"mincores", "prepages", "mms dropped (model unsure)", "-EACCES", "mlocks", "munlocks",
};
static unsigned long ev[E_NR];

/* fuzz_print_stats - what the inputs run so far exercised. */
void fuzz_print_stats(FILE *out)
{
	for (int i = 0; i < E_NR; i++)
		fprintf(out, "%s%lu %s", i ? ", " : "  ", ev[i], ev_names[i]);
	fputc('\n', out);
}

/* ---- the model: objects ---- */

struct opage {
	uint64_t idx;
	unsigned char *data;
};

struct mobj {
	struct umm_object *uobj;   /* NULL for the hidden object of a shared anon mapping */
	int fd;                    /* the file: our descriptor, for pread checks; else -1 */
	bool hidden;
	int id;
	uint64_t size;
	struct opage *pg;          /* sparse, sorted by idx; absent pages are zero */
	int npg, cappg;
	int nr_maps;               /* segments that map it (hidden objects die at 0) */
	bool wb_err;               /* a writeback error is recorded for the next sync */
	bool ro;                   /* opened read-only: no shared writable mapping, no truncate */
	unsigned long ino;         /* files: what /proc/PID/maps shows */
};

static const unsigned char zero_page[PS];

static uint64_t obj_pages(const struct mobj *o)
{
	return (o->size + PS - 1) / PS;
}

static int opage_find(const struct mobj *o, uint64_t idx, bool *found)
{
	int lo = 0, hi = o->npg;

	while (lo < hi) {
		int mid = (lo + hi) / 2;

		if (o->pg[mid].idx < idx)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < o->npg && o->pg[lo].idx == idx;
	return lo;
}

/* obj_page - the bytes of page idx (zeros if absent). */
static const unsigned char *obj_page(const struct mobj *o, uint64_t idx)
{
	bool found;
	int i = opage_find(o, idx, &found);

	return found ? o->pg[i].data : zero_page;
}

/* obj_page_w - page idx, created (zeroed) if absent, for writing. */
static unsigned char *obj_page_w(struct mobj *o, uint64_t idx)
{
	bool found;
	int i = opage_find(o, idx, &found);

	if (found)
		return o->pg[i].data;
	if (o->npg == o->cappg) {
		o->cappg = o->cappg ? o->cappg * 2 : 16;
		o->pg = xrealloc(o->pg, o->cappg * sizeof(*o->pg));
	}
	memmove(&o->pg[i + 1], &o->pg[i], (o->npg - i) * sizeof(*o->pg));
	o->pg[i].idx = idx;
	o->pg[i].data = xcalloc(1, PS);
	o->npg++;
	return o->pg[i].data;
}

/* obj_cut - drop pages at or past `pages`. */
static void obj_cut(struct mobj *o, uint64_t pages)
{
	while (o->npg && o->pg[o->npg - 1].idx >= pages)
		free(o->pg[--o->npg].data);
}

static void obj_free_pages(struct mobj *o)
{
	obj_cut(o, 0);
	free(o->pg);
	o->pg = NULL;
	o->cappg = 0;
}

/* ---- the model: address spaces ---- */

struct pcopy {
	uint64_t pi;               /* page index in its segment */
	uint64_t id;               /* identity of the private frame (never reused) */
	unsigned char *data;
};

struct mseg {
	uintptr_t start, end;
	int prot;
	bool shared;
	struct mobj *obj;          /* NULL: private anonymous */
	uint64_t pgoff;            /* object page at start (anon: a linear index) */
	unsigned vmf;              /* VMF_*: flags that keep VMAs apart */
	struct pcopy *cp;          /* private copies, sorted by pi */
	int ncp, capcp;
};

#define VMF_LOCKED    0x1          /* MAP_LOCKED */
#define VMF_NORESERVE 0x2          /* MAP_NORESERVE */
#define VMF_DONTCOPY  0x4          /* MADV_DONTFORK */
#define VMF_RAND      0x8          /* MADV_RANDOM */
#define VMF_SEQ       0x10         /* MADV_SEQUENTIAL */
#define VMF_ONFAULT   0x20         /* with VMF_LOCKED: umm_mlock2(MLOCK_ONFAULT) */

struct mmm {
	struct umm_mm *mm;
	int id;
	struct mseg *segs;
	int nsegs, cap;
};

#define NR_OBJS 3                  /* 0: the file, 1: the shmem object, 2: a read-only file */

static struct umm_system *sys;
static struct mobj objs[NR_OBJS];
static int nr_hidden;
static struct mmm *mms[MAX_MMS];
static int nmms, next_mm_id;
static uint64_t next_copy_id = 1;

static size_t seg_pages(const struct mseg *s)
{
	return (s->end - s->start) / PS;
}

/* model_locked_pages - pages of the locked segments (locked_vm). */
static unsigned long model_locked_pages(const struct mmm *m)
{
	unsigned long n = 0;

	for (int i = 0; i < m->nsegs; i++)
		if (m->segs[i].vmf & VMF_LOCKED)
			n += seg_pages(&m->segs[i]);
	return n;
}

static int seg_index(const struct mmm *m, uintptr_t addr)
{
	int lo = 0, hi = m->nsegs - 1;

	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		const struct mseg *s = &m->segs[mid];

		if (addr < s->start)
			hi = mid - 1;
		else if (addr >= s->end)
			lo = mid + 1;
		else
			return mid;
	}
	return -1;
}

static struct mseg *seg_at(const struct mmm *m, uintptr_t addr)
{
	int i = seg_index(m, addr);

	return i < 0 ? NULL : &m->segs[i];
}

static int copy_find(const struct mseg *s, uint64_t pi, bool *found)
{
	int lo = 0, hi = s->ncp;

	while (lo < hi) {
		int mid = (lo + hi) / 2;

		if (s->cp[mid].pi < pi)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < s->ncp && s->cp[lo].pi == pi;
	return lo;
}

static struct pcopy *copy_at(const struct mseg *s, uint64_t pi)
{
	bool found;
	int i = copy_find(s, pi, &found);

	return found ? &s->cp[i] : NULL;
}

static void copy_push(struct mseg *s, const struct pcopy *c)
{
	if (s->ncp == s->capcp) {
		s->capcp = s->capcp ? s->capcp * 2 : 8;
		s->cp = xrealloc(s->cp, s->capcp * sizeof(*s->cp));
	}
	s->cp[s->ncp++] = *c;
}

/* copy_add - a new private copy of page pi holding `from` (sorted insert). */
static struct pcopy *copy_add(struct mseg *s, uint64_t pi, const unsigned char *from)
{
	bool found;
	int i = copy_find(s, pi, &found);

	if (found)
		abort();
	copy_push(s, &(struct pcopy){ 0 });
	memmove(&s->cp[i + 1], &s->cp[i], (s->ncp - 1 - i) * sizeof(*s->cp));
	s->cp[i].pi = pi;
	s->cp[i].id = next_copy_id++;
	s->cp[i].data = xcalloc(1, PS);
	memcpy(s->cp[i].data, from, PS);
	return &s->cp[i];
}

static void copy_remove(struct mseg *s, int i)
{
	free(s->cp[i].data);
	memmove(&s->cp[i], &s->cp[i + 1], (s->ncp - i - 1) * sizeof(*s->cp));
	s->ncp--;
}

static unsigned long mm_copies(const struct mmm *m)
{
	unsigned long n = 0;

	for (int i = 0; i < m->nsegs; i++)
		n += (unsigned long)m->segs[i].ncp;
	return n;
}

static void pins_obj_gone(struct mobj *o);

static void obj_unref(struct mobj *o)
{
	if (!o)
		return;
	o->nr_maps--;
	if (o->hidden && o->nr_maps == 0) {
		pins_obj_gone(o);
		obj_free_pages(o);
		free(o);
		nr_hidden--;
	}
}

static void seg_insert_at(struct mmm *m, int i, const struct mseg *s)
{
	if (m->nsegs == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 16;
		m->segs = xrealloc(m->segs, m->cap * sizeof(*m->segs));
	}
	memmove(&m->segs[i + 1], &m->segs[i], (m->nsegs - i) * sizeof(*s));
	m->segs[i] = *s;
	m->nsegs++;
}

static void seg_insert(struct mmm *m, const struct mseg *s)
{
	int i = 0;

	while (i < m->nsegs && m->segs[i].start < s->start)
		i++;
	seg_insert_at(m, i, s);
}

/* split_at - if addr is strictly inside a segment, cut it there. */
static void split_at(struct mmm *m, uintptr_t addr)
{
	int i = seg_index(m, addr);
	struct mseg *s, hi;
	uint64_t lo_pages;
	int k;

	if (i < 0 || m->segs[i].start == addr)
		return;
	s = &m->segs[i];
	lo_pages = (addr - s->start) / PS;
	hi = *s;
	hi.start = addr;
	hi.pgoff = s->pgoff + lo_pages;
	hi.cp = NULL;
	hi.ncp = hi.capcp = 0;
	for (k = 0; k < s->ncp && s->cp[k].pi < lo_pages; k++)
		;
	for (int j = k; j < s->ncp; j++) {
		struct pcopy c = s->cp[j];

		c.pi -= lo_pages;
		copy_push(&hi, &c);
	}
	s->ncp = k;
	s->end = addr;
	if (hi.obj)
		hi.obj->nr_maps++;
	seg_insert_at(m, i + 1, &hi);
}

static void pins_copy_gone(uint64_t id);

static void seg_free(struct mseg *s)
{
	for (int i = 0; i < s->ncp; i++) {
		pins_copy_gone(s->cp[i].id);
		free(s->cp[i].data);
	}
	free(s->cp);
	obj_unref(s->obj);
}

/* model_remove - unmap [start, end). */
static void model_remove(struct mmm *m, uintptr_t start, uintptr_t end)
{
	int i = 0;

	split_at(m, start);
	split_at(m, end);
	while (i < m->nsegs) {
		struct mseg *s = &m->segs[i];

		if (s->start >= start && s->end <= end) {
			seg_free(s);
			memmove(s, s + 1, (m->nsegs - i - 1) * sizeof(*s));
			m->nsegs--;
		} else {
			i++;
		}
	}
}

static bool range_free(const struct mmm *m, uintptr_t start, uintptr_t end)
{
	for (int i = 0; i < m->nsegs; i++)
		if (m->segs[i].start < end && m->segs[i].end > start)
			return false;
	return true;
}

/* largest_gap - the largest free range inside [UMM_MMAP_MIN_ADDR, UMM_TASK_SIZE). */
static uint64_t largest_gap(const struct mmm *m)
{
	uintptr_t prev = UMM_MMAP_MIN_ADDR;
	uint64_t best = 0;

	for (int i = 0; i < m->nsegs; i++) {
		if (m->segs[i].start > prev && m->segs[i].start - prev > best)
			best = m->segs[i].start - prev;
		if (m->segs[i].end > prev)
			prev = m->segs[i].end;
	}
	if (UMM_TASK_SIZE > prev && UMM_TASK_SIZE - prev > best)
		best = UMM_TASK_SIZE - prev;
	return best;
}

/*
 * model_page - what reading the page at addr gives: 0 with *out set, or
 * -EFAULT / -EIO.
 */
static int model_page(const struct mmm *m, uintptr_t addr, const unsigned char **out)
{
	const struct mseg *s = seg_at(m, addr);
	const struct pcopy *c;
	uint64_t pi, idx;

	if (!s || s->prot == PROT_NONE)
		return -EFAULT;
	pi = (addr - s->start) / PS;
	if (!s->shared && (c = copy_at(s, pi))) {
		*out = c->data;
		return 0;
	}
	if (!s->obj) {
		*out = zero_page;
		return 0;
	}
	idx = s->pgoff + pi;
	if (idx >= obj_pages(s->obj))
		return -EIO;
	*out = obj_page(s->obj, idx);
	return 0;
}

/* write_expect - what a write access to the page at addr gives (0, -EFAULT, -EIO). */
static int write_expect_force(const struct mmm *m, uintptr_t addr, bool force)
{
	const struct mseg *s = seg_at(m, addr);
	uint64_t pi;

	if (!s || !(s->prot & PROT_WRITE)) {
		/* UMM_PIN_FORCE: a private mapping that can be read may be written through a pin */
		if (!force || !s || s->shared || s->prot == PROT_NONE)
			return -EFAULT;
	}
	pi = (addr - s->start) / PS;
	if (!s->shared && copy_at(s, pi))
		return 0;
	if (s->obj && s->pgoff + pi >= obj_pages(s->obj))
		return -EIO;
	return 0;
}

static int write_expect(const struct mmm *m, uintptr_t addr)
{
	return write_expect_force(m, addr, false);
}

/* cow_needed - a write to this (writable, accessible) page makes a new private copy. */
static bool cow_needed(const struct mmm *m, uintptr_t addr)
{
	const struct mseg *s = seg_at(m, addr);

	return s && !s->shared && !copy_at(s, (addr - s->start) / PS);
}

/* model_write_piece - n bytes inside one page, which write_expect allowed. */
static void model_write_piece(struct mmm *m, uintptr_t addr, const unsigned char *src, size_t n)
{
	struct mseg *s = seg_at(m, addr);
	uint64_t pi = (addr - s->start) / PS, idx = s->pgoff + pi;
	struct pcopy *c;

	if (s->shared) {
		if (n)
			memcpy(obj_page_w(s->obj, idx) + addr % PS, src, n);
		return;
	}
	c = copy_at(s, pi);
	if (!c)
		c = copy_add(s, pi, s->obj ? obj_page(s->obj, idx) : zero_page);
	if (n)
		memcpy(c->data + addr % PS, src, n);
}

/*
 * shared_write_limit - clip a write so that it stores no byte past
 * end-of-file through a shared mapping (what such bytes read back as is
 * not part of the contract): the new length.
 */
static size_t shared_write_limit(const struct mmm *m, uintptr_t addr, size_t len)
{
	uintptr_t a = addr & ~(PS - 1);

	for (; a < addr + len && a >= (addr & ~(PS - 1)); a += PS) {
		const struct mseg *s = seg_at(m, a);
		uint64_t idx, eof;

		if (write_expect(m, a))
			break;
		if (!s->shared)
			continue;
		idx = s->pgoff + (a - s->start) / PS;
		eof = s->obj->size;
		if (eof % PS && idx == eof / PS) {
			uintptr_t stop = a + eof % PS;

			if (stop >= addr + len)
				return len;
			return stop > addr ? stop - addr : 0;
		}
	}
	return len;
}

static struct mmm *mm_new(struct umm_mm *mm)
{
	struct mmm *m = xcalloc(1, sizeof(*m));

	m->mm = mm;
	m->id = next_mm_id++;
	return m;
}

static struct mmm *model_fork(const struct mmm *m, struct umm_mm *child)
{
	struct mmm *c = mm_new(child);

	for (int i = 0; i < m->nsegs; i++) {
		struct mseg s = m->segs[i];

		if (s.vmf & VMF_DONTCOPY)
			continue;                   /* MADV_DONTFORK */
		if (FUZZ_FORK_CLEARS_MLOCK)
			s.vmf &= ~(VMF_LOCKED | VMF_ONFAULT);   /* Linux: the child does not inherit mlock */
		s.cp = NULL;
		s.ncp = s.capcp = 0;
		for (int j = 0; j < m->segs[i].ncp; j++) {
			struct pcopy pc = m->segs[i].cp[j];

			pc.id = next_copy_id++;
			pc.data = xcalloc(1, PS);
			memcpy(pc.data, m->segs[i].cp[j].data, PS);
			copy_push(&s, &pc);
		}
		if (s.obj)
			s.obj->nr_maps++;
		seg_insert_at(c, c->nsegs, &s);
	}
	return c;
}

static void pins_mm_gone(struct mmm *m);

static void model_mm_free(struct mmm *m)
{
	pins_mm_gone(m);
	for (int i = 0; i < m->nsegs; i++)
		seg_free(&m->segs[i]);
	free(m->segs);
	free(m);
}

/* ---- pins held across steps ---- */

enum pin_kind { PK_NONE, PK_OBJ, PK_PRIV };

struct mpin {
	bool used;
	struct mmm *m;                  /* NULL once its mm is destroyed */
	uintptr_t addr;
	size_t nr;
	bool write;
	struct umm_page *pages[PIN_MAX_PAGES];
	struct {
		enum pin_kind kind;     /* PK_NONE: no longer known to be attached */
		struct mobj *obj;       /* PK_OBJ: this object page */
		uint64_t idx;
		uint64_t copy_id;       /* PK_PRIV: this private copy */
		bool unreachable;       /* detached, and no mapping can see the frame */
	} pg[PIN_MAX_PAGES];
};

static struct mpin pins[MAX_PINS];

static void pins_obj_gone(struct mobj *o)
{
	for (int i = 0; i < MAX_PINS; i++)
		for (size_t j = 0; pins[i].used && j < pins[i].nr; j++)
			if (pins[i].pg[j].kind == PK_OBJ && pins[i].pg[j].obj == o) {
				pins[i].pg[j].kind = PK_NONE;
				pins[i].pg[j].unreachable = true;
			}
}

/* pins_obj_cut - a truncation dropped the pages of o at or past `pages`. */
static void pins_obj_cut(struct mobj *o, uint64_t pages)
{
	for (int i = 0; i < MAX_PINS; i++)
		for (size_t j = 0; pins[i].used && j < pins[i].nr; j++)
			if (pins[i].pg[j].kind == PK_OBJ && pins[i].pg[j].obj == o &&
			    pins[i].pg[j].idx >= pages) {
				pins[i].pg[j].kind = PK_NONE;
				pins[i].pg[j].unreachable = true;
			}
}

static void pins_copy_gone(uint64_t id)
{
	for (int i = 0; i < MAX_PINS; i++)
		for (size_t j = 0; pins[i].used && j < pins[i].nr; j++)
			if (pins[i].pg[j].kind == PK_PRIV && pins[i].pg[j].copy_id == id) {
				pins[i].pg[j].kind = PK_NONE;
				/* a fork may still share it, unless fork copies pinned pages */
				pins[i].pg[j].unreachable = FUZZ_PIN_EXCLUSIVE;
			}
}

static void pins_mm_gone(struct mmm *m)
{
	for (int i = 0; i < MAX_PINS; i++)
		if (pins[i].used && pins[i].m == m)
			pins[i].m = NULL;
}

/*
 * pins_mm_changed - without exclusive pinned pages (Linux < 5.19), an
 * mprotect or a fork can detach a private pin from its mapping: stop
 * following those pins.
 */
static void pins_mm_changed(struct mmm *m)
{
	if (FUZZ_PIN_EXCLUSIVE)
		return;
	for (int i = 0; i < MAX_PINS; i++)
		for (size_t j = 0; pins[i].used && pins[i].m == m && j < pins[i].nr; j++)
			if (pins[i].pg[j].kind == PK_PRIV)
				pins[i].pg[j].kind = PK_NONE;
}

/* find_copy - the private copy with this identity in m: its segment and copy. */
static struct pcopy *find_copy(struct mmm *m, uint64_t id, struct mseg **segp)
{
	for (int i = 0; m && i < m->nsegs; i++)
		for (int j = 0; j < m->segs[i].ncp; j++)
			if (m->segs[i].cp[j].id == id) {
				*segp = &m->segs[i];
				return &m->segs[i].cp[j];
			}
	return NULL;
}

/* pin_expected - the bytes a still-attached pinned page must show (NULL: unknown). */
static const unsigned char *pin_expected(struct mpin *p, size_t j)
{
	struct mseg *s;
	struct pcopy *c;

	switch (p->pg[j].kind) {
	case PK_OBJ:
		return obj_page(p->pg[j].obj, p->pg[j].idx);
	case PK_PRIV:
		c = find_copy(p->m, p->pg[j].copy_id, &s);
		return c ? c->data : NULL;
	default:
		return NULL;
	}
}

/* object_write_pinned - is page idx of o under a write pin (stores not yet dirtied)? */
static bool object_write_pinned(const struct mobj *o, uint64_t idx)
{
	for (int i = 0; i < MAX_PINS; i++)
		for (size_t j = 0; pins[i].used && pins[i].write && j < pins[i].nr; j++)
			if (pins[i].pg[j].obj == o && pins[i].pg[j].idx == idx)
				return true;
	return false;
}

/* ---- comparing the model with usermm ---- */

struct rvma {
	uintptr_t start, end;
	char perms[5];
	uint64_t off;
	unsigned long ino;
	bool locked;               /* the line ends with " [locked]" */
};

static struct rvma *rv;
static int nrv, caprv;

static void read_vmas(struct mmm *m)
{
	char *buf = NULL, line[512];
	size_t sz = 0;
	FILE *f = open_memstream(&buf, &sz);
	FILE *r;

	if (!f)
		abort();
	if (umm_mm_dump_maps(m->mm, f) != 0)
		FAIL("umm_mm_dump_maps(mm%d) failed", m->id);
	fclose(f);
	nrv = 0;
	r = fmemopen(buf, sz ? sz : 1, "r");
	while (sz && r && fgets(line, sizeof(line), r)) {
		struct rvma v;
		unsigned long long off;

		if (sscanf(line, "%lx-%lx %4s %llx %*s %lu", &v.start, &v.end, v.perms, &off,
			   &v.ino) != 5)
			FAIL("bad maps line: %s", line);
		v.off = off;
		v.locked = strstr(line, " [locked]") != NULL;
		if (nrv == caprv) {
			caprv = caprv ? caprv * 2 : 32;
			rv = xrealloc(rv, caprv * sizeof(*rv));
		}
		rv[nrv++] = v;
	}
	if (r)
		fclose(r);
	free(buf);
}

static bool seg_compatible(const struct mseg *a, const struct mseg *b)
{
	if (a->prot != b->prot || a->shared != b->shared || a->obj != b->obj || a->vmf != b->vmf)
		return false;
	return !a->obj || b->pgoff == a->pgoff + seg_pages(a);
}

/* seg_merge_next - merge segment i+1 into segment i. */
static void seg_merge_next(struct mmm *m, int i)
{
	struct mseg *a = &m->segs[i], *b = &m->segs[i + 1];
	uint64_t shift = seg_pages(a);

	for (int j = 0; j < b->ncp; j++) {
		struct pcopy c = b->cp[j];

		c.pi += shift;
		copy_push(a, &c);
	}
	free(b->cp);
	a->end = b->end;
	if (b->obj)
		b->obj->nr_maps--;
	memmove(b, b + 1, (m->nsegs - i - 2) * sizeof(*b));
	m->nsegs--;
}

/*
 * sync_vmas - compare the segments with the real VMAs and merge the
 * segments each VMA is made of.
 */
static void sync_vmas(struct mmm *m)
{
	int i = 0;

	read_vmas(m);
	for (int v = 0; v < nrv; v++) {
		struct rvma *r = &rv[v];
		struct mseg *s;
		char want[5];

		if (i >= m->nsegs || m->segs[i].start != r->start)
			FAIL("mm%d: VMA %#lx-%#lx, model segment %s %#lx", m->id,
			     (unsigned long)r->start, (unsigned long)r->end,
			     i < m->nsegs ? "starts at" : "none, next would be",
			     i < m->nsegs ? (unsigned long)m->segs[i].start : 0UL);
		while (m->segs[i].end < r->end) {
			if (i + 1 >= m->nsegs || m->segs[i + 1].start != m->segs[i].end ||
			    !seg_compatible(&m->segs[i], &m->segs[i + 1]))
				FAIL("mm%d: VMA %#lx-%#lx covers model segments that cannot merge "
				     "(at %#lx)", m->id, (unsigned long)r->start,
				     (unsigned long)r->end, (unsigned long)m->segs[i].end);
			seg_merge_next(m, i);
		}
		s = &m->segs[i];
		if (s->end != r->end)
			FAIL("mm%d: VMA %#lx-%#lx, model segment ends at %#lx", m->id,
			     (unsigned long)r->start, (unsigned long)r->end, (unsigned long)s->end);
		want[0] = s->prot & PROT_READ ? 'r' : '-';
		want[1] = s->prot & PROT_WRITE ? 'w' : '-';
		want[2] = s->prot & PROT_EXEC ? 'x' : '-';
		want[3] = s->shared ? 's' : 'p';
		want[4] = 0;
		if (strcmp(want, r->perms) != 0)
			FAIL("mm%d: VMA %#lx-%#lx perms %s, model %s", m->id, (unsigned long)r->start,
			     (unsigned long)r->end, r->perms, want);
		if (s->obj && r->off != s->pgoff * PS)
			FAIL("mm%d: VMA %#lx-%#lx offset %#" PRIx64 ", model %#" PRIx64, m->id,
			     (unsigned long)r->start, (unsigned long)r->end, r->off, s->pgoff * PS);
		if (r->locked != !!(s->vmf & VMF_LOCKED))
			FAIL("mm%d: VMA %#lx-%#lx %slocked, model %slocked", m->id, (unsigned long)r->start,
			     (unsigned long)r->end, r->locked ? "" : "not ", s->vmf & VMF_LOCKED ? "" : "not ");
		if (r->ino != (s->obj ? s->obj->ino : 0))
			FAIL("mm%d: VMA %#lx-%#lx inode %lu, model obj %d", m->id,
			     (unsigned long)r->start, (unsigned long)r->end, r->ino,
			     s->obj ? s->obj->id : -1);
		i++;
	}
	if (i != m->nsegs)
		FAIL("mm%d: model segment %#lx-%#lx has no VMA", m->id,
		     (unsigned long)m->segs[i].start, (unsigned long)m->segs[i].end);
}

/* snapshot of the VMAs, to prove a failed call changed nothing */
static char *snap_buf;
static size_t snap_len;

static char *maps_text(struct mmm *m, size_t *len)
{
	char *buf = NULL;
	size_t sz = 0;
	FILE *f = open_memstream(&buf, &sz);

	if (!f)
		abort();
	umm_mm_dump_maps(m->mm, f);
	fclose(f);
	*len = sz;
	return buf;
}

static void snap_take(struct mmm *m)
{
	free(snap_buf);
	snap_buf = maps_text(m, &snap_len);
}

static void snap_same(struct mmm *m)
{
	size_t len;
	char *now = maps_text(m, &len);

	if (len != snap_len || memcmp(now, snap_buf, len) != 0)
		FAIL("mm%d: a failed call changed the VMAs:\nbefore:\n%s\nafter:\n%s", m->id,
		     snap_buf, now);
	free(now);
}

/* ---- what may fail without the model predicting it ---- */

struct before {
	unsigned long alloc_failures, free_frames, wmark_min;
	unsigned long hits[UMM_INJECT__COUNT];
};

static struct before bf;

static void before_step(void)
{
	struct umm_sys_stats st;

	if (umm_system_stats(sys, &st) != 0)
		FAIL("umm_system_stats failed");
	bf.alloc_failures = st.alloc_failures;
	bf.free_frames = st.free_frames;
	bf.wmark_min = st.wmark_min;
	for (int s = 0; s < UMM_INJECT__COUNT; s++)
		bf.hits[s] = umm_inject_hits(sys, s);
}

/* enomem_allowed - did frame allocation really fail during this step? */
static bool enomem_allowed(void)
{
	struct umm_sys_stats st;
	bool injected = umm_inject_hits(sys, UMM_INJECT_PAGE_ALLOC) > bf.hits[UMM_INJECT_PAGE_ALLOC];

	umm_system_stats(sys, &st);
	if (st.alloc_failures == bf.alloc_failures)
		return false;
	if (!injected && bf.free_frames > bf.wmark_min + LOW_SLACK)
		FAIL("-ENOMEM without injection while %lu frames were free (min watermark %lu)",
		     bf.free_frames, bf.wmark_min);
	return true;
}

static bool eio_injected(int site)
{
	return umm_inject_hits(sys, site) > bf.hits[site];
}

/* disarm - end failure injection: it covers the call under test, not the checks after it. */
static void disarm(void)
{
	for (int s = 0; s < UMM_INJECT__COUNT; s++)
		umm_inject_fault(sys, s, 0, 0);
}

/* step_had_failures - did an allocation or an injected read fail during this step? */
static bool step_had_failures(void)
{
	struct umm_sys_stats st;

	umm_system_stats(sys, &st);
	return st.alloc_failures != bf.alloc_failures || eio_injected(UMM_INJECT_READ);
}

/*
 * outcome - check rc against the model's `want`.  Returns true if the
 * call failed in a way the model did not predict (-ENOMEM, injected -EIO)
 * and is allowed to; FAILs otherwise.
 */
static bool outcome(const char *call, int rc, int want)
{
	disarm();
	ev[E_EFAULT] += rc == -EFAULT;
	ev[E_EIO] += rc == -EIO;
	ev[E_EINVAL] += rc == -EINVAL;
	ev[E_EACCES] += rc == -EACCES;
	if (rc == want)
		return false;
	if (rc == -ENOMEM && enomem_allowed()) {
		ev[E_ENOMEM]++;
		return true;
	}
	if (rc == -EIO && eio_injected(UMM_INJECT_READ)) {
		ev[E_EIO_INJECTED]++;
		return true;
	}
	FAIL("%s returned %d (%s), model expects %d (%s)", call, rc, umm_strerror(rc), want,
	     umm_strerror(want));
	return false;
}

/* verify_page - umm_read of one page agrees with the model (or may fail with -ENOMEM). */
static void verify_page(struct mmm *m, uintptr_t addr)
{
	static unsigned char buf[PS];
	const unsigned char *exp = NULL;
	int want, got;

	if (addr < UMM_MMAP_MIN_ADDR || addr >= UMM_TASK_SIZE)
		return;
	before_step();
	want = model_page(m, addr, &exp);
	got = umm_read(m->mm, addr, buf, PS);
	if (got != want && !(got == -ENOMEM && enomem_allowed()))
		FAIL("umm_read(mm%d, %#lx, 4096) = %d (%s), model %d (%s)", m->id,
		     (unsigned long)addr, got, umm_strerror(got), want, umm_strerror(want));
	if (got == 0 && memcmp(buf, exp, PS) != 0) {
		size_t i = 0;

		while (buf[i] == exp[i])
			i++;
		FAIL("mm%d page %#lx differs at +%#zx: got %#x, model %#x", m->id,
		     (unsigned long)addr, i, buf[i], exp[i]);
	}
}

/*
 * Reading pages to verify them faults them in, which changes what later
 * steps exercise (a read failure injected into a fault never hits a page
 * the check already brought in).  So half the inputs (header bit) verify
 * the pages around every step's range, the others only in VERIFY steps,
 * in reads and pins, and at the end.
 */
static bool eager_verify, forced_verify, paranoid;

/* verify_range - the pages of [start, end) and one on each side (at most 16 + ends). */
static void verify_range(struct mmm *m, uintptr_t start, uintptr_t end)
{
	uintptr_t a;
	unsigned n = 0;

	if (!eager_verify && !forced_verify)
		return;
	if (end < start)
		return;
	start &= ~(PS - 1);
	if (start >= PS)
		start -= PS;
	if (end > UMM_TASK_SIZE)
		end = UMM_TASK_SIZE;
	end = (end + PS - 1) & ~(PS - 1);
	if (end + PS <= UMM_TASK_SIZE)
		end += PS;
	for (a = start; a < end && n < 16; a += PS, n++)
		verify_page(m, a);
	if (a < end)
		verify_page(m, end - PS);
}

/* verify_copies - every private copy of m, and the edges of every segment. */
static void verify_copies(struct mmm *m)
{
	if (!eager_verify && !forced_verify)
		return;
	for (int i = 0; i < m->nsegs; i++) {
		const struct mseg *s = &m->segs[i];

		for (int j = 0; j < s->ncp; j++)
			verify_page(m, s->start + s->cp[j].pi * PS);
		verify_page(m, s->start);
		verify_page(m, s->end - PS);
	}
}

/* verify_pins - every pinned page still attached shows the model's bytes. */
static void verify_pins(void)
{
	for (int i = 0; i < MAX_PINS; i++) {
		for (size_t j = 0; pins[i].used && j < pins[i].nr; j++) {
			const unsigned char *exp = pin_expected(&pins[i], j);
			const unsigned char *got = umm_page_address(pins[i].pages[j]);

			if (exp && memcmp(exp, got, PS) != 0)
				FAIL("pin %d page %zu (mm%d %#lx, %s) differs from the model", i, j,
				     pins[i].m ? pins[i].m->id : -1,
				     (unsigned long)(pins[i].addr + j * PS),
				     pins[i].pg[j].kind == PK_OBJ ? "object page" : "private copy");
		}
	}
}

static void check_file(struct mobj *o, uint64_t from, uint64_t to, bool skip_pinned)
{
	static unsigned char buf[PS];
	struct stat sb;

	if (fstat(o->fd, &sb) != 0 || (uint64_t)sb.st_size != o->size)
		FAIL("file has size %lld, model %" PRIu64, (long long)sb.st_size, o->size);
	if (to > o->size)
		to = o->size;
	for (uint64_t a = from & ~(PS - 1); a < to; a += PS) {
		uint64_t idx = a / PS;
		size_t n = to - a < PS ? (size_t)(to - a) : PS;
		const unsigned char *exp = obj_page(o, idx);

		if (skip_pinned && object_write_pinned(o, idx))
			continue;
		if (pread(o->fd, buf, n, (off_t)a) != (ssize_t)n)
			FAIL("pread of the file at %#" PRIx64 " failed", a);
		if (memcmp(buf, exp, n) != 0) {
			size_t i = 0;

			while (buf[i] == exp[i])
				i++;
			FAIL("file differs at offset %#" PRIx64 ": file %#x, model %#x", a + i,
			     buf[i], exp[i]);
		}
	}
}

/* check_all - after every step: invariants, counters, VMAs, pins. */
static void check_all(void)
{
	struct umm_sys_stats st;
	int want_objs = nr_hidden;

	for (int i = 0; i < nmms; i++) {
		struct umm_mm_stats ms;

		if (umm_mm_check(mms[i]->mm) != 0)
			FAIL("umm_mm_check(mm%d) failed", mms[i]->id);
		sync_vmas(mms[i]);
		if (umm_mm_stats(mms[i]->mm, &ms) != 0)
			FAIL("umm_mm_stats failed");
		if (ms.rss_anon != mm_copies(mms[i]))
			FAIL("mm%d rss_anon %lu, model has %lu private copies", mms[i]->id,
			     ms.rss_anon, mm_copies(mms[i]));
		if (ms.locked_vm != model_locked_pages(mms[i]))
			FAIL("mm%d locked_vm %lu, model locks %lu pages", mms[i]->id, ms.locked_vm,
			     model_locked_pages(mms[i]));
		if (ms.nr_vmas != (unsigned long)mms[i]->nsegs)
			FAIL("mm%d nr_vmas %lu, maps shows %d", mms[i]->id, ms.nr_vmas,
			     mms[i]->nsegs);
	}
	if (umm_system_check(sys) != 0)
		FAIL("umm_system_check failed");
	if (paranoid) {                  /* FUZZ_PARANOID=1: every copy after every step */
		forced_verify = true;
		for (int i = 0; i < nmms; i++)
			verify_copies(mms[i]);
		forced_verify = false;
	}
	for (int i = 0; i < NR_OBJS; i++)
		want_objs += objs[i].uobj != NULL;
	if (umm_system_stats(sys, &st) != 0)
		FAIL("umm_system_stats failed");
	if (st.nr_mms != (unsigned long)nmms)
		FAIL("nr_mms %lu, model %d", st.nr_mms, nmms);
	if (st.nr_objects != (unsigned long)want_objs)
		FAIL("nr_objects %lu, model %d", st.nr_objects, want_objs);
	if (st.free_frames > st.total_frames)
		FAIL("free_frames %lu > total_frames %lu", st.free_frames, st.total_frames);
	verify_pins();
}

/* ---- argument generators ---- */

static struct mmm *pick_mm(void)
{
	return mms[u8() % nmms];
}

/*
 * pick_addr - an address: mostly in or just around a mapping, sometimes in
 * the window where fixed mappings land, rarely a special or raw value;
 * page aligned unless the selector's top two bits are set.
 */
static uintptr_t pick_addr(struct mmm *m)
{
	static const uintptr_t special[] = {
		0, PS, UMM_MMAP_MIN_ADDR - PS, UMM_MMAP_MIN_ADDR, UMM_TASK_SIZE - PS,
		UMM_TASK_SIZE - 2 * PS, UMM_TASK_SIZE, 1UL << 47, UINTPTR_MAX - PS + 1,
		UINTPTR_MAX, WIN - PS, (1UL << 39) - PS,
	};
	uint8_t sel = u8();
	uintptr_t a;

	switch (sel & 15) {
	default:
		if (m && m->nsegs) {
			const struct mseg *s = &m->segs[u8() % m->nsegs];
			size_t np = seg_pages(s);

			/* from one page below the segment to one page past it */
			a = s->start - PS + (uintptr_t)(u8() % (np < 254 ? np + 2 : 256)) * PS;
			if (np >= 254 && (sel & 0x20))
				a = s->end - (uintptr_t)u8() * PS;
			break;
		}
		/* fall through */
	case 9: case 10: case 11:
		a = WIN + (uintptr_t)u8() * PS;
		break;
	case 12: case 13:
		a = WIN + (uintptr_t)u16() * PS;
		break;
	case 14:
		a = special[u8() % (sizeof(special) / sizeof(special[0]))];
		break;
	case 15:
		a = (uintptr_t)u64();
		break;
	}
	if ((sel & 0xc0) == 0xc0)
		a += 1 + u8() % (PS - 1);
	return a;
}

/* pick_access - an address for umm_read/umm_write: anywhere in a page half the time. */
static uintptr_t pick_access(struct mmm *m)
{
	uintptr_t a = pick_addr(m);

	if (a % PS == 0 && (u8() & 1))
		a += u16() % PS;
	return a;
}

/* pick_len - a length: mostly 1-16 pages, sometimes more, rarely special or raw. */
static size_t pick_len(void)
{
	static const size_t special[] = {
		0, 1, PS - 1, PS + 1, 1UL << 40, UMM_TASK_SIZE, UMM_TASK_SIZE - UMM_MMAP_MIN_ADDR,
		UMM_TASK_SIZE - UMM_MMAP_MIN_ADDR + 1, SIZE_MAX, SIZE_MAX - PS + 2, 1UL << 30,
	};
	uint8_t sel = u8();
	size_t len;

	switch (sel & 15) {
	default:
		len = (1 + u8() % 16) * PS;
		break;
	case 10: case 11:
		len = (1 + u8() % 64) * PS;
		break;
	case 12:
		len = (1 + u16() % 1024) * PS;
		break;
	case 13: case 14:
		len = special[u8() % (sizeof(special) / sizeof(special[0]))];
		break;
	case 15:
		len = (size_t)u64();
		break;
	}
	if ((sel & 0xc0) == 0xc0 && len > PS)
		len -= 1 + u8() % (PS - 1);
	return len;
}

static int pick_prot(void)
{
	uint8_t b = u8();
	int prot = b & 7;

	if ((b & 0xf8) == 0xf8)
		prot |= (int)(1U << (u8() % 32));          /* an unknown bit: -EINVAL */
	return prot;
}

/* ---- steps ---- */

/*
 * mmap_expect - the model's answer for umm_mmap's arguments (before it
 * looks at the address space); *lenp rounded up, *fixed set.
 */
static int mmap_expect_args(uintptr_t addr, size_t *lenp, int prot, int flags, struct mobj *o,
			    uint64_t off, bool *fixed)
{
	const int known = MAP_TYPE | MAP_FIXED | MAP_FIXED_NOREPLACE | MAP_ANONYMOUS |
			  MAP_NORESERVE | MAP_POPULATE | MAP_NONBLOCK | MAP_LOCKED | MAP_DENYWRITE |
			  MAP_EXECUTABLE | MAP_STACK | MAP_GROWSDOWN | MAP_HUGETLB;
	int type = flags & MAP_TYPE;
	size_t len = *lenp;

	if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC))
		return -EINVAL;
	if (type != MAP_SHARED && type != MAP_PRIVATE && type != MAP_SHARED_VALIDATE)
		return -EINVAL;
	if (flags & (MAP_HUGETLB | MAP_GROWSDOWN))
		return -EINVAL;
	if (type == MAP_SHARED_VALIDATE && (flags & ~known))
		return -EOPNOTSUPP;
	if (off % PS)
		return -EINVAL;
	if (len == 0)
		return -EINVAL;
	if (len > UMM_TASK_SIZE - UMM_MMAP_MIN_ADDR)
		return -ENOMEM;
	len = (len + PS - 1) & ~(PS - 1);
	if (off > UINT64_MAX - len)
		return -EOVERFLOW;
	*fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE);
	if (*fixed) {
		if (addr % PS)
			return -EINVAL;
		if (addr < UMM_MMAP_MIN_ADDR)
			return -EPERM;
		if (addr > UMM_TASK_SIZE - len)
			return -ENOMEM;
	}
	if (!(flags & MAP_ANONYMOUS) && !o)
		return -EBADF;
	*lenp = len;
	return 0;
}

/* a range of pages a call faulted for writing, in address order, stopping at its first failure */
struct wrange {
	uintptr_t start, end;
};

static bool stop_input;

/*
 * drop_mm - forget an address space whose state the model can no longer
 * know (destroy it in both); keep at least one address space.
 */
static void drop_mm(struct mmm *m)
{
	struct umm_mm *mm = NULL;

	ev[E_DROPPED]++;
	for (int i = 0; i < nmms; i++)
		if (mms[i] == m) {
			umm_mm_destroy(m->mm);
			model_mm_free(m);
			mms[i] = mms[--nmms];
			break;
		}
	if (nmms == 0) {
		if (umm_mm_create(sys, &mm) != 0) {
			stop_input = true;
			return;
		}
		mms[nmms++] = mm_new(mm);
	}
}

/*
 * resolve_cows - a call faulted the ranges r[0..n) for writing, each in
 * address order and stopping at its first failure, and so gave private
 * copies to some of their private pages that had none: rss_anon says how
 * many.  None or all: exact.  Some: the first ones if `prefix` says the
 * call worked through the ranges in order and stopped at its first
 * failure; otherwise the model cannot know which, and the address space
 * is dropped.  Returns false if it was.
 */
static bool resolve_cows_force(struct mmm *m, const struct wrange *r, int n, bool prefix, bool force)
{
	struct umm_mm_stats ms;
	unsigned long have = mm_copies(m), total = 0, c;

	umm_mm_stats(m->mm, &ms);
	/* count the candidates, but no further than one past what rss_anon allows */
	for (int i = 0; i < n && total <= ms.rss_anon - have; i++)
		for (uintptr_t a = r[i].start; a < r[i].end && total <= ms.rss_anon - have &&
		     !write_expect_force(m, a, force); a += PS)
			total += cow_needed(m, a);
	if (ms.rss_anon < have || ms.rss_anon - have > total)
		FAIL("mm%d rss_anon %lu: the model had %lu private copies and the call could "
		     "make at most %lu more", m->id, ms.rss_anon, have, total);
	c = ms.rss_anon - have;
	if (c && c < total && !prefix) {
		set_op("%s (which copies it made is not known: mm%d dropped)", cur_op, m->id);
		drop_mm(m);
		return false;
	}
	for (int i = 0; i < n && c; i++)
		for (uintptr_t a = r[i].start; a < r[i].end && c && !write_expect_force(m, a, force);
		     a += PS)
			if (cow_needed(m, a)) {
				model_write_piece(m, a, NULL, 0);
				c--;
			}
	return true;
}

static bool resolve_cows(struct mmm *m, const struct wrange *r, int n, bool prefix)
{
	return resolve_cows_force(m, r, n, prefix, false);
}

static void op_mmap(void)
{
	static const int types[] = { MAP_PRIVATE, MAP_SHARED, MAP_PRIVATE, MAP_SHARED_VALIDATE,
				     MAP_PRIVATE, MAP_SHARED, MAP_PRIVATE, 0 };
	static const int bits[] = { MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_NORESERVE, MAP_POPULATE,
				    MAP_NONBLOCK, MAP_LOCKED, MAP_STACK, MAP_GROWSDOWN,
				    MAP_HUGETLB, MAP_DENYWRITE, MAP_EXECUTABLE, MAP_SYNC };
	struct mmm *m = pick_mm();
	uint8_t kind = u8(), fb = u8();
	int prot = pick_prot();
	int flags = types[kind & 7];
	uintptr_t addr = pick_addr(m), out = 0;
	size_t len = pick_len(), rlen;
	struct mobj *o = NULL;
	uint64_t off = 0;
	bool fixed = false, shared;
	int want, rc;
	struct mseg s = { 0 };

	if (kind & 0x08)
		flags |= MAP_ANONYMOUS;
	else
		o = &objs[(kind >> 4) & 1];
	if (kind & 0x20 && !(kind & 0x08))
		o = kind & 0x10 ? &objs[2] : NULL;  /* the read-only file, or none: -EBADF */
	if (fb & 0x80)
		flags |= bits[fb % (sizeof(bits) / sizeof(bits[0]))];
	if (fb & 0x40)
		flags |= MAP_FIXED;
	if ((fb & 0x30) == 0x30)
		flags |= (int)(1U << (u8() % 32));
	switch (kind >> 6) {
	case 0: off = 0; break;
	case 1: off = (uint64_t)(u8() % 80) * PS; break;
	case 2: off = (uint64_t)u8() * PS; off += u8() & 1 ? 0 : 1; break;
	default: off = u64(); break;
	}
	if (flags & MAP_ANONYMOUS)
		o = NULL;
	rlen = len;
	want = mmap_expect_args(addr, &rlen, prot, flags, o, off, &fixed);
	shared = (flags & MAP_TYPE) != MAP_PRIVATE;
	set_op("mmap mm%d addr=%#lx len=%#zx prot=%#x flags=%#x obj=%d off=%#" PRIx64, m->id,
	       (unsigned long)addr, len, prot, flags, o ? o->id : -1, off);
	if (!want && o && o->ro && shared && (prot & PROT_WRITE))
		want = -EACCES;
	if (!want && (flags & MAP_FIXED_NOREPLACE) && !range_free(m, addr, addr + rlen))
		want = -EEXIST;
	if (!want && !fixed && largest_gap(m) < rlen)
		want = -ENOMEM;
	snap_take(m);
	before_step();
	rc = umm_mmap(m->mm, addr, len, prot, flags, o ? o->uobj : NULL, off, &out);
	if (outcome("umm_mmap", rc, want) || rc) {
		snap_same(m);
		verify_range(m, addr, addr + (rlen < 16 * PS ? rlen : 16 * PS));
		return;
	}
	if (out % PS || out < UMM_MMAP_MIN_ADDR || out > UMM_TASK_SIZE - rlen)
		FAIL("mmap placed the mapping at %#lx", (unsigned long)out);
	if (fixed && out != addr)
		FAIL("MAP_FIXED mapping at %#lx, asked %#lx", (unsigned long)out, (unsigned long)addr);
	if (!fixed && !range_free(m, out, out + rlen))
		FAIL("mmap without MAP_FIXED placed %#lx over a mapping", (unsigned long)out);
	if (!fixed) {
		uintptr_t h = addr & ~(PS - 1);   /* as mmap_get_area: rounded down, raised to the minimum */

		if (h && h < UMM_MMAP_MIN_ADDR)
			h = UMM_MMAP_MIN_ADDR;
		if (h > UMM_TASK_SIZE - rlen)
			h = 0;
		if (h && range_free(m, h, h + rlen) && out != h)
			FAIL("free hint %#lx ignored: mapped at %#lx", (unsigned long)h,
			     (unsigned long)out);
	}
	ev[E_MMAP]++;
	model_remove(m, out, out + rlen);
	if (!o && shared) {
		o = xcalloc(1, sizeof(*o));
		o->hidden = true;
		o->fd = -1;
		o->id = 100 + cur_step;
		o->size = rlen;
		nr_hidden++;
	}
	s.start = out;
	s.end = out + rlen;
	s.prot = prot;
	s.shared = shared;
	s.obj = o;
	s.pgoff = !o ? out / PS : o->hidden ? 0 : off / PS;   /* as Linux */
	s.vmf = (flags & MAP_LOCKED ? VMF_LOCKED : 0) | (flags & MAP_NORESERVE ? VMF_NORESERVE : 0);
	if (o)
		o->nr_maps++;
	seg_insert(m, &s);
	if (!shared && (flags & (MAP_POPULATE | MAP_LOCKED))) {
		/* private writable populate makes the copies (MAP_NONBLOCK: only of cached pages) */
		struct wrange r = { out, out + rlen };

		if (!resolve_cows(m, &r, 1, !(flags & MAP_NONBLOCK)))
			return;
	}
	verify_range(m, out, out + (rlen < 16 * PS ? rlen : 16 * PS));
	if (rlen > 16 * PS)
		verify_range(m, out + rlen - PS, out + rlen);
}

static void op_munmap(void)
{
	struct mmm *m = pick_mm();
	uintptr_t addr = pick_addr(m);
	size_t len = pick_len();
	int want = 0, rc;

	if (addr % PS || len == 0 || addr >= UMM_TASK_SIZE || len > UMM_TASK_SIZE - addr)
		want = -EINVAL;
	set_op("munmap mm%d %#lx len=%#zx", m->id, (unsigned long)addr, len);
	snap_take(m);
	before_step();
	rc = umm_munmap(m->mm, addr, len);
	if (outcome("umm_munmap", rc, want) || rc) {
		snap_same(m);
		return;
	}
	ev[E_MUNMAP]++;
	len = (len + PS - 1) & ~(PS - 1);
	model_remove(m, addr, addr + len);
	verify_range(m, addr, addr + len);
}

static void op_mprotect(void)
{
	struct mmm *m = pick_mm();
	uintptr_t addr = pick_addr(m), end = 0;
	size_t len = pick_len();
	int prot = pick_prot(), want = 0, rc;

	if (addr % PS)
		want = -EINVAL;
	else if (len == 0)
		want = 0;
	else if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC))
		want = -EINVAL;
	else if (addr >= UMM_TASK_SIZE || len > UMM_TASK_SIZE - addr)
		want = -ENOMEM;
	else {
		end = addr + ((len + PS - 1) & ~(PS - 1));
		for (uintptr_t a = addr; a < end; ) {
			const struct mseg *s = seg_at(m, a);

			if (!s) {
				want = -ENOMEM;
				break;
			}
			if ((prot & PROT_WRITE) && s->shared && s->obj && s->obj->ro) {
				want = -EACCES;      /* no VM_MAYWRITE */
				break;
			}
			a = s->end;
		}
	}
	set_op("mprotect mm%d %#lx len=%#zx prot=%#x", m->id, (unsigned long)addr, len, prot);
	snap_take(m);
	before_step();
	rc = umm_mprotect(m->mm, addr, len, prot);
	if (outcome("umm_mprotect", rc, want) || rc || !end) {
		snap_same(m);
		return;
	}
	ev[E_MPROTECT]++;
	split_at(m, addr);
	split_at(m, end);
	for (int i = 0; i < m->nsegs; i++)
		if (m->segs[i].start >= addr && m->segs[i].end <= end)
			m->segs[i].prot = prot;
	pins_mm_changed(m);
	verify_range(m, addr, end);
}

/* model_move - move [a, a+old) to [to, to+new); the destination was emptied by the caller. */
static void model_move(struct mmm *m, uintptr_t a, size_t old, size_t new, uintptr_t to)
{
	struct mseg *s = seg_at(m, a), n = *s;
	uint64_t off = (a - s->start) / PS, keep = (old < new ? old : new) / PS;

	n.start = to;
	n.end = to + new;
	n.pgoff = s->pgoff + off;
	n.cp = NULL;
	n.ncp = n.capcp = 0;
	for (int i = 0; i < s->ncp; ) {
		if (s->cp[i].pi >= off && s->cp[i].pi < off + keep) {
			struct pcopy c = s->cp[i];

			c.pi -= off;
			copy_push(&n, &c);       /* same identity: the frame moves */
			memmove(&s->cp[i], &s->cp[i + 1], (s->ncp - i - 1) * sizeof(*s->cp));
			s->ncp--;
		} else {
			i++;
		}
	}
	if (n.obj)
		n.obj->nr_maps++;
	model_remove(m, a, a + old);
	model_remove(m, to, to + new);
	seg_insert(m, &n);
}

static void op_mremap(void)
{
	static const int fl[] = { 0, MREMAP_MAYMOVE, MREMAP_MAYMOVE, MREMAP_MAYMOVE | MREMAP_FIXED,
				  MREMAP_FIXED, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 8, MREMAP_MAYMOVE };
	struct mmm *m = pick_mm();
	uintptr_t a = pick_addr(m), to = 0, out = 0;
	size_t old = pick_len(), new = pick_len();
	uint8_t fb = u8();
	int flags = fl[fb & 7], want = 0, rc;
	struct mseg *s = NULL;
	enum { NONE, SHRINK, GROW, MOVE } what = NONE;
	bool grown_locked;

	if (flags & MREMAP_FIXED)
		to = (fb & 8) ? a + (uintptr_t)(u8() % 8) * PS : pick_addr(m);
	set_op("mremap mm%d %#lx old=%#zx new=%#zx flags=%#x to=%#lx", m->id, (unsigned long)a,
	       old, new, flags, (unsigned long)to);
	if (flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED))
		want = -EINVAL;
	else if ((flags & MREMAP_FIXED) && !(flags & MREMAP_MAYMOVE))
		want = -EINVAL;
	else if (a % PS || new == 0)
		want = -EINVAL;
	else if (new > UMM_TASK_SIZE)
		want = (flags & MREMAP_FIXED) ? -EINVAL : -ENOMEM;
	else if (old == 0)
		want = -EINVAL;
	else if (old > UMM_TASK_SIZE)
		want = -EFAULT;
	if (!want) {
		old = (old + PS - 1) & ~(PS - 1);
		new = (new + PS - 1) & ~(PS - 1);
		if (flags & MREMAP_FIXED) {
			if (to % PS || to > UMM_TASK_SIZE - new)
				want = -EINVAL;
			else if (to < UMM_MMAP_MIN_ADDR)
				want = -EPERM;
			else if (to < a + old && a < to + new)
				want = -EINVAL;
		}
	}
	if (!want) {
		s = seg_at(m, a);
		if (!s || old > s->end - a)
			want = -EFAULT;
		else if (new > old && s->pgoff + (a - s->start) / PS + new / PS > (UINT64_MAX >> 12))
			want = -EINVAL;
	}
	if (!want) {
		if (flags & MREMAP_FIXED) {
			what = MOVE;
			out = to;
		} else if (new <= old) {
			what = SHRINK;
			out = a;
		} else if (a + old == s->end && s->end <= UMM_TASK_SIZE - (new - old) &&
			   range_free(m, s->end, s->end + (new - old))) {
			what = GROW;
			out = a;
		} else if (!(flags & MREMAP_MAYMOVE)) {
			want = -ENOMEM;
		} else if (largest_gap(m) < new) {
			want = -ENOMEM;
		} else {
			what = MOVE;
		}
	}
	snap_take(m);
	before_step();
	{
		uintptr_t got = 0;

		rc = umm_mremap(m->mm, a, old, new, flags, to, &got);
		if (outcome("umm_mremap", rc, want) || rc) {
			snap_same(m);
			return;
		}
		if (what != MOVE || (flags & MREMAP_FIXED)) {
			if (got != out)
				FAIL("mremap returned %#lx, expected %#lx", (unsigned long)got,
				     (unsigned long)out);
		} else if (got % PS || got == a || got < UMM_MMAP_MIN_ADDR ||
			   got > UMM_TASK_SIZE - new || !range_free(m, got, got + new)) {
			FAIL("moving mremap placed the mapping at %#lx", (unsigned long)got);
		}
		out = got;
	}
	ev[what == SHRINK ? E_SHRINK : what == GROW ? E_GROW : E_MOVE]++;
	grown_locked = new > old && s && (s->vmf & (VMF_LOCKED | VMF_ONFAULT)) == VMF_LOCKED;
	switch (what) {
	case SHRINK:
		model_remove(m, a + new, a + old);
		break;
	case GROW:
		s->end += new - old;
		break;
	case MOVE:
		model_move(m, a, old, new, out);
		break;
	default:
		break;
	}
	if (grown_locked) {
		/* a locked mapping that grew is populated in its new part, page by page */
		struct wrange r = { out + old, out + new };

		if (!resolve_cows(m, &r, 1, false))
			return;
	}
	verify_range(m, a, a + (old < 8 * PS ? old : 8 * PS));
	verify_range(m, out, out + (new < 8 * PS ? new : 8 * PS));
	if (new > 8 * PS)
		verify_range(m, out + new - PS, out + new);
}

/*
 * make_distinct - make the first byte of each page piece of the write
 * differ from what the page holds now, so a read-back tells whether the
 * piece was written.
 */
static void make_distinct(struct mmm *m, uintptr_t addr, unsigned char *buf, size_t len)
{
	for (size_t done = 0; done < len; ) {
		uintptr_t a = addr + done;
		size_t n = PS - a % PS;
		const unsigned char *cur;

		if (n > len - done)
			n = len - done;
		if (model_page(m, a & ~(PS - 1), &cur) == 0 && buf[done] == cur[a % PS])
			buf[done] = (unsigned char)(cur[a % PS] + 1);
		done += n;
	}
}

static void op_write(void)
{
	static unsigned char buf[BUF_MAX], back[PS];
	struct mmm *m = pick_mm();
	uintptr_t addr = pick_access(m);
	size_t len = u16() % BUF_MAX, done;
	uint8_t wb = u8();
	int want = 0, rc;

	if (wb & 1)
		len = len % 64;
	if (len && addr + len - 1 < addr)
		want = -EFAULT;
	else if ((wb & 6) != 6)
		len = shared_write_limit(m, addr, len);
	/*
	 * Otherwise a shared write may store past end-of-file in the last
	 * page: the page holds those bytes (the model too), the file never
	 * gets them, and growing the object must zero them.
	 */
	fill(buf, len);
	set_op("write mm%d %#lx len=%zu", m->id, (unsigned long)addr, len);
	if (!want)
		make_distinct(m, addr, buf, len);
	/* the model's answer: page by page, stopping at the first fault */
	for (done = 0; !want && done < len; ) {
		uintptr_t a = addr + done;
		size_t n = PS - a % PS;

		if (n > len - done)
			n = len - done;
		want = write_expect(m, a & ~(PS - 1));
		if (!want)
			done += n;
	}
	before_step();
	rc = umm_write(m->mm, addr, buf, len);
	ev[rc ? E_WRITE_CUT : E_WRITE] += len > 0;
	if (!outcome("umm_write", rc, want) && !(rc && step_had_failures())) {
		/* predicted: apply the pieces before the fault */
		for (size_t d = 0; d < done; ) {
			uintptr_t a = addr + d;
			size_t n = PS - a % PS;

			if (n > done - d)
				n = done - d;
			model_write_piece(m, a, buf + d, n);
			d += n;
		}
	} else {
		/* stopped early at an unknown page: read back, in order */
		for (size_t d = 0; d < done; ) {
			uintptr_t a = addr + d;
			size_t n = PS - a % PS;

			if (n > done - d)
				n = done - d;
			if (umm_read(m->mm, a, back, n) != 0 || back[0] != buf[d])
				break;
			if (memcmp(back, buf + d, n) != 0)
				FAIL("page %#lx was written partly", (unsigned long)(a & ~(PS - 1)));
			model_write_piece(m, a, buf + d, n);
			d += n;
		}
	}
	if (len)
		verify_range(m, addr, addr + len);
}

static void op_read(void)
{
	static unsigned char buf[BUF_MAX];
	struct mmm *m = pick_mm();
	uintptr_t addr = pick_access(m);
	size_t len = u16() % BUF_MAX, done;
	int want = 0, rc;
	bool bad = false;

	if (u8() & 1)
		len = len % 64;
	set_op("read mm%d %#lx len=%zu", m->id, (unsigned long)addr, len);
	if (len && addr + len - 1 < addr)
		want = -EFAULT;
	for (done = 0; !want && done < len; ) {
		uintptr_t a = addr + done;
		const unsigned char *exp;
		size_t n = PS - a % PS;

		if (n > len - done)
			n = len - done;
		want = model_page(m, a & ~(PS - 1), &exp);
		if (!want)
			done += n;
	}
	memset(buf, 0xa5, len);
	before_step();
	rc = umm_read(m->mm, addr, buf, len);
	bad = outcome("umm_read", rc, want);
	ev[E_READ] += !rc && len;
	/* right bytes up to some page boundary, untouched bytes after it */
	for (size_t d = 0; d < done; ) {
		uintptr_t a = addr + d;
		const unsigned char *exp;
		size_t n = PS - a % PS;

		if (n > done - d)
			n = done - d;
		model_page(m, a & ~(PS - 1), &exp);
		if (memcmp(buf + d, exp + a % PS, n) != 0) {
			if (!rc && !bad)
				FAIL("umm_read data differs in page %#lx", (unsigned long)(a & ~(PS - 1)));
			for (size_t k = d; k < len; k++)
				if (buf[k] != 0xa5)
					FAIL("umm_read failed at %#lx but changed the buffer after it",
					     (unsigned long)a);
			break;
		}
		d += n;
	}
	for (size_t k = done; rc && k < len; k++)
		if (buf[k] != 0xa5)
			FAIL("umm_read failed but wrote past the failing page");
}

/* pin_expect_page - what pinning the page at addr gives. */
static int pin_expect_page(const struct mmm *m, uintptr_t addr, bool write, bool force)
{
	const unsigned char *unused;

	return write ? write_expect_force(m, addr, force) : model_page(m, addr, &unused);
}

static void op_pin(void)
{
	static unsigned char buf[PS];
	struct mmm *m = pick_mm();
	uintptr_t addr = pick_addr(m);
	uint8_t b = u8();
	size_t nr = b % (PIN_MAX_PAGES + 1);
	bool write = b & 0x10, bad_flags = (b & 0xe0) == 0xe0, force = UMM_PIN_FORCE && (b & 0x08);
	int slot = -1, want = 0;
	int flags = (write ? UMM_PIN_WRITE : 0) | (bad_flags ? 0x4 : 0) | (force ? UMM_PIN_FORCE : 0);
	size_t before_fail = nr;
	bool prechecked;
	struct mpin *p;
	long got;

	for (int i = 0; i < MAX_PINS; i++)
		if (!pins[i].used) {
			slot = i;
			break;
		}
	if (slot < 0)
		return;
	p = &pins[slot];
	set_op("pin mm%d %#lx nr=%zu flags=%#x", m->id, (unsigned long)addr, nr, flags);
	if (bad_flags || addr % PS || (force && !write))
		want = -EINVAL;
	else if (nr && nr - 1 > (UINTPTR_MAX - addr) / PS)
		want = -EFAULT;
	prechecked = want != 0;
	for (size_t i = 0; !want && i < nr; i++) {
		want = pin_expect_page(m, addr + i * PS, write, force);
		if (want)
			before_fail = i;
	}
	before_step();
	memset(p->pages, 0, sizeof(p->pages));
	got = umm_pin_pages(m->mm, addr, nr, flags, p->pages);
	disarm();
	if (got >= 0 ? got != (long)nr || want : true) {
		if (got < 0)
			outcome("umm_pin_pages", (int)got, want);
		if (got >= 0)
			FAIL("umm_pin_pages returned %ld, model expects %d", got, want);
		for (size_t i = 0; i < nr; i++)
			if (p->pages[i])
				FAIL("failed umm_pin_pages left pages[%zu] set", i);
		/*
		 * A write pin faults page by page: the pages before the one that
		 * failed have had copy-on-write broken, as with get_user_pages.
		 * rss_anon says how many.
		 */
		if (write && !prechecked) {
			struct wrange r = { addr, addr + before_fail * PS };

			resolve_cows_force(m, &r, 1, true, force);   /* in order: cannot drop m */
		}
		return;
	}
	if (!nr)
		return;
	ev[E_PIN]++;
	p->used = true;
	p->m = m;
	p->addr = addr;
	p->nr = nr;
	p->write = write;
	/* the call broke copy-on-write on every page before anything is stored through a pin */
	for (size_t i = 0; write && i < nr; i++)
		model_write_piece(m, addr + i * PS, NULL, 0);
	for (size_t i = 0; i < nr; i++) {
		uintptr_t a = addr + i * PS;
		struct mseg *s;
		const unsigned char *exp;
		unsigned char *bytes = umm_page_address(p->pages[i]);
		uint64_t pi;

		model_page(m, a, &exp);
		if (!bytes || memcmp(bytes, exp, PS) != 0) {
			size_t k = 0;
			const struct mseg *sg = seg_at(m, a);

			while (bytes && bytes[k] == exp[k])
				k++;
			FAIL("pinned page %#lx differs from the model at +%#zx (%#x, model %#x); "
			     "segment %#lx-%#lx prot %d %s obj %d pgoff %#" PRIx64 ", %s", (unsigned long)a,
			     k, bytes ? bytes[k] : 0, exp[k], (unsigned long)sg->start,
			     (unsigned long)sg->end, sg->prot, sg->shared ? "shared" : "private",
			     sg->obj ? sg->obj->id : -1, sg->pgoff,
			     copy_at(sg, (a - sg->start) / PS) ? "private copy" : "no private copy");
		}
		s = seg_at(m, a);
		pi = (a - s->start) / PS;
		p->pg[i].kind = PK_NONE;
		p->pg[i].obj = NULL;
		p->pg[i].unreachable = false;
		if (s->shared || (s->obj && !copy_at(s, pi))) {
			p->pg[i].kind = PK_OBJ;
			p->pg[i].obj = s->obj;
			p->pg[i].idx = s->pgoff + pi;
		} else if (copy_at(s, pi) && (write || FUZZ_PIN_EXCLUSIVE > 1)) {
			p->pg[i].kind = PK_PRIV;
			p->pg[i].copy_id = copy_at(s, pi)->id;
		}
		if (write && p->pg[i].kind != PK_NONE) {
			/* a device stores through the pin */
			size_t n = shared_write_limit(m, a, PS);

			fill(buf, n);
			memcpy(bytes, buf, n);
			model_write_piece(m, a, buf, n);
		}
	}
	verify_range(m, addr, addr + nr * PS);
}

/* pick_pin - one of the pins held (by a byte of the input), or NULL. */
static struct mpin *pick_pin(void)
{
	int used = 0, k = u8();

	for (int i = 0; i < MAX_PINS; i++)
		used += pins[i].used;
	if (!used)
		return NULL;
	k %= used;
	for (int i = 0; i < MAX_PINS; i++)
		if (pins[i].used && k-- == 0)
			return &pins[i];
	return NULL;
}

/* op_pin_store - a device stores through a held write pin. */
static void op_pin_store(void)
{
	static unsigned char buf[PS];
	struct mpin *p = pick_pin();
	size_t j = u8() % PIN_MAX_PAGES, off = u16() % PS, n = 1 + u16() % PS;
	unsigned char *bytes;

	if (!p || !p->write)
		return;
	j %= p->nr;
	if (off + n > PS)
		n = PS - off;
	set_op("pin store %d page %zu off=%zu n=%zu", (int)(p - pins), j, off, n);
	ev[E_PIN_STORE]++;
	disarm();
	bytes = umm_page_address(p->pages[j]);
	if (p->pg[j].kind == PK_OBJ) {
		struct mobj *o = p->pg[j].obj;
		uint64_t pos = p->pg[j].idx * PS + off;

		if (pos >= o->size)
			return;
		if (n > o->size - pos)
			n = (size_t)(o->size - pos);
		fill(buf, n);
		memcpy(bytes + off, buf, n);
		memcpy(obj_page_w(o, p->pg[j].idx) + off, buf, n);
	} else if (p->pg[j].kind == PK_PRIV) {
		struct mseg *s;
		struct pcopy *c = find_copy(p->m, p->pg[j].copy_id, &s);

		if (!c)
			FAIL("attached pin without its copy");
		fill(buf, n);
		memcpy(bytes + off, buf, n);
		memcpy(c->data + off, buf, n);
	} else if (p->pg[j].unreachable) {
		fill(buf, n);
		memcpy(bytes + off, buf, n);        /* nobody may see this */
	}
	if (p->m)
		verify_range(p->m, p->addr, p->addr + p->nr * PS);
}

static void unpin(struct mpin *p)
{
	umm_unpin_pages(p->pages, p->nr, p->write ? UMM_PIN_WRITE : 0);
	memset(p, 0, sizeof(*p));
}

static void op_unpin(void)
{
	struct mpin *p = pick_pin();

	if (!p)
		return;
	set_op("unpin %d (mm%d %#lx nr=%zu%s)", (int)(p - pins), p->m ? p->m->id : -1,
	       (unsigned long)p->addr, p->nr, p->write ? " write" : "");
	unpin(p);
}

static void op_fork(void)
{
	struct mmm *m = pick_mm();
	struct umm_mm *child = NULL;
	int rc;

	if (nmms == MAX_MMS)
		return;
	set_op("fork mm%d -> mm%d", m->id, next_mm_id);
	snap_take(m);
	before_step();
	rc = umm_fork(m->mm, &child);
	if (outcome("umm_fork", rc, 0) || rc) {
		if (child)
			FAIL("failed fork set *child");
		snap_same(m);
		return;
	}
	ev[E_FORK]++;
	pins_mm_changed(m);
	mms[nmms++] = model_fork(m, child);
	verify_copies(mms[nmms - 1]);
}

static void op_destroy(void)
{
	int i;
	struct mmm *m;

	if (nmms < 2)
		return;
	i = u8() % nmms;
	m = mms[i];
	set_op("destroy mm%d", m->id);
	umm_mm_destroy(m->mm);
	model_mm_free(m);
	mms[i] = mms[--nmms];
}

static void op_create(void)
{
	struct umm_mm *mm = NULL;
	int rc;

	if (nmms == MAX_MMS)
		return;
	set_op("create mm%d", next_mm_id);
	before_step();
	rc = umm_mm_create(sys, &mm);
	if (outcome("umm_mm_create", rc, 0) || rc)
		return;
	mms[nmms++] = mm_new(mm);
}

static void model_truncate(struct mobj *o, uint64_t size)
{
	uint64_t pages;

	if (size < o->size) {
		obj_cut(o, (size + PS - 1) / PS);
		if (size % PS)
			memset(obj_page_w(o, size / PS) + size % PS, 0, PS - size % PS);
	}
	if (size > o->size && o->size % PS)      /* growing zeroes what lay past the old end */
		memset(obj_page_w(o, o->size / PS) + o->size % PS, 0, PS - o->size % PS);
	o->size = size;
	pages = obj_pages(o);
	pins_obj_cut(o, pages);
	for (int i = 0; i < nmms; i++) {
		for (int j = 0; j < mms[i]->nsegs; j++) {
			struct mseg *s = &mms[i]->segs[j];

			if (s->obj != o || s->shared)
				continue;
			for (int k = 0; k < s->ncp; ) {
				if (s->pgoff + s->cp[k].pi >= pages) {
					pins_copy_gone(s->cp[k].id);
					copy_remove(s, k);
				} else {
					k++;
				}
			}
		}
	}
}

static void op_truncate(void)
{
	struct mobj *o = &objs[u8() % NR_OBJS];
	uint8_t b = u8();
	uint64_t size;
	int want = 0, rc;

	switch (b & 3) {
	case 0: size = (uint64_t)(u8() % 65) * PS; break;
	case 1: size = o->size + u16() % (8 * PS); break;
	case 2: size = u32() % (FILE_MAX + 1); break;
	default: size = o->size > 0 ? o->size - 1 - u16() % o->size : 0; break;
	}
	if (size > FILE_MAX)
		size = FILE_MAX;
	if ((b & 0xfc) == 0xfc)
		size = (uint64_t)INT64_MAX + 1 + u8();      /* -EINVAL */
	set_op("truncate obj%d %" PRIu64 " -> %" PRIu64, o->id, o->size, size);
	if (size > (uint64_t)INT64_MAX || o->ro)
		want = -EINVAL;
	before_step();
	rc = umm_object_truncate(o->uobj, size);
	outcome("umm_object_truncate", rc, want);
	if (rc) {
		if (umm_object_size(o->uobj) != o->size)
			FAIL("failed truncate changed the size");
		return;
	}
	ev[E_TRUNC_SHRINK] += size < o->size;
	model_truncate(o, size);
	if (umm_object_size(o->uobj) != size)
		FAIL("umm_object_size %" PRIu64 ", expected %" PRIu64, umm_object_size(o->uobj), size);
	for (int i = 0; i < nmms; i++)
		for (int j = 0; j < mms[i]->nsegs; j++)
			if (mms[i]->segs[j].obj == o) {
				const struct mseg *s = &mms[i]->segs[j];
				uint64_t eofpg = size / PS;

				if (eofpg >= s->pgoff && eofpg - s->pgoff < seg_pages(s))
					verify_range(mms[i], s->start + (eofpg - s->pgoff) * PS,
						     s->start + (eofpg - s->pgoff + 1) * PS);
				verify_page(mms[i], s->start);
			}
}

static void op_sync(void)
{
	struct mobj *o = &objs[u8() % NR_OBJS];
	uint8_t b = u8();
	uint64_t off = 0, len = 0;
	int want = 0, rc;

	switch (b & 3) {
	case 0: break;
	case 1:
		off = (uint64_t)(u8() % 80) * PS;
		off += b & 4 ? u8() : 0;
		len = (1 + u8() % 16) * PS;
		break;
	case 2: off = u64(); len = u64(); break;
	default: off = (uint64_t)(u8() % 80) * PS; len = 0; break;
	}
	set_op("sync obj%d off=%#" PRIx64 " len=%#" PRIx64, o->id, off, len);
	if (len && off + len < off)
		want = -EINVAL;
	else if (o->wb_err)
		want = -EIO;              /* recorded by an earlier MS_ASYNC */
	before_step();
	rc = umm_object_sync(o->uobj, off, len);
	disarm();
	if (rc != want && !(rc == -EIO && eio_injected(UMM_INJECT_WRITE)))
		FAIL("umm_object_sync returned %d (%s), model expects %d", rc, umm_strerror(rc), want);
	if (want != -EINVAL)
		o->wb_err = false;
	if (rc || o->fd < 0)
		return;
	{
		uint64_t first = off & ~(PS - 1);
		uint64_t end = len ? ((off + len - 1) & ~(PS - 1)) + PS : UINT64_MAX;

		if (end < first)
			end = UINT64_MAX;
		check_file(o, first, end, true);
		ev[E_SYNC_CHECKED]++;
	}
}

/* op_verify - every private copy and segment edge of an mm, and a range. */
static void op_verify(void)
{
	struct mmm *m = pick_mm();
	uintptr_t a = pick_addr(m);
	size_t len = pick_len();

	set_op("verify mm%d and %#lx len=%#zx", m->id, (unsigned long)a, len);
	disarm();                      /* a check, not a call under test */
	forced_verify = true;
	verify_copies(m);
	verify_range(m, a, a + (len < 16 * PS ? len : 16 * PS));
	forced_verify = false;
}

#ifdef UMM_PREPAGE_WRITE      /* the madvise/msync/mincore/prepage family has landed */

#ifdef UMM_PREPAGE_ASYNC      /* reads queued, nothing mapped, no copies made */
#define PREPAGE_ASYNC UMM_PREPAGE_ASYNC
#else
#define PREPAGE_ASYNC 0
#endif

/* range_check - the address-order walk of madvise/msync/mincore: first hole or bad segment. */
static int range_check(const struct mmm *m, uintptr_t start, uintptr_t end,
		       int (*bad)(const struct mseg *s, int arg), int arg)
{
	for (uintptr_t a = start; a < end; ) {
		const struct mseg *s = seg_at(m, a);
		int err;

		if (!s)
			return -ENOMEM;
		err = bad ? bad(s, arg) : 0;
		if (err)
			return err;
		a = s->end;
	}
	return 0;
}

static int madvise_bad(const struct mseg *s, int advice)
{
	switch (advice) {
	case MADV_DONTNEED:
		return s->vmf & VMF_LOCKED ? -EINVAL : 0;
	case MADV_FREE:
		return (s->vmf & VMF_LOCKED) || s->obj || s->shared ? -EINVAL : 0;
	case MADV_POPULATE_READ:
		return s->prot ? 0 : -EINVAL;
	case MADV_POPULATE_WRITE:
		return s->prot & PROT_WRITE ? 0 : -EINVAL;
	default:
		return 0;
	}
}

/* model_set_vmf - the flag-changing advices, on a hole-free range. */
static void model_set_vmf(struct mmm *m, uintptr_t start, uintptr_t end, unsigned clear, unsigned set)
{
	split_at(m, start);
	split_at(m, end);
	for (int i = 0; i < m->nsegs; i++)
		if (m->segs[i].start >= start && m->segs[i].end <= end)
			m->segs[i].vmf = (m->segs[i].vmf & ~clear) | set;
}

/* model_dontneed - private copies in [start, end) are dropped; shared pages stay in the cache. */
static void model_dontneed(struct mmm *m, uintptr_t start, uintptr_t end)
{
	for (int i = 0; i < m->nsegs; i++) {
		struct mseg *s = &m->segs[i];

		if (s->end <= start || s->start >= end)
			continue;
		for (int k = 0; k < s->ncp; ) {
			uintptr_t a = s->start + s->cp[k].pi * PS;

			if (a >= start && a < end) {
				pins_copy_gone(s->cp[k].id);
				copy_remove(s, k);
			} else {
				k++;
			}
		}
	}
}

static void op_madvise(void)
{
	static const int advs[] = {
		MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED, MADV_DONTNEED,
		MADV_FREE, MADV_POPULATE_READ, MADV_POPULATE_WRITE, MADV_DONTFORK, MADV_DOFORK,
		MADV_DONTNEED, MADV_POPULATE_WRITE, MADV_DONTNEED, MADV_REMOVE, MADV_HUGEPAGE, 1000,
	};
	struct mmm *m = pick_mm();
	uintptr_t addr = pick_addr(m), end = 0;
	size_t len = pick_len(), alen;
	int advice = advs[u8() % (sizeof(advs) / sizeof(advs[0]))], want = 0, rc;
	bool valid = false, populate = advice == MADV_POPULATE_READ || advice == MADV_POPULATE_WRITE;

	for (int i = 0; i < 13; i++)
		valid |= advice == advs[i];
	set_op("madvise mm%d %#lx len=%#zx advice=%d", m->id, (unsigned long)addr, len, advice);
	alen = (len + PS - 1) & ~(PS - 1);
	if (!valid || addr % PS)
		want = -EINVAL;
	else if (len && !alen)
		want = -EINVAL;
	else if (addr + alen < addr)
		want = -EINVAL;
	else if (alen == 0)
		want = 0;
	else if (addr + alen > UMM_TASK_SIZE)
		want = -ENOMEM;
	else {
		end = addr + alen;
		want = range_check(m, addr, end, madvise_bad, advice);
	}
	if (!want && end && populate && alen <= 256 * PS) {
		/* the first page an access would answer -EIO for: -EFAULT */
		for (uintptr_t a = addr; a < end && !want; a += PS) {
			const unsigned char *unused;
			int e = advice == MADV_POPULATE_WRITE ? write_expect(m, a) : model_page(m, a, &unused);

			if (e == -EIO)
				want = -EFAULT;
		}
	}
	if (populate && !want && alen > 256 * PS)
		return;                          /* the model walks every page */
	snap_take(m);
	before_step();
	rc = umm_madvise(m->mm, addr, len, advice);
	if (populate && rc == -EFAULT && want != -EFAULT && eio_injected(UMM_INJECT_READ))
		disarm();                        /* an injected read error, as madvise reports it */
	else
		outcome("umm_madvise", rc, want);
	if (advice == MADV_POPULATE_WRITE && end && (want == 0 || want == -EFAULT)) {
		/* in address order, stopping at the first failure; the pages before keep theirs */
		struct wrange r = { addr, end };

		if (!resolve_cows(m, &r, 1, true))
			return;
	}
	if (rc) {
		if (!populate)
			snap_same(m);
		return;
	}
	ev[E_MADVISE]++;
	if (!end)
		return;
	switch (advice) {
	case MADV_NORMAL: model_set_vmf(m, addr, end, VMF_RAND | VMF_SEQ, 0); break;
	case MADV_RANDOM: model_set_vmf(m, addr, end, VMF_SEQ, VMF_RAND); break;
	case MADV_SEQUENTIAL: model_set_vmf(m, addr, end, VMF_RAND, VMF_SEQ); break;
	case MADV_DONTFORK: model_set_vmf(m, addr, end, 0, VMF_DONTCOPY); break;
	case MADV_DOFORK: model_set_vmf(m, addr, end, VMF_DONTCOPY, 0); break;
	case MADV_DONTNEED: model_dontneed(m, addr, end); break;
	default: break;      /* WILLNEED, FREE (nothing is reclaimed), POPULATE_* */
	}
	verify_range(m, addr, end);
}

static int msync_bad(const struct mseg *s, int flags)
{
	return (flags & MS_INVALIDATE) && (s->vmf & VMF_LOCKED) ? -EBUSY : 0;
}

static void op_msync(void)
{
	static const int fl[] = { MS_SYNC, MS_ASYNC, MS_INVALIDATE, MS_SYNC | MS_INVALIDATE,
				  MS_SYNC, 0, MS_SYNC | MS_ASYNC, 0x100 };
	struct mmm *m = pick_mm();
	uintptr_t addr = pick_addr(m), end = 0;
	size_t len = pick_len(), alen;
	int flags = fl[u8() % 8], want = 0, rc;
	struct mobj *f = &objs[0];
	bool visits_file = false;

	set_op("msync mm%d %#lx len=%#zx flags=%#x", m->id, (unsigned long)addr, len, flags);
	alen = (len + PS - 1) & ~(PS - 1);
	if ((flags & ~(MS_ASYNC | MS_SYNC | MS_INVALIDATE)) || addr % PS)
		want = -EINVAL;
	else if ((flags & MS_ASYNC) && (flags & MS_SYNC))
		want = -EINVAL;
	else if ((len && !alen) || addr + alen < addr || addr + alen > UMM_TASK_SIZE)
		want = -ENOMEM;
	else if (alen) {
		end = addr + alen;
		want = range_check(m, addr, end, msync_bad, flags);
	}
	if (!want && end && (flags & (MS_SYNC | MS_ASYNC)))
		for (uintptr_t a = addr; a < end; ) {
			const struct mseg *s = seg_at(m, a);

			visits_file |= s->shared && s->obj == f;
			a = s->end;
		}
	if (!want && visits_file && (flags & MS_SYNC) && f->wb_err)
		want = -EIO;
	before_step();
	rc = umm_msync(m->mm, addr, len, flags);
	disarm();
	if (rc != want && !(rc == -EIO && eio_injected(UMM_INJECT_WRITE)))
		FAIL("umm_msync returned %d (%s), model expects %d", rc, umm_strerror(rc), want);
	if (want || !visits_file)
		return;
	if (flags & MS_SYNC) {
		f->wb_err = false;
		if (rc)
			return;
		for (uintptr_t a = addr; a < end; ) {          /* the file holds what they map */
			const struct mseg *s = seg_at(m, a);
			uintptr_t e = s->end < end ? s->end : end;

			if (s->shared && s->obj == f)
				check_file(f, (s->pgoff + (a - s->start) / PS) * PS,
					   (s->pgoff + (e - s->start) / PS) * PS, true);
			a = s->end;
		}
		ev[E_MSYNC]++;
	} else if (eio_injected(UMM_INJECT_WRITE)) {
		f->wb_err = true;        /* MS_ASYNC keeps the error for the next sync */
	}
}

static void op_mincore(void)
{
	static unsigned char vec[1024];
	struct mmm *m = pick_mm();
	uintptr_t addr = pick_addr(m);
	size_t len = pick_len(), pages;
	int want = 0, rc;

	set_op("mincore mm%d %#lx len=%#zx", m->id, (unsigned long)addr, len);
	if (addr % PS)
		want = -EINVAL;
	else if (addr > UMM_TASK_SIZE || len > UMM_TASK_SIZE - addr)
		want = -ENOMEM;
	pages = len / PS + (len % PS != 0);
	if (!want && pages)
		want = range_check(m, addr, addr + pages * PS, NULL, 0);
	if (!want && pages > sizeof(vec))
		return;                      /* a mapped range longer than the vector */
	memset(vec, 0xee, sizeof(vec));
	before_step();
	rc = umm_mincore(m->mm, addr, len, vec);
	outcome("umm_mincore", rc, want);
	if (rc)
		return;
	ev[E_MINCORE]++;
	for (size_t i = 0; i < pages; i++) {
		const struct mseg *s = seg_at(m, addr + i * PS);

		if (vec[i] > 1)
			FAIL("mincore vec[%zu] = %#x", i, vec[i]);
		if (!vec[i] && !s->shared && copy_at(s, (addr + i * PS - s->start) / PS))
			FAIL("mincore: page %#lx has a private copy but is not resident",
			     (unsigned long)(addr + i * PS));
	}
	if (pages < sizeof(vec) && vec[pages] != 0xee)
		FAIL("mincore wrote past the vector");
}

static void op_prepage(void)
{
	struct umm_prepage_tuple v[3];
	struct wrange r[3];
	struct mmm *m = pick_mm();
	uint8_t b = u8();
	size_t n = b % 4, bad = SIZE_MAX, got_bad;
	int flags = (b & 0x10 ? UMM_PREPAGE_WRITE : 0) | (b & 0x20 ? UMM_PREPAGE_SKIP_INVALID : 0) |
		    ((b & 0xc0) == 0xc0 ? 0x80 : 0) | ((b & 0xc0) == 0x40 ? PREPAGE_ASYNC : 0);
	int want = 0, rc, nr = 0;

	for (size_t i = 0; i < n; i++) {
		v[i].addr = pick_access(m);
		v[i].extent = u8() & 1 ? pick_len() : u16() % (8 * PS);
	}
	set_op("prepage mm%d n=%zu flags=%#x [%#lx+%#zx %#lx+%#zx %#lx+%#zx]", m->id, n, flags,
	       n > 0 ? (unsigned long)v[0].addr : 0UL, n > 0 ? v[0].extent : 0,
	       n > 1 ? (unsigned long)v[1].addr : 0UL, n > 1 ? v[1].extent : 0,
	       n > 2 ? (unsigned long)v[2].addr : 0UL, n > 2 ? v[2].extent : 0);
	if (flags & 0x80)
		want = -EINVAL;
	for (size_t i = 0; !want && i < n; i++) {
		bool ok = true;
		uintptr_t s = 0, e = 0;

		if (v[i].extent) {
			ok = v[i].addr >= UMM_MMAP_MIN_ADDR && v[i].addr < UMM_TASK_SIZE &&
			     v[i].extent <= UMM_TASK_SIZE - v[i].addr;
			if (ok) {
				s = v[i].addr & ~(PS - 1);
				e = (v[i].addr + v[i].extent + PS - 1) & ~(PS - 1);
				for (uintptr_t a = s; a < e && ok; ) {
					const struct mseg *sg = seg_at(m, a);

					ok = sg && sg->prot && (!(flags & UMM_PREPAGE_WRITE) ||
								(sg->prot & PROT_WRITE));
					a = sg ? sg->end : a;
				}
			}
		}
		if (!ok && !(flags & UMM_PREPAGE_SKIP_INVALID)) {
			want = -EFAULT;
			bad = i;
		} else if (ok && e > s) {
			r[nr].start = s;
			r[nr].end = e;
			nr++;
		}
	}
	before_step();
	rc = umm_prepage(m->mm, n ? v : NULL, n, flags);
	got_bad = umm_prepage_bad_index();
#ifdef UMM_PREPAGE_ASYNC
	if (flags & UMM_PREPAGE_ASYNC) {
		/* quiesce: the checks must not run beside queued reads (-EIO: an injected failure) */
		int w = umm_prepage_wait(m->mm);

		if (w && !(w == -EIO && eio_injected(UMM_INJECT_READ)))
			FAIL("umm_prepage_wait returned %d", w);
	}
#endif
	disarm();
	if (rc != want)
		FAIL("umm_prepage returned %d (%s), model expects %d", rc, umm_strerror(rc), want);
	if (rc == -EFAULT && got_bad != bad)
		FAIL("umm_prepage_bad_index %zu, expected %zu", got_bad, bad);
	ev[E_PREPAGE] += !rc;
	if (rc || !(flags & UMM_PREPAGE_WRITE) || !nr)
		return;
	/* sorted and merged, each range populated in order, stopping at its first failure */
	for (int i = 0; i < nr; i++)
		for (int j = i + 1; j < nr; j++)
			if (r[j].start < r[i].start) {
				struct wrange t = r[i];

				r[i] = r[j];
				r[j] = t;
			}
	for (int i = 0; i + 1 < nr; )
		if (r[i + 1].start <= r[i].end) {
			if (r[i + 1].end > r[i].end)
				r[i].end = r[i + 1].end;
			memmove(&r[i + 1], &r[i + 2], (nr - i - 2) * sizeof(r[0]));
			nr--;
		} else {
			i++;
		}
	resolve_cows(m, r, nr, nr == 1);
}

#endif /* UMM_PREPAGE_WRITE */

/* ---- failure injection sweep statistics ---- */

#define INJ_OPS 32
static unsigned char inj_seen[UMM_INJECT__COUNT][INJ_OPS][256];

/* fuzz_injection_points - distinct (site, step kind, skip) triples that produced a failure. */
unsigned long fuzz_injection_points(void)
{
	unsigned long n = 0;

	for (int s = 0; s < UMM_INJECT__COUNT; s++)
		for (int o = 0; o < INJ_OPS; o++)
			for (int k = 0; k < 256; k++)
				n += inj_seen[s][o][k];
	return n;
}

/*
 * mlock_range_expect - Linux's rounding of an mlock/munlock range: -EINVAL
 * when it wraps, -ENOMEM past UMM_TASK_SIZE or for a hole; 0 with
 * [*start, *end) (*end 0 for an empty range).
 */
static int mlock_range_expect(const struct mmm *m, uintptr_t addr, size_t len, uintptr_t *start,
			      uintptr_t *end)
{
	*start = *end = 0;
	if (len > UINTPTR_MAX - addr || addr + len > UINTPTR_MAX - (PS - 1))
		return -EINVAL;
	if (((addr + len + PS - 1) & ~(PS - 1)) > UMM_TASK_SIZE)
		return -ENOMEM;
	*start = addr & ~(PS - 1);
	*end = (addr + len + PS - 1) & ~(PS - 1);
	if (*start == *end) {
		*end = 0;
		return 0;
	}
	return range_check(m, *start, *end, NULL, 0);
}

/*
 * op_mlock - umm_mlock or umm_mlock2 (flags 0, MLOCK_ONFAULT, bad bits).
 * Locking without ONFAULT populates in address order: write faults in
 * private writable segments (their private copies), reads elsewhere,
 * PROT_NONE skipped; the first page that fails ends it, and the call
 * returns -ENOMEM (past the end of the object, a read error) or -EAGAIN
 * (out of memory) with the range locked.  A -ENOMEM while splitting
 * changes nothing; which of the two happened under injection is told by
 * locked_vm.
 */
static void op_mlock(void)
{
	static struct wrange r[256];
	struct mmm *m = pick_mm();
	uintptr_t addr = pick_addr(m), start, end;
	size_t len = pick_len();
	uint8_t k = u8();
	bool two = k & 2, applied = false;
	unsigned flags = two && (k & 1) ? MLOCK_ONFAULT : 0;
	unsigned long before = model_locked_pages(m), after = before;
	int want, rc, nr = 0;

	if (two && (k & 0x80))
		flags |= 1U << (u8() % 32);
	want = mlock_range_expect(m, addr, len, &start, &end);
	if (flags & ~MLOCK_ONFAULT)
		want = -EINVAL;
	if (want)
		end = 0;
	if (end && (end - start) / PS > 256)
		return;                          /* the model walks every page */
	for (uintptr_t a = start; end && a < end; a += PS) {
		const struct mseg *s = seg_at(m, a);

		after += !(s->vmf & VMF_LOCKED);
	}
	for (uintptr_t a = start; end && !(flags & MLOCK_ONFAULT) && !want && a < end; ) {
		const struct mseg *s = seg_at(m, a);
		uintptr_t e = s->end < end ? s->end : end;
		bool w = !s->shared && (s->prot & PROT_WRITE);

		if (s->prot && w)
			r[nr++] = (struct wrange){ a, e };
		for (uintptr_t p = a; s->prot && p < e && !want; p += PS) {
			const unsigned char *unused;

			if ((w ? write_expect(m, p) : model_page(m, p, &unused)) == -EIO)
				want = -ENOMEM;
		}
		a = e;
	}
	set_op("mlock%s mm%d %#lx len=%#zx flags=%#x", two ? "2" : "", m->id, (unsigned long)addr,
	       len, flags);
	snap_take(m);
	before_step();
	rc = two ? umm_mlock2(m->mm, addr, len, flags) : umm_mlock(m->mm, addr, len);
	if (end && (rc == -ENOMEM || rc == -EAGAIN) && step_had_failures()) {
		struct umm_mm_stats ms;

		disarm();
		umm_mm_stats(m->mm, &ms);
		if (rc == -EAGAIN && !enomem_allowed())
			FAIL("umm_mlock returned -EAGAIN while no allocation failed");
		if (ms.locked_vm != after && ms.locked_vm != before)
			FAIL("mm%d locked_vm %lu after a failed mlock: neither %lu nor %lu", m->id,
			     ms.locked_vm, before, after);
		if (before == after) {
			set_op("%s (whether it was applied is not known: mm%d dropped)", cur_op, m->id);
			drop_mm(m);
			return;
		}
		applied = ms.locked_vm == after;
		ev[E_ENOMEM]++;
	} else if (outcome(two ? "umm_mlock2" : "umm_mlock", rc, want)) {
		snap_same(m);
		return;
	} else {
		applied = end && (rc == 0 || rc == -ENOMEM);
	}
	if (!applied) {
		snap_same(m);
		return;
	}
	ev[E_MLOCK]++;
	model_set_vmf(m, start, end, VMF_LOCKED | VMF_ONFAULT,
		      VMF_LOCKED | (flags & MLOCK_ONFAULT ? VMF_ONFAULT : 0));
	pins_mm_changed(m);
	if (nr && !resolve_cows(m, r, nr, true))
		return;
	verify_range(m, start, end < start + 8 * PS ? end : start + 8 * PS);
}

/* op_munlock - umm_munlock of a range, or umm_munlockall; nothing is populated. */
static void op_munlock(void)
{
	struct mmm *m = pick_mm();
	uintptr_t addr = pick_addr(m), start, end;
	size_t len = pick_len();
	bool all = u8() % 8 == 0;
	int want, rc;

	want = all ? 0 : mlock_range_expect(m, addr, len, &start, &end);
	if (all) {
		start = 0;
		end = UMM_TASK_SIZE;
	}
	set_op("munlock%s mm%d %#lx len=%#zx", all ? "all" : "", m->id, (unsigned long)addr, len);
	snap_take(m);
	before_step();
	rc = all ? umm_munlockall(m->mm) : umm_munlock(m->mm, addr, len);
	if (outcome(all ? "umm_munlockall" : "umm_munlock", rc, want) || rc || !end) {
		snap_same(m);
		return;
	}
	ev[E_MUNLOCK]++;
	if (all) {
		for (int i = 0; i < m->nsegs; i++)
			m->segs[i].vmf &= ~(VMF_LOCKED | VMF_ONFAULT);
		return;
	}
	model_set_vmf(m, start, end, VMF_LOCKED | VMF_ONFAULT, 0);
	verify_range(m, start, end < start + 8 * PS ? end : start + 8 * PS);
}

/* ---- the run ---- */

enum { OP_MMAP, OP_MUNMAP, OP_MPROTECT, OP_MREMAP, OP_WRITE, OP_READ, OP_PIN, OP_UNPIN,
       OP_PIN_STORE, OP_FORK, OP_DESTROY, OP_CREATE, OP_TRUNCATE, OP_SYNC, OP_WRITE2,
       OP_READ2, OP_VERIFY, OP_MADVISE, OP_MSYNC, OP_MINCORE, OP_PREPAGE,
       OP_MLOCK, OP_MUNLOCK, OP_RESERVED3,             /* OP_RESERVED3: remap_file_pages */
       OP_INJECT, OP_NR };

static void run_op(int op)
{
	switch (op) {
	case OP_MMAP: op_mmap(); break;
	case OP_MUNMAP: op_munmap(); break;
	case OP_MPROTECT: op_mprotect(); break;
	case OP_MREMAP: op_mremap(); break;
	case OP_WRITE: case OP_WRITE2: op_write(); break;
	case OP_READ: case OP_READ2: op_read(); break;
	case OP_PIN: op_pin(); break;
	case OP_UNPIN: op_unpin(); break;
	case OP_PIN_STORE: op_pin_store(); break;
	case OP_FORK: op_fork(); break;
	case OP_DESTROY: op_destroy(); break;
	case OP_CREATE: op_create(); break;
	case OP_TRUNCATE: op_truncate(); break;
	case OP_SYNC: op_sync(); break;
	case OP_VERIFY: op_verify(); break;
#ifdef UMM_PREPAGE_WRITE
	case OP_MADVISE: op_madvise(); break;
	case OP_MSYNC: op_msync(); break;
	case OP_MINCORE: op_mincore(); break;
	case OP_PREPAGE: op_prepage(); break;
#endif
	case OP_MLOCK: op_mlock(); break;
	case OP_MUNLOCK: op_munlock(); break;
	default: break;
	}
}

static void step(void)
{
	int op = u8() % OP_NR;

	if (op == OP_INJECT) {
		static const long times_tab[] = { 1, 1, 2, -1 };
		uint8_t b = u8();
		int site = b % UMM_INJECT__COUNT;
		uint8_t k = u8();
		long skip = k < 224 ? k % 12 : k, times = times_tab[(b >> 4) & 3];
		unsigned long h0 = umm_inject_hits(sys, site);

		op = u8() % OP_NR;
		if (op == OP_INJECT)
			return;
		if (umm_inject_fault(sys, site, skip, times) != 0)
			FAIL("umm_inject_fault refused site %d", site);
		set_op("inject site=%d skip=%ld times=%ld", site, skip, times);
		run_op(op);
		disarm();
		if (umm_inject_hits(sys, site) > h0)
			inj_seen[site][op][skip] = 1;
		return;
	}
	run_op(op);
}

/*
 * open_tmpfile - a new file in a private temporary directory; the file
 * and the directory are removed at once (the descriptor keeps the file),
 * so nothing is left behind even when a finding aborts the run.
 */
static int open_tmpfile(void)
{
	char dir[] = "/tmp/usermm-fuzz-XXXXXX", path[64];
	int fd;

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		abort();
	}
	snprintf(path, sizeof(path), "%s/file", dir);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		perror(path);
		abort();
	}
	unlink(path);
	rmdir(dir);
	return fd;
}

static void setup(void)
{
	static const size_t phys[] = { 1UL << 20, 5UL << 18, 3UL << 19, 2UL << 20 };
	uint8_t b0 = u8(), b1 = u8(), b2 = u8(), b3 = u8();
	struct umm_config cfg = {
		.phys_bytes = phys[b0 & 3],
		.rmap = b0 & 4 ? UMM_RMAP_OBJECT : UMM_RMAP_PTE_CHAIN,
		.debug_checks = (b0 & 8) != 0,
	};
	struct umm_mm *mm = NULL;
	struct mobj *f = &objs[0], *sh = &objs[1], *ro = &objs[2];
	struct stat sb;
	char path[64];
	int rw;

	verbose = getenv("FUZZ_VERBOSE") != NULL;
	paranoid = getenv("FUZZ_PARANOID") != NULL;
	if (umm_system_create(&cfg, &sys) != 0)
		FAIL("umm_system_create failed");
	memset(objs, 0, sizeof(objs));
	memset(pins, 0, sizeof(pins));
	nr_hidden = 0;
	next_mm_id = 0;
	eager_verify = b0 & 0x10;
	trace_n = 0;
	gen = (uint64_t)b0 << 24 | (uint64_t)b1 << 16 | (uint64_t)b2 << 8 | b3;

	f->id = 0;
	f->size = (uint64_t)(b1 % 48) * PS + (b2 & 0x80 ? 0 : (b2 * 37u) % PS);
	f->fd = open_tmpfile();
	for (uint64_t a = 0; a < f->size; a += PS) {
		size_t n = f->size - a < PS ? (size_t)(f->size - a) : PS;
		unsigned char *pg = obj_page_w(f, a / PS);

		fill(pg, n);
		if (pwrite(f->fd, pg, n, (off_t)a) != (ssize_t)n)
			abort();
	}
	if (ftruncate(f->fd, (off_t)f->size) != 0 || fstat(f->fd, &sb) != 0)
		abort();
	f->ino = (unsigned long)sb.st_ino;
	if (umm_object_open_fd(sys, f->fd, &f->uobj) != 0)
		FAIL("umm_object_open_fd failed");
	/* a second file, opened read-only */
	ro->id = 2;
	ro->ro = true;
	ro->size = (uint64_t)(b3 % 16) * PS + (b3 & 0x40 ? 0 : 1000 + b3);
	rw = open_tmpfile();
	for (uint64_t a = 0; a < ro->size; a += PS) {
		size_t n = ro->size - a < PS ? (size_t)(ro->size - a) : PS;
		unsigned char *pg = obj_page_w(ro, a / PS);

		fill(pg, n);
		if (pwrite(rw, pg, n, (off_t)a) != (ssize_t)n)
			abort();
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", rw);
	ro->fd = open(path, O_RDONLY | O_CLOEXEC);
	close(rw);
	if (ro->fd < 0 || fstat(ro->fd, &sb) != 0)
		abort();
	ro->ino = (unsigned long)sb.st_ino;
	if (umm_object_open_fd(sys, ro->fd, &ro->uobj) != 0)
		FAIL("umm_object_open_fd(read-only) failed");
	sh->id = 1;
	sh->fd = -1;
	sh->size = (uint64_t)(b3 % 32) * PS;
	if (umm_object_create_shmem(sys, sh->size, &sh->uobj) != 0)
		FAIL("umm_object_create_shmem failed");
	if (umm_mm_create(sys, &mm) != 0)
		FAIL("umm_mm_create failed");
	nmms = 0;
	mms[nmms++] = mm_new(mm);
}

static void teardown(void)
{
	struct umm_sys_stats st;

	cur_step = -1;
	set_op("teardown");
	for (int s = 0; s < UMM_INJECT__COUNT; s++)
		umm_inject_fault(sys, s, 0, 0);
	forced_verify = true;
	for (int i = 0; i < nmms; i++)
		verify_copies(mms[i]);
	forced_verify = false;
	while (nmms) {
		umm_mm_destroy(mms[nmms - 1]->mm);
		model_mm_free(mms[--nmms]);
	}
	for (int i = 0; i < MAX_PINS; i++)
		if (pins[i].used)
			unpin(&pins[i]);
	if (nr_hidden)
		FAIL("model leaked %d hidden objects", nr_hidden);
	for (int i = 0; i < NR_OBJS; i++) {
		umm_object_put(objs[i].uobj);
		objs[i].uobj = NULL;
	}
	set_op("final writeback");
	check_file(&objs[0], 0, objs[0].size, false);
	check_file(&objs[2], 0, objs[2].size, false);
	close(objs[0].fd);
	close(objs[2].fd);
	for (int i = 0; i < NR_OBJS; i++)
		obj_free_pages(&objs[i]);
	set_op("leak check");
	if (umm_system_check(sys) != 0)
		FAIL("umm_system_check failed at the end");
	umm_system_stats(sys, &st);
	if (st.anon_pages || st.pagecache_pages || st.pgtable_pages || st.nr_objects || st.nr_mms)
		FAIL("left behind: anon %lu, pagecache %lu, pgtable %lu, objects %lu, mms %lu",
		     st.anon_pages, st.pagecache_pages, st.pgtable_pages, st.nr_objects, st.nr_mms);
	umm_system_destroy(sys);
	sys = NULL;
	free(snap_buf);
	snap_buf = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	in = data;
	in_len = size;
	in_pos = 0;
	cur_step = -1;
	set_op("setup");
	setup();
	check_all();
	for (cur_step = 0; cur_step < MAX_STEPS && in_pos < in_len; cur_step++) {
		step();
		check_all();
	}
	teardown();
	return 0;
}

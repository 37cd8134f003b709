/* SPDX-License-Identifier: MIT */
/*
 * test_model.c - model-based random test of the whole public interface.
 *
 * Theory of operation.  A trivially correct reference model runs beside
 * usermm and both are driven by the same random operations: mmap (private
 * or shared, anonymous or of an object, fixed, hinted or free placement),
 * munmap, mprotect, mremap, umm_write, umm_read, umm_pin_pages (reading
 * and writing through the pins), umm_fork, umm_mm_destroy,
 * umm_object_truncate, umm_object_sync, umm_madvise (DONTNEED, FREE,
 * POPULATE_READ/WRITE, WILLNEED, the readahead hints, DONTFORK/DOFORK)
 * umm_msync, umm_prepage, umm_mincore, umm_mlock, umm_mlock2(MLOCK_ONFAULT),
 * umm_munlock, umm_mlockall(MCL_CURRENT), umm_munlockall and
 * umm_remap_file_pages (single and vectored, with and without
 * MAP_NONBLOCK, prot 0 or a per-page protection, bad entries; sometimes
 * followed by stores through the remapped pages and umm_msync of them);
 * mmap sometimes adds MAP_POPULATE or MAP_LOCKED (with MAP_NONBLOCK only
 * where what is cached cannot show: the model does not track the cache).  After every step the model and
 * usermm are compared: the return code of the call, the bytes and fault
 * codes of the pages the step touched (and, every few steps, of every
 * mapped page and the edges of every hole), umm_mm_check(), and the
 * counters of umm_mm_stats()/umm_system_stats().
 *
 * The model of one address space is a sorted array of segments.  A segment
 * never merges with a neighbour, so the real VMAs are unions of segments:
 * nr_vmas lies between the number of maximal mapped runs and the number of
 * segments.  Page contents:
 *   - an object (file, shmem object, or the hidden object of a shared
 *     anonymous mapping) owns one byte array; shared mappings and un-COWed
 *     private pages of every address space read it, shared writes change it;
 *   - a private page gets its own copy at its first successful write (zero
 *     page for anonymous memory, the object's current page for a file), and
 *     fork duplicates those copies;
 *   - a page wholly past the object's end is -EIO; bytes of the last page
 *     past the end are zero in the object.  Shrinking drops private copies
 *     of pages wholly past the new end (Linux zaps COWed pages too) and
 *     keeps the copy of a partial last page.
 * Writes are applied page by page in address order and stop at the first
 * page that faults, which is what <usermm/access.h> promises.  Populating
 * a private writable mapping for writing (MAP_POPULATE, POPULATE_WRITE)
 * gives each page its private copy now, in address order, up to the first
 * page past the object's end; DONTNEED drops private copies; DONTFORK
 * segments are not copied by fork.  A segment remembers whether it is
 * locked: locked_vm must equal the pages of the locked segments; locking
 * (without ONFAULT) populates like MAP_POPULATE and returns -ENOMEM at
 * the first accessible page past its object's end, the range locked all
 * the same; mlockall and a grown locked mapping populate every page they
 * can; DONTNEED and FREE on a locked segment are -EINVAL, MS_INVALIDATE
 * -EBUSY; fork does not copy the lock.  A remapped segment (a nonlinear
 * window) records the object page each of its pages shows and the
 * protection a remap gave it; every operation above then acts on those
 * pages (split, fork, moved by mremap, own protections dropped by
 * mprotect; a remap discards a page's private copy; a private copy made
 * there is dropped by truncate when the page it came from goes).  Shared
 * writes never touch bytes past end-of-file (they are clipped), because
 * what such bytes read back as is not part of the contract.
 *
 * Usage: test_model [seed [steps [phys_mb]]].  Without arguments several
 * seeds run in 64 MiB, then two in 2 MiB with swap, where reclaim evicts
 * pages under the model;
 * UMM_MODEL_STEPS scales the steps per seed, UMM_MODEL_VERBOSE=1 prints
 * every operation, UMM_MODEL_FULL=N verifies everything every N steps.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <time.h>
#include <usermm/usermm.h>
#include "test.h"

#define PS            4096UL
#define WIN_BASE      0x10000000UL          /* random fixed addresses land here */
#define WIN_PAGES     (64UL << 20 >> 12)    /* 64 MiB window */
#define MAX_MMS       4
#define NR_FILES      3
#define NR_OBJS       (NR_FILES + 1)        /* 3 files and one shmem object */
#define OBJ_MAX_BYTES (1UL << 20)
#define DEFAULT_PHYS_MB 64UL
#define SMALL_PHYS_MB 2UL                   /* the objects alone are 4 MiB: reclaim must run */

/*
 * model_swap - this run is a small-memory one with a swap device
 * (run_seed): private copies may be swapped out, and it makes no mlock
 * calls nor MAP_LOCKED mappings (locking all of 2 MiB is an -ENOMEM the
 * model does not predict).  It remaps like the other runs: private copies
 * in windows, with their pages' own protection, go to swap and back.
 */
static bool model_swap;
#define MAX_MAP_PAGES 32
#define MAX_MM_PAGES  3000                  /* prefer unmapping beyond this */

/* ---- random numbers (xorshift64*) ---- */

static uint64_t rng;

static uint64_t rnd64(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ULL;
}

static uint64_t rnd(uint64_t n)
{
	return n ? rnd64() % n : 0;
}

static void fill_random(unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)rnd64();
}

/* ---- failure reporting ---- */

static uint64_t cur_seed;
static long cur_step;
static char cur_op[256];
static char trace[32][300];
static unsigned trace_n;
static bool verbose;

/* outcomes seen, printed per seed so a run that exercises nothing shows */
enum { C_EFAULT, C_EIO, C_ENOMEM, C_MOVE, C_GROW, C_COW, C_FORK, C_SHRINK, C_SYNC,
       C_WRITE_OK, C_WRITE_FAIL, C_PIN_OK, C_MADV_OK, C_MADV_FAIL, C_DONTNEED, C_MSYNC,
       C_POPULATE, C_PREPAGE_OK, C_PREPAGE_BAD, C_MLOCK, C_MUNLOCK, C_REMAP, C_REMAP_V,
       C_REMAP_BAD, C_WIN_FORK, C_WIN_MOVE, C_WIN_MSYNC, C_WIN_COPY, C_NR };
static const char *const cov_names[C_NR] = {
	"-EFAULT", "-EIO", "mprotect/mremap -ENOMEM", "mremap moves", "mremap in place",
	"private copies", "forks", "shrinking truncates", "syncs", "whole writes",
	"failed writes", "pins", "madvise ok", "madvise errors", "dontneeds", "msyncs",
	"populating mmaps", "prepages", "prepages with invalid tuples", "mlocks", "munlocks",
	"remaps", "vectored remaps", "failed remaps", "forks with windows", "moved window parts",
	"msyncs of windows", "private copies in windows",
};
static unsigned long cov[C_NR];

static void dump_trace(void)
{
	unsigned first = trace_n > 32 ? trace_n - 32 : 0;

	fprintf(stderr, "last operations:\n");
	for (unsigned i = first; i < trace_n; i++)
		fprintf(stderr, "  %s\n", trace[i % 32]);
}

#define FAIL(...) do { \
	fprintf(stderr, "test_model: MISMATCH seed=%" PRIu64 " step=%ld op=[%s] (line %d)\n  ", \
		cur_seed, cur_step, cur_op, __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); \
	dump_trace(); fflush(stderr); \
	_exit(1); } while (0)

#define EXPECT_RC(got, want) do { int __g = (got), __w = (want); test_checks++; \
	if (__g != __w) FAIL("%s returned %d (%s), expected %d (%s)", #got, __g, \
			     umm_strerror(__g), __w, umm_strerror(__w)); } while (0)

__attribute__((format(printf, 1, 2)))
static void set_op(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cur_op, sizeof(cur_op), fmt, ap);
	va_end(ap);
	snprintf(trace[trace_n % 32], sizeof(trace[0]), "%ld: %s", cur_step, cur_op);
	trace_n++;
	if (verbose)
		fprintf(stderr, "%ld: %s\n", cur_step, cur_op);
}

/* ---- the model ---- */

struct mobj {
	struct umm_object *uobj;   /* NULL for the hidden object of a shared anon mapping */
	int fd;                    /* files: our descriptor, for pread checks; else -1 */
	bool hidden;
	int id;
	uint64_t size;             /* bytes */
	unsigned char *data;       /* cap bytes; bytes past size are zero */
	size_t cap;
	int nr_maps;               /* segments (in all mms) that map it */
};

struct mseg {
	uintptr_t start, end;
	int prot;
	bool shared;
	struct mobj *obj;          /* NULL: private anonymous */
	uint64_t pgoff;            /* object page mapped at start */
	unsigned char **priv;      /* private segments: per page COW copy or NULL */
	bool dontfork;             /* MADV_DONTFORK */
	bool locked;               /* mlock, MAP_LOCKED */
	bool onfault;              /* locked with MLOCK_ONFAULT: not populated */
	uint64_t *nl_off;          /* remapped (nonlinear): object page per page, else NULL */
	unsigned char *nl_prot;    /* with nl_off: a page's own protection (0: the segment's) */
};

struct mmm {
	struct umm_mm *mm;
	int id;
	struct mseg *segs;
	int nsegs, cap;
};

static struct umm_system *sys;
static struct mobj objs[NR_OBJS];
static int nr_hidden;              /* live hidden objects */
static struct mmm *mms[MAX_MMS];
static int nmms;
static int next_mm_id;
static const unsigned char zero_page[PS];

static uint64_t obj_pages(const struct mobj *o)
{
	return (o->size + PS - 1) / PS;
}

static size_t seg_pages(const struct mseg *s)
{
	return (s->end - s->start) / PS;
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p) {
		perror("malloc");
		exit(2);
	}
	return p;
}

static void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz);

	if (!p) {
		perror("calloc");
		exit(2);
	}
	return p;
}

/* ---- nonlinear windows (umm_remap_file_pages) in the model ---- */

/*
 * A remapped segment has nl_off: the object page each of its pages shows
 * (pages never remapped keep their linear page, pgoff + i), and nl_prot:
 * the protection a remap with prot != 0 gave a page (0: the segment's).
 * A page with its own protection is always readable (x86 rules).  The
 * real VMA that holds the segment is nonlinear; the model does not track
 * which of its other segments share that VMA: their pages show their
 * linear pages either way.
 */

/* seg_page_index - the object page page pi of s shows. */
static uint64_t seg_page_index(const struct mseg *s, size_t pi)
{
	return s->nl_off ? s->nl_off[pi] : s->pgoff + pi;
}

static bool seg_page_readable(const struct mseg *s, size_t pi)
{
	return (s->nl_prot && s->nl_prot[pi]) || s->prot != PROT_NONE;
}

static bool seg_page_writable(const struct mseg *s, size_t pi)
{
	return ((s->nl_prot && s->nl_prot[pi]) ? s->nl_prot[pi] : s->prot) & PROT_WRITE;
}

/*
 * seg_nl_slice - dst (npages pages, its pgoff set) gets the nonlinear
 * state of src's pages [from, from + have); its pages past those are
 * linear.
 */
static void seg_nl_slice(struct mseg *dst, const struct mseg *src, size_t from, size_t have,
			 size_t npages)
{
	dst->nl_off = NULL;
	dst->nl_prot = NULL;
	if (!src->nl_off)
		return;
	dst->nl_off = calloc(npages ? npages : 1, sizeof(*dst->nl_off));
	dst->nl_prot = calloc(npages ? npages : 1, 1);
	if (!dst->nl_off || !dst->nl_prot)
		exit(2);
	for (size_t i = 0; i < npages; i++) {
		dst->nl_off[i] = i < have ? src->nl_off[from + i] : dst->pgoff + i;
		dst->nl_prot[i] = i < have ? src->nl_prot[from + i] : 0;
	}
}

/* seg_nl_grow - s grows in place from sp to np pages: the new pages are linear. */
static void seg_nl_grow(struct mseg *s, size_t sp, size_t np)
{
	struct mseg grown = *s;

	if (!s->nl_off)
		return;
	seg_nl_slice(&grown, s, 0, sp, np);
	free(s->nl_off);
	free(s->nl_prot);
	s->nl_off = grown.nl_off;
	s->nl_prot = grown.nl_prot;
}

/* seg_nl_drop_prot - mprotect over the segment: its pages lose their own protections. */
static void seg_nl_drop_prot(struct mseg *s)
{
	if (s->nl_prot)
		memset(s->nl_prot, 0, seg_pages(s));
}

static void seg_nl_free(struct mseg *s)
{
	free(s->nl_off);
	free(s->nl_prot);
	s->nl_off = NULL;
	s->nl_prot = NULL;
}

static void obj_unref(struct mobj *o)
{
	if (!o)
		return;
	o->nr_maps--;
	if (o->hidden && o->nr_maps == 0) {
		free(o->data);
		free(o);
		nr_hidden--;
	}
}

/* seg_index - index of the segment containing addr, or -1. */
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

/* seg_insert_at - make room at index i and store s there. */
static void seg_insert_at(struct mmm *m, int i, const struct mseg *s)
{
	if (m->nsegs == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 16;
		m->segs = realloc(m->segs, m->cap * sizeof(*m->segs));
		if (!m->segs)
			exit(2);
	}
	memmove(&m->segs[i + 1], &m->segs[i], (m->nsegs - i) * sizeof(*s));
	m->segs[i] = *s;
	m->nsegs++;
}

/* seg_insert - insert a segment that overlaps nothing, keeping the order. */
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
	size_t lo_pages, hi_pages;

	if (i < 0 || m->segs[i].start == addr)
		return;
	s = &m->segs[i];
	lo_pages = (addr - s->start) / PS;
	hi_pages = (s->end - addr) / PS;
	hi = *s;
	hi.start = addr;
	hi.pgoff = s->pgoff + lo_pages;
	if (s->priv) {
		hi.priv = xcalloc(hi_pages, sizeof(*hi.priv));
		memcpy(hi.priv, s->priv + lo_pages, hi_pages * sizeof(*hi.priv));
	}
	seg_nl_slice(&hi, s, lo_pages, hi_pages, hi_pages);
	s->end = addr;
	if (hi.obj)
		hi.obj->nr_maps++;
	seg_insert_at(m, i + 1, &hi);
}

static void seg_free(struct mseg *s)
{
	if (s->priv) {
		for (size_t i = 0; i < seg_pages(s); i++)
			free(s->priv[i]);
		free(s->priv);
	}
	seg_nl_free(s);
	obj_unref(s->obj);
}

/* model_remove - unmap [start, end) in the model. */
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

static bool model_range_free(const struct mmm *m, uintptr_t start, uintptr_t end)
{
	for (int i = 0; i < m->nsegs; i++)
		if (m->segs[i].start < end && m->segs[i].end > start)
			return false;
	return true;
}

/* model_range_mapped - every page of [start, end) is in some segment. */
static bool model_range_mapped(const struct mmm *m, uintptr_t start, uintptr_t end)
{
	uintptr_t a = start;

	while (a < end) {
		const struct mseg *s = seg_at(m, a);

		if (!s)
			return false;
		a = s->end;
	}
	return true;
}

static unsigned long model_total_pages(const struct mmm *m)
{
	unsigned long n = 0;

	for (int i = 0; i < m->nsegs; i++)
		n += seg_pages(&m->segs[i]);
	return n;
}

/* model_locked_pages - pages of the locked segments (locked_vm). */
static unsigned long model_locked_pages(const struct mmm *m)
{
	unsigned long n = 0;

	for (int i = 0; i < m->nsegs; i++)
		n += m->segs[i].locked ? seg_pages(&m->segs[i]) : 0;
	return n;
}

/* model_runs - maximal runs of contiguous mapped pages (a lower bound on VMAs). */
static unsigned long model_runs(const struct mmm *m)
{
	unsigned long n = 0;

	for (int i = 0; i < m->nsegs; i++)
		if (i == 0 || m->segs[i - 1].end != m->segs[i].start)
			n++;
	return n;
}

/*
 * model_page - what reading the page at addr gives: 0 with *out set to its
 * expected bytes, -EFAULT or -EIO.
 */
static int model_page(const struct mmm *m, uintptr_t addr, const unsigned char **out)
{
	const struct mseg *s = seg_at(m, addr);
	size_t pi;
	uint64_t idx;

	if (!s || !seg_page_readable(s, (addr - s->start) / PS))
		return -EFAULT;
	pi = (addr - s->start) / PS;
	if (s->priv && s->priv[pi]) {
		*out = s->priv[pi];
		return 0;
	}
	if (!s->obj) {
		*out = zero_page;
		return 0;
	}
	idx = seg_page_index(s, pi);
	if (idx >= obj_pages(s->obj))
		return -EIO;
	*out = s->obj->data + idx * PS;
	return 0;
}

/* model_write_piece - write n bytes within one page; 0, -EFAULT or -EIO (nothing written). */
static int model_write_piece(struct mmm *m, uintptr_t addr, const unsigned char *src, size_t n)
{
	struct mseg *s = seg_at(m, addr);
	size_t pi;
	uint64_t idx;

	if (!s || !seg_page_writable(s, (addr - s->start) / PS))
		return -EFAULT;
	pi = (addr - s->start) / PS;
	idx = seg_page_index(s, pi);
	if (s->shared) {
		if (idx >= obj_pages(s->obj))
			return -EIO;
		memcpy(s->obj->data + idx * PS + addr % PS, src, n);
		return 0;
	}
	if (!s->priv[pi]) {
		unsigned char *p;

		cov[C_COW]++;
		cov[C_WIN_COPY] += s->nl_off != NULL;

		if (s->obj && idx >= obj_pages(s->obj))
			return -EIO;
		p = xmalloc(PS);
		memcpy(p, s->obj ? s->obj->data + idx * PS : zero_page, PS);
		s->priv[pi] = p;
	}
	memcpy(s->priv[pi] + addr % PS, src, n);
	return 0;
}

/* model_write - as umm_write: page by page, stopping at the first fault. */
static int model_write(struct mmm *m, uintptr_t addr, const unsigned char *src, size_t len)
{
	while (len) {
		size_t n = PS - addr % PS;
		int err;

		if (n > len)
			n = len;
		err = model_write_piece(m, addr, src, n);
		if (err)
			return err;
		addr += n;
		src += n;
		len -= n;
	}
	return 0;
}

/*
 * shared_write_limit - clip a write so that it does not store bytes past
 * end-of-file through a shared mapping: the new length.
 */
static size_t shared_write_limit(const struct mmm *m, uintptr_t addr, size_t len)
{
	uintptr_t a = addr & ~(PS - 1);

	for (; a < addr + len; a += PS) {
		const struct mseg *s = seg_at(m, a);
		uint64_t idx, eof;

		if (!s || !seg_page_writable(s, (a - s->start) / PS))
			break;                 /* the write faults here anyway */
		if (!s->shared)
			continue;
		idx = seg_page_index(s, (a - s->start) / PS);
		if (idx >= obj_pages(s->obj))
			break;                 /* -EIO here */
		eof = s->obj->size;
		if (eof % PS && idx == eof / PS) {
			uintptr_t stop = a + eof % PS;

			if (stop >= addr + len)
				return len;    /* ends before end-of-file */
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

/* model_fork - a copy of m for the child: private pages duplicated, objects aliased. */
static struct mmm *model_fork(const struct mmm *m, struct umm_mm *child)
{
	struct mmm *c = mm_new(child);

	for (int i = 0; i < m->nsegs; i++) {
		struct mseg s = m->segs[i];

		if (s.dontfork)
			continue;
		s.locked = s.onfault = false;   /* fork does not inherit mlock */
		if (s.priv) {
			s.priv = xcalloc(seg_pages(&s), sizeof(*s.priv));
			for (size_t p = 0; p < seg_pages(&s); p++) {
				if (m->segs[i].priv[p]) {
					s.priv[p] = xmalloc(PS);
					memcpy(s.priv[p], m->segs[i].priv[p], PS);
				}
			}
		}
		seg_nl_slice(&s, &m->segs[i], 0, seg_pages(&s), seg_pages(&s));
		if (s.obj)
			s.obj->nr_maps++;
		seg_insert_at(c, c->nsegs, &s);
	}
	return c;
}

static void model_mm_free(struct mmm *m)
{
	for (int i = 0; i < m->nsegs; i++)
		seg_free(&m->segs[i]);
	free(m->segs);
	free(m);
}

/* ---- comparing the model with usermm ---- */

/* seg_describe - the model's view of the page at addr, for mismatch reports. */
static const char *seg_describe(const struct mmm *m, uintptr_t addr)
{
	static char buf[300];
	const struct mseg *s = seg_at(m, addr);
	size_t pi;

	if (!s)
		return "unmapped";
	pi = (addr - s->start) / PS;
	snprintf(buf, sizeof(buf), "segment [%#lx,%#lx) prot=%d %s obj=%d (size %" PRIu64
		 ") page index %" PRIu64 ", %s", (unsigned long)s->start, (unsigned long)s->end,
		 s->prot, s->shared ? "shared" : "private", s->obj ? s->obj->id : -1,
		 s->obj ? s->obj->size : 0, seg_page_index(s, pi),
		 s->priv && s->priv[pi] ? "private copy" : "no private copy");
	if (s->nl_off)
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), ", remapped, own prot %d",
			 s->nl_prot[pi]);
	return buf;
}

static void verify_page(struct mmm *m, uintptr_t addr)
{
	static unsigned char buf[PS];
	const unsigned char *exp = NULL;
	int want = model_page(m, addr, &exp);
	int got = umm_read(m->mm, addr, buf, PS);

	cov[C_EFAULT] += want == -EFAULT;
	cov[C_EIO] += want == -EIO;

	test_checks++;
	if (got != want)
		FAIL("umm_read(mm%d, %#lx, 4096) = %d (%s), model says %d (%s); %s", m->id,
		     (unsigned long)addr, got, umm_strerror(got), want, umm_strerror(want),
		     seg_describe(m, addr));
	if (got == 0 && memcmp(buf, exp, PS) != 0) {
		size_t i = 0;

		while (buf[i] == exp[i])
			i++;
		FAIL("mm%d page %#lx differs at +%#zx: got %#x, model %#x; %s", m->id,
		     (unsigned long)addr, i, buf[i], exp[i], seg_describe(m, addr));
	}
}

/* verify_range - the pages of [start, end) and one on each side (at most 96 pages). */
static void verify_range(struct mmm *m, uintptr_t start, uintptr_t end)
{
	uintptr_t a;
	unsigned n = 0;

	start &= ~(PS - 1);
	if (start >= UMM_MMAP_MIN_ADDR + PS)
		start -= PS;
	end = (end + PS - 1) & ~(PS - 1);
	if (end + PS <= UMM_TASK_SIZE)
		end += PS;
	for (a = start; a < end && n < 96; a += PS, n++)
		verify_page(m, a);
	if (a < end)
		verify_page(m, end - PS);
}

/* verify_all - every mapped page, and the pages on both sides of every hole. */
static void verify_all(struct mmm *m)
{
	for (int i = 0; i < m->nsegs; i++) {
		const struct mseg *s = &m->segs[i];

		for (uintptr_t a = s->start; a < s->end; a += PS)
			verify_page(m, a);
		if (s->start - PS >= UMM_MMAP_MIN_ADDR)
			verify_page(m, s->start - PS);
		if (s->end < UMM_TASK_SIZE)
			verify_page(m, s->end);
	}
	for (int i = 0; i < 4; i++)
		verify_page(m, WIN_BASE + rnd(WIN_PAGES) * PS);
}

/* check_mm - invariant check and counters of one address space. */
static void check_mm(struct mmm *m)
{
	struct umm_mm_stats st;
	unsigned long total = model_total_pages(m);

	test_checks++;
	if (umm_mm_check(m->mm) != 0)
		FAIL("umm_mm_check(mm%d) failed", m->id);
	EXPECT_RC(umm_mm_stats(m->mm, &st), 0);
	test_checks++;
	if (st.total_vm != total)
		FAIL("mm%d total_vm %lu, model maps %lu pages", m->id, st.total_vm, total);
	if (st.locked_vm != model_locked_pages(m))
		FAIL("mm%d locked_vm %lu, model locks %lu pages", m->id, st.locked_vm, model_locked_pages(m));
	if (st.nr_vmas < model_runs(m) || st.nr_vmas > (unsigned long)m->nsegs)
		FAIL("mm%d nr_vmas %lu, model: %lu runs, %d segments", m->id, st.nr_vmas,
		     model_runs(m), m->nsegs);
	if (st.rss_anon + st.rss_file + st.rss_shmem > total)
		FAIL("mm%d rss %lu+%lu+%lu > %lu mapped pages", m->id, st.rss_anon,
		     st.rss_file, st.rss_shmem, total);
}

static void check_system(void)
{
	struct umm_sys_stats st;
	int want_objs = nr_hidden;

	for (int i = 0; i < NR_OBJS; i++)
		want_objs += objs[i].uobj != NULL;
	EXPECT_RC(umm_system_stats(sys, &st), 0);
	test_checks++;
	if (st.nr_mms != (unsigned long)nmms)
		FAIL("nr_mms %lu, model %d", st.nr_mms, nmms);
	if (st.nr_objects != (unsigned long)want_objs)
		FAIL("nr_objects %lu, model %d (%d hidden shared-anon objects)",
		     st.nr_objects, want_objs, nr_hidden);
	if (st.free_frames > st.total_frames)
		FAIL("free_frames %lu > total_frames %lu", st.free_frames, st.total_frames);
}

/* check_file - the real file holds the object's bytes in [from, to). */
static void check_file(struct mobj *o, uint64_t from, uint64_t to)
{
	struct stat sb;
	unsigned char *buf;
	ssize_t n;

	test_checks++;
	if (fstat(o->fd, &sb) != 0 || (uint64_t)sb.st_size != o->size)
		FAIL("file %d has size %lld, model %" PRIu64, o->id, (long long)sb.st_size, o->size);
	if (to > o->size)
		to = o->size;
	if (from >= to)
		return;
	buf = xmalloc(to - from);
	n = pread(o->fd, buf, to - from, (off_t)from);
	if (n != (ssize_t)(to - from))
		FAIL("pread file %d: %zd", o->id, n);
	if (memcmp(buf, o->data + from, to - from) != 0) {
		size_t i = 0;

		while (buf[i] == o->data[from + i])
			i++;
		FAIL("file %d differs at offset %#" PRIx64 ": file %#x, model %#x", o->id,
		     from + i, buf[i], o->data[from + i]);
	}
	free(buf);
}

/* ---- random operations ---- */

static const int prots[] = {
	PROT_NONE, PROT_READ, PROT_READ, PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE,
	PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE, PROT_WRITE,
	PROT_EXEC, PROT_READ | PROT_EXEC, PROT_READ | PROT_WRITE | PROT_EXEC,
};

static uintptr_t win_addr(size_t pages)
{
	return WIN_BASE + rnd(WIN_PAGES - pages) * PS;
}

/* pick_range - a random range, half the time around an existing segment. */
static void pick_range(struct mmm *m, uintptr_t *start, size_t *pages)
{
	if (m->nsegs && rnd(2)) {
		const struct mseg *s = &m->segs[rnd(m->nsegs)];
		size_t sp = seg_pages(s);

		switch (rnd(4)) {
		case 0:                        /* exactly the segment */
			*start = s->start;
			*pages = sp;
			return;
		case 1:                        /* inside it */
			*start = s->start + rnd(sp) * PS;
			*pages = 1 + rnd((s->end - *start) / PS);
			return;
		default:                       /* straddling its edges */
			*start = s->start - rnd(4) * PS;
			*pages = sp + rnd(8);
			if (*start < UMM_MMAP_MIN_ADDR)
				*start = s->start;
			if (*start + *pages * PS > UMM_TASK_SIZE)
				*pages = (UMM_TASK_SIZE - *start) / PS;
			return;
		}
	}
	*pages = 1 + rnd(64);
	*start = win_addr(*pages);
}

/*
 * model_populate_write - a write populate of [start, end) (mapped,
 * writable): page by page in address order, private pages get their copy;
 * stops at the first page past its object's end.  0, or -EIO there.
 */
static int model_populate_write(struct mmm *m, uintptr_t start, uintptr_t end)
{
	for (uintptr_t a = start; a < end; a += PS) {
		static const unsigned char none;
		int err = model_write_piece(m, a, &none, 0);

		if (err)
			return err;
	}
	return 0;
}

/*
 * model_populate_locked - what mlock's populate does to [start, end):
 * for each accessible page in address order, a page past its object's
 * end is an error (the first ends it unless ignore_errors), a private
 * writable page gets its copy.  Returns 0 or -EIO.
 */
static int model_populate_locked(struct mmm *m, uintptr_t start, uintptr_t end, bool ignore_errors)
{
	static const unsigned char none;
	int first = 0;

	for (uintptr_t a = start; a < end; a += PS) {
		const struct mseg *s = seg_at(m, a);
		const unsigned char *unused;
		int err;

		if (!s || s->prot == PROT_NONE)
			continue;
		if (!s->shared && (s->prot & PROT_WRITE))
			err = model_write_piece(m, a, &none, 0);
		else
			err = model_page(m, a, &unused) == -EIO ? -EIO : 0;
		if (err && !first)
			first = err;
		if (err && !ignore_errors)
			break;
	}
	return first;
}

/* model_set_locked - [start, end) (mapped) becomes locked (on fault) or unlocked. */
static void model_set_locked(struct mmm *m, uintptr_t start, uintptr_t end, bool locked, bool onfault)
{
	split_at(m, start);
	split_at(m, end);
	for (int i = 0; i < m->nsegs; i++) {
		if (m->segs[i].start >= start && m->segs[i].end <= end) {
			m->segs[i].locked = locked;
			m->segs[i].onfault = onfault;
		}
	}
}

/*
 * op_mlock - umm_mlock, umm_mlock2(MLOCK_ONFAULT) or umm_munlock of a
 * random range, sometimes umm_mlockall(MCL_CURRENT) or umm_munlockall.
 */
static void op_mlock(struct mmm *m)
{
	int kind = (int)rnd(10), want;
	uintptr_t start, end;
	size_t pages, len;
	bool mapped;

	if (kind == 0) {
		set_op("mlockall mm%d MCL_CURRENT", m->id);
		EXPECT_RC(umm_mlockall(m->mm, MCL_CURRENT), 0);
		cov[C_MLOCK]++;
		for (int i = 0; i < m->nsegs; i++) {
			m->segs[i].locked = true;
			m->segs[i].onfault = false;
		}
		for (int i = 0; i < m->nsegs; i++)
			(void)model_populate_locked(m, m->segs[i].start, m->segs[i].end, true);
		verify_all(m);
		return;
	}
	if (kind == 1) {
		set_op("munlockall mm%d", m->id);
		EXPECT_RC(umm_munlockall(m->mm), 0);
		cov[C_MUNLOCK]++;
		for (int i = 0; i < m->nsegs; i++)
			m->segs[i].locked = m->segs[i].onfault = false;
		return;
	}
	pick_range(m, &start, &pages);
	end = start + pages * PS;
	len = pages * PS - (rnd(4) == 0 ? rnd(PS - 1) : 0);   /* rounded up again */
	mapped = model_range_mapped(m, start, end);
	set_op("%s mm%d %#lx len=%#zx (%s)", kind < 6 ? "mlock" : kind < 8 ? "mlock2 ONFAULT" : "munlock",
	       m->id, (unsigned long)start, len, mapped ? "mapped" : "has holes");
	if (!mapped) {
		EXPECT_RC(kind < 6 ? umm_mlock(m->mm, start, len) :
			  kind < 8 ? umm_mlock2(m->mm, start, len, MLOCK_ONFAULT) :
			  umm_munlock(m->mm, start, len), -ENOMEM);
		cov[C_ENOMEM]++;
		verify_range(m, start, end);
		return;
	}
	if (kind < 6) {
		model_set_locked(m, start, end, true, false);
		want = model_populate_locked(m, start, end, false) ? -ENOMEM : 0;
		EXPECT_RC(umm_mlock(m->mm, start, len), want);
		cov[C_MLOCK]++;
	} else if (kind < 8) {
		model_set_locked(m, start, end, true, true);
		EXPECT_RC(umm_mlock2(m->mm, start, len, MLOCK_ONFAULT), 0);
		cov[C_MLOCK]++;
	} else {
		model_set_locked(m, start, end, false, false);
		EXPECT_RC(umm_munlock(m->mm, start, len), 0);
		cov[C_MUNLOCK]++;
	}
	verify_range(m, start, end);
}

static void op_mmap(struct mmm *m)
{
	int kind = (int)rnd(100), prot = prots[rnd(sizeof(prots) / sizeof(prots[0]))];
	bool shared = false, anon = true, fixed = false;
	struct mobj *o = NULL;
	size_t pages = 1 + rnd(MAX_MAP_PAGES), len = pages * PS;
	uint64_t pgoff = 0;
	uintptr_t addr = 0, out = 0;
	int flags, mode = (int)rnd(4);
	struct mseg s = { 0 };

	if (kind < 35) {
		/* private anonymous */
	} else if (kind < 50) {
		shared = true;
	} else {
		anon = false;
		shared = kind >= 75;
		o = &objs[rnd(NR_OBJS)];
		/* mostly inside the object, sometimes running or lying past its end */
		pgoff = rnd(5) ? rnd(obj_pages(o) > pages ? obj_pages(o) - pages + 1 : 1)
			       : rnd(obj_pages(o) + 4);
	}
	if (rnd(4) == 0)
		len -= rnd(PS - 1);        /* unaligned length: rounded up */
	if (mode < 2) {
		fixed = true;
		addr = win_addr(pages);
	} else if (mode == 2) {
		addr = win_addr(pages);
	}
	flags = (shared ? MAP_SHARED : MAP_PRIVATE) | (anon ? MAP_ANONYMOUS : 0) |
		(fixed ? (mode == 1 && rnd(3) == 0 ? MAP_FIXED_NOREPLACE : MAP_FIXED) : 0);
	if (rnd(5) == 0) {
		flags |= MAP_POPULATE;
		/* which pages are cached is not modelled: NONBLOCK only where it cannot show */
		if ((shared || !(prot & PROT_WRITE)) && rnd(2))
			flags |= MAP_NONBLOCK;
	} else if (!model_swap && rnd(12) == 0) {
		flags |= MAP_LOCKED;       /* populates as MAP_POPULATE does */
	}
	set_op("mmap mm%d addr=%#lx len=%#zx prot=%d %s%s%s%s%s obj=%d pgoff=%" PRIu64, m->id,
	       (unsigned long)addr, len, prot, shared ? "SHARED" : "PRIVATE", anon ? "|ANON" : "",
	       !fixed ? "" : flags & MAP_FIXED_NOREPLACE ? "|FIXED_NOREPLACE" : "|FIXED",
	       flags & MAP_NONBLOCK ? "|POPULATE|NONBLOCK" : flags & MAP_POPULATE ? "|POPULATE" : "",
	       flags & MAP_LOCKED ? "|LOCKED" : "", o ? o->id : -1, pgoff);
	if ((flags & MAP_FIXED_NOREPLACE) && !model_range_free(m, addr, addr + pages * PS)) {
		EXPECT_RC(umm_mmap(m->mm, addr, len, prot, flags, o ? o->uobj : NULL, pgoff * PS, &out),
			  -EEXIST);
		verify_range(m, addr, addr + pages * PS);
		return;
	}
	EXPECT_RC(umm_mmap(m->mm, addr, len, prot, flags, o ? o->uobj : NULL, pgoff * PS, &out), 0);
	test_checks++;
	if (out % PS || out < UMM_MMAP_MIN_ADDR || out + pages * PS > UMM_TASK_SIZE)
		FAIL("mmap placed the mapping at %#lx", (unsigned long)out);
	if (fixed && out != addr)
		FAIL("MAP_FIXED mapping at %#lx, asked %#lx", (unsigned long)out, (unsigned long)addr);
	if (!fixed && !model_range_free(m, out, out + pages * PS))
		FAIL("mmap without MAP_FIXED placed %#lx over a mapping", (unsigned long)out);
	if (mode == 2 && model_range_free(m, addr, addr + pages * PS) && out != addr)
		FAIL("free hint %#lx ignored: mapped at %#lx", (unsigned long)addr, (unsigned long)out);
	model_remove(m, out, out + pages * PS);
	if (anon && shared) {
		o = xcalloc(1, sizeof(*o));
		o->hidden = true;
		o->fd = -1;
		o->id = 100 + next_mm_id * 1000 + (int)(cur_step % 1000);
		o->size = pages * PS;
		o->cap = o->size;
		o->data = xcalloc(1, o->cap);
		nr_hidden++;
	}
	s.start = out;
	s.end = out + pages * PS;
	s.prot = prot;
	s.shared = shared;
	s.obj = o;
	s.pgoff = pgoff;
	s.locked = flags & MAP_LOCKED;
	if (!shared)
		s.priv = xcalloc(pages, sizeof(*s.priv));
	if (o)
		o->nr_maps++;
	seg_insert(m, &s);
	if (flags & (MAP_POPULATE | MAP_LOCKED)) {
		cov[C_POPULATE]++;
		/* MAP_POPULATE faults private writable mappings for writing: copies now */
		if (!shared && (prot & PROT_WRITE))
			(void)model_populate_write(m, out, out + pages * PS);
	}
	verify_range(m, out, out + pages * PS);
}

static void op_munmap(struct mmm *m)
{
	uintptr_t start;
	size_t pages, len;

	pick_range(m, &start, &pages);
	len = pages * PS - (rnd(4) == 0 ? rnd(PS - 1) : 0);
	set_op("munmap mm%d %#lx len=%#zx", m->id, (unsigned long)start, len);
	EXPECT_RC(umm_munmap(m->mm, start, len), 0);
	model_remove(m, start, start + pages * PS);
	verify_range(m, start, start + pages * PS);
}

static void op_mprotect(struct mmm *m)
{
	uintptr_t start, end;
	size_t pages;
	int prot = prots[rnd(sizeof(prots) / sizeof(prots[0]))];
	bool mapped;

	pick_range(m, &start, &pages);
	end = start + pages * PS;
	mapped = model_range_mapped(m, start, end);
	set_op("mprotect mm%d %#lx len=%#zx prot=%d (%s)", m->id, (unsigned long)start,
	       pages * PS, prot, mapped ? "mapped" : "has holes");
	EXPECT_RC(umm_mprotect(m->mm, start, pages * PS, prot), mapped ? 0 : -ENOMEM);
	cov[C_ENOMEM] += !mapped;
	if (mapped) {
		split_at(m, start);
		split_at(m, end);
		for (int i = 0; i < m->nsegs; i++)
			if (m->segs[i].start >= start && m->segs[i].end <= end) {
				m->segs[i].prot = prot;
				seg_nl_drop_prot(&m->segs[i]);
			}
	}
	verify_range(m, start, end);
}

/*
 * model_move - move [a, a+old) to [to, to+new) (pages beyond old are new,
 * untouched pages of the same mapping); the caller checked the target.
 */
static void model_move(struct mmm *m, uintptr_t a, size_t old, size_t new, uintptr_t to)
{
	struct mseg *s = seg_at(m, a), n = *s;
	size_t keep = old < new ? old : new, off = (a - s->start) / PS;

	n.start = to;
	n.end = to + new * PS;
	n.pgoff = s->pgoff + off;
	seg_nl_slice(&n, s, off, keep, new);    /* a moved part of a window stays nonlinear */
	cov[C_WIN_MOVE] += s->nl_off != NULL;
	if (s->priv) {
		n.priv = xcalloc(new, sizeof(*n.priv));
		for (size_t i = 0; i < keep; i++) {
			n.priv[i] = s->priv[off + i];
			s->priv[off + i] = NULL;
		}
	}
	if (n.obj)
		n.obj->nr_maps++;
	model_remove(m, a, a + old * PS);
	model_remove(m, to, to + new * PS);
	seg_insert(m, &n);
}

/*
 * mremap_grow_in_place - can a non-FIXED growth of [a, a+old) stay where it
 * is?  Only if the range ends where its VMA ends (a segment end: a VMA
 * that went on would need the next page, which then is not free) and the
 * pages it grows into are free.
 */
static int mremap_grow_in_place(struct mmm *m, const struct mseg *s, uintptr_t a,
				size_t old, size_t new)
{
	uintptr_t end = a + old * PS, new_end = a + new * PS;

	return end == s->end && new_end <= UMM_TASK_SIZE && model_range_free(m, end, new_end);
}

static void op_mremap(struct mmm *m)
{
	struct mseg *s;
	uintptr_t a, to = 0, out = 0;
	size_t sp, old, new;
	int flags, r = (int)rnd(10);

	if (!m->nsegs)
		return;
	s = &m->segs[rnd(m->nsegs)];
	sp = seg_pages(s);
	a = s->start + rnd(sp) * PS;
	old = rnd(2) ? (s->end - a) / PS : 1 + rnd((s->end - a) / PS);
	new = 1 + rnd(2 * old + 4);
	flags = r < 2 ? 0 : r < 7 ? MREMAP_MAYMOVE : MREMAP_MAYMOVE | MREMAP_FIXED;
	if (flags & MREMAP_FIXED)
		to = rnd(8) == 0 ? a + rnd(old) * PS : win_addr(new);
	set_op("mremap mm%d %#lx old=%zu new=%zu pages flags=%d to=%#lx", m->id,
	       (unsigned long)a, old, new, flags, (unsigned long)to);

	if (flags & MREMAP_FIXED) {
		bool overlap = to < a + old * PS && a < to + new * PS;

		EXPECT_RC(umm_mremap(m->mm, a, old * PS, new * PS, flags, to, &out),
			  overlap ? -EINVAL : 0);
		if (overlap) {
			verify_range(m, a, a + old * PS);
			return;
		}
		if (out != to)
			FAIL("MREMAP_FIXED moved to %#lx, asked %#lx", (unsigned long)out, (unsigned long)to);
		model_move(m, a, old, new, to);
	} else if (new <= old) {
		EXPECT_RC(umm_mremap(m->mm, a, old * PS, new * PS, flags, 0, &out), 0);
		if (out != a)
			FAIL("shrinking mremap returned %#lx, expected %#lx", (unsigned long)out, (unsigned long)a);
		model_remove(m, a + new * PS, a + old * PS);
	} else if (mremap_grow_in_place(m, s, a, old, new)) {
		EXPECT_RC(umm_mremap(m->mm, a, old * PS, new * PS, flags, 0, &out), 0);
		if (out != a)
			FAIL("in-place mremap returned %#lx, expected %#lx", (unsigned long)out, (unsigned long)a);
		if (s->priv) {
			s->priv = realloc(s->priv, (sp + new - old) * sizeof(*s->priv));
			memset(s->priv + sp, 0, (new - old) * sizeof(*s->priv));
		}
		seg_nl_grow(s, sp, sp + new - old);
		s->end = a + new * PS;
		cov[C_GROW]++;
	} else if (flags & MREMAP_MAYMOVE) {
		EXPECT_RC(umm_mremap(m->mm, a, old * PS, new * PS, flags, 0, &out), 0);
		if (out % PS || out == a || !model_range_free(m, out, out + new * PS))
			FAIL("moving mremap placed the mapping at %#lx", (unsigned long)out);
		model_move(m, a, old, new, out);
		cov[C_MOVE]++;
		to = out;
	} else {
		EXPECT_RC(umm_mremap(m->mm, a, old * PS, new * PS, flags, 0, &out), -ENOMEM);
		cov[C_ENOMEM]++;
	}
	if (out && new > old) {
		const struct mseg *g = seg_at(m, out + old * PS);

		/* a grown locked mapping is populated in its new part, errors skipped */
		if (g && g->locked && !g->onfault)
			model_populate_locked(m, out + old * PS, out + new * PS, true);
	}
	verify_range(m, a, a + old * PS);
	if (out && out != a)
		verify_range(m, out, out + new * PS);
	else
		verify_range(m, a, a + new * PS);
}

static void op_write(struct mmm *m)
{
	static unsigned char buf[3 * PS + 64];
	uintptr_t addr;
	size_t len = 1 + rnd(3 * PS);
	int want;

	int r = (int)rnd(20);
	const struct mseg *s = m->nsegs ? &m->segs[rnd(m->nsegs)] : NULL;

	for (int tries = 0; r < 12 && s && !(s->prot & PROT_WRITE) && tries < 8; tries++)
		s = &m->segs[rnd(m->nsegs)];
	if (s && r < 12) {             /* inside one segment, likely writable */
		addr = s->start + rnd(s->end - s->start);
		if (len > s->end - addr)
			len = 1 + rnd(s->end - addr);
	} else if (s && r < 17) {      /* anywhere from inside one, maybe running out */
		addr = s->start + rnd(s->end - s->start);
	} else {
		addr = win_addr(4) + rnd(PS);
	}
	if (rnd(4) == 0) {
		addr &= ~(PS - 1);
		len = (1 + rnd(3)) * PS;
	}
	len = shared_write_limit(m, addr, len);
	if (!len)
		return;
	fill_random(buf, len);
	set_op("write mm%d %#lx len=%zu", m->id, (unsigned long)addr, len);
	{
		int got = umm_write(m->mm, addr, buf, len);

		want = model_write(m, addr, buf, len);
		EXPECT_RC(got, want);
		cov[want ? C_WRITE_FAIL : C_WRITE_OK]++;
	}
	verify_range(m, addr, addr + len);
}

static void op_read(struct mmm *m)
{
	static unsigned char buf[3 * PS];
	uintptr_t addr, a;
	size_t len = 1 + rnd(3 * PS), done = 0;
	int want = 0;

	if (m->nsegs && rnd(10) < 8) {
		const struct mseg *s = &m->segs[rnd(m->nsegs)];

		addr = s->start + rnd(s->end - s->start);
	} else {
		addr = win_addr(4) + rnd(PS);
	}
	set_op("read mm%d %#lx len=%zu", m->id, (unsigned long)addr, len);
	for (a = addr; done < len && !want; ) {
		const unsigned char *exp;
		size_t n = PS - a % PS;

		want = model_page(m, a & ~(PS - 1), &exp);
		if (n > len - done)
			n = len - done;
		a += n;
		done += n;
	}
	EXPECT_RC(umm_read(m->mm, addr, buf, len), want);
	if (want)
		return;
	for (a = addr, done = 0; done < len; ) {
		const unsigned char *exp;
		size_t n = PS - a % PS;

		if (n > len - done)
			n = len - done;
		model_page(m, a & ~(PS - 1), &exp);
		if (memcmp(buf + done, exp + a % PS, n) != 0)
			FAIL("umm_read data differs in page %#lx", (unsigned long)(a & ~(PS - 1)));
		a += n;
		done += n;
	}
}

/* pin_expect - what pinning the page at addr gives (as a read or a write access). */
static int pin_expect(const struct mmm *m, uintptr_t addr, bool write)
{
	const struct mseg *s = seg_at(m, addr);
	const unsigned char *unused;
	size_t pi;

	if (!write)
		return model_page(m, addr, &unused);
	if (!s || !seg_page_writable(s, (addr - s->start) / PS))
		return -EFAULT;
	pi = (addr - s->start) / PS;
	if (s->obj && !(s->priv && s->priv[pi]) && seg_page_index(s, pi) >= obj_pages(s->obj))
		return -EIO;
	return 0;
}

/*
 * op_pin - pin 1..4 pages, compare their bytes with the model, and for a
 * write pin store random bytes through the pins (as a device would).
 */
static void op_pin(struct mmm *m)
{
	static unsigned char buf[PS];
	struct umm_page *pages[4] = { NULL };
	const struct mseg *s;
	uintptr_t addr;
	size_t nr = 1 + rnd(4);
	bool write = rnd(2);
	int want = 0;
	long got;

	if (!m->nsegs)
		return;
	s = &m->segs[rnd(m->nsegs)];
	addr = s->start + rnd(seg_pages(s)) * PS;
	if (addr + nr * PS > UMM_TASK_SIZE)
		nr = 1;
	set_op("pin mm%d %#lx nr=%zu%s", m->id, (unsigned long)addr, nr, write ? " WRITE" : "");
	for (size_t i = 0; i < nr && !want; i++) {
		want = pin_expect(m, addr + i * PS, write);
		/*
		 * A write pin faults page by page: the pages before one that
		 * fails have had their copy-on-write broken (as with Linux's
		 * get_user_pages), so a private file page stops following
		 * the object even though the call failed.
		 */
		if (write && !want)
			model_write_piece(m, addr + i * PS, buf, 0);
	}
	got = umm_pin_pages(m->mm, addr, nr, write ? UMM_PIN_WRITE : 0, pages);
	EXPECT_RC((int)got, want ? want : (int)nr);
	if (want)
		return;
	cov[C_PIN_OK]++;
	for (size_t i = 0; i < nr; i++) {
		uintptr_t a = addr + i * PS;
		unsigned char *bytes = umm_page_address(pages[i]);
		const unsigned char *exp;
		size_t n = PS;

		model_page(m, a, &exp);
		test_checks++;
		if (!bytes || memcmp(bytes, exp, PS) != 0)
			FAIL("pinned page %#lx differs from the model", (unsigned long)a);
		if (!write)
			continue;
		n = shared_write_limit(m, a, PS);
		fill_random(buf, n);
		memcpy(bytes, buf, n);
		EXPECT_RC(model_write(m, a, buf, n), 0);
	}
	umm_unpin_pages(pages, nr, write ? UMM_PIN_WRITE : 0);
	verify_range(m, addr, addr + nr * PS);
}

/* model_has_window - does m have a remapped segment? */
static bool model_has_window(const struct mmm *m)
{
	for (int i = 0; i < m->nsegs; i++)
		if (m->segs[i].nl_off)
			return true;
	return false;
}

static void op_fork(struct mmm *m)
{
	struct umm_mm *child = NULL;

	if (nmms == MAX_MMS)
		return;
	set_op("fork mm%d -> mm%d", m->id, next_mm_id);
	EXPECT_RC(umm_fork(m->mm, &child), 0);
	mms[nmms++] = model_fork(m, child);
	cov[C_FORK]++;
	cov[C_WIN_FORK] += model_has_window(m);
	check_mm(mms[nmms - 1]);
	if (m->nsegs) {
		const struct mseg *s = &m->segs[rnd(m->nsegs)];

		verify_range(mms[nmms - 1], s->start, s->end);
	}
}

static void op_destroy_or_create(void)
{
	if (nmms >= 2 && rnd(3)) {
		int i = (int)rnd(nmms);
		struct mmm *m = mms[i];

		set_op("destroy mm%d", m->id);
		umm_mm_destroy(m->mm);
		model_mm_free(m);
		mms[i] = mms[--nmms];
	} else if (nmms < MAX_MMS) {
		struct umm_mm *mm = NULL;

		set_op("create mm%d", next_mm_id);
		EXPECT_RC(umm_mm_create(sys, &mm), 0);
		mms[nmms++] = mm_new(mm);
	}
}

/* verify_object_users - every page of every segment that maps o, in every mm. */
static void verify_object_users(struct mobj *o)
{
	for (int i = 0; i < nmms; i++) {
		for (int j = 0; j < mms[i]->nsegs; j++) {
			struct mseg *s = &mms[i]->segs[j];

			if (s->obj != o)
				continue;
			for (uintptr_t a = s->start; a < s->end; a += PS)
				verify_page(mms[i], a);
		}
	}
}

static void model_truncate(struct mobj *o, uint64_t size)
{
	uint64_t pages;

	if (size < o->size)
		memset(o->data + size, 0, o->cap - size);
	o->size = size;
	pages = obj_pages(o);
	for (int i = 0; i < nmms; i++) {
		for (int j = 0; j < mms[i]->nsegs; j++) {
			struct mseg *s = &mms[i]->segs[j];

			if (s->obj != o || !s->priv)
				continue;
			for (size_t p = 0; p < seg_pages(s); p++) {
				if (s->priv[p] && seg_page_index(s, p) >= pages) {
					free(s->priv[p]);
					s->priv[p] = NULL;
				}
			}
		}
	}
}

static void op_truncate(void)
{
	struct mobj *o = &objs[rnd(NR_OBJS)];
	uint64_t size;

	switch (rnd(4)) {
	case 0:
		size = rnd(OBJ_MAX_BYTES / PS + 1) * PS;
		break;
	case 1:
		size = o->size + rnd(8 * PS);
		break;
	default:
		size = rnd(OBJ_MAX_BYTES + 1);
		break;
	}
	if (size > OBJ_MAX_BYTES)
		size = OBJ_MAX_BYTES;
	set_op("truncate obj%d %" PRIu64 " -> %" PRIu64, o->id, o->size, size);
	EXPECT_RC(umm_object_truncate(o->uobj, size), 0);
	cov[C_SHRINK] += size < o->size;
	model_truncate(o, size);
	test_checks++;
	if (umm_object_size(o->uobj) != size)
		FAIL("umm_object_size %" PRIu64 ", expected %" PRIu64, umm_object_size(o->uobj), size);
	verify_object_users(o);
}

static void op_sync(void)
{
	struct mobj *o = &objs[rnd(NR_FILES)];
	uint64_t off = 0, len = 0;

	if (rnd(3) == 0) {
		off = rnd(obj_pages(o) + 1) * PS;
		len = (1 + rnd(16)) * PS;
	}
	set_op("sync obj%d off=%#" PRIx64 " len=%#" PRIx64, o->id, off, len);
	EXPECT_RC(umm_object_sync(o->uobj, off, len), 0);
	cov[C_SYNC]++;
	check_file(o, off, len ? off + len : o->size);
}

/*
 * madvise_expect - madvise's answer for [start, end) before it acts: the
 * first problem in address order, -ENOMEM for a hole, -EINVAL for a
 * segment that does not take the advice.
 */
static int madvise_expect(const struct mmm *m, uintptr_t start, uintptr_t end, int advice)
{
	for (uintptr_t a = start; a < end; ) {
		const struct mseg *s = seg_at(m, a);

		if (!s)
			return -ENOMEM;
		if ((advice == MADV_DONTNEED || advice == MADV_FREE) && s->locked)
			return -EINVAL;
		if (advice == MADV_FREE && (s->obj || s->shared))
			return -EINVAL;
		if (advice == MADV_POPULATE_READ && s->prot == PROT_NONE)
			return -EINVAL;
		if (advice == MADV_POPULATE_WRITE && !(s->prot & PROT_WRITE))
			return -EINVAL;
		a = s->end;
	}
	return 0;
}

/* model_populate_read - what POPULATE_READ returns: -EFAULT at the first page past an object's end. */
static int model_populate_read(const struct mmm *m, uintptr_t start, uintptr_t end)
{
	for (uintptr_t a = start; a < end; a += PS) {
		const unsigned char *unused;

		if (model_page(m, a, &unused) == -EIO)
			return -EFAULT;
	}
	return 0;
}

static void op_madvise(struct mmm *m)
{
	static const int advices[] = {
		MADV_DONTNEED, MADV_DONTNEED, MADV_DONTNEED, MADV_FREE, MADV_POPULATE_READ,
		MADV_POPULATE_WRITE, MADV_POPULATE_WRITE, MADV_WILLNEED, MADV_NORMAL, MADV_RANDOM,
		MADV_SEQUENTIAL, MADV_DONTFORK, MADV_DOFORK,
	};
	int advice = advices[rnd(sizeof(advices) / sizeof(advices[0]))];
	uintptr_t start, end;
	size_t pages;
	int want;

	if (m->nsegs && rnd(3)) {             /* mostly inside one segment: the advice acts */
		const struct mseg *s = &m->segs[rnd(m->nsegs)];

		start = s->start + rnd(seg_pages(s)) * PS;
		pages = 1 + rnd((s->end - start) / PS);
	} else {
		pick_range(m, &start, &pages);
	}
	end = start + pages * PS;
	want = madvise_expect(m, start, end, advice);
	if (!want && advice == MADV_POPULATE_WRITE)
		want = model_populate_write(m, start, end) ? -EFAULT : 0;   /* -EIO, or a page's own prot */
	else if (!want && advice == MADV_POPULATE_READ)
		want = model_populate_read(m, start, end);
	set_op("madvise mm%d %#lx len=%#zx advice=%d", m->id, (unsigned long)start, pages * PS, advice);
	EXPECT_RC(umm_madvise(m->mm, start, pages * PS, advice), want);
	cov[want ? C_MADV_FAIL : C_MADV_OK]++;
	if (want && advice != MADV_POPULATE_WRITE && advice != MADV_POPULATE_READ) {
		verify_range(m, start, end);
		return;
	}
	if (advice == MADV_DONTNEED || advice == MADV_DONTFORK || advice == MADV_DOFORK ||
	    advice == MADV_NORMAL || advice == MADV_RANDOM || advice == MADV_SEQUENTIAL) {
		split_at(m, start);
		split_at(m, end);
	}
	for (int i = 0; i < m->nsegs; i++) {
		struct mseg *s = &m->segs[i];

		if (s->start < start || s->end > end)
			continue;
		if (advice == MADV_DONTFORK || advice == MADV_DOFORK)
			s->dontfork = advice == MADV_DONTFORK;
		if (advice == MADV_DONTNEED && s->priv) {
			for (size_t p = 0; p < seg_pages(s); p++) {
				free(s->priv[p]);
				s->priv[p] = NULL;
			}
			cov[C_DONTNEED]++;
		}
	}
	verify_range(m, start, end);
}

/* msync_expect - a hole is -ENOMEM, MS_INVALIDATE on a locked segment -EBUSY, in address order. */
static int msync_expect(const struct mmm *m, uintptr_t start, uintptr_t end, int flags)
{
	for (uintptr_t a = start; a < end; ) {
		const struct mseg *s = seg_at(m, a);

		if (!s)
			return -ENOMEM;
		if ((flags & MS_INVALIDATE) && s->locked)
			return -EBUSY;
		a = s->end;
	}
	return 0;
}

/* check_file_window - the object pages [a, b) of a remapped shared segment shows are in the file. */
static void check_file_window(const struct mseg *s, uintptr_t a, uintptr_t b)
{
	cov[C_WIN_MSYNC]++;
	for (uintptr_t p = a; p < b; p += PS) {
		uint64_t idx = seg_page_index(s, (p - s->start) / PS);

		check_file(s->obj, idx * PS, (idx + 1) * PS);
	}
}

/* op_msync - msync a range; the shared file pages in it must then be in the file. */
static void op_msync(struct mmm *m)
{
	static const int flagsets[] = { MS_SYNC, MS_SYNC, MS_ASYNC, MS_INVALIDATE,
					MS_SYNC | MS_INVALIDATE, MS_SYNC | MS_ASYNC };
	int flags = flagsets[rnd(sizeof(flagsets) / sizeof(flagsets[0]))];
	uintptr_t start, end;
	size_t pages;
	int want;

	pick_range(m, &start, &pages);
	end = start + pages * PS;
	if ((flags & MS_SYNC) && (flags & MS_ASYNC))
		want = -EINVAL;
	else
		want = msync_expect(m, start, end, flags);
	set_op("msync mm%d %#lx len=%#zx flags=%d", m->id, (unsigned long)start, pages * PS, flags);
	EXPECT_RC(umm_msync(m->mm, start, pages * PS, flags), want);
	cov[C_MSYNC] += want == 0;
	if (want || !(flags & (MS_SYNC | MS_ASYNC)))
		return;
	for (int i = 0; i < m->nsegs; i++) {
		const struct mseg *s = &m->segs[i];
		uintptr_t a = s->start > start ? s->start : start, b = s->end < end ? s->end : end;

		if (a >= b || !s->shared || !s->obj || s->obj->fd < 0)
			continue;
		if (s->nl_off) {
			check_file_window(s, a, b);
			continue;
		}
		check_file(s->obj, (s->pgoff + (a - s->start) / PS) * PS,
			   (s->pgoff + (b - s->start) / PS) * PS);
	}
}

struct prange {
	uintptr_t start, end;
};

static int prange_cmp(const void *a, const void *b)
{
	const struct prange *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* prepage_tuple_valid - every page the tuple names is mapped and allows the access. */
static bool prepage_tuple_valid(const struct mmm *m, const struct umm_prepage_tuple *t, bool write,
				struct prange *r)
{
	r->start = r->end = 0;
	if (!t->extent)
		return true;
	if (t->addr < UMM_MMAP_MIN_ADDR || t->addr >= UMM_TASK_SIZE || t->extent > UMM_TASK_SIZE - t->addr)
		return false;
	r->start = t->addr & ~(PS - 1);
	r->end = (t->addr + t->extent + PS - 1) & ~(PS - 1);
	for (uintptr_t a = r->start; a < r->end; a += PS) {
		const struct mseg *s = seg_at(m, a);

		if (!s || s->prot == PROT_NONE || (write && !(s->prot & PROT_WRITE)))
			return false;
	}
	return true;
}

/*
 * op_prepage - 1..6 tuples around segments (some invalid, unaligned,
 * empty, overlapping); the model merges the valid ranges as umm_prepage
 * does and, for a write prepage, gives each page its private copy, each
 * merged range stopping at its first page past an object's end.
 */
static void op_prepage(struct mmm *m)
{
	struct umm_prepage_tuple v[6];
	struct prange r[6];
	size_t n = 1 + rnd(6), nr = 0, merged = 0, bad = SIZE_MAX;
	bool write = rnd(2), skip = rnd(3) == 0;
	int flags = (write ? UMM_PREPAGE_WRITE : 0) | (skip ? UMM_PREPAGE_SKIP_INVALID : 0);
	int want;

	for (size_t i = 0; i < n; i++) {
		if (m->nsegs && rnd(4)) {
			const struct mseg *s = &m->segs[rnd(m->nsegs)];

			v[i].addr = s->start + rnd(s->end - s->start);
			v[i].extent = rnd(4) ? rnd(s->end - v[i].addr + 1) : rnd(8 * PS);
		} else {
			v[i].addr = win_addr(8) + rnd(PS);
			v[i].extent = rnd(8) ? rnd(8 * PS) : SIZE_MAX - rnd(PS);
		}
		if (!prepage_tuple_valid(m, &v[i], write, &r[nr])) {
			if (bad == SIZE_MAX)
				bad = i;
			continue;
		}
		if (r[nr].start < r[nr].end)
			nr++;
	}
	want = bad != SIZE_MAX && !skip ? -EFAULT : 0;
	set_op("prepage mm%d n=%zu flags=%d first tuple %#lx+%#zx%s", m->id, n, flags,
	       (unsigned long)v[0].addr, v[0].extent, bad != SIZE_MAX ? " (has invalid)" : "");
	EXPECT_RC(umm_prepage(m->mm, v, n, flags), want);
	cov[bad != SIZE_MAX ? C_PREPAGE_BAD : C_PREPAGE_OK]++;
	test_checks++;
	if (want && umm_prepage_bad_index() != bad)
		FAIL("umm_prepage_bad_index() %zu, model says %zu", umm_prepage_bad_index(), bad);
	if (want)
		return;
	qsort(r, nr, sizeof(r[0]), prange_cmp);
	for (size_t i = 0; i < nr; i++) {
		if (merged && r[i].start <= r[merged - 1].end)
			r[merged - 1].end = r[i].end > r[merged - 1].end ? r[i].end : r[merged - 1].end;
		else
			r[merged++] = r[i];
	}
	for (size_t i = 0; i < merged; i++) {
		if (write)
			(void)model_populate_write(m, r[i].start, r[i].end);
		verify_range(m, r[i].start, r[i].end);
	}
}

/*
 * op_mincore - the answer for holes, and residency where the model knows
 * it: a page with a private copy is mapped, so resident.
 */
static void op_mincore(struct mmm *m)
{
	static unsigned char vec[64 + 8];
	uintptr_t start;
	size_t pages;
	int want;

	pick_range(m, &start, &pages);
	if (pages > 64)
		pages = 64;
	want = model_range_mapped(m, start, start + pages * PS) ? 0 : -ENOMEM;
	set_op("mincore mm%d %#lx pages=%zu", m->id, (unsigned long)start, pages);
	EXPECT_RC(umm_mincore(m->mm, start, pages * PS, vec), want);
	if (want)
		return;
	for (size_t i = 0; i < pages; i++) {
		const struct mseg *s = seg_at(m, start + i * PS);
		size_t pi = (start + i * PS - s->start) / PS;

		test_checks++;
		/* without swap a private copy cannot leave memory; with swap it may be swapped out */
		if (!model_swap && s->priv && s->priv[pi] && !(vec[i] & 1))
			FAIL("mincore says page %#lx (a private copy) is not resident",
			     (unsigned long)(start + i * PS));
		if (vec[i] & ~1)
			FAIL("mincore byte %#x for page %#lx", vec[i], (unsigned long)(start + i * PS));
	}
}

/* ---- umm_remap_file_pages ---- */

static const int remap_prots[] = {
	0, 0, 0, PROT_READ, PROT_READ | PROT_WRITE, PROT_WRITE, PROT_READ | PROT_EXEC, PROT_EXEC,
};

/*
 * remap_pick - a valid remap inside one segment that maps an object
 * (shared: file, shmem or shared anonymous; or private of a file: a
 * private window), sometimes with an unaligned start and size (rounded
 * down), offsets sometimes past the object's end.  false if none found.
 */
static bool remap_pick(struct mmm *m, struct umm_remap_entry *e)
{
	for (int tries = 0; tries < 8 && m->nsegs; tries++) {
		const struct mseg *s = &m->segs[rnd(m->nsegs)];
		size_t sp = seg_pages(s), first = rnd(sp), n = 1 + rnd(sp - first);

		if (!s->obj)
			continue;
		e->start = s->start + first * PS + (rnd(4) == 0 ? rnd(PS) : 0);
		e->size = n * PS + (rnd(4) == 0 ? rnd(PS) : 0);
		e->prot = remap_prots[rnd(sizeof(remap_prots) / sizeof(remap_prots[0]))];
		e->pgoff = rnd(obj_pages(s->obj) + 4);
		return true;
	}
	return false;
}

/*
 * remap_make_bad - a remap that must fail with -EINVAL: size 0 after
 * rounding, an offset range a file pte cannot hold, unknown prot bits,
 * a start in a hole, a range running from a segment into a hole, or a
 * private anonymous segment.
 */
static void remap_make_bad(struct mmm *m, struct umm_remap_entry *e)
{
	int kind = (int)rnd(6);

	if (!remap_pick(m, e)) {
		e->start = win_addr(1);
		e->size = PS;
		e->prot = 0;
		e->pgoff = 0;
	}
	if (kind >= 3 && m->nsegs) {
		const struct mseg *s = &m->segs[rnd(m->nsegs)];

		if (kind == 3 && !seg_at(m, s->end) && s->end < UMM_TASK_SIZE) {
			e->start = s->end - PS;                 /* runs into a hole */
			e->size = 2 * PS;
			return;
		}
		if (kind == 4 && !s->obj) {
			e->start = s->start;                    /* private anonymous */
			e->size = PS;
			return;
		}
		if (kind == 5) {
			uintptr_t a = win_addr(1);

			if (!seg_at(m, a)) {
				e->start = a;                   /* a hole */
				return;
			}
		}
	}
	switch (kind % 3) {
	case 0:
		e->size = rnd(PS);                      /* 0 pages */
		break;
	case 1:
		e->pgoff = (1ULL << 52) - (e->size >= 2 * PS ? 1 : 0);
		break;
	default:
		e->prot |= 0x100;
		break;
	}
}

/* model_remap - apply one checked remap to the model. */
static void model_remap(struct mmm *m, const struct umm_remap_entry *e)
{
	uintptr_t start = e->start & ~(PS - 1);
	size_t n = e->size / PS;
	struct mseg *s = seg_at(m, start);
	size_t pi = (start - s->start) / PS;

	if (!s->nl_off) {
		struct mseg lin = *s;

		lin.nl_off = calloc(1, sizeof(*lin.nl_off));   /* a one-page window: the slice makes it linear */
		lin.nl_prot = calloc(1, 1);
		if (!lin.nl_off || !lin.nl_prot)
			exit(2);
		lin.nl_off[0] = s->pgoff;
		seg_nl_slice(s, &lin, 0, 1, seg_pages(s));
		seg_nl_free(&lin);
	}
	for (size_t k = 0; k < n; k++, pi++) {
		s->nl_off[pi] = e->pgoff + k;
		s->nl_prot[pi] = e->prot == s->prot ? 0 : (unsigned char)e->prot;
		if (s->priv && s->priv[pi]) {
			free(s->priv[pi]);                      /* a remap discards the private copy */
			s->priv[pi] = NULL;
		}
	}
}

/*
 * remap_write_msync - after a remap of a shared file segment: a byte
 * stored through each of the n pages at start (where the model says it
 * may be), then umm_msync(MS_SYNC) of them, and the file must hold what
 * each page shows.
 */
static void remap_write_msync(struct mmm *m, uintptr_t start, size_t n)
{
	const struct mseg *s = seg_at(m, start);

	if (!s || !s->shared || !s->obj || s->obj->fd < 0 || n > 64)
		return;
	for (size_t i = 0; i < n; i++) {
		uintptr_t a = start + i * PS + rnd(PS);
		unsigned char b = (unsigned char)rnd64();

		if (shared_write_limit(m, a, 1) == 1)
			EXPECT_RC(umm_write(m->mm, a, &b, 1), model_write(m, a, &b, 1));
	}
	set_op("msync mm%d %#lx len=%#zx MS_SYNC (a window after a remap)", m->id,
	       (unsigned long)start, n * PS);
	EXPECT_RC(umm_msync(m->mm, start, n * PS, MS_SYNC), 0);
	check_file_window(s, start, start + n * PS);
}

/*
 * op_remap - umm_remap_file_pages, or the vectored form with 2-4 entries
 * (a later entry wins where two overlap), MAP_NONBLOCK half the time;
 * sometimes a bad entry (nothing applied, its index reported) or unknown
 * flags.
 */
static void op_remap(struct mmm *m)
{
	struct umm_remap_entry e[4];
	size_t n = rnd(3) ? 1 : 2 + rnd(3), bad = SIZE_MAX, got_bad = SIZE_MAX;
	int flags = rnd(2) ? (int)MAP_NONBLOCK : 0, want, got;
	bool vectored = n > 1 || rnd(4) == 0;

	for (size_t i = 0; i < n; i++) {
		if (rnd(10) == 0 || !remap_pick(m, &e[i])) {
			remap_make_bad(m, &e[i]);
			if (bad == SIZE_MAX)
				bad = i;
		}
	}
	if (rnd(40) == 0) {
		flags |= MAP_POPULATE;                          /* not a remap flag */
		bad = n;
	}
	want = bad != SIZE_MAX ? -EINVAL : 0;
	set_op("remap%s mm%d n=%zu flags=%#x first %#lx+%#zx prot=%d pgoff=%" PRIu64 "%s",
	       vectored ? "_v" : "", m->id, n, flags, (unsigned long)e[0].start, e[0].size,
	       e[0].prot, e[0].pgoff, bad != SIZE_MAX ? " (bad)" : "");
	if (vectored)
		got = umm_remap_file_pages_v(m->mm, e, n, flags, &got_bad);
	else
		got = umm_remap_file_pages(m->mm, e[0].start, e[0].size, e[0].prot, e[0].pgoff, flags);
	EXPECT_RC(got, want);
	test_checks++;
	if (vectored && got_bad != (want ? bad : n))
		FAIL("umm_remap_file_pages_v bad index %zu, model says %zu", got_bad, want ? bad : n);
	cov[want ? C_REMAP_BAD : vectored ? C_REMAP_V : C_REMAP]++;
	for (size_t i = 0; i < n; i++) {
		if (!want)
			model_remap(m, &e[i]);
	}
	for (size_t i = 0; i < n; i++)
		if (e[i].size >= PS && e[i].size < 64 * PS)
			verify_range(m, e[i].start, e[i].start + e[i].size);
	if (!want && rnd(3) == 0)
		remap_write_msync(m, e[0].start & ~(PS - 1), e[0].size / PS);
}

/* ---- setup, the run, teardown ---- */

static void objects_create(void)
{
	for (int i = 0; i < NR_OBJS; i++) {
		struct mobj *o = &objs[i];

		memset(o, 0, sizeof(*o));
		o->id = i;
		o->cap = OBJ_MAX_BYTES;
		o->data = xcalloc(1, o->cap);
		if (i < NR_FILES) {
			o->size = (16 + rnd(240)) * PS - (rnd(2) ? rnd(PS) : 0);
			fill_random(o->data, o->size);
			o->fd = test_tmpfile(0, NULL);
			if (pwrite(o->fd, o->data, o->size, 0) != (ssize_t)o->size) {
				perror("pwrite");
				exit(2);
			}
			REQUIRE(umm_object_open_fd(sys, o->fd, &o->uobj) == 0);
		} else {
			o->fd = -1;
			o->size = (16 + rnd(48)) * PS;
			REQUIRE(umm_object_create_shmem(sys, o->size, &o->uobj) == 0);
		}
	}
}

static void run_step(void)
{
	int r = (int)rnd(100);
	struct mmm *m = nmms ? mms[rnd(nmms)] : NULL;

	if (!m) {
		op_destroy_or_create();
		return;
	}
	if (model_total_pages(m) > MAX_MM_PAGES && r < 30)
		r = 20;                        /* munmap */
	if (rnd(100) < 5)
		op_remap(m);
	else if (r < 18)
		op_mmap(m);
	else if (r < 27)
		op_munmap(m);
	else if (r < 36)
		op_mprotect(m);
	else if (r < 45)
		op_mremap(m);
	else if (r < 62)
		op_write(m);
	else if (r < 65 && !model_swap)
		op_mlock(m);
	else if (r < 65)
		op_read(m);     /* small memory: locking it all is an OOM the model does not predict */
	else if (r < 73)
		op_read(m);
	else if (r < 76)
		op_pin(m);
	else if (r < 80)
		op_fork(m);
	else if (r < 83) {
		op_destroy_or_create();
		return;
	} else if (r < 87)
		op_truncate();
	else if (r < 90)
		op_sync();
	else if (r < 94)
		op_madvise(m);
	else if (r < 96)
		op_msync(m);
	else if (r < 98)
		op_prepage(m);
	else if (r < 99)
		op_mincore(m);
	else {
		/* dropping this thread's translations first: every page read refills */
		set_op("tlb idle, verify mm%d", m->id);
		umm_tlb_idle();
		verify_all(m);
	}
	for (int i = 0; i < nmms; i++)
		if (mms[i] == m)
			check_mm(m);
}

/*
 * run_seed - one random run in a system of phys_mb MiB.  The usual 64 MiB
 * never fills; SMALL_PHYS_MB, with a 64 MiB swap file, makes the run's
 * pages compete for memory, so reclaim evicts page-cache pages and sends
 * anonymous and shmem ones to swap (checked: pgsteal > 0), and every
 * later access must still see the model's bytes.
 */
static void run_seed(uint64_t seed, long steps, int full_every, unsigned long phys_mb)
{
	/* both reverse-map schemes, alternating by seed; both arena kinds, by the seed's next bit */
	struct umm_config cfg = { .phys_bytes = phys_mb << 20, .debug_checks = 1,
				  .rmap = seed & 1 ? UMM_RMAP_OBJECT : UMM_RMAP_PTE_CHAIN,
				  .arena = seed & 2 ? UMM_ARENA_ANON : UMM_ARENA_MEMFD };
	char swap_path[] = "/tmp/usermm-model-swap-XXXXXX";
	int swap_fd = -1;

	if (phys_mb == SMALL_PHYS_MB) {
		/* and a swap file: anonymous and shmem pages are reclaimed too */
		swap_fd = mkstemp(swap_path);
		REQUIRE(swap_fd >= 0);
		close(swap_fd);
		unlink(swap_path);
		cfg.swap_path = swap_path;
		cfg.swap_bytes = 64UL << 20;
	}
	struct umm_sys_stats st0, st;
	struct umm_mm *mm = NULL;

	cur_seed = seed;
	rng = seed * 0x9E3779B97F4A7C15ULL + 1;
	trace_n = 0;
	cur_step = -1;
	fprintf(stderr, "test_model: seed %" PRIu64 ", %ld steps, %s rmap, %s arena, %lu MiB\n", seed,
		steps, seed & 1 ? "object" : "pte-chain", seed & 2 ? "anon" : "memfd", phys_mb);
	set_op("setup");
	REQUIRE(umm_system_create(&cfg, &sys) == 0);
	if (cfg.swap_path)
		unlink(swap_path);
	model_swap = cfg.swap_path != NULL;
	test_warm_up(sys);
	REQUIRE(umm_system_stats(sys, &st0) == 0);
	objects_create();
	REQUIRE(umm_mm_create(sys, &mm) == 0);
	nmms = 0;
	next_mm_id = 0;
	mms[nmms++] = mm_new(mm);

	for (cur_step = 0; cur_step < steps; cur_step++) {
		run_step();
		check_system();
		if (full_every && cur_step % full_every == full_every - 1) {
			set_op("verify all");
			for (int i = 0; i < nmms; i++)
				verify_all(mms[i]);
		}
	}

	set_op("teardown");
	for (int i = 0; i < nmms; i++) {
		verify_all(mms[i]);
		check_mm(mms[i]);
	}
	while (nmms) {
		umm_mm_destroy(mms[nmms - 1]->mm);
		model_mm_free(mms[--nmms]);
	}
	test_checks++;
	if (nr_hidden != 0)
		FAIL("model leaked %d hidden objects", nr_hidden);
	for (int i = 0; i < NR_OBJS; i++) {
		umm_object_put(objs[i].uobj);
		objs[i].uobj = NULL;
		if (objs[i].fd >= 0) {
			set_op("final writeback of obj%d", i);
			check_file(&objs[i], 0, objs[i].size);   /* the last put wrote it back */
			close(objs[i].fd);
		}
		free(objs[i].data);
	}
	set_op("leak check");
	check_system();
	EXPECT_RC(umm_system_check(sys), 0);
	EXPECT_RC(umm_system_stats(sys, &st), 0);
	test_checks++;
	if (st.free_frames != st0.free_frames || st.anon_pages || st.pagecache_pages ||
	    st.pgtable_pages != st0.pgtable_pages)
		FAIL("frames leaked: free %lu (baseline %lu), anon %lu, pagecache %lu, "
		     "pgtable %lu (baseline %lu), slab %lu (baseline %lu)",
		     st.free_frames, st0.free_frames, st.anon_pages, st.pagecache_pages,
		     st.pgtable_pages, st0.pgtable_pages, st.slab_pages, st0.slab_pages);
	test_checks++;
	if (phys_mb == SMALL_PHYS_MB && !st.pgsteal)
		FAIL("a %lu MiB run reclaimed nothing", phys_mb);
	fprintf(stderr, "  reclaim: %lu pages scanned, %lu evicted, %lu swapped out, %lu in\n",
		st.pgscan, st.pgsteal, st.pswpout, st.pswpin);
	umm_system_destroy(sys);
	sys = NULL;
	fprintf(stderr, "  seen:");
	for (int i = 0; i < C_NR; i++) {
		fprintf(stderr, " %lu %s%s", cov[i], cov_names[i], i + 1 < C_NR ? "," : "\n");
		test_checks++;
		if (steps >= 1000 && cov[i] == 0 &&
		    !(model_swap && (i == C_MLOCK || i == C_MUNLOCK || (i >= C_REMAP && i <= C_WIN_COPY)))) {
			test_failures++;
			fprintf(stderr, "test_model: seed %" PRIu64 " never saw %s\n", seed, cov_names[i]);
		}
		cov[i] = 0;
	}
}

int main(int argc, char **argv)
{
	const char *env_steps = getenv("UMM_MODEL_STEPS");
	const char *env_full = getenv("UMM_MODEL_FULL");
#if defined(__SANITIZE_THREAD__)
	long steps = env_steps ? atol(env_steps) : 800;     /* TSan is ~5x slower here */
#else
	long steps = env_steps ? atol(env_steps) : 3000;
#endif
	int full_every = env_full ? atoi(env_full) : 25;

	verbose = getenv("UMM_MODEL_VERBOSE") != NULL;
	if (argc > 2)
		steps = atol(argv[2]);
	if (argc > 1) {
		run_seed(strtoull(argv[1], NULL, 0), steps, full_every,
			 argc > 3 ? strtoul(argv[3], NULL, 0) : DEFAULT_PHYS_MB);
	} else {
		/* fixed seeds keep `make check` deterministic; UMM_MODEL_RANDOM=1 explores */
		uint64_t base = getenv("UMM_MODEL_RANDOM") ? (uint64_t)time(NULL) : 1;

		for (int i = 0; i < 5; i++)
			run_seed(base + (uint64_t)i, steps, full_every, DEFAULT_PHYS_MB);
		/* small memory, one seed per reverse-map scheme (and arena kind): reclaim runs under the model */
		for (uint64_t seed = 1; seed <= 2; seed++)
			run_seed(seed, steps, full_every, SMALL_PHYS_MB);
	}
	return test_summary("test_model");
}

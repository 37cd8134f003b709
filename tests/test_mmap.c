/* SPDX-License-Identifier: MIT */
/*
 * test_mmap.c - umm_mmap and umm_munmap through the public API: every
 * argument error (with the address space and its data verified unchanged),
 * top-down placement, hints, MAP_FIXED replacing a mapping and its data,
 * MAP_FIXED_NOREPLACE, merging of adjacent anonymous mappings, munmap
 * splitting a mapping, file and shmem mappings, split failures under
 * injected allocation failure, and teardown leaving nothing behind.
 *
 * Every test builds its own system with debug_checks on, so the full
 * address-space invariant check runs after every call, and ends with
 * umm_system_check and a leak check.
 */
#include "mm_fixture.h"
#include "object.h"

/* file_byte_is - does the byte at off of the file behind fd read as want? */
static bool file_byte_is(int fd, off_t off, unsigned char want)
{
	unsigned char c;

	return pread(fd, &c, 1, off) == 1 && c == want;
}

/* ---- tests ---- */

struct mmap_case {
	const char *what;
	uintptr_t addr;
	size_t len;
	int prot, flags;
	int file;           /* 0 no object, 1 the rw object, 2 the read-only object, 3 unreadable */
	uint64_t offset;
	int err;
};

static void test_mmap_errors(void)
{
	setup();
	uintptr_t a = map_anon(0x40000000, 4 * P, PROT_READ | PROT_WRITE);
	int fd = test_tmpfile(8 * P, file_pat);
	int rofd = reopen(fd, O_RDONLY);
	struct umm_object *rw = open_file(fd), *ro = open_file(rofd), *unreadable = open_file(fd);
	struct umm_object *objs[] = { NULL, rw, ro, unreadable };
	const int AP = MAP_PRIVATE | MAP_ANONYMOUS, RW = PROT_READ | PROT_WRITE;
	const struct mmap_case cases[] = {
		{ "len 0", 0, 0, RW, AP, 0, 0, -EINVAL },
		{ "len SIZE_MAX", 0, SIZE_MAX, RW, AP, 0, 0, -ENOMEM },
		{ "len rounds past SIZE_MAX", 0, SIZE_MAX - 100, RW, AP, 0, 0, -ENOMEM },
		{ "len whole space", 0, UMM_TASK_SIZE, RW, AP, 0, 0, -ENOMEM },
		{ "offset unaligned", 0, P, PROT_READ, MAP_SHARED, 1, 100, -EINVAL },
		{ "offset unaligned, anon", 0, P, RW, AP, 0, 100, -EINVAL },
		{ "offset + len overflows", 0, 2 * P, PROT_READ, MAP_SHARED, 1, UINT64_MAX & ~(P - 1), -EOVERFLOW },
		{ "no map type", 0, P, RW, MAP_ANONYMOUS, 0, 0, -EINVAL },
		{ "MAP_HUGETLB", 0, P, RW, AP | MAP_HUGETLB, 0, 0, -EINVAL },
		{ "MAP_GROWSDOWN", 0, P, RW, AP | MAP_GROWSDOWN, 0, 0, -EINVAL },
		{ "validate MAP_SYNC", 0, P, RW, MAP_SHARED_VALIDATE | MAP_ANONYMOUS | MAP_SYNC, 0, 0, -EOPNOTSUPP },
		{ "validate unknown bit", 0, P, PROT_READ, MAP_SHARED_VALIDATE | 0x800000, 1, 0, -EOPNOTSUPP },
		{ "prot bit 8", 0, P, PROT_READ | 0x8, AP, 0, 0, -EINVAL },
		{ "PROT_GROWSDOWN", 0, P, PROT_READ | PROT_GROWSDOWN, AP, 0, 0, -EINVAL },
		{ "file without object", 0, P, PROT_READ, MAP_SHARED, 0, 0, -EBADF },
		{ "fixed unaligned", a + 1, P, RW, AP | MAP_FIXED, 0, 0, -EINVAL },
		{ "fixed at 0", 0, P, RW, AP | MAP_FIXED, 0, 0, -EPERM },
		{ "fixed below min", UMM_MMAP_MIN_ADDR - P, 2 * P, RW, AP | MAP_FIXED, 0, 0, -EPERM },
		{ "fixed at top", UMM_TASK_SIZE, P, RW, AP | MAP_FIXED, 0, 0, -ENOMEM },
		{ "fixed across top", UMM_TASK_SIZE - P, 2 * P, RW, AP | MAP_FIXED, 0, 0, -ENOMEM },
		{ "noreplace exact", a, 4 * P, RW, AP | MAP_FIXED_NOREPLACE, 0, 0, -EEXIST },
		{ "noreplace below", a - P, 2 * P, RW, AP | MAP_FIXED_NOREPLACE, 0, 0, -EEXIST },
		{ "noreplace above", a + 3 * P, 2 * P, RW, AP | MAP_FIXED_NOREPLACE, 0, 0, -EEXIST },
		{ "noreplace | fixed", a + P, P, RW, AP | MAP_FIXED | MAP_FIXED_NOREPLACE, 0, 0, -EEXIST },
		{ "noreplace, file", a + P, P, PROT_READ, MAP_SHARED | MAP_FIXED_NOREPLACE, 1, 0, -EEXIST },
		{ "shared write, ro fd", 0, P, RW, MAP_SHARED, 2, 0, -EACCES },
		{ "validate write, ro fd", 0, P, PROT_WRITE, MAP_SHARED_VALIDATE, 2, 0, -EACCES },
		{ "fixed shared write, ro fd", a, P, RW, MAP_SHARED | MAP_FIXED, 2, 0, -EACCES },
		{ "unreadable, private", 0, P, PROT_READ, MAP_PRIVATE, 3, 0, -EACCES },
		{ "unreadable, shared", 0, P, PROT_READ, MAP_SHARED, 3, 0, -EACCES },
	};
	char *before;
	uintptr_t out;

	unreadable->readable = false;   /* a write-only fd cannot be opened: fake one */
	fill(a, 4 * P, 1);
	before = maps();
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct mmap_case *c = &cases[i];
		int err;

		out = 0xdead;
		err = umm_mmap(mm, c->addr, c->len, c->prot, c->flags, objs[c->file], c->offset, &out);
		if (err != c->err)
			fprintf(stderr, "case \"%s\": got %d, want %d\n", c->what, err, c->err);
		CHECK_EQ(err, c->err);
		CHECK_EQ(out, 0xdead);
		CHECK_MAPS(before);
	}
	CHECK_EQ(umm_mmap(NULL, 0, P, PROT_READ, AP, NULL, 0, &out), -EINVAL);
	CHECK_EQ(umm_mmap(mm, 0, P, PROT_READ, AP, NULL, 0, NULL), -EINVAL);
	CHECK_MAPS(before);
	CHECK(holds(a, 4 * P, 1));
	CHECK_EQ(stats().nr_vmas, 1);
	CHECK_EQ(stats().rss_anon, 4);
	free(before);
	umm_object_put(rw);
	umm_object_put(ro);
	umm_object_put(unreadable);
	close(fd);
	close(rofd);
	teardown();
}

/* Flags Linux ignores are ignored; the known ones are accepted. */
static void test_mmap_accepted_flags(void)
{
	setup();
	const int RW = PROT_READ | PROT_WRITE;
	uintptr_t a, b, c;
	char *m;

	REQUIRE(umm_mmap(mm, 0, P, RW, MAP_PRIVATE | MAP_ANONYMOUS | 0x800000, NULL, 0, &a) == 0);
	REQUIRE(umm_mmap(mm, 0, P, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_SYNC, NULL, 0, &b) == 0);
	REQUIRE(umm_mmap(mm, 0, 2 * P, PROT_READ | PROT_EXEC,
			 MAP_SHARED_VALIDATE | MAP_ANONYMOUS | MAP_POPULATE | MAP_NONBLOCK |
			 MAP_LOCKED | MAP_NORESERVE | MAP_STACK | MAP_DENYWRITE | MAP_EXECUTABLE,
			 NULL, 0, &c) == 0);
	fill(a, P, 2);
	fill(b, P, 3);
	CHECK(holds(a, P, 2));
	CHECK(holds(b, P, 3));
	CHECK(holds_zero(c, 2 * P));
	CHECK_EQ(umm_write(mm, c, "x", 1), -EFAULT);
	m = maps();
	CHECK(strstr(m, "r-xs") != NULL);   /* MAP_SHARED_VALIDATE made a shared mapping */
	CHECK(strstr(m, "rw-s") != NULL);
	CHECK(strstr(m, "rw-p") != NULL);
	free(m);
	/* anonymous ignores the object and the offset's value */
	int fd = test_tmpfile(2 * P, file_pat);
	struct umm_object *obj = open_file(fd);
	uintptr_t d;

	REQUIRE(umm_mmap(mm, 0, P, RW, MAP_PRIVATE | MAP_ANONYMOUS, obj, 8 * P, &d) == 0);
	CHECK(holds_zero(d, P));
	fill(d, P, 4);
	CHECK(umm_munmap(mm, d, P) == 0);
	CHECK(umm_object_sync(obj, 0, 0) == 0);
	CHECK(file_byte_is(fd, 0, file_pat(0)));
	umm_object_put(obj);
	close(fd);
	teardown();
}

static void test_mmap_topdown(void)
{
	setup();
	uintptr_t a[4];
	/* alternate protections so that neighbours do not merge */
	const int prots[4] = { PROT_READ, PROT_READ | PROT_WRITE, PROT_READ, PROT_READ | PROT_WRITE };

	for (int i = 0; i < 4; i++) {
		a[i] = map_anon(0, 2 * P, prots[i]);
		CHECK(a[i] >= UMM_MMAP_MIN_ADDR && a[i] + 2 * P <= UMM_TASK_SIZE);
		if (i > 0) {
			CHECK(a[i] < a[i - 1]);
			CHECK_EQ(a[i] + 2 * P, a[i - 1]);   /* packed, highest first */
		}
	}
	/* the first mapping ends at mmap_base, 128 MiB below the top, as under Linux */
	CHECK_EQ(a[0] + 2 * P, UMM_MMAP_BASE);
	CHECK(UMM_TASK_SIZE - UMM_MMAP_BASE >= (128UL << 20));
	CHECK_EQ(stats().nr_vmas, 4);
	/* a hole left by munmap is reused from the top */
	CHECK_EQ(umm_munmap(mm, a[1], 2 * P), 0);
	CHECK_EQ(map_anon(0, P, PROT_EXEC), a[1] + P);
	/* the gap above mmap_base is free for MAP_FIXED and hints */
	uintptr_t f = 0;
	CHECK_EQ(umm_mmap(mm, UMM_TASK_SIZE - 2 * P, 2 * P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
			  NULL, 0, &f), 0);
	CHECK_EQ(f, UMM_TASK_SIZE - 2 * P);
	CHECK_EQ(map_anon(UMM_MMAP_BASE + P, P, PROT_READ), UMM_MMAP_BASE + P);
	CHECK_EQ(umm_munmap(mm, UMM_MMAP_BASE, UMM_TASK_SIZE - UMM_MMAP_BASE), 0);
	teardown();
}

/* Nothing fits below mmap_base: the gap above it is used (Linux's fallback). */
static void test_mmap_gap_fallback(void)
{
	setup();
	size_t len = UMM_TASK_SIZE - UMM_MMAP_MIN_ADDR;   /* the whole address space */

	CHECK_EQ(map_anon(0, len, PROT_READ | PROT_WRITE), UMM_MMAP_MIN_ADDR);
	CHECK_EQ(write_byte(UMM_TASK_SIZE - P, 7), 0);
	CHECK_EQ(read_byte(UMM_TASK_SIZE - P), 7);
	CHECK_EQ(umm_munmap(mm, UMM_MMAP_MIN_ADDR, len), 0);
	teardown();
}

static void test_mmap_hint(void)
{
	setup();
	const int RW = PROT_READ | PROT_WRITE;
	uintptr_t a, b, c, d, e;

	a = map_anon(0x10000000, 2 * P, RW);
	CHECK_EQ(a, 0x10000000);
	b = map_anon(0x10000000, 2 * P, PROT_READ);   /* taken: placed elsewhere */
	CHECK(b != a && (b + 2 * P <= a || b >= a + 2 * P));
	c = map_anon(0x20000123, P, RW);              /* unaligned hint: rounded down */
	CHECK_EQ(c, 0x20000000);
	d = map_anon(0x1000, P, RW);                  /* below the minimum: raised to it */
	CHECK_EQ(d, UMM_MMAP_MIN_ADDR);
	e = map_anon(UMM_TASK_SIZE - P, 2 * P, RW);   /* does not fit there: elsewhere */
	CHECK(e + 2 * P <= UMM_TASK_SIZE);
	CHECK(holds_zero(a, 2 * P));
	fill(a, 2 * P, 9);
	CHECK(holds(a, 2 * P, 9));
	teardown();
}

static void test_mmap_fixed_replaces(void)
{
	setup();
	const int RW = PROT_READ | PROT_WRITE;
	int fd = test_tmpfile(4 * P, file_pat);
	struct umm_object *obj = open_file(fd);
	uintptr_t a = map_anon(0x30000000, 4 * P, RW), out;

	fill(a, 4 * P, 7);
	CHECK_EQ(stats().rss_anon, 4);
	/* a file over the middle two pages */
	REQUIRE(umm_mmap(mm, a + P, 2 * P, PROT_READ, MAP_SHARED | MAP_FIXED, obj, P, &out) == 0);
	CHECK_EQ(out, a + P);
	CHECK_EQ(stats().nr_vmas, 3);
	CHECK_EQ(stats().rss_anon, 2);
	CHECK(holds_file(a + P, 2 * P, P));
	CHECK(holds(a, P, 7));
	CHECK(pat(3 * P, 7) == read_byte(a + 3 * P));
	CHECK_EQ(umm_write(mm, a + P, "x", 1), -EFAULT);
	/* fresh anonymous memory over the file and part of the old anon */
	REQUIRE(umm_mmap(mm, a + P, 3 * P, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, NULL, 0, &out) == 0);
	CHECK_EQ(out, a + P);
	CHECK(holds_zero(a + P, 3 * P));
	CHECK(holds(a, P, 7));
	CHECK_EQ(stats().rss_anon, 1);
	CHECK_EQ(stats().rss_file, 0);
	/* NOREPLACE into a free range works */
	REQUIRE(umm_mmap(mm, a + 4 * P, P, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			 NULL, 0, &out) == 0);
	CHECK_EQ(out, a + 4 * P);
	umm_object_put(obj);
	close(fd);
	teardown();
}

static void test_mmap_merge(void)
{
	setup();
	const int RW = PROT_READ | PROT_WRITE;
	const uintptr_t x = 0x50000000;
	int fd = test_tmpfile(P, file_pat);
	struct umm_object *obj = open_file(fd);
	uintptr_t out;

	CHECK_EQ(map_anon(x, P, RW), x);
	CHECK_EQ(map_anon(x + P, P, RW), x + P);
	CHECK_EQ(stats().nr_vmas, 1);
	CHECK_EQ(map_anon(x - P, P, RW), x - P);      /* below merges too */
	CHECK_EQ(stats().nr_vmas, 1);
	CHECK_EQ(stats().total_vm, 3);
	CHECK_EQ(map_anon(x + 2 * P, P, PROT_READ), x + 2 * P);
	CHECK_EQ(stats().nr_vmas, 2);
	REQUIRE(umm_mmap(mm, x + 3 * P, P, PROT_READ, MAP_PRIVATE, obj, 0, &out) == 0);
	CHECK_EQ(stats().nr_vmas, 3);
	/* write over the whole merged vma */
	fill(x - P, 3 * P, 5);
	CHECK(holds(x - P, 3 * P, 5));
	umm_object_put(obj);
	close(fd);
	teardown();
}

static void test_munmap_middle(void)
{
	setup();
	uintptr_t a = map_anon(0x60000000, 3 * P, PROT_READ | PROT_WRITE);

	fill(a, 3 * P, 11);
	CHECK_EQ(umm_munmap(mm, a + P, P), 0);
	CHECK_EQ(stats().nr_vmas, 2);
	CHECK_EQ(stats().rss_anon, 2);
	CHECK_EQ(stats().total_vm, 2);
	CHECK(holds(a, P, 11));
	CHECK_EQ(read_byte(a + 2 * P), pat(2 * P, 11));
	CHECK_EQ(read_byte(a + P), -EFAULT);
	CHECK_EQ(umm_write(mm, a + P, "x", 1), -EFAULT);
	CHECK_EQ(umm_munmap(mm, a + P, P), 0);        /* nothing there: fine */
	CHECK_EQ(umm_munmap(mm, a, 3 * P), 0);
	CHECK_EQ(stats().nr_vmas, 0);
	CHECK_EQ(stats().rss_anon, 0);
	CHECK_EQ(stats().pgtable_pages, 1);           /* the pgd only */
	CHECK_EQ(read_byte(a), -EFAULT);
	teardown();
}

static void test_munmap_span(void)
{
	setup();
	const uintptr_t x = 0x70000000;
	uintptr_t a = map_anon(x, 3 * P, PROT_READ | PROT_WRITE);
	uintptr_t b = map_anon(x + 4 * P, 2 * P, PROT_READ | PROT_WRITE);
	uintptr_t c = map_anon(x + 6 * P, 3 * P, PROT_READ);

	CHECK_EQ(b, x + 4 * P);
	CHECK_EQ(c, x + 6 * P);
	fill(a, 3 * P, 1);
	fill(b, 2 * P, 2);
	/* from the middle of a, over the hole and b, into the middle of c */
	CHECK_EQ(umm_munmap(mm, a + 2 * P, 5 * P + 100), 0);
	CHECK_EQ(stats().nr_vmas, 2);
	CHECK_EQ(stats().total_vm, 3);
	CHECK(holds(a, 2 * P, 1));
	CHECK_EQ(read_byte(a + 2 * P), -EFAULT);
	CHECK_EQ(read_byte(b), -EFAULT);
	CHECK_EQ(read_byte(c + P - 1), -EFAULT);
	CHECK_EQ(read_byte(c + P), -EFAULT);          /* len rounded up to the page */
	CHECK_EQ(read_byte(c + 2 * P), 0);
	teardown();
}

static void test_munmap_errors(void)
{
	setup();
	uintptr_t a = map_anon(0x60000000, 2 * P, PROT_READ | PROT_WRITE);
	char *before;

	fill(a, 2 * P, 3);
	before = maps();
	CHECK_EQ(umm_munmap(mm, a + 1, P), -EINVAL);
	CHECK_EQ(umm_munmap(mm, a, 0), -EINVAL);
	CHECK_EQ(umm_munmap(mm, a, SIZE_MAX), -EINVAL);
	CHECK_EQ(umm_munmap(mm, a, UMM_TASK_SIZE), -EINVAL);
	CHECK_EQ(umm_munmap(mm, UMM_TASK_SIZE, P), -EINVAL);
	CHECK_EQ(umm_munmap(mm, UMM_TASK_SIZE - P, 2 * P), -EINVAL);
	CHECK_EQ(umm_munmap(mm, UINTPTR_MAX & ~(P - 1), P), -EINVAL);
	CHECK_EQ(umm_munmap(NULL, a, P), -EINVAL);
	CHECK_MAPS(before);
	CHECK_EQ(umm_munmap(mm, 0, P), 0);               /* nothing mapped: success */
	CHECK_EQ(umm_munmap(mm, UMM_TASK_SIZE - P, P), 0);
	CHECK_MAPS(before);
	CHECK(holds(a, 2 * P, 3));
	free(before);
	teardown();
}

/*
 * A split that cannot allocate its vma fails with -ENOMEM and changes
 * nothing.  Splits run with frame allocation failing until the vma slab
 * is full, so the first or the second split of a munmap is refused.
 */
static void test_munmap_split_enomem(void)
{
	setup();
	const int RW = PROT_READ | PROT_WRITE;
	uintptr_t x = 0x100000000;
	int enomem = 0;

	for (int i = 0; i < 400 && enomem < 3; i++, x += 4 * P) {
		uintptr_t a = map_anon(x, 3 * P, i & 1 ? RW : PROT_READ | PROT_EXEC);
		char *before;
		int err;

		/* vary the vma allocations per round so a split meets a full slab */
		if (i % 3 == 0)
			map_anon(x + 3 * P, P, PROT_EXEC);

		if (i & 1)
			fill(a, 3 * P, (unsigned)i);
		before = maps();
		err = WITH_PAGE_ALLOC_FAILING(0, umm_munmap(mm, a + P, P));
		CHECK(err == 0 || err == -ENOMEM);
		if (err == -ENOMEM) {
			enomem++;
			CHECK_MAPS(before);
			if (i & 1)
				CHECK(holds(a, 3 * P, (unsigned)i));
		} else if (i & 1) {
			CHECK(holds(a, P, (unsigned)i));
			CHECK_EQ(read_byte(a + P), -EFAULT);
		}
		free(before);
	}
	CHECK(enomem > 0);
	teardown();
}

/*
 * MAP_FIXED into the middle of a mapping allocates its vma (and shmem
 * object) before it unmaps anything; when the vma or a split cannot be
 * allocated the old mapping and its data are untouched.
 */
static void test_mmap_fixed_enomem(void)
{
	setup();
	uintptr_t x = 0x100000000;
	int enomem = 0;

	for (int i = 0; i < 400 && enomem < 6; i++, x += 4 * P) {
		uintptr_t a = map_anon(x, 3 * P, PROT_READ | PROT_WRITE), out = 0;
		int flags = MAP_FIXED | MAP_ANONYMOUS | (i & 1 ? MAP_SHARED : MAP_PRIVATE);
		char *before;
		int err;

		if (i % 3 == 0)
			map_anon(x + 3 * P, P, PROT_EXEC);
		fill(a, 3 * P, (unsigned)i);
		before = maps();
		err = WITH_PAGE_ALLOC_FAILING(0, umm_mmap(mm, a + P, P, PROT_READ, flags, NULL, 0, &out));
		CHECK(err == 0 || err == -ENOMEM);
		if (err == -ENOMEM) {
			enomem++;
			CHECK_MAPS(before);
			CHECK(holds(a, 3 * P, (unsigned)i));
		} else {
			CHECK_EQ(out, a + P);
			CHECK(holds_zero(a + P, P));
			CHECK(holds(a, P, (unsigned)i));
		}
		free(before);
	}
	CHECK(enomem > 0);
	teardown();
}

static void test_mmap_file(void)
{
	setup();
	const int RW = PROT_READ | PROT_WRITE;
	int fd = test_tmpfile(4 * P, file_pat);
	int rofd = reopen(fd, O_RDONLY);
	struct umm_object *obj = open_file(fd), *ro = open_file(rofd);
	uintptr_t s, p, r;

	/* shared: writes reach the file */
	REQUIRE(umm_mmap(mm, 0, 4 * P, RW, MAP_SHARED, obj, 0, &s) == 0);
	CHECK(holds_file(s, 4 * P, 0));
	CHECK_EQ(umm_write(mm, s + 2 * P + 5, "\xAA", 1), 0);
	/* offset: the same page, seen through a second mapping */
	REQUIRE(umm_mmap(mm, 0, 2 * P, PROT_READ, MAP_SHARED, obj, 2 * P, &p) == 0);
	CHECK_EQ(read_byte(p + 5), 0xAA);
	CHECK(holds_file(p + P, P, 3 * P));
	CHECK_EQ(umm_munmap(mm, s, 4 * P), 0);
	CHECK_EQ(umm_object_sync(obj, 0, 0), 0);
	CHECK(file_byte_is(fd, 2 * P + 5, 0xAA));
	/* private of a read-only fd may be written; the file does not change */
	REQUIRE(umm_mmap(mm, 0, 2 * P, RW, MAP_PRIVATE, ro, 0, &r) == 0);
	CHECK_EQ(umm_write(mm, r + 1, "\xBB", 1), 0);
	CHECK_EQ(read_byte(r + 1), 0xBB);
	CHECK_EQ(umm_munmap(mm, r, 2 * P), 0);
	CHECK_EQ(umm_object_sync(ro, 0, 0), 0);
	CHECK(file_byte_is(fd, 1, file_pat(1)));
	/* shared read-only of a read-only fd is fine */
	REQUIRE(umm_mmap(mm, 0, P, PROT_READ, MAP_SHARED, ro, 0, &r) == 0);
	CHECK(holds_file(r, P, 0));
	/* the mapping holds the object: put ours, the data stays readable */
	umm_object_put(ro);
	CHECK(holds_file(r, P, 0));
	umm_object_put(obj);
	close(fd);
	close(rofd);
	teardown();
}

static void test_mmap_shared_anon(void)
{
	setup();
	uintptr_t a;
	struct umm_mm *child, *parent = mm;

	REQUIRE(umm_mmap(mm, 0, 2 * P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			 NULL, 0, &a) == 0);
	CHECK(holds_zero(a, 2 * P));
	fill(a, 2 * P, 6);
	CHECK_EQ(stats().rss_shmem, 2);
	REQUIRE(umm_fork(parent, &child) == 0);
	mm = child;
	CHECK(holds(a, 2 * P, 6));
	fill(a, P, 8);                   /* the child writes; the parent sees it */
	umm_mm_destroy(child);
	mm = parent;
	CHECK(holds(a, P, 8));
	CHECK_EQ(umm_munmap(mm, a, 2 * P), 0);
	CHECK_EQ(stats().rss_shmem, 0);
	teardown();
}

/* Destroying an mm with mappings of every kind leaves nothing allocated. */
static void test_exit_mmap(void)
{
	setup();
	const int RW = PROT_READ | PROT_WRITE;
	int fd = test_tmpfile(8 * P, file_pat);
	struct umm_object *obj = open_file(fd);
	struct umm_sys_stats st;
	uintptr_t a, b, c;

	REQUIRE(umm_mmap(mm, 0, 64 * P, RW, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &a) == 0);
	REQUIRE(umm_mmap(mm, 0x200000000000, 8 * P, RW, MAP_SHARED, obj, 0, &b) == 0);
	REQUIRE(umm_mmap(mm, 0x300000, 8 * P, RW, MAP_PRIVATE, obj, 0, &c) == 0);
	for (int i = 0; i < 64; i += 3)
		fill(a + (size_t)i * P, 10, (unsigned)i);
	fill(b, 8 * P, 1);
	fill(c + P, 2 * P, 2);
	REQUIRE(umm_system_stats(sys, &st) == 0);
	CHECK(st.anon_pages >= 22 + 2);
	CHECK(st.pgtable_pages > 3);
	umm_object_put(obj);
	/* the mappings still hold the object; the dirty shared pages reach the file */
	teardown();
	CHECK(file_byte_is(fd, 5, pat(5, 1)));
	close(fd);
}

int main(void)
{
	RUN(test_mmap_errors);
	RUN(test_mmap_accepted_flags);
	RUN(test_mmap_topdown);
	RUN(test_mmap_gap_fallback);
	RUN(test_mmap_hint);
	RUN(test_mmap_fixed_replaces);
	RUN(test_mmap_merge);
	RUN(test_munmap_middle);
	RUN(test_munmap_span);
	RUN(test_munmap_errors);
	RUN(test_munmap_split_enomem);
	RUN(test_mmap_fixed_enomem);
	RUN(test_mmap_file);
	RUN(test_mmap_shared_anon);
	RUN(test_exit_mmap);
	return test_summary("test_mmap");
}

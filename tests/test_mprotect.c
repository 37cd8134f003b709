/* SPDX-License-Identifier: MIT */
/*
 * test_mprotect.c - umm_mprotect through the public API: read-only and
 * PROT_NONE ranges refuse the accesses they forbid and keep their data,
 * splitting and re-merging of VMAs, ranges over several VMAs, shared file
 * mappings, -EACCES from the VM_MAY* bits, every argument error with the
 * address space verified unchanged (including a hole after a VMA that
 * Linux would already have changed), and split failures under injected
 * allocation failure.
 *
 * Every test builds its own system with debug_checks on (the full
 * invariant check runs after every call) and ends with umm_system_check
 * and a leak check.
 */
#include "mm_fixture.h"

#define RW (PROT_READ | PROT_WRITE)

/* ---- tests ---- */

static void test_mprotect_ro_rw(void)
{
	setup();
	uintptr_t a = map_at(0x40000000, 2 * P, RW);

	fill(a, 2 * P, 1);
	CHECK_EQ(umm_mprotect(mm, a, 2 * P, PROT_READ), 0);
	CHECK_EQ(write_byte(a, 0), -EFAULT);
	CHECK_EQ(write_byte(a + P + 7, 0), -EFAULT);
	CHECK(holds(a, 2 * P, 1));
	CHECK_EQ(umm_mprotect(mm, a, 2 * P, RW), 0);
	CHECK_EQ(write_byte(a + P + 7, 0x42), 0);
	CHECK_EQ(read_byte(a + P + 7), 0x42);
	fill(a, 2 * P, 2);
	/* PROT_NONE keeps the frames but refuses reads too */
	CHECK_EQ(umm_mprotect(mm, a, 2 * P, PROT_NONE), 0);
	CHECK_EQ(read_byte(a), -EFAULT);
	CHECK_EQ(write_byte(a, 1), -EFAULT);
	CHECK_EQ(umm_mprotect(mm, a, 2 * P, PROT_READ), 0);
	CHECK(holds(a, 2 * P, 2));
	/* write-only still reads (x86) and writes */
	CHECK_EQ(umm_mprotect(mm, a, 2 * P, PROT_WRITE), 0);
	CHECK_EQ(write_byte(a, 0x24), 0);
	CHECK_EQ(read_byte(a), 0x24);
	/* a never-touched page made read-only reads zero and refuses writes */
	uintptr_t b = map_at(0x50000000, P, RW);
	CHECK_EQ(umm_mprotect(mm, b, P, PROT_READ), 0);
	CHECK_EQ(read_byte(b), 0);
	CHECK_EQ(write_byte(b, 1), -EFAULT);
	CHECK_EQ(umm_mprotect(mm, b, P, RW), 0);
	CHECK_EQ(write_byte(b, 1), 0);
	CHECK_EQ(read_byte(b), 1);
	teardown();
}

static void test_mprotect_split_merge(void)
{
	setup();
	uintptr_t a = map_at(0x40000000, 3 * P, RW);

	fill(a, 3 * P, 3);
	CHECK_EQ(nr_vmas(), 1);
	CHECK_EQ(umm_mprotect(mm, a + P, P, PROT_READ), 0);
	CHECK_EQ(nr_vmas(), 3);
	CHECK_EQ(write_byte(a + P, 0), -EFAULT);
	CHECK_EQ(write_byte(a, pat(0, 3)), 0);
	CHECK_EQ(write_byte(a + 2 * P, pat(2 * P, 3)), 0);
	CHECK_EQ(umm_mprotect(mm, a + P, P, RW), 0);
	CHECK_EQ(nr_vmas(), 1);
	CHECK(holds(a, 3 * P, 3));
	/* len rounds up to the page; the first page of the vma */
	CHECK_EQ(umm_mprotect(mm, a, 1, PROT_READ), 0);
	CHECK_EQ(nr_vmas(), 2);
	CHECK_EQ(write_byte(a + P - 1, 0), -EFAULT);
	CHECK_EQ(write_byte(a + P, pat(P, 3)), 0);
	/* the last page: three vmas; then the first two agree and merge */
	CHECK_EQ(umm_mprotect(mm, a + 2 * P, P, PROT_NONE), 0);
	CHECK_EQ(nr_vmas(), 3);
	CHECK_EQ(umm_mprotect(mm, a + P, P, PROT_READ), 0);
	CHECK_EQ(nr_vmas(), 2);
	/* the same protection again changes nothing */
	CHECK_EQ(umm_mprotect(mm, a, 2 * P, PROT_READ), 0);
	CHECK_EQ(nr_vmas(), 2);
	CHECK_EQ(umm_mprotect(mm, a, 3 * P, RW), 0);
	CHECK_EQ(nr_vmas(), 1);
	CHECK(holds(a, 3 * P, 3));
	teardown();
}

/* One call over several vmas (different protections, a file) without holes. */
static void test_mprotect_several_vmas(void)
{
	setup();
	int fd = test_tmpfile(2 * P, file_pat);
	struct umm_object *obj = open_file(fd);
	const uintptr_t x = 0x40000000;
	uintptr_t f;

	map_at(x, 2 * P, RW);
	map_at(x + 2 * P, P, PROT_READ);
	map_at(x + 3 * P, 2 * P, PROT_EXEC);
	REQUIRE(umm_mmap(mm, x + 5 * P, 2 * P, PROT_READ, MAP_PRIVATE, obj, 0, &f) == 0);
	CHECK_EQ(f, x + 5 * P);
	fill(x, 2 * P, 4);
	CHECK_EQ(nr_vmas(), 4);
	CHECK_EQ(umm_mprotect(mm, x + P, 5 * P, RW), 0);
	/* [x, x+5P) anonymous RW merges into one; the file part splits */
	CHECK_EQ(nr_vmas(), 3);
	fill(x, 6 * P, 5);
	CHECK(holds(x, 6 * P, 5));
	CHECK_EQ(write_byte(x + 6 * P, 0), -EFAULT);
	CHECK_EQ(read_byte(x + 6 * P + 1), file_pat(P + 1));
	CHECK_EQ(umm_mprotect(mm, x, 7 * P, PROT_READ), 0);
	CHECK_EQ(nr_vmas(), 2);
	CHECK(holds(x, 6 * P, 5));
	for (uintptr_t p = x; p < x + 7 * P; p += P)
		CHECK_EQ(write_byte(p, 0), -EFAULT);
	umm_object_put(obj);
	close(fd);
	teardown();
}

static void test_mprotect_errors(void)
{
	setup();
	const uintptr_t x = 0x40000000;
	char *before;

	map_at(x, 2 * P, RW);
	map_at(x + 3 * P, 2 * P, RW);   /* hole at x + 2P */
	fill(x, 2 * P, 6);
	fill(x + 3 * P, 2 * P, 7);
	before = maps();
	CHECK_EQ(umm_mprotect(mm, x + 1, P, PROT_READ), -EINVAL);
	CHECK_EQ(umm_mprotect(mm, x, P, 0x8), -EINVAL);
	CHECK_EQ(umm_mprotect(mm, x, P, PROT_READ | PROT_GROWSDOWN), -EINVAL);
	CHECK_EQ(umm_mprotect(mm, x, 0, 0x8), 0);                     /* len 0: success first */
	CHECK_EQ(umm_mprotect(mm, x + 2 * P, P, PROT_READ), -ENOMEM); /* the hole itself */
	CHECK_EQ(umm_mprotect(mm, x + P, 3 * P, PROT_READ), -ENOMEM); /* across the hole */
	CHECK_EQ(umm_mprotect(mm, x, 5 * P, PROT_NONE), -ENOMEM);
	CHECK_EQ(umm_mprotect(mm, x + 3 * P, 3 * P, PROT_READ), -ENOMEM); /* past the end */
	CHECK_EQ(umm_mprotect(mm, x - P, 2 * P, PROT_READ), -ENOMEM);    /* before the start */
	CHECK_EQ(umm_mprotect(mm, UMM_TASK_SIZE, P, PROT_READ), -ENOMEM);
	CHECK_EQ(umm_mprotect(mm, x, SIZE_MAX, PROT_READ), -ENOMEM);
	CHECK_EQ(umm_mprotect(mm, UINTPTR_MAX & ~(P - 1), P, PROT_READ), -ENOMEM);
	CHECK_EQ(umm_mprotect(NULL, x, P, PROT_READ), -EINVAL);
	CHECK_MAPS(before);
	/* nothing changed: both sides still writable and hold their data */
	CHECK(holds(x, 2 * P, 6));
	CHECK(holds(x + 3 * P, 2 * P, 7));
	CHECK_EQ(write_byte(x, pat(0, 6)), 0);
	CHECK_EQ(write_byte(x + 3 * P, pat(0, 7)), 0);
	free(before);
	teardown();
}

static void test_mprotect_eacces(void)
{
	setup();
	int fd = test_tmpfile(4 * P, file_pat);
	int rofd = reopen(fd, O_RDONLY);
	struct umm_object *ro = open_file(rofd);
	const uintptr_t x = 0x40000000;
	uintptr_t s, p;
	char *before;

	REQUIRE(umm_mmap(mm, x, 2 * P, PROT_READ, MAP_SHARED, ro, 0, &s) == 0);
	REQUIRE(umm_mmap(mm, x + 3 * P, 2 * P, PROT_READ, MAP_PRIVATE, ro, 0, &p) == 0);
	CHECK_EQ(read_byte(s + 1), file_pat(1));
	before = maps();
	CHECK_EQ(umm_mprotect(mm, s, 2 * P, RW), -EACCES);
	CHECK_EQ(umm_mprotect(mm, s + P, P, PROT_WRITE), -EACCES);
	/* address order decides: the refused vma comes before the hole */
	CHECK_EQ(umm_mprotect(mm, s, 4 * P, RW), -EACCES);
	/* the hole comes first */
	CHECK_EQ(umm_mprotect(mm, x - P, 3 * P, RW), -ENOMEM);
	CHECK_MAPS(before);
	CHECK_EQ(write_byte(s, 0), -EFAULT);
	/* what the VM_MAY bits allow */
	CHECK_EQ(umm_mprotect(mm, s, 2 * P, PROT_READ | PROT_EXEC), 0);
	CHECK_EQ(umm_mprotect(mm, s, 2 * P, PROT_NONE), 0);
	CHECK_EQ(umm_mprotect(mm, s, 2 * P, PROT_READ), 0);
	/* a private mapping of a read-only fd can become writable (COW) */
	CHECK_EQ(umm_mprotect(mm, p, 2 * P, RW), 0);
	CHECK_EQ(write_byte(p + 1, 0xEE), 0);
	CHECK_EQ(read_byte(p + 1), 0xEE);
	CHECK_EQ(read_byte(s + 1), file_pat(1));
	free(before);
	umm_object_put(ro);
	close(rofd);
	close(fd);
	teardown();
}

/* Protection changes on present file pages of a shared mapping. */
static void test_mprotect_shared_file(void)
{
	setup();
	int fd = test_tmpfile(2 * P, file_pat);
	struct umm_object *obj = open_file(fd);
	uintptr_t s;
	unsigned char c;

	REQUIRE(umm_mmap(mm, 0, 2 * P, RW, MAP_SHARED, obj, 0, &s) == 0);
	CHECK_EQ(write_byte(s + 10, 0x11), 0);
	CHECK_EQ(umm_mprotect(mm, s, 2 * P, PROT_READ), 0);
	CHECK_EQ(write_byte(s + 10, 0x22), -EFAULT);
	CHECK_EQ(read_byte(s + 10), 0x11);
	CHECK_EQ(umm_mprotect(mm, s, P, RW), 0);
	CHECK_EQ(write_byte(s + 10, 0x33), 0);
	CHECK_EQ(write_byte(s + P, 0x44), -EFAULT);
	CHECK_EQ(umm_object_sync(obj, 0, 0), 0);
	CHECK(pread(fd, &c, 1, 10) == 1 && c == 0x33);
	umm_object_put(obj);
	close(fd);
	teardown();
}

/* A split that cannot get a vma fails with -ENOMEM and changes nothing. */
static void test_mprotect_split_enomem(void)
{
	setup();
	uintptr_t x = 0x100000000;
	int enomem = 0;

	for (int i = 0; i < 400 && enomem < 3; i++, x += 4 * P) {
		uintptr_t a = map_at(x, 3 * P, RW);
		char *before;
		int err;

		/* vary the vma allocations per round so a split meets a full slab */
		if (i % 3 == 0)
			map_at(x + 3 * P, P, PROT_EXEC);

		fill(a, 3 * P, (unsigned)i);
		before = maps();
		err = WITH_PAGE_ALLOC_FAILING(0, umm_mprotect(mm, a + P, P, PROT_READ));
		CHECK(err == 0 || err == -ENOMEM);
		if (err == -ENOMEM) {
			enomem++;
			CHECK_MAPS(before);
			CHECK_EQ(write_byte(a + P, pat(P, (unsigned)i)), 0);
		} else {
			CHECK_EQ(write_byte(a + P, 0), -EFAULT);
		}
		CHECK(holds(a, 3 * P, (unsigned)i));
		free(before);
	}
	CHECK(enomem > 0);
	teardown();
}

int main(void)
{
	RUN(test_mprotect_ro_rw);
	RUN(test_mprotect_split_merge);
	RUN(test_mprotect_several_vmas);
	RUN(test_mprotect_errors);
	RUN(test_mprotect_eacces);
	RUN(test_mprotect_shared_file);
	RUN(test_mprotect_split_enomem);
	return test_summary("test_mprotect");
}

/*
 * test.h - a minimal test harness: CHECK macros that report file:line and
 * count failures, and helpers shared by tests.  A test program returns
 * test_summary(), non-zero when any check failed.
 */
#ifndef UMM_TEST_H
#define UMM_TEST_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <inttypes.h>

static int test_failures;
static int test_checks;

#define CHECK(cond) do { test_checks++; if (!(cond)) { test_failures++; \
	fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECK_EQ(a, b) do { long long __a = (long long)(a), __b = (long long)(b); test_checks++; \
	if (__a != __b) { test_failures++; fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s (%lld vs %lld)\n", \
	__FILE__, __LINE__, #a, #b, __a, __b); } } while (0)
/* REQUIRE - like CHECK but stops the test program on failure. */
#define REQUIRE(cond) do { test_checks++; if (!(cond)) { \
	fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond); exit(1); } } while (0)

#define RUN(fn) do { int __f = test_failures; fn(); \
	fprintf(stderr, "%-50s %s\n", #fn, test_failures == __f ? "ok" : "FAILED"); } while (0)

static inline int test_summary(const char *name)
{
	fprintf(stderr, "%s: %d checks, %d failed\n", name, test_checks, test_failures);
	return test_failures ? 1 : 0;
}

/* test_tmpfile - an unlinked temporary file of `size` bytes filled by fill(i) per byte (or zero). */
#include <unistd.h>
static inline int test_tmpfile(size_t size, unsigned char (*fill)(size_t))
{
	char path[] = "/tmp/usermm-test-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0) { perror("mkstemp"); exit(1); }
	unlink(path);
	if (ftruncate(fd, (off_t)size) < 0) { perror("ftruncate"); exit(1); }
	if (fill) {
		unsigned char buf[4096];
		for (size_t off = 0; off < size; off += sizeof(buf)) {
			size_t n = size - off < sizeof(buf) ? size - off : sizeof(buf);
			for (size_t i = 0; i < n; i++) buf[i] = fill(off + i);
			if (pwrite(fd, buf, n, (off_t)off) != (ssize_t)n) { perror("pwrite"); exit(1); }
		}
	}
	return fd;
}

#endif

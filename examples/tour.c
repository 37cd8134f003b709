/* SPDX-License-Identifier: MIT */
/*
 * tour.c - the README's short tour, as a program you can run:
 *     make && ./build/release/examples/tour
 * A real file mapped shared, anonymous memory, fork, an unmapped access,
 * writeback to the file.  Public API only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <usermm/usermm.h>

static void die(const char *what, int err)
{
	fprintf(stderr, "tour: %s: %s\n", what, umm_strerror(err));
	exit(1);
}
#define TRY(call) do { int __e = (call); if (__e < 0) die(#call, __e); } while (0)

int main(void)
{
	char path[] = "/tmp/usermm-tour-XXXXXX";
	struct umm_system *sys;
	struct umm_object *file;
	struct umm_mm *mm, *child;
	uintptr_t a, b;
	char buf[16] = "";
	int fd, err;

	fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, 1 << 20) < 0) {
		perror(path);
		return 1;
	}
	TRY(umm_system_create(&(struct umm_config){ .phys_bytes = 64 << 20 }, &sys));
	TRY(umm_object_open_fd(sys, fd, &file));      /* a real file */
	TRY(umm_mm_create(sys, &mm));                  /* an address space */

	TRY(umm_mmap(mm, 0, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, file, 0, &a));
	TRY(umm_mmap(mm, 0, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, 0, &b));

	TRY(umm_write(mm, a + 100, "hello", 6));       /* faults the page in, marks it dirty */
	TRY(umm_fork(mm, &child));                     /* private pages become copy-on-write */
	TRY(umm_read(child, a + 100, buf, 6));         /* "hello": shared stays shared */
	printf("child reads \"%s\" at %#lx\n", buf, (unsigned long)(a + 100));
	TRY(umm_munmap(mm, b, 4096));
	err = umm_read(mm, b, buf, 1);                 /* -EFAULT: Linux would SIGSEGV */
	printf("read of an unmapped page: %s\n", umm_strerror(err));
	TRY(umm_object_sync(file, 0, 0));              /* dirty pages reach the file via pwrite */
	if (pread(fd, buf, 6, 100) == 6)
		printf("the file on disk at offset 100: \"%s\"\n", buf);
	TRY(umm_mm_dump_maps(mm, stdout));             /* /proc/PID/maps format */

	umm_mm_destroy(child);
	umm_mm_destroy(mm);
	umm_object_put(file);
	umm_system_destroy(sys);
	close(fd);
	unlink(path);
	return err == -EFAULT && !strcmp(buf, "hello") ? 0 : 1;
}

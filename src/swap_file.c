/* SPDX-License-Identifier: MIT */
/*
 * swap_file.c - the swap backend on a local file (swap_backend.h).
 *
 * Theory of operation.  Slot s is the page at offset s * PAGE_SIZE of
 * the file.  open() opens the path, creating it (mode 0600) if it does
 * not exist, and sets its size to nr_slots pages.  A run of consecutive
 * slots is one positioned vector I/O (pwritev/preadv over the caller's
 * page buffers), resumed after a short transfer; a short read at the end
 * of the file (the file was cut behind our back) is an error, never
 * zeros.  discard() punches a hole over the slots so the host frees the
 * blocks (where the filesystem cannot, it does nothing).  The file is
 * left in place by close(): its contents are meaningless after the
 * system is gone.
 *
 * Locks: none; the file descriptor is shared by all threads (positioned
 * I/O needs no lock).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include "swap_internal.h"
#include "page.h"

/* Pages per vector I/O (IOV_MAX is 1024 on Linux). */
#define SWAP_FILE_IOV 256

struct swap_file {
	struct swap_backend head;
	int fd;
};

static struct swap_file *to_swap_file(struct swap_backend *b)
{
	return (struct swap_file *)b;
}

static int swap_file_open(const char *target, uint64_t nr_slots, struct swap_backend **out)
{
	struct swap_file *sf;
	struct stat st;
	int fd, err;

	if (!target || !*target)
		return -EINVAL;
	fd = open(target, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		err = fstat(fd, &st) < 0 ? -errno : -EINVAL;     /* not a regular file */
		close(fd);
		return err;
	}
	if (ftruncate(fd, (off_t)(nr_slots * PAGE_SIZE)) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	sf = calloc(1, sizeof(*sf));
	if (!sf) {
		close(fd);
		return -ENOMEM;
	}
	sf->head.ops = &swap_file_ops;
	sf->head.nr_slots = nr_slots;
	sf->fd = fd;
	*out = &sf->head;
	return 0;
}

/*
 * swap_file_rw - move nr pages between the buffers and slots [slot,
 * slot + nr): one preadv/pwritev per SWAP_FILE_IOV pages, resumed after a
 * short transfer.  0, -EIO (end of file on a read), or -errno.
 */
static int swap_file_rw(struct swap_file *sf, uint64_t slot, unsigned int nr, void *const *bufs, bool write)
{
	struct iovec iov[SWAP_FILE_IOV];

	if (slot >= sf->head.nr_slots || nr > sf->head.nr_slots - slot)
		return -EINVAL;
	for (unsigned int done = 0; done < nr;) {
		unsigned int n = MIN(nr - done, SWAP_FILE_IOV);
		size_t skip = 0, total = (size_t)n * PAGE_SIZE;
		off_t off = (off_t)((slot + done) * PAGE_SIZE);

		while (skip < total) {
			unsigned int first = (unsigned int)(skip / PAGE_SIZE), cnt = 0;
			ssize_t r;

			for (unsigned int i = first; i < n; i++, cnt++) {
				iov[cnt].iov_base = bufs[done + i];
				iov[cnt].iov_len = PAGE_SIZE;
			}
			iov[0].iov_base = (char *)iov[0].iov_base + skip % PAGE_SIZE;
			iov[0].iov_len -= skip % PAGE_SIZE;
			r = write ? pwritev(sf->fd, iov, (int)cnt, off + (off_t)skip)
				  : preadv(sf->fd, iov, (int)cnt, off + (off_t)skip);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				return -errno;
			}
			if (r == 0)
				return -EIO;
			skip += (size_t)r;
		}
		done += n;
	}
	return 0;
}

static int swap_file_write(struct swap_backend *b, uint64_t slot, unsigned int nr, const void *const *bufs)
{
	return swap_file_rw(to_swap_file(b), slot, nr, (void *const *)bufs, true);
}

static int swap_file_read(struct swap_backend *b, uint64_t slot, unsigned int nr, void *const *bufs)
{
	return swap_file_rw(to_swap_file(b), slot, nr, bufs, false);
}

static int swap_file_discard(struct swap_backend *b, uint64_t slot, unsigned int nr)
{
	struct swap_file *sf = to_swap_file(b);

	if (fallocate(sf->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)(slot * PAGE_SIZE), (off_t)((uint64_t)nr * PAGE_SIZE)) < 0)
		return errno == EOPNOTSUPP ? 0 : -errno;
	return 0;
}

static void swap_file_close(struct swap_backend *b)
{
	struct swap_file *sf = to_swap_file(b);

	close(sf->fd);
	free(sf);
}

const struct swap_backend_ops swap_file_ops = {
	.name = "file",
	.open = swap_file_open,
	.write = swap_file_write,
	.read = swap_file_read,
	.discard = swap_file_discard,
	.close = swap_file_close,
};

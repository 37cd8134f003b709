/* SPDX-License-Identifier: MIT */
/* walk.c - the program whose memory trace tests/traces/walk.lackey holds:
 * fills a 256 KiB buffer page by page, then sums it with a stride. */
#include <stdlib.h>
int main(void)
{
	enum { N = 256 * 1024 };
	char *buf = malloc(N);
	long sum = 0;

	for (int i = 0; i < N; i += 4096)
		buf[i] = (char)i;
	for (int i = 0; i < N; i += 512)
		sum += buf[i];
	free(buf);
	return (int)(sum & 1);
}

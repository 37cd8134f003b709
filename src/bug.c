/*
 * bug.c - the one place a broken invariant stops the program.
 */
#include <stdio.h>
#include <stdlib.h>
#include "compiler.h"

void umm_bug(const char *file, int line, const char *cond)
{
	fprintf(stderr, "usermm: BUG at %s:%d: %s\n", file, line, cond);
	fflush(stderr);
	abort();
}

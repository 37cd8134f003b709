/* SPDX-License-Identifier: MIT */
/*
 * bug.c - the one place a broken invariant stops the program.
 */
#include <stdio.h>
#include <stdlib.h>
#include "compiler.h"

/**
 * umm_bug - report a broken invariant through the log (UMM_LOG_BUG) and
 * abort.  Any context.
 */
void umm_bug(const char *file, int line, const char *cond)
{
	pr_bug("BUG at %s:%d: %s", file, line, cond);
	abort();
}

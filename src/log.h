/* SPDX-License-Identifier: MIT */
/*
 * log.h - the library's diagnostics (see umm_set_log in usermm/system.h).
 *
 * Nothing in usermm writes to stderr directly: a warning goes through
 * pr_warn(), an invariant check's report through pr_check(), a fatal
 * broken invariant through pr_bug().  Each formats one line and hands it
 * to the log function the user installed, or to the default one (stderr
 * in debug builds; check and bug reports in every build).
 */
#ifndef UMM_LOG_H
#define UMM_LOG_H

#include <stdbool.h>

struct umm_system;

/*
 * pr_warn - log a warning about sys (NULL when it concerns no system, or
 * one that is going away) and count it in sys->nr_warnings.  Any context;
 * takes the log lock (a leaf).
 */
void pr_warn(struct umm_system *sys, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* pr_check - log one finding of an invariant check.  Any context. */
void pr_check(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* pr_bug - log a broken invariant (the caller aborts next).  Any context. */
void pr_bug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* log_fn_installed - is a log function installed (umm_set_log)?  Any context, no locks. */
bool log_fn_installed(void);

#endif

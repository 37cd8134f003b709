/* SPDX-License-Identifier: MIT */
/*
 * version.c - umm_version(): the version of the library actually linked,
 * which can differ from the headers a program was compiled with.
 * No locks.
 */
#include <usermm/version.h>

/**
 * umm_version - "MAJOR.MINOR.PATCH" of this build of the library.
 */
const char *umm_version(void)
{
	return UMM_VERSION_STRING;
}

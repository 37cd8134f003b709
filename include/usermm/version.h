/* SPDX-License-Identifier: MIT */
/*
 * usermm/version.h - the library's version.
 *
 * Semantic versioning: MAJOR changes break the ABI (the shared library's
 * SONAME is libusermm.so.MAJOR), MINOR adds, PATCH fixes.
 */
#ifndef USERMM_VERSION_H
#define USERMM_VERSION_H

#define UMM_VERSION_MAJOR 0
#define UMM_VERSION_MINOR 2
#define UMM_VERSION_PATCH 0
#define UMM_VERSION_STRING "0.2.0"

#ifdef __cplusplus
extern "C" {
#endif

/* umm_version - the version of the library actually linked, "MAJOR.MINOR.PATCH". */
const char *umm_version(void);

#ifdef __cplusplus
}
#endif
#endif

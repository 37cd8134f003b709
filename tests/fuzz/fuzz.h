/* SPDX-License-Identifier: MIT */
/*
 * fuzz.h - what the fuzz target (fuzz_api.c) offers its drivers: libFuzzer
 * or the corpus replay driver (replay.c).
 */
#ifndef UMM_FUZZ_H
#define UMM_FUZZ_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

/* Run one input; aborts (after printing the mismatch) on a finding. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Distinct (injection site, step kind, skip count) triples that made a call fail so far. */
unsigned long fuzz_injection_points(void);

/* What the inputs run so far exercised: one line of counts. */
void fuzz_print_stats(FILE *out);

#endif

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The layering MMU notifiers set up: no file of the core includes the MMU
# layer's header (tlb.h) or calls the soft TLB's shootdown directly; the
# core reaches every MMU, the soft TLB included, through mmu_notifier.h.
# soft_mmu.c (the MMU layer) is the only file allowed either.
set -eu
cd "$(dirname "$0")/.."
bad=$(grep -lE '#include "tlb\.h"|flush_tlb_(range|mm)\(' src/*.c src/*.h | grep -vE '^src/(soft_mmu\.c|tlb\.h)$' || true)
if [ -n "$bad" ]; then
	echo "FAIL: core files reach the soft TLB directly: $bad"
	exit 1
fi
n=$(grep -l 'mmu_notifier_invalidate_secondary_tlbs' src/*.c | wc -l)
[ "$n" -ge 5 ] || { echo "FAIL: only $n core files call mmu_notifier_invalidate_secondary_tlbs"; exit 1; }
echo "layers: no core file includes tlb.h; $n files invalidate through the notifiers"

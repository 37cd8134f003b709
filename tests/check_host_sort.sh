#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# examples/host_sort: qsort through a host-MMU window over a usermm
# private file mapping agrees with qsort in ordinary memory (and with
# umm_read of the result); 4 MiB of random records, 12 MiB of usermm
# memory.
set -eu
cd "$(dirname "$0")/.."
x=build/release/examples/host_sort
[ -x "$x" ] || make -s -j2 "$x"
tmp=$(mktemp); trap 'rm -f "$tmp"' EXIT
head -c $((4 << 20)) /dev/urandom >"$tmp"
out=$("$x" "$tmp" 12)
echo "$out"
grep -q ': match$' <<<"$out"

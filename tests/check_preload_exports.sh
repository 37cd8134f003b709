#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# libusermm_preload.so exports exactly the calls it interposes (no umm_*
# or internal name: a program that also links libusermm keeps its own),
# and the usermm objects inside it reach the kernel directly: none of
# them refers to an interposed name (they were renamed to preload_sys_*).
set -eu
cd "$(dirname "$0")/.."
fail() { echo "FAIL: $*"; exit 1; }
want="_Exit _exit copy_file_range execl execle execlp execv execve execveat execvp execvpe fallocate fallocate64 fdatasync fexecve fsync ftruncate ftruncate64 madvise mincore mlock mlock2 mmap mmap64 mprotect mremap msync munlock munmap posix_fallocate posix_fallocate64 pread pread64 preadv preadv2 preadv64 preadv64v2 pthread_create pwrite pwrite64 pwritev pwritev2 pwritev64 pwritev64v2 read readv sendfile sendfile64 sigaction sigaltstack signal truncate truncate64 write writev"
for v in release debug; do
	so=build/$v/libusermm_preload.so
	[ -f "$so" ] || fail "$so is not built (make preload)"
	got=$(nm -D --defined-only "$so" | awk 'NF == 3 {print $3}' | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')
	[ "$got" = "$want" ] || fail "$so exports: $got"
	core=build/$v/preload/usermm_core.o
	bad=$(nm -u "$core" | awk '{print $2}' | grep -xE "$(awk '{print $1}' src/preload/redirect.syms | paste -sd'|')" || true)
	[ -z "$bad" ] || fail "$core still calls: $bad"
done
echo "libusermm_preload.so (release, debug): exports the $(echo $want | wc -w) interposed calls only; usermm inside calls none of them"

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The library as a user gets it: only umm_* exported from libusermm.a and
# libusermm.so, the SONAME, `make install` into a temporary prefix, a
# program built against it with pkg-config (static and shared) and in
# strict C11 without feature macros, dlopen() of the shared library, and
# `make uninstall` removing it all.
# Needs the release build (make lib build/release/usermm).  Exit 0 = pass.
set -eu
cd "$(dirname "$0")/.."
fail() { echo "FAIL: $*"; exit 1; }

a=build/release/libusermm.a
so=build/release/libusermm.so
bad=$(nm -g --defined-only "$a" | awk 'NF == 3 && $3 !~ /^umm_/ {print $3}')
[ -z "$bad" ] || fail "libusermm.a exports internal names: $(echo $bad | head -c 400)"
bad=$(nm -D --defined-only "$so" | awk 'NF == 3 && $3 !~ /^umm_/ && $3 != "USERMM_0" {print $3}')
[ -z "$bad" ] || fail "libusermm.so exports internal names: $(echo $bad | head -c 400)"
n=$(nm -g --defined-only "$a" | awk 'NF == 3 && $3 ~ /^umm_/' | wc -l)
[ "$n" -gt 20 ] || fail "libusermm.a exports only $n umm_ names"
soname=$(objdump -p "$so" | awk '/SONAME/ {print $2}')
case "$soname" in libusermm.so.[0-9]*) ;; *) fail "SONAME is '$soname'";; esac
echo "exports: $n umm_ names, nothing else; SONAME $soname"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"
make -s install PREFIX="$prefix" >/dev/null
[ -f "$prefix/include/usermm/usermm.h" ] && [ -x "$prefix/bin/usermm" ] &&
	[ -f "$prefix/lib/$soname" ] || fail "install is missing files"

cat > "$tmp/user.c" <<'PROG'
/* A user program: no _GNU_SOURCE, strict C11, a lock_page of its own. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <usermm/usermm.h>

int lock_page(void) { return 7; }      /* must not clash with the library */

int main(void)
{
	struct umm_system *sys;
	struct umm_mm *mm;
	uintptr_t a;
	char buf[6];

	if (strcmp(umm_version(), UMM_VERSION_STRING) != 0)
		return 10;
	if (umm_system_create(&(struct umm_config){ .phys_bytes = 4 << 20 }, &sys))
		return 11;
	if (umm_mm_create(sys, &mm))
		return 12;
	if (umm_mmap(mm, 0, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		     NULL, 0, &a))
		return 13;
	if (umm_write(mm, a + 4090, "hello", 6) || umm_read(mm, a + 4090, buf, 6) ||
	    strcmp(buf, "hello") != 0)
		return 14;
	uint64_t w = 0;       /* the inline path: initial-exec TLS from the library */
	if (umm_store_u64(mm, a + 8, 0x1122334455667788u) || umm_load_u64(mm, a + 8, &w) ||
	    w != 0x1122334455667788u || umm_load_u64(mm, a + 8, &w) || w != 0x1122334455667788u)
		return 16;
	if (umm_munmap(mm, a, 1 << 16) || umm_read(mm, a, buf, 1) != -EFAULT ||
	    umm_load_u64(mm, a + 8, &w) != -EFAULT)
		return 15;
	umm_mm_destroy(mm);
	umm_system_destroy(sys);
	printf("ok %s %d\n", umm_version(), lock_page());
	return 0;
}
PROG
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
cflags=$(pkg-config --cflags usermm)
libs=$(pkg-config --libs usermm)
static_libs=$(pkg-config --libs --static usermm)
cc -std=c11 -Wall -Wextra -Werror $cflags "$tmp/user.c" -o "$tmp/user_shared" $libs ||
	fail "shared build against the installed library"
LD_LIBRARY_PATH="$prefix/lib" "$tmp/user_shared" | grep -q '^ok ' || fail "shared program"
cc -std=c11 -Wall -Wextra -Werror $cflags "$tmp/user.c" -o "$tmp/user_static" \
	"$prefix/lib/libusermm.a" $static_libs || fail "static build against the installed library"
"$tmp/user_static" | grep -q '^ok ' || fail "static program"
echo "install: pkg-config builds (shared, static, -std=c11 without feature macros) run"

# dlopen() of the installed libusermm.so (its initial-exec TLS comes from
# the C library's static TLS reserve; see usermm/access.h).
cat > "$tmp/dl.c" <<'PROG'
#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv)
{
	void *h = dlopen(argc > 1 ? argv[1] : "", RTLD_NOW);
	const char *(*version)(void) = h ? (const char *(*)(void))dlsym(h, "umm_version") : NULL;

	if (!version) {
		printf("dlopen: %s\n", dlerror());
		return 1;
	}
	printf("ok %s\n", version());
	return 0;
}
PROG
cc -Wall -Wextra -Werror "$tmp/dl.c" -o "$tmp/dl" -ldl || fail "build of the dlopen program"
"$tmp/dl" "$prefix/lib/$soname" | grep -q '^ok ' || fail "dlopen: $("$tmp/dl" "$prefix/lib/$soname")"
echo "dlopen: the shared library loads at run time"

make -s uninstall PREFIX="$prefix" >/dev/null
left=$(find "$prefix" -type f -o -type l)
[ -z "$left" ] || fail "uninstall left: $left"
echo "uninstall: nothing left"

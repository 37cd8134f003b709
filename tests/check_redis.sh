#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The Redis swap backend as built: libusermm.so needs libhiredis but
# exports none of its symbols (nor does libusermm.a define them), and the
# Redis servers a test starts die with it: test_swap_redis is killed
# (SIGKILL, no chance to clean up) while its servers run, and every one
# of them must be gone within seconds.  Skipped, saying why, when usermm
# was built without hiredis or redis-server is missing.
# Needs the release library and a test build (make lib tests-debug).  Exit 0 = pass.
set -eu
cd "$(dirname "$0")/.."
fail() { echo "FAIL: $*"; exit 1; }

if [ ! -e build/.hiredis-yes ]; then
	echo "skipped: usermm was built without hiredis (see build/hiredis-install.log)"
	exit 0
fi
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
	echo "skipped: redis-server or redis-cli is not installed"
	exit 0
fi

so=build/release/libusermm.so
a=build/release/libusermm.a
objdump -p "$so" | grep -q 'NEEDED.*libhiredis' || fail "libusermm.so does not link libhiredis"
bad=$(nm -D --defined-only "$so" | awk 'NF == 3 && tolower($3) ~ /redis/ {print $3}')
[ -z "$bad" ] || fail "libusermm.so exports: $bad"
bad=$(nm -g --defined-only "$a" | awk 'NF == 3 && tolower($3) ~ /redis/ {print $3}')
[ -z "$bad" ] || fail "libusermm.a defines: $bad"
echo "library: links libhiredis, exports none of it"

t=
for v in debug asan tsan; do
	[ -x "build/$v/tests/test_swap_redis" ] && { t=build/$v/tests/test_swap_redis; break; }
done
[ -n "$t" ] || fail "no test_swap_redis built"
before=$(ls -d /tmp/usermm-redis-* 2>/dev/null || true)
"$t" >/dev/null 2>&1 &
tpid=$!
servers=
for _ in $(seq 1 500); do
	servers=$(pgrep -P "$tpid" -x redis-server || true)
	[ -n "$servers" ] && break
	sleep 0.01
done
[ -n "$servers" ] || { kill -9 "$tpid" 2>/dev/null || true; fail "$t started no redis-server"; }
kill -9 "$tpid"
wait "$tpid" 2>/dev/null || true
for _ in $(seq 1 300); do
	left=
	for p in $servers; do kill -0 "$p" 2>/dev/null && left="$left $p"; done
	[ -z "$left" ] && break
	sleep 0.01
done
if [ -n "$left" ]; then
	kill -9 $left 2>/dev/null || true
	fail "redis-server$left outlived the killed test"
fi
# The killed test could not remove its servers' directories: this does.
for d in $(ls -d /tmp/usermm-redis-* 2>/dev/null || true); do
	case " $(echo $before) " in *" $d "*) ;; *) rm -rf "$d";; esac
done
echo "servers: the redis-server processes of a killed test ($(echo $servers)) died with it"

# SPDX-License-Identifier: MIT
# usermm build.  `make demo` builds everything and runs the default
# scenario; `make check` builds and runs every test in every build variant.
#
# Variants (objects under build/<variant>/):
#   release  -O2                          (library, tools, benchmarks)
#   debug    -O0 -DUMM_DEBUG=1            (invariant checks on)
#   asan     ASan + UBSan, UMM_DEBUG=1
#   tsan     ThreadSanitizer
CC      ?= gcc
LD      ?= ld
OBJCOPY ?= objcopy
VERSION := $(shell sed -n 's/^\#define UMM_VERSION_STRING "\(.*\)"/\1/p' include/usermm/version.h)
SONAME  := libusermm.so.$(firstword $(subst ., ,$(VERSION)))
SONAME_FULL := libusermm.so.$(VERSION)
WARN    := -Wall -Wextra -Werror
BASE    := -std=gnu11 $(WARN) -g -pthread -fPIC -fno-semantic-interposition -Iinclude -Isrc -D_GNU_SOURCE
LDLIBS  := -pthread

# io_uring through liburing (Debian's liburing-dev), when the build finds it.
# Missing and building as root: installed once (apt-get; the attempt is
# remembered in build/.liburing-install-tried, its log beside it).  If that
# fails too, usermm is built without it and reads through its thread pool.
# UMM_NO_LIBURING=1 builds without it.
URING_PROBE = echo 'int main(void){struct io_uring r;return io_uring_queue_init(1,&r,0);}' | \
	$(CC) -x c - -include liburing.h -o /dev/null -luring >/dev/null 2>&1 && echo yes
ifeq ($(UMM_NO_LIBURING),)
HAVE_LIBURING := $(shell $(URING_PROBE))
ifneq ($(HAVE_LIBURING),yes)
ifeq ($(shell id -u),0)
ifeq ($(wildcard build/.liburing-install-tried),)
$(info liburing-dev is missing: installing it with apt-get)
$(shell mkdir -p build && touch build/.liburing-install-tried && \
	(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq liburing-dev) \
	>build/liburing-install.log 2>&1)
HAVE_LIBURING := $(shell $(URING_PROBE))
endif
endif
endif
endif
ifeq ($(HAVE_LIBURING),yes)
BASE    += -DUMM_HAVE_LIBURING=1
LDLIBS  += -luring
else
$(info building without liburing: asynchronous reads use the thread pool)
endif
# Objects are rebuilt when the build switches between with and without it.
URING_STAMP := build/.liburing-$(if $(filter yes,$(HAVE_LIBURING)),yes,no)

# The Redis swap backend (src/swap_redis.c) through hiredis (Debian's
# libhiredis-dev), and redis-server / redis-cli for its tests and benchmark.
# Either missing and building as root: libhiredis-dev, redis-server and
# redis-tools are installed once (apt-get; the attempt is remembered in
# build/.hiredis-install-tried, its log beside it).  Without hiredis the
# backend is built as a stub whose open fails with -EOPNOTSUPP (and says
# why through umm_set_log); its tests then say they are skipped and why.
# UMM_NO_HIREDIS=1 builds without it.  hiredis is linked into libusermm.so
# (-lhiredis, not re-exported: the version script exports only umm_*) and
# named in usermm.pc's Libs.private for the static library.
HIREDIS_PROBE = echo 'int main(void){redisContext *c=redisConnectUnix("/");redisFree(c);return 0;}' | \
	$(CC) -x c - -include hiredis/hiredis.h -o /dev/null -lhiredis >/dev/null 2>&1 && echo yes
ifeq ($(UMM_NO_HIREDIS),)
HAVE_HIREDIS := $(shell $(HIREDIS_PROBE))
HAVE_REDIS_SERVER := $(shell command -v redis-server >/dev/null && command -v redis-cli >/dev/null && echo yes)
ifneq ($(HAVE_HIREDIS)$(HAVE_REDIS_SERVER),yesyes)
ifeq ($(shell id -u),0)
ifeq ($(wildcard build/.hiredis-install-tried),)
$(info libhiredis-dev or redis-server is missing: installing them with apt-get)
$(shell mkdir -p build && touch build/.hiredis-install-tried && \
	(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	 libhiredis-dev redis-server redis-tools) >build/hiredis-install.log 2>&1)
HAVE_HIREDIS := $(shell $(HIREDIS_PROBE))
endif
endif
endif
endif
ifeq ($(HAVE_HIREDIS),yes)
BASE    += -DUMM_HAVE_HIREDIS=1
LDLIBS  += -lhiredis
else
$(info building without hiredis: the Redis swap backend is not available)
endif
HIREDIS_STAMP := build/.hiredis-$(if $(filter yes,$(HAVE_HIREDIS)),yes,no)

FLAGS_release := -O2
FLAGS_debug   := -O0 -DUMM_DEBUG=1
FLAGS_asan    := -O1 -DUMM_DEBUG=1 -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FLAGS_tsan    := -O1 -fsanitize=thread
LDFLAGS_asan  := -fsanitize=address,undefined
LDFLAGS_tsan  := -fsanitize=thread

SRCS   := $(sort $(wildcard src/*.c))
TESTS  := $(sort $(wildcard tests/test_*.c))
BENCHES:= $(sort $(wildcard bench/bench_*.c))
EXAMPLES:= $(sort $(wildcard examples/*.c))
PRELOAD_SRCS := $(sort $(wildcard src/preload/*.c))
LIB_HDRS := $(wildcard src/*.h include/usermm/*.h)
HDRS   := $(LIB_HDRS) $(wildcard tests/*.h bench/*.h)
VARIANTS := release debug asan tsan
CHECK_VARIANTS ?= debug asan tsan

.PHONY: all lib demo check bench clean fuzz benches examples preload $(addprefix lib-,$(VARIANTS)) $(addprefix tests-,$(VARIANTS)) $(addprefix preload-,$(VARIANTS))
all: lib build/release/usermm benches examples preload

$(URING_STAMP):
	@mkdir -p build && rm -f build/.liburing-yes build/.liburing-no && touch $@
$(HIREDIS_STAMP):
	@mkdir -p build && rm -f build/.hiredis-yes build/.hiredis-no && touch $@

objs = $(patsubst src/%.c,build/$(1)/obj/%.o,$(SRCS))

define VARIANT_RULES
build/$(1)/obj/%.o: src/%.c $(LIB_HDRS) $(URING_STAMP) $(HIREDIS_STAMP)
	@mkdir -p $$(@D)
	$$(CC) $$(BASE) $$(FLAGS_$(1)) -c $$< -o $$@
# Every object as it is, for the unit tests and benchmarks that reach internals.
build/$(1)/libusermm-internal.a: $(call objs,$(1))
	@rm -f $$@
	ar rcs $$@ $$^
# The public archive: one relocatable object in which only umm_* stay global.
build/$(1)/libusermm.a: $(call objs,$(1))
	@rm -f $$@
	$$(LD) -r -o build/$(1)/usermm.o $$^
	$$(OBJCOPY) -w --keep-global-symbol='umm_*' build/$(1)/usermm.o
	ar rcs $$@ build/$(1)/usermm.o
build/$(1)/tests/%: tests/%.c build/$(1)/libusermm-internal.a $(LIB_HDRS) $(wildcard tests/*.h)
	@mkdir -p $$(@D)
	$$(CC) $$(BASE) $$(FLAGS_$(1)) $$< build/$(1)/libusermm-internal.a -o $$@ $$(LDFLAGS_$(1)) $$(LDLIBS)
lib-$(1): build/$(1)/libusermm.a
# The LD_PRELOAD interposer (src/preload/): the usermm objects with their
# references to the calls it interposes renamed to its preload_sys_*
# (the system calls themselves), so usermm never calls back into it.
build/$(1)/preload/%.o: src/preload/%.c src/preload/preload.h $(LIB_HDRS) $(URING_STAMP) $(HIREDIS_STAMP)
	@mkdir -p $$(@D)
	$$(CC) $$(BASE) $$(FLAGS_$(1)) -c $$< -o $$@
build/$(1)/preload/usermm_core.o: $(call objs,$(1)) src/preload/redirect.syms
	@mkdir -p $$(@D)
	$$(LD) -r -o $$@ $(call objs,$(1))
	$$(OBJCOPY) --redefine-syms=src/preload/redirect.syms $$@
build/$(1)/libusermm_preload.so: $(patsubst src/preload/%.c,build/$(1)/preload/%.o,$(PRELOAD_SRCS)) build/$(1)/preload/usermm_core.o src/preload/preload.map
	$$(CC) -shared -Wl,--version-script=src/preload/preload.map -o $$@ \
		$(patsubst src/preload/%.c,build/$(1)/preload/%.o,$(PRELOAD_SRCS)) build/$(1)/preload/usermm_core.o \
		$$(LDFLAGS_$(1)) $$(LDLIBS)
preload-$(1): build/$(1)/libusermm_preload.so
# The preload tests run a program under LD_PRELOAD, which a sanitizer
# runtime does not allow for an uninstrumented process: debug and release only.
tests-$(1): $(patsubst tests/%.c,build/$(1)/tests/%,$(if $(filter asan tsan,$(1)),$(filter-out tests/test_preload%,$(TESTS)),$(TESTS) build/$(1)/libusermm_preload.so))
endef
$(foreach v,$(VARIANTS),$(eval $(call VARIANT_RULES,$(v))))

# The shared library exports only umm_* (src/usermm.map) and has a SONAME.
build/release/$(SONAME_FULL): $(call objs,release) src/usermm.map
	$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=src/usermm.map -o $@ $(call objs,release) $(LDLIBS)
build/release/libusermm.so: build/release/$(SONAME_FULL)
	ln -sf $(SONAME_FULL) build/release/$(SONAME)
	ln -sf $(SONAME_FULL) $@

lib: build/release/libusermm.a build/release/libusermm.so

build/release/usermm: $(wildcard tools/*.c tools/*.h) build/release/libusermm.a $(LIB_HDRS)
	$(CC) $(BASE) $(FLAGS_release) $(wildcard tools/*.c) build/release/libusermm.a -o $@ $(LDLIBS)

build/release/bench/%: bench/%.c build/release/libusermm-internal.a $(LIB_HDRS) $(wildcard bench/*.h) tests/redis_fixture.h
	@mkdir -p $(@D)
	$(CC) $(BASE) $(FLAGS_release) $< build/release/libusermm-internal.a -o $@ $(LDLIBS) -lm

benches: $(patsubst bench/%.c,build/release/bench/%,$(BENCHES))

build/release/examples/%: examples/%.c build/release/libusermm.a $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(BASE) $(FLAGS_release) $< build/release/libusermm.a -o $@ $(LDLIBS)

# examples/device_mirror/: a simulated device mirroring an address space (MMU notifiers)
build/release/examples/device_mirror: $(wildcard examples/device_mirror/*.c examples/device_mirror/*.h) build/release/libusermm.a $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(BASE) $(FLAGS_release) examples/device_mirror/main.c examples/device_mirror/device.c build/release/libusermm.a -o $@ $(LDLIBS)

examples: $(patsubst examples/%.c,build/release/examples/%,$(EXAMPLES)) build/release/examples/device_mirror

# `make preload`: build/{release,debug}/libusermm_preload.so
# (LD_PRELOAD=build/release/libusermm_preload.so program; docs/PRELOAD.md).
preload: preload-release preload-debug

demo: all
	./build/release/usermm demo

check: lib build/release/usermm benches examples preload $(addprefix preload-,$(CHECK_VARIANTS)) $(addprefix tests-,$(CHECK_VARIANTS))
	@tests/run.sh $(CHECK_VARIANTS)

# The real programs that tests/check_preload_*.sh and bench_preload run
# natively and under the interposer (tests/dbtools.sh): Debian's
# lmdb-utils, liblmdb-dev, sqlite3, libsqlite3-dev and kyotocabinet-utils,
# installed once when missing and building as root (the attempt is
# remembered in build/.dbtools-install-tried, its log beside it;
# UMM_NO_DBTOOLS=1 installs nothing), and LMDB's mtest..mtest6 and SQLite's
# speedtest1 built into build/ext/bin from the installed versions' sources,
# fetched once with `apt-get source` and a private sources list (nothing in
# the machine's apt configuration is used or changed).  What cannot be had
# is said loudly, and the checks that need it are counted as skipped.
.PHONY: dbtools
dbtools:
	@tests/dbtools.sh
check bench: dbtools

# ---- fuzzing (tests/fuzz/README.md) ----
# The corpus replay runs in the asan variant of `make check`; `make fuzz`
# builds the libFuzzer target with clang and fuzzes for FUZZ_TIME seconds.
FUZZ_SRCS := tests/fuzz/fuzz_api.c
FUZZ_HDRS := $(HDRS) tests/fuzz/fuzz.h
FUZZ_TIME ?= 300
FUZZ_CC   ?= clang
# The library is not built with comparison tracing: the invariant checks
# that run after every step walk whole page tables, and tracing their
# comparisons took half of the run time.
FUZZ_LIB_COV := -fno-sanitize-coverage=trace-cmp
FUZZ_FLAGS := -O1 -g -DUMM_DEBUG=1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined

build/asan/tests/test_fuzz_replay: tests/fuzz/replay.c $(FUZZ_SRCS) build/asan/libusermm.a $(FUZZ_HDRS)
	@mkdir -p $(@D)
	$(CC) $(BASE) $(FLAGS_asan) -Itests/fuzz tests/fuzz/replay.c $(FUZZ_SRCS) build/asan/libusermm.a -o $@ $(LDFLAGS_asan) $(LDLIBS)
tests-asan: build/asan/tests/test_fuzz_replay

build/fuzz/obj/%.o: src/%.c $(HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(BASE) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link $(FUZZ_LIB_COV) -c $< -o $@
build/fuzz/fuzz_api: $(FUZZ_SRCS) $(patsubst src/%.c,build/fuzz/obj/%.o,$(SRCS)) $(FUZZ_HDRS)
	$(FUZZ_CC) $(BASE) $(FUZZ_FLAGS) -fsanitize=fuzzer -Itests/fuzz $(FUZZ_SRCS) $(patsubst src/%.c,build/fuzz/obj/%.o,$(SRCS)) -o $@ $(LDLIBS)

# Fuzz on a scratch corpus seeded from tests/fuzz/corpus, then merge what
# it found back: -merge=1 adds only inputs that reach new edges
# (-use_counters=0: hit counts do not count, which keeps the corpus small).
fuzz: build/fuzz/fuzz_api
	@mkdir -p build/fuzz/scratch build/fuzz/crashes tests/fuzz/corpus
	cp -n tests/fuzz/corpus/* build/fuzz/scratch/ 2>/dev/null || true
	build/fuzz/fuzz_api -max_total_time=$(FUZZ_TIME) -timeout=60 -print_final_stats=1 \
		-artifact_prefix=build/fuzz/crashes/ build/fuzz/scratch
	build/fuzz/fuzz_api -merge=1 -use_counters=0 tests/fuzz/corpus build/fuzz/scratch

bench: benches build/release/usermm
	./build/release/usermm bench

# `make bench-report`: the whole suite once, then the generated section of
# docs/BENCHMARKS.md (the machine, the tables) and its charts under
# docs/bench/ (tools/bench_report.sh).  The charts need gnuplot: missing
# and building as root, Debian's gnuplot-nox is installed once (apt-get;
# the attempt is remembered in build/.gnuplot-install-tried, its log
# beside it); without it the report says there are no charts.
# BENCH_REPORT_ARGS passes arguments to `usermm bench` (e.g. --quick, names);
# BENCH_REPORT_REUSE=1 remakes the section and charts from the last run
# (docs/bench/last-run.*) without running the benchmarks.
BENCH_REPORT_ARGS ?=
.PHONY: bench-report
bench-report: benches build/release/usermm
	@if ! command -v gnuplot >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && \
	    [ ! -e build/.gnuplot-install-tried ]; then \
		echo "gnuplot is missing: installing gnuplot-nox with apt-get (log: build/gnuplot-install.log)"; \
		mkdir -p build && touch build/.gnuplot-install-tried; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gnuplot-nox) \
			>build/gnuplot-install.log 2>&1 || echo "gnuplot-nox could not be installed: no charts"; \
	fi
	BENCH_REPORT_REUSE=$(BENCH_REPORT_REUSE) tools/bench_report.sh build/release/usermm \
		docs/BENCHMARKS.md docs/bench $(BENCH_REPORT_ARGS)

clean:
	rm -rf build

# ---- install ----
PREFIX     ?= /usr/local
DESTDIR    ?=
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
PUBLIC_HDRS := $(wildcard include/usermm/*.h)

.PHONY: install uninstall
install: lib build/release/usermm
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR)/usermm $(DESTDIR)$(PKGCONFIGDIR)
	install -m 644 $(PUBLIC_HDRS) $(DESTDIR)$(INCLUDEDIR)/usermm/
	install -m 644 build/release/libusermm.a $(DESTDIR)$(LIBDIR)/
	install -m 755 build/release/$(SONAME_FULL) $(DESTDIR)$(LIBDIR)/
	ln -sf $(SONAME_FULL) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME_FULL) $(DESTDIR)$(LIBDIR)/libusermm.so
	install -m 755 build/release/usermm $(DESTDIR)$(BINDIR)/
	printf '%s\n' 'prefix=$(PREFIX)' 'includedir=$(INCLUDEDIR)' 'libdir=$(LIBDIR)' '' \
		'Name: usermm' 'Description: a virtual-memory subsystem in user space' \
		'Version: $(VERSION)' 'Cflags: -I$${includedir}' 'Libs: -L$${libdir} -lusermm' \
		'Libs.private: $(LDLIBS)' > $(DESTDIR)$(PKGCONFIGDIR)/usermm.pc

uninstall:
	rm -f $(addprefix $(DESTDIR)$(INCLUDEDIR)/usermm/,$(notdir $(PUBLIC_HDRS)))
	-rmdir $(DESTDIR)$(INCLUDEDIR)/usermm
	rm -f $(DESTDIR)$(LIBDIR)/libusermm.a $(DESTDIR)$(LIBDIR)/$(SONAME_FULL) \
		$(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libusermm.so
	rm -f $(DESTDIR)$(BINDIR)/usermm $(DESTDIR)$(PKGCONFIGDIR)/usermm.pc

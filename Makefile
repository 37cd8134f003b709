# usermm build.  `make demo` builds everything and runs the default
# scenario; `make check` builds and runs every test in every build variant.
#
# Variants (objects under build/<variant>/):
#   release  -O2                          (library, tools, benchmarks)
#   debug    -O0 -DUMM_DEBUG=1            (invariant checks on)
#   asan     ASan + UBSan, UMM_DEBUG=1
#   tsan     ThreadSanitizer
CC      ?= gcc
WARN    := -Wall -Wextra -Werror
BASE    := -std=gnu11 $(WARN) -g -pthread -fPIC -Iinclude -Isrc -D_GNU_SOURCE
LDLIBS  := -pthread

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
HDRS   := $(wildcard src/*.h include/usermm/*.h tests/*.h bench/*.h)
VARIANTS := release debug asan tsan
CHECK_VARIANTS ?= debug asan tsan

.PHONY: all lib demo check bench clean benches examples $(addprefix lib-,$(VARIANTS)) $(addprefix tests-,$(VARIANTS))
all: lib build/release/usermm benches examples

objs = $(patsubst src/%.c,build/$(1)/obj/%.o,$(SRCS))

define VARIANT_RULES
build/$(1)/obj/%.o: src/%.c $(HDRS)
	@mkdir -p $$(@D)
	$$(CC) $$(BASE) $$(FLAGS_$(1)) -c $$< -o $$@
build/$(1)/libusermm.a: $(call objs,$(1))
	@rm -f $$@
	ar rcs $$@ $$^
build/$(1)/tests/%: tests/%.c build/$(1)/libusermm.a $(HDRS)
	@mkdir -p $$(@D)
	$$(CC) $$(BASE) $$(FLAGS_$(1)) $$< build/$(1)/libusermm.a -o $$@ $$(LDFLAGS_$(1)) $$(LDLIBS)
lib-$(1): build/$(1)/libusermm.a
tests-$(1): $(patsubst tests/%.c,build/$(1)/tests/%,$(TESTS))
endef
$(foreach v,$(VARIANTS),$(eval $(call VARIANT_RULES,$(v))))

build/release/libusermm.so: $(call objs,release)
	$(CC) -shared -o $@ $^ $(LDLIBS)

lib: build/release/libusermm.a build/release/libusermm.so

build/release/usermm: tools/usermm.c build/release/libusermm.a $(HDRS)
	$(CC) $(BASE) $(FLAGS_release) $< build/release/libusermm.a -o $@ $(LDLIBS)

build/release/bench/%: bench/%.c build/release/libusermm.a $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(BASE) $(FLAGS_release) $< build/release/libusermm.a -o $@ $(LDLIBS) -lm

benches: $(patsubst bench/%.c,build/release/bench/%,$(BENCHES))

build/release/examples/%: examples/%.c build/release/libusermm.a $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(BASE) $(FLAGS_release) $< build/release/libusermm.a -o $@ $(LDLIBS)

examples: $(patsubst examples/%.c,build/release/examples/%,$(EXAMPLES))

demo: all
	./build/release/usermm demo

check: $(addprefix tests-,$(CHECK_VARIANTS))
	@tests/run.sh $(CHECK_VARIANTS)

bench: benches build/release/usermm
	./build/release/usermm bench

clean:
	rm -rf build

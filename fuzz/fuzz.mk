# Fuzzing (docs/fuzzing.md).  Included by the Makefile.
#
#   make fuzz-build                 build every target into build/fuzz/
#   make fuzz [FUZZ_SECONDS=60]     build, then fuzz each target for FUZZ_SECONDS
#             [FUZZ_TARGETS="parser request"] [FUZZ_JOBS=N]
#   make fuzz-regress               run each target once over its corpus (seconds)
#   make fuzz-coverage              line coverage of src/ by each target's corpora (llvm-cov)
#   make fuzz-afl-build             the same targets for AFL++ (afl-clang-lto) in build/fuzz-afl/
#
# The server sources are compiled again here with clang and the sanitizers, whatever
# config.mk says, so the main build (gcc) and this one never share objects.  The build's
# mk_config.h is the configured one with MK_HAVE_SANITIZER forced to 1 (sessions are then
# real allocations, so ASan sees their misuse) and tracing off; it is force-included, and its
# include guard turns src/mk_config.h into a no-op.

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_JOBS ?= $(shell nproc 2>/dev/null || echo 1)
FUZZ_ALL_TARGETS = parser path range conf request
FUZZ_TARGETS ?= $(FUZZ_ALL_TARGETS)

FUZZ_B = $(B)/fuzz
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS = -std=gnu11 -O1 -g -fno-omit-frame-pointer -D_GNU_SOURCE -fno-strict-aliasing \
              -pthread $(FUZZ_SAN) -include $(FUZZ_B)/mk_config.h
# Our harnesses build warning-free; the server sources get warnings but no -Werror here
# (clang may warn where the gcc build does not, and src/ is not this directory's to fix).
FUZZ_WARN = -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wmissing-prototypes
FUZZ_LIB_SRCS = $(sort $(wildcard src/core/*.c src/event/*.c src/http/*.c))
FUZZ_LIB_OBJS = $(FUZZ_LIB_SRCS:%.c=$(FUZZ_B)/obj/%.o)
FUZZ_LIB = $(FUZZ_B)/libmonkey-fuzz.a
FUZZ_BINS = $(FUZZ_TARGETS:%=$(FUZZ_B)/fuzz_%)

.PHONY: fuzz fuzz-build fuzz-regress fuzz-coverage fuzz-afl-build

fuzz-build: $(FUZZ_BINS)

fuzz: $(FUZZ_BINS)
	@fuzz/run.sh run "$(FUZZ_SECONDS)" "$(FUZZ_JOBS)" $(FUZZ_TARGETS)

fuzz-regress: $(FUZZ_BINS)
	@fuzz/run.sh regress 0 1 $(FUZZ_TARGETS)

# Coverage: the same targets built with clang's source-based coverage instead of the
# sanitizers, replayed over the repository corpus plus what `make fuzz` has found.
FUZZ_COV_FLAGS = -std=gnu11 -O1 -g -D_GNU_SOURCE -fno-strict-aliasing -pthread \
                 -fprofile-instr-generate -fcoverage-mapping -include $(FUZZ_B)/mk_config.h
FUZZ_PROFDATA ?= $(shell command -v llvm-profdata-14 || command -v llvm-profdata)
FUZZ_LLVM_COV ?= $(shell command -v llvm-cov-14 || command -v llvm-cov)

fuzz-coverage: $(FUZZ_TARGETS:%=$(FUZZ_B)/cov/fuzz_%)
	@for t in $(FUZZ_TARGETS); do \
	    d=$(FUZZ_B)/cov; w=$(FUZZ_B)/work/$$t/corpus; [ -d $$w ] || w=; \
	    rm -f $$d/$$t.profraw; \
	    LLVM_PROFILE_FILE=$$d/$$t.profraw $$d/fuzz_$$t -runs=0 -max_len=16384 \
	        fuzz/corpus/$$t $$w >$$d/$$t.log 2>&1 || \
	        { echo "fuzz_$$t: replay failed, see $$d/$$t.log"; exit 1; }; \
	    $(FUZZ_PROFDATA) merge -o $$d/$$t.profdata $$d/$$t.profraw || exit 1; \
	    echo "== fuzz_$$t"; \
	    $(FUZZ_LLVM_COV) report $$d/fuzz_$$t -instr-profile=$$d/$$t.profdata \
	        $(FUZZ_LIB_SRCS) | grep -v '^-' | \
	        awk 'NR == 1 { print "file                        lines  covered  branches" } \
	             NR > 1 && $$10 != "0.00%" && $$1 != "TOTAL" { \
	                 printf "%-24s %8s %8s  %8s\n", $$1, $$8, $$10, $$13 }'; \
	done
	@echo "per-line view: $(FUZZ_LLVM_COV) show $(FUZZ_B)/cov/fuzz_request -instr-profile=$(FUZZ_B)/cov/request.profdata src/http/mk_http.c"

$(FUZZ_B)/cov/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz_common.h $(FUZZ_LIB_SRCS) $(FUZZ_B)/mk_config.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_COV_FLAGS) -fsanitize=fuzzer -Isrc -o $@ $< $(FUZZ_LIB_SRCS) -ldl

# AFL++: afl-clang-lto instruments at link time, so each target is compiled from the
# sources in one command; -fsanitize=fuzzer links AFL++'s libFuzzer driver (persistent
# mode).  AFL_USE_ASAN/AFL_USE_UBSAN is how AFL++ wants the sanitizers (docs/fuzzing.md).
FUZZ_AFL_CC ?= afl-clang-lto
FUZZ_AFL_B = $(B)/fuzz-afl

fuzz-afl-build: $(FUZZ_TARGETS:%=$(FUZZ_AFL_B)/fuzz_%)

$(FUZZ_AFL_B)/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz_common.h $(FUZZ_LIB_SRCS) $(FUZZ_B)/mk_config.h
	@mkdir -p $(@D)
	AFL_USE_ASAN=1 AFL_USE_UBSAN=1 $(FUZZ_AFL_CC) -std=gnu11 -O1 -g -D_GNU_SOURCE \
	    -fno-strict-aliasing -pthread -include $(FUZZ_B)/mk_config.h -Isrc -fsanitize=fuzzer \
	    -o $@ $< $(FUZZ_LIB_SRCS) -ldl

$(FUZZ_B)/mk_config.h: src/mk_config.h
	@mkdir -p $(@D)
	sed -e 's/^#define MK_HAVE_SANITIZER .*/#define MK_HAVE_SANITIZER 1/' \
	    -e 's/^#define MK_HAVE_LINUX_TRACE .*/#define MK_HAVE_LINUX_TRACE 0/' \
	    -e 's/^#define MK_HAVE_IO_URING .*/#define MK_HAVE_IO_URING 0/' $< >$@.tmp
	@grep -q '^#define MK_HAVE_SANITIZER 1' $@.tmp || { echo "fuzz.mk: cannot set MK_HAVE_SANITIZER in $@" >&2; exit 1; }
	@mv $@.tmp $@

# fuzzer-no-link: coverage instrumentation for the library, libFuzzer's main only in targets.
$(FUZZ_B)/obj/%.o: %.c $(FUZZ_B)/mk_config.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -Wall -Wno-unused-parameter -MMD -MP \
	    -c -o $@ $<

$(FUZZ_LIB): $(FUZZ_LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_B)/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz_common.h $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(FUZZ_WARN) -Isrc -MMD -MP -o $@ $< \
	    $(FUZZ_LIB) -ldl

-include $(wildcard $(FUZZ_B)/obj/src/*/*.d $(FUZZ_B)/*.d)

# With ./configure --fuzz (FUZZ = 1) `make check` replays the fuzz corpora first.
ifeq ($(FUZZ),1)
EXTRA_CHECK_DEPS += fuzz-regress
endif

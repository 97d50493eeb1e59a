# Monkey: build, test, run, install.  ./configure writes config.mk; `make` runs it with the
# defaults when it has not been run yet, so a fresh clone needs only `make run`.

ifeq ($(wildcard config.mk),)
$(shell ./configure >/dev/null)
endif
include config.mk

# A configure script newer than the build settings (a pull that changed it): run it again
# with the same options.  make then restarts with the new config.mk.
config.mk: configure
	./configure $(CONFIGURE_ARGS) >/dev/null

DESTDIR ?=
BINDIR = $(PREFIX)/bin
LIBDIR = $(PREFIX)/lib/monkey
DATADIR = $(PREFIX)/share/monkey

WARN = -Wall -Wextra -Werror -Wundef -Wshadow -Wpointer-arith -Wstrict-prototypes \
       -Wmissing-prototypes -Wno-unused-parameter $(WARN_EXTRA)
CFLAGS_ALL = -std=gnu11 $(OPT) $(SAN_FLAGS) $(WARN) -D_GNU_SOURCE -fno-strict-aliasing \
             -pthread $(CFLAGS)
LDFLAGS_ALL = $(SAN_FLAGS) -pthread $(LDFLAGS)
LIBS = -ldl $(URING_LIBS)

B = build
CORE_SRCS = $(sort $(wildcard src/core/*.c src/event/*.c src/http/*.c)) src/mk_server.c \
            src/trace/mk_trace.c
CORE_OBJS = $(CORE_SRCS:%.c=$(B)/%.o)
MAIN_OBJ = $(B)/src/main.o
DEPS = $(CORE_OBJS:.o=.d) $(MAIN_OBJ:.o=.d)

UNIT_SRCS = $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS = $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/%)

.PHONY: all clean distclean run check check-unit check-integration check-trace check-stress \
        install uninstall format

.DEFAULT_GOAL := all

# Optional parts add their targets and extend EXTRA_* here, before the rules below read them.
-include src/trace/trace.mk
-include tools/tools.mk
-include fuzz/fuzz.mk
-include bench/bench.mk

all: monkey

monkey: $(CORE_OBJS) $(MAIN_OBJ)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS)

$(B)/libmonkey.a: $(CORE_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(B)/%.o: %.c config.mk
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(if $(filter src/trace/%,$<),$(TRACE_CFLAGS)) -MMD -MP -c -o $@ $<

$(B)/tests/%: tests/unit/%.c tests/unit/mk_test.h $(B)/libmonkey.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Isrc -o $@ $< $(B)/libmonkey.a $(LDFLAGS_ALL) $(LIBS)

-include $(DEPS)

run: monkey
	./monkey -c conf

# The whole suite: unit tests, then the real binary over loopback.  scripts/check.sh
# installs missing test dependencies (or says what to run) and prints "N passed, M failed".
check: monkey $(UNIT_BINS) $(EXTRA_CHECK_DEPS)
	@scripts/check.sh $(UNIT_BINS)

check-unit: $(UNIT_BINS)
	@scripts/check.sh --unit-only $(UNIT_BINS)

check-stress: monkey
	@scripts/check-stress.sh

install: monkey $(EXTRA_INSTALL_DEPS)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSCONFDIR)/sites $(DESTDIR)$(DATADIR)/htdocs
	install -m 755 monkey $(DESTDIR)$(BINDIR)/monkey
	install -m 644 conf/monkey.conf conf/monkey.mime $(DESTDIR)$(SYSCONFDIR)/
	sed 's|^\( *DocumentRoot \).*|\1$(DATADIR)/htdocs|' conf/sites/default \
		>$(DESTDIR)$(SYSCONFDIR)/sites/default
	chmod 644 $(DESTDIR)$(SYSCONFDIR)/sites/default
	cp -R htdocs/. $(DESTDIR)$(DATADIR)/htdocs/
	$(EXTRA_INSTALL_CMDS)

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/monkey
	rm -rf $(DESTDIR)$(SYSCONFDIR) $(DESTDIR)$(DATADIR) $(DESTDIR)$(LIBDIR)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(B) monkey $(EXTRA_CLEAN)

distclean: clean
	rm -f config.mk src/mk_config.h

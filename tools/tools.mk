# tools/monkey-trace: trace analyses in C on libbabeltrace2 (docs/monkey-trace.md).
# Included by the Makefile; built by `make` and installed by `make install` when ./configure
# found libbabeltrace2 (HAVE_BT2 = 1).  `make check-tools` runs tests/tools/run.py (it needs
# a traced build: ./configure --linux-trace).

MT_BIN = tools/monkey-trace/monkey-trace
MT_SRCS = $(sort $(wildcard tools/monkey-trace/*.c))
MT_OBJS = $(MT_SRCS:%.c=$(B)/%.o)
MT_GEN = $(B)/tests/tools/mt_gen

EXTRA_CLEAN += $(MT_BIN) tests/tools/__pycache__

ifeq ($(HAVE_BT2),1)

all: $(MT_BIN)

$(MT_BIN): $(MT_OBJS)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(BT2_LIBS) -lm

# More specific than the Makefile's $(B)/%.o rule (shorter stem), so this one is used.
$(B)/tools/monkey-trace/%.o: tools/monkey-trace/%.c config.mk
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(BT2_CFLAGS) -MMD -MP -c -o $@ $<

-include $(MT_OBJS:.o=.d)

# EXTRA_INSTALL_CMDS is one recipe line: join to what is there with &&.
EXTRA_INSTALL_DEPS += $(MT_BIN)
EXTRA_INSTALL_CMDS := $(if $(strip $(EXTRA_INSTALL_CMDS)),$(EXTRA_INSTALL_CMDS) &&) \
	install -d $(DESTDIR)$(BINDIR) && install -m 755 $(MT_BIN) $(DESTDIR)$(BINDIR)/monkey-trace

uninstall: uninstall-monkey-trace
uninstall-monkey-trace:
	rm -f $(DESTDIR)$(BINDIR)/monkey-trace

monkey-trace: $(MT_BIN)

else

monkey-trace:
	@echo "monkey-trace: libbabeltrace2 was not found by ./configure (apt-get install libbabeltrace2-dev)" >&2
	@exit 1

endif

# The event generator of the tests and the benchmark: the server's own tracepoint macros
# and start-up code (src/trace/mk_trace.o), probes from build/monkey-trace-provider.so.
ifeq ($(LINUX_TRACE),1)
$(MT_GEN): tests/tools/mt_gen.c $(B)/src/trace/mk_trace.o $(B)/src/core/mk_log.o \
           src/trace/mk_trace.h src/trace/mk_trace_tp.h src/trace/mk_trace_enums.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(TRACE_CFLAGS) -o $@ $< $(B)/src/trace/mk_trace.o \
		$(B)/src/core/mk_log.o $(LDFLAGS_ALL) $(LIBS)

ifeq ($(HAVE_BT2),1)
EXTRA_CHECK_DEPS += $(MT_BIN) $(MT_GEN)
endif

check-tools: monkey $(MT_BIN) $(MT_GEN) $(TRACE_PROVIDER)
	/usr/bin/python3 tests/tools/run.py
else
check-tools: $(MT_BIN)
	@echo "check-tools: the tests record real traces; run ./configure --linux-trace && make" >&2
	@exit 1
endif

.PHONY: monkey-trace check-tools uninstall-monkey-trace

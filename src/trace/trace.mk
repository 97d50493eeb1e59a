# LTTng-UST tracing: the provider shared object and the trace tests.  Included by the
# Makefile; it does something only after ./configure --linux-trace (LINUX_TRACE = 1).
#
# The server links no LTTng library.  Its tracepoints load their probes from
# build/monkey-trace-provider.so at start-up (src/trace/mk_trace.c says where it looks), so
# the provider is built with every `make` and installed into $(LIBDIR).  Everything built
# here lives under $(B), which `make clean` removes (no EXTRA_CLEAN needed).

ifeq ($(LINUX_TRACE),1)

TRACE_PROVIDER = $(B)/monkey-trace-provider.so
TRACE_SMOKE = $(B)/tests/trace/tp_smoke

# Prerequisite-only rules: `all` and `monkey` also bring the provider up to date.  Order-only
# for monkey, so the link command's $^ does not pick the .so up.
all: $(TRACE_PROVIDER)
monkey: | $(TRACE_PROVIDER)

EXTRA_CHECK_DEPS += $(TRACE_PROVIDER) $(TRACE_SMOKE)
EXTRA_INSTALL_DEPS += $(TRACE_PROVIDER)
EXTRA_INSTALL_CMDS += install -d $(DESTDIR)$(LIBDIR) && \
	install -m 755 $(TRACE_PROVIDER) $(DESTDIR)$(LIBDIR)/monkey-trace-provider.so

# --no-as-needed keeps liblttng-ust as a dependency although no symbol of it is named
# directly: its constructor is what registers the probes.
$(TRACE_PROVIDER): src/trace/mk_trace_provider.c src/trace/mk_trace_tp.h \
                   src/trace/mk_trace_enums.h src/mk_config.h config.mk
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(TRACE_CFLAGS) -Isrc/trace -fpic -shared -o $@ $< \
		$(LDFLAGS_ALL) -Wl,--no-as-needed $(TRACE_LIBS)

# A stand-in for the server: fires every event once through the server's own macros.
$(TRACE_SMOKE): tests/trace/tp_smoke.c $(B)/src/trace/mk_trace.o $(B)/src/core/mk_log.o \
                src/trace/mk_trace.h src/trace/mk_trace_tp.h src/trace/mk_trace_enums.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(TRACE_CFLAGS) -o $@ $< $(B)/src/trace/mk_trace.o \
		$(B)/src/core/mk_log.o $(LDFLAGS_ALL) $(LIBS)

# Fire every event once through the provider built here (inside a session, they are
# recorded; tests/trace/run.py's provider_smoke checks every field).  Fails when the
# provider does not load: tp_smoke alone would only log a warning and fire nothing.
trace-smoke: $(TRACE_PROVIDER) $(TRACE_SMOKE)
	@out=$$(MONKEY_TRACE_PROVIDER=$(abspath $(TRACE_PROVIDER)) $(TRACE_SMOKE) 2>&1); \
	echo "$$out"; \
	case "$$out" in *"provider loaded"*) echo "trace-smoke: every event fired" ;; \
	*) echo "trace-smoke: the provider did not load" >&2; exit 1 ;; esac

# The LTTng tests: real session daemon, real sessions, the real server (tests/trace/run.py).
check-trace: monkey $(TRACE_PROVIDER) $(TRACE_SMOKE)
	/usr/bin/python3 tests/trace/run.py

.PHONY: trace-smoke

else

check-trace:
	@echo "check-trace: this build has no tracing; run ./configure --linux-trace && make" >&2
	@exit 1

endif

# Benchmarks: `make bench` compares Monkey with nginx (plain and tuned), h2o, lighttpd and a
# trivial epoll server on loopback (docs/benchmarks.md); `make bench-smoke` runs the same
# harness with 1 s runs and 1 round and only checks that every number was produced.  Neither
# is part of `make check`.  Included by the Makefile.

BENCH_TRIVIAL = $(B)/bench/trivial_server
BENCH_PROBE = $(B)/bench/probe

# Built with its own flags: a sanitizer or debug configuration of Monkey must not slow the
# baseline down.
$(BENCH_TRIVIAL): bench/trivial_server.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g $(WARN) -D_GNU_SOURCE -o $@ $<

$(BENCH_PROBE): bench/probe.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g $(WARN) -D_GNU_SOURCE -pthread -o $@ $<

bench: monkey $(BENCH_TRIVIAL) $(BENCH_PROBE)
	bench/run.sh $(BENCH_ARGS)

bench-smoke: monkey $(BENCH_TRIVIAL) $(BENCH_PROBE)
	bench/run.sh --smoke $(BENCH_ARGS)

.PHONY: bench bench-smoke

# shmq: plain GNU Makefile. Everything it builds goes under build/.
# make            library (static + shared) and the shmq tool
# make demo       build and run the demo
# make test       sanitizer build (address, undefined) and every test
# make install    PREFIX=/usr/local DESTDIR=
# make clean | make help

CC      ?= cc
PREFIX  ?= /usr/local
DESTDIR ?=
B       := build

# -Werror only where we control the compiler: `make test` (what CI runs)
# and the check-* targets, or WERROR=-Werror. A packager's plain `make` on a
# newer compiler warns but builds.
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wconversion -Wformat=2
STRICT_GOALS := test test-build parts check-% fuzz% tsan model-quick
WERROR  ?= $(if $(filter $(STRICT_GOALS),$(MAKECMDGOALS)),-Werror)
CSTD    := -std=c11 -D_GNU_SOURCE
CFLAGS  ?= -O2 -g
# src/ is on the include path of the library, the tests and the examples;
# the tool (cli/) and the benchmark core (bench/) see include/ only.
SRC_INC := -Isrc
ALL_CFLAGS = $(CSTD) $(WARN) $(WERROR) $(CPPFLAGS) $(CFLAGS) -Iinclude $(SRC_INC)
DEPFLAGS = -MMD -MP -MF $(@:.o=.d)
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

LIB_SRC   := $(wildcard src/*.c)
CLI_SRC   := $(wildcard cli/*.c)
BENCH_SRC := $(wildcard bench/*.c)
TEST_SRC  := $(wildcard tests/*.c)
# examples/dds_listener.c links Cyclone DDS, not libshmq: the bridge part.
EX_SRC    := $(filter-out examples/dds_listener.c,$(wildcard examples/*.c))
# Headers only for the rules that build many sources in one command (fuzz);
# objects track their own headers (-MMD -MP, the .d files included below).
HDRS      := include/shmq.h $(wildcard src/*.h) $(wildcard cli/*.h) $(wildcard tests/*.h) \
             $(wildcard bench/*.h)

LIB_OBJ   := $(LIB_SRC:%.c=$(B)/obj/%.o)
CLI_OBJ   := $(CLI_SRC:%.c=$(B)/obj/%.o)
SLIB_OBJ  := $(LIB_SRC:%.c=$(B)/san/%.o)
BENCH_OBJ := $(BENCH_SRC:%.c=$(B)/obj/%.o)
SCLI_OBJ  := $(CLI_SRC:%.c=$(B)/san/%.o)
SBENCH_OBJ := $(BENCH_SRC:%.c=$(B)/san/%.o)
TEST_OBJ  := $(TEST_SRC:%.c=$(B)/san/%.o)
EX_BIN    := $(EX_SRC:examples/%.c=$(B)/examples/%)
# examples/libuv_loop.c needs libuv (Debian: libuv1-dev, which
# scripts/deps.sh wants for make test): built only where it links. Decided
# before `all` names EX_BIN, whose prerequisites are expanded where it is read.
UV_LIBS := $(shell pkg-config --libs libuv 2>/dev/null || { printf \
  '\043include <uv.h>\nint main(void){return !uv_version();}\n' | \
  $(CC) -x c - -luv -o /dev/null 2>/dev/null && echo -luv; })
ifeq ($(UV_LIBS),)
EX_BIN := $(filter-out $(B)/examples/libuv_loop,$(EX_BIN))
EX_NOTE := examples/libuv_loop: libuv not found (uv.h): not built (apt-get install libuv1-dev)
endif

SONAME  := libshmq.so.0

.PHONY: all demo test install install-man uninstall clean help deps bench
.DEFAULT_GOAL := all

all: $(B)/libshmq.a $(B)/libshmq.so $(B)/shmq $(EX_BIN)
	$(if $(EX_NOTE),@echo "$(EX_NOTE)",@:)

deps:
	@scripts/deps.sh

# Every object depends on the flags it was built with: a change of CFLAGS,
# WERROR, CPPFLAGS or CC rebuilds (build/.flags changes only when they do).
FLAGS_FILE := $(B)/.flags
$(shell mkdir -p $(B) && echo '$(CC) $(ALL_CFLAGS) $(SAN)' | cmp -s - $(FLAGS_FILE) \
  || echo '$(CC) $(ALL_CFLAGS) $(SAN)' > $(FLAGS_FILE))

$(B)/obj/%.o: %.c $(FLAGS_FILE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -fPIC -fvisibility=hidden -c $< -o $@

$(B)/san/%.o: %.c $(FLAGS_FILE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) $(SAN) -O1 -c $< -o $@

$(addprefix $(B)/,obj/cli/%.o san/cli/%.o obj/bench/%.o san/bench/%.o): SRC_INC :=

$(B)/libshmq.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# src/libshmq.map: exactly the public functions are exported, versioned.
$(B)/libshmq.so: $(LIB_OBJ) src/libshmq.map
	$(CC) $(LDFLAGS) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=src/libshmq.map \
	  -o $@ $(LIB_OBJ)

# The benchmark core behind `shmq bench` (bench/bench.h): its own archive,
# which the tool links.
$(B)/libshmq-bench.a: $(BENCH_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/shmq: $(CLI_OBJ) $(B)/libshmq-bench.a $(B)/libshmq.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(CLI_OBJ) $(B)/libshmq-bench.a $(B)/libshmq.a -lm

$(B)/examples/%: examples/%.c $(B)/libshmq.a $(FLAGS_FILE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -MF $@.d $(LDFLAGS) -o $@ $< $(B)/libshmq.a $(EX_LIBS)
$(B)/examples/libuv_loop: EX_LIBS := $(UV_LIBS)

# Sanitized builds used by the tests: the runner and the tool it executes.
$(B)/tests/shmq: $(SCLI_OBJ) $(SBENCH_OBJ) $(SLIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(SAN) $(LDFLAGS) -o $@ $^ -lm

$(B)/tests/shmq-tests: $(TEST_OBJ) $(SLIB_OBJ) $(SBENCH_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(SAN) $(LDFLAGS) -o $@ $^ -lm

demo: deps all
	@scripts/demo.sh $(B)

# The full benchmark on the first two CPUs we may use, with the peers that
# make bench-peers built: the table in bench/results/CPU.txt (and on the
# terminal), the records in CPU.json, the chart in CPU.svg, where CPU is
# the CPU model ("AMD-EPYC-7R13-Processor"), so that runs on different
# machines sit side by side; latest.* are copies of the newest run.
# BENCH_ARGS adds options (--quick, --only ..., --cpus A,B).
BENCH_CPU = $(shell sed -n 's/^model name[^:]*: *//p' /proc/cpuinfo | \
	head -n 1 | sed 's/([RrCc])//g; s/(TM)//g' | tr -cs 'A-Za-z0-9' '-' | sed 's/^-*//; s/-*$$//')
BENCH_OUT = bench/results/$(or $(BENCH_CPU),unknown-cpu)
bench: all
	@mkdir -p bench/results
	@$(B)/shmq bench --cpus auto --rounds 3 --duration 0.5 $(BENCH_ARGS) \
	  --json-out $(BENCH_OUT).json \
	  --plot $(BENCH_OUT).svg > $(BENCH_OUT).txt; \
	rc=$$?; cat $(BENCH_OUT).txt; \
	for x in txt json svg; do cp $(BENCH_OUT).$$x bench/results/latest.$$x; done; \
	echo "bench: results in $(BENCH_OUT).{txt,json,svg}"; exit $$rc

# The layers of src/ (src/layers.txt, bottom first): no object of a lower
# layer calls into a higher one. `make test` runs it, with T= too.
.PHONY: check-layers
check-layers: $(LIB_OBJ)
	@scripts/layers.sh src/layers.txt $(LIB_OBJ)

# T=pattern runs only the tests whose name contains pattern.
# The build in parallel (one job per CPU); then the tests, one at a time,
# the bridge's (own network and mount namespaces) one at a time beside
# them, and beside both (not with T=) the parts (fuzz runs, TSan, models: the
# runner starts them, prints their output after the tests and counts them
# in its closing line, scripts/part.sh).
NPROC := $(shell nproc 2>/dev/null || echo 1)
PAR   := -j$(NPROC) --output-sync=target
test: deps
	@$(MAKE) --no-print-directory $(PAR) test-build
	SHMQ_BIN=$(B)/tests/shmq SHMQ_BUILD=$(B) SHMQ_BESIDE=bridge_ \
	$(if $(T),,SHMQ_PARTS=$(B)/parts SHMQ_PARTS_LOG=$(B)/parts.log \
	  SHMQ_PARTS_CMD='env -u ASAN_OPTIONS -u UBSAN_OPTIONS $(MAKE) --no-print-directory parts') \
	ASAN_OPTIONS=abort_on_error=0:detect_leaks=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	$(B)/tests/shmq-tests $(T)

.PHONY: test-build parts
test-build: all check-hooks check-layers $(B)/tests/shmq-tests $(B)/tests/shmq
parts:
	@rm -rf $(B)/parts && mkdir -p $(B)/parts
	@SHMQ_PARTS=$(CURDIR)/$(B)/parts $(MAKE) --no-print-directory fuzz tsan model-quick

install: all install-man
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include \
	  $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 0644 $(B)/libshmq.a $(DESTDIR)$(PREFIX)/lib/
	install -m 0755 $(B)/libshmq.so $(DESTDIR)$(PREFIX)/lib/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(PREFIX)/lib/libshmq.so
	install -m 0644 include/shmq.h $(DESTDIR)$(PREFIX)/include/
	install -m 0755 $(B)/shmq $(DESTDIR)$(PREFIX)/bin/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(shell sed -n 's/.*SHMQ_VERSION_STRING "\(.*\)"/\1/p' include/shmq.h)|' \
	  shmq.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/shmq.pc

# The pages, and a one-line link page for every function a NAME section
# lists (man shmq_chan_send opens shmq_chan(3)). Needs no build: the docs
# test runs it into a scratch DESTDIR.
MAN_PAGES := $(wildcard man/*.[0-9])
install-man:
	for m in $(MAN_PAGES); do \
	  s=$${m##*.}; install -d $(DESTDIR)$(PREFIX)/share/man/man$$s; \
	  install -m 0644 $$m $(DESTDIR)$(PREFIX)/share/man/man$$s/; done
	scripts/man-links.sh $(DESTDIR)$(PREFIX)/share/man $(MAN_PAGES)

clean:
	rm -rf $(B)

help:
	@echo "make            build build/libshmq.a, build/libshmq.so, build/shmq, examples"
	@echo "make demo       build and run the demo (segments in both families, shmq ls, 1 GiB through a channel)"
	@echo "make bench      the full shmq bench: bench/results/CPU-MODEL.{txt,json,svg} and latest.* (BENCH_ARGS=--quick ...)"
	@echo "make test       sanitizer build and every test; ends with 'N passed, N failed, N skipped'"
	@echo "                a skip for want of a package fails it (SHMQ_ALLOW_SKIP=1 accepts)"
	@echo "                T=pattern runs only matching tests"
	@echo "make bench-bridge shmq bridge beside ddsperf and TCP between two network namespaces (root): bench/results/bridge-*.txt"
	@echo "make check-long the long reliability suite: kill loops x10,000, fuzz 60 s/target, valgrind, Spin models, mutants"
	@echo "make check-tsan  thread tests under ThreadSanitizer (make test runs them too)"
	@echo "make check-layers  no library object calls into a higher layer (src/layers.txt; make test runs it)"
	@echo "make check-mutants  each small bug of tests/mutants.txt caught by its test (scripts/mutate.sh)"
	@echo "make check-valgrind | check-model | check-hooks | fuzz-long | check-mutants   parts of check-long"
	@echo "make install    install library, header, shmq.pc, tool, man pages (PREFIX, DESTDIR)"
	@echo "make install-man  the man pages and a link page per function (man shmq_chan_send)"
	@echo "make deps       install missing build dependencies (apt-get as root)"
	@echo "make clean      remove build/"

# libFuzzer targets (clang): tests/fuzz/fuzz_*.c, listed with their
# corpora in the fuzz block below. `make test` runs each for FUZZ_TIME
# seconds (not with T=); without a clang that links -fsanitize=fuzzer it
# records a skip (scripts/part.sh), which fails the run unless
# SHMQ_ALLOW_SKIP=1.
FUZZ_CC   ?= clang
FUZZ_TIME ?= 3
comma     := ,
FUZZ_SAN  := $(subst -fsanitize=,-fsanitize=fuzzer$(comma),$(SAN))

.PHONY: fuzz fuzz-run
fuzz:
	@mkdir -p $(B)/fuzz
	@echo 'int LLVMFuzzerTestOneInput(void){return 0;}' > $(B)/fuzz/probe.c
	@if $(FUZZ_CC) $(FUZZ_SAN) $(B)/fuzz/probe.c -o $(B)/fuzz/probe >/dev/null 2>&1; \
	then scripts/part.sh run fuzz $(MAKE) --no-print-directory $(PAR) fuzz-run; \
	else scripts/part.sh skip-dep fuzz "clang libclang-rt-14-dev" \
	  "$(FUZZ_CC) cannot build -fsanitize=fuzzer: the fuzz runs"; fi

# Peer-library rows of `shmq bench` (bench/peers/): build/bench/peer-boost,
# peer-zmq, peer-iceoryx. bench/peers/deps.sh installs their Debian packages
# when missing (as root; else prints the command) and names the peers that
# can be built; each other one is skipped with a line saying why.
PEER_OBJ  := $(B)/obj/bench/peers/peer.o
PEER_BINS := $(addprefix $(B)/bench/peer-,boost zmq iceoryx)
.PHONY: bench-peers bench-peers-build
bench-peers:
	@$(MAKE) --no-print-directory bench-peers-build PEERS="$$(echo $$(bench/peers/deps.sh))"
bench-peers-build: $(PEERS:%=$(B)/bench/peer-%)
	@:
$(PEER_OBJ): bench/peers/peer.h
$(PEER_BINS): $(PEER_OBJ) bench/peers/peer.h
$(B)/bench/peer-boost: bench/peers/peer_boost.cpp
	@mkdir -p $(dir $@)
	$(CXX) -std=c++17 -Wall -Wextra $(WERROR) -Wshadow $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(PEER_OBJ) -lrt -lpthread
$(B)/bench/peer-zmq: bench/peers/peer_zmq.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(PEER_OBJ) -lzmq
$(B)/bench/peer-iceoryx: bench/peers/peer_iceoryx.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -isystem $(firstword $(wildcard /usr/include/iceoryx/v*)) \
	  -o $@ $< $(PEER_OBJ) -liceoryx_binding_c

# ---- crash ----
# Named crash points (SHMQ_CRASH_POINT, src/internal.h) exist only in the
# sanitized test build; `make check-hooks` proves the product has none.
$(B)/san/%.o: ALL_CFLAGS += -DSHMQ_TEST_HOOKS
.PHONY: check-hooks
check-hooks: $(B)/libshmq.a $(B)/libshmq.so
	@if nm -A $(B)/libshmq.a $(B)/libshmq.so | grep -q "shmq__crash\|shmq_crash_points" || \
	    strings $(B)/libshmq.a $(B)/libshmq.so | grep -q SHMQ_CRASH_AT; \
	then echo "check-hooks: FAILED: a crash point is in the product build"; \
	exit 1; else echo "check-hooks: ok: no crash point in the product"; fi
# ---- end crash ----

# ---- model ----
# make check-tsan     threads of one process as writers/readers of one
#                     channel and as contenders on the mutex, semaphore and
#                     event, under ThreadSanitizer (TSan sees threads, not
#                     processes); suppressions in tests/tsan/suppressions.txt;
#                     ~3 s, so `make test` runs it too (target tsan)
# make check-valgrind the plain build/shmq under valgrind memcheck
# make check-model    Spin models of the spsc, mpmc and broadcast protocols and
#                     their waits: safety, progress, mutants (tests/model/run.sh)
TSAN_CC   ?= clang
TSAN      := -fsanitize=thread -fno-omit-frame-pointer
TSAN_OBJ  := $(LIB_SRC:%.c=$(B)/tsan/%.o)
TSAN_BIN  := $(B)/tsan/tsan_threads

$(B)/tsan/%.o: %.c $(FLAGS_FILE)
	@mkdir -p $(dir $@)
	$(TSAN_CC) $(ALL_CFLAGS) $(DEPFLAGS) $(TSAN) -O1 -c $< -o $@

$(TSAN_BIN): tests/tsan/tsan_threads.c $(TSAN_OBJ) include/shmq.h
	$(TSAN_CC) $(ALL_CFLAGS) $(TSAN) -O1 -Wl,--wrap=mmap,--wrap=munmap,--wrap=clock_gettime,--wrap=shmat,--wrap=shmdt \
	  -o $@ $< $(TSAN_OBJ) -lpthread

.PHONY: tsan check-tsan check-valgrind check-model
# `make test` runs it (not with T=), or says why it cannot.
tsan:
	@mkdir -p $(B)/tsan
	@echo 'int main(void){return 0;}' > $(B)/tsan/probe.c
	@if $(TSAN_CC) $(TSAN) $(B)/tsan/probe.c -o $(B)/tsan/probe >/dev/null 2>&1 \
	  && $(B)/tsan/probe >/dev/null 2>&1; \
	then scripts/part.sh run tsan $(MAKE) --no-print-directory $(PAR) check-tsan; \
	else scripts/part.sh skip-dep tsan clang \
	  "$(TSAN_CC) cannot build or run -fsanitize=thread: the thread tests"; fi

check-tsan: $(TSAN_BIN)
	@TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1 \
	  suppressions=$(CURDIR)/tests/tsan/suppressions.txt" $(TSAN_BIN) \
	  && echo "check-tsan: PASS (no data race, every check held)" \
	  || { echo "check-tsan: FAIL (see the TSan report or the FAIL line above)"; exit 1; }

check-valgrind: all
	@scripts/valgrind-cli.sh $(B)/shmq

# `make test` runs the quick subset (~15 s) when spin is there.
.PHONY: model-quick
model-quick:
	@if command -v spin >/dev/null 2>&1; \
	then scripts/part.sh run model tests/model/run.sh quick $(B)/model; \
	else scripts/part.sh skip-dep model spin "spin is not installed: the protocol models"; fi

# MODEL=quick: the short subset.
check-model:
	@tests/model/run.sh $(or $(MODEL),full) $(B)/model

# ---- fuzz ----
# Every fuzz target, its binary build/fuzz/fuzz_T from tests/fuzz/fuzz_T.c,
# its seeds in tests/fuzz/corpus/T, what it found in build/fuzz/T/.
# fuzz-run runs each for FUZZ_TIME seconds and prints "fuzz: T: ok: Done N
# runs", or the log's tail and the reproducer; fuzz-long: 60 s each.
FUZZ_TARGETS := chan_header chan_ring chan_samples chan_probe board sync locator cli
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(B)/fuzz/fuzz_%)
FUZZ_GUARD   := tests/fuzz/guard.c -Wl,--wrap=mmap,--wrap=munmap
# The cli target runs the tool's dispatch with the calls that would touch
# the system answering an error (tests/fuzz/fuzz_cli.c says which).
FUZZ_EXTRA_chan_header := $(FUZZ_GUARD)
FUZZ_EXTRA_chan_ring   := $(FUZZ_GUARD)
FUZZ_EXTRA_chan_samples := $(FUZZ_GUARD)
FUZZ_EXTRA_board       := $(FUZZ_GUARD)
FUZZ_CLI_WRAP  := shmq_seg_create shmq_seg_open shmq_chan_create \
  shmq_chan_open shmq_board_create shmq_board_open shmq_chan_stat shmq_stat shmq_list shmq_unlink \
  shmq_chan_unlink \
  shmq_semset_create bench_run_all fopen clock_nanosleep
FUZZ_EXTRA_cli := -Icli $(filter-out cli/main.c,$(CLI_SRC)) $(BENCH_SRC) -lm \
  $(FUZZ_CLI_WRAP:%=-Wl,--wrap=%)

# The library, tool and bench objects are built once for all targets,
# instrumented for coverage (fuzzer-no-link); each target links them.
FUZZ_CFLAGS = $(CSTD) $(WARN) $(WERROR) $(CPPFLAGS) -O1 -g -Iinclude
FUZZ_OBJ := $(LIB_SRC:%.c=$(B)/fuzz/obj/%.o)
$(B)/fuzz/obj/%.o: %.c $(FLAGS_FILE)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(SRC_INC) $(DEPFLAGS) \
	  $(subst -fsanitize=fuzzer,-fsanitize=fuzzer-no-link,$(FUZZ_SAN)) -c $< -o $@
$(B)/fuzz/obj/cli/%.o $(B)/fuzz/obj/bench/%.o: SRC_INC :=
FUZZ_EXTRA_cli := $(FUZZ_EXTRA_cli:%.c=$(B)/fuzz/obj/%.o)

$(FUZZ_BINS): $(B)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/guard.c \
              tests/fuzz/guard.h $(FUZZ_OBJ) $(HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Isrc $(FUZZ_SAN) -o $@ $< $(FUZZ_OBJ) $(FUZZ_EXTRA_$*)
$(B)/fuzz/fuzz_cli: $(filter $(B)/fuzz/obj/%.o,$(FUZZ_EXTRA_cli))

fuzz-run: $(FUZZ_BINS)
	@for t in $(FUZZ_TARGETS); do d=$(B)/fuzz/$$t; mkdir -p $$d/corpus; \
	  rm -f $$d/crash-* $$d/timeout-* $$d/leak-* $$d/oom-*; \
	  if $(B)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_TIME) -timeout=10 \
	    -max_len=1024 -artifact_prefix=$$d/ $$d/corpus tests/fuzz/corpus/$$t \
	    > $$d/log 2>&1; \
	  then echo "fuzz: $$t: ok: $$(grep -o 'Done [0-9]* runs' $$d/log | tail -n 1)"; \
	  else tail -n 40 $$d/log; echo "fuzz: $$t: FAILED: reproducer" $$(ls \
	    $$d/crash-* $$d/timeout-* $$d/leak-* $$d/oom-* 2>/dev/null); exit 1; fi; \
	done

# The same targets around a plain main (tests/fuzz/replay.c), built with
# the suite's compiler and sanitizers on the test objects: the tests
# fuzz_corpus_T replay tests/fuzz/corpus/T on every machine, clang or not.
REPLAY_BINS := $(FUZZ_TARGETS:%=$(B)/replay/fuzz_%)
REPLAY_EXTRA_chan_header := $(FUZZ_GUARD)
REPLAY_EXTRA_chan_ring   := $(FUZZ_GUARD)
REPLAY_EXTRA_chan_samples := $(FUZZ_GUARD)
REPLAY_EXTRA_board       := $(FUZZ_GUARD)
REPLAY_EXTRA_cli := -Icli $(filter-out $(B)/san/cli/main.o,$(SCLI_OBJ)) \
  $(SBENCH_OBJ) -lm $(FUZZ_CLI_WRAP:%=-Wl,--wrap=%)
$(REPLAY_BINS): $(B)/replay/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c \
                tests/fuzz/guard.c $(SLIB_OBJ) $(HDRS) $(FLAGS_FILE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN) -O1 -o $@ $< tests/fuzz/replay.c $(SLIB_OBJ) \
	  $(REPLAY_EXTRA_$*)
$(B)/replay/fuzz_cli: $(SCLI_OBJ) $(SBENCH_OBJ)
test-build: $(REPLAY_BINS)

.PHONY: fuzz-long
fuzz-long:
	@$(MAKE) --no-print-directory fuzz FUZZ_TIME=60
# ---- end fuzz ----

# ---- check-long ----
# The long versions of the reliability suite (docs/guarantees.md: the
# promises): every test with SHMQ_LONG=1 (kill loops of 10,000 kills each,
# hostile peers 10 s each), every fuzz target 60 s, the tool under valgrind
# memcheck, the Spin models in full, and the mutation check. About 25
# minutes on 2 CPUs.
.PHONY: check-long
check-long:
	@SHMQ_LONG=1 $(MAKE) --no-print-directory test
	@$(MAKE) --no-print-directory fuzz-long
	@$(MAKE) --no-print-directory check-valgrind
	@$(MAKE) --no-print-directory check-model
	@$(MAKE) --no-print-directory check-mutants
	@echo "check-long: PASS"

# Every mutant of tests/mutants.txt must be killed by its test, in a
# scratch copy of the tree (scripts/mutate.sh). MUTANTS=name... runs some.
.PHONY: check-mutants
check-mutants: all
	@scripts/mutate.sh $(MUTANTS)

# What each object was built from (-MMD -MP): headers changed rebuild only
# the objects that include them.
-include $(shell find $(B) -name '*.d' 2>/dev/null)

# ---- python ----
# The Python module `shmq` (python/shmqmodule.c over the public API, with
# build/libshmq.a linked in: the module needs no libshmq.so at run time and
# exports nothing but PyInit_shmq), built for Debian's python3 (the one
# python3-numpy and python3-pytest serve; PYTHON=... picks another) into
# build/python/: PYTHONPATH=build/python python3 -c 'import shmq'. Without
# Python.h (python3-dev) `make` says so and goes on; the python tests then
# skip for want of python3-dev. build/python/.python names the interpreter
# for the tests (tests/test_python.c).
PYTHON  ?= $(firstword $(wildcard /usr/bin/python3) python3)
PY_INC  := $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_path("include"))' 2>/dev/null)
PY_EXT  := $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))' 2>/dev/null)
PY_MOD  := $(B)/python/shmq$(PY_EXT)
PY_SITE  = $(shell $(PYTHON) python/sitedir.py $(PREFIX))
.PHONY: python python-install bench-python
ifneq ($(wildcard $(PY_INC)/Python.h),)
python: $(PY_MOD) $(B)/python/shmq.pyi $(B)/python/.python
else
python:
	@echo "python: no $(PY_INC)/Python.h: the shmq module is not built (apt-get install python3-dev)"
endif
all: python
$(PY_MOD): python/shmqmodule.c include/shmq.h $(B)/libshmq.a $(FLAGS_FILE)
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(WERROR) $(CPPFLAGS) $(CFLAGS) -Iinclude -isystem $(PY_INC) \
	  -fPIC -fvisibility=hidden -shared $(LDFLAGS) -o $@ $< $(B)/libshmq.a \
	  -Wl,--exclude-libs,ALL -lpthread
$(B)/python/shmq.pyi: python/shmq.pyi
	@mkdir -p $(dir $@)
	cp $< $@
$(B)/python/.python: $(FLAGS_FILE)
	@mkdir -p $(dir $@)
	@command -v $(PYTHON) > $@
install: python-install
python-install: python
	@if [ -f $(PY_MOD) ]; then d=$(DESTDIR)$(PY_SITE); install -d $$d && \
	  install -m 0644 $(PY_MOD) $(B)/python/shmq.pyi $$d/ && echo "python: installed in $$d"; \
	else echo "python: module not built: not installed"; fi
# Python processes against multiprocessing's ways (python/bench.py); run by
# make bench after the C table.
bench: bench-python
bench-python: python
	@$(PYTHON) python/bench.py --out bench/results/python.txt
# ---- end python ----

# ---- bridge ----
# shmq-bridge (bridge/bridge.c), which `shmq bridge` runs from its own
# directory: channels over Cyclone DDS (docs/bridge.md). Only it links
# Cyclone; built only where Cyclone is there (Debian: cyclonedds-dev, which
# scripts/deps.sh installs), else `make` says so. The DDS type is
# bridge/shmq_bridge.idl, compiled by Cyclone's idlc into build/gen/.
# build/tests/shmq-bridge is the sanitized one beside the test tool.
DDS_LIBS := $(shell pkg-config --libs CycloneDDS 2>/dev/null || { printf \
  '\043include <dds/dds.h>\nint main(void){return dds_delete(0) == 0;}\n' | \
  $(CC) -x c - -lddsc -o /dev/null 2>/dev/null && echo -lddsc; })
IDLC     ?= idlc
.PHONY: bridge
ifneq ($(DDS_LIBS),)
bridge: $(B)/shmq-bridge $(B)/examples/dds_listener
all: bridge
test-build: $(B)/tests/shmq-bridge $(B)/tests/dds-forge
# A plain Cyclone publisher of forged samples, for tests/test_bridge.c.
$(B)/tests/dds-forge: tests/dds/forge.c $(B)/obj/gen/shmq_bridge.o $(B)/gen/shmq_bridge.h
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(WERROR) $(CPPFLAGS) $(CFLAGS) -I$(B)/gen $(LDFLAGS) -o $@ $< \
	  $(B)/obj/gen/shmq_bridge.o $(DDS_LIBS)
# make bench-bridge: the bridge beside ddsperf and TCP between two network
# namespaces (scripts/bench-bridge.sh, root; bench/results/bridge-*.txt).
.PHONY: bench-bridge
bench-bridge: $(B)/shmq $(B)/shmq-bridge $(B)/bench-bridge-peer
	scripts/bench-bridge.sh $(B)
$(B)/bench-bridge-peer: bridge/bench_peer.c $(B)/libshmq.a
	$(CC) $(CSTD) $(WARN) $(WERROR) $(CPPFLAGS) $(CFLAGS) -Iinclude $(LDFLAGS) -o $@ $< \
	  $(B)/libshmq.a
# A plain Cyclone subscriber of a bridged topic (no shmq), run by the tests.
$(B)/examples/dds_listener: examples/dds_listener.c $(B)/obj/gen/shmq_bridge.o $(B)/gen/shmq_bridge.h
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(WERROR) $(CPPFLAGS) $(CFLAGS) -I$(B)/gen $(LDFLAGS) -o $@ $< \
	  $(B)/obj/gen/shmq_bridge.o $(DDS_LIBS)
$(B)/gen/shmq_bridge.c $(B)/gen/shmq_bridge.h: bridge/shmq_bridge.idl
	@mkdir -p $(B)/gen
	cd $(B)/gen && $(IDLC) $(CURDIR)/bridge/shmq_bridge.idl
$(B)/obj/gen/shmq_bridge.o $(B)/san/gen/shmq_bridge.o: ALL_CFLAGS = $(CSTD) $(CPPFLAGS) $(CFLAGS)
$(B)/obj/gen/%.o: $(B)/gen/%.c $(FLAGS_FILE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@
$(B)/san/gen/%.o: $(B)/gen/%.c $(FLAGS_FILE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN) -c $< -o $@
$(B)/obj/bridge/bridge.o $(B)/san/bridge/bridge.o: $(B)/gen/shmq_bridge.h
$(B)/obj/bridge/%.o $(B)/san/bridge/%.o: SRC_INC := -Icli -I$(B)/gen
BRIDGE_CLI := $(filter-out %/main.o %/bridge.o,$(CLI_OBJ))
$(B)/shmq-bridge: $(B)/obj/bridge/bridge.o $(B)/obj/gen/shmq_bridge.o $(BRIDGE_CLI) \
                  $(B)/libshmq-bench.a $(B)/libshmq.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(DDS_LIBS) -lm
$(B)/tests/shmq-bridge: $(B)/san/bridge/bridge.o $(B)/san/gen/shmq_bridge.o \
                        $(filter-out %/main.o %/bridge.o,$(SCLI_OBJ)) $(SBENCH_OBJ) $(SLIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(SAN) $(LDFLAGS) -o $@ $^ $(DDS_LIBS) -lm
else
bridge:
	@echo "bridge: Cyclone DDS not found (pkg-config CycloneDDS, dds/dds.h): shmq-bridge is not built (apt-get install cyclonedds-dev cyclonedds-tools)"
all: bridge
endif
# ---- end bridge ----

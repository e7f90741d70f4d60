# sluice build. `make` builds everything into build/; `make test` runs the
# suite; `make vmtest [KERNEL=6.1]` runs it under qemu; `make bench`;
# `make fuzz [FUZZ_COUNT=N FUZZ_SEED=S]` runs the packet fuzz at length.
CLANG    ?= clang
CC       ?= gcc
BPFTOOL  ?= bpftool
ARCH     := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
B        := build

CFLAGS   ?= -O2 -g -Wall -Wextra -Wno-unused-parameter
# sluiced's rooms (user/daemon/ROOM): core (main, loop, rollout table,
# sampling, actions, audit, control socket), engine (pure: plan steps,
# gates, sequential test, state document), io (clocks, store, HTTP client,
# command runner, Prometheus, etcd, notifications), health, web (/metrics,
# status page), fleet, gates (external gates, pre-step hook)
DMN_ROOMS := core engine io health web fleet gates
# the engine is built with its own folder, the ABI and the library only on
# its include path: it cannot include an I/O header
ENGINE_CFLAGS := $(CFLAGS) -Iinclude -Iuser/lib -Iuser/daemon/engine -D_GNU_SOURCE
override CFLAGS += -Iinclude -Iuser/lib $(addprefix -Iuser/daemon/,$(DMN_ROOMS)) -I$(B) -D_GNU_SOURCE
LDLIBS   := -lbpf -lelf -lz -lyaml -ljansson -lpthread -lm
BPF_CFLAGS := -O2 -g -target bpf -D__TARGET_ARCH_$(ARCH) -Iinclude -Ibpf \
              -I/usr/include/$(shell uname -m)-linux-gnu -Wall -Wno-unused-function

BPF_SRC  := $(wildcard bpf/*.bpf.c)
BPF_OBJ  := $(patsubst bpf/%.bpf.c,$(B)/bpf/%.bpf.o,$(BPF_SRC))
SKELS    := $(patsubst bpf/%.bpf.c,$(B)/%.skel.h,$(BPF_SRC))
BPF_HDRS := $(wildcard bpf/lib/*.h) $(wildcard include/*.h)

LIB_SRC  := $(wildcard user/lib/*.c)
LIB_OBJ  := $(patsubst %.c,$(B)/%.o,$(LIB_SRC))
# sluiced: the rollout engine and the daemon's parts in libsluiced.a, the
# daemon's main (user/daemon/core/main.c) linked on top
DMN_SRC  := $(filter-out user/daemon/core/main.c,$(wildcard user/daemon/*/*.c))
DMN_OBJ  := $(patsubst %.c,$(B)/%.o,$(DMN_SRC))
DMN_MAIN := $(wildcard user/daemon/core/main.c)
SLUICED_LDLIBS := -lsqlite3 -lcurl	# the daemon's own libraries (libcurl: HTTP checks)
# libsluiced's HTTP parts: libcurl (Prometheus queries, notification POSTs)
# and libmicrohttpd (/metrics); sluiced, tests and benches link them
DMN_LDLIBS := -lcurl -lmicrohttpd
CLI_SRC  := $(wildcard user/cli/*.c)
CLI_OBJ  := $(patsubst %.c,$(B)/%.o,$(CLI_SRC))
USER_HDRS := $(wildcard user/lib/*.h user/cli/*.h user/daemon/*/*.h include/*.h)

UNIT_SRC := $(wildcard tests/unit/*.c)
UNIT_BIN := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))
BENCH_SRC := $(wildcard tests/bench/*.c)
BENCH_BIN := $(patsubst tests/bench/%.c,$(B)/bench/%,$(BENCH_SRC))
TEST_HDRS := $(wildcard tests/unit/*.h tests/bench/*.h)

# libFuzzer targets: every tests/fuzz/fuzz_NAME.c is one, with its seed
# corpus in tests/fuzz/corpus/NAME/ (adding a target is adding the file).
# They link libsluice and the CLI built with the sanitizers; the CLI's main
# becomes sluice_cli_main, and cli_open is the target's own (no instance).
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(patsubst tests/fuzz/fuzz_%.c,$(B)/fuzz/fuzz_%,$(FUZZ_SRC))
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS := -O1 -g -fno-omit-frame-pointer $(FUZZ_SAN) -Iinclude -Iuser/lib \
	       -Iuser/cli -I$(B) -D_GNU_SOURCE
FUZZ_LIB_OBJ := $(patsubst %.c,$(B)/fuzz/obj/%.o,$(filter-out user/lib/decap.c,$(LIB_SRC)))
FUZZ_CLI_OBJ := $(patsubst %.c,$(B)/fuzz/obj/%.o,$(CLI_SRC))
FUZZ_TIME ?= 60

.DELETE_ON_ERROR:
.PHONY: all clean test vmtest bench bench-memory bench-fleet floodtest floodbench demo seqsim hcbench statusbench revertbench fuzz fuzz-user fuzz-packets sanitize
all: $(BPF_OBJ) $(SKELS) $(B)/libsluice.a $(if $(CLI_SRC),$(B)/sluice) \
     $(B)/libsluiced.a $(if $(DMN_MAIN),$(B)/sluiced) $(UNIT_BIN) $(BENCH_BIN) \
     $(FUZZ_BIN)

$(B)/bpf/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS)
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(B)/%.skel.h: $(B)/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $(if $(filter sluice,$*),sluice_bpf,$(subst -,_,$*)) > $@

$(B)/user/%.o: user/%.c $(USER_HDRS) $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(B)/user/daemon/engine/%.o: user/daemon/engine/%.c $(USER_HDRS)
	@mkdir -p $(@D)
	$(CC) $(ENGINE_CFLAGS) -c $< -o $@

# the status page's files are assembled into it (.incbin)
$(B)/user/daemon/web/status_page.o: $(wildcard user/daemon/web/www/*)

$(B)/libsluice.a: $(LIB_OBJ)
	ar rcs $@ $^

$(B)/libsluiced.a: $(DMN_OBJ)
	rm -f $@
	ar rcs $@ $^

$(B)/sluiced: $(B)/user/daemon/core/main.o $(B)/libsluiced.a $(B)/libsluice.a
	$(CC) $(CFLAGS) $< -o $@ $(B)/libsluiced.a $(B)/libsluice.a $(SLUICED_LDLIBS) $(DMN_LDLIBS) $(LDLIBS)

$(B)/sluice: $(CLI_OBJ) $(B)/libsluice.a
	$(CC) $(CFLAGS) $(CLI_OBJ) -o $@ $(B)/libsluice.a $(LDLIBS) -lncurses	# sluice top

$(B)/tests/%: tests/unit/%.c $(TEST_HDRS) $(USER_HDRS) $(SKELS) $(B)/libsluiced.a $(B)/libsluice.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/unit $< -o $@ $(B)/libsluiced.a $(B)/libsluice.a $(SLUICED_LDLIBS) $(DMN_LDLIBS) $(LDLIBS)

$(B)/bench/%: tests/bench/%.c $(TEST_HDRS) $(USER_HDRS) $(SKELS) $(B)/libsluiced.a $(B)/libsluice.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/unit -Itests/bench $< -o $@ $(B)/libsluiced.a $(B)/libsluice.a $(SLUICED_LDLIBS) $(DMN_LDLIBS) $(LDLIBS)

$(B)/fuzz/obj/user/cli/main.o: user/cli/main.c $(USER_HDRS) $(SKELS)
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -Dmain=sluice_cli_main \
		-Dcli_open=cli_open_unfuzzed -c $< -o $@

# the rollout commands reach no daemon under the fuzzer (fuzz_cli.c's stub)
$(B)/fuzz/obj/user/cli/cmd_rollout.o: user/cli/cmd_rollout.c $(USER_HDRS) $(SKELS)
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link \
		-Dsluice_ctl_connect=fuzz_ctl_connect -c $< -o $@

$(B)/fuzz/obj/%.o: %.c $(USER_HDRS) $(SKELS)
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(B)/fuzz/libsluice.a: $(FUZZ_LIB_OBJ)
	ar rcs $@ $^

$(B)/fuzz/libcli.a: $(FUZZ_CLI_OBJ)
	ar rcs $@ $^

$(B)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(B)/fuzz/libcli.a $(B)/fuzz/libsluice.a
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< -o $@ $(B)/fuzz/libcli.a \
		$(B)/fuzz/libsluice.a $(LDLIBS) -lncurses

# Each target for FUZZ_TIME seconds from its committed seeds (new inputs go
# to a scratch directory, not into the repository). `make fuzz` runs every
# fuzzer of the project: other kinds add themselves as prerequisites.
fuzz-user: $(FUZZ_BIN)
	tests/fuzz/run.sh $(FUZZ_TIME) $(FUZZ_BIN)

fuzz: fuzz-user fuzz-packets

# Every userspace part with AddressSanitizer and UBSan (in build-san/), then
# the unit tests and the CLI test against that build.
SAN_FLAGS := -O1 -g -fno-omit-frame-pointer $(FUZZ_SAN)
sanitize:
	$(MAKE) B=build-san CC=$(CLANG) CFLAGS="$(SAN_FLAGS) -Wall -Wno-unused-parameter" \
		FUZZ_BIN= all
	SLUICE_BUILD=build-san SLUICE_TEST_FILTER='$(or $(SANITIZE_TESTS),^test_[a-z_]+$$|^test_cli\.sh$$)' \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		tests/run.sh

test: all
	tests/run.sh

vmtest: all
	vmtest/run.sh $(KERNEL)

bench: all
	tests/bench/run.sh

bench-memory: all
	tests/bench/memory.sh

# the flood lab test alone
floodtest: all
	SLUICE_TEST_FILTER='^test_flood_lab' tests/run.sh

# a spoofed flood against established flows: table fill, evictions, hit
# cost and forwarding rate during the flood, recovery of conn_new after it
floodbench: all
	tests/bench/flood.sh

# fleet mode: etcd -> maps latency, kill switch, failover, requests
bench-fleet: all
	tests/bench/fleet.sh

# the sequential gate's simulation (issue 11's false-rollback and detection
# numbers): make seqsim [SEQSIM_RUNS=2000]
seqsim: $(B)/bench/seqsim
	$(B)/bench/seqsim $(or $(SEQSIM_RUNS),2000) 1

# the packet fuzz of the datapath at length (the suite runs 100,000)
FUZZ_COUNT ?= 10000000
FUZZ_SEED ?= 1
fuzz-packets: $(B)/tests/test_fuzz
	$(B)/tests/test_fuzz --count $(FUZZ_COUNT) --seed $(FUZZ_SEED)

demo: all
	scripts/demo.sh

# external gates: Prometheus gate latency, tick jitter with a slow
# Prometheus, /metrics with 1,000 services (tests/bench/gatebench.sh)
gatebench: $(B)/bench/gatebench $(B)/bench/metrics_bench
	SLUICE_BUILD=$(B) tests/bench/gatebench.sh | tee $(B)/bench/gatebench.json

# health checks: flows moved by one removal, death to removal, checker CPU
hcbench: all
	$(B)/bench/hcbench | tee $(B)/bench/hcbench.json

# the status page's cost to the loop: 4096 services, 16 rollouts
statusbench: all
	$(B)/bench/status_bench | tee $(B)/bench/status_bench.json
# time from a failing canary to the revert in the maps at ~1,000 new flows/s
revertbench: all
	tests/bench/rollout_revert.sh

clean:
	rm -rf $(B)

# libFuzzer targets of sluiced's parsers (clang's -fsanitize=fuzzer).
FUZZ_SECS ?= 60
FUZZ_CC   ?= clang
$(B)/fuzz/fuzz_prom: tests/fuzz/fuzz_prom.c user/daemon/io/prom.c user/daemon/io/httpc.c user/daemon/io/scheduler.c user/daemon/io/clock.c user/lib/query_tmpl.c user/lib/input_limits.c user/daemon/io/prom.h user/daemon/io/httpc.h
	@mkdir -p $(@D)
	$(FUZZ_CC) -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Iuser/lib $(addprefix -Iuser/daemon/,$(DMN_ROOMS)) \
		-D_GNU_SOURCE $(filter %.c,$^) -o $@ -ljansson -lcurl -lyaml
# the daemon's own parsers, each with the few files it needs (no daemon)
FUZZ_DMN = $(FUZZ_CC) -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Iuser/lib \
	$(addprefix -Iuser/daemon/,$(DMN_ROOMS)) -I$(B) -D_GNU_SOURCE $(filter %.c,$^) -o $@
$(B)/fuzz/fuzz_ctl: tests/fuzz/fuzz_ctl.c user/daemon/core/ctl_server.c user/daemon/io/clock.c user/daemon/io/scheduler.c \
		$(B)/fuzz/libsluice.a $(USER_HDRS)
	@mkdir -p $(@D)
	$(FUZZ_DMN) $(B)/fuzz/libsluice.a $(LDLIBS)
$(B)/fuzz/fuzz_state: tests/fuzz/fuzz_state.c user/daemon/engine/state_json.c user/daemon/engine/engine.c \
		user/daemon/engine/gate.c user/daemon/engine/seqtest.c $(B)/fuzz/libsluice.a $(USER_HDRS)
	@mkdir -p $(@D)
	$(FUZZ_DMN) $(B)/fuzz/libsluice.a $(LDLIBS)
$(B)/fuzz/fuzz_fleet: tests/fuzz/fuzz_fleet.c user/daemon/fleet/fleet_value.c user/daemon/io/etcd.c \
		user/daemon/io/httpc.c user/daemon/io/scheduler.c user/daemon/io/clock.c user/lib/input_limits.c $(USER_HDRS)
	@mkdir -p $(@D)
	$(FUZZ_DMN) -ljansson -lcurl -lyaml
.PHONY: fuzz-prom
fuzz-prom: $(B)/fuzz/fuzz_prom
	@mkdir -p $(B)/fuzz/corpus-prom
	$< -max_total_time=$(FUZZ_SECS) -max_len=4096 $(B)/fuzz/corpus-prom tests/fuzz/corpus/prom

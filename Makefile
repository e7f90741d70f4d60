# sluice build. `make` builds everything into build/; `make test` runs the
# suite; `make vmtest [KERNEL=6.1]` runs it under qemu; `make bench`.
CLANG    ?= clang
CC       ?= gcc
BPFTOOL  ?= bpftool
ARCH     := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
B        := build

CFLAGS   ?= -O2 -g -Wall -Wextra -Wno-unused-parameter
CFLAGS   += -Iinclude -Iuser/lib -Iuser/daemon -I$(B) -D_GNU_SOURCE
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
# daemon's main (user/daemon/main.c) linked on top when it exists
DMN_SRC  := $(filter-out user/daemon/main.c,$(wildcard user/daemon/*.c))
DMN_OBJ  := $(patsubst %.c,$(B)/%.o,$(DMN_SRC))
DMN_MAIN := $(wildcard user/daemon/main.c)
SLUICED_LDLIBS := -lsqlite3 -lcurl	# the daemon's own libraries (libcurl: HTTP checks)
CLI_SRC  := $(wildcard user/cli/*.c)
CLI_OBJ  := $(patsubst %.c,$(B)/%.o,$(CLI_SRC))
USER_HDRS := $(wildcard user/lib/*.h user/cli/*.h user/daemon/*.h include/*.h)

UNIT_SRC := $(wildcard tests/unit/*.c)
UNIT_BIN := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))
BENCH_SRC := $(wildcard tests/bench/*.c)
BENCH_BIN := $(patsubst tests/bench/%.c,$(B)/bench/%,$(BENCH_SRC))
TEST_HDRS := $(wildcard tests/unit/*.h tests/bench/*.h)

.DELETE_ON_ERROR:
.PHONY: all clean test vmtest bench demo seqsim hcbench
all: $(BPF_OBJ) $(SKELS) $(B)/libsluice.a $(if $(CLI_SRC),$(B)/sluice) \
     $(B)/libsluiced.a $(if $(DMN_MAIN),$(B)/sluiced) $(UNIT_BIN) $(BENCH_BIN)

$(B)/bpf/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS)
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(B)/%.skel.h: $(B)/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $(if $(filter sluice,$*),sluice_bpf,$(subst -,_,$*)) > $@

$(B)/user/%.o: user/%.c $(USER_HDRS) $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(B)/libsluice.a: $(LIB_OBJ)
	ar rcs $@ $^

$(B)/libsluiced.a: $(DMN_OBJ)
	rm -f $@
	ar rcs $@ $^

$(B)/sluiced: $(B)/user/daemon/main.o $(B)/libsluiced.a $(B)/libsluice.a
	$(CC) $(CFLAGS) $< -o $@ $(B)/libsluiced.a $(B)/libsluice.a $(SLUICED_LDLIBS) $(LDLIBS)

$(B)/sluice: $(CLI_OBJ) $(B)/libsluice.a
	$(CC) $(CFLAGS) $(CLI_OBJ) -o $@ $(B)/libsluice.a $(LDLIBS)

$(B)/tests/%: tests/unit/%.c $(TEST_HDRS) $(USER_HDRS) $(SKELS) $(B)/libsluiced.a $(B)/libsluice.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/unit $< -o $@ $(B)/libsluiced.a $(B)/libsluice.a $(SLUICED_LDLIBS) $(LDLIBS)

$(B)/bench/%: tests/bench/%.c $(TEST_HDRS) $(USER_HDRS) $(SKELS) $(B)/libsluiced.a $(B)/libsluice.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/unit -Itests/bench $< -o $@ $(B)/libsluiced.a $(B)/libsluice.a $(SLUICED_LDLIBS) $(LDLIBS)

test: all
	tests/run.sh

vmtest: all
	vmtest/run.sh $(KERNEL)

bench: all
	tests/bench/run.sh

# the sequential gate's simulation (issue 11's false-rollback and detection
# numbers): make seqsim [SEQSIM_RUNS=2000]
seqsim: $(B)/bench/seqsim
	$(B)/bench/seqsim $(or $(SEQSIM_RUNS),2000) 1

demo: all
	scripts/demo.sh

# health checks: flows moved by one removal, death to removal, checker CPU
hcbench: all
	$(B)/bench/hcbench | tee $(B)/bench/hcbench.json

clean:
	rm -rf $(B)

# sluice build. `make` builds the product (sluice, sluiced and their BPF
# objects) into build/; `make suite` adds what the test suite runs (unit
# tests, benches, fuzzers); `make test` runs the suite; `make vmtest
# [KERNEL=6.1]` runs it under qemu; `make bench`; `make fuzz [FUZZ_COUNT=N
# FUZZ_SEED=S]` runs the packet fuzz at length; `make install [DESTDIR=
# PREFIX=]`, `make uninstall`, `make deb` (doc/packaging.md).
# V=1 shows the commands; WERROR=1 (CI: scripts/test.sh) makes warnings errors.
CLANG    ?= clang
CC       ?= gcc
BPFTOOL  ?= bpftool
ARCH     := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
B        := build

ifeq ($(V),1)
Q :=
msg =
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif
ifneq ($(findstring s,$(firstword -$(MAKEFLAGS))),)
msg =	# make -s: silent
endif

# The one version (VERSION; `make VERSION=...` for a local build): sluice
# --version, sluiced --version, the state database and the Debian package.
VERSION  := $(shell cat VERSION)

# Warnings are not part of CFLAGS: `make CFLAGS=-O0` keeps them. WERROR=1
# makes them errors (CI), as xdp-tools' and libbpf-bootstrap's builds do.
WARNINGS := -Wall -Wextra -Wno-unused-parameter
ifeq ($(WERROR),1)
WARNINGS += -Werror
endif
DEPFLAGS = -MMD -MP -MF $(B)/.dep/$(subst /,_,$@).d
CFLAGS   ?= -O2 -g
# sluiced's rooms (user/daemon/ROOM): core (main, loop, rollout table,
# sampling, actions, audit, control socket), engine (pure: plan steps,
# gates, sequential test, state document), io (clocks, store, HTTP client,
# command runner, Prometheus, etcd, notifications), health, web (/metrics,
# status page), fleet, gates (external gates, pre-step hook)
DMN_ROOMS := core engine io health web fleet gates
# the engine is built with its own folder, the ABI and the library only on
# its include path: it cannot include an I/O header
ENGINE_CFLAGS := $(CFLAGS) $(WARNINGS) $(CPPFLAGS) -Iinclude -Iuser/lib -Iuser/daemon/engine -D_GNU_SOURCE
override CFLAGS += $(WARNINGS) $(CPPFLAGS) -Iinclude -Iuser/lib $(addprefix -Iuser/daemon/,$(DMN_ROOMS)) -I$(B) -D_GNU_SOURCE
LDLIBS   := -lbpf -lelf -lz -lyaml -ljansson -lpthread -lm
# The BPF programs see the system headers the host compiler sees (asked
# from clang, as libbpf-bootstrap does), after their own.
CLANG_BPF_SYS_INCLUDES ?= $(shell $(CLANG) -v -E - </dev/null 2>&1 | \
	sed -n '/<...> search starts here:/,/End of search list./{ s| \(/.*\)|-idirafter \1|p }')
BPF_CFLAGS := -O2 -g -target bpf -D__TARGET_ARCH_$(ARCH) -Iinclude -Ibpf \
              $(CLANG_BPF_SYS_INCLUDES) -Wall -Wno-unused-function $(if $(filter 1,$(WERROR)),-Werror)

BPF_SRC  := $(wildcard bpf/*.bpf.c)
BPF_OBJ  := $(patsubst bpf/%.bpf.c,$(B)/bpf/%.bpf.o,$(BPF_SRC))
SKELS    := $(patsubst bpf/%.bpf.c,$(B)/%.skel.h,$(BPF_SRC))
# the product's programs (the bench_* ones are the benches' own)
PROD_BPF_OBJ := $(filter-out $(B)/bpf/bench_%,$(BPF_OBJ))
PROD_SKELS := $(filter-out $(B)/bench_%,$(SKELS))

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
# (the explicit fuzz_prom/ctl/state/fleet rules below still list headers)

UNIT_SRC := $(wildcard tests/unit/*.c)
UNIT_BIN := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))
BENCH_SRC := $(wildcard tests/bench/*.c)
BENCH_BIN := $(patsubst tests/bench/%.c,$(B)/bench/%,$(BENCH_SRC))

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
.PHONY: all suite tests benches fuzzers install uninstall deb clean test vmtest bench bench-memory bench-fleet floodtest floodbench demo seqsim hcbench statusbench revertbench bootbench fuzz fuzz-user fuzz-packets sanitize
UNITS := $(B)/units/sluiced.service $(B)/units/sluice-attach.service $(B)/units/sluice-boot
# the product: what `make install` and the package ship
all: $(PROD_BPF_OBJ) $(if $(CLI_SRC),$(B)/sluice) $(if $(DMN_MAIN),$(B)/sluiced) $(UNITS)
# what the test suite (tests/run.sh) runs besides the product
tests: $(UNIT_BIN)
benches: $(BENCH_BIN) $(BPF_OBJ)
fuzzers: $(FUZZ_BIN)
suite: all tests benches fuzzers

# header dependencies, as the compiler found them (-MMD -MP)
-include $(wildcard $(B)/.dep/*.d)
$(B)/.dep:
	$(Q)mkdir -p $@

# the version header changes only when VERSION does
$(B)/version.h: FORCE | $(B)/.dep
	$(Q)printf '#define SLUICE_VERSION "%s"\n' '$(VERSION)' >$@.tmp
	$(Q)cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@
FORCE:
GEN_HDRS := $(B)/version.h

$(B)/bpf/%.bpf.o: bpf/%.bpf.c | $(B)/.dep
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(B)/%.skel.h: $(B)/bpf/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(if $(filter sluice,$*),sluice_bpf,$(subst -,_,$*)) > $@

$(B)/user/%.o: user/%.c | $(PROD_SKELS) $(GEN_HDRS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

$(B)/user/daemon/engine/%.o: user/daemon/engine/%.c | $(B)/.dep
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ENGINE_CFLAGS) $(DEPFLAGS) -c $< -o $@

# the status page's files are assembled into it (.incbin)
$(B)/user/daemon/web/status_page.o: $(wildcard user/daemon/web/www/*)

# libsluice is internal: a static archive linked into sluice and sluiced,
# never installed (no stable API, header or soname; doc/packaging.md)
$(B)/libsluice.a: $(LIB_OBJ)
	$(call msg,AR,$@)
	$(Q)rm -f $@
	$(Q)ar rcs $@ $^

$(B)/libsluiced.a: $(DMN_OBJ)
	$(call msg,AR,$@)
	$(Q)rm -f $@
	$(Q)ar rcs $@ $^

$(B)/sluiced: $(B)/user/daemon/core/main.o $(B)/libsluiced.a $(B)/libsluice.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $< -o $@ $(B)/libsluiced.a $(B)/libsluice.a $(SLUICED_LDLIBS) $(DMN_LDLIBS) $(LDLIBS)

$(B)/sluice: $(CLI_OBJ) $(B)/libsluice.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $(CLI_OBJ) -o $@ $(B)/libsluice.a $(LDLIBS) -lncurses	# sluice top

$(B)/tests/%: tests/unit/%.c $(B)/libsluiced.a $(B)/libsluice.a | $(SKELS) $(GEN_HDRS)
	$(call msg,CC-TEST,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(DEPFLAGS) -Itests/unit $< -o $@ $(LDFLAGS) $(B)/libsluiced.a $(B)/libsluice.a $(SLUICED_LDLIBS) $(DMN_LDLIBS) $(LDLIBS)

$(B)/bench/%: tests/bench/%.c $(B)/libsluiced.a $(B)/libsluice.a | $(SKELS) $(GEN_HDRS)
	$(call msg,CC-BENCH,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(DEPFLAGS) -Itests/unit -Itests/bench $< -o $@ $(LDFLAGS) $(B)/libsluiced.a $(B)/libsluice.a $(SLUICED_LDLIBS) $(DMN_LDLIBS) $(LDLIBS)

$(B)/fuzz/obj/user/cli/main.o: user/cli/main.c | $(PROD_SKELS) $(GEN_HDRS)
	$(call msg,CC-FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $(DEPFLAGS) -fsanitize=fuzzer-no-link -Dmain=sluice_cli_main \
		-Dcli_open=cli_open_unfuzzed -c $< -o $@

# the rollout commands reach no daemon under the fuzzer (fuzz_cli.c's stub)
$(B)/fuzz/obj/user/cli/cmd_rollout.o: user/cli/cmd_rollout.c | $(PROD_SKELS) $(GEN_HDRS)
	$(call msg,CC-FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $(DEPFLAGS) -fsanitize=fuzzer-no-link \
		-Dsluice_ctl_connect=fuzz_ctl_connect -c $< -o $@

$(B)/fuzz/obj/%.o: %.c | $(PROD_SKELS) $(GEN_HDRS)
	$(call msg,CC-FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $(DEPFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(B)/fuzz/libsluice.a: $(FUZZ_LIB_OBJ)
	$(Q)rm -f $@
	$(Q)ar rcs $@ $^

$(B)/fuzz/libcli.a: $(FUZZ_CLI_OBJ)
	$(Q)rm -f $@
	$(Q)ar rcs $@ $^

$(B)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(B)/fuzz/libcli.a $(B)/fuzz/libsluice.a
	$(call msg,FUZZER,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $(DEPFLAGS) -fsanitize=fuzzer $< -o $@ $(B)/fuzz/libcli.a \
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
	$(MAKE) B=build-san CC=$(CLANG) CFLAGS="$(SAN_FLAGS)" all tests
	SLUICE_BUILD=build-san SLUICE_TEST_FILTER='$(or $(SANITIZE_TESTS),^test_[a-z_]+$$|^test_cli\.sh$$)' \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		tests/run.sh

test: suite
	tests/run.sh

vmtest: suite
	vmtest/run.sh $(KERNEL)

bench: all benches
	tests/bench/run.sh

bench-memory: all benches
	tests/bench/memory.sh

# the flood lab test alone
floodtest: suite
	SLUICE_TEST_FILTER='^test_flood_lab' tests/run.sh

# a spoofed flood against established flows: table fill, evictions, hit
# cost and forwarding rate during the flood, recovery of conn_new after it
floodbench: all benches
	tests/bench/flood.sh

# fleet mode: etcd -> maps latency, kill switch, failover, requests
bench-fleet: all benches
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

demo: all benches
	scripts/demo.sh

# external gates: Prometheus gate latency, tick jitter with a slow
# Prometheus, /metrics with 1,000 services (tests/bench/gatebench.sh)
gatebench: $(B)/bench/gatebench $(B)/bench/metrics_bench
	SLUICE_BUILD=$(B) tests/bench/gatebench.sh | tee $(B)/bench/gatebench.json

# health checks: flows moved by one removal, death to removal, checker CPU
hcbench: all benches
	$(B)/bench/hcbench | tee $(B)/bench/hcbench.json

# the status page's cost to the loop: 4096 services, 16 rollouts
statusbench: all benches
	$(B)/bench/status_bench | tee $(B)/bench/status_bench.json
# boot: the boot unit's start to the first forwarded packet in the lab
bootbench: all benches
	tests/bench/boot.sh $(or $(BOOT_RUNS),5)

# time from a failing canary to the revert in the maps at ~1,000 new flows/s
revertbench: all benches
	tests/bench/rollout_revert.sh

# Install (doc/packaging.md). The configuration stays under /etc whatever
# the PREFIX (the daemon's defaults and the units name /etc/sluice/); an
# existing /etc/sluice/sluice.yaml or /etc/default/sluice is never replaced.
PREFIX     ?= /usr/local
SBINDIR    ?= $(PREFIX)/sbin
LIBEXECDIR ?= $(PREFIX)/lib/sluice
MANDIR     ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
UNITDIR    ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= /etc
INSTALL    ?= install
# the units and sluice-boot name the /usr/local, /etc paths in the tree;
# made again when a path changes (`make` then `make install PREFIX=/usr`)
$(B)/units/paths: FORCE
	$(Q)mkdir -p $(@D)
	$(Q)echo '$(SBINDIR) $(LIBEXECDIR) $(SYSCONFDIR)' >$@.tmp
	$(Q)cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@
$(B)/units/%: scripts/% $(B)/units/paths
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)sed -e 's|/usr/local/sbin/|$(SBINDIR)/|g' -e 's|/usr/local/lib/sluice/|$(LIBEXECDIR)/|g' \
		-e 's|/etc/|$(SYSCONFDIR)/|g' $< >$@
	$(Q)chmod --reference=$< $@

install: all
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(SYSCONFDIR)/sluice \
		$(DESTDIR)$(SYSCONFDIR)/default
	$(INSTALL) -m 0755 $(B)/sluice $(B)/sluiced $(DESTDIR)$(SBINDIR)/
	$(INSTALL) -m 0755 $(B)/units/sluice-boot $(DESTDIR)$(LIBEXECDIR)/
	$(INSTALL) -m 0644 doc/sluice.8 doc/sluiced.8 $(DESTDIR)$(MANDIR)/man8/
	$(INSTALL) -m 0644 $(B)/units/sluiced.service $(B)/units/sluice-attach.service $(DESTDIR)$(UNITDIR)/
	$(INSTALL) -m 0644 scripts/sluice.bash-completion $(DESTDIR)$(BASHCOMPDIR)/sluice
	[ -e $(DESTDIR)$(SYSCONFDIR)/sluice/sluice.yaml ] || \
		$(INSTALL) -m 0644 examples/sluice.yaml $(DESTDIR)$(SYSCONFDIR)/sluice/sluice.yaml
	[ -e $(DESTDIR)$(SYSCONFDIR)/default/sluice ] || \
		$(INSTALL) -m 0644 scripts/sluice.default $(DESTDIR)$(SYSCONFDIR)/default/sluice

# what install put there, but the configuration (the operator's); it never
# detaches a datapath (`sluice detach DEV`, `sluice destroy` do)
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/sluice $(DESTDIR)$(SBINDIR)/sluiced \
		$(DESTDIR)$(LIBEXECDIR)/sluice-boot $(DESTDIR)$(MANDIR)/man8/sluice.8 \
		$(DESTDIR)$(MANDIR)/man8/sluiced.8 $(DESTDIR)$(UNITDIR)/sluiced.service \
		$(DESTDIR)$(UNITDIR)/sluice-attach.service $(DESTDIR)$(BASHCOMPDIR)/sluice
	-rmdir $(DESTDIR)$(LIBEXECDIR) 2>/dev/null

# The Debian package (debian/), into $(B)/deb/: the tree is copied there
# first, so dpkg-buildpackage writes its ../*.deb beside the copy and
# nothing in the tree (the working tree as it is, uncommitted edits too).
# debian/changelog's version must be VERSION's.
DEB_VERSION = $(shell dpkg-parsechangelog -SVersion 2>/dev/null)
deb:
	@case '$(DEB_VERSION)' in '$(VERSION)'-*) ;; \
	*) echo "make deb: debian/changelog is at $(DEB_VERSION), VERSION is $(VERSION): add a changelog entry (dch -v $(VERSION)-1)" >&2; exit 1 ;; esac
	rm -rf $(B)/deb && mkdir -p $(B)/deb/src
	tar --exclude=./$(B) --exclude=./build --exclude=./build-san --exclude=./.git \
		--exclude=./vmtest/cache --exclude=./debian/sluice --exclude=./debian/.debhelper \
		-cf - . | tar -C $(B)/deb/src -xf -
	cd $(B)/deb/src && env -u MAKEFLAGS -u MFLAGS -u MAKEOVERRIDES -u MAKELEVEL \
		dpkg-buildpackage -b -uc -us -jauto $(DEB_FLAGS)
	@ls -l $(B)/deb/*.deb

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

# unifaas - top-level build.
#   make            build everything into build/ (host tools, libuf, example images)
#   make run        install dependencies, build, run the example functions as unikernels
#   make test       the whole test suite (plain and ASan/UBSan builds, and the emulated smoke set)
#   make bench      benchmarks: unit boot and the platform (bench/RESULTS.md records them;
#                   make bench-boot / make bench-platform run one); make bench-platform: the platform
#                   make bench-ingress: the HTTP ingress (bench/http_ingress.sh)
#                   make bench-ingress-fair: a workflow's HTTP ingress latency beside another's HTTP/MQTT
#                   flood (bench/ingress_fair.sh; STALL=1: Redis stopped 100 ms in every 500 ms)
#                   make bench-edges: HTTP and MQTT ingress and egress, each beside its baseline (bench/edges.sh)
#                   make bench-stall: the longest Redis stall a flooding workflow causes (bench/stall.sh)
#                   make bench-hcexit: one hypercall exit's round trip, events/s of a trivial function (bench/hcexit.sh)
#                   make bench-emulated: boot and hypercall exits in the emulated SVM and Cortex-A72
#                   machines beside this machine's (EMULATED figures: bench/emulated.sh)
#                   make bench-isolation: a steady workflow's latency alone and beside each flood (bench/isolation.sh)
#                   make bench-cpu-share: one workflow's 8 busy units beside another's 1, with and without
#                   CPU cgroups (bench/cpu_share.sh)
#                   make bench-usecase: CO2 readings over MQTT -> threshold -> slack-alert -> webhook, cold and
#                   warm, beside Node-RED (installed by the benchmark from npm) and the paper (bench/usecase.sh)
#   make test-svm   the tender's suites under a real KVM (kvm_amd) inside an emulated AMD SVM
#                   machine (scripts/in-qemu.sh; needs scripts/install-deps.sh --emulation)
#   make test-arm64 the aarch64 tender's suites under KVM (nVHE) in an emulated Cortex-A72 with EL2
#                   (scripts/in-qemu.sh arm64; make test-arm64-smoke: its smoke set)
#   make test-arm64-platform  unifaasd, the CLI, Redis, mosquitto and platform suites on that board
#   make test-smoke only make test's emulated smoke set (a few checks in each emulated machine)
#   make install    PREFIX=/usr/local

VERSION  := 0.1.0
PREFIX   ?= /usr/local

# ARCH: the machine the build is for.  x86_64 (the default) builds for this
# machine into build/.  aarch64 cross-builds into build-aarch64/, laid out
# like build/, with Debian's cross compilers (scripts/install-deps.sh
# --arm64): aarch64-linux-gnu-gcc and Debian's :arm64 libraries for the host
# side (unifaasd, the CLI's API half), aarch64-linux-musl-gcc (musl-dev:arm64)
# for the static tender and libuf.  BUILD_CC compiles what runs here during
# the build (the seccomp filter generator).
ARCH     ?= x86_64
BUILD_CC ?= cc
ifeq ($(ARCH),x86_64)
BUILD    ?= build
GUEST_CC ?= musl-gcc
TENDER_CC ?= musl-gcc
MULTIARCH = x86_64-linux-gnu
PKG_CONFIG ?= pkg-config
else ifeq ($(ARCH),aarch64)
BUILD    ?= build-aarch64
ifeq ($(origin CC),default)
CC       := aarch64-linux-gnu-gcc
endif
GUEST_CC ?= aarch64-linux-musl-gcc
TENDER_CC ?= aarch64-linux-musl-gcc
MULTIARCH = aarch64-linux-gnu
PKG_CONFIG ?= PKG_CONFIG_LIBDIR=/usr/lib/$(MULTIARCH)/pkgconfig:/usr/share/pkgconfig pkg-config
else
$(error ARCH=$(ARCH): not an architecture unifaas builds for (x86_64 or aarch64))
endif

WARN      = -Wall -Wextra -Werror
HOST_CFLAGS ?= -std=gnu11 -O2 -g $(WARN) -D_GNU_SOURCE -Iinclude/unifaas -Icommon -Itender \
	-DUNIFAAS_VERSION='"$(VERSION)"' $(EXTRA_CFLAGS)
HOST_LDFLAGS ?= $(EXTRA_LDFLAGS)
# The tender is built with musl and linked statically: no dynamic loading,
# and none of glibc's start-up CPUID probing, which traps to the hypervisor
# on this (virtualised) host: ~0.75 ms for a static glibc hello, 0.33 ms for
# musl's.  Linux headers come from the host's /usr/include, after musl's.
# Sanitizer builds use the host compiler and glibc, dynamically linked.
# (TENDER_CC is set with ARCH above.)
TENDER_CFLAGS = $(HOST_CFLAGS) -idirafter /usr/include -idirafter /usr/include/$(MULTIARCH)
HVT_STATIC ?= -static
HIREDIS = $(if $(findstring musl,$(TENDER_CC)),/usr/lib/$(MULTIARCH)/libhiredis.a,-lhiredis)
# -fstack-clash-protection: a frame larger than the guest's 4 KiB stack guard
# page probes it instead of jumping over it into the heap (also in cli/build_run.c).
GUEST_CFLAGS = -std=gnu11 -O2 $(WARN) -fno-pie -ffunction-sections -fdata-sections \
	-fno-asynchronous-unwind-tables -fstack-clash-protection -Iinclude/unifaas
# aarch64 GCC probes 64 KiB apart unless told the guard is 4 KiB (2^12)
ifeq ($(ARCH),aarch64)
GUEST_CFLAGS += --param=stack-clash-protection-guard-size=12
endif

include tender/sources.mk
include common/sources.mk
TENDER_SRCS = $(patsubst %,tender/%.c,$(TENDER_CORE) $(TENDER_KVM) $(if $(findstring musl,$(TENDER_CC)),$(TENDER_MUSL)))
TENDER_ENTRY_OBJ = $(BUILD)/obj/tender/$(TENDER_ENTRY).o
GUEST_SRCS  = guest/entry_$(ARCH).S guest/boot.c guest/syscall.c guest/memory.c guest/api.c guest/loop.c guest/net.c
FUNCTIONS   = $(wildcard functions/*.c)
LIBDIR      = $(BUILD)/lib/unifaas

# The shared rulebook (common/) is compiled twice: with musl into the tender,
# with the host compiler into unifaasd and the CLI.
COMMON_SRCS = $(COMMON:%=common/%.c)
COMMON_HDRS = $(wildcard common/*.h)
TENDER_OBJS = $(TENDER_SRCS:%.c=$(BUILD)/obj/%.o) $(COMMON:%=$(BUILD)/obj/common-musl/%.o)
COMMON_OBJS = $(COMMON:%=$(BUILD)/obj/common/%.o)
GUEST_OBJS  = $(patsubst %,$(BUILD)/obj/%.o,$(basename $(GUEST_SRCS))) $(COMMON_GUEST:%=$(BUILD)/obj/guest-common/%.o)
IMAGES      = $(FUNCTIONS:functions/%.c=$(BUILD)/functions/%.uf)
# the guests of the tender's suites, prebuilt for a machine that runs them without a compiler (make test-arm64)
TEST_IMAGES = $(patsubst tests/guest/%.c,$(BUILD)/tests/guest/%.uf,$(wildcard tests/guest/*.c))

# The images are built by this machine's `unifaas build`: for aarch64 the
# x86-64 CLI of build/ with --arch aarch64 and this build's runtime.
ifeq ($(ARCH),x86_64)
IMAGE_TOOL  = $(BUILD)/bin/unifaas
IMAGE_BUILD = $(BUILD)/bin/unifaas build
all: $(BUILD)/bin/uf-hvt $(BUILD)/bin/unifaas $(BUILD)/bin/unifaasd runtime $(IMAGES)
else
IMAGE_TOOL  = build/bin/unifaas
IMAGE_BUILD = UNIFAAS_LIBDIR=$(LIBDIR) build/bin/unifaas build --arch $(ARCH)
# aarch64: the host side, the CLI, the tender, libuf, the example images, the
# test images the tender's suites run (tests/guest) and the KVM layer's tests
all: $(BUILD)/bin/unifaasd $(LIBDIR)/unifaas-api $(BUILD)/bin/unifaas $(BUILD)/bin/uf-hvt runtime $(IMAGES) \
	$(TEST_IMAGES) $(BUILD)/tests/kvm/vcpu_aarch64 $(BUILD)/tests/kvm/mmu_aarch64
build/bin/unifaas: FORCE
	$(MAKE) ARCH=x86_64 BUILD=build build/bin/unifaas build/lib/unifaas/unifaas-api
endif
FORCE:

# tests/kvm/vcpu_aarch64.c: the aarch64 KVM layer (hvt_kvm.c, hvt_kvm_aarch64.c)
# under the aarch64 seccomp filter, on a real /dev/kvm, in the emulated Cortex-A72:
#   make test-arm64 (or scripts/in-qemu.sh arm64 build-aarch64/tests/kvm ./vcpu_aarch64)
$(BUILD)/tests/kvm/vcpu_aarch64: tests/kvm/vcpu_aarch64.c tests/kvm/vcpu_aarch64_guest.S guest/hypercall.h tests/kvm/check.h \
		$(BUILD)/obj/tender/hvt_kvm.o $(BUILD)/obj/tender/hvt_kvm_aarch64.o $(BUILD)/obj/tender/hvt_pt_aarch64.o \
		$(BUILD)/obj/tender/hvt_seccomp.o
	@mkdir -p $(dir $@)
	$(TENDER_CC) $(TENDER_CFLAGS) -Iguest $(filter-out %.h,$^) -o $@ -static

RUNTIME = $(LIBDIR)/libuf.a $(LIBDIR)/uf.ld $(LIBDIR)/include/unifaas.h \
	$(LIBDIR)/include/uf_abi.h $(LIBDIR)/include/jsmn.h
runtime: $(RUNTIME)

deps: $(BUILD)/.deps
$(BUILD)/.deps: scripts/install-deps.sh
	@mkdir -p $(BUILD)
	./scripts/install-deps.sh
	@touch $@

$(BUILD)/obj/tender/%.o: tender/%.c tender/hvt.h tender/backend.h include/unifaas/uf_abi.h $(COMMON_HDRS)
	@mkdir -p $(dir $@)
	$(TENDER_CC) $(TENDER_CFLAGS) -c $< -o $@

$(BUILD)/obj/common-musl/%.o: common/%.c $(COMMON_HDRS) include/unifaas/uf_abi.h
	@mkdir -p $(dir $@)
	$(TENDER_CC) $(TENDER_CFLAGS) -c $< -o $@

$(BUILD)/obj/common/%.o: common/%.c $(COMMON_HDRS) include/unifaas/uf_abi.h
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -c $< -o $@

# The seccomp filter is compiled to BPF at build time (see hvt_seccomp_rules.h).
$(BUILD)/gen/gen_seccomp: tender/gen_seccomp.c tender/hvt_seccomp_rules.h
	@mkdir -p $(dir $@)
	$(BUILD_CC) -std=gnu11 -O2 $(WARN) -Itender $< -o $@ -lseccomp
$(BUILD)/gen/hvt_seccomp_bpf.h: $(BUILD)/gen/gen_seccomp
	$< $(ARCH) >$@.tmp && mv $@.tmp $@
$(BUILD)/obj/tender/hvt_seccomp.o: $(BUILD)/gen/hvt_seccomp_bpf.h
$(BUILD)/obj/tender/hvt_seccomp.o: TENDER_CFLAGS += -I$(BUILD)/gen

$(BUILD)/bin/uf-hvt: $(TENDER_OBJS) $(TENDER_ENTRY_OBJ)
	@mkdir -p $(dir $@)
	$(TENDER_CC) $(TENDER_CFLAGS) $^ -o $@ $(HOST_LDFLAGS) $(HVT_STATIC) $(HIREDIS)

# The CLI is two programs (cli/front.c says why): the front `unifaas`, static
# musl like the tender and with the tender linked in (`unifaas run` calls
# hvt_main()), serves build/run/new/help/version and execs the API half,
# linked with libcurl, jansson and hiredis, for the other commands.
CLI_FRONT_SRCS = cli/front.c cli/usage.c cli/build_run.c cli/new.c cli/egress_local.c
# the API half also serves `run --allow-egress`'s egress calls (cli/egress_serve.c)
# with unifaasd's own code for them (daemon/egress_call.c)
CLI_API_SRCS   = $(filter-out cli/front.c,$(wildcard cli/*.c)) daemon/egress_call.c

$(BUILD)/bin/unifaas: $(CLI_FRONT_SRCS) cli/cli.h include/unifaas/uf_abi.h $(TENDER_OBJS) | $(LIBDIR)/unifaas-api
	@mkdir -p $(dir $@)
	$(TENDER_CC) $(TENDER_CFLAGS) $(filter %.c %.o,$^) -o $@ $(HOST_LDFLAGS) $(HVT_STATIC) $(HIREDIS)

$(LIBDIR)/unifaas-api: $(CLI_API_SRCS) cli/cli.h cli/sim.h daemon/egress_call.h include/unifaas/uf_abi.h $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -Idaemon $(filter %.c %.o,$^) -o $@ $(HOST_LDFLAGS) $$($(PKG_CONFIG) --libs libcurl jansson hiredis libcrypto libmosquitto libmicrohttpd) -lpthread -lm

# unifaasd: glibc, dynamically linked (it starts once; the tender is what
# must start fast).
DAEMON_SRCS = $(addprefix daemon/,main.c cpu_groups.c backlog.c clock.c dlog.c config.c store.c pushwin.c registry.c units.c scheduler.c slots.c autoscale.c \
	api.c linger.c inspect.c logs.c manifest.c tap_pool.c standby.c retention.c delay.c quota.c metrics.c metrics_api.c secrets.c egress_server.c egress_call.c)
DAEMON_SRCS += daemon/ingress.c daemon/tokens.c daemon/cloudevent.c # HTTP ingress
DAEMON_SRCS += daemon/mqtt.c daemon/mqtt_codec.c # MQTT ingress and the outbox
DAEMON_OBJS = $(DAEMON_SRCS:%.c=$(BUILD)/obj/%.o)
DAEMON_LIBS = -luv -lhiredis -lmicrohttpd -ljansson -lcyaml -lyaml -lcurl -lpthread
DAEMON_LIBS += -lcrypto # SHA-256 of ingress tokens, base64 of CloudEvents

$(BUILD)/obj/daemon/%.o: daemon/%.c $(wildcard daemon/*.h) include/unifaas/uf_abi.h $(COMMON_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -Idaemon -c $< -o $@

$(BUILD)/bin/unifaasd: $(DAEMON_OBJS) $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) $^ -o $@ $(HOST_LDFLAGS) $(DAEMON_LIBS)

$(BUILD)/obj/guest/%.o: guest/%.c guest/hypercall.h include/unifaas/uf_abi.h include/unifaas/unifaas.h $(COMMON_HDRS)
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) -Icommon -c $< -o $@

# the shared rules libuf checks a guest's names, keys and counters with
$(BUILD)/obj/guest-common/%.o: common/%.c $(COMMON_HDRS) include/unifaas/uf_abi.h
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) -Icommon -c $< -o $@

$(BUILD)/obj/guest/%.o: guest/%.S guest/hypercall.h include/unifaas/uf_abi.h
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) -c $< -o $@

$(LIBDIR)/libuf.a: $(GUEST_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(LIBDIR)/uf.ld: guest/uf.ld
	@mkdir -p $(dir $@)
	cp $< $@

$(LIBDIR)/include/%.h: include/unifaas/%.h
	@mkdir -p $(dir $@)
	cp $< $@

# jsmn comes from Debian's libjsmn-dev; the guest include dir must not see
# glibc's /usr/include, so the header is copied next to unifaas.h.
$(LIBDIR)/include/jsmn.h: /usr/include/jsmn.h
	@mkdir -p $(dir $@)
	cp $< $@

$(BUILD)/functions/%.uf: functions/%.c $(IMAGE_TOOL) $(RUNTIME)
	@mkdir -p $(dir $@)
	$(IMAGE_BUILD) $< -o $@

$(BUILD)/tests/guest/%.uf: tests/guest/%.c $(IMAGE_TOOL) $(RUNTIME)
	@mkdir -p $(dir $@)
	$(IMAGE_BUILD) $< -o $@

# `unifaas build --arch aarch64` on this machine: the aarch64 runtime in $(LIBDIR)/aarch64
runtime-aarch64:
	$(MAKE) ARCH=aarch64 BUILD=build-aarch64 runtime
	mkdir -p $(LIBDIR)/aarch64/include
	cp build-aarch64/lib/unifaas/libuf.a build-aarch64/lib/unifaas/uf.ld $(LIBDIR)/aarch64/
	cp build-aarch64/lib/unifaas/include/*.h $(LIBDIR)/aarch64/include/

# functions that include the flat-JSON helpers (header-only)
$(patsubst %,$(BUILD)/functions/%.uf,lights alert dhs dhs_stats logger log_query slack_alert): functions/lib/flatjson.h
# functions that fail events with lib/fail.h's log line and reason
$(patsubst %,$(BUILD)/functions/%.uf,lights alert dhs dhs_stats fdc fib threshold logger slack_alert): functions/lib/fail.h

# functions that read Smart Citizen Kits are built with the shared parser
SCK_FUNCTIONS = threshold
$(SCK_FUNCTIONS:%=$(BUILD)/functions/%.uf): $(BUILD)/functions/%.uf: functions/%.c functions/lib/sck.c functions/lib/sck.h \
		$(IMAGE_TOOL) $(RUNTIME)
	@mkdir -p $(dir $@)
	$(IMAGE_BUILD) $< functions/lib/sck.c -o $@

# the CO2 log's writer and reader also share its layout and parsers
LOG_FUNCTIONS = logger log_query
$(LOG_FUNCTIONS:%=$(BUILD)/functions/%.uf): $(BUILD)/functions/%.uf: functions/%.c functions/lib/sck.c functions/lib/sck.h \
		functions/lib/readings_log.c functions/lib/readings_log.h $(IMAGE_TOOL) $(RUNTIME)
	@mkdir -p $(dir $@)
	$(IMAGE_BUILD) $< functions/lib/sck.c functions/lib/readings_log.c -o $@

# the live demo on a private platform (scripts/demo.sh; README, Quick start)
run: deps
	$(MAKE) all
	./scripts/demo.sh $(BUILD)

# the example functions run once each with `unifaas run`, no platform
run-local: deps
	$(MAKE) all
	./scripts/demo-local.sh $(BUILD)

# the two builds of `make test` use every core, also when make was started without -j.
# Its emulated smoke set (tests/emulated/smoke.sh: jobs emulated-svm and
# emulated-arm64 of tests/run.sh) needs QEMU and the aarch64 cross toolchain:
# test-deps installs them (scripts/install-deps.sh --emulation --arm64).
TEST_JOBS ?= $(shell nproc)
test-deps: $(BUILD)/.deps-test
$(BUILD)/.deps-test: scripts/install-deps.sh
	@mkdir -p $(BUILD)
	./scripts/install-deps.sh --emulation --arm64
	@touch $@
test: deps test-deps
	$(MAKE) -j$(TEST_JOBS) all
	$(MAKE) -j$(TEST_JOBS) BUILD=build-asan HVT_STATIC= TENDER_CC=$(CC) EXTRA_CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		EXTRA_LDFLAGS="-fsanitize=address,undefined" build-asan/bin/uf-hvt build-asan/bin/unifaas build-asan/bin/unifaasd runtime
	./tests/run.sh

# The tender's suites that need no platform (tests/emulated/run.sh), run inside
# QEMU's emulated x86-64 with AMD SVM, where /dev/kvm is Linux's kvm_amd on
# (emulated) hardware virtualisation instead of this host's paravirtual KVM.
# This machine's files are shared read-only with the emulated one
# (in-qemu.sh --hostfs). UF_EMULATED_SUITES="runtime faults" runs only those.
# One emulated CPU: with two (QEMU's multi-threaded TCG), a spinning guest
# under the emulated kvm_amd held its CPU for good (soft lockup), so the
# suites run one after the other (7 minutes; bench/RESULTS.md, emulated figures).
UF_QEMU_MEM ?= 2048
UF_QEMU_SMP ?= 1
UF_QEMU_TIMEOUT ?= 1800
test-svm: all
	UF_QEMU_MEM=$(UF_QEMU_MEM) UF_QEMU_SMP=$(UF_QEMU_SMP) UF_QEMU_TIMEOUT=$(UF_QEMU_TIMEOUT) ./scripts/in-qemu.sh --hostfs --keep $(CURDIR) svm tests/emulated \
		'cd $(CURDIR) && UF_BUILD=$(BUILD) bash tests/emulated/run.sh $(UF_EMULATED_SUITES)'

# The emulated aarch64 board (Cortex-A72, GICv2, EL2: KVM in nVHE mode, as on a Raspberry Pi 4)
# tests/kvm/mmu_aarch64.c: an aarch64 guest's page tables (hvt_pt_aarch64.c), W^X by its faults
$(BUILD)/tests/kvm/mmu_aarch64: tests/kvm/mmu_aarch64.c tests/kvm/mmu_aarch64_guest.S tender/hvt_pt_aarch64.h tests/kvm/check.h \
		$(BUILD)/obj/tender/hvt_kvm.o $(BUILD)/obj/tender/hvt_kvm_aarch64.o $(BUILD)/obj/tender/hvt_pt_aarch64.o
	@mkdir -p $(dir $@)
	$(TENDER_CC) $(TENDER_CFLAGS) $(filter-out %.h,$^) -o $@ -static

# The aarch64 tender, libuf and images (make ARCH=aarch64) on the emulated
# board: the KVM layer's tests, hello.uf, and the tender's suites that need
# no servers - faults.sh's and hypercall_abuse.sh's cases and runtime.sh's
# libc smoke test with the local KV store, listed from those suites by
# tests/emulated/arm64_cases.sh (same statuses, reasons in aarch64's words)
# and run there by tests/emulated/arm64_suites.sh.
# Both run redis_backend.sh's first batch against Debian's arm64 redis-server
# (tests/emulated/arm64_redis_stage.sh fetches it once), test-arm64 also its
# crash mid-batch.
# make test-arm64-smoke: the aarch64 smoke set (the machine, KVM, hello.uf,
# one fault, one local-KV batch, one Redis batch) for `make test`/.ci/run's
# emulated smoke.
ARM64_EMU = build-aarch64/emulated
ARM64_EMU_FILES = build-aarch64/bin/uf-hvt build-aarch64/tests/kvm/vcpu_aarch64 build-aarch64/tests/kvm/mmu_aarch64 \
	build-aarch64/functions/hello.uf build-aarch64/tests/guest/faults.uf build-aarch64/tests/guest/hcabuse.uf \
	build-aarch64/tests/guest/libc_smoke.uf build-aarch64/tests/guest/dataplane.uf build-aarch64/functions/fdc.uf
# (the x86-64 hello.uf the aarch64 tender must refuse is build/'s, whatever BUILD is)
arm64-emulated:
	$(MAKE) ARCH=x86_64 BUILD=build build/functions/hello.uf
	$(MAKE) ARCH=aarch64 BUILD=build-aarch64 $(ARM64_EMU_FILES)
	rm -rf $(ARM64_EMU) && mkdir -p $(ARM64_EMU)
	cp tests/emulated/arm64_rig.sh tests/emulated/arm64_suites.sh $(ARM64_EMU_FILES) $(ARM64_EMU)/
	cp build/functions/hello.uf $(ARM64_EMU)/hello-x86_64.uf
	bash tests/emulated/arm64_cases.sh $(ARM64_EMU)/cases
	bash tests/emulated/arm64_redis_stage.sh $(ARM64_EMU)

test-arm64: arm64-emulated
	UF_QEMU_TIMEOUT=$(UF_QEMU_TIMEOUT) ./scripts/in-qemu.sh arm64 $(ARM64_EMU) 'sh arm64_rig.sh'

test-arm64-smoke: arm64-emulated
	UF_QEMU_TIMEOUT=$(UF_QEMU_TIMEOUT) ./scripts/in-qemu.sh arm64 $(ARM64_EMU) 'sh arm64_rig.sh smoke'

# make test-arm64-platform: the whole platform on the emulated aarch64 board
# (tests/emulated/arm64_platform.sh): unifaasd and the CLI of build-aarch64/,
# Debian's arm64 redis-server, mosquitto, bash, curl and python3 (fetched once
# by tests/emulated/arm64_platform_stage.sh), the CO2 workflow's walk through,
# then the platform suites ARM64_PLATFORM_SUITES as they are.
ARM64_PLATFORM_SUITES ?= co2 quota sim cpu_groups
ARM64_PLAT = build-aarch64/platform
test-arm64-platform:
	$(MAKE) ARCH=x86_64 BUILD=build build/bin/unifaas build/lib/unifaas/unifaas-api
	$(MAKE) ARCH=aarch64 BUILD=build-aarch64 all
	bash tests/emulated/arm64_platform_stage.sh $(ARM64_PLAT) $(ARM64_PLATFORM_SUITES)
	UF_QEMU_MEM=$${UF_QEMU_MEM:-2048} UF_QEMU_TIMEOUT=$${UF_QEMU_TIMEOUT:-3600} \
		./scripts/in-qemu.sh arm64 $(ARM64_PLAT) 'sh arm64_platform.sh $(ARM64_PLATFORM_SUITES)'

# only make test's emulated smoke set (tests/emulated/smoke.sh), as make test runs it
test-smoke: deps test-deps
	$(MAKE) -j$(TEST_JOBS) all
	UF_ONLY="emulated-svm emulated-arm64" ./tests/run.sh

bench: deps
	$(MAKE) all
	./bench/boot.sh $(BUILD)
	./bench/platform.sh $(BUILD)

bench-boot: deps
	$(MAKE) all
	./bench/boot.sh $(BUILD)

bench-platform: deps
	$(MAKE) all
	./bench/platform.sh $(BUILD)

# the edges (issue 9): HTTP and MQTT ingress, egress, each beside its baseline
bench-edges: deps
	$(MAKE) all
	./bench/edges.sh $(BUILD)

# the longest Redis stall a flooding workflow causes (issue 11 §3): bench/stall.sh
bench-stall: deps
	$(MAKE) all
	./bench/stall.sh $(BUILD)

bench-hcexit: deps
	$(MAKE) all
	./bench/hcexit.sh $(BUILD)

# what a unit's tender costs beside its guest's memory (issue 11 §4): bench/tender_rss.sh
bench-tender-rss: deps
	$(MAKE) all
	./bench/tender_rss.sh $(BUILD)

# the noisy-neighbour bench (issue 11 §5): a steady workflow alone and beside each flood: bench/isolation.sh
bench-isolation: deps
	$(MAKE) all
	./bench/isolation.sh $(BUILD)

# the CPU shares per workflow: 8 busy units beside 1, with and without CPU cgroups: bench/cpu_share.sh
bench-cpu-share: deps
	$(MAKE) all
	./bench/cpu_share.sh $(BUILD)

# boot and hypercall exit figures in the emulated SVM and Cortex-A72 machines beside this
# machine's, from one run (EMULATED: they say nothing about hardware speed): bench/emulated.sh
bench-emulated: deps test-deps
	$(MAKE) all
	$(MAKE) runtime-aarch64
	$(MAKE) ARCH=aarch64 BUILD=build-aarch64 build-aarch64/bin/uf-hvt build-aarch64/functions/hello.uf
	./bench/emulated.sh $(BUILD)

# HTTP ingress events/s (wrk) beside bare XADD (redis-benchmark): bench/http_ingress.sh
bench-ingress: deps
	$(MAKE) all
	./bench/http_ingress.sh $(BUILD)

# one workflow's ingress latency beside another's HTTP/MQTT flood: bench/ingress_fair.sh
bench-ingress-fair: deps
	$(MAKE) all
	./bench/ingress_fair.sh $(BUILD)

# the paper's use case (issue 10): MQTT -> threshold -> slack-alert -> webhook beside Node-RED: bench/usecase.sh
bench-usecase: deps
	$(MAKE) all
	./bench/usecase.sh $(BUILD)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/unifaas/include
	install -m 755 $(BUILD)/bin/unifaas $(BUILD)/bin/uf-hvt $(BUILD)/bin/unifaasd $(DESTDIR)$(PREFIX)/bin/
	install -m 755 $(LIBDIR)/unifaas-api $(DESTDIR)$(PREFIX)/lib/unifaas/
	install -m 644 $(LIBDIR)/libuf.a $(LIBDIR)/uf.ld $(DESTDIR)$(PREFIX)/lib/unifaas/
	install -m 644 $(LIBDIR)/include/*.h $(DESTDIR)$(PREFIX)/lib/unifaas/include/
	# the aarch64 runtime for `unifaas build --arch aarch64`, when made (make runtime-aarch64)
	if [ -f $(LIBDIR)/aarch64/libuf.a ]; then \
		install -d $(DESTDIR)$(PREFIX)/lib/unifaas/aarch64/include && \
		install -m 644 $(LIBDIR)/aarch64/libuf.a $(LIBDIR)/aarch64/uf.ld $(DESTDIR)$(PREFIX)/lib/unifaas/aarch64/ && \
		install -m 644 $(LIBDIR)/aarch64/include/*.h $(DESTDIR)$(PREFIX)/lib/unifaas/aarch64/include/; fi

clean:
	rm -rf build build-asan build-aarch64

.PHONY: all runtime runtime-aarch64 FORCE arm64-emulated deps run run-local test test-deps test-smoke test-svm test-arm64 test-arm64-smoke test-arm64-platform bench bench-boot bench-platform bench-edges bench-stall bench-hcexit bench-emulated bench-isolation bench-tender-rss bench-ingress bench-ingress-fair bench-usecase install clean

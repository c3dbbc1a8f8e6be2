# tests/unit/unit.mk - builds the cmocka unit tests into build/tests/unit/.
#
# Run from the top of the tree (tests/run.sh does):
#     make -f tests/unit/unit.mk          build every tests/unit/test_*.c
#     make -f tests/unit/unit.mk check    build and run them
#     make -f tests/unit/unit.mk CC=aarch64-linux-gnu-gcc UNIT_OUT=build-aarch64/tests/unit SAN=
#                                         cross-built for aarch64, without sanitizers (they do
#                                         not run under qemu-aarch64-static), for
#                                         qemu-aarch64-static -L /usr/aarch64-linux-gnu
#
# Each test_NAME.c becomes build/tests/unit/test_NAME, linked with the
# tender's own sources (compiled here with ASan/UBSan, UBSan non-recovering
# so undefined behaviour fails the test) - every tender file except
# tender/hvt_kvm*.c, which need /dev/kvm and are replaced by
# tests/unit/kvm_stub.c.  uf-hvt's main() is in tender/hvt_entry.c, which
# is not linked here (the tests have cmocka's main).
# tender/hvt_seccomp.c includes the BPF filter generated at build time; the
# top-level Makefile makes it (build/gen/hvt_seccomp_bpf.h), not this file.
# The exception is test_manifest, the daemon's manifest parser: it links
# daemon/manifest.c with -lcyaml -lyaml and no tender sources.

UNIT_OUT   ?= build/tests/unit
UNIT_OBJ   := $(UNIT_OUT)/obj
CC         ?= cc
SAN        ?= -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
UNIT_CFLAGS := -std=gnu11 -O1 -g -Wall -Wextra -Werror -D_GNU_SOURCE $(SAN) \
	-Iinclude/unifaas -Icommon -Itender -Itests/unit -Ibuild/gen -DUNIFAAS_VERSION='"test"'
# (clang's -Wextra also flags the tender's partial designated initializers)
UNIT_TENDER_CFLAGS := $(UNIT_CFLAGS) -Wno-missing-field-initializers
UNIT_LDLIBS := -lcmocka -ljansson -lhiredis # jansson: an independent JSON parser to check what the tender writes
SECCOMP_BPF := build/gen/hvt_seccomp_bpf.h

# The tender, as the top-level Makefile's TENDER_SRCS, minus hvt_kvm*.c.
include tender/sources.mk
include common/sources.mk
UNIT_TENDER := $(TENDER_CORE) $(if $(filter aarch64,$(ARCH)),hvt_pt_aarch64) # aarch64: its boot builds the page tables
UNIT_COMMON_OBJS := $(COMMON:%=$(UNIT_OBJ)/common/%.o)
UNIT_TENDER_OBJS := $(UNIT_TENDER:%=$(UNIT_OBJ)/tender/%.o) $(UNIT_COMMON_OBJS)
UNIT_SUPPORT_OBJS := $(UNIT_OBJ)/kvm_stub.o $(UNIT_OBJ)/support.o

UNIT_TESTS := $(patsubst tests/unit/%.c,$(UNIT_OUT)/%,$(wildcard tests/unit/test_*.c))
UNIT_HDRS  := $(wildcard tender/*.h common/*.h include/unifaas/*.h tests/unit/*.h)

all: $(UNIT_TESTS)

$(SECCOMP_BPF): tender/hvt_seccomp_rules.h tender/gen_seccomp.c
	$(MAKE) -f Makefile $@

$(UNIT_OBJ)/tender/hvt_seccomp.o: $(SECCOMP_BPF)

$(UNIT_OBJ)/tender/%.o: tender/%.c $(UNIT_HDRS) tests/unit/unit.mk
	@mkdir -p $(dir $@)
	$(CC) $(UNIT_TENDER_CFLAGS) -c $< -o $@

$(UNIT_OBJ)/common/%.o: common/%.c $(UNIT_HDRS) tests/unit/unit.mk
	@mkdir -p $(dir $@)
	$(CC) $(UNIT_CFLAGS) -c $< -o $@

$(UNIT_OBJ)/%.o: tests/unit/%.c $(UNIT_HDRS) tests/unit/unit.mk
	@mkdir -p $(dir $@)
	$(CC) $(UNIT_CFLAGS) -c $< -o $@

$(UNIT_OUT)/test_%: $(UNIT_OBJ)/test_%.o $(UNIT_TENDER_OBJS) $(UNIT_SUPPORT_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(UNIT_CFLAGS) $^ -o $@ $(UNIT_LDLIBS)

# test_manifest tests the daemon's manifest parser, not the tender: it links
# daemon/manifest.c with libcyaml and libyaml instead of the tender objects.
$(UNIT_OBJ)/daemon/%.o: daemon/%.c $(wildcard daemon/*.h) include/unifaas/uf_abi.h tests/unit/unit.mk
	@mkdir -p $(dir $@)
	$(CC) $(UNIT_CFLAGS) -Idaemon -c $< -o $@

$(UNIT_OBJ)/test_manifest.o: daemon/manifest.h
$(UNIT_OBJ)/test_manifest.o: UNIT_CFLAGS += -Idaemon

$(UNIT_OUT)/test_manifest: $(UNIT_OBJ)/test_manifest.o $(UNIT_OBJ)/daemon/manifest.o $(UNIT_COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(UNIT_CFLAGS) $^ -o $@ -lcmocka -lcyaml -lyaml

# test_daemon tests the daemon's pure logic (scaling policy, logs, config).
$(UNIT_OBJ)/test_daemon.o: $(wildcard daemon/*.h)
$(UNIT_OBJ)/test_daemon.o: UNIT_CFLAGS += -Idaemon

$(UNIT_OUT)/test_daemon: $(UNIT_OBJ)/test_daemon.o $(UNIT_OBJ)/daemon/autoscale.o $(UNIT_OBJ)/daemon/logs.o \
		$(UNIT_OBJ)/daemon/dlog.o \
		$(UNIT_OBJ)/daemon/config.o $(UNIT_COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(UNIT_CFLAGS) $^ -o $@ -lcmocka

# test_metrics tests the daemon's metrics registry and text format.
$(UNIT_OBJ)/test_metrics.o: daemon/metrics.h
$(UNIT_OBJ)/test_metrics.o: UNIT_CFLAGS += -Idaemon

$(UNIT_OUT)/test_metrics: $(UNIT_OBJ)/test_metrics.o $(UNIT_OBJ)/daemon/metrics.o $(UNIT_COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(UNIT_CFLAGS) $^ -o $@ -lcmocka

# test_pwrate tests the ingress rate's arithmetic (daemon/pwrate.h, header only).
$(UNIT_OBJ)/test_pwrate.o: daemon/pwrate.h daemon/pushwin.h
$(UNIT_OBJ)/test_pwrate.o: UNIT_CFLAGS += -Idaemon

$(UNIT_OUT)/test_pwrate: $(UNIT_OBJ)/test_pwrate.o
	@mkdir -p $(dir $@)
	$(CC) $(UNIT_CFLAGS) $^ -o $@ -lcmocka -lm

# test_cloudevent tests the HTTP ingress's CloudEvents rules.
$(UNIT_OBJ)/test_cloudevent.o: daemon/cloudevent.h
$(UNIT_OBJ)/test_cloudevent.o: UNIT_CFLAGS += -Idaemon

$(UNIT_OUT)/test_cloudevent: $(UNIT_OBJ)/test_cloudevent.o $(UNIT_OBJ)/daemon/cloudevent.o
	@mkdir -p $(dir $@)
	$(CC) $(UNIT_CFLAGS) $^ -o $@ -lcmocka -ljansson -lcrypto

# test_mqtt tests the daemon's MQTT codec.
$(UNIT_OBJ)/test_mqtt.o: daemon/mqtt_codec.h
$(UNIT_OBJ)/test_mqtt.o: UNIT_CFLAGS += -Idaemon

$(UNIT_OUT)/test_mqtt: $(UNIT_OBJ)/test_mqtt.o $(UNIT_OBJ)/daemon/mqtt_codec.o $(UNIT_COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(UNIT_CFLAGS) $^ -o $@ -lcmocka

# test_sck tests the Smart Citizen Kit parsers the kit functions are built with.
$(UNIT_OBJ)/functions/lib/%.o: functions/lib/%.c functions/lib/sck.h tests/unit/unit.mk
	@mkdir -p $(dir $@)
	$(CC) $(UNIT_CFLAGS) -c $< -o $@

$(UNIT_OBJ)/test_sck.o: functions/lib/sck.h
$(UNIT_OBJ)/test_sck.o: UNIT_CFLAGS += -Ifunctions/lib

$(UNIT_OUT)/test_sck: $(UNIT_OBJ)/test_sck.o $(UNIT_OBJ)/functions/lib/sck.o
	@mkdir -p $(dir $@)
	$(CC) $(UNIT_CFLAGS) $^ -o $@ -lcmocka

check: all
	@rc=0; for t in $(UNIT_TESTS); do echo "== $$t"; $$t || rc=1; done; exit $$rc

clean:
	rm -rf $(UNIT_OUT)

.PHONY: all check clean
.SECONDARY:

# test_readings_log tests the CO2 log's parsers (logger.c, log_query.c).
$(UNIT_OBJ)/functions/lib/readings_log.o: functions/lib/readings_log.h functions/lib/flatjson.h
$(UNIT_OBJ)/test_readings_log.o: functions/lib/readings_log.h functions/lib/sck.h
$(UNIT_OBJ)/test_readings_log.o: UNIT_CFLAGS += -Ifunctions/lib

$(UNIT_OUT)/test_readings_log: $(UNIT_OBJ)/test_readings_log.o $(UNIT_OBJ)/functions/lib/readings_log.o \
		$(UNIT_OBJ)/functions/lib/sck.o
	@mkdir -p $(dir $@)
	$(CC) $(UNIT_CFLAGS) $^ -o $@ -lcmocka

# test_pt_aarch64 tests an aarch64 guest's page tables (built on any host).
$(UNIT_OUT)/test_pt_aarch64: $(UNIT_OBJ)/test_pt_aarch64.o $(UNIT_OBJ)/tender/hvt_pt_aarch64.o
	@mkdir -p $(dir $@)
	$(CC) $(UNIT_CFLAGS) $^ -o $@ -lcmocka

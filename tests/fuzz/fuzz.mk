# tests/fuzz/fuzz.mk - the hypercall and manifest fuzzers (libFuzzer, clang).
#
# Run from the top of the tree (tests/run.sh does):
#     make -f tests/fuzz/fuzz.mk build    build build/tests/fuzz/fuzz_hypercall,
#                                         fuzz_manifest, fuzz_image and fuzz_egress
#     make -f tests/fuzz/fuzz.mk run      build, fuzz the hypercalls for FUZZ_TIME
#                                         seconds (default 20), then the manifest
#                                         parser for FUZZ_MANIFEST_TIME (default 10),
#                                         the image check for FUZZ_IMAGE_TIME (5);
#                                         non-zero exit on a crash, leak, timeout
#                                         or broken invariant
#     make -f tests/fuzz/fuzz.mk corpus   regenerate the seeds in tests/fuzz/corpus
#
# The target links the tender's own sources (all but hvt_kvm.c, replaced by
# tests/unit/kvm_stub.c; uf-hvt's main() is in hvt_entry.c, not linked),
# instrumented for coverage, ASan and UBSan.  The
# seccomp BPF header hvt_seccomp.c includes comes from the top-level Makefile.
# New inputs go to build/tests/fuzz/corpus (tests/fuzz/corpus is only read);
# a crashing input is saved as build/tests/fuzz/crash-* - replay it with
#     FUZZ_VERBOSE=1 build/tests/fuzz/fuzz_hypercall build/tests/fuzz/crash-...
#
# fuzz_image checks images (common/image.c, as the tender and deploy do);
# its seeds are the example images make builds (build/functions/*.uf),
# new inputs go to build/tests/fuzz/corpus_image, crashes to
# build/tests/fuzz/image-crash-*.
#
# fuzz_egress checks the egress rules (common/egress.c: the tender <->
# unifaasd wire parsers, URLs and the allow-list match); dictionary
# tests/fuzz/egress.dict, new inputs in build/tests/fuzz/corpus_egress,
# crashes as build/tests/fuzz/egress-crash-*.
#
# fuzz_cloudevent checks the HTTP ingress's CloudEvents parser
# (daemon/cloudevent.c: structured and binary mode) for FUZZ_CE_TIME (5 s);
# seeds are the shared fixtures (../shared/testdata/cloudevents), new
# inputs go to build/tests/fuzz/corpus_cloudevent, crashes to
# build/tests/fuzz/cloudevent-crash-*.
#
# fuzz_sck checks the Smart Citizen Kit parsers (functions/lib/sck.c: raw,
# JSON, the topic) for FUZZ_SCK_TIME (5 s); seeds are the shared fixtures
# (../shared/testdata/sck) and functions/testdata/sck-*.txt, one file a
# line; new inputs go to
# build/tests/fuzz/corpus_sck, crashes to build/tests/fuzz/sck-crash-*.
#
# fuzz_readings_log checks the CO2 log's parsers (functions/lib/readings_log.c:
# a readings-log event, a slot, an index list) for FUZZ_LOG_TIME (5 s);
# seeds are tests/fuzz/readings_log.seeds, one input a line; new inputs go
# to build/tests/fuzz/corpus_readings_log, crashes to
# build/tests/fuzz/readings_log-crash-*.
#
# fuzz_mqtt parses MQTT packets as unifaasd's client does
# (daemon/mqtt_codec.c); its seeds are tests/fuzz/corpus_mqtt (packets a
# broker sends), new inputs go to build/tests/fuzz/corpus_mqtt, crashes to
# build/tests/fuzz/mqtt-crash-*.
#
# fuzz_manifest links daemon/manifest.c (instrumented) with the system's
# libcyaml and libyaml (not instrumented); its seeds are
# tests/fuzz/corpus_manifest, its dictionary tests/fuzz/manifest.dict, new
# inputs go to build/tests/fuzz/corpus_manifest and crashes to
# build/tests/fuzz/manifest-crash-*.

FUZZ_OUT   := build/tests/fuzz
FUZZ_OBJ   := $(FUZZ_OUT)/obj
FUZZ_CC    ?= clang
FUZZ_TIME  ?= 20
FUZZ_SAN   := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS := -std=gnu11 -O1 -g -Wall -Wextra -Werror -D_GNU_SOURCE \
	-Iinclude/unifaas -Icommon -Itender -Itests/unit -Itests/fuzz -Ibuild/gen -DUNIFAAS_VERSION='"fuzz"'
# The tender is gcc -Werror clean; clang's -Wextra also flags designated
# initializers that leave fields out (hvt_hypercall.c's call table), which is
# deliberate there, so that one warning is off for tender sources.
FUZZ_TENDER_CFLAGS := $(FUZZ_CFLAGS) -Wno-missing-field-initializers
FUZZ_LDLIBS := -lhiredis
SECCOMP_BPF := build/gen/hvt_seccomp_bpf.h

include tender/sources.mk
include common/sources.mk
FUZZ_TENDER := $(TENDER_CORE)
FUZZ_COMMON_OBJS := $(COMMON:%=$(FUZZ_OBJ)/common/%.o)
FUZZ_OBJS  := $(FUZZ_TENDER:%=$(FUZZ_OBJ)/tender/%.o) $(FUZZ_COMMON_OBJS) $(FUZZ_OBJ)/kvm_stub.o $(FUZZ_OBJ)/support.o \
	$(FUZZ_OBJ)/fuzz_hypercall.o
FUZZ_HDRS  := $(wildcard tender/*.h common/*.h include/unifaas/*.h tests/unit/*.h tests/fuzz/*.h)
FUZZ_BIN   := $(FUZZ_OUT)/fuzz_hypercall

FUZZ_MANIFEST_TIME ?= 10
FUZZ_MANIFEST_BIN  := $(FUZZ_OUT)/fuzz_manifest
FUZZ_MANIFEST_OBJS := $(FUZZ_OBJ)/daemon/manifest.o $(FUZZ_OBJ)/fuzz_manifest.o $(FUZZ_COMMON_OBJS)

FUZZ_MQTT_TIME ?= 5
FUZZ_MQTT_BIN  := $(FUZZ_OUT)/fuzz_mqtt
FUZZ_MQTT_OBJS := $(FUZZ_OBJ)/daemon/mqtt_codec.o $(FUZZ_OBJ)/fuzz_mqtt.o $(FUZZ_COMMON_OBJS)

FUZZ_IMAGE_TIME ?= 5
FUZZ_IMAGE_BIN  := $(FUZZ_OUT)/fuzz_image
FUZZ_IMAGE_OBJS := $(FUZZ_OBJ)/fuzz_image.o $(FUZZ_COMMON_OBJS)

FUZZ_EGRESS_TIME ?= 5
FUZZ_EGRESS_BIN  := $(FUZZ_OUT)/fuzz_egress
FUZZ_EGRESS_OBJS := $(FUZZ_OBJ)/fuzz_egress.o $(FUZZ_COMMON_OBJS)

FUZZ_CE_TIME ?= 5
FUZZ_CE_BIN  := $(FUZZ_OUT)/fuzz_cloudevent
FUZZ_CE_OBJS := $(FUZZ_OBJ)/daemon/cloudevent.o $(FUZZ_OBJ)/fuzz_cloudevent.o

FUZZ_SCK_TIME ?= 5
FUZZ_SCK_BIN  := $(FUZZ_OUT)/fuzz_sck
FUZZ_SCK_OBJS := $(FUZZ_OBJ)/functions/lib/sck.o $(FUZZ_OBJ)/fuzz_sck.o

FUZZ_LOG_TIME ?= 5
FUZZ_LOG_BIN  := $(FUZZ_OUT)/fuzz_readings_log
FUZZ_LOG_OBJS := $(FUZZ_OBJ)/functions/lib/readings_log.o $(FUZZ_OBJ)/functions/lib/sck.o $(FUZZ_OBJ)/fuzz_readings_log.o

build: $(FUZZ_BIN) $(FUZZ_MANIFEST_BIN) $(FUZZ_IMAGE_BIN) $(FUZZ_EGRESS_BIN) $(FUZZ_CE_BIN) $(FUZZ_MQTT_BIN) $(FUZZ_SCK_BIN) $(FUZZ_LOG_BIN)

$(FUZZ_OBJ)/fuzz_sck.o: functions/lib/sck.h
$(FUZZ_OBJ)/fuzz_sck.o: FUZZ_CFLAGS += -Ifunctions/lib

$(FUZZ_OBJ)/functions/lib/%.o: functions/lib/%.c functions/lib/sck.h tests/fuzz/fuzz.mk
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_SCK_BIN): $(FUZZ_SCK_OBJS)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer $^ -o $@ -lm

$(FUZZ_OBJ)/fuzz_readings_log.o: functions/lib/readings_log.h functions/lib/sck.h
$(FUZZ_OBJ)/fuzz_readings_log.o: FUZZ_CFLAGS += -Ifunctions/lib
$(FUZZ_OBJ)/functions/lib/readings_log.o: functions/lib/readings_log.h functions/lib/flatjson.h

$(FUZZ_LOG_BIN): $(FUZZ_LOG_OBJS)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer $^ -o $@ -lm

$(FUZZ_OBJ)/fuzz_cloudevent.o: FUZZ_CFLAGS += -Idaemon

$(FUZZ_CE_BIN): $(FUZZ_CE_OBJS)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer $^ -o $@ -ljansson -lcrypto

$(FUZZ_EGRESS_BIN): $(FUZZ_EGRESS_OBJS)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer $^ -o $@

$(FUZZ_MQTT_BIN): $(FUZZ_MQTT_OBJS)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer $^ -o $@

$(FUZZ_OBJ)/fuzz_mqtt.o: daemon/mqtt_codec.h
$(FUZZ_OBJ)/fuzz_mqtt.o: FUZZ_CFLAGS += -Idaemon

$(FUZZ_IMAGE_BIN): $(FUZZ_IMAGE_OBJS)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer $^ -o $@

$(SECCOMP_BPF): tender/hvt_seccomp_rules.h tender/gen_seccomp.c
	$(MAKE) -f Makefile $@

$(FUZZ_OBJ)/tender/hvt_seccomp.o: $(SECCOMP_BPF)

$(FUZZ_OBJ)/tender/%.o: tender/%.c $(FUZZ_HDRS) tests/fuzz/fuzz.mk
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_TENDER_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_OBJ)/common/%.o: common/%.c $(FUZZ_HDRS) tests/fuzz/fuzz.mk
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_OBJ)/%.o: tests/unit/%.c $(FUZZ_HDRS) tests/fuzz/fuzz.mk
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_OBJ)/%.o: tests/fuzz/%.c $(FUZZ_HDRS) tests/fuzz/fuzz.mk
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_OBJ)/daemon/%.o: daemon/%.c daemon/%.h include/unifaas/uf_abi.h tests/fuzz/fuzz.mk
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -Idaemon -c $< -o $@

$(FUZZ_OBJ)/fuzz_manifest.o: daemon/manifest.h
$(FUZZ_OBJ)/fuzz_manifest.o: FUZZ_CFLAGS += -Idaemon

$(FUZZ_MANIFEST_BIN): $(FUZZ_MANIFEST_OBJS)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer $^ -o $@ -lcyaml -lyaml

# hvt_guest_ptr is wrapped so the target can check every pointer it hands out.
$(FUZZ_BIN): $(FUZZ_OBJS)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer $^ -o $@ -Wl,--wrap=hvt_guest_ptr $(FUZZ_LDLIBS)

run: $(FUZZ_BIN) $(FUZZ_MANIFEST_BIN) $(FUZZ_IMAGE_BIN) $(FUZZ_EGRESS_BIN) $(FUZZ_CE_BIN) $(FUZZ_MQTT_BIN) $(FUZZ_SCK_BIN) $(FUZZ_LOG_BIN)
	@mkdir -p $(FUZZ_OUT)/corpus $(FUZZ_OUT)/corpus_manifest $(FUZZ_OUT)/corpus_image $(FUZZ_OUT)/seeds_image
	cp build/functions/*.uf $(FUZZ_OUT)/seeds_image/ 2>/dev/null || true
	$(FUZZ_BIN) -max_total_time=$(FUZZ_TIME) -rss_limit_mb=2048 -timeout=10 -max_len=16384 \
		-print_final_stats=1 -artifact_prefix=$(FUZZ_OUT)/ $(FUZZ_OUT)/corpus tests/fuzz/corpus
	$(FUZZ_MANIFEST_BIN) -max_total_time=$(FUZZ_MANIFEST_TIME) -rss_limit_mb=2048 -timeout=10 -max_len=8192 \
		-dict=tests/fuzz/manifest.dict -print_final_stats=1 -artifact_prefix=$(FUZZ_OUT)/manifest- \
		$(FUZZ_OUT)/corpus_manifest tests/fuzz/corpus_manifest
	$(FUZZ_IMAGE_BIN) -max_total_time=$(FUZZ_IMAGE_TIME) -rss_limit_mb=2048 -timeout=10 -max_len=131072 \
		-print_final_stats=1 -artifact_prefix=$(FUZZ_OUT)/image- $(FUZZ_OUT)/corpus_image $(FUZZ_OUT)/seeds_image
	@mkdir -p $(FUZZ_OUT)/corpus_egress
	$(FUZZ_EGRESS_BIN) -max_total_time=$(FUZZ_EGRESS_TIME) -rss_limit_mb=2048 -timeout=10 -max_len=4096 \
		-dict=tests/fuzz/egress.dict -print_final_stats=1 -artifact_prefix=$(FUZZ_OUT)/egress- \
		$(FUZZ_OUT)/corpus_egress
	@mkdir -p $(FUZZ_OUT)/corpus_cloudevent
	cp ../shared/testdata/cloudevents/*.jsonl $(FUZZ_OUT)/corpus_cloudevent/ 2>/dev/null || true
	$(FUZZ_CE_BIN) -max_total_time=$(FUZZ_CE_TIME) -rss_limit_mb=2048 -timeout=10 -max_len=4096 \
		-print_final_stats=1 -artifact_prefix=$(FUZZ_OUT)/cloudevent- $(FUZZ_OUT)/corpus_cloudevent
	@mkdir -p $(FUZZ_OUT)/corpus_mqtt
	$(FUZZ_MQTT_BIN) -max_total_time=$(FUZZ_MQTT_TIME) -rss_limit_mb=2048 -timeout=10 -max_len=2048 \
		-print_final_stats=1 -artifact_prefix=$(FUZZ_OUT)/mqtt- $(FUZZ_OUT)/corpus_mqtt tests/fuzz/corpus_mqtt
	@mkdir -p $(FUZZ_OUT)/corpus_sck
	for f in ../shared/testdata/sck/raw-*.txt ../shared/testdata/sck/json-*.json functions/testdata/sck-*.txt; do \
		[ -f "$$f" ] && split -l 1 "$$f" "$(FUZZ_OUT)/corpus_sck/$$(basename "$$f")-"; done; true
	$(FUZZ_SCK_BIN) -max_total_time=$(FUZZ_SCK_TIME) -rss_limit_mb=2048 -timeout=10 -max_len=4096 \
		-print_final_stats=1 -artifact_prefix=$(FUZZ_OUT)/sck- $(FUZZ_OUT)/corpus_sck
	@mkdir -p $(FUZZ_OUT)/corpus_readings_log
	split -l 1 tests/fuzz/readings_log.seeds "$(FUZZ_OUT)/corpus_readings_log/seed-"
	$(FUZZ_LOG_BIN) -max_total_time=$(FUZZ_LOG_TIME) -rss_limit_mb=2048 -timeout=10 -max_len=4096 \
		-print_final_stats=1 -artifact_prefix=$(FUZZ_OUT)/readings_log- $(FUZZ_OUT)/corpus_readings_log

$(FUZZ_OUT)/gen_corpus: tests/fuzz/gen_corpus.c $(FUZZ_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $< -o $@

corpus: $(FUZZ_OUT)/gen_corpus
	rm -rf tests/fuzz/corpus
	$(FUZZ_OUT)/gen_corpus tests/fuzz/corpus

clean:
	rm -rf $(FUZZ_OUT)

.PHONY: build run corpus clean

/*
 * fuzz_manifest.c - libFuzzer target for the workflow manifest parser
 * (daemon/manifest.c, uf_manifest_parse).
 *
 * Each input is the YAML text itself (not NUL-terminated), parsed without
 * image checks against base_dir /srv/wf.  What must hold, for any input:
 *  - no memory error, leak or undefined behaviour (ASan, LSan, UBSan);
 *  - a refusal leaves a non-empty message whose every line starts with
 *    "fuzz.yaml" and holds no control character;
 *  - an accepted manifest keeps every promise of manifest.h: names and
 *    queues pass uf_queue_name_ok, images are absolute, min_units <=
 *    max_units, values are in their documented ranges, no function pushes
 *    to its own queue, one listener per queue, every ingress queue has one,
 *    and the message buffer is left empty.
 * A broken promise aborts, so libFuzzer saves the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"
#include "uf_abi.h"

static void need(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_manifest: broken promise: %s\n", what);
		abort();
	}
}

static int name_ok(const char *s)
{
	return s && uf_queue_name_ok(s, strlen(s));
}

static void check_function(const struct uf_manifest *m, const struct uf_function *f)
{
	need(name_ok(f->name) && name_ok(f->listen), "function and queue names");
	need(f->image && f->image[0] == '/', "absolute image path");
	need(f->line > 0, "function line");
	need(f->scale.min_units <= f->scale.max_units && f->scale.max_units >= 1, "min_units <= max_units");
	need(f->scale.events_per_unit >= 1, "events_per_unit >= 1");
	need(f->memory >= UF_MEM_MIN && f->memory <= UF_MEM_MAX && f->memory % (2u << 20) == 0, "memory range");
	need(f->batch >= 1 && f->batch <= UF_BATCH_MAX && f->retries <= 100, "batch and retries");
	need(f->net == 0 || f->net == 1, "net is a boolean");
	need(uf_manifest_listener(m, f->listen) == f, "one listener per queue");
	for (size_t i = 0; i < f->npush; i++) {
		need(name_ok(f->push[i]), "push queue names");
		need(strcmp(f->push[i], f->listen) != 0, "no push to the function's own queue");
	}
	for (size_t i = 0; i < f->nenv; i++)
		need(f->env_keys[i] && f->env_values[i], "env pairs");
	for (size_t i = 0; i < f->negress; i++)
		need(!strncmp(f->egress[i], "https://", 8) || !strncmp(f->egress[i], "http://", 7), "egress scheme");
}

static void check_refusal(const char *err)
{
	need(err[0] != '\0', "a refusal says why");
	for (const char *line = err; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
		need(!strncmp(line, "fuzz.yaml", 9), "every message line names the file");
	for (const char *p = err; *p; p++)
		need(*p == '\n' || ((unsigned char)*p >= 0x20 && *p != 0x7f), "no control characters in messages");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[4096];
	struct uf_manifest *m = uf_manifest_parse((const char *)data, size, "fuzz.yaml", "/srv/wf", 0, err, sizeof(err));
	if (!m) {
		check_refusal(err);
		return 0;
	}
	need(err[0] == '\0', "no message for an accepted manifest");
	need(name_ok(m->name) && m->max_units >= 1 && m->nfunctions >= 1, "workflow name, max_units, functions");
	for (size_t i = 0; i < m->nfunctions; i++)
		check_function(m, &m->functions[i]);
	for (size_t i = 0; i < m->nmqtt; i++)
		need(uf_manifest_listener(m, m->mqtt[i].queue) != NULL, "mqtt ingress queues have a listener");
	for (size_t i = 0; i < m->nhttp; i++)
		need(m->http[i].path[0] == '/' && uf_manifest_listener(m, m->http[i].queue), "http ingress routes");
	uf_manifest_free(m);
	return 0;
}

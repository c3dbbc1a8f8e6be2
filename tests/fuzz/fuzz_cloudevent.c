/*
 * fuzz_cloudevent.c - libFuzzer target of the HTTP ingress's CloudEvents
 * parser (daemon/cloudevent.c).  The input is tried as a structured-mode
 * body, then as binary mode: lines "name: value" up to an empty line are
 * the headers (those starting ce- as the parser gets them; a
 * "content-type" line is the Content-Type), the rest the body.
 * Invariants: no crash, leak or undefined behaviour; an accepted event has
 * an attributes object and a payload of its stated length; a refused one
 * names an attribute and says why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cloudevent.h"

#define HEADERS_MAX 16

static void check(int rc, struct ce_event *ev)
{
	if (rc == 0) {
		if (!json_is_object(ev->attrs) || (ev->len && !ev->data))
			abort();
		volatile char sink = 0;
		for (size_t i = 0; i < ev->len; i++)
			sink ^= ev->data[i];
		(void)sink;
	} else if (!ev->attr[0] || !ev->err[0]) {
		abort();
	}
	ce_event_free(ev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ce_event ev;
	check(ce_structured((const char *)data, size, &ev), &ev);

	char *copy = malloc(size + 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = 0;
	const char *names[HEADERS_MAX], *values[HEADERS_MAX], *type = NULL;
	size_t n = 0;
	char *p = copy, *end = copy + strlen(copy);
	while (p < end) {
		char *nl = strchr(p, '\n');
		if (nl)
			*nl = 0;
		if (!*p) {
			p = nl ? nl + 1 : end;
			break;
		}
		char *colon = strchr(p, ':');
		if (colon) {
			*colon = 0;
			const char *v = colon + 1 + strspn(colon + 1, " ");
			if (!strcasecmp(p, "content-type"))
				type = v;
			else if (!strncasecmp(p, "ce-", 3) && n < HEADERS_MAX) {
				names[n] = p;
				values[n++] = v;
			}
		}
		p = nl ? nl + 1 : end;
	}
	size_t body = p < end ? (size_t)(end - p) : 0;
	check(ce_binary(names, values, n, type, p < end ? p : "", body, &ev), &ev);
	free(copy);
	return 0;
}

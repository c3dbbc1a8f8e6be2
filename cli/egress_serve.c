/*
 * egress_serve.c - uf_http for `unifaas run`: the helper's half.
 *
 * `unifaas-api __egress-serve [--ca FILE] PREFIX...`, started by the front
 * (egress_local.c) with one end of a socketpair as descriptor 3, serves the
 * local unit's uf_http calls there with daemon/egress_call.c, exactly as
 * unifaasd would, until the tender closes its end.  The limits are the
 * platform's defaults (common/config.c); refusals and failures go to
 * stderr, one line each.  Not a user command: `unifaas help` does not list
 * it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "egress_call.h"

static void note(void *arg, const struct eg_caller *c, const struct eg_note *n)
{
	(void)arg;
	(void)c;
	if (!strcmp(n->kind, "denied"))
		fprintf(stderr, "unifaas: egress: denied %.*s: %s\n", (int)n->url_len, n->url, n->cause);
	else if (!strcmp(n->kind, "refused"))
		fprintf(stderr, "unifaas: egress: refused a call to %s: %s\n", n->host, n->cause);
	else
		fprintf(stderr, "unifaas: egress: %s:%u: %s (errno %d)\n", n->host, n->port, n->cause, n->err);
}

int cli_egress_serve(int argc, char **argv)
{
	struct uf_config c;
	char err[512] = "", *ca = NULL;
	const char *why = NULL, *ca_file = "";
	int first = 1;
	if (argc > 2 && !strcmp(argv[1], "--ca")) {
		ca_file = argv[2];
		first = 3;
	}
	uf_config_defaults(&c, "");
	struct eg_settings s = {.connect_ms = c.egress_connect_timeout_ms,
	                        .timeout_ms = c.egress_timeout_ms,
	                        .max_response = c.egress_max_response};
	if (eg_init() < 0 || eg_load_ca(ca_file, &ca, &s.ca_len, err, sizeof(err)) < 0) {
		fprintf(stderr, "unifaas: run: --egress-ca: %s\n", err[0] ? err : "libcurl failed to start");
		return UF_EX_ERROR;
	}
	s.ca = ca;
	struct eg_caller caller = {"local", "-", "-", argv + first, (size_t)(argc - first)};
	struct eg_hooks hooks = {.note = note};
	int rc = eg_serve(3, &caller, &s, &hooks, &why);
	if (rc < 0)
		fprintf(stderr, "unifaas: egress: malformed request from the tender: %s\n", why);
	free(ca);
	return rc < 0 ? UF_EX_ERROR : 0;
}

/*
 * main.c - the API half of the `unifaas` command (BIN/../lib/unifaas/
 * unifaas-api): the commands that talk to the platform, linked with libcurl,
 * jansson and hiredis.  The front (front.c) execs it with its own arguments
 * for every command it does not serve itself; it can also serve the local
 * ones, so that it is a whole `unifaas` when run by hand.
 *
 * The table below maps a command's name to its function; names, synopses and
 * help texts are in usage.c's table, shared with the front.
 */
#include <string.h>

#include "cli.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} handlers[] = {
    {"build", cmd_build},   {"run", cmd_run},           {"new", cmd_new},       {"up", cmd_up},
    {"down", cmd_down},     {"status", cmd_status},     {"deploy", cmd_deploy}, {"undeploy", cmd_undeploy},
    {"ls", cmd_ls},         {"resume", cmd_resume},     {"push", cmd_push},     {"ps", cmd_ps},
    {"queues", cmd_queues}, {"logs", cmd_logs},         {"kv", cmd_kv},         {"events", cmd_events},
    {"dlq", cmd_dlq},       {"describe", cmd_describe}, {"device", cmd_device}, {"secret", cmd_secret},
    {"token", cmd_token},   {"invoke", cmd_invoke},     {"sim", cmd_sim},
};

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], CLI_EGRESS_SERVE)) /* internal: `run --allow-egress`'s helper */
		return cli_egress_serve(argc - 1, argv + 1);
	int r = cli_start(&argc, &argv);
	if (r >= 0)
		return r;
	if (!strcmp(argv[0], "run") && cli_egress_local(&argc, &argv) < 0)
		return UF_EX_USAGE;
	for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
		if (strcmp(handlers[i].name, argv[0]) == 0)
			return handlers[i].fn(argc, argv);
	fprintf(stderr, "unifaas: %s: not served by %s/../%s/unifaas-api (reinstall unifaas)\n", argv[0], cli_bindir,
	        CLI_API_DIR);
	return UF_EX_ERROR;
}

/*
 * usage.c - what both halves of the `unifaas` command share: the command
 * table with every help text, option parsing, and the start of main().
 *
 * `unifaas` is two programs.  The front (front.c, static musl like the
 * tender) serves the local commands itself - build, run, new, help,
 * version - and execs the API half (main.c, BIN/../lib/unifaas/unifaas-api,
 * linked with libcurl, jansson and hiredis) with the same arguments for
 * every other command.  Loading libcurl and its 30 libraries cost `unifaas
 * run` ~5 ms before it exec'd the tender; see front.c for the measurements.
 *
 * `unifaas [--state-dir DIR] COMMAND [ARGS]`.  Each command is a function
 * cmd_NAME(argc, argv) with argv[0] the command's name; it returns the exit
 * code (UF_EX_* in cli.h).  The help of every command lives in the table
 * below, so `unifaas help CMD` and `unifaas CMD --help` print the same text.
 * `run` is the exception: its options are the tender's, and its help is the
 * tender's own.
 *
 * Options are parsed with getopt_long (GNU order: options may follow the
 * arguments; `--` ends them).  Every command also accepts --help and the
 * global --state-dir, which may come before the command too.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "rules.h"
#include "uf_abi.h"

char cli_bindir[PATH_MAX];
const char *cli_state_opt;

struct command {
	const char *name;
	const char *synopsis; /* after "unifaas " */
	const char *help;     /* after the synopsis line; NULL: own help */
};

/* Every command, local or not: the front prints any of these helps without
 * starting the API half. */
static const struct command commands[] = {
    {"build",
     "build SRC.c [SRC.c...] [-o IMAGE] [--arch ARCH] [-O2]\n"
     "                     [-DNAME=VAL] [-IDIR] [-lLIB] [-s]",
     "Compiles C sources with musl against unifaas.h and links them with libuf into a\n"
     "static unikernel image (default IMAGE: the first source's name with .uf).\n"
     "--arch aarch64 builds for an aarch64 board (a Raspberry Pi) from an x86-64\n"
     "machine: it needs the cross compiler (scripts/install-deps.sh --arm64) and\n"
     "the aarch64 runtime (make runtime-aarch64). Default: this machine's.\n"
     "Options other than -o and --arch are passed to the compiler; -s strips symbols.\n"},
    {"run", "run IMAGE [options]", NULL},
    {"new", "new NAME",
     "Writes NAME/NAME.c, a function that logs each event and pushes a reply, and\n"
     "NAME/NAME.yaml, a workflow NAME running it (listens to 'requests', pushes to\n"
     "'replies'). They build and deploy as they are:\n\n"
     "  unifaas build NAME/NAME.c && unifaas deploy NAME/NAME.yaml\n"
     "  unifaas push NAME requests hello\n\n"
     "Status 2 if NAME is not a valid name, 1 if NAME exists (nothing is overwritten).\n"},
    {"up",
     "up [--api-port N] [--mqtt-port N] [--ingress-port N]\n"
     "                  [--max-units N]",
     "Starts the platform: redis-server, mosquitto and unifaasd, detached, with their\n"
     "config, secrets, data and logs in the state dir (created 0700). Waits until\n"
     "each answers (at most 10 s each), then prints the status. Nothing to do when\n"
     "the platform is already up. Ports and limits are used when the platform\n"
     "starts; to change them, run 'unifaas down' first.\n\n"
     "  --api-port N    control API port on 127.0.0.1 (default 7380)\n"
     "  --mqtt-port N   MQTT broker port on 127.0.0.1 (default 1883)\n"
     "  --ingress-port N  HTTP ingress port (default 7381; its address is\n"
     "                  ingress_bind= in unifaasd.conf, default 127.0.0.1)\n"
     "  --max-units N   most execution units running at once (default 32)\n\n"
     "Status 1 if a port is taken or a server does not start (its log is shown and\n"
     "what was started is stopped again).\n"},
    {"down", "down",
     "Stops the platform: unifaasd (which stops its units; SIGKILL after 10 s),\n"
     "then mosquitto, then Redis (SHUTDOWN: the append-only file keeps the data).\n"
     "Status 0 also when it was not running.\n"},
    {"status", "status [--json]",
     "Prints where the platform's parts are and whether they run, one 'name: value'\n"
     "line each; with --json, the API's GET /v1/status as is.\n"
     "Status 0 when unifaasd answers, 3 when it is not running, 69 when it runs\n"
     "but does not answer or has lost Redis.\n"},
    {"deploy", "deploy FILE.yaml [--replace]",
     "Deploys the workflow of a manifest. Relative image paths are resolved against\n"
     "the manifest's directory; images are copied, so rebuilding one changes nothing\n"
     "until the next deploy.\n\n"
     "  --replace   redeploy a workflow of the same name\n\n"
     "Status 65 if the manifest is invalid (every problem is printed, one per line,\n"
     "FILE:LINE: key: what), 1 if the workflow exists (use --replace).\n"},
    {"undeploy", "undeploy WF [--purge]",
     "Stops the workflow's units and removes it. Its queues, dead letters and KV are\n"
     "kept, and stay readable (queues, events, dlq, kv) until it is deployed again.\n\n"
     "  --purge   delete everything of it: queues, dead letters, KV, counters, images\n"
     "            and logs (also of a workflow undeployed earlier without --purge)\n"},
    {"ls", "ls [--json]", "Lists the deployed workflows: NAME STEPS UNITS STATE REASON.\n"},
    {"resume", "resume WF",
     "Restarts a workflow that was stopped by overflow. Status 1 if it was not\n"
     "stopped.\n"},
    {"push", "push WF QUEUE [DATA]",
     "Queues DATA as one event on the workflow's queue; without DATA, queues each\n"
     "line of standard input as an event (empty lines are skipped), sent in\n"
     "requests of at most " UF_STR(
         UF_PUSH_EVENTS_MAX) " lines (the API's limit of events per push\n"
                             "request) and 8 MiB, so input of any size streams. Prints 'queued N'.\n"
                             "Status 1 if the workflow is stopped (its queued events are kept).\n"},
    {"ps", "ps [--json]",
     "Lists the running units: WORKFLOW STEP UNIT PID STATE UPTIME EVENTS (the events\n"
     "each unit acknowledged), then one line for each step that is not running,\n"
     "with the reason, and one for each workflow over its storage quota, with what\n"
     "it is refused.\n"},
    {"queues", "queues [--json]\n       unifaas queues purge WF QUEUE --all | --older-than DUR | --keep N",
     "Lists the queues: WORKFLOW QUEUE WAITING PENDING ENTRIES DEAD. WAITING counts\n"
     "events not handled yet (each event once: a retried event's earlier copies are\n"
     "done), '-' when no step reads the queue; PENDING those of them delivered to a\n"
     "unit and not yet acknowledged; ENTRIES the stream's entries (handled events and\n"
     "retried copies included, until retention trims them); DEAD the dead letters.\n"
     "Queues of workflows undeployed without --purge are listed too, and said so.\n\n"
     "  queues purge WF QUEUE --all | --older-than DUR | --keep N\n"
     "      delete the queue's oldest events, handled or not (say which, no default):\n"
     "      --all every one, delayed ones too; --older-than DUR those queued more\n"
     "      than DUR ago (500ms, 30s, 5m, 2h, 1d); --keep N all but the newest N.\n"
     "      Events units hold at that moment are still handled. Logged\n"
     "      (what=queue-purge); a way back under a workflow's storage quota\n"},
    {"events", "events WF QUEUE [--from ID] [--count N] [-f] [--json]",
     "Prints the entries of a queue, oldest first: ID TIME ATTEMPT DATA (data that is\n"
     "not UTF-8 as base64:..., control characters escaped). The results of a\n"
     "workflow's last step are read this way.\n\n"
     "  --from ID      start at entry ID (default: the oldest kept)\n"
     "  --count N      at most N entries per request, 1..10000 (default 100)\n"
     "  -f, --follow   keep printing new entries as they come, until interrupted\n"
     "  --json         one JSON object per entry (the API's), one per line\n"},
    {"dlq", "dlq ls|replay|purge WF [QUEUE] [ID...]",
     "Dead letters: events that failed more than their step's retries.\n\n"
     "  dlq ls WF [QUEUE] [--from ID] [--count N] [--json]\n"
     "      ID TIME QUEUE STEP EVENT ATTEMPTS REASON DATA, oldest first\n"
     "  dlq replay WF QUEUE [ID...]\n"
     "      queue them again (all, or the IDs given) on the queue they came from, with\n"
     "      their attempts reset; each leaves the dead letters as it is queued. With\n"
     "      IDs, nothing is replayed unless every ID exists (status 4)\n"
     "  dlq purge WF [QUEUE]\n"
     "      delete them\n"},
    {"describe", "describe WF [--json]",
     "Shows a deployed workflow: its steps with their grants (listen, push, KV\n"
     "namespace, network), scaling and limits, the units running, how units ended,\n"
     "recent failures and recent dead letters. --json: the API's GET /v1/workflows/WF.\n"},
    {"logs", "logs WF/STEP [-f] [--tail N] [--since DURATION]",
     "Prints the log of a step's units (their stdout and stderr), each line prefixed\n"
     "by the time unifaasd received it (UTC) and the unit id.\n\n"
     "  -f, --follow        keep printing lines as they come, until interrupted\n"
     "  --tail N            start with the last N lines (1..1000000)\n"
     "  --since DURATION    start with the lines of the last DURATION: 500ms, 10s,\n"
     "                      5m, 1h, 2d\n"},
    {"kv", "kv get|set|del WF KEY [VALUE]",
     "Reads, writes or deletes a key of the workflow's key-value store. 'get' prints\n"
     "the value and a newline (status 1 if the key does not exist); 'set' without\n"
     "VALUE stores standard input as is; 'del' succeeds also when the key was absent.\n"
     "KEY is any key a function can write: " UF_NAME_RULE_KEY "\n"
     "(':', '/', spaces included). Status 4 if the workflow is not deployed.\n"},
    {"device", "device add NAME [--topic FILTER]... | device ls | device rm NAME",
     "Manages the MQTT broker's device accounts (the broker admits no anonymous\n"
     "client). 'add' makes an account with a random password and prints exactly two\n"
     "lines, 'username: NAME' and 'password: SECRET' (shown only this once); the\n"
     "device may publish only to topics its filters match, and subscribe nowhere.\n"
     "Without --topic its filter is devices/NAME/#. 'ls' prints the names and their\n"
     "filters, never a password. 'rm' removes the account and a running broker\n"
     "disconnects the device. The broker reads the change at once (SIGHUP).\n\n"
     "  --topic FILTER   an MQTT topic filter ('+' and '#' wildcards), repeatable\n\n"
     "NAME: " UF_NAME_RULE_SHORT " (not 'unifaasd',\n"
     "the platform's own account). Status 2 for a bad name or filter, 1 if NAME\n"
     "exists already (add), 4 if it does not (rm).\n"},
    {"sim",
     "sim sck|motion|weight|smoke|door [--devices N] [--interval-ms T]\n"
     "                   [--count M | --duration S] [--seed S] [--prefix P] [OPTIONS]",
     "Simulates devices publishing real-format messages over MQTT QoS 1 to the\n"
     "platform's broker. Each device is a device account P1..PN (made, or given a new\n"
     "password, at each run) allowed only its own topic. Prints each message the\n"
     "broker acknowledged ('TOPIC PAYLOAD'), then 'published N, failed F'.\n\n"
     "  sck     Smart Citizen Kits (P: sck-sim-): device/sck/NAME/readings/raw (raw)\n"
     "          or device/sck/NAME/readings (JSON); CO2 is sensor 158\n"
     "  motion  WeMo motion sensors (wemo-sim-): wemo/ROOM/motion, BinaryState 1|0\n"
     "  weight  body analyzers (scale-sim-): scale/NAME/weight, user and weight_kg\n"
     "  smoke   Nest smoke alarms (nest-sim-): nest/NAME/smoke, smoke_level\n"
     "  door    fridge doors (door-sim-): home/ROOM/door, open then close\n"
     "('sim slack', a local webhook answering like Slack: unifaas help sim slack.)\n\n"
     "  --devices N       devices (default 1, at most 1000; with --rooms, one a room)\n"
     "  --interval-ms T   between two messages of a device (default 1000)\n"
     "  --count M         messages per device (default 10)\n"
     "  --duration S      instead of --count: S seconds' worth of messages\n"
     "  --seed S          same seed, same values (default: the time; it is printed)\n"
     "  --prefix P        the devices' names P1..PN\n"
     "sck:\n"
     "  --co2 P           rising (400 to 2500 ppm over the run), peak (400 to 2500\n"
     "                    at the middle reading, back to 400 at the last), steady\n"
     "                    (600 +-5), noisy (1000 +-150); default steady\n"
     "  --format F        raw, json, or mixed (odd kits raw, even kits JSON)\n"
     "motion, smoke, door:\n"
     "  --rooms R[,R]...  the devices' rooms, in turn (default kitchen)\n"
     "motion:\n"
     "  --pattern P       1 (motion) and 0 (none), repeated, e.g. 1100; or random\n"
     "                    (default 10)\n"
     "weight:\n"
     "  --users U[,U]...  whose readings, in turn (default alice)\n"
     "  --drift KG        each user's weight change a day, -2..2 (default -0.05),\n"
     "                    from 55..95 kg, +-0.3 kg of noise; one reading a day each\n"
     "  --start-date D    the first readings' day, YYYY-MM-DD (default: the last\n"
     "                    readings are today's)\n"
     "smoke:\n"
     "  --alarm-at N      message N of each alarm (and on) says emergency, level\n"
     "                    60..95 (over alert's 50); the others ok, 0..15 (default:\n"
     "                    no alarm)\n"
     "  --alarm-for K     the alarm lasts K messages, then clears (default: to the\n"
     "                    end)\n"
     "door:\n"
     "  --opens-per-hour R  openings at random, R an hour on average (default 6);\n"
     "                    or --interval-ms T between open and close alike\n\n"
     "Status 2 for a bad option (named), 3 if the broker cannot be reached, 1 if a\n"
     "message was not acknowledged.\n"},
    {"sim slack",
     "sim slack [--port P] [--path PREFIX] [--respond LIST]\n"
     "                   [--rate N/S] [--log FILE] [--count N]",
     "A local stand-in for a Slack incoming webhook, for tests and demos: an HTTP\n"
     "server on 127.0.0.1 that answers a POST under PREFIX as Slack does. Its first\n"
     "line is 'sim slack: listening on URL', the webhook URL to use (e.g. as the\n"
     "secret SLACK_WEBHOOK_URL; allow its http://127.0.0.1:P/ in the manifest's\n"
     "egress). A message is accepted (200, body 'ok') when its body (or, in a form,\n"
     "its payload= parameter) is a JSON object with a non-empty \"text\" or\n"
     "\"blocks\"; else 400 invalid_payload (400 no_text for an object with\n"
     "neither). Each accepted message is printed as Slack shows it:\n"
     "'[slack] HH:MM:SS BOT: TEXT' (BOT: its \"username\", else unifaas-bot).\n"
     "Another path: 404 no_service; another method: 405; a body over 1 MiB: 413.\n\n"
     "  --port P        the port (default 0: any free one, printed)\n"
     "  --path PREFIX   the webhook's path, or its start (default /services/)\n"
     "  --respond LIST  the answers to the next requests, in order, then ok: comma-\n"
     "                  separated ok; a Slack error with its status (invalid_payload\n"
     "                  and no_text 400, action_prohibited and invalid_token 403,\n"
     "                  no_service and channel_not_found 404, channel_is_archived\n"
     "                  410, rollup_error 500); a status 400-599; 429 (no\n"
     "                  Retry-After) or 429:S (Retry-After: S); timeout:MS (holds\n"
     "                  the request MS ms, then closes it unanswered, not posted)\n"
     "  --rate N/S      Slack's rate limit: past N accepted messages in S seconds,\n"
     "                  429 with Retry-After (the seconds until one leaves the window)\n"
     "  --log FILE      appends one JSON line per request: t_us (receive time, epoch\n"
     "                  microseconds), status (0: no answer), answer, path,\n"
     "                  idempotency_key, content_type, body, retry_after\n"
     "  --count N       exits after N accepted messages\n\n"
     "An answer from --rate does not use up a --respond item. SIGINT or SIGTERM end\n"
     "it; it prints 'sim slack: A accepted, R refused' and exits 0. Status 2 for a\n"
     "bad option (named), 1 if the port cannot be had.\n"},
    {"secret", "secret set NAME | secret ls [--json] | secret rm NAME",
     "Keeps secrets for functions (manifest 'secrets: [NAME]'): 'set' reads the value\n"
     "from standard input (one trailing newline dropped; from a terminal, one line\n"
     "not echoed), never from the command line; 'ls' prints names and when each was\n"
     "set, never values; 'rm' removes one. A unit gets the values when it starts:\n"
     "units started after a change get the new value, running ones keep theirs.\n"
     "NAME: " UF_NAME_RULE_VAR ".\nValues: 1..4096 bytes, no NUL.\n"},
    {"token", "token create WF | token ls [WF] [--json] | token rm ID",
     "Bearer tokens of the HTTP ingress, one workflow each (docs/api.md).\n\n"
     "  create WF   makes a token for workflow WF (deployed) and prints it alone on\n"
     "              stdout: the only time it is shown (only its hash is stored)\n"
     "  ls [WF]     lists the tokens: id, workflow, created (never the secret)\n"
     "  rm ID       revokes the token with that id (at once)\n\n"
     "A device sends it as 'Authorization: Bearer TOKEN' to the routes of its\n"
     "workflow, http://INGRESS/WF/PATH ('unifaas status' prints ingress_url).\n"
     "Status 4 if the workflow or the token does not exist.\n"},
    {"invoke", "invoke WF QUEUE [DATA] [--timeout-ms N]",
     "Queues one event (DATA, or standard input as is) on the queue and waits for\n"
     "its result: what the handler set with uf_reply, or else what it pushed\n"
     "(JSON), printed on stdout.\n\n"
     "  --timeout-ms N  how long to wait (default 10000, at most 60000)\n\n"
     "Status 0 when the handler committed, 5 when it failed (the reason on stderr;\n"
     "the event is retried or dead-lettered as usual), 75 when it was still\n"
     "running at the timeout (its id on stderr: 'unifaas events' shows what it\n"
     "pushes later), 4 if no step listens to the queue.\n"},
    {"version", "version", "Prints the version and the ABI version of the images it builds.\n"},
    {"help", "help [COMMAND]", "Prints the list of commands, or the help of one.\n"},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: unifaas COMMAND [ARGS]\n\n"
	           "Commands:\n"
	           "  build SRC.c... [-o IMAGE] [CFLAGS...]  compile a function into an image\n"
	           "  run IMAGE [options]                    run an image once here (run --help)\n"
	           "  new NAME                               write NAME/NAME.c and NAME/NAME.yaml\n\n"
	           "  up [--api-port N] [--mqtt-port N] [--ingress-port N] [--max-units N]\n"
	           "                                         start redis, mosquitto and unifaasd\n"
	           "  down                                   stop it\n"
	           "  status [--json]                        where its parts are, whether they run\n\n"
	           "  deploy FILE.yaml [--replace]           deploy a workflow manifest\n"
	           "  undeploy WF [--purge]                  remove a workflow (--purge: its data)\n"
	           "  ls [--json]                            deployed workflows\n"
	           "  resume WF                              restart a workflow stopped by overflow\n"
	           "  push WF QUEUE [DATA]                   queue an event, or each line of stdin\n"
	           "  invoke WF QUEUE [DATA]                 queue an event and wait for its result\n"
	           "  ps [--json]                            running units\n"
	           "  queues [--json]                        waiting, pending, entries, dead letters\n"
	           "  queues purge WF QUEUE --all|--older-than DUR|--keep N\n"
	           "                                         delete a queue's oldest events\n"
	           "  events WF QUEUE [--from ID] [-f]       read a queue's events (results)\n"
	           "  dlq ls|replay|purge WF [QUEUE]         dead letters: list, queue again, delete\n"
	           "  describe WF [--json]                   steps, grants, scaling, units, failures\n"
	           "  logs WF/STEP [-f] [--tail N] [--since D]\n"
	           "                                         a step's log\n"
	           "  kv get|set|del WF KEY [VALUE]          a workflow's key-value store\n"
	           "  token create|ls|rm [WF|ID]             bearer tokens of the HTTP ingress\n"
	           "  secret set|ls|rm [NAME]                secrets for functions (value on stdin)\n\n"
	           "  device add NAME [--topic FILTER]...    an MQTT account; prints its password\n"
	           "  device ls | device rm NAME             list device accounts, remove one\n"
	           "  sim sck|motion|weight|smoke|door ...   simulated devices publishing over MQTT\n"
	           "  sim slack [--port P] [--respond L] ... a local webhook answering like Slack\n\n"
	           "  version                                print the version and ABI\n"
	           "  help [COMMAND]                         this text, or a command's\n\n"
	           "Global option: --state-dir DIR, the platform's state directory (default\n"
	           "$UNIFAAS_STATE, else $XDG_STATE_HOME/unifaas, else ~/.local/state/unifaas).\n\n"
	           "Exit status: 0 ok, 1 error, 2 usage, 3 platform not running, 4 not found,\n"
	           "5 handler failed (invoke), 65 invalid manifest, 69 unavailable (unifaasd\n"
	           "lost Redis; retry later), 75 temporary: still running (invoke) or busy\n"
	           "(429: retry after its Retry-After).\n\n"
	           "'unifaas COMMAND --help' describes each command.\n");
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

void cli_help(const char *cmd, FILE *f)
{
	const struct command *c = find_command(cmd);
	if (!c) {
		usage(f);
		return;
	}
	fprintf(f, "usage: unifaas %s\n%s", c->synopsis, c->help ? c->help : "");
}

void cli_short_usage(const char *cmd)
{
	const struct command *c = find_command(cmd);
	if (c)
		fprintf(stderr, "usage: unifaas %s\n(unifaas %s --help for more)\n", c->synopsis, cmd);
}

#define OPT_STATE_DIR 0x100

int cli_getopt(const char *cmd, int argc, char **argv, const char *shortopts, const struct option *longopts)
{
	struct option all[16];
	size_t n = 0;
	char sopts[32];

	for (; longopts && longopts[n].name && n < 13; n++)
		all[n] = longopts[n];
	all[n++] = (struct option){"help", no_argument, NULL, 'h'};
	all[n++] = (struct option){"state-dir", required_argument, NULL, OPT_STATE_DIR};
	all[n] = (struct option){NULL, 0, NULL, 0};
	snprintf(sopts, sizeof(sopts), ":h%s", shortopts);
	opterr = 0;
	for (;;) {
		int c = getopt_long(argc, argv, sopts, all, NULL);
		if (c == OPT_STATE_DIR) {
			cli_state_opt = optarg;
			continue;
		}
		if (c == 'h') {
			cli_help(cmd, stdout);
			return 'h';
		}
		if (c == '?' || c == ':') {
			const char *bad = argv[optind - 1];
			if (c == ':')
				fprintf(stderr, "unifaas: %s: option '%s' needs a value\n", cmd, bad);
			else if (optopt && bad[0] == '-' && bad[1] != '-')
				fprintf(stderr, "unifaas: %s: unknown option '-%c'\n", cmd, optopt);
			else
				fprintf(stderr, "unifaas: %s: unknown option '%s'\n", cmd, bad);
			cli_short_usage(cmd);
			return '?';
		}
		return c;
	}
}

int cli_nargs(const char *cmd, int argc, char **argv, int min, int max)
{
	int n = argc - optind;
	if (n < min)
		fprintf(stderr, "unifaas: %s: missing argument\n", cmd);
	else if (n > max)
		fprintf(stderr, "unifaas: %s: unexpected argument '%s'\n", cmd, argv[optind + max]);
	else
		return 0;
	cli_short_usage(cmd);
	return -1;
}

#define SHOW_MAX 64 /* bytes of a refused name or key shown in its message */

/* A refused name or key as a message shows it: at most SHOW_MAX bytes (cut
 * on a character boundary, then "..." and its length), control bytes and,
 * in text that is not UTF-8, every byte past ASCII as \xNN, so that the
 * message stays one line and shows the offending bytes. */
void cli_show_name(FILE *f, const char *s)
{
	size_t n = strlen(s), cut = n;
	int utf8 = uf_utf8_valid(s, n);
	if (n > SHOW_MAX)
		for (cut = SHOW_MAX; utf8 && cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80; cut--)
			;
	fputc('\'', f);
	for (size_t i = 0; i < cut; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f || (!utf8 && c >= 0x80))
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
	if (cut < n)
		fprintf(f, "...' (%zu bytes)", n);
	else
		fputc('\'', f);
}

int cli_name_ok(const char *cmd, enum uf_name_kind kind, const char *name)
{
	if (uf_name_ok(kind, name, strlen(name)))
		return 1;
	fprintf(stderr, "unifaas: %s: %s ", cmd, uf_name_what(kind));
	cli_show_name(stderr, name);
	fprintf(stderr, " is not valid: use %s\n", uf_name_rule(kind));
	return 0;
}

int cli_is_command(const char *name)
{
	return find_command(name) != NULL;
}

/* The front lives in BIN, the API half in BIN/../lib/unifaas: either way
 * cli_bindir is BIN, where uf-hvt and unifaasd are. */
static int find_bindir(void)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0) {
		fprintf(stderr, "unifaas: cannot find own executable: %s\n", strerror(errno));
		return -1;
	}
	self[n] = '\0';
	char *dir = dirname(self);
	size_t len = strlen(dir), tl = strlen(CLI_API_DIR);
	if (len > tl && strcmp(dir + len - tl, CLI_API_DIR) == 0 && dir[len - tl - 1] == '/')
		snprintf(cli_bindir, sizeof(cli_bindir), "%.*sbin", (int)(len - tl), dir);
	else
		snprintf(cli_bindir, sizeof(cli_bindir), "%s", dir);
	return 0;
}

static int cmd_help(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "run") == 0)
		return cmd_run(2, (char *[]){"run", "--help", NULL});
	if (argc > 1 && !find_command(argv[1])) {
		fprintf(stderr, "unifaas: help: unknown command '%s'\n", argv[1]);
		usage(stderr);
		return UF_EX_USAGE;
	}
	char two[64]; /* a command with its own help per subcommand: "sim slack" */
	const char *cmd = argc > 1 ? argv[1] : "";
	int n = argc > 2 ? snprintf(two, sizeof(two), "%s %s", argv[1], argv[2]) : -1;
	if (n > 0 && (size_t)n < sizeof(two) && find_command(two))
		cmd = two;
	cli_help(cmd, stdout);
	return UF_EX_OK;
}

int cli_start(int *argcp, char ***argvp)
{
	int argc = *argcp, i = 1;
	char **argv = *argvp;

	/* the global option before the command */
	while (i < argc && strncmp(argv[i], "--state-dir", 11) == 0) {
		if (argv[i][11] == '=') {
			cli_state_opt = argv[i] + 12;
			i++;
		} else if (argv[i][11] == '\0' && i + 1 < argc) {
			cli_state_opt = argv[i + 1];
			i += 2;
		} else if (argv[i][11] == '\0') {
			fprintf(stderr, "unifaas: option '--state-dir' needs a value\n");
			return UF_EX_USAGE;
		} else {
			break;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return UF_EX_USAGE;
	}
	if (find_bindir() < 0)
		return UF_EX_ERROR;
	const char *cmd = argv[i];
	*argcp = argc - i;
	*argvp = argv + i;
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("unifaas %s (ABI %u)\n", UNIFAAS_VERSION, UF_ABI_VERSION);
		return UF_EX_OK;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0)
		return cmd_help(*argcp, *argvp);
	if (!find_command(cmd)) {
		fprintf(stderr, "unifaas: unknown command '%s'\n", cmd);
		usage(stderr);
		return UF_EX_USAGE;
	}
	return -1;
}

/* The tender: $UNIFAAS_TENDER, else BIN/uf-hvt. */
const char *cli_tender_path(char *buf, size_t len)
{
	const char *env = getenv("UNIFAAS_TENDER");
	if (env)
		snprintf(buf, len, "%s", env);
	else
		snprintf(buf, len, "%s/uf-hvt", cli_bindir);
	return buf;
}

/* $UNIFAAS_LIBDIR, else BIN/../lib/unifaas: the runtime, and the API half. */
const char *cli_libdir(void)
{
	static char dir[PATH_MAX + 32];
	const char *env = getenv("UNIFAAS_LIBDIR");
	if (env)
		return env;
	snprintf(dir, sizeof(dir), "%s/../%s", cli_bindir, CLI_API_DIR);
	return dir;
}

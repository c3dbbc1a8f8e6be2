/*
 * cli.h - what the files of the `unifaas` command share.
 *
 * usage.c owns the command table, help texts and option parsing, shared by
 * the front (front.c: the `unifaas` executable, static musl, local commands)
 * and the API half (main.c: unifaas-api, every command); build_run.c the
 * local commands (build, run), new.c `new`; state.c the state directory (where it is,
 * what is in it, the daemon's config file); services.c the platform's
 * processes (up, down, status); client.c the HTTP client of the control API
 * (docs/api.md) and the mapping of its errors to exit codes; commands.c the
 * commands that are API calls (deploy, ps, push, ...).
 *
 * Every command returns one of the UF_EX_* codes below; main() exits with it.
 */
#ifndef UF_CLI_H
#define UF_CLI_H

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "rules.h"

/* Exit codes of every command (docs/cli.md). */
#define UF_EX_OK          0
#define UF_EX_ERROR       1  /* anything else that failed */
#define UF_EX_USAGE       2  /* bad command line */
#define UF_EX_NOT_RUNNING 3  /* no state dir, or unifaasd does not answer */
#define UF_EX_NOT_FOUND   4  /* the API said 404 */
#define UF_EX_DATAERR     65 /* invalid manifest (422), as sysexits' EX_DATAERR */
#define UF_EX_UNAVAILABLE 69 /* the API said 503 (Redis down), as EX_UNAVAILABLE */
#define UF_EX_TEMPFAIL    75 /* the API said 429 (busy: retry after Retry-After), as EX_TEMPFAIL */

#define UF_HINT_UP "is the platform up? run 'unifaas up'"

/* Where the API half (unifaas-api) and the runtime are, relative to BIN. */
#define CLI_API_DIR "lib/unifaas"

/* usage.c */
extern char cli_bindir[PATH_MAX]; /* BIN: the front's directory */
extern const char *cli_state_opt; /* --state-dir, or NULL */
/* The start of both mains: the global --state-dir, version, help, unknown
 * commands.  Returns an exit code when that was all, else -1 with argc/argv
 * moved to the command (argv[0] its name). */
int cli_start(int *argc, char ***argv);
void cli_help(const char *cmd, FILE *f);
void cli_short_usage(const char *cmd);
const char *cli_tender_path(char *buf, size_t len); /* $UNIFAAS_TENDER, else BIN/uf-hvt */
const char *cli_libdir(void);                       /* $UNIFAAS_LIBDIR, else BIN/../lib/unifaas */
/* Parses the options of a command with getopt_long. `longopts` and
 * `shortopts` describe the command's own options; --help and --state-dir
 * are added. Returns the option (as getopt does), -1 at the end, or '?'
 * after printing a usage message (the caller returns UF_EX_USAGE), 'h' when
 * help was printed (the caller returns UF_EX_OK). */
struct option;
int cli_getopt(const char *cmd, int argc, char **argv, const char *shortopts, const struct option *longopts);
/* Checks the number of positional arguments left after the options. */
int cli_nargs(const char *cmd, int argc, char **argv, int min, int max);
/* Whether name follows the rule of its kind (common/rules.h); if not, says
 * so with the rule. */
int cli_name_ok(const char *cmd, enum uf_name_kind kind, const char *name);
/* Writes s quoted for a one-line message: control bytes (and, in text that
 * is not UTF-8, bytes past ASCII) as \xNN, a long s cut. */
void cli_show_name(FILE *f, const char *s);

/* build_run.c */
int cmd_build(int argc, char **argv);
int cmd_run(int argc, char **argv);
/* egress_local.c: `run --allow-egress PREFIX... [--egress-ca FILE]`: starts
 * the egress helper and replaces those options by --egress-fd in *argv
 * (0), or -1 after a message */
int cli_egress_local(int *argc, char ***argv);
/* egress_serve.c: the helper (unifaas-api CLI_EGRESS_SERVE ...) */
#define CLI_EGRESS_SERVE "__egress-serve"
int cli_egress_serve(int argc, char **argv);

/* new.c */
int cmd_new(int argc, char **argv);

/* state.c: the state directory and the daemon's config in it. */
struct cli_state {
	char dir[PATH_MAX];
	unsigned api_port;
	unsigned mqtt_port;
	unsigned max_units;
	char api_url[64];
	char mqtt_url[256];
	/* the broker's other listeners (unifaasd.conf; cli/broker.c) */
	char mqtt_bind[64];
	unsigned mqtt_tls_port;
	char mqtt_tls_cert[1024];
	char mqtt_tls_key[1024];
	unsigned ingress_port;              /* HTTP ingress (ingress_port=) */
	char ingress_url[96];               /* http://<ingress_bind>:<ingress_port> */
	unsigned long long redis_maxmemory; /* redis.conf's maxmemory (uf_config_maxmemory) */
	char cpu_cgroup[512];               /* unifaasd's CPU cgroups (common/cgroup.h): down removes them */
};
/* Where the state dir is: --state-dir, $UNIFAAS_STATE, $XDG_STATE_HOME/unifaas,
 * ~/.local/state/unifaas. Made absolute. Returns 0, or -1 with a message. */
int state_locate(const char *cmd, struct cli_state *st);
/* Reads the configuration as unifaasd does (common/config.h: unifaas.conf,
 * then unifaasd.conf over it) into st. 0, or -1 with err (errno ENOENT when
 * unifaas.conf is missing). */
int state_load(struct cli_state *st, char *err, size_t errlen);
/* Applies <dir>/unifaasd.conf over the api port, max units and MQTT URL in
 * st, as unifaasd will (for `up`, before it writes unifaas.conf). */
int state_user_overrides(struct cli_state *st, char *err, size_t errlen);
/* <dir>/<name> into buf. */
const char *state_path(const struct cli_state *st, const char *name, char *buf, size_t len);
/* Reads a small file (a token, a password, a pid) with trailing whitespace
 * dropped. 0, or -1 with errno. */
int state_read_small(const char *path, char *buf, size_t len);

/* Writes a file whole (a temporary, fsync, rename) with the given mode.
 * 0, or -1 after printing "unifaas: CMD: ..." */
int state_write_file(const char *cmd, const char *path, mode_t mode, const char *text);
/* The secret file <dir>/NAME: nbytes random bytes in hex, made 0600 if it
 * does not exist, else kept; its text into out.  0, or -1 after printing. */
int state_secret(const char *cmd, const struct cli_state *st, const char *name, size_t nbytes, char *out,
                 size_t outlen);

/* services.c */
/* The pid of the platform's server NAME ("redis", "mosquitto", "unifaasd")
 * if it runs, else 0. */
int services_pid(const struct cli_state *st, const char *name);
int cmd_up(int argc, char **argv);
int cmd_down(int argc, char **argv);
int cmd_status(int argc, char **argv);

/* broker.c: mosquitto's config, the platform's account, device accounts */
/* Writes mosquitto.conf, mqtt.pass (kept if it exists), and the password
 * and ACL files from the device registry, for `up`.  0, or -1 after
 * printing why. */
int broker_write_config(const struct cli_state *st, const char *user);
/* unifaasd's own listener on the broker, a unix socket in the state dir
 * (unifaas.conf's mqtt_socket): no longer than "redis.sock", whose path
 * length `up` checks. */
#define BROKER_SOCKET "mqtt.sock"
/* Checks the broker settings of unifaasd.conf (addresses, ports, TLS
 * files) before anything starts.  0, or -1 after printing why. */
int broker_check_config(const struct cli_state *st);
/* The status lines of the LAN and TLS listeners, if configured. */
void broker_print_urls(const struct cli_state *st);
int cmd_device(int argc, char **argv);
/* Gives each device names[i] (added if new, else its password and filters
 * replaced) a fresh password, into pass[i], and the one filter filters[i];
 * one change of the broker's files.  0, or -1 after printing why.  For
 * `sim` (sim.c), whose simulated kits are device accounts. */
#define DEVICE_PASS_LEN 64
int broker_devices_rekey(const char *cmd, const struct cli_state *st, char **names, char **filters, size_t n,
                         char (*pass)[DEVICE_PASS_LEN]);
/* sim.c: `unifaas sim KIND`, simulated devices (sim.h says more) */
int cmd_sim(int argc, char **argv);
/* An option's number from min to max into *out; 0, or -1 after "unifaas:
 * CMD: OPT 'V': expected a number ..." and the command's short usage. */
int sim_opt_uint(const char *cmd, const char *opt, const char *v, unsigned long long min, unsigned long long max,
                 unsigned long long *out);
/* sim_slack.c: `unifaas sim slack`, a local webhook answering like Slack
 * (argv[0] "slack") */
int cmd_sim_slack(int argc, char **argv);
/* ingress.c: the HTTP ingress's tokens, invoke-and-wait */
int cmd_token(int argc, char **argv);
int cmd_invoke(int argc, char **argv);
#define UF_EX_FAILED  5  /* invoke: the handler failed (502) */
#define UF_EX_RUNNING 75 /* invoke: no result within the timeout (202), as EX_TEMPFAIL */

/* commands.c */
int cmd_deploy(int argc, char **argv);
int cmd_undeploy(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_push(int argc, char **argv);
int cmd_ps(int argc, char **argv);
int cmd_queues(int argc, char **argv);
int cmd_logs(int argc, char **argv);
int cmd_kv(int argc, char **argv);
int cmd_resume(int argc, char **argv);

/* commands.c: what the command files share. */
struct api;
/* A table printed with columns aligned; cells are copied (NULL: "-"). */
struct table {
	size_t ncols, nrows, cap;
	char **cells;
};
void table_add(struct table *t, ...);
void table_print(struct table *t);
struct json_t;
/* a string member, NULL if absent or empty; a number member formatted into buf */
const char *jstr(struct json_t *o, const char *key);
const char *jnum(struct json_t *o, const char *key, char *buf, size_t len);
/* options of commands that take only --json: -1 to go on, else the exit code */
int json_opts(const char *cmd, int argc, char **argv, int *json);
/* GET path; 200 -> *root parsed, or printed as is with --json */
int get_json(struct api *a, const char *path, int json, struct json_t **root);
const char *fmt_uptime(long long ms, char *buf, size_t len);
/* a whole file, at most max bytes (NULL with errno EFBIG past them) */
char *read_all(FILE *f, size_t max, size_t *len);

/* secret.c */
int cmd_secret(int argc, char **argv);

/* inspect.c: looking inside workflows */
int cmd_events(int argc, char **argv);
int cmd_dlq(int argc, char **argv);
/* `queues purge WF QUEUE` (cli/inspect.c) with the options cmd_queues read:
 * exactly one of --all, --older-than DUR, --keep N (n counts them). */
struct queue_purge {
	int n, all;
	const char *older, *keep;
};
int queues_purge(int argc, char **argv, const struct queue_purge *pg);
int cmd_describe(int argc, char **argv);

/* client.c: the control API over HTTP (libcurl). */
struct api {
	const char *cmd; /* for messages: "unifaas: <cmd>: ..." */
	struct cli_state st;
	char token[256];
	void *curl;
};
struct api_reply {
	long status;      /* HTTP status, 0 if no answer */
	char *body;       /* NUL-terminated (also when binary: see len); NULL with a sink */
	size_t len;       /* bytes of body, or written to the sink */
	long long offset; /* X-Unifaas-Offset, -1 if absent */
	long retry_after; /* Retry-After in seconds, -1 if absent */
};
/* One request. A 2xx body is kept in the reply, or, with a sink, written
 * there as it arrives (logs -f). */
struct api_request {
	const char *method;       /* GET, POST, PUT, DELETE */
	const char *path;         /* /v1/... with the query, names escaped */
	const char *content_type; /* of body, or NULL */
	const char *body;
	size_t body_len;
	long timeout_s; /* 0: 60 s */
	FILE *sink;     /* if set, 2xx bodies go there instead of reply.body */
};
/* Locates the state dir, reads the config and the token, sets up curl.
 * Returns UF_EX_OK or an exit code after printing why. */
int api_open(struct api *a, const char *cmd);
void api_close(struct api *a);
/* Sends one request. Returns UF_EX_OK when an HTTP answer came (any
 * status; see reply.status), else an exit code after printing why
 * (UF_EX_NOT_RUNNING when nothing listens). */
int api_call(struct api *a, const struct api_request *req, struct api_reply *reply);
void api_reply_free(struct api_reply *r);
/* For a non-2xx reply: prints "unifaas: <cmd>: <what>: <daemon message>"
 * (with a hint where one exists) and returns the exit code of the status. */
int api_fail(struct api *a, const char *what, const struct api_reply *r);
/* Whether an error reply's code (docs/api.md) is `code`. */
int api_error_is(const struct api_reply *r, const char *code);
/* The error message of an error reply, or the body, or the status text. */
const char *api_error_message(const struct api_reply *r, char *buf, size_t len);
/* Writes s, escaped for a URL path segment or query value, into buf. 0 or -1. */
int api_escape(struct api *a, const char *s, char *buf, size_t len);
/* GET /v1/health (no token) on 127.0.0.1:port: the HTTP status, 0 if no answer. */
int api_health(unsigned port, long timeout_ms);

#endif

/*
 * manifest.h - a workflow manifest (ARCHITECTURE §6), parsed and checked.
 *
 * manifest.c owns the YAML schema (libcyaml) and every check on it: names,
 * sizes, limits, queue wiring, file references.  A manifest that fails any
 * check is rejected whole, with one message per problem that names the
 * file, the line and the key (`eval.yaml:12: functions.fdc: unknown key
 * 'listn' (did you mean 'listen'?)`), so nothing is ever half-deployed.
 * The daemon only ever sees a struct uf_manifest that passed every check.
 *
 * Invariants of a parsed manifest: every name follows its rule in
 * common/rules.h (workflow and function names 1..UF_NAME_MAX, queues
 * 1..UF_QUEUE_MAX);
 * every function listens to exactly one queue, and no two to the same one;
 * no function pushes to its own queue; every ingress queue has a listener;
 * min_units <= max_units; every value is in its documented range; every
 * default is filled in; every image path is absolute (resolved against the
 * manifest's directory or the base_dir given to the parser).
 */
#ifndef UF_MANIFEST_H
#define UF_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "event_limits.h"
#include "rules.h"

/* What a manifest may be, checked before the YAML is parsed, so hostile
 * input costs little (libyaml's time grows with the square of the nesting
 * depth): its size in bytes (UF_MANIFEST_BYTES_MAX, rules.h), how deep its lists and mappings nest (a real
 * manifest needs 6), and how many mapping keys it has in all (a function
 * with every key and 255 env variables has under 300). */
#define UF_MANIFEST_DEPTH_MAX 32
#define UF_MANIFEST_KEYS_MAX  20000

struct uf_scale {
	uint32_t min_units;       /* default 0: scale to zero */
	uint32_t max_units;       /* default 4 */
	uint32_t events_per_unit; /* backlog one unit is expected to absorb; default 64 */
	uint32_t grace_ms;        /* min time between two starts of this step; default 20 */
	uint32_t idle_ms;         /* a unit exits after this long with an empty queue; default 2000 */
	uint32_t overflow;        /* backlog at max_units that stops the workflow; default 100000 */
	uint32_t lifetime_s;      /* a unit is drained and replaced after this long; default 0: the node's
	                             unit_lifetime_s, which also bounds it (checked at deploy) */
};

/* functions.F.limits (common/event_limits.h, in enum uf_limit order): 0 =
 * not set, the node's applies; each at most the node's (checked at deploy). */
struct uf_fn_limits {
	uint64_t value_bytes;
	uint64_t event_bytes;
	uint64_t writes_per_event;
	uint64_t commit_bytes;
};

struct uf_function {
	char *name;   /* the step: key under functions: */
	char *image;  /* absolute path of the .uf image */
	char *listen; /* queue it reads */
	char **push;  /* queues it may push to */
	size_t npush;
	char **env_keys; /* env: NAME: value, in file order */
	char **env_values;
	size_t nenv;
	char **egress; /* allowed URL prefixes (common/egress.h: egress_server.c) */
	size_t negress;
	char **secrets; /* names of secrets it may read (secrets.c delivers them) */
	size_t nsecrets;
	unsigned *secret_lines; /* the line of each, for messages (NULL if not known) */
	char **publish;         /* MQTT topic filters uf_mqtt_publish may use (uf-hvt --publish) */
	size_t npublish;
	uint64_t memory; /* guest memory in bytes; default 8 MiB; 4 MiB..1 GiB in 2 MiB steps (the tender's --mem) */
	uint32_t timeout_ms;     /* CPU time per event; default 1000; 0 = unlimited */
	uint32_t batch;          /* events per pop; default 64; 1..UF_BATCH_MAX (256) */
	uint32_t retries;        /* deliveries after the first before dead-lettering; default 3; 0..100 */
	uint32_t retry_delay_ms; /* a failure's re-queue waits this * 2^(attempt-1), at most an hour
	                          * (common/delivery.h); default 0 (at once); 0..3600000 */
	int net;                 /* net: true -> gets a TAP device */
	struct uf_scale scale;
	struct uf_fn_limits limits;
	unsigned line; /* line of the function's key, for later messages */
};

struct uf_ingress_mqtt {
	char *topic; /* MQTT topic filter; no two of a workflow overlap */
	char *queue;
	uint32_t qos; /* 0 or 1 (default): the QoS subscribed with */
};
struct uf_ingress_http {
	char *path; /* begins with '/' */
	char *queue;
};

struct uf_manifest {
	char *name;                  /* workflow name */
	uint32_t max_units;          /* workflow-wide unit limit; default 16 */
	uint32_t share;              /* weight in the node's fair shares (common/admission.h); default 1 */
	uint64_t storage_quota;      /* bytes its keys may hold (daemon/quota.c); 0: the node's storage_quota */
	uint64_t unread_max_entries; /* a queue no step listens to keeps this many (retention.c); 0: the node's */
	uint64_t unread_max_age_ms;  /* and entries this young; 0: the node's unread_max_age_ms */
	struct uf_function *functions;
	size_t nfunctions;
	struct uf_ingress_mqtt *mqtt;
	size_t nmqtt;
	struct uf_ingress_http *http;
	size_t nhttp;
};

/*
 * Parse and check `len` bytes of YAML.  `file` is the name used in messages
 * (as the user typed it); `base_dir` resolves relative image paths (NULL:
 * the directory of `file`, itself made absolute against the working
 * directory).  check_images != 0 also requires every image to exist, be a
 * regular readable file and start with the ELF magic.  docs/manifest.md
 * lists every key, default, range and check.
 * Returns the manifest, or NULL with every problem written into err (one
 * per line, `file:line: key: what (hint)`, lines joined by '\n' with none
 * after the last; whole lines only, then "file: N more problems not shown"
 * if errlen or the limit of 50 cuts the list).  err may be NULL with
 * errlen 0.  The result is freed with uf_manifest_free.
 */
struct uf_manifest *uf_manifest_parse(const char *yaml, size_t len, const char *file, const char *base_dir,
                                      int check_images, char *err, size_t errlen);
/* Same, and each function's limits at most the node's (`node`; NULL: only
 * their ranges): what deploy checks.  A stored manifest is restored
 * without it, its limits capped to a node whose own were lowered since. */
struct uf_manifest *uf_manifest_parse_node(const char *yaml, size_t len, const char *file, const char *base_dir,
                                           int check_images, const struct uf_limits *node, char *err, size_t errlen);
/* The limits in force for f on a node with `node` (uf_limits_apply). */
void uf_function_limits(const struct uf_function *f, const struct uf_limits *node, struct uf_limits *out,
                        uint32_t *capped);
/* The limits in force for events on `queue` (its listener's, else the
 * node's): what the ingress edges check an event's size against. */
void uf_queue_limits(const struct uf_manifest *m, const char *queue, const struct uf_limits *node,
                     struct uf_limits *out);
/* Same, reading the file. */
struct uf_manifest *uf_manifest_load(const char *path, int check_images, char *err, size_t errlen);
void uf_manifest_free(struct uf_manifest *m);

/* The function listening to `queue`, or NULL. */
const struct uf_function *uf_manifest_listener(const struct uf_manifest *m, const char *queue);

#endif

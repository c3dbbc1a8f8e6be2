/*
 * config.h - the platform's configuration, read one way by unifaasd and by
 * the CLI (ARCHITECTURE §8: one reader, one precedence).
 *
 * Precedence, lowest first: the defaults below; <state>/unifaas.conf,
 * written by `unifaas up` at every start (required); <state>/unifaasd.conf,
 * the user's own settings, which `up` never rewrites (optional).  A key set
 * in a later file overrides it in the earlier ones, so an api_port in
 * unifaasd.conf is the port unifaasd listens on and the port the CLI calls.
 *
 * Both files are `key=value` lines; `#` starts a comment.  An unknown key
 * or a bad value is an error naming the file and line: nothing may run on a
 * configuration it half understood.  Secrets are not read here (only the
 * name of the Redis password file); unifaasd reads them (daemon/config.c).
 */
#ifndef UF_CONFIG_H
#define UF_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "event_limits.h"

/* Connections one HTTP server of unifaasd (control API, ingress) holds in
 * all; a per-address limit is at most this. */
#define UF_SERVER_CONN_MAX 256u
/* ingress_rate's default, events a second (daemon/pushwin.h; bench/RESULTS.md) */
#define UF_INGRESS_RATE_DEFAULT 5000u

struct uf_config {
	char state_dir[1024];
	char redis_socket[1024];
	char redis_password_file[1024];
	char hvt[1024];
	char mqtt_url[256];            /* the broker's loopback listener for devices (healthz checks it) */
	char mqtt_socket[1024];        /* unifaasd's own listener, a unix socket: used instead of mqtt_url */
	char mqtt_username[64];        /* unifaasd's broker account (cli/broker.c) */
	char mqtt_password_file[1024]; /* its password, in a file of its own (0600) */
	char mqtt_bind[64];            /* another address the broker listens on (LAN), "" none */
	uint16_t mqtt_tls_port;        /* the broker's TLS listener, 0 none */
	char mqtt_tls_cert[1024];      /* its certificate chain (PEM) */
	char mqtt_tls_key[1024];       /* its private key (PEM) */
	uint16_t api_port;
	uint16_t ingress_port;              /* HTTP ingress (docs/api.md): devices and webhooks */
	char ingress_bind[64];              /* the IPv4 address it listens on */
	uint64_t ingress_body_max;          /* bytes of one ingress request's body */
	uint32_t ingress_conns_per_address; /* connections one client address holds (NAT) */
	uint64_t ingress_rate;              /* events a second the node writes for clients, shared (pushwin.h) */
	uint32_t max_units;                 /* node-wide */
	uint64_t unit_memory_budget;        /* bytes all units' memory may take; 0: half of MemTotal (slots.c) */
	uint32_t unit_lifetime_s;           /* a unit is drained and replaced after this long */
	uint32_t unit_drain_ms;             /* a drained unit not gone after this long is killed */
	uint32_t tick_ms;                   /* reconcile period while work exists */
	uint32_t idle_tick_ms;              /* reconcile period when nothing runs */
	uint64_t log_cap;                   /* bytes per step log before rotation */
	char tap_bridge[16];                /* the TAP pool (net: true functions) */
	char tap_cidr[32];                  /* host address/prefix on the bridge */
	char tap_prefix[12];                /* device names: PREFIX0, PREFIX1, ... */
	uint32_t tap_pool_size;             /* TAP devices in the pool */
	uint32_t prestart;                  /* standby tenders kept ready (0: none) */
	char cpu_cgroup[512];               /* "auto", "off" or a cgroup directory (common/cgroup.h) */
	uint32_t cpu_platform_weight;       /* the platform's CPU weight; a workflow's is UF_CG_WEIGHT */
	uint32_t retain_handled;            /* handled entries a queue keeps (retention.c) */
	uint32_t trim_interval_ms;          /* how often queues are trimmed */
	uint64_t unread_max_entries;        /* entries a queue no step listens to keeps (retention.c) */
	uint64_t unread_max_age_ms;         /* and how old they may get; 0: no age bound */
	/* Redis memory (daemon/quota.c; docs/cli.md "unifaasd.conf") */
	uint64_t redis_maxmemory; /* redis-server's maxmemory in bytes; 0: a quarter of the RAM (uf_config_maxmemory) */
	uint64_t storage_quota;   /* a workflow's stored bytes when its manifest sets none */
	uint32_t quota_interval_ms; /* how often each workflow's stored bytes are measured */
	uint32_t quota_give_up_s;   /* over its quota this long, a workflow's refused events are dead-lettered */
	/* uf_http (daemon/egress_server.c) */
	char egress_ca_file[1024];          /* PEM CAs trusted besides the system's bundle */
	uint32_t egress_connect_timeout_ms; /* connecting, TLS handshake included */
	uint32_t egress_timeout_ms;         /* a whole call; a function's own limit is capped by it */
	uint64_t egress_max_response;       /* largest response body read: past it, -EFBIG */
	/* limits.<name>=N: what one event may write, and the size of one
	 * MULTI/EXEC of a commit (common/event_limits.h); the ceiling of a manifest's */
	struct uf_limits limits;
	/* filled by unifaasd (daemon/config.c), never by uf_config_load */
	char redis_password[256];
	char mqtt_password[256];
	char token[256];
	char token_file[1100];
};

/* The defaults (state_dir and the paths in it set from state_dir). */
void uf_config_defaults(struct uf_config *c, const char *state_dir);
/* Applies the key=value lines of `path` over c.  A missing file is an
 * error if `required`, else nothing.  0, or -1 with err ("path:line: ..."). */
int uf_config_read(struct uf_config *c, const char *path, int required, char *err, size_t errlen);
/* Defaults, then <state_dir>/unifaas.conf, then <state_dir>/unifaasd.conf;
 * then the limits are checked together (uf_limits_check). */
int uf_config_load(struct uf_config *c, const char *state_dir, char *err, size_t errlen);
/* redis-server's maxmemory: redis_maxmemory (at least UF_MAXMEMORY_FLOOR),
 * or when 0 a quarter of the machine's RAM, at least UF_MAXMEMORY_MIN. */
#define UF_MAXMEMORY_MIN   (64ull << 20)
#define UF_MAXMEMORY_FLOOR (4ull << 20)
uint64_t uf_config_maxmemory(const struct uf_config *c);
/* The storage quota of a workflow whose manifest says `manifest_quota`
 * (0: none, the node's storage_quota), never more than maxmemory. */
uint64_t uf_config_storage_quota(const struct uf_config *c, uint64_t manifest_quota);
/* The port of c->mqtt_url (mqtt://host:port), or 0. */
unsigned uf_config_mqtt_port(const struct uf_config *c);

#endif

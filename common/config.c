/*
 * config.c - the one reader of unifaas.conf and unifaasd.conf (config.h
 * says the precedence), used by unifaasd and the CLI.  Plain stdio; builds
 * with glibc and musl like the rest of common/.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "config.h"
#include "rules.h"
#include "uf_abi.h"

void uf_config_defaults(struct uf_config *c, const char *state_dir)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->state_dir, sizeof(c->state_dir), "%s", state_dir);
	snprintf(c->redis_socket, sizeof(c->redis_socket), "%s/redis.sock", state_dir);
	snprintf(c->mqtt_url, sizeof(c->mqtt_url), "mqtt://127.0.0.1:1883");
	snprintf(c->mqtt_username, sizeof(c->mqtt_username), UF_MQTT_PLATFORM);
	snprintf(c->mqtt_password_file, sizeof(c->mqtt_password_file), "%s/mqtt.pass", state_dir);
	snprintf(c->token_file, sizeof(c->token_file), "%s/api.token", state_dir);
	snprintf(c->hvt, sizeof(c->hvt), "uf-hvt");
	c->api_port = 7380;
	c->ingress_port = 7381;
	snprintf(c->ingress_bind, sizeof(c->ingress_bind), "127.0.0.1");
	c->ingress_body_max = 1 << 20;
	c->ingress_conns_per_address = 128;
	c->ingress_rate = UF_INGRESS_RATE_DEFAULT;
	c->max_units = 32;
	c->unit_lifetime_s = 3600;
	c->unit_drain_ms = 5000;
	c->tick_ms = 100;
	c->idle_tick_ms = 1000;
	c->log_cap = 1 << 20;
	snprintf(c->tap_bridge, sizeof(c->tap_bridge), "uf-br0");
	snprintf(c->tap_cidr, sizeof(c->tap_cidr), "10.77.0.1/24");
	snprintf(c->tap_prefix, sizeof(c->tap_prefix), "uf-tap");
	c->tap_pool_size = 16;
	c->prestart = 2;
	snprintf(c->cpu_cgroup, sizeof(c->cpu_cgroup), "auto");
	c->cpu_platform_weight = UF_CG_PLATFORM_DEFAULT;
	c->retain_handled = 10000;
	c->trim_interval_ms = 30000;
	c->unread_max_entries = 100000;
	c->unread_max_age_ms = 0;
	c->redis_maxmemory = 0;
	c->storage_quota = 256ull << 20;
	c->quota_interval_ms = 1000;
	c->quota_give_up_s = 300;
	c->egress_connect_timeout_ms = 5000;
	c->egress_timeout_ms = 10000;
	c->egress_max_response = 8u << 20;
	uf_limits_defaults(&c->limits);
}

static int parse_num(const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (v[0] < '0' || v[0] > '9' || errno || *end || n < min || n > max)
		return -1;
	*out = n;
	return 0;
}

static int set_str(char *dst, size_t cap, const char *v, int nonempty)
{
	return (!nonempty || v[0]) && snprintf(dst, cap, "%s", v) < (int)cap ? 0 : -1;
}

/* The numeric keys: where each goes and its range. */
static const struct num_key {
	const char *key;
	size_t off, size;
	uint64_t min, max;
} NUM_KEYS[] = {
#define NUM(k, lo, hi)                                                                                                 \
	{                                                                                                              \
#k, offsetof(struct uf_config, k), sizeof(((struct uf_config *)0)->k), lo, hi                          \
	}
    NUM(api_port, 1, 65535),
    NUM(max_units, 1, 4096),
    NUM(unit_memory_budget, 0, UINT64_C(1) << 50),
    NUM(unit_lifetime_s, 1, 30 * 86400),
    NUM(unit_drain_ms, 100, 3600000),
    NUM(mqtt_tls_port, 0, 65535),
    NUM(tick_ms, 10, 60000),
    NUM(idle_tick_ms, 10, 60000),
    NUM(retain_handled, 0, 100000000),
    NUM(trim_interval_ms, 100, 86400000),
    NUM(prestart, 0, 64),
    NUM(cpu_platform_weight, 1, UF_CG_WEIGHT_MAX),
    NUM(unread_max_entries, 1, UINT64_C(1) << 40),
    NUM(unread_max_age_ms, 0, UINT64_C(1) << 40),
    NUM(redis_maxmemory, 0, UINT64_C(1) << 50),
    NUM(storage_quota, 1 << 20, UINT64_C(1) << 50),
    NUM(quota_interval_ms, 100, 3600000),
    NUM(quota_give_up_s, 1, 86400),
    NUM(tap_pool_size, 1, 1000),
    NUM(log_cap, 4096, UINT64_C(1) << 36),
    NUM(egress_connect_timeout_ms, 1, UF_HTTP_TIMEOUT_MAX),
    NUM(egress_timeout_ms, 1, UF_HTTP_TIMEOUT_MAX),
    NUM(egress_max_response, 0, UINT64_C(1) << 32),
    NUM(ingress_port, 1, 65535),
    NUM(ingress_body_max, 0, UINT64_C(1) << 26),
    NUM(ingress_conns_per_address, 1, UF_SERVER_CONN_MAX),
    NUM(ingress_rate, 0, UINT64_C(1) << 32),
#undef NUM
};

/* 0, -1 for a bad value, -2 for an unknown key */
static int set_key(struct uf_config *c, const char *k, const char *v)
{
	if (!strcmp(k, "redis_socket"))
		return set_str(c->redis_socket, sizeof(c->redis_socket), v, 0);
	if (!strcmp(k, "redis_password_file"))
		return set_str(c->redis_password_file, sizeof(c->redis_password_file), v, 0);
	if (!strcmp(k, "hvt"))
		return set_str(c->hvt, sizeof(c->hvt), v, 0);
	if (!strcmp(k, "mqtt_url"))
		return set_str(c->mqtt_url, sizeof(c->mqtt_url), v, 0);
	if (!strcmp(k, "mqtt_socket"))
		return set_str(c->mqtt_socket, sizeof(c->mqtt_socket), v, 0);
	if (!strcmp(k, "mqtt_username"))
		return set_str(c->mqtt_username, sizeof(c->mqtt_username), v, 1);
	if (!strcmp(k, "mqtt_password_file"))
		return set_str(c->mqtt_password_file, sizeof(c->mqtt_password_file), v, 1);
	if (!strcmp(k, "mqtt_bind"))
		return set_str(c->mqtt_bind, sizeof(c->mqtt_bind), v, 0);
	if (!strcmp(k, "mqtt_tls_cert"))
		return set_str(c->mqtt_tls_cert, sizeof(c->mqtt_tls_cert), v, 0);
	if (!strcmp(k, "mqtt_tls_key"))
		return set_str(c->mqtt_tls_key, sizeof(c->mqtt_tls_key), v, 0);
	if (!strcmp(k, "egress_ca_file"))
		return set_str(c->egress_ca_file, sizeof(c->egress_ca_file), v, 0);
	if (!strcmp(k, "ingress_bind"))
		return set_str(c->ingress_bind, sizeof(c->ingress_bind), v, 1);
	if (!strcmp(k, "tap_bridge"))
		return set_str(c->tap_bridge, sizeof(c->tap_bridge), v, 1);
	if (!strcmp(k, "tap_cidr"))
		return set_str(c->tap_cidr, sizeof(c->tap_cidr), v, 1);
	if (!strcmp(k, "cpu_cgroup"))
		return strcmp(v, "auto") && strcmp(v, "off") && v[0] != '/'
		           ? -1
		           : set_str(c->cpu_cgroup, sizeof(c->cpu_cgroup), v, 1);
	if (!strcmp(k, "tap_prefix"))
		return set_str(c->tap_prefix, sizeof(c->tap_prefix), v, 1);
	if (!strncmp(k, "limits.", 7)) {
		int i = uf_limit_find(k + 7, strlen(k + 7));
		if (i < 0)
			return -2;
		return parse_num(v, uf_limit_info[i].min, uf_limit_info[i].max, &c->limits.v[i]);
	}
	for (size_t i = 0; i < sizeof(NUM_KEYS) / sizeof(*NUM_KEYS); i++) {
		const struct num_key *nk = &NUM_KEYS[i];
		uint64_t n;
		if (strcmp(k, nk->key))
			continue;
		if (parse_num(v, nk->min, nk->max, &n) < 0)
			return -1;
		char *dst = (char *)c + nk->off;
		if (nk->size == 2)
			*(uint16_t *)(void *)dst = (uint16_t)n;
		else if (nk->size == 4)
			*(uint32_t *)(void *)dst = (uint32_t)n;
		else
			*(uint64_t *)(void *)dst = n;
		return 0;
	}
	return -2;
}

int uf_config_read(struct uf_config *c, const char *path, int required, char *err, size_t errlen)
{
	char line[4400];
	FILE *f = fopen(path, "re");
	if (!f) {
		if (!required && (errno == ENOENT || errno == ENOTDIR)) /* absent: nothing to apply */
			return 0;
		int e = errno;
		snprintf(err, errlen, "%s: %s%s", path, strerror(e),
		         required ? " (run 'unifaas up', which writes it)" : "");
		errno = e;
		return -1;
	}
	int lineno = 0, rc = 0;
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		lineno++;
		line[strcspn(line, "\r\n")] = 0;
		char *k = line + strspn(line, " \t");
		if (!*k || *k == '#')
			continue;
		char *eq = strchr(k, '=');
		if (!eq) {
			snprintf(err, errlen, "%s:%d: expected key=value", path, lineno);
			rc = -1;
			break;
		}
		*eq = 0;
		int r = set_key(c, k, eq + 1);
		if (r == -2)
			snprintf(err, errlen, "%s:%d: unknown key '%s'", path, lineno, k);
		else if (r < 0 && !strncmp(k, "limits.", 7)) {
			const struct uf_limit_info *li = &uf_limit_info[uf_limit_find(k + 7, strlen(k + 7))];
			snprintf(err, errlen, "%s:%d: %s: bad value '%s' (expected %llu..%llu, the %s)", path, lineno,
			         k, eq + 1, (unsigned long long)li->min, (unsigned long long)li->max, li->what);
		} else if (r < 0)
			snprintf(err, errlen, "%s:%d: %s: bad value '%s'", path, lineno, k, eq + 1);
		rc = r < 0 ? -1 : 0;
	}
	fclose(f);
	if (rc < 0)
		errno = EINVAL;
	return rc;
}

int uf_config_load(struct uf_config *c, const char *state_dir, char *err, size_t errlen)
{
	char path[1200];
	uf_config_defaults(c, state_dir);
	snprintf(path, sizeof(path), "%s/unifaas.conf", state_dir);
	if (uf_config_read(c, path, 1, err, errlen) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/unifaasd.conf", state_dir);
	if (uf_config_read(c, path, 0, err, errlen) < 0)
		return -1;
	char why[256];
	if (uf_limits_check(&c->limits, why, sizeof(why)) == 0)
		return 0;
	snprintf(err, errlen, "%s: %s (set both in unifaasd.conf)", path, why);
	errno = EINVAL;
	return -1;
}

uint64_t uf_config_maxmemory(const struct uf_config *c)
{
	if (c->redis_maxmemory) /* as set, at least what Redis needs to run */
		return c->redis_maxmemory < UF_MAXMEMORY_FLOOR ? UF_MAXMEMORY_FLOOR : c->redis_maxmemory;
	long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
	uint64_t ram = pages > 0 && psize > 0 ? (uint64_t)pages * (uint64_t)psize : 0;
	return ram / 4 > UF_MAXMEMORY_MIN ? ram / 4 : UF_MAXMEMORY_MIN;
}

uint64_t uf_config_storage_quota(const struct uf_config *c, uint64_t manifest_quota)
{
	uint64_t q = manifest_quota ? manifest_quota : c->storage_quota, max = uf_config_maxmemory(c);
	return q < max ? q : max;
}

unsigned uf_config_mqtt_port(const struct uf_config *c)
{
	const char *colon = strrchr(c->mqtt_url, ':');
	uint64_t port;
	return colon && parse_num(colon + 1, 1, 65535, &port) == 0 ? (unsigned)port : 0;
}

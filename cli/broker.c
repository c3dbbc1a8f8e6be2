/*
 * broker.c - the MQTT broker's configuration and its accounts: the
 * mosquitto.conf `up` writes, the platform's own account, and the device
 * accounts of `unifaas device add|ls|rm`.
 *
 * The registry of devices is a file of the state dir, mqtt.devices (0600):
 * one line per device, "NAME<TAB>HASH<TAB>FILTER[<TAB>FILTER]...", HASH the
 * password hashed as mosquitto 2.0 checks it (PBKDF2-SHA512, "$7$").  The
 * password itself is printed once by `device add` and stored nowhere.  The
 * broker reads two files rendered from the registry at each change and each
 * `up`: mosquitto.passwd (the platform's account and every device's) and
 * mosquitto.acl (the platform may read and write every topic; a device may
 * only publish, under its filters).
 *
 * Listeners: unifaasd's own is the unix socket <state>/mqtt.sock (in the
 * state dir, 0700: only whoever controls the platform reaches it); on every
 * other (loopback TCP, LAN, TLS), the ones devices use, a client's id is
 * its username (use_username_as_clientid), and no device name starts with
 * UF_MQTT_PLATFORM, the prefix of every client id of unifaasd's sessions:
 * so no device connection can take over one of the platform's sessions.
 * Accounts are global (per_listener_settings false) on purpose: mosquitto
 * 2.0.11 cannot tie a persisted session to a unix socket listener again
 * after a restart under per_listener_settings true ("Failed to associate
 * persisted user ... with ACLs"), and then denies, so drops, every message
 * queued for unifaasd's sessions until they reconnect.
 *
 * After a change a running mosquitto gets SIGHUP: it reads both files again, and a client whose account is gone is
 * disconnected.  Why files and not the daemon: the broker must admit the
 * devices whether unifaasd runs or not (a restarted broker reads them as it
 * starts), and the state dir is already what grants control of the platform.
 *
 * Invariants: every change holds an exclusive flock on mqtt.devices.lock
 * from reading the registry to rendering the broker's files, so two
 * commands never lose each other's device; every file is written whole
 * (temporary + rename) with mode 0600; a filter in these files is valid by
 * common/topic.h and free of what would break mosquitto's line-based ACL
 * file (control characters, blanks at either end).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <stdarg.h>
#include <unistd.h>

#include "cli.h"
#include "secret.h"
#include "topic.h"

#define PLATFORM_USER   UF_MQTT_PLATFORM /* config.c's default mqtt_username; up writes it too */
#define PW_ITERATIONS   101              /* mosquitto_passwd's own count for $7$ */
#define PW_SALT_BYTES   12
#define DEVICE_FILTERS  64           /* filters a device may have */
#define QUEUED_MESSAGES 100000       /* per persistent session (docs/architecture.md) */
#define INFLIGHT        1000         /* QoS 1 messages in flight to one client */
#define PACKET_MAX      (4u << 20)   /* a device's packet: unifaasd takes payloads of 1 MiB at most */
#define QUEUED_BYTES    (256u << 20) /* per persistent session, beside QUEUED_MESSAGES */

struct device {
	char *name, *hash;
	char **filters;
	size_t nfilters;
};

struct registry {
	struct device *dev;
	size_t n;
	int lock_fd;
};

/* mosquitto's "$7$ITER$SALT$HASH", salt and hash in standard base64. */
static int pw_hash(const char *pass, char *out, size_t outlen)
{
	unsigned char salt[PW_SALT_BYTES], hash[64];
	unsigned char salt64[4 * ((sizeof(salt) + 2) / 3) + 1], hash64[4 * ((sizeof(hash) + 2) / 3) + 1];
	size_t got = 0;
	while (got < sizeof(salt)) {
		ssize_t n = getrandom(salt + got, sizeof(salt) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	if (!PKCS5_PBKDF2_HMAC(pass, (int)strlen(pass), salt, sizeof(salt), PW_ITERATIONS, EVP_sha512(), sizeof(hash),
	                       hash)) {
		errno = EIO;
		return -1;
	}
	EVP_EncodeBlock(salt64, salt, sizeof(salt));
	EVP_EncodeBlock(hash64, hash, sizeof(hash));
	int n = snprintf(out, outlen, "$7$%d$%s$%s", PW_ITERATIONS, salt64, hash64);
	return n > 0 && (size_t)n < outlen ? 0 : -1;
}

/* Whether a device name is the platform's: its account, or the prefix of
 * its sessions' client ids (a device's client id is its name). */
static int device_name_reserved(const char *name)
{
	return !strncmp(name, UF_MQTT_PLATFORM, strlen(UF_MQTT_PLATFORM));
}

/* Whether a filter may be a device's: valid (topic.h) and safe in the ACL
 * file. NULL, or the rule it breaks. */
static const char *device_filter_bad(const char *f)
{
	const char *why = NULL;
	size_t n = strlen(f);
	if (!uf_topic_filter_ok(f, n, &why))
		return why;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)f[i] < 0x20 || f[i] == 0x7f)
			return "must not contain control characters (tab, newline, ...) in a device's ACL";
	if (f[0] == ' ' || f[n - 1] == ' ')
		return "must not start or end with a space in a device's ACL";
	return NULL;
}

static void registry_free(struct registry *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->dev[i].name);
		free(r->dev[i].hash);
		for (size_t k = 0; k < r->dev[i].nfilters; k++)
			free(r->dev[i].filters[k]);
		free(r->dev[i].filters);
	}
	free(r->dev);
	if (r->lock_fd >= 0)
		close(r->lock_fd);
	memset(r, 0, sizeof(*r));
	r->lock_fd = -1;
}

/* Parses one registry line (changed in place) into a new device. */
static int registry_add_line(struct registry *r, char *line)
{
	char *fields[2 + DEVICE_FILTERS];
	size_t nf = 0;
	for (char *tok; nf < sizeof(fields) / sizeof(*fields) && (tok = strsep(&line, "\t"));)
		fields[nf++] = tok;
	if (nf < 3 || line)
		return -1;
	struct device *d = realloc(r->dev, (r->n + 1) * sizeof(*d));
	if (!d)
		return -1;
	r->dev = d;
	d = &r->dev[r->n++];
	memset(d, 0, sizeof(*d));
	d->name = strdup(fields[0]);
	d->hash = strdup(fields[1]);
	d->filters = calloc(nf - 2, sizeof(char *));
	if (!d->name || !d->hash || !d->filters)
		return -1;
	for (size_t k = 2; k < nf; k++)
		if (!(d->filters[d->nfilters++] = strdup(fields[k])))
			return -1;
	return 0;
}

/* Locks the registry and reads it (absent: no device). */
static int registry_open(const char *cmd, const struct cli_state *st, struct registry *r)
{
	char path[PATH_MAX + 32];
	memset(r, 0, sizeof(*r));
	r->lock_fd = open(state_path(st, "mqtt.devices.lock", path, sizeof(path)), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (r->lock_fd < 0 || flock(r->lock_fd, LOCK_EX) < 0) {
		fprintf(stderr, "unifaas: %s: locking %s: %s%s\n", cmd, path, strerror(errno),
		        errno == ENOENT ? " (run 'unifaas up' once to create the state dir)" : "");
		return -1;
	}
	FILE *f = fopen(state_path(st, "mqtt.devices", path, sizeof(path)), "re");
	if (!f)
		return errno == ENOENT ? 0 : (fprintf(stderr, "unifaas: %s: %s: %s\n", cmd, path, strerror(errno)), -1);
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int lineno = 0, rc = 0;
	while (rc == 0 && (len = getline(&line, &cap, f)) >= 0) {
		lineno++;
		if (len && line[len - 1] == '\n')
			line[len - 1] = '\0';
		if (line[0] && registry_add_line(r, line) < 0) {
			fprintf(stderr, "unifaas: %s: %s:%d: not a device line (NAME, hash, filters, tab-separated)\n",
			        cmd, path, lineno);
			rc = -1;
		}
	}
	free(line);
	fclose(f);
	return rc;
}

/* Appends printf output to a growing string; *s NULL after a failure. */
static void append(char **s, size_t *len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void append(char **s, size_t *len, const char *fmt, ...)
{
	va_list ap;
	if (!*s)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	char *t = n >= 0 ? realloc(*s, *len + (size_t)n + 1) : NULL;
	if (!t) {
		free(*s);
		*s = NULL;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(t + *len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	*s = t;
	*len += (size_t)n;
}

/* The registry, the password file and the ACL file, from r. */
static int registry_render(const char *cmd, const struct cli_state *st, const struct registry *r)
{
	char path[PATH_MAX + 32], pass[80], hash[256];
	size_t rl = 0, pl = 0, al = 0;
	char *reg = strdup(""), *pw = strdup(""), *acl = strdup("");
	int rc = -1;

	if (state_secret(cmd, st, "mqtt.pass", 16, pass, sizeof(pass)) < 0)
		goto out;
	if (pw_hash(pass, hash, sizeof(hash)) < 0) {
		fprintf(stderr, "unifaas: %s: cannot hash the broker password: %s\n", cmd, strerror(errno));
		goto out;
	}
	append(&pw, &pl, "%s:%s\n", PLATFORM_USER, hash);
	append(&acl, &al,
	       "# written by unifaas from %s/mqtt.devices: edit with 'unifaas device'\n"
	       "user %s\ntopic readwrite #\n",
	       st->dir, PLATFORM_USER);
	for (size_t i = 0; i < r->n; i++) {
		const struct device *d = &r->dev[i];
		int reserved = device_name_reserved(d->name); /* added before the rule: kept, never admitted */
		if (reserved)
			fprintf(stderr,
			        "unifaas: %s: device '%s': names starting with '%s' are the platform's: not "
			        "admitted by the broker ('unifaas device rm %s', then add it under another name)\n",
			        cmd, d->name, UF_MQTT_PLATFORM, d->name);
		append(&reg, &rl, "%s\t%s", d->name, d->hash);
		if (!reserved) {
			append(&pw, &pl, "%s:%s\n", d->name, d->hash);
			append(&acl, &al, "\nuser %s\n", d->name);
		}
		for (size_t k = 0; k < d->nfilters; k++) {
			append(&reg, &rl, "\t%s", d->filters[k]);
			if (!reserved)
				append(&acl, &al, "topic write %s\n", d->filters[k]);
		}
		append(&reg, &rl, "\n");
	}
	if (!reg || !pw || !acl) {
		fprintf(stderr, "unifaas: %s: out of memory\n", cmd);
		goto out;
	}
	if (state_write_file(cmd, state_path(st, "mqtt.devices", path, sizeof(path)), 0600, reg) < 0 ||
	    state_write_file(cmd, state_path(st, "mosquitto.acl", path, sizeof(path)), 0600, acl) < 0 ||
	    state_write_file(cmd, state_path(st, "mosquitto.passwd", path, sizeof(path)), 0600, pw) < 0)
		goto out;
	rc = 0;
out:
	memset(pass, 0, sizeof(pass));
	free(reg);
	free(pw);
	free(acl);
	return rc;
}

/* A running broker reads its password and ACL files again. */
static void broker_reload(const char *cmd, const struct cli_state *st)
{
	int pid = services_pid(st, "mosquitto");
	if (!pid)
		fprintf(stderr, "unifaas: %s: mosquitto does not run: the change applies when 'unifaas up' starts it\n",
		        cmd);
	else if (kill(pid, SIGHUP) < 0)
		fprintf(stderr, "unifaas: %s: cannot signal mosquitto (pid %d) to reload: %s\n", cmd, pid,
		        strerror(errno));
}

/* An address mosquitto can listen on: an IPv4 or IPv6 literal. */
static int addr_ok(const char *a)
{
	unsigned char buf[16];
	return inet_pton(AF_INET, a, buf) == 1 || inet_pton(AF_INET6, a, buf) == 1;
}

int broker_check_config(const struct cli_state *st)
{
	const char *conf = "unifaasd.conf";
	if (st->mqtt_bind[0] && !addr_ok(st->mqtt_bind)) {
		fprintf(stderr,
		        "unifaas: up: mqtt_bind=%s in %s/%s: not an IPv4 or IPv6 address (e.g. 192.168.1.10, or "
		        "0.0.0.0 for every address)\n",
		        st->mqtt_bind, st->dir, conf);
		return -1;
	}
	if (!st->mqtt_tls_port) {
		if (st->mqtt_tls_cert[0] || st->mqtt_tls_key[0]) {
			fprintf(stderr, "unifaas: up: mqtt_tls_cert/mqtt_tls_key in %s/%s: need mqtt_tls_port=N too\n",
			        st->dir, conf);
			return -1;
		}
		return 0;
	}
	if (st->mqtt_tls_port == st->mqtt_port || st->mqtt_tls_port == st->api_port) {
		fprintf(stderr, "unifaas: up: mqtt_tls_port=%u in %s/%s is also the %s port: pick another\n",
		        st->mqtt_tls_port, st->dir, conf, st->mqtt_tls_port == st->api_port ? "API" : "MQTT");
		return -1;
	}
	const char *files[2][2] = {{"mqtt_tls_cert", st->mqtt_tls_cert}, {"mqtt_tls_key", st->mqtt_tls_key}};
	for (int i = 0; i < 2; i++) {
		if (!files[i][1][0]) {
			fprintf(stderr, "unifaas: up: mqtt_tls_port=%u in %s/%s: needs %s=PATH (a PEM file)\n",
			        st->mqtt_tls_port, st->dir, conf, files[i][0]);
			return -1;
		}
		if (files[i][1][0] != '/' || access(files[i][1], R_OK) < 0) {
			fprintf(stderr, "unifaas: up: %s=%s in %s/%s: %s\n", files[i][0], files[i][1], st->dir, conf,
			        files[i][1][0] != '/' ? "must be an absolute path" : strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* One listener devices use (into text, cap bytes): its length. */
static size_t device_listener(char *text, size_t cap, unsigned port, const char *addr)
{
	int n = snprintf(text, cap, "listener %u %s\nuse_username_as_clientid true\n", port, addr);
	return n < 0 ? cap + 1 : (size_t)n;
}

int broker_write_config(const struct cli_state *st, const char *user)
{
	char path[PATH_MAX + 32], text[4 * PATH_MAX + 2048];
	struct registry r;
	size_t len = 0;
	const char *bind = st->mqtt_bind;
	int wildcard = !strcmp(bind, "0.0.0.0"); /* covers loopback: one listener there */

	if (registry_open("up", st, &r) < 0 || registry_render("up", st, &r) < 0) {
		registry_free(&r);
		return -1;
	}
	registry_free(&r);
	len += (size_t)snprintf(text + len, sizeof(text) - len,
	                        "# written by 'unifaas up'; rewritten at each start\n"
	                        "per_listener_settings false\n"
	                        "allow_anonymous false\n"
	                        "password_file %s/mosquitto.passwd\n"
	                        "acl_file %s/mosquitto.acl\n"
	                        "max_queued_messages %d\n"
	                        "max_queued_bytes %u\n"
	                        "max_inflight_messages %d\n"
	                        "max_packet_size %u\n"
	                        "persistence true\n"
	                        "persistence_location %s/mosquitto\n"
	                        "log_dest file %s/logs/mosquitto.log\n"
	                        "log_timestamp_format %%Y-%%m-%%dT%%H:%%M:%%S\n"
	                        "user %s\n"
	                        "# unifaasd's own listener, in the state dir\n"
	                        "listener 0 %s/" BROKER_SOCKET "\n",
	                        st->dir, st->dir, QUEUED_MESSAGES, QUEUED_BYTES, INFLIGHT, PACKET_MAX, st->dir, st->dir,
	                        user, st->dir);
	/* The listeners devices use: a client's id is its username, so a
	 * device cannot take over a session of the platform (UF_MQTT_PLATFORM
	 * "-<wf>", a prefix no device name has) or another device's by
	 * connecting with its id */
	len += device_listener(text + len, sizeof(text) - len, st->mqtt_port, wildcard ? bind : "127.0.0.1");
	if (bind[0] && !wildcard && strcmp(bind, "127.0.0.1"))
		len += device_listener(text + len, sizeof(text) - len, st->mqtt_port, bind);
	if (st->mqtt_tls_port) {
		len += device_listener(text + len, sizeof(text) - len, st->mqtt_tls_port, bind[0] ? bind : "127.0.0.1");
		len += (size_t)snprintf(text + len, len < sizeof(text) ? sizeof(text) - len : 0,
		                        "certfile %s\nkeyfile %s\n", st->mqtt_tls_cert, st->mqtt_tls_key);
	}
	if (len >= sizeof(text)) {
		fprintf(stderr, "unifaas: up: mosquitto.conf: the paths are too long\n");
		return -1;
	}
	return state_write_file("up", state_path(st, "mosquitto.conf", path, sizeof(path)), 0600, text);
}

void broker_print_urls(const struct cli_state *st)
{
	const char *a = st->mqtt_bind[0] ? st->mqtt_bind : "127.0.0.1";
	int v6 = strchr(a, ':') != NULL;
	if (st->mqtt_bind[0])
		printf("mqtt_lan_url: mqtt://%s%s%s:%u\n", v6 ? "[" : "", a, v6 ? "]" : "", st->mqtt_port);
	if (st->mqtt_tls_port)
		printf("mqtt_tls_url: mqtts://%s%s%s:%u\n", v6 ? "[" : "", a, v6 ? "]" : "", st->mqtt_tls_port);
}

static struct device *registry_find(struct registry *r, const char *name)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->dev[i].name, name))
			return &r->dev[i];
	return NULL;
}

/* Sets device NAME's hash and filters in r, adding it if it is new. */
static int registry_set(struct registry *r, const char *name, const char *hash, char **filters, size_t nfilters)
{
	struct device *d = registry_find(r, name);
	if (!d) {
		if (!(d = realloc(r->dev, (r->n + 1) * sizeof(*d))))
			return -1;
		r->dev = d;
		d = &r->dev[r->n++];
		memset(d, 0, sizeof(*d));
		if (!(d->name = strdup(name)))
			return -1;
	}
	free(d->hash);
	for (size_t k = 0; k < d->nfilters; k++)
		free(d->filters[k]);
	free(d->filters);
	d->nfilters = 0;
	d->hash = strdup(hash);
	d->filters = calloc(nfilters, sizeof(char *));
	if (!d->hash || !d->filters)
		return -1;
	for (size_t k = 0; k < nfilters; k++)
		if (!(d->filters[d->nfilters++] = strdup(filters[k])))
			return -1;
	return 0;
}

/* A fresh password for a device (pass, DEVICE_PASS_LEN) and its hash. */
static int device_password(const char *cmd, char *pass, char *hash, size_t hashlen)
{
	if (uf_random_hex(pass, DEVICE_PASS_LEN, 16) < 0 || pw_hash(pass, hash, hashlen) < 0) {
		fprintf(stderr, "unifaas: %s: cannot make a password: %s\n", cmd, strerror(errno));
		return -1;
	}
	return 0;
}

int broker_devices_rekey(const char *cmd, const struct cli_state *st, char **names, char **filters, size_t n,
                         char (*pass)[DEVICE_PASS_LEN])
{
	struct registry r;
	char hash[256];
	int rc = -1;

	if (registry_open(cmd, st, &r) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (device_password(cmd, pass[i], hash, sizeof(hash)) < 0)
			goto out;
		if (registry_set(&r, names[i], hash, &filters[i], 1) < 0) {
			fprintf(stderr, "unifaas: %s: out of memory\n", cmd);
			goto out;
		}
	}
	if (registry_render(cmd, st, &r) < 0)
		goto out;
	broker_reload(cmd, st);
	rc = 0;
out:
	registry_free(&r);
	return rc;
}

static int device_add(const struct cli_state *st, const char *name, char **filters, size_t nfilters)
{
	char pass[DEVICE_PASS_LEN], hash[256], deflt[UF_NAME_MAX + 16], *deflts[1] = {deflt};
	struct registry r;
	int ex = UF_EX_ERROR;

	if (nfilters == 0) { /* the default filter: docs/cli.md */
		snprintf(deflt, sizeof(deflt), "devices/%s/#", name);
		filters = deflts;
		nfilters = 1;
	}
	if (registry_open("device add", st, &r) < 0)
		goto out;
	if (registry_find(&r, name)) {
		fprintf(stderr,
		        "unifaas: device add: device '%s' exists already (its password is not shown again): "
		        "'unifaas device rm %s' first to give it a new one\n",
		        name, name);
		goto out;
	}
	if (device_password("device add", pass, hash, sizeof(hash)) < 0)
		goto out;
	if (registry_set(&r, name, hash, filters, nfilters) < 0)
		goto out;
	if (registry_render("device add", st, &r) < 0)
		goto out;
	broker_reload("device add", st);
	printf("username: %s\npassword: %s\n", name, pass);
	ex = UF_EX_OK;
out:
	memset(pass, 0, sizeof(pass));
	registry_free(&r);
	return ex;
}

static int device_rm(const struct cli_state *st, const char *name)
{
	struct registry r;
	int ex = UF_EX_ERROR;

	if (registry_open("device rm", st, &r) < 0)
		goto out;
	struct device *d = registry_find(&r, name);
	if (!d) {
		fprintf(stderr, "unifaas: device rm: no device '%s' (see 'unifaas device ls')\n", name);
		ex = UF_EX_NOT_FOUND;
		goto out;
	}
	struct device gone = *d;
	*d = r.dev[--r.n];
	if (registry_render("device rm", st, &r) < 0) {
		r.dev[r.n++] = gone; /* freed with the rest */
		goto out;
	}
	r.dev[r.n++] = gone;
	broker_reload("device rm", st);
	ex = UF_EX_OK;
out:
	registry_free(&r);
	return ex;
}

static int device_ls(const struct cli_state *st)
{
	struct registry r;
	if (registry_open("device ls", st, &r) < 0) {
		registry_free(&r);
		return UF_EX_ERROR;
	}
	struct table t = {.ncols = 2};
	table_add(&t, "NAME", "TOPICS");
	for (size_t i = 0; i < r.n; i++) {
		const struct device *d = &r.dev[i];
		size_t len = 0;
		char *topics = strdup("");
		for (size_t k = 0; k < d->nfilters; k++)
			append(&topics, &len, "%s%s", k ? " " : "", d->filters[k]);
		table_add(&t, d->name, topics);
		free(topics);
	}
	table_print(&t);
	registry_free(&r);
	return UF_EX_OK;
}

int cmd_device(int argc, char **argv)
{
	static const struct option opts[] = {{"topic", required_argument, NULL, 't'}, {NULL, 0, NULL, 0}};
	char *filters[DEVICE_FILTERS];
	size_t nfilters = 0;
	struct cli_state st;
	int c;

	while ((c = cli_getopt("device", argc, argv, "", opts)) != -1) {
		if (c != 't')
			return c == 'h' ? UF_EX_OK : UF_EX_USAGE;
		const char *why = device_filter_bad(optarg);
		if (why) {
			fprintf(stderr, "unifaas: device: --topic ");
			cli_show_name(stderr, optarg);
			fprintf(stderr, ": not a topic filter: it %s\n", why);
			return UF_EX_USAGE;
		}
		if (nfilters == DEVICE_FILTERS) {
			fprintf(stderr, "unifaas: device: more than %d --topic filters: use wildcards ('+', '#')\n",
			        DEVICE_FILTERS);
			return UF_EX_USAGE;
		}
		filters[nfilters++] = optarg;
	}
	if (cli_nargs("device", argc, argv, 1, 2) < 0)
		return UF_EX_USAGE;
	const char *op = argv[optind], *name = argv[optind + 1];
	int want = !strcmp(op, "ls") ? 1 : !strcmp(op, "add") || !strcmp(op, "rm") ? 2 : 0;
	if (!want) {
		fprintf(stderr, "unifaas: device: unknown operation '%s': expected add, ls or rm\n", op);
		return UF_EX_USAGE;
	}
	if (argc - optind != want) {
		fprintf(stderr, "unifaas: device %s: %s\n", op, want == 1 ? "takes no NAME" : "missing NAME");
		cli_short_usage("device");
		return UF_EX_USAGE;
	}
	if (nfilters && strcmp(op, "add")) {
		fprintf(stderr, "unifaas: device %s: --topic is for 'device add'\n", op);
		return UF_EX_USAGE;
	}
	if (want == 2 && !cli_name_ok("device", UF_NAME_DEVICE, name))
		return UF_EX_USAGE;
	if (want == 2 && op[0] == 'a' && device_name_reserved(name)) {
		fprintf(stderr,
		        "unifaas: device add: '%s': names starting with '%s' are the platform's (its broker account "
		        "and the client ids of its sessions): pick another name\n",
		        name, UF_MQTT_PLATFORM);
		return UF_EX_USAGE;
	}
	if (state_locate("device", &st) < 0)
		return UF_EX_ERROR;
	if (op[0] == 'l')
		return device_ls(&st);
	return op[0] == 'a' ? device_add(&st, name, filters, nfilters) : device_rm(&st, name);
}

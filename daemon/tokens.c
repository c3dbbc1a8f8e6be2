/*
 * tokens.c - bearer tokens of the HTTP ingress, one workflow each
 * (docs/api.md "HTTP ingress", docs/cli.md `unifaas token`).
 *
 * A token is "<id>.<secret>": id TOKEN_ID_HEX hex digits, shown by `token
 * ls` and used by `token rm`; secret TOKEN_SECRET_HEX hex digits from
 * common/secret.c, shown once by `token create` and never stored.  Redis
 * keeps, in the hash TOKENS_KEY, field <id> = "<workflow> <created_ms>
 * <SHA-256 of the secret, hex>".
 *
 * Invariants: unifaasd is the only writer of TOKENS_KEY (through these
 * routes), and its in-memory table d->tokens is that hash: loaded at
 * start and again on every reconnection to Redis (one load at a time; a
 * failed one retried every TOKENS_RETRY_MS), changed only after Redis
 * confirmed the change.  A load and a change travel on the same ordered
 * connection, so a change confirmed after a load's reply is applied on top
 * of it and one confirmed before is in it.  So a request's token is
 * checked on its head, before its body is read, without a round trip to
 * Redis; until the first load succeeded no token is judged (503, not 401).
 * The secret is compared as its hash, in constant time.
 */
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api_routes.h"
#include "rules.h"
#include "secret.h"
#include "store.h"
#include "tokens.h"
#include "unifaasd.h"

struct token {
	struct token *next;
	char id[TOKEN_ID_HEX + 1];
	char wf[UF_NAME_BUF];
	uint64_t created_ms;
	unsigned char hash[32];
};

static int sha256(const char *s, size_t n, unsigned char out[32])
{
	unsigned int len = 0;
	return EVP_Digest(s, n, out, &len, EVP_sha256(), NULL) == 1 && len == 32 ? 0 : -1;
}

static void hex(const unsigned char *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = 0;
}

static int unhex(const char *s, unsigned char *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (unsigned char)v;
	}
	return s[2 * n] ? -1 : 0;
}

static int is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static struct token *find(struct daemon *d, const char *id)
{
	for (struct token *t = d->tokens; t; t = t->next)
		if (!strcmp(t->id, id))
			return t;
	return NULL;
}

/* "<wf> <created_ms> <hash hex>" as stored */
static struct token *parse(const char *id, const char *v)
{
	struct token *t = calloc(1, sizeof(*t));
	char wf[UF_NAME_BUF], h[65];
	unsigned long long created;
	if (!t || strlen(id) != TOKEN_ID_HEX || sscanf(v, "%79s %llu %64s", wf, &created, h) != 3 ||
	    unhex(h, t->hash, 32) < 0) {
		free(t);
		return NULL;
	}
	snprintf(t->id, sizeof(t->id), "%s", id);
	snprintf(t->wf, sizeof(t->wf), "%s", wf);
	t->created_ms = created;
	return t;
}

static void retry_cb(uv_timer_t *t)
{
	tokens_load(t->data);
}

/* the table in the HGETALL reply r (a malformed entry is logged and skipped) */
static struct token *parse_all(const redisReply *r)
{
	struct token *list = NULL;
	for (size_t i = 0; i + 1 < r->elements; i += 2) {
		struct token *t =
		    r->element[i]->type == REDIS_REPLY_STRING && r->element[i + 1]->type == REDIS_REPLY_STRING
		        ? parse(r->element[i]->str, r->element[i + 1]->str)
		        : NULL;
		if (!t) {
			dlog("warn", "what=tokens op=load id=%s cause=\"malformed entry\" action=skip",
			     r->element[i]->type == REDIS_REPLY_STRING ? r->element[i]->str : "?");
			continue;
		}
		t->next = list;
		list = t;
	}
	return list;
}

static void load_reply(redisReply *r, void *arg)
{
	struct daemon *d = arg;
	d->tokens_loading = 0;
	if (d->stopping)
		return;
	if (!r || r->type != REDIS_REPLY_ARRAY) {
		if (!d->tokens_failing)
			dlog("error", "what=tokens op=load cause=%s effect=%s retry_ms=%u",
			     r && r->type == REDIS_REPLY_ERROR ? r->str : "redis did not answer",
			     d->tokens_loaded ? "tokens as last loaded" : "ingress answers 503 until loaded",
			     TOKENS_RETRY_MS);
		d->tokens_failing = 1;
		uv_timer_start(&d->tokens_retry, retry_cb, TOKENS_RETRY_MS, 0);
		return;
	}
	struct token *list = parse_all(r);
	tokens_free(d);
	d->tokens = list;
	size_t n = 0;
	for (struct token *t = list; t; t = t->next)
		n++;
	dlog("info", "what=tokens op=load tokens=%zu", n);
	d->tokens_loaded = 1;
	d->tokens_failing = 0;
}

void tokens_load(struct daemon *d)
{
	if (!d->tokens_retry.data) {
		uv_timer_init(d->loop, &d->tokens_retry);
		d->tokens_retry.data = d;
	}
	if (d->tokens_loading || d->stopping)
		return;
	uv_timer_stop(&d->tokens_retry);
	if (store_send(d->store, load_reply, d, "HGETALL %s", TOKENS_KEY) < 0) {
		load_reply(NULL, d); /* not connected now: logged, tried again */
		return;
	}
	d->tokens_loading = 1;
}

void tokens_free(struct daemon *d)
{
	while (d->tokens) {
		struct token *t = d->tokens;
		d->tokens = t->next;
		free(t);
	}
}

const char *tokens_check(struct daemon *d, const char *h, const char **why)
{
	*why = "missing";
	if (!h || strncasecmp(h, "Bearer ", 7))
		return NULL;
	h += 7 + strspn(h + 7, " ");
	*why = "not loaded";
	if (!d->tokens_loaded)
		return NULL;
	*why = "unknown";
	if (strlen(h) != TOKEN_ID_HEX + 1 + TOKEN_SECRET_HEX || h[TOKEN_ID_HEX] != '.')
		return NULL;
	char id[TOKEN_ID_HEX + 1];
	memcpy(id, h, TOKEN_ID_HEX);
	id[TOKEN_ID_HEX] = 0;
	struct token *t = find(d, id);
	unsigned char got[32];
	if (!t || sha256(h + TOKEN_ID_HEX + 1, TOKEN_SECRET_HEX, got) < 0)
		return NULL;
	unsigned diff = 0;
	for (int i = 0; i < 32; i++)
		diff |= got[i] ^ t->hash[i];
	return diff ? NULL : t->wf;
}

/* ---- the control API's routes ---- */

/* What a create or remove waits for: its token, added or dropped once
 * Redis confirmed. */
struct change {
	struct token *t; /* create: the new one, owned here until added */
	char token[TOKEN_ID_HEX + TOKEN_SECRET_HEX + 2];
	int remove;
};

static void change_free(void *p)
{
	struct change *ch = p;
	free(ch->t);
	memset(ch->token, 0, sizeof(ch->token));
	free(ch);
}

static void change_reply(redisReply *r, void *arg)
{
	struct request *rq = arg;
	struct change *ch = api_slot(rq, sizeof(*ch), change_free);
	struct daemon *d = api_daemon(api_of(rq));
	if (r && r->type == REDIS_REPLY_ERROR) {
		if (api_live(rq))
			api_answer_error(rq, 503, "unavailable", "redis refused the write: %s", r->str);
	} else if (r && ch && ch->remove) {
		for (struct token **p = &d->tokens; *p; p = &(*p)->next)
			if (!strcmp((*p)->id, ch->t->id)) {
				struct token *gone = *p;
				*p = gone->next;
				free(gone);
				break;
			}
		dlog("info", "what=token op=rm id=%s workflow=%s", ch->t->id, ch->t->wf);
		if (api_live(rq))
			api_answer_json(rq, 200, json_pack("{s:s,s:s}", "id", ch->t->id, "workflow", ch->t->wf));
	} else if (r && ch) {
		struct token *t = ch->t;
		ch->t = NULL;
		t->next = d->tokens;
		d->tokens = t;
		dlog("info", "what=token op=create id=%s workflow=%s", t->id, t->wf);
		if (api_live(rq))
			api_answer_json(rq, 201,
			                json_pack("{s:s,s:s,s:s,s:I}", "id", t->id, "workflow", t->wf, "token",
			                          ch->token, "created_ms", (json_int_t)t->created_ms));
	}
	api_replied(rq, r);
}

static enum MHD_Result create(struct api *a, struct MHD_Connection *c, struct request *rq)
{
	struct daemon *d = api_daemon(a);
	const char *wf = api_arg(c, "workflow");
	if (!wf || !uf_name_ok(UF_NAME_WORKFLOW, wf, strlen(wf)))
		return api_error(c, 400, "bad_request", "workflow=NAME is required: the workflow the token is for");
	if (!registry_find(d, wf))
		return api_error(c, 404, "not_found", "no workflow '%s' is deployed; deploy it first", wf);
	struct change *ch = api_slot(rq, sizeof(*ch), change_free);
	if (!ch || !(ch->t = calloc(1, sizeof(*ch->t))))
		return api_error(c, 500, "internal", "out of memory");
	char secret[TOKEN_SECRET_HEX + 1];
	do {
		if (uf_random_hex(ch->t->id, sizeof(ch->t->id), TOKEN_ID_HEX / 2) < 0 ||
		    uf_random_hex(secret, sizeof(secret), TOKEN_SECRET_HEX / 2) < 0)
			return api_error(c, 500, "internal",
			                 "no random bytes from the kernel (getrandom): no token made");
	} while (find(d, ch->t->id));
	snprintf(ch->t->wf, sizeof(ch->t->wf), "%s", wf);
	ch->t->created_ms = wall_ms();
	if (sha256(secret, TOKEN_SECRET_HEX, ch->t->hash) < 0)
		return api_error(c, 500, "internal", "SHA-256 failed: no token made");
	snprintf(ch->token, sizeof(ch->token), "%s.%s", ch->t->id, secret);
	memset(secret, 0, sizeof(secret));
	char value[UF_NAME_BUF + 100], h[65], created[24];
	hex(ch->t->hash, 32, h);
	snprintf(created, sizeof(created), "%llu", (unsigned long long)ch->t->created_ms);
	snprintf(value, sizeof(value), "%s %s %s", wf, created, h);
	const char *argv[] = {"HSET", TOKENS_KEY, ch->t->id, value};
	size_t lens[] = {4, strlen(TOKENS_KEY), strlen(ch->t->id), strlen(value)};
	if (api_sendv(rq, change_reply, 4, argv, lens) < 0)
		return api_unavailable(c);
	return api_wait_replies(a, c, rq, NULL);
}

static enum MHD_Result list(struct api *a, struct MHD_Connection *c)
{
	const char *wf = api_arg(c, "workflow");
	json_t *arr = json_array();
	for (struct token *t = api_daemon(a)->tokens; t; t = t->next)
		if (!wf || !strcmp(wf, t->wf))
			json_array_append_new(arr, json_pack("{s:s,s:s,s:I}", "id", t->id, "workflow", t->wf,
			                                     "created_ms", (json_int_t)t->created_ms));
	return api_json(c, 200, json_pack("{s:o}", "tokens", arr));
}

static enum MHD_Result rm(struct api *a, struct MHD_Connection *c, struct request *rq, const char *id)
{
	struct daemon *d = api_daemon(a);
	struct token *t = strlen(id) == TOKEN_ID_HEX && is_hex(id, TOKEN_ID_HEX) ? find(d, id) : NULL;
	if (!t)
		return api_error(c, 404, "not_found", "no token with id '%s' ('unifaas token ls' lists them)", id);
	struct change *ch = api_slot(rq, sizeof(*ch), change_free);
	if (!ch || !(ch->t = malloc(sizeof(*ch->t))))
		return api_error(c, 500, "internal", "out of memory");
	*ch->t = *t;
	ch->remove = 1;
	const char *argv[] = {"HDEL", TOKENS_KEY, t->id};
	size_t lens[] = {4, strlen(TOKENS_KEY), strlen(t->id)};
	if (api_sendv(rq, change_reply, 3, argv, lens) < 0)
		return api_unavailable(c);
	return api_wait_replies(a, c, rq, NULL);
}

enum MHD_Result tokens_route(struct api *a, struct MHD_Connection *c, struct request *rq, const char *method,
                             char **seg, int n)
{
	if (!api_daemon(a)->tokens_loaded)
		return api_error_hdr(c, 503, "Retry-After", "1", "unavailable",
		                     "tokens not loaded yet (unifaasd has not read them from Redis since it "
		                     "started; it keeps trying): retry");
	if (n == 2 && !strcmp(method, "GET"))
		return list(a, c);
	if (n == 2 && !strcmp(method, "POST"))
		return create(a, c, rq);
	if (n == 2)
		return api_error(c, 405, "method_not_allowed", "GET or POST");
	if (n == 3 && !strcmp(method, "DELETE"))
		return rm(a, c, rq, seg[2]);
	if (n == 3)
		return api_error(c, 405, "method_not_allowed", "DELETE only");
	return api_error(c, 404, "not_found", "no such path under /v1/tokens");
}

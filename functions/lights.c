/*
 * lights.c - switches room lights on and off from motion and light sensors.
 *
 * Events are JSON objects from the sensors of one room:
 *   {"room":"kitchen","motion":true}     motion sensor (true or false)
 *   {"room":"kitchen","BinaryState":1}   the same, WeMo-style (1 or 0, or "1"/"0")
 *   {"room":"kitchen","lux":12.5}        light sensor, in lux
 * (both fields may come in one event; other fields are ignored).  Without
 * "room", an event that came over MQTT takes the room from its topic's
 * second level (wemo/<room>/motion).  A room's
 * light should be on while there is motion and it is dark, i.e. its last
 * lux reading is below LIGHTS_DARK_LUX (env, default 50; no reading yet
 * counts as dark).  When that changes, {"room":...,"light":"on"|"off"} is
 * pushed to the queue `lights` and, when LIGHTS_BULB_TOPIC is set (a topic
 * name whose one '+' level stands for the room, e.g. hue/+/set), the
 * Hue-style command {"on":true,"bri":254} or {"on":false} is published on
 * it with QoS 1 (the manifest's `publish:` must allow it).
 *
 * Per-room state is one KV value, "lights:<room>", itself small JSON:
 *   {"motion":true,"lux":12.5,"light":"on"}       ("lux":null if unknown)
 * so each event costs one KV get and at most one KV set.  Room names are
 * 1..64 of [A-Za-z0-9_-], which keeps them safe in keys and in JSON.
 * JSON is parsed with jsmn in strict mode through lib/flatjson.h, which
 * checks the object's extent and flatness; the types are checked here.
 */
#include "lib/fail.h"
#include "lib/flatjson.h"
#include <errno.h>

#define ROOM_MAX   64
#define MAX_TOKENS 32

struct room_state {
	int motion;   /* last motion reading (0 before the first) */
	int have_lux; /* a lux reading has come in */
	double lux;   /* the last one */
	int light;    /* the light is on */
};

/* One parsed event: which fields it carried. */
struct update {
	char room[ROOM_MAX + 1];
	int has_motion, motion;
	int has_lux;
	double lux;
};

/* The room from an MQTT topic's second level (wemo/<room>/motion), if valid. */
static void room_from_topic(const char *topic, struct update *u)
{
	const char *a = strchr(topic, '/');
	if (!a)
		return;
	a++;
	const char *b = strchr(a, '/');
	int n = b ? (int)(b - a) : (int)strlen(a);
	if (!fj_name_ok(a, n, ROOM_MAX))
		return;
	memcpy(u->room, a, (size_t)n);
	u->room[n] = '\0';
}

/* Parses an event; on error returns -1 with the reason in *why. */
static int parse_event(const char *js, size_t len, const char *topic, struct update *u, const char **why)
{
	jsmntok_t t[MAX_TOKENS];
	memset(u, 0, sizeof(*u));
	int n = fj_parse_flat(js, len, t, MAX_TOKENS, why);
	if (n < 0)
		return -1;
	/* Keys are at odd i, their values at i + 1: all flat, as checked above. */
	for (int i = 1; i + 1 < n; i += 2) {
		const jsmntok_t *k = &t[i], *v = &t[i + 1];
		if (fj_is(js, k, "room")) {
			int rn = v->end - v->start;
			if (v->type != JSMN_STRING || !fj_name_ok(js + v->start, rn, ROOM_MAX)) {
				*why = "\"room\" must be a string of 1..64 [A-Za-z0-9_-]";
				return -1;
			}
			memcpy(u->room, js + v->start, (size_t)rn);
			u->room[rn] = '\0';
		} else if (fj_is(js, k, "motion")) {
			if (fj_bool(js, v, &u->motion) < 0) {
				*why = "\"motion\" must be true or false";
				return -1;
			}
			u->has_motion = 1;
		} else if (fj_is(js, k, "BinaryState")) {
			int n = v->end - v->start;
			char c = n == 1 ? js[v->start] : 0;
			if ((v->type != JSMN_PRIMITIVE && v->type != JSMN_STRING) || (c != '0' && c != '1')) {
				*why = "\"BinaryState\" must be 1 or 0";
				return -1;
			}
			u->motion = c == '1';
			u->has_motion = 1;
		} else if (fj_is(js, k, "lux")) {
			if (fj_number(js, v, &u->lux, NULL) < 0 || u->lux < 0) {
				*why = "\"lux\" must be a number >= 0";
				return -1;
			}
			u->has_lux = 1;
		}
	}
	if (!u->room[0])
		room_from_topic(topic, u);
	if (!u->room[0]) {
		*why = "no \"room\" (nor a room in the topic)";
		return -1;
	}
	if (!u->has_motion && !u->has_lux) {
		*why = "neither \"motion\" nor \"lux\"";
		return -1;
	}
	return 0;
}

/* Reads the room's state from KV; an absent key is a room seen for the first time. */
static int load_state(uf_ctx *ctx, const char *key, struct room_state *s)
{
	char buf[256];
	size_t len;
	memset(s, 0, sizeof(*s));
	int r = uf_kv_get(ctx, key, buf, sizeof(buf) - 1, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	buf[len] = '\0';
	jsmn_parser p;
	jsmntok_t t[MAX_TOKENS];
	jsmn_init(&p);
	int n = jsmn_parse(&p, buf, len, t, MAX_TOKENS);
	if (n < 1 || t[0].type != JSMN_OBJECT)
		return -EINVAL;
	for (int i = 1; i + 1 < n; i += 2) {
		int is_null = 0;
		if (fj_is(buf, &t[i], "motion") && fj_bool(buf, &t[i + 1], &s->motion) < 0)
			return -EINVAL;
		if (fj_is(buf, &t[i], "light"))
			s->light = fj_is(buf, &t[i + 1], "on");
		if (fj_is(buf, &t[i], "lux")) {
			if (fj_number(buf, &t[i + 1], &s->lux, &is_null) < 0)
				return -EINVAL;
			s->have_lux = !is_null;
		}
	}
	return 0;
}

static int save_state(uf_ctx *ctx, const char *key, const struct room_state *s)
{
	char buf[128], lux[32] = "null";
	if (s->have_lux)
		snprintf(lux, sizeof(lux), "%.10g", s->lux);
	int n = snprintf(buf, sizeof(buf), "{\"motion\":%s,\"lux\":%s,\"light\":\"%s\"}", s->motion ? "true" : "false",
	                 lux, s->light ? "on" : "off");
	return uf_kv_set(ctx, key, buf, (size_t)n);
}

/* The Hue-style command to the room's bulb, on LIGHTS_BULB_TOPIC ('+' = the room). */
static int publish_command(uf_ctx *ctx, const uf_event *ev, const char *room, int on)
{
	const char *tmpl = uf_getenv("LIGHTS_BULB_TOPIC");
	if (!tmpl || !*tmpl)
		return 0;
	const char *plus = strchr(tmpl, '+');
	char topic[256];
	int n = plus ? snprintf(topic, sizeof(topic), "%.*s%s%s", (int)(plus - tmpl), tmpl, room, plus + 1)
	             : snprintf(topic, sizeof(topic), "%s", tmpl);
	if (n < 0 || n >= (int)sizeof(topic))
		return fn_fail(ctx, ev, "lights", "LIGHTS_BULB_TOPIC '%.60s' is too long", tmpl);
	const char *cmd = on ? "{\"on\":true,\"bri\":254}" : "{\"on\":false}";
	int r = uf_mqtt_publish(ctx, topic, cmd, strlen(cmd), 1);
	if (r < 0)
		return fn_fail(ctx, ev, "lights", "room %s: publish to %s: %s (manifest publish: must allow it)", room,
		               topic, strerror(-r));
	return 0;
}

int uf_handle(uf_ctx *ctx, const uf_event *ev)
{
	struct update u;
	const char *why;
	if (parse_event(ev->data, ev->len, ev->source ? ev->source : "", &u, &why) < 0)
		return fn_fail(ctx, ev, "lights", "bad sensor event%s%s: %s: '%.80s'", *ev->source ? " from " : "",
		               ev->source, why, ev->data);
	char key[ROOM_MAX + 16];
	snprintf(key, sizeof(key), "lights:%s", u.room);
	struct room_state s;
	int r = load_state(ctx, key, &s);
	if (r < 0)
		return fn_fail(ctx, ev, "lights", "kv %s: cannot read the room's state (%s)", key, strerror(-r));
	if (u.has_motion)
		s.motion = u.motion;
	if (u.has_lux) {
		s.lux = u.lux;
		s.have_lux = 1;
	}
	int was_on = s.light;
	s.light = s.motion && (!s.have_lux || s.lux < fj_env_number("LIGHTS_DARK_LUX", 50, "lights"));
	r = save_state(ctx, key, &s);
	if (r < 0)
		return fn_fail(ctx, ev, "lights", "kv set %s: %s", key, strerror(-r));
	if (s.light == was_on)
		return 0;
	char out[128];
	int n = snprintf(out, sizeof(out), "{\"room\":\"%s\",\"light\":\"%s\"}", u.room, s.light ? "on" : "off");
	if ((r = uf_push(ctx, "lights", out, (size_t)n)) < 0)
		return fn_fail(ctx, ev, "lights", "room %s: push to lights: %s", u.room, strerror(-r));
	return publish_command(ctx, ev, u.room, s.light);
}

/*
 * cloudevent.h - CloudEvents 1.0 as the HTTP ingress takes them
 * (cloudevent.c): structured mode (the JSON event as the body) and binary
 * mode (ce-* headers beside the data), checked against the spec's rules
 * and turned into what a queue entry carries: the payload (UF_FIELD_DATA)
 * and the attributes as one JSON object (UF_FIELD_ATTRS).
 */
#ifndef UF_CLOUDEVENT_H
#define UF_CLOUDEVENT_H

#include <jansson.h>
#include <stddef.h>

struct ce_event {
	json_t *attrs; /* every attribute but data/data_base64 (owned) */
	char *data;    /* the payload (owned; NULL with len 0: none) */
	size_t len;
	/* when refused: the attribute (or header, or "body") at fault, and why */
	char attr[64];
	char err[512];
};

/* application/cloudevents+json: 0, or -1 with ev->attr/err set. */
int ce_structured(const char *body, size_t len, struct ce_event *ev);
/* Binary mode: the ce-* headers (names as sent, values percent-encoded as
 * the HTTP binding says), the request's Content-Type (NULL: none) and its
 * body as the data.  0, or -1 with ev->attr/err. */
int ce_binary(const char *const *names, const char *const *values, size_t n, const char *content_type, const char *body,
              size_t len, struct ce_event *ev);
void ce_event_free(struct ce_event *ev);
/* Whether a media type is JSON (application/json, text/json, ...+json). */
int ce_type_is_json(const char *type);

#endif

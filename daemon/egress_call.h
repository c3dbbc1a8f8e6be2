/*
 * egress_call.h - one unit's uf_http calls, made with libcurl: the half of
 * the egress server that unifaasd (egress_server.c: sockets, tokens,
 * threads, its log and metrics) and `unifaas run` (the unifaas-api helper,
 * cli/egress_local.c) share.  Glibc only (libcurl); the rules it applies
 * are common/egress.h's.
 */
#ifndef UF_EGRESS_CALL_H
#define UF_EGRESS_CALL_H

#include <stddef.h>
#include <stdint.h>

#include "egress.h"

/* The limits of every call (unifaasd.conf's egress_* keys). */
struct eg_settings {
	uint32_t connect_ms, timeout_ms;
	uint64_t max_response;
	const char *ca; /* PEM: the system bundle and egress_ca_file, or NULL: curl's default */
	size_t ca_len;
};

/* Who calls, and where it may go. */
struct eg_caller {
	const char *unit, *wf, *step;
	char *const *prefixes; /* manifest egress: (checked) */
	size_t n;
};

/* Something to log: kind "denied" (url, cause: not allowed), "refused"
 * (host, cause: a bad header line) or "failed" (host, port, err, cause:
 * curl's message). */
struct eg_note {
	const char *kind;
	const char *url;
	size_t url_len;
	const char *host;
	unsigned port;
	int err;
	const char *cause;
};

struct eg_hooks {
	void (*note)(void *arg, const struct eg_caller *c, const struct eg_note *n);
	void (*counted)(void *arg, const struct uf_eg_resp_fixed *f); /* each answer; may be NULL */
	void *arg;
};

/* curl_global_init: once, before any thread calls.  0 or -1. */
int eg_init(void);
/* Serves REQ messages on fd, one answer each, until the peer closes it
 * (0) or sends something malformed (-1, *why). */
int eg_serve(int fd, const struct eg_caller *c, const struct eg_settings *s, const struct eg_hooks *h,
             const char **why);
/* len bytes from / to fd: 0, or -1 (error, end of file) */
int eg_read_full(int fd, void *buf, size_t len);
int eg_write_full(int fd, const void *buf, size_t len);
/* The CA blob for eg_settings.ca: curl's default bundle, then `extra` (a
 * PEM file); *ca NULL when extra is "" (curl's default is used as is).
 * 0, or -1 with err. */
int eg_load_ca(const char *extra, char **ca, size_t *len, char *err, size_t errlen);

#endif

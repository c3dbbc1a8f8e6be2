/*
 * fail.h - how the example functions fail an event they cannot handle (bad
 * input, a KV or push call refused): one line in the unit's log (stderr,
 * `unifaas logs`), "<who>: event <id>: <why>", and "<who>: <why>" as the
 * event's reason (uf_fail_reason), which its dead letter (`unifaas dlq
 * ls`), a failed invoke and a local run's failure line show instead of
 * "handler returned 1".  Header-only (static inline), like flatjson.h.
 */
#ifndef UF_FUNCTIONS_FAIL_H
#define UF_FUNCTIONS_FAIL_H

#include <stdarg.h>
#include <stdio.h>
#include <unifaas.h>

/* Logs and sets the reason as above; returns 1, uf_handle's "failed". */
static inline int fn_fail(uf_ctx *ctx, const uf_event *ev, const char *who, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static inline int fn_fail(uf_ctx *ctx, const uf_event *ev, const char *who, const char *fmt, ...)
{
	char why[1024]; /* a reason is cut to 1 KiB anyway (UF_REASON_MAX) */
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: event %s: %s\n", who, ev->id, why);
	uf_fail_reason(ctx, "%s: %s", who, why);
	return 1;
}

#endif

/*
 * fail.h - how the example functions fail an event they cannot handle (bad
 * input, a KV or push call refused): one line in the unit's log (stderr,
 * `unifaas logs`), "<who>: event <id>: <why>", and "<who>: <why>" as the
 * event's reason (uf_fail_reason), which its dead letter (`unifaas dlq
 * ls`), a failed invoke and a local run's failure line show instead of
 * "handler returned 1"; fn_fail_permanent for a failure retrying cannot
 * help (dead-lettered at once).  Header-only (static inline), like
 * flatjson.h.
 */
#ifndef UF_FUNCTIONS_FAIL_H
#define UF_FUNCTIONS_FAIL_H

#include <stdarg.h>
#include <stdio.h>
#include <unifaas.h>

static inline int fn_vfail(uf_ctx *ctx, const uf_event *ev, const char *who, int permanent, const char *fmt, va_list ap)
{
	char why[1024]; /* a reason is cut to 1 KiB anyway (UF_REASON_MAX) */
	vsnprintf(why, sizeof(why), fmt, ap);
	fprintf(stderr, "%s: event %s: %s%s\n", who, ev->id, why, permanent ? " (dead-lettered at once)" : "");
	if (permanent)
		uf_fail_permanent(ctx, "%s: %s", who, why);
	else
		uf_fail_reason(ctx, "%s: %s", who, why);
	return 1;
}

/* Logs and sets the reason as above; returns 1, uf_handle's "failed". */
static inline int fn_fail(uf_ctx *ctx, const uf_event *ev, const char *who, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static inline int fn_fail(uf_ctx *ctx, const uf_event *ev, const char *who, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fn_vfail(ctx, ev, who, 0, fmt, ap);
	va_end(ap);
	return 1;
}

/* The same for a failure retrying cannot help (uf_fail_permanent): the
 * event is dead-lettered at once, whatever the step's retries. */
static inline int fn_fail_permanent(uf_ctx *ctx, const uf_event *ev, const char *who, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static inline int fn_fail_permanent(uf_ctx *ctx, const uf_event *ev, const char *who, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fn_vfail(ctx, ev, who, 1, fmt, ap);
	va_end(ap);
	return 1;
}

#endif

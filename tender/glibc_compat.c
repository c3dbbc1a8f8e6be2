/*
 * glibc_compat.c - the four fortify entry points that Debian's libhiredis.a
 * (compiled for glibc with _FORTIFY_SOURCE) calls and musl does not have.
 *
 * Linked only into the musl-built tender.  Each does what glibc's does:
 * check the destination size the compiler knew (or (size_t)-1 when it did
 * not), abort on overflow, otherwise do the plain operation.  musl's
 * vsnprintf refuses sizes above INT_MAX, so an unknown size means vsprintf.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *__memcpy_chk(void *dst, const void *src, size_t n, size_t dst_size);
int __vsnprintf_chk(char *s, size_t n, int flag, size_t s_size, const char *fmt, va_list ap);
int __snprintf_chk(char *s, size_t n, int flag, size_t s_size, const char *fmt, ...);
int __sprintf_chk(char *s, int flag, size_t s_size, const char *fmt, ...);

void *__memcpy_chk(void *dst, const void *src, size_t n, size_t dst_size)
{
	if (n > dst_size)
		abort();
	return memcpy(dst, src, n);
}

int __vsnprintf_chk(char *s, size_t n, int flag, size_t s_size, const char *fmt, va_list ap)
{
	(void)flag;
	if (n > s_size)
		abort();
	return vsnprintf(s, n > INT_MAX ? INT_MAX : n, fmt, ap);
}

int __snprintf_chk(char *s, size_t n, int flag, size_t s_size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = __vsnprintf_chk(s, n, flag, s_size, fmt, ap);
	va_end(ap);
	return r;
}

int __sprintf_chk(char *s, int flag, size_t s_size, const char *fmt, ...)
{
	(void)flag;
	va_list ap;
	va_start(ap, fmt);
	int r = s_size > INT_MAX ? vsprintf(s, fmt, ap) : vsnprintf(s, s_size, fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= s_size)
		abort();
	return r;
}

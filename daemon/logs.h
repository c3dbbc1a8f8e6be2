/*
 * logs.h - per-step unit logs, capped and rotated (logs.c).
 */
#ifndef UF_LOGS_H
#define UF_LOGS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct logfile;

struct logfile *logfile_open(const char *path, uint64_t cap, char *err, size_t errlen);
/* called after every appended line (the API wakes its long polls) */
void logfile_on_append(struct logfile *l, void (*fn)(struct logfile *, void *), void *arg);
/* append `TIME unit | text\n` (text without its newline; a trailing CR is
 * dropped; TIME is UTC with milliseconds, 2026-12-04T18:20:01.123Z) */
void logfile_line(struct logfile *l, const char *unit, const char *text, size_t len);
/* logical offset just past the last byte written */
uint64_t logfile_end(const struct logfile *l);
/* read from a logical offset (negative: from the end); *next is where the
 * next read starts; 0 bytes when nothing new */
ssize_t logfile_read(const struct logfile *l, int64_t offset, char *buf, size_t cap, uint64_t *next);
/* The offset where the last `tail` lines begin (0: no limit), and no line
 * older than since_ms (epoch ms, 0: no limit) is included: 0, or -1 if
 * out of memory. */
int logfile_start(const struct logfile *l, uint64_t tail, uint64_t since_ms, uint64_t *start);
void logfile_close(struct logfile *l);

#endif

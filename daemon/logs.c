/*
 * logs.c - the units' stdout and stderr, kept per step, capped and rotated.
 *
 * <state>/logs/<wf>/<step>.log receives one line per line a unit printed,
 * prefixed with the time the daemon received it (UTC, milliseconds) and
 * the unit id (`2026-12-04T18:20:01.123Z eval.fdc.3 | text`), so lines are
 * in time order within a file.  When the file passes
 * its cap it becomes <step>.log.1 (replacing the previous one) and a new
 * file starts, so a step never keeps more than twice its cap on disk.
 *
 * Readers address bytes by a logical offset that only grows: the current
 * file starts at `cur_base`, the rotated one at `old_base`.  An offset
 * older than what is kept restarts at the oldest kept byte.  Offsets
 * restart from the kept files when the daemon restarts.  logfile_start
 * finds where the last N lines, or the lines since a time, begin, looking
 * at most at the last LOG_SCAN_MAX bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "logs.h"
#include "unifaasd.h"

#define LOG_SCAN_MAX (16u << 20)
#define LOG_TIME_LEN 24 /* 2026-12-04T18:20:01.123Z */

struct logfile {
	char path[4200];
	int fd;
	uint64_t cap;
	uint64_t size;     /* of the current file */
	uint64_t cur_base; /* logical offset of the current file's first byte */
	uint64_t old_base; /* ... of the rotated file's first byte */
	int have_old;
	void (*appended)(struct logfile *, void *);
	void *arg;
};

struct logfile *logfile_open(const char *path, uint64_t cap, char *err, size_t errlen)
{
	struct logfile *l = calloc(1, sizeof(*l));
	if (!l) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(l->path, sizeof(l->path), "%s", path);
	l->cap = cap;
	if (mkdirs(path) < 0 || (l->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		free(l);
		return NULL;
	}
	struct stat st;
	char old[4300];
	snprintf(old, sizeof(old), "%s.1", path);
	if (stat(old, &st) == 0) {
		l->have_old = 1;
		l->cur_base = (uint64_t)st.st_size;
	}
	if (fstat(l->fd, &st) == 0)
		l->size = (uint64_t)st.st_size;
	return l;
}

void logfile_on_append(struct logfile *l, void (*fn)(struct logfile *, void *), void *arg)
{
	l->appended = fn;
	l->arg = arg;
}

static void rotate(struct logfile *l)
{
	char old[4300];
	snprintf(old, sizeof(old), "%s.1", l->path);
	if (rename(l->path, old) < 0)
		return;
	int fd = open(l->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	close(l->fd);
	l->fd = fd;
	l->old_base = l->cur_base;
	l->cur_base += l->size;
	l->size = 0;
	l->have_old = 1;
}

/* The current UTC time as LOG_TIME_LEN characters; the date and second
 * part is formatted once a second. */
static void log_time(char *out)
{
	static time_t cached_sec = -1;
	static char cached[24];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != cached_sec) {
		struct tm tm;
		gmtime_r(&ts.tv_sec, &tm);
		strftime(cached, sizeof(cached), "%Y-%m-%dT%H:%M:%S", &tm);
		cached_sec = ts.tv_sec;
	}
	unsigned ms = (unsigned)(ts.tv_nsec / 1000000) % 1000;
	memcpy(out, cached, 19);
	out[19] = '.';
	out[20] = (char)('0' + ms / 100);
	out[21] = (char)('0' + ms / 10 % 10);
	out[22] = (char)('0' + ms % 10);
	out[23] = 'Z';
	out[24] = 0;
}

void logfile_line(struct logfile *l, const char *unit, const char *text, size_t len)
{
	char buf[4096], when[LOG_TIME_LEN + 1];
	if (len && text[len - 1] == '\r')
		len--;
	log_time(when);
	int n = snprintf(buf, sizeof(buf), "%s %s | ", when, unit);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return;
	size_t room = sizeof(buf) - (size_t)n - 1;
	if (len > room)
		len = room; /* one log line is at most 4 KiB */
	memcpy(buf + n, text, len);
	buf[(size_t)n + len] = '\n';
	size_t total = (size_t)n + len + 1;
	if (l->size + total > l->cap && l->size > 0)
		rotate(l);
	ssize_t w = write(l->fd, buf, total);
	if (w > 0)
		l->size += (uint64_t)w;
	if (l->appended)
		l->appended(l, l->arg);
}

uint64_t logfile_end(const struct logfile *l)
{
	return l->cur_base + l->size;
}

static ssize_t read_at(const char *path, uint64_t off, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = pread(fd, buf, cap, (off_t)off);
	close(fd);
	return n;
}

ssize_t logfile_read(const struct logfile *l, int64_t offset, char *buf, size_t cap, uint64_t *next)
{
	uint64_t end = logfile_end(l), oldest = l->have_old ? l->old_base : l->cur_base;
	uint64_t off;
	uint64_t back = (uint64_t)0 - (uint64_t)offset; /* |offset|, also for INT64_MIN */
	if (offset < 0)
		off = back > end - oldest ? oldest : end - back;
	else
		off = (uint64_t)offset < oldest ? oldest : (uint64_t)offset;
	if (off >= end) {
		*next = end;
		return 0;
	}
	ssize_t n;
	if (off < l->cur_base) {
		char old[4300];
		snprintf(old, sizeof(old), "%s.1", l->path);
		n = read_at(old, off - l->old_base, buf, cap);
	} else {
		n = read_at(l->path, off - l->cur_base, buf, cap);
	}
	if (n < 0)
		return -1;
	*next = off + (uint64_t)n;
	return n;
}

/* Epoch ms of a line's time stamp, or 0 if the line has none. */
static uint64_t line_time(const char *p, size_t n)
{
	struct tm tm = {0};
	unsigned ms;
	char z;
	if (n < LOG_TIME_LEN ||
	    sscanf(p, "%4d-%2d-%2dT%2d:%2d:%2d.%3u%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
	           &tm.tm_sec, &ms, &z) != 8 ||
	    z != 'Z')
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	time_t t = timegm(&tm);
	return t < 0 ? 0 : (uint64_t)t * 1000 + ms;
}

int logfile_start(const struct logfile *l, uint64_t tail, uint64_t since_ms, uint64_t *start)
{
	uint64_t end = logfile_end(l), oldest = l->have_old ? l->old_base : l->cur_base;
	uint64_t from = end - oldest > LOG_SCAN_MAX ? end - LOG_SCAN_MAX : oldest, got = 0, next;
	size_t len = (size_t)(end - from);
	char *buf = malloc(len ? len : 1);
	if (!buf)
		return -1;
	while (got < len) { /* the window may span the rotated file and the current one */
		ssize_t n = logfile_read(l, (int64_t)(from + got), buf + got, len - got, &next);
		if (n <= 0)
			break;
		got += (uint64_t)n;
	}
	/* walk back line by line while the line is wanted: among the last
	 * `tail`, and not older than since_ms */
	size_t pos = (size_t)got, lines = 0;
	while (pos > 0 && (!tail || lines < tail)) {
		size_t s = pos - 1; /* pos - 1 is the previous line's newline */
		while (s > 0 && buf[s - 1] != '\n')
			s--;
		if (s == 0 && from > oldest)
			break; /* the line starts before the window: leave it out */
		if (since_ms && line_time(buf + s, pos - s) < since_ms)
			break;
		pos = s;
		lines++;
	}
	*start = from + pos;
	free(buf);
	return 0;
}

void logfile_close(struct logfile *l)
{
	if (!l)
		return;
	close(l->fd);
	free(l);
}

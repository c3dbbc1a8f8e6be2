/*
 * backend_local.c - the backend of `unifaas run`: one unit, no servers.
 *
 * Events come from --event values, then an --events file (or stdin when
 * neither is given), one per line (blank lines skipped, a trailing CR
 * dropped); ids are their 1-based sequence numbers.  Input is read with
 * read(2) and poll(2) only, since it is read after the tender's seccomp.  Committed pushes are printed to out_fd as
 * JSON lines {"queue":...,"data":...}, then the committed outputs: MQTT publishes {"topic":...,"qos":N,"data":...}
 * and replies {"reply":"<event id>","data":...}; a failed event is reported on err_fd and its pushes and outputs
 * never appear.  Staged KV
 * writes (uf_rec_kv) are applied at commit, before the pushes are printed; one that fails (an INCR of a value that
 * is not an integer, a full store) is reported and skipped, as Redis skips it inside EXEC.  The KV store
 * lives in memory, loaded from and saved back to --kv FILE (a JSON object of string values, parsed with jsmn) when the
 * unit ends, however it ends.  The file is read before the tender seccomps itself and replaced atomically at the end
 * (kvfile.c: a temporary file beside it, fsync, rename): a crash never leaves it truncated.
 *
 * A deferred event (uf_defer) is reported on err_fd and kept in `delayed`
 * with its id, data and deferrals; it is handed out again once due, before
 * new input, and the run does not end while one waits (peek sleeps until
 * it is due, still taking input that comes meanwhile).  Past UF_DEFER_MAX
 * deferrals it fails, as on the platform.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "delivery.h"
#include "hvt.h"

struct kv_entry {
	char *key;
	size_t klen;
	char *val;
	size_t len;
	struct kv_entry *next;
};

#define KV_BUCKETS   1024
#define KV_BYTES_MAX (64u << 20) /* host memory the local store may hold */

/* A deferred event waiting to be handed out again. */
struct delayed {
	struct delayed *next;
	char id[24];
	char *data;
	size_t len;
	uint64_t time_ms, due_ms;
	uint32_t deferrals;
};

struct local {
	struct uf_backend b;
	struct uf_local_opts o;
	int next_event; /* index into o.events */
	int in_fd;      /* after the --event values; -1 when there is none */
	int own_in;     /* in_fd was opened here (not stdin) */
	int in_eof;     /* read() said end of input */
	int skip_line;  /* the rest of an overlong line is dropped */
	char *rbuf;     /* read buffer: [rstart, rend) not yet consumed */
	size_t rcap, rstart, rend;
	uint64_t seq;
	/* the peeked event, and the in-flight batch */
	int have_pending;
	struct uf_bevent pending;
	char pending_id[24];
	char *pending_data;
	uint32_t pending_deferrals;
	struct {
		char id[24];
		char *data;
		size_t len;
		uint64_t time_ms;
		uint32_t deferrals;
	} inflight[UF_BATCH_MAX];
	struct delayed *delayed; /* deferred events, in no order */
	uint32_t ninflight;
	struct kv_entry *kv[KV_BUCKETS];
	struct kvf kvf;  /* the --kv file's replacement; kvf.sock < 0: no --kv */
	size_t kv_bytes; /* keys + values held */
	char *scratch;   /* for printing */
	size_t scratch_cap;
};

/* Is input waiting on in_fd right now? */
static int input_ready(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, 0) > 0;
}

/*
 * The next non-blank line, NUL-terminated in rbuf: its length, -1 at the
 * end of the input, or -2 when `wait` is 0 and no whole line is there yet.
 * Plain read(2), no stdio: it runs after seccomp.  A line is buffered up to
 * o.line_max bytes (the guest memory budget) and no more: past that it is
 * handed on as it is, larger than any buffer the guest can have (the unit
 * ends out of memory, saying so), and the rest of it is dropped, so
 * endless input (/dev/zero) costs bounded memory instead of all of it.
 */
static ssize_t next_line(struct local *l, int wait, char **line)
{
	while (l->in_fd >= 0) {
		char *s = l->rbuf + l->rstart;
		char *nl = memchr(s, '\n', l->rend - l->rstart);
		size_t len;
		if (l->skip_line) {
			l->rstart = nl ? (size_t)(nl + 1 - l->rbuf) : l->rend;
			l->skip_line = !nl && !l->in_eof;
			if (!l->skip_line)
				continue;
		} else if (!nl && l->o.line_max && l->rend - l->rstart > l->o.line_max) {
			len = l->rend - l->rstart;
			l->rstart = l->rend;
			l->skip_line = 1;
			s[len] = '\0';
			*line = s;
			return (ssize_t)len;
		} else if (nl || (l->in_eof && l->rend > l->rstart)) {
			len = nl ? (size_t)(nl - s) : l->rend - l->rstart;
			l->rstart += nl ? len + 1 : len;
			s[len] = '\0'; /* rbuf always keeps one spare byte */
			while (len > 0 && s[len - 1] == '\r')
				s[--len] = '\0';
			if (len == 0)
				continue;
			*line = s;
			return (ssize_t)len;
		}
		if (l->in_eof)
			return -1;
		if (!wait && !input_ready(l->in_fd))
			return -2;
		if (l->rstart > 0) {
			memmove(l->rbuf, l->rbuf + l->rstart, l->rend - l->rstart);
			l->rend -= l->rstart;
			l->rstart = 0;
		}
		if (l->rend + 1 >= l->rcap) {
			char *nb = realloc(l->rbuf, l->rcap * 2);
			if (!nb)
				return -1;
			l->rbuf = nb;
			l->rcap *= 2;
		}
		ssize_t n = read(l->in_fd, l->rbuf + l->rend, l->rcap - l->rend - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			hvt_printf(l->o.err_fd, "uf-hvt: reading events: %s; treating it as the end of the input\n",
			           strerror(errno));
		if (n <= 0)
			l->in_eof = 1;
		else
			l->rend += (size_t)n;
	}
	return -1;
}

/* The deferred event due first, or NULL. */
static struct delayed *delayed_first(struct local *l)
{
	struct delayed *first = NULL;
	for (struct delayed *d = l->delayed; d; d = d->next)
		if (!first || d->due_ms < first->due_ms)
			first = d;
	return first;
}

/* Makes d the pending event (its data changes hands) and forgets it. */
static void pend_delayed(struct local *l, struct delayed *d)
{
	for (struct delayed **p = &l->delayed; *p; p = &(*p)->next)
		if (*p == d) {
			*p = d->next;
			break;
		}
	memcpy(l->pending_id, d->id, sizeof(l->pending_id));
	l->pending_data = d->data;
	l->pending_deferrals = d->deferrals;
	l->pending = (struct uf_bevent){
	    .id = l->pending_id, .queue = l->o.queue, .data = d->data, .len = d->len, .time_ms = d->time_ms};
	free(d);
}

static int pend_input(struct local *l, const char *src, size_t len)
{
	l->pending_data = malloc(len + 1);
	if (!l->pending_data)
		return -ENOMEM;
	memcpy(l->pending_data, src, len);
	l->pending_data[len] = '\0';
	l->pending_deferrals = 0;
	snprintf(l->pending_id, sizeof(l->pending_id), "%" PRIu64, ++l->seq);
	l->pending = (struct uf_bevent){
	    .id = l->pending_id, .queue = l->o.queue, .data = l->pending_data, .len = len, .time_ms = uf_time_ms()};
	return 0;
}

static int local_peek(struct uf_backend *b, uint32_t timeout_ms, const struct uf_bevent **ev)
{
	struct local *l = (struct local *)b;
	/*
	 * Local input has no idle time: a run ends when its input ends and no
	 * deferred event waits.  The first event of a pop waits for input or
	 * for the first deferred event to be due; the rest of the batch is
	 * what is already there, so interactive input is handled line by line.
	 */
	(void)timeout_ms;
	while (!l->have_pending) {
		struct delayed *d = delayed_first(l);
		uint64_t now = uf_time_ms();
		char *src;
		ssize_t n;
		if (d && d->due_ms <= now) {
			pend_delayed(l, d);
		} else if (l->next_event < l->o.nevents) {
			src = (char *)l->o.events[l->next_event++];
			if (pend_input(l, src, strlen(src)) < 0)
				return -ENOMEM;
		} else if ((n = next_line(l, l->ninflight == 0 && !d, &src)) >= 0) {
			if (pend_input(l, src, (size_t)n) < 0)
				return -ENOMEM;
		} else if (!d || l->ninflight) {
			return 0;
		} else { /* sleep until d is due, or input comes */
			struct pollfd p = {.fd = l->in_fd >= 0 && !l->in_eof ? l->in_fd : -1, .events = POLLIN};
			uint64_t ms = d->due_ms - now;
			(void)poll(&p, 1, ms > 60000 ? 60000 : (int)ms);
			continue;
		}
		l->pending.src = l->o.source;
		l->pending.src_len = l->o.source ? strlen(l->o.source) : 0;
		l->pending.attrs = l->o.attrs;
		l->pending.attrs_len = l->o.attrs ? strlen(l->o.attrs) : 0;
		l->have_pending = 1;
	}
	*ev = &l->pending;
	return 1;
}

static void local_take(struct uf_backend *b)
{
	struct local *l = (struct local *)b;
	memcpy(l->inflight[l->ninflight].id, l->pending_id, sizeof(l->pending_id));
	l->inflight[l->ninflight].data = l->pending_data;
	l->inflight[l->ninflight].len = l->pending.len;
	l->inflight[l->ninflight].time_ms = l->pending.time_ms;
	l->inflight[l->ninflight].deferrals = l->pending_deferrals;
	l->ninflight++;
	l->have_pending = 0;
	l->pending_data = NULL;
}

static int scratch_reserve(struct local *l, size_t n)
{
	if (n <= l->scratch_cap)
		return 0;
	char *s = realloc(l->scratch, n);
	if (!s)
		return -ENOMEM;
	l->scratch = s;
	l->scratch_cap = n;
	return 0;
}

static int print_push(struct local *l, const struct uf_bpush *p)
{
	if (scratch_reserve(l, 40 + 6 * p->queue_len + UF_JSON_DATA_MAX(p->len)) < 0)
		return -ENOMEM;
	char *s = l->scratch;
	size_t o = 0;
	memcpy(s + o, "{\"queue\":\"", 10);
	o += 10;
	o += uf_json_escape(s + o, p->queue, p->queue_len);
	memcpy(s + o, "\",", 2);
	o += 2;
	o += uf_json_data(s + o, p->data, p->len);
	memcpy(s + o, "}\n", 2);
	o += 2;
	hvt_write_all(l->o.out_fd, s, o);
	return 0;
}

/* An output as a JSON line beside the pushes: a publish
 * {"topic":T,"qos":Q,"data":S}, a reply {"reply":"<event id>","data":S}. */
static int print_out(struct local *l, const struct uf_bout *p)
{
	if (p->kind == UF_OUTPUT_DEFER) /* not an output: reported with its event */
		return 0;
	if (scratch_reserve(l, 64 + 6 * p->topic_len + UF_JSON_DATA_MAX(p->len)) < 0)
		return -ENOMEM;
	char *s = l->scratch;
	size_t o = 0;
	if (p->kind == UF_OUTPUT_MQTT) {
		memcpy(s + o, "{\"topic\":\"", 10);
		o += 10;
		o += uf_json_escape(s + o, p->topic, p->topic_len);
		o += (size_t)sprintf(s + o, "\",\"qos\":%u,", p->qos);
	} else {
		o += (size_t)sprintf(s + o, "{\"reply\":\"%s\",", l->inflight[p->event].id);
	}
	o += uf_json_data(s + o, p->data, p->len);
	memcpy(s + o, "}\n", 2);
	o += 2;
	hvt_write_all(l->o.out_fd, s, o);
	return 0;
}

static uint32_t kv_hash(const char *k, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)k[i]) * 16777619u;
	return h % KV_BUCKETS;
}

static struct kv_entry **kv_find(struct local *l, const char *k, size_t n)
{
	struct kv_entry **e = &l->kv[kv_hash(k, n)];
	while (*e && !((*e)->klen == n && memcmp((*e)->key, k, n) == 0))
		e = &(*e)->next;
	return e;
}

static int local_kv_get(struct uf_backend *b, const char *k, size_t n, const char **val, size_t *len)
{
	struct kv_entry *e = *kv_find((struct local *)b, k, n);
	if (!e)
		return -ENOENT;
	*val = e->val;
	*len = e->len;
	return 0;
}

static int local_kv_set(struct uf_backend *b, const char *k, size_t n, const char *val, size_t len)
{
	struct local *l = (struct local *)b;
	if (!uf_kv_key_ok(k, n))
		return -EINVAL;
	struct kv_entry **slot = kv_find(l, k, n);
	size_t old = *slot ? (*slot)->klen + (*slot)->len : 0;
	if (l->kv_bytes - old + n + len > KV_BYTES_MAX)
		return -ENOSPC; /* the local store is for trying functions, not for bulk data */
	char *v = malloc(len + 1);
	if (!v)
		return -ENOMEM;
	memcpy(v, val, len);
	v[len] = '\0';
	if (!*slot) {
		struct kv_entry *e = calloc(1, sizeof(*e));
		char *key = malloc(n + 1);
		if (!e || !key) {
			free(e);
			free(key);
			free(v);
			return -ENOMEM;
		}
		memcpy(key, k, n);
		key[n] = '\0';
		e->key = key;
		e->klen = n;
		*slot = e;
	}
	free((*slot)->val);
	(*slot)->val = v;
	(*slot)->len = len;
	l->kv_bytes = l->kv_bytes - old + n + len;
	return 0;
}

static int local_kv_incr(struct uf_backend *b, const char *k, size_t n, int64_t by, int64_t *out)
{
	struct kv_entry *e = *kv_find((struct local *)b, k, n);
	int64_t v = 0;
	if (e && uf_int64_parse(e->val, e->len, &v) < 0)
		return -EINVAL; /* the value is not an integer */
	if ((by > 0 && v > INT64_MAX - by) || (by < 0 && v < INT64_MIN - by))
		return -ERANGE;
	v += by;
	char buf[24];
	int len = snprintf(buf, sizeof(buf), "%" PRId64, v);
	int r = local_kv_set(b, k, n, buf, (size_t)len);
	if (r == 0)
		*out = v;
	return r;
}

static int local_kv_del(struct uf_backend *b, const char *k, size_t n)
{
	struct local *l = (struct local *)b;
	struct kv_entry **slot = kv_find(l, k, n);
	struct kv_entry *e = *slot;
	if (!e)
		return -ENOENT;
	*slot = e->next;
	l->kv_bytes -= e->klen + e->len;
	free(e->key);
	free(e->val);
	free(e);
	return 0;
}

/* One staged KV write of a committed event; failures are reported, not fatal. */
static void apply_kv(struct local *l, const struct uf_bkv *k)
{
	static const char *const names[] = {[UF_KV_SET] = "set", [UF_KV_INCR] = "incr", [UF_KV_DEL] = "del"};
	int64_t out;
	int r = k->op == UF_KV_SET    ? local_kv_set(&l->b, k->key, k->klen, k->val, k->len)
	        : k->op == UF_KV_INCR ? local_kv_incr(&l->b, k->key, k->klen, k->num, &out)
	                              : local_kv_del(&l->b, k->key, k->klen);
	if (r < 0 && r != -ENOENT)
		hvt_printf(l->o.err_fd, "uf-hvt: event %s: kv %s '%.*s': %s; not applied\n", l->inflight[k->event].id,
		           names[k->op], (int)(k->klen > 80 ? 80 : k->klen), k->key,
		           r == -EINVAL ? "the value is not an integer" : strerror(-r));
}

/*
 * In-flight event i was deferred: reported, and kept to be handed out
 * again once due (its data changes hands), or failed past UF_DEFER_MAX
 * deferrals, with the platform's reason (common/delivery.c).
 */
static void defer_event(struct local *l, uint32_t i, const char *reason, const struct uf_bout *outs, uint32_t nout)
{
	uint32_t ms = 0;
	for (uint32_t k = 0; k < nout; k++)
		if (outs[k].kind == UF_OUTPUT_DEFER && outs[k].event == i)
			ms = outs[k].delay_ms;
	char why[UF_REASON_MAX + 48];
	int exhausted = uf_defer_exhausted(why, sizeof(why), l->inflight[i].deferrals, reason);
	struct delayed *d = exhausted ? NULL : calloc(1, sizeof(*d));
	if (!d) {
		hvt_printf(l->o.err_fd, "uf-hvt: event %s failed: %s%s; its pushes were dropped\n", l->inflight[i].id,
		           exhausted ? "" : "out of memory for its deferral: ", exhausted ? why : reason);
		free(l->inflight[i].data);
		return;
	}
	memcpy(d->id, l->inflight[i].id, sizeof(d->id));
	d->data = l->inflight[i].data;
	d->len = l->inflight[i].len;
	d->time_ms = l->inflight[i].time_ms;
	d->deferrals = l->inflight[i].deferrals + 1;
	d->due_ms = uf_time_ms() + ms;
	d->next = l->delayed;
	l->delayed = d;
	hvt_printf(l->o.err_fd,
	           "uf-hvt: event %s deferred for %u ms (deferral %u of at most %u): %s; its pushes were dropped, it "
	           "is delivered again then\n",
	           d->id, ms, d->deferrals, UF_DEFER_MAX, reason);
}

static int local_commit(struct uf_backend *b, const int32_t *results, const char *const *reasons, uint32_t count,
                        const struct uf_bpush *pushes, uint32_t npush, const struct uf_bkv *kvs, uint32_t nkv,
                        const struct uf_bout *outs, uint32_t nout)
{
	struct local *l = (struct local *)b;
	int rc = 0;
	for (uint32_t i = 0; i < nkv; i++)
		apply_kv(l, &kvs[i]);
	/* event by event: its pushes, then its outputs */
	for (uint32_t i = 0, j = 0; (i < npush || j < nout) && rc == 0;)
		rc = j == nout || (i < npush && pushes[i].event <= outs[j].event) ? print_push(l, &pushes[i++])
		                                                                  : print_out(l, &outs[j++]);
	for (uint32_t i = 0; i < count && i < l->ninflight; i++) {
		if (results[i] == UF_RESULT_DEFERRED) {
			defer_event(l, i, reasons && reasons[i] ? reasons[i] : "deferred", outs, nout);
			continue;
		}
		if (results[i] == UF_RESULT_SKIPPED)
			hvt_printf(l->o.err_fd,
			           "uf-hvt: event %s was not handled: the unit exited before reaching it\n",
			           l->inflight[i].id);
		else if (results[i] != 0 && reasons && reasons[i])
			hvt_printf(l->o.err_fd, "uf-hvt: event %s failed%s: %s; its pushes were dropped\n",
			           l->inflight[i].id, results[i] == UF_RESULT_PERMANENT ? " for good" : "", reasons[i]);
		else if (results[i] != 0)
			hvt_printf(l->o.err_fd,
			           "uf-hvt: event %s failed: handler returned %d; its pushes were dropped\n",
			           l->inflight[i].id, results[i]);
		free(l->inflight[i].data);
	}
	l->ninflight = 0;
	return rc;
}

static int out_append(char **buf, size_t *len, size_t *cap, const char *p, size_t n)
{
	if (*len + n > *cap) {
		size_t c = *cap ? *cap * 2 : 4096;
		while (c < *len + n)
			c *= 2;
		char *b = realloc(*buf, c);
		if (!b)
			return -1;
		*buf = b;
		*cap = c;
	}
	memcpy(*buf + *len, p, n);
	*len += n;
	return 0;
}

static int out_json_string(struct local *l, char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (scratch_reserve(l, 6 * n + 2) < 0)
		return -1;
	l->scratch[0] = '"';
	size_t o = 1 + uf_json_escape(l->scratch + 1, s, n);
	l->scratch[o++] = '"';
	return out_append(buf, len, cap, l->scratch, o);
}

/* A value: a JSON string if it is text, else {"base64": "..."}. */
static int out_json_value(struct local *l, char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (uf_utf8_valid(s, n))
		return out_json_string(l, buf, len, cap, s, n);
	if (scratch_reserve(l, 4 * (n + 2) / 3 + 16) < 0)
		return -1;
	size_t o = uf_base64_encode(l->scratch, s, n);
	return out_append(buf, len, cap, "{\"base64\": \"", 12) | out_append(buf, len, cap, l->scratch, o) |
	       out_append(buf, len, cap, "\"}", 2);
}

static void kv_save(struct local *l)
{
	if (l->kvf.sock < 0)
		return;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int rc = out_append(&buf, &len, &cap, "{", 1);
	const char *sep = "\n  ";
	for (int i = 0; i < KV_BUCKETS && rc == 0; i++) {
		for (struct kv_entry *e = l->kv[i]; e && rc == 0; e = e->next) {
			rc |= out_append(&buf, &len, &cap, sep, strlen(sep));
			rc |= out_json_string(l, &buf, &len, &cap, e->key, e->klen);
			rc |= out_append(&buf, &len, &cap, ": ", 2);
			rc |= out_json_value(l, &buf, &len, &cap, e->val, e->len);
			sep = ",\n  ";
		}
	}
	rc |= out_append(&buf, &len, &cap, "\n}\n", 3);
	if (rc != 0) {
		hvt_printf(l->o.err_fd, "uf-hvt: kv file %s: out of memory, not saved (the file is as it was)\n",
		           l->o.kv_file);
		kvf_abandon(&l->kvf);
	} else if (kvf_commit(&l->kvf, buf, len) < 0) {
		hvt_printf(l->o.err_fd, "uf-hvt: kv file %s: cannot save: %s (the file is as it was)\n", l->o.kv_file,
		           strerror(errno));
	}
	free(buf);
}

static void local_close(struct uf_backend *b, int ran)
{
	struct local *l = (struct local *)b;
	if (ran)
		kv_save(l);
	else
		kvf_abandon(&l->kvf); /* never started: the file stays as it was */
	for (int i = 0; i < KV_BUCKETS; i++) {
		while (l->kv[i]) {
			struct kv_entry *e = l->kv[i];
			l->kv[i] = e->next;
			free(e->key);
			free(e->val);
			free(e);
		}
	}
	for (uint32_t i = 0; i < l->ninflight; i++)
		free(l->inflight[i].data);
	while (l->delayed) {
		struct delayed *d = l->delayed;
		l->delayed = d->next;
		if (ran)
			hvt_printf(l->o.err_fd,
			           "uf-hvt: event %s was deferred and not delivered again: the unit ended\n", d->id);
		free(d->data);
		free(d);
	}
	if (l->own_in)
		close(l->in_fd);
	free(l->rbuf);
	free(l->pending_data);
	free(l->scratch);
	free(l);
}

static const char *kv_load_entry(void *arg, const char *key, size_t klen, const char *val, size_t vlen)
{
	struct local *l = arg;
	if (*kv_find(l, key, klen))
		return "duplicate object key";
	if (!uf_kv_key_ok(key, klen))
		return "key is not " UF_NAME_RULE_KEY;
	return local_kv_set(&l->b, key, klen, val, vlen) < 0 ? "out of memory for the store" : NULL;
}

/* Reads FILE if it exists (a missing file is an empty store), then
 * prepares its replacement (kvfile.c) with the same mode. */
static int kv_load(struct local *l, char *err, size_t errlen)
{
	const char *path = l->o.kv_file;
	char *js = NULL;
	struct stat st = {0};
	int rc = -1, fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno != ENOENT) {
		snprintf(err, errlen, "kv file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fd < 0) {
		mode_t mask = umask(0);
		umask(mask);
		st.st_mode = 0644 & ~mask;
	} else if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "kv file %s: %s", path, strerror(errno));
		goto out;
	}
	if (st.st_size > 0) {
		js = malloc((size_t)st.st_size + 1);
		ssize_t got = js ? pread(fd, js, (size_t)st.st_size, 0) : -1;
		if (got != st.st_size) {
			snprintf(err, errlen, "kv file %s: cannot read: %s", path,
			         js ? strerror(errno) : "out of memory");
			goto out;
		}
		js[got] = '\0'; /* the parser may look one byte past a token, never past this */
		if (uf_json_kv_parse(path, js, (size_t)got, kv_load_entry, l, err, errlen) < 0)
			goto out;
	}
	rc = kvf_open(&l->kvf, path, st.st_mode & 07777, err, errlen);
out:
	free(js);
	if (fd >= 0)
		close(fd);
	return rc;
}

struct uf_backend *uf_local_backend_open(const struct uf_local_opts *o, char *err, size_t errlen)
{
	struct local *l = calloc(1, sizeof(*l));
	if (!l) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	l->b = (struct uf_backend){.peek = local_peek,
	                           .take = local_take,
	                           .commit = local_commit,
	                           .kv_get = local_kv_get,
	                           .kv_set = local_kv_set,
	                           .kv_incr = local_kv_incr,
	                           .kv_del = local_kv_del,
	                           .close = local_close};
	l->o = *o;
	l->kvf = (struct kvf){.tmp_fd = -1, .sock = -1, .helper = -1};
	l->in_fd = -1;
	l->rcap = 64 << 10;
	l->rbuf = malloc(l->rcap);
	if (!l->rbuf) {
		snprintf(err, errlen, "out of memory");
		free(l);
		return NULL;
	}
	if (o->events_file && strcmp(o->events_file, "-") != 0) {
		l->in_fd = open(o->events_file, O_RDONLY | O_CLOEXEC);
		if (l->in_fd < 0) {
			snprintf(err, errlen, "events file %s: %s", o->events_file, strerror(errno));
			free(l->rbuf);
			free(l);
			return NULL;
		}
		l->own_in = 1;
	} else if (o->events_file) {
		l->in_fd = 0;
	}
	if (o->kv_file && kv_load(l, err, errlen) < 0) {
		local_close(&l->b, 0);
		return NULL;
	}
	return &l->b;
}

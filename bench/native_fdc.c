/*
 * native_fdc.c - the fridge-door step as a plain process: the baseline of
 * bench/platform.sh (bench/platform_bench.c starts it).
 *
 * It does against Redis what a unit running functions/fdc.uf does, with the
 * same keys, batch by batch, so that the platform's figures can be set
 * beside those of a process that has no VM, no hypercalls and no daemon:
 *
 *   XREADGROUP GROUP <step> <consumer> COUNT <batch> BLOCK <idle> STREAMS uf:q:<wf>:<queue> >
 *   GET uf:kv:<wf>:fdc-count         once per batch with an "open" in it (fdc
 *                                    pushes the new count, so the value is read)
 *   MULTI
 *     XADD uf:q:<wf>:<push> * data {"door":"open","count":N}   per "open"
 *     INCRBY uf:kv:<wf>:fdc-count <opens>   (the tender merges adjacent INCRBYs
 *                                    of one key into one; --incr-each: one per event)
 *     XACK uf:q:<wf>:<queue> <step> <every id of the batch>
 *     HINCRBY uf:stat:<wf>:<step> <consumer> <n>
 *   EXEC                             all of it pipelined: one round trip
 *
 * That is the tender's protocol (tender/backend_redis.c) for this function:
 * three round trips per batch.  Its connection is named after the consumer
 * (CLIENT SETNAME, one round trip at start) so the driver can see it wait.  It ends after --idle-ms with nothing to read
 * (exit 0), or after one batch with --once (the one-shot cold baseline: it
 * then waits at most --idle-ms for that batch).  The password comes from
 * UF_REDIS_PASSWORD, as for the tender.  Built statically with musl, like
 * the tender, by bench/platform.sh.
 */
#include <errno.h>
#include <getopt.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BATCH 1024

static const char *sock, *wf = "native", *queue = "fridge-door", *push = "door-opens", *step = "fdc",
		  *consumer = "native-1";
static unsigned batch = 256, idle_ms = 2000;
static int once, incr_each;

static void die(redisContext *c, const char *what, redisReply *r)
{
	fprintf(stderr, "native_fdc: %s %s: %s\n", consumer, what,
		c->err ? c->errstr : r && r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
	exit(1);
}

/* One batch: the entries of an XREADGROUP reply for our stream. */
static void handle(redisContext *c, redisReply *es, const char *stream, const char *kv)
{
	const char *ids[MAX_BATCH];
	int open[MAX_BATCH];
	size_t n = 0, opens = 0;
	for (size_t i = 0; i < es->elements && n < MAX_BATCH; i++) {
		redisReply *e = es->element[i];
		if (e->type != REDIS_REPLY_ARRAY || e->elements != 2)
			continue;
		ids[n] = e->element[0]->str;
		open[n] = 0;
		redisReply *f = e->element[1];
		for (size_t k = 0; f->type == REDIS_REPLY_ARRAY && k + 1 < f->elements; k += 2)
			if (!strcmp(f->element[k]->str, "data") && !strcmp(f->element[k + 1]->str, "open"))
				open[n] = 1;
		opens += (size_t)open[n];
		n++;
	}
	if (!n)
		return;
	long long base = 0;
	if (opens) {
		redisReply *r = redisCommand(c, "GET %s", kv);
		if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL))
			die(c, "GET", r);
		if (r->type == REDIS_REPLY_STRING)
			base = strtoll(r->str, NULL, 10);
		freeReplyObject(r);
	}
	char pushq[512], stat[512];
	snprintf(pushq, sizeof(pushq), "uf:q:%s:%s", wf, push);
	snprintf(stat, sizeof(stat), "uf:stat:%s:%s", wf, step);
	int cmds = 0;
	redisAppendCommand(c, "MULTI"), cmds++;
	long long count = base;
	for (size_t i = 0; i < n; i++) {
		if (!open[i])
			continue;
		char out[64];
		int len = snprintf(out, sizeof(out), "{\"door\":\"open\",\"count\":%lld}", ++count);
		redisAppendCommand(c, "XADD %s * data %b", pushq, out, (size_t)len), cmds++;
		if (incr_each)
			redisAppendCommand(c, "INCRBY %s 1", kv), cmds++;
	}
	if (opens && !incr_each)
		redisAppendCommand(c, "INCRBY %s %llu", kv, (unsigned long long)opens), cmds++;
	const char *argv[MAX_BATCH + 3];
	argv[0] = "XACK", argv[1] = stream, argv[2] = step;
	for (size_t i = 0; i < n; i++)
		argv[3 + i] = ids[i];
	redisAppendCommandArgv(c, (int)n + 3, argv, NULL), cmds++;
	redisAppendCommand(c, "HINCRBY %s %s %llu", stat, consumer, (unsigned long long)n), cmds++;
	redisAppendCommand(c, "EXEC"), cmds++;
	for (int i = 0; i < cmds; i++) {
		redisReply *r;
		if (redisGetReply(c, (void **)&r) != REDIS_OK || !r || r->type == REDIS_REPLY_ERROR)
			die(c, "commit", r);
		if (i == cmds - 1 && r->type != REDIS_REPLY_ARRAY)
			die(c, "EXEC (transaction aborted)", r);
		freeReplyObject(r);
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"redis", required_argument, 0, 's'}, {"workflow", required_argument, 0, 'w'},
	    {"queue", required_argument, 0, 'q'}, {"push", required_argument, 0, 'p'},
	    {"step", required_argument, 0, 'g'},  {"consumer", required_argument, 0, 'c'},
	    {"batch", required_argument, 0, 'b'}, {"idle-ms", required_argument, 0, 'i'},
	    {"once", no_argument, 0, 'o'},        {"incr-each", no_argument, 0, 'e'},
	    {0, 0, 0, 0}};
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 's': sock = optarg; break;
		case 'w': wf = optarg; break;
		case 'q': queue = optarg; break;
		case 'p': push = optarg; break;
		case 'g': step = optarg; break;
		case 'c': consumer = optarg; break;
		case 'b': batch = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'i': idle_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'o': once = 1; break;
		case 'e': incr_each = 1; break;
		default:
			fprintf(stderr, "usage: native_fdc --redis SOCK [--workflow W] [--queue Q] [--push Q] [--step S] "
					"[--consumer C] [--batch N] [--idle-ms N] [--once] [--incr-each]\n");
			return 2;
		}
	}
	if (!sock || batch < 1 || batch > MAX_BATCH) {
		fprintf(stderr, "native_fdc: --redis SOCK is required; --batch is 1..%d\n", MAX_BATCH);
		return 2;
	}
	redisContext *c = redisConnectUnix(sock);
	if (!c || c->err) {
		fprintf(stderr, "native_fdc: redis at %s: %s\n", sock, c ? c->errstr : "out of memory");
		return 1;
	}
	const char *pass = getenv("UF_REDIS_PASSWORD");
	redisReply *r;
	if (pass) {
		r = redisCommand(c, "AUTH %s", pass);
		if (!r || r->type != REDIS_REPLY_STATUS)
			die(c, "AUTH", r);
		freeReplyObject(r);
	}
	/* named after its consumer, so that the driver sees it block (CLIENT LIST) */
	r = redisCommand(c, "CLIENT SETNAME %s", consumer);
	if (!r || r->type == REDIS_REPLY_ERROR)
		die(c, "CLIENT SETNAME", r);
	freeReplyObject(r);
	char stream[512], kv[512], count[16], block[16];
	snprintf(stream, sizeof(stream), "uf:q:%s:%s", wf, queue);
	snprintf(kv, sizeof(kv), "uf:kv:%s:fdc-count", wf);
	snprintf(count, sizeof(count), "%u", batch);
	snprintf(block, sizeof(block), "%u", idle_ms);
	r = redisCommand(c, "XGROUP CREATE %s %s 0 MKSTREAM", stream, step);
	if (!r || (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9)))
		die(c, "XGROUP CREATE", r);
	freeReplyObject(r);
	for (;;) {
		const char *a[] = {"XREADGROUP", "GROUP", step,      consumer, "COUNT", count,
				   "BLOCK",      block,   "STREAMS", stream,   ">"};
		r = redisCommandArgv(c, 11, a, NULL);
		if (!r || r->type == REDIS_REPLY_ERROR)
			die(c, "XREADGROUP", r);
		if (r->type == REDIS_REPLY_NIL) { /* idle_ms without an event */
			freeReplyObject(r);
			break;
		}
		redisReply *es = NULL;
		if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->elements == 2)
			es = r->element[0]->element[1];
		if (!es || es->type != REDIS_REPLY_ARRAY)
			die(c, "XREADGROUP reply", r);
		handle(c, es, stream, kv);
		freeReplyObject(r);
		if (once)
			break;
	}
	redisFree(c);
	return 0;
}
